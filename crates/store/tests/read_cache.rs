//! The file store's read-ahead: sequential loads are served from memory, and whatever
//! happens to the store in between (appends still buffered, flushes, erases, purges,
//! compaction, segment deletion, restarts), every load returns exactly what a memory
//! store holding the same messages returns.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::Rng;
use sluice_store::vfs::FsOp;
use sluice_store::{FileStore, FileStoreOptions, MemStore, MessageStore, SimFs};

fn opts() -> FileStoreOptions {
    // Segments larger than a read-ahead window, and a write buffer that flushes often,
    // so windows end inside segments and next to buffered records.
    FileStoreOptions {
        segment_size: 300 << 10,
        sync_always: false,
        write_buffer: 8 << 10,
        ..Default::default()
    }
}

fn open(fs: &SimFs) -> FileStore {
    FileStore::open(Arc::new(fs.clone()), Path::new("/rc"), opts()).unwrap()
}

/// Everything both stores serve through sequential and point reads agrees.
fn compare(mem: &MemStore, file: &FileStore, step: usize) {
    assert_eq!(
        common::contents(mem),
        common::contents(file),
        "sequential contents at step {step}"
    );
    for f in ["k.*", "k.3", "other"] {
        let mut from = 0;
        loop {
            let a = mem.load_next(from, Some(f)).unwrap();
            let b = file.load_next(from, Some(f)).unwrap();
            assert_eq!(a, b, "load_next({from}, {f}) at step {step}");
            match a {
                Some(m) => from = m.seq + 1,
                None => break,
            }
        }
    }
    let st = mem.state();
    for seq in (st.first_seq.saturating_sub(2)..=st.last_seq + 2).step_by(7) {
        assert_eq!(
            mem.load(seq).unwrap(),
            file.load(seq).unwrap(),
            "load({seq})"
        );
    }
}

#[test]
fn loads_agree_with_a_memory_store_through_every_kind_of_change() {
    let fs = SimFs::new(4);
    let mut file = open(&fs);
    let mut mem = MemStore::new();
    let mut rng = Rng::new(77);
    for step in 0..400 {
        match rng.below(100) {
            0..=59 => {
                for _ in 0..rng.below(40) + 1 {
                    let subject = if rng.chance(10) {
                        "other".to_string()
                    } else {
                        format!("k.{}", rng.below(8))
                    };
                    let len = if rng.chance(5) {
                        rng.below(60_000)
                    } else {
                        rng.below(300)
                    } as usize;
                    let payload = vec![(step % 251) as u8; len];
                    let a = mem.append(&subject, None, &payload, step as i64).unwrap();
                    let b = file.append(&subject, None, &payload, step as i64).unwrap();
                    assert_eq!(a, b);
                }
            }
            60..=74 => {
                let st = mem.state();
                if st.msgs > 0 {
                    let seq = st.first_seq + rng.below(st.last_seq - st.first_seq + 1);
                    let erase = rng.chance(60);
                    assert_eq!(
                        mem.remove(seq, erase).unwrap(),
                        file.remove(seq, erase).unwrap()
                    );
                }
            }
            75..=79 => {
                let keep = Some(rng.below(20));
                let filter = format!("k.{}", rng.below(8));
                assert_eq!(
                    mem.purge(Some(&filter), None, keep).unwrap(),
                    file.purge(Some(&filter), None, keep).unwrap()
                );
            }
            80..=82 => {
                let before = Some(mem.state().first_seq + rng.below(50));
                assert_eq!(
                    mem.purge(None, before, None).unwrap(),
                    file.purge(None, before, None).unwrap()
                );
            }
            83..=94 => file.sync().unwrap(),
            _ => {
                file.sync().unwrap();
                drop(file);
                file = open(&fs);
            }
        }
        compare(&mem, &file, step);
    }
}

#[test]
fn erased_bytes_are_never_served_after_the_overwrite() {
    let fs = SimFs::new(5);
    let mut file = open(&fs);
    for i in 0..200u64 {
        file.append("k.1", None, format!("value {i}").as_bytes(), i as i64)
            .unwrap();
    }
    file.sync().unwrap();
    // Fill the read-ahead windows with the bytes about to be erased.
    assert_eq!(common::contents(&file).len(), 200);
    for seq in (10..190).step_by(3) {
        assert!(file.remove(seq, true).unwrap());
    }
    file.sync().unwrap();
    let all = common::contents(&file);
    assert_eq!(all.len(), 200 - (10..190).step_by(3).count());
    for (seq, m) in &all {
        assert_eq!(m.payload.as_ref(), format!("value {}", seq - 1).as_bytes());
    }
    // Appends after the windows were filled are read too, buffered or written.
    file.append("k.1", None, b"late", 999).unwrap();
    assert_eq!(file.load(201).unwrap().unwrap().payload.as_ref(), b"late");
    file.sync().unwrap();
    assert_eq!(
        common::contents(&file)
            .get(&201)
            .map(|m| m.payload.to_vec()),
        Some(b"late".to_vec())
    );
}

#[test]
fn a_sequential_scan_reads_the_file_in_large_pieces() {
    let fs = SimFs::new(6);
    let mut file = open(&fs);
    for i in 0..2000u64 {
        file.append(&format!("k.{}", i % 8), None, &[7u8; 40], i as i64)
            .unwrap();
    }
    file.sync().unwrap();
    let before = fs.op_count(FsOp::Read);
    assert_eq!(common::contents(&file).len(), 2000);
    let reads = fs.op_count(FsOp::Read) - before;
    // ~170 KB of records: a few windows, not one read per message.
    assert!(reads < 20, "{reads} reads for 2000 sequential loads");
    // A random read on a fresh instance stays a single small read.
    drop(file);
    let file = open(&fs);
    let before = fs.op_count(FsOp::Read);
    assert!(file.load(1234).unwrap().is_some());
    assert!(file.load(77).unwrap().is_some());
    assert_eq!(fs.op_count(FsOp::Read) - before, 2);
}
