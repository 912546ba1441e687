//! Properties of the wire-neutral delivery state under any sequence of deliveries,
//! acks, naks, progress, terms, member departures and time passing.

use proptest::prelude::*;
use sluice_jetstream::consumer::state::{AckRules, DeliveryState};

#[derive(Debug, Clone)]
enum Op {
    Deliver { member: u64 },
    Ack(u64),
    Nak(u64, i64),
    Progress(u64),
    Term(u64),
    MemberGone(u64),
    Advance(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u64..3).prop_map(|member| Op::Deliver { member }),
        3 => (1u64..40).prop_map(Op::Ack),
        1 => ((1u64..40), (0i64..50)).prop_map(|(s, d)| Op::Nak(s, d)),
        1 => (1u64..40).prop_map(Op::Progress),
        1 => (1u64..40).prop_map(Op::Term),
        1 => (0u64..3).prop_map(Op::MemberGone),
        2 => (0i64..60).prop_map(Op::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever happens: the in-flight cap holds, the ack floor never passes a pending
    /// message and never goes back, and a message is either acked, pending, or never
    /// delivered — none vanishes while unacknowledged (with unlimited deliveries).
    #[test]
    fn invariants(ops in prop::collection::vec(op(), 1..200), cap in 1i64..6) {
        let rules = AckRules {
            tracked: true,
            cumulative: false,
            ack_wait: 20,
            backoff: Vec::new(),
            max_deliver: -1,
            max_ack_pending: cap,
        };
        let mut s = DeliveryState::starting_at(1);
        let mut now = 0i64;
        let mut next_seq = 1u64;
        let mut acked = std::collections::BTreeSet::new();
        let mut last_floor = 0u64;
        for op in ops {
            match op {
                Op::Deliver { member } => {
                    if let Some(seq) = s.pop_redelivery() {
                        prop_assert!(s.record_redelivery(seq, now, member, &rules).is_some());
                    } else if s.room_for_new(&rules) {
                        s.record_new(next_seq, now, member, &rules);
                        next_seq += 1;
                    }
                }
                Op::Ack(seq) => {
                    for a in s.ack(seq, &rules) {
                        acked.insert(a);
                    }
                }
                Op::Nak(seq, d) => { s.nak(seq, d, now); }
                Op::Progress(seq) => { s.progress(seq, now, &rules); }
                Op::Term(seq) => {
                    if s.forget(seq) {
                        acked.insert(seq);
                    }
                }
                Op::MemberGone(m) => s.member_gone(m),
                Op::Advance(dt) => {
                    now += dt;
                    let e = s.expire(now, &rules);
                    prop_assert!(e.exhausted.is_empty(), "unlimited deliveries");
                }
            }
            prop_assert!(s.num_ack_pending() as i64 <= cap);
            if let Some((&lowest, _)) = s.pending.first_key_value() {
                prop_assert!(s.ack_floor.stream < lowest);
            }
            prop_assert!(s.ack_floor.stream >= last_floor, "floor went back");
            last_floor = s.ack_floor.stream;
            for seq in 1..next_seq {
                prop_assert!(
                    acked.contains(&seq) != s.pending.contains_key(&seq),
                    "seq {} is neither acked nor pending (or both)", seq
                );
            }
        }
    }
}
