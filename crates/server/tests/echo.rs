//! Echo: by default a connection receives its own publishes; with `no_echo` it does not,
//! while other connections still do.

mod common;

use async_nats::{Client, Subscriber};
use common::{RawClient, TestServer, DEADLINE};
use futures::{FutureExt, StreamExt};

async fn wait_subs(server: &TestServer, n: usize) {
    let router = server.handle().shared().router();
    common::wait_for(&format!("{n} subscriptions on the server"), || {
        router.subscription_count() == n
    })
    .await;
}

async fn next_payload(sub: &mut Subscriber) -> String {
    let msg = tokio::time::timeout(DEADLINE, sub.next())
        .await
        .expect("message before the deadline")
        .expect("subscription open");
    String::from_utf8(msg.payload.to_vec()).unwrap()
}

async fn no_echo_client(server: &TestServer) -> Client {
    async_nats::ConnectOptions::new()
        .no_echo()
        .connect(&server.url)
        .await
        .unwrap()
}

#[tokio::test]
async fn echo_on_by_default_receives_own_publishes() {
    let server = TestServer::default().await;
    let client = server.client().await;
    let mut sub = client.subscribe("echo").await.unwrap();
    client.publish("echo", "mine".into()).await.unwrap();
    assert_eq!(next_payload(&mut sub).await, "mine");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_echo_client_does_not_receive_own_publishes_but_others_do() {
    let server = TestServer::default().await;
    let quiet = no_echo_client(&server).await;
    let other = server.client().await;
    let mut quiet_sub = quiet.subscribe("chat").await.unwrap();
    let mut other_sub = other.subscribe("chat").await.unwrap();
    wait_subs(&server, 2).await;

    quiet.publish("chat", "from-quiet".into()).await.unwrap();
    // The other connection gets it: by then the server has routed it, so if it were
    // echoed it would already be queued for `quiet` ahead of the next message.
    assert_eq!(next_payload(&mut other_sub).await, "from-quiet");

    other.publish("chat", "from-other".into()).await.unwrap();
    assert_eq!(
        next_payload(&mut quiet_sub).await,
        "from-other",
        "the no-echo client's first message must be the other client's"
    );
    assert_eq!(next_payload(&mut other_sub).await, "from-other");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_echo_skips_own_queue_member_but_the_group_still_gets_it() {
    let server = TestServer::default().await;
    let quiet = no_echo_client(&server).await;
    let other = server.client().await;
    let mut quiet_q = quiet.queue_subscribe("jobs", "g".into()).await.unwrap();
    let mut other_q = other.queue_subscribe("jobs", "g".into()).await.unwrap();
    wait_subs(&server, 2).await;

    for i in 0..50 {
        quiet.publish("jobs", format!("{i}").into()).await.unwrap();
    }
    for i in 0..50 {
        assert_eq!(
            next_payload(&mut other_q).await,
            i.to_string(),
            "every job published by the no-echo member goes to the other member"
        );
    }
    // Barrier: once `quiet` sees a later message from `other`, anything the server had
    // queued for it before is already in its subscriptions' channels.
    let mut ctl = quiet.subscribe("ctl").await.unwrap();
    wait_subs(&server, 3).await;
    other.publish("ctl", "".into()).await.unwrap();
    next_payload(&mut ctl).await;
    let pending = tokio::task::unconstrained(quiet_q.next()).now_or_never();
    assert!(
        pending.is_none(),
        "the no-echo member got one of its own jobs: {pending:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn raw_echo_false_in_connect() {
    let server = TestServer::default().await;
    let mut raw = RawClient::connect(server.addr).await;
    let out = raw
        .round_trip(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":false,\"protocol\":1}\r\n\
              SUB self 1\r\nPUB self 2\r\nhi\r\n",
        )
        .await;
    assert_eq!(out, "", "no echo of its own message");

    let mut echoing = RawClient::connect(server.addr).await;
    let out = echoing
        .round_trip(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":true,\"protocol\":1}\r\n\
              SUB self 1\r\nPUB self 2\r\nhi\r\n",
        )
        .await;
    assert_eq!(out, "MSG self 1 2\r\nhi\r\n");
    server.shutdown().await;
}
