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
}

impl<T> MatchCache<T> {
    /// A capacity of 0 disables caching.
    pub(crate) fn new(capacity: usize) -> Self {
        MatchCache {
            map: HashMap::new(),
            capacity,
        }
    }

    pub(crate) fn get(&self, subject: &str) -> Option<Arc<MatchResult<T>>> {
        self.map.get(subject).cloned()
    }

    pub(crate) fn insert(&mut self, subject: &str, result: Arc<MatchResult<T>>) {
        if self.capacity == 0 {
            return;
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
