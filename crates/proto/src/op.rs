//! Operations a client sends.

use bytes::Bytes;

/// One parsed client operation. Byte fields are zero-copy slices of the read buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOp {
    /// `CONNECT <json>`: the raw JSON, decoded by [`crate::ConnectOptions::from_json`].
    Connect(Bytes),
    /// `PUB` or `HPUB`. `header_len` is `Some` for HPUB; `body` holds headers then payload.
    Pub {
        subject: Bytes,
        reply: Option<Bytes>,
        header_len: Option<usize>,
        body: Bytes,
    },
    /// `SUB <subject> [queue] <sid>`.
    Sub {
        subject: Bytes,
        queue: Option<Bytes>,
        sid: Bytes,
    },
    /// `UNSUB <sid> [max]`. `max` is `Some(n)` with n > 0 for an auto-unsubscribe after n
    /// deliveries; a missing, zero, negative or non-numeric max removes at once (as
    /// nats-server treats them).
    Unsub {
        sid: Bytes,
        max: Option<u64>,
    },
    Ping,
    Pong,
    /// `+OK` from a client: ignored.
    Ok,
    /// `-ERR` from a client: the server logs it and closes.
    Err(Bytes),
    /// `INFO <json>` from a client: ignored.
    Info(Bytes),
}
