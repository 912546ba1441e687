//! Dead-client detection: the server PINGs idle clients every `ping_interval`; after
//! `ping_max` unanswered PINGs it sends `-ERR 'Stale Connection'` and closes. Clients that
//! answer stay connected.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{RawClient, TestServer, DEADLINE};
use futures::StreamExt;
use tokio::time::Instant;

const INTERVAL: Duration = Duration::from_millis(100);
const CONNECT: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\n";

async fn server() -> TestServer {
    TestServer::start(sluice_server::Options {
        ping_interval: INTERVAL,
        ping_max: 2,
        ..common::opts()
    })
    .await
}

#[tokio::test]
async fn silent_client_gets_pings_then_stale_connection_and_close() {
    let server = server().await;
    let mut raw = RawClient::connect(server.addr).await;
    raw.send(CONNECT).await;
    let started = Instant::now();
    let out = raw.read_to_close().await;
    let elapsed = started.elapsed();
    assert_eq!(
        out, "PING\r\nPING\r\n-ERR 'Stale Connection'\r\n",
        "ping_max PINGs, then the error"
    );
    assert!(
        elapsed >= INTERVAL * 2,
        "closed after {elapsed:?}: too early for two unanswered PINGs"
    );
    assert!(
        elapsed < Duration::from_secs(2),
        "closed only after {elapsed:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn raw_client_answering_pong_stays_connected() {
    let server = server().await;
    let mut raw = RawClient::connect(server.addr).await;
    raw.send(CONNECT).await;
    let end = Instant::now() + Duration::from_secs(1);
    let mut pings = 0;
    loop {
        match tokio::time::timeout_at(end, raw.read_line()).await {
            Err(_) => break,
            Ok(Some(line)) => {
                assert_eq!(line, "PING", "only PINGs while idle");
                pings += 1;
                raw.send(b"PONG\r\n").await;
            }
            Ok(None) => panic!("server closed a client that answered its PINGs"),
        }
    }
    assert!(pings >= 3, "server kept pinging: {pings} PINGs in 1 s");
    assert_eq!(raw.round_trip(b"").await.replace("PING\r\n", ""), "");
    assert_eq!(server.handle().shared().connection_count(), 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_client_stays_connected_over_many_intervals() {
    let server = server().await;
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let client = async_nats::ConnectOptions::new()
        .event_callback(move |event| {
            let tx = events_tx.clone();
            async move {
                let _ = tx.send(event);
            }
        })
        .connect(&server.url)
        .await
        .unwrap();
    let mut sub = client.subscribe("alive").await.unwrap();

    // Ten ping intervals pass; the client answers the server's PINGs on its own.
    tokio::time::sleep(Duration::from_secs(1)).await;

    client.publish("alive", "yes".into()).await.unwrap();
    let msg = tokio::time::timeout(DEADLINE, sub.next())
        .await
        .expect("still delivering after 1 s")
        .unwrap();
    assert_eq!(&msg.payload[..], b"yes");
    assert_eq!(
        client.connection_state(),
        async_nats::connection::State::Connected
    );
    let stats = server.handle().shared().stats();
    assert_eq!(
        stats.total_connections.load(Ordering::Relaxed),
        1,
        "the client never had to reconnect"
    );
    while let Ok(event) = events.try_recv() {
        assert!(
            !matches!(
                event,
                async_nats::Event::Disconnected | async_nats::Event::ServerError(_)
            ),
            "unexpected client event: {event}"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn stale_connection_subscriptions_are_removed() {
    let server = server().await;
    let router = server.handle().shared().router();
    let mut raw = RawClient::connect(server.addr).await;
    let mut cmd = CONNECT.to_vec();
    cmd.extend_from_slice(b"SUB a 1\r\nSUB b.* 2\r\nSUB c q 3\r\n");
    raw.round_trip(&cmd).await;
    assert_eq!(router.subscription_count(), 3);
    assert_eq!(server.handle().shared().connection_count(), 1);

    let out = raw.read_to_close().await;
    assert!(out.ends_with("-ERR 'Stale Connection'\r\n"), "got {out:?}");
    common::wait_for("subscriptions of the stale connection removed", || {
        router.subscription_count() == 0
    })
    .await;
    common::wait_for("stale connection unregistered", || {
        server.handle().shared().connection_count() == 0
    })
    .await;

    // Publishing to its subjects now reaches nobody (a request gets no responders).
    let client = server.client().await;
    let err = client.request("a", "x".into()).await.unwrap_err();
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
    server.shutdown().await;
}
