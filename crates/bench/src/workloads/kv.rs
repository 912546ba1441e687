//! Key-value workloads through async-nats's KV API (`jetstream::kv::Store`),
//! as applications use it. Each run creates a fresh file bucket with history
//! 1 and deletes it afterwards.
//!
//! - `kv-put`: puts of distinct keys, measured two ways: sequential (each
//!   `put` awaited before the next; a tenth of the keys, as every Sluice ack
//!   waits for an fsync) and concurrent ([`IN_FLIGHT`] puts in flight). The
//!   bucket must then hold every key.
//! - `kv-get`: `get` of every key of a filled bucket (direct get: async-nats
//!   creates buckets with `allow_direct`), sequentially (rate, p50/p99
//!   latency) and [`IN_FLIGHT`] at a time (rate). Every value is checked.
//! - `kv-watch`: a watch of all keys over a filled bucket; the time until
//!   the watcher has delivered every initial value (async-nats marks the
//!   last one with `seen_current`: its `delta`, the consumer's pending count,
//!   is 0), and that as values/s. Every key must arrive exactly once. In
//!   async-nats 0.51 `watch_all` sends only later changes (deliver policy
//!   `new`), so the watch is `watch_with_history(">")` (`last_per_subject`,
//!   what Go's `WatchAll` does).
//! - `kv-history`: a bucket with history [`HISTORY`]: [`HISTORY_ROUNDS`]
//!   rounds of puts over the same keys, [`IN_FLIGHT`] in flight. Past the
//!   fifth round every put also removes the key's oldest revision (the
//!   server finds the next oldest). The bucket must then hold [`HISTORY`]
//!   revisions of every key.
//!
//! Key-value acks differ as JetStream acks do: nats-server acknowledges a
//! put before its periodic fsync, Sluice after the fsync that covers it (one
//! fsync for a whole batch of concurrent puts).

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use async_nats::jetstream::{self, kv, stream::StorageType};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use tokio::time::timeout;

use super::natsclient::connect;
use super::{payload, Opts, Spec};
use crate::endpoint::Endpoint;
use crate::latency::Recorder;
use crate::report::{Metric, Outcome, Unit};

/// Requests in flight in the concurrent phases (and the pre-fills).
pub const IN_FLIGHT: usize = 256;
/// The sequential put phase puts this fraction of the keys.
pub const SEQ_PUT_DIVISOR: u64 = 10;
/// Revisions `kv-history` keeps per key.
pub const HISTORY: i64 = 5;
/// Times `kv-history` puts every key.
pub const HISTORY_ROUNDS: u64 = 8;

/// Runs an async workload on a fresh two-worker tokio runtime, bounded by
/// `bound`.
pub fn block_on<T>(name: &str, bound: Duration, fut: impl Future<Output = Result<T>>) -> Result<T> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let result = rt.block_on(async {
        match timeout(bound, fut).await {
            Ok(r) => r,
            Err(_) => Err(anyhow!("{name}: timed out after {bound:?}")),
        }
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

/// The bound on one run: `--timeout` per 100,000 keys (at least once).
pub fn bound(opts: &Opts, keys: u64) -> Duration {
    opts.timeout * u32::try_from(keys.div_ceil(100_000).max(1)).unwrap_or(u32::MAX)
}

/// The bucket a workload uses, e.g. `BENCH_KV_PUT`.
pub fn bucket_name(workload: &str) -> String {
    format!("BENCH_{}", workload.replace(['-', '.'], "_").to_uppercase())
}

/// Key number `i`.
pub fn key(i: u64) -> String {
    format!("k{i:08}")
}

/// The value of key `i`: `size` bytes starting with the key's number, so a
/// get of the wrong key shows.
pub fn value(i: u64, size: usize) -> Bytes {
    let mut v = payload(size);
    let tag = format!("{i:08}");
    let n = tag.len().min(v.len());
    v[..n].copy_from_slice(&tag.as_bytes()[..n]);
    Bytes::from(v)
}

/// A fresh file bucket (an old one of the same name is deleted first).
pub async fn create_bucket(js: &jetstream::Context, name: &str) -> Result<kv::Store> {
    create_bucket_with_history(js, name, 1).await
}

/// A fresh file bucket keeping `history` revisions per key.
pub async fn create_bucket_with_history(
    js: &jetstream::Context,
    name: &str,
    history: i64,
) -> Result<kv::Store> {
    // Left over by an interrupted run, or absent.
    let _ = js.delete_key_value(name).await;
    js.create_key_value(kv::Config {
        bucket: name.to_owned(),
        history,
        storage: StorageType::File,
        ..Default::default()
    })
    .await
    .with_context(|| format!("cannot create bucket {name}"))
}

/// Puts keys `range` with up to `in_flight` puts outstanding.
pub async fn put_concurrent(
    store: &kv::Store,
    range: std::ops::Range<u64>,
    size: usize,
    in_flight: usize,
) -> Result<()> {
    put_each(store, range, in_flight, |i| (key(i), value(i, size))).await
}

/// Put number `n` of `range` writes `entry(n)` (key, value), with up to `in_flight`
/// puts outstanding.
async fn put_each(
    store: &kv::Store,
    range: std::ops::Range<u64>,
    in_flight: usize,
    entry: impl Fn(u64) -> (String, Bytes),
) -> Result<()> {
    let entry = &entry;
    futures::stream::iter(range)
        .map(|n| async move {
            let (k, v) = entry(n);
            store
                .put(&k, v)
                .await
                .with_context(|| format!("put {n} (key {k}) failed"))
        })
        .buffer_unordered(in_flight)
        .try_for_each(|_| async { Ok(()) })
        .await
}

/// The number of values in the bucket: its stream's message count, asked
/// afresh (`Store::status` returns the info cached at creation).
pub async fn values(store: &kv::Store) -> Result<u64> {
    Ok(store
        .stream
        .get_info()
        .await
        .context("STREAM.INFO of the bucket failed")?
        .state
        .messages)
}

/// Checks the bucket holds exactly `want` values.
pub async fn expect_values(store: &kv::Store, want: u64) -> Result<()> {
    let n = values(store).await?;
    if n != want {
        bail!("the bucket holds {n} values, {want} were put");
    }
    Ok(())
}

/// Watches every key of a bucket holding keys `0..n` and waits until the
/// watcher delivered all initial values; each key must come exactly once.
///
/// async-nats's `watch_all` delivers only changes made after it starts
/// (deliver policy `new`); the watch of all keys that starts with their
/// current values (Go's `WatchAll`) is `watch_with_history(">")` (deliver
/// policy `last_per_subject`).
pub async fn watch_initial(store: &kv::Store, n: u64) -> Result<()> {
    let mut watch = store
        .watch_with_history(">")
        .await
        .context("watch of every key failed")?;
    let mut seen = vec![false; usize::try_from(n)?];
    let mut count = 0u64;
    while let Some(entry) = watch.next().await {
        let entry = entry.context("watcher error")?;
        let slot = entry
            .key
            .strip_prefix('k')
            .and_then(|k| k.parse::<usize>().ok())
            .filter(|&i| i < seen.len());
        match slot {
            Some(i) if !seen[i] => seen[i] = true,
            _ => bail!(
                "watcher delivered {:?} (unknown or repeated) after {count} values",
                entry.key
            ),
        }
        count += 1;
        if entry.seen_current {
            if count != n {
                bail!("watcher marked the initial values complete after {count} of {n}");
            }
            return Ok(());
        }
    }
    bail!("watcher ended after {count} of {n} initial values")
}

/// Lists the keys of a bucket holding `n` keys; they must be all there.
pub async fn list_keys(store: &kv::Store, n: u64) -> Result<()> {
    let mut keys = store.keys().await.context("keys failed")?;
    let mut count = 0u64;
    while let Some(k) = keys.next().await {
        k.context("keys stream error")?;
        count += 1;
    }
    if count != n {
        bail!("keys() listed {count} keys, the bucket has {n}");
    }
    Ok(())
}

/// An outcome of custom metrics.
pub fn outcome(spec: &Spec, ep: &Endpoint, custom: Vec<Metric>, detail: String) -> Outcome {
    Outcome {
        workload: spec.name.clone(),
        url: ep.url.clone(),
        client: "async-nats",
        size: spec.size,
        published: spec.msgs,
        delivered: 0,
        elapsed_secs: 0.0,
        publish_secs: 0.0,
        msgs_per_sec: 0.0,
        mb_per_sec: 0.0,
        split: Vec::new(),
        latency: None,
        custom,
        detail: Some(detail),
    }
}

/// Runs `body` on a fresh bucket named after the workload, then deletes the
/// bucket (whether `body` succeeded or not).
async fn with_bucket<T>(
    spec: &Spec,
    ep: &Endpoint,
    body: impl AsyncFnOnce(&kv::Store) -> Result<T>,
) -> Result<T> {
    with_history_bucket(spec, ep, 1, body).await
}

/// [`with_bucket`] keeping `history` revisions per key.
async fn with_history_bucket<T>(
    spec: &Spec,
    ep: &Endpoint,
    history: i64,
    body: impl AsyncFnOnce(&kv::Store) -> Result<T>,
) -> Result<T> {
    let client = connect(ep, &format!("sluice-bench-{}", spec.name)).await?;
    let js = jetstream::new(client.clone());
    let name = bucket_name(&spec.name);
    let store = create_bucket_with_history(&js, &name, history).await?;
    let result = body(&store).await;
    let cleaned = js
        .delete_key_value(&name)
        .await
        .with_context(|| format!("cannot delete bucket {name}"));
    let out = result?;
    cleaned?;
    Ok(out)
}

pub fn run_put(spec: &Spec, ep: &Endpoint, opts: &Opts) -> Result<Outcome> {
    let n = spec.msgs;
    let seq_n = (n / SEQ_PUT_DIVISOR).max(1);
    let size = spec.size;
    let (seq_secs, conc_secs) = block_on(&spec.name, bound(opts, n), async {
        with_bucket(spec, ep, async |store: &kv::Store| {
            let start = Instant::now();
            for i in 0..seq_n {
                store
                    .put(key(i), value(i, size))
                    .await
                    .with_context(|| format!("put of {} failed", key(i)))?;
            }
            let seq_secs = start.elapsed().as_secs_f64();
            let start = Instant::now();
            put_concurrent(store, seq_n..seq_n + n, size, IN_FLIGHT).await?;
            let conc_secs = start.elapsed().as_secs_f64();
            expect_values(store, seq_n + n).await?;
            Ok((seq_secs, conc_secs))
        })
        .await
    })?;
    let seq_rate = seq_n as f64 / seq_secs.max(1e-9);
    let conc_rate = n as f64 / conc_secs.max(1e-9);
    Ok(outcome(
        spec,
        ep,
        vec![
            Metric::custom("sequential puts/s", seq_rate, Unit::Rate, true),
            Metric::custom(
                &format!("concurrent puts/s ({IN_FLIGHT} in flight)"),
                conc_rate,
                Unit::Rate,
                true,
            ),
        ],
        format!(
            "{seq_n} sequential puts in {seq_secs:.2}s, {n} concurrent in {conc_secs:.2}s, \
             {size} B values"
        ),
    ))
}

pub fn run_history(spec: &Spec, ep: &Endpoint, opts: &Opts) -> Result<Outcome> {
    let keys = (spec.msgs / HISTORY_ROUNDS).max(1);
    let puts = keys * HISTORY_ROUNDS;
    let size = spec.size;
    let secs = block_on(&spec.name, bound(opts, puts), async {
        with_history_bucket(spec, ep, HISTORY, async |store: &kv::Store| {
            let start = Instant::now();
            // Key i's round r is put number r * keys + i: rounds follow each other.
            put_each(store, 0..puts, IN_FLIGHT, |n| {
                (key(n % keys), value(n, size))
            })
            .await?;
            let secs = start.elapsed().as_secs_f64();
            expect_values(store, keys * HISTORY as u64).await?;
            Ok(secs)
        })
        .await
    })?;
    Ok(outcome(
        spec,
        ep,
        vec![Metric::custom(
            &format!("puts/s (history {HISTORY}, {IN_FLIGHT} in flight)"),
            puts as f64 / secs.max(1e-9),
            Unit::Rate,
            true,
        )],
        format!("{puts} puts of {keys} keys in {secs:.2}s, {size} B values"),
    ))
}

pub fn run_get(spec: &Spec, ep: &Endpoint, opts: &Opts) -> Result<Outcome> {
    let n = spec.msgs;
    let size = spec.size;
    let (seq_secs, lat, conc_secs) = block_on(&spec.name, bound(opts, n), async {
        with_bucket(spec, ep, async |store: &kv::Store| {
            put_concurrent(store, 0..n, size, IN_FLIGHT).await?;
            expect_values(store, n).await?;
            let mut rec = Recorder::with_capacity(usize::try_from(n)?);
            let start = Instant::now();
            for i in 0..n {
                let t = Instant::now();
                let got = store.get(key(i)).await;
                rec.record(t.elapsed());
                check_get(i, size, got)?;
            }
            let seq_secs = start.elapsed().as_secs_f64();
            let start = Instant::now();
            futures::stream::iter(0..n)
                .map(|i| async move { check_get(i, size, store.get(key(i)).await) })
                .buffer_unordered(IN_FLIGHT)
                .try_for_each(|()| async { Ok(()) })
                .await?;
            let conc_secs = start.elapsed().as_secs_f64();
            let lat = rec.summary().ok_or_else(|| anyhow!("no latency samples"))?;
            Ok((seq_secs, lat, conc_secs))
        })
        .await
    })?;
    Ok(outcome(
        spec,
        ep,
        vec![
            Metric::custom(
                "sequential gets/s",
                n as f64 / seq_secs.max(1e-9),
                Unit::Rate,
                true,
            ),
            Metric::custom("get p50 µs", lat.p50_us, Unit::Micros, false),
            Metric::custom("get p99 µs", lat.p99_us, Unit::Micros, false),
            Metric::custom(
                &format!("concurrent gets/s ({IN_FLIGHT} in flight)"),
                n as f64 / conc_secs.max(1e-9),
                Unit::Rate,
                true,
            ),
        ],
        format!(
            "{n} keys of {size} B; sequential gets in {seq_secs:.2}s (p90 {:.1} µs, max {:.1} µs), \
             concurrent in {conc_secs:.2}s",
            lat.p90_us, lat.max_us
        ),
    ))
}

/// A get of key `i` must return its value.
fn check_get(i: u64, size: usize, got: Result<Option<Bytes>, kv::EntryError>) -> Result<()> {
    match got.with_context(|| format!("get of {} failed", key(i)))? {
        Some(v) if v == value(i, size) => Ok(()),
        Some(v) => bail!("get of {} returned a wrong value of {} B", key(i), v.len()),
        None => bail!("get of {} found no value", key(i)),
    }
}

pub fn run_watch(spec: &Spec, ep: &Endpoint, opts: &Opts) -> Result<Outcome> {
    let n = spec.msgs;
    let size = spec.size;
    let secs = block_on(&spec.name, bound(opts, n), async {
        with_bucket(spec, ep, async |store: &kv::Store| {
            put_concurrent(store, 0..n, size, IN_FLIGHT).await?;
            expect_values(store, n).await?;
            let start = Instant::now();
            watch_initial(store, n).await?;
            Ok(start.elapsed().as_secs_f64())
        })
        .await
    })?;
    Ok(outcome(
        spec,
        ep,
        vec![
            Metric::custom(
                "initial values/s",
                n as f64 / secs.max(1e-9),
                Unit::Rate,
                true,
            ),
            Metric::custom("time to all initial values", secs, Unit::Secs, false),
        ],
        format!("watch_with_history(\">\") over {n} keys of {size} B"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values() {
        assert_eq!(key(42), "k00000042");
        assert_eq!(&value(42, 100)[..8], b"00000042");
        assert_eq!(value(42, 100).len(), 100);
        assert_eq!(&value(42, 4)[..], b"0000");
        assert_ne!(value(1, 100), value(2, 100));
        assert_eq!(bucket_name("kv-put"), "BENCH_KV_PUT");
    }
}
