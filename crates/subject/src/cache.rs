//! Bounded cache from published literal subject to its shared match result.

use std::collections::HashMap;
use std::sync::Arc;

use crate::matching::subject_matches;
use crate::result::MatchResult;
use crate::validate::is_literal;

/// A plain `HashMap` with a hard size bound.
///
/// The default SipHash hasher is kept on purpose: keys are subjects chosen by
/// remote clients, so a predictable hash would let them force collisions.
#[derive(Debug)]
pub(crate) struct MatchCache<T> {
    map: HashMap<Box<str>, Arc<MatchResult<T>>>,
    capacity: usize,
    /// Lookups and hits in the current window of `WINDOW` lookups.
    lookups: u32,
    hits: u32,
    /// Set when the last window hit less than 1 in `SPARSE_HIT_RATIO`: most
    /// subjects are seen once (a KV bucket's keys, reply inboxes), so only one
    /// miss in `SPARSE_ADMIT` is cached and the rest skip the insert and its
    /// evictions, which cost more than the lookups they would save.
    sparse: bool,
    misses_skipped: u32,
}

const WINDOW: u32 = 1024;
const SPARSE_HIT_RATIO: u32 = 8;
const SPARSE_ADMIT: u32 = 16;

impl<T> MatchCache<T> {
    /// A capacity of 0 disables caching.
    pub(crate) fn new(capacity: usize) -> Self {
        MatchCache {
            map: HashMap::new(),
            capacity,
            lookups: 0,
            hits: 0,
            sparse: false,
            misses_skipped: 0,
        }
    }

    pub(crate) fn get(&mut self, subject: &str) -> Option<Arc<MatchResult<T>>> {
        if self.capacity == 0 {
            return None;
        }
        let hit = self.map.get(subject).cloned();
        self.lookups += 1;
        self.hits += u32::from(hit.is_some());
        if self.lookups >= WINDOW {
            self.sparse = self.hits * SPARSE_HIT_RATIO < self.lookups;
            self.lookups = 0;
            self.hits = 0;
        }
        hit
    }

    pub(crate) fn insert(&mut self, subject: &str, result: Arc<MatchResult<T>>) {
        if self.capacity == 0 {
            return;
        }
        if self.sparse {
            self.misses_skipped += 1;
            if self.misses_skipped < SPARSE_ADMIT {
                return;
            }
            self.misses_skipped = 0;
        }
        if self.map.len() >= self.capacity {
            self.evict_half();
        }
        self.map.insert(subject.into(), result);
    }

    /// Drops every entry a subscription on `filter` could change.
    ///
    /// Selective rather than clearing everything: servers constantly add and
    /// remove short-lived literal subscriptions (request/reply inboxes), and
    /// wiping the cache on each would make the hot path miss all the time.
    pub(crate) fn invalidate(&mut self, filter: &str) {
        if self.map.is_empty() {
            return;
        }
        if is_literal(filter) {
            // A literal filter matches only the identical subject.
            self.map.remove(filter);
        } else {
            self.map
                .retain(|subject, _| !subject_matches(filter, subject));
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Evicts half the entries in one sweep so the cost is amortised over the
    /// next `capacity / 2` misses. Which half is effectively random: the
    /// map's iteration order follows its randomly seeded hash.
    fn evict_half(&mut self) {
        let mut to_drop = (self.map.len() / 2).max(1);
        self.map.retain(|_, _| {
            if to_drop > 0 {
                to_drop -= 1;
                false
            } else {
                true
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Arc<MatchResult<u32>> {
        Arc::new(MatchResult::default())
    }

    #[test]
    fn stays_bounded() {
        for cap in [1usize, 2, 3, 10] {
            let mut c = MatchCache::new(cap);
            for i in 0..100 {
                c.insert(&format!("s.{i}"), entry());
                assert!(c.len() <= cap, "cap {cap}: len {}", c.len());
            }
        }
    }

    #[test]
    fn admits_few_misses_while_most_lookups_miss() {
        let mut c = MatchCache::new(100_000);
        // A window of unique subjects: each misses and is inserted.
        for i in 0..WINDOW {
            let s = format!("u.{i}");
            assert!(c.get(&s).is_none());
            c.insert(&s, entry());
        }
        // The window's last lookup found it sparse: that miss was not admitted.
        assert_eq!(c.len(), WINDOW as usize - 1);
        // The next window admits one miss in SPARSE_ADMIT.
        for i in 0..WINDOW {
            let s = format!("v.{i}");
            assert!(c.get(&s).is_none());
            c.insert(&s, entry());
        }
        let admitted = c.len() - (WINDOW as usize - 1);
        assert_eq!(admitted, ((WINDOW + 1) / SPARSE_ADMIT) as usize);
        // Repeated subjects are still cached, and hits end sparse mode.
        for _ in 0..SPARSE_ADMIT {
            if c.get("hot").is_none() {
                c.insert("hot", entry());
            }
        }
        assert!(c.get("hot").is_some());
        for _ in 0..2 * WINDOW {
            assert!(c.get("hot").is_some());
        }
        assert!(!c.sparse);
        c.insert("w", entry());
        assert!(c.get("w").is_some(), "every miss admitted again");
    }

    #[test]
    fn zero_capacity_disables() {
        let mut c = MatchCache::new(0);
        c.insert("foo", entry());
        assert_eq!(c.len(), 0);
        assert!(c.get("foo").is_none());
    }

    #[test]
    fn invalidates_only_matching() {
        let mut c = MatchCache::new(16);
        for s in ["foo.bar", "foo.baz", "foo.bar.baz", "qux", "foo.*"] {
            c.insert(s, entry());
        }
        c.invalidate("foo.*");
        assert!(c.get("foo.bar").is_none());
        assert!(c.get("foo.baz").is_none());
        assert!(c.get("foo.*").is_none());
        assert!(c.get("foo.bar.baz").is_some());
        assert!(c.get("qux").is_some());
        c.invalidate("qux");
        assert!(c.get("qux").is_none());
        assert!(c.get("foo.bar.baz").is_some());
        c.invalidate(">");
        assert_eq!(c.len(), 0);
    }
}
