//! Pull requests (`$JS.API.CONSUMER.MSG.NEXT`): parsing, the waiting queue, and the
//! status messages nats-server answers them with.

use std::collections::VecDeque;

use serde::Deserialize;

/// A parsed MSG.NEXT body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextRequest {
    pub batch: i64,
    pub max_bytes: i64,
    pub no_wait: bool,
    /// Relative, ns; 0 = none.
    pub expires: i64,
    pub idle_heartbeat: i64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NextJson {
    expires: i64,
    batch: i64,
    max_bytes: i64,
    no_wait: bool,
    idle_heartbeat: i64,
}

/// Parses a request body as nats-server's `nextReqFromMsg`: empty = batch 1, JSON
/// object, or a bare batch number. `Err` carries the text after `Bad Request - `.
pub fn parse_next(body: &[u8]) -> Result<NextRequest, String> {
    let req = body.trim_ascii();
    let plain = |batch| NextRequest {
        batch,
        max_bytes: 0,
        no_wait: false,
        expires: 0,
        idle_heartbeat: 0,
    };
    if req.is_empty() {
        return Ok(plain(1));
    }
    if req[0] == b'{' {
        let j: NextJson = serde_json::from_slice(req).map_err(|e| go_json_error(&e))?;
        if j.idle_heartbeat > 0 && j.idle_heartbeat.saturating_mul(2) > j.expires {
            return Err("heartbeat value too large".into());
        }
        return Ok(NextRequest {
            batch: j.batch,
            max_bytes: j.max_bytes,
            no_wait: j.no_wait,
            expires: j.expires,
            idle_heartbeat: j.idle_heartbeat,
        });
    }
    Ok(plain(
        std::str::from_utf8(req)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1),
    ))
}

fn go_json_error(e: &serde_json::Error) -> String {
    // Close enough to Go's texts for the common cases; clients only show them.
    if e.is_eof() {
        "unexpected end of JSON input".into()
    } else {
        e.to_string()
    }
}

/// A pull request waiting for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub reply: String,
    /// Messages still wanted.
    pub left: i64,
    /// Bytes still allowed (0 = no byte limit).
    pub bytes_left: i64,
    pub delivered: i64,
    pub no_wait: bool,
    /// Absolute unix ns; `None` = never.
    pub expires_at: Option<i64>,
    pub heartbeat: i64,
    pub next_heartbeat: Option<i64>,
}

impl Waiting {
    pub fn new(reply: &str, req: &NextRequest, now: i64) -> Self {
        Waiting {
            reply: reply.to_string(),
            left: req.batch.max(1),
            bytes_left: req.max_bytes.max(0),
            delivered: 0,
            no_wait: req.no_wait,
            expires_at: (req.expires > 0).then(|| now.saturating_add(req.expires)),
            heartbeat: req.idle_heartbeat,
            next_heartbeat: (req.idle_heartbeat > 0)
                .then(|| now.saturating_add(req.idle_heartbeat)),
        }
    }

    /// `Nats-Pending-Messages` / `Nats-Pending-Bytes` headers of a closing status.
    fn pending_headers(&self, status: &str) -> Vec<u8> {
        format!(
            "NATS/1.0 {status}\r\nNats-Pending-Messages: {}\r\nNats-Pending-Bytes: {}\r\n\r\n",
            self.left, self.bytes_left
        )
        .into_bytes()
    }

    pub fn timeout_status(&self) -> Vec<u8> {
        self.pending_headers("408 Request Timeout")
    }

    pub fn too_big_status(&self) -> Vec<u8> {
        self.pending_headers("409 Message Size Exceeds MaxBytes")
    }

    pub fn batch_completed_status(&self) -> Vec<u8> {
        self.pending_headers("409 Batch Completed")
    }
}

/// A status-only message (`NATS/1.0 <code> <text>`).
pub fn status(code: u16, text: &str) -> Vec<u8> {
    format!("NATS/1.0 {code} {text}\r\n\r\n").into_bytes()
}

/// Requests in arrival order.
#[derive(Debug, Default)]
pub struct WaitingQueue {
    pub queue: VecDeque<Waiting>,
}

impl WaitingQueue {
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The earliest expiry or heartbeat among the requests.
    pub fn next_deadline(&self) -> Option<i64> {
        self.queue
            .iter()
            .flat_map(|w| [w.expires_at, w.next_heartbeat])
            .flatten()
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies() {
        assert_eq!(parse_next(b"").unwrap().batch, 1);
        assert_eq!(parse_next(b" 7 ").unwrap().batch, 7);
        assert_eq!(parse_next(b"junk").unwrap().batch, 1);
        let r = parse_next(br#"{"batch":10,"expires":5000000000,"no_wait":true}"#).unwrap();
        assert_eq!((r.batch, r.expires, r.no_wait), (10, 5_000_000_000, true));
        assert_eq!(
            parse_next(br#"{"batch":1,"expires":1000,"idle_heartbeat":600}"#).unwrap_err(),
            "heartbeat value too large"
        );
        assert!(parse_next(b"{").is_err());
    }

    #[test]
    fn statuses() {
        let w = Waiting::new(
            "r",
            &parse_next(br#"{"batch":3,"max_bytes":100}"#).unwrap(),
            0,
        );
        assert_eq!(
            w.timeout_status(),
            b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 3\r\nNats-Pending-Bytes: 100\r\n\r\n"
        );
        assert_eq!(
            status(404, "No Messages"),
            b"NATS/1.0 404 No Messages\r\n\r\n"
        );
    }
}
