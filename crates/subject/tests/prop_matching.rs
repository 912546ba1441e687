//! Property tests for the pairwise matching functions against naive
//! reference implementations over a small token alphabet.

use proptest::prelude::*;
use sluice_subject::{is_literal, subject_matches, subjects_collide, subset_of};

/// Straightforward recursive definition of "filter matches subject".
fn reference_matches(filter: &[&str], subject: &[&str]) -> bool {
    match (filter.split_first(), subject.split_first()) {
        (None, None) => true,
        (Some((&">", _)), Some(_)) => true,
        (Some((&f, frest)), Some((&s, srest))) => {
            (f == "*" || f == s) && reference_matches(frest, srest)
        }
        _ => false,
    }
}

fn toks(s: &str) -> Vec<&str> {
    s.split('.').collect()
}

fn join(tokens: Vec<String>) -> String {
    tokens.join(".")
}

/// Valid patterns over {a, b, *} with an optional trailing `>`.
fn pattern() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop_oneof![Just("a"), Just("b"), Just("*")], 0..4),
        any::<bool>(),
    )
        .prop_filter_map("non-empty", |(mut t, fwc)| {
            if fwc {
                t.push(">");
            }
            (!t.is_empty()).then(|| t.join("."))
        })
}

/// Published subjects, including literal `*`/`>` tokens.
fn published() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => Just("a".to_string()),
            4 => Just("b".to_string()),
            1 => Just("*".to_string()),
            1 => Just(">".to_string()),
            1 => Just("a*".to_string()),
        ],
        1..5,
    )
    .prop_map(join)
}

/// Every literal subject of 1..=max_len tokens over {a, b, z}; `z` stands for
/// any token the patterns don't mention.
fn universe(max_len: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut layer: Vec<String> = vec![String::new()];
    for _ in 0..max_len {
        let mut next = Vec::new();
        for prefix in &layer {
            for t in ["a", "b", "z"] {
                next.push(if prefix.is_empty() {
                    t.to_string()
                } else {
                    format!("{prefix}.{t}")
                });
            }
        }
        out.extend(next.iter().cloned());
        layer = next;
    }
    out
}

fn len(s: &str) -> usize {
    s.split('.').count()
}

proptest! {
    #[test]
    fn subject_matches_agrees_with_reference(f in pattern(), s in published()) {
        prop_assert_eq!(subject_matches(&f, &s), reference_matches(&toks(&f), &toks(&s)));
    }

    #[test]
    fn subset_of_agrees_with_brute_force(a in pattern(), b in pattern()) {
        let all = universe(len(&a).max(len(&b)) + 1);
        let brute = all
            .iter()
            .filter(|s| subject_matches(&a, s))
            .all(|s| subject_matches(&b, s));
        prop_assert_eq!(subset_of(&a, &b), brute, "subset_of({:?}, {:?})", a, b);
    }

    #[test]
    fn collide_agrees_with_brute_force(a in pattern(), b in pattern()) {
        let all = universe(len(&a).max(len(&b)) + 1);
        let brute = all.iter().any(|s| subject_matches(&a, s) && subject_matches(&b, s));
        prop_assert_eq!(subjects_collide(&a, &b), brute, "collide({:?}, {:?})", a, b);
        prop_assert_eq!(subjects_collide(&b, &a), brute);
    }

    #[test]
    fn literal_pattern_matches_only_itself(a in pattern(), s in published()) {
        if is_literal(&a) {
            prop_assert_eq!(subject_matches(&a, &s), a == s);
        }
    }

    #[test]
    fn no_panics_on_arbitrary_input(a in ".{0,12}", b in ".{0,12}") {
        let _ = subject_matches(&a, &b);
        let _ = subset_of(&a, &b);
        let _ = subjects_collide(&a, &b);
        let _ = sluice_subject::is_valid_subject(&a);
        let _ = sluice_subject::is_valid_queue_name(&a);
    }
}
