//! Retention with consumers, as a user sees it in stream and consumer info: a work-queue
//! stream drops what was acknowledged and refuses a second consumer for the same
//! messages; an interest stream drops a message once every consumer acknowledged it; a
//! limits stream keeps it; purges and deletes show in a consumer's `num_pending`.
//!
//! Each scenario runs against Sluice (`<name>`) and, ignored by default, against a real
//! nats-server (`reference_<name>`): `cargo test --test jetstream_consumers_retention --
//! --ignored` proves the expectations are nats-server's.

mod common;

use async_nats::jetstream::consumer::{pull, AckPolicy, PullConsumer};
use async_nats::jetstream::{self, stream};
use common::jetstream::{api, assert_error, poll, JsServer};
use common::DEADLINE;
use futures::StreamExt;

async fn create_stream(
    js: &jetstream::Context,
    name: &str,
    subjects: &[&str],
    retention: stream::RetentionPolicy,
) -> stream::Stream {
    js.create_stream(stream::Config {
        name: name.into(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        retention,
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("create stream {name}: {e}"))
}

async fn publish(js: &jetstream::Context, subject: &str) -> u64 {
    js.publish(subject.to_string(), "x".into())
        .await
        .unwrap()
        .await
        .unwrap_or_else(|e| panic!("publish {subject}: {e}"))
        .sequence
}

async fn consumer(stream: &stream::Stream, name: &str, filter: &str) -> PullConsumer {
    stream
        .create_consumer(pull::Config {
            durable_name: Some(name.into()),
            ack_policy: AckPolicy::Explicit,
            filter_subject: filter.into(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("create consumer {name}: {e}"))
}

async fn fetch(c: &PullConsumer, n: usize) -> Vec<jetstream::Message> {
    tokio::time::timeout(DEADLINE, async {
        let mut batch = c.fetch().max_messages(n).messages().await.unwrap();
        let mut out = Vec::new();
        while let Some(m) = batch.next().await {
            out.push(m.unwrap_or_else(|e| panic!("fetch error: {e}")));
        }
        out
    })
    .await
    .expect("fetch ends within the deadline")
}

/// Fetches until `n` messages arrived (a message just acknowledged by the stream can
/// reach the consumer a moment later), within the deadline.
async fn fetch_n(c: &PullConsumer, n: usize) -> Vec<jetstream::Message> {
    let end = tokio::time::Instant::now() + DEADLINE;
    let mut got = Vec::new();
    while got.len() < n {
        assert!(
            tokio::time::Instant::now() < end,
            "only {} of {n} messages",
            got.len()
        );
        got.extend(fetch(c, n - got.len()).await);
    }
    got
}

async fn wait_pending(c: &PullConsumer, n: u64) {
    poll(&format!("num_pending {n}"), || async {
        num_pending(c).await == n
    })
    .await;
}

fn seqs(msgs: &[jetstream::Message]) -> Vec<u64> {
    msgs.iter()
        .map(|m| m.info().unwrap().stream_sequence)
        .collect()
}

async fn ack_all(msgs: &[jetstream::Message]) {
    for m in msgs {
        m.double_ack().await.expect("ack confirmed");
    }
}

/// (messages, first_seq, last_seq) of a stream.
async fn state(stream: &stream::Stream) -> (u64, u64, u64) {
    let s = stream.get_info().await.unwrap().state;
    (s.messages, s.first_sequence, s.last_sequence)
}

async fn wait_state(stream: &stream::Stream, expected: (u64, u64, u64)) {
    poll(&format!("stream state {expected:?}"), || async {
        state(stream).await == expected
    })
    .await;
}

async fn num_pending(c: &PullConsumer) -> u64 {
    c.get_info().await.unwrap().num_pending
}

async fn work_queue_removes_acked_and_refuses_overlap(server: &mut JsServer) {
    let (client, js) = server.connect().await;
    let wq = create_stream(&js, "WQ", &["wq.*"], stream::RetentionPolicy::WorkQueue).await;
    for _ in 0..10 {
        publish(&js, "wq.a").await;
    }
    let a = consumer(&wq, "A", "").await;

    // A second consumer on the same messages is refused.
    let second = api(
        &client,
        "$JS.API.CONSUMER.CREATE.WQ.B",
        r#"{"stream_name":"WQ","config":{"durable_name":"B","ack_policy":"explicit"}}"#,
    )
    .await;
    assert_error(
        &second,
        400,
        10099,
        "multiple non-filtered consumers not allowed on workqueue stream",
    );
    let filtered = api(
        &client,
        "$JS.API.CONSUMER.CREATE.WQ.B",
        r#"{"stream_name":"WQ","config":{"durable_name":"B","ack_policy":"explicit","filter_subject":"wq.b"}}"#,
    )
    .await;
    // A filtered one overlaps the unfiltered one just as well.
    assert_error(
        &filtered,
        400,
        10100,
        "filtered consumer not unique on workqueue stream",
    );

    let got = fetch(&a, 10).await;
    assert_eq!(seqs(&got), (1..=10).collect::<Vec<_>>());
    // Delivered but not acknowledged: still there.
    assert_eq!(state(&wq).await, (10, 1, 10));
    ack_all(&got[..6]).await;
    wait_state(&wq, (4, 7, 10)).await;
    ack_all(&got[6..]).await;
    wait_state(&wq, (0, 11, 10)).await;
    assert_eq!(num_pending(&a).await, 0);
    assert_eq!(a.get_info().await.unwrap().num_ack_pending, 0);

    // New work goes the same way.
    assert_eq!(publish(&js, "wq.z").await, 11);
    let got = fetch_n(&a, 1).await;
    assert_eq!(seqs(&got), [11]);
    ack_all(&got).await;
    wait_state(&wq, (0, 12, 11)).await;
}
js_twins!(work_queue_removes_acked_and_refuses_overlap => work_queue_removes_acked_and_refuses_overlap_sluice, reference_work_queue_removes_acked_and_refuses_overlap);

async fn work_queue_filtered_consumers_must_not_overlap(server: &mut JsServer) {
    let (client, js) = server.connect().await;
    let wq = create_stream(&js, "JOBS", &["job.*"], stream::RetentionPolicy::WorkQueue).await;
    let a = consumer(&wq, "A", "job.a").await;
    let same = api(
        &client,
        "$JS.API.CONSUMER.CREATE.JOBS.B",
        r#"{"stream_name":"JOBS","config":{"durable_name":"B","ack_policy":"explicit","filter_subject":"job.a"}}"#,
    )
    .await;
    assert_error(
        &same,
        400,
        10100,
        "filtered consumer not unique on workqueue stream",
    );
    let wider = api(
        &client,
        "$JS.API.CONSUMER.CREATE.JOBS.W",
        r#"{"stream_name":"JOBS","config":{"durable_name":"W","ack_policy":"explicit","filter_subject":"job.*"}}"#,
    )
    .await;
    assert_error(
        &wider,
        400,
        10100,
        "filtered consumer not unique on workqueue stream",
    );
    let b = consumer(&wq, "B", "job.b").await;

    publish(&js, "job.a").await;
    publish(&js, "job.b").await;
    publish(&js, "job.a").await;
    let got_a = fetch_n(&a, 2).await;
    let got_b = fetch_n(&b, 1).await;
    assert_eq!(seqs(&got_a), [1, 3]);
    assert_eq!(seqs(&got_b), [2]);
    ack_all(&got_b).await;
    wait_state(&wq, (2, 1, 3)).await;
    ack_all(&got_a).await;
    wait_state(&wq, (0, 4, 3)).await;
}
js_twins!(work_queue_filtered_consumers_must_not_overlap => work_queue_filtered_consumers_must_not_overlap_sluice, reference_work_queue_filtered_consumers_must_not_overlap);

async fn interest_removes_once_every_consumer_acked(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let s = create_stream(&js, "INT", &["int"], stream::RetentionPolicy::Interest).await;
    let a = consumer(&s, "A", "").await;
    let b = consumer(&s, "B", "").await;
    for _ in 0..5 {
        publish(&js, "int").await;
    }
    assert_eq!(state(&s).await, (5, 1, 5));

    let got_a = fetch_n(&a, 5).await;
    assert_eq!(seqs(&got_a), [1, 2, 3, 4, 5]);
    ack_all(&got_a).await;
    // B has not acknowledged anything: everything stays.
    assert_eq!(state(&s).await, (5, 1, 5));
    wait_pending(&b, 5).await;

    let got_b = fetch_n(&b, 5).await;
    assert_eq!(seqs(&got_b), [1, 2, 3, 4, 5]);
    ack_all(&got_b[..3]).await;
    wait_state(&s, (2, 4, 5)).await;
    ack_all(&got_b[3..]).await;
    wait_state(&s, (0, 6, 5)).await;
}
js_twins!(interest_removes_once_every_consumer_acked => interest_removes_once_every_consumer_acked_sluice, reference_interest_removes_once_every_consumer_acked);

async fn limits_keeps_acknowledged_messages(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let s = create_stream(&js, "LIM", &["lim"], stream::RetentionPolicy::Limits).await;
    let a = consumer(&s, "A", "").await;
    for _ in 0..5 {
        publish(&js, "lim").await;
    }
    let got = fetch_n(&a, 5).await;
    ack_all(&got).await;
    poll("A to have acknowledged everything", || async {
        a.get_info().await.unwrap().ack_floor.stream_sequence == 5
    })
    .await;
    assert_eq!(state(&s).await, (5, 1, 5));
    // A consumer created afterwards still finds everything.
    let late = consumer(&s, "LATE", "").await;
    assert_eq!(num_pending(&late).await, 5);
    assert_eq!(seqs(&fetch(&late, 10).await), [1, 2, 3, 4, 5]);
}
js_twins!(limits_keeps_acknowledged_messages => limits_keeps_acknowledged_messages_sluice, reference_limits_keeps_acknowledged_messages);

async fn purge_and_delete_show_in_num_pending(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let s = create_stream(&js, "PD", &["pd.*"], stream::RetentionPolicy::Limits).await;
    // Odd sequences on pd.odd, even ones on pd.even.
    for i in 1..=10u64 {
        let subject = if i % 2 == 1 { "pd.odd" } else { "pd.even" };
        assert_eq!(publish(&js, subject).await, i);
    }
    let c = consumer(&s, "C", "").await;
    assert_eq!(num_pending(&c).await, 10);
    let got = fetch(&c, 2).await;
    assert_eq!(seqs(&got), [1, 2]);
    ack_all(&got).await;
    assert_eq!(num_pending(&c).await, 8);

    assert!(s.delete_message(5).await.unwrap());
    assert_eq!(num_pending(&c).await, 7, "3 4 6 7 8 9 10");
    assert!(s.delete_message(1).await.unwrap());
    assert_eq!(
        num_pending(&c).await,
        7,
        "deleting a delivered message changes nothing"
    );

    let purged = s.purge().filter("pd.even").await.unwrap();
    assert_eq!(purged.purged, 5);
    assert_eq!(num_pending(&c).await, 3, "3 7 9");
    let got = fetch(&c, 1).await;
    assert_eq!(seqs(&got), [3]);
    assert_eq!(num_pending(&c).await, 2);

    let purged = s.purge().await.unwrap();
    assert_eq!(purged.purged, 3);
    assert_eq!(num_pending(&c).await, 0);
    assert_eq!(state(&s).await, (0, 11, 10));

    for i in 11..=13 {
        assert_eq!(publish(&js, "pd.odd").await, i);
    }
    wait_pending(&c, 3).await;
    let got = fetch_n(&c, 3).await;
    assert_eq!(seqs(&got), [11, 12, 13]);
    ack_all(&got).await;
    let i = c.get_info().await.unwrap();
    assert_eq!((i.num_pending, i.num_ack_pending), (0, 0));
    assert_eq!(i.ack_floor.stream_sequence, 13);
}
js_twins!(purge_and_delete_show_in_num_pending => purge_and_delete_show_in_num_pending_sluice, reference_purge_and_delete_show_in_num_pending);
