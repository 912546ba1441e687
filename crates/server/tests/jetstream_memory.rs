//! Memory-storage streams: the same API as file streams (publish, get, direct get,
//! delete, purge, limits, dedupe), nats-server's memory-store byte accounting, and —
//! as with nats-server — nothing of them is left after a restart, while file streams
//! beside them survive.

mod common;

use common::jetstream::{api, js_opts, js_ready};

use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, stream};
use common::TestServer;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_streams_work_like_file_streams() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(js_opts(dir.path())).await;
    let client = server.client().await;
    js_ready(&client).await;
    let js = jetstream::new(client.clone());
    let created = js
        .create_stream(stream::Config {
            name: "MEM".into(),
            subjects: vec!["mem.*".into()],
            storage: stream::StorageType::Memory,
            max_messages_per_subject: 3,
            allow_direct: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        created.cached_info().config.storage,
        stream::StorageType::Memory
    );
    let mut st = js.get_stream("MEM").await.unwrap();
    for i in 1..=5u64 {
        let ack = js
            .publish("mem.a", format!("a{i}").into())
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(ack.sequence, i);
    }
    let mut h = async_nats::HeaderMap::new();
    h.insert("A", "b");
    js.publish_with_headers("mem.b", h, "hello".into())
        .await
        .unwrap()
        .await
        .unwrap();
    js.publish("mem.c", "hello".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let info = st.info().await.unwrap().clone();
    // Per-subject limit: a1 and a2 are gone.
    assert_eq!(info.state.messages, 5);
    assert_eq!(info.state.first_sequence, 3);
    // Memory store accounting: subject + headers + payload + 16 per message.
    let headers_len = "NATS/1.0\r\nA: b\r\n\r\n".len() as u64;
    assert_eq!(
        info.state.bytes,
        3 * (5 + 2 + 16) + (5 + headers_len + 5 + 16) + (5 + 5 + 16)
    );

    assert_eq!(&st.get_raw_message(4).await.unwrap().payload[..], b"a4");
    assert_eq!(&st.direct_get(5).await.unwrap().payload[..], b"a5");
    let b = st.get_last_raw_message_by_subject("mem.b").await.unwrap();
    assert_eq!(b.headers.get("A").map(|v| v.as_str()), Some("b"));

    // Dedupe works in memory too.
    let dup = js
        .send_publish(
            "mem.d",
            PublishMessage::build().payload("d".into()).message_id("x"),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    let again = js
        .send_publish(
            "mem.d",
            PublishMessage::build().payload("d".into()).message_id("x"),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!((again.sequence, again.duplicate), (dup.sequence, true));

    assert!(st.delete_message(4).await.unwrap());
    let deleted = api(
        &client,
        "$JS.API.STREAM.INFO.MEM",
        r#"{"deleted_details":true}"#,
    )
    .await;
    assert_eq!(deleted["state"]["deleted"], json!([4]));
    assert_eq!(
        api(&client, "$JS.API.STREAM.PURGE.MEM", r#"{"filter":"mem.a"}"#).await["purged"],
        2
    );
    let purged = api(&client, "$JS.API.STREAM.PURGE.MEM", "").await;
    assert_eq!(purged["purged"], 3);
    let info = st.info().await.unwrap();
    assert_eq!((info.state.messages, info.state.first_sequence), (0, 9));

    // Account info reports memory usage separately from file storage.
    let acc = api(&client, "$JS.API.INFO", "").await;
    assert_eq!(acc["memory"], 0);
    assert_eq!(acc["streams"], 1);
    drop(client);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_streams_are_gone_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(js_opts(dir.path())).await;
    let client = server.client().await;
    js_ready(&client).await;
    for (name, storage) in [("MEM", "memory"), ("FILE", "file")] {
        let v = api(
            &client,
            &format!("$JS.API.STREAM.CREATE.{name}"),
            &format!(
                r#"{{"name":"{name}","subjects":["{}.*"],"storage":"{storage}"}}"#,
                name.to_lowercase()
            ),
        )
        .await;
        assert!(v.get("error").is_none(), "{v}");
        api(&client, &format!("$JS.API.STREAM.INFO.{name}"), "").await;
    }
    for i in 0..10 {
        client
            .request(format!("mem.{i}"), "m".into())
            .await
            .unwrap();
        client
            .request(format!("file.{i}"), "f".into())
            .await
            .unwrap();
    }
    let acc = api(&client, "$JS.API.INFO", "").await;
    assert_eq!(acc["memory"], 10 * (5 + 1 + 16));
    assert_eq!(acc["streams"], 2);
    drop(client);
    server.shutdown().await;

    let server = TestServer::start(js_opts(dir.path())).await;
    let client = server.client().await;
    js_ready(&client).await;
    let info = api(&client, "$JS.API.STREAM.INFO.MEM", "").await;
    assert_eq!(
        info["error"],
        json!({"code":404,"err_code":10059,"description":"stream not found"})
    );
    let names = api(&client, "$JS.API.STREAM.NAMES", "").await;
    assert_eq!(names["streams"], json!(["FILE"]));
    let acc = api(&client, "$JS.API.INFO", "").await;
    assert_eq!(acc["memory"], 0);
    assert_eq!(acc["streams"], 1);
    let file = api(&client, "$JS.API.STREAM.INFO.FILE", "").await;
    assert_eq!(file["state"]["messages"], 10);
    // Its subjects are free: nobody captures them, and a new stream may take them.
    let err = client
        .request("mem.1", "x".into())
        .await
        .expect_err("no stream");
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
    let again = api(
        &client,
        "$JS.API.STREAM.CREATE.MEM",
        r#"{"name":"MEM","subjects":["mem.*"],"storage":"memory"}"#,
    )
    .await;
    assert_eq!(again["did_create"], true, "{again}");
    assert_eq!(again["state"]["last_seq"], 0, "starts from scratch");
    drop(client);
    server.shutdown().await;
}
