//! Stream mirrors on one server, as async-nats users see them: a KV bucket mirroring
//! another, and a plain mirror stream keeping its origin's sequences, times, headers
//! and gaps, catching up with what was stored before it existed, following the origin,
//! and resuming after a restart.
//!
//! Each scenario runs against Sluice (`<name>`) and, ignored by default, against a real
//! nats-server (`reference_<name>`): `cargo test --test jetstream_mirror -- --ignored`.

mod common;

use async_nats::jetstream::kv;
use async_nats::jetstream::stream::{Config, Source};
use async_nats::jetstream::Context;
use async_nats::HeaderMap;
use common::jetstream::{api, poll, JsServer};
use futures::StreamExt;
use serde_json::Value;

/// Waits until the mirror's STREAM.INFO shows `last_seq` and no lag, and returns it.
async fn caught_up(client: &async_nats::Client, mirror: &str, last_seq: u64) -> Value {
    let subject = format!("$JS.API.STREAM.INFO.{mirror}");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Value::Null));
    poll("the mirror to catch up", || {
        let (subject, client, seen) = (subject.clone(), client.clone(), seen.clone());
        async move {
            let info = api(&client, &subject, "").await;
            let done = info["state"]["last_seq"] == last_seq && info["mirror"]["lag"] == 0;
            *seen.lock().unwrap() = info;
            done
        }
    })
    .await;
    let info = seen.lock().unwrap().clone();
    info
}

async fn origin_with_gap(js: &Context) -> async_nats::jetstream::stream::Stream {
    let origin = js
        .create_stream(Config {
            name: "ORIGIN".into(),
            subjects: vec!["orig.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("Trace", "t-1");
    js.publish_with_headers("orig.a", headers, "one".into())
        .await
        .unwrap()
        .await
        .unwrap();
    for (subject, payload) in [("orig.b", "two"), ("orig.a", "three")] {
        js.publish(subject, payload.into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    origin.delete_message(2).await.unwrap();
    origin
}

/// A mirror created after the origin stored messages catches up with them, keeps
/// their sequences, subjects, headers and times (the deleted one stays a gap), and
/// follows what the origin stores next; STREAM.INFO shows the mirror block.
async fn plain_mirror(server: &mut JsServer) {
    let (client, js) = server.connect().await;
    let origin = origin_with_gap(&js).await;
    let mut mirror = js
        .create_stream(Config {
            name: "COPY".into(),
            mirror: Some(Source {
                name: "ORIGIN".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(mirror.cached_info().config.subjects.is_empty());
    let info = caught_up(&client, "COPY", 3).await;
    assert_eq!(info["state"]["messages"], 2, "{info}");
    assert_eq!(info["state"]["first_seq"], 1, "{info}");
    assert_eq!(info["state"]["num_deleted"], 1, "{info}");
    assert_eq!(info["mirror"]["name"], "ORIGIN", "{info}");
    assert!(info["mirror"]["active"].as_i64().unwrap() >= 0, "{info}");
    assert!(info["config"].get("subjects").is_none(), "{info}");
    let origin_info = api(&client, "$JS.API.STREAM.INFO.ORIGIN", "").await;
    assert!(origin_info.get("mirror").is_none(), "{origin_info}");

    for seq in [1, 3] {
        let o = origin.get_raw_message(seq).await.unwrap();
        let m = mirror.get_raw_message(seq).await.unwrap();
        assert_eq!(
            (&m.subject, m.sequence, &m.payload, m.time),
            (&o.subject, o.sequence, &o.payload, o.time)
        );
        assert_eq!(m.headers.get("Trace"), o.headers.get("Trace"));
    }
    assert!(mirror.get_raw_message(2).await.is_err());

    // The origin grows; the mirror follows. Deleting in the origin changes nothing.
    js.publish("orig.c", "four".into())
        .await
        .unwrap()
        .await
        .unwrap();
    origin.delete_message(1).await.unwrap();
    let info = caught_up(&client, "COPY", 4).await;
    assert_eq!(info["state"]["messages"], 3, "{info}");
    let m = mirror.get_raw_message(4).await.unwrap();
    assert_eq!(
        (m.subject.as_str(), &m.payload[..]),
        ("orig.c", &b"four"[..])
    );
    let fresh = mirror.info().await.unwrap();
    assert_eq!(
        fresh.mirror.as_ref().map(|m| m.name.as_str()),
        Some("ORIGIN")
    );

    // A publish to the mirror's name finds no stream.
    assert!(js.publish("COPY", "x".into()).await.unwrap().await.is_err());
}

/// After a restart the mirror resumes from its last sequence: nothing twice, nothing
/// missed.
async fn mirror_after_restart(server: &mut JsServer) {
    {
        let (client, js) = server.connect().await;
        origin_with_gap(&js).await;
        js.create_stream(Config {
            name: "COPY".into(),
            mirror: Some(Source {
                name: "ORIGIN".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
        caught_up(&client, "COPY", 3).await;
    }
    server.restart().await;
    let (client, js) = server.connect().await;
    js.publish("orig.z", "after".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let info = caught_up(&client, "COPY", 4).await;
    assert_eq!(info["state"]["messages"], 3, "{info}");
    let mirror = js.get_stream("COPY").await.unwrap();
    let m = mirror.get_raw_message(4).await.unwrap();
    assert_eq!(m.subject.as_str(), "orig.z");
}

/// A KV bucket mirroring another: its stream mirrors `KV_<origin>` with
/// `mirror_direct`, and the origin's values are read through it.
async fn kv_mirror_bucket(server: &mut JsServer) {
    let (client, js) = server.connect().await;
    let origin = js
        .create_key_value(kv::Config {
            bucket: "origin".into(),
            history: 3,
            ..Default::default()
        })
        .await
        .unwrap();
    origin.put("colour", "red".into()).await.unwrap();
    origin.put("size", "big".into()).await.unwrap();
    let mirror = js
        .create_key_value(kv::Config {
            bucket: "copy".into(),
            history: 3,
            mirror: Some(Source {
                name: "origin".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let cfg = &mirror.stream.cached_info().config;
    assert!(cfg.mirror_direct);
    assert!(cfg.subjects.is_empty());
    assert_eq!(
        cfg.mirror.as_ref().map(|m| m.name.as_str()),
        Some("KV_origin")
    );
    caught_up(&client, "KV_copy", 2).await;
    origin.put("colour", "blue".into()).await.unwrap();
    let info = caught_up(&client, "KV_copy", 3).await;
    assert_eq!(info["config"]["mirror_direct"], true, "{info}");

    // The mirror stream holds the origin's keys.
    let stream = js.get_stream("KV_copy").await.unwrap();
    let last = stream
        .direct_get_last_for_subject("$KV.origin.colour")
        .await
        .unwrap();
    assert_eq!((&last.payload[..], last.sequence), (&b"blue"[..], 3));
    let raw = stream.get_raw_message(2).await.unwrap();
    assert_eq!(raw.subject.as_str(), "$KV.origin.size");
    // Reads through the origin's bucket get one answer each (origin and mirror both
    // serve the origin's direct gets).
    assert_eq!(
        origin.get("colour").await.unwrap().as_deref(),
        Some(&b"blue"[..])
    );
    let entry = origin.entry("size").await.unwrap().unwrap();
    assert_eq!(entry.revision, 2);
    // Exactly one reply to a direct get of the origin: replies are collected until an
    // API request sent after it was answered too (Sluice answers both in order).
    let mut replies = client.subscribe("dg.inbox").await.unwrap();
    client
        .publish_with_reply(
            "$JS.API.DIRECT.GET.KV_origin.$KV.origin.colour",
            "dg.inbox",
            "".into(),
        )
        .await
        .unwrap();
    client
        .publish_with_reply("$JS.API.INFO", "dg.inbox", "".into())
        .await
        .unwrap();
    let (mut direct, mut info) = (0, false);
    while direct == 0 || !info {
        let m = tokio::time::timeout(common::DEADLINE, replies.next())
            .await
            .expect("replies")
            .unwrap();
        if m.payload.starts_with(b"{") {
            info = true;
        } else {
            assert_eq!(&m.payload[..], b"blue");
            direct += 1;
        }
    }
    assert_eq!(direct, 1);
    // async-nats 0.51 maps a local mirror bucket's handle to its own prefix
    // (`$KV.copy.`; only an `external` mirror gets the origin's): reads through it
    // look for keys the mirror does not hold, and puts find no stream, on
    // nats-server as here.
    assert_eq!(mirror.get("colour").await.unwrap(), None);
    let put = mirror.put("shape", "round".into()).await;
    assert!(put.is_err(), "{put:?}");
    assert_eq!(origin.get("shape").await.unwrap(), None);
}

js_twins!(plain_mirror => plain_mirror_copies_sequences_and_times, reference_plain_mirror_copies_sequences_and_times);
js_twins!(mirror_after_restart => mirror_resumes_after_restart, reference_mirror_resumes_after_restart);
js_twins!(kv_mirror_bucket => kv_bucket_mirror, reference_kv_bucket_mirror);
