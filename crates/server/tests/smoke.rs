//! The smallest end-to-end check: an official client connects, subscribes, receives.

mod common;

use futures::StreamExt;

#[tokio::test]
async fn client_round_trip() {
    let server = common::TestServer::default().await;
    let client = server.client().await;
    let mut sub = client.subscribe("greet.*").await.unwrap();
    client.publish("greet.joe", "hello".into()).await.unwrap();
    let msg = tokio::time::timeout(common::DEADLINE, sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(msg.subject.as_str(), "greet.joe");
    assert_eq!(&msg.payload[..], b"hello");
    server.shutdown().await;
}
