//! One stream: its configuration, its store, and the state JetStream keeps beside the
//! store (duplicate window, last `Nats-Msg-Id`).
//!
//! - `config`: the configuration type, defaults, validation, update rules.
//! - `publish`: what happens to a message published on the stream's subjects.
//! - `limits`: discard-new checks before an append, limit enforcement after it,
//!   `max_age` expiry.
//! - `dedupe`: the duplicate window.
//! - `expiry`: removal by `max_age` and per-message TTL, subject delete markers.

pub mod config;
pub mod dedupe;
pub mod expiry;
pub mod limits;
pub mod publish;

use std::collections::BTreeMap;

use sluice_store::{MessageStore, StoreError, StoredMessage};

use crate::consumer::Consumer;

use crate::api::types::{LostJson, StreamStateJson};
use crate::time::{format_opt, format_rfc3339_nanos};
use config::StreamConfig;
use dedupe::Dedupe;

pub struct Stream {
    pub config: StreamConfig,
    /// Creation time, unix nanoseconds.
    pub created: i64,
    pub store: Box<dyn MessageStore>,
    pub dedupe: Dedupe,
    /// `Nats-Msg-Id` of the last message stored (for `Nats-Expected-Last-Msg-Id`).
    pub last_msg_id: String,
    /// Set when an fsync failed: the store takes no writes until it is reopened.
    pub failed: bool,
    /// Messages the store reported lost when it was opened: (sequences, bytes).
    pub lost: Option<(Vec<u64>, u64)>,
    /// Consumers by name.
    pub consumers: BTreeMap<String, Consumer>,
    /// When messages stored with a `Nats-TTL` expire.
    pub ttls: expiry::TtlIndex,
    /// Age expiry scans from here: what is left below never expires (`Nats-TTL: never`).
    pub age_floor: u64,
    /// Delete markers stored by expiry during `accept`, for the engine to announce.
    pub new_markers: Vec<(u64, String)>,
    /// Copies to publish under `republish`, for the engine to send once durable.
    pub republished: Vec<publish::Republished>,
}

impl Stream {
    pub fn new(config: StreamConfig, created: i64, store: Box<dyn MessageStore>) -> Self {
        Stream {
            config,
            created,
            store,
            dedupe: Dedupe::default(),
            last_msg_id: String::new(),
            failed: false,
            lost: None,
            consumers: BTreeMap::new(),
            ttls: expiry::TtlIndex::default(),
            age_floor: 0,
            new_markers: Vec::new(),
            republished: Vec::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The first message with a timestamp at or after `ts`, as nats-server's
    /// `GetSeqFromTime`: the first sequence when `ts` is before every message,
    /// `last_seq + 1` when after all of them. Assumes timestamps grow with sequences.
    pub fn seq_from_time(&self, ts: i64) -> Result<u64, StoreError> {
        let state = self.store.state();
        if state.msgs == 0 {
            return Ok(state.last_seq + 1);
        }
        let Some(first) = self.store.load_next(state.first_seq, None)? else {
            return Ok(state.last_seq + 1);
        };
        if ts <= first.timestamp {
            return Ok(first.seq);
        }
        let Some(last) = self.store.load_last(">")? else {
            return Ok(state.last_seq + 1);
        };
        if ts > last.timestamp {
            return Ok(state.last_seq + 1);
        }
        // The answer is the first stored message at or after `lo`.
        let (mut lo, mut hi) = (first.seq, last.seq);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.store.load_next(mid, None)? {
                Some(m) if m.timestamp >= ts => hi = mid,
                Some(m) => lo = m.seq + 1,
                None => break,
            }
        }
        Ok(self
            .store
            .load_next(lo, None)?
            .map_or(state.last_seq + 1, |m| m.seq))
    }

    /// Rebuilds the duplicate window from the stored messages stamped within it (and
    /// the last message id, if the last message is in the window), as nats-server does
    /// on recovery.
    pub fn rebuild_dedupe(&mut self, now: i64) -> Result<(), StoreError> {
        self.dedupe.clear();
        self.last_msg_id.clear();
        let window = self.config.duplicate_window;
        if window <= 0 {
            return Ok(());
        }
        let state = self.store.state();
        let mut seq = self.seq_from_time(now.saturating_sub(window))?;
        while let Some(m) = self.store.load_next(seq, None)? {
            let id = msg_id(&m);
            if let Some(id) = &id {
                self.dedupe.insert(id, m.seq, m.timestamp, now, window);
            }
            if m.seq == state.last_seq {
                self.last_msg_id = id.unwrap_or_default();
            }
            seq = m.seq + 1;
        }
        Ok(())
    }

    /// The stream state as STREAM.INFO reports it (without `subjects`).
    pub fn state_json(&self, deleted_details: bool) -> StreamStateJson {
        let s = self.store.state();
        // nats-server reports a never-used stream as first 0, last 0.
        let first_seq = if s.last_seq == 0 && s.msgs == 0 {
            0
        } else {
            s.first_seq
        };
        StreamStateJson {
            messages: s.msgs,
            bytes: s.bytes,
            first_seq,
            first_ts: format_opt((s.msgs > 0).then_some(s.first_ts)),
            last_seq: s.last_seq,
            last_ts: format_opt((s.last_ts != 0).then_some(s.last_ts)),
            num_subjects: s.num_subjects,
            subjects: None,
            num_deleted: s.num_deleted,
            deleted: if deleted_details {
                self.store.deleted()
            } else {
                Vec::new()
            },
            lost: self.lost.as_ref().map(|(msgs, bytes)| LostJson {
                msgs: msgs.clone(),
                bytes: *bytes,
            }),
            consumer_count: self.consumers.len() as u64,
        }
    }

    /// Whether some consumer wants messages on `subject` (an interest-retention stream
    /// keeps nothing nobody wants, as nats-server).
    pub fn has_interest(&self, subject: &str) -> bool {
        self.consumers.values().any(|c| c.matches(subject))
    }
}

/// The `Nats-Msg-Id` of a stored message, if it has a non-empty one.
pub fn msg_id(m: &StoredMessage) -> Option<String> {
    let hdr = m.headers.as_deref()?;
    let id = sluice_proto::headers::get(hdr, "Nats-Msg-Id")?;
    (!id.is_empty()).then(|| String::from_utf8_lossy(id).into_owned())
}

/// `Nats-Time-Stamp` and JSON `time` of a stored message.
pub fn message_time(m: &StoredMessage) -> String {
    format_rfc3339_nanos(m.timestamp)
}
