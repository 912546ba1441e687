//! Syntax checks for subjects and queue names.
//!
//! Rules follow the NATS protocol: tokens are separated by `.`, no token may
//! be empty or contain whitespace, and `>` may only be the last token. `*` and
//! `>` are wildcards only when they make up a whole token (`foo*` is literal).

/// Whitespace that the protocol forbids inside a token. Kept to exactly the
/// set nats-server rejects so we accept and refuse the same subjects.
pub(crate) fn is_forbidden_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'\x0c')
}

/// True if `s` is a valid subscription subject (wildcards allowed).
pub fn is_valid_subject(s: &str) -> bool {
    if s.is_empty() {
        return false;
    }
    let mut seen_fwc = false;
    for tok in s.split('.') {
        // A `>` that was followed by another token is invalid.
        if tok.is_empty() || seen_fwc {
            return false;
        }
        if tok.bytes().any(is_forbidden_space) {
            return false;
        }
        seen_fwc = tok == ">";
    }
    true
}

/// True if `s` is valid and contains no wildcard token.
pub fn is_valid_literal_subject(s: &str) -> bool {
    is_valid_subject(s) && is_literal(s)
}

/// True if `s` can be used as a queue group name.
pub fn is_valid_queue_name(s: &str) -> bool {
    !s.is_empty() && !s.bytes().any(is_forbidden_space)
}

/// True if no token of `s` is `*` or `>`. Does not validate `s`.
pub fn is_literal(s: &str) -> bool {
    !s.split('.').any(|tok| tok == "*" || tok == ">")
}

/// True if `s` can be looked up as a published subject: non-empty, no empty
/// tokens, no whitespace. Wildcard characters are allowed because without
/// pedantic mode a publish to `foo.*` is accepted and matched literally.
pub(crate) fn is_publishable(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|tok| !tok.is_empty() && !tok.bytes().any(is_forbidden_space))
}

#[cfg(test)]
mod tests {
    use super::*;

    // (subject, valid subject?, valid literal?)
    const SUBJECTS: &[(&str, bool, bool)] = &[
        ("foo", true, true),
        ("foo.bar", true, true),
        ("foo.bar.baz", true, true),
        ("*", true, false),
        (">", true, false),
        ("foo.*", true, false),
        ("foo.>", true, false),
        ("*.bar", true, false),
        ("*.*.*", true, false),
        ("foo.*.>", true, false),
        ("foo*", true, true),
        ("foo>", true, true),
        ("a>b", true, true),
        ("*foo.bar", true, true),
        ("foo.**", true, true),
        ("foo.>>", true, true),
        ("$SYS.REQ", true, true),
        ("_INBOX.abc123", true, true),
        ("ünïcode.tökens", true, true),
        ("", false, false),
        (".", false, false),
        ("..", false, false),
        (".foo", false, false),
        ("foo.", false, false),
        ("foo..bar", false, false),
        ("foo.>.bar", false, false),
        (">.foo", false, false),
        ("foo.>.>", false, false),
        ("foo bar", false, false),
        ("foo\tbar", false, false),
        ("foo\rbar", false, false),
        ("foo\nbar", false, false),
        ("foo\x0cbar", false, false),
        (" ", false, false),
        ("foo. ", false, false),
        ("foo.\t.bar", false, false),
    ];

    #[test]
    fn subject_table() {
        for &(s, valid, literal) in SUBJECTS {
            assert_eq!(is_valid_subject(s), valid, "is_valid_subject({s:?})");
            assert_eq!(
                is_valid_literal_subject(s),
                literal,
                "is_valid_literal_subject({s:?})"
            );
        }
    }

    #[test]
    fn literal_table() {
        let cases: &[(&str, bool)] = &[
            ("foo", true),
            ("foo.bar", true),
            ("foo*", true),
            ("a>b.c", true),
            ("*", false),
            (">", false),
            ("foo.*", false),
            ("*.foo", false),
            ("foo.>", false),
            ("foo.*.bar", false),
            // No validation: only wildcard tokens matter.
            ("", true),
            ("foo..bar", true),
            ("foo..*", false),
        ];
        for &(s, want) in cases {
            assert_eq!(is_literal(s), want, "is_literal({s:?})");
        }
    }

    #[test]
    fn queue_name_table() {
        let cases: &[(&str, bool)] = &[
            ("workers", true),
            ("q.1", true),
            ("*", true),
            ("", false),
            ("a b", false),
            ("a\tb", false),
            ("a\r", false),
            ("\n", false),
            ("a\x0cb", false),
        ];
        for &(s, want) in cases {
            assert_eq!(is_valid_queue_name(s), want, "is_valid_queue_name({s:?})");
        }
    }

    #[test]
    fn publishable_table() {
        let cases: &[(&str, bool)] = &[
            ("foo", true),
            ("foo.bar", true),
            ("foo.*", true),
            ("foo.>.bar", true),
            (">", true),
            ("", false),
            ("foo.", false),
            (".foo", false),
            ("foo..bar", false),
            ("foo bar", false),
        ];
        for &(s, want) in cases {
            assert_eq!(is_publishable(s), want, "is_publishable({s:?})");
        }
    }
}
