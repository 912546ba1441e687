//! A missing or corrupt `store.meta` is rebuilt from the segment headers to the same
//! state; a damaged segment header does not hide the salt either.

mod common;

use std::path::Path;

use common::{contents, open_sim, small_opts};
use sluice_store::vfs::OpenMode;
use sluice_store::{MessageStore, SimFs, Vfs};

fn build() -> (SimFs, (sluice_store::StoreState, Vec<u64>)) {
    let fs = SimFs::new(1);
    let mut store = open_sim(&fs, "/m", small_opts());
    for i in 0..200u64 {
        store
            .append(&format!("m.{}", i % 3), None, &[i as u8; 30], i as i64)
            .unwrap();
    }
    store.remove(50, false).unwrap();
    store.sync().unwrap();
    let snap = (store.state(), store.deleted());
    (fs, snap)
}

#[test]
fn missing_meta_is_rebuilt() {
    let (fs, snap) = build();
    fs.remove_file(Path::new("/m/store.meta")).unwrap();
    fs.sync_dir(Path::new("/m")).unwrap();
    let store = open_sim(&fs, "/m", small_opts());
    assert_eq!((store.state(), store.deleted()), snap);
    assert!(store.recovery_report().damaged.is_empty());
    assert!(fs.exists(Path::new("/m/store.meta")).unwrap(), "rewritten");
}

#[test]
fn corrupt_meta_is_rebuilt() {
    let (fs, snap) = build();
    fs.flip_bit(Path::new("/m/store.meta"), 9, 3).unwrap();
    let store = open_sim(&fs, "/m", small_opts());
    assert_eq!((store.state(), store.deleted()), snap);
    drop(store);
    let store = open_sim(&fs, "/m", small_opts());
    assert!(
        store.recovery_report().notes.is_empty(),
        "{:?}",
        store.recovery_report()
    );
}

#[test]
fn damaged_header_of_the_only_segment_keeps_every_message() {
    let fs = SimFs::new(2);
    let opts = sluice_store::FileStoreOptions {
        segment_size: 1 << 20,
        ..small_opts()
    };
    let mut store = open_sim(&fs, "/h", opts.clone());
    for i in 0..50u64 {
        store.append("h", None, &[i as u8; 10], 0).unwrap();
    }
    store.sync().unwrap();
    let before = contents(&store);
    drop(store);
    // The salt is still in store.meta.
    fs.flip_bit(Path::new("/h/00000001.seg"), 20, 1).unwrap();
    let store = open_sim(&fs, "/h", opts);
    assert_eq!(contents(&store), before);
    let r = store.recovery_report();
    assert_eq!(r.damaged.len(), 1);
    assert_eq!(
        (r.damaged[0].offset, r.damaged[0].first_lost_seq),
        (0, None)
    );
    // A foreign file in the directory is left alone and noted.
    let f = fs
        .open(Path::new("/h/README"), OpenMode::CreateNew)
        .unwrap();
    f.write_at(b"hi", 0).unwrap();
    drop(store);
    let store = open_sim(&fs, "/h", small_opts());
    assert!(store
        .recovery_report()
        .notes
        .iter()
        .any(|n| n.contains("README")));
}
