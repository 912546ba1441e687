//! Writers of server-to-client operations. They append to a caller's `Vec<u8>` (the
//! connection's outbound buffer) and allocate nothing of their own.

use crate::info::ServerInfo;

pub const PING: &[u8] = b"PING\r\n";
pub const PONG: &[u8] = b"PONG\r\n";
pub const OK: &[u8] = b"+OK\r\n";

// The `-ERR` texts, byte-identical to nats-server's (clients match on them).
pub const ERR_UNKNOWN_OP: &str = "Unknown Protocol Operation";
pub const ERR_MAX_CONTROL_LINE: &str = "maximum control line exceeded";
pub const ERR_MAX_PAYLOAD: &str = "Maximum Payload Violation";
pub const ERR_AUTH_VIOLATION: &str = "Authorization Violation";
pub const ERR_AUTH_TIMEOUT: &str = "Authentication Timeout";
pub const ERR_INVALID_PROTOCOL: &str = "invalid client protocol";
pub const ERR_NO_RESPONDERS_NEEDS_HEADERS: &str = "no responders requires headers support";
pub const ERR_MAX_CONNECTIONS: &str = "maximum connections exceeded";
pub const ERR_STALE_CONNECTION: &str = "Stale Connection";
pub const ERR_INVALID_SUBJECT: &str = "Invalid Subject";
pub const ERR_INVALID_PUBLISH_SUBJECT: &str = "Invalid Publish Subject";
pub const ERR_MAX_SUBSCRIPTIONS: &str = "maximum subscriptions exceeded";

/// `-ERR '<text>'\r\n`.
pub fn write_err(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b"-ERR '");
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"'\r\n");
}

/// `INFO <json> \r\n`, with nats-server's trailing space.
pub fn write_info(out: &mut Vec<u8>, info: &ServerInfo) {
    out.extend_from_slice(b"INFO ");
    // Serialising a plain struct of strings and numbers cannot fail.
    if serde_json::to_writer(&mut *out, info).is_err() {
        out.extend_from_slice(b"{}");
    }
    out.extend_from_slice(b" \r\n");
}

/// `MSG <subject> <sid> [reply] <#bytes>\r\n<payload>\r\n`, or the `HMSG` form when
/// `headers` is given (`headers` is the whole header block, counted in `#header bytes`).
pub fn write_msg(
    out: &mut Vec<u8>,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    headers: Option<&[u8]>,
    payload: &[u8],
) {
    let hdr_len = headers.map_or(0, <[u8]>::len);
    out.reserve(
        subject.len() + sid.len() + reply.map_or(0, <[u8]>::len) + 48 + hdr_len + payload.len(),
    );
    out.extend_from_slice(if headers.is_some() { b"HMSG " } else { b"MSG " });
    out.extend_from_slice(subject);
    out.push(b' ');
    out.extend_from_slice(sid);
    out.push(b' ');
    if let Some(reply) = reply {
        out.extend_from_slice(reply);
        out.push(b' ');
    }
    if let Some(h) = headers {
        write_decimal(out, h.len());
        out.push(b' ');
        write_decimal(out, h.len() + payload.len());
    } else {
        write_decimal(out, payload.len());
    }
    out.extend_from_slice(b"\r\n");
    if let Some(h) = headers {
        out.extend_from_slice(h);
    }
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal without going through `fmt`.
pub fn write_decimal(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msg_forms() {
        let mut out = Vec::new();
        write_msg(&mut out, b"foo", b"1", None, None, b"hi");
        write_msg(&mut out, b"foo", b"22", Some(b"r"), None, b"");
        write_msg(
            &mut out,
            b"foo",
            b"3",
            Some(b"r"),
            Some(b"NATS/1.0\r\n\r\n"),
            b"ab",
        );
        assert_eq!(
            out,
            b"MSG foo 1 2\r\nhi\r\nMSG foo 22 r 0\r\n\r\nHMSG foo 3 r 12 14\r\nNATS/1.0\r\n\r\nab\r\n"
        );
    }

    #[test]
    fn decimals() {
        for n in [0usize, 9, 10, 1048576, usize::MAX] {
            let mut out = Vec::new();
            write_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }

    #[test]
    fn err_is_quoted() {
        let mut out = Vec::new();
        write_err(&mut out, ERR_STALE_CONNECTION);
        assert_eq!(out, b"-ERR 'Stale Connection'\r\n");
    }
}
