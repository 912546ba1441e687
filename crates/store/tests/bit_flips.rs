//! Bit flips in an older (sealed) segment, at every byte offset, length fields
//! included: the store opens, reports exactly one damaged range in that file covering the
//! flip, serves every record outside it unchanged, and never serves damaged bytes.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{check_invariants, clone_dir, contents, open_sim, segments, Sent};
use sluice_store::{FileStoreOptions, MessageStore, SimFs, StoreError};

fn opts() -> FileStoreOptions {
    FileStoreOptions {
        segment_size: 1024,
        sync_always: false,
        write_buffer: 4096,
        ..Default::default()
    }
}

/// 150 messages over several segments, some removed; returns what is live.
fn build(fs: &SimFs) -> BTreeMap<u64, Sent> {
    let mut store = open_sim(fs, "/s", opts());
    let mut live = BTreeMap::new();
    for i in 0..150u64 {
        let m = Sent {
            subject: format!("k.{}", i % 5),
            headers: (i % 4 == 0).then(|| b"NATS/1.0\r\nX: y\r\n\r\n".to_vec()),
            payload: vec![i as u8; 20 + (i as usize * 7) % 40],
            ts: i as i64,
        };
        let seq = m.append(&mut store).unwrap();
        live.insert(seq, m);
    }
    for seq in [3, 17, 18, 40, 41, 77, 120] {
        store.remove(seq, false).unwrap();
        live.remove(&seq);
    }
    store.sync().unwrap();
    live
}

/// Opens a damaged image and checks the rules; returns the report's lost ranges.
fn check_damaged(img: &SimFs, file: &str, at: u64, live: &BTreeMap<u64, Sent>, last_segment: bool) {
    let store = open_sim(img, "/s", opts());
    let report = store.recovery_report();
    let ctx = format!("{file} offset {at}: {report:?}");
    let got = contents(&store);
    for (seq, m) in &got {
        // Removed messages may come back if the flip hit their delete record, but
        // nothing is ever served that differs from what was appended.
        if let Some(orig) = live.get(seq) {
            assert!(orig.matches(m), "{ctx}: seq {seq} changed");
        } else {
            assert_eq!(
                m.payload.len(),
                20 + (*seq as usize - 1) * 7 % 40,
                "{ctx}: seq {seq}"
            );
        }
    }
    let missing: Vec<u64> = live
        .keys()
        .filter(|s| !got.contains_key(s))
        .copied()
        .collect();
    assert!(missing.len() <= 1, "{ctx}: lost {missing:?}");
    if last_segment && report.truncated_tail_bytes > 0 {
        assert!(report.damaged.is_empty(), "{ctx}");
    } else {
        // Damage is not a torn tail: no sequence that was assigned may be reused.
        assert_eq!(store.state().last_seq, 150, "{ctx}");
        assert_eq!(report.damaged.len(), 1, "{ctx}");
        let d = &report.damaged[0];
        assert_eq!(d.file, file, "{ctx}");
        assert!(d.offset <= at && at < d.offset + d.len, "{ctx}");
        if let Some(&seq) = missing.first() {
            let (a, b) = (d.first_lost_seq.unwrap(), d.last_lost_seq.unwrap());
            assert!(a <= seq && seq <= b, "{ctx}: lost {seq} not in {a}..={b}");
        }
    }
    check_invariants(&store);
}

#[test]
fn every_offset_of_a_sealed_segment() {
    let fs = SimFs::new(3);
    let live = build(&fs);
    let segs = segments(&fs, "/s");
    assert!(segs.len() >= 5, "{segs:?}");
    let name = &segs[1];
    let path = Path::new("/s").join(name);
    let len = fs.read_file(&path).unwrap().len() as u64;
    for at in 0..len {
        let bits: Vec<u8> = if at < 64 {
            (0..8).collect()
        } else {
            vec![(at * 5 % 8) as u8]
        };
        for bit in bits {
            let img = clone_dir(&fs, "/s", at);
            img.flip_bit(&path, at, bit).unwrap();
            check_damaged(&img, name, at, &live, false);
        }
    }
}

#[test]
fn every_offset_of_the_last_segment() {
    let fs = SimFs::new(4);
    let live = build(&fs);
    let segs = segments(&fs, "/s");
    let name = segs.last().unwrap();
    let path = Path::new("/s").join(name);
    let len = fs.read_file(&path).unwrap().len() as u64;
    for at in 0..len {
        let img = clone_dir(&fs, "/s", at);
        img.flip_bit(&path, at, (at % 8) as u8).unwrap();
        check_damaged(&img, name, at, &live, true);
    }
}

#[test]
fn a_smashed_region_loses_only_what_it_covers() {
    let fs = SimFs::new(5);
    let live = build(&fs);
    let segs = segments(&fs, "/s");
    let path = Path::new("/s").join(&segs[2]);
    let img = clone_dir(&fs, "/s", 0);
    img.overwrite(&path, 200, &[0xAB; 300]).unwrap();
    let store = open_sim(&img, "/s", opts());
    let report = store.recovery_report();
    assert_eq!(report.damaged.len(), 1, "{report:?}");
    let d = &report.damaged[0];
    let (a, b) = (d.first_lost_seq.unwrap(), d.last_lost_seq.unwrap());
    assert!(b > a, "300 bytes cover several records: {d:?}");
    let got = contents(&store);
    for (seq, m) in &live {
        if *seq < a || *seq > b {
            assert!(
                m.matches(&got[seq]),
                "seq {seq} outside the damage must load"
            );
        }
    }
    // The damaged file is kept for an operator, even once everything else in it goes.
    let mut store = store;
    store.purge(None, Some(b + 1), None).unwrap();
    store.sync().unwrap();
    assert!(segments(&img, "/s").contains(&segs[2]));
    assert!(!segments(&img, "/s").contains(&segs[1]));
}

#[test]
fn damage_after_open_is_never_served() {
    let fs = SimFs::new(6);
    let live = build(&fs);
    let store = open_sim(&fs, "/s", opts());
    let segs = segments(&fs, "/s");
    fs.flip_bit(&Path::new("/s").join(&segs[1]), 300, 2)
        .unwrap();
    let mut bad = 0;
    for seq in live.keys() {
        match store.load(*seq) {
            Ok(Some(m)) => assert!(live[seq].matches(&m)),
            Err(StoreError::Checksum { path, .. }) => {
                assert!(path.ends_with(&segs[1]));
                bad += 1;
            }
            other => panic!("seq {seq}: {other:?}"),
        }
    }
    assert_eq!(bad, 1);
}
