//! Auto-unsubscribe (`UNSUB <sid> <max>`): a subscription gets exactly `max` messages in
//! total, then the server removes it.

mod common;

use common::{RawClient, TestServer, DEADLINE};
use futures::StreamExt;

const CONNECT: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\n";

fn msg_lines(out: &str) -> Vec<&str> {
    out.split("\r\n")
        .filter(|l| l.starts_with("MSG "))
        .collect()
}

fn pubs(subject: &str, range: std::ops::Range<usize>) -> Vec<u8> {
    let mut out = Vec::new();
    for i in range {
        let payload = format!("m{i:03}");
        out.extend_from_slice(
            format!("PUB {subject} {}\r\n{payload}\r\n", payload.len()).as_bytes(),
        );
    }
    out
}

#[tokio::test]
async fn unsubscribe_after_delivers_exactly_n_then_ends() {
    let server = TestServer::default().await;
    let client = server.client().await;
    let mut sub = client.subscribe("limited").await.unwrap();
    sub.unsubscribe_after(3).await.unwrap();
    let router = server.handle().shared().router();
    common::wait_for("the subscription", || router.subscription_count() == 1).await;

    let publisher = server.client().await;
    for i in 0..10 {
        publisher
            .publish("limited", format!("m{i}").into())
            .await
            .unwrap();
    }
    publisher.flush().await.unwrap();

    let mut got = Vec::new();
    while let Some(msg) = tokio::time::timeout(DEADLINE, sub.next())
        .await
        .expect("stream ends before the deadline")
    {
        got.push(String::from_utf8(msg.payload.to_vec()).unwrap());
    }
    assert_eq!(got, ["m0", "m1", "m2"]);
    // The server removed the subscription after the third delivery.
    common::wait_for("auto-unsubscribe on the server", || {
        router.subscription_count() == 0
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn raw_unsub_max_after_some_deliveries_counts_them() {
    let server = TestServer::default().await;
    let mut raw = RawClient::connect(server.addr).await;
    let mut cmd = CONNECT.to_vec();
    cmd.extend_from_slice(b"SUB foo 1\r\n");
    cmd.extend(pubs("foo", 0..2));
    let out = raw.round_trip(&cmd).await;
    assert_eq!(
        msg_lines(&out),
        ["MSG foo 1 4", "MSG foo 1 4"],
        "two deliveries before the UNSUB: {out:?}"
    );

    // Max 5 in total: 2 already delivered, so 3 more.
    let mut cmd = b"UNSUB 1 5\r\n".to_vec();
    cmd.extend(pubs("foo", 2..12));
    let out = raw.round_trip(&cmd).await;
    let payloads: Vec<&str> = out.split("\r\n").filter(|l| l.starts_with('m')).collect();
    assert_eq!(payloads, ["m002", "m003", "m004"], "{out:?}");
    assert_eq!(msg_lines(&out).len(), 3);
    assert_eq!(server.handle().shared().router().subscription_count(), 0);

    // Nothing more arrives for the removed subscription.
    let out = raw.round_trip(&pubs("foo", 12..15)).await;
    assert_eq!(out, "");
    server.shutdown().await;
}

#[tokio::test]
async fn raw_unsub_max_already_reached_removes_at_once() {
    let server = TestServer::default().await;
    let mut raw = RawClient::connect(server.addr).await;
    let mut cmd = CONNECT.to_vec();
    cmd.extend_from_slice(b"SUB bar 2\r\n");
    cmd.extend(pubs("bar", 0..3));
    let out = raw.round_trip(&cmd).await;
    assert_eq!(msg_lines(&out).len(), 3, "{out:?}");

    let mut cmd = b"UNSUB 2 2\r\n".to_vec();
    cmd.extend(pubs("bar", 3..6));
    let out = raw.round_trip(&cmd).await;
    assert_eq!(out, "", "max <= delivered: removed immediately");
    assert_eq!(server.handle().shared().router().subscription_count(), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn raw_unsub_max_before_any_delivery() {
    let server = TestServer::default().await;
    let mut raw = RawClient::connect(server.addr).await;
    let mut cmd = CONNECT.to_vec();
    cmd.extend_from_slice(b"SUB baz 3\r\nUNSUB 3 1\r\n");
    cmd.extend(pubs("baz", 0..4));
    let out = raw.round_trip(&cmd).await;
    assert_eq!(msg_lines(&out), ["MSG baz 3 4"], "{out:?}");
    assert!(out.contains("m000") && !out.contains("m001"), "{out:?}");
    assert_eq!(server.handle().shared().router().subscription_count(), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn unsub_max_on_a_queue_subscription_counts_only_its_own_deliveries() {
    // Two members of a group, one limited to 2: it leaves after its second message and
    // the other member gets the rest; every message is still delivered once.
    let server = TestServer::default().await;
    let mut raw = RawClient::connect(server.addr).await;
    let mut cmd = CONNECT.to_vec();
    cmd.extend_from_slice(b"SUB job grp 1\r\nUNSUB 1 2\r\nSUB job grp 2\r\n");
    cmd.extend(pubs("job", 0..60));
    let out = raw.round_trip(&cmd).await;
    let lines = msg_lines(&out);
    assert_eq!(lines.len(), 60, "each message once: {out:?}");
    let limited = lines.iter().filter(|l| l.starts_with("MSG job 1 ")).count();
    assert_eq!(limited, 2, "sid 1 got exactly its max: {out:?}");
    assert_eq!(server.handle().shared().router().subscription_count(), 1);
    server.shutdown().await;
}
