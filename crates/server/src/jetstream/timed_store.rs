//! A `MessageStore` wrapper that times `sync` (the fsync of a stream's store) into the
//! monitoring histogram, so the engine itself stays free of clocks.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use sluice_store::{MessageStore, RecoveryReport, StoreError, StoreState, StoredMessage};

use crate::monitor::JsTimings;

pub struct TimedStore {
    pub inner: Box<dyn MessageStore>,
    pub timings: Arc<JsTimings>,
}

impl MessageStore for TimedStore {
    fn append(
        &mut self,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        ts: i64,
    ) -> Result<u64, StoreError> {
        self.inner.append(subject, headers, payload, ts)
    }
    fn append_at(
        &mut self,
        seq: u64,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        timestamp: i64,
    ) -> Result<u64, StoreError> {
        self.inner
            .append_at(seq, subject, headers, payload, timestamp)
    }
    fn sync(&mut self) -> Result<(), StoreError> {
        let start = Instant::now();
        let result = self.inner.sync();
        self.timings.fsync.observe(start.elapsed());
        result
    }
    fn load(&self, seq: u64) -> Result<Option<StoredMessage>, StoreError> {
        self.inner.load(seq)
    }
    fn load_next(
        &self,
        from: u64,
        filter: Option<&str>,
    ) -> Result<Option<StoredMessage>, StoreError> {
        self.inner.load_next(from, filter)
    }
    fn count_from(&self, from: u64, filter: Option<&str>) -> u64 {
        self.inner.count_from(from, filter)
    }
    fn load_last(&self, filter: &str) -> Result<Option<StoredMessage>, StoreError> {
        self.inner.load_last(filter)
    }
    fn remove(&mut self, seq: u64, erase: bool) -> Result<bool, StoreError> {
        self.inner.remove(seq, erase)
    }
    fn purge(
        &mut self,
        subject: Option<&str>,
        up_to: Option<u64>,
        keep: Option<u64>,
    ) -> Result<u64, StoreError> {
        self.inner.purge(subject, up_to, keep)
    }
    fn set_first_seq(&mut self, seq: u64) -> Result<(), StoreError> {
        self.inner.set_first_seq(seq)
    }
    fn state(&self) -> StoreState {
        self.inner.state()
    }
    fn deleted(&self) -> Vec<u64> {
        self.inner.deleted()
    }
    fn subjects(&self, filter: &str) -> BTreeMap<String, u64> {
        self.inner.subjects(filter)
    }
    fn last_seqs(&self, filter: &str) -> Vec<u64> {
        self.inner.last_seqs(filter)
    }
    fn subject_count(&self, subject: &str) -> u64 {
        self.inner.subject_count(subject)
    }
    fn stored_size(&self, subject: &str, headers_len: usize, payload_len: usize) -> u64 {
        self.inner.stored_size(subject, headers_len, payload_len)
    }
    fn recovery_report(&self) -> RecoveryReport {
        self.inner.recovery_report()
    }
    fn needs_reopen(&self) -> bool {
        self.inner.needs_reopen()
    }
    fn destroy(self: Box<Self>) -> Result<(), StoreError> {
        self.inner.destroy()
    }
}
