//! A torn last write, cut at every byte offset inside the last records of the active
//! segment (both as a short file and as a zero-filled tail, which is what a torn write
//! into a preallocated segment leaves): the store opens, cuts the segment back to the
//! last record that verifies, reports how much it cut, and serves exactly the state as
//! of that record. A tail of nothing but zeros is the preallocated end of the file, not
//! damage: nothing is cut or reported, and appends continue over it.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use common::{check_invariants, clone_dir, contents, open_sim, segments, Rng, Sent};
use sluice_store::{
    FileStore, FileStoreOptions, MessageStore, RealFs, SimFs, StoreState, StoredMessage,
};

type Snapshot = (StoreState, Vec<u64>, BTreeMap<u64, StoredMessage>);

fn snapshot(s: &dyn MessageStore) -> Snapshot {
    (s.state(), s.deleted(), contents(s))
}

fn opts() -> FileStoreOptions {
    // One segment holds everything: the tail is in the active segment.
    FileStoreOptions {
        segment_size: 1 << 20,
        sync_always: false,
        write_buffer: 512,
        ..Default::default()
    }
}

/// Runs a history, syncing after each step; returns the segment length and the state
/// after each step.
fn build(fs: &SimFs) -> Vec<(u64, Snapshot)> {
    let mut rng = Rng::new(42);
    let mut store = open_sim(fs, "/s", opts());
    let mut marks = Vec::new();
    store.sync().unwrap();
    for i in 0..40u64 {
        match i {
            20 | 33 => {
                store.remove(i - 5, false).unwrap();
            }
            30 => {
                store.purge(Some("s.1.*"), None, Some(1)).unwrap();
            }
            37 => {
                store.remove(36, true).unwrap();
            }
            _ => {
                Sent::random(&mut rng, i).append(&mut store).unwrap();
            }
        }
        store.sync().unwrap();
        marks.push((store.active_segment_len(), snapshot(&store)));
    }
    marks
}

fn expected_at(marks: &[(u64, Snapshot)], cut: u64) -> (u64, &Snapshot) {
    let (len, snap) = marks
        .iter()
        .rev()
        .find(|(len, _)| *len <= cut)
        .expect("cut inside the history");
    (*len, snap)
}

#[test]
fn every_cut_in_the_last_records_recovers_the_earlier_ones() {
    let fs = SimFs::new(1);
    let marks = build(&fs);
    let seg = Path::new("/s").join(&segments(&fs, "/s")[0]);
    let from = marks[marks.len() - 6].0;
    let full = marks.last().unwrap().0;
    let allocated = fs.read_file(&seg).unwrap().len() as u64;
    assert!(allocated > full, "the segment is preallocated");
    for cut in from..=full {
        for zero_fill in [false, true] {
            let img = clone_dir(&fs, "/s", cut);
            if zero_fill {
                img.overwrite(&seg, cut, &vec![0u8; (full - cut) as usize])
                    .unwrap();
            } else {
                img.truncate_durably(&seg, cut).unwrap();
            }
            let mut store = open_sim(&img, "/s", opts());
            let (good_len, expect) = expected_at(&marks, cut);
            let ctx = format!("cut {cut} zero_fill {zero_fill}");
            let report = store.recovery_report();
            assert!(report.damaged.is_empty(), "{ctx}: {report:?}");
            let cut_bytes = match (zero_fill, cut == good_len) {
                (false, _) => cut - good_len,
                // Only zeros after the last record: the preallocated tail stays.
                (true, true) => 0,
                (true, false) => allocated - good_len,
            };
            assert_eq!(report.truncated_tail_bytes, cut_bytes, "{ctx}");
            assert_eq!(&snapshot(&store), expect, "{ctx}");
            check_invariants(&store);
            // Appends continue right after the last good record.
            let seq = store.append("after", None, b"x", 1).unwrap();
            assert_eq!(seq, expect.0.last_seq + 1, "{ctx}");
            store.sync().unwrap();
            drop(store);
            let store = open_sim(&img, "/s", opts());
            assert_eq!(
                store.recovery_report().truncated_tail_bytes,
                0,
                "{ctx}: cut is durable"
            );
            assert_eq!(&store.load(seq).unwrap().unwrap().payload[..], b"x");
        }
    }
}

#[test]
fn torn_tail_on_the_real_filesystem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let vfs = Arc::new(RealFs::new());
    let mut store = FileStore::open(vfs.clone(), &path, opts()).unwrap();
    for i in 0..10 {
        store
            .append("a", None, format!("m{i}").as_bytes(), i)
            .unwrap();
    }
    store.sync().unwrap();
    drop(store);
    let seg = path.join("00000001.seg");
    let mut original = std::fs::read(&seg).unwrap();
    // The file was preallocated past its last record; the record ends with "m9".
    let full = original.windows(2).rposition(|w| w == b"m9").unwrap() as u64 + 2;
    assert!(original.len() as u64 > full, "preallocated");
    assert!(original[full as usize..].iter().all(|&b| b == 0));
    original.truncate(full as usize);
    // The last record is 12 + 28 + 1 + 2 bytes long.
    for cut in full - 43..full {
        std::fs::write(&seg, &original[..cut as usize]).unwrap();
        let store = FileStore::open(vfs.clone(), &path, opts()).unwrap();
        let st = store.state();
        assert_eq!((st.msgs, st.last_seq), (9, 9), "cut {cut}");
        assert_eq!(
            store.recovery_report().truncated_tail_bytes,
            cut - (full - 43)
        );
        assert_eq!(std::fs::metadata(&seg).unwrap().len(), full - 43);
    }
}
