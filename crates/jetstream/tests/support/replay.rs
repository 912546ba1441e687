//! Replays a probe script (the format of the raw-socket client used to record
//! nats-server's answers) against the engine, printing replies the same way, so a
//! transcript recorded from nats-server can be compared line for line.
//!
//! Script lines: `req SUBJECT BODY`, `hreq SUBJECT {"K":"V",...} BODY`, `pub SUBJECT
//! BODY` (no reply), `sleep SECONDS`. Each request advances the clock by 1 ms. The
//! server's routing is emulated from `capture_subjects`: a request nobody captures gets
//! the no-responders status.

use sluice_subject::subject_matches;

use super::{header_block, Harness, T0};

fn pyrepr(b: &[u8]) -> String {
    let mut s = String::from("b'");
    for &c in b {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            b'\'' => s.push_str("\\'"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('\'');
    s
}

/// `{"K":"V", "K2":"V2"} rest` → headers and rest.
fn parse_headers(s: &str) -> (Vec<(String, String)>, &str) {
    let end = s.find('}').map_or(s.len(), |i| i + 1);
    let inner = s[..end].trim_start_matches('{').trim_end_matches('}');
    let mut out = Vec::new();
    for part in inner.split("\",") {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        if let Some((k, v)) = part.split_once(':') {
            out.push((
                k.trim().trim_matches('"').to_string(),
                v.trim().trim_matches('"').to_string(),
            ));
        }
    }
    (out, s[end..].strip_prefix(' ').unwrap_or(&s[end..]))
}

pub fn replay(h: &mut Harness, script: &str) -> String {
    let mut out = String::new();
    let mut now = T0;
    for line in script.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push_str(&format!(">> {line}\n"));
        let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
        now += 1_000_000;
        if cmd == "sleep" {
            now += (rest.trim().parse::<f64>().unwrap_or(0.0) * 1e9) as i64;
            h.engine.tick(now);
            h.engine.commit();
            continue;
        }
        if !matches!(cmd, "req" | "hreq" | "pub") {
            continue;
        }
        let (subject, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        let (headers, body) = if cmd == "hreq" {
            parse_headers(rest)
        } else {
            (Vec::new(), rest)
        };
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let block = header_block(&pairs);
        let reply = (cmd != "pub").then_some("_INBOX.r");
        if h.engine.next_deadline().is_some_and(|d| d <= now) {
            h.engine.tick(now);
        }
        let captured = h
            .engine
            .capture_subjects()
            .iter()
            .any(|c| subject_matches(c, subject));
        if !captured {
            if reply.is_some() {
                let status = format!("NATS/1.0 503\r\nNats-Subject: {subject}\r\n\r\n");
                out.push_str(&format!("HDR: {}\n\n", pyrepr(status.as_bytes())));
            }
            continue;
        }
        if subject.starts_with("$JS.API.") {
            h.engine
                .handle_api(subject, reply, block.as_deref(), body.as_bytes(), now);
        } else {
            h.engine
                .publish(subject, reply, block.as_deref(), body.as_bytes(), now);
        }
        let replies = h.engine.commit();
        if reply.is_none() {
            continue;
        }
        match replies.first() {
            None => out.push_str("<no reply>\n"),
            Some(o) => {
                if let Some(hd) = &o.headers {
                    out.push_str(&format!("HDR: {}\n", pyrepr(hd)));
                }
                out.push_str(&String::from_utf8_lossy(&o.payload));
                out.push('\n');
            }
        }
    }
    out
}

/// Replaces RFC 3339 timestamps (except Go's zero time) with `<ts>`.
pub fn mask(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|k| b.get(k).is_some_and(u8::is_ascii_digit));
    while i < b.len() {
        let shape = digits(i..i + 4)
            && b.get(i + 4) == Some(&b'-')
            && digits(i + 5..i + 7)
            && b.get(i + 7) == Some(&b'-')
            && digits(i + 8..i + 10)
            && b.get(i + 10) == Some(&b'T')
            && digits(i + 11..i + 13)
            && b.get(i + 13) == Some(&b':')
            && digits(i + 14..i + 16)
            && b.get(i + 16) == Some(&b':')
            && digits(i + 17..i + 19);
        if shape {
            let mut j = i + 19;
            if b.get(j) == Some(&b'.') {
                j += 1;
                while b.get(j).is_some_and(u8::is_ascii_digit) {
                    j += 1;
                }
            }
            if b.get(j) == Some(&b'Z') {
                let ts = &text[i..=j];
                out.push_str(if ts == "0001-01-01T00:00:00Z" {
                    ts
                } else {
                    "<ts>"
                });
                i = j + 1;
                continue;
            }
        }
        let ch = text[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}
