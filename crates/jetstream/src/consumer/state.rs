//! The wire-neutral heart of a consumer: which stream sequences were delivered, to
//! whom, how often, which wait for an ack and until when, and where the ack floor is.
//!
//! It knows nothing of subjects, JSON or `$JS.ACK`: deliveries are recorded by stream
//! sequence and target member, and acks, naks and terms come in by stream sequence.
//! Time is passed in. The JetStream adapter (push, pull, `$JS.ACK`) drives it today; a
//! NATS Streaming adapter can drive the same machine with its own members (one per
//! queue subscriber, each with its own in-flight limit, see [`DeliveryState::in_flight_of`])
//! and hand a departed member's messages to the others ([`DeliveryState::member_gone`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Who a message was delivered to. The JetStream adapter uses [`ANY_MEMBER`] (the
/// router picks a queue member, or the pull request is the target); a STAN adapter
/// would use one id per subscriber.
pub type MemberId = u64;
pub const ANY_MEMBER: MemberId = 0;

/// A (consumer sequence, stream sequence) position.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeqPair {
    pub consumer: u64,
    pub stream: u64,
}

/// A delivered message awaiting its ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingAck {
    /// Consumer sequence of its latest delivery.
    pub consumer_seq: u64,
    /// Time of its latest delivery (unix ns).
    pub delivered_at: i64,
    /// When it is redelivered unless acked; `None` while queued for redelivery.
    pub deadline: Option<i64>,
    pub member: MemberId,
}

/// One delivery the adapter must send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub stream_seq: u64,
    pub consumer_seq: u64,
    /// 1 for the first delivery.
    pub deliveries: u64,
    pub member: MemberId,
}

/// Ack behaviour the state machine needs from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckRules {
    /// False for ack policy `none`: nothing is tracked, every delivery counts as acked.
    pub tracked: bool,
    /// Ack policy `all`: an ack covers every pending sequence at or below it.
    pub cumulative: bool,
    pub ack_wait: i64,
    /// Redelivery delays by delivery count (overrides `ack_wait` when non-empty).
    pub backoff: Vec<i64>,
    /// Most deliveries of one message; -1 unlimited.
    pub max_deliver: i64,
    /// Most unacknowledged messages; -1 unlimited.
    pub max_ack_pending: i64,
}

impl AckRules {
    /// How long after its `deliveries`-th delivery a message is redelivered.
    pub fn wait_after(&self, deliveries: u64) -> i64 {
        if self.backoff.is_empty() {
            return self.ack_wait;
        }
        let i = (deliveries.saturating_sub(1) as usize).min(self.backoff.len() - 1);
        self.backoff[i]
    }
}

/// What an expiry pass found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expired {
    /// Stream sequences that reached `max_deliver` and are no longer redelivered,
    /// with their delivery counts (for the max-deliveries advisory).
    pub exhausted: Vec<(u64, u64)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryState {
    /// Last delivered: consumer sequence of the last delivery (redeliveries included)
    /// and the highest stream sequence delivered.
    pub delivered: SeqPair,
    pub ack_floor: SeqPair,
    /// Unacknowledged deliveries by stream sequence.
    pub pending: BTreeMap<u64, PendingAck>,
    /// Delivery counts above 1, by stream sequence (only for pending messages).
    pub redelivered: BTreeMap<u64, u64>,
    /// Pending messages due for redelivery, lowest stream sequence first.
    redeliver: BTreeSet<u64>,
    /// (deadline, stream sequence) of every pending message with a deadline.
    timers: BTreeSet<(i64, u64)>,
    in_flight: HashMap<MemberId, u64>,
}

impl DeliveryState {
    /// A fresh state whose first new delivery will look at `start_seq` onwards.
    pub fn starting_at(start_seq: u64) -> Self {
        let floor = start_seq.saturating_sub(1);
        DeliveryState {
            delivered: SeqPair {
                consumer: 0,
                stream: floor,
            },
            ack_floor: SeqPair {
                consumer: 0,
                stream: floor,
            },
            ..Default::default()
        }
    }

    /// Rebuilds from persisted positions. Pending messages get their timers again from
    /// their delivery time, so ones overdue are redelivered at once.
    pub fn restore(
        delivered: SeqPair,
        ack_floor: SeqPair,
        pending: Vec<(u64, u64, i64)>,
        redelivered: Vec<(u64, u64)>,
        rules: &AckRules,
    ) -> Self {
        let mut s = DeliveryState {
            delivered,
            ack_floor,
            ..Default::default()
        };
        s.redelivered = redelivered.into_iter().filter(|(_, n)| *n > 1).collect();
        for (sseq, cseq, at) in pending {
            let deadline = at.saturating_add(rules.wait_after(s.deliveries_of(sseq)));
            s.pending.insert(
                sseq,
                PendingAck {
                    consumer_seq: cseq,
                    delivered_at: at,
                    deadline: Some(deadline),
                    member: ANY_MEMBER,
                },
            );
            s.timers.insert((deadline, sseq));
            *s.in_flight.entry(ANY_MEMBER).or_default() += 1;
        }
        s.redelivered.retain(|seq, _| s.pending.contains_key(seq));
        s
    }

    pub fn num_ack_pending(&self) -> u64 {
        self.pending.len() as u64
    }

    /// Messages delivered more than once and still pending.
    pub fn num_redelivered(&self) -> u64 {
        self.redelivered.len() as u64
    }

    pub fn in_flight_of(&self, member: MemberId) -> u64 {
        self.in_flight.get(&member).copied().unwrap_or(0)
    }

    /// Times `sseq` was delivered (0 if never, or already acked).
    pub fn deliveries_of(&self, sseq: u64) -> u64 {
        match self.redelivered.get(&sseq) {
            Some(n) => *n,
            None => u64::from(self.pending.contains_key(&sseq)),
        }
    }

    /// Whether the in-flight cap leaves room for a new (not re-) delivery.
    pub fn room_for_new(&self, rules: &AckRules) -> bool {
        !rules.tracked
            || rules.max_ack_pending < 0
            || (self.pending.len() as i64) < rules.max_ack_pending
    }

    pub fn has_redeliveries(&self) -> bool {
        !self.redeliver.is_empty()
    }

    /// The next message due for redelivery, taken off the queue. The caller either
    /// delivers it ([`Self::record_redelivery`]) or drops it ([`Self::forget`]) when it
    /// is gone from the stream.
    pub fn pop_redelivery(&mut self) -> Option<u64> {
        self.redeliver.pop_first()
    }

    /// Puts back a redelivery the caller could not send now.
    pub fn unpop_redelivery(&mut self, sseq: u64) {
        if self.pending.contains_key(&sseq) {
            self.redeliver.insert(sseq);
        }
    }

    /// Records the first delivery of `sseq` (above `delivered.stream`).
    pub fn record_new(
        &mut self,
        sseq: u64,
        now: i64,
        member: MemberId,
        rules: &AckRules,
    ) -> Delivery {
        self.delivered.consumer += 1;
        self.delivered.stream = self.delivered.stream.max(sseq);
        let cseq = self.delivered.consumer;
        if rules.tracked {
            let deadline = now.saturating_add(rules.wait_after(1));
            self.pending.insert(
                sseq,
                PendingAck {
                    consumer_seq: cseq,
                    delivered_at: now,
                    deadline: Some(deadline),
                    member,
                },
            );
            self.timers.insert((deadline, sseq));
            *self.in_flight.entry(member).or_default() += 1;
        } else {
            self.ack_floor = self.delivered;
        }
        Delivery {
            stream_seq: sseq,
            consumer_seq: cseq,
            deliveries: 1,
            member,
        }
    }

    /// Records a redelivery of a pending `sseq` (taken with `pop_redelivery`). `None`
    /// if it is no longer pending.
    pub fn record_redelivery(
        &mut self,
        sseq: u64,
        now: i64,
        member: MemberId,
        rules: &AckRules,
    ) -> Option<Delivery> {
        let count = self.deliveries_of(sseq) + 1;
        let p = self.pending.get_mut(&sseq)?;
        if let Some(d) = p.deadline.take() {
            self.timers.remove(&(d, sseq));
        }
        if let Some(n) = self.in_flight.get_mut(&p.member) {
            *n = n.saturating_sub(1);
        }
        self.delivered.consumer += 1;
        let deadline = now.saturating_add(rules.wait_after(count));
        // The pending entry keeps the consumer sequence of the first delivery, as
        // nats-server's does: the ack floor is measured in first deliveries.
        p.delivered_at = now;
        p.deadline = Some(deadline);
        p.member = member;
        self.timers.insert((deadline, sseq));
        *self.in_flight.entry(member).or_default() += 1;
        self.redelivered.insert(sseq, count);
        Some(Delivery {
            stream_seq: sseq,
            consumer_seq: self.delivered.consumer,
            deliveries: count,
            member,
        })
    }

    /// Acknowledges `sseq` (and, with a cumulative policy, everything pending below
    /// it). Returns the stream sequences that were acked.
    pub fn ack(&mut self, sseq: u64, rules: &AckRules) -> Vec<u64> {
        if !rules.tracked {
            return Vec::new();
        }
        let acked: Vec<u64> = if rules.cumulative {
            self.pending.range(..=sseq).map(|(s, _)| *s).collect()
        } else if self.pending.contains_key(&sseq) {
            vec![sseq]
        } else {
            Vec::new()
        };
        for s in &acked {
            self.forget(*s);
        }
        if rules.cumulative && sseq <= self.delivered.stream && sseq > self.ack_floor.stream {
            // Ack all also covers delivered sequences that were never pending here.
            self.raise_floor_to(sseq);
        }
        self.update_floor();
        acked
    }

    /// Removes `sseq` from every structure (acked, terminated, gone from the stream,
    /// or out of deliveries). True if it was pending.
    pub fn forget(&mut self, sseq: u64) -> bool {
        if !self.take_pending(sseq) {
            return false;
        }
        self.redelivered.remove(&sseq);
        self.update_floor();
        true
    }

    /// Drops `sseq` from pending, its timer, its member's in-flight count and the
    /// redelivery queue. True if it was pending.
    fn take_pending(&mut self, sseq: u64) -> bool {
        let Some(p) = self.pending.remove(&sseq) else {
            return false;
        };
        if let Some(d) = p.deadline {
            self.timers.remove(&(d, sseq));
        }
        if let Some(n) = self.in_flight.get_mut(&p.member) {
            *n = n.saturating_sub(1);
        }
        self.redeliver.remove(&sseq);
        true
    }

    /// A message that used up `max_deliver`: no longer pending or redelivered, but, as
    /// in nats-server, it neither moves the ack floor nor leaves the redelivered count
    /// (the floor catches up when the next ack empties the pending set).
    pub fn exhaust(&mut self, sseq: u64) -> bool {
        self.take_pending(sseq)
    }

    /// Negative ack: redeliver now, or after `delay` (ns) when positive.
    pub fn nak(&mut self, sseq: u64, delay: i64, now: i64) -> bool {
        let Some(p) = self.pending.get_mut(&sseq) else {
            return false;
        };
        if let Some(d) = p.deadline.take() {
            self.timers.remove(&(d, sseq));
        }
        if delay > 0 {
            let d = now.saturating_add(delay);
            p.deadline = Some(d);
            self.timers.insert((d, sseq));
        } else {
            self.redeliver.insert(sseq);
        }
        true
    }

    /// Work in progress: the ack timer starts again.
    pub fn progress(&mut self, sseq: u64, now: i64, rules: &AckRules) -> bool {
        let count = self.deliveries_of(sseq);
        let Some(p) = self.pending.get_mut(&sseq) else {
            return false;
        };
        let Some(d) = p.deadline else {
            // Already queued for redelivery: too late for progress.
            return false;
        };
        self.timers.remove(&(d, sseq));
        let nd = now.saturating_add(rules.wait_after(count));
        p.deadline = Some(nd);
        self.timers.insert((nd, sseq));
        true
    }

    /// Every message delivered to `member` is queued for redelivery at once.
    pub fn member_gone(&mut self, member: MemberId) {
        let seqs: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.member == member)
            .map(|(s, _)| *s)
            .collect();
        for s in seqs {
            self.nak(s, 0, 0);
        }
    }

    /// Moves every message whose ack wait ran out to the redelivery queue; ones that
    /// already had `max_deliver` deliveries are dropped and reported.
    pub fn expire(&mut self, now: i64, rules: &AckRules) -> Expired {
        let mut out = Expired::default();
        while let Some(&(d, sseq)) = self.timers.first() {
            if d > now {
                break;
            }
            self.timers.pop_first();
            let count = self.deliveries_of(sseq);
            if let Some(p) = self.pending.get_mut(&sseq) {
                p.deadline = None;
            }
            if rules.max_deliver > 0 && count >= rules.max_deliver as u64 {
                self.exhaust(sseq);
                out.exhausted.push((sseq, count));
            } else {
                self.redeliver.insert(sseq);
            }
        }
        out
    }

    /// The next ack deadline.
    pub fn next_deadline(&self) -> Option<i64> {
        self.timers.first().map(|(d, _)| *d)
    }

    /// Moves the position for new deliveries (deliver policies, or a stream purged
    /// past it). Pending messages below it stay pending.
    pub fn skip_to(&mut self, next_stream_seq: u64) {
        let floor = next_stream_seq.saturating_sub(1);
        if floor > self.delivered.stream {
            self.delivered.stream = floor;
        }
        self.update_floor();
    }

    fn raise_floor_to(&mut self, sseq: u64) {
        if sseq > self.ack_floor.stream {
            self.ack_floor.stream = sseq;
        }
    }

    /// The ack floor follows the lowest pending message: everything below it is acked.
    fn update_floor(&mut self) {
        match self.pending.first_key_value() {
            None => self.ack_floor = self.delivered,
            Some((sseq, p)) => {
                let stream = sseq.saturating_sub(1);
                if stream >= self.ack_floor.stream {
                    self.ack_floor.stream = stream;
                    // Pending entries keep their first delivery's consumer sequence, and
                    // first deliveries go in stream order: the lowest stream sequence
                    // pending has the lowest consumer sequence too.
                    self.ack_floor.consumer = self
                        .ack_floor
                        .consumer
                        .max(p.consumer_seq.saturating_sub(1));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explicit(ack_wait: i64, max_ack_pending: i64, max_deliver: i64) -> AckRules {
        AckRules {
            tracked: true,
            cumulative: false,
            ack_wait,
            backoff: Vec::new(),
            max_deliver,
            max_ack_pending,
        }
    }

    #[test]
    fn deliver_ack_moves_floor() {
        let r = explicit(10, -1, -1);
        let mut s = DeliveryState::starting_at(1);
        for seq in 1..=3 {
            s.record_new(seq, 0, ANY_MEMBER, &r);
        }
        assert_eq!(s.num_ack_pending(), 3);
        assert_eq!(s.ack(2, &r), vec![2]);
        assert_eq!(
            s.ack_floor,
            SeqPair {
                consumer: 0,
                stream: 0
            }
        );
        s.ack(1, &r);
        assert_eq!(
            s.ack_floor,
            SeqPair {
                consumer: 2,
                stream: 2
            }
        );
        s.ack(3, &r);
        assert_eq!(
            s.ack_floor,
            SeqPair {
                consumer: 3,
                stream: 3
            }
        );
        assert!(s.ack(3, &r).is_empty(), "second ack is a no-op");
    }

    #[test]
    fn ack_wait_redelivers_then_max_deliver_drops() {
        let r = explicit(10, -1, 2);
        let mut s = DeliveryState::starting_at(1);
        s.record_new(1, 0, ANY_MEMBER, &r);
        assert_eq!(s.next_deadline(), Some(10));
        assert_eq!(s.expire(9, &r), Expired::default());
        assert!(!s.has_redeliveries());
        s.expire(10, &r);
        assert_eq!(s.pop_redelivery(), Some(1));
        let d = s.record_redelivery(1, 10, ANY_MEMBER, &r).unwrap();
        assert_eq!((d.deliveries, d.consumer_seq), (2, 2));
        assert_eq!(s.num_redelivered(), 1);
        let e = s.expire(20, &r);
        assert_eq!(e.exhausted, vec![(1, 2)]);
        assert_eq!(s.num_ack_pending(), 0);
        assert_eq!(s.num_redelivered(), 1, "kept, as nats-server");
        assert_eq!(s.ack_floor, SeqPair::default(), "floor not moved by it");
        assert!(s.pop_redelivery().is_none());
    }

    #[test]
    fn cap_counts_pending_only() {
        let r = explicit(10, 2, -1);
        let mut s = DeliveryState::starting_at(1);
        s.record_new(1, 0, ANY_MEMBER, &r);
        assert!(s.room_for_new(&r));
        s.record_new(2, 0, ANY_MEMBER, &r);
        assert!(!s.room_for_new(&r));
        s.ack(1, &r);
        assert!(s.room_for_new(&r));
    }

    #[test]
    fn nak_with_delay_and_progress() {
        let r = explicit(100, -1, -1);
        let mut s = DeliveryState::starting_at(1);
        s.record_new(1, 0, ANY_MEMBER, &r);
        assert!(s.nak(1, 5, 10));
        s.expire(14, &r);
        assert!(!s.has_redeliveries());
        s.expire(15, &r);
        assert_eq!(s.pop_redelivery(), Some(1));
        s.record_redelivery(1, 15, ANY_MEMBER, &r);
        assert!(s.progress(1, 50, &r));
        assert_eq!(s.next_deadline(), Some(150));
        assert!(s.nak(1, 0, 60));
        assert_eq!(s.pop_redelivery(), Some(1));
    }

    #[test]
    fn backoff_schedules_by_delivery_count() {
        let mut r = explicit(100, -1, -1);
        r.backoff = vec![10, 20];
        let mut s = DeliveryState::starting_at(1);
        s.record_new(1, 0, ANY_MEMBER, &r);
        assert_eq!(s.next_deadline(), Some(10));
        s.expire(10, &r);
        s.pop_redelivery();
        s.record_redelivery(1, 10, ANY_MEMBER, &r);
        assert_eq!(s.next_deadline(), Some(30));
        s.expire(30, &r);
        s.pop_redelivery();
        s.record_redelivery(1, 30, ANY_MEMBER, &r);
        assert_eq!(s.next_deadline(), Some(50), "last backoff repeats");
    }

    #[test]
    fn ack_all_covers_lower() {
        let mut r = explicit(100, -1, -1);
        r.cumulative = true;
        let mut s = DeliveryState::starting_at(1);
        for seq in 1..=5 {
            s.record_new(seq, 0, ANY_MEMBER, &r);
        }
        assert_eq!(s.ack(3, &r), vec![1, 2, 3]);
        assert_eq!(s.ack_floor.stream, 3);
        assert_eq!(s.num_ack_pending(), 2);
    }

    #[test]
    fn member_gone_hands_messages_back() {
        let r = explicit(1000, -1, -1);
        let mut s = DeliveryState::starting_at(1);
        s.record_new(1, 0, 7, &r);
        s.record_new(2, 0, 8, &r);
        assert_eq!(s.in_flight_of(7), 1);
        s.member_gone(7);
        assert_eq!(s.pop_redelivery(), Some(1));
        let d = s.record_redelivery(1, 1, 8, &r).unwrap();
        assert_eq!(d.member, 8);
        assert_eq!(s.in_flight_of(7), 0);
        assert_eq!(s.in_flight_of(8), 2);
    }

    #[test]
    fn untracked_acks_on_delivery() {
        let r = AckRules {
            tracked: false,
            ..explicit(10, 1, -1)
        };
        let mut s = DeliveryState::starting_at(5);
        s.record_new(5, 0, ANY_MEMBER, &r);
        s.record_new(9, 0, ANY_MEMBER, &r);
        assert!(s.room_for_new(&r));
        assert_eq!(
            s.ack_floor,
            SeqPair {
                consumer: 2,
                stream: 9
            }
        );
        assert_eq!(s.num_ack_pending(), 0);
    }

    #[test]
    fn restore_makes_overdue_due() {
        let r = explicit(10, -1, -1);
        let s0 = SeqPair {
            consumer: 3,
            stream: 3,
        };
        let mut s = DeliveryState::restore(
            s0,
            SeqPair {
                consumer: 1,
                stream: 1,
            },
            vec![(2, 2, 0), (3, 3, 100)],
            vec![(2, 3)],
            &r,
        );
        s.expire(50, &r);
        assert_eq!(s.pop_redelivery(), Some(2));
        let d = s.record_redelivery(2, 50, ANY_MEMBER, &r).unwrap();
        assert_eq!(d.deliveries, 4);
        assert_eq!(d.consumer_seq, 4);
    }
}
