//! `MemStore`: the memory store. Messages live in a `BTreeMap` by sequence, with a
//! per-subject set of sequences beside it so literal-subject lookups (`load_last`,
//! `load_next` with a literal filter, `subject_count`) never scan other subjects.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use bytes::Bytes;

use crate::api::{MessageStore, RecoveryReport, StoreState, StoredMessage};
use crate::error::StoreError;
use crate::filter::{Filter, PurgeSpec};

/// Bytes a message counts for in a memory store (nats-server's memstore formula).
pub fn mem_stored_size(subject_len: usize, headers_len: usize, payload_len: usize) -> u64 {
    (subject_len + headers_len + payload_len) as u64 + 16
}

#[derive(Debug, Clone)]
struct Entry {
    subject: Arc<str>,
    headers: Option<Bytes>,
    payload: Bytes,
    timestamp: i64,
}

impl Entry {
    fn size(&self) -> u64 {
        mem_stored_size(
            self.subject.len(),
            self.headers.as_ref().map_or(0, |h| h.len()),
            self.payload.len(),
        )
    }

    fn to_message(&self, seq: u64) -> StoredMessage {
        StoredMessage {
            seq,
            subject: self.subject.to_string(),
            headers: self.headers.clone(),
            payload: self.payload.clone(),
            timestamp: self.timestamp,
        }
    }
}

/// The memory store. `first_seq` is not kept as a field: it is the first key of `msgs`,
/// or `last_seq + 1` when empty, so it can never disagree with the messages.
#[derive(Debug, Default)]
pub struct MemStore {
    msgs: BTreeMap<u64, Entry>,
    subjects: HashMap<Arc<str>, BTreeSet<u64>>,
    last_seq: u64,
    last_ts: i64,
    bytes: u64,
}

impl MemStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn first_seq(&self) -> u64 {
        self.msgs
            .first_key_value()
            .map_or(self.last_seq + 1, |(s, _)| *s)
    }

    fn remove_seq(&mut self, seq: u64) -> bool {
        let Some(entry) = self.msgs.remove(&seq) else {
            return false;
        };
        self.bytes = self.bytes.saturating_sub(entry.size());
        if let Some(set) = self.subjects.get_mut(&entry.subject) {
            set.remove(&seq);
            if set.is_empty() {
                self.subjects.remove(&entry.subject);
            }
        }
        true
    }

    fn clear(&mut self) -> u64 {
        let n = self.msgs.len() as u64;
        self.msgs.clear();
        self.subjects.clear();
        self.bytes = 0;
        n
    }

    /// Sequences matching `filter` below `upper`, ascending.
    fn matching_below(&self, filter: Filter<'_>, upper: u64) -> Vec<u64> {
        match filter {
            Filter::All => self.msgs.range(..upper).map(|(s, _)| *s).collect(),
            Filter::Literal(subject) => self
                .subjects
                .get(subject)
                .map(|set| set.range(..upper).copied().collect())
                .unwrap_or_default(),
            Filter::Wildcard(_) => {
                let mut seqs: Vec<u64> = self
                    .subjects
                    .iter()
                    .filter(|(subject, _)| filter.matches(subject))
                    .flat_map(|(_, set)| set.range(..upper).copied())
                    .collect();
                seqs.sort_unstable();
                seqs
            }
        }
    }
}

impl MessageStore for MemStore {
    fn append_at(
        &mut self,
        seq: u64,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        timestamp: i64,
    ) -> Result<u64, StoreError> {
        if seq <= self.last_seq {
            return Err(StoreError::SequenceInUse {
                requested: seq,
                last_seq: self.last_seq,
            });
        }
        // Skipped sequences are simply absent: they count as deleted.
        self.last_seq = seq - 1;
        self.append(subject, headers, payload, timestamp)
    }

    fn append(
        &mut self,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        timestamp: i64,
    ) -> Result<u64, StoreError> {
        let seq = self.last_seq + 1;
        let subject: Arc<str> = match self.subjects.get_key_value(subject) {
            Some((k, _)) => k.clone(),
            None => Arc::from(subject),
        };
        let entry = Entry {
            subject: subject.clone(),
            headers: headers.map(Bytes::copy_from_slice),
            payload: Bytes::copy_from_slice(payload),
            timestamp,
        };
        self.bytes += entry.size();
        self.msgs.insert(seq, entry);
        self.subjects.entry(subject).or_default().insert(seq);
        self.last_seq = seq;
        self.last_ts = timestamp;
        Ok(seq)
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    fn load(&self, seq: u64) -> Result<Option<StoredMessage>, StoreError> {
        Ok(self.msgs.get(&seq).map(|e| e.to_message(seq)))
    }

    fn load_next(
        &self,
        from: u64,
        filter: Option<&str>,
    ) -> Result<Option<StoredMessage>, StoreError> {
        let found = match Filter::new(filter) {
            Filter::All => self.msgs.range(from..).next(),
            Filter::Literal(subject) => self
                .subjects
                .get(subject)
                .and_then(|set| set.range(from..).next())
                .and_then(|seq| self.msgs.get_key_value(seq)),
            f @ Filter::Wildcard(_) => self.msgs.range(from..).find(|(_, e)| f.matches(&e.subject)),
        };
        Ok(found.map(|(seq, e)| e.to_message(*seq)))
    }

    fn count_from(&self, from: u64, filter: Option<&str>) -> u64 {
        match Filter::new(filter) {
            Filter::All => self.msgs.range(from..).count() as u64,
            Filter::Literal(subject) => self
                .subjects
                .get(subject)
                .map_or(0, |set| set.range(from..).count() as u64),
            f @ Filter::Wildcard(_) => self
                .msgs
                .range(from..)
                .filter(|(_, e)| f.matches(&e.subject))
                .count() as u64,
        }
    }

    fn load_last(&self, filter: &str) -> Result<Option<StoredMessage>, StoreError> {
        let f = Filter::new(Some(filter));
        let seq = match f {
            Filter::All => self.msgs.last_key_value().map(|(s, _)| *s),
            Filter::Literal(subject) => self
                .subjects
                .get(subject)
                .and_then(|set| set.last().copied()),
            Filter::Wildcard(_) => self
                .subjects
                .iter()
                .filter(|(subject, _)| f.matches(subject))
                .filter_map(|(_, set)| set.last().copied())
                .max(),
        };
        Ok(seq.and_then(|s| self.msgs.get(&s).map(|e| e.to_message(s))))
    }

    fn remove(&mut self, seq: u64, _erase: bool) -> Result<bool, StoreError> {
        // Nothing to overwrite in memory: dropping the entry frees the bytes.
        Ok(self.remove_seq(seq))
    }

    fn purge(
        &mut self,
        filter: Option<&str>,
        before_seq: Option<u64>,
        keep: Option<u64>,
    ) -> Result<u64, StoreError> {
        let spec = PurgeSpec::new(filter, before_seq, keep);
        if spec.is_full_purge() {
            return Ok(self.clear());
        }
        if let Some(next) = spec.compacts_past(self.last_seq) {
            let n = self.clear();
            self.last_seq = next - 1;
            self.last_ts = 0;
            return Ok(n);
        }
        let candidates = self.matching_below(spec.filter, spec.before_seq.unwrap_or(u64::MAX));
        let keep = spec.keep.unwrap_or(0).min(candidates.len() as u64) as usize;
        let doomed = candidates.len() - keep;
        let mut removed = 0;
        for seq in candidates.into_iter().take(doomed) {
            if self.remove_seq(seq) {
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn set_first_seq(&mut self, seq: u64) -> Result<(), StoreError> {
        let seq = seq.max(1);
        if !self.msgs.is_empty() || seq <= self.last_seq {
            return Err(StoreError::SequenceInUse {
                requested: seq,
                last_seq: self.last_seq,
            });
        }
        if seq > self.last_seq + 1 {
            // A jump, like a purge past the end: no message carries the new last sequence.
            self.last_ts = 0;
        }
        self.last_seq = seq - 1;
        Ok(())
    }

    fn state(&self) -> StoreState {
        let first_seq = self.first_seq();
        let msgs = self.msgs.len() as u64;
        let span = (self.last_seq + 1).saturating_sub(first_seq);
        StoreState {
            msgs,
            bytes: self.bytes,
            first_seq,
            first_ts: self.msgs.first_key_value().map_or(0, |(_, e)| e.timestamp),
            last_seq: self.last_seq,
            last_ts: self.last_ts,
            num_deleted: span.saturating_sub(msgs),
            num_subjects: self.subjects.len() as u64,
        }
    }

    fn deleted(&self) -> Vec<u64> {
        let mut out = Vec::new();
        let mut expect = self.first_seq();
        for &seq in self.msgs.keys() {
            out.extend(expect..seq);
            expect = seq + 1;
        }
        if !self.msgs.is_empty() {
            out.extend(expect..=self.last_seq);
        }
        out
    }

    fn subjects(&self, filter: &str) -> BTreeMap<String, u64> {
        let f = Filter::new(Some(filter));
        self.subjects
            .iter()
            .filter(|(subject, _)| f.matches(subject))
            .map(|(subject, set)| (subject.to_string(), set.len() as u64))
            .collect()
    }

    fn last_seqs(&self, filter: &str) -> Vec<u64> {
        let f = Filter::new(Some(filter));
        self.subjects
            .iter()
            .filter(|(subject, _)| f.matches(subject))
            .filter_map(|(_, set)| set.last().copied())
            .collect()
    }

    fn subject_count(&self, subject: &str) -> u64 {
        self.subjects.get(subject).map_or(0, |set| set.len() as u64)
    }

    fn stored_size(&self, subject: &str, headers_len: usize, payload_len: usize) -> u64 {
        mem_stored_size(subject.len(), headers_len, payload_len)
    }

    fn recovery_report(&self) -> RecoveryReport {
        RecoveryReport::default()
    }

    fn destroy(self: Box<Self>) -> Result<(), StoreError> {
        Ok(())
    }
}
