//! Per-message TTLs (`Nats-TTL`) and subject delete markers, with time passed in: the
//! features KV buckets with per-key TTLs and `limit_markers` are built on.

mod support;

use serde_json::Value;
use support::{Harness, T0};

const SEC: i64 = 1_000_000_000;

fn create(h: &mut Harness, body: &str) -> Value {
    let v = h.api("$JS.API.STREAM.CREATE.S", body, T0);
    assert!(v.get("error").is_none(), "{v}");
    v
}

fn state(h: &mut Harness, now: i64) -> Value {
    h.api("$JS.API.STREAM.INFO.S", "", now)["state"].clone()
}

/// (subject, headers) of the message at `seq`, via STREAM.MSG.GET.
fn message(h: &mut Harness, seq: u64, now: i64) -> Option<(String, String)> {
    let v = h.api(
        "$JS.API.STREAM.MSG.GET.S",
        &format!(r#"{{"seq":{seq}}}"#),
        now,
    );
    let m = v.get("message")?;
    let hdrs = m["hdrs"].as_str().map_or(String::new(), |b| {
        String::from_utf8(sluice_jetstream::api::base64::decode(b).unwrap()).unwrap()
    });
    Some((m["subject"].as_str().unwrap().to_string(), hdrs))
}

#[test]
fn ttl_headers_are_refused_unless_the_stream_allows_them() {
    let mut h = Harness::new();
    create(&mut h, r#"{"name":"S","subjects":["s.>"]}"#);
    let ack = h.publish("s.a", &[("Nats-TTL", "5s")], "x", T0);
    assert!(
        ack.contains(r#""err_code":10166,"description":"per-message TTL is disabled""#),
        "{ack}"
    );
    let mut h = Harness::new();
    let created = create(
        &mut h,
        r#"{"name":"S","subjects":["s.>"],"allow_msg_ttl":true}"#,
    );
    assert_eq!(created["config"]["allow_msg_ttl"], true);
    assert_eq!(created["config"]["metadata"]["_nats.req.level"], "1");
    let ack = h.publish("s.a", &[("Nats-TTL", "500ms")], "x", T0);
    assert!(ack.contains(r#""err_code":10165"#), "{ack}");
    let ack = h.publish("s.a", &[("Nats-TTL", "soon")], "x", T0);
    assert!(ack.contains(r#""err_code":10165"#), "{ack}");
    assert_eq!(
        h.publish("s.a", &[("Nats-TTL", "2s")], "x", T0),
        r#"{"stream":"S","seq":1}"#
    );
}

#[test]
fn messages_expire_after_their_own_ttl() {
    let mut h = Harness::new();
    create(
        &mut h,
        r#"{"name":"S","subjects":["s.>"],"allow_msg_ttl":true}"#,
    );
    h.publish("s.a", &[("Nats-TTL", "2s")], "short", T0);
    h.publish("s.b", &[("Nats-TTL", "10")], "long", T0);
    h.publish("s.c", &[], "forever", T0);
    assert_eq!(h.engine.next_deadline(), Some(T0 + 2 * SEC));
    h.engine.tick(T0 + 2 * SEC - 1);
    h.engine.commit();
    assert_eq!(state(&mut h, T0 + 2 * SEC - 1)["messages"], 3);
    h.engine.tick(T0 + 2 * SEC);
    h.engine.commit();
    let s = state(&mut h, T0 + 2 * SEC);
    assert_eq!(
        (s["messages"].as_u64(), s["first_seq"].as_u64()),
        (Some(2), Some(2))
    );
    h.engine.tick(T0 + 10 * SEC);
    h.engine.commit();
    assert_eq!(state(&mut h, T0 + 10 * SEC)["messages"], 1);
    assert!(message(&mut h, 3, T0 + 10 * SEC).is_some());
}

#[test]
fn ttl_never_outlives_max_age() {
    let mut h = Harness::new();
    create(
        &mut h,
        r#"{"name":"S","subjects":["s.>"],"allow_msg_ttl":true,"max_age":5000000000}"#,
    );
    h.publish("s.a", &[("Nats-TTL", "never")], "keep", T0);
    h.publish("s.b", &[], "old", T0);
    h.publish("s.c", &[], "young", T0 + 3 * SEC);
    h.engine.tick(T0 + 5 * SEC);
    h.engine.commit();
    let s = state(&mut h, T0 + 5 * SEC);
    assert_eq!(s["messages"], 2, "{s}");
    assert_eq!(s["first_seq"], 1);
    // The never-expiring head does not make expiry spin: the next deadline is the
    // young message's.
    assert_eq!(h.engine.next_deadline(), Some(T0 + 8 * SEC));
    h.engine.tick(T0 + 8 * SEC);
    h.engine.commit();
    let s = state(&mut h, T0 + 8 * SEC);
    assert_eq!(
        (s["messages"].as_u64(), s["last_seq"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(message(&mut h, 1, T0 + 8 * SEC).unwrap().0, "s.a");
}

#[test]
fn ttls_survive_a_restart() {
    let mut h = Harness::with_real_stores();
    create(
        &mut h,
        r#"{"name":"S","subjects":["s.>"],"allow_msg_ttl":true}"#,
    );
    h.publish("s.a", &[("Nats-TTL", "3s")], "x", T0);
    h.publish("s.b", &[], "y", T0);
    h.restart(T0 + SEC);
    assert_eq!(h.engine.next_deadline(), Some(T0 + 3 * SEC));
    h.engine.tick(T0 + 3 * SEC);
    h.engine.commit();
    let s = state(&mut h, T0 + 3 * SEC);
    assert_eq!(
        (s["messages"].as_u64(), s["first_seq"].as_u64()),
        (Some(1), Some(2))
    );
}

#[test]
fn delete_markers_replace_the_last_message_of_a_subject() {
    let mut h = Harness::new();
    // Without pedantic, markers switch on TTLs and roll-ups.
    let created = create(
        &mut h,
        r#"{"name":"S","subjects":["s.>"],"max_age":4000000000,"subject_delete_marker_ttl":2000000000}"#,
    );
    assert_eq!(created["config"]["allow_msg_ttl"], true);
    assert_eq!(created["config"]["allow_rollup_hdrs"], true);
    h.publish("s.a", &[], "a1", T0);
    h.publish("s.a", &[], "a2", T0);
    h.publish("s.b", &[], "b1", T0 + SEC);
    h.engine.tick(T0 + 4 * SEC);
    h.engine.commit();
    // a1 is simply removed; a2, the last on s.a, is replaced by a marker.
    let s = state(&mut h, T0 + 4 * SEC);
    assert_eq!(
        (s["messages"].as_u64(), s["last_seq"].as_u64()),
        (Some(2), Some(4)),
        "{s}"
    );
    let (subject, hdrs) = message(&mut h, 4, T0 + 4 * SEC).unwrap();
    assert_eq!(subject, "s.a");
    assert_eq!(
        hdrs,
        "NATS/1.0\r\nNats-Marker-Reason: MaxAge\r\nNats-TTL: 2s\r\nNats-Rollup: sub\r\n\r\n"
    );
    // s.b's marker comes at 5s; s.a's marker expires at 6s and leaves nothing.
    h.engine.tick(T0 + 5 * SEC);
    h.engine.commit();
    let (subject, _) = message(&mut h, 5, T0 + 5 * SEC).unwrap();
    assert_eq!(subject, "s.b");
    h.engine.tick(T0 + 6 * SEC);
    h.engine.commit();
    let s = state(&mut h, T0 + 6 * SEC);
    assert_eq!(
        (s["messages"].as_u64(), s["first_seq"].as_u64()),
        (Some(1), Some(5)),
        "{s}"
    );
    h.engine.tick(T0 + 7 * SEC);
    h.engine.commit();
    assert_eq!(state(&mut h, T0 + 7 * SEC)["messages"], 0);
}

#[test]
fn ttl_shorter_than_the_marker_ttl_is_raised() {
    let mut h = Harness::new();
    create(
        &mut h,
        r#"{"name":"S","subjects":["s.>"],"allow_msg_ttl":true,"allow_rollup_hdrs":true,"subject_delete_marker_ttl":5000000000}"#,
    );
    h.publish("s.a", &[("Nats-TTL", "1s")], "x", T0);
    let (_, hdrs) = message(&mut h, 1, T0).unwrap();
    assert_eq!(hdrs, "NATS/1.0\r\nNats-TTL: 5\r\n\r\n");
    // At 5s it expires; it is the last on s.a, so a marker takes its place.
    h.engine.tick(T0 + 5 * SEC);
    h.engine.commit();
    let (subject, hdrs) = message(&mut h, 2, T0 + 5 * SEC).unwrap();
    assert_eq!(subject, "s.a");
    assert!(hdrs.contains("Nats-Marker-Reason: MaxAge"), "{hdrs}");
    assert!(message(&mut h, 1, T0 + 5 * SEC).is_none());
}

#[test]
fn marker_config_rules() {
    let mut h = Harness::new();
    let v = h.api(
        "$JS.API.STREAM.CREATE.S",
        r#"{"name":"S","subject_delete_marker_ttl":500000000}"#,
        T0,
    );
    assert_eq!(
        v["error"]["description"],
        "subject delete marker TTL must be at least 1 second"
    );
    create(&mut h, r#"{"name":"S","allow_msg_ttl":true}"#);
    let v = h.api("$JS.API.STREAM.UPDATE.S", r#"{"name":"S"}"#, T0);
    assert_eq!(
        v["error"]["description"],
        "message TTL status can not be disabled"
    );
}
