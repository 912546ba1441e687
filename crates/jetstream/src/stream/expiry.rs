//! Time-driven removal, as nats-server's `expireMsgs`:
//!
//! - `max_age` removes messages with `now - timestamp >= max_age`, except messages
//!   whose `Nats-TTL` is `never`;
//! - a per-message TTL (`Nats-TTL`, on streams with `allow_msg_ttl`) removes the
//!   message `ttl` seconds after it was stored;
//! - with `subject_delete_marker_ttl`, a message removed by either that was the last
//!   on its subject is not simply removed: a delete marker (`Nats-Marker-Reason:
//!   MaxAge`, `Nats-TTL`, `Nats-Rollup: sub`) is stored on the subject in its place,
//!   so watchers see the key go; the marker itself expires after its TTL.
//!
//! TTLs live in a min-heap of (expiry, sequence). Entries are dropped lazily: a
//! message removed some other way (limits, purge, roll-up) is skipped when its entry
//! comes due. The heap is rebuilt from the stored headers when a stream opens.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use sluice_proto::headers;
use sluice_store::{StoreError, StoredMessage};

use super::limits;
use super::publish::message_ttl;
use super::Stream;

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Per-message expiry times.
#[derive(Debug, Default)]
pub struct TtlIndex {
    heap: BinaryHeap<Reverse<(i64, u64)>>,
}

impl TtlIndex {
    pub fn insert(&mut self, expires: i64, seq: u64) {
        self.heap.push(Reverse((expires, seq)));
    }

    pub fn next(&self) -> Option<i64> {
        self.heap.peek().map(|Reverse((t, _))| *t)
    }

    /// Takes the sequences due at `now`, in sequence order.
    fn take_due(&mut self, now: i64) -> Vec<u64> {
        let mut due = Vec::new();
        while let Some(Reverse((t, seq))) = self.heap.peek().copied() {
            if t > now {
                break;
            }
            self.heap.pop();
            due.push(seq);
        }
        due.sort_unstable();
        due.dedup();
        due
    }

    pub fn clear(&mut self) {
        self.heap.clear();
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// What an expiry pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expired {
    /// Messages removed (directly or by a marker's roll-up).
    pub removed: u64,
    /// Delete markers stored: (sequence, subject).
    pub markers: Vec<(u64, String)>,
}

impl Expired {
    pub fn changed(&self) -> bool {
        self.removed > 0 || !self.markers.is_empty()
    }
}

/// A subject delete marker or a KV purge marker: never replaced by another marker.
fn is_marker(m: &StoredMessage) -> bool {
    m.headers.as_deref().is_some_and(|h| {
        headers::get(h, "Nats-Marker-Reason").is_some_and(|v| !v.is_empty())
            || headers::get(h, "KV-Operation") == Some(b"PURGE".as_slice())
    })
}

fn never_expires(m: &StoredMessage) -> bool {
    message_ttl(m.headers.as_deref()) == Ok(-1)
}

impl Stream {
    /// Remembers when a message stored with a TTL expires.
    pub(crate) fn index_ttl(&mut self, seq: u64, stored_at: i64, ttl_secs: i64) {
        if ttl_secs > 0 {
            self.ttls.insert(
                stored_at.saturating_add(ttl_secs.saturating_mul(NANOS_PER_SEC)),
                seq,
            );
        }
    }

    /// Rebuilds the TTL heap from the stored headers (on open).
    pub fn rebuild_ttls(&mut self) -> Result<(), StoreError> {
        self.ttls.clear();
        self.age_floor = 0;
        if !self.config.allow_msg_ttl {
            return Ok(());
        }
        let mut seq = self.store.state().first_seq;
        while let Some(m) = self.store.load_next(seq, None)? {
            if let Ok(ttl) = message_ttl(m.headers.as_deref()) {
                self.index_ttl(m.seq, m.timestamp, ttl);
            }
            seq = m.seq + 1;
        }
        Ok(())
    }

    /// When the next message expires, by age or by TTL.
    pub fn next_expiry(&self) -> Option<i64> {
        let by_ttl = self.ttls.next();
        let by_age = if self.config.max_age <= 0 {
            None
        } else if self.age_floor <= self.store.state().first_seq {
            limits::next_expiry(&self.config, self.store.as_ref())
        } else {
            // Messages below the floor never expire: the oldest one at or above it
            // decides.
            match self.store.load_next(self.age_floor, None) {
                Ok(Some(m)) => Some(m.timestamp.saturating_add(self.config.max_age)),
                _ => None,
            }
        };
        by_age.into_iter().chain(by_ttl).min()
    }

    /// Removes (or replaces by delete markers) every message due at `now`.
    pub fn expire(&mut self, now: i64) -> Result<Expired, StoreError> {
        let mut done = Expired::default();
        let per_message = self.config.allow_msg_ttl || self.config.subject_delete_marker_ttl > 0;
        if self.config.max_age > 0 {
            if per_message {
                self.expire_by_age(now, &mut done)?;
            } else {
                done.removed += limits::expire(&self.config, self.store.as_mut(), now)?;
            }
        }
        if self.ttls.next().is_some_and(|t| t <= now) {
            for seq in self.ttls.take_due(now) {
                if let Some(m) = self.store.load(seq)? {
                    self.expire_one(m, now, &mut done)?;
                }
            }
        }
        Ok(done)
    }

    fn expire_by_age(&mut self, now: i64, done: &mut Expired) -> Result<(), StoreError> {
        let cutoff = now.saturating_sub(self.config.max_age);
        let mut from = self.age_floor.max(self.store.state().first_seq);
        while let Some(m) = self.store.load_next(from, None)? {
            if m.timestamp > cutoff {
                break;
            }
            from = m.seq + 1;
            if never_expires(&m) {
                continue;
            }
            self.expire_one(m, now, done)?;
        }
        // Everything left below `from` never expires.
        self.age_floor = from;
        Ok(())
    }

    /// Removes one expired message, or stores a delete marker in its place when it is
    /// the last on its subject and markers are on.
    fn expire_one(
        &mut self,
        m: StoredMessage,
        now: i64,
        done: &mut Expired,
    ) -> Result<(), StoreError> {
        let marker_ttl = self.config.subject_delete_marker_ttl;
        if marker_ttl > 0 && !is_marker(&m) {
            let last = self.store.load_last(&m.subject)?.map(|l| l.seq);
            if last == Some(m.seq) {
                let hdr = format!(
                    "NATS/1.0\r\nNats-Marker-Reason: MaxAge\r\nNats-TTL: {}\r\nNats-Rollup: sub\r\n\r\n",
                    crate::time::go_duration(marker_ttl / NANOS_PER_SEC * NANOS_PER_SEC)
                );
                let before = self.store.state().msgs;
                if let Ok(super::publish::Accepted::Stored(seq)) =
                    self.accept_checked(&m.subject, Some(hdr.as_bytes()), b"", now, None)
                {
                    // The marker rolled the subject up: the old message is gone.
                    done.removed += (before + 1).saturating_sub(self.store.state().msgs);
                    done.markers.push((seq, m.subject));
                    return Ok(());
                }
                // A marker that cannot be stored (stream full): plain removal.
            }
        }
        if self.store.remove(m.seq, false)? {
            done.removed += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_entries_come_out_in_sequence_order() {
        let mut t = TtlIndex::default();
        t.insert(30, 1);
        t.insert(10, 5);
        t.insert(10, 2);
        t.insert(50, 9);
        assert_eq!(t.next(), Some(10));
        assert_eq!(t.take_due(30), vec![1, 2, 5]);
        assert_eq!(t.next(), Some(50));
        assert!(t.take_due(49).is_empty());
        assert_eq!(t.len(), 1);
    }
}
