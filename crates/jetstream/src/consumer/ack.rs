//! The `$JS.ACK` reply subject of a delivered message and the ack bodies clients send
//! to it.
//!
//! Subject: `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>`
//! (the form nats-server 2.x writes without domains; clients parse these tokens for
//! message metadata). The newer form with a domain and account hash
//! (`$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>[.<token>]`)
//! is accepted too.

use serde::Deserialize;

pub const ACK_PREFIX: &str = "$JS.ACK.";

/// Builds the reply subject of a delivery.
pub fn reply_subject(
    stream: &str,
    consumer: &str,
    deliveries: u64,
    stream_seq: u64,
    consumer_seq: u64,
    timestamp: i64,
    pending: u64,
) -> String {
    // Built once per delivered message: pushing digits directly avoids the
    // formatting machinery, which showed up in delivery profiles.
    let mut s = String::with_capacity(ACK_PREFIX.len() + stream.len() + consumer.len() + 64);
    s.push_str(ACK_PREFIX);
    s.push_str(stream);
    s.push('.');
    s.push_str(consumer);
    for n in [deliveries, stream_seq, consumer_seq] {
        s.push('.');
        push_u64(&mut s, n);
    }
    s.push('.');
    if timestamp < 0 {
        s.push('-');
    }
    push_u64(&mut s, timestamp.unsigned_abs());
    s.push('.');
    push_u64(&mut s, pending);
    s
}

/// Appends the decimal digits of `n`.
fn push_u64(s: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    s.push_str(std::str::from_utf8(&buf[i..]).unwrap_or_default());
}

/// The parts of an ack subject the server needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckTarget<'a> {
    pub stream: &'a str,
    pub consumer: &'a str,
    pub deliveries: u64,
    pub stream_seq: u64,
    pub consumer_seq: u64,
}

pub fn parse_subject(subject: &str) -> Option<AckTarget<'_>> {
    let rest = subject.strip_prefix(ACK_PREFIX)?;
    let t: Vec<&str> = rest.split('.').collect();
    let (stream, consumer, nums) = match t.len() {
        7 => (t[0], t[1], &t[2..5]),
        9 | 10 => (t[2], t[3], &t[4..7]),
        _ => return None,
    };
    let n = |s: &str| s.parse::<u64>().ok();
    Some(AckTarget {
        stream,
        consumer,
        deliveries: n(nums[0])?,
        stream_seq: n(nums[1])?,
        consumer_seq: n(nums[2])?,
    })
}

/// What an ack body asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckKind {
    /// `+ACK` (or an empty body).
    Ack,
    /// `-NAK`, with a redelivery delay in ns (0 = now).
    Nak { delay: i64 },
    /// `+WPI`: restart the ack timer.
    Progress,
    /// `+NXT`: ack, and the body after it is a pull request for more.
    Next { request: Vec<u8> },
    /// `+TERM`, with an optional reason.
    Term { reason: String },
    /// Anything else: ignored (the message stays pending), but a reply is still sent.
    Unknown,
}

#[derive(Deserialize)]
struct NakDelay {
    #[serde(default)]
    delay: i64,
}

/// Parses an ack body as nats-server does: empty, `+ACK` or `+OK` ack; the known
/// prefixes; anything else does nothing.
pub fn parse_body(body: &[u8]) -> AckKind {
    if body.is_empty() || body == b"+ACK" || body == b"+OK" {
        return AckKind::Ack;
    }
    let rest_of = |prefix: &[u8]| -> Option<&[u8]> { body.strip_prefix(prefix) };
    if let Some(rest) = rest_of(b"-NAK") {
        let json = trim(rest);
        let delay = if json.is_empty() {
            0
        } else {
            serde_json::from_slice::<NakDelay>(json)
                .map(|d| d.delay)
                .unwrap_or(0)
        };
        return AckKind::Nak { delay };
    }
    if body == b"+WPI" {
        return AckKind::Progress;
    }
    if let Some(rest) = rest_of(b"+NXT") {
        return AckKind::Next {
            request: trim(rest).to_vec(),
        };
    }
    if let Some(rest) = rest_of(b"+TERM") {
        let reason = String::from_utf8_lossy(trim(rest)).into_owned();
        return AckKind::Term { reason };
    }
    AckKind::Unknown
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &b[start..end.max(start)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_round_trip() {
        assert_eq!(
            reply_subject("S", "c", 0, u64::MAX, 1, -5, 10),
            format!("$JS.ACK.S.c.0.{}.1.-5.10", u64::MAX)
        );
        assert_eq!(
            reply_subject("S", "c", 1, 1, 1, i64::MIN, 0),
            format!("$JS.ACK.S.c.1.1.1.{}.0", i64::MIN)
        );
        let s = reply_subject("ORDERS", "w", 2, 10, 12, 1_700_000_000_000_000_000, 5);
        assert_eq!(s, "$JS.ACK.ORDERS.w.2.10.12.1700000000000000000.5");
        let t = parse_subject(&s).unwrap();
        assert_eq!(
            t,
            AckTarget {
                stream: "ORDERS",
                consumer: "w",
                deliveries: 2,
                stream_seq: 10,
                consumer_seq: 12
            }
        );
        let v2 = "$JS.ACK.hub.ACC.ORDERS.w.1.3.4.5.6.tok";
        assert_eq!(parse_subject(v2).unwrap().stream_seq, 3);
        assert!(parse_subject("$JS.ACK.S.c.x.1.1.1.1").is_none());
        assert!(parse_subject("$JS.ACK.S.c.1.1").is_none());
    }

    #[test]
    fn bodies() {
        assert_eq!(parse_body(b""), AckKind::Ack);
        assert_eq!(parse_body(b"+ACK"), AckKind::Ack);
        assert_eq!(parse_body(b"-NAK"), AckKind::Nak { delay: 0 });
        assert_eq!(
            parse_body(b"-NAK {\"delay\": 2000000000}"),
            AckKind::Nak {
                delay: 2_000_000_000
            }
        );
        assert_eq!(parse_body(b"+WPI"), AckKind::Progress);
        assert_eq!(parse_body(b"+OK"), AckKind::Ack);
        assert_eq!(parse_body(b"+BOGUS"), AckKind::Unknown);
        assert_eq!(
            parse_body(b"+TERM too bad"),
            AckKind::Term {
                reason: "too bad".into()
            }
        );
        assert_eq!(
            parse_body(b"+NXT {\"batch\":2}"),
            AckKind::Next {
                request: b"{\"batch\":2}".to_vec()
            }
        );
    }
}
