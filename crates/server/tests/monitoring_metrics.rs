//! `/metrics` read the way Prometheus reads it: parsed by a real text-format parser
//! (`prometheus-parse`) after a known scenario, and checked for the numbers a user
//! expects: connections, subscriptions, messages and bytes in and out, per-stream and
//! per-consumer state, the fsync and publish-to-ack histograms, store size.

mod monitoring_kit;

use std::collections::BTreeMap;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, stream};
use futures::StreamExt;
use monitoring_kit::{poll, Monitored};
use prometheus_parse::{Sample, Scrape, Value};

async fn scrape(server: &Monitored) -> Scrape {
    let r = server.get("/metrics").await;
    assert_eq!(r.status, 200);
    assert!(
        r.content_type.starts_with("text/plain; version=0.0.4"),
        "{}",
        r.content_type
    );
    Scrape::parse(r.body.lines().map(|l| Ok(l.to_string()))).expect("valid exposition")
}

fn labels_match(s: &Sample, labels: &[(&str, &str)]) -> bool {
    labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
}

fn find<'a>(scrape: &'a Scrape, name: &str, labels: &[(&str, &str)]) -> &'a Sample {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels_match(s, labels))
        .unwrap_or_else(|| panic!("no sample {name}{labels:?}"))
}

/// A gauge's or counter's value.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    match &find(scrape, name, labels).value {
        Value::Gauge(v) | Value::Counter(v) | Value::Untyped(v) => *v,
        other => panic!("{name} is not a plain value: {other:?}"),
    }
}

/// A histogram's count, sum and cumulative buckets.
fn histogram(scrape: &Scrape, name: &str) -> (f64, f64, Vec<(f64, f64)>) {
    let count = value(scrape, &format!("{name}_count"), &[]);
    let sum = value(scrape, &format!("{name}_sum"), &[]);
    let buckets = match &find(scrape, name, &[]).value {
        Value::Histogram(b) => b.iter().map(|b| (b.less_than, b.count)).collect(),
        other => panic!("{name} is not a histogram: {other:?}"),
    };
    (count, sum, buckets)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_report_a_known_scenario() {
    let server = Monitored::sluice().await;
    let before = scrape(&server).await;
    assert_eq!(value(&before, "sluice_connections", &[]), 0.0);
    assert_eq!(value(&before, "sluice_jetstream_streams", &[]), 0.0);

    // Two clients; 5 core messages of 10 bytes from `pubr` to one subscriber.
    let subr = async_nats::connect(&server.url).await.unwrap();
    let pubr = async_nats::connect(&server.url).await.unwrap();
    let mut sub = subr.subscribe("core.>").await.unwrap();
    server.wait_for_subs("core.x", 1).await;
    for _ in 0..5 {
        pubr.publish("core.x", "0123456789".into()).await.unwrap();
    }
    pubr.flush().await.unwrap();
    for _ in 0..5 {
        tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .unwrap()
            .unwrap();
    }

    // A file stream with 4 messages and a pull consumer holding 2 unacknowledged.
    let js = jetstream::new(pubr.clone());
    let stream = js
        .create_stream(stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..4 {
        js.publish(format!("orders.{i}"), "order".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("C1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut held = Vec::new();
    let mut batch = consumer.fetch().max_messages(2).messages().await.unwrap();
    while let Some(m) = batch.next().await {
        held.push(m.unwrap());
    }
    assert_eq!(held.len(), 2);

    let m = scrape(&server).await;
    assert_eq!(value(&m, "sluice_connections", &[]), 2.0);
    assert_eq!(value(&m, "sluice_connections_total", &[]), 2.0);
    // The subscriber's subscription (the JetStream engine's own are counted too).
    assert!(value(&m, "sluice_subscriptions", &[]) >= 1.0);
    // 5 core messages + 4 stream publishes + the API requests.
    assert!(value(&m, "sluice_in_messages_total", &[]) >= 9.0);
    assert!(value(&m, "sluice_in_bytes_total", &[]) >= 50.0 + 4.0 * 5.0);
    // 5 deliveries + 4 PubAcks + API replies + 2 consumer deliveries.
    assert!(value(&m, "sluice_out_messages_total", &[]) >= 11.0);
    assert!(value(&m, "sluice_out_bytes_total", &[]) >= 50.0);
    assert_eq!(value(&m, "sluice_slow_consumers_total", &[]), 0.0);

    let s = [("stream", "ORDERS")];
    assert_eq!(value(&m, "sluice_stream_messages", &s), 4.0);
    assert_eq!(value(&m, "sluice_stream_first_seq", &s), 1.0);
    assert_eq!(value(&m, "sluice_stream_last_seq", &s), 4.0);
    assert_eq!(value(&m, "sluice_stream_consumers", &s), 1.0);
    let bytes = value(&m, "sluice_stream_bytes", &s);
    assert!(bytes > 4.0 * 5.0, "{bytes}");
    assert_eq!(value(&m, "sluice_jetstream_storage_bytes", &[]), bytes);
    assert_eq!(value(&m, "sluice_jetstream_memory_bytes", &[]), 0.0);
    assert_eq!(value(&m, "sluice_jetstream_streams", &[]), 1.0);
    assert_eq!(value(&m, "sluice_jetstream_consumers", &[]), 1.0);
    assert!(value(&m, "sluice_jetstream_api_requests_total", &[]) >= 2.0);

    let c = [("stream", "ORDERS"), ("consumer", "C1")];
    assert_eq!(value(&m, "sluice_consumer_pending_messages", &c), 2.0);
    assert_eq!(value(&m, "sluice_consumer_ack_pending_messages", &c), 2.0);
    assert_eq!(value(&m, "sluice_consumer_redelivered_messages", &c), 0.0);
    assert_eq!(value(&m, "sluice_consumer_delivered_stream_seq", &c), 2.0);
    assert_eq!(value(&m, "sluice_consumer_ack_floor_stream_seq", &c), 0.0);
    assert_eq!(value(&m, "sluice_consumer_waiting_requests", &c), 0.0);

    // Every acknowledged publish was fsynced and acked: both histograms saw them.
    let (count, sum, buckets) = histogram(&m, "sluice_jetstream_publish_ack_seconds");
    assert!(count >= 4.0, "{count}");
    assert!(sum > 0.0);
    let (fsyncs, fsync_sum, fsync_buckets) = histogram(&m, "sluice_jetstream_fsync_seconds");
    assert!(fsyncs >= 1.0 && fsync_sum > 0.0);
    for b in [&buckets, &fsync_buckets] {
        assert!(b.windows(2).all(|w| w[0].1 <= w[1].1), "cumulative: {b:?}");
        assert_eq!(b.last().map(|l| l.0), Some(f64::INFINITY));
    }
    assert_eq!(buckets.last().unwrap().1, count);

    // Acking the held messages shows in the consumer's numbers.
    for h in &held {
        h.double_ack().await.unwrap();
    }
    poll("ack pending back to 0", || async {
        let m = scrape(&server).await;
        value(&m, "sluice_consumer_ack_pending_messages", &c) == 0.0
            && value(&m, "sluice_consumer_ack_floor_stream_seq", &c) == 2.0
    })
    .await;

    // A client going away leaves the connection gauge.
    drop(sub);
    drop(subr);
    poll("one connection left", || async {
        value(&scrape(&server).await, "sluice_connections", &[]) == 1.0
    })
    .await;
    drop(pubr);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_prometheus_conventions() {
    let server = Monitored::sluice().await;
    let client = async_nats::connect(&server.url).await.unwrap();
    let js = jetstream::new(client.clone());
    js.create_stream(stream::Config {
        name: "ODD-name_1".into(),
        subjects: vec!["odd.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let r = server.get("/metrics").await;
    // Every family has HELP and TYPE; counters end in _total; names are legal.
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    for line in r.body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            types.insert(name.to_string(), kind.to_string());
        }
    }
    assert!(types.len() >= 20, "{types:?}");
    for (name, kind) in &types {
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{name}"
        );
        assert!(
            r.body.contains(&format!("# HELP {name} ")),
            "no HELP for {name}"
        );
        assert_eq!(kind == "counter", name.ends_with("_total"), "{name} {kind}");
        assert!(
            name.starts_with("sluice_") || name.starts_with("process_"),
            "{name}"
        );
    }
    let scrape = Scrape::parse(r.body.lines().map(|l| Ok(l.to_string()))).unwrap();
    assert_eq!(
        value(
            &scrape,
            "sluice_stream_messages",
            &[("stream", "ODD-name_1")]
        ),
        0.0
    );
    drop(client);
    server.stop().await;
}
