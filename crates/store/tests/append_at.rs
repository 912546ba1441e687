//! `append_at`: a mirror stores its origin's sequences; skipped ones count as deleted
//! (nats-server's `SkipMsgs`), and a file store keeps them so across a reopen.

use std::path::Path;
use std::sync::Arc;

use sluice_store::{FileStore, FileStoreOptions, MemStore, MessageStore, SimFs, StoreError};

fn check_gaps(store: &mut dyn MessageStore) {
    // An empty store starts at the first sequence given.
    assert_eq!(store.append_at(3, "a", None, b"x", 30).unwrap(), 3);
    assert_eq!(store.append_at(4, "b", None, b"yy", 40).unwrap(), 4);
    // An interior gap: 5 and 6 never existed here.
    assert_eq!(store.append_at(7, "a", None, b"z", 70).unwrap(), 7);
    let s = store.state();
    assert_eq!(
        (s.msgs, s.first_seq, s.last_seq, s.num_deleted),
        (3, 3, 7, 2)
    );
    assert_eq!((s.first_ts, s.last_ts), (30, 70));
    assert_eq!(store.deleted(), vec![5, 6]);
    assert_eq!(
        s.bytes,
        2 * store.stored_size("a", 0, 1) + store.stored_size("b", 0, 2)
    );
    assert!(store.load(5).unwrap().is_none());
    assert_eq!(store.load_next(5, None).unwrap().unwrap().seq, 7);
    // Going back is refused.
    assert!(matches!(
        store.append_at(7, "a", None, b"", 80),
        Err(StoreError::SequenceInUse { .. })
    ));
    // The next plain append follows.
    assert_eq!(store.append("c", None, b"", 80).unwrap(), 8);
}

#[test]
fn memory_store_skips() {
    check_gaps(&mut MemStore::new());
}

#[test]
fn file_store_skips_and_keeps_gaps_across_reopen() {
    let fs = SimFs::new(3);
    let opts = || FileStoreOptions {
        segment_size: 4096,
        ..FileStoreOptions::default()
    };
    {
        let mut store = FileStore::open(Arc::new(fs.clone()), Path::new("/s"), opts()).unwrap();
        check_gaps(&mut store);
        store.append_at(20, "d", None, b"w", 200).unwrap();
        store.sync().unwrap();
    }
    let store = FileStore::open(Arc::new(fs.clone()), Path::new("/s"), opts()).unwrap();
    assert!(
        store.recovery_report().damaged.is_empty(),
        "{:?}",
        store.recovery_report()
    );
    let s = store.state();
    assert_eq!(
        (s.msgs, s.first_seq, s.last_seq, s.num_deleted),
        (5, 3, 20, 13)
    );
    assert_eq!(store.load(20).unwrap().unwrap().timestamp, 200);
    assert_eq!(store.load(7).unwrap().unwrap().subject, "a");
    let deleted = store.deleted();
    assert_eq!(deleted.first(), Some(&5));
    assert_eq!(deleted.len(), 13);
}
