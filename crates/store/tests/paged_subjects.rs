//! The subject index pages to disk past its cache budget. With a budget of a few pages
//! and thousands of subjects (a KV bucket in miniature), every per-subject answer of the
//! file store must still match the memory store's, across purges, removals, restarts
//! and power cuts, while the index's memory stays within the budget.

mod common;

use std::path::Path;
use std::sync::Arc;

use sluice_store::vfs::PowerCut;
use sluice_store::{FileStore, FileStoreOptions, MemStore, MessageStore, SimFs, StoreError};

use common::Rng;

const KEYS: u64 = 3000;
/// 16 pages: 12 for the subject index (3 of table, 6 of entries, 3 of names), 4 for the
/// slot tables of sealed segments.
const BUDGET: usize = 64 << 10;
const FILTERS: [&str; 5] = ["kv.>", "kv.*.7", "kv.1.*", "kv.2.17", ">"];

fn opts() -> FileStoreOptions {
    FileStoreOptions {
        segment_size: 64 << 10,
        index_cache: BUDGET,
        ..Default::default()
    }
}

fn key(rng: &mut Rng) -> String {
    let k = rng.below(KEYS);
    format!("kv.{}.{}", k % 10, k)
}

fn sorted(mut v: Vec<u64>) -> Vec<u64> {
    v.sort_unstable();
    v
}

fn compare(mem: &MemStore, file: &FileStore, rng: &mut Rng, step: u64) {
    let (ms, fs) = (mem.state(), file.state());
    assert_eq!(
        (ms.msgs, ms.first_seq, ms.last_seq, ms.num_subjects),
        (fs.msgs, fs.first_seq, fs.last_seq, fs.num_subjects),
        "state at step {step}"
    );
    for _ in 0..50 {
        let k = key(rng);
        assert_eq!(mem.subject_count(&k), file.subject_count(&k), "{k}");
        assert_eq!(
            mem.load_last(&k).unwrap(),
            file.load_last(&k).unwrap(),
            "load_last({k}) at step {step}"
        );
        let from = rng.below(ms.last_seq + 2);
        assert_eq!(
            mem.load_next(from, Some(&k)).unwrap(),
            file.load_next(from, Some(&k)).unwrap(),
            "load_next({from}, {k}) at step {step}"
        );
    }
    for f in FILTERS {
        assert_eq!(mem.subjects(f), file.subjects(f), "subjects({f})");
        assert_eq!(
            sorted(mem.last_seqs(f)),
            sorted(file.last_seqs(f)),
            "last_seqs({f}) at step {step}"
        );
        let from = rng.below(ms.last_seq + 2);
        assert_eq!(
            mem.count_from(from, Some(f)),
            file.count_from(from, Some(f)),
            "count_from({from}, {f}) at step {step}"
        );
        assert_eq!(mem.load_last(f).unwrap(), file.load_last(f).unwrap());
    }
    assert!(
        file.index_resident_bytes() <= BUDGET,
        "index holds {} bytes, budget {BUDGET}",
        file.index_resident_bytes()
    );
}

fn sync_both(mem: &mut MemStore, file: &mut FileStore) {
    mem.sync().unwrap();
    file.sync().unwrap();
}

/// Syncs `file`, cuts the power (unsynced writes lost) and reopens it.
fn power_cut(
    fs: &SimFs,
    mut file: FileStore,
    open: &impl Fn() -> FileStore,
    mem: &mut MemStore,
) -> FileStore {
    file.sync().unwrap();
    drop(file);
    fs.power_cut(PowerCut::DropUnsynced);
    mem.sync().unwrap();
    open()
}

#[test]
fn a_paged_subject_index_answers_like_the_memory_store() {
    let fs = SimFs::new(21);
    let open = || FileStore::open(Arc::new(fs.clone()), Path::new("/kv"), opts()).unwrap();
    let mut mem = MemStore::new();
    let mut file = open();
    let mut rng = Rng::new(5);
    for step in 0..30_000u64 {
        let k = key(&mut rng);
        match rng.below(1000) {
            // Put with history 1: the key's older message goes.
            0..=799 => {
                let payload = step.to_le_bytes();
                let a = mem.append(&k, None, &payload, step as i64).unwrap();
                let b = file.append(&k, None, &payload, step as i64).unwrap();
                assert_eq!(a, b);
                let prev = mem.load_next(0, Some(&k)).unwrap().map(|m| m.seq);
                if let Some(p) = prev.filter(|&p| p != a) {
                    assert!(mem.remove(p, false).unwrap());
                    assert!(file.remove(p, rng.chance(50)).unwrap());
                }
            }
            // Delete of the key's last message (a KV purge marker's effect).
            800..=949 => {
                if let Some(m) = mem.load_last(&k).unwrap() {
                    assert!(mem.remove(m.seq, false).unwrap());
                    assert!(file.remove(m.seq, false).unwrap());
                }
            }
            950..=969 => {
                // Narrow filters only: the bucket must stay large.
                let f = FILTERS[1 + rng.below(3) as usize];
                let keep = rng.chance(50).then(|| rng.below(3));
                assert_eq!(
                    mem.purge(Some(f), None, keep).unwrap(),
                    file.purge(Some(f), None, keep).unwrap(),
                    "purge({f}, keep {keep:?}) at step {step}"
                );
            }
            970..=989 => sync_both(&mut mem, &mut file),
            990..=994 => file = power_cut(&fs, file, &open, &mut mem),
            _ => compare(&mem, &file, &mut rng, step),
        }
        assert!(!file.is_failed(), "step {step}");
    }
    file.sync().unwrap();
    compare(&mem, &file, &mut rng, u64::MAX);
    drop(file);
    let file = open();
    compare(&mem, &file, &mut rng, u64::MAX);
    assert!(
        mem.state().num_subjects > 1000,
        "the test must hold far more subjects than the cache"
    );
}

/// Keys with history 3, as a KV bucket with `history: 3` keeps them: each put past the
/// third removes the key's oldest revision, whose successor the store finds through its
/// revision links. Removals in the middle and at the end, purges with `keep` and
/// restarts leave links pointing at removed messages; every key's oldest revision must
/// still be the memory store's.
#[test]
fn history_beyond_one_keeps_each_keys_oldest_revision_right() {
    const HISTORY: usize = 3;
    let fs = SimFs::new(22);
    let open = || FileStore::open(Arc::new(fs.clone()), Path::new("/kv3"), opts()).unwrap();
    let mut mem = MemStore::new();
    let mut file = open();
    let mut rng = Rng::new(9);
    let revisions = |mem: &MemStore, k: &str| {
        let mut seqs = Vec::new();
        let mut from = 0;
        while let Some(m) = mem.load_next(from, Some(k)).unwrap() {
            seqs.push(m.seq);
            from = m.seq + 1;
        }
        seqs
    };
    for step in 0..20_000u64 {
        let k = key(&mut rng);
        match rng.below(1000) {
            0..=849 => {
                let payload = step.to_le_bytes();
                let a = mem.append(&k, None, &payload, step as i64).unwrap();
                assert_eq!(a, file.append(&k, None, &payload, step as i64).unwrap());
                let revs = revisions(&mem, &k);
                if revs.len() > HISTORY {
                    assert!(mem.remove(revs[0], false).unwrap());
                    assert!(file.remove(revs[0], rng.chance(20)).unwrap());
                }
            }
            // A revision in the middle or at the end goes (a direct message delete).
            850..=929 => {
                let revs = revisions(&mem, &k);
                if !revs.is_empty() {
                    let seq = revs[rng.below(revs.len() as u64) as usize];
                    assert!(mem.remove(seq, false).unwrap());
                    assert!(file.remove(seq, false).unwrap());
                }
            }
            930..=944 => {
                let keep = rng.chance(50).then(|| rng.below(3));
                assert_eq!(
                    mem.purge(Some(&k), None, keep).unwrap(),
                    file.purge(Some(&k), None, keep).unwrap(),
                    "purge({k}, keep {keep:?}) at step {step}"
                );
            }
            945..=959 => sync_both(&mut mem, &mut file),
            960..=964 => file = power_cut(&fs, file, &open, &mut mem),
            _ => compare(&mem, &file, &mut rng, step),
        }
        assert_eq!(
            mem.load_next(0, Some(&k)).unwrap(),
            file.load_next(0, Some(&k)).unwrap(),
            "oldest revision of {k} at step {step}"
        );
        assert!(!file.is_failed(), "step {step}");
    }
    file.sync().unwrap();
    compare(&mem, &file, &mut rng, u64::MAX);
    for k in 0..KEYS {
        let k = format!("kv.{}.{}", k % 10, k);
        assert_eq!(
            mem.load_next(0, Some(&k)).unwrap(),
            file.load_next(0, Some(&k)).unwrap(),
            "oldest revision of {k}"
        );
    }
}

#[test]
fn destroy_removes_the_index_files() {
    let fs = SimFs::new(3);
    let vfs: Arc<dyn sluice_store::Vfs> = Arc::new(fs.clone());
    let mut file = FileStore::open(vfs.clone(), Path::new("/d/s"), opts()).unwrap();
    for i in 0..5000u64 {
        file.append(&format!("kv.{i}"), None, b"v", 0).unwrap();
    }
    file.sync().unwrap();
    let names = vfs.list_dir(Path::new("/d/s")).unwrap();
    assert!(
        names.iter().any(|n| n.starts_with("index.")),
        "5000 subjects do not fit in 64 KiB: {names:?}"
    );
    Box::new(file).destroy().unwrap();
    assert!(!vfs.exists(Path::new("/d/s")).unwrap());
}

/// A failing write to an index scratch file fails the store like a failing segment
/// write: no later append or sync succeeds, and reopening (which rebuilds the index from
/// the segments) finds every synced message and the right per-key counts.
#[test]
fn an_index_write_error_fails_the_store_and_reopening_rebuilds() {
    use sluice_store::vfs::{FaultKind, FaultRule, FsOp};

    let fs = SimFs::new(8);
    let open = || FileStore::open(Arc::new(fs.clone()), Path::new("/kv"), opts()).unwrap();
    let mut file = open();
    let mut synced: Vec<(u64, String)> = Vec::new();
    let mut batch: Vec<(u64, String)> = Vec::new();
    fs.add_fault(
        FaultRule::once(FsOp::Write, FaultKind::Eio)
            .on_path("index.")
            .after(40),
    );
    let mut failed_at = None;
    for i in 0..20_000u64 {
        let k = format!("kv.{}.{i}", i % 10);
        match file.append(&k, None, &i.to_le_bytes(), i as i64) {
            Ok(seq) => batch.push((seq, k)),
            Err(_) => {
                failed_at = Some(i);
                break;
            }
        }
        if i % 100 == 99 {
            match file.sync() {
                Ok(()) => synced.append(&mut batch),
                Err(_) => {
                    failed_at = Some(i);
                    break;
                }
            }
        }
    }
    assert!(
        failed_at.is_some(),
        "the index must have spilled and failed"
    );
    assert!(file.is_failed());
    assert!(file.append("kv.x", None, b"v", 0).is_err());
    assert!(file.sync().is_err());
    // The page whose write failed is gone from the index: reads are refused until the
    // store is reopened, never answered "not found" from a zeroed page.
    for (seq, k) in synced.iter().step_by(97) {
        assert!(
            matches!(file.load_last(k), Err(StoreError::IndexLost)),
            "load_last({k})"
        );
        assert!(matches!(file.load(*seq), Err(StoreError::IndexLost)));
        assert!(matches!(
            file.load_next(*seq, Some(k)),
            Err(StoreError::IndexLost)
        ));
    }
    assert!(
        file.needs_reopen(),
        "the engine is told to reopen the store"
    );
    drop(file);
    fs.clear_faults();
    let file = open();
    assert!(synced.len() > 1000);
    for (seq, k) in &synced {
        let m = file.load(*seq).unwrap().expect("a synced message survives");
        assert_eq!(&m.subject, k);
        assert_eq!(file.subject_count(k), 1, "{k}");
        assert_eq!(file.load_last(k).unwrap().map(|m| m.seq), Some(*seq));
    }
}
