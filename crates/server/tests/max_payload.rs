//! `max_payload`: advertised in INFO; a larger PUB/HPUB gets `-ERR 'Maximum Payload
//! Violation'` and the connection is closed; the official client refuses locally.

mod common;

use async_nats::client::PublishErrorKind;
use common::{RawClient, TestServer, DEADLINE};
use futures::StreamExt;

const MAX: usize = 1024;
const CONNECT: &str =
    "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"protocol\":1}\r\n";

async fn server() -> TestServer {
    TestServer::start(sluice_server::Options {
        max_payload: MAX,
        ..common::opts()
    })
    .await
}

#[tokio::test]
async fn info_advertises_max_payload() {
    let server = server().await;
    let raw = RawClient::connect(server.addr).await;
    assert_eq!(raw.info["max_payload"], serde_json::json!(MAX));
    let client = server.client().await;
    assert_eq!(client.server_info().max_payload, MAX);
    server.shutdown().await;
}

#[tokio::test]
async fn raw_pub_over_max_payload_is_refused_and_closed() {
    let server = server().await;
    let mut raw = RawClient::connect(server.addr).await;
    raw.round_trip(CONNECT.as_bytes()).await;
    let mut cmd = format!("PUB foo {}\r\n", MAX + 1).into_bytes();
    cmd.extend(std::iter::repeat_n(b'x', MAX + 1));
    cmd.extend_from_slice(b"\r\n");
    raw.send(&cmd).await;
    let out = raw.read_to_close().await;
    assert!(
        out.starts_with("-ERR 'Maximum Payload Violation'\r\n"),
        "got {out:?}"
    );
    assert_eq!(out, "-ERR 'Maximum Payload Violation'\r\n", "nothing else");
    server.shutdown().await;
}

#[tokio::test]
async fn raw_pub_control_line_alone_is_enough_to_refuse() {
    // The size is known from the control line; the server need not wait for the payload.
    let server = server().await;
    let mut raw = RawClient::connect(server.addr).await;
    raw.send(format!("{CONNECT}PUB foo 5000000\r\n").as_bytes())
        .await;
    let out = raw.read_to_close().await;
    assert_eq!(out, "-ERR 'Maximum Payload Violation'\r\n");
    server.shutdown().await;
}

#[tokio::test]
async fn raw_hpub_total_over_max_payload_is_refused() {
    // Headers count towards max_payload: the payload alone fits, headers + payload do not.
    let server = server().await;
    let mut raw = RawClient::connect(server.addr).await;
    raw.round_trip(CONNECT.as_bytes()).await;
    let block = b"NATS/1.0\r\nK: V\r\n\r\n";
    let total = MAX + 1;
    let mut cmd = format!("HPUB foo {} {total}\r\n", block.len()).into_bytes();
    cmd.extend_from_slice(block);
    cmd.extend(std::iter::repeat_n(b'y', total - block.len()));
    cmd.extend_from_slice(b"\r\n");
    raw.send(&cmd).await;
    assert_eq!(
        raw.read_to_close().await,
        "-ERR 'Maximum Payload Violation'\r\n"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn raw_pub_at_max_payload_is_accepted() {
    let server = server().await;
    let mut raw = RawClient::connect(server.addr).await;
    let mut cmd = format!("{CONNECT}SUB foo 1\r\nPUB foo {MAX}\r\n").into_bytes();
    cmd.extend(std::iter::repeat_n(b'z', MAX));
    cmd.extend_from_slice(b"\r\n");
    let out = raw.round_trip(&cmd).await;
    let expected = format!("MSG foo 1 {MAX}\r\n{}\r\n", "z".repeat(MAX));
    assert_eq!(out, expected);
    server.shutdown().await;
}

#[tokio::test]
async fn violation_closes_only_the_offender() {
    let server = server().await;
    let bystander = server.client().await;
    let mut sub = bystander.subscribe("foo").await.unwrap();
    let router = server.handle().shared().router();
    common::wait_for("subscription", || router.subscription_count() == 1).await;

    let mut raw = RawClient::connect(server.addr).await;
    raw.send(format!("{CONNECT}PUB foo {}\r\n", MAX + 1).as_bytes())
        .await;
    assert_eq!(
        raw.read_to_close().await,
        "-ERR 'Maximum Payload Violation'\r\n"
    );
    common::wait_for("offender gone", || {
        server.handle().shared().connection_count() == 1
    })
    .await;

    bystander.publish("foo", "still here".into()).await.unwrap();
    let msg = tokio::time::timeout(DEADLINE, sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&msg.payload[..], b"still here");
    server.shutdown().await;
}

#[tokio::test]
async fn client_refuses_oversize_publish_and_stays_connected() {
    let server = server().await;
    let client = server.client().await;
    let mut sub = client.subscribe("foo").await.unwrap();

    let err = client
        .publish("foo", vec![0u8; MAX + 1].into())
        .await
        .expect_err("over max_payload");
    assert_eq!(err.kind(), PublishErrorKind::MaxPayloadExceeded, "{err}");

    client.publish("foo", vec![1u8; MAX].into()).await.unwrap();
    let msg = tokio::time::timeout(DEADLINE, sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(msg.payload.len(), MAX);
    assert_eq!(
        client.connection_state(),
        async_nats::connection::State::Connected
    );
    server.shutdown().await;
}
