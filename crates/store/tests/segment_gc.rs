//! Segments whose every message is gone are deleted at `sync` (never before the delete
//! records are durable), and deleted messages stay deleted across restarts.

mod common;

use common::{contents, open_sim, segments};
use sluice_store::vfs::PowerCut;
use sluice_store::{FileStoreOptions, MessageStore, SimFs};

fn opts() -> FileStoreOptions {
    FileStoreOptions {
        segment_size: 1024,
        sync_always: false,
        write_buffer: 256,
        ..Default::default()
    }
}

#[test]
fn work_queue_pattern_keeps_few_segments() {
    let fs = SimFs::new(1);
    let mut store = open_sim(&fs, "/q", opts());
    let mut next_to_ack = 1;
    for i in 0..3000u64 {
        store
            .append("jobs", None, &[i as u8; 40], i as i64)
            .unwrap();
        if i % 4 == 3 {
            // A consumer acks (removes) in order, a little behind the producer.
            while next_to_ack + 20 < i {
                store.remove(next_to_ack, false).unwrap();
                next_to_ack += 1;
            }
            store.sync().unwrap();
        }
    }
    assert!(segments(&fs, "/q").len() <= 6, "{:?}", segments(&fs, "/q"));
    let before = (store.state(), contents(&store));
    drop(store);
    fs.power_cut(PowerCut::DropUnsynced);
    let store = open_sim(&fs, "/q", opts());
    assert_eq!((store.state(), contents(&store)), before);
}

#[test]
fn full_purge_deletes_all_sealed_segments_at_the_next_sync() {
    let fs = SimFs::new(2);
    let mut store = open_sim(&fs, "/p", opts());
    for i in 0..500u64 {
        store
            .append(&format!("s.{}", i % 9), None, &[1; 30], 0)
            .unwrap();
    }
    store.sync().unwrap();
    let n = segments(&fs, "/p").len();
    assert!(n > 10);
    store.purge(None, None, None).unwrap();
    // Nothing is deleted before the purge record is durable.
    assert_eq!(segments(&fs, "/p").len(), n);
    store.sync().unwrap();
    assert_eq!(segments(&fs, "/p").len(), 1);
    drop(store);
    fs.power_cut(PowerCut::TearUnsynced);
    let mut store = open_sim(&fs, "/p", opts());
    let st = store.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (0, 501, 500));
    assert_eq!(store.append("x", None, b"", 0).unwrap(), 501);
}

#[test]
fn removed_messages_never_come_back_whatever_the_crash_keeps() {
    for seed in 0..100 {
        let fs = SimFs::new(seed);
        let mut store = open_sim(&fs, "/r", opts());
        for i in 0..300u64 {
            store
                .append(&format!("t.{}", i % 4), None, &[2; 25], 0)
                .unwrap();
        }
        store.sync().unwrap();
        // Remove in an order that makes delete records of later segments cover
        // earlier ones, then purge a subject.
        for seq in (1..200).rev() {
            store.remove(seq, false).unwrap();
        }
        store.purge(Some("t.1"), None, None).unwrap();
        store.sync().unwrap();
        let expect = contents(&store);
        for i in 0..50u64 {
            store.remove(200 + i * 2, false).unwrap();
            if i % 10 == 0 {
                store.sync().unwrap();
            }
        }
        store.sync().unwrap();
        let expect_final = contents(&store);
        drop(store);
        fs.power_cut(PowerCut::TearUnsynced);
        let store = open_sim(&fs, "/r", opts());
        let got = contents(&store);
        assert_eq!(got, expect_final, "seed {seed}");
        assert!(got.keys().all(|s| expect.contains_key(s)));
    }
}
