//! Property tests for `SubjectIndex`: after any sequence of inserts and
//! removes, every lookup (cached or not) equals a brute-force scan.

use std::collections::BTreeMap;

use proptest::prelude::*;
use sluice_subject::{is_valid_subject, subject_matches, MatchResult, SubjectIndex};

#[derive(Debug, Clone)]
enum Op {
    Insert(String, Option<String>, u32),
    /// Removes the n-th (mod len) live subscription of the model.
    RemoveExisting(usize),
    /// Removes something that may well not exist.
    RemoveAny(String, Option<String>, u32),
    Match(String),
}

#[derive(Debug, PartialEq, Eq)]
struct Canonical {
    plain: Vec<u32>,
    queues: BTreeMap<String, Vec<u32>>,
}

fn canonical(r: &MatchResult<u32>) -> Canonical {
    let mut plain = r.plain.clone();
    plain.sort();
    let mut queues = BTreeMap::new();
    for g in &r.queues {
        let mut m = g.members.clone();
        m.sort();
        // A name appearing twice would be a merge bug; keep both to see it.
        let prev = queues.insert(g.name.clone(), m);
        assert!(prev.is_none(), "queue {} reported twice", g.name);
        assert!(!g.members.is_empty(), "empty queue group {}", g.name);
    }
    Canonical { plain, queues }
}

fn publishable(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(|t| !t.is_empty() && !t.contains(' '))
}

fn brute_force(model: &[(String, Option<String>, u32)], subject: &str) -> Canonical {
    let mut plain = Vec::new();
    let mut queues: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    if publishable(subject) {
        for (sub, queue, item) in model {
            if subject_matches(sub, subject) {
                match queue {
                    None => plain.push(*item),
                    Some(q) => queues.entry(q.clone()).or_default().push(*item),
                }
            }
        }
    }
    plain.sort();
    for m in queues.values_mut() {
        m.sort();
    }
    Canonical { plain, queues }
}

fn token() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("a"), Just("b"), Just("c")]
}

fn pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (
            prop::collection::vec(prop_oneof![3 => token(), 1 => Just("*")], 0..4),
            any::<bool>(),
        )
            .prop_map(|(mut t, fwc)| {
                if fwc || t.is_empty() {
                    t.push(">");
                }
                t.join(".")
            }),
        // Occasionally invalid, to check rejection leaves the index alone.
        1 => prop_oneof![Just("a..b"), Just(""), Just("a.>.b"), Just("a b")]
            .prop_map(str::to_string),
    ]
}

fn published() -> impl Strategy<Value = String> {
    prop_oneof![
        10 => prop::collection::vec(
            prop_oneof![5 => token(), 1 => Just("*"), 1 => Just(">")],
            1..5,
        )
        .prop_map(|t| t.join(".")),
        1 => prop_oneof![Just(""), Just("a."), Just(".a"), Just("a..b"), Just("a b")]
            .prop_map(str::to_string),
    ]
}

fn queue() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        2 => Just(None),
        1 => Just(Some("q1".to_string())),
        1 => Just(Some("q2".to_string())),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (pattern(), queue(), 0..6u32).prop_map(|(s, q, i)| Op::Insert(s, q, i)),
        2 => any::<usize>().prop_map(Op::RemoveExisting),
        1 => (pattern(), queue(), 0..6u32).prop_map(|(s, q, i)| Op::RemoveAny(s, q, i)),
        6 => published().prop_map(Op::Match),
    ]
}

fn remove_from_model(
    model: &mut Vec<(String, Option<String>, u32)>,
    s: &str,
    q: &Option<String>,
    i: u32,
) -> bool {
    match model
        .iter()
        .position(|(ms, mq, mi)| ms == s && mq == q && *mi == i)
    {
        Some(p) => {
            model.remove(p);
            true
        }
        None => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn index_equals_brute_force(ops in prop::collection::vec(op(), 1..80), cap in 0usize..6) {
        let mut idx = SubjectIndex::with_cache_capacity(cap);
        let mut model: Vec<(String, Option<String>, u32)> = Vec::new();
        // Every subject looked up so far, re-checked after each change so
        // stale cache entries would be caught.
        let mut seen: Vec<String> = Vec::new();

        for op in ops {
            let before = idx.generation();
            let changed = match op {
                Op::Insert(s, q, i) => {
                    let ok = idx.insert(&s, q.as_deref(), i).is_ok();
                    prop_assert_eq!(ok, is_valid_subject(&s));
                    if ok {
                        model.push((s, q, i));
                    }
                    ok
                }
                Op::RemoveExisting(n) => {
                    if model.is_empty() {
                        false
                    } else {
                        let (s, q, i) = model.remove(n % model.len());
                        prop_assert!(idx.remove(&s, q.as_deref(), &i));
                        true
                    }
                }
                Op::RemoveAny(s, q, i) => {
                    let want = remove_from_model(&mut model, &s, &q, i);
                    prop_assert_eq!(idx.remove(&s, q.as_deref(), &i), want);
                    want
                }
                Op::Match(s) => {
                    let got = canonical(&idx.match_subject(&s));
                    prop_assert_eq!(got, brute_force(&model, &s), "match {:?}", s);
                    if !seen.contains(&s) {
                        seen.push(s);
                    }
                    false
                }
            };
            prop_assert_eq!(idx.generation() != before, changed);
            prop_assert_eq!(idx.len(), model.len());
            prop_assert!(idx.cache_len() <= cap);
            if changed {
                for s in &seen {
                    let got = canonical(&idx.match_subject(s));
                    prop_assert_eq!(got, brute_force(&model, s), "after change, match {:?}", s);
                }
            }
        }
    }
}
