//! Differential key-value and object store tests: the same sequence of async-nats KV and
//! object store calls is made against a real nats-server (`-js`) and against Sluice,
//! each on a fresh, empty store, and then everything the calls left behind must be the
//! same:
//! - what each call returned (a revision, an error, the fields of an entry or of an
//!   object info);
//! - the stream the client created for the bucket (`$JS.API.STREAM.INFO.KV_x` or
//!   `OBJ_x`: config and state, and the per-subject counts with `subjects_filter`);
//! - the message layout: for every sequence from 1 to the last, what
//!   `$JS.API.STREAM.MSG.GET` returns (subject, headers, payload; the payload of an
//!   object chunk is shown as its size only, a KV value or an object's meta as it is).
//!
//! What is normalised before comparing (everything else is compared as text, so key
//! order, omitted fields, escaping and spacing count too):
//! - header lines of stored messages are sorted (the client's order is a hash map's),
//!   except in delete markers, which the server writes;
//! - RFC 3339 timestamps in JSON (`created`, `ts`, `time`, `first_ts`, an object's
//!   `mtime`, ...) become `<ts>` and `cluster.leader` becomes `<server>` (the shared
//!   rules of `common/differential.rs`);
//! - the nuids the client makes for objects (in chunk subjects `$O.<bucket>.C.<nuid>`
//!   and in the meta's `"nuid"`) become `<nuid1>`, `<nuid2>`, ... in the order the
//!   calls returned them;
//! - the `state.bytes` of an object store's stream is shown less the length of the
//!   `mtime` texts of the stored metas (the client cuts trailing zeros of nanoseconds,
//!   so that length varies from run to run).
//!
//! The stream dumps are taken before the reads that create consumers (list, watch,
//! history, keys, get of an object), so consumer counts are those of the writes.
//!
//! `SLUICE_DIFF_SELF_CHECK=1` plays the sessions against two nats-servers (to check the
//! normalisation); `SLUICE_DIFF_PRINT=1` prints every outcome of the first server.

mod common;
#[path = "common/differential.rs"]
mod differential;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::kv;
use async_nats::jetstream::object_store::{self, ObjectInfo, ObjectMetadata, UpdateMetadata};
use async_nats::jetstream::stream::StorageType;
use common::jetstream::{js_opts, js_ready};
use common::{NatsServerProcess, TestServer};
use differential::{explain_json, normalise_headers, normalise_json_text, render_payload};
use futures::StreamExt;
use serde_json::Value;
use tokio::io::AsyncReadExt;

fn self_check() -> bool {
    std::env::var_os("SLUICE_DIFF_SELF_CHECK").is_some()
}

fn print_steps() -> bool {
    std::env::var_os("SLUICE_DIFF_PRINT").is_some()
}

// ---------------------------------------------------------------------------------------
// Recording what one server did
// ---------------------------------------------------------------------------------------

/// The outcomes of one session on one server, in order: `(what, outcome)`.
struct Rec {
    client: async_nats::Client,
    js: async_nats::jetstream::Context,
    lines: Vec<(String, String)>,
    /// Object nuids in the order the calls returned them.
    nuids: Vec<String>,
}

impl Rec {
    fn note(&mut self, what: impl Into<String>, outcome: impl Into<String>) {
        self.lines.push((what.into(), outcome.into()));
    }

    /// Notes a call's result: `Ok(<shown>)` or `Err(<error text>)`.
    fn result<T, E: std::fmt::Display>(
        &mut self,
        what: &str,
        r: Result<T, E>,
        show: impl FnOnce(&T) -> String,
    ) -> Option<T> {
        match r {
            Ok(v) => {
                let s = show(&v);
                self.note(what, format!("Ok({s})"));
                Some(v)
            }
            Err(e) => {
                self.note(what, format!("Err({e})"));
                None
            }
        }
    }

    /// Notes an object info (as JSON; its nuid remembered for the placeholders).
    fn object_info(&mut self, what: &str, r: Result<ObjectInfo, impl std::fmt::Display>) {
        if let Ok(info) = &r {
            if !info.nuid.is_empty() && !self.nuids.contains(&info.nuid) {
                self.nuids.push(info.nuid.clone());
            }
        }
        self.result(what, r, |i| {
            normalise_json_text(&serde_json::to_string(i).expect("object info JSON"))
        });
    }

    async fn api(&self, subject: &str, body: &str) -> String {
        match tokio::time::timeout(
            differential::REPLY_WAIT,
            self.client
                .request(subject.to_string(), body.to_string().into()),
        )
        .await
        {
            Ok(Ok(m)) => String::from_utf8_lossy(&m.payload).into_owned(),
            Ok(Err(e)) => format!("<request failed: {e}>"),
            Err(_) => "<no reply>".to_string(),
        }
    }

    /// A direct get (`$JS.API.DIRECT.GET...`): status, headers (sorted, as the client
    /// keeps them in a hash map; `Nats-Time-Stamp` as `<ts>`) and payload.
    async fn direct(&mut self, subject: &str, body: &str) {
        let reply = tokio::time::timeout(
            differential::REPLY_WAIT,
            self.client
                .request(subject.to_string(), body.to_string().into()),
        )
        .await;
        let shown = match reply {
            Ok(Ok(m)) => {
                let mut headers: Vec<String> = m
                    .headers
                    .iter()
                    .flat_map(|h| h.iter())
                    .flat_map(|(k, vs)| {
                        vs.iter().map(move |v| match k.to_string().as_str() {
                            "Nats-Time-Stamp" => format!("{k}: <ts>"),
                            _ => format!("{k}: {v}"),
                        })
                    })
                    .collect();
                headers.sort();
                format!(
                    "status {} {:?} [{}] {}",
                    m.status.map_or("-".to_string(), |s| s.to_string()),
                    m.description.as_deref().unwrap_or(""),
                    headers.join("; "),
                    render_payload(&String::from_utf8_lossy(&m.payload))
                )
            }
            Ok(Err(e)) => format!("<request failed: {e}>"),
            Err(_) => "<no reply>".to_string(),
        };
        self.note(format!("{subject} {body}"), shown);
    }

    /// The stream's info (plain and with per-subject counts) and every stored sequence.
    async fn dump_stream(&mut self, stream: &str) {
        let subject = format!("$JS.API.STREAM.INFO.{stream}");
        let info = self.api(&subject, "").await;
        let with_subjects = self.api(&subject, r#"{"subjects_filter":">"}"#).await;
        let last = serde_json::from_str::<Value>(&info)
            .ok()
            .and_then(|v| v["state"]["last_seq"].as_u64())
            .unwrap_or(0);
        let mut msgs = Vec::new();
        let mut mtimes = 0;
        for seq in 1..=last {
            let reply = self
                .api(
                    &format!("$JS.API.STREAM.MSG.GET.{stream}"),
                    &format!(r#"{{"seq":{seq}}}"#),
                )
                .await;
            mtimes += mtime_len(&reply);
            msgs.push((seq, render_stored(&reply)));
        }
        self.note(
            format!("STREAM.INFO {stream}"),
            normalise_json_text(&without_mtimes(&info, mtimes)),
        );
        self.note(
            format!("STREAM.INFO {stream} subjects_filter >"),
            normalise_json_text(&without_mtimes(&with_subjects, mtimes)),
        );
        for (seq, shown) in msgs {
            self.note(format!("STREAM.MSG.GET {stream} seq {seq}"), shown);
        }
    }

    /// The outcomes with the object nuids replaced by placeholders.
    fn finish(self) -> Vec<(String, String)> {
        let nuids = self.nuids;
        self.lines
            .into_iter()
            .map(|(what, mut out)| {
                for (i, n) in nuids.iter().enumerate() {
                    out = out.replace(n.as_str(), &format!("<nuid{}>", i + 1));
                }
                (what, out)
            })
            .collect()
    }
}

/// A `STREAM.MSG.GET` reply with its base64 `hdrs` and `data` decoded in place: headers
/// as text, an object chunk as its size, any other payload as text (normalised JSON).
fn render_stored(reply: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(reply) else {
        return format!("{reply:?}");
    };
    let msg = &v["message"];
    let subject = msg["subject"].as_str().unwrap_or("");
    let mut text = reply.to_string();
    if let Some(h) = msg["hdrs"].as_str() {
        let shown = match base64_decode(h) {
            Some(bytes) => sorted_headers(&String::from_utf8_lossy(&bytes)),
            None => format!("<bad base64 {h}>"),
        };
        text = text.replacen(&format!("\"{h}\""), &Value::String(shown).to_string(), 1);
    }
    if let Some(d) = msg["data"].as_str() {
        let shown = match base64_decode(d) {
            Some(bytes) if is_chunk_subject(subject) => format!("<{} bytes>", bytes.len()),
            Some(bytes) => render_payload(&String::from_utf8_lossy(&bytes)),
            None => format!("<bad base64 {d}>"),
        };
        text = text.replacen(&format!("\"{d}\""), &Value::String(shown).to_string(), 1);
    }
    normalise_json_text(&text)
}

/// The length of the `mtime` text in the object meta a `STREAM.MSG.GET` reply carries.
fn mtime_len(reply: &str) -> u64 {
    serde_json::from_str::<Value>(reply)
        .ok()
        .and_then(|v| v["message"]["data"].as_str().and_then(base64_decode))
        .and_then(|data| serde_json::from_slice::<Value>(&data).ok())
        .and_then(|meta| meta["mtime"].as_str().map(|t| t.len() as u64))
        .unwrap_or(0)
}

/// A stream info with `state.bytes` less the `mtimes` bytes of object meta times: the
/// client writes times with their nanoseconds' trailing zeros cut, so the length of a
/// meta message varies from run to run.
fn without_mtimes(info: &str, mtimes: u64) -> String {
    if mtimes == 0 {
        return info.to_string();
    }
    let Some(bytes) = serde_json::from_str::<Value>(info)
        .ok()
        .and_then(|v| v["state"]["bytes"].as_u64())
    else {
        return info.to_string();
    };
    info.replacen(
        &format!("\"bytes\":{bytes},"),
        &format!("\"bytes\":\"{} + mtimes\",", bytes.saturating_sub(mtimes)),
        1,
    )
}

/// A header block with its header lines sorted (the client keeps headers in a hash map,
/// so their order is its own and differs from call to call), then normalised. A delete
/// marker's block is written by the server: it is kept in its order.
fn sorted_headers(block: &str) -> String {
    if block.contains("\r\nNats-Marker-Reason: ") {
        return normalise_headers(block);
    }
    let mut lines: Vec<&str> = block.split("\r\n").collect();
    // The status line stays first; the two empty strings of the final CRLFCRLF stay last.
    let first = lines
        .iter()
        .position(|l| !l.starts_with("NATS/"))
        .unwrap_or(0);
    let end = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(first, |i| i + 1);
    if first < end {
        lines[first..end].sort_unstable();
    }
    normalise_headers(&lines.join("\r\n"))
}

/// `$O.<bucket>.C.<nuid>`
fn is_chunk_subject(s: &str) -> bool {
    let t: Vec<&str> = s.split('.').collect();
    t.len() == 4 && t[0] == "$O" && t[2] == "C"
}

/// Standard base64 (with or without padding); `None` if it is not.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[test]
fn base64_decoder() {
    assert_eq!(base64_decode("").unwrap(), b"");
    assert_eq!(base64_decode("Zg==").unwrap(), b"f");
    assert_eq!(base64_decode("Zm8=").unwrap(), b"fo");
    assert_eq!(base64_decode("Zm9vYmFy").unwrap(), b"foobar");
    assert_eq!(base64_decode("+/8=").unwrap(), [0xfb, 0xff]);
    assert!(base64_decode("a*b").is_none());
}

// ---------------------------------------------------------------------------------------
// Running a session on both servers
// ---------------------------------------------------------------------------------------

enum Other {
    Sluice(TestServer),
    Nats(NatsServerProcess),
}

async fn connect(addr: std::net::SocketAddr) -> Rec {
    let client = async_nats::connect(format!("nats://{addr}"))
        .await
        .expect("client connects");
    js_ready(&client).await;
    let js = async_nats::jetstream::new(client.clone());
    Rec {
        client,
        js,
        lines: Vec::new(),
        nuids: Vec::new(),
    }
}

/// Plays `session` on a fresh nats-server and on a fresh Sluice and compares outcomes.
async fn run<F, Fut>(name: &str, session: F)
where
    F: Fn(Rec) -> Fut,
    Fut: Future<Output = Rec>,
{
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

    // Both sides at once (each on its own server): the sessions wait on expiries.
    let (a, b) = tokio::join!(
        async { session(connect(ns.addr).await).await.finish() },
        async {
            tokio::time::timeout(Duration::from_secs(60), async {
                session(connect(other_addr).await).await
            })
            .await
            .expect("the session ends on Sluice within a minute")
            .finish()
        }
    );

    let mut report = String::new();
    let mut mismatches = 0;
    for i in 0..a.len().max(b.len()) {
        let missing = (String::from("<step missing>"), String::new());
        let (wa, oa) = a.get(i).unwrap_or(&missing);
        let (wb, ob) = b.get(i).unwrap_or(&missing);
        if print_steps() {
            eprintln!("[{name}] #{i} {wa}\n    {oa}");
        }
        if wa == wb && oa == ob {
            continue;
        }
        mismatches += 1;
        let _ = writeln!(
            report,
            "\n#{i} {wa}{}\n  nats-server: {oa}\n  Sluice:      {ob}",
            if wa == wb {
                String::new()
            } else {
                format!(" (Sluice: {wb})")
            }
        );
        for d in explain_json(oa, ob) {
            let _ = writeln!(report, "    - {d}");
        }
    }
    match other {
        Other::Sluice(s) => s.shutdown().await,
        Other::Nats(n) => drop(n),
    }
    drop(ns);
    assert!(
        mismatches == 0,
        "session {name}: {mismatches} of {} outcomes differ from nats-server:{report}",
        a.len()
    );
}

// ---------------------------------------------------------------------------------------
// Key-value
// ---------------------------------------------------------------------------------------

fn show_entry(e: &Option<kv::Entry>) -> String {
    match e {
        None => "None".into(),
        Some(e) => format!(
            "{} {} rev {} delta {} op {:?} {:?}",
            e.bucket, e.key, e.revision, e.delta, e.operation, e.value
        ),
    }
}

async fn kv_session(mut r: Rec) -> Rec {
    let created =
        r.js.create_key_value(kv::Config {
            bucket: "CFG".into(),
            description: "differential".into(),
            history: 3,
            max_age: Duration::from_secs(3600),
            ..Default::default()
        })
        .await;
    let Some(store) = r.result("create_key_value CFG", created, |_| String::new()) else {
        return r;
    };
    let status = store.status().await;
    r.result("status", status, |s| {
        format!(
            "{} values {} history {} max_age {:?}",
            s.bucket(),
            s.values(),
            s.history(),
            s.max_age()
        )
    });

    let show_rev = |rev: &u64| rev.to_string();
    let res = store.put("a", "1".into()).await;
    r.result("put a", res, show_rev);
    let res = store.create("b", "2".into()).await;
    r.result("create b", res, show_rev);
    let res = store.create("b", "again".into()).await;
    r.result("create b (exists)", res, show_rev);
    let res = store.update("a", "11".into(), 1).await;
    r.result("update a at 1", res, show_rev);
    let res = store.update("a", "stale".into(), 1).await;
    r.result("update a at 1 (stale)", res, show_rev);
    let res = store.delete("b").await;
    r.result("delete b", res, |_| String::new());
    let res = store.create("b", "recreated".into()).await;
    r.result("create b (after delete)", res, show_rev);
    let res = store.purge("a").await;
    r.result("purge a", res, |_| String::new());
    let res = store.put("a", "again".into()).await;
    r.result("put a (after purge)", res, show_rev);
    for i in 1..=5 {
        let res = store.put("c", format!("c{i}").into()).await;
        r.result(&format!("put c{i}"), res, show_rev);
    }
    let res = store.put("dir.x", "nested".into()).await;
    r.result("put dir.x", res, show_rev);
    let res = store.delete("dir.x").await;
    r.result("delete dir.x", res, |_| String::new());

    r.dump_stream("KV_CFG").await;

    // Keys: last per subject, before the update below (see `kv_keys_skip_older_values`).
    match store.keys().await {
        Ok(keys) => {
            let mut keys: Vec<String> = keys
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .map(|k| k.unwrap_or_else(|e| format!("Err({e})")))
                .collect();
            keys.sort();
            r.note("keys", keys.join(" "));
        }
        Err(e) => r.note("keys", format!("Err({e})")),
    }

    // Direct gets (what the client's `entry` uses) and message gets by subject.
    for key in ["a", "b", "c", "dir.x", "none"] {
        let body = format!(r#"{{"last_by_subj":"$KV.CFG.{key}"}}"#);
        r.direct("$JS.API.DIRECT.GET.KV_CFG", &body).await;
    }
    r.direct("$JS.API.DIRECT.GET.KV_CFG.$KV.CFG.c", "").await;
    r.direct("$JS.API.DIRECT.GET.KV_CFG", r#"{"seq":10}"#).await;
    r.direct("$JS.API.DIRECT.GET.KV_CFG", r#"{"seq":1}"#).await;
    r.direct(
        "$JS.API.DIRECT.GET.KV_CFG",
        r#"{"seq":8,"next_by_subj":"$KV.CFG.c"}"#,
    )
    .await;
    for body in [
        r#"{"last_by_subj":"$KV.CFG.b"}"#,
        r#"{"seq":3,"next_by_subj":"$KV.CFG.c"}"#,
        r#"{"last_by_subj":"$KV.CFG.none"}"#,
    ] {
        let reply = r.api("$JS.API.STREAM.MSG.GET.KV_CFG", body).await;
        r.note(
            format!("STREAM.MSG.GET KV_CFG {body}"),
            render_stored(&reply),
        );
    }

    // A bucket update (more history, another description).
    let res =
        r.js.update_key_value(kv::Config {
            bucket: "CFG".into(),
            description: "updated".into(),
            history: 5,
            max_age: Duration::from_secs(3600),
            ..Default::default()
        })
        .await;
    r.result("update_key_value CFG (history 5)", res, |_| String::new());
    let res = store.put("c", "c6".into()).await;
    r.result("put c6", res, show_rev);
    // The config only: the state counts the consumers the reads above left.
    let info = r.api("$JS.API.STREAM.INFO.KV_CFG", "").await;
    let config = serde_json::from_str::<Value>(&info).map_or(info, |v| v["config"].to_string());
    r.note(
        "STREAM.INFO KV_CFG (updated) config",
        normalise_json_text(&config),
    );

    // Reads.
    for key in ["a", "b", "c", "dir.x", "none"] {
        let res = store.entry(key).await;
        r.result(&format!("entry {key}"), res, show_entry);
    }
    let res = store.entry_for_revision("c", 11).await;
    r.result("entry c at 11", res, show_entry);
    let res = store.entry_for_revision("c", 7).await;
    r.result("entry c at 7 (a's revision)", res, show_entry);
    let res = store.get("c").await;
    r.result("get c", res, |v| format!("{v:?}"));
    match store.history("c").await {
        Ok(h) => {
            let entries: Vec<_> = h.collect().await;
            let shown: Vec<String> = entries
                .iter()
                .map(|e| match e {
                    Ok(e) => format!("{} {:?} {:?}", e.revision, e.operation, e.value),
                    Err(e) => format!("Err({e})"),
                })
                .collect();
            r.note("history c", shown.join("; "));
        }
        Err(e) => r.note("history c", format!("Err({e})")),
    }
    let res = r.js.get_key_value("CFG").await;
    if let Some(again) = r.result("get_key_value CFG", res, |_| String::new()) {
        let res = again.get("a").await;
        r.result("get a (second handle)", res, |v| format!("{v:?}"));
    }
    let res = r.js.delete_key_value("CFG").await;
    r.result("delete_key_value CFG", res, |_| String::new());
    let res = r.js.get_key_value("CFG").await;
    r.result("get_key_value CFG (deleted)", res, |_| String::new());
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_calls_and_layout() {
    run("kv_calls_and_layout", kv_session).await;
}

/// Bucket limits (value size, bytes), compression, and deletes and purges that expect a
/// revision.
async fn kv_limits_session(mut r: Rec) -> Rec {
    let created =
        r.js.create_key_value(kv::Config {
            bucket: "LIM".into(),
            history: 2,
            max_value_size: 8,
            max_bytes: 300,
            compression: true,
            ..Default::default()
        })
        .await;
    let Some(store) = r.result("create_key_value LIM", created, |_| String::new()) else {
        return r;
    };
    let show_rev = |rev: &u64| rev.to_string();
    let res = store.put("k", "12345678".into()).await;
    r.result("put k (8 bytes)", res, show_rev);
    let res = store.put("k", "123456789".into()).await;
    r.result("put k (9 bytes)", res, show_rev);
    for i in 0..6 {
        let res = store.put(format!("fill{i}"), "xxxxxxxx".into()).await;
        r.result(&format!("put fill{i}"), res, show_rev);
    }
    // A delete marker's headers count against max_value_size too.
    let res = store.delete_expect_revision("k", Some(1)).await;
    r.result("delete k expecting 1", res, |_| String::new());
    r.dump_stream("KV_LIM").await;
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_limits_and_options() {
    run("kv_limits_and_options", kv_limits_session).await;
}

/// A delete or purge both too large (headers count) and expecting the wrong revision:
/// nats-server reports the size.
async fn kv_oversized_wrong_revision_session(mut r: Rec) -> Rec {
    let created =
        r.js.create_key_value(kv::Config {
            bucket: "SZ".into(),
            max_value_size: 8,
            ..Default::default()
        })
        .await;
    let Some(store) = r.result("create_key_value SZ", created, |_| String::new()) else {
        return r;
    };
    let res = store.put("k", "v".into()).await;
    r.result("put k", res, |rev| rev.to_string());
    let res = store.delete_expect_revision("k", Some(99)).await;
    r.result("delete k expecting 99", res, |_| String::new());
    let res = store.purge_expect_revision("k", Some(99)).await;
    r.result("purge k expecting 99", res, |_| String::new());
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_oversized_delete_with_wrong_revision() {
    run(
        "kv_oversized_delete_with_wrong_revision",
        kv_oversized_wrong_revision_session,
    )
    .await;
}

/// Reads `n` entries of a watch: key, revision, operation, value, delta (the pending
/// count of the delivery) and seen_current.
async fn read_watch(r: &mut Rec, what: &str, watch: Result<kv::Watch, kv::WatchError>, n: usize) {
    let mut watch = match watch {
        Ok(w) => w,
        Err(e) => {
            r.note(what, format!("Err({e})"));
            return;
        }
    };
    let mut seen = Vec::new();
    for _ in 0..n {
        match tokio::time::timeout(differential::REPLY_WAIT, watch.next()).await {
            Ok(Some(Ok(e))) => seen.push(format!(
                "{}@{} {:?} {:?} delta {} current {}",
                e.key, e.revision, e.operation, e.value, e.delta, e.seen_current
            )),
            Ok(Some(Err(e))) => seen.push(format!("Err({e})")),
            Ok(None) => {
                seen.push("ended".into());
                break;
            }
            Err(_) => {
                seen.push("nothing more".into());
                break;
            }
        }
    }
    r.note(what, seen.join("; "));
}

/// Watches: from a revision, with history (last per subject), of some keys, and of
/// new changes only.
async fn kv_watch_session(mut r: Rec) -> Rec {
    let created =
        r.js.create_key_value(kv::Config {
            bucket: "W".into(),
            history: 4,
            ..Default::default()
        })
        .await;
    let Some(store) = r.result("create_key_value W", created, |_| String::new()) else {
        return r;
    };
    // a@1 b@2 a@3 c@4 (b deleted)@5 d.x@6: the last per subject are 3, 4, 5 and 6.
    for (key, value) in [("a", "1"), ("b", "1"), ("a", "2"), ("c", "1")] {
        let res = store.put(key, value.into()).await;
        r.result(&format!("put {key}={value}"), res, |rev| rev.to_string());
    }
    let res = store.delete("b").await;
    r.result("delete b", res, |_| String::new());
    let res = store.put("d.x", "1".into()).await;
    r.result("put d.x=1", res, |rev| rev.to_string());

    let w = store.watch_all_from_revision(2).await;
    read_watch(&mut r, "watch_all_from_revision 2", w, 5).await;
    let w = store.watch_from_revision("a", 1).await;
    read_watch(&mut r, "watch_from_revision a 1", w, 2).await;
    let w = store.watch_with_history("d.*").await;
    read_watch(&mut r, "watch_with_history d.*", w, 1).await;
    let w = store.watch_many_with_history(["a", "c"]).await;
    read_watch(&mut r, "watch_many_with_history a c", w, 2).await;

    // New changes only: nothing of the past, then what is put.
    match store.watch_all().await {
        Ok(mut w) => {
            let res = store.put("e", "new".into()).await;
            r.result("put e=new", res, |rev| rev.to_string());
            let res = store.purge("a").await;
            r.result("purge a", res, |_| String::new());
            let mut seen = Vec::new();
            for _ in 0..2 {
                match tokio::time::timeout(differential::REPLY_WAIT, w.next()).await {
                    Ok(Some(Ok(e))) => seen.push(format!(
                        "{}@{} {:?} {:?} delta {}",
                        e.key, e.revision, e.operation, e.value, e.delta
                    )),
                    other => seen.push(format!("{:?}", other.map(|o| o.map(|x| x.is_ok())))),
                }
            }
            r.note("watch_all (new)", seen.join("; "));
        }
        Err(e) => r.note("watch_all (new)", format!("Err({e})")),
    }
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_watches() {
    run("kv_watches", kv_watch_session).await;
}

/// Keys whose older values lie between the last values of other keys: the consumer
/// `keys()` makes (deliver last per subject) must still reach the last key.
async fn kv_keys_session(mut r: Rec) -> Rec {
    let created =
        r.js.create_key_value(kv::Config {
            bucket: "K".into(),
            history: 5,
            ..Default::default()
        })
        .await;
    let Some(store) = r.result("create_key_value K", created, |_| String::new()) else {
        return r;
    };
    // a@1 b@2 a@3 a@4 c@5: the last per subject are 2, 4 and 5.
    for (key, value) in [("a", "1"), ("b", "1"), ("a", "2"), ("a", "3"), ("c", "1")] {
        let res = store.put(key, value.into()).await;
        r.result(&format!("put {key}={value}"), res, |rev| rev.to_string());
    }
    match store.keys().await {
        Ok(keys) => {
            let mut keys: Vec<String> = keys
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .map(|k| k.unwrap_or_else(|e| format!("Err({e})")))
                .collect();
            keys.sort();
            r.note("keys", keys.join(" "));
        }
        Err(e) => r.note("keys", format!("Err({e})")),
    }
    let w = store.watch_with_history(">").await;
    read_watch(&mut r, "watch_with_history >", w, 3).await;
    // The same consumer by hand: the pending count after each delivery.
    let reply = r
        .api(
            "$JS.API.CONSUMER.CREATE.KV_K.LPS",
            r#"{"stream_name":"KV_K","config":{"durable_name":"LPS","deliver_policy":"last_per_subject","filter_subject":"$KV.K.>","ack_policy":"none"}}"#,
        )
        .await;
    r.note(
        "consumer LPS (last_per_subject)",
        normalise_json_text(&reply),
    );
    let inbox = r.client.new_inbox();
    let Ok(mut sub) = r.client.subscribe(inbox.clone()).await else {
        r.note("subscribe", "failed");
        return r;
    };
    for i in 1..=3 {
        let sent = r
            .client
            .publish_with_reply(
                "$JS.API.CONSUMER.MSG.NEXT.KV_K.LPS",
                inbox.clone(),
                r#"{"batch":1,"no_wait":true}"#.into(),
            )
            .await;
        let next = match sent {
            Ok(()) => tokio::time::timeout(differential::REPLY_WAIT, sub.next()).await,
            Err(e) => {
                r.note(format!("next {i}"), format!("Err({e})"));
                continue;
            }
        };
        let shown = match next {
            Ok(Some(m)) => format!(
                "{} {} {} {:?}",
                if m.subject.as_str() == inbox {
                    "<inbox>"
                } else {
                    m.subject.as_str()
                },
                m.reply
                    .as_deref()
                    .map_or("-".to_string(), differential::normalise_ack_subject),
                m.status.map_or("-".to_string(), |s| s.to_string()),
                m.payload
            ),
            Ok(None) => "<subscription ended>".into(),
            Err(_) => "<no reply>".into(),
        };
        r.note(format!("next {i}"), shown);
        let info = r.api("$JS.API.CONSUMER.INFO.KV_K.LPS", "").await;
        let pending = serde_json::from_str::<Value>(&info).map_or(info, |v| {
            format!(
                "num_pending {} delivered {}",
                v["num_pending"], v["delivered"]["stream_seq"]
            )
        });
        r.note(format!("consumer LPS after next {i}"), pending);
    }
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_keys_skip_older_values() {
    run("kv_keys_skip_older_values", kv_keys_session).await;
}

// ---------------------------------------------------------------------------------------
// Object store
// ---------------------------------------------------------------------------------------

/// `n` bytes of a repeating pattern.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 26) as u8).collect()
}

async fn object_session(mut r: Rec) -> Rec {
    let created =
        r.js.create_object_store(object_store::Config {
            bucket: "OB".into(),
            description: Some("differential objects".into()),
            ..Default::default()
        })
        .await;
    let Some(store) = r.result("create_object_store OB", created, |_| String::new()) else {
        return r;
    };

    let data = pattern(350);
    let meta = ObjectMetadata {
        name: "obj".into(),
        description: Some("four chunks".into()),
        chunk_size: Some(100),
        metadata: HashMap::from([("k".to_string(), "v".to_string())]),
        headers: None,
    };
    let res = store.put(meta, &mut data.as_slice()).await;
    r.object_info("put obj (350 bytes, 100-byte chunks)", res);
    let res = store.put("other", &mut &b"ten bytes!"[..]).await;
    r.object_info("put other", res);
    let res = store.put("empty", &mut &b""[..]).await;
    r.object_info("put empty", res);

    let target = store.info("obj").await;
    let target = r.result("info obj", target, |_| String::new());
    if let Some(target) = &target {
        let res = store.add_link("ln", target).await;
        r.object_info("add_link ln -> obj", res);
    }
    let res = store.add_bucket_link("bl", "OB").await;
    r.object_info("add_bucket_link bl -> OB", res);

    let res = store
        .update_metadata(
            "obj",
            UpdateMetadata {
                name: "renamed".into(),
                description: Some("renamed".into()),
                ..Default::default()
            },
        )
        .await;
    r.object_info("update_metadata obj -> renamed", res);
    let res = store
        .update_metadata(
            "other",
            UpdateMetadata {
                name: "other".into(),
                description: Some("described".into()),
                ..Default::default()
            },
        )
        .await;
    r.object_info("update_metadata other (description)", res);

    // A put over an existing object purges its old chunks.
    let res = store
        .put(
            ObjectMetadata {
                name: "other".into(),
                chunk_size: Some(4),
                ..Default::default()
            },
            &mut &b"replaced!"[..],
        )
        .await;
    r.object_info("put other again (4-byte chunks)", res);
    let res = store.delete("empty").await;
    r.result("delete empty", res, |_| String::new());
    let res = store.delete("missing").await;
    r.result("delete missing", res, |_| String::new());

    for name in ["renamed", "obj", "other", "empty", "ln", "bl", "missing"] {
        let res = store.info(name).await;
        r.object_info(&format!("info {name}"), res);
    }

    r.dump_stream("OBJ_OB").await;

    // Reads (these create consumers).
    for name in ["renamed", "ln", "other", "empty"] {
        match store.get(name).await {
            Ok(mut object) => {
                let mut out = Vec::new();
                let res = object.read_to_end(&mut out).await;
                r.result(&format!("get {name}"), res.map(|_| out), |b| {
                    String::from_utf8_lossy(b).into_owned()
                });
            }
            Err(e) => r.note(format!("get {name}"), format!("Err({e})")),
        }
    }
    let res = store.get("bl").await;
    r.result("get bl", res.map(|_| ()), |_| String::new());
    match store.list().await {
        Ok(list) => {
            let mut names: Vec<String> = list
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .map(|i| i.map(|i| i.name).unwrap_or_else(|e| format!("Err({e})")))
                .collect();
            names.sort();
            r.note("list", names.join(" "));
        }
        Err(e) => r.note("list", format!("Err({e})")),
    }

    let res = r.js.delete_object_store("OB").await;
    r.result("delete_object_store OB", res, |_| String::new());
    let res = r.js.get_object_store("OB").await;
    r.result("get_object_store OB (deleted)", res, |_| String::new());
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_calls_and_layout() {
    run("object_calls_and_layout", object_session).await;
}

// ---------------------------------------------------------------------------------------
// Key-value with limit markers and per-message TTLs
// ---------------------------------------------------------------------------------------

async fn kv_ttl_session(mut r: Rec) -> Rec {
    let created =
        r.js.create_key_value(kv::Config {
            bucket: "TTL".into(),
            history: 2,
            limit_markers: Some(Duration::from_secs(60)),
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await;
    let Some(store) = r.result("create_key_value TTL (limit_markers 60s)", created, |_| {
        String::new()
    }) else {
        return r;
    };
    let show_rev = |rev: &u64| rev.to_string();
    let res = store.put("plain", "p".into()).await;
    r.result("put plain", res, show_rev);
    let res = store
        .create_with_ttl("ttl", "t".into(), Duration::from_secs(60))
        .await;
    r.result("create_with_ttl ttl 60s", res, show_rev);
    let res = store
        .create_with_ttl("ttl", "t2".into(), Duration::from_secs(60))
        .await;
    r.result("create_with_ttl ttl (exists)", res, show_rev);
    let res = store.purge_with_ttl("plain", Duration::from_secs(60)).await;
    r.result("purge_with_ttl plain 60s", res, |_| String::new());
    // With delete markers a TTL is at least the markers' TTL (history above 1).
    let res = store
        .create_with_ttl("short", "s".into(), Duration::from_secs(1))
        .await;
    r.result("create_with_ttl short 1s", res, show_rev);
    r.dump_stream("KV_TTL").await;
    let res = store.entry("ttl").await;
    r.result("entry ttl", res, show_entry);
    let res = store.entry("plain").await;
    r.result("entry plain", res, show_entry);

    // History 1: a 1 s TTL stays 1 s; the value expires and leaves a delete marker
    // (with the bucket's 60 s TTL).
    let created =
        r.js.create_key_value(kv::Config {
            bucket: "EXP".into(),
            history: 1,
            limit_markers: Some(Duration::from_secs(60)),
            ..Default::default()
        })
        .await;
    let Some(store) = r.result(
        "create_key_value EXP (history 1, limit_markers 60s)",
        created,
        |_| String::new(),
    ) else {
        return r;
    };
    let res = store.put("kept", "k".into()).await;
    r.result("put kept", res, show_rev);
    let res = store
        .create_with_ttl("short", "s".into(), Duration::from_secs(1))
        .await;
    r.result("create_with_ttl short 1s", res, show_rev);
    let end = tokio::time::Instant::now() + Duration::from_secs(10);
    let expired = loop {
        match store.entry("short").await {
            Ok(Some(e)) if e.operation == kv::Operation::Put => {}
            other => break other.map_err(|e| e.to_string()),
        }
        if tokio::time::Instant::now() > end {
            break Err("still there after 10 s".to_string());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    r.result("entry short once expired", expired, show_entry);
    r.dump_stream("KV_EXP").await;
    let res = store.create("short", "again".into()).await;
    r.result("create short over its marker", res, show_rev);

    // max_age with markers: the value ages out and leaves a marker (seen by a watcher),
    // and the marker, under the same max_age, goes too.
    let created =
        r.js.create_key_value(kv::Config {
            bucket: "AGE".into(),
            history: 2,
            max_age: Duration::from_secs(1),
            limit_markers: Some(Duration::from_secs(60)),
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await;
    let Some(store) = r.result(
        "create_key_value AGE (max_age 1s, markers 60s)",
        created,
        |_| String::new(),
    ) else {
        return r;
    };
    let mut watch = match store.watch_all().await {
        Ok(w) => w,
        Err(e) => {
            r.note("watch_all AGE", format!("Err({e})"));
            return r;
        }
    };
    let res = store.put("v", "aging".into()).await;
    r.result("put v", res, show_rev);
    for i in 1..=2 {
        let seen = match tokio::time::timeout(Duration::from_secs(10), watch.next()).await {
            Ok(Some(Ok(e))) => format!(
                "{} rev {} op {:?} {:?}",
                e.key, e.revision, e.operation, e.value
            ),
            Ok(Some(Err(e))) => format!("Err({e})"),
            Ok(None) => "watch ended".into(),
            Err(_) => "nothing within 10 s".into(),
        };
        r.note(format!("watch AGE change {i}"), seen);
    }
    let end = tokio::time::Instant::now() + Duration::from_secs(10);
    let drained = loop {
        let info = r.api("$JS.API.STREAM.INFO.KV_AGE", "").await;
        let v: Value = serde_json::from_str(&info).unwrap_or_default();
        if v["state"]["messages"] == 0 && v["state"]["last_seq"].as_u64() >= Some(2) {
            break "empty".to_string();
        }
        if tokio::time::Instant::now() > end {
            break format!("not empty after 10 s: {}", v["state"]);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    r.note("KV_AGE drains", drained);
    r.dump_stream("KV_AGE").await;
    drop(watch);
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_limit_markers_and_ttl() {
    run("kv_limit_markers_and_ttl", kv_ttl_session).await;
}

#[test]
fn header_lines_sorted() {
    assert_eq!(
        sorted_headers("NATS/1.0\r\nb: 2\r\na: 1\r\n\r\n"),
        "NATS/1.0\\r\\na: 1\\r\\nb: 2\\r\\n\\r\\n"
    );
    assert_eq!(sorted_headers("NATS/1.0\r\n\r\n"), "NATS/1.0\\r\\n\\r\\n");
}
