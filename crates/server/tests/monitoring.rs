//! The monitoring endpoints as an operator uses them: what `/connz` lists and how its
//! options page, sort and filter; `/varz` counters; `/subsz` with a test subject;
//! `/jsz` numbers; `/healthz`; errors for bad options; the port from a config file.
//! (Field names and types are checked against nats-server in `monitoring_shapes`.)

mod monitoring_kit;

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use futures::StreamExt;
use monitoring_kit::{poll, Monitored};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn names(connz: &Value) -> Vec<String> {
    connz["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn named(server: &Monitored, name: &str) -> async_nats::Client {
    async_nats::ConnectOptions::new()
        .name(name)
        .connect(&server.url)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connz_lists_sorts_pages_and_remembers_closed_connections() {
    let server = Monitored::sluice().await;
    let a = named(&server, "a").await;
    let b = named(&server, "b").await;
    let c = named(&server, "c").await;
    let _s1 = a.subscribe("x.*").await.unwrap();
    let _s2 = a.queue_subscribe("y", "workers".into()).await.unwrap();
    let mut s3 = b.subscribe("w.b").await.unwrap();
    server.wait_for_subs("x.q", 1).await;
    server.wait_for_subs("y", 1).await;
    server.wait_for_subs("w.b", 1).await;
    // c publishes 3 messages of 4 bytes; b receives two of them.
    for subject in ["w.b", "z", "w.b"] {
        c.publish(subject, "data".into()).await.unwrap();
    }
    c.flush().await.unwrap();
    for _ in 0..2 {
        tokio::time::timeout(Duration::from_secs(10), s3.next())
            .await
            .unwrap()
            .unwrap();
    }

    let all = server.json("/connz").await;
    assert_eq!(all["num_connections"], 3);
    assert_eq!(all["total"], 3);
    assert_eq!(all["limit"], 1024);
    assert_eq!(names(&all), ["a", "b", "c"], "by cid");
    let cc = &all["connections"][2];
    assert_eq!(cc["in_msgs"], 3);
    assert_eq!(cc["in_bytes"], 12);
    assert_eq!(cc["ip"], "127.0.0.1");
    assert_eq!(cc["lang"], "rust");
    let bc = &all["connections"][1];
    assert_eq!(
        (bc["out_msgs"].clone(), bc["out_bytes"].clone()),
        (2.into(), 8.into())
    );
    assert_eq!(all["connections"][0]["subscriptions"], 2);
    assert!(all["connections"][0].get("subscriptions_list").is_none());

    let subs = server.json("/connz?subs=1").await;
    let mut list: Vec<&str> = subs["connections"][0]["subscriptions_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    list.sort();
    assert_eq!(list, ["x.*", "y"]);
    let detail = server.json("/connz?subs=detail").await;
    let queue = detail["connections"][0]["subscriptions_list_detail"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["subject"] == "y")
        .unwrap()
        .clone();
    assert_eq!(queue["qgroup"], "workers");

    // Sorts: most subscriptions first; most messages in first; paging.
    assert_eq!(names(&server.json("/connz?sort=subs").await)[0], "a");
    assert_eq!(names(&server.json("/connz?sort=msgs_from").await)[0], "c");
    assert_eq!(names(&server.json("/connz?sort=msgs_to").await)[0], "b");
    let page = server.json("/connz?limit=1&offset=1").await;
    assert_eq!(names(&page), ["b"]);
    assert_eq!(
        (page["total"].clone(), page["offset"].clone()),
        (3.into(), 1.into())
    );
    assert_eq!(names(&server.json("/connz?offset=7").await).len(), 0);

    let a_cid = all["connections"][0]["cid"].as_u64().unwrap();
    let one = server.json(&format!("/connz?cid={a_cid}")).await;
    assert_eq!(names(&one), ["a"]);

    // b leaves; a raw client closes its socket with a
    // subscription still there. Both are gone from the open list and listed as
    // closed, with their reason and what they were subscribed to.
    drop(s3);
    drop(b);
    let mut raw = tokio::net::TcpStream::connect(server.url.trim_start_matches("nats://"))
        .await
        .unwrap();
    raw.write_all(b"CONNECT {\"name\":\"raw\"}\r\nSUB x.raw 9\r\nPING\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("PONG") {
        let mut buf = [0u8; 1024];
        let n = raw.read(&mut buf).await.unwrap();
        assert!(n > 0);
        seen.extend_from_slice(&buf[..n]);
    }
    drop(raw);
    poll("b and raw closed", || async {
        server.json("/connz?state=closed").await["total"] == 2
    })
    .await;
    let closed = server.json("/connz?state=closed&subs=1").await;
    assert_eq!(names(&closed), ["b", "raw"]);
    let cb = &closed["connections"][0];
    assert_eq!(cb["reason"], "Client Closed");
    assert!(cb["stop"].is_string());
    let raw_entry = &closed["connections"][1];
    assert_eq!(raw_entry["subscriptions"], 1);
    assert_eq!(
        raw_entry["subscriptions_list"],
        serde_json::json!(["x.raw"])
    );
    assert_eq!(names(&server.json("/connz").await), ["a", "c"]);
    assert_eq!(server.json("/connz?state=all").await["total"], 4);

    // Bad options are refused as nats-server refuses them.
    for (q, text) in [
        ("sort=nonsense", "invalid sorting option: nonsense"),
        ("sort=stop", "sort by stop only valid on closed connections"),
        ("state=bogus", "Error decoding state for bogus"),
    ] {
        let r = server.get(&format!("/connz?{q}")).await;
        assert_eq!((r.status, r.body.as_str()), (400, text));
    }
    drop((a, c));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn varz_subsz_jsz_and_healthz_report_the_server() {
    let server = Monitored::sluice().await;
    let client = named(&server, "n").await;
    let _sub = client.subscribe("orders.*").await.unwrap();
    let _other = client.subscribe("other").await.unwrap();
    let js = jetstream::new(client.clone());
    js.create_stream(stream::Config {
        name: "S".into(),
        subjects: vec!["s.>".into()],
        storage: stream::StorageType::Memory,
        ..Default::default()
    })
    .await
    .unwrap();
    for _ in 0..2 {
        js.publish("s.1", "abc".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }

    let varz = server.json("/varz").await;
    assert_eq!(varz["connections"], 1);
    assert_eq!(varz["total_connections"], 1);
    assert_eq!(varz["http_port"], server.monitor.port());
    assert_eq!(
        varz["port"].as_u64(),
        server.url.rsplit(':').next().and_then(|p| p.parse().ok())
    );
    assert!(varz["in_msgs"].as_u64().unwrap() >= 3);
    assert!(
        varz["out_msgs"].as_u64().unwrap() >= 3,
        "replies and acks count"
    );
    assert_eq!(varz["ping_interval"], 120_000_000_000u64);
    assert!(varz["jetstream"]["stats"]["memory"]
        .as_u64()
        .is_some_and(|m| m > 0));
    assert_eq!(varz["http_req_stats"]["/varz"], 1);
    server.json("/varz").await;
    assert_eq!(server.json("/varz").await["http_req_stats"]["/varz"], 3);

    // Match statistics: publishes were routed (the JetStream ones through the
    // stream's subscription, at least one from a publisher's cache).
    let stats = server.json("/subsz").await;
    assert!(stats["num_matches"].as_u64().unwrap() >= 2, "{stats}");
    let rate = stats["cache_hit_rate"].as_f64().unwrap();
    assert!(rate > 0.0 && rate <= 1.0, "{stats}");
    assert!(stats["max_fanout"].as_u64().unwrap() >= 1, "{stats}");
    assert!(stats["avg_fanout"].as_f64().unwrap() > 0.0, "{stats}");

    let subsz = server.json("/subsz?subs=1&test=orders.new").await;
    assert_eq!(subsz["total"], 1);
    assert_eq!(subsz["subscriptions_list"][0]["subject"], "orders.*");
    assert!(subsz["num_subscriptions"].as_u64().unwrap() >= 2);
    let r = server.get("/subsz?test=orders.*").await;
    assert_eq!(r.status, 400);

    let jsz = server.json("/jsz?streams=1").await;
    assert_eq!(
        (jsz["streams"].clone(), jsz["messages"].clone()),
        (1.into(), 2.into())
    );
    let detail = &jsz["account_details"][0]["stream_detail"][0];
    assert_eq!(detail["name"], "S");
    assert_eq!(detail["state"]["messages"], 2);
    assert!(detail.get("config").is_none(), "config only with config=1");
    let jsz = server.json("/jsz?streams=1&config=1").await;
    assert_eq!(
        jsz["account_details"][0]["stream_detail"][0]["config"]["storage"],
        "memory"
    );
    assert!(server.json("/jsz").await.get("account_details").is_none());

    for q in ["", "?js-enabled-only=true", "?js-server-only=true"] {
        let r = server.get(&format!("/healthz{q}")).await;
        assert_eq!((r.status, r.body.as_str()), (200, r#"{"status":"ok"}"#));
    }
    assert_eq!(server.get("/nope").await.status, 404);
    let index = server.get("/").await;
    assert!(index.body.contains("/connz") && index.body.contains("/metrics"));
    drop(client);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitoring_port_from_a_config_file_and_jetstream_off() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("sluice.conf");
    std::fs::write(&conf, "listen: 127.0.0.1:-1\nhttp: 127.0.0.1:-1\n").unwrap();
    let (opts, _warnings) = sluice_server::config::load_file(&conf).expect("config loads");
    assert_eq!(opts.http_port, Some(-1));
    let server = Monitored::sluice_with(opts, dir).await;
    let varz = server.json("/varz").await;
    assert_eq!(varz["jetstream"], serde_json::json!({}));
    assert_eq!(varz["http_host"], "127.0.0.1");
    let jsz = server.json("/jsz").await;
    assert_eq!(jsz["disabled"], true);
    let r = server.get("/healthz?js-enabled-only=true").await;
    assert_eq!(r.status, 200);
    server.stop().await;
}
