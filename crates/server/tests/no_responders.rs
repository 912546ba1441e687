//! No responders: a request nobody is subscribed to fails at once with the client's
//! no-responders error (the server's 503 status), not after the request timeout.

mod common;

use std::time::{Duration, Instant};

use async_nats::RequestErrorKind;
use common::{RawClient, TestServer, DEADLINE};
use futures::StreamExt;

/// Well below the request timeout used below: a 503 comes back in one round trip.
const FAST: Duration = Duration::from_secs(2);

async fn client_with_long_timeout(server: &TestServer) -> async_nats::Client {
    async_nats::ConnectOptions::new()
        .request_timeout(Some(Duration::from_secs(8)))
        .connect(&server.url)
        .await
        .unwrap()
}

#[tokio::test]
async fn request_without_subscribers_fails_fast_with_no_responders() {
    let server = TestServer::default().await;
    let client = client_with_long_timeout(&server).await;

    let started = Instant::now();
    let err = tokio::time::timeout(DEADLINE, client.request("nobody.home", "hi".into()))
        .await
        .expect("request finished before the deadline")
        .expect_err("nobody is subscribed");
    assert_eq!(err.kind(), RequestErrorKind::NoResponders, "{err}");
    assert!(
        started.elapsed() < FAST,
        "no-responders took {:?}, like a timeout",
        started.elapsed()
    );

    // The connection is still fine, and repeating gives the same answer.
    let err = client
        .request("nobody.home", "again".into())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), RequestErrorKind::NoResponders);
    server.shutdown().await;
}

#[tokio::test]
async fn no_responders_until_someone_subscribes_then_answered() {
    let server = TestServer::default().await;
    let client = client_with_long_timeout(&server).await;
    let err = client.request("svc.late", "1".into()).await.unwrap_err();
    assert_eq!(err.kind(), RequestErrorKind::NoResponders);

    let svc = server.client().await;
    let mut requests = svc.queue_subscribe("svc.late", "q".into()).await.unwrap();
    let router = server.handle().shared().router();
    // The requester's own inbox subscription plus the responder's.
    common::wait_for("responder subscription", || {
        router.subscription_count() == 2
    })
    .await;
    let svc2 = svc.clone();
    tokio::spawn(async move {
        while let Some(msg) = requests.next().await {
            if let Some(reply) = msg.reply {
                svc2.publish(reply, "answer".into()).await.unwrap();
            }
        }
    });

    let reply = tokio::time::timeout(DEADLINE, client.request("svc.late", "2".into()))
        .await
        .unwrap()
        .expect("a queue subscriber is a responder");
    assert_eq!(&reply.payload[..], b"answer");
    server.shutdown().await;
}

#[tokio::test]
async fn no_responders_after_the_only_responder_leaves() {
    let server = TestServer::default().await;
    let client = client_with_long_timeout(&server).await;
    let svc = server.client().await;
    let mut sub = svc.subscribe("svc.gone").await.unwrap();
    let router = server.handle().shared().router();
    common::wait_for("responder subscription", || {
        router.subscription_count() == 1
    })
    .await;
    sub.unsubscribe().await.unwrap();
    common::wait_for("responder gone", || router.subscription_count() == 0).await;

    let started = Instant::now();
    let err = client.request("svc.gone", "x".into()).await.unwrap_err();
    assert_eq!(err.kind(), RequestErrorKind::NoResponders, "{err}");
    assert!(started.elapsed() < FAST);
    server.shutdown().await;
}

#[tokio::test]
async fn raw_no_responders_status_goes_to_the_requesters_reply_subscription() {
    let server = TestServer::default().await;
    let mut raw = RawClient::connect(server.addr).await;
    let out = raw
        .round_trip(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true,\"protocol\":1}\r\n\
              SUB _INBOX.abc.* 5\r\n\
              PUB nobody _INBOX.abc.1 2\r\nhi\r\n",
        )
        .await;
    let block = "NATS/1.0 503\r\nNats-Subject: nobody\r\n\r\n";
    assert!(
        out.starts_with("HMSG _INBOX.abc.1 5 "),
        "503 on the reply subscription: {out:?}"
    );
    let line_end = out.find("\r\n").unwrap();
    let sizes: Vec<usize> = out[..line_end]
        .split(' ')
        .skip(3)
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(sizes.len(), 2, "header and total size: {out:?}");
    assert_eq!(
        sizes[0], sizes[1],
        "a status message has no payload: {out:?}"
    );
    let body = &out[line_end + 2..];
    assert_eq!(body.len(), sizes[1] + 2, "one frame only: {out:?}");
    assert!(
        body.starts_with("NATS/1.0 503"),
        "status line is 503: {body:?}"
    );
    // Current nats-server also names the subject; older ones sent just the status line.
    assert!(
        body == format!("{block}\r\n") || body == "NATS/1.0 503\r\n\r\n\r\n",
        "status block: {body:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn raw_without_no_responders_option_gets_nothing() {
    let server = TestServer::default().await;
    let mut raw = RawClient::connect(server.addr).await;
    let out = raw
        .round_trip(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"protocol\":1}\r\n\
              SUB _INBOX.abc.* 5\r\n\
              PUB nobody _INBOX.abc.1 2\r\nhi\r\n",
        )
        .await;
    assert_eq!(out, "", "no 503 unless the client asked for it");
    server.shutdown().await;
}
