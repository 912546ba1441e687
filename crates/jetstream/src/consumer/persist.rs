//! How a consumer is persisted: its configuration record (written on create and
//! update) and its state record (delivered and ack positions, pending acks, delivery
//! counts).
//!
//! Both are framed like stream metadata: a header line with a CRC-32 of the body, so a
//! damaged file is recognised instead of loaded. Files are replaced atomically by the
//! `MetaStore`.
//!
//! When state is written (see `Engine::flush_consumers`): every `STATE_FLUSH_INTERVAL`
//! for consumers whose state changed, at once when a client asked for an ack reply
//! (double ack), and on shutdown. Removals of acknowledged messages from work-queue
//! and interest streams are fsynced just before (not at every commit), so a recorded
//! ack never points at a message still stored. After a crash, acks of at most the last interval can
//! be lost: those messages are delivered again (at-least-once). Nothing unacknowledged
//! is lost, because an ack floor is never written ahead of an unacknowledged message.

use crate::meta::{frame, unframe};

use super::state::{DeliveryState, SeqPair};

/// Most time between a state change and its write.
pub const STATE_FLUSH_INTERVAL: i64 = 100_000_000;

const CONFIG_MAGIC: &str = "sluice-consumer-meta 1";
const STATE_MAGIC: &str = "sluice-consumer-state 1";

/// The configuration record: creation time and the stored configuration JSON.
pub fn encode_config(created: i64, config_json: &[u8]) -> Vec<u8> {
    let mut body = created.to_le_bytes().to_vec();
    body.extend_from_slice(config_json);
    frame(CONFIG_MAGIC, &body)
}

pub fn decode_config(bytes: &[u8]) -> Result<(i64, &[u8]), String> {
    let body = unframe(CONFIG_MAGIC, bytes)?;
    if body.len() < 8 {
        return Err("record too short".into());
    }
    let (ts, json) = body.split_at(8);
    let created = i64::from_le_bytes(ts.try_into().map_err(|_| "record too short")?);
    Ok((created, json))
}

/// Positions as persisted: what `DeliveryState::restore` takes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredState {
    pub delivered: SeqPair,
    pub ack_floor: SeqPair,
    /// (stream seq, consumer seq, delivered at).
    pub pending: Vec<(u64, u64, i64)>,
    /// (stream seq, delivery count).
    pub redelivered: Vec<(u64, u64)>,
}

impl StoredState {
    pub fn of(s: &DeliveryState) -> Self {
        StoredState {
            delivered: s.delivered,
            ack_floor: s.ack_floor,
            pending: s
                .pending
                .iter()
                .map(|(sseq, p)| (*sseq, p.consumer_seq, p.delivered_at))
                .collect(),
            redelivered: s.redelivered.iter().map(|(a, b)| (*a, *b)).collect(),
        }
    }
}

pub fn encode_state(s: &StoredState) -> Vec<u8> {
    let mut b = Vec::with_capacity(48 + s.pending.len() * 24 + s.redelivered.len() * 16);
    for v in [
        s.delivered.consumer,
        s.delivered.stream,
        s.ack_floor.consumer,
        s.ack_floor.stream,
        s.pending.len() as u64,
        s.redelivered.len() as u64,
    ] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for (sseq, cseq, at) in &s.pending {
        b.extend_from_slice(&sseq.to_le_bytes());
        b.extend_from_slice(&cseq.to_le_bytes());
        b.extend_from_slice(&at.to_le_bytes());
    }
    for (sseq, n) in &s.redelivered {
        b.extend_from_slice(&sseq.to_le_bytes());
        b.extend_from_slice(&n.to_le_bytes());
    }
    frame(STATE_MAGIC, &b)
}

pub fn decode_state(bytes: &[u8]) -> Result<StoredState, String> {
    let body = unframe(STATE_MAGIC, bytes)?;
    let mut words = body.chunks_exact(8).map(|c| {
        let mut a = [0u8; 8];
        a.copy_from_slice(c);
        u64::from_le_bytes(a)
    });
    let mut next = || {
        words
            .next()
            .ok_or_else(|| "state record too short".to_string())
    };
    let delivered = SeqPair {
        consumer: next()?,
        stream: next()?,
    };
    let ack_floor = SeqPair {
        consumer: next()?,
        stream: next()?,
    };
    let np = next()?;
    let nr = next()?;
    if body.len() as u64 != 48 + np.saturating_mul(24) + nr.saturating_mul(16) {
        return Err("state record length does not match its counts".into());
    }
    let mut pending = Vec::with_capacity(np as usize);
    for _ in 0..np {
        pending.push((next()?, next()?, next()? as i64));
    }
    let mut redelivered = Vec::with_capacity(nr as usize);
    for _ in 0..nr {
        redelivered.push((next()?, next()?));
    }
    Ok(StoredState {
        delivered,
        ack_floor,
        pending,
        redelivered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trip_and_damage() {
        let s = StoredState {
            delivered: SeqPair {
                consumer: 9,
                stream: 12,
            },
            ack_floor: SeqPair {
                consumer: 3,
                stream: 4,
            },
            pending: vec![(5, 4, 100), (12, 9, -1)],
            redelivered: vec![(5, 3)],
        };
        let bytes = encode_state(&s);
        assert_eq!(decode_state(&bytes).unwrap(), s);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            assert!(decode_state(&bad).is_err(), "flip at {i} not caught");
        }
        assert!(decode_state(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn config_round_trip() {
        let bytes = encode_config(42, br#"{"durable_name":"d"}"#);
        let (created, json) = decode_config(&bytes).unwrap();
        assert_eq!(created, 42);
        assert_eq!(json, br#"{"durable_name":"d"}"#);
    }
}
