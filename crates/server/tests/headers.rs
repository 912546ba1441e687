//! Message headers: they round trip byte for byte (multi-valued keys, key case kept), and a
//! connection that did not negotiate headers gets plain `MSG` with just the payload.

mod common;

use async_nats::HeaderMap;
use common::{RawClient, TestServer, DEADLINE};
use futures::StreamExt;

async fn wait_subs(server: &TestServer, n: usize) {
    let router = server.handle().shared().router();
    common::wait_for(&format!("{n} subscriptions on the server"), || {
        router.subscription_count() == n
    })
    .await;
}

/// Reads one `MSG`/`HMSG` frame: its control line and its `len` bytes of body (the body
/// may contain CRLFs, e.g. a header block).
async fn read_frame(raw: &mut RawClient) -> (String, Vec<u8>) {
    let line = raw.read_line().await.expect("a message control line");
    let total: usize = line
        .split(' ')
        .next_back()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a message line: {line:?}"));
    let mut body = Vec::new();
    while body.len() < total + 2 {
        let part = raw.read_line().await.expect("message body");
        body.extend_from_slice(part.as_bytes());
        body.extend_from_slice(b"\r\n");
    }
    assert_eq!(body.len(), total + 2, "body length for {line:?}");
    body.truncate(total);
    (line, body)
}

#[tokio::test]
async fn headers_round_trip_with_multiple_values_and_case_kept() {
    let server = TestServer::default().await;
    let subscriber = server.client().await;
    let mut sub = subscriber.subscribe("hdr").await.unwrap();
    wait_subs(&server, 1).await;
    let publisher = server.client().await;

    let mut headers = HeaderMap::new();
    headers.append("X-Multi", "first");
    headers.append("X-Multi", "second");
    headers.append("X-Multi", "third");
    headers.insert("X-MiXeD-CaSe", "Value With Spaces");
    headers.insert("lowercase-key", "v");
    publisher
        .publish_with_headers("hdr", headers, "body".into())
        .await
        .unwrap();
    publisher.flush().await.unwrap();

    let msg = tokio::time::timeout(DEADLINE, sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&msg.payload[..], b"body");
    let got = msg.headers.expect("message has headers");
    let multi: Vec<&str> = got.get_all("X-Multi").map(|v| v.as_str()).collect();
    assert_eq!(multi, ["first", "second", "third"], "all values, in order");
    assert_eq!(
        got.get("X-MiXeD-CaSe").map(|v| v.as_str()),
        Some("Value With Spaces")
    );
    let mut keys: Vec<String> = got.iter().map(|(k, _)| k.to_string()).collect();
    keys.sort();
    assert_eq!(
        keys,
        ["X-MiXeD-CaSe", "X-Multi", "lowercase-key"],
        "key case preserved"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn header_block_is_forwarded_byte_for_byte() {
    let server = TestServer::default().await;
    let mut raw_sub = RawClient::connect(server.addr).await;
    let out = raw_sub
        .round_trip(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"protocol\":1}\r\nSUB hdr.raw 7\r\n")
        .await;
    assert_eq!(out, "");
    let client_sub = server.client().await;
    let mut sub = client_sub.subscribe("hdr.raw").await.unwrap();
    wait_subs(&server, 2).await;

    // Repeated key, a key differing only in case, odd spacing in the value.
    let block = b"NATS/1.0\r\nX-Key: v1\r\nx-key: lower\r\nX-Key: v2\r\nSpaced:   a  b \r\n\r\n";
    let payload = b"payload-bytes";
    let mut publisher = RawClient::connect(server.addr).await;
    let mut cmd = format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":false,\"headers\":true,\"protocol\":1}}\r\nHPUB hdr.raw reply.to {} {}\r\n",
        block.len(),
        block.len() + payload.len()
    )
    .into_bytes();
    cmd.extend_from_slice(block);
    cmd.extend_from_slice(payload);
    cmd.extend_from_slice(b"\r\n");
    assert_eq!(publisher.round_trip(&cmd).await, "");

    let (line, body) = read_frame(&mut raw_sub).await;
    assert_eq!(
        line,
        format!(
            "HMSG hdr.raw 7 reply.to {} {}",
            block.len(),
            block.len() + payload.len()
        )
    );
    assert_eq!(&body[..block.len()], block, "header block unchanged");
    assert_eq!(&body[block.len()..], payload);

    let msg = tokio::time::timeout(DEADLINE, sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&msg.payload[..], payload);
    let headers = msg.headers.expect("headers");
    let values: Vec<&str> = headers.get_all("X-Key").map(|v| v.as_str()).collect();
    assert_eq!(values, ["v1", "v2"]);
    let lower: Vec<&str> = headers.get_all("x-key").map(|v| v.as_str()).collect();
    assert_eq!(lower, ["lower"], "x-key is a different key from X-Key");
    server.shutdown().await;
}

#[tokio::test]
async fn connection_without_headers_gets_plain_msg_with_payload_only() {
    let server = TestServer::default().await;
    let mut raw = RawClient::connect(server.addr).await;
    let out = raw
        .round_trip(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":false,\"protocol\":1}\r\nSUB hdr.strip 1\r\n")
        .await;
    assert_eq!(out, "");
    wait_subs(&server, 1).await;

    let publisher = server.client().await;
    let mut headers = HeaderMap::new();
    headers.insert("X-Secret", "not for you");
    headers.append("X-Multi", "a");
    headers.append("X-Multi", "b");
    publisher
        .publish_with_headers("hdr.strip", headers, "hello".into())
        .await
        .unwrap();
    // A headers-only message (empty payload) becomes an empty MSG.
    let mut only = HeaderMap::new();
    only.insert("X-Only", "1");
    publisher
        .publish_with_headers("hdr.strip", only, "".into())
        .await
        .unwrap();
    publisher
        .publish("hdr.strip", "plain".into())
        .await
        .unwrap();
    publisher.flush().await.unwrap();

    let (line, body) = read_frame(&mut raw).await;
    assert_eq!(line, "MSG hdr.strip 1 5", "headers stripped: MSG, not HMSG");
    assert_eq!(body, b"hello");
    let (line, body) = read_frame(&mut raw).await;
    assert_eq!(line, "MSG hdr.strip 1 0");
    assert_eq!(body, b"");
    let (line, body) = read_frame(&mut raw).await;
    assert_eq!(line, "MSG hdr.strip 1 5");
    assert_eq!(body, b"plain");
    server.shutdown().await;
}

#[tokio::test]
async fn connect_without_headers_field_also_gets_plain_msg() {
    // `headers` absent from CONNECT means no header support.
    let server = TestServer::default().await;
    let mut raw = RawClient::connect(server.addr).await;
    let out = raw
        .round_trip(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB h 9\r\n")
        .await;
    assert_eq!(out, "");
    wait_subs(&server, 1).await;

    let publisher = server.client().await;
    let mut headers = HeaderMap::new();
    headers.insert("K", "V");
    publisher
        .publish_with_headers("h", headers, "xyz".into())
        .await
        .unwrap();
    publisher.flush().await.unwrap();
    let (line, body) = read_frame(&mut raw).await;
    assert_eq!(line, "MSG h 9 3");
    assert_eq!(body, b"xyz");
    server.shutdown().await;
}

#[tokio::test]
async fn server_advertises_header_support() {
    let server = TestServer::default().await;
    let raw = RawClient::connect(server.addr).await;
    assert_eq!(raw.info["headers"], serde_json::Value::Bool(true));
    server.shutdown().await;
}
