//! The on-disk record format. Every byte recovery reads is covered by a checksum.
//!
//! ```text
//! record  = magic:u32 len:u32 crc:u32 body          (little endian)
//!   magic = "SLR1"; len = whole record length, header included;
//!   crc   = crc32c(magic ++ len ++ body), starting from the store's random salt
//!           instead of 0. The length is covered, so a flipped bit in it can never
//!           make recovery trust a wrong boundary. The salt means a record embedded in
//!           a client's payload can never pass for a real one when recovery
//!           resynchronises after damage. Only segment headers (always at offset 0)
//!           use salt 0, since they carry the salt.
//! body    = kind:u8 ...
//!   kind 1 message:  flags:u8 subj_len:u16 hdr_len:u32 payload_len:u32 seq:u64 ts:i64
//!                    subject headers payload        (flags bit 0: has a header block)
//!   kind 2 delete:   last_seq:u64 count:u32 (first:u64 last:u64){count}
//!                    inclusive sequence ranges removed
//!   kind 3 compact:  last_seq:u64 below:u64   every sequence < below is removed; if
//!                    below is past the end, the next sequence is `below`
//!   (last_seq in delete and compact records is the last sequence assigned when they
//!   were written: damage just before one still cannot make recovery reuse a sequence)
//!   kind 4 erased:   seq:u64 ts:i64 zeros...   a message overwritten in place
//!   kind 5 segment:  version:u32 salt:u32 last_seq:u64 last_ts:i64   first record of a
//!                    segment (salt 0): the store's salt and the sequence state when
//!                    the segment was created
//! ```
//! Decoding never panics and never allocates more than the input.

use crc32c::crc32c_append;

pub(crate) const MAGIC: [u8; 4] = *b"SLR1";
pub(crate) const HEADER_LEN: usize = 12;
/// Message body before the variable parts.
const MSG_FIXED: usize = 1 + 1 + 2 + 4 + 4 + 8 + 8;
/// The smallest possible message record; bounds how many sequences lost bytes can hold.
pub(crate) const MIN_MSG_RECORD: usize = HEADER_LEN + MSG_FIXED;
/// The largest record we write or accept (fits a slot's 31-bit length).
pub(crate) const MAX_RECORD_LEN: usize = 128 << 20;
pub(crate) const FORMAT_VERSION: u32 = 1;
/// Ranges per delete record, so one purge never makes a record larger than a segment.
pub(crate) const MAX_RANGES_PER_RECORD: usize = 4096;

const KIND_MSG: u8 = 1;
const KIND_DELETE: u8 = 2;
const KIND_COMPACT: u8 = 3;
const KIND_ERASED: u8 = 4;
const KIND_SEGMENT: u8 = 5;
const FLAG_HEADERS: u8 = 1;

/// A decoded message record, borrowing from the record bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MsgRecord<'a> {
    pub seq: u64,
    pub ts: i64,
    pub subject: &'a str,
    pub headers: Option<&'a [u8]>,
    pub payload: &'a [u8],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Record<'a> {
    Msg(MsgRecord<'a>),
    Delete {
        last_seq: u64,
        ranges: Vec<(u64, u64)>,
    },
    Compact {
        last_seq: u64,
        below: u64,
    },
    Erased {
        seq: u64,
        ts: i64,
    },
    Segment {
        version: u32,
        salt: u32,
        last_seq: u64,
        last_ts: i64,
    },
    /// A kind this version does not know, with a valid checksum: skipped, not damage.
    Unknown(u8),
}

/// Why bytes are not a valid record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// Fewer bytes than the header or than the length field claims.
    Short,
    BadMagic,
    BadLength,
    BadChecksum,
    /// The checksum matched but the body is inconsistent.
    BadBody,
}

fn checksum(salt: u32, header: &[u8], body: &[u8]) -> u32 {
    crc32c_append(crc32c_append(salt, header), body)
}

/// Appends the header for a body already written at `buf[start + HEADER_LEN..]`.
fn seal(buf: &mut [u8], salt: u32, start: usize) -> usize {
    let len = buf.len() - start;
    let len32 = u32::try_from(len).unwrap_or(u32::MAX);
    let mut head = [0u8; 8];
    head[..4].copy_from_slice(&MAGIC);
    head[4..].copy_from_slice(&len32.to_le_bytes());
    let crc = checksum(salt, &head, &buf[start + HEADER_LEN..]);
    buf[start..start + 8].copy_from_slice(&head);
    buf[start + 8..start + 12].copy_from_slice(&crc.to_le_bytes());
    len
}

fn begin(buf: &mut Vec<u8>, kind: u8) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&[0u8; HEADER_LEN]);
    buf.push(kind);
    start
}

/// Length of a message record, or `None` if it exceeds the format's limits.
pub(crate) fn msg_record_len(subject: usize, headers: usize, payload: usize) -> Option<usize> {
    if subject > u16::MAX as usize {
        return None;
    }
    let len = MIN_MSG_RECORD
        .checked_add(subject)?
        .checked_add(headers)?
        .checked_add(payload)?;
    (len <= MAX_RECORD_LEN).then_some(len)
}

/// Appends a message record; the caller has checked `msg_record_len`.
pub(crate) fn encode_msg(buf: &mut Vec<u8>, salt: u32, m: &MsgRecord<'_>) -> usize {
    let start = begin(buf, KIND_MSG);
    let hdr = m.headers.unwrap_or_default();
    buf.push(if m.headers.is_some() { FLAG_HEADERS } else { 0 });
    buf.extend_from_slice(&(m.subject.len() as u16).to_le_bytes());
    buf.extend_from_slice(&(hdr.len() as u32).to_le_bytes());
    buf.extend_from_slice(&(m.payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&m.seq.to_le_bytes());
    buf.extend_from_slice(&m.ts.to_le_bytes());
    buf.extend_from_slice(m.subject.as_bytes());
    buf.extend_from_slice(hdr);
    buf.extend_from_slice(m.payload);
    seal(buf, salt, start)
}

/// Appends one delete record for at most `MAX_RANGES_PER_RECORD` ranges.
pub(crate) fn encode_delete(
    buf: &mut Vec<u8>,
    salt: u32,
    last_seq: u64,
    ranges: &[(u64, u64)],
) -> usize {
    let start = begin(buf, KIND_DELETE);
    buf.extend_from_slice(&last_seq.to_le_bytes());
    buf.extend_from_slice(&(ranges.len() as u32).to_le_bytes());
    for (a, b) in ranges {
        buf.extend_from_slice(&a.to_le_bytes());
        buf.extend_from_slice(&b.to_le_bytes());
    }
    seal(buf, salt, start)
}

pub(crate) fn encode_compact(buf: &mut Vec<u8>, salt: u32, last_seq: u64, below: u64) -> usize {
    let start = begin(buf, KIND_COMPACT);
    buf.extend_from_slice(&last_seq.to_le_bytes());
    buf.extend_from_slice(&below.to_le_bytes());
    seal(buf, salt, start)
}

/// The first record of a segment. Checksummed with salt 0: it is what carries the salt.
pub(crate) fn encode_segment_header(
    buf: &mut Vec<u8>,
    salt: u32,
    last_seq: u64,
    last_ts: i64,
) -> usize {
    let start = begin(buf, KIND_SEGMENT);
    buf.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    buf.extend_from_slice(&salt.to_le_bytes());
    buf.extend_from_slice(&last_seq.to_le_bytes());
    buf.extend_from_slice(&last_ts.to_le_bytes());
    seal(buf, 0, start)
}

/// An erased record of exactly `len` bytes (`len >= MIN_MSG_RECORD`), to overwrite a
/// message in place. It keeps the sequence and time so recovery still knows the end.
pub(crate) fn encode_erased(salt: u32, len: usize, seq: u64, ts: i64) -> Vec<u8> {
    let mut buf = Vec::with_capacity(len);
    begin(&mut buf, KIND_ERASED);
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(&ts.to_le_bytes());
    buf.resize(len.max(HEADER_LEN + 17), 0);
    seal(&mut buf, salt, 0);
    buf
}

/// Reads the header at the start of `bytes`: the record length if the magic is right and
/// the length is plausible. Does not check the checksum.
pub(crate) fn peek_len(bytes: &[u8]) -> Result<usize, DecodeError> {
    let head = bytes.get(..HEADER_LEN).ok_or(DecodeError::Short)?;
    if head[..4] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
    if !(HEADER_LEN + 1..=MAX_RECORD_LEN).contains(&len) {
        return Err(DecodeError::BadLength);
    }
    Ok(len)
}

/// Decodes the record at the start of `bytes` (which may continue past it) and returns
/// it with its length. `salt` is the store's salt, or 0 for a segment header.
pub(crate) fn decode(bytes: &[u8], salt: u32) -> Result<(Record<'_>, usize), DecodeError> {
    let len = peek_len(bytes)?;
    let rec = bytes.get(..len).ok_or(DecodeError::Short)?;
    let stored = u32::from_le_bytes([rec[8], rec[9], rec[10], rec[11]]);
    let body = &rec[HEADER_LEN..];
    if checksum(salt, &rec[..8], body) != stored {
        return Err(DecodeError::BadChecksum);
    }
    Ok((decode_body(body).ok_or(DecodeError::BadBody)?, len))
}

/// A little cursor over a checked body; every read is bounds-checked.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2)?.try_into().ok().map(u16::from_le_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)?.try_into().ok().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)?.try_into().ok().map(u64::from_le_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take(8)?.try_into().ok().map(i64::from_le_bytes)
    }
}

fn decode_body(body: &[u8]) -> Option<Record<'_>> {
    let mut c = Cursor(body);
    let rec = match c.u8()? {
        KIND_MSG => {
            let flags = c.u8()?;
            let subj_len = c.u16()? as usize;
            let hdr_len = c.u32()? as usize;
            let payload_len = c.u32()? as usize;
            let seq = c.u64()?;
            let ts = c.i64()?;
            let subject = std::str::from_utf8(c.take(subj_len)?).ok()?;
            let hdr = c.take(hdr_len)?;
            let payload = c.take(payload_len)?;
            if flags & FLAG_HEADERS == 0 && hdr_len != 0 {
                return None;
            }
            let headers = (flags & FLAG_HEADERS != 0).then_some(hdr);
            Record::Msg(MsgRecord {
                seq,
                ts,
                subject,
                headers,
                payload,
            })
        }
        KIND_DELETE => {
            let last_seq = c.u64()?;
            let count = c.u32()? as usize;
            if c.0.len() != count.checked_mul(16)? {
                return None;
            }
            let mut ranges = Vec::with_capacity(count);
            for _ in 0..count {
                let (a, b) = (c.u64()?, c.u64()?);
                if a > b {
                    return None;
                }
                ranges.push((a, b));
            }
            Record::Delete { last_seq, ranges }
        }
        KIND_COMPACT => Record::Compact {
            last_seq: c.u64()?,
            below: c.u64()?,
        },
        KIND_ERASED => {
            let (seq, ts) = (c.u64()?, c.i64()?);
            // The rest is padding and is not looked at.
            c.0 = &[];
            Record::Erased { seq, ts }
        }
        KIND_SEGMENT => Record::Segment {
            version: c.u32()?,
            salt: c.u32()?,
            last_seq: c.u64()?,
            last_ts: c.i64()?,
        },
        other => {
            c.0 = &[];
            Record::Unknown(other)
        }
    };
    // Trailing bytes mean the lengths disagree with the record length.
    c.0.is_empty().then_some(rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u32 = 0xdead_beef;

    fn msg() -> MsgRecord<'static> {
        MsgRecord {
            seq: 7,
            ts: -3,
            subject: "a.b",
            headers: Some(b"NATS/1.0\r\n\r\n"),
            payload: b"hello",
        }
    }

    #[test]
    fn round_trips() {
        let mut buf = Vec::new();
        let n4 = encode_segment_header(&mut buf, S, 4, 5);
        let n1 = encode_msg(&mut buf, S, &msg());
        assert_eq!(Some(n1), msg_record_len(3, 12, 5));
        let n2 = encode_delete(&mut buf, S, 8, &[(1, 2), (5, 5)]);
        let n3 = encode_compact(&mut buf, S, 8, 99);
        let erased = encode_erased(S, n1, 7, -3);
        assert_eq!(erased.len(), n1);
        buf.extend_from_slice(&erased);
        let mut at = 0;
        let mut out = Vec::new();
        while at < buf.len() {
            let (r, len) = decode(&buf[at..], if at == 0 { 0 } else { S }).unwrap();
            out.push(r);
            at += len;
        }
        assert_eq!(at, n1 + n2 + n3 + n4 + n1);
        assert_eq!(
            out,
            vec![
                Record::Segment {
                    version: FORMAT_VERSION,
                    salt: S,
                    last_seq: 4,
                    last_ts: 5
                },
                Record::Msg(msg()),
                Record::Delete {
                    last_seq: 8,
                    ranges: vec![(1, 2), (5, 5)]
                },
                Record::Compact {
                    last_seq: 8,
                    below: 99
                },
                Record::Erased { seq: 7, ts: -3 },
            ]
        );
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let mut buf = Vec::new();
        encode_msg(&mut buf, S, &msg());
        for i in 0..buf.len() * 8 {
            let mut b = buf.clone();
            b[i / 8] ^= 1 << (i % 8);
            assert!(decode(&b, S).is_err(), "flip of bit {i} not detected");
        }
    }

    #[test]
    fn every_truncation_is_rejected() {
        let mut buf = Vec::new();
        encode_msg(&mut buf, S, &msg());
        for n in 0..buf.len() {
            assert!(decode(&buf[..n], S).is_err());
        }
    }

    #[test]
    fn a_record_with_another_salt_is_rejected() {
        let mut buf = Vec::new();
        encode_msg(&mut buf, S, &msg());
        assert_eq!(decode(&buf, S ^ 1).unwrap_err(), DecodeError::BadChecksum);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut x = 1u64;
        for n in 0..2000 {
            let mut b: Vec<u8> = (0..(n % 97))
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            if n % 2 == 0 && b.len() >= 8 {
                b[..4].copy_from_slice(&MAGIC);
                let n = b.len() as u32;
                b[4..8].copy_from_slice(&n.to_le_bytes());
            }
            let _ = decode(&b, S);
        }
    }
}
