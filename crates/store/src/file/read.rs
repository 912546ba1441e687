//! Lookups: from a sequence to its slot, iteration over live messages, filtered
//! searches, and reading and verifying a record from its segment.

use std::collections::HashMap;
use std::sync::MutexGuard;

use bytes::Bytes;

use super::cache::{self, Plan, ReadCache};
use super::record::{decode, Record};
use super::segment::{Segment, Slot};
use super::subjects::SubjectIndex;
use super::FileStore;
use crate::api::StoredMessage;
use crate::error::StoreError;
use crate::filter::Filter;

/// Slots a scan reads at a time: few at first (most scans stop at the first live
/// message), then whole runs, so a long scan takes the slot cache's lock once per run.
const FIRST_RUN: u64 = 8;
const SCAN_RUN: u64 = 256;

/// A scan over live slots, forwards or backwards, reading slot tables in runs.
struct SlotScan<'a> {
    store: &'a FileStore,
    /// Current segment (forwards: counts up; backwards: down, `usize::MAX` when done).
    si: usize,
    /// Forwards: index of the next slot to read. Backwards: one past it.
    next: u64,
    forward: bool,
    run: Vec<Slot>,
    /// Index in its segment of `run[0]`.
    run_start: u64,
    pos: usize,
    run_len: u64,
}

impl<'a> SlotScan<'a> {
    fn new(store: &'a FileStore, si: usize, next: u64, forward: bool) -> Self {
        SlotScan {
            store,
            si,
            next,
            forward,
            run: Vec::new(),
            run_start: 0,
            pos: 0,
            run_len: FIRST_RUN,
        }
    }

    /// Reads the next run; false when the scan is over.
    fn refill(&mut self) -> bool {
        loop {
            let Some(seg) = self.store.segs.get(self.si) else {
                return false;
            };
            let n = self.run_len;
            self.run_len = SCAN_RUN;
            if self.forward {
                if self.next < seg.slot_count() {
                    self.run_start = self.next;
                    seg.slots_into(&self.store.slot_pages, self.next, n, &mut self.run);
                    self.next += self.run.len() as u64;
                    self.pos = 0;
                    return true;
                }
                self.si += 1;
                self.next = 0;
            } else {
                if self.next > 0 {
                    let lo = self.next.saturating_sub(n);
                    self.run_start = lo;
                    seg.slots_into(&self.store.slot_pages, lo, self.next - lo, &mut self.run);
                    self.next = lo;
                    self.pos = self.run.len();
                    return true;
                }
                let Some(prev) = self.si.checked_sub(1) else {
                    self.si = usize::MAX;
                    return false;
                };
                self.si = prev;
                self.next = self.store.segs.get(prev).map_or(0, Segment::slot_count);
            }
        }
    }
}

impl Iterator for SlotScan<'_> {
    type Item = (usize, u64, Slot);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let at = if self.forward {
                if self.pos >= self.run.len() && !self.refill() {
                    return None;
                }
                self.pos += 1;
                self.pos - 1
            } else {
                if self.pos == 0 && !self.refill() {
                    return None;
                }
                self.pos -= 1;
                self.pos
            };
            let Some(&slot) = self.run.get(at) else {
                continue;
            };
            if slot.is_live() {
                let base = self.store.segs.get(self.si).map_or(0, |s| s.base_seq);
                return Some((self.si, base + self.run_start + at as u64, slot));
            }
        }
    }
}

impl FileStore {
    /// The live slot for `seq` and the index of its segment.
    pub(super) fn locate(&self, seq: u64) -> Option<(usize, Slot)> {
        let si = self.segs.partition_point(|s| s.end_seq() <= seq);
        let slot = self.segs.get(si)?.slot(&self.slot_pages, seq)?;
        slot.is_live().then_some((si, slot))
    }

    /// Live messages with sequence >= `from`, ascending: (segment index, seq, slot).
    pub(super) fn live_from(&self, from: u64) -> impl Iterator<Item = (usize, u64, Slot)> + '_ {
        let si = self.segs.partition_point(|s| s.end_seq() <= from);
        let i = self
            .segs
            .get(si)
            .map_or(0, |s| from.saturating_sub(s.base_seq));
        SlotScan::new(self, si, i, true)
    }

    /// Live messages with sequence <= `upto`, descending.
    pub(super) fn live_rev(&self, upto: u64) -> impl Iterator<Item = (usize, u64, Slot)> + '_ {
        let end = self.segs.partition_point(|s| s.base_seq <= upto);
        let (si, i) = match end
            .checked_sub(1)
            .and_then(|si| Some((si, self.segs.get(si)?)))
        {
            Some((si, s)) => (
                si,
                (upto - s.base_seq).saturating_add(1).min(s.slot_count()),
            ),
            None => (usize::MAX, 0),
        };
        SlotScan::new(self, si, i, false)
    }

    /// The first live message at or after `from` matching `filter`.
    pub(super) fn find_next(&self, from: u64, filter: Filter<'_>) -> Option<(usize, u64, Slot)> {
        match filter {
            Filter::All => self.live_from(from).next(),
            Filter::Literal(subject) => {
                let (id, e) = {
                    let mut ix = self.index();
                    let id = ix.id(subject)?;
                    (id, ix.get(id)?)
                };
                self.live_from(from.max(e.first))
                    .take_while(|(_, seq, _)| *seq <= e.last)
                    .find(|(_, _, s)| s.subject == id)
            }
            Filter::Wildcard(_) => {
                let mut m = SubjectMatcher::new(self, filter);
                self.live_from(from).find(|(_, _, s)| m.matches(s.subject))
            }
        }
    }

    /// Live messages at or after `from` matching `filter`, counted from the index.
    pub(super) fn count_matching(&self, from: u64, filter: Filter<'_>) -> u64 {
        match filter {
            Filter::All => {
                if from <= self.first_seq {
                    return self.msgs;
                }
                self.live_from(from).count() as u64
            }
            Filter::Literal(subject) => {
                let (id, e) = {
                    let mut ix = self.index();
                    let Some(id) = ix.id(subject) else {
                        return 0;
                    };
                    let Some(e) = ix.get(id) else {
                        return 0;
                    };
                    (id, e)
                };
                if from <= e.first {
                    return e.count;
                }
                self.live_from(from)
                    .take_while(|(_, seq, _)| *seq <= e.last)
                    .filter(|(_, _, s)| s.subject == id)
                    .count() as u64
            }
            Filter::Wildcard(_) => {
                let mut m = SubjectMatcher::new(self, filter);
                self.live_from(from)
                    .filter(|(_, _, s)| m.matches(s.subject))
                    .count() as u64
            }
        }
    }

    /// The sequence of the last live message matching `filter`.
    pub(super) fn find_last(&self, filter: Filter<'_>) -> Option<u64> {
        match filter {
            Filter::All => self.live_rev(self.last_seq).next().map(|(_, seq, _)| seq),
            Filter::Literal(subject) => self.index().lookup(subject).map(|e| e.last),
            Filter::Wildcard(_) => {
                let mut last = None;
                self.index().for_each(|_, e, name| {
                    if filter.matches(name) {
                        last = last.max(Some(e.last));
                    }
                });
                last
            }
        }
    }

    /// The last sequence of each subject matching `filter`.
    pub(super) fn last_seqs_matching(&self, filter: Filter<'_>) -> Vec<u64> {
        match filter {
            Filter::Literal(subject) => self
                .index()
                .lookup(subject)
                .map(|e| e.last)
                .into_iter()
                .collect(),
            _ => {
                let mut out = Vec::new();
                self.index().for_each(|_, e, name| {
                    if e.count > 0 && filter.matches(name) {
                        out.push(e.last);
                    }
                });
                out
            }
        }
    }

    /// The next live message of subject `id` in `from..=upto`.
    pub(super) fn next_of_subject(&self, from: u64, upto: u64, id: u32) -> Option<u64> {
        self.live_from(from)
            .take_while(|(_, seq, _)| *seq <= upto)
            .find(|(_, _, s)| s.subject == id)
            .map(|(_, seq, _)| seq)
    }

    /// The previous live message of subject `id` in `down_to..=upto`.
    pub(super) fn prev_of_subject(&self, upto: u64, down_to: u64, id: u32) -> Option<u64> {
        self.live_rev(upto)
            .take_while(|(_, seq, _)| *seq >= down_to)
            .find(|(_, _, s)| s.subject == id)
            .map(|(_, seq, _)| seq)
    }

    /// Live sequences matching `filter` below `upper`, ascending.
    pub(super) fn matching_below(&self, filter: Filter<'_>, upper: u64) -> Vec<u64> {
        // A literal subject's messages lie between its first and last: scan only those.
        let (id, from, upper) = match filter {
            Filter::Literal(s) => {
                let mut ix = self.index();
                let Some(id) = ix.id(s) else {
                    return Vec::new();
                };
                let Some(e) = ix.get(id) else {
                    return Vec::new();
                };
                (Some(id), e.first, upper.min(e.last.saturating_add(1)))
            }
            _ => (None, 0, upper),
        };
        let mut m = SubjectMatcher::new(self, filter);
        self.live_from(from)
            .take_while(|(_, seq, _)| *seq < upper)
            .filter(|(_, _, s)| match (filter, id) {
                (Filter::All, _) => true,
                (_, Some(id)) => s.subject == id,
                _ => m.matches(s.subject),
            })
            .map(|(_, seq, _)| seq)
            .collect()
    }

    fn checksum_error(&self, si: usize, slot: &Slot) -> StoreError {
        StoreError::Checksum {
            path: self
                .segs
                .get(si)
                .map(|s| s.path.display().to_string())
                .unwrap_or_default(),
            offset: slot.offset(),
        }
    }

    /// Reads and verifies the record of `seq`. A record that fails its checksum is never
    /// served.
    pub(super) fn read_message(
        &self,
        si: usize,
        seq: u64,
        slot: &Slot,
    ) -> Result<StoredMessage, StoreError> {
        let seg = self
            .segs
            .get(si)
            .ok_or_else(|| self.checksum_error(si, slot))?;
        let raw = self.read_record(seg, slot.offset(), slot.len())?;
        let m = match decode(&raw, seg.salt) {
            Ok((Record::Msg(m), _)) if m.seq == seq => m,
            _ => return Err(self.checksum_error(si, slot)),
        };
        // Slice the one buffer instead of copying each part.
        let base = raw.as_ptr() as usize;
        let range = |b: &[u8]| {
            let start = b.as_ptr() as usize - base;
            start..start + b.len()
        };
        let payload_range = range(m.payload);
        let headers_range = m.headers.map(range);
        let (subject, timestamp) = (m.subject.to_string(), m.ts);
        let raw = Bytes::from(raw);
        Ok(StoredMessage {
            seq,
            subject,
            headers: headers_range.map(|r| raw.slice(r)),
            payload: raw.slice(payload_range),
            timestamp,
        })
    }

    /// A record's bytes: from a read-ahead window when reads are sequential.
    fn read_record(&self, seg: &Segment, offset: u64, len: usize) -> Result<Vec<u8>, StoreError> {
        let mut cache = self.cache();
        let fill = match cache.plan(seg.id, offset, len, seg.written()) {
            Plan::Hit(bytes) => return Ok(bytes),
            Plan::Direct => {
                drop(cache);
                return seg.read(&self.vfs, offset, len);
            }
            Plan::Fill { len: fill } => fill,
        };
        // A short fill (a reader caught up with the end of the data) gets a buffer of
        // its size, so windows of idle, read-to-the-end stores stay small.
        let mut buf = if fill >= cache::WINDOW / 2 {
            cache.spare_buffer()
        } else {
            Vec::new()
        };
        buf.resize(fill, 0);
        seg.read_file(&self.vfs, &mut buf, offset)?;
        let out = buf.get(..len).map(<[u8]>::to_vec);
        cache.insert(seg.id, offset, buf, len);
        out.ok_or_else(|| seg.io(std::io::Error::from(std::io::ErrorKind::UnexpectedEof)))
    }

    /// The read cache; a panic elsewhere while it was held cannot leave it wrong for
    /// long, but it is cleared to be sure.
    pub(super) fn cache(&self) -> MutexGuard<'_, ReadCache> {
        self.cache.lock().unwrap_or_else(|e| {
            let mut g = e.into_inner();
            *g = ReadCache::default();
            g
        })
    }

    /// The timestamp of a live message, or 0 if it cannot be read.
    pub(super) fn read_ts(&self, seq: u64) -> i64 {
        self.locate(seq)
            .and_then(|(si, slot)| self.read_message(si, seq, &slot).ok())
            .map_or(0, |m| m.timestamp)
    }
}

/// Matches subject ids against a wildcard filter, each id once per scan. The memo is
/// capped so a scan over millions of subjects stays within bounded memory.
struct SubjectMatcher<'a> {
    index: MutexGuard<'a, SubjectIndex>,
    filter: Filter<'a>,
    memo: HashMap<u32, bool>,
}

const MAX_MEMO: usize = 1 << 16;

impl<'a> SubjectMatcher<'a> {
    fn new(store: &'a FileStore, filter: Filter<'a>) -> Self {
        SubjectMatcher {
            index: store.index(),
            filter,
            memo: HashMap::new(),
        }
    }

    fn matches(&mut self, id: u32) -> bool {
        if let Some(&m) = self.memo.get(&id) {
            return m;
        }
        if self.memo.len() >= MAX_MEMO {
            self.memo.clear();
        }
        let filter = self.filter;
        let m = self
            .index
            .with_name(id, |name| filter.matches(name))
            .unwrap_or(false);
        self.memo.insert(id, m);
        m
    }
}
