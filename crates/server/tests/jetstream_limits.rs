//! Stream limits: max_msgs, max_bytes, max_msgs_per_subject with discard old and new,
//! discard_new_per_subject, max_msg_size, max_age expiry without further publishes, and
//! no_ack streams. Error acks are nats-server 2.15.1's.

mod common;

use common::jetstream::{poll, setup};

use std::time::Duration;

use async_nats::jetstream::stream;
use serde_json::Value;
use tokio::time::Instant;

/// Creates a stream from raw JSON (then one more round trip, so its subjects are
/// surely captured; see jetstream_publish.rs for the race this sidesteps).
async fn create(client: &async_nats::Client, name: &str, config: &str) {
    let reply = client
        .request(
            format!("$JS.API.STREAM.CREATE.{name}"),
            config.to_string().into(),
        )
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&reply.payload).unwrap();
    assert!(v.get("error").is_none(), "create {name}: {v}");
    client
        .request(format!("$JS.API.STREAM.INFO.{name}"), "".into())
        .await
        .unwrap();
}

/// Publishes with a reply; the ack as JSON.
async fn publish(client: &async_nats::Client, subject: &str, payload: &str) -> Value {
    let msg = client
        .request(subject.to_string(), payload.to_string().into())
        .await
        .unwrap_or_else(|e| panic!("publish {subject}: {e}"));
    serde_json::from_slice(&msg.payload).unwrap()
}

#[track_caller]
fn assert_seq(ack: &Value, seq: u64) {
    assert!(ack.get("error").is_none(), "expected seq {seq}, got {ack}");
    assert_eq!(ack["seq"], seq, "{ack}");
}

#[track_caller]
fn assert_refused(ack: &Value, code: u64, err_code: u64, description: &str) {
    assert_eq!(
        (
            ack["error"]["code"].as_u64(),
            ack["error"]["err_code"].as_u64(),
            ack["error"]["description"].as_str(),
            ack["seq"].as_u64()
        ),
        (Some(code), Some(err_code), Some(description), Some(0)),
        "{ack}"
    );
}

async fn state(client: &async_nats::Client, name: &str) -> Value {
    let reply = client
        .request(
            format!("$JS.API.STREAM.INFO.{name}"),
            r#"{"subjects_filter":">"}"#.into(),
        )
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&reply.payload).unwrap();
    v["state"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_msgs_discard_old_drops_the_oldest() {
    let s = setup().await;
    create(
        &s.client,
        "MMO",
        r#"{"name":"MMO","subjects":["mmo"],"max_msgs":5}"#,
    )
    .await;
    for i in 1..=8 {
        assert_seq(&publish(&s.client, "mmo", &format!("m{i}")).await, i);
    }
    let st = state(&s.client, "MMO").await;
    assert_eq!(
        (&st["messages"], &st["first_seq"], &st["last_seq"]),
        (&Value::from(5), &Value::from(4), &Value::from(8))
    );
    let stream = s.js.get_stream("MMO").await.unwrap();
    assert!(stream.get_raw_message(3).await.is_err(), "seq 3 dropped");
    assert_eq!(&stream.get_raw_message(4).await.unwrap().payload[..], b"m4");
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_msgs_discard_new_refuses() {
    let s = setup().await;
    create(
        &s.client,
        "MMN",
        r#"{"name":"MMN","subjects":["mmn"],"max_msgs":3,"discard":"new"}"#,
    )
    .await;
    for i in 1..=3 {
        assert_seq(&publish(&s.client, "mmn", "x").await, i);
    }
    assert_refused(
        &publish(&s.client, "mmn", "x").await,
        503,
        10077,
        "maximum messages exceeded",
    );
    let st = state(&s.client, "MMN").await;
    assert_eq!(
        (&st["messages"], &st["last_seq"]),
        (&Value::from(3), &Value::from(3))
    );
    // Making room lets the next one in, with the next sequence.
    s.client
        .request("$JS.API.STREAM.PURGE.MMN", r#"{"keep":1}"#.into())
        .await
        .unwrap();
    assert_seq(&publish(&s.client, "mmn", "x").await, 4);
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_bytes_discard_old_and_new() {
    let s = setup().await;
    // File store accounting: 22 + subject + payload + 8 = 63 bytes per message here.
    let payload = "x".repeat(30);
    create(
        &s.client,
        "MBO",
        r#"{"name":"MBO","subjects":["mbo"],"max_bytes":200}"#,
    )
    .await;
    create(
        &s.client,
        "MBN",
        r#"{"name":"MBN","subjects":["mbn"],"max_bytes":200,"discard":"new"}"#,
    )
    .await;
    for i in 1..=5 {
        assert_seq(&publish(&s.client, "mbo", &payload).await, i);
    }
    let st = state(&s.client, "MBO").await;
    assert_eq!(st["messages"], 3);
    assert_eq!(st["bytes"], 189);
    assert_eq!(st["first_seq"], 3);

    for i in 1..=3 {
        assert_seq(&publish(&s.client, "mbn", &payload).await, i);
    }
    assert_refused(
        &publish(&s.client, "mbn", &payload).await,
        503,
        10077,
        "maximum bytes exceeded",
    );
    // One message larger than the whole limit is refused on its own.
    let huge = "y".repeat(300);
    assert_refused(
        &publish(&s.client, "mbn", &huge).await,
        503,
        10077,
        "maximum bytes exceeded",
    );
    let st = state(&s.client, "MBN").await;
    assert_eq!(
        (&st["messages"], &st["bytes"]),
        (&Value::from(3), &Value::from(189))
    );
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_msgs_per_subject_keeps_the_newest_per_subject() {
    let s = setup().await;
    create(
        &s.client,
        "MPS",
        r#"{"name":"MPS","subjects":["mps.*"],"max_msgs_per_subject":2}"#,
    )
    .await;
    // discard:new without discard_new_per_subject still discards old per subject.
    create(
        &s.client,
        "MPSN",
        r#"{"name":"MPSN","subjects":["mpsn.*"],"max_msgs_per_subject":2,"discard":"new"}"#,
    )
    .await;
    for (i, subj) in ["a", "b", "a", "a", "b", "a", "c"].iter().enumerate() {
        assert_seq(
            &publish(&s.client, &format!("mps.{subj}"), &format!("{i}")).await,
            i as u64 + 1,
        );
        assert_seq(
            &publish(&s.client, &format!("mpsn.{subj}"), &format!("{i}")).await,
            i as u64 + 1,
        );
    }
    for name in ["MPS", "MPSN"] {
        let st = state(&s.client, name).await;
        let prefix = name.to_lowercase();
        assert_eq!(st["messages"], 5, "{name}: {st}");
        assert_eq!(
            st["subjects"],
            serde_json::json!({
                format!("{prefix}.a"): 2,
                format!("{prefix}.b"): 2,
                format!("{prefix}.c"): 1
            }),
            "{name}"
        );
        let stream = s.js.get_stream(name).await.unwrap();
        let last_a = stream
            .get_last_raw_message_by_subject(&format!("{prefix}.a"))
            .await
            .unwrap();
        assert_eq!(last_a.sequence, 6);
        // a's oldest two (1 and 3) are gone.
        let first_a = stream
            .get_first_raw_message_by_subject(format!("{prefix}.a"), 1)
            .await
            .unwrap();
        assert_eq!(first_a.sequence, 4);
    }
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discard_new_per_subject_refuses_per_subject() {
    let s = setup().await;
    create(
        &s.client,
        "DNPS",
        r#"{"name":"DNPS","subjects":["dnps.*"],"max_msgs_per_subject":2,"discard":"new","discard_new_per_subject":true}"#,
    )
    .await;
    assert_seq(&publish(&s.client, "dnps.a", "1").await, 1);
    assert_seq(&publish(&s.client, "dnps.a", "2").await, 2);
    assert_refused(
        &publish(&s.client, "dnps.a", "3").await,
        503,
        10077,
        "maximum messages per subject exceeded",
    );
    // Another subject still has room.
    assert_seq(&publish(&s.client, "dnps.b", "1").await, 3);
    let st = state(&s.client, "DNPS").await;
    assert_eq!(
        st["subjects"],
        serde_json::json!({"dnps.a": 2, "dnps.b": 1})
    );
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_msg_size_counts_headers_and_payload() {
    let s = setup().await;
    create(
        &s.client,
        "MSZ",
        r#"{"name":"MSZ","subjects":["msz"],"max_msg_size":10}"#,
    )
    .await;
    assert_seq(&publish(&s.client, "msz", "0123456789").await, 1);
    assert_refused(
        &publish(&s.client, "msz", "0123456789a").await,
        400,
        10054,
        "message size exceeds maximum allowed",
    );
    let mut h = async_nats::HeaderMap::new();
    h.insert("A", "b");
    let msg = s
        .client
        .request_with_headers("msz", h, "01234".into())
        .await
        .unwrap();
    assert_refused(
        &serde_json::from_slice(&msg.payload).unwrap(),
        400,
        10054,
        "message size exceeds maximum allowed",
    );
    assert_eq!(state(&s.client, "MSZ").await["messages"], 1);
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_age_expires_messages_on_time_without_new_publishes() {
    let s = setup().await;
    let mut stream =
        s.js.create_stream(stream::Config {
            name: "AGE".into(),
            subjects: vec!["age.*".into()],
            max_age: Duration::from_secs(1),
            ..Default::default()
        })
        .await
        .unwrap();
    let _ = stream.info().await.unwrap();
    assert_eq!(
        stream.cached_info().config.duplicate_window,
        Duration::from_secs(1)
    );
    let start = Instant::now();
    for i in 0..3 {
        s.js.publish(format!("age.{i}"), "old".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let published = Instant::now();
    // Nothing but INFO requests from here on.
    let end = Instant::now() + common::DEADLINE;
    let gone_at = loop {
        let st = state(&s.client, "AGE").await;
        if st["messages"] == 0 {
            assert_eq!(st["first_seq"], 4, "{st}");
            assert_eq!(st["last_seq"], 3, "{st}");
            break Some(Instant::now());
        }
        assert!(Instant::now() < end, "messages never expired: {st}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let gone_at = gone_at.unwrap();
    assert!(
        gone_at - start >= Duration::from_millis(950),
        "expired too early: {:?}",
        gone_at - start
    );
    assert!(
        gone_at - published <= Duration::from_millis(5000),
        "expired late: {:?} after the last publish",
        gone_at - published
    );
    let ack =
        s.js.publish("age.new", "new".into())
            .await
            .unwrap()
            .await
            .unwrap();
    assert_eq!(ack.sequence, 4);
    assert_eq!(stream.info().await.unwrap().state.messages, 1);
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_ack_stream_stores_without_replying() {
    let s = setup().await;
    create(
        &s.client,
        "NOACK",
        r#"{"name":"NOACK","subjects":["noack.*"],"no_ack":true}"#,
    )
    .await;
    let info = s.js.get_stream("NOACK").await.unwrap();
    assert!(info.cached_info().config.no_ack);
    // A request gets no PubAck (and no "no responders" either).
    let reply = s
        .client
        .send_request(
            "noack.a",
            async_nats::Request::new()
                .payload("with reply".into())
                .timeout(Some(Duration::from_millis(300))),
        )
        .await;
    match reply {
        Err(e) => assert_eq!(e.kind(), async_nats::RequestErrorKind::TimedOut, "{e}"),
        Ok(m) => panic!("no_ack stream replied: {:?} {:?}", m.status, m.payload),
    }
    s.client.publish("noack.b", "plain".into()).await.unwrap();
    s.client.flush().await.unwrap();
    let client = &s.client;
    poll("both messages stored", || async move {
        state(client, "NOACK").await["messages"] == 2
    })
    .await;
    let stream = s.js.get_stream("NOACK").await.unwrap();
    assert_eq!(
        &stream.get_raw_message(1).await.unwrap().payload[..],
        b"with reply"
    );
    assert_eq!(
        &stream.get_raw_message(2).await.unwrap().payload[..],
        b"plain"
    );
    s.server.shutdown().await;
}
