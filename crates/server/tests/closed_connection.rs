//! When a client goes away, the server notices promptly and removes its subscriptions;
//! everyone else keeps working.

mod common;

use std::time::Duration;

use common::{RawClient, TestServer, DEADLINE};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

const CONNECT: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\n";

#[tokio::test]
async fn raw_client_disconnect_removes_its_subscriptions() {
    let server = TestServer::default().await;
    let shared = server.handle().shared();
    let router = shared.router();

    let mut stays = RawClient::connect(server.addr).await;
    let mut cmd = CONNECT.to_vec();
    cmd.extend_from_slice(b"SUB keep 1\r\n");
    stays.round_trip(&cmd).await;
    let before = router.subscription_count();
    assert_eq!(before, 1);

    let mut leaves = RawClient::connect(server.addr).await;
    let mut cmd = CONNECT.to_vec();
    cmd.extend_from_slice(
        b"SUB keep 1\r\nSUB a.* 2\r\nSUB b.> 3\r\nSUB c grp 4\r\nSUB c grp 5\r\n",
    );
    leaves.round_trip(&cmd).await;
    assert_eq!(router.subscription_count(), before + 5);
    assert_eq!(shared.connection_count(), 2);

    drop(leaves);
    common::wait_for("the closed connection's subscriptions removed", || {
        router.subscription_count() == before
    })
    .await;
    common::wait_for("the closed connection unregistered", || {
        shared.connection_count() == 1
    })
    .await;

    // The remaining client is unaffected and alone on the subject.
    let out = stays.round_trip(b"PUB keep 2\r\nhi\r\n").await;
    assert_eq!(out, "MSG keep 1 2\r\nhi\r\n");
    server.shutdown().await;
}

#[tokio::test]
async fn half_close_is_noticed() {
    // The client shuts down its write side only (sends FIN) and keeps reading.
    let server = TestServer::default().await;
    let router = server.handle().shared().router();
    let mut raw = RawClient::connect(server.addr).await;
    let mut cmd = CONNECT.to_vec();
    cmd.extend_from_slice(b"SUB x 1\r\nSUB y 2\r\n");
    raw.round_trip(&cmd).await;
    assert_eq!(router.subscription_count(), 2);

    raw.stream.shutdown().await.unwrap();
    common::wait_for("subscriptions removed after the client's FIN", || {
        router.subscription_count() == 0
    })
    .await;
    // The server closes its side too.
    let rest = raw.read_to_close().await;
    assert!(!rest.contains("MSG"), "{rest:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn disconnect_in_the_middle_of_a_frame_is_noticed() {
    let server = TestServer::default().await;
    let router = server.handle().shared().router();
    let mut raw = RawClient::connect(server.addr).await;
    let mut cmd = CONNECT.to_vec();
    cmd.extend_from_slice(b"SUB x 1\r\n");
    raw.round_trip(&cmd).await;
    // Half a PUB: control line and part of the payload, then gone.
    raw.send(b"PUB x 100\r\nonly some of it").await;
    drop(raw);
    common::wait_for("subscription removed", || router.subscription_count() == 0).await;
    common::wait_for("connection unregistered", || {
        server.handle().shared().connection_count() == 0
    })
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_client_closing_removes_its_subscriptions() {
    let server = TestServer::default().await;
    let shared = server.handle().shared();
    let router = shared.router();
    let observer = server.client().await;
    let mut seen = observer.subscribe("events").await.unwrap();
    common::wait_for("observer subscription", || router.subscription_count() == 1).await;

    let leaving = server.client().await;
    let _s1 = leaving.subscribe("events").await.unwrap();
    let _s2 = leaving.subscribe("other.>").await.unwrap();
    let _s3 = leaving.queue_subscribe("work", "g".into()).await.unwrap();
    common::wait_for("all subscriptions", || router.subscription_count() == 4).await;

    leaving.drain().await.unwrap();
    common::wait_for("the drained client's subscriptions removed", || {
        router.subscription_count() == 1
    })
    .await;
    common::wait_for("the drained client disconnected", || {
        shared.connection_count() == 1
    })
    .await;

    observer.publish("events", "after".into()).await.unwrap();
    let msg = tokio::time::timeout(DEADLINE, seen.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&msg.payload[..], b"after");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_coming_and_going_leave_nothing_behind() {
    let server = TestServer::default().await;
    let shared = server.handle().shared();
    let mut clients = Vec::new();
    for i in 0..20 {
        let mut raw = RawClient::connect(server.addr).await;
        let mut cmd = CONNECT.to_vec();
        cmd.extend_from_slice(format!("SUB s.{i} 1\r\nSUB s.* 2\r\nSUB > 3\r\n").as_bytes());
        raw.round_trip(&cmd).await;
        clients.push(raw);
    }
    assert_eq!(shared.router().subscription_count(), 60);
    assert_eq!(shared.connection_count(), 20);
    clients.clear();
    common::wait_for("all subscriptions removed", || {
        shared.router().subscription_count() == 0
    })
    .await;
    common::wait_for("all connections unregistered", || {
        shared.connection_count() == 0
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn disconnect_is_noticed_promptly() {
    // Not a deadline-length wait: an orderly close is seen within a fraction of a second.
    let server = TestServer::default().await;
    let router = server.handle().shared().router();
    let mut raw = RawClient::connect(server.addr).await;
    let mut cmd = CONNECT.to_vec();
    cmd.extend_from_slice(b"SUB x 1\r\n");
    raw.round_trip(&cmd).await;
    let started = tokio::time::Instant::now();
    drop(raw);
    common::wait_for("subscription removed", || router.subscription_count() == 0).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    server.shutdown().await;
}
