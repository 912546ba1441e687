//! JetStream publish workloads with the raw client: publishes into a file
//! stream and counts the PubAcks.
//!
//! Before each run the stream [`STREAM`] on [`SUBJECT`] is deleted (errors
//! ignored) and created afresh; after the run it is deleted again, so disk use
//! stays bounded. Every message carries its own reply subject on a wildcard
//! inbox (`_INBOX.bench.<n>`), so each ack names the message it confirms:
//! an ack that is missing, duplicated, carries an error or reports a
//! sequence twice fails the run, and so does a final stream message count
//! (`$JS.API.STREAM.INFO`) other than the number of messages published.

use std::io::Write as _;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use super::publish::{check_payload, CONNECT_TIMEOUT};
use super::{payload, Opts, Spec};
use crate::endpoint::Endpoint;
use crate::latency::Recorder;
use crate::rawconn::{encode_pub, Event, Msg, RawConn};
use crate::report::Outcome;

/// The benchmark stream.
pub const STREAM: &str = "BENCH";
/// The one subject the stream captures.
pub const SUBJECT: &str = "bench.js";
/// Acks come back on `<ACK_INBOX>.<message index>`.
const ACK_INBOX: &str = "_INBOX.bench";
/// Replies to JetStream API requests.
const API_INBOX: &str = "_INBOX.bench-api";
/// Bound on one JetStream API request.
pub const API_TIMEOUT: Duration = Duration::from_secs(10);

/// `$JS.API.STREAM.<op>.BENCH`.
pub fn api_subject(op: &str) -> String {
    format!("$JS.API.STREAM.{op}.{STREAM}")
}

/// The `STREAM.CREATE` request body: a file stream on [`SUBJECT`].
pub fn create_request() -> String {
    serde_json::json!({"name": STREAM, "subjects": [SUBJECT], "storage": "file"}).to_string()
}

/// Parses a JetStream API response; a response carrying `"error"` is an error.
pub fn api_response(what: &str, data: &[u8]) -> Result<Value> {
    let v: Value = serde_json::from_slice(data).with_context(|| {
        format!(
            "{what}: response is not JSON: {:?}",
            String::from_utf8_lossy(data)
        )
    })?;
    if let Some(e) = v.get("error") {
        bail!("{what} failed: {e}");
    }
    Ok(v)
}

/// Checks a `STREAM.CREATE` response: the stream must start out empty.
pub fn check_created(v: &Value) -> Result<()> {
    match v.pointer("/state/messages").and_then(Value::as_u64) {
        Some(0) => Ok(()),
        Some(n) => bail!("stream {STREAM} was created with {n} messages already in it"),
        None => bail!("STREAM.CREATE response has no state.messages: {v}"),
    }
}

/// Checks a `STREAM.INFO` response: the stream must hold exactly `want`.
pub fn check_count(v: &Value, want: u64) -> Result<()> {
    match v.pointer("/state/messages").and_then(Value::as_u64) {
        Some(n) if n == want => Ok(()),
        Some(n) => bail!("stream {STREAM} holds {n} messages after the run, expected {want}"),
        None => bail!("STREAM.INFO response has no state.messages: {v}"),
    }
}

/// Runs `js-pub-async` (`window` acks outstanding at most) or, with no
/// window, `js-pub-sync`.
pub fn run(spec: &Spec, ep: &Endpoint, opts: &Opts, window: Option<u64>) -> Result<Outcome> {
    let deadline = Instant::now() + opts.timeout;
    let mut conn = connect(ep, "sluice-bench-js")?;
    check_payload(&conn, spec.size)?;
    let result = measure(&mut conn, spec, window, deadline);
    // Delete the stream whatever happened, so disk use stays bounded (on a
    // fresh connection if this one broke); on a clean run a failed delete
    // fails the run.
    let mut deleted = delete_stream(&mut conn);
    conn.close();
    if deleted.is_err() {
        deleted = connect(ep, "sluice-bench-js-cleanup").and_then(|mut c| {
            let r = delete_stream(&mut c);
            c.close();
            r
        });
    }
    let (secs, latency) = result?;
    deleted?;
    Ok(Outcome {
        workload: spec.name.clone(),
        url: ep.url.clone(),
        client: opts.client.name(),
        size: spec.size,
        published: spec.msgs,
        delivered: 0,
        elapsed_secs: secs,
        publish_secs: secs,
        msgs_per_sec: 0.0,
        mb_per_sec: 0.0,
        split: Vec::new(),
        latency,
        custom: Vec::new(),
        detail: None,
    }
    .with_rates(spec.msgs))
}

/// (Re)creates the stream, publishes, verifies the count. Returns the seconds
/// from the first publish to the last ack and, for sync runs, ack latencies.
fn measure(
    conn: &mut RawConn,
    spec: &Spec,
    window: Option<u64>,
    deadline: Instant,
) -> Result<(f64, Option<crate::latency::LatencySummary>)> {
    let api_dl = || Instant::now() + API_TIMEOUT;
    // Recreate: a stale stream from an aborted run must not count.
    let _ = api(conn, &api_subject("DELETE"), b"", api_dl());
    let created = api(
        conn,
        &api_subject("CREATE"),
        create_request().as_bytes(),
        api_dl(),
    )?;
    check_created(&api_response("STREAM.CREATE", created.as_bytes())?)?;

    let mut acks = Acks::new(spec.msgs)?;
    let body = payload(spec.size);
    let start = Instant::now();
    let latency = match window {
        Some(w) => {
            publish_async(conn, &body, spec.msgs, w.max(1), &mut acks, deadline)?;
            None
        }
        None => Some(publish_sync(conn, &body, spec.msgs, &mut acks, deadline)?),
    };
    let secs = start.elapsed().as_secs_f64();

    let info = api(conn, &api_subject("INFO"), b"", api_dl())?;
    check_count(&api_response("STREAM.INFO", info.as_bytes())?, spec.msgs)?;
    Ok((secs, latency.and_then(Recorder::summary)))
}

/// A connection subscribed to the ack inbox (sid 1) and the API inbox (sid 2).
fn connect(ep: &Endpoint, name: &str) -> Result<RawConn> {
    let mut conn = RawConn::connect(ep, name, CONNECT_TIMEOUT)?;
    conn.subscribe(&format!("{ACK_INBOX}.*"), None, 1)?;
    conn.subscribe(API_INBOX, None, 2)?;
    conn.flush(Instant::now() + CONNECT_TIMEOUT)?;
    Ok(conn)
}

/// `STREAM.DELETE`; fails unless the server confirms.
fn delete_stream(conn: &mut RawConn) -> Result<()> {
    let reply = api(
        conn,
        &api_subject("DELETE"),
        b"",
        Instant::now() + API_TIMEOUT,
    )?;
    api_response("STREAM.DELETE", reply.as_bytes()).map(drop)
}

/// Keeps up to `window` messages unacknowledged: tops the window up in one
/// write, then consumes every ack that has arrived, and repeats.
fn publish_async(
    conn: &mut RawConn,
    body: &[u8],
    n: u64,
    window: u64,
    acks: &mut Acks,
    deadline: Instant,
) -> Result<()> {
    let mut out = Vec::with_capacity((window.min(n) as usize) * (body.len() + 48));
    let mut sent = 0u64;
    while acks.count < n {
        let room = (window - (sent - acks.count)).min(n - sent);
        if room > 0 {
            out.clear();
            for i in sent..sent + room {
                encode_js_pub(&mut out, i, body);
            }
            conn.write_all(&out)?;
            sent += room;
        }
        // Take every ack already buffered; block (briefly) only if none is.
        let before = acks.count;
        loop {
            match conn.poll_buffered()? {
                Event::Msg(m) => acks.take(&m)?,
                Event::Pong => {}
                Event::NeedData => {
                    if acks.count > before {
                        break;
                    }
                    if !conn.fill()? && Instant::now() >= deadline {
                        bail!(
                            "timed out: {} of {n} messages acked, {} outstanding",
                            acks.count,
                            sent - acks.count
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

/// One message at a time; records each publish-to-ack time.
fn publish_sync(
    conn: &mut RawConn,
    body: &[u8],
    n: u64,
    acks: &mut Acks,
    deadline: Instant,
) -> Result<Recorder> {
    let mut rec = Recorder::with_capacity(n as usize);
    let mut frame = Vec::with_capacity(body.len() + 64);
    for i in 0..n {
        frame.clear();
        encode_js_pub(&mut frame, i, body);
        let t0 = Instant::now();
        conn.write_all(&frame)?;
        while acks.count == i {
            match conn
                .next_event(deadline)
                .with_context(|| format!("waiting for the ack of message {i} ({i} of {n} acked)"))?
            {
                Event::Msg(m) => acks.take(&m)?,
                Event::Pong | Event::NeedData => {}
            }
        }
        rec.record(t0.elapsed());
    }
    Ok(rec)
}

/// `PUB bench.js _INBOX.bench.<i> <len>\r\n<body>\r\n`.
fn encode_js_pub(out: &mut Vec<u8>, i: u64, body: &[u8]) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "PUB {SUBJECT} {ACK_INBOX}.{i} {}\r\n", body.len());
    out.extend_from_slice(body);
    out.extend_from_slice(b"\r\n");
}

/// Sends one API request and returns the reply payload (as text). Messages on
/// other subjects (late acks of an aborted run) are skipped.
fn api(conn: &mut RawConn, subject: &str, body: &[u8], deadline: Instant) -> Result<String> {
    let mut frame = Vec::with_capacity(body.len() + 96);
    encode_pub(&mut frame, subject, Some(API_INBOX), body);
    conn.write_all(&frame)?;
    loop {
        match conn
            .next_event(deadline)
            .with_context(|| format!("no reply to {subject}"))?
        {
            Event::Msg(m) if m.subject == API_INBOX.as_bytes() => {
                let data = &m.data[m.headers_len..];
                if data.is_empty() {
                    // A status-only reply, e.g. 503 no responders.
                    let hdr = String::from_utf8_lossy(&m.data[..m.headers_len]);
                    bail!(
                        "{subject}: empty reply {:?} (is JetStream enabled?)",
                        hdr.trim()
                    );
                }
                return Ok(String::from_utf8_lossy(data).into_owned());
            }
            Event::Msg(_) | Event::Pong | Event::NeedData => {}
        }
    }
}

/// Which messages were acked, and which stream sequences the acks named.
struct Acks {
    count: u64,
    acked: Vec<bool>,
    seqs: Vec<bool>,
}

impl Acks {
    fn new(n: u64) -> Result<Self> {
        let n = usize::try_from(n).map_err(|_| anyhow!("too many messages"))?;
        Ok(Self {
            count: 0,
            acked: vec![false; n],
            seqs: vec![false; n],
        })
    }

    /// Accounts for one PubAck (`{"stream":"BENCH","seq":N}`) delivered on
    /// `_INBOX.bench.<i>`.
    fn take(&mut self, m: &Msg<'_>) -> Result<()> {
        let subject = String::from_utf8_lossy(m.subject);
        let data = &m.data[m.headers_len..];
        let i = subject
            .strip_prefix(ACK_INBOX)
            .and_then(|s| s.strip_prefix('.'))
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|&i| i < self.acked.len())
            .ok_or_else(|| {
                anyhow!(
                    "unexpected message on {subject:?}: {:?}",
                    String::from_utf8_lossy(data)
                )
            })?;
        if data.is_empty() && m.headers_len > 0 {
            let status = String::from_utf8_lossy(&m.data[..m.headers_len]);
            bail!(
                "message {i} got the status reply {:?} instead of a PubAck \
                 (503: nothing captures {SUBJECT}, though STREAM.CREATE succeeded)",
                status.trim()
            );
        }
        let seq = parse_ack(data).with_context(|| format!("ack of message {i}"))?;
        if self.acked[i] {
            bail!("message {i} acked twice (second ack: seq {seq})");
        }
        let slot = usize::try_from(seq)
            .ok()
            .and_then(|s| s.checked_sub(1))
            .filter(|&s| s < self.seqs.len())
            .ok_or_else(|| {
                anyhow!(
                    "ack of message {i} names seq {seq}, outside 1..={}",
                    self.seqs.len()
                )
            })?;
        if self.seqs[slot] {
            bail!("seq {seq} acked twice (second time for message {i})");
        }
        self.acked[i] = true;
        self.seqs[slot] = true;
        self.count += 1;
        Ok(())
    }
}

/// The stream sequence of a PubAck; an error reply, or an ack for another
/// stream, is an error. Hand-rolled: this runs once per message.
fn parse_ack(data: &[u8]) -> Result<u64> {
    let text = || String::from_utf8_lossy(data);
    if data.is_empty() {
        bail!("empty reply instead of a PubAck (no responders?)");
    }
    if find(data, b"\"error\"").is_some() {
        bail!("error reply: {}", text());
    }
    let stream_ok = find(data, b"\"stream\"").is_some_and(|at| {
        let rest = skip_colon(&data[at + 8..]);
        rest.starts_with(b"\"BENCH\"")
    });
    if !stream_ok {
        bail!("not a PubAck for stream {STREAM}: {}", text());
    }
    let at = find(data, b"\"seq\"").ok_or_else(|| anyhow!("PubAck without seq: {}", text()))?;
    let digits = skip_colon(&data[at + 5..]);
    let len = digits.iter().take_while(|c| c.is_ascii_digit()).count();
    if len == 0 || len > 19 {
        bail!("PubAck with a bad seq: {}", text());
    }
    Ok(digits[..len]
        .iter()
        .fold(0u64, |v, &c| v * 10 + u64::from(c - b'0')))
}

/// Skips `\s*:\s*`.
fn skip_colon(b: &[u8]) -> &[u8] {
    let b = b.trim_ascii_start();
    b.strip_prefix(b":").unwrap_or(b).trim_ascii_start()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pub_acks() {
        assert_eq!(
            parse_ack(br#"{"stream":"BENCH","seq":42}"#).expect("ack"),
            42
        );
        assert_eq!(
            parse_ack(br#"{"stream" : "BENCH", "domain":"x", "seq": 7, "duplicate":false}"#)
                .expect("ack"),
            7
        );
        let e = parse_ack(br#"{"error":{"code":503,"description":"insufficient resources"}}"#)
            .expect_err("error reply");
        assert!(e.to_string().contains("insufficient"), "{e}");
        assert!(parse_ack(br#"{"stream":"OTHER","seq":1}"#).is_err());
        assert!(parse_ack(br#"{"stream":"BENCH"}"#).is_err());
        assert!(parse_ack(b"").is_err());
    }

    fn msg<'a>(subject: &'a [u8], data: &'a [u8]) -> Msg<'a> {
        Msg {
            subject,
            sid: b"1",
            reply: None,
            headers_len: 0,
            data,
        }
    }

    #[test]
    fn acks_must_be_unique() {
        let mut a = Acks::new(3).expect("acks");
        a.take(&msg(b"_INBOX.bench.0", br#"{"stream":"BENCH","seq":1}"#))
            .expect("first");
        assert!(a
            .take(&msg(b"_INBOX.bench.0", br#"{"stream":"BENCH","seq":2}"#))
            .is_err());
        assert!(a
            .take(&msg(b"_INBOX.bench.1", br#"{"stream":"BENCH","seq":1}"#))
            .is_err());
        assert!(a
            .take(&msg(b"_INBOX.bench.2", br#"{"stream":"BENCH","seq":4}"#))
            .is_err());
        assert!(a
            .take(&msg(b"_INBOX.bench.3", br#"{"stream":"BENCH","seq":3}"#))
            .is_err());
        a.take(&msg(b"_INBOX.bench.2", br#"{"stream":"BENCH","seq":3}"#))
            .expect("third");
        assert_eq!(a.count, 2);
    }

    #[test]
    fn api_responses() {
        let v = api_response("x", br#"{"state":{"messages":5}}"#).expect("ok");
        check_count(&v, 5).expect("count");
        assert!(check_count(&v, 4).is_err());
        assert!(check_created(&v).is_err());
        assert!(api_response("x", br#"{"error":{"code":404}}"#).is_err());
        let req: Value = serde_json::from_str(&create_request()).expect("json");
        assert_eq!(req["storage"], "file");
        assert_eq!(req["subjects"][0], SUBJECT);
    }

    #[test]
    fn encodes_js_pub() {
        let mut v = Vec::new();
        encode_js_pub(&mut v, 12, b"xy");
        assert_eq!(v, b"PUB bench.js _INBOX.bench.12 2\r\nxy\r\n");
    }
}
