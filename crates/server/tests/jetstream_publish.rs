//! Publishing into streams: PubAcks, core publishes without a reply, de-duplication by
//! `Nats-Msg-Id`, and the `Nats-Expected-*` headers with nats-server's error codes,
//! through async-nats and through raw requests (to see the exact ack bytes).

mod common;

use common::jetstream::{poll, setup};

use std::time::Duration;

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage as Publish;
use async_nats::jetstream::{self, stream};
use async_nats::HeaderMap;
use serde_json::Value;
use tokio::time::Instant;

/// Creates a stream, then does one more API round trip so the stream's subjects are
/// surely captured before the test publishes (see `publish_right_after_create_is_captured`
/// for the race this sidesteps).
async fn create(js: &jetstream::Context, cfg: stream::Config) -> stream::Stream {
    let name = cfg.name.clone();
    js.create_stream(cfg).await.expect("create stream");
    js.get_stream(name).await.expect("stream info")
}

/// A publish as a raw request with headers; returns the reply payload as text.
async fn pub_raw(
    client: &async_nats::Client,
    subject: &str,
    headers: &[(&str, &str)],
    payload: &str,
) -> String {
    let mut h = HeaderMap::new();
    for (k, v) in headers {
        h.insert(*k, *v);
    }
    let msg = client
        .request_with_headers(subject.to_string(), h, payload.to_string().into())
        .await
        .unwrap_or_else(|e| panic!("publish to {subject}: {e}"));
    assert!(msg.status.is_none(), "status reply {:?}", msg.status);
    String::from_utf8(msg.payload.to_vec()).expect("utf-8 ack")
}

fn error_of(ack: &str) -> (u64, u64, String) {
    let v: Value = serde_json::from_str(ack).unwrap_or_else(|e| panic!("{ack}: {e}"));
    let e = &v["error"];
    assert!(e.is_object(), "expected an error ack: {ack}");
    assert_eq!(v["seq"], 0, "error acks carry seq 0: {ack}");
    (
        e["code"].as_u64().unwrap(),
        e["err_code"].as_u64().unwrap(),
        e["description"].as_str().unwrap().to_string(),
    )
}

async fn message_count(js: &jetstream::Context, name: &str) -> u64 {
    let mut s = js.get_stream(name).await.unwrap();
    s.info().await.unwrap().state.messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_with_acks() {
    let s = setup().await;
    create(
        &s.js,
        stream::Config {
            name: "ACKS".into(),
            subjects: vec!["acks.>".into()],
            ..Default::default()
        },
    )
    .await;
    for i in 1..=20u64 {
        let ack =
            s.js.publish(format!("acks.{}", i % 4), i.to_string().into())
                .await
                .unwrap()
                .await
                .expect("puback");
        assert_eq!((ack.stream.as_str(), ack.sequence), ("ACKS", i));
        assert!(!ack.duplicate);
    }
    // The exact bytes nats-server writes.
    assert_eq!(
        pub_raw(&s.client, "acks.x", &[], "raw").await,
        r#"{"stream":"ACKS","seq":21}"#
    );
    // Many in flight at once: every ack arrives, sequences are distinct and dense.
    let mut futs = Vec::new();
    for i in 0..200 {
        futs.push(
            s.js.publish("acks.bulk", format!("b{i}").into())
                .await
                .unwrap(),
        );
    }
    let mut seqs = Vec::new();
    for f in futs {
        seqs.push(f.await.expect("async ack").sequence);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (22..222).collect::<Vec<u64>>());
    assert_eq!(message_count(&s.js, "ACKS").await, 221);

    // A subject no stream captures: no responders.
    let err =
        s.js.publish("nobody.home", "x".into())
            .await
            .unwrap()
            .await
            .expect_err("no stream");
    assert_eq!(err.kind(), PublishErrorKind::StreamNotFound);
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_publish_without_reply_is_stored() {
    let s = setup().await;
    create(
        &s.js,
        stream::Config {
            name: "NOREPLY".into(),
            subjects: vec!["noreply.*".into()],
            ..Default::default()
        },
    )
    .await;
    for i in 0..50 {
        s.client
            .publish(format!("noreply.{}", i % 5), format!("m{i}").into())
            .await
            .unwrap();
    }
    s.client.flush().await.unwrap();
    let js = &s.js;
    poll("50 messages stored", || async move {
        message_count(js, "NOREPLY").await == 50
    })
    .await;
    let st = s.js.get_stream("NOREPLY").await.unwrap();
    let last = st.get_raw_message(50).await.unwrap();
    assert_eq!(&last.payload[..], b"m49");
    assert_eq!(last.subject.as_str(), "noreply.4");
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msg_id_dedupes_within_the_window() {
    let s = setup().await;
    create(
        &s.js,
        stream::Config {
            name: "DEDUPE".into(),
            subjects: vec!["dedupe".into()],
            duplicate_window: Duration::from_millis(2000),
            ..Default::default()
        },
    )
    .await;
    let before_first = Instant::now();
    let ack =
        s.js.send_publish(
            "dedupe",
            Publish::build().payload("a".into()).message_id("id-1"),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!((ack.sequence, ack.duplicate), (1, false));
    let dup =
        s.js.send_publish(
            "dedupe",
            Publish::build().payload("b".into()).message_id("id-1"),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!((dup.sequence, dup.duplicate), (1, true));
    // The exact bytes, space included.
    assert_eq!(
        pub_raw(&s.client, "dedupe", &[("Nats-Msg-Id", "id-1")], "c").await,
        r#"{"stream":"DEDUPE","seq":1,"duplicate": true}"#
    );
    assert_eq!(message_count(&s.js, "DEDUPE").await, 1, "no new message");
    let st = s.js.get_stream("DEDUPE").await.unwrap();
    assert_eq!(&st.get_raw_message(1).await.unwrap().payload[..], b"a");

    let other =
        s.js.send_publish(
            "dedupe",
            Publish::build().payload("d".into()).message_id("id-2"),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!((other.sequence, other.duplicate), (2, false));

    // Once the window has passed, the id is new again.
    let end = Instant::now() + common::DEADLINE;
    let stored_at = loop {
        let ack =
            s.js.send_publish(
                "dedupe",
                Publish::build().payload("e".into()).message_id("id-1"),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        if !ack.duplicate {
            assert_eq!(ack.sequence, 3);
            break Some(Instant::now());
        }
        assert!(Instant::now() < end, "id-1 never left the duplicate window");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let waited = stored_at.unwrap() - before_first;
    assert!(
        waited >= Duration::from_millis(1950),
        "window honoured: {waited:?}"
    );
    assert_eq!(message_count(&s.js, "DEDUPE").await, 3);
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expected_stream_header() {
    let s = setup().await;
    create(
        &s.js,
        stream::Config {
            name: "EXS".into(),
            subjects: vec!["exs".into()],
            ..Default::default()
        },
    )
    .await;
    let ok = pub_raw(&s.client, "exs", &[("Nats-Expected-Stream", "EXS")], "a").await;
    assert_eq!(ok, r#"{"stream":"EXS","seq":1}"#);
    let bad = pub_raw(&s.client, "exs", &[("Nats-Expected-Stream", "OTHER")], "b").await;
    assert_eq!(
        error_of(&bad),
        (400, 10060, "expected stream does not match".into())
    );
    assert_eq!(
        bad,
        r#"{"error":{"code":400,"err_code":10060,"description":"expected stream does not match"},"stream":"EXS","seq":0}"#
    );
    let err =
        s.js.send_publish(
            "exs",
            Publish::build().payload("c".into()).expected_stream("NOPE"),
        )
        .await
        .unwrap()
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), PublishErrorKind::Other);
    assert_eq!(message_count(&s.js, "EXS").await, 1);
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expected_last_sequence_header() {
    let s = setup().await;
    create(
        &s.js,
        stream::Config {
            name: "ELS".into(),
            subjects: vec!["els.*".into()],
            ..Default::default()
        },
    )
    .await;
    // 0 = the stream is empty.
    let first = pub_raw(
        &s.client,
        "els.a",
        &[("Nats-Expected-Last-Sequence", "0")],
        "1",
    )
    .await;
    assert_eq!(first, r#"{"stream":"ELS","seq":1}"#);
    let ack =
        s.js.send_publish(
            "els.b",
            Publish::build()
                .payload("2".into())
                .expected_last_sequence(1),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ack.sequence, 2);
    let bad = pub_raw(
        &s.client,
        "els.a",
        &[("Nats-Expected-Last-Sequence", "1")],
        "x",
    )
    .await;
    assert_eq!(
        error_of(&bad),
        (400, 10071, "wrong last sequence: 2".into())
    );
    let err =
        s.js.send_publish(
            "els.a",
            Publish::build()
                .payload("x".into())
                .expected_last_sequence(7),
        )
        .await
        .unwrap()
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), PublishErrorKind::WrongLastSequence);
    assert_eq!(message_count(&s.js, "ELS").await, 2);
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expected_last_subject_sequence_header() {
    let s = setup().await;
    create(
        &s.js,
        stream::Config {
            name: "ESS".into(),
            subjects: vec!["ess.*".into()],
            ..Default::default()
        },
    )
    .await;
    let h = "Nats-Expected-Last-Subject-Sequence";
    // 0 = no message on this subject yet.
    assert_eq!(
        pub_raw(&s.client, "ess.a", &[(h, "0")], "a1").await,
        r#"{"stream":"ESS","seq":1}"#
    );
    assert_eq!(
        pub_raw(&s.client, "ess.b", &[(h, "0")], "b1").await,
        r#"{"stream":"ESS","seq":2}"#
    );
    // ess.a's last is 1, although the stream's last is 2.
    assert_eq!(
        pub_raw(&s.client, "ess.a", &[(h, "1")], "a2").await,
        r#"{"stream":"ESS","seq":3}"#
    );
    let bad = pub_raw(&s.client, "ess.a", &[(h, "1")], "x").await;
    assert_eq!(
        error_of(&bad),
        (400, 10071, "wrong last sequence: 3".into())
    );
    let bad0 = pub_raw(&s.client, "ess.b", &[(h, "0")], "x").await;
    assert_eq!(
        error_of(&bad0),
        (400, 10071, "wrong last sequence: 2".into())
    );
    let ack =
        s.js.send_publish(
            "ess.b",
            Publish::build()
                .payload("b2".into())
                .expected_last_subject_sequence(2),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ack.sequence, 4);
    // 2.11+: the check can name another subject (here ess.b, last 4).
    let other = "Nats-Expected-Last-Subject-Sequence-Subject";
    let bad_other = pub_raw(&s.client, "ess.a", &[(h, "3"), (other, "ess.b")], "x").await;
    assert_eq!(
        error_of(&bad_other),
        (400, 10071, "wrong last sequence: 4".into())
    );
    assert_eq!(
        pub_raw(&s.client, "ess.a", &[(h, "4"), (other, "ess.b")], "a3").await,
        r#"{"stream":"ESS","seq":5}"#
    );
    assert_eq!(message_count(&s.js, "ESS").await, 5);
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expected_last_msg_id_header() {
    let s = setup().await;
    create(
        &s.js,
        stream::Config {
            name: "EMI".into(),
            subjects: vec!["emi".into()],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        pub_raw(&s.client, "emi", &[("Nats-Msg-Id", "first")], "1").await,
        r#"{"stream":"EMI","seq":1}"#
    );
    assert_eq!(
        pub_raw(
            &s.client,
            "emi",
            &[
                ("Nats-Msg-Id", "second"),
                ("Nats-Expected-Last-Msg-Id", "first")
            ],
            "2"
        )
        .await,
        r#"{"stream":"EMI","seq":2}"#
    );
    let bad = pub_raw(
        &s.client,
        "emi",
        &[("Nats-Expected-Last-Msg-Id", "first")],
        "x",
    )
    .await;
    assert_eq!(
        error_of(&bad),
        (400, 10070, "wrong last msg ID: second".into())
    );
    let err =
        s.js.send_publish(
            "emi",
            Publish::build()
                .payload("x".into())
                .expected_last_message_id("nope"),
        )
        .await
        .unwrap()
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), PublishErrorKind::WrongLastMessageId);
    // A message without an id makes the last id empty.
    assert_eq!(
        pub_raw(&s.client, "emi", &[], "3").await,
        r#"{"stream":"EMI","seq":3}"#
    );
    let bad = pub_raw(
        &s.client,
        "emi",
        &[("Nats-Expected-Last-Msg-Id", "second")],
        "x",
    )
    .await;
    assert_eq!(error_of(&bad), (400, 10070, "wrong last msg ID: ".into()));
    assert_eq!(message_count(&s.js, "EMI").await, 3);
    s.server.shutdown().await;
}

/// Once the reply to STREAM.CREATE (or an UPDATE adding a subject) has arrived, a
/// publish on the stream's subjects must be stored: nats-server subscribes the stream
/// before it answers. A client that publishes at once must not get "no responders".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_right_after_create_is_captured() {
    let s = setup().await;
    let mut missed_after_create = Vec::new();
    let mut missed_after_update = Vec::new();
    let mut answered_after_delete = Vec::new();
    for i in 0..30 {
        let name = format!("RACE{i}");
        let created = s
            .client
            .request(
                format!("$JS.API.STREAM.CREATE.{name}"),
                format!(r#"{{"name":"{name}","subjects":["race.{i}.a"],"storage":"memory"}}"#)
                    .into(),
            )
            .await
            .unwrap();
        assert!(!String::from_utf8_lossy(&created.payload).contains("\"error\""));
        if s.client
            .request(format!("race.{i}.a"), "x".into())
            .await
            .is_err()
        {
            missed_after_create.push(i);
        }
        let updated = s
            .client
            .request(
                format!("$JS.API.STREAM.UPDATE.{name}"),
                format!(
                    r#"{{"name":"{name}","subjects":["race.{i}.a","race.{i}.b"],"storage":"memory"}}"#
                )
                .into(),
            )
            .await
            .unwrap();
        assert!(!String::from_utf8_lossy(&updated.payload).contains("\"error\""));
        if s.client
            .request(format!("race.{i}.b"), "x".into())
            .await
            .is_err()
        {
            missed_after_update.push(i);
        }
        s.client
            .request(format!("$JS.API.STREAM.DELETE.{name}"), "".into())
            .await
            .unwrap();
        let after = s
            .client
            .send_request(
                format!("race.{i}.b"),
                async_nats::Request::new()
                    .payload("x".into())
                    .timeout(Some(Duration::from_millis(500))),
            )
            .await;
        match after {
            Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => {}
            other => answered_after_delete.push((i, format!("{other:?}"))),
        }
    }
    assert!(
        missed_after_create.is_empty()
            && missed_after_update.is_empty()
            && answered_after_delete.is_empty(),
        "publishes right after the API reply went wrong (nats-server: 0 of 30 each):\n\
         no responders after CREATE: {missed_after_create:?}\n\
         no responders after UPDATE added the subject: {missed_after_update:?}\n\
         not 'no responders' after DELETE: {answered_after_delete:?}"
    );
    s.server.shutdown().await;
}
