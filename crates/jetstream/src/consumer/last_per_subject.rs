//! The snapshot a `deliver_policy: last_per_subject` consumer delivers first: the last
//! sequence of each matching subject when the consumer was created, delivered in
//! order. A sorted vector with a cursor (8 bytes per subject, released once delivered)
//! rather than a tree: a KV watcher over a million keys holds it while it catches up.

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LastPerSubject {
    /// Ascending, no duplicates.
    seqs: Vec<u64>,
    /// `seqs[..next]` are delivered or skipped.
    next: usize,
}

impl LastPerSubject {
    /// From any sequences (sorted and deduplicated here); None if there are none.
    pub(crate) fn new(mut seqs: Vec<u64>) -> Option<Self> {
        seqs.sort_unstable();
        seqs.dedup();
        (!seqs.is_empty()).then_some(LastPerSubject { seqs, next: 0 })
    }

    fn rest(&self) -> &[u64] {
        self.seqs.get(self.next..).unwrap_or_default()
    }

    pub(crate) fn first(&self) -> Option<u64> {
        self.rest().first().copied()
    }

    /// The highest sequence of the snapshot.
    pub(crate) fn top(&self) -> Option<u64> {
        self.rest().last().copied()
    }

    /// Snapshot sequences at or above `from` still to deliver.
    pub(crate) fn count_from(&self, from: u64) -> u64 {
        let rest = self.rest();
        (rest.len() - rest.partition_point(|&s| s < from)) as u64
    }

    pub(crate) fn contains(&self, seq: u64) -> bool {
        self.rest().binary_search(&seq).is_ok()
    }

    /// `seq` was delivered (deliveries go in ascending order): it and everything below
    /// leave the snapshot. Returns true once nothing is left.
    pub(crate) fn delivered(&mut self, seq: u64) -> bool {
        self.next += self.rest().partition_point(|&s| s <= seq);
        if self.next * 2 > self.seqs.len() && self.seqs.len() > 1024 {
            // Give back what was delivered.
            self.seqs.drain(..self.next);
            self.seqs.shrink_to_fit();
            self.next = 0;
        }
        self.rest().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivers_in_order_and_shrinks() {
        assert_eq!(LastPerSubject::new(Vec::new()), None);
        let mut l = LastPerSubject::new(vec![9, 3, 5, 3]).unwrap();
        assert_eq!((l.first(), l.top()), (Some(3), Some(9)));
        assert_eq!(l.count_from(0), 3);
        assert_eq!(l.count_from(4), 2);
        assert!(l.contains(5) && !l.contains(4));
        assert!(!l.delivered(5));
        assert_eq!((l.first(), l.count_from(0)), (Some(9), 1));
        assert!(!l.contains(3));
        assert!(l.delivered(9));

        let mut big = LastPerSubject::new((1..=10_000).map(|i| i * 2).collect()).unwrap();
        for s in (2..=15_000).step_by(2) {
            assert!(!big.delivered(s));
        }
        assert!(big.seqs.capacity() < 10_000, "delivered part released");
        assert_eq!(big.count_from(0), 2_500);
        assert_eq!(big.first(), Some(15_002));
        assert!(big.contains(20_000));
    }
}
