//! What the engine asks the server to route to it, and when that changes.

mod support;

use support::{Harness, T0};

#[test]
fn api_streams_and_direct_get_subjects() {
    let mut h = Harness::new();
    assert!(h.engine.subjects_changed());
    assert!(!h.engine.subjects_changed());
    let base = h.engine.capture_subjects();
    assert_eq!(
        base,
        vec![
            "$JS.ACK.>",
            "$JS.API.*",
            "$JS.API.ACCOUNT.>",
            "$JS.API.CONSUMER.>",
            "$JS.API.META.>",
            "$JS.API.SERVER.>",
            "$JS.API.STREAM.>",
            "$JS.FC.>"
        ]
    );

    h.api(
        "$JS.API.STREAM.CREATE.KV_b",
        r#"{"name":"KV_b","subjects":["$KV.b.>"],"allow_direct":true}"#,
        T0,
    );
    assert!(h.engine.subjects_changed());
    let subjects = h.engine.capture_subjects();
    for s in [
        "$KV.b.>",
        "$JS.API.DIRECT.GET.KV_b",
        "$JS.API.DIRECT.GET.KV_b.>",
    ] {
        assert!(subjects.iter().any(|x| x == s), "{subjects:?}");
    }
    assert!(h.engine.has_responder("$JS.API.DIRECT.GET.KV_b.$KV.b.k"));
    assert!(h.engine.has_responder("$JS.API.STREAM.INFO.KV_b"));
    assert!(!h.engine.has_responder("$JS.API.DIRECT.GET.nope"));
    assert!(h.engine.has_responder("$JS.API.CONSUMER.INFO.KV_b.c"));

    // Turning direct get off withdraws its subjects.
    h.api(
        "$JS.API.STREAM.UPDATE.KV_b",
        r#"{"name":"KV_b","subjects":["$KV.b.>"]}"#,
        T0,
    );
    assert!(h.engine.subjects_changed());
    assert!(!h
        .engine
        .capture_subjects()
        .iter()
        .any(|s| s.starts_with("$JS.API.DIRECT")));
    assert!(!h.engine.has_responder("$JS.API.DIRECT.GET.KV_b"));

    // A failed request changes nothing.
    h.api(
        "$JS.API.STREAM.CREATE.X",
        r#"{"name":"X","subjects":["$KV.b.x"]}"#,
        T0,
    );
    assert!(!h.engine.subjects_changed());

    h.api("$JS.API.STREAM.DELETE.KV_b", "", T0);
    assert!(h.engine.subjects_changed());
    assert_eq!(h.engine.capture_subjects(), base);
}

#[test]
fn patterns_covered_by_a_stream_are_not_repeated() {
    let mut h = Harness::new();
    let v = h.api(
        "$JS.API.STREAM.CREATE.ALL",
        r#"{"name":"ALL","subjects":[">"],"no_ack":true}"#,
        T0,
    );
    assert!(v.get("error").is_none(), "{v}");
    // One subscription on ">" gets everything, API requests included, exactly once.
    assert_eq!(h.engine.capture_subjects(), vec![">"]);
    // An API request is stored by the stream and answered by the API.
    let out = h.api_raw("$JS.API.STREAM.NAMES", None, "", T0);
    assert_eq!(out.len(), 1);
    let v = h.api("$JS.API.STREAM.INFO.ALL", "", T0);
    assert_eq!(v["state"]["messages"], 2);
}

#[test]
fn unknown_api_subjects_get_no_reply() {
    let mut h = Harness::new();
    for subject in [
        "$JS.API.BOGUS",
        "$JS.API.STREAM.INFO",
        "$JS.API.STREAM.CREATE.a.b",
        "$JS.API.STREAM.SNAPSHOT.S",
    ] {
        assert!(h.api_raw(subject, None, "{}", T0).is_empty(), "{subject}");
    }
    let info = h.api("$JS.API.INFO", "", T0);
    assert_eq!(info["api"]["total"], 0);
}

#[test]
fn required_api_level_header() {
    let mut h = Harness::new();
    let hdr = support::header_block(&[("Nats-Required-Api-Level", "6")]).unwrap();
    let out = h.api_raw("$JS.API.INFO", Some(&hdr), "", T0);
    assert_eq!(
        String::from_utf8_lossy(&out[0].payload),
        r#"{"type":"io.nats.jetstream.api.v1.account_info_response","error":{"code":412,"err_code":10185,"description":"JetStream minimum api level required"}}"#
    );
    let hdr = support::header_block(&[("Nats-Required-Api-Level", "5")]).unwrap();
    let out = h.api_raw("$JS.API.INFO", Some(&hdr), "", T0);
    let v: serde_json::Value = serde_json::from_slice(&out[0].payload).unwrap();
    assert_eq!(v["api"]["level"], 5);
    assert_eq!(v["api"]["errors"], 1);
}
