//! EIO and ENOSPC: a failed write or fsync fails the store (every later write returns
//! `Failed`, no retry on the same descriptor), nothing acknowledged is lost, and the
//! store reopens once the fault is gone.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use common::{check_invariants, contents, open_sim, small_opts, Rng, Sent};
use sluice_store::vfs::{FaultKind, FaultRule, FsOp, PowerCut};
use sluice_store::{FileStore, MessageStore, SimFs, StoreError};

fn msg(i: u64) -> Sent {
    Sent {
        subject: format!("f.{}", i % 3),
        headers: None,
        payload: vec![i as u8; 50],
        ts: i as i64,
    }
}

fn assert_all_present(store: &FileStore, acked: &BTreeMap<u64, Sent>) {
    for (seq, m) in acked {
        let got = store
            .load(*seq)
            .unwrap()
            .unwrap_or_else(|| panic!("acked seq {seq} lost"));
        assert!(m.matches(&got), "seq {seq}");
    }
}

fn is_os_error(e: &StoreError, code: i32) -> bool {
    matches!(e, StoreError::Io { source, .. } if source.raw_os_error() == Some(code))
}

fn fsync_failure(op: FsOp) {
    for cut in [false, true] {
        let fs = SimFs::new(1);
        let mut store = open_sim(&fs, "/s", small_opts());
        let mut acked = BTreeMap::new();
        for i in 0..40 {
            let seq = msg(i).append(&mut store).unwrap();
            acked.insert(seq, msg(i));
        }
        store.sync().unwrap();
        for i in 40..60 {
            msg(i).append(&mut store).unwrap();
        }
        fs.add_fault(FaultRule::once(op, FaultKind::Eio));
        let err = store.sync().unwrap_err();
        assert!(is_os_error(&err, 5), "{err:?}");
        assert!(store.is_failed());
        // No retry: every later write is refused, reads still work.
        assert!(matches!(store.sync(), Err(StoreError::Failed)));
        assert!(matches!(
            msg(99).append(&mut store),
            Err(StoreError::Failed)
        ));
        assert!(matches!(store.remove(1, false), Err(StoreError::Failed)));
        assert!(matches!(
            store.purge(None, None, None),
            Err(StoreError::Failed)
        ));
        assert_all_present(&store, &acked);
        drop(store);
        if cut {
            fs.power_cut(PowerCut::TearUnsynced);
        }
        let mut store = open_sim(&fs, "/s", small_opts());
        assert_all_present(&store, &acked);
        check_invariants(&store);
        let seq = msg(100).append(&mut store).unwrap();
        store.sync().unwrap();
        assert!(seq > 40);
    }
}

#[test]
fn fsync_eio_fails_the_store_and_loses_nothing_acknowledged() {
    fsync_failure(FsOp::SyncFile);
}

#[test]
fn directory_fsync_eio_fails_the_store_and_loses_nothing_acknowledged() {
    fsync_failure(FsOp::SyncDir);
}

#[test]
fn write_eio_fails_the_store_and_loses_nothing_acknowledged() {
    fsync_failure(FsOp::Write);
}

#[test]
fn enospc_then_space_returns() {
    let fs = SimFs::new(2);
    let mut store = open_sim(&fs, "/s", small_opts());
    fs.set_capacity(Some(20_000));
    let mut acked = BTreeMap::new();
    let mut batch = Vec::new();
    let mut err = None;
    'outer: for i in 0..10_000 {
        match msg(i).append(&mut store) {
            Ok(seq) => batch.push((seq, msg(i))),
            Err(e) => {
                err = Some(e);
                break;
            }
        }
        if i % 10 == 9 {
            match store.sync() {
                Ok(()) => acked.extend(batch.drain(..)),
                Err(e) => {
                    err = Some(e);
                    break 'outer;
                }
            }
        }
    }
    let err = err.expect("capacity must run out");
    assert!(is_os_error(&err, 28), "{err:?}");
    assert!(acked.len() > 100, "{}", acked.len());
    assert!(matches!(msg(0).append(&mut store), Err(StoreError::Failed)));
    drop(store);
    // Space returns: the store reopens with everything acknowledged, and takes writes.
    fs.set_capacity(None);
    let mut store = open_sim(&fs, "/s", small_opts());
    assert_all_present(&store, &acked);
    check_invariants(&store);
    let seq = msg(1).append(&mut store).unwrap();
    store.sync().unwrap();
    assert!(seq > *acked.keys().last().unwrap());
}

#[test]
fn open_fails_cleanly_while_the_disk_fails() {
    let fs = SimFs::new(3);
    let mut store = open_sim(&fs, "/s", small_opts());
    for i in 0..100 {
        msg(i).append(&mut store).unwrap();
    }
    store.sync().unwrap();
    drop(store);
    for op in [FsOp::Open, FsOp::Read, FsOp::ListDir, FsOp::SetLen] {
        fs.add_fault(FaultRule::always(op, FaultKind::Eio));
        let r = FileStore::open(Arc::new(fs.clone()), Path::new("/s"), small_opts());
        if op != FsOp::SetLen {
            assert!(r.is_err(), "{op:?}");
        }
        drop(r);
        fs.clear_faults();
    }
    let store = open_sim(&fs, "/s", small_opts());
    assert_eq!(store.state().msgs, 100);
}

/// Random faults on every kind of operation over many seeds. After each failure the
/// store is dropped, the machine may lose power, and the store is reopened (retrying
/// while opening itself fails): every acknowledged message is always there.
#[test]
fn random_faults_never_lose_acknowledged_messages() {
    let mut total_failures = 0;
    for seed in 0..60 {
        let mut rng = Rng::new(seed);
        let fs = SimFs::new(seed);
        let ops = [
            FsOp::Write,
            FsOp::SyncFile,
            FsOp::SyncDir,
            FsOp::Open,
            FsOp::Remove,
            FsOp::Read,
            FsOp::SetLen,
        ];
        let mut store = open_sim(&fs, "/s", small_opts());
        let arm = |fs: &SimFs, rng: &mut Rng| {
            for op in ops {
                let kind = if rng.chance(50) {
                    FaultKind::Eio
                } else {
                    FaultKind::Enospc
                };
                fs.add_fault(FaultRule::random(op, kind, 0.01));
            }
        };
        arm(&fs, &mut rng);
        let mut sent: BTreeMap<u64, Sent> = BTreeMap::new();
        let mut acked_live: BTreeSet<u64> = BTreeSet::new();
        let mut removed_unacked: BTreeSet<u64> = BTreeSet::new();
        let mut gone: BTreeSet<u64> = BTreeSet::new();
        let mut pending: Vec<u64> = Vec::new();
        let mut failures = 0;
        for i in 0..600u64 {
            let r = match rng.below(10) {
                0..=6 => {
                    let m = Sent::random(&mut rng, i);
                    m.append(&mut store).map(|seq| {
                        sent.insert(seq, m);
                        pending.push(seq);
                    })
                }
                7 => {
                    let st = store.state();
                    let seq = st.first_seq
                        + rng.below(st.last_seq + 1 - st.first_seq.min(st.last_seq + 1) + 1);
                    // A removal that fails may still have happened.
                    let r = store.remove(seq, rng.chance(30));
                    if !matches!(r, Ok(false)) {
                        removed_unacked.insert(seq);
                    }
                    r.map(|_| ())
                }
                _ => store.sync().map(|()| {
                    acked_live.extend(pending.drain(..));
                    for s in std::mem::take(&mut removed_unacked) {
                        acked_live.remove(&s);
                        gone.insert(s);
                    }
                }),
            };
            if r.is_ok() {
                continue;
            }
            failures += 1;
            drop(store);
            pending.clear();
            if rng.chance(50) {
                fs.power_cut(if rng.chance(50) {
                    PowerCut::DropUnsynced
                } else {
                    PowerCut::TearUnsynced
                });
            }
            let mut tries = 0;
            store = loop {
                match FileStore::open(Arc::new(fs.clone()), Path::new("/s"), small_opts()) {
                    Ok(s) => break s,
                    Err(_) if tries < 20 => tries += 1,
                    Err(e) => {
                        fs.clear_faults();
                        if tries > 25 {
                            panic!("seed {seed}: cannot reopen without faults: {e}");
                        }
                        tries += 1;
                    }
                }
            };
            // Verify on a healthy disk, then let the faults loose again.
            fs.clear_faults();
            let got = contents(&store);
            arm(&fs, &mut rng);
            for seq in &acked_live {
                if removed_unacked.contains(seq) {
                    continue;
                }
                let m = got
                    .get(seq)
                    .unwrap_or_else(|| panic!("seed {seed}: acked seq {seq} lost"));
                assert!(sent[seq].matches(m), "seed {seed}: seq {seq}");
            }
            for (seq, m) in &got {
                assert!(
                    !gone.contains(seq),
                    "seed {seed}: removed seq {seq} came back"
                );
                assert!(
                    sent.get(seq).is_some_and(|s| s.matches(m)),
                    "seed {seed}: seq {seq} corrupt"
                );
            }
            // Unsynced removals by the failed instance either reached the disk (and were
            // made durable by the reopen) or did not; neither is the new instance's to
            // acknowledge.
            acked_live.retain(|s| got.contains_key(s));
            removed_unacked.clear();
        }
        total_failures += failures;
    }
    assert!(
        total_failures > 100,
        "the faults fired only {total_failures} times"
    );
}
