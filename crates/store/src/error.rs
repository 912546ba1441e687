//! Store errors.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("i/o error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// An earlier fsync (or a write whose outcome is unknown) failed; the store accepts
    /// no writes until reopened.
    #[error("store is failed after an fsync error and must be reopened")]
    Failed,
    /// An index scratch file failed to read or write, so the in-memory view of the
    /// index may be missing pages: reads are refused (rather than answered wrong)
    /// until the store is reopened, which rebuilds the index from the segments.
    #[error("store index lost pages after an i/o error; the store must be reopened")]
    IndexLost,
    #[error("message too large for the store")]
    TooLarge,
    #[error("corrupt store metadata in {path}: {reason}")]
    Corrupt { path: String, reason: String },
    /// A stored record no longer matches its checksum (damage after the store was
    /// opened). The record is not served.
    #[error("checksum mismatch in {path} at offset {offset}")]
    Checksum { path: String, offset: u64 },
    /// `set_first_seq` on a store that has already assigned sequences past it.
    #[error("cannot set first sequence to {requested}: sequences up to {last_seq} are assigned")]
    SequenceInUse { requested: u64, last_seq: u64 },
}

impl StoreError {
    /// Wraps an I/O error with the path it happened on.
    pub(crate) fn io(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.to_string(),
            source,
        }
    }
}
