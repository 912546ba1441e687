//! The NATS client wire protocol, as nats-server speaks it. Pure: no I/O, no runtime.
//!
//! Map of the crate:
//! - [`parser`]: an incremental parser of client operations. It consumes bytes from a
//!   `BytesMut` read buffer, copes with any split of the input across reads, and
//!   reports protocol errors as [`ProtoError`], which carries nats-server's exact `-ERR`
//!   text and whether the connection must close.
//! - [`op`]: the parsed client operations ([`ClientOp`]); payloads are zero-copy `Bytes`.
//! - [`encode`]: writers of server operations (`MSG`, `HMSG`, `INFO`, `PING`, ...) into a
//!   caller's buffer, without allocating per message.
//! - [`connect`] / [`info`]: the JSON bodies of `CONNECT` and `INFO`.
//! - [`headers`]: the `NATS/1.0` header block: status lines and header lookup.
//! - [`limits`]: protocol limits and their nats-server defaults.

pub mod connect;
pub mod encode;
pub mod error;
pub mod headers;
pub mod info;
pub mod limits;
pub mod op;
pub mod parser;

pub use connect::ConnectOptions;
pub use error::ProtoError;
pub use info::ServerInfo;
pub use limits::Limits;
pub use op::ClientOp;
pub use parser::Parser;
