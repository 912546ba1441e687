//! The parse error type.

use std::fmt;
use std::path::PathBuf;

use crate::value::Pos;

/// A configuration syntax error (or an unreadable file, a failed include,
/// an unresolvable variable). Always names the file and line.
///
/// `line` and `col` are 1-based; both are 0 when the error concerns the
/// whole file (e.g. it cannot be read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfError {
    pub file: PathBuf,
    pub line: u32,
    pub col: u32,
    pub message: String,
    /// Errors that must not be hidden by the lenient handling of environment
    /// variable values (reference cycles, limits exceeded).
    pub(crate) fatal: bool,
}

impl ConfError {
    pub(crate) fn at(pos: &Pos, message: impl Into<String>) -> Self {
        ConfError {
            file: pos.file.to_path_buf(),
            line: pos.line,
            col: pos.col,
            message: message.into(),
            fatal: false,
        }
    }

    pub(crate) fn fatal(mut self) -> Self {
        self.fatal = true;
        self
    }

    pub(crate) fn whole_file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        ConfError {
            file: file.into(),
            line: 0,
            col: 0,
            message: message.into(),
            fatal: false,
        }
    }
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.col,
                self.message
            )
        }
    }
}
