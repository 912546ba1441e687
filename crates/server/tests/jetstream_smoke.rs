//! JetStream end to end through async-nats: create a stream, publish with acks, read
//! back, restart the server on the same directory and find everything again.

mod common;

use common::TestServer;

fn js_opts(dir: &std::path::Path) -> sluice_server::Options {
    let mut o = common::opts();
    o.jetstream = true;
    o.store_dir = Some(dir.to_path_buf());
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_publish_get_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(js_opts(dir.path())).await;
    let client = server.client().await;
    assert!(client.server_info().jetstream);
    let js = async_nats::jetstream::new(client.clone());
    let mut stream = js
        .create_stream(async_nats::jetstream::stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            ..Default::default()
        })
        .await
        .expect("stream created");
    for i in 0..100u32 {
        let ack = js
            .publish(format!("orders.{}", i % 3), i.to_string().into())
            .await
            .unwrap()
            .await
            .expect("puback");
        assert_eq!(ack.sequence, u64::from(i) + 1);
        assert_eq!(ack.stream, "ORDERS");
    }
    let info = stream.info().await.unwrap();
    assert_eq!(info.state.messages, 100);
    let msg = stream.get_raw_message(42).await.unwrap();
    assert_eq!(&msg.payload[..], b"41");
    drop(client);
    server.shutdown().await;

    let server = TestServer::start(js_opts(dir.path())).await;
    let js = async_nats::jetstream::new(server.client().await);
    let mut stream = js
        .get_stream("ORDERS")
        .await
        .expect("stream survives restart");
    let info = stream.info().await.unwrap();
    assert_eq!(info.state.messages, 100);
    assert_eq!(info.state.last_sequence, 100);
    let msg = stream.get_raw_message(100).await.unwrap();
    assert_eq!(&msg.payload[..], b"99");
    server.shutdown().await;
}
