//! Consumers: configuration, the wire-neutral delivery and ack state machine, and the
//! JetStream adapter (push delivery, pull requests, `$JS.ACK` subjects).

pub mod config;
pub mod validate;
