//! Differential property test: random operation sequences give the same results on
//! `MemStore` and `FileStore` (on `SimFs`, with clean restarts and power cuts after a
//! sync mixed in). Only `bytes` differs by design (the two byte formulas).

mod common;

use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use sluice_store::vfs::PowerCut;
use sluice_store::{FileStore, FileStoreOptions, MemStore, MessageStore, SimFs, StoreState};

#[derive(Debug, Clone)]
enum Op {
    Append {
        subject: u8,
        headers: Option<u8>,
        len: u16,
    },
    Remove {
        seq: u8,
        erase: bool,
    },
    Purge {
        filter: Option<u8>,
        before: Option<u8>,
        keep: Option<u8>,
    },
    SetFirst(u16),
    Sync,
    /// Sync, lose power, reopen.
    Restart,
}

const SUBJECTS: [&str; 5] = ["a", "a.b", "a.c", "b.c", "b.c.d"];
const FILTERS: [&str; 8] = ["a", "a.*", "*.c", ">", "a.>", "b.*.d", "x", "*"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (0..5u8, prop::option::of(0..3u8), 0..300u16)
            .prop_map(|(subject, headers, len)| Op::Append { subject, headers, len }),
        3 => (any::<u8>(), any::<bool>()).prop_map(|(seq, erase)| Op::Remove { seq, erase }),
        1 => (prop::option::of(0..8u8), prop::option::of(any::<u8>()), prop::option::of(0..4u8))
            .prop_map(|(filter, before, keep)| Op::Purge { filter, before, keep }),
        1 => (0..400u16).prop_map(Op::SetFirst),
        2 => Just(Op::Sync),
        1 => Just(Op::Restart),
    ]
}

fn without_bytes(mut s: StoreState) -> StoreState {
    s.bytes = 0;
    s
}

fn compare(mem: &MemStore, file: &FileStore, step: usize) {
    assert_eq!(
        without_bytes(mem.state()),
        without_bytes(file.state()),
        "state at step {step}"
    );
    assert_eq!(mem.deleted(), file.deleted(), "deleted at step {step}");
    assert_eq!(
        common::contents(mem),
        common::contents(file),
        "contents at step {step}"
    );
    for f in FILTERS {
        assert_eq!(
            mem.subjects(f),
            file.subjects(f),
            "subjects({f}) at step {step}"
        );
        assert_eq!(
            mem.load_last(f).unwrap(),
            file.load_last(f).unwrap(),
            "load_last({f}) at step {step}"
        );
        let last = mem.state().last_seq;
        for from in [0, last / 3, last / 2, last] {
            assert_eq!(
                mem.load_next(from, Some(f)).unwrap(),
                file.load_next(from, Some(f)).unwrap(),
                "load_next({from}, {f}) at step {step}"
            );
        }
    }
    for s in SUBJECTS {
        assert_eq!(mem.subject_count(s), file.subject_count(s));
    }
}

fn opts() -> FileStoreOptions {
    FileStoreOptions {
        segment_size: 1500,
        sync_always: false,
        write_buffer: 700,
        ..Default::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn memstore_and_filestore_agree(ops in prop::collection::vec(op(), 1..80)) {
        let fs = SimFs::new(9);
        let open = || FileStore::open(Arc::new(fs.clone()), Path::new("/p"), opts()).unwrap();
        let mut mem = MemStore::new();
        let mut file = open();
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                Op::Append { subject, headers, len } => {
                    let hdr = headers.map(|h| vec![b'h'; h as usize * 7]);
                    let payload = vec![step as u8; len as usize];
                    let s = SUBJECTS[subject as usize];
                    let a = mem.append(s, hdr.as_deref(), &payload, step as i64).unwrap();
                    let b = file.append(s, hdr.as_deref(), &payload, step as i64).unwrap();
                    prop_assert_eq!(a, b);
                }
                Op::Remove { seq, erase } => {
                    let seq = u64::from(seq) % (mem.state().last_seq + 2);
                    prop_assert_eq!(mem.remove(seq, erase).unwrap(), file.remove(seq, erase).unwrap());
                }
                Op::Purge { filter, before, keep } => {
                    let f = filter.map(|f| FILTERS[f as usize]);
                    let before = before.map(|b| u64::from(b) % (mem.state().last_seq + 5));
                    let keep = keep.map(u64::from);
                    prop_assert_eq!(mem.purge(f, before, keep).unwrap(), file.purge(f, before, keep).unwrap());
                }
                Op::SetFirst(seq) => {
                    let a = mem.set_first_seq(u64::from(seq)).is_ok();
                    let b = file.set_first_seq(u64::from(seq)).is_ok();
                    prop_assert_eq!(a, b);
                }
                Op::Sync => file.sync().unwrap(),
                Op::Restart => {
                    file.sync().unwrap();
                    drop(file);
                    fs.power_cut(PowerCut::DropUnsynced);
                    file = open();
                    prop_assert!(file.recovery_report().damaged.is_empty());
                }
            }
            compare(&mem, &file, step);
        }
        common::check_invariants(&file);
    }
}
