//! `SubjectIndex`: the subscription table the server routes messages with.
//! It joins the token trie with a bounded lookup cache.

use std::sync::Arc;

use crate::cache::MatchCache;
use crate::trie::Trie;
use crate::validate::{is_publishable, is_valid_queue_name, is_valid_subject};

pub use crate::error::InvalidSubject;
pub use crate::result::{MatchResult, QueueGroup};

/// Cache size used by [`SubjectIndex::new`], as in nats-server.
pub const DEFAULT_CACHE_CAPACITY: usize = 1024;

/// Subscriptions keyed by subject (wildcards allowed), optionally in a queue
/// group, answering "who gets a message published on this subject".
#[derive(Debug)]
pub struct SubjectIndex<T> {
    trie: Trie<T>,
    cache: MatchCache<T>,
    generation: u64,
    /// Shared answer for "nobody", so misses without interest don't allocate.
    empty: Arc<MatchResult<T>>,
}

impl<T: Clone + PartialEq> Default for SubjectIndex<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + PartialEq> SubjectIndex<T> {
    /// An empty index caching up to [`DEFAULT_CACHE_CAPACITY`] subjects.
    pub fn new() -> Self {
        Self::with_cache_capacity(DEFAULT_CACHE_CAPACITY)
    }

    /// An empty index caching up to `n` subjects; 0 disables the cache.
    pub fn with_cache_capacity(n: usize) -> Self {
        SubjectIndex {
            trie: Trie::new(),
            cache: MatchCache::new(n),
            generation: 0,
            empty: Arc::new(MatchResult::default()),
        }
    }

    /// Adds a subscription. Duplicates are kept as separate entries.
    ///
    /// Fails, changing nothing, if `subject` is not a valid subject or
    /// `queue` is not a valid queue name.
    pub fn insert(
        &mut self,
        subject: &str,
        queue: Option<&str>,
        item: T,
    ) -> Result<(), InvalidSubject> {
        if !is_valid_subject(subject) || queue.is_some_and(|q| !is_valid_queue_name(q)) {
            return Err(InvalidSubject);
        }
        self.trie.insert(subject, queue, item);
        self.changed(subject);
        Ok(())
    }

    /// Removes one subscription on exactly `subject`/`queue` equal to `item`.
    /// Returns false, changing nothing, if there is none.
    pub fn remove(&mut self, subject: &str, queue: Option<&str>, item: &T) -> bool {
        if !self.trie.remove(subject, queue, item) {
            return false;
        }
        self.changed(subject);
        true
    }

    /// Everyone interested in a message published on `subject`.
    ///
    /// `*`/`>` tokens in `subject` are taken literally, so they only reach
    /// wildcard subscriptions. A subject that is empty or has empty or
    /// whitespace-containing tokens matches nothing and isn't cached.
    pub fn match_subject(&mut self, subject: &str) -> Arc<MatchResult<T>> {
        if let Some(hit) = self.cache.get(subject) {
            return hit;
        }
        if !is_publishable(subject) {
            return Arc::clone(&self.empty);
        }
        let result = self.trie.collect(subject);
        let result = if result.is_empty() {
            Arc::clone(&self.empty)
        } else {
            Arc::new(result)
        };
        self.cache.insert(subject, Arc::clone(&result));
        result
    }

    /// Number of subscriptions.
    pub fn len(&self) -> usize {
        self.trie.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Changes whenever a subscription is added or removed, so callers holding
    /// their own copies of match results can tell they are stale.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Number of subjects currently cached.
    pub fn cache_len(&self) -> usize {
        self.cache.len()
    }

    fn changed(&mut self, subject: &str) {
        self.cache.invalidate(subject);
        self.generation = self.generation.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted<T: Ord + Clone>(v: &[T]) -> Vec<T> {
        let mut v = v.to_vec();
        v.sort();
        v
    }

    fn group<'a>(r: &'a MatchResult<u32>, name: &str) -> Option<&'a QueueGroup<u32>> {
        r.queues.iter().find(|g| g.name == name)
    }

    #[test]
    fn plain_matching() {
        let mut idx = SubjectIndex::new();
        let subs = [
            ("foo.bar", 1),
            ("foo.*", 2),
            ("foo.>", 3),
            (">", 4),
            ("*.bar", 5),
            ("foo", 6),
            ("foo.bar.baz", 7),
            ("*.*.baz", 8),
        ];
        for (s, i) in subs {
            idx.insert(s, None, i).expect("valid subject");
        }
        let cases: &[(&str, &[u32])] = &[
            ("foo.bar", &[1, 2, 3, 4, 5]),
            ("foo", &[4, 6]),
            ("foo.baz", &[2, 3, 4]),
            ("foo.bar.baz", &[3, 4, 7, 8]),
            ("x.bar", &[4, 5]),
            ("x.y.z", &[4]),
        ];
        for &(subject, want) in cases {
            let got = idx.match_subject(subject);
            assert_eq!(sorted(&got.plain), want, "match {subject:?}");
            assert!(got.queues.is_empty());
        }
    }

    #[test]
    fn published_wildcards_are_literal_tokens() {
        let mut idx = SubjectIndex::new();
        for (s, i) in [("foo.*", 1), ("foo.>", 2), (">", 3), ("foo.bar", 4)] {
            idx.insert(s, None, i).expect("valid subject");
        }
        assert_eq!(sorted(&idx.match_subject("foo.*").plain), [1, 2, 3]);
        assert_eq!(sorted(&idx.match_subject("foo.>").plain), [1, 2, 3]);
        assert_eq!(sorted(&idx.match_subject("*").plain), [3]);
        assert_eq!(sorted(&idx.match_subject("foo.>.bar").plain), [2, 3]);
    }

    #[test]
    fn queue_groups_merge_across_subjects() {
        let mut idx = SubjectIndex::new();
        idx.insert("foo.*", Some("workers"), 1).expect("valid");
        idx.insert("foo.bar", Some("workers"), 2).expect("valid");
        idx.insert("foo.>", Some("workers"), 3).expect("valid");
        idx.insert("foo.bar", Some("other"), 4).expect("valid");
        idx.insert("foo.bar", None, 5).expect("valid");
        idx.insert("foo.baz", Some("workers"), 6).expect("valid");

        let r = idx.match_subject("foo.bar");
        assert_eq!(r.plain, vec![5]);
        assert_eq!(r.queues.len(), 2);
        let workers = group(&r, "workers").expect("workers group");
        assert_eq!(sorted(&workers.members), [1, 2, 3]);
        let other = group(&r, "other").expect("other group");
        assert_eq!(other.members, vec![4]);
    }

    #[test]
    fn many_queue_groups_merge() {
        // Enough groups to take the hashed merge path.
        let mut idx = SubjectIndex::new();
        for q in 0..20u32 {
            let name = format!("q{q}");
            idx.insert("a.b", Some(&name), q).expect("valid");
            idx.insert("a.*", Some(&name), 100 + q).expect("valid");
            idx.insert(">", Some(&name), 200 + q).expect("valid");
        }
        let r = idx.match_subject("a.b");
        assert_eq!(r.queues.len(), 20);
        for q in 0..20u32 {
            let g = group(&r, &format!("q{q}")).expect("group present");
            assert_eq!(sorted(&g.members), [q, 100 + q, 200 + q]);
        }
    }

    #[test]
    fn rejects_invalid_subjects_and_queues() {
        let mut idx = SubjectIndex::<u32>::new();
        for s in ["", "foo.", ".foo", "foo..bar", "foo.>.bar", "foo bar"] {
            assert_eq!(idx.insert(s, None, 1), Err(InvalidSubject), "{s:?}");
        }
        assert_eq!(idx.insert("foo", Some(""), 1), Err(InvalidSubject));
        assert_eq!(idx.insert("foo", Some("a b"), 1), Err(InvalidSubject));
        assert!(idx.is_empty());
        assert_eq!(idx.generation(), 0);
    }

    #[test]
    fn invalid_publish_subjects_match_nothing_and_are_not_cached() {
        let mut idx = SubjectIndex::new();
        idx.insert(">", None, 1).expect("valid");
        for s in ["", ".", "foo.", ".foo", "foo..bar", "foo bar", "a.\t"] {
            assert!(idx.match_subject(s).is_empty(), "{s:?}");
        }
        assert_eq!(idx.cache_len(), 0);
    }

    #[test]
    fn remove_semantics() {
        let mut idx = SubjectIndex::new();
        idx.insert("foo", None, 1).expect("valid");
        idx.insert("foo", None, 1).expect("valid");
        idx.insert("foo", Some("q"), 1).expect("valid");
        assert_eq!(idx.len(), 3);

        assert!(!idx.remove("foo", None, &2));
        assert!(!idx.remove("bar", None, &1));
        assert!(!idx.remove("foo", Some("other"), &1));
        assert!(!idx.remove("foo..", None, &1));
        assert_eq!(idx.len(), 3);

        // Duplicates are removed one at a time.
        assert!(idx.remove("foo", None, &1));
        assert_eq!(idx.match_subject("foo").plain, vec![1]);
        assert!(idx.remove("foo", None, &1));
        assert!(idx.match_subject("foo").plain.is_empty());
        assert!(idx.remove("foo", Some("q"), &1));
        assert!(idx.match_subject("foo").is_empty());
        assert!(idx.is_empty());
    }

    #[test]
    fn generation_tracks_changes_only() {
        let mut idx = SubjectIndex::new();
        let g0 = idx.generation();
        idx.insert("foo", None, 1).expect("valid");
        let g1 = idx.generation();
        assert_ne!(g0, g1);
        let _ = idx.match_subject("foo");
        assert_eq!(idx.generation(), g1);
        assert!(!idx.remove("foo", None, &9));
        assert_eq!(idx.generation(), g1);
        assert!(idx.insert("foo..", None, 1).is_err());
        assert_eq!(idx.generation(), g1);
        assert!(idx.remove("foo", None, &1));
        assert_ne!(idx.generation(), g1);
    }

    #[test]
    fn cache_hits_share_the_result() {
        let mut idx = SubjectIndex::new();
        idx.insert("foo.*", None, 1).expect("valid");
        let a = idx.match_subject("foo.bar");
        let b = idx.match_subject("foo.bar");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(idx.cache_len(), 1);
    }

    #[test]
    fn cache_invalidation_is_selective_and_coherent() {
        let mut idx = SubjectIndex::new();
        idx.insert("foo.*", None, 1).expect("valid");
        idx.insert("bar", None, 2).expect("valid");
        let _ = idx.match_subject("foo.a");
        let _ = idx.match_subject("foo.b");
        let bar = idx.match_subject("bar");
        assert_eq!(idx.cache_len(), 3);

        idx.insert("foo.a", None, 3).expect("valid");
        // Only the entry the new subscription affects is dropped.
        assert_eq!(idx.cache_len(), 2);
        assert!(Arc::ptr_eq(&bar, &idx.match_subject("bar")));
        assert_eq!(sorted(&idx.match_subject("foo.a").plain), [1, 3]);
        assert_eq!(idx.match_subject("foo.b").plain, vec![1]);

        assert!(idx.remove("foo.*", None, &1));
        assert_eq!(idx.match_subject("foo.a").plain, vec![3]);
        assert!(idx.match_subject("foo.b").is_empty());
        assert_eq!(idx.match_subject("bar").plain, vec![2]);
    }

    #[test]
    fn cache_stays_bounded() {
        let mut idx = SubjectIndex::with_cache_capacity(16);
        idx.insert(">", None, 1).expect("valid");
        for i in 0..1000 {
            let r = idx.match_subject(&format!("s.{i}"));
            assert_eq!(r.plain, vec![1]);
            assert!(idx.cache_len() <= 16);
        }
    }

    #[test]
    fn zero_cache_capacity_still_matches() {
        let mut idx = SubjectIndex::with_cache_capacity(0);
        idx.insert("a.*", Some("q"), 7).expect("valid");
        let r = idx.match_subject("a.b");
        assert_eq!(r.queues.len(), 1);
        assert_eq!(idx.cache_len(), 0);
    }
}
