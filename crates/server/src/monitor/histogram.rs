//! Latency histograms for `/metrics`: fixed buckets, lock-free updates (relaxed atomics),
//! read as Prometheus cumulative buckets.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Bucket upper bounds in seconds, from 50 µs to 5 s: fsyncs and acks of a healthy
/// disk land in the first few, a struggling one further out.
pub const BOUNDS: [f64; 16] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0,
];

#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last slot is above every bound.
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

/// A read of a histogram: cumulative counts per bound, then the total.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    pub cumulative: Vec<(f64, u64)>,
    pub sum_seconds: f64,
    pub count: u64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let slot = BOUNDS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BOUNDS.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        let nanos = d.as_nanos().min(u64::MAX as u128) as u64;
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut running = 0;
        let cumulative = BOUNDS
            .iter()
            .enumerate()
            .map(|(i, b)| {
                running += self.buckets[i].load(Ordering::Relaxed);
                (*b, running)
            })
            .collect();
        running += self.buckets[BOUNDS.len()].load(Ordering::Relaxed);
        HistogramSnapshot {
            cumulative,
            sum_seconds: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            // The +Inf bucket must equal the count: take it from the same read.
            count: running,
        }
    }
}

/// Latencies the JetStream thread measures.
#[derive(Debug, Default)]
pub struct JsTimings {
    /// One stream store's fsync (`MessageStore::sync`).
    pub fsync: Histogram,
    /// From a publish reaching the JetStream queue to its PubAck being handed to the
    /// router (includes queueing, the batch's fsync and the engine's work).
    pub publish_to_ack: Histogram,
    /// Messages (and their payload and header bytes) the JetStream thread delivered to
    /// clients: API replies, PubAcks, consumer deliveries. Part of the server's
    /// `out_msgs`.
    pub out_msgs: AtomicU64,
    pub out_bytes: AtomicU64,
}

impl JsTimings {
    pub fn add_out(&self, msgs: u64, bytes: u64) {
        self.out_msgs.fetch_add(msgs, Ordering::Relaxed);
        self.out_bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_end_at_count() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(10));
        h.observe(Duration::from_micros(700));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(10));
        let s = h.snapshot();
        assert_eq!(s.count, 4);
        let at = |bound: f64| s.cumulative.iter().find(|(b, _)| *b == bound).unwrap().1;
        assert_eq!(at(0.00005), 1);
        assert_eq!(at(0.0005), 1);
        assert_eq!(at(0.001), 2);
        assert_eq!(at(0.005), 3);
        assert_eq!(at(5.0), 3);
        assert!((s.sum_seconds - 10.00371).abs() < 1e-9);
    }
}
