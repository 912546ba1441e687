//! The `NATS/1.0` header block (ADR-4).

/// The version line every header block starts with.
pub const VERSION_LINE: &[u8] = b"NATS/1.0";

/// Builds a header block with a status line, e.g. `NATS/1.0 503\r\n` plus `headers`.
pub fn status_block(code: u16, description: Option<&str>, headers: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    out.extend_from_slice(VERSION_LINE);
    out.push(b' ');
    crate::encode::write_decimal(&mut out, code as usize);
    if let Some(d) = description {
        out.push(b' ');
        out.extend_from_slice(d.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    for (k, v) in headers {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The status code of a header block's version line, if it has one.
pub fn status(block: &[u8]) -> Option<u16> {
    let rest = block.strip_prefix(VERSION_LINE)?.strip_prefix(b" ")?;
    let code = rest.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// The first value of header `key` (exact, case-sensitive, as nats-server looks up its
/// own headers), with leading spaces trimmed.
pub fn get<'a>(block: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let mut lines = block.split(|&b| b == b'\n');
    lines.next()?; // the version line
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(rest) = line.strip_prefix(key.as_bytes()) {
            if let Some(value) = rest.strip_prefix(b":") {
                let start = value
                    .iter()
                    .position(|&b| b != b' ' && b != b'\t')
                    .unwrap_or(value.len());
                return Some(&value[start..]);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_responders_block_matches_nats_server() {
        let b = status_block(503, None, &[("Nats-Subject", b"foo")]);
        assert_eq!(b, b"NATS/1.0 503\r\nNats-Subject: foo\r\n\r\n");
        assert_eq!(b.len(), 32 + 3);
        assert_eq!(status(&b), Some(503));
    }

    #[test]
    fn lookup_is_exact() {
        let b = b"NATS/1.0\r\nNats-Msg-Id:  abc\r\nX: 1\r\nX: 2\r\n\r\n";
        assert_eq!(get(b, "Nats-Msg-Id"), Some(&b"abc"[..]));
        assert_eq!(get(b, "nats-msg-id"), None);
        assert_eq!(get(b, "X"), Some(&b"1"[..]));
        assert_eq!(get(b, "Nats"), None);
        assert_eq!(status(b), None);
    }
}
