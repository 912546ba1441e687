//! The append policy: what a message published on a stream's subjects goes through,
//! in nats-server's order (`processJetStreamMsg`):
//!
//! sealed → `max_msg_size` → header size → counters/`Nats-Expected-Stream`/TTL →
//! `Nats-Expected-Last-Subject-Sequence` → `Nats-Expected-Last-Sequence` →
//! schedules/source headers → `Nats-Msg-Id` duplicate → `Nats-Expected-Last-Msg-Id` →
//! `Nats-Rollup` → account limits → interest → discard new → store → limits →
//! roll-up purge → republish.

use sluice_proto::headers;
use sluice_store::StoreError;

use super::config::Retention;
use super::limits::{self, check_discard_new};
use super::Stream;
use crate::api::errors::{self, ApiError};

/// What happened to an accepted message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Stored (or, without interest, skipped) at this sequence.
    Stored(u64),
    /// A repeat of a `Nats-Msg-Id` in the window: nothing stored; the original's
    /// sequence.
    Duplicate(u64),
}

/// Room left under the account limit for this stream's storage type, if limited.
#[derive(Debug, Clone, Copy)]
pub struct AccountRoom {
    pub used: u64,
    pub limit: i64,
}

/// Largest header block nats-server stores.
const MAX_HEADER_LEN: usize = u16::MAX as usize;

fn header<'a>(hdr: Option<&'a [u8]>, key: &str) -> Option<&'a [u8]> {
    hdr.and_then(|h| headers::get(h, key))
}

fn header_str(hdr: Option<&[u8]>, key: &str) -> String {
    header(hdr, key).map_or_else(String::new, |v| String::from_utf8_lossy(v).into_owned())
}

/// nats-server's `parseInt64` for sequence headers: digits only, else -1 (which, as
/// an unsigned sequence, never matches).
fn parse_seq(v: &[u8]) -> u64 {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return u64::MAX;
    }
    v.iter().fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'))
}

/// A header sequence: `None` when absent or empty (nats-server ignores those).
fn header_seq(hdr: Option<&[u8]>, key: &str) -> Option<u64> {
    header(hdr, key).filter(|v| !v.is_empty()).map(parse_seq)
}

/// nats-server's `parseMessageTTL`: `never`, a Go duration of at least 1s, or whole
/// seconds. `Ok(0)` when absent.
pub(crate) fn message_ttl(hdr: Option<&[u8]>) -> Result<i64, ()> {
    let Some(v) = header(hdr, "Nats-TTL").filter(|v| !v.is_empty()) else {
        return Ok(0);
    };
    let s = String::from_utf8_lossy(v);
    if s.eq_ignore_ascii_case("never") {
        return Ok(-1);
    }
    if let Some(ns) = parse_go_duration(&s) {
        return if ns < 1_000_000_000 {
            Err(())
        } else {
            Ok(ns / 1_000_000_000)
        };
    }
    match parse_seq(s.as_bytes()) {
        u64::MAX => Err(()),
        n => Ok(n as i64),
    }
}

/// Go's `time.ParseDuration` for the common forms (`1h30m`, `1.5s`, `300ms`).
fn parse_go_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let value: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * unit;
    }
    Some(if neg { -total } else { total } as i64)
}

impl Stream {
    /// Applies the append policy to one published message. On success the store may
    /// hold unsynced writes: the caller syncs before acknowledging. Delete markers
    /// stored by the expiry catch-up wait in `new_markers` for the caller.
    pub fn accept(
        &mut self,
        subject: &str,
        hdr: Option<&[u8]>,
        payload: &[u8],
        now: i64,
        room: Option<AccountRoom>,
    ) -> Result<Accepted, ApiError> {
        if self.failed {
            return Err(errors::stream_store_failed(StoreError::Failed));
        }
        // Expiry normally runs from `tick`; catch up here so limits see the truth.
        if self.next_expiry().is_some_and(|t| t <= now) {
            let expired = self.expire(now).map_err(store_err)?;
            self.new_markers.extend(expired.markers);
        }
        self.accept_checked(subject, hdr, payload, now, room)
    }

    /// `accept` without the expiry catch-up (expiry itself stores markers through it).
    pub(crate) fn accept_checked(
        &mut self,
        subject: &str,
        hdr: Option<&[u8]>,
        payload: &[u8],
        now: i64,
        room: Option<AccountRoom>,
    ) -> Result<Accepted, ApiError> {
        if self.config.sealed {
            return Err(errors::stream_sealed());
        }
        let hdr = hdr.filter(|h| !h.is_empty());
        // nats-server 2.15 checks sizes before any header.
        let hdr_len = hdr.map_or(0, <[u8]>::len);
        let max = self.config.max_msg_size;
        if max >= 0 && (hdr_len > max as usize || payload.len() > max as usize - hdr_len) {
            return Err(errors::stream_message_exceeds_maximum());
        }
        if hdr_len > MAX_HEADER_LEN {
            return Err(errors::stream_header_exceeds_maximum());
        }
        let mut msg_id = String::new();
        let mut rollup: Option<bool> = None; // Some(true) = all, Some(false) = sub
        if hdr.is_some() {
            if let Some(incr) = header(hdr, "Nats-Incr") {
                let digits = incr
                    .strip_prefix(b"-")
                    .or_else(|| incr.strip_prefix(b"+"))
                    .unwrap_or(incr);
                if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                    return Err(errors::message_incr_invalid());
                }
                return Err(errors::message_incr_disabled());
            }
            let expected = header_str(hdr, "Nats-Expected-Stream");
            if !expected.is_empty() && expected != self.config.name {
                return Err(errors::stream_not_match());
            }
            if !self.config.allow_msg_ttl && matches!(message_ttl(hdr), Ok(ttl) if ttl != 0) {
                return Err(errors::message_ttl_disabled());
            }
            let check_subject = header_str(hdr, "Nats-Expected-Last-Subject-Sequence-Subject");
            if let Some(want) = header_seq(hdr, "Nats-Expected-Last-Subject-Sequence") {
                let on = if check_subject.is_empty() {
                    subject
                } else {
                    check_subject.as_str()
                };
                let last = self
                    .store
                    .load_last(on)
                    .map_err(store_err)?
                    .map_or(0, |m| m.seq);
                if last != want {
                    return Err(errors::stream_wrong_last_sequence(last));
                }
            } else if !check_subject.is_empty() {
                return Err(errors::stream_expected_last_seq_per_subject_invalid());
            }
            if let Some(want) = header_seq(hdr, "Nats-Expected-Last-Sequence") {
                let last = self.store.state().last_seq;
                if want != last {
                    return Err(errors::stream_wrong_last_sequence(last));
                }
            }
            if header(hdr, "Nats-Schedule").is_some_and(|v| !v.is_empty()) {
                return Err(errors::message_schedules_disabled());
            }
            if let Some(next) = header(hdr, "Nats-Schedule-Next").filter(|v| !v.is_empty()) {
                let scheduler = header_str(hdr, "Nats-Scheduler");
                if next != b"purge" || scheduler.is_empty() || scheduler == subject {
                    return Err(errors::message_schedules_scheduler_invalid());
                }
                return Err(errors::message_schedules_disabled());
            } else if header(hdr, "Nats-Scheduler").is_some_and(|v| !v.is_empty()) {
                return Err(errors::message_schedules_scheduler_invalid());
            }
            if header(hdr, "Nats-Stream-Source").is_some_and(|v| !v.is_empty()) {
                return Err(errors::message_source_hdr_not_allowed());
            }
            msg_id = header_str(hdr, "Nats-Msg-Id");
            if !msg_id.is_empty() {
                if let Some(seq) = self
                    .dedupe
                    .check(&msg_id, now, self.config.duplicate_window)
                {
                    return Ok(Accepted::Duplicate(seq));
                }
            }
            let expected_id = header_str(hdr, "Nats-Expected-Last-Msg-Id");
            if !expected_id.is_empty() && expected_id != self.last_msg_id {
                return Err(errors::stream_wrong_last_msg_id(&self.last_msg_id));
            }
            let value = header_str(hdr, "Nats-Rollup").to_lowercase();
            if !value.is_empty() {
                if !self.config.rollup_allowed() {
                    return Err(errors::stream_rollup_failed("rollup not permitted"));
                }
                rollup = match value.as_str() {
                    "sub" => Some(false),
                    "all" => Some(true),
                    _ => {
                        return Err(errors::stream_rollup_failed(format!(
                            "rollup value invalid: {}",
                            crate::api::gojson::go_quote(&value)
                        )))
                    }
                };
            }
        }
        let seq = if self.config.retention == Retention::Interest && !self.has_interest(subject) {
            // Nobody would ever consume it: take the sequence, keep nothing.
            let seq = self
                .store
                .append(subject, None, b"", now)
                .map_err(store_err)?;
            self.store.remove(seq, false).map_err(store_err)?;
            (seq, None)
        } else {
            let size = self.store.stored_size(subject, hdr_len, payload.len());
            if let Some(room) = room {
                if room.limit >= 0 && room.used.saturating_add(size) > room.limit as u64 {
                    return Err(errors::account_resources_exceeded());
                }
            }
            let mut rewritten: Option<Vec<u8>> = None;
            let Ok(mut ttl) = message_ttl(hdr) else {
                return Err(errors::message_ttl_invalid());
            };
            // With delete markers, a TTL shorter than the markers' could let a marker
            // outlive a newer message on its subject: raise it (unless the subject
            // only ever holds one message).
            let marker_ttl = self.config.subject_delete_marker_ttl / 1_000_000_000;
            if ttl > 0 && marker_ttl > ttl && self.config.max_msgs_per_subject != 1 {
                ttl = marker_ttl;
                rewritten = Some(with_header(
                    hdr.unwrap_or_default(),
                    "Nats-TTL",
                    &ttl.to_string(),
                ));
            }
            let hdr = rewritten.as_deref().or(hdr);
            let has_rollup_header = header(hdr, "Nats-Rollup").is_some();
            check_discard_new(
                &self.config,
                self.store.as_ref(),
                subject,
                size,
                has_rollup_header,
            )
            .map_err(|full| errors::stream_store_failed(full.text()))?;
            // Republish target and the subject's previous sequence (for gap checks).
            let republish_to = match self.config.republish.as_ref() {
                Some(r) => r.transform.as_ref().and_then(|t| t.apply(subject)),
                None => None,
            };
            let republish = match republish_to {
                Some(to) => {
                    let last = self.store.load_last(subject).map_err(store_err)?;
                    Some((to, last.map_or(0, |m| m.seq), hdr.map(<[u8]>::to_vec)))
                }
                None => None,
            };
            let seq = self
                .store
                .append(subject, hdr, payload, now)
                .map_err(store_err)?;
            self.index_ttl(seq, now, ttl);
            limits::enforce_after_append(&self.config, self.store.as_mut(), subject)
                .map_err(store_err)?;
            (seq, republish)
        };
        let (seq, republish) = seq;
        self.last_msg_id = msg_id;
        if !self.last_msg_id.is_empty() {
            self.dedupe.insert(
                &self.last_msg_id,
                seq,
                now,
                now,
                self.config.duplicate_window,
            );
        }
        match rollup {
            Some(false) => {
                rollup_purge(self, Some(subject), seq)?;
            }
            Some(true) => {
                rollup_purge(self, None, seq)?;
            }
            None => {}
        }
        if let Some((to, last_seq, hdr)) = republish {
            self.republished
                .push(self.republish_message(to, subject, seq, now, last_seq, hdr, payload));
        }
        Ok(Accepted::Stored(seq))
    }
}

/// A stored message published again under `republish`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Republished {
    pub subject: String,
    pub headers: Vec<u8>,
    pub payload: Vec<u8>,
}

impl Stream {
    /// The copy nats-server republishes: the message's headers plus `Nats-Stream`,
    /// `Nats-Subject`, `Nats-Sequence`, `Nats-Time-Stamp`, `Nats-Last-Sequence`
    /// (and, headers only, `Nats-Msg-Size` instead of the payload).
    #[allow(clippy::too_many_arguments)]
    fn republish_message(
        &self,
        to: String,
        subject: &str,
        seq: u64,
        now: i64,
        last_seq: u64,
        hdr: Option<Vec<u8>>,
        payload: &[u8],
    ) -> Republished {
        let headers_only = self
            .config
            .republish
            .as_ref()
            .is_some_and(|r| r.headers_only);
        let mut block = match hdr.filter(|h| h.len() > 2) {
            Some(mut h) => {
                h.truncate(h.len() - 2);
                h
            }
            None => b"NATS/1.0\r\n".to_vec(),
        };
        block.extend_from_slice(
            format!(
                "Nats-Stream: {}\r\nNats-Subject: {subject}\r\nNats-Sequence: {seq}\r\nNats-Time-Stamp: {}\r\nNats-Last-Sequence: {last_seq}\r\n",
                self.config.name,
                crate::time::format_rfc3339_nanos(now)
            )
            .as_bytes(),
        );
        if headers_only {
            block.extend_from_slice(format!("Nats-Msg-Size: {}\r\n", payload.len()).as_bytes());
        }
        block.extend_from_slice(b"\r\n");
        Republished {
            subject: to,
            headers: block,
            payload: if headers_only {
                Vec::new()
            } else {
                payload.to_vec()
            },
        }
    }
}

/// `block` with every `key` header replaced by one `key: value` line.
fn with_header(block: &[u8], key: &str, value: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(block);
    let mut out = String::with_capacity(block.len() + key.len() + value.len() + 4);
    let mut lines = text.split("\r\n");
    out.push_str(lines.next().unwrap_or("NATS/1.0"));
    out.push_str("\r\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let name = line.split(':').next().unwrap_or("");
        if !name.trim().eq_ignore_ascii_case(key) {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str(&format!("{key}: {value}\r\n\r\n"));
    out.into_bytes()
}

/// Roll-up: purge the subject (or everything) below the message just stored.
fn rollup_purge(stream: &mut Stream, subject: Option<&str>, seq: u64) -> Result<(), ApiError> {
    let stored = stream.store.load(seq).map_err(store_err)?.is_some();
    let keep = if stored { 1 } else { 0 };
    stream
        .store
        .purge(subject, None, Some(keep))
        .map_err(errors::stream_rollup_failed)?;
    Ok(())
}

fn store_err(e: StoreError) -> ApiError {
    match e {
        StoreError::TooLarge => errors::stream_store_failed("message too large"),
        e => errors::stream_store_failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_headers_parse_like_nats() {
        assert_eq!(parse_seq(b"12"), 12);
        assert_eq!(parse_seq(b"abc"), u64::MAX);
        assert_eq!(parse_seq(b"-1"), u64::MAX);
        assert_eq!(parse_seq(b""), u64::MAX);
    }

    #[test]
    fn ttl_parsing() {
        let h = |v: &str| format!("NATS/1.0\r\nNats-TTL: {v}\r\n\r\n").into_bytes();
        assert_eq!(message_ttl(None), Ok(0));
        assert_eq!(message_ttl(Some(&h("5s"))), Ok(5));
        assert_eq!(message_ttl(Some(&h("1m30s"))), Ok(90));
        assert_eq!(message_ttl(Some(&h("never"))), Ok(-1));
        assert_eq!(message_ttl(Some(&h("30"))), Ok(30));
        assert_eq!(message_ttl(Some(&h("500ms"))), Err(()));
        assert_eq!(message_ttl(Some(&h("x"))), Err(()));
    }
}
