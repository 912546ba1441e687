//! Differential JetStream consumer tests: the same raw-protocol session of `$JS.API`
//! consumer requests, publishes, pull requests (`$JS.API.CONSUMER.MSG.NEXT`) and acks
//! (`$JS.ACK...`) is played against a real nats-server (`-js`) and against Sluice, and
//! everything that comes back must be the same.
//!
//! Each session runs on a fresh pair of servers with empty store directories; a step is
//! sent to both servers at once and its outcome compared before the next step starts.
//!
//! What a step's outcome is:
//! - a request: its one reply (status line and headers, payload), or `<no reply>` when
//!   none came in time (a short wait for the requests nats-server does not answer);
//! - a pull request or a push deliver subject: every message that arrived on its inbox
//!   (subject, reply subject, headers, payload), up to a count or a terminal status
//!   (anything but `100`), then `<nothing more>` if the count was not reached in time;
//! - an ack with a reply subject: the ack's reply (nats-server sends an empty message
//!   once the ack is processed);
//! - a wait for a consumer info field: whether the value came before the deadline.
//!
//! What is normalised before comparing (everything else is compared as text, so key
//! order, omitted fields, escaping and spacing count too):
//! - RFC 3339 timestamps in JSON (`created`, `ts`, `last_active`, ...) become `<ts>`,
//!   except the zero time and the test's own `opt_start_time`.
//! - `cluster.leader` (a server name) becomes `<server>`.
//! - The timestamp token of `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.
//!   <pending>` reply subjects becomes `<ts>`; the other tokens are compared.
//! - Names the server generates for consumers created without one (ephemerals) become
//!   `@E1`, `@E2`, ... in the order they were created, wherever they appear; the script
//!   uses those placeholders in later subjects and each side substitutes its own name.
//!   No session lists ephemerals alongside other consumers (lists are sorted by name).
//!
//! Synchronisation: acks without a reply subject are processed asynchronously by
//! nats-server, so a script waits for the consumer info value they lead to (a deadline,
//! not a sleep) or follows them with an ack that has a reply subject. Streams are
//! followed by a STREAM.INFO and publishes are requests answered with a PubAck, so each
//! message is stored before the next step. Only the expiry of pull requests is waited
//! for by time (an expected 408 with a deadline).
//!
//! To check the normalisation, `SLUICE_DIFF_SELF_CHECK=1` plays the sessions against two
//! nats-servers (the only allowed differences are the normalised ones);
//! `SLUICE_DIFF_PRINT=1` prints every step's outcome on the first server.
//!
//! On a mismatch the test prints the step and both normalised outcomes, with the JSON
//! paths that differ, and fails once the whole session has run (or early, when Sluice
//! stops answering altogether).

mod common;
#[path = "common/differential.rs"]
mod differential;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use common::jetstream::js_opts;
use common::{NatsServerProcess, TestServer};
use differential::{
    explain_json, js_ready, render_msg, Conn, Received, INBOX_PREFIX, QUIET_WAIT, REPLY_WAIT,
};
use serde_json::Value;
use tokio::time::Instant;

/// Sluice stops answering this many requests in a row that nats-server answered: the
/// session ends there (it would only repeat one difference per step).
const GIVE_UP_AFTER: usize = 4;

/// How long a collection that is not expected to fill up waits for more messages.
const LINGER: Duration = Duration::from_millis(500);

/// True while validating the test itself: the second server is a nats-server too.
fn self_check() -> bool {
    std::env::var_os("SLUICE_DIFF_SELF_CHECK").is_some()
}

fn print_steps() -> bool {
    std::env::var_os("SLUICE_DIFF_PRINT").is_some()
}

// ---------------------------------------------------------------------------------------
// Scripts
// ---------------------------------------------------------------------------------------

enum Step {
    /// A request; its first reply is the outcome. `capture` names the placeholder for
    /// the consumer name in the reply (an ephemeral's generated name).
    Req {
        subject: String,
        headers: Vec<(String, String)>,
        body: String,
        wait: Duration,
        capture: Option<String>,
    },
    /// A request whose replies go to the inbox of `label`; nothing is waited for.
    Send {
        label: String,
        subject: String,
        body: String,
    },
    /// Subscribes to the inbox of `label` (for a push consumer's deliver subject).
    Listen { label: String },
    /// Up to `max` messages on the inbox of `label`, or up to a terminal status.
    Collect {
        label: String,
        max: usize,
        wait: Duration,
    },
    /// Publishes `body` to the reply subject of message `index` collected on `label`;
    /// with `reply_wait`, with a reply subject, and that reply is the outcome.
    Ack {
        label: String,
        index: usize,
        body: String,
        reply_wait: Option<Duration>,
    },
    /// Repeats a request until the JSON pointer `path` of its reply is `want`.
    Await {
        subject: String,
        path: String,
        want: Value,
    },
}

/// A request body for a report: quoted, long ones cut.
fn short(body: &str) -> String {
    if body.len() <= 300 {
        format!("{body:?}")
    } else {
        let cut = (0..=300)
            .rev()
            .find(|&i| body.is_char_boundary(i))
            .unwrap_or(0);
        format!("{:?}... ({} bytes)", &body[..cut], body.len())
    }
}

impl Step {
    fn describe(&self) -> String {
        match self {
            Step::Req {
                subject,
                headers,
                body,
                ..
            } => {
                if headers.is_empty() {
                    format!("{subject} {}", short(body))
                } else {
                    let h: Vec<String> = headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                    format!("{subject} [{}] {}", h.join("; "), short(body))
                }
            }
            Step::Send {
                label,
                subject,
                body,
            } => format!("send [{label}] {subject} {}", short(body)),
            Step::Listen { label } => format!("listen [{label}]"),
            Step::Collect { label, max, .. } => format!("collect [{label}] up to {max}"),
            Step::Ack {
                label,
                index,
                body,
                reply_wait,
            } => format!(
                "ack [{label}]#{index} {body:?}{}",
                if reply_wait.is_some() {
                    " with reply"
                } else {
                    ""
                }
            ),
            Step::Await {
                subject,
                path,
                want,
            } => format!("await {subject} {path} == {want}"),
        }
    }
}

#[derive(Default)]
struct Script {
    steps: Vec<Step>,
    ephemerals: usize,
}

impl Script {
    fn push(&mut self, step: Step) -> &mut Self {
        self.steps.push(step);
        self
    }

    fn request(&mut self, subject: &str, body: &str, wait: Duration) -> &mut Self {
        self.push(Step::Req {
            subject: subject.into(),
            headers: Vec::new(),
            body: body.into(),
            wait,
            capture: None,
        })
    }

    fn req(&mut self, subject: &str, body: &str) -> &mut Self {
        self.request(subject, body, REPLY_WAIT)
    }

    /// A request nats-server does not answer: waits only briefly.
    fn quiet(&mut self, subject: &str, body: &str) -> &mut Self {
        self.request(subject, body, QUIET_WAIT)
    }

    /// A publish to a stream, answered by its PubAck.
    fn publish(&mut self, subject: &str, body: &str) -> &mut Self {
        self.req(subject, body)
    }

    fn hpublish(&mut self, subject: &str, headers: &[(&str, &str)], body: &str) -> &mut Self {
        self.push(Step::Req {
            subject: subject.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.into(),
            wait: REPLY_WAIT,
            capture: None,
        })
    }

    /// STREAM.CREATE, then STREAM.INFO (so the stream captures its subjects before the
    /// next step on both servers).
    fn stream(&mut self, name: &str, config: &str) -> &mut Self {
        self.req(&format!("$JS.API.STREAM.CREATE.{name}"), config);
        self.req(&format!("$JS.API.STREAM.INFO.{name}"), "")
    }

    /// `$JS.API.CONSUMER.CREATE.<stream>.<name>` with `config` (and the optional
    /// action).
    fn create(&mut self, stream: &str, name: &str, config: &str) -> &mut Self {
        self.req(
            &format!("$JS.API.CONSUMER.CREATE.{stream}.{name}"),
            &format!(r#"{{"stream_name":"{stream}","config":{config}}}"#),
        )
    }

    fn create_action(&mut self, stream: &str, name: &str, config: &str, action: &str) -> &mut Self {
        self.req(
            &format!("$JS.API.CONSUMER.CREATE.{stream}.{name}"),
            &format!(r#"{{"stream_name":"{stream}","config":{config},"action":"{action}"}}"#),
        )
    }

    /// `$JS.API.CONSUMER.CREATE.<stream>` without a name: the reply's generated name
    /// becomes the next placeholder `@E<n>`, which is returned.
    fn ephemeral(&mut self, stream: &str, config: &str) -> String {
        self.ephemerals += 1;
        let placeholder = format!("@E{}", self.ephemerals);
        self.push(Step::Req {
            subject: format!("$JS.API.CONSUMER.CREATE.{stream}"),
            headers: Vec::new(),
            body: format!(r#"{{"stream_name":"{stream}","config":{config}}}"#),
            wait: REPLY_WAIT,
            capture: Some(placeholder.clone()),
        });
        placeholder
    }

    fn info(&mut self, stream: &str, name: &str) -> &mut Self {
        self.req(&format!("$JS.API.CONSUMER.INFO.{stream}.{name}"), "")
    }

    fn delete(&mut self, stream: &str, name: &str) -> &mut Self {
        self.req(&format!("$JS.API.CONSUMER.DELETE.{stream}.{name}"), "")
    }

    /// A pull request whose replies go to the inbox of `label` (nothing is waited for).
    fn send_pull(&mut self, label: &str, stream: &str, consumer: &str, body: &str) -> &mut Self {
        self.push(Step::Send {
            label: label.into(),
            subject: format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"),
            body: body.into(),
        })
    }

    /// Subscribes to `_L.<label>` (a push consumer's deliver subject).
    fn listen(&mut self, label: &str) -> &mut Self {
        self.push(Step::Listen {
            label: label.into(),
        })
    }

    fn collect(&mut self, label: &str, max: usize, wait: Duration) -> &mut Self {
        self.push(Step::Collect {
            label: label.into(),
            max,
            wait,
        })
    }

    /// A pull request and what it gets: up to `max` messages or a terminal status.
    fn pull(
        &mut self,
        label: &str,
        stream: &str,
        consumer: &str,
        body: &str,
        max: usize,
    ) -> &mut Self {
        self.send_pull(label, stream, consumer, body);
        self.collect(label, max, REPLY_WAIT)
    }

    /// A pull request expected to get fewer than `max` messages and then wait: what
    /// arrives within [`LINGER`] is compared.
    fn pull_quiet(
        &mut self,
        label: &str,
        stream: &str,
        consumer: &str,
        body: &str,
        max: usize,
    ) -> &mut Self {
        self.send_pull(label, stream, consumer, body);
        self.collect(label, max, LINGER)
    }

    /// An ack without a reply subject (not compared by itself).
    fn ack(&mut self, label: &str, index: usize, body: &str) -> &mut Self {
        self.push(Step::Ack {
            label: label.into(),
            index,
            body: body.into(),
            reply_wait: None,
        })
    }

    /// An ack with a reply subject; its reply is compared.
    fn ack_sync(&mut self, label: &str, index: usize, body: &str) -> &mut Self {
        self.push(Step::Ack {
            label: label.into(),
            index,
            body: body.into(),
            reply_wait: Some(REPLY_WAIT),
        })
    }

    /// Waits until CONSUMER.INFO's field at JSON pointer `path` is `want`.
    fn await_info(&mut self, stream: &str, consumer: &str, path: &str, want: Value) -> &mut Self {
        self.await_reply(
            &format!("$JS.API.CONSUMER.INFO.{stream}.{consumer}"),
            path,
            want,
        )
    }

    /// Waits until the reply to `subject` has `want` at JSON pointer `path`.
    fn await_reply(&mut self, subject: &str, path: &str, want: Value) -> &mut Self {
        self.push(Step::Await {
            subject: subject.into(),
            path: path.into(),
            want,
        })
    }
}

// ---------------------------------------------------------------------------------------
// One side of a session
// ---------------------------------------------------------------------------------------

struct Side {
    conn: Conn,
    /// (placeholder, generated name) of ephemerals created so far.
    names: Vec<(String, String)>,
    /// Messages collected per label, for acks.
    collected: HashMap<String, Vec<Received>>,
    next: u64,
}

/// The subject a label's messages arrive on (a subscription of its own).
fn label_inbox(label: &str) -> String {
    format!("_L.{label}")
}

/// True for a status message that ends a pull request (anything but `100`).
fn is_terminal(m: &Received) -> bool {
    m.status().is_some_and(|c| c != 100)
}

impl Side {
    fn new(conn: Conn) -> Side {
        Side {
            conn,
            names: Vec::new(),
            collected: HashMap::new(),
            next: 0,
        }
    }

    /// Placeholders replaced by this side's generated names.
    fn resolve(&self, s: &str) -> String {
        let mut out = s.to_string();
        // Longest placeholder first, so @E1 does not eat into @E10.
        for (p, n) in self.names.iter().rev() {
            out = out.replace(p.as_str(), n);
        }
        out
    }

    /// Generated names replaced by their placeholders.
    fn anonymise(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (p, n) in &self.names {
            out = out.replace(n.as_str(), p);
        }
        out
    }

    async fn request(
        &mut self,
        subject: &str,
        headers: &[(String, String)],
        body: &str,
        wait: Duration,
    ) -> Option<Received> {
        self.next += 1;
        let inbox = format!("{INBOX_PREFIX}{}", self.next);
        self.conn
            .publish(subject, Some(&inbox), headers, body)
            .await;
        let r = self.conn.next_on(&inbox, Instant::now() + wait).await;
        self.conn.forget(&inbox);
        r
    }

    /// Plays one step; returns its outcome (None for steps that are not compared).
    async fn exec(&mut self, step: &Step) -> Option<String> {
        match step {
            Step::Req {
                subject,
                headers,
                body,
                wait,
                capture,
            } => {
                let r = self
                    .request(&self.resolve(subject), headers, &self.resolve(body), *wait)
                    .await;
                if let (Some(p), Some(m)) = (capture, &r) {
                    let name = serde_json::from_str::<Value>(&m.payload)
                        .ok()
                        .and_then(|v| v["name"].as_str().map(str::to_owned));
                    if let Some(name) = name {
                        self.names.push((p.clone(), name));
                    }
                }
                Some(match &r {
                    None => "<no reply>".into(),
                    Some(m) => self.anonymise(&render_msg(m, false)),
                })
            }
            Step::Send {
                label,
                subject,
                body,
            } => {
                let subject = self.resolve(subject);
                let body = self.resolve(body);
                let inbox = label_inbox(label);
                self.conn.subscribe(&inbox).await;
                self.conn.publish(&subject, Some(&inbox), &[], &body).await;
                None
            }
            Step::Listen { label } => {
                self.conn.subscribe(&label_inbox(label)).await;
                assert!(self.conn.flush().await, "PONG after SUB");
                None
            }
            Step::Collect { label, max, wait } => {
                let inbox = label_inbox(label);
                let until = Instant::now() + *wait;
                let mut got = Vec::new();
                let mut ended = false;
                while got.len() < *max {
                    match self.conn.next_on(&inbox, until).await {
                        Some(m) => {
                            let terminal = is_terminal(&m);
                            got.push(m);
                            if terminal {
                                ended = true;
                                break;
                            }
                        }
                        None => break,
                    }
                }
                let mut lines: Vec<String> = got.iter().map(|m| render_msg(m, true)).collect();
                if got.len() < *max && !ended {
                    lines.push("<nothing more>".into());
                }
                self.collected.entry(label.clone()).or_default().extend(got);
                Some(self.anonymise(&lines.join("\n    | ")))
            }
            Step::Ack {
                label,
                index,
                body,
                reply_wait,
            } => {
                let Some(target) = self
                    .collected
                    .get(label)
                    .and_then(|v| v.get(*index))
                    .and_then(|m| m.reply.clone())
                else {
                    return Some(format!("<no message #{index} with a reply on {label}>"));
                };
                match reply_wait {
                    None => {
                        self.conn.publish(&target, None, &[], body).await;
                        assert!(self.conn.flush().await, "PONG after ack");
                        None
                    }
                    Some(wait) => {
                        let r = self.request(&target, &[], body, *wait).await;
                        Some(match &r {
                            None => "<no reply>".into(),
                            Some(m) => render_msg(m, false),
                        })
                    }
                }
            }
            Step::Await {
                subject,
                path,
                want,
            } => {
                let subject = self.resolve(subject);
                let end = Instant::now() + REPLY_WAIT;
                loop {
                    let r = self.request(&subject, &[], "", REPLY_WAIT).await;
                    let value = r
                        .as_ref()
                        .and_then(|m| serde_json::from_str::<Value>(&m.payload).ok())
                        .and_then(|v| v.pointer(path).cloned());
                    if value.as_ref() == Some(want) {
                        return Some("reached".into());
                    }
                    if Instant::now() >= end {
                        let last = r.map_or("<no reply>".into(), |m| render_msg(&m, false));
                        return Some(format!("never reached; last: {}", self.anonymise(&last)));
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Running a session
// ---------------------------------------------------------------------------------------

/// The server compared with nats-server: Sluice, or a second nats-server in self-check.
enum Other {
    Sluice(TestServer),
    Nats(NatsServerProcess),
}

async fn run(name: &str, script: Script) {
    let Some(bin) = common::require_nats_server() else {
        return;
    };
    let ns_dir = tempfile::tempdir().unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let ns = NatsServerProcess::start(&bin, &["-js", "-sd", ns_dir.path().to_str().unwrap()]).await;
    let other = if self_check() {
        Other::Nats(
            NatsServerProcess::start(&bin, &["-js", "-sd", other_dir.path().to_str().unwrap()])
                .await,
        )
    } else {
        Other::Sluice(TestServer::start(js_opts(other_dir.path())).await)
    };
    let other_addr = match &other {
        Other::Sluice(s) => s.addr,
        Other::Nats(n) => n.addr,
    };
    let mut a = Side::new(Conn::connect(ns.addr).await);
    let mut b = Side::new(Conn::connect(other_addr).await);
    js_ready(&mut a.conn).await;
    js_ready(&mut b.conn).await;

    let mut report = String::new();
    let mut mismatches = 0;
    let mut silent = 0;
    let mut ran = 0;
    for (i, step) in script.steps.iter().enumerate() {
        ran += 1;
        let (ra, rb) = tokio::join!(a.exec(step), b.exec(step));
        if print_steps() {
            eprintln!(
                "[{name}] #{i} {}\n    {}",
                step.describe(),
                ra.as_deref().unwrap_or("-")
            );
        }
        if ra == rb {
            silent = 0;
            continue;
        }
        let (na, nb) = (ra.unwrap_or_default(), rb.unwrap_or_default());
        mismatches += 1;
        let _ = writeln!(
            report,
            "\n#{i} {}\n  nats-server: {na}\n  Sluice:      {nb}",
            step.describe()
        );
        let payload = |s: &str| s.rsplit("] ").next().unwrap_or(s).to_string();
        for d in explain_json(&payload(&na), &payload(&nb)) {
            let _ = writeln!(report, "    - {d}");
        }
        if nb == "<no reply>" {
            silent += 1;
            if silent >= GIVE_UP_AFTER {
                let _ = writeln!(
                    report,
                    "\nSluice did not answer {silent} requests in a row; the session stops here."
                );
                break;
            }
        } else {
            silent = 0;
        }
    }
    for e in a.conn.errors.iter().chain(&b.conn.errors) {
        let _ = writeln!(report, "protocol error seen: {e}");
    }
    drop(a);
    drop(b);
    match other {
        Other::Sluice(s) => s.shutdown().await,
        Other::Nats(n) => drop(n),
    }
    drop(ns);
    assert!(
        mismatches == 0,
        "session {name}: {mismatches} of {ran} steps run ({} in the session) differ from nats-server:{report}",
        script.steps.len()
    );
}

// ---------------------------------------------------------------------------------------
// The sessions
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_create_variants() {
    let mut s = Script::default();
    s.stream("S", r#"{"name":"S","subjects":["s.>"]}"#);
    for (i, subj) in ["s.a", "s.b", "s.a", "s.c.d", "s.a"].iter().enumerate() {
        s.publish(subj, &format!("m{}", i + 1));
    }
    // Durable pull consumers, named in the subject and in the config.
    s.create(
        "S",
        "D1",
        r#"{"durable_name":"D1","ack_policy":"explicit"}"#,
    );
    s.create("S", "D2", r#"{"name":"D2"}"#);
    s.create("S", "D3", r#"{"name":"D3","durable_name":"D3","ack_policy":"all","max_ack_pending":10,"max_waiting":3,"max_batch":7,"max_expires":5000000000,"max_bytes":1024,"description":"three"}"#);
    // Push consumers (nobody listens on their deliver subjects).
    s.create(
        "S",
        "P1",
        r#"{"durable_name":"P1","deliver_subject":"push.p1","ack_policy":"explicit"}"#,
    );
    s.create("S", "P2", r#"{"durable_name":"P2","deliver_subject":"push.p2","deliver_group":"grp","ack_policy":"none"}"#);
    s.create("S", "P3", r#"{"durable_name":"P3","deliver_subject":"push.p3","idle_heartbeat":5000000000,"flow_control":true,"rate_limit_bps":100000,"headers_only":true,"replay_policy":"original","sample_freq":"50%"}"#);
    // Filters: in the subject, single, several.
    s.req(
        "$JS.API.CONSUMER.CREATE.S.F1.s.a",
        r#"{"stream_name":"S","config":{"name":"F1","filter_subject":"s.a"}}"#,
    );
    s.req(
        "$JS.API.CONSUMER.CREATE.S.F2.s.*.d",
        r#"{"stream_name":"S","config":{"name":"F2","filter_subject":"s.*.d"}}"#,
    );
    s.create(
        "S",
        "F3",
        r#"{"durable_name":"F3","filter_subjects":["s.a","s.c.>"]}"#,
    );
    s.create("S", "F4", r#"{"durable_name":"F4","filter_subject":"s.>"}"#);
    s.create(
        "S",
        "F5",
        r#"{"durable_name":"F5","filter_subjects":["s.b"]}"#,
    );
    // Every deliver policy. Consumers that must outlive the session's first seconds are
    // durable: a named non-durable one is removed after 5 s without interest.
    for (n, policy) in [
        ("DP1", r#""deliver_policy":"all""#),
        ("DP2", r#""deliver_policy":"last""#),
        ("DP3", r#""deliver_policy":"new""#),
        (
            "DP4",
            r#""deliver_policy":"by_start_sequence","opt_start_seq":3"#,
        ),
        (
            "DP5",
            r#""deliver_policy":"by_start_time","opt_start_time":"2000-01-01T00:00:00Z""#,
        ),
        (
            "DP6",
            r#""deliver_policy":"last_per_subject","filter_subject":"s.>""#,
        ),
        ("DP7", r#""deliver_policy":"last_per_subject""#),
        (
            "DP8",
            r#""deliver_policy":"by_start_sequence","opt_start_seq":100"#,
        ),
    ] {
        s.create("S", n, &format!(r#"{{"durable_name":"{n}",{policy}}}"#));
    }
    // Ack policies, backoff, metadata, limits.
    s.create("S", "A1", r#"{"name":"A1","ack_policy":"none"}"#);
    s.create(
        "S",
        "A2",
        r#"{"durable_name":"A2","ack_policy":"all","ack_wait":10000000000}"#,
    );
    s.create("S", "A3", r#"{"durable_name":"A3","ack_policy":"explicit","max_deliver":5,"backoff":[1000000000,2000000000,5000000000]}"#);
    s.create(
        "S",
        "A4",
        r#"{"durable_name":"A4","max_deliver":-1,"ack_wait":1000000}"#,
    );
    s.create("S", "M1", r#"{"name":"M1","metadata":{"team":"a","_nats.req.level":"0"},"inactive_threshold":60000000000,"mem_storage":true,"num_replicas":0}"#);
    s.create(
        "S",
        "M2",
        r#"{"durable_name":"M2","pause_until":"2000-01-01T00:00:00Z"}"#,
    );
    // The legacy durable subject; a durable name in the plain create subject.
    s.req(
        "$JS.API.CONSUMER.DURABLE.CREATE.S.DUR",
        r#"{"stream_name":"S","config":{"durable_name":"DUR","ack_policy":"explicit"}}"#,
    );
    s.req(
        "$JS.API.CONSUMER.CREATE.S",
        r#"{"stream_name":"S","config":{"durable_name":"LEGACY"}}"#,
    );
    for n in [
        "D1", "D2", "D3", "P1", "P2", "P3", "F1", "F3", "DP2", "DP4", "DP5", "DP6", "DP8", "A3",
        "M1", "DUR", "LEGACY",
    ] {
        s.info("S", n);
    }
    // Names and lists, paged.
    for body in ["", "{}", r#"{"offset":3}"#, r#"{"offset":100}"#, "nope"] {
        s.req("$JS.API.CONSUMER.NAMES.S", body);
        s.req("$JS.API.CONSUMER.LIST.S", body);
    }
    // Delete, then what is left.
    s.delete("S", "D2");
    s.delete("S", "D2");
    s.info("S", "D2");
    s.req("$JS.API.CONSUMER.NAMES.S", "");
    // Stream and consumer not found.
    s.req("$JS.API.CONSUMER.INFO.S.NOPE", "");
    s.req("$JS.API.CONSUMER.DELETE.S.NOPE", "");
    s.req("$JS.API.CONSUMER.INFO.NOPE.D1", "");
    s.req("$JS.API.CONSUMER.DELETE.NOPE.D1", "");
    s.req("$JS.API.CONSUMER.NAMES.NOPE", "");
    s.req("$JS.API.CONSUMER.LIST.NOPE", "");
    s.req(
        "$JS.API.CONSUMER.CREATE.NOPE.X",
        r#"{"stream_name":"NOPE","config":{"name":"X"}}"#,
    );
    s.req(
        "$JS.API.CONSUMER.DURABLE.CREATE.NOPE.X",
        r#"{"stream_name":"NOPE","config":{"durable_name":"X"}}"#,
    );
    // Subjects with a token missing or extra (nats-server does not answer these).
    s.quiet("$JS.API.CONSUMER.INFO.S", "");
    s.quiet("$JS.API.CONSUMER.INFO.S.D1.extra", "");
    s.quiet("$JS.API.CONSUMER.NAMES", "");
    s.quiet("$JS.API.CONSUMER.DELETE.S", "");
    // Ephemerals, on a stream of their own so no list mixes generated names.
    s.stream("E", r#"{"name":"E","subjects":["e.*"]}"#);
    s.publish("e.a", "one");
    let e1 = s.ephemeral("E", r#"{"ack_policy":"explicit"}"#);
    let e2 = s.ephemeral(
        "E",
        r#"{"deliver_subject":"push.e2","filter_subject":"e.a"}"#,
    );
    s.info("E", &e1);
    s.info("E", &e2);
    s.delete("E", &e1);
    s.delete("E", &e2);
    s.req("$JS.API.CONSUMER.NAMES.E", "");
    s.req("$JS.API.CONSUMER.LIST.E", "");
    // Deleting the stream takes its consumers.
    s.req("$JS.API.STREAM.DELETE.S", "");
    s.info("S", "D1");
    run("consumer_create_variants", s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_create_errors() {
    let mut s = Script::default();
    s.stream("S", r#"{"name":"S","subjects":["s.>"]}"#);
    s.stream("T", r#"{"name":"T","subjects":["t.*"]}"#);
    let c = "$JS.API.CONSUMER.CREATE.S";
    // Bodies that are not a create request.
    for (i, body) in [
        "",
        "nope",
        "{}",
        r#"{"stream_name":"S"}"#,
        r#"{"stream_name":"T","config":{"name":"X"}}"#,
        r#"{"config":{"name":"X"}}"#,
        r#"{"stream_name":"S","config":{"name":"X"},"action":"bogus"}"#,
        r#"{"stream_name":"S","config":{"name":"X","bogus":1}}"#,
        r#"{"stream_name":"S","config":{"name":"X","ack_policy":"bogus"}}"#,
        r#"{"stream_name":"S","config":{"name":"X","deliver_policy":"bogus"}}"#,
        r#"{"stream_name":"S","config":{"name":"X","replay_policy":"bogus"}}"#,
        r#"{"stream_name":"S","config":{"name":"X","max_deliver":"5"}}"#,
    ]
    .iter()
    .enumerate()
    {
        // A name of its own each, so one that is accepted does not turn the next into
        // an update.
        let n = format!("B{i}");
        s.req(
            &format!("{c}.{n}"),
            &body.replace(r#""name":"X""#, &format!(r#""name":"{n}""#)),
        );
    }
    // Names.
    for (subject, config) in [
        ("Y", r#"{"name":"X"}"#),
        ("X", r#"{"name":"X","durable_name":"Z"}"#),
        ("", r#"{"name":"a.b"}"#),
        ("", r#"{"name":"a b"}"#),
        ("", r#"{"name":"a*"}"#),
        ("", r#"{"durable_name":"a>"}"#),
        ("", r#"{"durable_name":"a.b"}"#),
        ("", r#"{"name":"a\\b"}"#),
        ("", r#"{"name":"a/b"}"#),
    ] {
        let subj = if subject.is_empty() {
            c.to_string()
        } else {
            format!("{c}.{subject}")
        };
        s.req(
            &subj,
            &format!(r#"{{"stream_name":"S","config":{config}}}"#),
        );
    }
    s.create(
        "S",
        &"N".repeat(300),
        &format!(r#"{{"name":"{}"}}"#, "N".repeat(300)),
    );
    s.req(
        "$JS.API.CONSUMER.DURABLE.CREATE.S.X",
        r#"{"stream_name":"S","config":{"ack_policy":"explicit"}}"#,
    );
    s.req(
        "$JS.API.CONSUMER.DURABLE.CREATE.S.X",
        r#"{"stream_name":"S","config":{"durable_name":"Y"}}"#,
    );
    s.req(
        "$JS.API.CONSUMER.CREATE.S.X.s.b",
        r#"{"stream_name":"S","config":{"name":"X","filter_subject":"s.a"}}"#,
    );
    s.req(
        "$JS.API.CONSUMER.CREATE.S.X.s.a",
        r#"{"stream_name":"S","config":{"name":"X"}}"#,
    );
    s.req(
        "$JS.API.CONSUMER.CREATE.S.X.s.a",
        r#"{"stream_name":"S","config":{"name":"X","filter_subjects":["s.a"]}}"#,
    );
    // Configurations to validate (most are refused; each has a name of its own).
    for (i, config) in [
        r#"{"name":"X","deliver_group":"g"}"#,
        r#"{"name":"X","idle_heartbeat":1000000000}"#,
        r#"{"name":"X","flow_control":true}"#,
        r#"{"name":"X","deliver_subject":"push.x","flow_control":true}"#,
        r#"{"name":"X","deliver_subject":"push.x","max_waiting":5}"#,
        r#"{"name":"X","deliver_subject":"push.x","max_batch":5}"#,
        r#"{"name":"X","deliver_subject":"push.x","max_expires":1000000000}"#,
        r#"{"name":"X","deliver_subject":"push.x","max_bytes":100}"#,
        r#"{"name":"X","deliver_subject":"push.*"}"#,
        r#"{"name":"X","deliver_subject":"s.a"}"#,
        r#"{"name":"X","rate_limit_bps":1000}"#,
        r#"{"name":"X","max_waiting":-1}"#,
        r#"{"name":"X","max_batch":-1}"#,
        r#"{"name":"X","max_expires":-1}"#,
        r#"{"name":"X","max_expires":100}"#,
        r#"{"name":"X","filter_subject":"zz"}"#,
        r#"{"name":"X","filter_subject":"s"}"#,
        r#"{"name":"X","filter_subject":"s..a"}"#,
        r#"{"name":"X","filter_subject":"s.a","filter_subjects":["s.b"]}"#,
        r#"{"name":"X","filter_subjects":["s.>","s.a"]}"#,
        r#"{"name":"X","filter_subjects":["s.a","s.a"]}"#,
        r#"{"name":"X","filter_subjects":["zz"]}"#,
        r#"{"name":"X","filter_subjects":[""]}"#,
        r#"{"name":"X","opt_start_seq":3}"#,
        r#"{"name":"X","deliver_policy":"last","opt_start_seq":3}"#,
        r#"{"name":"X","deliver_policy":"by_start_sequence"}"#,
        r#"{"name":"X","deliver_policy":"by_start_sequence","opt_start_seq":3,"opt_start_time":"2000-01-01T00:00:00Z"}"#,
        r#"{"name":"X","opt_start_time":"2000-01-01T00:00:00Z"}"#,
        r#"{"name":"X","deliver_policy":"by_start_time"}"#,
        r#"{"name":"X","backoff":[1000000000,2000000000,3000000000],"max_deliver":2}"#,
        r#"{"name":"X","backoff":[1000000000]}"#,
        r#"{"name":"X","backoff":[1000000000],"ack_policy":"none"}"#,
        r#"{"name":"X","backoff":[0],"max_deliver":5}"#,
        r#"{"name":"X","ack_policy":"none","max_ack_pending":10}"#,
        r#"{"name":"X","ack_policy":"none","deliver_subject":"push.x","max_ack_pending":10}"#,
        r#"{"name":"X","max_deliver":0}"#,
        r#"{"name":"X","max_deliver":1,"backoff":[1000000000,2000000000]}"#,
        r#"{"name":"X","ack_wait":-1}"#,
        r#"{"name":"X","max_ack_pending":-5}"#,
        r#"{"name":"X","inactive_threshold":-1}"#,
        r#"{"name":"X","num_replicas":3}"#,
        r#"{"name":"X","num_replicas":-1}"#,
        r#"{"name":"X","sample_freq":"200%"}"#,
        r#"{"name":"X","sample_freq":"abc"}"#,
        r#"{"name":"X","headers_only":true,"max_bytes":10}"#,
        r#"{"name":"X","deliver_policy":"last_per_subject","filter_subjects":[]}"#,
        r#"{"name":"X","priority_policy":"bogus"}"#,
        r#"{"name":"X","priority_groups":["a"]}"#,
    ]
    .iter()
    .enumerate()
    {
        let n = format!("C{i}");
        s.create(
            "S",
            &n,
            &config.replace(r#""name":"X""#, &format!(r#""name":"{n}""#)),
        );
    }
    s.create(
        "S",
        "X",
        &format!(r#"{{"name":"X","description":"{}"}}"#, "d".repeat(4097)),
    );
    s.create(
        "S",
        "X",
        &format!(
            r#"{{"name":"X","metadata":{{"k":"{}"}}}}"#,
            "v".repeat(128 * 1024)
        ),
    );
    s.req("$JS.API.CONSUMER.NAMES.S", "");
    // Work-queue streams: explicit acks only, no overlapping consumers.
    s.stream(
        "WQ",
        r#"{"name":"WQ","subjects":["wq.>"],"retention":"workqueue"}"#,
    );
    s.create("WQ", "W0", r#"{"name":"W0","ack_policy":"none"}"#);
    s.create("WQ", "W0", r#"{"name":"W0","ack_policy":"all"}"#);
    s.create(
        "WQ",
        "W1",
        r#"{"name":"W1","ack_policy":"explicit","filter_subject":"wq.a.>"}"#,
    );
    s.create(
        "WQ",
        "W2",
        r#"{"name":"W2","ack_policy":"explicit","filter_subject":"wq.a.b"}"#,
    );
    s.create(
        "WQ",
        "W2",
        r#"{"name":"W2","ack_policy":"explicit","filter_subject":"wq.*.b"}"#,
    );
    s.create("WQ", "W2", r#"{"name":"W2","ack_policy":"explicit"}"#);
    s.create(
        "WQ",
        "W2",
        r#"{"name":"W2","ack_policy":"explicit","filter_subject":"wq.b"}"#,
    );
    s.create(
        "WQ",
        "W3",
        r#"{"name":"W3","ack_policy":"explicit","filter_subject":"wq.b"}"#,
    );
    s.create(
        "WQ",
        "W4",
        r#"{"name":"W4","ack_policy":"explicit","filter_subjects":["wq.c","wq.b"]}"#,
    );
    s.create(
        "WQ",
        "W5",
        r#"{"name":"W5","ack_policy":"explicit","deliver_policy":"last","filter_subject":"wq.d"}"#,
    );
    s.create("WQ", "W6", r#"{"name":"W6","ack_policy":"explicit","deliver_subject":"push.w6","filter_subject":"wq.e"}"#);
    s.req("$JS.API.CONSUMER.NAMES.WQ", "");
    // Interest streams accept any ack policy.
    s.stream(
        "IN",
        r#"{"name":"IN","subjects":["in.>"],"retention":"interest"}"#,
    );
    s.create("IN", "I1", r#"{"name":"I1","ack_policy":"none"}"#);
    s.create("IN", "I2", r#"{"name":"I2","ack_policy":"all"}"#);
    // A stream limited to one consumer.
    s.stream("MC", r#"{"name":"MC","subjects":["mc"],"max_consumers":1}"#);
    s.create("MC", "C1", r#"{"name":"C1"}"#);
    s.create("MC", "C2", r#"{"name":"C2"}"#);
    s.create(
        "MC",
        "C1",
        r#"{"name":"C1","description":"update is fine"}"#,
    );
    run("consumer_create_errors", s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_actions_and_updates() {
    let mut s = Script::default();
    s.stream("S", r#"{"name":"S","subjects":["s.>"]}"#);
    s.publish("s.a", "1");
    let base = r#"{"name":"C","ack_policy":"explicit","max_ack_pending":100}"#;
    let changed = r#"{"name":"C","ack_policy":"explicit","max_ack_pending":50}"#;
    // Update of a consumer that does not exist.
    s.create_action("S", "C", base, "update");
    s.create_action("S", "C", base, "create");
    s.create_action("S", "C", base, "create");
    s.create_action("S", "C", changed, "create");
    s.create_action("S", "C", changed, "update");
    s.create_action("S", "C", changed, "");
    s.info("S", "C");
    s.req(
        "$JS.API.CONSUMER.DURABLE.CREATE.S.C",
        r#"{"stream_name":"S","config":{"durable_name":"C","ack_policy":"explicit","max_ack_pending":50},"action":"create"}"#,
    );
    s.req(
        "$JS.API.CONSUMER.DURABLE.CREATE.S.C",
        r#"{"stream_name":"S","config":{"durable_name":"C","ack_policy":"explicit","max_ack_pending":40},"action":"update"}"#,
    );
    s.req(
        "$JS.API.CONSUMER.CREATE.S",
        r#"{"stream_name":"S","config":{"ack_policy":"explicit"},"action":"update"}"#,
    );
    // Updates nats-server allows.
    for config in [
        r#"{"name":"C","ack_policy":"explicit","description":"now described"}"#,
        r#"{"name":"C","ack_policy":"explicit","ack_wait":5000000000,"max_deliver":10}"#,
        r#"{"name":"C","ack_policy":"explicit","max_deliver":10,"backoff":[1000000000,2000000000]}"#,
        r#"{"name":"C","ack_policy":"explicit","metadata":{"k":"v"}}"#,
        r#"{"name":"C","ack_policy":"explicit","headers_only":true,"sample_freq":"10%"}"#,
        r#"{"name":"C","ack_policy":"explicit","filter_subject":"s.a"}"#,
        r#"{"name":"C","ack_policy":"explicit","filter_subjects":["s.a","s.b"]}"#,
        r#"{"name":"C","ack_policy":"explicit","max_waiting":512}"#,
        r#"{"name":"C","ack_policy":"explicit","max_batch":10,"max_expires":2000000000,"max_bytes":500}"#,
        r#"{"name":"C","ack_policy":"explicit","inactive_threshold":30000000000}"#,
        r#"{"name":"C","ack_policy":"explicit"}"#,
    ] {
        s.create_action("S", "C", config, "update");
    }
    // Updates nats-server refuses.
    for config in [
        r#"{"name":"C","ack_policy":"all"}"#,
        r#"{"name":"C","ack_policy":"explicit","deliver_policy":"new"}"#,
        r#"{"name":"C","ack_policy":"explicit","deliver_policy":"by_start_sequence","opt_start_seq":1}"#,
        r#"{"name":"C","ack_policy":"explicit","replay_policy":"original"}"#,
        r#"{"name":"C","ack_policy":"explicit","deliver_subject":"push.c"}"#,
        r#"{"name":"C","ack_policy":"explicit","max_waiting":10}"#,
        r#"{"name":"C","ack_policy":"explicit","mem_storage":true}"#,
        r#"{"name":"C","ack_policy":"explicit","num_replicas":3}"#,
        r#"{"name":"C","ack_policy":"explicit","filter_subject":"zz"}"#,
        r#"{"name":"C","ack_policy":"explicit","idle_heartbeat":1000000000}"#,
    ] {
        s.create_action("S", "C", config, "update");
    }
    s.info("S", "C");
    // A push consumer: its deliver subject may change, it may not become pull.
    let p = r#"{"name":"P","deliver_subject":"push.p","ack_policy":"explicit"}"#;
    s.create("S", "P", p);
    s.create(
        "S",
        "P",
        r#"{"name":"P","deliver_subject":"push.q","ack_policy":"explicit"}"#,
    );
    s.create("S", "P", r#"{"name":"P","ack_policy":"explicit"}"#);
    s.create(
        "S",
        "P",
        r#"{"name":"P","deliver_subject":"push.q","ack_policy":"explicit","deliver_group":"g"}"#,
    );
    s.create("S", "P", r#"{"name":"P","deliver_subject":"push.q","ack_policy":"explicit","idle_heartbeat":2000000000,"flow_control":true,"rate_limit_bps":5000}"#);
    s.info("S", "P");
    // A create without an action updates when allowed, refuses otherwise.
    s.create(
        "S",
        "C",
        r#"{"name":"C","ack_policy":"explicit","description":"by plain create"}"#,
    );
    s.create("S", "C", r#"{"name":"C","ack_policy":"none"}"#);
    s.info("S", "C");
    run("consumer_actions_and_updates", s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_status_replies() {
    let mut s = Script::default();
    s.stream("S", r#"{"name":"S","subjects":["s.>"]}"#);
    s.create(
        "S",
        "C",
        r#"{"durable_name":"C","ack_policy":"explicit","max_batch":5,"max_waiting":2,"max_expires":3000000000,"max_bytes":4096}"#,
    );
    // Empty consumer: no_wait, then an expiring request.
    s.pull("nw", "S", "C", r#"{"batch":1,"no_wait":true}"#, 5);
    s.pull("nw3", "S", "C", r#"{"batch":3,"no_wait":true}"#, 5);
    s.pull("exp", "S", "C", r#"{"batch":2,"expires":300000000}"#, 5);
    s.info("S", "C");
    // Requests past the consumer's limits, and odd requests.
    s.pull("big", "S", "C", r#"{"batch":10}"#, 5);
    s.pull("mexp", "S", "C", r#"{"batch":1,"expires":10000000000}"#, 5);
    s.pull(
        "mbytes",
        "S",
        "C",
        r#"{"batch":1,"max_bytes":8192,"no_wait":true}"#,
        5,
    );
    s.pull("zero", "S", "C", r#"{"batch":0,"no_wait":true}"#, 5);
    s.pull("neg", "S", "C", r#"{"batch":-1,"no_wait":true}"#, 5);
    s.pull(
        "hbnoexp",
        "S",
        "C",
        r#"{"batch":1,"idle_heartbeat":100000000}"#,
        5,
    );
    s.pull(
        "hbbig",
        "S",
        "C",
        r#"{"batch":1,"expires":1000000000,"idle_heartbeat":800000000}"#,
        5,
    );
    // A body that is not JSON: nats-server takes it as a request for one message that
    // waits; it gets the first message published below.
    s.pull_quiet("bad", "S", "C", "nope", 5);
    s.info("S", "C");
    // Messages arrive: each delivered with its ack subject (headers kept).
    s.publish("s.a", "hello");
    s.hpublish(
        "s.h",
        &[("X-K", "v"), ("Nats-Msg-Id", "m2")],
        "with headers",
    );
    s.publish("s.big", &"x".repeat(100));
    s.collect("bad", 1, REPLY_WAIT);
    s.pull("one", "S", "C", "", 1);
    s.pull("size", "S", "C", r#"{"batch":1,"max_bytes":10}"#, 5);
    s.pull(
        "fits",
        "S",
        "C",
        r#"{"batch":2,"max_bytes":1000,"no_wait":true}"#,
        5,
    );
    s.info("S", "C");
    // A batch partially filled, then expiring; a no_wait batch partially filled.
    s.publish("s.b", "partial");
    s.pull("part", "S", "C", r#"{"batch":3,"expires":400000000}"#, 5);
    s.publish("s.b", "nowait-1");
    s.publish("s.b", "nowait-2");
    // nats-server counts new messages for its consumers asynchronously, and a no_wait
    // request looks at that count: wait until the consumer has seen both.
    s.await_info("S", "C", "/num_pending", Value::from(2));
    s.pull("partnw", "S", "C", r#"{"batch":4,"no_wait":true}"#, 5);
    s.info("S", "C");
    // A request that waits (no expiry) gets the next message.
    s.send_pull("wait", "S", "C", r#"{"batch":2}"#);
    s.await_info("S", "C", "/num_waiting", Value::from(1));
    s.info("S", "C");
    s.publish("s.c", "to the waiting request");
    s.collect("wait", 1, REPLY_WAIT);
    s.info("S", "C");
    // Too many waiting requests; then the consumer is deleted under them.
    s.send_pull("w2", "S", "C", r#"{"batch":1,"expires":3000000000}"#);
    s.await_info("S", "C", "/num_waiting", Value::from(2));
    s.pull("w3", "S", "C", r#"{"batch":1,"expires":3000000000}"#, 5);
    s.info("S", "C");
    s.delete("S", "C");
    s.collect("wait", 5, REPLY_WAIT);
    s.collect("w2", 5, REPLY_WAIT);
    // Requests to a deleted consumer, a push consumer, a missing stream.
    s.pull("gone", "S", "C", r#"{"batch":1,"no_wait":true}"#, 5);
    s.create(
        "S",
        "P",
        r#"{"durable_name":"P","deliver_subject":"push.p"}"#,
    );
    s.pull("push", "S", "P", r#"{"batch":1,"no_wait":true}"#, 5);
    s.pull("nostream", "NOPE", "C", r#"{"batch":1,"no_wait":true}"#, 5);
    // Idle heartbeats on a pull request (the first one is compared).
    s.create(
        "S",
        "HB",
        r#"{"durable_name":"HB","ack_policy":"explicit","deliver_policy":"new"}"#,
    );
    s.pull(
        "hb",
        "S",
        "HB",
        r#"{"batch":1,"expires":2000000000,"idle_heartbeat":200000000}"#,
        1,
    );
    s.info("S", "HB");
    s.delete("S", "HB");
    run("pull_status_replies", s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_and_info_numbers() {
    let mut s = Script::default();
    s.stream("S", r#"{"name":"S","subjects":["s.*"]}"#);
    for i in 1..=6 {
        s.publish("s.a", &format!("m{i}"));
    }
    s.create(
        "S",
        "C",
        r#"{"durable_name":"C","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":5}"#,
    );
    s.info("S", "C");
    s.pull("p1", "S", "C", r#"{"batch":2}"#, 2);
    s.info("S", "C");
    // A plain ack, then one with a reply subject (answered once processed; acks of one
    // consumer are processed in order, so the plain one is done too).
    s.ack("p1", 0, "+ACK");
    s.ack_sync("p1", 1, "+ACK");
    s.info("S", "C");
    // Acking again what is no longer pending.
    s.ack_sync("p1", 1, "+ACK");
    s.ack_sync("p1", 0, "");
    // A NAK redelivers at once; the redelivery has delivered count 2.
    s.pull("p2", "S", "C", r#"{"batch":1}"#, 1);
    s.ack_sync("p2", 0, "-NAK");
    s.info("S", "C");
    s.pull("p3", "S", "C", r#"{"batch":1}"#, 1);
    s.info("S", "C");
    // Work in progress, then TERM.
    s.ack_sync("p3", 0, "+WPI");
    s.info("S", "C");
    s.ack_sync("p3", 0, "+TERM");
    s.info("S", "C");
    // An empty ack body acks; a NAK with a delay; an unknown ack body.
    s.pull("p4", "S", "C", r#"{"batch":3}"#, 3);
    s.ack_sync("p4", 0, "");
    s.ack_sync("p4", 1, r#"-NAK {"delay":60000000000}"#);
    s.ack_sync("p4", 2, "+BOGUS");
    s.info("S", "C");
    // Plain acks, waited for through the consumer info.
    s.ack("p4", 2, "+ACK");
    s.await_info("S", "C", "/num_ack_pending", Value::from(1));
    s.info("S", "C");
    s.ack("p4", 1, "+TERM reason given");
    s.await_info("S", "C", "/num_ack_pending", Value::from(0));
    s.info("S", "C");
    s.pull("p5", "S", "C", r#"{"batch":5,"no_wait":true}"#, 5);
    s.info("S", "C");
    // A waiting request shows in num_waiting until it expires.
    s.send_pull("p6", "S", "C", r#"{"batch":1,"expires":1000000000}"#);
    s.await_info("S", "C", "/num_waiting", Value::from(1));
    s.info("S", "C");
    s.collect("p6", 2, REPLY_WAIT);
    s.info("S", "C");

    // Ack all: acking the second acks the first.
    s.create("S", "ALL", r#"{"durable_name":"ALL","ack_policy":"all"}"#);
    s.pull("a1", "S", "ALL", r#"{"batch":3}"#, 3);
    s.ack_sync("a1", 1, "+ACK");
    s.info("S", "ALL");
    s.ack_sync("a1", 0, "+ACK");
    s.ack_sync("a1", 2, "+ACK");
    s.info("S", "ALL");
    // Ack none: what is delivered counts as acknowledged.
    s.create(
        "S",
        "NONE",
        r#"{"durable_name":"NONE","ack_policy":"none"}"#,
    );
    s.pull("n1", "S", "NONE", r#"{"batch":2}"#, 2);
    s.info("S", "NONE");
    // max_deliver reached: the message is not delivered again.
    s.create(
        "S",
        "MD",
        r#"{"durable_name":"MD","ack_policy":"explicit","max_deliver":2,"filter_subject":"s.b"}"#,
    );
    s.publish("s.b", "deliver twice");
    s.pull("md1", "S", "MD", r#"{"batch":1}"#, 1);
    s.ack_sync("md1", 0, "-NAK");
    s.pull("md2", "S", "MD", r#"{"batch":1}"#, 1);
    s.ack_sync("md2", 0, "-NAK");
    s.pull("md3", "S", "MD", r#"{"batch":1,"no_wait":true}"#, 2);
    s.info("S", "MD");
    // max_ack_pending stops deliveries (the requests wait).
    s.create(
        "S",
        "MAP",
        r#"{"durable_name":"MAP","ack_policy":"explicit","max_ack_pending":2}"#,
    );
    s.pull_quiet("map1", "S", "MAP", r#"{"batch":5,"no_wait":true}"#, 5);
    s.pull_quiet("map2", "S", "MAP", r#"{"batch":1,"no_wait":true}"#, 5);
    s.info("S", "MAP");

    // Push delivery to a subscribed subject, with acks and a redelivery.
    s.listen("push");
    s.create(
        "S",
        "PU",
        r#"{"durable_name":"PU","deliver_subject":"_L.push","ack_policy":"explicit","filter_subject":"s.a","deliver_policy":"last"}"#,
    );
    s.collect("push", 1, REPLY_WAIT);
    s.publish("s.a", "live");
    s.collect("push", 1, REPLY_WAIT);
    s.ack_sync("push", 0, "+ACK");
    s.ack_sync("push", 1, "-NAK");
    s.collect("push", 1, REPLY_WAIT);
    s.ack_sync("push", 2, "+ACK");
    s.info("S", "PU");

    // Work queue: acknowledged messages leave the stream.
    s.stream(
        "WQ",
        r#"{"name":"WQ","subjects":["wq"],"retention":"workqueue"}"#,
    );
    s.publish("wq", "w1");
    s.publish("wq", "w2");
    s.create("WQ", "W", r#"{"durable_name":"W","ack_policy":"explicit"}"#);
    s.pull("wq1", "WQ", "W", r#"{"batch":2}"#, 2);
    s.ack_sync("wq1", 0, "+ACK");
    // nats-server removes acknowledged work-queue messages asynchronously.
    s.await_reply("$JS.API.STREAM.INFO.WQ", "/state/messages", Value::from(1));
    s.req("$JS.API.STREAM.INFO.WQ", "");
    s.info("WQ", "W");
    run("acks_and_info_numbers", s).await;
}
