//! Differential `$JS.API` tests: the same sequence of JetStream API requests and
//! publishes (raw protocol, request/reply on one connection) is sent to a real
//! nats-server (`-js`) and to Sluice, and every reply must be the same.
//!
//! Each session runs on a fresh pair of servers with empty store directories.
//!
//! What is normalised before comparing (everything else is compared as text, so key
//! order, omitted fields, escaping and spacing count too):
//! - RFC 3339 timestamps (any JSON string that is one, e.g. `created`, `ts`, `first_ts`,
//!   `last_ts`, `time`) and the `Nats-Time-Stamp` header of direct gets become `<ts>`;
//!   the zero time `0001-01-01T00:00:00Z` is kept (it means "empty").
//! - `cluster.leader` (a server name) becomes `<server>`.
//! - Nothing else: `_nats.ver`/`_nats.level` metadata, `api.level`, byte counts and the
//!   account limits are compared as they are (Sluice claims nats-server 2.15.1's values
//!   and store accounting). Account info (`$JS.API.INFO`) is compared in its own session
//!   only, so a difference there shows once.
//!
//! - In mirror sessions, a mirror block's `active` (nanoseconds since the origin was
//!   last heard from: a clock reading) becomes `"<active>"` unless it is -1 (never).
//!   Its `lag` and the mirror's state are compared once both mirrors caught up
//!   (`Script::settled` polls STREAM.INFO until `last_seq` and `lag` 0 are reached).
//!
//! Left out on purpose: sources, subject transforms and external mirrors (not supported),
//! per-message TTLs (timing-driven; see message_ttl.rs in the jetstream crate) and
//! consumers (differential_consumers.rs).
//!
//! After every create or update, the next step is a STREAM.INFO: nats-server captures a
//! stream's subjects before it answers the create, Sluice a moment later (see
//! jetstream_publish.rs `publish_right_after_create_is_captured`); the INFO round trip
//! keeps that race out of the comparison of the publishes that follow.
//!
//! On a mismatch the test prints the request and both normalised replies, with the JSON
//! paths that differ, and fails once the whole session has run.

mod common;
#[path = "common/differential.rs"]
mod differential;

use common::jetstream::js_opts;
use differential::{json_diff, normalise_headers, normalise_json_text};

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use common::{NatsServerProcess, TestServer};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How long to wait for a reply that should come.
const REPLY_WAIT: Duration = Duration::from_secs(3);
/// How long to wait for a reply to a request nats-server does not answer.
const QUIET_WAIT: Duration = Duration::from_millis(250);

// ---------------------------------------------------------------------------------------
// A raw request/reply connection
// ---------------------------------------------------------------------------------------

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    next: u64,
}

/// What came back for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reply {
    Nothing,
    Msg {
        headers: Option<String>,
        payload: String,
    },
    /// A protocol error line (`-ERR ...`).
    Err(String),
    /// Every message of a batched reply, up to and including its closing status.
    Many(Vec<Reply>),
}

impl Conn {
    async fn connect(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).ok();
        let mut c = Conn {
            stream,
            buf: Vec::new(),
            next: 0,
        };
        let info = c.line(Instant::now() + REPLY_WAIT).await.expect("INFO");
        assert!(info.starts_with("INFO "), "{info}");
        c.send(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true,\"protocol\":1}\r\nSUB _R.> 1\r\nPING\r\n",
        )
        .await;
        let end = Instant::now() + REPLY_WAIT;
        loop {
            let l = c.line(end).await.expect("PONG after CONNECT");
            if l == "PONG" {
                break;
            }
        }
        c
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
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

    /// Sends one request and waits for its reply (messages for older, unanswered
    /// requests are skipped).
    async fn request(
        &mut self,
        subject: &str,
        headers: &[(String, String)],
        body: &str,
        wait: Duration,
    ) -> Reply {
        self.next += 1;
        let inbox = format!("_R.{}", self.next);
        let mut out = if headers.is_empty() {
            format!("PUB {subject} {inbox} {}\r\n", body.len()).into_bytes()
        } else {
            let mut h = String::from("NATS/1.0\r\n");
            for (k, v) in headers {
                let _ = write!(h, "{k}: {v}\r\n");
            }
            h.push_str("\r\n");
            format!(
                "HPUB {subject} {inbox} {} {}\r\n{h}",
                h.len(),
                h.len() + body.len()
            )
            .into_bytes()
        };
        out.extend_from_slice(body.as_bytes());
        out.extend_from_slice(b"\r\n");
        self.send(&out).await;
        let until = Instant::now() + wait;
        loop {
            let Some(l) = self.line(until).await else {
                return Reply::Nothing;
            };
            let parts: Vec<&str> = l.split(' ').collect();
            match parts[0] {
                "PING" => self.send(b"PONG\r\n").await,
                "MSG" => {
                    let n: usize = parts[parts.len() - 1].parse().unwrap();
                    let data = self.bytes(n, until).await.expect("MSG payload");
                    if parts[1] == inbox {
                        return Reply::Msg {
                            headers: None,
                            payload: String::from_utf8_lossy(&data).into_owned(),
                        };
                    }
                }
                "HMSG" => {
                    let total: usize = parts[parts.len() - 1].parse().unwrap();
                    let hlen: usize = parts[parts.len() - 2].parse().unwrap();
                    let data = self.bytes(total, until).await.expect("HMSG payload");
                    if parts[1] == inbox {
                        return Reply::Msg {
                            headers: Some(String::from_utf8_lossy(&data[..hlen]).into_owned()),
                            payload: String::from_utf8_lossy(&data[hlen..]).into_owned(),
                        };
                    }
                }
                "-ERR" => return Reply::Err(l),
                _ => {}
            }
        }
    }

    /// A request whose reply is several messages: collects them until one carries a
    /// status line (`NATS/1.0 <code>`), or the wait runs out.
    async fn batch(&mut self, subject: &str, body: &str) -> Reply {
        let mut all = vec![self.request(subject, &[], body, REPLY_WAIT).await];
        let inbox = format!("_R.{}", self.next);
        let until = Instant::now() + REPLY_WAIT;
        let is_status = |r: &Reply| !matches!(r, Reply::Msg { headers: Some(h), .. } if !h.starts_with("NATS/1.0 "));
        while !all.last().is_some_and(is_status) {
            let Some(l) = self.line(until).await else {
                all.push(Reply::Nothing);
                break;
            };
            let parts: Vec<&str> = l.split(' ').collect();
            match parts[0] {
                "PING" => self.send(b"PONG\r\n").await,
                "HMSG" if parts[1] == inbox => {
                    let total: usize = parts[parts.len() - 1].parse().unwrap();
                    let hlen: usize = parts[parts.len() - 2].parse().unwrap();
                    let data = self.bytes(total, until).await.expect("HMSG payload");
                    all.push(Reply::Msg {
                        headers: Some(String::from_utf8_lossy(&data[..hlen]).into_owned()),
                        payload: String::from_utf8_lossy(&data[hlen..]).into_owned(),
                    });
                }
                "MSG" if parts[1] == inbox => {
                    let n: usize = parts[parts.len() - 1].parse().unwrap();
                    let data = self.bytes(n, until).await.expect("MSG payload");
                    all.push(Reply::Msg {
                        headers: None,
                        payload: String::from_utf8_lossy(&data).into_owned(),
                    });
                }
                _ => {}
            }
        }
        Reply::Many(all)
    }

    /// STREAM.INFO of a mirror, repeated until it shows `last_seq` with no lag (or the
    /// deadline passes): mirrors copy in the background on nats-server.
    async fn settled_info(&mut self, name: &str, last_seq: u64) -> Reply {
        let end = Instant::now() + common::DEADLINE;
        loop {
            let subject = format!("$JS.API.STREAM.INFO.{name}");
            let r = self.request(&subject, &[], "", REPLY_WAIT).await;
            if let Reply::Msg { payload, .. } = &r {
                let v: Value = serde_json::from_str(payload).unwrap_or_default();
                if v["state"]["last_seq"] == last_seq && v["mirror"]["lag"] == 0 {
                    return r;
                }
            }
            if Instant::now() >= end {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A publish without a reply subject, then a PING/PONG so it has been processed
    /// by the server's reader.
    async fn publish(&mut self, subject: &str, body: &str) {
        let msg = format!("PUB {subject} {}\r\n{body}\r\nPING\r\n", body.len());
        self.send(msg.as_bytes()).await;
        let end = Instant::now() + REPLY_WAIT;
        while self.line(end).await.expect("PONG after PUB") != "PONG" {}
    }
}

// ---------------------------------------------------------------------------------------
// Normalisation and comparison
// ---------------------------------------------------------------------------------------

fn render(r: &Reply) -> String {
    match r {
        Reply::Nothing => "<no reply>".into(),
        Reply::Err(e) => format!("<protocol error> {e}"),
        Reply::Many(all) => all.iter().map(render).collect::<Vec<_>>().join(" | "),
        Reply::Msg { headers, payload } => {
            let mut s = String::new();
            if let Some(h) = headers {
                let _ = write!(s, "[{}] ", normalise_headers(h));
            }
            if serde_json::from_str::<Value>(payload).is_ok() {
                s.push_str(&normalise_mirror_active(&normalise_json_text(payload)));
            } else {
                let _ = write!(s, "{payload:?}");
            }
            s
        }
    }
}

/// A mirror block's `"active":<n>` with n >= 0 becomes `"active":"<active>"`.
fn normalise_mirror_active(text: &str) -> String {
    const KEY: &str = "\"active\":";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(KEY) {
        out.push_str(&rest[..i + KEY.len()]);
        rest = &rest[i + KEY.len()..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            out.push_str("\"<active>\"");
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

fn explain(ns: &Reply, sl: &Reply) -> Vec<String> {
    let json = |r: &Reply| match r {
        Reply::Msg { payload, .. } => {
            serde_json::from_str::<Value>(&normalise_json_text(payload)).ok()
        }
        _ => None,
    };
    match (json(ns), json(sl)) {
        (Some(a), Some(b)) => {
            let mut out = Vec::new();
            json_diff("$", &a, &b, &mut out);
            if out.is_empty() {
                let hn = matches!(
                    ns,
                    Reply::Msg {
                        headers: Some(_),
                        ..
                    }
                );
                let hs = matches!(
                    sl,
                    Reply::Msg {
                        headers: Some(_),
                        ..
                    }
                );
                out.push(if hn || hs {
                    "same JSON; the headers differ".into()
                } else {
                    "same JSON values; the text differs (key order, escaping or spacing)".into()
                });
            }
            out
        }
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------------------

enum Step {
    Req {
        subject: String,
        headers: Vec<(String, String)>,
        body: String,
        wait: Duration,
    },
    Pub {
        subject: String,
        body: String,
    },
    Batch {
        subject: String,
        body: String,
    },
    /// A mirror's STREAM.INFO once it reached `last_seq` with no lag.
    Settled {
        name: String,
        last_seq: u64,
    },
}

#[derive(Default)]
struct Script {
    steps: Vec<Step>,
}

impl Script {
    fn req(&mut self, subject: &str, body: &str) -> &mut Self {
        self.hreq(subject, &[], body)
    }

    fn hreq(&mut self, subject: &str, headers: &[(&str, &str)], body: &str) -> &mut Self {
        self.steps.push(Step::Req {
            subject: subject.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.into(),
            wait: REPLY_WAIT,
        });
        self
    }

    /// A request answered by several messages ending with a status (batched direct
    /// gets): all of them are compared.
    fn batch(&mut self, subject: &str, body: &str) -> &mut Self {
        self.steps.push(Step::Batch {
            subject: subject.into(),
            body: body.into(),
        });
        self
    }

    /// A request nats-server does not answer: waits only briefly.
    fn quiet(&mut self, subject: &str, body: &str) -> &mut Self {
        self.steps.push(Step::Req {
            subject: subject.into(),
            headers: Vec::new(),
            body: body.into(),
            wait: QUIET_WAIT,
        });
        self
    }

    fn publish(&mut self, subject: &str, body: &str) -> &mut Self {
        self.steps.push(Step::Pub {
            subject: subject.into(),
            body: body.into(),
        });
        self
    }

    /// STREAM.CREATE, then STREAM.INFO of the same name.
    fn create(&mut self, name: &str, config: &str) -> &mut Self {
        self.req(&format!("$JS.API.STREAM.CREATE.{name}"), config);
        self.req(&format!("$JS.API.STREAM.INFO.{name}"), "")
    }

    /// STREAM.UPDATE, then STREAM.INFO of the same name.
    fn update(&mut self, name: &str, config: &str) -> &mut Self {
        self.req(&format!("$JS.API.STREAM.UPDATE.{name}"), config);
        self.req(&format!("$JS.API.STREAM.INFO.{name}"), "")
    }

    /// STREAM.INFO of a mirror once it copied up to `last_seq` (see `settled_info`).
    fn settled(&mut self, name: &str, last_seq: u64) -> &mut Self {
        self.steps.push(Step::Settled {
            name: name.into(),
            last_seq,
        });
        self
    }

    fn info(&mut self, name: &str, body: &str) -> &mut Self {
        self.req(&format!("$JS.API.STREAM.INFO.{name}"), body)
    }
}

/// Waits until `$JS.API.INFO` gets an answer (both servers get exactly one answered
/// INFO, so their API counters stay comparable).
async fn js_ready(c: &mut Conn) {
    let end = Instant::now() + common::DEADLINE;
    loop {
        let r = c
            .request("$JS.API.INFO", &[], "", Duration::from_millis(500))
            .await;
        if let Reply::Msg {
            headers: None,
            payload,
        } = &r
        {
            if payload.contains("account_info_response") {
                return;
            }
        }
        assert!(Instant::now() < end, "JetStream never answered: {r:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn run(name: &str, script: Script) {
    let Some(bin) = common::require_nats_server() else {
        return;
    };
    let ns_dir = tempfile::tempdir().unwrap();
    let sl_dir = tempfile::tempdir().unwrap();
    let ns = NatsServerProcess::start(&bin, &["-js", "-sd", ns_dir.path().to_str().unwrap()]).await;
    let sl = TestServer::start(js_opts(sl_dir.path())).await;
    let mut a = Conn::connect(ns.addr).await;
    let mut b = Conn::connect(sl.addr).await;
    js_ready(&mut a).await;
    js_ready(&mut b).await;

    let mut report = String::new();
    let mut mismatches = 0;
    for (i, step) in script.steps.iter().enumerate() {
        let (what, ra, rb) = match step {
            Step::Pub { subject, body } => {
                a.publish(subject, body).await;
                b.publish(subject, body).await;
                continue;
            }
            Step::Settled { name, last_seq } => {
                let ra = a.settled_info(name, *last_seq).await;
                let rb = b.settled_info(name, *last_seq).await;
                (
                    format!("$JS.API.STREAM.INFO.{name} (settled at {last_seq})"),
                    ra,
                    rb,
                )
            }
            Step::Batch { subject, body } => {
                let ra = a.batch(subject, body).await;
                let rb = b.batch(subject, body).await;
                (format!("{subject} {body:?} (batch)"), ra, rb)
            }
            Step::Req {
                subject,
                headers,
                body,
                wait,
            } => {
                let ra = a.request(subject, headers, body, *wait).await;
                let rb = b.request(subject, headers, body, *wait).await;
                let hdrs: Vec<String> = headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                let what = if hdrs.is_empty() {
                    format!("{subject} {body:?}")
                } else {
                    format!("{subject} [{}] {body:?}", hdrs.join("; "))
                };
                (what, ra, rb)
            }
        };
        let (na, nb) = (render(&ra), render(&rb));
        if na != nb {
            mismatches += 1;
            let _ = writeln!(
                report,
                "\n#{i} {what}\n  nats-server: {na}\n  Sluice:      {nb}"
            );
            for d in explain(&ra, &rb) {
                let _ = writeln!(report, "    - {d}");
            }
        }
    }
    drop(a);
    drop(b);
    sl.shutdown().await;
    drop(ns);
    assert!(
        mismatches == 0,
        "session {name}: {mismatches} of {} steps differ from nats-server:{report}",
        script.steps.len()
    );
}

// ---------------------------------------------------------------------------------------
// The sessions
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_info() {
    let mut s = Script::default();
    s.req("$JS.API.INFO", "");
    s.create(
        "A1",
        r#"{"name":"A1","subjects":["a1.*"],"max_bytes":1000}"#,
    );
    s.create(
        "A2",
        r#"{"name":"A2","subjects":["a2.*"],"storage":"memory","max_bytes":500}"#,
    );
    s.req("a1.x", "hello");
    s.req("a2.x", "hello");
    s.req("$JS.API.STREAM.CREATE.A3", r#"{"name":"A3","max_age":5}"#);
    s.req("$JS.API.INFO", "");
    s.req("$JS.API.INFO", "{}");
    s.req("$JS.API.STREAM.DELETE.A2", "");
    s.req("$JS.API.INFO", "");
    run("account_info", s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_create_variants() {
    let mut s = Script::default();
    let c = |s: &mut Script, name: &str, cfg: &str| {
        s.create(name, cfg);
    };
    c(
        &mut s,
        "V1",
        r#"{"name":"V1","subjects":["v1.*"],"max_age":50000000}"#,
    );
    c(
        &mut s,
        "V1",
        r#"{"name":"V1","subjects":["v1.*"],"max_age":-1}"#,
    );
    c(
        &mut s,
        "V1",
        r#"{"name":"V1","subjects":["v1.*"],"duplicate_window":50000000}"#,
    );
    c(
        &mut s,
        "V1",
        r#"{"name":"V1","subjects":["v1.*"],"duplicate_window":-5}"#,
    );
    c(
        &mut s,
        "V1",
        r#"{"name":"V1","subjects":["v1.*"],"max_age":1000000000,"duplicate_window":2000000000}"#,
    );
    c(
        &mut s,
        "V1",
        r#"{"name":"V1","subjects":["v1.*"],"max_age":1000000000}"#,
    );
    // The same again (idempotent), then a different config (10058).
    c(
        &mut s,
        "V1",
        r#"{"name":"V1","subjects":["v1.*"],"max_age":1000000000}"#,
    );
    c(
        &mut s,
        "V1",
        r#"{"name":"V1","subjects":["v1.*"],"max_age":2000000000}"#,
    );
    c(&mut s, "V2", r#"{"name":"V1","subjects":["v2.*"]}"#);
    s.quiet(
        "$JS.API.STREAM.CREATE.V.2",
        r#"{"name":"V.2","subjects":["v2.*"]}"#,
    );
    c(&mut s, "V3", r#"{"name":"V3","subjects":["v1.*"]}"#);
    c(&mut s, "V3", r#"{"name":"V3","subjects":["v1.a"]}"#);
    c(&mut s, "V3", r#"{"name":"V3","subjects":["v3.a","v3.a"]}"#);
    c(&mut s, "V3", r#"{"name":"V3","subjects":["v3.*","v3.a"]}"#);
    c(&mut s, "V3", r#"{"name":"V3","subjects":["v3..a"]}"#);
    c(&mut s, "V3", r#"{"name":"V3","subjects":[">"]}"#);
    c(&mut s, "V3", r#"{"name":"V3","subjects":["$JS.API.>"]}"#);
    c(
        &mut s,
        "V3",
        r#"{"name":"V3","subjects":["v3"],"num_replicas":3}"#,
    );
    c(
        &mut s,
        "V3",
        r#"{"name":"V3","subjects":["v3"],"num_replicas":-1}"#,
    );
    c(
        &mut s,
        "V3",
        r#"{"name":"V3","subjects":["v3"],"num_replicas":7}"#,
    );
    c(
        &mut s,
        "V3",
        r#"{"name":"V3","subjects":["v3"],"sealed":true}"#,
    );
    c(
        &mut s,
        "V3",
        r#"{"name":"V3","subjects":["v3"],"deny_purge":true,"allow_rollup_hdrs":true}"#,
    );
    c(
        &mut s,
        "V3",
        r#"{"name":"V3","subjects":["v3"],"discard_new_per_subject":true}"#,
    );
    c(
        &mut s,
        "V3",
        r#"{"name":"V3","subjects":["v3"],"discard":"new","discard_new_per_subject":true}"#,
    );
    c(
        &mut s,
        "V3",
        r#"{"name":"V3","subjects":["v3"],"mirror_direct":true}"#,
    );
    c(&mut s, "V3", r#"{"name":"V3","subjects":["v3"],"bogus":1}"#);
    c(
        &mut s,
        "V3",
        r#"{"name":"V3","subjects":["v3"],"retention":"nope"}"#,
    );
    c(
        &mut s,
        "V3",
        r#"{"name":"V3","subjects":["v3"],"storage":"disk"}"#,
    );
    c(
        &mut s,
        "V3",
        r#"{"name":"V3","subjects":["v3"],"max_msgs":"10"}"#,
    );
    c(&mut s, "V3", "not json");
    c(&mut s, "V3", "");
    c(&mut s, "V3", "{}");
    c(
        &mut s,
        "V3",
        r#"{"name":"V3","subjects":["v3"],"storage":"memory","discard":"NEW"}"#,
    );
    c(
        &mut s,
        "V4",
        r#"{"name":"V4","max_msgs":0,"max_bytes":-7,"max_msgs_per_subject":0,"max_msg_size":0,"max_consumers":0}"#,
    );
    c(
        &mut s,
        "V5",
        r#"{"name":"V5","subjects":["v5"],"description":"d","first_seq":10,"metadata":{"a":"b"},"compression":"s2","allow_direct":true,"deny_delete":true}"#,
    );
    c(
        &mut s,
        "V6",
        r#"{"name":"V6","subjects":["v6"],"placement":{"cluster":"x"}}"#,
    );
    c(
        &mut s,
        "V7",
        r#"{"name":"V7","subjects":["v7"],"pedantic":true,"max_msgs":0}"#,
    );
    c(
        &mut s,
        "V7",
        r#"{"name":"V7","subjects":["v7"],"pedantic":true}"#,
    );
    c(
        &mut s,
        "V8",
        r#"{"name":"V8","subjects":["v8"],"no_ack":true}"#,
    );
    c(
        &mut s,
        "V9",
        r#"{"name":"V9","subjects":["v9.>"],"retention":"workqueue"}"#,
    );
    c(
        &mut s,
        "V10",
        r#"{"name":"V10","subjects":["v10.>"],"retention":"interest"}"#,
    );
    c(
        &mut s,
        "V11",
        r#"{"name":"V11","subjects":["v11"],"metadata":{"_nats.x":"y","k":"v"}}"#,
    );
    c(
        &mut s,
        "V12",
        r#"{"name":"V12","subjects":["v12.*"],"max_msgs_per_subject":5,"discard":"new","discard_new_per_subject":true,"max_age":3600000000000}"#,
    );
    c(
        &mut s,
        "V13",
        r#"{"name":"V13","subjects":["V13"],"compression":"none","allow_rollup_hdrs":true,"allow_direct":true,"max_msg_size":1024}"#,
    );
    let long = "L".repeat(256);
    c(&mut s, &long, &format!(r#"{{"name":"{long}"}}"#));
    c(
        &mut s,
        "DESC",
        &format!(r#"{{"name":"DESC","description":"{}"}}"#, "d".repeat(4097)),
    );
    s.req("$JS.API.STREAM.NAMES", "");
    run("stream_create_variants", s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_update_rules() {
    let mut s = Script::default();
    s.create("U1", r#"{"name":"U1","subjects":["u1.*"],"max_msgs":10}"#);
    s.create("OTHER", r#"{"name":"OTHER","subjects":["other.*"]}"#);
    s.req("u1.a", "x");
    let u = |s: &mut Script, cfg: &str| {
        s.update("U1", cfg);
    };
    u(
        &mut s,
        r#"{"name":"U1","subjects":["u1.*","u1b"],"max_msgs":20,"description":"x"}"#,
    );
    s.req("u1b", "new subject");
    u(
        &mut s,
        r#"{"name":"U1","subjects":["u1.*"],"storage":"memory"}"#,
    );
    u(
        &mut s,
        r#"{"name":"U1","subjects":["u1.*"],"retention":"workqueue"}"#,
    );
    u(&mut s, r#"{"name":"U2","subjects":["u1.*"]}"#);
    u(&mut s, r#"{"name":"U1","subjects":["other.x"]}"#);
    u(
        &mut s,
        r#"{"name":"U1","subjects":["u1.*"],"max_age":50000000}"#,
    );
    u(
        &mut s,
        r#"{"name":"U1","subjects":["u1.*"],"num_replicas":3}"#,
    );
    s.req("u1.c", "third");
    u(
        &mut s,
        r#"{"name":"U1","subjects":["u1.*","u1b"],"max_msgs":2}"#,
    );
    u(
        &mut s,
        r#"{"name":"U1","subjects":["u1.*"],"deny_delete":true,"deny_purge":true}"#,
    );
    u(
        &mut s,
        r#"{"name":"U1","subjects":["u1.*"],"deny_delete":false,"deny_purge":true}"#,
    );
    u(
        &mut s,
        r#"{"name":"U1","subjects":["u1.*"],"deny_delete":true,"deny_purge":false}"#,
    );
    u(
        &mut s,
        r#"{"name":"U1","subjects":["u1.*"],"deny_delete":true,"deny_purge":true,"allow_rollup_hdrs":true}"#,
    );
    u(
        &mut s,
        r#"{"name":"U1","subjects":["u1.*"],"deny_delete":true,"deny_purge":true,"sealed":true}"#,
    );
    u(
        &mut s,
        r#"{"name":"U1","subjects":["u1.*"],"deny_delete":true,"deny_purge":true,"sealed":false}"#,
    );
    u(
        &mut s,
        r#"{"name":"U1","subjects":["u1.*"],"deny_delete":true,"deny_purge":true,"sealed":true,"max_msgs":50}"#,
    );
    s.req("$JS.API.STREAM.UPDATE.U1", "");
    s.req("$JS.API.STREAM.UPDATE.U1", "x");
    s.req(
        "$JS.API.STREAM.UPDATE.NOPE",
        r#"{"name":"NOPE","subjects":["nope"]}"#,
    );
    s.req(
        "$JS.API.STREAM.CREATE.U1",
        r#"{"name":"U1","subjects":["u1.*"],"max_msgs":10}"#,
    );
    s.create(
        "U3",
        r#"{"name":"U3","subjects":["u3"],"allow_direct":true}"#,
    );
    s.update(
        "U3",
        r#"{"name":"U3","subjects":["u3"],"allow_direct":false,"max_msgs_per_subject":3,"discard":"new"}"#,
    );
    s.update(
        "U3",
        r#"{"name":"U3","subjects":["u3"],"allow_direct":false,"max_msgs_per_subject":3,"discard":"new","discard_new_per_subject":true}"#,
    );
    // limits -> interest with messages and no consumers: nats-server drops them.
    s.create("UI", r#"{"name":"UI","subjects":["ui.*"]}"#);
    s.req("ui.a", "x");
    s.req("ui.b", "y");
    s.update(
        "UI",
        r#"{"name":"UI","subjects":["ui.*"],"retention":"interest"}"#,
    );
    s.update(
        "UI",
        r#"{"name":"UI","subjects":["ui.*"],"retention":"limits"}"#,
    );
    run("stream_update_rules", s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_list_and_delete() {
    let mut s = Script::default();
    s.req("$JS.API.STREAM.NAMES", "");
    s.req("$JS.API.STREAM.LIST", "");
    for (name, cfg) in [
        ("N1", r#"{"name":"N1","subjects":["n1.*"]}"#),
        (
            "N2",
            r#"{"name":"N2","subjects":["n2.>"],"storage":"memory"}"#,
        ),
        ("N3", r#"{"name":"N3","subjects":["n3","shared.n3"]}"#),
        ("a4", r#"{"name":"a4","subjects":["a4.*.x"]}"#),
        ("Z5", r#"{"name":"Z5"}"#),
    ] {
        s.create(name, cfg);
    }
    s.req("n1.a", "1");
    s.req("n2.a.b", "2");
    for body in [
        "",
        "{}",
        r#"{"offset":2}"#,
        r#"{"offset":100}"#,
        r#"{"offset":-1}"#,
        r#"{"subject":"n1.x"}"#,
        r#"{"subject":"*.x"}"#,
        r#"{"subject":">"}"#,
        r#"{"subject":"shared.*"}"#,
        r#"{"subject":"zzz"}"#,
        r#"{"subject":"a4.b.x","offset":0}"#,
        "garbage",
        r#"{"bogus":1}"#,
    ] {
        s.req("$JS.API.STREAM.NAMES", body);
        s.req("$JS.API.STREAM.LIST", body);
    }
    s.req("$JS.API.STREAM.DELETE.N2", "x");
    s.req("$JS.API.STREAM.DELETE.N2", "{}");
    s.req("$JS.API.STREAM.DELETE.N2", "");
    s.req("$JS.API.STREAM.DELETE.N2", "");
    s.info("N2", "");
    s.req("$JS.API.STREAM.NAMES", "");
    s.req("n2.a.b", "gone");
    s.create("N2", r#"{"name":"N2","subjects":["n2.>"]}"#);
    s.req("n2.a.b", "back");
    s.info("N2", "");
    s.req("$JS.API.STREAM.LIST", r#"{"offset":1}"#);
    run("names_list_and_delete", s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_headers_and_dedupe() {
    let mut s = Script::default();
    s.create("P", r#"{"name":"P","subjects":["p.>"]}"#);
    for i in 0..10 {
        s.req(&format!("p.{}", ["a", "b", "c"][i % 3]), &format!("m{i}"));
    }
    let id = "Nats-Msg-Id";
    let es = "Nats-Expected-Stream";
    let els = "Nats-Expected-Last-Sequence";
    let elss = "Nats-Expected-Last-Subject-Sequence";
    let elsss = "Nats-Expected-Last-Subject-Sequence-Subject";
    let elm = "Nats-Expected-Last-Msg-Id";
    for (headers, body) in [
        (vec![(id, "id1"), ("X", "y")], "hh"),
        (vec![(id, "id1")], "dup"),
        (vec![(id, "id1"), (es, "P")], "dup with expectation"),
        (vec![(es, "Q")], "x"),
        (vec![(es, "P")], "x"),
        (vec![(els, "3")], "x"),
        (vec![(els, "12")], "x"),
        (vec![(els, "x")], "x"),
        (vec![(els, "-1")], "x"),
        (vec![(elss, "3")], "x"),
        (vec![(elss, "13")], "x"),
        (vec![(elss, "0")], "x"),
        (vec![(elss, "abc")], "x"),
        (vec![(elm, "nope")], "x"),
        (vec![(id, "id2"), (elm, "nope")], "x"),
        (vec![(elm, "")], "x"),
        (vec![(id, "id3")], "x"),
        (vec![(elm, "id3")], "x"),
        (vec![(id, "id4"), (elm, "")], "x"),
        (vec![(id, "id3")], "x"),
        (vec![(elsss, "p.b")], "x"),
        (vec![(elss, "3"), (elsss, "p.b")], "x"),
        (vec![(elss, "8"), (elsss, "p.b")], "x"),
        (vec![(elss, "0"), (elsss, "p.none")], "x"),
        (vec![(elss, "8"), (elsss, "p.*")], "x"),
        (vec![("Nats-Rollup", "sub")], "x"),
        (vec![("Nats-TTL", "5s")], "x"),
        (vec![(es, "Q"), (els, "1")], "x"),
        (vec![(els, "1"), (elss, "1")], "x"),
    ] {
        s.hreq("p.a", &headers, body);
    }
    s.hreq("p.z", &[(elss, "0")], "first on p.z");
    s.hreq("p.z", &[(elss, "0")], "second on p.z");
    s.publish("p.nor", "no reply");
    s.publish("p.nor", "no reply again");
    s.info("P", r#"{"subjects_filter":">"}"#);
    s.req("$JS.API.STREAM.MSG.GET.P", r#"{"seq":11}"#);
    s.req("$JS.API.STREAM.MSG.GET.P", r#"{"last_by_subj":"p.nor"}"#);
    // Dedupe with a short window (long enough for a loaded CI machine) and expected
    // headers on a memory stream.
    s.create(
        "PM",
        r#"{"name":"PM","subjects":["pm"],"storage":"memory","duplicate_window":5000000000}"#,
    );
    s.hreq("pm", &[(id, "a")], "1");
    s.hreq("pm", &[(id, "a")], "1");
    s.hreq("pm", &[(elm, "a"), (id, "b")], "2");
    s.hreq("pm", &[(els, "2")], "3");
    s.info("PM", "");
    run("publish_headers_and_dedupe", s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_and_discard() {
    let mut s = Script::default();
    s.create("L1", r#"{"name":"L1","subjects":["l1.*"],"max_msgs":3}"#);
    for i in 0..5 {
        s.req("l1.a", &format!("x{i}"));
    }
    s.info("L1", r#"{"deleted_details":true}"#);
    s.create(
        "L2",
        r#"{"name":"L2","subjects":["l2.*"],"max_msgs":3,"discard":"new"}"#,
    );
    for i in 0..5 {
        s.req("l2.a", &format!("x{i}"));
    }
    s.create(
        "L3",
        r#"{"name":"L3","subjects":["l3.*"],"max_bytes":200,"discard":"new"}"#,
    );
    for _ in 0..5 {
        s.req("l3.a", &"x".repeat(30));
    }
    s.req("l3.a", &"y".repeat(300));
    s.create("L4", r#"{"name":"L4","subjects":["l4.*"],"max_bytes":200}"#);
    for _ in 0..6 {
        s.req("l4.a", &"x".repeat(30));
    }
    s.info("L4", "");
    s.create(
        "L5",
        r#"{"name":"L5","subjects":["l5.*"],"max_msgs_per_subject":2}"#,
    );
    for i in 0..7 {
        s.req(&format!("l5.{}", ["a", "b"][i % 2]), &format!("x{i}"));
    }
    s.info("L5", r#"{"deleted_details":true,"subjects_filter":">"}"#);
    s.create(
        "L6",
        r#"{"name":"L6","subjects":["l6.*"],"max_msgs_per_subject":2,"discard":"new","discard_new_per_subject":true}"#,
    );
    for i in 0..5 {
        s.req(&format!("l6.{}", ["a", "b"][i % 2]), &format!("x{i}"));
    }
    s.create(
        "L6b",
        r#"{"name":"L6b","subjects":["l6b.*"],"max_msgs_per_subject":2,"discard":"new"}"#,
    );
    for i in 0..5 {
        s.req("l6b.a", &format!("x{i}"));
    }
    s.info("L6b", r#"{"deleted_details":true}"#);
    s.create(
        "L7",
        r#"{"name":"L7","subjects":["l7.*"],"max_msg_size":10}"#,
    );
    s.req("l7.a", "0123456789");
    s.req("l7.a", "0123456789a");
    s.hreq("l7.a", &[("A", "b")], "01234");
    s.hreq("l7.a", &[("A", "b")], "");
    s.create(
        "L8",
        r#"{"name":"L8","subjects":["l8.*"],"storage":"memory","max_bytes":150}"#,
    );
    s.req("l8.a", "hello");
    s.hreq("l8.a", &[("A", "b")], "hello");
    for _ in 0..4 {
        s.req("l8.b", &"z".repeat(20));
    }
    s.info("L8", r#"{"deleted_details":true}"#);
    s.create(
        "L9",
        r#"{"name":"L9","subjects":["l9.*"],"storage":"memory","max_msgs":2,"discard":"new"}"#,
    );
    for _ in 0..3 {
        s.req("l9.a", "m");
    }
    s.create("N1", r#"{"name":"N1","subjects":["n1.*"],"no_ack":true}"#);
    s.quiet("n1.a", "with reply");
    s.publish("n1.a", "x");
    s.info("N1", "");
    s.create("F1", r#"{"name":"F1","subjects":["f1.*"],"first_seq":100}"#);
    s.req("f1.a", "x");
    s.info("F1", "");
    s.create(
        "W1",
        r#"{"name":"W1","subjects":["w1.*"],"retention":"workqueue"}"#,
    );
    s.req("w1.a", "x");
    s.info("W1", "");
    s.create(
        "I1",
        r#"{"name":"I1","subjects":["i1.*"],"retention":"interest"}"#,
    );
    s.req("i1.a", "x");
    s.info("I1", "");
    run("limits_and_discard", s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_variants() {
    let mut s = Script::default();
    s.create("PU", r#"{"name":"PU","subjects":["pu.>"]}"#);
    for i in 0..20 {
        s.req(
            &format!("pu.{}", ["a", "b", "c", "d.e"][i % 4]),
            &format!("m{i}"),
        );
    }
    for body in [
        r#"{"filter":"pu.c"}"#,
        r#"{"filter":"pu.c"}"#,
        r#"{"seq":5}"#,
        r#"{"filter":"pu.a","seq":14}"#,
        r#"{"filter":"pu.b","keep":2}"#,
        r#"{"filter":"pu.>","keep":5}"#,
        r#"{"keep":2,"seq":3}"#,
        r#"{"filter":"nope.*"}"#,
        r#"{"filter":"pu.*","seq":1}"#,
        r#"{"keep":100}"#,
        r#"{"bogus":1}"#,
        "not json",
    ] {
        s.req("$JS.API.STREAM.PURGE.PU", body);
        s.info("PU", r#"{"deleted_details":true,"subjects_filter":">"}"#);
    }
    s.req("$JS.API.STREAM.PURGE.PU", r#"{"keep":1}"#);
    s.req("$JS.API.STREAM.PURGE.PU", "");
    s.info("PU", r#"{"deleted_details":true}"#);
    s.req("$JS.API.STREAM.PURGE.PU", "");
    s.req("pu.a", "after purge");
    s.info("PU", "");
    s.req("$JS.API.STREAM.PURGE.NOPE", "");
    s.create(
        "PM",
        r#"{"name":"PM","subjects":["pm.*"],"storage":"memory","first_seq":50}"#,
    );
    s.req("$JS.API.STREAM.PURGE.PM", "");
    s.info("PM", "");
    for i in 0..6 {
        s.req(&format!("pm.{}", ["a", "b"][i % 2]), "x");
    }
    s.req("$JS.API.STREAM.PURGE.PM", r#"{"seq":53}"#);
    s.req("$JS.API.STREAM.PURGE.PM", r#"{"filter":"pm.b","keep":1}"#);
    s.info("PM", r#"{"deleted_details":true,"subjects_filter":">"}"#);
    s.create("PD", r#"{"name":"PD","subjects":["pd"],"deny_purge":true}"#);
    s.req("pd", "x");
    s.req("$JS.API.STREAM.PURGE.PD", "");
    s.req("$JS.API.STREAM.PURGE.PD", r#"{"keep":0}"#);
    run("purge_variants", s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msg_get_variants() {
    let mut s = Script::default();
    s.create("G", r#"{"name":"G","subjects":["g.>"]}"#);
    for i in 0..10 {
        s.req(&format!("g.{}", ["a", "b", "c"][i % 3]), &format!("m{i}"));
    }
    s.hreq(
        "g.h",
        &[("X-One", "1"), ("X-Two", "two words")],
        "with headers",
    );
    s.req("g.empty", "");
    s.hreq("g.hempty", &[("K", "v")], "");
    for body in [
        r#"{"seq":1}"#,
        r#"{"seq":11}"#,
        r#"{"seq":11,"no_hdr":true}"#,
        r#"{"seq":12}"#,
        r#"{"seq":13}"#,
        r#"{"seq":999}"#,
        r#"{"seq":0}"#,
        r#"{"last_by_subj":"g.b"}"#,
        r#"{"last_by_subj":"g.*"}"#,
        r#"{"last_by_subj":"g.>"}"#,
        r#"{"last_by_subj":"g.q"}"#,
        r#"{"next_by_subj":"g.c"}"#,
        r#"{"next_by_subj":"g.c","seq":4}"#,
        r#"{"next_by_subj":"g.c","seq":100}"#,
        r#"{"next_by_subj":"g.*","seq":10}"#,
        r#"{"seq":1,"last_by_subj":"g.a"}"#,
        r#"{"last_by_subj":"g.a","next_by_subj":"g.a"}"#,
        r#"{"seq":1,"batch":2}"#,
        r#"{"seq":1,"max_bytes":2}"#,
        r#"{"start_time":"2000-01-01T00:00:00Z"}"#,
        r#"{"bogus":1}"#,
        "{}",
        "",
        "nope",
    ] {
        s.req("$JS.API.STREAM.MSG.GET.G", body);
    }
    s.req("$JS.API.STREAM.MSG.GET.NOPE", r#"{"seq":1}"#);
    s.create(
        "GM",
        r#"{"name":"GM","subjects":["gm.*"],"storage":"memory"}"#,
    );
    s.hreq("gm.a", &[("A", "b")], "mem");
    s.req("$JS.API.STREAM.MSG.GET.GM", r#"{"seq":1}"#);
    s.req("$JS.API.STREAM.MSG.GET.GM", r#"{"seq":2}"#);
    s.req("$JS.API.STREAM.MSG.GET.GM", r#"{"last_by_subj":"gm.a"}"#);
    run("msg_get_variants", s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msg_delete_variants() {
    let mut s = Script::default();
    for (name, storage) in [("DF", "file"), ("DM", "memory")] {
        let subj = name.to_lowercase();
        s.create(
            name,
            &format!(r#"{{"name":"{name}","subjects":["{subj}.*"],"storage":"{storage}"}}"#),
        );
        for _ in 0..6 {
            s.req(&format!("{subj}.a"), "x");
        }
        let del = format!("$JS.API.STREAM.MSG.DELETE.{name}");
        for body in [
            r#"{"seq":2}"#,
            r#"{"seq":2}"#,
            r#"{"seq":1}"#,
            r#"{"seq":2}"#,
            r#"{"seq":1}"#,
            r#"{"seq":4,"no_erase":true}"#,
            r#"{"seq":4}"#,
            r#"{"seq":99}"#,
            r#"{"seq":0}"#,
            "{}",
            "",
            "nope",
            r#"{"seq":6}"#,
        ] {
            s.req(&del, body);
        }
        s.info(name, r#"{"deleted_details":true}"#);
        s.req(&format!("$JS.API.STREAM.MSG.GET.{name}"), r#"{"seq":4}"#);
        s.req(&format!("{subj}.a"), "after");
        s.info(name, r#"{"deleted_details":true}"#);
    }
    s.req("$JS.API.STREAM.MSG.DELETE.NOPE", r#"{"seq":1}"#);
    s.create(
        "DD",
        r#"{"name":"DD","subjects":["dd"],"deny_delete":true}"#,
    );
    s.req("dd", "x");
    s.req("$JS.API.STREAM.MSG.DELETE.DD", r#"{"seq":1}"#);
    s.req("$JS.API.STREAM.MSG.DELETE.DD", r#"{"seq":5}"#);
    run("msg_delete_variants", s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_get_variants() {
    let mut s = Script::default();
    s.create(
        "DG",
        r#"{"name":"DG","subjects":["dg.>"],"allow_direct":true}"#,
    );
    s.create("ND", r#"{"name":"ND","subjects":["nd.>"]}"#);
    for i in 0..10 {
        s.req(&format!("dg.{}", ["a", "b", "c"][i % 3]), &format!("m{i}"));
    }
    s.hreq("dg.h", &[("Nats-Msg-Id", "id1"), ("X", "y")], "hh");
    s.req("dg.deep.er", "deep");
    s.req("nd.a", "x");
    s.req("$JS.API.STREAM.MSG.DELETE.DG", r#"{"seq":2}"#);
    for body in [
        r#"{"seq":11}"#,
        r#"{"seq":1}"#,
        r#"{"seq":2}"#,
        r#"{"seq":999}"#,
        r#"{"seq":1,"no_hdr":true}"#,
        r#"{"last_by_subj":"dg.b"}"#,
        r#"{"last_by_subj":"dg.*"}"#,
        r#"{"last_by_subj":"dg.zz"}"#,
        r#"{"next_by_subj":"dg.b","seq":3}"#,
        r#"{"next_by_subj":"dg.b"}"#,
        r#"{"next_by_subj":"dg.>","seq":12}"#,
        r#"{"seq":1,"last_by_subj":"dg.a"}"#,
        r#"{"start_time":"2000-01-01T00:00:00Z"}"#,
        "{}",
        "",
        "x",
    ] {
        s.req("$JS.API.DIRECT.GET.DG", body);
    }
    for (subject, body) in [
        ("$JS.API.DIRECT.GET.DG.dg.b", ""),
        ("$JS.API.DIRECT.GET.DG.dg.deep.er", ""),
        ("$JS.API.DIRECT.GET.DG.dg.zz", ""),
        ("$JS.API.DIRECT.GET.DG.dg.b", "{}"),
        ("$JS.API.DIRECT.GET.DG.dg.b", r#"{"seq":1}"#),
        ("$JS.API.DIRECT.GET.DG.dg.b", r#"{"no_hdr":true}"#),
        ("$JS.API.DIRECT.GET.ND", r#"{"seq":1}"#),
        ("$JS.API.DIRECT.GET.ND.nd.a", ""),
        ("$JS.API.DIRECT.GET.NOPE", r#"{"seq":1}"#),
    ] {
        s.req(subject, body);
    }
    run("direct_get_variants", s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_is_checked_before_headers() {
    let mut s = Script::default();
    s.create(
        "SZ",
        r#"{"name":"SZ","subjects":["sz.>"],"max_msg_size":40}"#,
    );
    let big = "x".repeat(60);
    for h in [
        ("Nats-Expected-Last-Subject-Sequence", "5"),
        ("Nats-Expected-Last-Sequence", "5"),
        ("Nats-Expected-Stream", "OTHER"),
        ("Nats-TTL", "5s"),
        ("Nats-Rollup", "bad"),
        ("Nats-Incr", "1"),
    ] {
        s.hreq("sz.a", &[h], &big);
        s.hreq("sz.a", &[h], "y");
    }
    run("size_is_checked_before_headers", s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn republish_configs() {
    let mut s = Script::default();
    for (name, config) in [
        (
            "R1",
            r#"{"name":"R1","subjects":["r1.>"],"republish":{"src":"r1.>","dest":"r1.y.>"}}"#,
        ),
        (
            "R2",
            r#"{"name":"R2","subjects":["r2.>"],"republish":{"src":"r2.*","dest":"out.>"}}"#,
        ),
        (
            "R3",
            r#"{"name":"R3","subjects":["r3.>"],"republish":{"dest":""}}"#,
        ),
        (
            "R4",
            r#"{"name":"R4","subjects":["r4.>"],"republish":{"dest":"out.r4.>"}}"#,
        ),
        (
            "R5",
            r#"{"name":"R5","subjects":["r5.>"],"republish":{"src":"r5.*","dest":"out.$1.{{wildcard(1)}}","headers_only":true}}"#,
        ),
        (
            "R6",
            r#"{"name":"R6","subjects":["r6.>"],"republish":{"src":"r6.*","dest":"out.$2"}}"#,
        ),
        (
            "R7",
            r#"{"name":"R7","subjects":["r7.*"],"republish":{"src":"r7.*","dest":"*"}}"#,
        ),
    ] {
        s.create(name, config);
    }
    s.req("r4.a", "x");
    run("republish_configs", s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_get_batches_and_multi_last() {
    let mut s = Script::default();
    s.create(
        "DB",
        r#"{"name":"DB","subjects":["db.>"],"allow_direct":true}"#,
    );
    for i in 0..10 {
        s.req(&format!("db.{}", i % 3), &format!("m{i}"));
    }
    s.hreq("db.1", &[("X-A", "1")], "with-headers");
    for body in [
        r#"{"seq":2,"batch":3}"#,
        r#"{"seq":1,"batch":3,"next_by_subj":"db.1"}"#,
        r#"{"batch":2,"next_by_subj":"db.2"}"#,
        r#"{"seq":9,"batch":5}"#,
        r#"{"seq":50,"batch":5}"#,
        r#"{"seq":1,"batch":3,"max_bytes":10}"#,
        r#"{"seq":2,"batch":2,"no_hdr":true}"#,
        r#"{"multi_last":["db.*"]}"#,
        r#"{"multi_last":["db.1","db.2"],"up_to_seq":6}"#,
        r#"{"multi_last":["db.0"],"batch":1}"#,
        r#"{"multi_last":["x.*"]}"#,
        r#"{"multi_last":["db.*"],"seq":8}"#,
        r#"{"multi_last":["db.*"],"up_to_time":"2000-01-01T00:00:00Z"}"#,
    ] {
        s.batch("$JS.API.DIRECT.GET.DB", body);
    }
    for body in [
        r#"{"last_by_subj":"db.1","batch":2}"#,
        r#"{"multi_last":["db.*"],"next_by_subj":"db.1"}"#,
        r#"{"multi_last":["db.*"],"last_by_subj":"db.1"}"#,
    ] {
        s.req("$JS.API.DIRECT.GET.DB", body);
    }
    run("direct_get_batches_and_multi_last", s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollup_and_seal() {
    let mut s = Script::default();
    s.create(
        "R1",
        r#"{"name":"R1","subjects":["r1.*"],"allow_rollup_hdrs":true}"#,
    );
    for i in 0..4 {
        s.req(&format!("r1.{}", ["a", "b"][i % 2]), &format!("x{i}"));
    }
    let roll = "Nats-Rollup";
    s.hreq("r1.a", &[(roll, "sub")], "roll");
    s.info("R1", r#"{"deleted_details":true,"subjects_filter":">"}"#);
    s.hreq("r1.c", &[(roll, "sub")], "fresh subject");
    s.hreq("r1.b", &[(roll, "all")], "roll all");
    s.info("R1", r#"{"deleted_details":true,"subjects_filter":">"}"#);
    s.hreq("r1.b", &[(roll, "bogus")], "x");
    s.hreq("r1.b", &[(roll, "SUB")], "x");
    s.hreq("r1.b", &[(roll, "")], "x");
    s.hreq(
        "r1.b",
        &[(roll, "sub"), ("Nats-Expected-Last-Subject-Sequence", "1")],
        "x",
    );
    s.req("$JS.API.STREAM.MSG.GET.R1", r#"{"last_by_subj":"r1.b"}"#);
    s.create("R2", r#"{"name":"R2","subjects":["r2.*"]}"#);
    s.req("r2.a", "x");
    s.hreq("r2.a", &[(roll, "sub")], "x");
    s.hreq("r2.a", &[(roll, "all")], "x");
    s.create(
        "R3",
        r#"{"name":"R3","subjects":["r3.*"],"storage":"memory","allow_rollup_hdrs":true}"#,
    );
    for i in 0..3 {
        s.req("r3.a", &format!("x{i}"));
    }
    s.hreq("r3.a", &[(roll, "sub")], "roll");
    s.info("R3", r#"{"deleted_details":true,"subjects_filter":">"}"#);
    // Sealing.
    s.create(
        "SE",
        r#"{"name":"SE","subjects":["se.*"],"deny_delete":true,"deny_purge":true}"#,
    );
    s.req("se.a", "x");
    s.req("$JS.API.STREAM.MSG.DELETE.SE", r#"{"seq":1}"#);
    s.req("$JS.API.STREAM.PURGE.SE", "");
    s.update(
        "SE",
        r#"{"name":"SE","subjects":["se.*"],"deny_delete":true,"deny_purge":true,"sealed":true}"#,
    );
    s.req("se.a", "x");
    s.req("$JS.API.STREAM.MSG.DELETE.SE", r#"{"seq":1}"#);
    s.req("$JS.API.STREAM.PURGE.SE", "");
    s.req("$JS.API.STREAM.MSG.GET.SE", r#"{"seq":1}"#);
    s.req("$JS.API.STREAM.DELETE.SE", "");
    s.req("$JS.API.STREAM.NAMES", "");
    run("rollup_and_seal", s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_malformed_api_requests() {
    let mut s = Script::default();
    s.create("K", r#"{"name":"K","subjects":["k"]}"#);
    s.quiet("$JS.API.BOGUS", "");
    s.quiet("$JS.API.STREAM.INFO", "");
    s.quiet("$JS.API.STREAM.INFO.K.extra", "");
    s.quiet("$JS.API.STREAM.CREATE", r#"{"name":"K"}"#);
    s.quiet("$JS.API.STREAM.MSG.GET", r#"{"seq":1}"#);
    s.info("K", r#"{"bogus":1}"#);
    s.info("K", "x");
    s.info("K", r#"{"subjects_filter":""}"#);
    s.info("K", r#"{"offset":5,"subjects_filter":">"}"#);
    s.info("NOPE", "");
    s.req("$JS.API.STREAM.LEADER.STEPDOWN.K", "");
    s.req("$JS.API.STREAM.LEADER.STEPDOWN.NOPE", "");
    run("unknown_and_malformed_api_requests", s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_configs() {
    let mut s = Script::default();
    s.create("O", r#"{"name":"O","subjects":["o.>"]}"#);
    for (subject, body) in [
        ("o.a", "one"),
        ("o.b", "two"),
        ("o.a", "three"),
        ("o.b", "four"),
    ] {
        s.req(subject, body);
    }
    s.req("$JS.API.STREAM.MSG.DELETE.O", r#"{"seq":2}"#);
    // Refused configurations.
    let create_m = "$JS.API.STREAM.CREATE.M";
    s.req(
        create_m,
        r#"{"name":"M","mirror":{"name":"O"},"subjects":["m"]}"#,
    );
    s.req(
        create_m,
        r#"{"name":"M","mirror":{"name":"O"},"sources":[{"name":"O"}]}"#,
    );
    s.req(
        create_m,
        r#"{"name":"M","mirror":{"name":"O"},"first_seq":3}"#,
    );
    s.req(create_m, r#"{"name":"M","mirror":{"name":"a.b"}}"#);
    s.req(create_m, r#"{"name":"M","mirror_direct":true}"#);
    s.req(
        create_m,
        r#"{"name":"M","mirror":{"name":"O"},"subject_delete_marker_ttl":5000000000,"allow_msg_ttl":true}"#,
    );
    // A plain mirror catches up with what the origin stored before it (gap included).
    s.req(create_m, r#"{"name":"M","mirror":{"name":"O"}}"#);
    s.settled("M", 4);
    // The same create again is idempotent.
    s.req(create_m, r#"{"name":"M","mirror":{"name":"O"}}"#);
    // A filtered mirror and one starting at a sequence.
    s.req(
        "$JS.API.STREAM.CREATE.F",
        r#"{"name":"F","mirror":{"name":"O","filter_subject":"o.a"},"storage":"memory"}"#,
    );
    s.settled("F", 3);
    s.req(
        "$JS.API.STREAM.CREATE.S",
        r#"{"name":"S","mirror":{"name":"O","opt_start_seq":3}}"#,
    );
    s.settled("S", 4);
    // A mirror's configuration can not change; its limits can.
    s.req(
        "$JS.API.STREAM.UPDATE.M",
        r#"{"name":"M","mirror":{"name":"O","filter_subject":"o.b"}}"#,
    );
    s.req(
        "$JS.API.STREAM.UPDATE.M",
        r#"{"name":"M","mirror":{"name":"O"},"max_msgs":10}"#,
    );
    s.settled("M", 4);
    // New origin messages reach the mirrors with the origin's sequences.
    s.req("o.a", "five");
    s.req("o.c", "six");
    s.settled("M", 6);
    s.settled("F", 5);
    s.settled("S", 6);
    s.req("$JS.API.STREAM.MSG.GET.M", r#"{"seq":5}"#);
    s.req("$JS.API.STREAM.MSG.GET.M", r#"{"seq":2}"#);
    s.req("$JS.API.STREAM.MSG.GET.M", r#"{"last_by_subj":"o.c"}"#);
    s.req("$JS.API.STREAM.MSG.GET.F", r#"{"seq":4}"#);
    s.req("$JS.API.STREAM.MSG.GET.S", r#"{"seq":1}"#);
    s.info("M", r#"{"deleted_details":true,"subjects_filter":">"}"#);
    // A mirror of a stream that does not exist (yet).
    s.req(
        "$JS.API.STREAM.CREATE.X",
        r#"{"name":"X","mirror":{"name":"NOPE"},"storage":"memory"}"#,
    );
    s.info("X", "");
    // A mirror inherits direct gets from its origin.
    s.create(
        "D",
        r#"{"name":"D","subjects":["d.>"],"allow_direct":true}"#,
    );
    s.req("d.a", "x");
    s.req(
        "$JS.API.STREAM.CREATE.DM",
        r#"{"name":"DM","mirror":{"name":"D"}}"#,
    );
    s.settled("DM", 1);
    // Publishing to a mirror's name reaches no stream.
    s.req("M", "x");
    s.req("$JS.API.STREAM.NAMES", "");
    run("mirror_configs", s).await;
}
