//! Purge (all, by filter, by sequence, keep), message get (by sequence, last by
//! subject, next by subject), message delete (erase and no_erase), deny_delete and
//! deny_purge refusals, direct get in both subject forms, and STREAM.INFO with
//! `subjects_filter` and `deleted_details`. Errors are nats-server 2.15.1's.

mod common;

use common::jetstream::{api, assert_error, setup};

use async_nats::jetstream::stream;
use serde_json::{json, Value};

/// Creates a stream from raw JSON, then one more round trip so its subjects are surely
/// captured (see jetstream_publish.rs for the race this sidesteps).
async fn create(client: &async_nats::Client, name: &str, config: &str) {
    let v = api(client, &format!("$JS.API.STREAM.CREATE.{name}"), config).await;
    assert!(v.get("error").is_none(), "create {name}: {v}");
    api(client, &format!("$JS.API.STREAM.INFO.{name}"), "").await;
}

/// Publishes `subjects[i]` with payload `m{i+1}` (so payload names the sequence).
async fn fill(client: &async_nats::Client, subjects: &[&str]) {
    for (i, subj) in subjects.iter().enumerate() {
        let ack = client
            .request(subj.to_string(), format!("m{}", i + 1).into())
            .await
            .unwrap();
        let v: Value = serde_json::from_slice(&ack.payload).unwrap();
        assert_eq!(v["seq"], i as u64 + 1, "{v}");
    }
}

async fn info(client: &async_nats::Client, name: &str, body: &str) -> Value {
    let v = api(client, &format!("$JS.API.STREAM.INFO.{name}"), body).await;
    assert!(v.get("error").is_none(), "{v}");
    v
}

/// Sequences still in the stream, by asking for each.
async fn present(client: &async_nats::Client, name: &str, upto: u64) -> Vec<u64> {
    let mut out = Vec::new();
    for seq in 1..=upto {
        let v = api(
            client,
            &format!("$JS.API.STREAM.MSG.GET.{name}"),
            &format!(r#"{{"seq":{seq}}}"#),
        )
        .await;
        if v.get("error").is_none() {
            out.push(seq);
        }
    }
    out
}

const SUBJECTS: [&str; 10] = [
    "p.a", "p.b", "p.c", "p.a", "p.b", "p.c", "p.a", "p.b", "p.c", "p.a",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_all() {
    let s = setup().await;
    create(&s.client, "PA", r#"{"name":"PA","subjects":["p.*"]}"#).await;
    fill(&s.client, &SUBJECTS).await;
    let reply = api(&s.client, "$JS.API.STREAM.PURGE.PA", "").await;
    assert_eq!(
        reply,
        json!({"type":"io.nats.jetstream.api.v1.stream_purge_response","success":true,"purged":10})
    );
    let st = &info(&s.client, "PA", "").await["state"];
    assert_eq!(
        (
            &st["messages"],
            &st["first_seq"],
            &st["last_seq"],
            &st["bytes"]
        ),
        (&json!(0), &json!(11), &json!(10), &json!(0))
    );
    assert_eq!(st["first_ts"], "0001-01-01T00:00:00Z");
    // Sequences continue after a purge.
    let ack =
        s.js.publish("p.a", "after".into())
            .await
            .unwrap()
            .await
            .unwrap();
    assert_eq!(ack.sequence, 11);
    // async-nats purge.
    let stream = s.js.get_stream("PA").await.unwrap();
    let purged = stream.purge().await.unwrap();
    assert!(purged.success);
    assert_eq!(purged.purged, 1);
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_by_filter() {
    let s = setup().await;
    create(&s.client, "PF", r#"{"name":"PF","subjects":["p.*"]}"#).await;
    fill(&s.client, &SUBJECTS).await;
    let reply = api(&s.client, "$JS.API.STREAM.PURGE.PF", r#"{"filter":"p.b"}"#).await;
    assert_eq!(reply["purged"], 3);
    assert_eq!(
        present(&s.client, "PF", 10).await,
        vec![1, 3, 4, 6, 7, 9, 10]
    );
    let st = &info(&s.client, "PF", r#"{"subjects_filter":">"}"#).await["state"];
    assert_eq!(st["subjects"], json!({"p.a": 4, "p.c": 3}));
    assert_eq!(st["first_seq"], 1);
    // Purging the first subject moves first_seq.
    let stream = s.js.get_stream("PF").await.unwrap();
    let r = stream.purge().filter("p.a").await.unwrap();
    assert_eq!(r.purged, 4);
    let st = &info(&s.client, "PF", "").await["state"];
    assert_eq!((&st["messages"], &st["first_seq"]), (&json!(3), &json!(3)));
    // A filter matching nothing purges nothing.
    let none = api(&s.client, "$JS.API.STREAM.PURGE.PF", r#"{"filter":"q.x"}"#).await;
    assert_eq!(none["purged"], 0);
    assert_eq!(none["success"], true);
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_up_to_sequence_and_keep() {
    let s = setup().await;
    create(&s.client, "PS", r#"{"name":"PS","subjects":["p.*"]}"#).await;
    fill(&s.client, &SUBJECTS).await;
    // seq: everything below 4.
    let r = api(&s.client, "$JS.API.STREAM.PURGE.PS", r#"{"seq":4}"#).await;
    assert_eq!(r["purged"], 3);
    assert_eq!(info(&s.client, "PS", "").await["state"]["first_seq"], 4);
    // filter + seq: p.a below 10 (4 and 7).
    let r = api(
        &s.client,
        "$JS.API.STREAM.PURGE.PS",
        r#"{"filter":"p.a","seq":10}"#,
    )
    .await;
    assert_eq!(r["purged"], 2);
    assert_eq!(present(&s.client, "PS", 10).await, vec![5, 6, 8, 9, 10]);
    // filter + keep: keep the newest p.b (8).
    let r = api(
        &s.client,
        "$JS.API.STREAM.PURGE.PS",
        r#"{"filter":"p.b","keep":1}"#,
    )
    .await;
    assert_eq!(r["purged"], 1);
    // keep: the newest two overall.
    let stream = s.js.get_stream("PS").await.unwrap();
    let r = stream.purge().keep(2).await.unwrap();
    assert_eq!(r.purged, 2);
    assert_eq!(present(&s.client, "PS", 10).await, vec![9, 10]);
    // seq and keep together are refused.
    assert_error(
        &api(
            &s.client,
            "$JS.API.STREAM.PURGE.PS",
            r#"{"seq":5,"keep":1}"#,
        )
        .await,
        400,
        10003,
        "bad request",
    );
    assert_error(
        &api(&s.client, "$JS.API.STREAM.PURGE.NOPE", "").await,
        404,
        10059,
        "stream not found",
    );
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msg_get_by_seq_last_and_next() {
    let s = setup().await;
    create(&s.client, "G", r#"{"name":"G","subjects":["p.*"]}"#).await;
    fill(&s.client, &SUBJECTS).await;
    let mut h = async_nats::HeaderMap::new();
    h.insert("X-Test", "yes");
    s.client
        .request_with_headers("p.h", h, "with headers".into())
        .await
        .unwrap();

    let get = |body: &'static str| {
        let client = s.client.clone();
        async move { api(&client, "$JS.API.STREAM.MSG.GET.G", body).await }
    };
    let m = &get(r#"{"seq":2}"#).await["message"];
    assert_eq!(m["subject"], "p.b");
    assert_eq!(m["seq"], 2);
    assert_eq!(m["data"], "bTI=");
    assert!(m.get("hdrs").is_none(), "no headers, no hdrs: {m}");
    assert!(m["time"].as_str().unwrap().ends_with('Z'));

    let h = &get(r#"{"seq":11}"#).await["message"];
    // base64 of "NATS/1.0\r\nX-Test: yes\r\n\r\n".
    assert_eq!(h["hdrs"], "TkFUUy8xLjANClgtVGVzdDogeWVzDQoNCg==");
    let no_hdr = &get(r#"{"seq":11,"no_hdr":true}"#).await["message"];
    assert!(no_hdr.get("hdrs").is_none(), "{no_hdr}");

    assert_eq!(get(r#"{"last_by_subj":"p.b"}"#).await["message"]["seq"], 8);
    assert_eq!(get(r#"{"last_by_subj":"p.*"}"#).await["message"]["seq"], 11);
    assert_eq!(get(r#"{"next_by_subj":"p.c"}"#).await["message"]["seq"], 3);
    assert_eq!(
        get(r#"{"next_by_subj":"p.c","seq":4}"#).await["message"]["seq"],
        6
    );
    assert_eq!(
        get(r#"{"next_by_subj":"p.>","seq":9}"#).await["message"]["seq"],
        9
    );
    for missing in [
        r#"{"seq":99}"#,
        r#"{"last_by_subj":"p.zz"}"#,
        r#"{"next_by_subj":"p.c","seq":10}"#,
    ] {
        assert_error(&get(missing).await, 404, 10037, "no message found");
    }
    for bad in [r#"{"seq":0}"#, "{}", r#"{"seq":1,"last_by_subj":"p.a"}"#] {
        assert_error(&get(bad).await, 400, 10003, "bad request");
    }
    assert_error(
        &api(&s.client, "$JS.API.STREAM.MSG.GET.NOPE", r#"{"seq":1}"#).await,
        404,
        10059,
        "stream not found",
    );

    // The same through async-nats.
    let stream = s.js.get_stream("G").await.unwrap();
    let m = stream.get_raw_message(11).await.unwrap();
    assert_eq!(m.headers.get("X-Test").map(|v| v.as_str()), Some("yes"));
    assert_eq!(&m.payload[..], b"with headers");
    let last = stream.get_last_raw_message_by_subject("p.c").await.unwrap();
    assert_eq!(last.sequence, 9);
    let next = stream
        .get_first_raw_message_by_subject("p.a", 5)
        .await
        .unwrap();
    assert_eq!(next.sequence, 7);
    assert!(stream.get_raw_message(50).await.is_err());
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msg_delete_with_and_without_erase() {
    let s = setup().await;
    create(&s.client, "D", r#"{"name":"D","subjects":["p.*"]}"#).await;
    create(
        &s.client,
        "DM",
        r#"{"name":"DM","subjects":["m.*"],"storage":"memory"}"#,
    )
    .await;
    fill(&s.client, &SUBJECTS).await;
    let del = |name: &'static str, body: &'static str| {
        let client = s.client.clone();
        async move { api(&client, &format!("$JS.API.STREAM.MSG.DELETE.{name}"), body).await }
    };
    assert_eq!(
        del("D", r#"{"seq":2}"#).await,
        json!({"type":"io.nats.jetstream.api.v1.stream_msg_delete_response","success":true})
    );
    assert_eq!(
        del("D", r#"{"seq":5,"no_erase":true}"#).await["success"],
        true
    );
    let stream = s.js.get_stream("D").await.unwrap();
    assert!(stream.delete_message(7).await.unwrap());
    // First message: first_seq moves.
    assert_eq!(del("D", r#"{"seq":1}"#).await["success"], true);

    assert_error(
        &api(&s.client, "$JS.API.STREAM.MSG.GET.D", r#"{"seq":2}"#).await,
        404,
        10037,
        "no message found",
    );
    // Deleting again: inside the stream it is "sequence N not found", below its first
    // sequence the file store's "no message found" (as nats-server's file store).
    assert_error(
        &del("D", r#"{"seq":5}"#).await,
        400,
        10043,
        "sequence 5 not found",
    );
    assert_error(
        &del("D", r#"{"seq":2}"#).await,
        500,
        10057,
        "no message found",
    );
    assert_error(&del("D", "").await, 400, 10003, "bad request");
    assert_error(
        &del("NOPE", r#"{"seq":1}"#).await,
        404,
        10059,
        "stream not found",
    );
    let st = &info(&s.client, "D", r#"{"deleted_details":true}"#).await["state"];
    assert_eq!(st["messages"], 6);
    assert_eq!(st["first_seq"], 3);
    assert_eq!(st["num_deleted"], 2);
    assert_eq!(st["deleted"], json!([5, 7]));
    let plain = &info(&s.client, "D", "").await["state"];
    assert!(plain.get("deleted").is_none(), "only on request: {plain}");
    assert_eq!(present(&s.client, "D", 10).await, vec![3, 4, 6, 8, 9, 10]);

    // Memory store: a sequence never stored is 10043 too.
    s.client.request("m.a", "x".into()).await.unwrap();
    assert_error(
        &del("DM", r#"{"seq":99}"#).await,
        400,
        10043,
        "sequence 99 not found",
    );
    assert_eq!(del("DM", r#"{"seq":1}"#).await["success"], true);
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_delete_and_deny_purge_refuse() {
    let s = setup().await;
    create(
        &s.client,
        "DENY",
        r#"{"name":"DENY","subjects":["deny.*"],"deny_delete":true,"deny_purge":true}"#,
    )
    .await;
    s.client.request("deny.a", "x".into()).await.unwrap();
    assert_error(
        &api(&s.client, "$JS.API.STREAM.MSG.DELETE.DENY", r#"{"seq":1}"#).await,
        500,
        10057,
        "message delete not permitted",
    );
    for body in ["", r#"{"filter":"deny.a"}"#, r#"{"keep":0}"#] {
        let r = api(&s.client, "$JS.API.STREAM.PURGE.DENY", body).await;
        assert_error(&r, 500, 10110, "stream purge not permitted");
        assert_eq!(r["purged"], 0);
    }
    let stream = s.js.get_stream("DENY").await.unwrap();
    assert!(stream.delete_message(1).await.is_err());
    assert!(stream.purge().await.is_err());
    assert_eq!(info(&s.client, "DENY", "").await["state"]["messages"], 1);
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_get_both_subject_forms() {
    let s = setup().await;
    create(
        &s.client,
        "DG",
        r#"{"name":"DG","subjects":["p.*"],"allow_direct":true}"#,
    )
    .await;
    create(&s.client, "NODG", r#"{"name":"NODG","subjects":["q.*"]}"#).await;
    fill(&s.client, &SUBJECTS).await;
    s.client.request("q.a", "x".into()).await.unwrap();

    let direct = |subject: String, body: &'static str| {
        let client = s.client.clone();
        async move { client.request(subject, body.into()).await }
    };
    let m = direct("$JS.API.DIRECT.GET.DG".into(), r#"{"seq":4}"#)
        .await
        .unwrap();
    assert!(m.status.is_none());
    assert_eq!(&m.payload[..], b"m4");
    let h = m.headers.as_ref().expect("headers");
    assert_eq!(h.get("Nats-Stream").unwrap().as_str(), "DG");
    assert_eq!(h.get("Nats-Subject").unwrap().as_str(), "p.a");
    assert_eq!(h.get("Nats-Sequence").unwrap().as_str(), "4");
    assert!(h.get("Nats-Time-Stamp").unwrap().as_str().ends_with('Z'));

    let last = direct("$JS.API.DIRECT.GET.DG".into(), r#"{"last_by_subj":"p.b"}"#)
        .await
        .unwrap();
    assert_eq!(&last.payload[..], b"m8");
    let next = direct(
        "$JS.API.DIRECT.GET.DG".into(),
        r#"{"next_by_subj":"p.c","seq":4}"#,
    )
    .await
    .unwrap();
    assert_eq!(&next.payload[..], b"m6");
    // Subject form: the last message on the subject.
    let by_subject = direct("$JS.API.DIRECT.GET.DG.p.c".into(), "")
        .await
        .unwrap();
    assert_eq!(&by_subject.payload[..], b"m9");
    assert_eq!(
        by_subject
            .headers
            .as_ref()
            .unwrap()
            .get("Nats-Sequence")
            .unwrap()
            .as_str(),
        "9"
    );
    for (subject, body) in [
        ("$JS.API.DIRECT.GET.DG", r#"{"seq":99}"#),
        ("$JS.API.DIRECT.GET.DG.p.zz", ""),
    ] {
        let nf = direct(subject.into(), body).await.unwrap();
        assert_eq!(nf.status.map(|s| s.as_u16()), Some(404), "{subject}");
        assert_eq!(nf.description.as_deref(), Some("Message Not Found"));
        assert!(nf.payload.is_empty());
    }
    // No allow_direct: nobody answers.
    let err = direct("$JS.API.DIRECT.GET.NODG".into(), r#"{"seq":1}"#)
        .await
        .expect_err("no responders");
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);

    // async-nats direct get.
    let stream = s.js.get_stream("DG").await.unwrap();
    let m = stream.direct_get(10).await.unwrap();
    assert_eq!((m.sequence, &m.payload[..]), (10, &b"m10"[..]));
    let m = stream.direct_get_last_for_subject("p.b").await.unwrap();
    assert_eq!(m.sequence, 8);
    let m = stream
        .direct_get_next_for_subject("p.b", Some(3))
        .await
        .unwrap();
    assert_eq!(m.sequence, 5);
    assert!(stream.direct_get(99).await.is_err());
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_subjects_filter_and_deleted_details() {
    let s = setup().await;
    create(&s.client, "IF", r#"{"name":"IF","subjects":["p.*","x.>"]}"#).await;
    fill(&s.client, &SUBJECTS).await;
    s.client.request("x.y.z", "deep".into()).await.unwrap();
    let st = &info(&s.client, "IF", r#"{"subjects_filter":">"}"#).await;
    assert_eq!(
        st["state"]["subjects"],
        json!({"p.a": 4, "p.b": 3, "p.c": 3, "x.y.z": 1})
    );
    assert_eq!((&st["total"], &st["offset"]), (&json!(4), &json!(0)));
    let one = &info(&s.client, "IF", r#"{"subjects_filter":"p.b"}"#).await;
    assert_eq!(one["state"]["subjects"], json!({"p.b": 3}));
    assert_eq!(one["total"], 1);
    let wild = &info(&s.client, "IF", r#"{"subjects_filter":"x.>"}"#).await;
    assert_eq!(wild["state"]["subjects"], json!({"x.y.z": 1}));
    let none = &info(&s.client, "IF", r#"{"subjects_filter":"nope"}"#).await;
    assert!(none["state"].get("subjects").is_none(), "{none}");
    assert_eq!(none["state"]["num_subjects"], 4);

    for seq in [3, 4, 8] {
        api(
            &s.client,
            "$JS.API.STREAM.MSG.DELETE.IF",
            &format!(r#"{{"seq":{seq}}}"#),
        )
        .await;
    }
    let d = &info(
        &s.client,
        "IF",
        r#"{"deleted_details":true,"subjects_filter":"p.a"}"#,
    )
    .await["state"];
    assert_eq!(d["deleted"], json!([3, 4, 8]));
    assert_eq!(d["num_deleted"], 3);
    assert_eq!(d["subjects"], json!({"p.a": 3}));

    // async-nats info builder.
    let stream = s.js.get_stream("IF").await.unwrap();
    let with = stream
        .info_builder()
        .with_deleted(true)
        .subjects("p.*")
        .fetch()
        .await
        .unwrap();
    assert_eq!(with.info.state.deleted, Some(vec![3, 4, 8]));
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_stream_refuses_writes_purges_and_deletes() {
    let s = setup().await;
    create(&s.client, "SEAL", r#"{"name":"SEAL","subjects":["seal"]}"#).await;
    s.client.request("seal", "x".into()).await.unwrap();
    let mut cfg: stream::Config =
        s.js.get_stream("SEAL")
            .await
            .unwrap()
            .cached_info()
            .config
            .clone();
    cfg.sealed = true;
    let sealed = s.js.update_stream(cfg).await.expect("seal");
    assert!(sealed.config.sealed);
    let ack: Value =
        serde_json::from_slice(&s.client.request("seal", "y".into()).await.unwrap().payload)
            .unwrap();
    assert_error(&ack, 400, 10109, "invalid operation on sealed stream");
    assert_error(
        &api(&s.client, "$JS.API.STREAM.PURGE.SEAL", "").await,
        400,
        10109,
        "invalid operation on sealed stream",
    );
    assert_error(
        &api(&s.client, "$JS.API.STREAM.MSG.DELETE.SEAL", r#"{"seq":1}"#).await,
        400,
        10109,
        "invalid operation on sealed stream",
    );
    assert_eq!(info(&s.client, "SEAL", "").await["state"]["messages"], 1);
    s.server.shutdown().await;
}
