//! The Sluice server: everything that touches sockets, tasks and the OS.
//!
//! Map:
//! - `config`: the NATS config file and CLI options, validated into `Options`.
//! - `server`: listener, accept loop, connection registry, shutdown.
//! - `client`: one connection: read loop, writer task, liveness, auth check.
//! - `router`: core pub/sub over the subject index, queue groups, auto-unsubscribe.
//! - `auth`: user/password and token authentication.
//! - `info`: the INFO the server advertises.
//! - `jetstream`: the engine thread around `sluice_jetstream::Engine` (group commit).
//! - `stats`: counters.
//! - `cli`: the nats-server-compatible command line.
//! - `monitor`: the HTTP monitoring port (nats-server's endpoints, `/metrics`).
//! - `process`: PID file, ports file, `--signal`; `reload`: config reload (SIGHUP);
//!   `lame_duck`: lame-duck mode (SIGUSR2); `logging`: log lines, rotation, reopen.

pub mod auth;
pub mod cli;
pub mod client;
pub mod config;
pub mod info;
pub mod jetstream;
pub mod lame_duck;
pub mod logging;
pub mod monitor;
pub mod process;
pub mod reload;
pub mod router;
pub mod server;
pub mod stats;

pub use config::Options;
pub use server::{start, ServerHandle};
