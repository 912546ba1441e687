//! Scanning one segment's bytes into records and damaged ranges.
//!
//! A record that does not verify is never trusted, and neither is its length: the scan
//! resynchronises by searching forward for the next offset where a whole record
//! verifies (magic, plausible length, checksum, consistent body). Everything valid after
//! damage is kept. What cannot be resynchronised to the end of the file is the "tail",
//! which the caller cuts off (last segment: a torn write) or reports (sealed segment).

use super::record::{decode, Record, HEADER_LEN, MAGIC};

#[derive(Debug)]
pub(crate) enum Item<'a> {
    Record {
        offset: u64,
        len: usize,
        rec: Record<'a>,
    },
    Damage {
        offset: u64,
        len: u64,
    },
}

#[derive(Debug)]
pub(crate) struct Scan<'a> {
    /// Valid records and interior damage, in file order.
    pub items: Vec<Item<'a>>,
    /// Where unverifiable bytes up to the end of the file start (`None`: no tail).
    pub tail: Option<u64>,
}

/// The segment header at offset 0, if it verifies: `(salt, last_seq, last_ts, len)`.
pub(crate) fn header(bytes: &[u8]) -> Option<(u32, u64, i64, usize)> {
    match decode(bytes, 0) {
        Ok((
            Record::Segment {
                salt,
                last_seq,
                last_ts,
                ..
            },
            len,
        )) => Some((salt, last_seq, last_ts, len)),
        _ => None,
    }
}

/// The next offset at or after `from` where a record verifies with `salt`.
fn resync(bytes: &[u8], from: usize, salt: u32) -> Option<usize> {
    let mut at = from;
    while at + HEADER_LEN <= bytes.len() {
        let rest = bytes.get(at..)?;
        let hit = rest.windows(MAGIC.len()).position(|w| w == MAGIC)?;
        let p = at + hit;
        if decode(bytes.get(p..)?, salt).is_ok() {
            return Some(p);
        }
        at = p + 1;
    }
    None
}

/// Scans `bytes` from `start` with `salt`.
pub(crate) fn scan(bytes: &[u8], start: usize, salt: u32) -> Scan<'_> {
    let mut items = Vec::new();
    let mut at = start;
    let mut damage_from: Option<usize> = None;
    while at < bytes.len() {
        let rest = bytes.get(at..).unwrap_or_default();
        match decode(rest, salt) {
            Ok((rec, len)) => {
                if let Some(d) = damage_from.take() {
                    items.push(Item::Damage {
                        offset: d as u64,
                        len: (at - d) as u64,
                    });
                }
                items.push(Item::Record {
                    offset: at as u64,
                    len,
                    rec,
                });
                at += len;
            }
            Err(_) => {
                let d = *damage_from.get_or_insert(at);
                match resync(bytes, at + 1, salt) {
                    Some(p) => at = p,
                    None => {
                        return Scan {
                            items,
                            tail: Some(d as u64),
                        }
                    }
                }
            }
        }
    }
    if let Some(d) = damage_from {
        // Unreachable in practice (a resync point always decodes), kept for totality.
        return Scan {
            items,
            tail: Some(d as u64),
        };
    }
    Scan { items, tail: None }
}
