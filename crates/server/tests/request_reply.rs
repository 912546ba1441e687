//! Request/reply through the server with the official client: a responder answers on the
//! reply subject; many concurrent requests are each answered with their own reply.

mod common;

use std::time::Duration;

use async_nats::Client;
use common::{TestServer, DEADLINE};
use futures::StreamExt;

/// A responder on `subject` (optionally in a queue group) that answers `<tag>:<payload>`.
/// Returns once the server has registered its subscription.
async fn responder(
    server: &TestServer,
    subject: &str,
    queue: Option<&str>,
    tag: &'static str,
) -> Client {
    let client = server.client().await;
    let before = server.handle().shared().router().subscription_count();
    let mut sub = match queue {
        Some(q) => client
            .queue_subscribe(subject.to_owned(), q.to_owned())
            .await
            .unwrap(),
        None => client.subscribe(subject.to_owned()).await.unwrap(),
    };
    let router = server.handle().shared().router();
    common::wait_for("the responder's subscription", || {
        router.subscription_count() > before
    })
    .await;
    let replier = client.clone();
    tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            let Some(reply) = msg.reply else { continue };
            let mut answer = format!("{tag}:").into_bytes();
            answer.extend_from_slice(&msg.payload);
            replier.publish(reply, answer.into()).await.unwrap();
        }
    });
    client
}

#[tokio::test]
async fn request_gets_the_responders_reply() {
    let server = TestServer::default().await;
    let _svc = responder(&server, "svc.echo", None, "echo").await;
    let client = server.client().await;

    let reply = tokio::time::timeout(DEADLINE, client.request("svc.echo", "hello".into()))
        .await
        .expect("request finished before the deadline")
        .expect("request answered");
    assert_eq!(&reply.payload[..], b"echo:hello");

    // The same connection can keep making requests.
    let reply = client.request("svc.echo", "again".into()).await.unwrap();
    assert_eq!(&reply.payload[..], b"echo:again");
    server.shutdown().await;
}

#[tokio::test]
async fn responder_sees_the_reply_subject_and_request_payload() {
    let server = TestServer::default().await;
    let svc = server.client().await;
    let mut requests = svc.subscribe("svc.inspect").await.unwrap();
    let router = server.handle().shared().router();
    common::wait_for("responder subscription", || {
        router.subscription_count() == 1
    })
    .await;
    let client = server.client().await;

    let pending = tokio::spawn({
        let client = client.clone();
        async move { client.request("svc.inspect", "payload".into()).await }
    });
    let req = tokio::time::timeout(DEADLINE, requests.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&req.payload[..], b"payload");
    let reply_to = req.reply.clone().expect("request carries a reply subject");
    assert!(
        reply_to.starts_with("_INBOX."),
        "async-nats replies to its inbox: {reply_to}"
    );
    svc.publish(reply_to, "done".into()).await.unwrap();
    let reply = tokio::time::timeout(DEADLINE, pending)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(&reply.payload[..], b"done");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_requests_are_each_answered_correctly() {
    const N: usize = 200;
    let server = TestServer::default().await;
    let _svc = responder(&server, "svc.many", None, "r").await;
    let client = async_nats::ConnectOptions::new()
        .request_timeout(Some(DEADLINE))
        .connect(&server.url)
        .await
        .unwrap();

    let requests = (0..N).map(|i| {
        let client = client.clone();
        async move {
            let reply = client
                .request("svc.many", format!("req-{i}").into())
                .await
                .unwrap_or_else(|e| panic!("request {i} failed: {e}"));
            (i, reply.payload)
        }
    });
    let replies = tokio::time::timeout(DEADLINE, futures::future::join_all(requests))
        .await
        .expect("all requests answered before the deadline");
    assert_eq!(replies.len(), N);
    for (i, payload) in replies {
        assert_eq!(
            payload,
            format!("r:req-{i}"),
            "request {i} got someone else's reply"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_from_many_connections_to_a_queue_of_responders() {
    const CLIENTS: usize = 5;
    const PER_CLIENT: usize = 40;
    let server = TestServer::default().await;
    let _r1 = responder(&server, "svc.q", Some("workers"), "a").await;
    let _r2 = responder(&server, "svc.q", Some("workers"), "b").await;

    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let client = server.client().await;
        tasks.push(tokio::spawn(async move {
            let requests = (0..PER_CLIENT).map(|i| {
                let client = client.clone();
                async move {
                    let body = format!("c{c}-{i}");
                    let reply = client.request("svc.q", body.clone().into()).await.unwrap();
                    (body, reply.payload)
                }
            });
            futures::future::join_all(requests).await
        }));
    }
    let mut answered_by = [0usize; 2];
    for task in tasks {
        let replies = tokio::time::timeout(DEADLINE, task).await.unwrap().unwrap();
        for (body, payload) in replies {
            let payload = std::str::from_utf8(&payload).unwrap();
            let (tag, echoed) = payload.split_once(':').expect("tagged reply");
            assert_eq!(echoed, body, "reply matches its request");
            answered_by[usize::from(tag == "b")] += 1;
        }
    }
    assert_eq!(answered_by.iter().sum::<usize>(), CLIENTS * PER_CLIENT);
    assert!(
        answered_by.iter().all(|&n| n > 0),
        "both queue responders answered some: {answered_by:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn request_to_a_silent_subscriber_times_out() {
    // Someone is subscribed but never answers: the request times out (no 503).
    let server = TestServer::default().await;
    let silent = server.client().await;
    let _sub = silent.subscribe("svc.silent").await.unwrap();
    let router = server.handle().shared().router();
    common::wait_for("silent subscription", || router.subscription_count() == 1).await;
    let client = async_nats::ConnectOptions::new()
        .request_timeout(Some(Duration::from_millis(300)))
        .connect(&server.url)
        .await
        .unwrap();

    let err = tokio::time::timeout(DEADLINE, client.request("svc.silent", "x".into()))
        .await
        .unwrap()
        .expect_err("nobody answers");
    assert_eq!(err.kind(), async_nats::RequestErrorKind::TimedOut, "{err}");
    server.shutdown().await;
}
