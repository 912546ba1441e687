//! Scanning one segment's bytes into records and damaged ranges.
//!
//! A record that does not verify is never trusted, and neither is its length: the scan
//! resynchronises by searching forward for the next offset where a whole record
//! verifies (magic, plausible length, checksum, consistent body). Everything valid after
//! damage is kept. What cannot be resynchronised to the end of the file is the "tail",
//! which the caller cuts off (last segment: a torn write) or reports (sealed segment),
//! unless it is all zeros: the preallocated end of the file.

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

/// Scans `bytes` from `start` with `salt`, handing valid records and interior damage
/// to `visit` in file order (nothing is collected: a segment holds ~100k records).
/// Returns where unverifiable bytes up to the end of the file start (`None`: no tail).
pub(crate) fn scan<'a>(
    bytes: &'a [u8],
    start: usize,
    salt: u32,
    mut visit: impl FnMut(Item<'a>),
) -> Option<u64> {
    let mut at = start;
    let mut damage_from: Option<usize> = None;
    while at < bytes.len() {
        let rest = bytes.get(at..).unwrap_or_default();
        match decode(rest, salt) {
            Ok((rec, len)) => {
                if let Some(d) = damage_from.take() {
                    visit(Item::Damage {
                        offset: d as u64,
                        len: (at - d) as u64,
                    });
                }
                visit(Item::Record {
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
                    None => return Some(d as u64),
                }
            }
        }
    }
    // Set only if the loop ended inside damage, which a resync point (it always
    // decodes) rules out; kept for totality.
    damage_from.map(|d| d as u64)
}
