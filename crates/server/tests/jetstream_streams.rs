//! Stream management through async-nats and raw `$JS.API` requests: create (with the
//! defaults nats-server fills in), idempotent create, update (allowed and refused
//! changes), delete, info, names and list with paging. Error codes and texts are the
//! ones nats-server 2.15.1 answers with.

mod common;

use common::jetstream::{api, assert_error, js_opts, js_ready, setup};

use async_nats::jetstream::stream;
use common::TestServer;
use futures::TryStreamExt;
use serde_json::Value;

#[track_caller]
fn assert_ok(reply: &Value) {
    assert!(reply.get("error").is_none(), "unexpected error: {reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_fills_in_nats_server_defaults() {
    let s = setup().await;
    let reply = api(
        &s.client,
        "$JS.API.STREAM.CREATE.ORDERS",
        r#"{"name":"ORDERS","subjects":["orders.>"]}"#,
    )
    .await;
    assert_ok(&reply);
    assert_eq!(
        reply["type"],
        "io.nats.jetstream.api.v1.stream_create_response"
    );
    assert_eq!(reply["did_create"], true);
    let c = &reply["config"];
    for (field, want) in [
        ("retention", Value::from("limits")),
        ("max_consumers", Value::from(-1)),
        ("max_msgs", Value::from(-1)),
        ("max_bytes", Value::from(-1)),
        ("max_age", Value::from(0)),
        ("max_msgs_per_subject", Value::from(-1)),
        ("max_msg_size", Value::from(-1)),
        ("discard", Value::from("old")),
        ("storage", Value::from("file")),
        ("num_replicas", Value::from(1)),
        ("duplicate_window", Value::from(120_000_000_000u64)),
        ("compression", Value::from("none")),
        ("allow_direct", Value::from(false)),
        ("sealed", Value::from(false)),
        ("deny_delete", Value::from(false)),
        ("deny_purge", Value::from(false)),
        ("allow_rollup_hdrs", Value::from(false)),
    ] {
        assert_eq!(c[field], want, "config.{field} in {c}");
    }
    let st = &reply["state"];
    assert_eq!(st["messages"], 0);
    assert_eq!(st["first_seq"], 0);
    assert_eq!(st["last_seq"], 0);
    assert_eq!(st["first_ts"], "0001-01-01T00:00:00Z");

    // The name alone gives the stream its own name as subject.
    let mut named = s.js.create_stream("PLAIN").await.expect("create by name");
    let info = named.info().await.unwrap();
    assert_eq!(info.config.subjects, vec!["PLAIN".to_string()]);
    assert_eq!(info.config.max_messages, -1);
    assert_eq!(info.config.duplicate_window.as_secs(), 120);
    assert_eq!(info.state.messages, 0);
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_twice_same_config_is_ok_different_config_is_10058() {
    let s = setup().await;
    let cfg = stream::Config {
        name: "TWICE".into(),
        subjects: vec!["twice.*".into()],
        max_messages: 100,
        ..Default::default()
    };
    let first = s.js.create_stream(cfg.clone()).await.expect("first create");
    let created = first.cached_info().created;
    let again =
        s.js.create_stream(cfg.clone())
            .await
            .expect("identical create");
    assert_eq!(again.cached_info().created, created, "same stream returned");
    assert_eq!(again.cached_info().config.max_messages, 100);

    // Spelled out with the defaults it is still the same configuration.
    let body = r#"{"name":"TWICE","subjects":["twice.*"],"max_msgs":100,"max_bytes":-1,"retention":"limits","storage":"file","num_replicas":1,"duplicate_window":120000000000}"#;
    assert_ok(&api(&s.client, "$JS.API.STREAM.CREATE.TWICE", body).await);

    let different = r#"{"name":"TWICE","subjects":["twice.*"],"max_msgs":101}"#;
    let reply = api(&s.client, "$JS.API.STREAM.CREATE.TWICE", different).await;
    assert_error(
        &reply,
        400,
        10058,
        "stream name already in use with a different configuration",
    );
    let err =
        s.js.create_stream(stream::Config {
            max_messages: 5,
            ..cfg
        })
        .await
        .expect_err("different config refused");
    assert!(err.to_string().contains("10058"), "{err}");
    let info = s.js.get_stream("TWICE").await.unwrap();
    assert_eq!(info.cached_info().config.max_messages, 100, "unchanged");
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_refuses_invalid_configs_with_nats_server_errors() {
    let s = setup().await;
    api(
        &s.client,
        "$JS.API.STREAM.CREATE.TAKEN",
        r#"{"name":"TAKEN","subjects":["taken.*"]}"#,
    )
    .await;
    let cases: &[(&str, &str, u64, u64, &str)] = &[
        (
            "OVERLAP",
            r#"{"name":"OVERLAP","subjects":["taken.a"]}"#,
            400,
            10065,
            "subjects overlap with an existing stream",
        ),
        (
            "MISMATCH",
            r#"{"name":"OTHER"}"#,
            400,
            10056,
            "stream name in subject does not match request",
        ),
        (
            "REPL",
            r#"{"name":"REPL","num_replicas":3}"#,
            500,
            10074,
            "replicas > 1 not supported in non-clustered mode",
        ),
        (
            "AGE",
            r#"{"name":"AGE","max_age":1000}"#,
            500,
            10052,
            "max age needs to be >= 100ms",
        ),
        (
            "DUPWIN",
            r#"{"name":"DUPWIN","max_age":1000000000,"duplicate_window":2000000000}"#,
            500,
            10052,
            "duplicates window can not be larger then max age",
        ),
        (
            "SEALED",
            r#"{"name":"SEALED","sealed":true}"#,
            500,
            10052,
            "stream configuration for create can not be sealed",
        ),
        (
            "ROLLUP",
            r#"{"name":"ROLLUP","deny_purge":true,"allow_rollup_hdrs":true}"#,
            500,
            10052,
            "roll-ups require the purge permission",
        ),
        (
            "DNPS",
            r#"{"name":"DNPS","discard":"new","discard_new_per_subject":true}"#,
            500,
            10052,
            "discard new per subject requires max msgs per subject > 0",
        ),
    ];
    for (name, body, code, err_code, text) in cases {
        let reply = api(&s.client, &format!("$JS.API.STREAM.CREATE.{name}"), body).await;
        assert_error(&reply, *code, *err_code, text);
    }
    // None of them exists afterwards.
    let names: Vec<String> = s.js.stream_names().try_collect().await.unwrap();
    assert_eq!(names, vec!["TAKEN".to_string()]);
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_allowed_changes_apply_and_keep_messages() {
    let s = setup().await;
    let mut cfg = stream::Config {
        name: "UPD".into(),
        subjects: vec!["upd.a".into()],
        max_messages: 10,
        ..Default::default()
    };
    s.js.create_stream(cfg.clone()).await.unwrap();
    s.js.get_stream("UPD").await.unwrap();
    for i in 0..3 {
        s.js.publish("upd.a", format!("m{i}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    cfg.subjects.push("upd.b".into());
    cfg.max_messages = 20;
    cfg.description = Some("updated".into());
    cfg.deny_delete = true;
    cfg.allow_direct = true;
    let info = s.js.update_stream(cfg.clone()).await.expect("update");
    assert_eq!(info.config.subjects, vec!["upd.a", "upd.b"]);
    assert_eq!(info.config.max_messages, 20);
    assert_eq!(info.config.description.as_deref(), Some("updated"));
    assert!(info.config.deny_delete);
    assert!(info.config.allow_direct);
    assert_eq!(info.state.messages, 3, "messages survive an update");

    // The new subject is captured (after a round trip that follows the update).
    let mut st = s.js.get_stream("UPD").await.unwrap();
    let ack =
        s.js.publish("upd.b", "new subject".into())
            .await
            .unwrap()
            .await
            .expect("new subject captured");
    assert_eq!(ack.sequence, 4);
    assert_eq!(st.info().await.unwrap().state.messages, 4);

    // Removing a subject stops capturing it.
    cfg.subjects = vec!["upd.b".into()];
    s.js.update_stream(cfg.clone()).await.unwrap();
    s.js.get_stream("UPD").await.unwrap();
    let err =
        s.js.publish("upd.a", "gone".into())
            .await
            .unwrap()
            .await
            .expect_err("removed subject is no longer captured");
    assert_eq!(
        err.kind(),
        async_nats::jetstream::context::PublishErrorKind::StreamNotFound
    );
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_refuses_forbidden_changes() {
    let s = setup().await;
    api(
        &s.client,
        "$JS.API.STREAM.CREATE.OTHER",
        r#"{"name":"OTHER","subjects":["other.*"]}"#,
    )
    .await;
    assert_ok(
        &api(
            &s.client,
            "$JS.API.STREAM.CREATE.FIX",
            r#"{"name":"FIX","subjects":["fix.*"]}"#,
        )
        .await,
    );
    let up = "$JS.API.STREAM.UPDATE.FIX";
    let cases: &[(&str, u64, u64, &str)] = &[
        (
            r#"{"name":"FIX","subjects":["fix.*"],"storage":"memory"}"#,
            500,
            10052,
            "stream configuration update can not change storage type",
        ),
        (
            r#"{"name":"FIX","subjects":["fix.*"],"retention":"workqueue"}"#,
            500,
            10052,
            "stream configuration update can not change retention policy to/from workqueue",
        ),
        (
            r#"{"name":"FIXX","subjects":["fix.*"]}"#,
            400,
            10056,
            "stream name in subject does not match request",
        ),
        (
            r#"{"name":"FIX","subjects":["other.x"]}"#,
            400,
            10065,
            "subjects overlap with an existing stream",
        ),
    ];
    for (body, code, err_code, text) in cases {
        assert_error(&api(&s.client, up, body).await, *code, *err_code, text);
    }
    assert_error(
        &api(
            &s.client,
            "$JS.API.STREAM.UPDATE.NOPE",
            r#"{"name":"NOPE","subjects":["nope"]}"#,
        )
        .await,
        404,
        10059,
        "stream not found",
    );

    // deny_delete / deny_purge / sealed only go one way.
    let locked = r#"{"name":"FIX","subjects":["fix.*"],"deny_delete":true,"deny_purge":true}"#;
    assert_ok(&api(&s.client, up, locked).await);
    assert_error(
        &api(
            &s.client,
            up,
            r#"{"name":"FIX","subjects":["fix.*"],"deny_delete":false,"deny_purge":true}"#,
        )
        .await,
        500,
        10052,
        "stream configuration update can not cancel deny message deletes",
    );
    assert_error(
        &api(
            &s.client,
            up,
            r#"{"name":"FIX","subjects":["fix.*"],"deny_delete":true,"deny_purge":false}"#,
        )
        .await,
        500,
        10052,
        "stream configuration update can not cancel deny purge",
    );
    let sealed = api(
        &s.client,
        up,
        r#"{"name":"FIX","subjects":["fix.*"],"deny_delete":true,"deny_purge":true,"sealed":true}"#,
    )
    .await;
    assert_ok(&sealed);
    assert_eq!(sealed["config"]["sealed"], true);
    assert_error(
        &api(
            &s.client,
            up,
            r#"{"name":"FIX","subjects":["fix.*"],"deny_delete":true,"deny_purge":true,"sealed":false}"#,
        )
        .await,
        500,
        10052,
        "stream configuration update can not unseal a sealed stream",
    );
    // The refused updates changed nothing.
    let info = api(&s.client, "$JS.API.STREAM.INFO.FIX", "").await;
    assert_eq!(info["config"]["storage"], "file");
    assert_eq!(info["config"]["sealed"], true);
    assert_eq!(info["config"]["subjects"], serde_json::json!(["fix.*"]));
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_stream_and_frees_its_subjects() {
    let s = setup().await;
    s.js.create_stream(stream::Config {
        name: "DEL".into(),
        subjects: vec!["del.*".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    s.js.get_stream("DEL").await.unwrap();
    s.js.publish("del.a", "x".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(s.js.delete_stream("DEL").await.expect("delete").success);

    assert_error(
        &api(&s.client, "$JS.API.STREAM.INFO.DEL", "").await,
        404,
        10059,
        "stream not found",
    );
    assert_error(
        &api(&s.client, "$JS.API.STREAM.DELETE.DEL", "").await,
        404,
        10059,
        "stream not found",
    );
    assert_error(
        &api(&s.client, "$JS.API.STREAM.DELETE.DEL", "{}x").await,
        400,
        10038,
        "expected an empty request payload",
    );
    // Nothing captures the subject any more: no responders.
    let err = s
        .client
        .request("del.a", "x".into())
        .await
        .expect_err("no stream");
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);

    // The subjects can be taken by a new stream, which starts from scratch.
    let mut again =
        s.js.create_stream(stream::Config {
            name: "DEL2".into(),
            subjects: vec!["del.*".into()],
            ..Default::default()
        })
        .await
        .expect("subjects are free");
    s.js.get_stream("DEL2").await.unwrap();
    let ack =
        s.js.publish("del.a", "y".into())
            .await
            .unwrap()
            .await
            .unwrap();
    assert_eq!((ack.stream.as_str(), ack.sequence), ("DEL2", 1));
    assert_eq!(again.info().await.unwrap().state.messages, 1);
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_reports_state() {
    let s = setup().await;
    s.js.create_stream(stream::Config {
        name: "INF".into(),
        subjects: vec!["inf.*".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    s.js.get_stream("INF").await.unwrap();
    for subj in ["inf.a", "inf.b", "inf.a"] {
        s.js.publish(subj, "hello".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let reply = api(&s.client, "$JS.API.STREAM.INFO.INF", "").await;
    assert_ok(&reply);
    assert_eq!(
        reply["type"],
        "io.nats.jetstream.api.v1.stream_info_response"
    );
    let st = &reply["state"];
    assert_eq!(st["messages"], 3);
    assert_eq!(st["first_seq"], 1);
    assert_eq!(st["last_seq"], 3);
    assert_eq!(st["num_subjects"], 2);
    assert_eq!(st["consumer_count"], 0);
    // File store accounting: 22 + subject + payload + 8 per message.
    assert_eq!(st["bytes"], 3 * (22 + 5 + 5 + 8));
    assert!(st.get("subjects").is_none(), "subjects only on request");
    assert!(st.get("num_deleted").is_none(), "omitted when zero");
    assert!(reply["cluster"]["leader"].is_string());
    assert_error(
        &api(&s.client, "$JS.API.STREAM.INFO.MISSING", "").await,
        404,
        10059,
        "stream not found",
    );
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_and_list_page_and_filter() {
    let s = setup().await;
    // More than one LIST page (256), memory streams to keep it quick.
    const N: usize = 260;
    for i in 0..N {
        let reply = api(
            &s.client,
            &format!("$JS.API.STREAM.CREATE.S{i:03}"),
            &format!(r#"{{"name":"S{i:03}","subjects":["pg.{i}.*"],"storage":"memory"}}"#),
        )
        .await;
        assert_ok(&reply);
    }
    let names = api(&s.client, "$JS.API.STREAM.NAMES", "").await;
    assert_eq!(names["total"], N);
    assert_eq!(names["limit"], 1024);
    assert_eq!(names["offset"], 0);
    let got: Vec<&str> = names["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let want: Vec<String> = (0..N).map(|i| format!("S{i:03}")).collect();
    assert_eq!(got, want, "sorted names");

    let page = api(&s.client, "$JS.API.STREAM.NAMES", r#"{"offset":250}"#).await;
    assert_eq!(page["offset"], 250);
    let tail: Vec<&str> = page["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        tail,
        want[250..].iter().map(String::as_str).collect::<Vec<_>>()
    );

    let list = api(&s.client, "$JS.API.STREAM.LIST", "").await;
    assert_eq!(list["total"], N);
    assert_eq!(list["limit"], 256);
    assert_eq!(list["streams"].as_array().unwrap().len(), 256);
    assert_eq!(list["streams"][0]["config"]["name"], "S000");
    let list2 = api(&s.client, "$JS.API.STREAM.LIST", r#"{"offset":256}"#).await;
    assert_eq!(list2["offset"], 256);
    let rest: Vec<&str> = list2["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["config"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(rest, vec!["S256", "S257", "S258", "S259"]);

    // async-nats pages through both.
    let all_names: Vec<String> = s.js.stream_names().try_collect().await.unwrap();
    assert_eq!(all_names.len(), N);
    let all_infos: Vec<stream::Info> = s.js.streams().try_collect().await.unwrap();
    assert_eq!(all_infos.len(), N);

    // Subject filter: streams whose subjects collide with it.
    let one = api(
        &s.client,
        "$JS.API.STREAM.NAMES",
        r#"{"subject":"pg.17.x"}"#,
    )
    .await;
    assert_eq!(one["streams"], serde_json::json!(["S017"]));
    assert_eq!(one["total"], 1);
    assert_eq!(
        s.js.stream_by_subject("pg.42.y").await.expect("by subject"),
        "S042"
    );
    let none = api(&s.client, "$JS.API.STREAM.NAMES", r#"{"subject":"zzz"}"#).await;
    assert_eq!(none["total"], 0);
    let filtered = api(&s.client, "$JS.API.STREAM.LIST", r#"{"subject":"pg.3.*"}"#).await;
    assert_eq!(filtered["total"], 1);
    assert_eq!(filtered["streams"][0]["config"]["name"], "S003");
    s.server.shutdown().await;
}

/// A client may connect as soon as the server listens; its first JetStream request
/// must be answered then (nats-server enables JetStream before it accepts clients),
/// not met with "no responders" because `$JS.API.>` is not subscribed yet. A raw
/// client pipelines CONNECT and the request to hit that window as early as a client can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_answers_as_soon_as_clients_can_connect() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    // A stream with many subjects makes the engine's start-up work (and so the window)
    // longer; it changes nothing for nats-server, which answers from the first client on.
    {
        let server = TestServer::start(js_opts(dir.path())).await;
        let client = server.client().await;
        js_ready(&client).await;
        let subjects: Vec<String> = (0..500).map(|i| format!("many.{i}")).collect();
        let reply = api(
            &client,
            "$JS.API.STREAM.CREATE.MANY",
            &serde_json::json!({"name": "MANY", "subjects": subjects}).to_string(),
        )
        .await;
        assert_ok(&reply);
        drop(client);
        server.shutdown().await;
    }
    let mut no_responders = 0;
    const STARTS: usize = 10;
    for _ in 0..STARTS {
        let server = TestServer::start(js_opts(dir.path())).await;
        let mut raw = common::RawClient::connect(server.addr).await;
        raw.send(
            b"CONNECT {\"headers\":true,\"no_responders\":true,\"protocol\":1,\"verbose\":false}\r\nSUB _R 1\r\nPUB $JS.API.INFO _R 0\r\n\r\n",
        )
        .await;
        let end = tokio::time::Instant::now() + common::DEADLINE;
        let mut got = Vec::new();
        let answer = loop {
            let text = String::from_utf8_lossy(&got).into_owned();
            if text.contains("account_info_response") {
                break true;
            }
            if text.contains("NATS/1.0 503") {
                break false;
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout_at(end, raw.stream.read(&mut chunk))
                .await
                .expect("a reply to $JS.API.INFO")
                .expect("read");
            assert!(n > 0, "connection closed: {text}");
            got.extend_from_slice(&chunk[..n]);
        };
        if !answer {
            no_responders += 1;
        }
        raw.stream.shutdown().await.ok();
        drop(raw);
        server.shutdown().await;
    }
    assert_eq!(
        no_responders, 0,
        "first $JS.API.INFO right after start got no responders in {no_responders} of {STARTS} starts"
    );
}
