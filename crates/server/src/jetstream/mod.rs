//! JetStream runtime: the thin I/O shell around `sluice_jetstream::Engine`.
//!
//! One engine thread owns every stream. The router hands it messages through an internal
//! subscription (on `$JS.API.>` and on every stream's subjects); the thread drains
//! whatever queued up, feeds it to the engine, then calls `Engine::commit` once: one
//! fsync per written store covers the whole batch (group commit), and only then are the
//! PubAcks and API replies published. While one commit's fsync runs, new messages queue
//! up for the next one, so many publishers in flight cost few fsyncs.

mod runner;
mod sink;
mod stores;
mod timed_store;

pub use runner::{JetStream, JetStreamStartError};
