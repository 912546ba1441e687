//! `ServerHandle::shutdown`: connected clients see the connection close, messages already
//! routed are delivered first, and the port stops accepting.

mod common;

use std::time::Duration;

use async_nats::Event;
use common::{RawClient, TestServer, DEADLINE};
use futures::StreamExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

const CONNECT: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\n";

/// An official client whose connection events land in the returned channel.
async fn client_with_events(
    server: &TestServer,
) -> (async_nats::Client, mpsc::UnboundedReceiver<Event>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let client = async_nats::ConnectOptions::new()
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(event);
            }
        })
        .connect(&server.url)
        .await
        .unwrap();
    (client, rx)
}

async fn wait_event(events: &mut mpsc::UnboundedReceiver<Event>, want: fn(&Event) -> bool) {
    tokio::time::timeout(DEADLINE, async {
        while let Some(event) = events.recv().await {
            if want(&event) {
                return;
            }
        }
        panic!("event channel closed");
    })
    .await
    .expect("expected client event before the deadline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_sees_the_connection_close_and_gets_what_was_sent_before() {
    const N: usize = 2000;
    let server = TestServer::default().await;
    let addr = server.addr;
    let (subscriber, mut events) = client_with_events(&server).await;
    let mut sub = subscriber.subscribe("before").await.unwrap();
    let router = server.handle().shared().router();
    common::wait_for("subscription", || router.subscription_count() == 1).await;

    // A raw publisher: its PONG proves the server has routed every PUB before it.
    let mut publisher = RawClient::connect(addr).await;
    let mut cmd = CONNECT.to_vec();
    for i in 0..N {
        let payload = format!("m{i}");
        cmd.extend_from_slice(format!("PUB before {}\r\n{payload}\r\n", payload.len()).as_bytes());
    }
    assert_eq!(publisher.round_trip(&cmd).await, "");

    tokio::time::timeout(DEADLINE, server.shutdown())
        .await
        .expect("shutdown finishes promptly");

    // Everything routed before the shutdown arrives, in order.
    for i in 0..N {
        let msg = tokio::time::timeout(DEADLINE, sub.next())
            .await
            .unwrap_or_else(|_| panic!("message {i} of {N} not delivered before close"))
            .expect("subscription open");
        assert_eq!(msg.payload, format!("m{i}"));
    }
    // And the client notices the connection is gone.
    wait_event(&mut events, |e| matches!(e, Event::Disconnected)).await;
    assert_ne!(
        subscriber.connection_state(),
        async_nats::connection::State::Connected
    );
    // The raw publisher sees EOF too.
    let rest = publisher.read_to_close().await;
    assert!(!rest.contains("PONG"), "{rest:?}");
}

#[tokio::test]
async fn raw_client_reads_eof_on_shutdown() {
    let server = TestServer::default().await;
    let mut raw = RawClient::connect(server.addr).await;
    let mut cmd = CONNECT.to_vec();
    cmd.extend_from_slice(b"SUB x 1\r\nPUB x 5\r\nhello\r\n");
    // Whatever was queued before the shutdown (the MSG) is flushed, then the socket closes.
    raw.send(&cmd).await;
    raw.read_until(b"hello\r\n").await;
    tokio::time::timeout(DEADLINE, server.shutdown())
        .await
        .expect("shutdown finishes promptly");
    let rest = raw.read_to_close().await;
    assert!(
        rest.is_empty() || rest.starts_with("-ERR") || rest == "PING\r\n",
        "nothing but an optional notice after shutdown: {rest:?}"
    );
}

#[tokio::test]
async fn port_stops_accepting_after_shutdown() {
    let server = TestServer::default().await;
    let addr = server.addr;
    let client = server.client().await;
    tokio::time::timeout(DEADLINE, server.shutdown())
        .await
        .unwrap();
    let refused = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr)).await;
    assert!(
        matches!(refused, Ok(Err(_))),
        "connecting after shutdown must fail: {refused:?}"
    );
    drop(client);
}

#[tokio::test]
async fn shutdown_with_no_clients_is_quick() {
    let server = TestServer::default().await;
    let started = tokio::time::Instant::now();
    tokio::time::timeout(DEADLINE, server.shutdown())
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn shutdown_does_not_wait_long_for_a_client_that_does_not_read() {
    // A client that never reads cannot hold shutdown beyond its flush timeout.
    let server = TestServer::start(sluice_server::Options {
        write_deadline: Duration::from_millis(300),
        ..common::opts()
    })
    .await;
    let mut stuck = RawClient::connect(server.addr).await;
    stuck
        .round_trip(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\nSUB big 1\r\n",
        )
        .await;
    let publisher = server.client().await;
    let payload = bytes::Bytes::from(vec![0u8; 64 * 1024]);
    for _ in 0..64 {
        publisher.publish("big", payload.clone()).await.unwrap();
    }
    publisher.flush().await.unwrap();
    let started = tokio::time::Instant::now();
    tokio::time::timeout(DEADLINE, server.shutdown())
        .await
        .expect("shutdown finishes despite a stuck client");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "shutdown took {:?}",
        started.elapsed()
    );
    drop(stuck);
}
