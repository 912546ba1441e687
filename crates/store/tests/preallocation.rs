//! Preallocated segment files: the active segment is grown ahead of its appends
//! (zero-filled), so an fsync after an append has no file size change to journal.
//! Recovery must find the end of the data inside such a tail: zeros after the last
//! record are not damage, appends continue right after the last record after a crash,
//! no acknowledged message is lost, and sealed segments end with their last record.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use common::{check_invariants, contents, open_sim, segments, Rng, Sent};
use sluice_store::vfs::{FaultKind, FaultRule, FsOp, PowerCut};
use sluice_store::{FileStore, FileStoreOptions, MessageStore, RealFs, SimFs};

fn opts() -> FileStoreOptions {
    FileStoreOptions {
        segment_size: 1 << 20,
        sync_always: false,
        write_buffer: 4096,
        ..Default::default()
    }
}

fn file_len(fs: &SimFs, name: &str) -> u64 {
    fs.read_file(&Path::new("/p").join(name)).unwrap().len() as u64
}

#[test]
fn a_zero_filled_tail_is_the_end_of_the_data_not_damage() {
    let fs = SimFs::new(1);
    let mut store = open_sim(&fs, "/p", opts());
    let mut rng = Rng::new(1);
    let mut sent = BTreeMap::new();
    for i in 0..300 {
        let m = Sent::random(&mut rng, i);
        sent.insert(m.append(&mut store).unwrap(), m);
    }
    store.sync().unwrap();
    let data_end = store.active_segment_len();
    let seg = segments(&fs, "/p")[0].clone();
    let allocated = file_len(&fs, &seg);
    assert!(allocated > data_end, "{allocated} > {data_end}");
    // kill -9: nothing more is written, not even the buffered nothing.
    fs.power_cut(PowerCut::DropUnsynced);
    let mut store = open_sim(&fs, "/p", opts());
    let report = store.recovery_report();
    assert!(report.damaged.is_empty(), "{report:?}");
    assert_eq!(report.truncated_tail_bytes, 0);
    assert_eq!(store.active_segment_len(), data_end);
    assert_eq!(file_len(&fs, &seg), allocated, "the preallocation is kept");
    let got = contents(&store);
    assert_eq!(got.len(), sent.len());
    for (seq, m) in &got {
        assert!(sent[seq].matches(m), "seq {seq}");
    }
    // Appends go right after the last record, over the zeros.
    let seq = store.append("after", None, b"x", 5).unwrap();
    assert_eq!(seq, 301);
    assert_eq!(store.active_segment_len(), data_end + 12 + 28 + 5 + 1);
    store.sync().unwrap();
    fs.power_cut(PowerCut::DropUnsynced);
    let store = open_sim(&fs, "/p", opts());
    assert_eq!(store.state().msgs, 301);
    assert_eq!(store.load(301).unwrap().unwrap().payload.as_ref(), b"x");
    check_invariants(&store);
}

#[test]
fn power_cuts_with_preallocation_never_lose_acknowledged_messages() {
    for seed in 0..60u64 {
        let mut rng = Rng::new(seed);
        let fs = SimFs::new(seed);
        // Segments that fill up, so both growth steps and sealing happen.
        let o = FileStoreOptions {
            segment_size: 48 << 10,
            sync_always: false,
            write_buffer: 2048,
            ..Default::default()
        };
        let mut store = open_sim(&fs, "/p", o.clone());
        let mut acked: BTreeMap<u64, Sent> = BTreeMap::new();
        let mut pending: BTreeMap<u64, Sent> = BTreeMap::new();
        for round in 0..6u64 {
            for i in 0..rng.below(400) {
                let m = Sent::random(&mut rng, round * 1000 + i);
                pending.insert(m.append(&mut store).unwrap(), m);
                if rng.chance(10) {
                    store.sync().unwrap();
                    acked.append(&mut pending);
                }
            }
            let mode = if rng.chance(50) {
                PowerCut::TearUnsynced
            } else {
                PowerCut::DropUnsynced
            };
            drop(store);
            fs.power_cut(mode);
            store = open_sim(&fs, "/p", o.clone());
            let ctx = format!("seed {seed} round {round}");
            assert!(store.recovery_report().damaged.is_empty(), "{ctx}");
            let got = contents(&store);
            for (seq, m) in &acked {
                assert!(got.get(seq).is_some_and(|g| m.matches(g)), "{ctx}: {seq}");
            }
            // Whatever else survived is exactly what was sent (no garbage), and it is
            // acknowledged from now on: open made it durable.
            for (seq, g) in &got {
                let m = acked.get(seq).or_else(|| pending.get(seq));
                assert!(m.is_some_and(|m| m.matches(g)), "{ctx}: {seq}");
            }
            for seq in got.keys() {
                if let Some(m) = pending.remove(seq) {
                    acked.insert(*seq, m);
                }
            }
            pending.clear();
            assert_eq!(
                store.state().last_seq,
                got.keys().last().copied().unwrap_or(0)
            );
            check_invariants(&store);
        }
    }
}

#[test]
fn sealed_segments_end_with_their_last_record() {
    let fs = SimFs::new(2);
    let o = FileStoreOptions {
        segment_size: 32 << 10,
        sync_always: false,
        write_buffer: 1024,
        ..Default::default()
    };
    let mut store = open_sim(&fs, "/p", o.clone());
    for i in 0..1000u64 {
        store.append("k", None, &[1u8; 150], i as i64).unwrap();
    }
    store.sync().unwrap();
    let names = segments(&fs, "/p");
    assert!(names.len() > 3);
    // The active segment is preallocated up to the segment size...
    let active = file_len(&fs, names.last().unwrap());
    assert_eq!(active, 32 << 10);
    assert!(store.active_segment_len() < active);
    // ...sealed ones were trimmed: their last bytes are a record's (a payload of 1s).
    for name in &names[..names.len() - 1] {
        let bytes = fs.read_file(&Path::new("/p").join(name)).unwrap();
        assert!(bytes.len() < 32 << 10, "{name}");
        assert_eq!(bytes.last(), Some(&1u8), "{name}");
    }
    // A crash between sealing and the next sync can leave a sealed segment with its
    // zero tail: still not damage.
    let first = Path::new("/p").join(&names[0]);
    let len = fs.read_file(&first).unwrap().len() as u64;
    fs.overwrite(&first, len, &vec![0u8; 5000]).unwrap();
    drop(store);
    let store = open_sim(&fs, "/p", o);
    let report = store.recovery_report();
    assert!(report.damaged.is_empty(), "{report:?}");
    assert_eq!(store.state().msgs, 1000);
    check_invariants(&store);
}

#[test]
fn a_failing_preallocation_is_not_a_failed_append() {
    let fs = SimFs::new(3);
    fs.add_fault(FaultRule::always(FsOp::Allocate, FaultKind::Enospc));
    let mut store = open_sim(&fs, "/p", opts());
    for i in 0..200u64 {
        store.append("k", None, b"value", i as i64).unwrap();
    }
    store.sync().unwrap();
    assert!(fs.op_count(FsOp::Allocate) > 0);
    drop(store);
    fs.clear_faults();
    fs.power_cut(PowerCut::DropUnsynced);
    let store = open_sim(&fs, "/p", opts());
    assert_eq!(store.state().msgs, 200);
}

#[test]
fn real_filesystem_reopen_appends_after_the_last_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p");
    let vfs = Arc::new(RealFs::new());
    let mut store = FileStore::open(vfs.clone(), &path, opts()).unwrap();
    for i in 0..100 {
        store
            .append("a", None, format!("m{i}").as_bytes(), i)
            .unwrap();
    }
    store.sync().unwrap();
    let end = store.active_segment_len();
    // Dropping without closing anything more, like a killed process.
    std::mem::forget(store);
    let seg = path.join("00000001.seg");
    let allocated = std::fs::metadata(&seg).unwrap().len();
    assert!(allocated > end);
    for round in 0..3i64 {
        let mut store = FileStore::open(vfs.clone(), &path, opts()).unwrap();
        let report = store.recovery_report();
        assert!(report.damaged.is_empty() && report.truncated_tail_bytes == 0);
        assert_eq!(store.state().msgs, 100 + round as u64);
        store.append("a", None, b"again", 100 + round).unwrap();
        store.sync().unwrap();
        std::mem::forget(store);
    }
    let store = FileStore::open(vfs, &path, opts()).unwrap();
    assert_eq!(store.state().msgs, 103);
    assert_eq!(store.load(103).unwrap().unwrap().payload.as_ref(), b"again");
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), allocated);
}
