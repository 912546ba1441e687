//! The message store interface: what a stream needs from storage, and nothing of
//! JetStream policy (limits, retention, dedupe live in `sluice-jetstream`).

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::error::StoreError;

/// A stored message, as loaded back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub seq: u64,
    pub subject: String,
    /// The header block (`NATS/1.0\r\n...\r\n\r\n`), if the message had one.
    pub headers: Option<Bytes>,
    pub payload: Bytes,
    /// Unix time in nanoseconds, as given to `append`.
    pub timestamp: i64,
}

/// Counters of a store, in nats-server's terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreState {
    /// Messages currently stored.
    pub msgs: u64,
    /// Stored bytes, counted as nats-server counts them (see `MessageStore::stored_size`).
    pub bytes: u64,
    /// First sequence still stored; `last_seq + 1` when empty.
    pub first_seq: u64,
    pub first_ts: i64,
    /// Last sequence ever assigned (0 if none).
    pub last_seq: u64,
    pub last_ts: i64,
    /// Deleted sequences between `first_seq` and `last_seq`.
    pub num_deleted: u64,
    /// Distinct subjects stored.
    pub num_subjects: u64,
}

/// What recovery found when a store was opened. Nothing in it is a reason to delete data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Bytes cut from the end of the last segment because the last write was torn.
    pub truncated_tail_bytes: u64,
    /// Damaged regions skipped, with what was lost; valid records after them are kept.
    pub damaged: Vec<DamagedRange>,
    /// Free-form lines for the log.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedRange {
    pub file: String,
    pub offset: u64,
    pub len: u64,
    /// Sequences known lost (from neighbouring valid records), when they can be told.
    pub first_lost_seq: Option<u64>,
    pub last_lost_seq: Option<u64>,
}

/// The storage of one stream. Sequences start at 1 (or the configured first sequence)
/// and never go back.
pub trait MessageStore: Send {
    /// Appends a message with the next sequence and returns it. The message is not
    /// durable until [`MessageStore::sync`] returns: callers append a batch, sync once
    /// (group commit), and only then acknowledge.
    fn append(
        &mut self,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        timestamp: i64,
    ) -> Result<u64, StoreError>;

    /// Appends a message at `seq` (a stream mirror keeps its origin's sequences).
    /// Sequences skipped between the last one and `seq` count as deleted, as
    /// nats-server's `SkipMsgs` leaves them; an empty store simply starts at `seq`.
    /// `seq` at or below the last sequence is refused with `SequenceInUse`.
    ///
    /// The default appends and removes a placeholder for each interior skipped
    /// sequence (correct, but slow for large gaps); stores override it.
    fn append_at(
        &mut self,
        seq: u64,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        timestamp: i64,
    ) -> Result<u64, StoreError> {
        let state = self.state();
        if seq <= state.last_seq {
            return Err(StoreError::SequenceInUse {
                requested: seq,
                last_seq: state.last_seq,
            });
        }
        if seq > state.last_seq + 1 {
            if state.msgs == 0 {
                self.set_first_seq(seq)?;
            } else {
                for _ in state.last_seq + 1..seq {
                    let skipped = self.append(subject, None, b"", timestamp)?;
                    self.remove(skipped, false)?;
                }
            }
        }
        self.append(subject, headers, payload, timestamp)
    }

    /// Makes every append, removal and purge so far durable (fsync of data and of any
    /// directory entry created). A no-op for the memory store.
    fn sync(&mut self) -> Result<(), StoreError>;

    fn load(&self, seq: u64) -> Result<Option<StoredMessage>, StoreError>;

    /// The first message with sequence >= `from` whose subject matches `filter`
    /// (wildcards allowed; `None` = any subject).
    fn load_next(
        &self,
        from: u64,
        filter: Option<&str>,
    ) -> Result<Option<StoredMessage>, StoreError>;

    /// How many live messages with sequence >= `from` match `filter` (a consumer's
    /// pending count). Works from the in-memory index; reads no message bodies.
    fn count_from(&self, from: u64, filter: Option<&str>) -> u64;

    /// The last message whose subject matches `filter` (wildcards allowed).
    fn load_last(&self, filter: &str) -> Result<Option<StoredMessage>, StoreError>;

    /// Removes one message. With `erase` its bytes are overwritten as well. False if
    /// there was no such message.
    fn remove(&mut self, seq: u64, erase: bool) -> Result<bool, StoreError>;

    /// Removes messages whose subject matches `filter` (`None` = all) and whose sequence
    /// is below `before_seq` (`None` = no bound), keeping the newest `keep` of them
    /// (per filter, as nats-server's purge `keep`). Returns how many were removed.
    /// Purging everything moves `first_seq` to `last_seq + 1`.
    fn purge(
        &mut self,
        filter: Option<&str>,
        before_seq: Option<u64>,
        keep: Option<u64>,
    ) -> Result<u64, StoreError>;

    /// For an empty store with `last_seq` 0, makes the next sequence `seq` (stream
    /// config `first_seq`).
    fn set_first_seq(&mut self, seq: u64) -> Result<(), StoreError>;

    fn state(&self) -> StoreState;

    /// Interior deleted sequences, ascending (for STREAM.INFO `deleted_details`).
    fn deleted(&self) -> Vec<u64>;

    /// Messages per subject for subjects matching `filter` (wildcards allowed).
    fn subjects(&self, filter: &str) -> BTreeMap<String, u64>;

    /// The last sequence of every subject matching `filter` (wildcards allowed), in no
    /// particular order: what a `last_per_subject` consumer starts from. Works from the
    /// index; reads no message bodies.
    fn last_seqs(&self, filter: &str) -> Vec<u64> {
        self.subjects(filter)
            .keys()
            .filter_map(|s| self.load_last(s).ok().flatten().map(|m| m.seq))
            .collect()
    }

    /// Messages stored on one literal subject (for `max_msgs_per_subject`).
    fn subject_count(&self, subject: &str) -> u64;

    /// Bytes one message counts for in `state().bytes` and `max_bytes` (nats-server:
    /// file store 22 + subject + headers + payload + 8; memory store subject + headers +
    /// payload + 16).
    fn stored_size(&self, subject: &str, headers_len: usize, payload_len: usize) -> u64;

    /// What opening the store found.
    fn recovery_report(&self) -> RecoveryReport;

    /// True once the store's in-memory view may be wrong (an index page lost to an I/O
    /// error): it refuses reads until reopened.
    fn needs_reopen(&self) -> bool {
        false
    }

    /// Removes the store's files (stream deleted).
    fn destroy(self: Box<Self>) -> Result<(), StoreError>;
}
