//! Differential test of the monitoring JSON: the same scenario (three named clients,
//! plain and queue subscriptions, one closed connection, a JetStream stream with a
//! durable pull consumer holding an unacknowledged message) runs against nats-server
//! 2.15.1 (`-m -1`) and against Sluice; every endpoint, with its query options, is
//! fetched from both and the JSON shapes compared: field names and JSON types,
//! recursively, values ignored. A field nats-server has and Sluice lacks (or the
//! reverse, or a different type) fails the test unless `ALLOWED` lists it with the
//! reason. HTTP status codes must match too.

mod common;
mod monitoring_kit;

use std::collections::BTreeMap;

use async_nats::jetstream::{self, consumer::pull, stream};
use futures::StreamExt;
use monitoring_kit::{poll, Monitored};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

/// Differences accepted, by endpoint path and field path, with the reason.
const ALLOWED: &[(&str, &str, &str)] = &[
    ("/varz", ".git_commit", "Sluice builds carry no Go git commit"),
    (
        "/varz",
        ".feature_flags",
        "nats-server's internal feature switches; Sluice has none",
    ),
    (
        "/varz",
        ".system_account",
        "Sluice has no accounts, so no system account",
    ),
    (
        "/varz",
        ".jetstream.limits.default_max_consumers",
        "Sluice sets no default per-stream consumer limit (max_consumers -1)",
    ),
    (
        "/varz",
        ".jetstream.config.sync_always",
        "Sluice fsyncs every publish by default and says so (a nats-server field shown when set)",
    ),
    (
        "/jsz",
        ".config.sync_always",
        "Sluice fsyncs every publish by default and says so (a nats-server field shown when set)",
    ),
    (
        "/jsz",
        ".limits.default_max_consumers",
        "Sluice sets no default per-stream consumer limit (max_consumers -1)",
    ),
    (
        "/connz",
        ".connections[].rtt",
        "Sluice measures RTT with its first PING, up to 2 s after CONNECT; nats-server pings at CONNECT",
    ),
    (
        "/subsz",
        ".subscriptions_list[].qgroup",
        "left out when empty; a page holds a queue subscription or not, and nats-server's pages also hold its internal subscriptions",
    ),
    (
        "/accountz",
        ".system_account",
        "Sluice has no accounts, so no system account",
    ),
    (
        "/accountz",
        ".account_detail.imports",
        "nats-server's imports are of its system account's services; Sluice has none",
    ),
];

/// Objects whose keys are data, not field names: only their values' shapes count.
const MAPS: &[&str] = &[
    ".http_req_stats",
    ".metadata",
    ".outbound_gateways",
    ".inbound_gateways",
];

/// The JSON type of a value, with objects and arrays described recursively.
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    Null,
    Bool,
    Number,
    String,
    /// The union of the elements' shapes; `None` for an empty array.
    Array(Option<Box<Shape>>),
    Object(BTreeMap<String, Shape>),
    Mixed,
}

fn shape(path: &str, v: &Value) -> Shape {
    match v {
        Value::Null => Shape::Null,
        Value::Bool(_) => Shape::Bool,
        Value::Number(_) => Shape::Number,
        Value::String(_) => Shape::String,
        Value::Array(items) => {
            let p = format!("{path}[]");
            Shape::Array(
                items
                    .iter()
                    .map(|i| shape(&p, i))
                    .reduce(merge)
                    .map(Box::new),
            )
        }
        Value::Object(m) if MAPS.iter().any(|k| path.ends_with(k)) => {
            let p = format!("{path}.*");
            let values = m.values().map(|v| shape(&p, v)).reduce(merge);
            Shape::Object(values.into_iter().map(|s| ("*".to_string(), s)).collect())
        }
        Value::Object(m) => Shape::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), shape(&format!("{path}.{k}"), v)))
                .collect(),
        ),
    }
}

fn merge(a: Shape, b: Shape) -> Shape {
    match (a, b) {
        (Shape::Object(mut x), Shape::Object(y)) => {
            for (k, v) in y {
                let merged = match x.remove(&k) {
                    Some(old) => merge(old, v),
                    None => v,
                };
                x.insert(k, merged);
            }
            Shape::Object(x)
        }
        (Shape::Array(x), Shape::Array(y)) => Shape::Array(match (x, y) {
            (Some(x), Some(y)) => Some(Box::new(merge(*x, *y))),
            (x, y) => x.or(y),
        }),
        (x, y) if x == y => x,
        _ => Shape::Mixed,
    }
}

fn type_name(s: &Shape) -> &'static str {
    match s {
        Shape::Null => "null",
        Shape::Bool => "bool",
        Shape::Number => "number",
        Shape::String => "string",
        Shape::Array(_) => "array",
        Shape::Object(_) => "object",
        Shape::Mixed => "mixed",
    }
}

/// Differences between nats-server's shape `want` and Sluice's `got`.
fn compare(path: &str, want: &Shape, got: &Shape, out: &mut Vec<(String, String)>) {
    match (want, got) {
        (Shape::Object(w), Shape::Object(g)) => {
            for (k, ws) in w {
                let p = format!("{path}.{k}");
                match g.get(k) {
                    Some(gs) => compare(&p, ws, gs, out),
                    None => out.push((p, format!("missing in Sluice ({})", type_name(ws)))),
                }
            }
            for (k, gs) in g {
                if !w.contains_key(k) {
                    out.push((
                        format!("{path}.{k}"),
                        format!("only in Sluice ({})", type_name(gs)),
                    ));
                }
            }
        }
        (Shape::Array(Some(w)), Shape::Array(Some(g))) => compare(&format!("{path}[]"), w, g, out),
        // An empty array on either side says nothing about element shapes.
        (Shape::Array(_), Shape::Array(_)) => {}
        (w, g) if w == g => {}
        (w, g) => out.push((
            path.to_string(),
            format!(
                "type {} in nats-server, {} in Sluice",
                type_name(w),
                type_name(g)
            ),
        )),
    }
}

/// Keeps the clients of the scenario connected while endpoints are read.
struct Scenario {
    _alpha: async_nats::Client,
    _beta: async_nats::Client,
    _subs: Vec<async_nats::Subscriber>,
    _pending: Vec<jetstream::Message>,
}

async fn scenario(server: &Monitored) -> Scenario {
    let connect = |name: &str| {
        async_nats::ConnectOptions::new()
            .name(name)
            .connect(server.url.clone())
    };
    let alpha = connect("alpha").await.unwrap();
    let beta = connect("beta").await.unwrap();
    let subs = vec![
        alpha.subscribe("foo.*").await.unwrap(),
        alpha
            .queue_subscribe("bar", "q1".to_string())
            .await
            .unwrap(),
        beta.subscribe("foo.bar").await.unwrap(),
    ];
    let js = jetstream::new(alpha.clone());
    let stream = js
        .create_stream(stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("C1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..3 {
        js.publish("orders.new", format!("order {i}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let mut batch = consumer.fetch().max_messages(1).messages().await.unwrap();
    let mut pending = Vec::new();
    while let Some(m) = batch.next().await {
        pending.push(m.unwrap());
    }
    assert_eq!(pending.len(), 1);
    beta.publish("foo.bar", "hi".into()).await.unwrap();
    beta.flush().await.unwrap();
    alpha.flush().await.unwrap();

    // One connection that closes with a subscription, for `state=closed` (a raw one:
    // async-nats unsubscribes before it closes).
    let addr = server.url.trim_start_matches("nats://");
    let mut gamma = tokio::net::TcpStream::connect(addr).await.unwrap();
    gamma
        .write_all(
            b"CONNECT {\"name\":\"gamma\",\"lang\":\"raw\",\"version\":\"1\"}\r\nSUB gone.> 1\r\n",
        )
        .await
        .unwrap();
    server.wait_for_subs("gone.x", 1).await;
    drop(gamma);
    poll("the closed connection in /connz", || async {
        server.json("/connz?state=closed").await["total"]
            .as_u64()
            .is_some_and(|n| n >= 1)
    })
    .await;
    Scenario {
        _alpha: alpha,
        _beta: beta,
        _subs: subs,
        _pending: pending,
    }
}

/// Every endpoint with its options; `{cid}` is alpha's connection id on that server.
const PATHS: &[&str] = &[
    "/varz",
    "/connz",
    "/connz?subs=1",
    "/connz?subs=detail",
    "/connz?sort=bytes_to&limit=1&offset=1",
    "/connz?sort=msgs_from",
    "/connz?sort=subs",
    "/connz?sort=idle",
    "/connz?state=closed",
    "/connz?state=closed&subs=1&sort=stop",
    "/connz?state=closed&sort=reason",
    "/connz?state=all&subs=detail",
    "/connz?cid={cid}&subs=1",
    "/connz?cid=999999",
    "/connz?sort=nonsense",
    "/connz?state=bogus",
    "/connz?sort=stop",
    "/connz?limit=x",
    "/subsz",
    "/subsz?subs=1",
    "/subsz?subs=1&test=foo.bar",
    "/subsz?subs=1&limit=2&offset=1",
    "/subsz?test=foo.*",
    "/routez",
    "/gatewayz",
    "/leafz",
    "/accountz",
    "/accountz?acc=$G",
    "/jsz",
    "/jsz?accounts=1",
    "/jsz?streams=1",
    "/jsz?consumers=1",
    "/jsz?consumers=1&config=1",
    "/jsz?accounts=true&streams=true&consumers=true&config=true",
    "/jsz?acc=$G&streams=1",
    "/jsz?streams=maybe",
    "/healthz",
    "/healthz?js-enabled-only=true",
    "/healthz?js-server-only=true",
    "/nope",
];

/// Status and shape of every path on one server.
async fn collect(server: &Monitored) -> BTreeMap<&'static str, (u16, Option<Shape>)> {
    let _scenario = scenario(server).await;
    let connz = server.json("/connz").await;
    let cid = connz["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "alpha")
        .and_then(|c| c["cid"].as_u64())
        .expect("alpha in /connz");
    let mut out = BTreeMap::new();
    for path in PATHS {
        let real = path.replace("{cid}", &cid.to_string()).replace('$', "%24");
        let r = server.get(&real).await;
        let json = (r.status == 200 && r.content_type.starts_with("application/json"))
            .then(|| shape("", &r.json()));
        out.insert(*path, (r.status, json));
    }
    out
}

fn allowed(path: &str, field: &str) -> bool {
    let endpoint = path.split('?').next().unwrap_or(path);
    ALLOWED
        .iter()
        .any(|(e, f, _)| *e == endpoint && *f == field)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitoring_json_has_nats_server_shapes() {
    let Some(bin) = common::require_nats_server() else {
        return;
    };
    let nats = Monitored::nats_server(&bin).await;
    let want = collect(&nats).await;
    nats.stop().await;
    let sluice = Monitored::sluice().await;
    let got = collect(&sluice).await;
    sluice.stop().await;

    let mut failures = Vec::new();
    for path in PATHS {
        let (ws, wshape) = &want[path];
        let (gs, gshape) = &got[path];
        if ws != gs {
            failures.push(format!(
                "{path}: status {ws} from nats-server, {gs} from Sluice"
            ));
            continue;
        }
        match (wshape, gshape) {
            (Some(w), Some(g)) => {
                let mut diffs = Vec::new();
                compare("", w, g, &mut diffs);
                for (field, what) in diffs {
                    if !allowed(path, &field) {
                        failures.push(format!("{path} {field}: {what}"));
                    }
                }
            }
            (None, None) => {}
            (w, g) => failures.push(format!(
                "{path}: JSON from nats-server {}, from Sluice {}",
                w.is_some(),
                g.is_some()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} difference(s) from nats-server:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn shapes_compare_names_and_types_not_values() {
    let a = serde_json::json!({"n": 1, "s": "x", "l": [{"a": 1}, {"b": true}], "m": {"metadata": {"k": "v"}}});
    let b = serde_json::json!({"n": 2.5, "s": "y", "l": [{"a": 3, "b": false}], "m": {"metadata": {"other": "w"}}});
    let mut d = Vec::new();
    compare("", &shape("", &a), &shape("", &b), &mut d);
    assert!(d.is_empty(), "{d:?}");
    let c = serde_json::json!({"n": "1", "l": [{"a": 1}], "x": null});
    compare("", &shape("", &a), &shape("", &c), &mut d);
    let fields: Vec<&str> = d.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(fields, [".l[].b", ".m", ".n", ".s", ".x"], "{d:?}");
}
