//! Subject filters as the store sees them: everything, one literal subject, or a
//! wildcard pattern. Normalising once up front lets both stores pick the cheap path
//! (a per-subject index lookup) for literals.

use sluice_subject::{is_literal, subject_matches};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filter<'a> {
    All,
    Literal(&'a str),
    Wildcard(Pattern<'a>),
}

/// A wildcard filter, with the common `literal.prefix.>` form (a KV bucket, an object
/// store's chunks) recognised up front: matching it is one prefix comparison, and
/// stores match filters against every stored subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pattern<'a> {
    text: &'a str,
    /// For `literal.prefix.>`: `literal.prefix.` (with the dot).
    prefix: Option<&'a str>,
}

impl<'a> Filter<'a> {
    /// `None`, the empty string and `>` all mean "every subject", as in nats-server.
    pub(crate) fn new(filter: Option<&'a str>) -> Self {
        match filter {
            None | Some("") | Some(">") => Filter::All,
            Some(f) if is_literal(f) => Filter::Literal(f),
            Some(f) => {
                let prefix = f
                    .strip_suffix('>')
                    .filter(|p| p.ends_with('.') && is_literal(&p[..p.len() - 1]));
                Filter::Wildcard(Pattern { text: f, prefix })
            }
        }
    }

    pub(crate) fn matches(&self, subject: &str) -> bool {
        match self {
            Filter::All => true,
            Filter::Literal(l) => *l == subject,
            Filter::Wildcard(Pattern {
                prefix: Some(p), ..
            }) => subject.starts_with(p),
            Filter::Wildcard(Pattern { text, .. }) => subject_matches(text, subject),
        }
    }
}

/// A purge request with nats-server's "0 means unset" conventions removed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PurgeSpec<'a> {
    pub filter: Filter<'a>,
    /// Remove only sequences strictly below this.
    pub before_seq: Option<u64>,
    /// Keep the newest this many of the candidates.
    pub keep: Option<u64>,
}

impl<'a> PurgeSpec<'a> {
    pub(crate) fn new(filter: Option<&'a str>, before_seq: Option<u64>, keep: Option<u64>) -> Self {
        PurgeSpec {
            filter: Filter::new(filter),
            before_seq: before_seq.filter(|&s| s > 0),
            keep: keep.filter(|&k| k > 0),
        }
    }

    /// Everything goes: the store is emptied and `first_seq` becomes `last_seq + 1`.
    pub(crate) fn is_full_purge(&self) -> bool {
        self.filter == Filter::All && self.before_seq.is_none() && self.keep.is_none()
    }

    /// nats-server's `Compact(seq)` past the end: an unfiltered purge with a bound beyond
    /// the last sequence empties the store and makes the next sequence `before_seq`.
    pub(crate) fn compacts_past(&self, last_seq: u64) -> Option<u64> {
        match (self.filter, self.before_seq, self.keep) {
            (Filter::All, Some(b), None) if b > last_seq.saturating_add(1) => Some(b),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_patterns_match_like_the_general_matcher() {
        let patterns = [
            "a.>", "a.b.>", "$KV.b.>", "*.>", "a.*.>", "a.>.>", ".>", "a..>",
        ];
        let subjects = [
            "a", "a.", "a.b", "a.b.c", "a.bc", "ab.c", "$KV.b.k", "$KV.b", "$KV.bb.k", "b.a",
            "a..x", ".x",
        ];
        for p in patterns {
            let f = Filter::new(Some(p));
            for s in subjects {
                assert_eq!(f.matches(s), subject_matches(p, s), "{p} vs {s}");
            }
        }
        assert!(matches!(
            Filter::new(Some("a.b.>")),
            Filter::Wildcard(Pattern {
                prefix: Some("a.b."),
                ..
            })
        ));
        assert!(matches!(
            Filter::new(Some("a.*.>")),
            Filter::Wildcard(Pattern { prefix: None, .. })
        ));
    }
}
