//! Subject transforms (`src` → `dest`), the part of nats-server's subject mapping that
//! stream republish uses: destination tokens are literals, references to the
//! source's `*` wildcards (`$N` or `{{wildcard(N)}}`, 1-based), and a trailing `>`
//! that carries the source's `>` tail. Other mapping functions (partition, split,
//! random...) are not supported and make the transform invalid.

use crate::matching::subject_matches;
use crate::validate::is_valid_subject;

#[derive(Debug, Clone, PartialEq, Eq)]
enum DestToken {
    Literal(String),
    /// Index into the subject's tokens.
    Wildcard(usize),
    /// The subject's tokens from this index on.
    Tail(usize),
}

/// A compiled `src` → `dest` mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectTransform {
    src: String,
    dest: Vec<DestToken>,
}

/// Why a transform was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransformError {
    BadSubject,
    IndexOutOfRange(String),
    Unsupported(String),
}

impl std::fmt::Display for TransformError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransformError::BadSubject => f.write_str("invalid subject"),
            TransformError::IndexOutOfRange(t) => write!(f, "wildcard index out of range in {t}"),
            TransformError::Unsupported(t) => write!(f, "mapping function not supported: {t}"),
        }
    }
}

impl std::error::Error for TransformError {}

/// `$N` or `{{wildcard(N)}}` (spaces and case as nats-server accepts) → N.
fn wildcard_ref(token: &str) -> Result<Option<usize>, TransformError> {
    if let Some(n) = token.strip_prefix('$') {
        if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            return n
                .parse()
                .map(Some)
                .map_err(|_| TransformError::IndexOutOfRange(token.into()));
        }
        return Ok(None);
    }
    let Some(inner) = token
        .strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
        .map(str::trim)
    else {
        return Ok(None);
    };
    let lower = inner.to_ascii_lowercase();
    let Some(args) = lower
        .strip_prefix("wildcard")
        .map(str::trim_start)
        .and_then(|a| a.strip_prefix('('))
        .and_then(|a| a.strip_suffix(')'))
    else {
        return Err(TransformError::Unsupported(token.into()));
    };
    args.trim()
        .parse()
        .map(Some)
        .map_err(|_| TransformError::IndexOutOfRange(token.into()))
}

impl SubjectTransform {
    /// Compiles a mapping; an empty `src` means `>`.
    pub fn new(src: &str, dest: &str) -> Result<Self, TransformError> {
        let src = if src.is_empty() { ">" } else { src };
        // Destination tokens may hold mapping functions (with spaces): only the token
        // structure is checked there.
        let dest_ok = !dest.is_empty() && {
            let toks: Vec<&str> = dest.split('.').collect();
            toks.iter()
                .enumerate()
                .all(|(i, t)| !t.is_empty() && (*t != ">" || i == toks.len() - 1))
        };
        if !is_valid_subject(src) || !dest_ok {
            return Err(TransformError::BadSubject);
        }
        let stoks: Vec<&str> = src.split('.').collect();
        let dtoks: Vec<&str> = dest.split('.').collect();
        let src_tail = stoks.last() == Some(&">");
        let dest_tail = dtoks.last() == Some(&">");
        if dtoks.contains(&"*") || src_tail != dest_tail {
            return Err(TransformError::BadSubject);
        }
        // Position in the subject of each `*` of the source, in order.
        let stars: Vec<usize> = stoks
            .iter()
            .enumerate()
            .filter(|(_, t)| **t == "*")
            .map(|(i, _)| i)
            .collect();
        let mut out = Vec::with_capacity(dtoks.len());
        for token in &dtoks {
            if *token == ">" {
                out.push(DestToken::Tail(stoks.len() - 1));
                continue;
            }
            match wildcard_ref(token)? {
                None => out.push(DestToken::Literal(token.to_string())),
                Some(n) => {
                    let at = n
                        .checked_sub(1)
                        .and_then(|i| stars.get(i))
                        .ok_or_else(|| TransformError::IndexOutOfRange(token.to_string()))?;
                    out.push(DestToken::Wildcard(*at));
                }
            }
        }
        Ok(SubjectTransform {
            src: src.to_string(),
            dest: out,
        })
    }

    pub fn source(&self) -> &str {
        &self.src
    }

    /// The mapped subject, or `None` when `subject` does not match the source.
    pub fn apply(&self, subject: &str) -> Option<String> {
        if !subject_matches(&self.src, subject) {
            return None;
        }
        let toks: Vec<&str> = subject.split('.').collect();
        let mut out = String::with_capacity(subject.len() + 16);
        for (i, d) in self.dest.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            match d {
                DestToken::Literal(l) => out.push_str(l),
                DestToken::Wildcard(at) => out.push_str(toks.get(*at)?),
                DestToken::Tail(from) => out.push_str(&toks.get(*from..)?.join(".")),
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_wildcards_and_tails() {
        let t = SubjectTransform::new("$KV.b.>", "repub.>").unwrap();
        assert_eq!(t.apply("$KV.b.k1").as_deref(), Some("repub.k1"));
        assert_eq!(t.apply("$KV.b.a.b").as_deref(), Some("repub.a.b"));
        assert_eq!(t.apply("$KV.c.k1"), None);
        let t = SubjectTransform::new("orders.*.*", "x.$2.{{ wildcard(1) }}").unwrap();
        assert_eq!(t.apply("orders.eu.42").as_deref(), Some("x.42.eu"));
        let t = SubjectTransform::new("", "all.>").unwrap();
        assert_eq!(t.apply("a.b").as_deref(), Some("all.a.b"));
        let t = SubjectTransform::new("a.b", "c").unwrap();
        assert_eq!(t.apply("a.b").as_deref(), Some("c"));
    }

    #[test]
    fn refuses_what_nats_server_refuses() {
        for (src, dest) in [
            ("a.>", "b"),
            ("a.*", "b.*"),
            ("a", "b.>"),
            ("a.*", "b.$2"),
            ("a..b", "c"),
        ] {
            assert!(SubjectTransform::new(src, dest).is_err(), "{src} -> {dest}");
        }
        assert!(matches!(
            SubjectTransform::new("a.*", "b.{{partition(3,1)}}"),
            Err(TransformError::Unsupported(_))
        ));
    }
}
