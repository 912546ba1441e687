//! A clean restart on the same store directory keeps everything: stream configs (as
//! last updated), messages and their headers, sequences (the next publish continues),
//! deleted messages, purge state, and the duplicate window (an acknowledged
//! `Nats-Msg-Id` republished right after the restart is still a duplicate).

mod common;

use common::jetstream::{api, js_opts, js_ready};

use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, stream};
use common::TestServer;
use serde_json::{json, Value};

struct Running {
    server: TestServer,
    client: async_nats::Client,
    js: jetstream::Context,
}

async fn start(dir: &std::path::Path) -> Running {
    let server = TestServer::start(js_opts(dir)).await;
    let client = server.client().await;
    js_ready(&client).await;
    let js = jetstream::new(client.clone());
    Running { server, client, js }
}

impl Running {
    async fn stop(self) {
        self.client.flush().await.unwrap();
        drop(self.client);
        self.server.shutdown().await;
    }
}

async fn create(client: &async_nats::Client, name: &str, config: &str) {
    let v = api(client, &format!("$JS.API.STREAM.CREATE.{name}"), config).await;
    assert!(v.get("error").is_none(), "create {name}: {v}");
    api(client, &format!("$JS.API.STREAM.INFO.{name}"), "").await;
}

async fn publish(client: &async_nats::Client, subject: &str, payload: &str) -> u64 {
    let msg = client
        .request(subject.to_string(), payload.to_string().into())
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&msg.payload).unwrap();
    v["seq"].as_u64().unwrap_or_else(|| panic!("{v}"))
}

/// The parts of STREAM.INFO that must survive a restart (not `ts`, not `cluster`).
fn durable_part(info: &Value) -> Value {
    json!({"config": info["config"], "created": info["created"], "state": info["state"]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configs_messages_and_sequences_survive() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path()).await;
    create(
        &r.client,
        "KEEP",
        r#"{"name":"KEEP","subjects":["keep.*"],"max_msgs_per_subject":50,"description":"before"}"#,
    )
    .await;
    create(
        &r.client,
        "LIMITS",
        r#"{"name":"LIMITS","subjects":["lim"],"max_msgs":3,"discard":"new","allow_direct":true,"first_seq":100}"#,
    )
    .await;
    for i in 1..=20u64 {
        assert_eq!(
            publish(&r.client, &format!("keep.{}", i % 3), &format!("k{i}")).await,
            i
        );
    }
    let mut h = async_nats::HeaderMap::new();
    h.insert("X-Kept", "yes");
    r.client
        .request_with_headers("keep.h", h, "headers".into())
        .await
        .unwrap();
    for i in 0..3 {
        assert_eq!(publish(&r.client, "lim", "l").await, 100 + i);
    }
    // Update, then restart: the updated config is what comes back.
    let upd = api(
        &r.client,
        "$JS.API.STREAM.UPDATE.KEEP",
        r#"{"name":"KEEP","subjects":["keep.*","kept.>"],"max_msgs_per_subject":50,"description":"after"}"#,
    )
    .await;
    assert!(upd.get("error").is_none(), "{upd}");
    let filter = r#"{"subjects_filter":">"}"#;
    let before_keep = api(&r.client, "$JS.API.STREAM.INFO.KEEP", filter).await;
    let before_lim = api(&r.client, "$JS.API.STREAM.INFO.LIMITS", filter).await;
    let names_before = api(&r.client, "$JS.API.STREAM.NAMES", "").await;
    r.stop().await;

    let r = start(dir.path()).await;
    let after_keep = api(&r.client, "$JS.API.STREAM.INFO.KEEP", filter).await;
    let after_lim = api(&r.client, "$JS.API.STREAM.INFO.LIMITS", filter).await;
    assert_eq!(durable_part(&after_keep), durable_part(&before_keep));
    assert_eq!(durable_part(&after_lim), durable_part(&before_lim));
    assert_eq!(after_keep["config"]["description"], "after");
    assert_eq!(
        api(&r.client, "$JS.API.STREAM.NAMES", "").await["streams"],
        names_before["streams"]
    );

    let keep = r.js.get_stream("KEEP").await.unwrap();
    for seq in 1..=20u64 {
        let m = keep.get_raw_message(seq).await.unwrap();
        assert_eq!(m.payload, format!("k{seq}").as_bytes());
        assert_eq!(m.subject.as_str(), format!("keep.{}", seq % 3));
    }
    let h = keep.get_raw_message(21).await.unwrap();
    assert_eq!(h.headers.get("X-Kept").map(|v| v.as_str()), Some("yes"));
    // Sequences continue; the updated subjects are captured; limits still apply.
    assert_eq!(publish(&r.client, "kept.new.subject", "n").await, 22);
    let refused = api(&r.client, "lim", "l").await;
    assert_eq!(refused["error"]["err_code"], 10077, "{refused}");
    let lim = r.js.get_stream("LIMITS").await.unwrap();
    assert_eq!(&lim.direct_get(101).await.unwrap().payload[..], b"l");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_and_purges_survive() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path()).await;
    create(&r.client, "DEL", r#"{"name":"DEL","subjects":["del.*"]}"#).await;
    create(&r.client, "PUR", r#"{"name":"PUR","subjects":["pur.*"]}"#).await;
    create(&r.client, "PALL", r#"{"name":"PALL","subjects":["pall"]}"#).await;
    for i in 1..=10 {
        publish(&r.client, &format!("del.{}", i % 2), "d").await;
        publish(&r.client, &format!("pur.{}", i % 2), "p").await;
        publish(&r.client, "pall", "a").await;
    }
    for (seq, no_erase) in [(1, false), (4, true), (5, false), (9, false)] {
        let v = api(
            &r.client,
            "$JS.API.STREAM.MSG.DELETE.DEL",
            &format!(r#"{{"seq":{seq},"no_erase":{no_erase}}}"#),
        )
        .await;
        assert_eq!(v["success"], true, "{v}");
    }
    // Purge pur.1 (odd sequences), then everything below 6.
    assert_eq!(
        api(
            &r.client,
            "$JS.API.STREAM.PURGE.PUR",
            r#"{"filter":"pur.1"}"#
        )
        .await["purged"],
        5
    );
    assert_eq!(
        api(&r.client, "$JS.API.STREAM.PURGE.PUR", r#"{"seq":6}"#).await["purged"],
        2
    );
    assert_eq!(
        api(&r.client, "$JS.API.STREAM.PURGE.PALL", "").await["purged"],
        10
    );
    let details = r#"{"deleted_details":true,"subjects_filter":">"}"#;
    let mut before = Vec::new();
    for n in ["DEL", "PUR", "PALL"] {
        before.push(api(&r.client, &format!("$JS.API.STREAM.INFO.{n}"), details).await);
    }
    assert_eq!(before[0]["state"]["deleted"], json!([4, 5, 9]));
    r.stop().await;

    let r = start(dir.path()).await;
    for (i, n) in ["DEL", "PUR", "PALL"].iter().enumerate() {
        let after = api(&r.client, &format!("$JS.API.STREAM.INFO.{n}"), details).await;
        assert_eq!(durable_part(&after), durable_part(&before[i]), "{n}");
    }
    let del = r.js.get_stream("DEL").await.unwrap();
    for seq in [1, 4, 5, 9] {
        assert!(
            del.get_raw_message(seq).await.is_err(),
            "seq {seq} stays deleted"
        );
    }
    for seq in [2, 3, 6, 7, 8, 10] {
        del.get_raw_message(seq).await.unwrap();
    }
    let pur = r.js.get_stream("PUR").await.unwrap();
    let st = &pur.cached_info().state;
    assert_eq!((st.messages, st.first_sequence), (3, 6));
    let pall = r.js.get_stream("PALL").await.unwrap();
    let st = &pall.cached_info().state;
    assert_eq!(
        (st.messages, st.first_sequence, st.last_sequence),
        (0, 11, 10)
    );
    // Sequences continue after the purge, across the restart.
    assert_eq!(publish(&r.client, "pall", "new").await, 11);
    assert_eq!(publish(&r.client, "del.x", "new").await, 11);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_window_survives() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path()).await;
    r.js.create_stream(stream::Config {
        name: "DUP".into(),
        subjects: vec!["dup".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    r.js.get_stream("DUP").await.unwrap();
    for i in 1..=5u64 {
        let ack =
            r.js.send_publish(
                "dup",
                PublishMessage::build()
                    .payload(format!("v{i}").into())
                    .message_id(format!("id-{i}")),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!((ack.sequence, ack.duplicate), (i, false));
    }
    r.stop().await;

    let r = start(dir.path()).await;
    for i in 1..=5u64 {
        let ack =
            r.js.send_publish(
                "dup",
                PublishMessage::build()
                    .payload("again".into())
                    .message_id(format!("id-{i}")),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(
            (ack.sequence, ack.duplicate),
            (i, true),
            "id-{i} is still a duplicate after the restart"
        );
    }
    let ack =
        r.js.send_publish(
            "dup",
            PublishMessage::build()
                .payload("new".into())
                .message_id("id-6"),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!((ack.sequence, ack.duplicate), (6, false));
    // The last msg id is known after the restart too.
    let mut h = async_nats::HeaderMap::new();
    h.insert("Nats-Expected-Last-Msg-Id", "id-6");
    let ok = r
        .client
        .request_with_headers("dup", h, "x".into())
        .await
        .unwrap();
    assert_eq!(&ok.payload[..], br#"{"stream":"DUP","seq":7}"#);
    let mut stream = r.js.get_stream("DUP").await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 7);
    r.stop().await;
}
