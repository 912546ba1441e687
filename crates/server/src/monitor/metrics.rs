//! `/metrics`: the Prometheus text exposition format (version 0.0.4), written natively
//! from the same counters the JSON endpoints read. Names follow Prometheus
//! conventions: a `sluice_` prefix, base units (`_bytes`, `_seconds`), `_total` on
//! counters; the README lists them all.

use std::fmt::Write;
use std::sync::Arc;

use hyper::StatusCode;

use super::histogram::HistogramSnapshot;
use super::http::Reply;
use super::json::{system_time_nanos, unix_nanos};
use super::varz::{cpu_seconds, engine_report, process_usage};
use crate::server::ServerShared;
use crate::stats::Stats;

/// Writes metric families: `# HELP`, `# TYPE`, then samples.
struct Exposition {
    out: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", format_value(value));
    }

    /// A family with one unlabelled sample.
    fn single(&mut self, name: &str, kind: &str, help: &str, value: f64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    fn histogram(&mut self, name: &str, help: &str, h: &HistogramSnapshot) {
        self.family(name, "histogram", help);
        let bucket = format!("{name}_bucket");
        for (bound, count) in &h.cumulative {
            self.sample(&bucket, &[("le", &format_value(*bound))], *count as f64);
        }
        self.sample(&bucket, &[("le", "+Inf")], h.count as f64);
        self.sample(&format!("{name}_sum"), &[], h.sum_seconds);
        self.sample(&format!("{name}_count"), &[], h.count as f64);
    }
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn format_value(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else if v.is_nan() {
        "NaN".to_string()
    } else {
        v.to_string()
    }
}

pub async fn metrics(shared: &Arc<ServerShared>) -> Reply {
    let stats = shared.stats();
    let monitor = shared.monitor();
    let info = shared.info();
    let start = system_time_nanos(monitor.start);
    let mut e = Exposition { out: String::new() };

    e.family("sluice_info", "gauge", "Server identity; always 1.");
    e.sample(
        "sluice_info",
        &[
            ("version", crate::info::SLUICE_VERSION),
            ("server_id", &info.server_id),
            ("server_name", &info.server_name),
        ],
        1.0,
    );
    e.single(
        "sluice_start_time_seconds",
        "gauge",
        "Unix time the server started.",
        start as f64 / 1e9,
    );
    let (rss, _) = process_usage(unix_nanos() - start);
    e.single(
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory of the server process.",
        rss as f64,
    );
    e.single(
        "process_cpu_seconds_total",
        "counter",
        "User and system CPU time of the server process.",
        cpu_seconds().unwrap_or(0.0),
    );
    e.single(
        "sluice_connections",
        "gauge",
        "Client connections open now.",
        shared.connection_count() as f64,
    );
    let (out_msgs, out_bytes) = monitor.out_totals(stats);
    let counters: [(&str, &str, u64); 7] = [
        (
            "sluice_connections_total",
            "Client connections accepted since start.",
            Stats::get(&stats.total_connections),
        ),
        (
            "sluice_in_messages_total",
            "Messages received from clients.",
            Stats::get(&stats.in_msgs),
        ),
        (
            "sluice_in_bytes_total",
            "Payload and header bytes received from clients.",
            Stats::get(&stats.in_bytes),
        ),
        (
            "sluice_out_messages_total",
            "Messages delivered to clients.",
            out_msgs,
        ),
        (
            "sluice_out_bytes_total",
            "Payload and header bytes delivered to clients.",
            out_bytes,
        ),
        (
            "sluice_slow_consumers_total",
            "Clients disconnected as slow consumers.",
            Stats::get(&stats.slow_consumers),
        ),
        (
            "sluice_stale_connections_total",
            "Clients disconnected for not answering PINGs.",
            monitor.stale_connections(),
        ),
    ];
    for (name, help, v) in counters {
        e.single(name, "counter", help, v as f64);
    }
    e.single(
        "sluice_subscriptions",
        "gauge",
        "Subscriptions in the subscription index (clients and JetStream).",
        shared.router().subscription_count() as f64,
    );

    if shared.options().jetstream {
        jetstream(&mut e, shared).await;
    }
    Reply {
        status: StatusCode::OK,
        content_type: "text/plain; version=0.0.4; charset=utf-8",
        body: e.out.into_bytes(),
    }
}

async fn jetstream(e: &mut Exposition, shared: &Arc<ServerShared>) {
    let timings = &shared.monitor().js_timings;
    e.histogram(
        "sluice_jetstream_fsync_seconds",
        "Time one stream store's fsync took.",
        &timings.fsync.snapshot(),
    );
    e.histogram(
        "sluice_jetstream_publish_ack_seconds",
        "Time from a publish reaching JetStream to its PubAck being sent.",
        &timings.publish_to_ack.snapshot(),
    );
    let Some(r) = engine_report(shared).await else {
        return;
    };
    let gauges: [(&str, &str, f64); 8] = [
        (
            "sluice_jetstream_memory_bytes",
            "Bytes stored by memory streams.",
            r.memory as f64,
        ),
        (
            "sluice_jetstream_storage_bytes",
            "Bytes stored by file streams.",
            r.storage as f64,
        ),
        (
            "sluice_jetstream_reserved_memory_bytes",
            "max_bytes reserved by memory streams.",
            r.reserved_memory as f64,
        ),
        (
            "sluice_jetstream_reserved_storage_bytes",
            "max_bytes reserved by file streams.",
            r.reserved_storage as f64,
        ),
        (
            "sluice_jetstream_max_memory_bytes",
            "Server limit on memory stream bytes.",
            r.server_max_memory as f64,
        ),
        (
            "sluice_jetstream_max_storage_bytes",
            "Server limit on file stream bytes.",
            r.server_max_store as f64,
        ),
        (
            "sluice_jetstream_streams",
            "Streams.",
            r.streams.len() as f64,
        ),
        (
            "sluice_jetstream_consumers",
            "Consumers of all streams.",
            r.streams.iter().map(|s| s.consumers.len()).sum::<usize>() as f64,
        ),
    ];
    for (name, help, v) in gauges {
        e.single(name, "gauge", help, v);
    }
    e.single(
        "sluice_jetstream_api_requests_total",
        "counter",
        "JetStream API requests answered.",
        r.api_total as f64,
    );
    e.single(
        "sluice_jetstream_api_errors_total",
        "counter",
        "JetStream API requests answered with an error.",
        r.api_errors as f64,
    );

    type StreamField = fn(&sluice_jetstream::engine::StreamReport) -> u64;
    let per_stream: [(&str, &str, StreamField); 6] = [
        ("sluice_stream_messages", "Messages in the stream.", |s| {
            s.messages
        }),
        ("sluice_stream_bytes", "Bytes the stream stores.", |s| {
            s.bytes
        }),
        (
            "sluice_stream_first_seq",
            "Sequence of the stream's first message.",
            |s| s.first_seq,
        ),
        (
            "sluice_stream_last_seq",
            "Sequence of the stream's last message.",
            |s| s.last_seq,
        ),
        (
            "sluice_stream_deleted_messages",
            "Messages deleted from inside the stream's sequence range.",
            |s| s.num_deleted,
        ),
        ("sluice_stream_consumers", "Consumers of the stream.", |s| {
            s.consumers.len() as u64
        }),
    ];
    for (name, help, field) in per_stream {
        e.family(name, "gauge", help);
        for s in &r.streams {
            e.sample(name, &[("stream", &s.name)], field(s) as f64);
        }
    }

    type ConsumerField = fn(&sluice_jetstream::engine::ConsumerReport) -> u64;
    let per_consumer: [(&str, &str, ConsumerField); 6] = [
        (
            "sluice_consumer_pending_messages",
            "Messages in the stream the consumer has yet to deliver.",
            |c| c.num_pending,
        ),
        (
            "sluice_consumer_ack_pending_messages",
            "Messages delivered and awaiting an ack.",
            |c| c.num_ack_pending,
        ),
        (
            "sluice_consumer_redelivered_messages",
            "Messages awaiting an ack that were delivered more than once.",
            |c| c.num_redelivered,
        ),
        (
            "sluice_consumer_waiting_requests",
            "Pull requests waiting for messages.",
            |c| c.num_waiting,
        ),
        (
            "sluice_consumer_delivered_stream_seq",
            "Stream sequence of the last message delivered.",
            |c| c.delivered_stream_seq,
        ),
        (
            "sluice_consumer_ack_floor_stream_seq",
            "Stream sequence up to which every message is acknowledged.",
            |c| c.ack_floor_stream_seq,
        ),
    ];
    for (name, help, field) in per_consumer {
        e.family(name, "gauge", help);
        for s in &r.streams {
            for c in &s.consumers {
                e.sample(
                    name,
                    &[("stream", &s.name), ("consumer", &c.name)],
                    field(c) as f64,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_values_formatted() {
        let mut e = Exposition { out: String::new() };
        e.sample("m", &[("stream", "a\"b\\c\nd")], 3.0);
        e.sample("m", &[], 0.5);
        assert_eq!(e.out, "m{stream=\"a\\\"b\\\\c\\nd\"} 3\nm 0.5\n");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
    }
}
