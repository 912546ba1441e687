//! Fault rules for `SimFs`: which operation fails, on which paths, how, and how often.

use std::io;

/// The operations a fault can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FsOp {
    Open,
    Read,
    Write,
    SetLen,
    /// `allocate` (fallocate).
    Allocate,
    /// `sync_data` or `sync_all` of a file.
    SyncFile,
    SyncDir,
    Rename,
    Remove,
    CreateDir,
    ListDir,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// EIO: the device failed.
    Eio,
    /// ENOSPC: no space left.
    Enospc,
}

impl FaultKind {
    pub(crate) fn to_error(self) -> io::Error {
        match self {
            FaultKind::Eio => io::Error::from_raw_os_error(5),
            FaultKind::Enospc => io::Error::from_raw_os_error(28),
        }
    }
}

/// Fails matching operations: the first `skip` matches pass, then `times` fail
/// (`None`: all later ones), each with probability `probability`.
#[derive(Debug, Clone)]
pub struct FaultRule {
    pub op: FsOp,
    /// Only paths containing this string (`None`: any path).
    pub path_contains: Option<String>,
    pub kind: FaultKind,
    pub skip: u64,
    pub times: Option<u64>,
    pub probability: f64,
}

impl FaultRule {
    /// Every later `op` fails with `kind`.
    pub fn always(op: FsOp, kind: FaultKind) -> Self {
        FaultRule {
            op,
            path_contains: None,
            kind,
            skip: 0,
            times: None,
            probability: 1.0,
        }
    }

    /// The next `op` fails with `kind`, once.
    pub fn once(op: FsOp, kind: FaultKind) -> Self {
        FaultRule {
            times: Some(1),
            ..Self::always(op, kind)
        }
    }

    /// Each later `op` fails with probability `p` (drawn from the fs's seeded generator).
    pub fn random(op: FsOp, kind: FaultKind, p: f64) -> Self {
        FaultRule {
            probability: p,
            ..Self::always(op, kind)
        }
    }

    pub fn after(mut self, skip: u64) -> Self {
        self.skip = skip;
        self
    }

    pub fn on_path(mut self, fragment: &str) -> Self {
        self.path_contains = Some(fragment.to_string());
        self
    }

    pub(crate) fn applies(&self, op: FsOp, path: &str) -> bool {
        self.op == op
            && self
                .path_contains
                .as_deref()
                .is_none_or(|f| path.contains(f))
    }
}
