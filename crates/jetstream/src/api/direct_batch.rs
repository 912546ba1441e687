//! Batched direct gets (`batch`, with `seq`/`start_time`/`next_by_subj`) and
//! multi-subject last gets (`multi_last`, with `up_to_seq`/`up_to_time`), as
//! nats-server answers them: one message per stored message, each with
//! `Nats-Num-Pending` (messages left after it) and `Nats-Last-Sequence` (the previous
//! one sent), then a `204 EOB` status carrying the same numbers.

use sluice_store::StoredMessage;

use super::types::MsgGetRequest;
use crate::engine::Engine;
use crate::stream::{message_time, Stream};

/// Bytes a batch sends at most when the request names no `max_bytes`: nats-server
/// uses its `max_pending`, 64 MiB by default.
const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;
/// Subjects a `multi_last` request may match (nats-server answers 413 above this).
const MAX_MULTI_RESULTS: usize = 1024;

/// The message's own headers with the direct-get headers appended.
fn batch_headers(stream: &str, m: &StoredMessage, pending: u64, last: u64) -> Vec<u8> {
    let mut block = match m.headers.as_deref().filter(|h| h.len() > 2) {
        Some(h) => h[..h.len() - 2].to_vec(),
        None => b"NATS/1.0\r\n".to_vec(),
    };
    for (k, v) in [
        ("Nats-Stream", stream.to_string()),
        ("Nats-Subject", m.subject.clone()),
        ("Nats-Sequence", m.seq.to_string()),
        ("Nats-Time-Stamp", message_time(m)),
        ("Nats-Num-Pending", pending.to_string()),
        ("Nats-Last-Sequence", last.to_string()),
    ] {
        block.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    block.extend_from_slice(b"\r\n");
    block
}

fn sent_size(m: &StoredMessage) -> usize {
    m.subject.len() + m.headers.as_ref().map_or(0, |h| h.len()) + m.payload.len()
}

fn max_bytes(req: &MsgGetRequest) -> usize {
    if req.max_bytes > 0 {
        req.max_bytes as usize
    } else {
        DEFAULT_MAX_BYTES
    }
}

/// The last sequence of each subject matching `filters`, at or below `up_to`, in
/// sequence order; `None` when more than `MAX_MULTI_RESULTS` match.
fn multi_last_seqs(stream: &Stream, filters: &[String], up_to: u64) -> Option<Vec<u64>> {
    let mut seqs = std::collections::BTreeSet::new();
    for filter in filters {
        for (subject, count) in stream.store.subjects(filter) {
            let last = stream.store.load_last(&subject).ok().flatten();
            match last {
                Some(m) if m.seq <= up_to => {
                    seqs.insert(m.seq);
                }
                Some(_) if count > 1 => {
                    // The subject's last is past the ceiling: the last one below it.
                    let mut from = 0;
                    let mut below = None;
                    while let Ok(Some(m)) = stream.store.load_next(from, Some(&subject)) {
                        if m.seq > up_to {
                            break;
                        }
                        below = Some(m.seq);
                        from = m.seq + 1;
                    }
                    seqs.extend(below);
                }
                _ => {}
            }
        }
        if seqs.len() > MAX_MULTI_RESULTS {
            return None;
        }
    }
    Some(seqs.into_iter().collect())
}

impl Engine {
    /// A `batch` request: up to `batch` messages from `seq` (or `start_time`), all or
    /// those on `next_by_subj`, then EOB.
    pub(crate) fn direct_batch(&mut self, name: &str, reply: &str, req: &MsgGetRequest) {
        let Some(stream) = self.streams.get(name) else {
            return;
        };
        let mut seq = match &req.start_time {
            Some(t) => crate::time::parse_rfc3339(t)
                .and_then(|ts| stream.seq_from_time(ts).ok())
                .unwrap_or(0),
            None => req.seq,
        };
        let filter = (!req.next_by_subj.is_empty()).then_some(req.next_by_subj.as_str());
        let mut pending = stream.store.count_from(seq, filter);
        let limit = max_bytes(req);
        let mut out = Vec::new();
        let (mut last, mut sent_bytes) = (0u64, 0usize);
        for i in 0..req.batch {
            let Ok(Some(m)) = stream.store.load_next(seq, filter) else {
                if i > 0 {
                    break;
                }
                return self.status_reply(reply, 404, "Message Not Found");
            };
            seq = m.seq + 1;
            // nats-server counts down only in the headers it writes.
            let headers = (!req.no_hdr).then(|| {
                pending = pending.saturating_sub(1);
                batch_headers(name, &m, pending, last)
            });
            last = m.seq;
            sent_bytes += sent_size(&m);
            out.push((headers, m.payload.to_vec()));
            if sent_bytes >= limit {
                break;
            }
        }
        for (headers, payload) in out {
            self.send(Some(reply), headers, payload);
        }
        let eob = format!(
            "NATS/1.0 204 EOB\r\nNats-Num-Pending: {pending}\r\nNats-Last-Sequence: {last}\r\n\r\n"
        );
        self.send(Some(reply), Some(eob.into_bytes()), Vec::new());
    }

    /// A `multi_last` request: the last message of every matching subject (at or
    /// below `up_to_seq`/`up_to_time`), from `seq` on, then EOB.
    pub(crate) fn direct_multi_last(&mut self, name: &str, reply: &str, req: &MsgGetRequest) {
        let Some(stream) = self.streams.get(name) else {
            return;
        };
        let state = stream.store.state();
        let mut up_to = req.up_to_seq;
        if let Some(t) = &req.up_to_time {
            let seq = crate::time::parse_rfc3339(t)
                .and_then(|ts| stream.seq_from_time(ts).ok())
                .unwrap_or(0);
            if seq <= state.first_seq {
                return self.status_reply(reply, 404, "No Results");
            }
            // The first message at the time is the ceiling's successor.
            up_to = seq - 1;
        }
        if up_to == 0 {
            up_to = state.last_seq;
        }
        if state.msgs == 0 {
            return self.status_reply(reply, 404, "No Results");
        }
        let Some(seqs) = multi_last_seqs(stream, &req.multi_last, up_to) else {
            return self.status_reply(reply, 413, "Too Many Results");
        };
        if seqs.is_empty() {
            return self.status_reply(reply, 404, "No Results");
        }
        let limit = max_bytes(req);
        let mut pending = seqs.len() as u64;
        let (mut last, mut sent, mut sent_bytes) = (0u64, 0i64, 0usize);
        let mut out = Vec::new();
        for seq in seqs {
            pending = pending.saturating_sub(1);
            if seq < req.seq {
                continue;
            }
            let Ok(Some(m)) = stream.store.load(seq) else {
                return self.status_reply(reply, 404, "Message Not Found");
            };
            out.push((
                Some(batch_headers(name, &m, pending, last)),
                m.payload.to_vec(),
            ));
            last = m.seq;
            sent_bytes += sent_size(&m);
            if sent_bytes >= limit {
                break;
            }
            sent += 1;
            if req.batch > 0 && sent >= req.batch {
                break;
            }
        }
        for (headers, payload) in out {
            self.send(Some(reply), headers, payload);
        }
        let eob = format!(
            "NATS/1.0 204 EOB\r\nNats-Num-Pending: {pending}\r\nNats-Last-Sequence: {last}\r\nNats-UpTo-Sequence: {up_to}\r\n\r\n"
        );
        self.send(Some(reply), Some(eob.into_bytes()), Vec::new());
    }
}
