//! Stream `republish`: each stored message is published again on the mapped subject
//! with nats-server's headers (`Nats-Stream`, `Nats-Subject`, `Nats-Sequence`,
//! `Nats-Time-Stamp`, `Nats-Last-Sequence`, and `Nats-Msg-Size` when headers only),
//! and only once the message is durable. The header layout was taken from
//! nats-server 2.15.1; the config checks are compared in differential_jetstream.rs.

mod common;

use common::jetstream::{api, setup};
use common::DEADLINE;

use async_nats::HeaderMap;
use futures::StreamExt;

async fn next(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(DEADLINE, sub.next())
        .await
        .expect("republished message in time")
        .expect("subscription open")
}

fn header<'a>(m: &'a async_nats::Message, key: &str) -> Option<&'a str> {
    m.headers.as_ref()?.get(key).map(|v| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_messages_are_republished_with_stream_headers() {
    let s = setup().await;
    let created = api(
        &s.client,
        "$JS.API.STREAM.CREATE.S",
        r#"{"name":"S","subjects":["s.>"],"republish":{"src":"s.*","dest":"repub.$1"}}"#,
    )
    .await;
    assert_eq!(
        created["config"]["republish"],
        serde_json::json!({"src":"s.*","dest":"repub.$1"})
    );
    let mut sub = s.client.subscribe("repub.>").await.unwrap();
    s.client.flush().await.unwrap();

    s.js.publish("s.a", "one".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let m = next(&mut sub).await;
    assert_eq!(m.subject.as_str(), "repub.a");
    assert_eq!(m.payload.as_ref(), b"one");
    assert_eq!(header(&m, "Nats-Stream"), Some("S"));
    assert_eq!(header(&m, "Nats-Subject"), Some("s.a"));
    assert_eq!(header(&m, "Nats-Sequence"), Some("1"));
    assert_eq!(header(&m, "Nats-Last-Sequence"), Some("0"));
    assert!(header(&m, "Nats-Time-Stamp").is_some_and(|t| t.ends_with('Z')));

    // The message's own headers come first; Nats-Last-Sequence is the previous
    // message on the same subject.
    let mut h = HeaderMap::new();
    h.insert("X-1", "v");
    s.js.publish_with_headers("s.b", h.clone(), "two".into())
        .await
        .unwrap()
        .await
        .unwrap();
    s.js.publish_with_headers("s.a", h, "three".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let m = next(&mut sub).await;
    assert_eq!(
        (m.subject.as_str(), header(&m, "Nats-Last-Sequence")),
        ("repub.b", Some("0"))
    );
    let m = next(&mut sub).await;
    assert_eq!(m.subject.as_str(), "repub.a");
    assert_eq!(header(&m, "X-1"), Some("v"));
    assert_eq!(header(&m, "Nats-Sequence"), Some("3"));
    assert_eq!(header(&m, "Nats-Last-Sequence"), Some("1"));

    // Outside the source (two tokens): stored, not republished.
    s.js.publish("s.a.deep", "four".into())
        .await
        .unwrap()
        .await
        .unwrap();
    s.js.publish("s.c", "five".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let m = next(&mut sub).await;
    assert_eq!(m.subject.as_str(), "repub.c");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_only_republish_carries_the_size() {
    let s = setup().await;
    api(
        &s.client,
        "$JS.API.STREAM.CREATE.H",
        r#"{"name":"H","subjects":["h.>"],"republish":{"src":"h.>","dest":"out.h.>","headers_only":true}}"#,
    )
    .await;
    let mut sub = s.client.subscribe("out.>").await.unwrap();
    s.client.flush().await.unwrap();
    s.js.publish("h.x.y", "payload".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let m = next(&mut sub).await;
    assert_eq!(m.subject.as_str(), "out.h.x.y");
    assert!(m.payload.is_empty());
    assert_eq!(header(&m, "Nats-Msg-Size"), Some("7"));
    assert_eq!(header(&m, "Nats-Subject"), Some("h.x.y"));
}
