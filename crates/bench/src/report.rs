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
    /// Round-trip latency of request/reply (publish-to-delivery latency,
    /// for js-latency).
    pub latency: Option<LatencySummary>,
    /// Workloads whose headline is not one message rate (JetStream consumer
    /// workloads: two rates and their ratio, memory, latency percentiles) list
    /// their numbers here; when non-empty, these are what `compare` shows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub custom: Vec<Metric>,
    /// Free-form facts worth printing (e.g. redeliveries seen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
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
        if !self.custom.is_empty() {
            let parts: Vec<String> = self
                .custom
                .iter()
                .map(|m| format!("{} {}", m.label, fmt_metric(m)))
                .collect();
            let mut s = format!("{:<14} {}", self.workload, parts.join(", "));
            if let Some(d) = &self.detail {
                s += &format!(" ({d})");
            }
            return s;
        }
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
        if let Some(d) = &self.detail {
            s += &format!(" ({d})");
        }
        s
    }

    /// The numbers `compare` puts side by side.
    pub fn metrics(&self) -> Vec<Metric> {
        if !self.custom.is_empty() {
            return self
                .custom
                .iter()
                .map(|m| Metric {
                    label: format!("{} {}", self.workload, m.label),
                    ..m.clone()
                })
                .collect();
        }
        match &self.latency {
            None => vec![Metric {
                label: format!("{} msgs/s", self.workload),
                value: self.msgs_per_sec,
                higher_is_better: true,
                payload_size: Some(self.size),
                unit: Unit::Rate,
            }],
            Some(l) => vec![
                Metric {
                    label: format!("{} req/s", self.workload),
                    value: self.msgs_per_sec,
                    higher_is_better: true,
                    payload_size: None,
                    unit: Unit::Rate,
                },
                Metric {
                    label: format!("{} p50 µs", self.workload),
                    value: l.p50_us,
                    higher_is_better: false,
                    payload_size: None,
                    unit: Unit::Micros,
                },
                Metric {
                    label: format!("{} p90 µs", self.workload),
                    value: l.p90_us,
                    higher_is_better: false,
                    payload_size: None,
                    unit: Unit::Micros,
                },
                Metric {
                    label: format!("{} p99 µs", self.workload),
                    value: l.p99_us,
                    higher_is_better: false,
                    payload_size: None,
                    unit: Unit::Micros,
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
    /// How the value is printed.
    pub unit: Unit,
}

/// What a metric's number is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Messages, requests or operations per second.
    Rate,
    /// Microseconds.
    Micros,
    /// A dimensionless ratio of two numbers of the same run.
    Ratio,
    /// Mebibytes (2^20 bytes).
    MiB,
    /// Seconds.
    Secs,
    /// Megabytes (10^6 bytes) per second.
    MBps,
}

impl Metric {
    /// A metric of a workload's `custom` list (its label is prefixed with the
    /// workload name when compared).
    pub fn custom(label: &str, value: f64, unit: Unit, higher_is_better: bool) -> Self {
        Self {
            label: label.to_owned(),
            value,
            higher_is_better,
            payload_size: None,
            unit,
        }
    }
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
    match (m.unit, m.payload_size) {
        (Unit::Rate, Some(size)) => format!(
            "{} ({:.1} MB/s)",
            fmt_rate(m.value),
            m.value * size as f64 / 1e6
        ),
        (Unit::Rate, None) => fmt_rate(m.value),
        (Unit::Micros, _) => format!("{:.1}", m.value),
        (Unit::Ratio, _) => format!("{:.2}", m.value),
        (Unit::MiB, _) => format!("{:.1} MiB", m.value),
        (Unit::Secs, _) if m.value < 10.0 => format!("{:.3} s", m.value),
        (Unit::Secs, _) => format!("{:.1} s", m.value),
        (Unit::MBps, _) => format!("{:.1} MB/s", m.value),
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
        for m in &o.custom {
            detail.push(format!("{} {}", m.label, fmt_metric(m)));
        }
        if let Some(d) = &o.detail {
            detail.push(d.clone());
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
        let m = |value, unit| fmt_metric(&Metric::custom("x", value, unit, false));
        assert_eq!(m(0.0734, Unit::Secs), "0.073 s");
        assert_eq!(m(42.25, Unit::Secs), "42.2 s");
        assert_eq!(m(123.45, Unit::MBps), "123.5 MB/s");
    }
}
