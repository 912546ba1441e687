//! Mirrors of streams on the same server: the mirror keeps the origin's sequences,
//! subjects, headers and times (gaps stay gaps), applies its own limits, takes no
//! publishes, copies only what the origin made durable, resumes after a restart and
//! answers direct gets for the origin with `mirror_direct`.

mod support;

use serde_json::Value;
use support::{header_block, Harness, T0};

const SEC: i64 = 1_000_000_000;

fn create(h: &mut Harness, name: &str, cfg: &str, now: i64) -> Value {
    h.api(&format!("$JS.API.STREAM.CREATE.{name}"), cfg, now)
}

fn ok(v: &Value) {
    assert!(v.get("error").is_none(), "{v}");
}

fn info(h: &mut Harness, name: &str, now: i64) -> Value {
    let v = h.api(&format!("$JS.API.STREAM.INFO.{name}"), "", now);
    ok(&v);
    v
}

fn state(v: &Value) -> (u64, u64, u64, u64) {
    let s = &v["state"];
    (
        s["messages"].as_u64().unwrap(),
        s["first_seq"].as_u64().unwrap(),
        s["last_seq"].as_u64().unwrap(),
        s["num_deleted"].as_u64().unwrap_or(0),
    )
}

fn msg_get(h: &mut Harness, name: &str, seq: u64, now: i64) -> Value {
    h.api(
        &format!("$JS.API.STREAM.MSG.GET.{name}"),
        &format!(r#"{{"seq":{seq}}}"#),
        now,
    )
}

fn origin_with_gap(h: &mut Harness) {
    ok(&create(h, "O", r#"{"name":"O","subjects":["o.>"]}"#, T0));
    h.publish("o.a", &[("k", "v1")], "one", T0 + SEC);
    h.publish("o.b", &[], "two", T0 + 2 * SEC);
    h.publish("o.a", &[], "three", T0 + 3 * SEC);
    let v = h.api("$JS.API.STREAM.MSG.DELETE.O", r#"{"seq":2}"#, T0 + 4 * SEC);
    ok(&v);
}

#[test]
fn mirror_keeps_sequences_times_and_gaps_and_follows_the_origin() {
    for mut h in [Harness::new(), Harness::with_real_stores()] {
        origin_with_gap(&mut h);
        let v = create(
            &mut h,
            "M",
            r#"{"name":"M","mirror":{"name":"O"}}"#,
            T0 + 5 * SEC,
        );
        ok(&v);
        assert!(v["config"].get("subjects").is_none(), "{v}");
        assert_eq!(v["config"]["mirror"], serde_json::json!({"name":"O"}));
        // Caught up in the commit that answered the create.
        let i = info(&mut h, "M", T0 + 6 * SEC);
        assert_eq!(state(&i), (2, 1, 3, 1));
        assert_eq!(i["mirror"]["name"], "O");
        assert_eq!(i["mirror"]["lag"], 0);
        assert_eq!(i["mirror"]["active"], SEC);
        let o3 = msg_get(&mut h, "O", 3, T0 + 6 * SEC);
        let m3 = msg_get(&mut h, "M", 3, T0 + 6 * SEC);
        assert_eq!(o3["message"], m3["message"]);
        let m1 = msg_get(&mut h, "M", 1, T0 + 6 * SEC);
        assert_eq!(m1["message"]["subject"], "o.a");
        assert_eq!(
            m1["message"]["hdrs"],
            msg_get(&mut h, "O", 1, T0)["message"]["hdrs"]
        );
        assert_eq!(msg_get(&mut h, "M", 2, T0)["error"]["err_code"], 10037);
        // New origin messages follow; deletions in the origin are not copied.
        h.publish("o.c", &[], "four", T0 + 7 * SEC);
        ok(&h.api("$JS.API.STREAM.MSG.DELETE.O", r#"{"seq":1}"#, T0 + 8 * SEC));
        let i = info(&mut h, "M", T0 + 9 * SEC);
        assert_eq!(state(&i), (3, 1, 4, 1));
        let m4 = msg_get(&mut h, "M", 4, T0 + 9 * SEC);
        assert_eq!(m4["message"], msg_get(&mut h, "O", 4, T0)["message"]);
    }
}

#[test]
fn mirror_takes_no_publishes_and_has_no_subjects() {
    let mut h = Harness::new();
    origin_with_gap(&mut h);
    ok(&create(
        &mut h,
        "M",
        r#"{"name":"M","mirror":{"name":"O"}}"#,
        T0 + 5 * SEC,
    ));
    h.engine
        .publish("M", Some("_INBOX.ack"), None, b"x", T0 + 6 * SEC);
    assert!(h.engine.commit().is_empty());
    assert!(!h.engine.capture_subjects().iter().any(|s| s == "M"));
    assert_eq!(state(&info(&mut h, "M", T0 + 7 * SEC)), (2, 1, 3, 1));
}

#[test]
fn mirror_copies_only_what_the_origin_made_durable() {
    let mut h = Harness::new();
    ok(&create(
        &mut h,
        "O",
        r#"{"name":"O","subjects":["o.>"]}"#,
        T0,
    ));
    ok(&create(
        &mut h,
        "M",
        r#"{"name":"M","mirror":{"name":"O"}}"#,
        T0,
    ));
    h.publish("o.a", &[], "one", T0 + SEC);
    h.fail_next_sync("O");
    let ack = h.publish("o.a", &[], "lost", T0 + 2 * SEC);
    assert!(ack.contains("error"), "{ack}");
    let i = info(&mut h, "M", T0 + 3 * SEC);
    assert_eq!(state(&i), (1, 1, 1, 0));
    // The mirror's own copy was fsynced as well.
    assert!(h.syncs("M") >= 2, "{}", h.syncs("M"));
}

#[test]
fn mirror_resumes_after_restart() {
    let mut h = Harness::with_real_stores();
    origin_with_gap(&mut h);
    ok(&create(
        &mut h,
        "M",
        r#"{"name":"M","mirror":{"name":"O"}}"#,
        T0 + 5 * SEC,
    ));
    h.restart(T0 + 6 * SEC);
    // The first commit after opening catches up with what came meanwhile.
    h.publish("o.z", &[], "five", T0 + 7 * SEC);
    let i = info(&mut h, "M", T0 + 8 * SEC);
    assert_eq!(state(&i), (3, 1, 4, 1));
    assert_eq!(i["mirror"]["lag"], 0);
    let m4 = msg_get(&mut h, "M", 4, T0 + 8 * SEC);
    assert_eq!(m4["message"]["subject"], "o.z");
}

#[test]
fn filter_and_start_sequence_leave_gaps() {
    let mut h = Harness::with_real_stores();
    origin_with_gap(&mut h);
    h.publish("o.b", &[], "four", T0 + 5 * SEC);
    h.publish("o.a", &[], "five", T0 + 6 * SEC);
    ok(&create(
        &mut h,
        "F",
        r#"{"name":"F","mirror":{"name":"O","filter_subject":"o.a"}}"#,
        T0 + 7 * SEC,
    ));
    let i = info(&mut h, "F", T0 + 7 * SEC);
    assert_eq!(state(&i), (3, 1, 5, 2));
    assert_eq!(i["mirror"]["filter_subject"], "o.a");
    ok(&create(
        &mut h,
        "S",
        r#"{"name":"S","mirror":{"name":"O","opt_start_seq":4},"storage":"memory"}"#,
        T0 + 7 * SEC,
    ));
    assert_eq!(state(&info(&mut h, "S", T0 + 7 * SEC)), (2, 4, 5, 0));
}

#[test]
fn mirror_applies_its_own_limits_and_feeds_its_consumers() {
    let mut h = Harness::with_real_stores();
    origin_with_gap(&mut h);
    ok(&create(
        &mut h,
        "M",
        r#"{"name":"M","mirror":{"name":"O"},"max_msgs":1}"#,
        T0 + 5 * SEC,
    ));
    assert_eq!(state(&info(&mut h, "M", T0 + 5 * SEC)), (1, 3, 3, 0));
    let c = h.api(
        "$JS.API.CONSUMER.CREATE.M.c",
        r#"{"stream_name":"M","config":{"durable_name":"c","ack_policy":"none","deliver_subject":"d.m"}}"#,
        T0 + 5 * SEC,
    );
    ok(&c);
    h.engine.set_push_interest("d.m", true, T0 + 5 * SEC);
    h.engine
        .publish("o.q", Some("_INBOX.ack"), None, b"six", T0 + 6 * SEC);
    let out = h.engine.commit();
    let delivered: Vec<&str> = out
        .iter()
        .filter(|o| o.route_subject() == "d.m")
        .map(|o| o.subject.as_str())
        .collect();
    assert!(delivered.contains(&"o.q"), "{out:?}");
}

#[test]
fn direct_gets_for_the_origin_get_one_answer() {
    let mut h = Harness::new();
    ok(&create(
        &mut h,
        "O",
        r#"{"name":"O","subjects":["o.>"],"allow_direct":true}"#,
        T0,
    ));
    h.publish("o.a", &[], "one", T0 + SEC);
    let m = create(
        &mut h,
        "M",
        r#"{"name":"M","mirror":{"name":"O"},"allow_direct":true}"#,
        T0 + 2 * SEC,
    );
    assert_eq!(m["config"]["mirror_direct"], true, "{m}");
    let subjects = h.engine.capture_subjects();
    assert!(subjects.contains(&"$JS.API.DIRECT.GET.O".to_string()));
    let out = h.api_raw("$JS.API.DIRECT.GET.O", None, r#"{"seq":1}"#, T0 + 3 * SEC);
    assert_eq!(out.len(), 1, "{out:?}");
    let hdr = String::from_utf8(out[0].headers.clone().unwrap().to_vec()).unwrap();
    assert!(hdr.contains("Nats-Stream: O"), "{hdr}");
    // The origin stops answering: the mirror does, under its own name.
    ok(&h.api(
        "$JS.API.STREAM.UPDATE.O",
        r#"{"name":"O","subjects":["o.>"],"allow_direct":false}"#,
        T0 + 4 * SEC,
    ));
    assert!(h.engine.has_responder("$JS.API.DIRECT.GET.O"));
    let out = h.api_raw("$JS.API.DIRECT.GET.O.o.a", None, "", T0 + 5 * SEC);
    assert_eq!(out.len(), 1, "{out:?}");
    let hdr = String::from_utf8(out[0].headers.clone().unwrap().to_vec()).unwrap();
    assert!(hdr.contains("Nats-Stream: M"), "{hdr}");
    assert_eq!(out[0].payload, &b"one"[..]);
}

#[test]
fn mirror_configuration_rules() {
    let mut h = Harness::new();
    ok(&create(
        &mut h,
        "O",
        r#"{"name":"O","subjects":["o.>"],"max_msg_size":100}"#,
        T0,
    ));
    let cases: &[(&str, u64, &str)] = &[
        (
            r#"{"name":"M","mirror":{"name":"O"},"subjects":["m"]}"#,
            10034,
            "stream mirrors can not contain subjects",
        ),
        (
            r#"{"name":"M","mirror":{"name":"O"},"max_msg_size":10}"#,
            10030,
            "stream mirror must have max message size >= source",
        ),
        (
            r#"{"name":"M","mirror_direct":true}"#,
            10052,
            "stream has no mirror but does have mirror direct",
        ),
        (
            r#"{"name":"M","mirror":{"name":"O","external":{"api":"$JS.X.API"}}}"#,
            10052,
            "mirrors of streams in other domains or accounts are not supported by this server",
        ),
    ];
    for &(cfg, code, text) in cases {
        let v = create(&mut h, "M", cfg, T0);
        assert_eq!(v["error"]["err_code"], code, "{cfg}: {v}");
        assert_eq!(v["error"]["description"], text, "{cfg}");
    }
    ok(&create(
        &mut h,
        "M",
        r#"{"name":"M","mirror":{"name":"O"}}"#,
        T0,
    ));
    let v = h.api(
        "$JS.API.STREAM.UPDATE.M",
        r#"{"name":"M","mirror":{"name":"O","filter_subject":"o.a"}}"#,
        T0,
    );
    assert_eq!(v["error"]["err_code"], 10055, "{v}");
    // Same mirror, other limits: fine.
    ok(&h.api(
        "$JS.API.STREAM.UPDATE.M",
        r#"{"name":"M","mirror":{"name":"O"},"max_msgs":5}"#,
        T0,
    ));
    // A mirror of a stream that does not exist (yet) copies once it appears.
    ok(&create(
        &mut h,
        "N",
        r#"{"name":"N","mirror":{"name":"LATER"}}"#,
        T0,
    ));
    let i = info(&mut h, "N", T0 + SEC);
    assert_eq!(i["mirror"]["active"], -1);
    ok(&create(
        &mut h,
        "LATER",
        r#"{"name":"LATER","subjects":["l"]}"#,
        T0 + SEC,
    ));
    let block = header_block(&[("h", "1")]);
    h.engine.publish(
        "l",
        Some("_INBOX.ack"),
        block.as_deref(),
        b"x",
        T0 + 2 * SEC,
    );
    h.engine.commit();
    assert_eq!(state(&info(&mut h, "N", T0 + 3 * SEC)), (1, 1, 1, 0));
}

#[test]
fn a_long_catch_up_continues_from_tick() {
    let mut h = Harness::with_real_stores();
    ok(&create(
        &mut h,
        "O",
        r#"{"name":"O","subjects":["o"],"storage":"memory"}"#,
        T0,
    ));
    for i in 0..10_050i64 {
        h.engine.publish("o", None, None, b"x", T0 + i);
    }
    h.engine.commit();
    ok(&create(
        &mut h,
        "M",
        r#"{"name":"M","mirror":{"name":"O"},"storage":"memory"}"#,
        T0 + SEC,
    ));
    // One pass copied 10,000; the rest is due at once, from `tick`.
    assert_eq!(h.engine.next_deadline(), Some(T0 + SEC));
    h.engine.tick(T0 + SEC);
    h.engine.commit();
    assert_eq!(h.engine.next_deadline(), None);
    let i = info(&mut h, "M", T0 + SEC);
    assert_eq!(state(&i), (10_050, 1, 10_050, 0));
    assert_eq!(i["mirror"]["lag"], 0);
}
