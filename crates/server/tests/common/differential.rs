//! Shared kit for differential tests that talk raw protocol to a real nats-server and to
//! Sluice: a connection that files every message it receives by subject (so replies to
//! several outstanding requests, pull deliveries and status messages can be waited for
//! one subject at a time), and the normalisation and diffing of what came back.
//!
//! Included with `#[path = "common/differential.rs"] mod differential;` by the test
//! files that use it, so the other test binaries do not compile it.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How long to wait for a reply that should come.
pub const REPLY_WAIT: Duration = Duration::from_secs(3);
/// How long to wait for a reply nats-server does not send.
pub const QUIET_WAIT: Duration = Duration::from_millis(250);

/// The prefix of every subject a [`Conn`] subscribes to (`_R.>`).
pub const INBOX_PREFIX: &str = "_R.";

// ---------------------------------------------------------------------------------------
// A raw connection
// ---------------------------------------------------------------------------------------

/// One message the connection received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub subject: String,
    pub reply: Option<String>,
    /// The raw header block (`NATS/1.0...\r\n\r\n`) of an HMSG.
    pub headers: Option<String>,
    pub payload: String,
}

impl Received {
    /// The status code of a status message (`NATS/1.0 408 Request Timeout`), if any.
    pub fn status(&self) -> Option<u16> {
        let first = self.headers.as_deref()?.split("\r\n").next()?;
        first
            .strip_prefix("NATS/1.0 ")?
            .split(' ')
            .next()?
            .parse()
            .ok()
    }
}

/// A raw client subscribed to `_R.>` that files what it receives: by the subject for
/// that subscription, by the key given to [`Conn::subscribe`] for the others (JetStream
/// deliveries carry the stored message's subject, not the subject subscribed to).
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    queued: HashMap<String, VecDeque<Received>>,
    /// sid -> key, for subscriptions other than `_R.>` (sid 1).
    keys: HashMap<String, String>,
    pongs: u64,
    /// `-ERR` lines received, in order.
    pub errors: Vec<String>,
}

impl Conn {
    /// Connects with headers and no_responders on, subscribes to `_R.>`.
    pub async fn connect(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).ok();
        let mut c = Conn {
            stream,
            buf: Vec::new(),
            queued: HashMap::new(),
            keys: HashMap::new(),
            pongs: 0,
            errors: Vec::new(),
        };
        let info = c.line(Instant::now() + REPLY_WAIT).await.expect("INFO");
        assert!(info.starts_with("INFO "), "{info}");
        c.send(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true,\"protocol\":1}\r\nSUB _R.> 1\r\n",
        )
        .await;
        assert!(c.flush().await, "PONG after CONNECT");
        c
    }

    /// Subscribes to `subject` (once per subject); what arrives is filed under it.
    pub async fn subscribe(&mut self, subject: &str) {
        if self.keys.values().any(|k| k == subject) {
            return;
        }
        let sid = (self.keys.len() + 2).to_string();
        self.send(format!("SUB {subject} {sid}\r\n").as_bytes())
            .await;
        self.keys.insert(sid, subject.to_string());
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Sends a PUB or HPUB (with `reply` when given).
    pub async fn publish(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        headers: &[(String, String)],
        body: &str,
    ) {
        let reply = reply.map(|r| format!(" {r}")).unwrap_or_default();
        let mut out = if headers.is_empty() {
            format!("PUB {subject}{reply} {}\r\n", body.len()).into_bytes()
        } else {
            let mut h = String::from("NATS/1.0\r\n");
            for (k, v) in headers {
                let _ = write!(h, "{k}: {v}\r\n");
            }
            h.push_str("\r\n");
            format!(
                "HPUB {subject}{reply} {} {}\r\n{h}",
                h.len(),
                h.len() + body.len()
            )
            .into_bytes()
        };
        out.extend_from_slice(body.as_bytes());
        out.extend_from_slice(b"\r\n");
        self.send(&out).await;
    }

    /// PING, then reads (filing messages) until the PONG; false on EOF or deadline.
    pub async fn flush(&mut self) -> bool {
        self.send(b"PING\r\n").await;
        let want = self.pongs + 1;
        let until = Instant::now() + REPLY_WAIT;
        while self.pongs < want {
            if !self.pump(until).await {
                return false;
            }
        }
        true
    }

    /// The next message on `subject`, waiting until `until`.
    pub async fn next_on(&mut self, subject: &str, until: Instant) -> Option<Received> {
        loop {
            if let Some(m) = self.queued.get_mut(subject).and_then(VecDeque::pop_front) {
                return Some(m);
            }
            if !self.pump(until).await {
                return None;
            }
        }
    }

    /// Drops everything queued for `subject` (and reads nothing more).
    pub fn forget(&mut self, subject: &str) {
        self.queued.remove(subject);
    }

    async fn fill(&mut self, until: Instant) -> bool {
        let mut chunk = [0u8; 65536];
        match tokio::time::timeout_at(until, self.stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => false,
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    async fn line(&mut self, until: Instant) -> Option<String> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let l: Vec<u8> = self.buf.drain(..i + 2).collect();
                return Some(String::from_utf8_lossy(&l[..i]).into_owned());
            }
            if !self.fill(until).await {
                return None;
            }
        }
    }

    async fn bytes(&mut self, n: usize, until: Instant) -> Option<Vec<u8>> {
        while self.buf.len() < n + 2 {
            if !self.fill(until).await {
                return None;
            }
        }
        let out: Vec<u8> = self.buf.drain(..n).collect();
        self.buf.drain(..2);
        Some(out)
    }

    /// Reads and handles one protocol operation; false on EOF or deadline.
    async fn pump(&mut self, until: Instant) -> bool {
        let Some(l) = self.line(until).await else {
            return false;
        };
        let parts: Vec<&str> = l.split(' ').collect();
        match parts[0] {
            "PING" => self.send(b"PONG\r\n").await,
            "PONG" => self.pongs += 1,
            "MSG" => {
                // MSG <subject> <sid> [reply] <size>
                let n: usize = parts[parts.len() - 1].parse().expect("MSG size");
                let data = self.bytes(n, until).await.expect("MSG payload");
                let reply = (parts.len() == 5).then(|| parts[3].to_string());
                self.file(
                    parts[2],
                    Received {
                        subject: parts[1].to_string(),
                        reply,
                        headers: None,
                        payload: String::from_utf8_lossy(&data).into_owned(),
                    },
                );
            }
            "HMSG" => {
                // HMSG <subject> <sid> [reply] <hdr size> <total size>
                let total: usize = parts[parts.len() - 1].parse().expect("HMSG size");
                let hlen: usize = parts[parts.len() - 2].parse().expect("HMSG hdr size");
                let data = self.bytes(total, until).await.expect("HMSG payload");
                let reply = (parts.len() == 6).then(|| parts[3].to_string());
                self.file(
                    parts[2],
                    Received {
                        subject: parts[1].to_string(),
                        reply,
                        headers: Some(String::from_utf8_lossy(&data[..hlen]).into_owned()),
                        payload: String::from_utf8_lossy(&data[hlen..]).into_owned(),
                    },
                );
            }
            "-ERR" => self.errors.push(l),
            _ => {}
        }
        true
    }

    fn file(&mut self, sid: &str, m: Received) {
        let key = self.keys.get(sid).unwrap_or(&m.subject).clone();
        self.queued.entry(key).or_default().push_back(m);
    }
}

/// Waits until `$JS.API.INFO` gets an answer.
pub async fn js_ready(c: &mut Conn) {
    let end = Instant::now() + Duration::from_secs(10);
    let mut n = 0;
    loop {
        n += 1;
        let inbox = format!("{INBOX_PREFIX}ready.{n}");
        c.publish("$JS.API.INFO", Some(&inbox), &[], "").await;
        let r = c
            .next_on(&inbox, Instant::now() + Duration::from_millis(500))
            .await;
        c.forget(&inbox);
        if let Some(m) = &r {
            if m.headers.is_none() && m.payload.contains("account_info_response") {
                return;
            }
        }
        assert!(Instant::now() < end, "JetStream never answered: {r:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------------------

/// True for an RFC 3339 time like `2026-01-02T03:04:05.123Z` (or with an offset).
pub fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && (s.ends_with('Z') || s[19..].contains('+') || s[19..].contains('-'))
}

/// Keys whose timestamp values a test chose itself; they are compared as they are.
const KEPT_TIMES: &[&str] = &["opt_start_time"];

/// Replaces timestamps (except the zero time and the values of [`KEPT_TIMES`] keys) and
/// the value of `"leader"` in JSON text, leaving every other byte as it is.
pub fn normalise_json_text(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut last_key: Option<String> = None;
    while i < b.len() {
        if b[i] != b'"' {
            // Copy the run up to the next string literal as it is.
            let next = text[i..].find('"').map_or(b.len(), |k| i + k);
            out.push_str(&text[i..next]);
            i = next;
            continue;
        }
        // A string literal: find its end (skipping escapes).
        let start = i;
        i += 1;
        while i < b.len() && b[i] != b'"' {
            if b[i] == b'\\' {
                i += 1;
            }
            i += 1;
        }
        let end = (i + 1).min(b.len());
        let literal = &text[start..end];
        let content = &text[start + 1..end.saturating_sub(1).max(start + 1)];
        i = end;
        // A key is followed by ':'.
        let mut j = i;
        while j < b.len() && b[j] == b' ' {
            j += 1;
        }
        let is_key = j < b.len() && b[j] == b':';
        if is_key {
            last_key = Some(content.to_string());
            out.push_str(literal);
        } else if last_key.as_deref() == Some("leader") {
            out.push_str("\"<server>\"");
        } else if is_timestamp(content)
            && content != "0001-01-01T00:00:00Z"
            && !KEPT_TIMES.contains(&last_key.as_deref().unwrap_or(""))
        {
            out.push_str("\"<ts>\"");
        } else {
            out.push_str(literal);
        }
        if !is_key {
            last_key = None;
        }
    }
    out
}

/// Header block with CRLFs shown as `\r\n`; `Nats-Time-Stamp` values become `<ts>`.
pub fn normalise_headers(h: &str) -> String {
    h.split("\r\n")
        .map(|line| match line.split_once(": ") {
            Some(("Nats-Time-Stamp", _)) => "Nats-Time-Stamp: <ts>".to_string(),
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\\r\\n")
}

/// A `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` subject
/// with its timestamp token replaced by `<ts>`; any other subject as it is.
pub fn normalise_ack_subject(s: &str) -> String {
    let tokens: Vec<&str> = s.split('.').collect();
    if s.starts_with("$JS.ACK.") && tokens.len() == 9 {
        let mut t = tokens;
        t[7] = "<ts>";
        t.join(".")
    } else {
        s.to_string()
    }
}

/// A payload: normalised JSON text if it parses as JSON, else quoted.
pub fn render_payload(payload: &str) -> String {
    if !payload.is_empty() && serde_json::from_str::<Value>(payload).is_ok() {
        normalise_json_text(payload)
    } else {
        format!("{payload:?}")
    }
}

/// One received message: `[headers] payload`, preceded by `subject reply` when
/// `with_subjects` (for deliveries; replies to requests are shown without).
pub fn render_msg(m: &Received, with_subjects: bool) -> String {
    let mut s = String::new();
    if with_subjects {
        let _ = write!(
            s,
            "{} {} ",
            m.subject,
            m.reply.as_deref().map_or("-".into(), normalise_ack_subject)
        );
    }
    if let Some(h) = &m.headers {
        let _ = write!(s, "[{}] ", normalise_headers(h));
    }
    s.push_str(&render_payload(&m.payload));
    s
}

// ---------------------------------------------------------------------------------------
// Explaining a difference
// ---------------------------------------------------------------------------------------

/// JSON paths where two values differ (keys missing on one side included).
pub fn json_diff(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                match y.get(k) {
                    Some(vb) => json_diff(&format!("{path}.{k}"), va, vb, out),
                    None => out.push(format!("{path}.{k}: only nats-server has it ({va})")),
                }
            }
            for (k, vb) in y {
                if !x.contains_key(k) {
                    out.push(format!("{path}.{k}: only Sluice has it ({vb})"));
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                json_diff(&format!("{path}[{i}]"), va, vb, out);
            }
        }
        _ if a != b => out.push(format!("{path}: nats-server {a}, Sluice {b}")),
        _ => {}
    }
}

/// For two normalised JSON texts, the JSON paths that differ (or a note that only the
/// text does); nothing when either is not JSON.
pub fn explain_json(a: &str, b: &str) -> Vec<String> {
    let (Ok(x), Ok(y)) = (
        serde_json::from_str::<Value>(a),
        serde_json::from_str::<Value>(b),
    ) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    json_diff("$", &x, &y, &mut out);
    if out.is_empty() {
        out.push("same JSON values; the text differs (key order, escaping or spacing)".into());
    }
    out
}
