//! Measures the file-store costs the KV benchmarks depend on (not a test):
//! sequential `load_next` over a store, sequential append+sync latency (one fsync per
//! message, as a sequential KV put waits for), and reopening a 1M-key KV-like store
//! (time and RSS).
//!
//! `cargo run --release -p sluice-store --example store_costs [dir] [all|read|put|open]`
//! (`build` then `reopen`: the 1M-key store alone, left in `dir`, for profiling;
//! `churn`: 500,000 keys put six times each with history 1, then reopened;
//! `history`: 100,000 keys put eight times each with history 5.)

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_store::{FileStore, FileStoreOptions, MessageStore, RealFs};

fn rss_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<f64>().ok())
        .map_or(0.0, |k| k / 1024.0)
}

/// `INDEX_CACHE_MIB` overrides the index budget (for sizing experiments).
fn open(dir: &Path) -> FileStore {
    let mut opts = FileStoreOptions::default();
    if let Some(mib) = std::env::var("INDEX_CACHE_MIB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        opts.index_cache = mib << 20;
    }
    FileStore::open(Arc::new(RealFs::new()), dir, opts).unwrap()
}

fn sequential_reads(dir: &Path, n: u64, size: usize) {
    let mut s = open(dir);
    let payload = vec![b'v'; size];
    for i in 0..n {
        s.append(&format!("$KV.b.k{}", i % 1000), None, &payload, i as i64)
            .unwrap();
    }
    s.sync().unwrap();
    let t = Instant::now();
    let mut seq = 1;
    let mut got = 0u64;
    while let Some(m) = s.load_next(seq, None).unwrap() {
        seq = m.seq + 1;
        got += 1;
    }
    assert_eq!(got, n);
    let e = t.elapsed();
    println!(
        "load_next x {n} ({size} B): {e:?}, {:.2} us/msg",
        e.as_secs_f64() * 1e6 / n as f64
    );
}

fn put_latency(dir: &Path, n: usize, size: usize) {
    let mut s = open(dir);
    let payload = vec![b'p'; size];
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        s.append("$KV.b.key", None, &payload, i as i64).unwrap();
        s.sync().unwrap();
        lat.push(t.elapsed());
    }
    lat.sort();
    let mean: Duration = lat.iter().sum::<Duration>() / n as u32;
    println!(
        "append({size} B)+sync x {n}: mean {mean:?} p50 {:?} p99 {:?}",
        lat[n / 2],
        lat[n * 99 / 100]
    );
}

fn reopen(dir: &Path, n: u64, build: bool) {
    if build {
        let t = Instant::now();
        let mut s = open(dir);
        let payload = [b'x'; 16];
        for i in 0..n {
            s.append(&format!("$KV.bucket.key{i:07}"), None, &payload, i as i64)
                .unwrap();
            if i % 10_000 == 0 {
                s.sync().unwrap();
            }
        }
        s.sync().unwrap();
        println!(
            "appending {n} keys: {:?}; RSS {:.0} MiB",
            t.elapsed(),
            rss_mib()
        );
    }
    let before = rss_mib();
    let t = Instant::now();
    let s = open(dir);
    let e = t.elapsed();
    assert_eq!(s.state().msgs, n);
    println!(
        "reopen {n} keys: {e:?}; RSS {:.0} MiB (before open {before:.0} MiB)",
        rss_mib()
    );
}

/// A bucket of `keys` keys each put `rounds` times (history 1: each put deletes the
/// key's previous message), then reopened: recovery meets a delete record per put.
/// Puts every key `rounds` times, keeping its last `history` revisions (the oldest is
/// removed as a KV bucket's `max_msgs_per_subject` does).
fn churn(dir: &Path, keys: u64, rounds: u64, history: usize) {
    let _ = std::fs::remove_dir_all(dir);
    let t = Instant::now();
    let mut s = open(dir);
    let payload = [b'x'; 16];
    let mut revisions = vec![std::collections::VecDeque::new(); keys as usize];
    for r in 0..rounds {
        for k in 0..keys {
            let seq = s
                .append(&format!("$KV.bucket.key{k:07}"), None, &payload, r as i64)
                .unwrap();
            let revs = &mut revisions[k as usize];
            revs.push_back(seq);
            if revs.len() > history {
                if let Some(oldest) = revs.pop_front() {
                    s.remove(oldest, false).unwrap();
                }
            }
            if seq % 10_000 == 0 {
                s.sync().unwrap();
            }
        }
    }
    s.sync().unwrap();
    drop(s);
    println!(
        "churn {keys} keys x {rounds}, history {history}: {:?}",
        t.elapsed()
    );
    let before = rss_mib();
    let t = Instant::now();
    let s = open(dir);
    assert_eq!(s.state().msgs, keys * (history as u64).min(rounds));
    println!(
        "reopen after churn: {:?}; RSS {:.0} MiB (before open {before:.0} MiB)",
        t.elapsed(),
        rss_mib()
    );
}

fn main() {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/work/tmp-store-costs".to_string());
    let base = Path::new(&base);
    let what = std::env::args().nth(2).unwrap_or_else(|| "all".into());
    // `build` leaves a 1M-key store in `dir`, `reopen` opens it (for profiling).
    if what == "churn" {
        churn(&base.join("churn"), 500_000, 6, 1);
    }
    // `history`: 100,000 keys with history 5 (removing a key's oldest revision must
    // find its next one).
    if what == "history" {
        churn(&base.join("history"), 100_000, 8, 5);
    }
    if what == "build" || what == "reopen" {
        reopen(&base.join("o1"), 1_000_000, what == "build");
        return;
    }
    let _ = std::fs::remove_dir_all(base);
    std::fs::create_dir_all(base).unwrap();
    if what == "all" || what == "read" {
        sequential_reads(&base.join("r1"), 100_000, 100);
        sequential_reads(&base.join("r2"), 2_000, 128 << 10);
    }
    if what == "all" || what == "put" {
        put_latency(&base.join("p1"), 2_000, 200);
        put_latency(&base.join("p2"), 300, 128 << 10);
    }
    if what == "all" || what == "open" {
        reopen(&base.join("o1"), 1_000_000, true);
    }
    let _ = std::fs::remove_dir_all(base);
}
