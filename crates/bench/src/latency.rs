//! Latency samples and their percentiles.

use std::time::Duration;

use serde::Serialize;

/// Percentiles of a set of latency samples, in microseconds.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct LatencySummary {
    pub samples: usize,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    pub mean_us: f64,
}

/// Collects samples; summarises them with nearest-rank percentiles.
#[derive(Debug, Default)]
pub struct Recorder {
    nanos: Vec<u64>,
}

impl Recorder {
    pub fn with_capacity(n: usize) -> Self {
        Self {
            nanos: Vec::with_capacity(n),
        }
    }

    pub fn record(&mut self, d: Duration) {
        self.nanos
            .push(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    pub fn summary(mut self) -> Option<LatencySummary> {
        if self.nanos.is_empty() {
            return None;
        }
        self.nanos.sort_unstable();
        let n = self.nanos.len();
        let pct = |p: f64| {
            // Nearest rank: the smallest sample with at least p% at or below it.
            let rank = ((p / 100.0) * n as f64).ceil() as usize;
            self.nanos[rank.clamp(1, n) - 1] as f64 / 1000.0
        };
        let sum: u128 = self.nanos.iter().map(|&v| u128::from(v)).sum();
        Some(LatencySummary {
            samples: n,
            p50_us: pct(50.0),
            p90_us: pct(90.0),
            p99_us: pct(99.0),
            max_us: self.nanos[n - 1] as f64 / 1000.0,
            mean_us: sum as f64 / n as f64 / 1000.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut r = Recorder::with_capacity(100);
        for i in 1..=100u64 {
            r.record(Duration::from_micros(i));
        }
        let s = r.summary().expect("samples");
        assert_eq!(
            (s.p50_us, s.p90_us, s.p99_us, s.max_us),
            (50.0, 90.0, 99.0, 100.0)
        );
        assert!((s.mean_us - 50.5).abs() < 1e-9);
        assert!(Recorder::default().summary().is_none());
    }
}
