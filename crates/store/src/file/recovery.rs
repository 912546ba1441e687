//! Opening a store directory: scan every segment, rebuild the in-memory index, cut a
//! torn tail off the last segment, and report damage elsewhere. Nothing here deletes a
//! segment or drops a record that verifies. Every segment and the directory are fsynced
//! before the store serves anything: the previous instance may have failed before its
//! own fsync, and acknowledgements made from now on must not rest on its page cache.
//!
//! Segments are processed one at a time in id (= log) order, so memory peaks at one
//! segment's bytes. Delete and compact records are collected and applied at the end:
//! both only ever name sequences that existed when they were written, so applying them
//! late gives the same result as replaying them in order.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::meta;
use super::pager::PAGE;
use super::record::{Record, MIN_MSG_RECORD};
use super::scan::{self, Item};
use super::segment::{parse_segment_name, Segment, Slot};
use super::slot_pages::SlotPages;
use super::subjects::{SubjectIndex, INDEX_PREFIX, RECOVERY_FACTOR};
use crate::api::{DamagedRange, RecoveryReport};
use crate::error::StoreError;
use crate::vfs::{OpenMode, Vfs, VfsFile};

/// The rebuilt state, ready for `FileStore` to take over.
#[derive(Debug)]
pub(crate) struct Recovered {
    pub salt: u32,
    /// True if the salt is not in a verified `store.meta` yet.
    pub write_meta: bool,
    pub segs: Vec<Segment>,
    /// The open handle of the last segment, if appends can continue in it.
    pub active_file: Option<Box<dyn VfsFile>>,
    pub subjects: SubjectIndex,
    pub slot_pages: SlotPages,
    pub msgs: u64,
    pub bytes: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    pub last_ts: i64,
    pub report: RecoveryReport,
}

/// Pages of slot-table cache out of an index budget of `index_cache` bytes: a quarter
/// (the subject index takes the rest).
fn slot_cache_pages(index_cache: usize) -> usize {
    (index_cache / 4 / PAGE).max(2)
}

/// Damage waiting to learn the first sequence after it.
struct PendingDamage {
    file: String,
    offset: u64,
    len: u64,
    prev: u64,
    next: Option<u64>,
}

fn io_err(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.display().to_string(),
        source: e,
    }
}

/// Bytes a message counts for in `state().bytes` (nats-server's filestore formula),
/// from what a slot knows: the record length and whether the header block is non-empty.
pub(crate) fn slot_stored_size(slot: &Slot) -> u64 {
    let variable = slot.len().saturating_sub(MIN_MSG_RECORD) as u64;
    30 + variable + if slot.has_headers() { 4 } else { 0 }
}

pub(crate) fn recover(
    vfs: &Arc<dyn Vfs>,
    dir: &Path,
    index_cache: usize,
    index_broken: &Arc<AtomicBool>,
) -> Result<Recovered, StoreError> {
    let mut report = RecoveryReport::default();
    if !vfs.exists(dir).map_err(|e| io_err(dir, e))? {
        vfs.create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        // The new directory's own entry must be durable before anything in it matters.
        if let Some(parent) = dir.parent() {
            vfs.sync_dir(parent).map_err(|e| io_err(parent, e))?;
        }
    }
    let mut ids = Vec::new();
    for name in vfs.list_dir(dir).map_err(|e| io_err(dir, e))? {
        match parse_segment_name(&name) {
            Some(id) => ids.push(id),
            None if name.starts_with(meta::META_NAME) => {}
            // The last run's subject index: derived data, rebuilt below.
            None if name.starts_with(INDEX_PREFIX) => {
                let path = dir.join(&name);
                vfs.remove_file(&path).map_err(|e| io_err(&path, e))?;
            }
            None => report.notes.push(format!("ignoring unknown file {name}")),
        }
    }
    ids.sort_unstable();

    let meta_salt = meta::read(vfs, dir)?;
    let mut salt = meta_salt;
    if salt.is_none() {
        // Rebuild from the first segment header that verifies.
        for &id in &ids {
            let path = dir.join(super::segment::segment_name(id));
            let f = vfs
                .open(&path, OpenMode::Read)
                .map_err(|e| io_err(&path, e))?;
            let mut head = vec![0u8; (f.len().map_err(|e| io_err(&path, e))? as usize).min(64)];
            f.read_exact_at(&mut head, 0)
                .map_err(|e| io_err(&path, e))?;
            if let Some((s, ..)) = scan::header(&head) {
                salt = Some(s);
                report
                    .notes
                    .push("store.meta missing or damaged; salt taken from segment headers".into());
                break;
            }
        }
    }
    let salt_known = salt.is_some() || ids.is_empty();
    if !salt_known {
        report
            .notes
            .push("store salt unknown (store.meta and all segment headers damaged)".into());
    }
    let salt = salt.unwrap_or_else(meta::new_salt);

    let mut rb = Rebuild::new(
        SubjectIndex::new(vfs, dir, index_cache - index_cache / 4, index_broken),
        SlotPages::new(
            vfs,
            dir,
            slot_cache_pages(index_cache) * RECOVERY_FACTOR,
            INDEX_PREFIX,
            index_broken,
        ),
        slot_cache_pages(index_cache),
    );
    let mut active_file = None;
    let mut bytes = Vec::new();
    for (k, &id) in ids.iter().enumerate() {
        let is_last = k + 1 == ids.len();
        let path = dir.join(super::segment::segment_name(id));
        let file = vfs
            .open(&path, OpenMode::ReadWrite)
            .map_err(|e| io_err(&path, e))?;
        let len = file.len().map_err(|e| io_err(&path, e))?;
        // One buffer for every segment: a fresh multi-MiB allocation per segment leaves
        // the allocator's heap fragmented under the index being built.
        bytes.clear();
        bytes.resize(usize::try_from(len).unwrap_or(usize::MAX), 0);
        file.read_exact_at(&mut bytes, 0)
            .map_err(|e| io_err(&path, e))?;
        // The instance that wrote this may have died before its fsync: make what we are
        // about to serve durable, or a later acknowledgement could rest on bytes that
        // were never on disk.
        file.sync_data().map_err(|e| io_err(&path, e))?;
        let mut tail = rb.segment(id, dir, &bytes, salt);
        let seg_name = super::segment::segment_name(id);
        let zeros_from = |t: u64| {
            let from = usize::try_from(t).unwrap_or(usize::MAX);
            bytes.get(from..).is_some_and(|b| b.iter().all(|&x| x == 0))
        };
        if let Some(t) = tail.filter(|&t| zeros_from(t)) {
            // Nothing but zeros after the last record: the preallocated end of the file
            // (a torn write always leaves the non-zero start of its record). Appends
            // continue at `t`, over the zeros.
            if let Some(seg) = rb.segs.last_mut() {
                seg.set_data_end(t, len);
            }
            tail = None;
        }
        if let Some(t) = tail {
            let tail_len = len - t;
            if is_last && salt_known {
                // A torn last write: cut it off so appends continue after the last
                // record that verifies.
                file.set_len(t).map_err(|e| io_err(&path, e))?;
                file.sync_data().map_err(|e| io_err(&path, e))?;
                report.truncated_tail_bytes = tail_len;
                report.notes.push(format!(
                    "cut {tail_len} torn bytes at offset {t} of {seg_name}"
                ));
                if let Some(seg) = rb.segs.last_mut() {
                    seg.set_data_end(t, t);
                }
            } else {
                rb.damage(&seg_name, t, tail_len);
                if let Some(seg) = rb.segs.last_mut() {
                    seg.damaged = true;
                }
            }
        }
        if is_last && (tail.is_none() || salt_known) {
            active_file = Some(file);
        }
    }
    drop(bytes);
    // Likewise for the directory entries of the segments just read.
    vfs.sync_dir(dir).map_err(|e| io_err(dir, e))?;
    rb.finish(salt, meta_salt.is_none(), active_file, report)
}

struct Rebuild {
    segs: Vec<Segment>,
    /// Subjects as met in the log, including ones whose messages are all deleted.
    seen_subjects: SubjectIndex,
    /// Where the slot tables of sealed segments go.
    slot_pages: SlotPages,
    /// Pages the slot cache keeps after recovery.
    slot_cache: usize,
    /// Highest message (or erased message) sequence so far, and its time.
    max_seq: u64,
    max_ts: i64,
    /// Sequence state from the newest segment header.
    hdr_last: (u64, i64),
    /// Highest `last_seq` carried by a delete or compact record.
    rec_last_seq: u64,
    /// Highest sequence a delete or compact record removed.
    deleted_upto: u64,
    damages: Vec<PendingDamage>,
    notes: Vec<String>,
}

impl Rebuild {
    fn new(seen_subjects: SubjectIndex, slot_pages: SlotPages, slot_cache: usize) -> Self {
        Rebuild {
            segs: Vec::new(),
            seen_subjects,
            slot_pages,
            slot_cache,
            max_seq: 0,
            max_ts: 0,
            hdr_last: (0, 0),
            rec_last_seq: 0,
            deleted_upto: 0,
            damages: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn damage(&mut self, file: &str, offset: u64, len: u64) {
        self.damages.push(PendingDamage {
            file: file.to_string(),
            offset,
            len,
            prev: self.max_seq,
            next: None,
        });
    }

    /// Tells pending damage which sequence came next.
    fn resolve(&mut self, seq: u64) {
        for d in self.damages.iter_mut().rev() {
            if d.next.is_some() {
                break;
            }
            d.next = Some(seq);
        }
    }

    /// A delete or compact record says sequences up to `last_seq` had been assigned: any
    /// damage before it lost at most those.
    fn saw_last_seq(&mut self, last_seq: u64) {
        self.rec_last_seq = self.rec_last_seq.max(last_seq);
        self.resolve(last_seq.saturating_add(1));
    }

    /// Processes one segment's bytes; returns where an unverifiable tail starts.
    fn segment(&mut self, id: u32, dir: &Path, bytes: &[u8], store_salt: u32) -> Option<u64> {
        let name = super::segment::segment_name(id);
        // The previous segment is sealed: its slot table leaves memory.
        if let Some(prev) = self.segs.last_mut() {
            prev.page_out(&mut self.slot_pages);
        }
        let prev_end = self.segs.last().map_or(1, Segment::end_seq);
        let (salt, start, base) = match scan::header(bytes) {
            Some((s, last_seq, last_ts, len)) => {
                if last_seq >= self.hdr_last.0 {
                    self.hdr_last = (last_seq, last_ts);
                }
                (s, len, prev_end.max(last_seq.saturating_add(1)))
            }
            None => (store_salt, 0, prev_end),
        };
        let mut seg = Segment::new(id, dir, None, bytes.len() as u64, base, salt);
        let mut floor_seq = self.max_seq.max(self.hdr_last.0);
        let mut damaged_since_msg = 0u64;
        let tail = scan::scan(bytes, start, salt, |item| {
            let (offset, len, rec) = match item {
                Item::Damage { offset, len } => {
                    self.damage(&name, offset, len);
                    seg.damaged = true;
                    damaged_since_msg += len;
                    return;
                }
                Item::Record { offset, len, rec } => (offset, len, rec),
            };
            let (seq, ts) = match &rec {
                Record::Msg(m) => (m.seq, m.ts),
                Record::Erased { seq, ts } => (*seq, *ts),
                // Applied as met (their targets are always behind them in the log), so
                // recovery holds no list of deletes, however many there are.
                Record::Delete { last_seq, ranges } => {
                    self.saw_last_seq(*last_seq);
                    for &(a, b) in ranges {
                        self.deleted_upto = self.deleted_upto.max(b);
                        self.delete_range(&mut seg, a, b);
                    }
                    return;
                }
                Record::Compact { last_seq, below } => {
                    self.saw_last_seq(*last_seq);
                    if *below > 1 {
                        self.deleted_upto = self.deleted_upto.max(below - 1);
                        self.delete_range(&mut seg, 0, below - 1);
                    }
                    return;
                }
                Record::Segment { .. } => {
                    self.notes
                        .push(format!("{name}: segment header at offset {offset} ignored"));
                    return;
                }
                Record::Unknown(kind) => {
                    self.notes.push(format!(
                        "{name}: record kind {kind} at offset {offset} ignored"
                    ));
                    return;
                }
            };
            // Sequences only grow, and within a segment they are contiguous except where
            // damage swallowed records (at most one per MIN_MSG_RECORD bytes). A record
            // that breaks this verified but cannot be ours; it is treated as damage.
            let plausible = seq > floor_seq
                && (!seg.has_slots()
                    || seq == seg.end_seq()
                    || (seq > seg.end_seq()
                        && seq - seg.end_seq() <= damaged_since_msg / MIN_MSG_RECORD as u64))
                && u32::try_from(offset).is_ok();
            if !plausible {
                self.notes.push(format!(
                    "{name}: record for seq {seq} at offset {offset} out of sequence"
                ));
                self.damage(&name, offset, len as u64);
                damaged_since_msg += len as u64;
                return;
            }
            self.resolve(seq);
            match rec {
                Record::Msg(m) => {
                    let sid = self.seen_subjects.intern(m.subject);
                    let has_hdr = m.headers.is_some_and(|h| !h.is_empty());
                    seg.add(seq, Slot::new(offset as u32, len as u32, has_hdr, sid));
                }
                _ => seg.add_empty(seq),
            }
            floor_seq = seq;
            self.max_seq = seq;
            self.max_ts = ts;
            damaged_since_msg = 0;
        });
        self.segs.push(seg);
        tail
    }

    /// Indices of segments holding sequences in `a..=b`.
    fn overlapping(&self, a: u64, b: u64) -> std::ops::Range<usize> {
        let start = self.segs.partition_point(|s| s.end_seq() <= a);
        let end = self.segs.partition_point(|s| s.base_seq <= b);
        start..end.max(start)
    }

    /// Removes `a..=b` on behalf of a delete or compact record in `owner`, the segment
    /// being scanned: from it and from the segments before it, which `owner` then
    /// targets (it must outlive them).
    fn delete_range(&mut self, owner: &mut Segment, a: u64, b: u64) {
        for si in self.overlapping(a, b) {
            let Some(seg) = self.segs.get_mut(si) else {
                continue;
            };
            if !seg.has_slots() {
                continue;
            }
            let lo = a.max(seg.base_seq);
            let hi = b.min(seg.end_seq().saturating_sub(1));
            for seq in lo..=hi {
                seg.take(&mut self.slot_pages, seq);
            }
            owner.targets.insert(seg.id);
        }
        if owner.has_slots() {
            let lo = a.max(owner.base_seq);
            let hi = b.min(owner.end_seq().saturating_sub(1));
            for seq in lo..=hi {
                owner.take(&mut self.slot_pages, seq);
            }
        }
    }

    fn finish(
        mut self,
        salt: u32,
        write_meta: bool,
        active_file: Option<Box<dyn VfsFile>>,
        mut report: RecoveryReport,
    ) -> Result<Recovered, StoreError> {
        let last_seq = self
            .max_seq
            .max(self.hdr_last.0)
            .max(self.rec_last_seq)
            .max(self.deleted_upto);
        let last_ts = if last_seq == self.max_seq {
            self.max_ts
        } else if last_seq == self.hdr_last.0 {
            self.hdr_last.1
        } else {
            0
        };
        for d in self.damages.drain(..) {
            let hi = d.next.map_or(last_seq, |n| n.saturating_sub(1));
            let lost = (d.prev < hi).then_some((d.prev + 1, hi));
            report.damaged.push(DamagedRange {
                file: d.file,
                offset: d.offset,
                len: d.len,
                first_lost_seq: lost.map(|l| l.0),
                last_lost_seq: lost.map(|l| l.1),
            });
        }
        report.notes.append(&mut self.notes);

        // Count live messages into the index built while scanning (one name per
        // subject, no second index), then forget subjects left with none.
        let mut subjects = self.seen_subjects;
        let (mut msgs, mut bytes, mut first_seq) = (0u64, 0u64, None);
        let mut prev_end = 1;
        let mut pages = std::sync::Mutex::new(self.slot_pages);
        for si in 0..self.segs.len() {
            let Some(seg) = self.segs.get_mut(si) else {
                continue;
            };
            if !seg.has_slots() {
                seg.base_seq = seg.base_seq.max(prev_end);
            }
            prev_end = seg.end_seq();
            let (base, count) = (seg.base_seq, seg.slot_count());
            for i in 0..count {
                let Some(slot) = self
                    .segs
                    .get(si)
                    .and_then(|seg| seg.slot_at(&pages, i))
                    .filter(Slot::is_live)
                else {
                    continue;
                };
                let seq = base + i;
                // Links between live messages only: exact after recovery.
                if let Some(prev) = subjects.add(slot.subject, seq) {
                    let owner = self.segs[..=si].partition_point(|s| s.end_seq() <= prev);
                    if let Some(seg) = self.segs.get_mut(owner) {
                        let p = pages
                            .get_mut()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        seg.link_next(p, prev, seq);
                    }
                }
                msgs += 1;
                bytes += slot_stored_size(&slot);
                first_seq.get_or_insert(seq);
            }
        }
        let mut slot_pages = pages
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        subjects.release_all_empty();
        subjects.settle();
        slot_pages.set_capacity(self.slot_cache);
        if let Some(e) = subjects.take_error().or_else(|| slot_pages.take_error()) {
            return Err(StoreError::io("store index", e));
        }
        Ok(Recovered {
            salt,
            write_meta,
            segs: self.segs,
            active_file,
            subjects,
            slot_pages,
            msgs,
            bytes,
            first_seq: first_seq.unwrap_or(last_seq + 1),
            last_seq,
            last_ts,
            report,
        })
    }
}
