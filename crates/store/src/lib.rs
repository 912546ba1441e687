//! Message stores for JetStream streams.
//!
//! - `api`: the [`MessageStore`] trait and its types. JetStream policy (limits,
//!   retention, dedupe) is not here; it lives in `sluice-jetstream`.
//! - `error`: [`StoreError`].
//! - `mem`: [`MemStore`], the memory store.
//! - `file`: [`FileStore`], the durable store: append-only segments of checksummed
//!   records (format in `file/record.rs`), delete and purge records instead of
//!   rewrites, recovery that cuts only a torn tail and reports any other damage,
//!   group commit through [`MessageStore::sync`].
//! - `vfs`: the filesystem seam. [`RealFs`] for production; [`SimFs`] for tests, which
//!   models what a power cut keeps and injects EIO, ENOSPC, torn writes and bit flips,
//!   all from a seed.
//! - `filter` (private): subject filters and purge requests, shared by both stores.
//!
//! Durability contract: nothing is durable until `sync` returns `Ok`; acknowledge only
//! then. After any write or fsync error a `FileStore` returns [`StoreError::Failed`] for
//! every write; drop it and open it again (open fsyncs what it recovered).

pub mod api;
pub mod error;
pub mod file;
mod filter;
pub mod mem;
pub mod vfs;

pub use api::{DamagedRange, MessageStore, RecoveryReport, StoreState, StoredMessage};
pub use error::StoreError;
pub use file::{file_stored_size, FileStore, FileStoreOptions};
pub use mem::{mem_stored_size, MemStore};
pub use vfs::{RealFs, SimFs, Vfs};
