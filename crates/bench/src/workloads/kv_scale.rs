//! `kv-scale` (opt-in: run it with `--only kv-scale`): a bucket of
//! 1,000,000 keys with small values (16 B), put through async-nats with
//! [`IN_FLIGHT`] puts in flight. Then:
//! - the server's RSS (`/proc/<pid>/status`, as `js-consumers-mem` reads it)
//!   after loading;
//! - the time `keys()` takes to list every key;
//! - the time a watch of all keys takes to deliver every initial value
//!   (`watch_with_history(">")`: async-nats's `watch_all` sends only later
//!   changes; see `kv::watch_initial`);
//! - with a control directory (`--ctl`, `--baseline-ctl`/`--candidate-ctl`;
//!   `scripts/bench.sh` passes them), the restart time: the server is
//!   stopped (SIGTERM, waited for), started again on the same store
//!   directory, and timed from its start until `$JS.API.STREAM.INFO` of the
//!   bucket's stream answers with every message. The stop is timed apart
//!   (shown, not compared).
//!
//! The load rate is shown too: it is `kv-put`'s concurrent rate on a larger
//! bucket. Each run deletes its bucket at the end.

use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use async_nats::jetstream;
use serde_json::Value;

use super::js_consumers_mem::{listener_pid, rss_kib};
use super::jsconsumer::Api;
use super::kv::{
    block_on, bound, bucket_name, create_bucket, expect_values, list_keys, outcome, put_concurrent,
    watch_initial, IN_FLIGHT,
};
use super::natsclient::connect;
use super::{Opts, Spec};
use crate::endpoint::Endpoint;
use crate::report::{Metric, Outcome, Unit};
use crate::serverctl::Ctl;

/// Time the server gets to settle before RSS is read.
const SETTLE: Duration = Duration::from_millis(500);
/// How long one STREAM.INFO may take to answer while the server starts.
const INFO_WAIT: Duration = Duration::from_secs(2);
/// Pause between attempts while the restarted server comes up.
const RETRY: Duration = Duration::from_millis(5);

struct Loaded {
    load_secs: f64,
    rss_kib: u64,
    keys_secs: f64,
    watch_secs: f64,
}

pub fn run(spec: &Spec, ep: &Endpoint, opts: &Opts) -> Result<Outcome> {
    let n = spec.msgs;
    let size = spec.size;
    let pid = match opts.server_pid {
        Some(p) => p,
        None => listener_pid(ep)?,
    };
    rss_kib(pid).with_context(|| format!("reading the memory of server PID {pid}"))?;
    let name = bucket_name(&spec.name);
    let stream = format!("KV_{name}");
    let bound = bound(opts, n);
    let deadline = Instant::now() + bound;
    let loaded = block_on(&spec.name, bound, async {
        let client = connect(ep, "sluice-bench-kv-scale").await?;
        let js = jetstream::new(client.clone());
        let store = create_bucket(&js, &name).await?;
        let result = async {
            let start = Instant::now();
            put_concurrent(&store, 0..n, size, IN_FLIGHT).await?;
            let load_secs = start.elapsed().as_secs_f64();
            expect_values(&store, n).await?;
            tokio::time::sleep(SETTLE).await;
            let rss_kib = rss_kib(pid)?;
            let start = Instant::now();
            list_keys(&store, n).await?;
            let keys_secs = start.elapsed().as_secs_f64();
            let start = Instant::now();
            watch_initial(&store, n).await?;
            let watch_secs = start.elapsed().as_secs_f64();
            Ok(Loaded {
                load_secs,
                rss_kib,
                keys_secs,
                watch_secs,
            })
        }
        .await;
        if result.is_err() {
            let _ = js.delete_key_value(&name).await;
        }
        result
    })?;
    let restart = match opts.server_ctl.as_deref().map(Ctl::new) {
        Some(ctl) => {
            let r = restart(&ctl, ep, &stream, n, deadline);
            if r.is_err() {
                let _ = delete(ep, &stream);
            }
            Some(r?)
        }
        None => None,
    };
    delete(ep, &stream).with_context(|| format!("cannot delete stream {stream}"))?;
    let mib = |kib: u64| kib as f64 / 1024.0;
    let mut custom = vec![
        Metric::custom("RSS after loading", mib(loaded.rss_kib), Unit::MiB, false),
        Metric::custom(
            &format!("load puts/s ({IN_FLIGHT} in flight)"),
            n as f64 / loaded.load_secs.max(1e-9),
            Unit::Rate,
            true,
        ),
        Metric::custom("keys() time", loaded.keys_secs, Unit::Secs, false),
        Metric::custom(
            "watch initial values time",
            loaded.watch_secs,
            Unit::Secs,
            false,
        ),
    ];
    let mut detail = format!(
        "pid {pid}, {n} keys of {size} B loaded in {:.1}s",
        loaded.load_secs
    );
    match restart {
        Some(r) => {
            custom.push(Metric::custom(
                "restart time",
                r.start_secs,
                Unit::Secs,
                false,
            ));
            detail += &format!(
                "; stop took {:.2}s; restarted as pid {}, RSS {:.1} MiB after restart",
                r.stop_secs,
                r.pid,
                mib(r.rss_kib)
            );
        }
        None => detail += "; restart not measured (no --ctl)",
    }
    Ok(outcome(spec, ep, custom, detail))
}

struct Restart {
    stop_secs: f64,
    start_secs: f64,
    pid: u32,
    rss_kib: u64,
}

/// Stops and starts the server, then times until STREAM.INFO of `stream`
/// counts `want` messages.
fn restart(
    ctl: &Ctl,
    ep: &Endpoint,
    stream: &str,
    want: u64,
    deadline: Instant,
) -> Result<Restart> {
    let stop_secs = ctl.stop().context("stopping the server")?;
    let start = Instant::now();
    let pid = ctl.start().context("starting the server again")?;
    loop {
        let last = match stream_messages(ep, stream) {
            Ok(n) if n == want => break,
            Ok(n) => format!("STREAM.INFO counts {n} messages"),
            Err(e) => format!("{e:#}"),
        };
        if Instant::now() >= deadline {
            bail!("the restarted server did not report {want} messages in {stream}: {last}");
        }
        thread::sleep(RETRY);
    }
    let start_secs = start.elapsed().as_secs_f64();
    thread::sleep(SETTLE);
    Ok(Restart {
        stop_secs,
        start_secs,
        pid,
        rss_kib: rss_kib(pid)?,
    })
}

/// One STREAM.INFO on a fresh connection: the stream's message count.
fn stream_messages(ep: &Endpoint, stream: &str) -> Result<u64> {
    let mut api = Api::connect(ep, "sluice-bench-kv-scale-restart")?;
    let result = (|| {
        let token = api.send(&format!("$JS.API.STREAM.INFO.{stream}"), b"")?;
        let until = Instant::now() + INFO_WAIT;
        loop {
            let (t, v) = api.recv(until)?;
            if t != token {
                continue;
            }
            if let Some(e) = v.get("error") {
                bail!("STREAM.INFO failed: {e}");
            }
            return v
                .pointer("/state/messages")
                .and_then(Value::as_u64)
                .with_context(|| format!("STREAM.INFO has no state.messages: {v}"));
        }
    })();
    api.conn.close();
    result
}

fn delete(ep: &Endpoint, stream: &str) -> Result<()> {
    let api = Api::connect(ep, "sluice-bench-kv-scale-cleanup")?;
    api.cleanup(ep, stream)
}
