//! Protocol errors, each mapped to what nats-server does about it.

use thiserror::Error;

/// A violation of the client protocol. Every variant closes the connection; some send an
/// `-ERR` first (see [`ProtoError::client_error_text`]), the others close silently, as
/// nats-server does for malformed arguments.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtoError {
    /// Bytes that do not start a known operation, or a payload not followed by CRLF.
    #[error("unknown protocol operation")]
    UnknownOperation,
    /// The arguments of a control line are longer than `max_control_line`.
    #[error("maximum control line exceeded")]
    ControlLineTooLong,
    /// A PUB or HPUB announced more bytes than `max_payload`.
    #[error("maximum payload violation")]
    MaxPayload,
    /// Wrong argument count, a size that is not a number, header size above total size.
    #[error("protocol violation: {0}")]
    BadArguments(&'static str),
    /// HPUB from a client that did not negotiate headers in CONNECT.
    #[error("protocol violation: headers not negotiated")]
    HeadersNotNegotiated,
}

impl ProtoError {
    /// The text nats-server sends in `-ERR '<text>'` before closing, if it sends one.
    pub fn client_error_text(&self) -> Option<&'static str> {
        match self {
            ProtoError::UnknownOperation => Some(crate::encode::ERR_UNKNOWN_OP),
            ProtoError::ControlLineTooLong => Some(crate::encode::ERR_MAX_CONTROL_LINE),
            ProtoError::MaxPayload => Some(crate::encode::ERR_MAX_PAYLOAD),
            ProtoError::BadArguments(_) | ProtoError::HeadersNotNegotiated => None,
        }
    }
}
