//! The error returned when a subscription is refused.

use std::fmt;

/// A subject (or queue name) failed validation, so nothing was inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct InvalidSubject;

impl fmt::Display for InvalidSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid subject")
    }
}

impl std::error::Error for InvalidSubject {}
