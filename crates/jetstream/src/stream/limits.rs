//! Stream limits. The store only stores; the limits of the configuration are kept
//! here, in nats-server's order and with its semantics (`memstore.go`):
//!
//! - before an append, with `discard: new`: refuse the message when the stream is full
//!   (`maximum messages exceeded`, `maximum bytes exceeded`, and with
//!   `discard_new_per_subject` `maximum messages per subject exceeded`). A subject at
//!   its per-subject limit is let through, since storing it replaces an older one.
//! - after an append: drop the subject's oldest messages above `max_msgs_per_subject`
//!   (whatever the discard policy), then, with `discard: old`, the stream's oldest
//!   messages above `max_msgs` and `max_bytes`.
//! - on time: `max_age` removes messages with `now - timestamp >= max_age`.

use sluice_store::{MessageStore, StoreError};

use super::config::{Discard, StreamConfig};

/// Why a `discard: new` stream refused a message (nats-server's store error texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    Msgs,
    Bytes,
    MsgsPerSubject,
}

impl Full {
    pub fn text(self) -> &'static str {
        match self {
            Full::Msgs => "maximum messages exceeded",
            Full::Bytes => "maximum bytes exceeded",
            Full::MsgsPerSubject => "maximum messages per subject exceeded",
        }
    }
}

/// The `discard: new` check before appending a message of `size` stored bytes.
pub fn check_discard_new(
    cfg: &StreamConfig,
    store: &dyn MessageStore,
    subject: &str,
    size: u64,
    has_rollup_header: bool,
) -> Result<(), Full> {
    if cfg.discard != Discard::New {
        return Ok(());
    }
    let at_subject_limit = cfg.max_msgs_per_subject > 0
        && store.subject_count(subject) >= cfg.max_msgs_per_subject as u64;
    if at_subject_limit && cfg.discard_new_per_subject && !has_rollup_header {
        return Err(Full::MsgsPerSubject);
    }
    let state = store.state();
    if cfg.max_msgs > 0 && state.msgs >= cfg.max_msgs as u64 && !at_subject_limit {
        return Err(Full::Msgs);
    }
    if cfg.max_bytes > 0 && state.bytes + size > cfg.max_bytes as u64 {
        if !at_subject_limit {
            return Err(Full::Bytes);
        }
        // Storing replaces the subject's oldest message: is that enough room?
        let replaced = store
            .load_next(0, Some(subject))
            .ok()
            .flatten()
            .filter(|m| m.subject == subject)
            .map(|m| {
                store.stored_size(
                    &m.subject,
                    m.headers.as_ref().map_or(0, |h| h.len()),
                    m.payload.len(),
                )
            });
        if replaced.is_none_or(|r| r < size) {
            return Err(Full::Bytes);
        }
    }
    Ok(())
}

/// Removes the oldest messages on exactly `subject` beyond `keep`, one by one from the
/// front (after an append there is one too many; a lookup plus a removal is much
/// cheaper than a filtered purge).
fn trim_subject(store: &mut dyn MessageStore, subject: &str, keep: u64) -> Result<u64, StoreError> {
    let mut removed = 0;
    let mut from = store.state().first_seq;
    while store.subject_count(subject) > keep {
        // With `*`/`>` tokens (a non-pedantic publish) the subject is also a filter
        // matching others, so only exact matches count.
        let Some(m) = store.load_next(from, Some(subject))? else {
            break;
        };
        from = m.seq + 1;
        if m.subject == subject && store.remove(m.seq, false)? {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Drops the stream's oldest messages while over `max_msgs`/`max_bytes` (discard
/// old only).
fn enforce_stream_limits(
    cfg: &StreamConfig,
    store: &mut dyn MessageStore,
) -> Result<(), StoreError> {
    if cfg.discard != Discard::Old {
        return Ok(());
    }
    let over = |store: &dyn MessageStore| {
        let s = store.state();
        (cfg.max_msgs > 0 && s.msgs > cfg.max_msgs as u64)
            || (cfg.max_bytes > 0 && s.bytes > cfg.max_bytes as u64)
    };
    if cfg.max_msgs > 0 {
        // Far over (a lowered limit): one purge. Just over (an append): remove the first.
        let excess = store.state().msgs.saturating_sub(cfg.max_msgs as u64);
        if excess > 16 {
            store.purge(None, None, Some(cfg.max_msgs as u64))?;
        }
    }
    while over(store) {
        let first = store.state().first_seq;
        match store.load_next(first, None)? {
            Some(m) => {
                store.remove(m.seq, false)?;
            }
            None => break,
        }
    }
    Ok(())
}

/// Limits after a message was appended on `subject`.
pub fn enforce_after_append(
    cfg: &StreamConfig,
    store: &mut dyn MessageStore,
    subject: &str,
) -> Result<(), StoreError> {
    if cfg.max_msgs_per_subject > 0
        && store.subject_count(subject) > cfg.max_msgs_per_subject as u64
    {
        trim_subject(store, subject, cfg.max_msgs_per_subject as u64)?;
    }
    enforce_stream_limits(cfg, store)
}

/// Limits after a configuration change (nats-server's `UpdateConfig`).
pub fn enforce_all(
    cfg: &StreamConfig,
    store: &mut dyn MessageStore,
    now: i64,
) -> Result<(), StoreError> {
    if cfg.max_msgs_per_subject > 0 {
        let limit = cfg.max_msgs_per_subject as u64;
        let over: Vec<String> = store
            .subjects(">")
            .into_iter()
            .filter(|(_, n)| *n > limit)
            .map(|(s, _)| s)
            .collect();
        for subject in over {
            trim_subject(store, &subject, limit)?;
        }
    }
    enforce_stream_limits(cfg, store)?;
    expire(cfg, store, now)?;
    Ok(())
}

/// Removes messages older than `max_age`. Returns how many.
pub fn expire(
    cfg: &StreamConfig,
    store: &mut dyn MessageStore,
    now: i64,
) -> Result<u64, StoreError> {
    if cfg.max_age <= 0 || store.state().msgs == 0 {
        return Ok(0);
    }
    let cutoff = now.saturating_sub(cfg.max_age);
    let mut from = store.state().first_seq;
    let mut keep_from = None;
    while let Some(m) = store.load_next(from, None)? {
        if m.timestamp > cutoff {
            keep_from = Some(m.seq);
            break;
        }
        from = m.seq + 1;
    }
    match keep_from {
        // Everything before the first message still young goes at once.
        Some(seq) => store.purge(None, Some(seq), None),
        None => store.purge(None, None, None),
    }
}

/// When the oldest message reaches `max_age`, if the stream has a `max_age`.
pub fn next_expiry(cfg: &StreamConfig, store: &dyn MessageStore) -> Option<i64> {
    if cfg.max_age <= 0 {
        return None;
    }
    let state = store.state();
    (state.msgs > 0).then(|| state.first_ts.saturating_add(cfg.max_age))
}
