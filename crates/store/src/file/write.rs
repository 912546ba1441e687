//! Mutations: append, remove, purge, set_first_seq; the group-commit `sync`; and the
//! deletion of segments whose every message is gone.
//!
//! Every mutation first buffers its record in the active segment and only then changes
//! the in-memory state, so a failed write never leaves the index ahead of the log. Any
//! write or fsync error fails the store: after it, the page cache and the disk may
//! disagree in ways no retry can see (fsyncgate).

use std::collections::{BTreeSet, HashSet};
use std::sync::PoisonError;

use super::record::{self, MsgRecord, MAX_RANGES_PER_RECORD};
use super::recovery::slot_stored_size;
use super::segment::{segment_name, Segment, Slot};
use super::{FileStore, PendingErase, MAX_OPEN_SEALED};
use crate::error::StoreError;
use crate::filter::{Filter, PurgeSpec};
use crate::vfs::OpenMode;

/// Length of a segment header record: a segment holding only this is empty.
const SEGMENT_HEADER_LEN: u64 = 12 + 1 + 4 + 4 + 8 + 8;
/// Directory fsyncs one `sync` may spend deleting chains of segments.
const MAX_GC_WAVES: usize = 8;

impl FileStore {
    fn writable(&self) -> Result<(), StoreError> {
        if self.failed {
            Err(StoreError::Failed)
        } else {
            Ok(())
        }
    }

    /// Any error from a write step fails the store.
    fn guard<T>(&mut self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        if r.is_err() {
            self.failed = true;
        }
        r
    }

    /// Creates the next segment file and makes it active. Its header records the
    /// sequence state, so a later segment always knows the last sequence even if every
    /// older segment has been deleted.
    pub(super) fn new_segment(&mut self) -> Result<(), StoreError> {
        let id = match self.segs.last() {
            Some(s) => s.id.checked_add(1).ok_or(StoreError::TooLarge)?,
            None => 1,
        };
        let path = self.dir.join(segment_name(id));
        let file = self
            .vfs
            .open(&path, OpenMode::CreateNew)
            .map_err(|e| StoreError::Io {
                path: path.display().to_string(),
                source: e,
            })?;
        let mut seg = Segment::new(id, &self.dir, Some(file), 0, self.last_seq + 1, self.salt);
        seg.set_reserve(self.opts.segment_size);
        self.scratch.clear();
        record::encode_segment_header(&mut self.scratch, self.salt, self.last_seq, self.last_ts);
        seg.push(&self.scratch);
        self.segs.push(seg);
        self.dir_dirty = true;
        Ok(())
    }

    /// Seals the active segment (written, fsynced at the next `sync`) and starts another.
    fn roll(&mut self) -> Result<(), StoreError> {
        if let Some(active) = self.segs.last_mut() {
            active.seal(&self.vfs)?;
            active.page_out(
                self.slot_pages
                    .get_mut()
                    .unwrap_or_else(PoisonError::into_inner),
            );
        }
        // `new_segment` reuses the scratch buffer; keep the pending record.
        let pending = std::mem::take(&mut self.scratch);
        let r = self.new_segment();
        self.scratch = pending;
        r
    }

    /// Buffers the record in `scratch` in the active segment; returns its offset.
    /// `msg_seq` is the sequence of a message record: a jump in sequence starts a new
    /// segment so that slot tables stay dense.
    fn write_scratch(&mut self, msg_seq: Option<u64>) -> Result<u64, StoreError> {
        let len = self.scratch.len() as u64;
        let need_roll = match self.segs.last() {
            None => true,
            Some(a) => {
                (a.len() + len > self.opts.segment_size && a.len() > SEGMENT_HEADER_LEN)
                    || msg_seq.is_some_and(|s| a.has_slots() && s != a.end_seq())
            }
        };
        if need_roll {
            self.roll()?;
        }
        let limit = self.opts.write_buffer;
        let active = self.segs.last_mut().ok_or(StoreError::Failed)?;
        if active.buffered() as u64 + len > limit as u64 {
            active.flush(&self.vfs)?;
        }
        Ok(active.push(&self.scratch))
    }

    /// An I/O error in the subject index's files fails the store like any other:
    /// reopening rebuilds the index.
    fn check_index(&mut self) -> Result<(), StoreError> {
        let slots = self
            .slot_pages
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take_error();
        match self.index_mut().take_error().or(slots) {
            Some(e) => {
                self.failed = true;
                Err(StoreError::io("subject index", e))
            }
            None => Ok(()),
        }
    }

    fn after_mutation(&mut self) -> Result<(), StoreError> {
        self.check_index()?;
        if self.opts.sync_always {
            self.sync_all()
        } else {
            Ok(())
        }
    }

    /// Appends at `seq`: skipped sequences stay unassigned slots (deleted). A record
    /// out of line with the active segment starts a new segment whose header carries
    /// the skipped-to sequence, so recovery sees the jump as intended, not as damage.
    pub(super) fn append_skipping_to(
        &mut self,
        seq: u64,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        ts: i64,
    ) -> Result<u64, StoreError> {
        self.writable()?;
        if seq <= self.last_seq {
            return Err(StoreError::SequenceInUse {
                requested: seq,
                last_seq: self.last_seq,
            });
        }
        let (last_seq, last_ts) = (self.last_seq, self.last_ts);
        self.last_seq = seq - 1;
        let r = self.append_msg(subject, headers, payload, ts);
        if r.is_err() && self.last_seq == seq - 1 {
            (self.last_seq, self.last_ts) = (last_seq, last_ts);
        }
        r
    }

    pub(super) fn append_msg(
        &mut self,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        ts: i64,
    ) -> Result<u64, StoreError> {
        self.writable()?;
        let hdr_len = headers.map_or(0, <[u8]>::len);
        let len = record::msg_record_len(subject.len(), hdr_len, payload.len())
            .ok_or(StoreError::TooLarge)?;
        let seq = self.last_seq + 1;
        self.scratch.clear();
        let m = MsgRecord {
            seq,
            ts,
            subject,
            headers,
            payload,
        };
        let salt = self.segs.last().map_or(self.salt, |s| s.salt);
        record::encode_msg(&mut self.scratch, salt, &m);
        let r = self.write_scratch(Some(seq));
        let offset = self.guard(r)?;
        let offset = u32::try_from(offset).map_err(|_| StoreError::TooLarge)?;
        let ix = self.index_mut();
        let id = ix.intern(subject);
        let prev = ix.add(id, seq);
        let slot = Slot::new(offset, len as u32, hdr_len > 0, id);
        if let Some(active) = self.segs.last_mut() {
            active.add(seq, slot);
        }
        if let Some(prev) = prev {
            self.link_next(prev, seq);
        }
        self.msgs += 1;
        self.bytes += slot_stored_size(&slot);
        if self.msgs == 1 {
            self.first_seq = seq;
            self.first_ts = ts;
        }
        self.last_seq = seq;
        self.last_ts = ts;
        self.after_mutation()?;
        Ok(seq)
    }

    /// Updates counters and indexes for a message whose delete record is already written.
    fn apply_removal(&mut self, seq: u64) -> bool {
        let Some(si) = self.locate(seq).map(|(si, _)| si) else {
            return false;
        };
        let active = self.segs.len() - 1;
        let Some(seg) = self.segs.get_mut(si) else {
            return false;
        };
        let pages = self
            .slot_pages
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(slot) = seg.take(pages, seq) else {
            return false;
        };
        let (seg_id, now_empty) = (seg.id, seg.live == 0);
        if si != active {
            // The delete record lives in the active segment; it must outlive `seg`.
            if let Some(a) = self.segs.last_mut() {
                a.targets.insert(seg_id);
            }
            self.gc_pending |= now_empty;
        }
        self.msgs -= 1;
        self.bytes = self.bytes.saturating_sub(slot_stored_size(&slot));
        self.subject_removed(slot.subject, seq, slot.next);
        if seq == self.first_seq {
            self.advance_first(seq + 1);
        }
        true
    }

    /// Links `prev` to `next`, the next message of its subject.
    pub(super) fn link_next(&mut self, prev: u64, next: u64) {
        let si = self.segs.partition_point(|s| s.end_seq() <= prev);
        let pages = self
            .slot_pages
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(seg) = self.segs.get_mut(si) {
            seg.link_next(pages, prev, next);
        }
    }

    /// The live message `delta` sequences after `seq` if it is of subject `id`: where a
    /// removed message's link points (see [`Slot::next`]).
    fn linked_next(&self, seq: u64, delta: u32, id: u32) -> Option<u64> {
        let next = seq.checked_add(u64::from(delta)).filter(|_| delta > 0)?;
        let (_, slot) = self.locate(next)?;
        (slot.subject == id).then_some(next)
    }

    /// `next`: the removed message's link to its subject's next message.
    fn subject_removed(&mut self, id: u32, seq: u64, next: u32) {
        let Some(mut e) = self.index_mut().get(id) else {
            return;
        };
        e.count = e.count.saturating_sub(1);
        if e.count == 0 {
            let ix = self.index_mut();
            ix.set(id, e);
            ix.release_if_empty(id);
            return;
        }
        let (first, last) = (e.first, e.last);
        if e.count == 1 && (seq == first || seq == last) {
            // One of two left (a KV key with history 1 on every put): no scan.
            let left = if seq == first { last } else { first };
            e.first = left;
            e.last = left;
        } else {
            // Scans only between the subject's first and last.
            if seq == first {
                // The link is exact unless the message it names was removed since.
                e.first = self
                    .linked_next(seq, next, id)
                    .or_else(|| self.next_of_subject(seq + 1, last, id))
                    .unwrap_or(last);
            }
            if seq == last {
                e.last = self
                    .prev_of_subject(seq.saturating_sub(1), first, id)
                    .unwrap_or(first);
            }
        }
        self.index_mut().set(id, e);
    }

    fn advance_first(&mut self, from: u64) {
        let next = self.live_from(from).next().map(|(_, seq, _)| seq);
        self.first_seq = next.unwrap_or(self.last_seq + 1);
        self.first_ts = if self.msgs == 0 {
            0
        } else {
            self.read_ts(self.first_seq)
        };
    }

    pub(super) fn remove_msg(&mut self, seq: u64, erase: bool) -> Result<bool, StoreError> {
        self.writable()?;
        let Some((si, slot)) = self.locate(seq) else {
            return Ok(false);
        };
        self.scratch.clear();
        let salt = self.segs.last().map_or(self.salt, |s| s.salt);
        record::encode_delete(&mut self.scratch, salt, self.last_seq, &[(seq, seq)]);
        let r = self.write_scratch(None);
        self.guard(r)?;
        if erase {
            // The overwrite waits for `sync`, after the delete record is durable: a
            // crash in the middle of it then damages only a message already deleted.
            let ts = if seq == self.last_seq {
                self.last_ts
            } else {
                0
            };
            if let Some(seg) = self.segs.get(si) {
                self.pending_erase.push(PendingErase {
                    segment: seg.id,
                    offset: slot.offset(),
                    len: slot.len(),
                    seq,
                    ts,
                });
            }
        }
        self.apply_removal(seq);
        self.after_mutation()?;
        Ok(true)
    }

    /// Removes every message below `below` with one compact record. Past the end, the
    /// next sequence becomes `below`.
    fn compact(&mut self, below: u64) -> Result<(), StoreError> {
        self.scratch.clear();
        let salt = self.segs.last().map_or(self.salt, |s| s.salt);
        record::encode_compact(&mut self.scratch, salt, self.last_seq, below);
        let r = self.write_scratch(None);
        self.guard(r)?;
        let active = self.segs.len() - 1;
        let mut touched: HashSet<u32> = HashSet::new();
        let mut targets = BTreeSet::new();
        let pages = self
            .slot_pages
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        for (si, seg) in self.segs.iter_mut().enumerate() {
            if seg.base_seq >= below {
                break;
            }
            let before = seg.live;
            let hi = below.min(seg.end_seq());
            for seq in seg.base_seq..hi {
                if let Some(slot) = seg.take(pages, seq) {
                    self.msgs -= 1;
                    self.bytes = self.bytes.saturating_sub(slot_stored_size(&slot));
                    let ix = self
                        .subjects
                        .get_mut()
                        .unwrap_or_else(PoisonError::into_inner);
                    if let Some(mut e) = ix.get(slot.subject) {
                        e.count = e.count.saturating_sub(1);
                        ix.set(slot.subject, e);
                    }
                    touched.insert(slot.subject);
                }
            }
            if si != active && before > 0 {
                targets.insert(seg.id);
                self.gc_pending |= seg.live == 0;
            }
        }
        if let Some(a) = self.segs.last_mut() {
            a.targets.extend(targets);
            a.max_compact = a.max_compact.max(below);
        }
        // Subjects whose first message went: one pass from `below` finds every new
        // first (rather than a scan per subject).
        let mut moved: HashSet<u32> = HashSet::new();
        for id in touched {
            match self.index_mut().get(id) {
                Some(e) if e.count == 0 => self.index_mut().release_if_empty(id),
                Some(e) if e.first < below => {
                    moved.insert(id);
                }
                _ => {}
            }
        }
        if !moved.is_empty() {
            let mut found: Vec<(u32, u64)> = Vec::new();
            for (_, seq, slot) in self.live_from(below) {
                if moved.remove(&slot.subject) {
                    found.push((slot.subject, seq));
                    if moved.is_empty() {
                        break;
                    }
                }
            }
            let ix = self.index_mut();
            for (id, first) in found {
                if let Some(mut e) = ix.get(id) {
                    e.first = first;
                    ix.set(id, e);
                }
            }
        }
        if below > self.last_seq + 1 {
            self.last_seq = below - 1;
            self.last_ts = 0;
        }
        self.advance_first(below);
        Ok(())
    }

    pub(super) fn purge_msgs(
        &mut self,
        filter: Option<&str>,
        before_seq: Option<u64>,
        keep: Option<u64>,
    ) -> Result<u64, StoreError> {
        self.writable()?;
        let spec = PurgeSpec::new(filter, before_seq, keep);
        if spec.is_full_purge() {
            let n = self.msgs;
            self.compact(self.last_seq + 1)?;
            self.after_mutation()?;
            return Ok(n);
        }
        if let Some(next) = spec.compacts_past(self.last_seq) {
            let n = self.msgs;
            self.compact(next)?;
            self.after_mutation()?;
            return Ok(n);
        }
        let candidates = self.matching_below(spec.filter, spec.before_seq.unwrap_or(u64::MAX));
        let keep = spec.keep.unwrap_or(0).min(candidates.len() as u64) as usize;
        let doomed = candidates
            .get(..candidates.len() - keep)
            .unwrap_or_default();
        let Some(&last) = doomed.last() else {
            return Ok(0);
        };
        let n = doomed.len() as u64;
        if spec.filter == Filter::All {
            // The doomed are exactly every live message below `last + 1`.
            self.compact(last + 1)?;
            self.after_mutation()?;
            return Ok(n);
        }
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for &seq in doomed {
            match ranges.last_mut() {
                Some((_, b)) if *b + 1 == seq => *b = seq,
                _ => ranges.push((seq, seq)),
            }
        }
        for chunk in ranges.chunks(MAX_RANGES_PER_RECORD) {
            self.scratch.clear();
            let salt = self.segs.last().map_or(self.salt, |s| s.salt);
            record::encode_delete(&mut self.scratch, salt, self.last_seq, chunk);
            let r = self.write_scratch(None);
            self.guard(r)?;
            // Applied per record, so each removal's target is noted in the segment that
            // holds its delete record.
            for &(a, b) in chunk {
                for seq in a..=b {
                    self.apply_removal(seq);
                }
            }
        }
        self.after_mutation()?;
        Ok(n)
    }

    pub(super) fn set_first(&mut self, seq: u64) -> Result<(), StoreError> {
        self.writable()?;
        let seq = seq.max(1);
        if self.msgs > 0 || seq <= self.last_seq {
            return Err(StoreError::SequenceInUse {
                requested: seq,
                last_seq: self.last_seq,
            });
        }
        self.compact(seq)?;
        self.after_mutation()
    }

    /// The group commit: write and fsync everything since the last sync, then the
    /// directory, then delete segments that no longer hold anything.
    pub(super) fn sync_all(&mut self) -> Result<(), StoreError> {
        self.writable()?;
        self.check_index()?;
        for i in 0..self.segs.len() {
            let r = match self.segs.get_mut(i) {
                Some(seg) if seg.dirty || seg.buffered() > 0 => seg.sync(&self.vfs),
                _ => Ok(()),
            };
            self.guard(r)?;
        }
        if self.dir_dirty {
            let r = self
                .vfs
                .sync_dir(&self.dir)
                .map_err(|e| StoreError::io(self.dir.display(), e));
            self.guard(r)?;
            self.dir_dirty = false;
        }
        if !self.pending_erase.is_empty() {
            let r = self.erase_pending();
            self.guard(r)?;
        }
        if self.gc_pending {
            self.collect_segments()?;
        }
        let open = self.segs.iter().filter(|s| s.is_open()).count();
        if open > MAX_OPEN_SEALED {
            let n = self.segs.len();
            for seg in self.segs.iter_mut().take(n.saturating_sub(1)) {
                seg.close_if_clean();
            }
        }
        Ok(())
    }

    /// Overwrites erased messages with erased records of the same length, then fsyncs.
    fn erase_pending(&mut self) -> Result<(), StoreError> {
        let mut touched = BTreeSet::new();
        for e in std::mem::take(&mut self.pending_erase) {
            let Some(seg) = self.segs.iter_mut().find(|s| s.id == e.segment) else {
                continue;
            };
            let pad = record::encode_erased(seg.salt, e.len, e.seq, e.ts);
            // Before the overwrite: a read must never see the erased message again.
            self.cache
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .invalidate_segment(e.segment);
            seg.overwrite(&self.vfs, e.offset, &pad)?;
            touched.insert(e.segment);
        }
        for seg in self.segs.iter_mut().filter(|s| touched.contains(&s.id)) {
            seg.sync(&self.vfs)?;
        }
        Ok(())
    }

    /// Deletes sealed segments with no live messages, in waves: a segment goes only once
    /// every segment its delete records cover is durably gone (or is covered by a compact
    /// record in the active segment, which stays), so no crash can bring back a message
    /// whose delete record was deleted first. Called only right after a full sync.
    fn collect_segments(&mut self) -> Result<(), StoreError> {
        self.gc_pending = false;
        for _ in 0..MAX_GC_WAVES {
            let cover = self.segs.last().map_or(0, |a| a.max_compact);
            let present: HashSet<u32> = self.segs.iter().map(|s| s.id).collect();
            let mut wave: Vec<usize> = Vec::new();
            let mut wave_ids: HashSet<u32> = HashSet::new();
            let sealed = self.segs.len().saturating_sub(1);
            for (i, seg) in self.segs.iter().enumerate().take(sealed) {
                if seg.live > 0 || seg.dirty || seg.damaged {
                    continue;
                }
                let safe = seg.targets.iter().all(|t| {
                    *t == seg.id
                        || !present.contains(t)
                        || (wave_ids.contains(t)
                            && self
                                .segs
                                .iter()
                                .find(|s| s.id == *t)
                                .is_some_and(|s| s.end_seq() <= cover))
                });
                if safe {
                    wave.push(i);
                    wave_ids.insert(seg.id);
                }
            }
            if wave.is_empty() {
                return Ok(());
            }
            for &i in wave.iter().rev() {
                let seg = self.segs.remove(i);
                self.cache().invalidate_segment(seg.id);
                if let Err(e) = self.vfs.remove_file(&seg.path) {
                    // Not fatal: the segment stays and is tried again later.
                    self.report
                        .notes
                        .push(format!("could not delete {}: {e}", seg.name()));
                    self.segs.insert(i, seg);
                    self.gc_pending = true;
                } else {
                    self.slot_pages
                        .get_mut()
                        .unwrap_or_else(PoisonError::into_inner)
                        .release(&seg);
                }
            }
            self.slot_pages
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .compact_if_sparse(&mut self.segs);
            let r = self
                .vfs
                .sync_dir(&self.dir)
                .map_err(|e| StoreError::io(self.dir.display(), e));
            self.guard(r)?;
        }
        self.gc_pending = true;
        Ok(())
    }
}
