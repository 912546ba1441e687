//! JetStream streams and the `$JS.API`, as a deterministic state machine: time comes
//! in as unix nanoseconds, nothing here reads a clock, draws random numbers, spawns
//! threads or touches the network. Storage goes through `sluice_store::MessageStore`
//! (made by a [`StoreFactory`]) and stream metadata through a [`MetaStore`].
//!
//! The wire behaviour is nats-server 2.15's: JSON field names, order, defaults and
//! omitted zero values, `type` fields, error objects and texts.
//!
//! Map:
//!
//! - [`engine`]: [`Engine`] — streams of the account, API entry point, publish path,
//!   group commit (`commit`), timers (`tick`).
//! - [`api`]: subjects → calls (`route`), request/response JSON (`types`), the error
//!   table (`errors`), Go JSON behaviour (`gojson`), handlers, direct get.
//! - [`stream`]: one stream — configuration and validation (`config`), the append
//!   policy (`publish`), limits and expiry (`limits`), the duplicate window (`dedupe`).
//! - [`meta`]: persisted stream metadata (checksummed, atomically replaced), with a
//!   file and an in-memory [`MetaStore`].
//! - [`time`]: RFC 3339 timestamps as Go writes them.

pub mod api;
pub mod consumer;
pub mod engine;
pub mod meta;
pub mod stream;
pub mod time;

pub use api::{API_LEVEL, NATS_VERSION};
pub use engine::{Engine, EngineConfig, EngineError, InterestOracle, Outbound, StoreFactory};
pub use meta::{FileMetaStore, MemMetaStore, MetaError, MetaStore};
pub use stream::config::StorageType;
