//! Results of one workload run and how they are printed.

use serde::Serialize;

use crate::latency::LatencySummary;

/// What one run of one workload measured.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Workload name, e.g. `pubsub-16b`.
    pub workload: String,
    pub url: String,
    /// `raw` or `async-nats`.
    pub client: &'static str,
    /// Payload size in bytes.
    pub size: usize,
    /// Messages published (requests made, for request/reply).
    pub published: u64,
    /// Messages received by all subscribers together (0 for publish-only).
    pub delivered: u64,
    /// Seconds from the first publish until the last message was accounted
    /// for (publish-only: until the server answered the trailing PING).
    pub elapsed_secs: f64,
    /// Seconds until the publisher's trailing PING was answered.
    pub publish_secs: f64,
    /// The headline rate: published msgs/s for publish-only, delivered msgs/s
    /// for pubsub/fanout/queue, requests/s for request/reply.
    pub msgs_per_sec: f64,
    /// Headline rate times payload size, in MB/s (10^6 bytes).
    pub mb_per_sec: f64,
    /// Messages each subscriber (or queue member) received.
    pub split: Vec<u64>,
    /// Round-trip latency of request/reply.
    pub latency: Option<LatencySummary>,
}

impl Outcome {
    /// Fills the derived rate fields from the counts and `elapsed_secs`.
    pub fn with_rates(mut self, headline_msgs: u64) -> Self {
        let secs = self.elapsed_secs.max(1e-9);
        self.msgs_per_sec = headline_msgs as f64 / secs;
        self.mb_per_sec = self.msgs_per_sec * self.size as f64 / 1e6;
        self
    }

    /// One human-readable line.
    pub fn line(&self) -> String {
        let mut s = if self.latency.is_some() {
            format!(
                "{:<14} {:>12} req/s  ({} requests in {:.3}s",
                self.workload,
                fmt_rate(self.msgs_per_sec),
                self.published,
                self.elapsed_secs
            )
        } else {
            format!(
                "{:<14} {:>12} msgs/s {:>9.1} MB/s  ({} msgs in {:.3}s",
                self.workload,
                fmt_rate(self.msgs_per_sec),
                self.mb_per_sec,
                if self.delivered > 0 {
                    self.delivered
                } else {
                    self.published
                },
                self.elapsed_secs
            )
        };
        if self.delivered > 0 && self.publish_secs > 0.0 {
            s += &format!(
                ", publisher {} msgs/s",
                fmt_rate(self.published as f64 / self.publish_secs)
            );
        }
        s += ")";
        if self.split.len() > 1 {
            let parts: Vec<String> = self.split.iter().map(u64::to_string).collect();
            s += &format!(" split {}", parts.join("/"));
        }
        if let Some(l) = &self.latency {
            s += &format!(
                " latency µs p50 {:.1} p90 {:.1} p99 {:.1} max {:.1}",
                l.p50_us, l.p90_us, l.p99_us, l.max_us
            );
        }
        s
    }

    /// The numbers `compare` puts side by side.
    pub fn metrics(&self) -> Vec<Metric> {
        match &self.latency {
            None => vec![Metric {
                label: format!("{} msgs/s", self.workload),
                value: self.msgs_per_sec,
                higher_is_better: true,
                payload_size: Some(self.size),
            }],
            Some(l) => vec![
                Metric {
                    label: format!("{} req/s", self.workload),
                    value: self.msgs_per_sec,
                    higher_is_better: true,
                    payload_size: None,
                },
                Metric {
                    label: format!("{} p50 µs", self.workload),
                    value: l.p50_us,
                    higher_is_better: false,
                    payload_size: None,
                },
                Metric {
                    label: format!("{} p90 µs", self.workload),
                    value: l.p90_us,
                    higher_is_better: false,
                    payload_size: None,
                },
                Metric {
                    label: format!("{} p99 µs", self.workload),
                    value: l.p99_us,
                    higher_is_better: false,
                    payload_size: None,
                },
            ],
        }
    }
}

/// One comparable number.
#[derive(Debug, Clone, Serialize)]
pub struct Metric {
    pub label: String,
    pub value: f64,
    pub higher_is_better: bool,
    /// For message rates: the payload size, so MB/s can be shown too.
    pub payload_size: Option<usize>,
}

/// `12.3M`, `456.7k`, `89`: a rate with three significant-ish digits.
pub fn fmt_rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// Formats a metric value for a table cell.
pub fn fmt_metric(m: &Metric) -> String {
    if let Some(size) = m.payload_size {
        format!(
            "{} ({:.1} MB/s)",
            fmt_rate(m.value),
            m.value * size as f64 / 1e6
        )
    } else if m.higher_is_better {
        fmt_rate(m.value)
    } else {
        format!("{:.1}", m.value)
    }
}

/// A markdown table of `all` results for one server.
pub fn single_table(outcomes: &[Outcome]) -> String {
    let mut s = String::from("| workload | msgs/s | MB/s | detail |\n|---|---:|---:|---|\n");
    for o in outcomes {
        let mut detail = Vec::new();
        if o.split.len() > 1 {
            let parts: Vec<String> = o.split.iter().map(u64::to_string).collect();
            detail.push(format!("split {}", parts.join("/")));
        }
        if let Some(l) = &o.latency {
            detail.push(format!(
                "µs p50 {:.1} / p90 {:.1} / p99 {:.1}",
                l.p50_us, l.p90_us, l.p99_us
            ));
        }
        s += &format!(
            "| {} | {} | {:.1} | {} |\n",
            o.workload,
            fmt_rate(o.msgs_per_sec),
            o.mb_per_sec,
            detail.join("; ")
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_format() {
        assert_eq!(fmt_rate(12_345_678.0), "12.35M");
        assert_eq!(fmt_rate(45_678.0), "45.7k");
        assert_eq!(fmt_rate(12.0), "12");
    }
}
