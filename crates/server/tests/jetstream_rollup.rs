//! `Nats-Rollup` on streams with `allow_rollup_hdrs`: `sub` keeps only the new message
//! on its subject, `all` only the new message in the whole stream; refusals use
//! nats-server 2.15.1's errors.

mod common;

use common::jetstream::{api, setup};

use async_nats::HeaderMap;
use serde_json::{json, Value};

async fn create(client: &async_nats::Client, name: &str, config: &str) {
    let v = api(client, &format!("$JS.API.STREAM.CREATE.{name}"), config).await;
    assert!(v.get("error").is_none(), "create {name}: {v}");
    api(client, &format!("$JS.API.STREAM.INFO.{name}"), "").await;
}

/// Publishes with optional `Nats-Rollup`; the ack as JSON.
async fn publish(
    client: &async_nats::Client,
    subject: &str,
    rollup: Option<&str>,
    payload: &str,
) -> Value {
    let mut h = HeaderMap::new();
    if let Some(r) = rollup {
        h.insert("Nats-Rollup", r);
    }
    let msg = client
        .request_with_headers(subject.to_string(), h, payload.to_string().into())
        .await
        .unwrap();
    serde_json::from_slice(&msg.payload).unwrap()
}

async fn state(client: &async_nats::Client, name: &str) -> Value {
    api(
        client,
        &format!("$JS.API.STREAM.INFO.{name}"),
        r#"{"subjects_filter":">"}"#,
    )
    .await["state"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollup_sub_keeps_only_the_new_message_on_its_subject() {
    let s = setup().await;
    create(
        &s.client,
        "RS",
        r#"{"name":"RS","subjects":["rs.*"],"allow_rollup_hdrs":true}"#,
    )
    .await;
    for i in 1..=6 {
        let subj = if i % 2 == 0 { "rs.b" } else { "rs.a" };
        assert_eq!(
            publish(&s.client, subj, None, &format!("m{i}")).await["seq"],
            i
        );
    }
    let ack = publish(&s.client, "rs.a", Some("sub"), "rolled").await;
    assert_eq!(ack, json!({"stream":"RS","seq":7}));
    let st = state(&s.client, "RS").await;
    assert_eq!(st["subjects"], json!({"rs.a": 1, "rs.b": 3}));
    assert_eq!(st["messages"], 4);
    assert_eq!(st["first_seq"], 2);
    let stream = s.js.get_stream("RS").await.unwrap();
    let last = stream
        .get_last_raw_message_by_subject("rs.a")
        .await
        .unwrap();
    assert_eq!((last.sequence, &last.payload[..]), (7, &b"rolled"[..]));
    // The rollup header is stored with the message.
    assert_eq!(
        last.headers.get("Nats-Rollup").map(|v| v.as_str()),
        Some("sub")
    );
    for seq in [1, 3, 5] {
        assert!(
            stream.get_raw_message(seq).await.is_err(),
            "seq {seq} rolled up"
        );
    }
    // Rolling up a subject with no earlier message is just a publish.
    assert_eq!(publish(&s.client, "rs.c", Some("sub"), "c").await["seq"], 8);
    assert_eq!(state(&s.client, "RS").await["messages"], 5);
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollup_all_keeps_only_the_new_message() {
    let s = setup().await;
    create(
        &s.client,
        "RA",
        r#"{"name":"RA","subjects":["ra.*"],"allow_rollup_hdrs":true}"#,
    )
    .await;
    for i in 1..=5 {
        publish(&s.client, &format!("ra.{i}"), None, "x").await;
    }
    let ack = publish(&s.client, "ra.9", Some("all"), "snapshot").await;
    assert_eq!(ack, json!({"stream":"RA","seq":6}));
    let st = state(&s.client, "RA").await;
    assert_eq!(st["messages"], 1);
    assert_eq!(st["first_seq"], 6);
    assert_eq!(st["last_seq"], 6);
    assert_eq!(st["subjects"], json!({"ra.9": 1}));
    // nats-server takes the value case-insensitively.
    assert_eq!(publish(&s.client, "ra.1", None, "y").await["seq"], 7);
    assert_eq!(publish(&s.client, "ra.2", Some("All"), "z").await["seq"], 8);
    assert_eq!(publish(&s.client, "ra.2", Some("SUB"), "z").await["seq"], 9);
    let st = state(&s.client, "RA").await;
    assert_eq!(st["subjects"], json!({"ra.2": 1}));
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollup_refused_without_permission_or_with_a_bad_value() {
    let s = setup().await;
    create(&s.client, "NR", r#"{"name":"NR","subjects":["nr.*"]}"#).await;
    create(
        &s.client,
        "YR",
        r#"{"name":"YR","subjects":["yr.*"],"allow_rollup_hdrs":true}"#,
    )
    .await;
    publish(&s.client, "nr.a", None, "keep").await;
    let refused = publish(&s.client, "nr.a", Some("sub"), "x").await;
    assert_eq!(
        refused,
        json!({"error":{"code":500,"err_code":10111,"description":"rollup not permitted"},"stream":"NR","seq":0})
    );
    let bad = publish(&s.client, "yr.a", Some("bogus"), "x").await;
    assert_eq!(
        bad,
        json!({"error":{"code":500,"err_code":10111,"description":"rollup value invalid: \"bogus\""},"stream":"YR","seq":0})
    );
    assert_eq!(state(&s.client, "NR").await["messages"], 1);
    assert_eq!(state(&s.client, "YR").await["messages"], 0);
    // Roll-ups need the purge permission.
    let v = api(
        &s.client,
        "$JS.API.STREAM.UPDATE.YR",
        r#"{"name":"YR","subjects":["yr.*"],"allow_rollup_hdrs":true,"deny_purge":true}"#,
    )
    .await;
    assert_eq!(
        v["error"],
        json!({"code":500,"err_code":10052,"description":"roll-ups require the purge permission"})
    );
    s.server.shutdown().await;
}
