//! Lookups: from a sequence to its slot, iteration over live messages, filtered
//! searches, and reading and verifying a record from its segment.

use std::collections::HashMap;
use std::sync::MutexGuard;

use bytes::Bytes;

use super::cache::{self, Plan, ReadCache};
use super::record::{decode, Record};
use super::segment::{Segment, Slot};
use super::FileStore;
use crate::api::StoredMessage;
use crate::error::StoreError;
use crate::filter::Filter;

impl FileStore {
    /// The live slot for `seq` and the index of its segment.
    pub(super) fn locate(&self, seq: u64) -> Option<(usize, Slot)> {
        let si = self.segs.partition_point(|s| s.end_seq() <= seq);
        let slot = self.segs.get(si)?.slot(seq)?;
        slot.is_live().then_some((si, *slot))
    }

    /// Live messages with sequence >= `from`, ascending: (segment index, seq, slot).
    pub(super) fn live_from(&self, from: u64) -> impl Iterator<Item = (usize, u64, Slot)> + '_ {
        let start = self.segs.partition_point(|s| s.end_seq() <= from);
        self.segs
            .get(start..)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .flat_map(move |(k, seg)| {
                let skip = usize::try_from(from.saturating_sub(seg.base_seq)).unwrap_or(usize::MAX);
                seg.slots
                    .iter()
                    .enumerate()
                    .skip(skip)
                    .filter(|(_, s)| s.is_live())
                    .map(move |(i, s)| (start + k, seg.base_seq + i as u64, *s))
            })
    }

    /// Live messages with sequence <= `upto`, descending.
    pub(super) fn live_rev(&self, upto: u64) -> impl Iterator<Item = (usize, u64, Slot)> + '_ {
        let end = self.segs.partition_point(|s| s.base_seq <= upto);
        self.segs
            .get(..end)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .rev()
            .flat_map(move |(si, seg)| {
                let n =
                    usize::try_from((upto - seg.base_seq).saturating_add(1)).unwrap_or(usize::MAX);
                let take = n.min(seg.slots.len());
                seg.slots
                    .get(..take)
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                    .rev()
                    .filter(|(_, s)| s.is_live())
                    .map(move |(i, s)| (si, seg.base_seq + i as u64, *s))
            })
    }

    /// The first live message at or after `from` matching `filter`.
    pub(super) fn find_next(&self, from: u64, filter: Filter<'_>) -> Option<(usize, u64, Slot)> {
        match filter {
            Filter::All => self.live_from(from).next(),
            Filter::Literal(subject) => {
                let id = self.subjects.id(subject)?;
                let e = self.subjects.get(id)?;
                let last = e.last;
                self.live_from(from.max(e.first))
                    .take_while(|(_, seq, _)| *seq <= last)
                    .find(|(_, _, s)| s.subject == id)
            }
            Filter::Wildcard(_) => {
                // Each subject is matched against the pattern once per call.
                let mut memo: HashMap<u32, bool> = HashMap::new();
                self.live_from(from).find(|(_, _, s)| {
                    *memo.entry(s.subject).or_insert_with(|| {
                        self.subjects
                            .get(s.subject)
                            .is_some_and(|e| filter.matches(&e.name))
                    })
                })
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
                let Some(id) = self.subjects.id(subject) else {
                    return 0;
                };
                let Some(e) = self.subjects.get(id) else {
                    return 0;
                };
                if from <= e.first {
                    return e.count;
                }
                let last = e.last;
                self.live_from(from)
                    .take_while(|(_, seq, _)| *seq <= last)
                    .filter(|(_, _, s)| s.subject == id)
                    .count() as u64
            }
            Filter::Wildcard(_) => {
                let mut memo: HashMap<u32, bool> = HashMap::new();
                self.live_from(from)
                    .filter(|(_, _, s)| {
                        *memo.entry(s.subject).or_insert_with(|| {
                            self.subjects
                                .get(s.subject)
                                .is_some_and(|e| filter.matches(&e.name))
                        })
                    })
                    .count() as u64
            }
        }
    }

    /// The sequence of the last live message matching `filter`.
    pub(super) fn find_last(&self, filter: Filter<'_>) -> Option<u64> {
        match filter {
            Filter::All => self.live_rev(self.last_seq).next().map(|(_, seq, _)| seq),
            Filter::Literal(subject) => self.subjects.lookup(subject).map(|e| e.last),
            Filter::Wildcard(_) => self
                .subjects
                .iter()
                .filter(|(_, e)| filter.matches(&e.name))
                .map(|(_, e)| e.last)
                .max(),
        }
    }

    /// The last sequence of each subject matching `filter`.
    pub(super) fn last_seqs_matching(&self, filter: Filter<'_>) -> Vec<u64> {
        match filter {
            Filter::Literal(subject) => self
                .subjects
                .lookup(subject)
                .map(|e| e.last)
                .into_iter()
                .collect(),
            _ => self
                .subjects
                .iter()
                .filter(|(_, e)| e.count > 0 && filter.matches(&e.name))
                .map(|(_, e)| e.last)
                .collect(),
        }
    }

    /// The next live message of subject `id` at or after `from`.
    pub(super) fn next_of_subject(&self, from: u64, id: u32) -> Option<u64> {
        self.live_from(from)
            .find(|(_, _, s)| s.subject == id)
            .map(|(_, seq, _)| seq)
    }

    /// The previous live message of subject `id` at or before `upto`.
    pub(super) fn prev_of_subject(&self, upto: u64, id: u32) -> Option<u64> {
        self.live_rev(upto)
            .find(|(_, _, s)| s.subject == id)
            .map(|(_, seq, _)| seq)
    }

    /// Live sequences matching `filter` below `upper`, ascending.
    pub(super) fn matching_below(&self, filter: Filter<'_>, upper: u64) -> Vec<u64> {
        let mut memo: HashMap<u32, bool> = HashMap::new();
        let id = match filter {
            Filter::Literal(s) => match self.subjects.id(s) {
                Some(id) => Some(id),
                None => return Vec::new(),
            },
            _ => None,
        };
        let from = id
            .and_then(|id| self.subjects.get(id))
            .map_or(0, |e| e.first);
        self.live_from(from)
            .take_while(|(_, seq, _)| *seq < upper)
            .filter(|(_, _, s)| match (filter, id) {
                (Filter::All, _) => true,
                (_, Some(id)) => s.subject == id,
                _ => *memo.entry(s.subject).or_insert_with(|| {
                    self.subjects
                        .get(s.subject)
                        .is_some_and(|e| filter.matches(&e.name))
                }),
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
