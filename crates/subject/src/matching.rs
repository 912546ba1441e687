//! Token-wise comparisons between subjects and wildcard filters, without an
//! index. Used for permission checks, cache invalidation and overlap tests.
//!
//! None of these functions validate their input: empty tokens are compared
//! like any other token, so callers should validate first when it matters.

/// True if the literal `subject` is matched by `filter`.
///
/// Wildcards are only interpreted in `filter`; a `*` or `>` token in
/// `subject` is an ordinary token (this is how a non-pedantic wildcard
/// publish is delivered).
pub fn subject_matches(filter: &str, subject: &str) -> bool {
    // Hot in stores and consumers (a filter against every stored subject): compare
    // bytes token by token instead of going through `str::split`'s pattern machinery.
    let (f, s) = (filter.as_bytes(), subject.as_bytes());
    let (mut fi, mut si) = (0, 0);
    loop {
        let fe = token_end(f, fi);
        let se = token_end(s, si);
        let ft = &f[fi..fe];
        match ft {
            // `>` needs at least one token, which `s` has here.
            b">" => return true,
            b"*" => {}
            _ if ft == &s[si..se] => {}
            _ => return false,
        }
        match (fe == f.len(), se == s.len()) {
            (true, true) => return true,
            (false, false) => {
                fi = fe + 1;
                si = se + 1;
            }
            _ => return false,
        }
    }
}

/// The end (exclusive) of the token starting at `start`.
fn token_end(b: &[u8], start: usize) -> usize {
    b[start..]
        .iter()
        .position(|&c| c == b'.')
        .map_or(b.len(), |p| start + p)
}

/// True if every literal subject matched by `subject` (which may contain
/// wildcards) is also matched by `filter`.
pub fn subset_of(subject: &str, filter: &str) -> bool {
    let mut s = subject.split('.');
    let mut f = filter.split('.');
    loop {
        match (s.next(), f.next()) {
            (None, None) => return true,
            (Some(_), Some(">")) => return true,
            // `>` in `subject` covers any number of arbitrary tokens, which
            // only a `>` in `filter` (handled above) can cover.
            (Some(">"), Some(_)) => return false,
            (Some(_), Some("*")) => {}
            // A `*` in `subject` covers arbitrary tokens; a literal can't.
            (Some("*"), Some(_)) => return false,
            (Some(st), Some(ft)) if st == ft => {}
            _ => return false,
        }
    }
}

/// True if at least one literal subject is matched by both `a` and `b`.
pub fn subjects_collide(a: &str, b: &str) -> bool {
    let mut ai = a.split('.');
    let mut bi = b.split('.');
    loop {
        match (ai.next(), bi.next()) {
            (None, None) => return true,
            // Both still have a token here, so the `>` side can absorb the
            // rest of the other side whatever it is.
            (Some(">"), Some(_)) | (Some(_), Some(">")) => return true,
            (Some("*"), Some(_)) | (Some(_), Some("*")) => {}
            (Some(x), Some(y)) if x == y => {}
            // Differing literals, or one side ran out: a leftover `>` would
            // still need at least one more token the shorter side lacks.
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_matches_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("foo", "foo", true),
            ("foo", "bar", false),
            ("foo.bar", "foo.bar", true),
            ("foo.bar", "foo", false),
            ("foo", "foo.bar", false),
            ("*", "foo", true),
            ("*", "foo.bar", false),
            ("foo.*", "foo.bar", true),
            ("foo.*", "foo", false),
            ("foo.*", "foo.bar.baz", false),
            ("*.bar", "foo.bar", true),
            ("*.*", "foo.bar", true),
            (">", "foo", true),
            (">", "foo.bar.baz", true),
            ("foo.>", "foo", false),
            ("foo.>", "foo.bar", true),
            ("foo.>", "foo.bar.baz", true),
            ("foo.>", "bar.baz", false),
            ("foo.*.>", "foo.bar", false),
            ("foo.*.>", "foo.bar.baz", true),
            ("foo*", "foo*", true),
            ("foo*", "foox", false),
            // Wildcards in the subject are literal tokens.
            ("foo.*", "foo.*", true),
            ("foo.>", "foo.*", true),
            (">", "foo.*", true),
            ("foo.bar", "foo.*", false),
            ("foo.bar", "foo.>", false),
            ("foo.*", "foo.>", true),
        ];
        for &(filter, subject, want) in cases {
            assert_eq!(
                subject_matches(filter, subject),
                want,
                "subject_matches({filter:?}, {subject:?})"
            );
        }
    }

    #[test]
    fn subset_of_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("foo", "foo", true),
            ("foo", "bar", false),
            ("foo.bar", "foo.*", true),
            ("foo.bar", "foo.>", true),
            ("foo.bar", ">", true),
            ("foo.*", "foo.*", true),
            ("foo.*", "foo.>", true),
            ("foo.*", ">", true),
            ("foo.*", "*.*", true),
            ("foo.*", "foo.bar", false),
            ("foo.>", "foo.>", true),
            ("foo.>", ">", true),
            ("foo.>", "foo.*", false),
            ("foo.>", "foo.*.>", false),
            ("foo.*.>", "foo.>", true),
            (">", "foo.>", false),
            (">", ">", true),
            ("*", ">", true),
            ("*", "*", true),
            ("*", "foo", false),
            ("foo", "foo.>", false),
            ("foo.bar", "foo", false),
        ];
        for &(subject, filter, want) in cases {
            assert_eq!(
                subset_of(subject, filter),
                want,
                "subset_of({subject:?}, {filter:?})"
            );
        }
    }

    #[test]
    fn subjects_collide_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("foo", "foo", true),
            ("foo", "bar", false),
            ("foo.*", "foo.bar", true),
            ("foo.*", "*.bar", true),
            ("foo.*", "bar.*", false),
            ("foo.*", "foo.*.*", false),
            ("foo.>", "foo", false),
            ("foo.>", "foo.bar.baz", true),
            ("foo.>", "*.*.baz", true),
            ("foo.>", "bar.>", false),
            (">", "foo", true),
            (">", ">", true),
            ("*", ">", true),
            ("*.bar", "foo.*", true),
            ("foo.*.baz", "foo.bar.*", true),
            ("foo.*.baz", "foo.bar.qux", false),
            ("foo.bar", "foo.bar.>", false),
        ];
        for &(a, b, want) in cases {
            assert_eq!(
                subjects_collide(a, b),
                want,
                "subjects_collide({a:?}, {b:?})"
            );
            assert_eq!(
                subjects_collide(b, a),
                want,
                "subjects_collide({b:?}, {a:?})"
            );
        }
    }
}
