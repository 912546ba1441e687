//! Power loss at random points over many seeds: random appends, removals and purges
//! with syncs at random points, then the simulated disk loses everything unsynced (or
//! keeps a torn part of it), and the store is reopened. Every message that was stored
//! at the last successful sync and not removed afterwards must come back identical;
//! nothing removed before that sync may come back; nothing served may be corrupt; the
//! counters must agree; sequences never go back past what was synced.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{check_invariants, contents, open_sim, small_opts, Rng, Sent};
use sluice_store::vfs::PowerCut;
use sluice_store::{MessageStore, SimFs};

const SEEDS: u64 = 200;

fn run(seed: u64) {
    let mut rng = Rng::new(seed);
    let fs = SimFs::new(seed);
    let mut store = open_sim(&fs, "/s", small_opts());
    let mut sent: BTreeMap<u64, Sent> = BTreeMap::new();
    // Live messages as the store has them now, and as of the last successful sync.
    let mut live: BTreeSet<u64> = BTreeSet::new();
    let mut synced_live: BTreeSet<u64> = BTreeSet::new();
    let mut synced_last_seq = 0;
    // Removed at or before the last sync: must never come back.
    let mut gone_for_good: BTreeSet<u64> = BTreeSet::new();
    let mut removed_since_sync: BTreeSet<u64> = BTreeSet::new();
    let ops = 50 + rng.below(400);
    for i in 0..ops {
        match rng.below(100) {
            0..=59 => {
                let m = Sent::random(&mut rng, i);
                let seq = m.append(&mut store).unwrap();
                sent.insert(seq, m);
                live.insert(seq);
            }
            60..=74 if !live.is_empty() => {
                let seq = *live
                    .iter()
                    .nth(rng.below(live.len() as u64) as usize)
                    .unwrap();
                assert!(store.remove(seq, rng.chance(20)).unwrap());
                live.remove(&seq);
                removed_since_sync.insert(seq);
            }
            75..=77 => {
                let filter = format!("s.{}.*", rng.below(4));
                let keep = rng.chance(50).then(|| rng.below(3));
                let before: BTreeSet<u64> = live.clone();
                store.purge(Some(&filter), None, keep).unwrap();
                let after: BTreeSet<u64> = contents(&store).keys().copied().collect();
                for s in before.difference(&after) {
                    removed_since_sync.insert(*s);
                }
                live = after;
            }
            78 => {
                let st = store.state();
                let bound = st.first_seq + rng.below(20);
                store.purge(None, Some(bound), None).unwrap();
                let after: BTreeSet<u64> = contents(&store).keys().copied().collect();
                for s in live.difference(&after) {
                    removed_since_sync.insert(*s);
                }
                live = after;
            }
            _ => {
                store.sync().unwrap();
                synced_live = live.clone();
                synced_last_seq = store.state().last_seq;
                gone_for_good.extend(removed_since_sync.iter().copied());
                removed_since_sync.clear();
            }
        }
    }
    let mode = if rng.chance(50) {
        PowerCut::DropUnsynced
    } else {
        PowerCut::TearUnsynced
    };
    let before_cut = store.state();
    fs.power_cut(mode);
    drop(store);

    let store = open_sim(&fs, "/s", small_opts());
    let got = contents(&store);
    let report = store.recovery_report();
    let ctx = format!("seed {seed} mode {mode:?} report {report:?}");
    for seq in &synced_live {
        if removed_since_sync.contains(seq) {
            continue;
        }
        let m = got
            .get(seq)
            .unwrap_or_else(|| panic!("{ctx}: synced seq {seq} lost"));
        assert!(sent[seq].matches(m), "{ctx}: seq {seq} differs");
    }
    for (seq, m) in &got {
        assert!(
            !gone_for_good.contains(seq),
            "{ctx}: seq {seq} removed before the sync came back"
        );
        let orig = sent
            .get(seq)
            .unwrap_or_else(|| panic!("{ctx}: unknown seq {seq}"));
        assert!(
            orig.matches(m),
            "{ctx}: seq {seq} served with other content"
        );
    }
    let st = store.state();
    assert!(
        st.last_seq >= synced_last_seq,
        "{ctx}: last_seq went back: {} < {synced_last_seq}",
        st.last_seq
    );
    assert!(st.last_seq <= before_cut.last_seq, "{ctx}");
    if mode == PowerCut::DropUnsynced {
        // Nothing unsynced survives, so the state is exactly the synced one.
        assert!(report.damaged.is_empty(), "{ctx}");
        assert_eq!(report.truncated_tail_bytes, 0, "{ctx}");
        let expect: BTreeSet<u64> = synced_live.iter().copied().collect();
        assert_eq!(
            got.keys().copied().collect::<BTreeSet<u64>>(),
            expect,
            "{ctx}"
        );
        assert_eq!(st.last_seq, synced_last_seq, "{ctx}");
    }
    check_invariants(&store);

    // The store keeps working after recovery, and a clean restart changes nothing.
    let mut store = store;
    let m = Sent::random(&mut rng, 9999);
    let seq = m.append(&mut store).unwrap();
    assert_eq!(seq, st.last_seq + 1);
    store.sync().unwrap();
    let snapshot = (store.state(), contents(&store), store.deleted());
    drop(store);
    fs.power_cut(PowerCut::DropUnsynced);
    let store = open_sim(&fs, "/s", small_opts());
    assert_eq!(
        (store.state(), contents(&store), store.deleted()),
        snapshot,
        "{ctx}: second restart"
    );
    // Damage stays on disk (it is never silently deleted) and is reported again as is.
    assert_eq!(
        store.recovery_report().damaged,
        report.damaged,
        "{ctx}: damage changed after clean restart"
    );
}

#[test]
fn acknowledged_messages_survive_power_cuts() {
    for seed in 0..SEEDS {
        run(seed);
    }
}
