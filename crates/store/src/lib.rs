//! Message stores for JetStream streams.
//!
//! - `api`: the `MessageStore` trait and its types.
//! - `error`: `StoreError`.

pub mod api;
pub mod error;

pub use api::{DamagedRange, MessageStore, RecoveryReport, StoreState, StoredMessage};
pub use error::StoreError;
