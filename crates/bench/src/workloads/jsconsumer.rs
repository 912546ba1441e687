//! What the JetStream consumer workloads share, over the raw client: API
//! requests, stream set-up, pre-fill and clean-up, consumer creation, reading
//! the `$JS.ACK` reply subject, a ledger that proves every stream message was
//! handled exactly once, and waiting until the server has processed every ack.
//!
//! Every workload names its own stream (`BENCH_<WORKLOAD>`), deletes a stale
//! one left by an aborted run before creating it, and deletes it afterwards
//! (consumers go with it).

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

use super::publish::CONNECT_TIMEOUT;
use super::unique_subject;
use crate::endpoint::Endpoint;
use crate::rawconn::{encode_pub, Event, Msg, RawConn};

/// Bound on one JetStream API request.
pub const API_TIMEOUT: Duration = Duration::from_secs(10);
/// Publishes the pre-fill keeps unacknowledged at most.
const FILL_WINDOW: u64 = 1000;
/// `expires` of a pull request (MSG.NEXT), in nanoseconds: long enough that
/// a busy server does not end requests early, short enough that a request
/// stranded by a lost message does not stall the run.
pub const PULL_EXPIRES_NS: u64 = 2_000_000_000;
/// The queue group of push consumers with a `deliver_group`.
pub const QUEUE_GROUP: &str = "bench-q";

/// A connection for JetStream API requests and the pre-fill. Each request
/// gets its own reply subject, so replies can be matched and pipelined.
pub struct Api {
    pub conn: RawConn,
    /// Replies arrive on `<inbox>.<n>` (subscription sid 1).
    inbox: String,
    /// PubAcks of the pre-fill arrive on `<inbox>.fill` (sid 1 as well).
    next: u64,
}

impl Api {
    pub fn connect(ep: &Endpoint, name: &str) -> Result<Self> {
        let mut conn = RawConn::connect(ep, name, CONNECT_TIMEOUT)?;
        let inbox = unique_subject("_INBOX", "bench-api");
        conn.subscribe(&format!("{inbox}.*"), None, 1)?;
        conn.flush(Instant::now() + CONNECT_TIMEOUT)?;
        Ok(Self {
            conn,
            inbox,
            next: 0,
        })
    }

    /// Sends a request without waiting; returns its reply subject's token.
    pub fn send(&mut self, subject: &str, body: &[u8]) -> Result<u64> {
        let n = self.next;
        self.next += 1;
        let mut frame = Vec::with_capacity(body.len() + subject.len() + 64);
        encode_pub(
            &mut frame,
            subject,
            Some(&format!("{}.{n}", self.inbox)),
            body,
        );
        self.conn.write_all(&frame)?;
        Ok(n)
    }

    /// Waits for the reply to any request sent with [`Api::send`]; returns
    /// its token and JSON body. A status-only reply (503: no responders) is
    /// an error.
    pub fn recv(&mut self, deadline: Instant) -> Result<(u64, Value)> {
        loop {
            match self.conn.next_event(deadline)? {
                Event::Msg(m) => {
                    let Some(n) = reply_token(&m, &self.inbox) else {
                        continue; // a PubAck of an aborted pre-fill, say
                    };
                    let data = &m.data[m.headers_len..];
                    if data.is_empty() {
                        let hdr = String::from_utf8_lossy(&m.data[..m.headers_len]);
                        bail!("empty reply {:?} (is JetStream enabled?)", hdr.trim());
                    }
                    let v: Value = serde_json::from_slice(data).with_context(|| {
                        format!("reply is not JSON: {:?}", String::from_utf8_lossy(data))
                    })?;
                    return Ok((n, v));
                }
                Event::Pong | Event::NeedData => {}
            }
        }
    }

    /// One request, its reply as JSON, whatever it says.
    pub fn request_any(&mut self, subject: &str, body: &[u8]) -> Result<Value> {
        let want = self.send(subject, body)?;
        let deadline = Instant::now() + API_TIMEOUT;
        loop {
            let (n, v) = self
                .recv(deadline)
                .with_context(|| format!("no reply to {subject}"))?;
            if n == want {
                return Ok(v);
            }
        }
    }

    /// One request; a reply carrying `"error"` is an error.
    pub fn request(&mut self, subject: &str, body: &[u8]) -> Result<Value> {
        let v = self.request_any(subject, body)?;
        check_api(subject, v)
    }

    /// Deletes `stream` if it exists, then creates it from `config` (which
    /// must name it); it must start out empty.
    pub fn recreate_stream(&mut self, config: &Value) -> Result<String> {
        let name = config["name"]
            .as_str()
            .ok_or_else(|| anyhow!("stream config without a name"))?
            .to_owned();
        let _ = self.request_any(&format!("$JS.API.STREAM.DELETE.{name}"), b"");
        let v = self.request(
            &format!("$JS.API.STREAM.CREATE.{name}"),
            config.to_string().as_bytes(),
        )?;
        match v.pointer("/state/messages").and_then(Value::as_u64) {
            Some(0) => Ok(name),
            Some(n) => bail!("stream {name} was created with {n} messages already in it"),
            None => bail!("STREAM.CREATE response has no state.messages: {v}"),
        }
    }

    pub fn delete_stream(&mut self, name: &str) -> Result<()> {
        self.request(&format!("$JS.API.STREAM.DELETE.{name}"), b"")
            .map(drop)
    }

    /// How many messages `stream` holds.
    pub fn stream_messages(&mut self, stream: &str) -> Result<u64> {
        let v = self.request(&format!("$JS.API.STREAM.INFO.{stream}"), b"")?;
        v.pointer("/state/messages")
            .and_then(Value::as_u64)
            .ok_or_else(|| anyhow!("STREAM.INFO of {stream} has no state.messages: {v}"))
    }

    /// Polls STREAM.INFO until `stream` holds `want` messages.
    pub fn wait_stream_messages(&mut self, stream: &str, want: u64, wait: Duration) -> Result<()> {
        let until = Instant::now() + wait;
        loop {
            let n = self.stream_messages(stream)?;
            if n == want {
                return Ok(());
            }
            if Instant::now() >= until {
                bail!("stream {stream} holds {n} messages, expected {want}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Publishes `n` messages of `body` (subject of message `i`: `subject(i)`)
    /// with up to [`FILL_WINDOW`] PubAcks outstanding; every PubAck must be a
    /// success, and the stream must then hold exactly `n` messages.
    pub fn prefill(
        &mut self,
        stream: &str,
        n: u64,
        subject: impl Fn(u64) -> String,
        body: &[u8],
        deadline: Instant,
    ) -> Result<()> {
        let reply = format!("{}.fill", self.inbox);
        let mut out = Vec::with_capacity(FILL_WINDOW as usize * (body.len() + 96));
        let (mut sent, mut acked) = (0u64, 0u64);
        while acked < n {
            let room = (FILL_WINDOW - (sent - acked)).min(n - sent);
            if room > 0 {
                out.clear();
                for i in sent..sent + room {
                    encode_pub(&mut out, &subject(i), Some(&reply), body);
                }
                self.conn.write_all(&out)?;
                sent += room;
            }
            let before = acked;
            loop {
                match self.conn.poll_buffered()? {
                    Event::Msg(m) if m.subject == reply.as_bytes() => {
                        let data = &m.data[m.headers_len..];
                        if data.is_empty() || find(data, b"\"error\"").is_some() {
                            bail!(
                                "pre-fill publish {acked} of {n} failed: {:?} {:?}",
                                String::from_utf8_lossy(&m.data[..m.headers_len]).trim(),
                                String::from_utf8_lossy(data)
                            );
                        }
                        acked += 1;
                    }
                    Event::Msg(_) | Event::Pong => {}
                    Event::NeedData => {
                        if acked > before {
                            break;
                        }
                        if !self.conn.fill()? && Instant::now() >= deadline {
                            bail!("timed out pre-filling: {acked} of {n} messages acked");
                        }
                    }
                }
            }
        }
        let held = self.stream_messages(stream)?;
        if held != n {
            bail!("stream {stream} holds {held} messages after a pre-fill of {n}");
        }
        Ok(())
    }

    /// `CONSUMER.CREATE` of the durable consumer `config.durable_name`.
    pub fn create_consumer(&mut self, stream: &str, config: Value) -> Result<Value> {
        let name = config["durable_name"]
            .as_str()
            .ok_or_else(|| anyhow!("consumer config without durable_name"))?
            .to_owned();
        let body = json!({"stream_name": stream, "config": config}).to_string();
        self.request(
            &format!("$JS.API.CONSUMER.CREATE.{stream}.{name}"),
            body.as_bytes(),
        )
    }

    /// Polls `CONSUMER.INFO` until the server reports nothing pending and
    /// nothing awaiting an ack: every message was delivered and every ack
    /// processed.
    pub fn wait_all_acked(
        &mut self,
        stream: &str,
        consumer: &str,
        deadline: Instant,
    ) -> Result<()> {
        let subject = format!("$JS.API.CONSUMER.INFO.{stream}.{consumer}");
        loop {
            let v = self.request(&subject, b"")?;
            let pending = v["num_pending"].as_u64();
            let ack_pending = v["num_ack_pending"].as_u64();
            if pending == Some(0) && ack_pending == Some(0) {
                return Ok(());
            }
            if pending.is_none() || ack_pending.is_none() {
                bail!("CONSUMER.INFO has no num_pending/num_ack_pending: {v}");
            }
            if Instant::now() >= deadline {
                bail!(
                    "timed out waiting for acks to be processed: consumer {consumer} reports \
                     num_pending {pending:?}, num_ack_pending {ack_pending:?}"
                );
            }
        }
    }

    /// Deletes `stream`, on a fresh connection if this one is broken.
    pub fn cleanup(mut self, ep: &Endpoint, stream: &str) -> Result<()> {
        let mut r = self.delete_stream(stream);
        self.conn.close();
        if r.is_err() {
            r = Api::connect(ep, "sluice-bench-cleanup").and_then(|mut a| {
                let r = a.delete_stream(stream);
                a.conn.close();
                r
            });
        }
        r
    }
}

/// An API reply as a result: one carrying `"error"` is an error.
fn check_api(what: &str, v: Value) -> Result<Value> {
    if let Some(e) = v.get("error") {
        bail!("{what} failed: {e}");
    }
    Ok(v)
}

/// The `<n>` of a reply on `<inbox>.<n>`.
fn reply_token(m: &Msg<'_>, inbox: &str) -> Option<u64> {
    let rest = m
        .subject
        .strip_prefix(inbox.as_bytes())?
        .strip_prefix(b".")?;
    std::str::from_utf8(rest).ok()?.parse().ok()
}

/// A pull/push consumer's config: durable, explicit acks, from the start.
pub fn consumer_config(name: &str) -> Value {
    json!({
        "durable_name": name,
        "ack_policy": "explicit",
        "deliver_policy": "all",
    })
}

/// What `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`
/// (or the newer form with domain and account hash) says about a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// How many times this message has been delivered (1: first time).
    pub delivered: u64,
    pub stream_seq: u64,
    pub consumer_seq: u64,
}

/// Parses a delivered message's reply (ack) subject.
pub fn parse_ack_subject(s: &[u8]) -> Result<Delivery> {
    let bad = || {
        anyhow!(
            "not a JetStream ack subject: {:?}",
            String::from_utf8_lossy(s)
        )
    };
    let rest = s.strip_prefix(b"$JS.ACK.").ok_or_else(bad)?;
    let toks: Vec<&[u8]> = rest.split(|&c| c == b'.').collect();
    // v1: stream.consumer.delivered.sseq.cseq.ts.pending
    // v2: domain.acchash.stream.consumer.delivered.sseq.cseq.ts.pending[.token]
    let at = match toks.len() {
        7 => 2,
        9 | 10 => 4,
        _ => return Err(bad()),
    };
    let num = |t: &[u8]| -> Result<u64> {
        std::str::from_utf8(t)
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or_else(bad)
    };
    Ok(Delivery {
        delivered: num(toks[at])?,
        stream_seq: num(toks[at + 1])?,
        consumer_seq: num(toks[at + 2])?,
    })
}

/// Appends `PUB <reply> 4\r\n+ACK\r\n`.
pub fn encode_ack(out: &mut Vec<u8>, reply: &[u8]) {
    out.extend_from_slice(b"PUB ");
    out.extend_from_slice(reply);
    out.extend_from_slice(b" 4\r\n+ACK\r\n");
}

/// The status code of a status-only message (`NATS/1.0 408 Request
/// Timeout`), if `m` is one.
pub fn status_code(m: &Msg<'_>) -> Option<u16> {
    if m.headers_len == 0 {
        return None;
    }
    let hdr = &m.data[..m.headers_len];
    let line = hdr.split(|&c| c == b'\n').next()?;
    let rest = line.strip_prefix(b"NATS/1.0")?;
    let code = rest.trim_ascii_start().get(..3)?;
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// The status line of a status message, for errors.
pub fn status_text(m: &Msg<'_>) -> String {
    let hdr = String::from_utf8_lossy(&m.data[..m.headers_len]);
    hdr.lines().next().unwrap_or_default().trim().to_owned()
}

/// Which stream sequences have been handled, shared by every consumer thread
/// of a run: each sequence must be handled exactly once; redeliveries (a
/// delivery count above 1 of a sequence already seen) are counted apart.
pub struct Ledger {
    /// Sequences `first..first + seen.len()`; each slot counts handlings.
    first: u64,
    seen: Vec<AtomicU8>,
    unique: AtomicU64,
    redelivered: AtomicU64,
}

impl Ledger {
    /// A ledger for stream sequences `first..first + n`.
    pub fn new(first: u64, n: u64) -> Result<Self> {
        let n = usize::try_from(n).map_err(|_| anyhow!("too many messages"))?;
        Ok(Self {
            first,
            seen: (0..n).map(|_| AtomicU8::new(0)).collect(),
            unique: AtomicU64::new(0),
            redelivered: AtomicU64::new(0),
        })
    }

    /// Accounts for one delivery. An unknown sequence, or a first delivery
    /// (count 1) of a sequence already handled, is an error.
    pub fn take(&self, d: Delivery) -> Result<()> {
        let slot = d
            .stream_seq
            .checked_sub(self.first)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.seen.get(i))
            .ok_or_else(|| {
                anyhow!(
                    "delivered stream seq {} outside {}..{}",
                    d.stream_seq,
                    self.first,
                    self.first + self.seen.len() as u64
                )
            })?;
        let before = slot.fetch_add(1, Ordering::AcqRel);
        if before == 0 {
            self.unique.fetch_add(1, Ordering::AcqRel);
        } else if d.delivered > 1 {
            self.redelivered.fetch_add(1, Ordering::Relaxed);
        } else {
            bail!(
                "stream seq {} delivered twice as a first delivery (consumer seq {})",
                d.stream_seq,
                d.consumer_seq
            );
        }
        Ok(())
    }

    /// Distinct sequences handled so far.
    pub fn unique(&self) -> u64 {
        self.unique.load(Ordering::Acquire)
    }

    pub fn redelivered(&self) -> u64 {
        self.redelivered.load(Ordering::Acquire)
    }

    /// Fails unless exactly `want` distinct sequences were handled.
    pub fn check(&self, want: u64) -> Result<()> {
        let got = self.unique();
        if got != want {
            bail!("handled {got} distinct messages, expected {want}");
        }
        Ok(())
    }
}

/// `PUB $JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer> <inbox> ..` asking for
/// `batch` messages.
pub fn encode_pull(out: &mut Vec<u8>, stream: &str, consumer: &str, inbox: &str, batch: u64) {
    let body = format!("{{\"batch\":{batch},\"expires\":{PULL_EXPIRES_NS}}}");
    // Writing to a Vec cannot fail.
    let _ = write!(
        out,
        "PUB $JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer} {inbox} {}\r\n{body}\r\n",
        body.len()
    );
}

/// Upper-case stream name for a workload: `BENCH_JS_PULL` for `js-pull`.
pub fn stream_name(workload: &str) -> String {
    format!("BENCH_{}", workload.replace(['-', '.'], "_").to_uppercase())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_subjects() {
        let d = parse_ack_subject(b"$JS.ACK.S.C.1.42.7.1700000000000000000.99").expect("v1");
        assert_eq!(
            d,
            Delivery {
                delivered: 1,
                stream_seq: 42,
                consumer_seq: 7
            }
        );
        let d = parse_ack_subject(b"$JS.ACK.dom.HASH.S.C.3.5.6.17.0.tok").expect("v2");
        assert_eq!((d.delivered, d.stream_seq, d.consumer_seq), (3, 5, 6));
        assert!(parse_ack_subject(b"$JS.ACK.S.C.1.x.7.1.0").is_err());
        assert!(parse_ack_subject(b"foo.bar").is_err());
    }

    #[test]
    fn ledger_counts_once_and_redeliveries_apart() {
        let l = Ledger::new(1, 3).expect("ledger");
        let d = |delivered, stream_seq| Delivery {
            delivered,
            stream_seq,
            consumer_seq: 0,
        };
        l.take(d(1, 1)).expect("first");
        l.take(d(2, 1)).expect("redelivery");
        assert!(l.take(d(1, 1)).is_err(), "duplicate first delivery");
        assert!(l.take(d(1, 4)).is_err(), "outside");
        l.take(d(1, 2)).expect("second");
        assert_eq!((l.unique(), l.redelivered()), (2, 1));
        assert!(l.check(3).is_err());
    }

    #[test]
    fn status_lines() {
        let data = b"NATS/1.0 408 Request Timeout\r\n\r\n";
        let m = Msg {
            subject: b"i",
            sid: b"1",
            reply: None,
            headers_len: data.len(),
            data,
        };
        assert_eq!(status_code(&m), Some(408));
        assert_eq!(status_text(&m), "NATS/1.0 408 Request Timeout");
        assert_eq!(stream_name("js-pull"), "BENCH_JS_PULL");
        let mut v = Vec::new();
        encode_pull(&mut v, "S", "C", "_INBOX.x", 100);
        assert_eq!(
            v,
            b"PUB $JS.API.CONSUMER.MSG.NEXT.S.C _INBOX.x 34\r\n\
              {\"batch\":100,\"expires\":2000000000}\r\n"
        );
    }
}
