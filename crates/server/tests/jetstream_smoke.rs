//! JetStream end to end through async-nats: create a stream, publish with acks, read
//! back, restart the server on the same directory and find everything again.

mod common;

use common::jetstream::js_opts;

use common::TestServer;

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

#[tokio::test]
async fn server_storage_limit_refuses_larger_streams() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = js_opts(dir.path());
    opts.max_file_store = Some(1_000_000);
    opts.max_memory_store = Some(2_000_000);
    let server = TestServer::start(opts).await;
    let client = server.client().await;
    let reply = |body: &'static str, subject: &'static str| {
        let client = client.clone();
        async move {
            let msg = client.request(subject, body.into()).await.unwrap();
            serde_json::from_slice::<serde_json::Value>(&msg.payload).unwrap()
        }
    };
    let big = reply(
        r#"{"name":"big","subjects":["big"],"max_bytes":2000000}"#,
        "$JS.API.STREAM.CREATE.big",
    )
    .await;
    assert_eq!(big["error"]["err_code"], 10047, "{big}");
    assert_eq!(
        big["error"]["description"],
        "insufficient storage resources available"
    );
    let mem = reply(
        r#"{"name":"mem","subjects":["mem"],"storage":"memory","max_bytes":3000000}"#,
        "$JS.API.STREAM.CREATE.mem",
    )
    .await;
    assert_eq!(mem["error"]["err_code"], 10028, "{mem}");
    let ok = reply(
        r#"{"name":"ok","subjects":["ok"],"max_bytes":500000}"#,
        "$JS.API.STREAM.CREATE.ok",
    )
    .await;
    assert!(ok["error"].is_null(), "{ok}");
    server.shutdown().await;
}
