//! Pull consumers through async-nats, as a user sees them: `fetch` (no wait), `batch`
//! with expiry, the `messages()` stream, several pullers sharing one durable consumer,
//! `max_ack_pending`, every ack kind, redelivery after `ack_wait` with the delivery
//! count, `max_deliver`, `backoff`, subject filters, every deliver policy, the numbers
//! in consumer info, and ephemeral consumers going away after `inactive_threshold`.
//!
//! Each scenario runs against Sluice (`<name>`) and, ignored by default, against a real
//! nats-server (`reference_<name>`): `cargo test --test jetstream_consumers_pull --
//! --ignored` proves the expectations are nats-server's.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::{self, stream, AckKind};
use common::jetstream::{poll, JsServer};
use common::DEADLINE;
use futures::StreamExt;
use parking_lot::Mutex;
use tokio::time::Instant;

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

async fn publish(js: &jetstream::Context, subject: &str, payload: &str) -> u64 {
    js.publish(subject.to_string(), payload.to_string().into())
        .await
        .unwrap()
        .await
        .unwrap_or_else(|e| panic!("publish {subject}: {e}"))
        .sequence
}

/// Publishes `n` messages with acks in flight together; returns when all are acked.
async fn publish_many(js: &jetstream::Context, subject: &str, n: usize) {
    let mut acks = Vec::with_capacity(n);
    for i in 0..n {
        acks.push(
            js.publish(subject.to_string(), format!("m{i}").into())
                .await
                .unwrap(),
        );
    }
    for ack in acks {
        ack.await.expect("puback");
    }
}

fn durable(name: &str) -> pull::Config {
    pull::Config {
        durable_name: Some(name.into()),
        ack_policy: AckPolicy::Explicit,
        ..Default::default()
    }
}

async fn consumer(stream: &stream::Stream, config: pull::Config) -> PullConsumer {
    stream
        .create_consumer(config)
        .await
        .unwrap_or_else(|e| panic!("create consumer: {e}"))
}

fn seq(m: &jetstream::Message) -> u64 {
    m.info().expect("JetStream message").stream_sequence
}

fn delivered(m: &jetstream::Message) -> i64 {
    m.info().expect("JetStream message").delivered
}

fn seqs(msgs: &[jetstream::Message]) -> Vec<u64> {
    msgs.iter().map(seq).collect()
}

/// Reads a batch (fetch or batch request) to its end, within the deadline.
async fn collect<S>(batch: S) -> Vec<jetstream::Message>
where
    S: futures::Stream<Item = Result<jetstream::Message, async_nats::Error>>,
{
    tokio::time::timeout(DEADLINE, async {
        let mut batch = std::pin::pin!(batch);
        let mut out = Vec::new();
        while let Some(m) = batch.next().await {
            out.push(m.unwrap_or_else(|e| panic!("batch error: {e}")));
        }
        out
    })
    .await
    .expect("the batch ends within the deadline")
}

/// `fetch` (no wait) of up to `n` messages.
async fn fetch(consumer: &PullConsumer, n: usize) -> Vec<jetstream::Message> {
    collect(consumer.fetch().max_messages(n).messages().await.unwrap()).await
}

/// Fetches until `n` messages arrived (a message just acknowledged by the stream can
/// reach the consumer a moment later), within the deadline.
async fn fetch_n(consumer: &PullConsumer, n: usize) -> Vec<jetstream::Message> {
    let end = Instant::now() + DEADLINE;
    let mut got = Vec::new();
    while got.len() < n {
        assert!(Instant::now() < end, "only {} of {n} messages", got.len());
        got.extend(fetch(consumer, n - got.len()).await);
    }
    got
}

/// Waits until the consumer counts `n` messages pending.
async fn wait_pending(consumer: &PullConsumer, n: u64) {
    poll(&format!("num_pending {n}"), || async {
        info(consumer).await.num_pending == n
    })
    .await;
}

/// The next message of a long-lived `messages()` stream, within the deadline.
async fn next(msgs: &mut pull::Stream) -> jetstream::Message {
    tokio::time::timeout(DEADLINE, msgs.next())
        .await
        .expect("a message within the deadline")
        .expect("stream open")
        .unwrap_or_else(|e| panic!("messages() error: {e}"))
}

/// Asserts that no message arrives on `msgs` during `quiet`.
async fn assert_quiet(msgs: &mut pull::Stream, quiet: Duration) {
    if let Ok(Some(m)) = tokio::time::timeout(quiet, msgs.next()).await {
        match m {
            Ok(m) => panic!(
                "unexpected delivery of {} (delivered {})",
                seq(&m),
                delivered(&m)
            ),
            Err(e) => panic!("unexpected messages() error: {e}"),
        }
    }
}

/// Stream sequence → (receiver, delivery count) of every delivery.
type Seen = Arc<Mutex<BTreeMap<u64, Vec<(usize, i64)>>>>;

async fn info(consumer: &PullConsumer) -> jetstream::consumer::Info {
    consumer.get_info().await.expect("consumer info")
}

// ---------------------------------------------------------------------------------------
// fetch / batch / messages()
// ---------------------------------------------------------------------------------------

async fn fetch_batches_and_no_wait(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let stream = create_stream(&js, "FETCH", &["fetch.>"]).await;
    for i in 1..=10 {
        publish(&js, &format!("fetch.{i}"), "x").await;
    }
    let c = consumer(&stream, durable("C")).await;

    let first = fetch(&c, 4).await;
    assert_eq!(seqs(&first), [1, 2, 3, 4]);
    assert!(first.iter().all(|m| delivered(m) == 1));
    for m in &first {
        m.double_ack().await.expect("ack confirmed");
    }
    // Asking for more than there is returns what there is, without waiting.
    let rest = fetch(&c, 20).await;
    assert_eq!(seqs(&rest), (5..=10).collect::<Vec<_>>());
    // Nothing left: an empty batch, at once.
    assert!(fetch(&c, 5).await.is_empty());

    let i = info(&c).await;
    assert_eq!(i.num_pending, 0);
    assert_eq!(i.num_ack_pending, 6);
    assert_eq!(i.delivered.stream_sequence, 10);
    assert_eq!(i.ack_floor.stream_sequence, 4);

    publish(&js, "fetch.new", "y").await;
    let more = fetch_n(&c, 1).await;
    assert_eq!(seqs(&more), [11]);
    assert_eq!(&more[0].payload[..], b"y");
    assert_eq!(more[0].subject.as_str(), "fetch.new");
}
js_twins!(fetch_batches_and_no_wait => fetch_batches_and_no_wait_sluice, reference_fetch_batches_and_no_wait);

async fn batch_waits_until_expires(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let stream = create_stream(&js, "BATCH", &["batch"]).await;
    for _ in 0..3 {
        publish(&js, "batch", "x").await;
    }
    let c = consumer(&stream, durable("C")).await;

    // Fewer messages than asked for: the request waits for more until it expires.
    let started = Instant::now();
    let got = collect(
        c.batch()
            .max_messages(10)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(seqs(&got), [1, 2, 3]);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "the request ended before it expired: {:?}",
        started.elapsed()
    );
    for m in &got {
        m.ack().await.unwrap();
    }

    // A waiting request is served by messages published while it waits.
    let waiting = c
        .batch()
        .max_messages(2)
        .expires(Duration::from_secs(30))
        .messages()
        .await
        .unwrap();
    let started = Instant::now();
    let waiting = tokio::spawn(collect(waiting));
    poll("the pull request to be waiting", || async {
        info(&c).await.num_waiting == 1
    })
    .await;
    publish(&js, "batch", "late-1").await;
    publish(&js, "batch", "late-2").await;
    let got = waiting.await.unwrap();
    assert_eq!(seqs(&got), [4, 5]);
    assert_eq!(&got[1].payload[..], b"late-2");
    assert!(started.elapsed() < Duration::from_secs(30));
}
js_twins!(batch_waits_until_expires => batch_waits_until_expires_sluice, reference_batch_waits_until_expires);

async fn messages_stream_delivers_everything(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let stream = create_stream(&js, "FLOW", &["flow.*"]).await;
    let c = consumer(&stream, durable("C")).await;
    let mut msgs = c.messages().await.unwrap();
    let publisher = {
        let js = js.clone();
        tokio::spawn(async move {
            for i in 0..500 {
                publish(&js, &format!("flow.{}", i % 7), &i.to_string()).await;
            }
        })
    };
    for expected in 1..=500u64 {
        let m = next(&mut msgs).await;
        assert_eq!(seq(&m), expected);
        assert_eq!(m.payload, (expected - 1).to_string().as_bytes());
        assert_eq!(delivered(&m), 1);
        m.ack().await.unwrap();
    }
    publisher.await.unwrap();
    poll("every message acknowledged", || async {
        let i = info(&c).await;
        i.num_ack_pending == 0 && i.num_pending == 0 && i.ack_floor.stream_sequence == 500
    })
    .await;
}
js_twins!(messages_stream_delivers_everything => messages_stream_delivers_everything_sluice, reference_messages_stream_delivers_everything);

async fn pullers_share_one_durable(server: &mut JsServer) {
    const N: usize = 600;
    let (_client, js) = server.connect().await;
    let stream = create_stream(&js, "SHARE", &["share"]).await;
    let c = consumer(&stream, durable("WORK")).await;
    // Stream sequence → the pullers that received it, with the delivery count.
    let seen: Seen = Arc::default();
    let mut pullers = Vec::new();
    for id in 0..3 {
        let (client, js) = server.connect().await;
        let c: PullConsumer = js
            .get_stream("SHARE")
            .await
            .unwrap()
            .get_consumer("WORK")
            .await
            .unwrap();
        let mut msgs = c
            .stream()
            .max_messages_per_batch(10)
            .messages()
            .await
            .unwrap();
        let seen = seen.clone();
        pullers.push(tokio::spawn(async move {
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
    poll("three pullers waiting", || async {
        info(&c).await.num_waiting == 3
    })
    .await;
    publish_many(&js, "share", N).await;
    poll("every message received", || async {
        seen.lock().len() == N
    })
    .await;
    poll("every message acknowledged", || async {
        let i = info(&c).await;
        i.num_ack_pending == 0 && i.num_pending == 0
    })
    .await;
    for p in &pullers {
        p.abort();
    }
    let seen = seen.lock().clone();
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        (1..=N as u64).collect::<Vec<_>>()
    );
    let mut per_puller = [0usize; 3];
    for (s, deliveries) in &seen {
        assert_eq!(
            deliveries.len(),
            1,
            "message {s} delivered to {deliveries:?}"
        );
        assert_eq!(deliveries[0].1, 1, "message {s} was a redelivery");
        per_puller[deliveries[0].0] += 1;
    }
    assert!(
        per_puller.iter().all(|&n| n > 0),
        "every puller got a share: {per_puller:?}"
    );
    assert_eq!(info(&c).await.num_redelivered, 0);
}
js_twins!(pullers_share_one_durable => pullers_share_one_durable_sluice, reference_pullers_share_one_durable);

async fn max_ack_pending_caps_deliveries(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let stream = create_stream(&js, "CAP", &["cap"]).await;
    for _ in 0..10 {
        publish(&js, "cap", "x").await;
    }
    let c = consumer(
        &stream,
        pull::Config {
            max_ack_pending: 3,
            ..durable("C")
        },
    )
    .await;
    let batch = |n| {
        let c = c.clone();
        async move {
            collect(
                c.batch()
                    .max_messages(n)
                    .expires(Duration::from_millis(300))
                    .messages()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let first = batch(10).await;
    assert_eq!(seqs(&first), [1, 2, 3]);
    let i = info(&c).await;
    assert_eq!((i.num_ack_pending, i.num_pending), (3, 7));

    first[0].double_ack().await.unwrap();
    let second = batch(10).await;
    assert_eq!(seqs(&second), [4], "one ack makes room for one more");

    for m in first[1..].iter().chain(&second) {
        m.double_ack().await.unwrap();
    }
    let third = batch(10).await;
    assert_eq!(seqs(&third), [5, 6, 7]);
    let i = info(&c).await;
    assert_eq!((i.num_ack_pending, i.num_pending), (3, 3));
    assert_eq!(i.ack_floor.stream_sequence, 4);
}
js_twins!(max_ack_pending_caps_deliveries => max_ack_pending_caps_deliveries_sluice, reference_max_ack_pending_caps_deliveries);

// ---------------------------------------------------------------------------------------
// Acks and redelivery
// ---------------------------------------------------------------------------------------

async fn ack_nak_term_progress(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let stream = create_stream(&js, "ACKS", &["acks"]).await;
    for i in 1..=5 {
        publish(&js, "acks", &format!("m{i}")).await;
    }
    let c = consumer(
        &stream,
        pull::Config {
            ack_wait: Duration::from_secs(1),
            ..durable("C")
        },
    )
    .await;
    let mut msgs = c.messages().await.unwrap();
    let mut first = Vec::new();
    for expected in 1..=5 {
        let m = next(&mut msgs).await;
        assert_eq!((seq(&m), delivered(&m)), (expected, 1));
        first.push(m);
    }
    let [m1, m2, m3, m4, m5]: [jetstream::Message; 5] = first.try_into().unwrap();
    let m5_delivered_at = Instant::now();
    // m5 is "still being worked on": +WPI every 200 ms keeps it from being redelivered.
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let progress = tokio::spawn(async move {
        loop {
            m5.ack_with(AckKind::Progress).await.unwrap();
            tokio::select! {
                _ = &mut stop_rx => return m5,
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    });

    m1.double_ack().await.expect("ack confirmed");
    m2.double_ack_with(AckKind::Nak(None))
        .await
        .expect("nak confirmed");
    let nak_delay = Duration::from_secs(2);
    let m3_nak_at = Instant::now();
    m3.double_ack_with(AckKind::Nak(Some(nak_delay)))
        .await
        .expect("nak with delay confirmed");
    m4.double_ack_with(AckKind::Term)
        .await
        .expect("term confirmed");

    // A plain nak comes back at once, as a redelivery.
    let again2 = next(&mut msgs).await;
    assert_eq!((seq(&again2), delivered(&again2)), (2, 2));
    assert_eq!(&again2.payload[..], b"m2");
    again2.double_ack().await.unwrap();
    // A nak with a delay comes back, but not before the delay.
    let again3 = next(&mut msgs).await;
    assert_eq!((seq(&again3), delivered(&again3)), (3, 2));
    assert!(
        m3_nak_at.elapsed() >= nak_delay - Duration::from_millis(100),
        "nak delay not honoured: redelivered after {:?}",
        m3_nak_at.elapsed()
    );
    again3.double_ack().await.unwrap();

    // m5 outlived its ack wait twice over thanks to +WPI; now it is done.
    assert!(m5_delivered_at.elapsed() > Duration::from_secs(2));
    stop_tx.send(()).unwrap();
    let m5 = progress.await.unwrap();
    m5.double_ack().await.expect("ack confirmed");

    // Nothing else comes back: m1 and m5 acked, m4 terminated.
    assert_quiet(&mut msgs, Duration::from_millis(1500)).await;
    let i = info(&c).await;
    assert_eq!(i.num_ack_pending, 0);
    assert_eq!(i.num_pending, 0);
    assert_eq!(i.delivered.stream_sequence, 5);
    assert_eq!(i.delivered.consumer_sequence, 7);
    assert_eq!(i.ack_floor.stream_sequence, 5);
    assert_eq!(i.ack_floor.consumer_sequence, 7);
}
js_twins!(ack_nak_term_progress => ack_nak_term_progress_sluice, reference_ack_nak_term_progress);

async fn ack_wait_redelivers_until_max_deliver(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let stream = create_stream(&js, "REDO", &["redo"]).await;
    publish(&js, "redo", "never-acked").await;
    publish(&js, "redo", "acked-second-time").await;
    let c = consumer(
        &stream,
        pull::Config {
            ack_wait: Duration::from_secs(1),
            max_deliver: 3,
            ..durable("C")
        },
    )
    .await;
    let mut msgs = c.messages().await.unwrap();
    let mut deliveries: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    // Message 1 is never acked: delivered 3 times (max_deliver). Message 2 is acked on
    // its second delivery.
    while deliveries.get(&1).map_or(0, Vec::len) < 3 || deliveries.get(&2).map_or(0, Vec::len) < 2 {
        let m = next(&mut msgs).await;
        let s = seq(&m);
        deliveries.entry(s).or_default().push(delivered(&m));
        if s == 2 && delivered(&m) == 2 {
            m.double_ack().await.unwrap();
        }
    }
    assert_eq!(deliveries[&1], [1, 2, 3]);
    assert_eq!(deliveries[&2], [1, 2]);
    // No fourth delivery, however long we wait past the ack wait.
    assert_quiet(&mut msgs, Duration::from_millis(2500)).await;
    let i = info(&c).await;
    assert_eq!(i.delivered.stream_sequence, 2);
    assert_eq!(i.delivered.consumer_sequence, 5);
    assert_eq!(i.num_pending, 0);
}
js_twins!(ack_wait_redelivers_until_max_deliver => ack_wait_redelivers_until_max_deliver_sluice, reference_ack_wait_redelivers_until_max_deliver);

async fn backoff_spaces_redeliveries(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let stream = create_stream(&js, "BACKOFF", &["backoff"]).await;
    publish(&js, "backoff", "x").await;
    // No ack_wait: the default (30 s) would be far longer than the backoff steps.
    let c = consumer(
        &stream,
        pull::Config {
            backoff: vec![Duration::from_millis(200), Duration::from_millis(1000)],
            max_deliver: 4,
            ..durable("C")
        },
    )
    .await;
    let mut msgs = c.messages().await.unwrap();
    let mut times = Vec::new();
    for expected in 1..=4 {
        let m = next(&mut msgs).await;
        assert_eq!((seq(&m), delivered(&m)), (1, expected));
        times.push(Instant::now());
    }
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // 200 ms, then 1 s, then the last step again (with slack for delivery latency).
    assert!(gaps[0] >= Duration::from_millis(150), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(800), "{gaps:?}");
    assert!(gaps[2] >= Duration::from_millis(800), "{gaps:?}");
    assert_eq!(info(&c).await.config.backoff.len(), 2);
}
js_twins!(backoff_spaces_redeliveries => backoff_spaces_redeliveries_sluice, reference_backoff_spaces_redeliveries);

// ---------------------------------------------------------------------------------------
// What a consumer sees: filters and deliver policies
// ---------------------------------------------------------------------------------------

async fn filter_subject_and_subjects(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let stream = create_stream(&js, "ORDERS", &["orders.>"]).await;
    for subject in [
        "orders.new.1",
        "orders.paid.1",
        "orders.new.2",
        "orders.shipped.1",
        "orders.paid.2",
    ] {
        publish(&js, subject, subject).await;
    }
    let one = consumer(
        &stream,
        pull::Config {
            filter_subject: "orders.new.*".into(),
            ..durable("NEW")
        },
    )
    .await;
    let many = consumer(
        &stream,
        pull::Config {
            filter_subjects: vec!["orders.new.*".into(), "orders.shipped.>".into()],
            ..durable("NEW_OR_SHIPPED")
        },
    )
    .await;
    assert_eq!(info(&one).await.num_pending, 2);
    assert_eq!(info(&many).await.num_pending, 3);

    publish(&js, "orders.paid.3", "orders.paid.3").await; // 6: neither
    publish(&js, "orders.shipped.2", "orders.shipped.2").await; // 7: many
    publish(&js, "orders.new.3", "orders.new.3").await; // 8: both
    wait_pending(&one, 3).await;
    wait_pending(&many, 5).await;

    let got = fetch_n(&one, 3).await;
    assert_eq!(seqs(&got), [1, 3, 8]);
    assert!(got.iter().all(|m| m.subject.starts_with("orders.new.")));
    let got = fetch_n(&many, 5).await;
    assert_eq!(seqs(&got), [1, 3, 4, 7, 8]);
    assert!(got.iter().all(|m| m.payload == m.subject.as_bytes()));
    assert_eq!(info(&one).await.num_pending, 0);
    assert_eq!(info(&many).await.num_pending, 0);
}
js_twins!(filter_subject_and_subjects => filter_subject_and_subjects_sluice, reference_filter_subject_and_subjects);

async fn deliver_policies(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let stream = create_stream(&js, "DP", &["dp.*"]).await;
    // 1 dp.a, 2 dp.b, 3 dp.a, 4 dp.c, 5 dp.b
    for subject in ["dp.a", "dp.b", "dp.a", "dp.c", "dp.b"] {
        publish(&js, subject, subject).await;
    }
    let start_time = stream.get_raw_message(4).await.unwrap().time;
    let policies = [
        ("ALL", DeliverPolicy::All),
        ("LAST", DeliverPolicy::Last),
        ("NEW", DeliverPolicy::New),
        (
            "BY_SEQ",
            DeliverPolicy::ByStartSequence { start_sequence: 3 },
        ),
        ("BY_TIME", DeliverPolicy::ByStartTime { start_time }),
        ("LAST_PER_SUBJECT", DeliverPolicy::LastPerSubject),
    ];
    let mut consumers = Vec::new();
    for (name, deliver_policy) in policies {
        // nats-server wants a filter with last_per_subject (10094 without one).
        let filter_subject = match deliver_policy {
            DeliverPolicy::LastPerSubject => "dp.*".to_string(),
            _ => String::new(),
        };
        consumers.push((
            name,
            consumer(
                &stream,
                pull::Config {
                    deliver_policy,
                    filter_subject,
                    ..durable(name)
                },
            )
            .await,
        ));
    }
    // 6 arrives after every consumer exists.
    publish(&js, "dp.d", "dp.d").await;
    let expected: [(&str, Vec<u64>); 6] = [
        ("ALL", vec![1, 2, 3, 4, 5, 6]),
        ("LAST", vec![5, 6]),
        ("NEW", vec![6]),
        ("BY_SEQ", vec![3, 4, 5, 6]),
        ("BY_TIME", vec![4, 5, 6]),
        ("LAST_PER_SUBJECT", vec![3, 4, 5, 6]),
    ];
    for ((name, c), (expected_name, expected)) in consumers.iter().zip(expected) {
        assert_eq!(*name, expected_name);
        wait_pending(c, expected.len() as u64).await;
        let got = fetch_n(c, expected.len()).await;
        assert_eq!(seqs(&got), expected, "{name}");
        // Consumer sequences count deliveries from 1 whatever the start.
        let consumer_seqs: Vec<u64> = got
            .iter()
            .map(|m| m.info().unwrap().consumer_sequence)
            .collect();
        assert_eq!(
            consumer_seqs,
            (1..=expected.len() as u64).collect::<Vec<_>>(),
            "{name}"
        );
    }
}
js_twins!(deliver_policies => deliver_policies_sluice, reference_deliver_policies);

// ---------------------------------------------------------------------------------------
// Consumer info and lifetime
// ---------------------------------------------------------------------------------------

async fn consumer_info_numbers(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let stream = create_stream(&js, "NUMS", &["nums"]).await;
    for _ in 0..10 {
        publish(&js, "nums", "x").await;
    }
    let c = consumer(&stream, durable("C")).await;
    let check = |i: jetstream::consumer::Info, expect: [u64; 7], step: &str| {
        let got = [
            i.num_pending,
            i.num_ack_pending as u64,
            i.num_redelivered as u64,
            i.delivered.consumer_sequence,
            i.delivered.stream_sequence,
            i.ack_floor.consumer_sequence,
            i.ack_floor.stream_sequence,
        ];
        assert_eq!(
            got, expect,
            "{step}: [num_pending, num_ack_pending, num_redelivered, delivered.consumer_seq, \
             delivered.stream_seq, ack_floor.consumer_seq, ack_floor.stream_seq]"
        );
    };
    check(info(&c).await, [10, 0, 0, 0, 0, 0, 0], "created");

    let got = fetch(&c, 4).await;
    assert_eq!(seqs(&got), [1, 2, 3, 4]);
    check(info(&c).await, [6, 4, 0, 4, 4, 0, 0], "four delivered");

    got[0].double_ack().await.unwrap();
    got[1].double_ack().await.unwrap();
    check(info(&c).await, [6, 2, 0, 4, 4, 2, 2], "1 and 2 acked");

    got[3].double_ack().await.unwrap();
    check(
        info(&c).await,
        [6, 1, 0, 4, 4, 2, 2],
        "4 acked, 3 not: floor stays",
    );

    got[2].double_ack_with(AckKind::Nak(None)).await.unwrap();
    let again = fetch(&c, 1).await;
    assert_eq!(seqs(&again), [3]);
    assert_eq!(delivered(&again[0]), 2);
    assert_eq!(again[0].info().unwrap().consumer_sequence, 5);
    check(info(&c).await, [6, 1, 1, 5, 4, 2, 2], "3 redelivered");

    again[0].double_ack().await.unwrap();
    check(
        info(&c).await,
        [6, 0, 0, 5, 4, 5, 4],
        "3 acked: floor moves up",
    );

    publish(&js, "nums", "x").await;
    publish(&js, "nums", "x").await;
    wait_pending(&c, 8).await;
    check(info(&c).await, [8, 0, 0, 5, 4, 5, 4], "two more published");

    let rest = fetch_n(&c, 8).await;
    assert_eq!(seqs(&rest), (5..=12).collect::<Vec<_>>());
    for m in &rest {
        m.double_ack().await.unwrap();
    }
    check(
        info(&c).await,
        [0, 0, 0, 13, 12, 13, 12],
        "everything acked",
    );
}
js_twins!(consumer_info_numbers => consumer_info_numbers_sluice, reference_consumer_info_numbers);

async fn ephemeral_consumer_vanishes_when_inactive(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let stream = create_stream(&js, "EPH", &["eph"]).await;
    publish(&js, "eph", "x").await;
    let ephemeral = consumer(
        &stream,
        pull::Config {
            ack_policy: AckPolicy::Explicit,
            inactive_threshold: Duration::from_millis(500),
            ..Default::default()
        },
    )
    .await;
    let name = info(&ephemeral).await.name;
    assert!(info(&ephemeral).await.config.durable_name.is_none());
    let kept = consumer(&stream, durable("KEPT")).await;
    let got = fetch(&ephemeral, 1).await;
    assert_eq!(seqs(&got), [1]);
    got[0].double_ack().await.unwrap();

    poll("the inactive ephemeral consumer to be removed", || async {
        stream.consumer_info(&name).await.is_err()
    })
    .await;
    let names: Vec<String> = stream.consumer_names().map(|n| n.unwrap()).collect().await;
    assert_eq!(names, ["KEPT"]);
    assert_eq!(info(&kept).await.num_pending, 1);
}
js_twins!(ephemeral_consumer_vanishes_when_inactive => ephemeral_consumer_vanishes_when_inactive_sluice, reference_ephemeral_consumer_vanishes_when_inactive);
