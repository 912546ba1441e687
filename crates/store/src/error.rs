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
    /// An earlier fsync failed; the store accepts no writes until reopened.
    #[error("store is failed after an fsync error and must be reopened")]
    Failed,
    #[error("message too large for the store")]
    TooLarge,
    #[error("corrupt store metadata in {path}: {reason}")]
    Corrupt { path: String, reason: String },
}
