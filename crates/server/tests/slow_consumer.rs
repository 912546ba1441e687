//! Slow consumers: a subscriber that does not read, once more than `max_pending` bytes
//! are waiting for it, is disconnected and counted; nobody else is held up: healthy
//! subscribers get every message and the publisher keeps working.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::Client;
use common::{RawClient, TestServer, DEADLINE};
use futures::StreamExt;
use tokio::net::TcpSocket;
use tokio::time::Instant;

const MAX_PENDING: usize = 256 * 1024;
const MSG_SIZE: usize = 1024;
/// Messages per publishing round (1 MiB).
const ROUND: usize = 1024;
/// Upper bound on what is published before the slow consumer must have been cut off.
const MAX_ROUNDS: usize = 64;

async fn server() -> TestServer {
    TestServer::start(sluice_server::Options {
        max_pending: MAX_PENDING,
        max_payload: 64 * 1024,
        ..common::opts()
    })
    .await
}

/// A raw client with a small receive buffer, so the kernel soaks up little of what the
/// server sends it.
async fn raw_with_small_buffer(server: &TestServer) -> RawClient {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(server.addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let mut raw = RawClient {
        stream,
        received: Vec::new(),
        info: serde_json::Value::Null,
    };
    let info = raw.read_line().await.expect("INFO");
    assert!(info.starts_with("INFO "), "{info:?}");
    raw
}

/// A subscriber that counts what it receives on `subject`.
async fn counting_subscriber(server: &TestServer, subject: &str) -> (Client, Arc<AtomicUsize>) {
    let client = server.client().await;
    let mut sub = client.subscribe(subject.to_owned()).await.unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            assert_eq!(msg.payload.len(), MSG_SIZE);
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    (client, count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_reading_subscriber_is_cut_off_and_others_are_unaffected() {
    let server = server().await;
    let shared = server.handle().shared().clone();
    let router = shared.router();

    let (_healthy, healthy_count) = counting_subscriber(&server, "flood").await;
    let mut slow = raw_with_small_buffer(&server).await;
    let out = slow
        .round_trip(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\nSUB flood 1\r\n",
        )
        .await;
    assert_eq!(out, "");
    common::wait_for("both subscriptions", || router.subscription_count() == 2).await;
    let publisher = server.client().await;

    // Publish 1 MiB rounds until the server drops the slow consumer (its subscription
    // disappears), bounded by MAX_ROUNDS.
    let payload = bytes::Bytes::from(vec![b'x'; MSG_SIZE]);
    let started = Instant::now();
    let mut published = 0;
    let mut cut_off = false;
    for _ in 0..MAX_ROUNDS {
        for _ in 0..ROUND {
            publisher.publish("flood", payload.clone()).await.unwrap();
        }
        publisher.flush().await.unwrap();
        published += ROUND;
        // Let the server catch up with this round (the healthy subscriber has it all)
        // before looking at the slow one.
        let target = published;
        let until = Instant::now() + DEADLINE;
        while healthy_count.load(Ordering::Relaxed) < target {
            // Three connections so far; a fourth means the healthy one was cut off and
            // reconnected.
            let total = shared.stats().total_connections.load(Ordering::Relaxed);
            assert!(
                Instant::now() < until && total == 3,
                "healthy subscriber has {} of {target}; slow consumers {}, subscriptions {}, connections {} (total {})",
                healthy_count.load(Ordering::Relaxed),
                shared.stats().slow_consumers.load(Ordering::Relaxed),
                router.subscription_count(),
                shared.connection_count(),
                total,
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if router.subscription_count() == 1 {
            cut_off = true;
            break;
        }
        assert!(started.elapsed() < DEADLINE, "publishing took too long");
    }
    assert!(
        cut_off,
        "slow consumer still subscribed after {} MiB with max_pending {} KiB",
        (published * MSG_SIZE) >> 20,
        MAX_PENDING >> 10
    );

    // The slow client, once it reads, gets what was already on its way, then EOF.
    let drained = tokio::time::timeout(DEADLINE, slow.read_to_close())
        .await
        .expect("slow consumer connection closed");
    assert!(
        drained.len() < published * (MSG_SIZE + 20),
        "the slow consumer did not get everything ({} bytes)",
        drained.len()
    );
    common::wait_for("slow consumer counted", || {
        shared.stats().slow_consumers.load(Ordering::Relaxed) > 0
    })
    .await;
    assert_eq!(shared.stats().slow_consumers.load(Ordering::Relaxed), 1);
    common::wait_for("slow consumer unregistered", || {
        shared.connection_count() == 2
    })
    .await;

    // The healthy subscriber got every message, exactly once.
    assert_eq!(healthy_count.load(Ordering::Relaxed), published);

    // The publisher is still connected and working: request/reply round trip.
    let responder = server.client().await;
    let mut requests = responder.subscribe("svc").await.unwrap();
    let responder2 = responder.clone();
    tokio::spawn(async move {
        while let Some(msg) = requests.next().await {
            if let Some(reply) = msg.reply {
                responder2.publish(reply, "pong".into()).await.unwrap();
            }
        }
    });
    common::wait_for("responder subscription", || {
        router.subscription_count() == 2
    })
    .await;
    let reply = tokio::time::timeout(DEADLINE, publisher.request("svc", "ping".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&reply.payload[..], b"pong");
    assert_eq!(
        publisher.connection_state(),
        async_nats::connection::State::Connected
    );
    assert_eq!(
        shared.stats().total_connections.load(Ordering::Relaxed),
        4,
        "nobody reconnected (healthy, slow, publisher, responder)"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_subscriber_survives_a_burst_larger_than_max_pending() {
    // A subscriber that reads as fast as it can is not a slow consumer, even when one
    // publisher bursts 16x max_pending at it. (nats-server stalls the fast producer's
    // read loop briefly when a destination's pending bytes pass max_pending/2, so the
    // reader catches up instead of being cut off.)
    const TOTAL: usize = 4096; // 4 MiB of 1 KiB messages
    let server = server().await;
    let shared = server.handle().shared().clone();
    let (subscriber, count) = counting_subscriber(&server, "burst").await;
    common::wait_for("subscription", || shared.router().subscription_count() == 1).await;
    let publisher = server.client().await;

    let payload = bytes::Bytes::from(vec![b'x'; MSG_SIZE]);
    for _ in 0..TOTAL {
        publisher.publish("burst", payload.clone()).await.unwrap();
    }
    publisher.flush().await.unwrap();

    let until = Instant::now() + DEADLINE;
    while count.load(Ordering::Relaxed) < TOTAL {
        let slow = shared.stats().slow_consumers.load(Ordering::Relaxed);
        assert!(
            slow == 0 && Instant::now() < until,
            "reading subscriber got {} of {TOTAL} messages; server counted {slow} slow \
             consumer(s) and {} connections in total (reconnects)",
            count.load(Ordering::Relaxed),
            shared.stats().total_connections.load(Ordering::Relaxed),
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(shared.stats().slow_consumers.load(Ordering::Relaxed), 0);
    assert_eq!(
        subscriber.connection_state(),
        async_nats::connection::State::Connected
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_deadline_cuts_off_a_stuck_reader() {
    // max_pending is large here, so only the write deadline can catch the stuck client:
    // its socket buffers fill, the server's write blocks, and after write_deadline the
    // connection is closed without waiting for the client.
    let server = TestServer::start(sluice_server::Options {
        write_deadline: Duration::from_millis(300),
        ..common::opts()
    })
    .await;
    let shared = server.handle().shared().clone();
    let router = shared.router();
    let mut slow = raw_with_small_buffer(&server).await;
    slow.round_trip(
        b"CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\nSUB flood 1\r\n",
    )
    .await;
    let publisher = server.client().await;
    let payload = bytes::Bytes::from(vec![b'x'; 16 * 1024]);

    // 8 MiB: far more than the socket buffers hold, far less than max_pending (64 MiB).
    for _ in 0..512 {
        publisher.publish("flood", payload.clone()).await.unwrap();
    }
    publisher.flush().await.unwrap();
    let started = Instant::now();
    common::wait_for("stuck reader detected", || {
        shared.stats().slow_consumers.load(Ordering::Relaxed) > 0
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "detected only after {:?}",
        started.elapsed()
    );
    // Detected without the client ever reading.
    common::wait_for("subscription removed", || router.subscription_count() == 0).await;
    common::wait_for("connection unregistered", || shared.connection_count() == 1).await;
    let drained = tokio::time::timeout(DEADLINE, slow.read_to_close()).await;
    assert!(drained.is_ok(), "stuck client sees the connection end");
    server.shutdown().await;
}
