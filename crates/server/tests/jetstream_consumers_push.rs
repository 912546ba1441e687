//! Push consumers through async-nats, as a user sees them: a durable consumer with a
//! deliver subject, ordered consumers, a durable consumer shared by a queue group
//! (`deliver_group`), idle heartbeats and flow control, and delivery that pauses while
//! nobody listens on the deliver subject and resumes when someone does.
//!
//! Each scenario runs against Sluice (`<name>`) and, ignored by default, against a real
//! nats-server (`reference_<name>`): `cargo test --test jetstream_consumers_push --
//! --ignored` proves the expectations are nats-server's.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, push, AckPolicy, PushConsumer};
use async_nats::jetstream::{self, stream};
use async_nats::StatusCode;
use common::jetstream::{poll, JsServer};
use common::DEADLINE;
use futures::StreamExt;
use parking_lot::Mutex;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

async fn create_stream(js: &jetstream::Context, name: &str, subjects: &[&str]) -> stream::Stream {
    js.create_stream(stream::Config {
        name: name.into(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("create stream {name}: {e}"))
}

/// Publishes `payloads` with acks in flight together; returns when all are acked.
async fn publish_all(js: &jetstream::Context, subject: &str, payloads: Vec<String>) {
    let mut acks = Vec::with_capacity(payloads.len());
    for p in payloads {
        acks.push(js.publish(subject.to_string(), p.into()).await.unwrap());
    }
    for ack in acks {
        ack.await.expect("puback");
    }
}

fn numbered(range: std::ops::RangeInclusive<u64>) -> Vec<String> {
    range.map(|i| i.to_string()).collect()
}

fn durable_push(name: &str, deliver_subject: &str) -> push::Config {
    push::Config {
        durable_name: Some(name.into()),
        deliver_subject: deliver_subject.into(),
        ack_policy: AckPolicy::Explicit,
        ..Default::default()
    }
}

fn seq(m: &jetstream::Message) -> u64 {
    m.info().expect("JetStream message").stream_sequence
}

fn delivered(m: &jetstream::Message) -> i64 {
    m.info().expect("JetStream message").delivered
}

/// The next item of a message stream, within the deadline.
async fn next<S, E>(msgs: &mut S) -> jetstream::Message
where
    S: futures::Stream<Item = Result<jetstream::Message, E>> + Unpin,
    E: std::fmt::Display,
{
    tokio::time::timeout(DEADLINE, msgs.next())
        .await
        .expect("a message within the deadline")
        .expect("stream open")
        .unwrap_or_else(|e| panic!("consumer stream error: {e}"))
}

/// Stream sequence → (receiver, delivery count) of every delivery.
type Seen = Arc<Mutex<BTreeMap<u64, Vec<(usize, i64)>>>>;

async fn info(c: &PushConsumer) -> jetstream::consumer::Info {
    c.get_info().await.expect("consumer info")
}

// ---------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------

async fn durable_push_delivers_to_its_subject(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let stream = create_stream(&js, "PUSH", &["push.*"]).await;
    for i in 1..=50u64 {
        js.publish(format!("push.{}", i % 5), i.to_string().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let c: PushConsumer = stream
        .create_consumer(durable_push("P", "deliver.p"))
        .await
        .unwrap();
    let mut msgs = c.messages().await.unwrap();
    for expected in 1..=50u64 {
        let m = next(&mut msgs).await;
        assert_eq!((seq(&m), delivered(&m)), (expected, 1));
        assert_eq!(m.payload, expected.to_string().as_bytes());
        assert_eq!(m.subject.as_str(), format!("push.{}", expected % 5));
        m.ack().await.unwrap();
    }
    poll("all acknowledged", || async {
        let i = info(&c).await;
        i.num_ack_pending == 0 && i.num_pending == 0 && i.ack_floor.stream_sequence == 50
    })
    .await;
    assert!(info(&c).await.push_bound, "a subscriber is bound");
    // New messages flow to the bound subscriber as they are stored.
    publish_all(&js, "push.new", numbered(51..=60)).await;
    for expected in 51..=60u64 {
        let m = next(&mut msgs).await;
        assert_eq!(seq(&m), expected);
        m.ack().await.unwrap();
    }
}
js_twins!(durable_push_delivers_to_its_subject => durable_push_delivers_to_its_subject_sluice, reference_durable_push_delivers_to_its_subject);

async fn ordered_consumers_deliver_everything_in_order(server: &mut JsServer) {
    let (client, js) = server.connect().await;
    let stream = create_stream(&js, "ORDERED", &["ordered.>"]).await;
    publish_all(&js, "ordered.a", numbered(1..=1000)).await;

    let push_ordered = stream
        .create_consumer(push::OrderedConfig {
            deliver_subject: client.new_inbox(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut msgs = push_ordered.messages().await.unwrap();
    for expected in 1..=1000u64 {
        let m = next(&mut msgs).await;
        assert_eq!(m.payload, expected.to_string().as_bytes());
        assert_eq!(seq(&m), expected);
    }
    // The pull flavour too, created while the push one is live.
    let pull_ordered = stream
        .create_consumer(pull::OrderedConfig::default())
        .await
        .unwrap();
    let mut pulled = pull_ordered.messages().await.unwrap();
    for expected in 1..=1000u64 {
        let m = next(&mut pulled).await;
        assert_eq!(seq(&m), expected);
    }
    // Messages published while both stream go to both, in order.
    let publisher = {
        let js = js.clone();
        tokio::spawn(async move { publish_all(&js, "ordered.b", numbered(1001..=1200)).await })
    };
    for expected in 1001..=1200u64 {
        let m = next(&mut msgs).await;
        assert_eq!(m.payload, expected.to_string().as_bytes());
        assert_eq!(m.subject.as_str(), "ordered.b");
        let m = next(&mut pulled).await;
        assert_eq!(m.payload, expected.to_string().as_bytes());
    }
    publisher.await.unwrap();
}
js_twins!(ordered_consumers_deliver_everything_in_order => ordered_consumers_deliver_everything_in_order_sluice, reference_ordered_consumers_deliver_everything_in_order);

async fn deliver_group_shares_the_work(server: &mut JsServer) {
    const N: u64 = 300;
    let (_client, js) = server.connect().await;
    let stream = create_stream(&js, "GROUP", &["group"]).await;
    let c: PushConsumer = stream
        .create_consumer(push::Config {
            deliver_group: Some("workers".into()),
            ..durable_push("G", "deliver.group")
        })
        .await
        .unwrap();
    let seen: Seen = Arc::default();
    let mut members = Vec::new();
    for id in 0..3 {
        let (client, js) = server.connect().await;
        let c: PushConsumer = js
            .get_stream("GROUP")
            .await
            .unwrap()
            .get_consumer("G")
            .await
            .unwrap();
        let mut msgs = c.messages().await.unwrap();
        client.flush().await.unwrap();
        let seen = seen.clone();
        members.push(tokio::spawn(async move {
            let _client = client;
            while let Some(m) = msgs.next().await {
                let m = m.expect("message");
                seen.lock()
                    .entry(seq(&m))
                    .or_default()
                    .push((id, delivered(&m)));
                m.ack().await.unwrap();
            }
        }));
    }
    publish_all(&js, "group", numbered(1..=N)).await;
    poll("every message received", || async {
        seen.lock().len() == N as usize
    })
    .await;
    poll("every message acknowledged", || async {
        let i = info(&c).await;
        i.num_ack_pending == 0 && i.num_pending == 0
    })
    .await;
    for m in &members {
        m.abort();
    }
    let seen = seen.lock().clone();
    let mut per_member = [0usize; 3];
    for s in 1..=N {
        let d = &seen[&s];
        assert_eq!(d.len(), 1, "message {s} delivered to {d:?}");
        assert_eq!(d[0].1, 1, "message {s} was a redelivery");
        per_member[d[0].0] += 1;
    }
    assert!(
        per_member.iter().all(|&n| n > 0),
        "every member got a share: {per_member:?}"
    );
}
js_twins!(deliver_group_shares_the_work => deliver_group_shares_the_work_sluice, reference_deliver_group_shares_the_work);

async fn heartbeats_and_flow_control(server: &mut JsServer) {
    let (client, js) = server.connect().await;
    let stream = create_stream(&js, "HB", &["hb.>"]).await;

    // On the wire: an idle consumer with idle_heartbeat sends status 100 heartbeats.
    let mut raw = client.subscribe("deliver.raw").await.unwrap();
    client.flush().await.unwrap();
    let _idle: PushConsumer = stream
        .create_consumer(push::Config {
            filter_subject: "hb.nothing".into(),
            idle_heartbeat: Duration::from_millis(200),
            ..durable_push("RAW", "deliver.raw")
        })
        .await
        .unwrap();
    let hb = tokio::time::timeout(DEADLINE, raw.next())
        .await
        .expect("a heartbeat within the deadline")
        .unwrap();
    assert_eq!(hb.status, Some(StatusCode::IDLE_HEARTBEAT), "{hb:?}");
    assert_eq!(hb.description.as_deref(), Some("Idle Heartbeat"));
    assert!(hb.payload.is_empty());
    drop(raw);

    // Through the client, which answers flow control and watches heartbeats: a burst of
    // 4 MiB arrives whole, the consumer stays healthy while idle, then works again.
    let c: PushConsumer = stream
        .create_consumer(push::Config {
            filter_subject: "hb.data".into(),
            flow_control: true,
            idle_heartbeat: Duration::from_millis(200),
            ..durable_push("FC", "deliver.fc")
        })
        .await
        .unwrap();
    let mut msgs = c.messages().await.unwrap();
    let payload = "x".repeat(4096);
    let publisher = {
        let js = js.clone();
        tokio::spawn(async move { publish_all(&js, "hb.data", vec![payload; 1024]).await })
    };
    for expected in 1..=1024u64 {
        let m = next(&mut msgs).await;
        assert_eq!(m.payload.len(), 4096);
        assert_eq!(m.info().unwrap().consumer_sequence, expected);
        m.ack().await.unwrap();
    }
    publisher.await.unwrap();
    // Idle for five heartbeat intervals: the client reports a missed heartbeat after
    // two, so nothing at all may come out of the stream here.
    if let Ok(item) = tokio::time::timeout(Duration::from_millis(1000), msgs.next()).await {
        panic!(
            "idle consumer produced {:?}",
            item.map(|r| r.map(|m| seq(&m)))
        );
    }
    js.publish("hb.data", "after idle".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let m = next(&mut msgs).await;
    assert_eq!(&m.payload[..], b"after idle");
    m.ack().await.unwrap();
}
js_twins!(heartbeats_and_flow_control => heartbeats_and_flow_control_sluice, reference_heartbeats_and_flow_control);

async fn delivery_pauses_without_subscriber(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let stream = create_stream(&js, "PAUSE", &["pause"]).await;
    let c: PushConsumer = stream
        .create_consumer(durable_push("P", "deliver.pause"))
        .await
        .unwrap();

    let (first_client, first_js) = server.connect().await;
    let first: PushConsumer = first_js
        .get_stream("PAUSE")
        .await
        .unwrap()
        .get_consumer("P")
        .await
        .unwrap();
    let mut msgs = first.messages().await.unwrap();
    first_client.flush().await.unwrap();
    publish_all(&js, "pause", numbered(1..=10)).await;
    for expected in 1..=10u64 {
        let m = next(&mut msgs).await;
        assert_eq!(seq(&m), expected);
        m.double_ack().await.unwrap();
    }
    // The subscriber goes away.
    drop(msgs);
    drop(first);
    drop(first_js);
    drop(first_client);
    poll("the consumer to be unbound", || async {
        !info(&c).await.push_bound
    })
    .await;

    publish_all(&js, "pause", numbered(11..=20)).await;
    // Give a (wrong) delivery time to happen, then check nothing was sent.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let i = info(&c).await;
    assert_eq!(i.num_pending, 10, "{i:?}");
    assert_eq!(i.delivered.stream_sequence, 10, "{i:?}");
    assert_eq!(i.num_ack_pending, 0, "{i:?}");

    // A new subscriber gets exactly the rest, first deliveries all.
    let (second_client, second_js) = server.connect().await;
    let second: PushConsumer = second_js
        .get_stream("PAUSE")
        .await
        .unwrap()
        .get_consumer("P")
        .await
        .unwrap();
    let mut msgs = second.messages().await.unwrap();
    second_client.flush().await.unwrap();
    for expected in 11..=20u64 {
        let m = next(&mut msgs).await;
        assert_eq!((seq(&m), delivered(&m)), (expected, 1));
        assert_eq!(m.payload, expected.to_string().as_bytes());
        m.ack().await.unwrap();
    }
    poll("all acknowledged", || async {
        let i = info(&c).await;
        i.num_ack_pending == 0 && i.num_pending == 0 && i.ack_floor.stream_sequence == 20
    })
    .await;
}
js_twins!(delivery_pauses_without_subscriber => delivery_pauses_without_subscriber_sluice, reference_delivery_pauses_without_subscriber);
