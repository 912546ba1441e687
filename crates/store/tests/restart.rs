//! A clean restart on the real filesystem restores exactly: messages, sequences,
//! interior deletes, subjects, and first_seq after purges and set_first_seq.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::contents;
use sluice_store::{FileStore, FileStoreOptions, MessageStore, RealFs};

fn open(dir: &Path) -> FileStore {
    let opts = FileStoreOptions {
        segment_size: 16 << 10,
        ..FileStoreOptions::default()
    };
    FileStore::open(Arc::new(RealFs::new()), dir, opts).unwrap()
}

fn reopen_same(store: FileStore, dir: &Path) -> FileStore {
    let mut store = store;
    store.sync().unwrap();
    let before = (
        store.state(),
        store.deleted(),
        contents(&store),
        store.subjects(">"),
    );
    drop(store);
    let store = open(dir);
    let after = (
        store.state(),
        store.deleted(),
        contents(&store),
        store.subjects(">"),
    );
    assert_eq!(before, after);
    assert_eq!(store.recovery_report(), Default::default());
    store
}

#[test]
fn restart_restores_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("stream");
    let mut store = open(&dir);
    for i in 0..3000u64 {
        let hdr = (i % 3 == 0).then(|| format!("NATS/1.0\r\nN: {i}\r\n\r\n"));
        store
            .append(
                &format!("o.{}", i % 17),
                hdr.as_deref().map(str::as_bytes),
                &vec![7; (i % 50) as usize],
                i as i64,
            )
            .unwrap();
    }
    assert!(store.segment_count() > 5);
    for seq in (100..2000).step_by(7) {
        store.remove(seq, seq % 2 == 0).unwrap();
    }
    store.purge(Some("o.3"), None, Some(5)).unwrap();
    let mut store = reopen_same(store, &dir);
    assert!(store.state().num_deleted > 200);
    store.purge(None, Some(500), None).unwrap();
    let mut store = reopen_same(store, &dir);
    assert_eq!(store.state().first_seq, 500);
    store.purge(None, None, None).unwrap();
    let mut store = reopen_same(store, &dir);
    let st = store.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (0, 3001, 3000));
    assert_eq!(store.append("x", None, b"y", 1).unwrap(), 3001);
    store.purge(None, Some(10_000), None).unwrap();
    let mut store = reopen_same(store, &dir);
    assert_eq!(store.append("x", None, b"y", 1).unwrap(), 10_000);
    let store = reopen_same(store, &dir);
    Box::new(store).destroy().unwrap();
    assert!(!dir.exists());
}

#[test]
fn set_first_seq_survives_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s");
    let mut store = open(&dir);
    store.set_first_seq(1_000_000).unwrap();
    let store = reopen_same(store, &dir);
    assert_eq!(store.state().first_seq, 1_000_000);
    let mut store = store;
    assert_eq!(store.append("a", None, b"", 0).unwrap(), 1_000_000);
    reopen_same(store, &dir);
}

#[test]
fn reads_reopen_closed_segment_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("many");
    let opts = FileStoreOptions {
        segment_size: 1024,
        ..FileStoreOptions::default()
    };
    let mut store = FileStore::open(Arc::new(RealFs::new()), &dir, opts).unwrap();
    for i in 0..6000u64 {
        store.append("m", None, &i.to_le_bytes(), 0).unwrap();
        if i % 500 == 0 {
            store.sync().unwrap();
        }
    }
    // Sync closes the handles of clean sealed segments once there are many.
    store.sync().unwrap();
    assert!(store.segment_count() > 100);
    for seq in (1..=6000).step_by(13) {
        assert_eq!(
            &store.load(seq).unwrap().unwrap().payload[..],
            &(seq - 1).to_le_bytes()
        );
    }
    store.remove(7, true).unwrap();
    store.sync().unwrap();
    assert!(store.load(7).unwrap().is_none());
}
