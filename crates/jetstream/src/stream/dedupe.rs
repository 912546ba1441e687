//! The duplicate window: `Nats-Msg-Id`s seen in the last `duplicate_window`
//! nanoseconds, with the sequence each was stored at.
//!
//! Not persisted: on open it is rebuilt from the stored messages whose timestamps lie
//! in the window (as nats-server's `rebuildDedupe`), so it covers every acknowledged
//! message that is still stored. Entries are dropped lazily, oldest first, whenever
//! the window is touched; no timer is needed.

use std::collections::{HashMap, VecDeque};

#[derive(Debug, Default)]
pub struct Dedupe {
    ids: HashMap<String, (u64, i64)>,
    /// Insertion order: (id, timestamp). An id re-inserted later appears twice; the
    /// stale entry is recognised by its timestamp not matching the map.
    order: VecDeque<(String, i64)>,
}

impl Dedupe {
    /// The sequence `id` was stored at, if it was seen within `window` of `now`.
    pub fn check(&mut self, id: &str, now: i64, window: i64) -> Option<u64> {
        self.expire(now, window);
        self.ids
            .get(id)
            .filter(|(_, ts)| now.saturating_sub(*ts) < window)
            .map(|(seq, _)| *seq)
    }

    pub fn insert(&mut self, id: &str, seq: u64, ts: i64, now: i64, window: i64) {
        if window <= 0 {
            return;
        }
        self.ids.insert(id.to_string(), (seq, ts));
        self.order.push_back((id.to_string(), ts));
        self.expire(now, window);
    }

    /// Drops entries older than the window.
    pub fn expire(&mut self, now: i64, window: i64) {
        while let Some((id, ts)) = self.order.front() {
            if now.saturating_sub(*ts) < window {
                break;
            }
            if self.ids.get(id).is_some_and(|(_, t)| t == ts) {
                self.ids.remove(id);
            }
            self.order.pop_front();
        }
    }

    pub fn clear(&mut self) {
        self.ids.clear();
        self.order.clear();
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_expiry() {
        let mut d = Dedupe::default();
        let w = 100;
        d.insert("a", 1, 1000, 1000, w);
        assert_eq!(d.check("a", 1099, w), Some(1));
        assert_eq!(d.check("a", 1100, w), None);
        assert!(d.is_empty());
    }

    #[test]
    fn reinsert_keeps_newest() {
        let mut d = Dedupe::default();
        let w = 100;
        d.insert("a", 1, 1000, 1000, w);
        d.insert("b", 2, 1050, 1050, w);
        d.insert("a", 3, 1080, 1080, w);
        // The first "a" entry expires at 1100 but must not drop the newer one.
        assert_eq!(d.check("a", 1120, w), Some(3));
        assert_eq!(d.check("b", 1120, w), Some(2));
        assert_eq!(d.check("b", 1150, w), None);
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn zero_window_remembers_nothing() {
        let mut d = Dedupe::default();
        d.insert("a", 1, 5, 5, 0);
        assert_eq!(d.check("a", 5, 0), None);
    }
}
