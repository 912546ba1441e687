//! Protocol limits, with nats-server's defaults.

/// Default maximum size of a message (headers plus payload).
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;
/// Default maximum length of the arguments of one control line.
pub const DEFAULT_MAX_CONTROL_LINE: usize = 4096;

/// The limits the parser enforces on one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest `#bytes` (for HPUB: total bytes) a PUB may announce.
    pub max_payload: usize,
    /// Largest argument section of a control line (the bytes after the operation name,
    /// not counting the line end).
    pub max_control_line: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_payload: DEFAULT_MAX_PAYLOAD,
            max_control_line: DEFAULT_MAX_CONTROL_LINE,
        }
    }
}
