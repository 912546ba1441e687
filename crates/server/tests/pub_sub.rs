//! Core publish/subscribe as an official client sees it: delivery, one copy per
//! subscription, per-publisher ordering, payload sizes up to `max_payload`, empty payloads.

mod common;

use async_nats::{Message, Subscriber};
use bytes::Bytes;
use common::{TestServer, DEADLINE};
use futures::StreamExt;

/// Waits until the server has registered exactly `n` subscriptions. (async-nats' `flush`
/// only flushes its socket; it is no server round trip.)
async fn wait_subs(server: &TestServer, n: usize) {
    let router = server.handle().shared().router();
    common::wait_for(&format!("{n} subscriptions on the server"), || {
        router.subscription_count() == n
    })
    .await;
}

async fn next(sub: &mut Subscriber) -> Message {
    tokio::time::timeout(DEADLINE, sub.next())
        .await
        .expect("message arrives before the deadline")
        .expect("subscription still open")
}

#[tokio::test]
async fn subscriber_receives_published_message() {
    let server = TestServer::default().await;
    let sub_client = server.client().await;
    let pub_client = server.client().await;
    let mut sub = sub_client.subscribe("orders.new").await.unwrap();
    wait_subs(&server, 1).await;

    pub_client
        .publish("orders.new", "order-1".into())
        .await
        .unwrap();
    pub_client.flush().await.unwrap();

    let msg = next(&mut sub).await;
    assert_eq!(msg.subject.as_str(), "orders.new");
    assert_eq!(&msg.payload[..], b"order-1");
    assert!(msg.reply.is_none(), "no reply subject was set");
    assert!(msg.headers.is_none(), "no headers were set");
    server.shutdown().await;
}

#[tokio::test]
async fn publish_with_reply_subject_is_delivered_with_it() {
    let server = TestServer::default().await;
    let client = server.client().await;
    let mut sub = client.subscribe("ask").await.unwrap();

    client
        .publish_with_reply("ask", "answer.here", "q".into())
        .await
        .unwrap();
    let msg = next(&mut sub).await;
    assert_eq!(msg.reply.as_ref().map(|r| r.as_str()), Some("answer.here"));
    assert_eq!(&msg.payload[..], b"q");
    server.shutdown().await;
}

#[tokio::test]
async fn subscriber_does_not_receive_other_subjects() {
    let server = TestServer::default().await;
    let client = server.client().await;
    let mut sub = client.subscribe("a.b").await.unwrap();

    for subject in ["a", "a.c", "a.b.c", "A.B", "b.a"] {
        client.publish(subject, "wrong".into()).await.unwrap();
    }
    client.publish("a.b", "right".into()).await.unwrap();

    // One publisher: delivery is in order, so the first message seen must be the match.
    let msg = next(&mut sub).await;
    assert_eq!(msg.subject.as_str(), "a.b");
    assert_eq!(&msg.payload[..], b"right");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subscriber_gets_its_own_copy() {
    let server = TestServer::default().await;
    let publisher = server.client().await;
    let c1 = server.client().await;
    let c2 = server.client().await;
    let mut s1 = c1.subscribe("news").await.unwrap();
    let mut s2 = c2.subscribe("news").await.unwrap();
    // Two subscriptions on one connection each get a copy too.
    let mut s3a = c2.subscribe("news").await.unwrap();
    wait_subs(&server, 3).await;

    for i in 0..5 {
        publisher
            .publish("news", format!("item-{i}").into())
            .await
            .unwrap();
    }
    publisher.flush().await.unwrap();

    for (name, sub) in [("s1", &mut s1), ("s2", &mut s2), ("s3a", &mut s3a)] {
        for i in 0..5 {
            let msg = next(sub).await;
            assert_eq!(
                &msg.payload[..],
                format!("item-{i}").as_bytes(),
                "subscriber {name}, message {i}"
            );
        }
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_publisher_order_is_preserved() {
    const N: usize = 10_000;
    let server = TestServer::default().await;
    let publisher = server.client().await;
    let subscriber = server.client().await;
    let mut sub = subscriber.subscribe("seq").await.unwrap();
    wait_subs(&server, 1).await;

    let reader = tokio::spawn(async move {
        let mut got = Vec::with_capacity(N);
        while got.len() < N {
            let msg = next(&mut sub).await;
            let n: usize = std::str::from_utf8(&msg.payload).unwrap().parse().unwrap();
            got.push(n);
        }
        got
    });
    for i in 0..N {
        publisher
            .publish("seq", i.to_string().into())
            .await
            .unwrap();
    }
    publisher.flush().await.unwrap();

    let got = tokio::time::timeout(DEADLINE, reader)
        .await
        .expect("all messages arrive before the deadline")
        .unwrap();
    let expected: Vec<usize> = (0..N).collect();
    if got != expected {
        let first_bad = got.iter().zip(&expected).position(|(a, b)| a != b);
        panic!("messages out of order; first difference at index {first_bad:?}");
    }
    server.shutdown().await;
}

async fn payload_of_exactly_max_payload_is_delivered(max_payload: usize) {
    let opts = sluice_server::Options {
        max_payload,
        ..common::opts()
    };
    let server = TestServer::start(opts).await;
    let client = server.client().await;
    assert_eq!(
        client.server_info().max_payload,
        max_payload,
        "INFO advertises the configured max_payload"
    );
    let mut sub = client.subscribe("big").await.unwrap();

    let payload: Bytes = (0..max_payload)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<_>>()
        .into();
    client.publish("big", payload.clone()).await.unwrap();
    client.publish("big", "after".into()).await.unwrap();
    client.flush().await.unwrap();

    let msg = next(&mut sub).await;
    assert_eq!(msg.payload.len(), max_payload);
    assert!(msg.payload == payload, "payload delivered byte for byte");
    // The connection survived the full-size message.
    assert_eq!(&next(&mut sub).await.payload[..], b"after");
    server.shutdown().await;
}

#[tokio::test]
async fn payload_of_exactly_small_max_payload_is_delivered() {
    payload_of_exactly_max_payload_is_delivered(1024).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_of_exactly_default_max_payload_is_delivered() {
    payload_of_exactly_max_payload_is_delivered(1024 * 1024).await;
}

#[tokio::test]
async fn empty_payload_is_delivered() {
    let server = TestServer::default().await;
    let client = server.client().await;
    let mut sub = client.subscribe("empty").await.unwrap();

    client.publish("empty", Bytes::new()).await.unwrap();
    client.publish("empty", "x".into()).await.unwrap();

    let msg = next(&mut sub).await;
    assert_eq!(msg.subject.as_str(), "empty");
    assert!(
        msg.payload.is_empty(),
        "payload is empty: {:?}",
        msg.payload
    );
    assert_eq!(&next(&mut sub).await.payload[..], b"x");
    server.shutdown().await;
}

#[tokio::test]
async fn unsubscribed_subscriber_stops_receiving() {
    let server = TestServer::default().await;
    let client = server.client().await;
    let mut gone = client.subscribe("topic").await.unwrap();
    let mut stays = client.subscribe("topic").await.unwrap();

    client.publish("topic", "1".into()).await.unwrap();
    assert_eq!(&next(&mut gone).await.payload[..], b"1");
    assert_eq!(&next(&mut stays).await.payload[..], b"1");

    gone.unsubscribe().await.unwrap();
    // The server drops the subscription.
    wait_subs(&server, 1).await;
    client.publish("topic", "2".into()).await.unwrap();
    assert_eq!(&next(&mut stays).await.payload[..], b"2");
    let rest = tokio::time::timeout(DEADLINE, gone.next()).await.unwrap();
    assert!(rest.is_none(), "unsubscribed stream ends: {rest:?}");
    server.shutdown().await;
}
