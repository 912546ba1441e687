//! A quick throughput check of the file store on the real filesystem (not a test):
//! appends per second and group-commit sync latency for 16 B and 1 KiB messages, raw
//! fsync latency, and the time to open a store of 1M small messages.
//!
//! `cargo run --release -p sluice-store --example throughput [dir]` (default: a
//! temporary directory under /work).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_store::vfs::OpenMode;
use sluice_store::{FileStore, FileStoreOptions, MessageStore, RealFs, Vfs};

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p) as usize]
}

fn rss_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<f64>().ok())
        .map_or(0.0, |k| k / 1024.0)
}

fn run(dir: &Path, size: usize, n: u64, batch: u64) {
    let vfs = Arc::new(RealFs::new());
    let mut store = FileStore::open(vfs, dir, FileStoreOptions::default()).unwrap();
    let payload = vec![b'x'; size];
    let mut syncs = Vec::new();
    let start = Instant::now();
    for i in 0..n {
        store
            .append("bench.subject", None, &payload, i as i64)
            .unwrap();
        if (i + 1) % batch == 0 {
            let t = Instant::now();
            store.sync().unwrap();
            syncs.push(t.elapsed());
        }
    }
    store.sync().unwrap();
    let total = start.elapsed();
    let sync_total: Duration = syncs.iter().sum();
    println!(
        "{size:>5} B x {n}, sync every {batch}: {:>9.0} msgs/s incl. fsync ({:.1} MB/s); \
         appends alone {:>9.0} msgs/s; sync p50 {:?} p99 {:?} max {:?}",
        n as f64 / total.as_secs_f64(),
        (n as f64 * size as f64) / total.as_secs_f64() / 1e6,
        n as f64 / (total - sync_total).as_secs_f64(),
        pct(&mut syncs, 0.5),
        pct(&mut syncs, 0.99),
        syncs.iter().max().unwrap(),
    );
}

fn fsync_alone(dir: &Path) {
    let vfs = RealFs::new();
    let f = vfs.open(&dir.join("fsync.bin"), OpenMode::Create).unwrap();
    let mut lat = Vec::new();
    for i in 0..200u64 {
        f.write_at(&[1u8; 64], i * 64).unwrap();
        let t = Instant::now();
        f.sync_data().unwrap();
        lat.push(t.elapsed());
    }
    println!(
        "fdatasync after a 64 B append: p50 {:?} p99 {:?}",
        pct(&mut lat, 0.5),
        pct(&mut lat, 0.99)
    );
}

fn open_time(dir: &Path, n: u64) {
    let vfs = Arc::new(RealFs::new());
    {
        let mut store = FileStore::open(vfs.clone(), dir, FileStoreOptions::default()).unwrap();
        for i in 0..n {
            store
                .append(&format!("orders.{}", i % 1000), None, &[b'p'; 16], i as i64)
                .unwrap();
            if i % 10_000 == 9_999 {
                store.sync().unwrap();
            }
        }
        store.sync().unwrap();
    }
    let rss0 = rss_mib();
    let t = Instant::now();
    let store = FileStore::open(vfs, dir, FileStoreOptions::default()).unwrap();
    let took = t.elapsed();
    println!(
        "open of {n} msgs (16 B, 1000 subjects, {} segments): {took:?}; RSS +{:.0} MiB",
        store.segment_count(),
        rss_mib() - rss0
    );
    assert_eq!(store.state().msgs, n);
}

fn main() {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/work".to_string());
    let tmp = tempfile::Builder::new()
        .prefix("sluice-store-bench")
        .tempdir_in(base)
        .unwrap();
    println!("dir: {}", tmp.path().display());
    fsync_alone(tmp.path());
    run(&tmp.path().join("a"), 16, 100_000, 1000);
    run(&tmp.path().join("b"), 1024, 100_000, 1000);
    run(&tmp.path().join("c"), 16, 100_000, 100);
    open_time(&tmp.path().join("open"), 1_000_000);
}
