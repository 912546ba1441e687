//! Restart: an engine dropped (as by kill -9) and reopened on the same stores and
//! metadata restores every file stream exactly — configuration, creation time,
//! messages, sequences, deleted ranges, the duplicate window, the last message id —
//! and loses only what was never acknowledged.

mod support;

use serde_json::Value;
use support::{mask_times, Harness, T0};

const SEC: i64 = 1_000_000_000;

fn info(h: &mut Harness, stream: &str, at: i64) -> Value {
    let mut v = h.api(
        &format!("$JS.API.STREAM.INFO.{stream}"),
        r#"{"deleted_details":true,"subjects_filter":">"}"#,
        at,
    );
    v.as_object_mut().unwrap().remove("ts");
    v
}

fn everything_comes_back(mut h: Harness) {
    let cfg = r#"{"name":"S","subjects":["s.>","t"],"max_msgs_per_subject":5,"allow_rollup_hdrs":true,"description":"d","metadata":{"k":"v"},"allow_direct":true,"first_seq":10}"#;
    let created = h.api("$JS.API.STREAM.CREATE.S", cfg, T0);
    assert_eq!(created["did_create"], true);
    for i in 0..6 {
        h.publish("s.a", &[("Nats-Msg-Id", &format!("id{i}"))], "x", T0 + i);
    }
    h.publish("t", &[], "y", T0 + 10);
    h.api("$JS.API.STREAM.MSG.DELETE.S", r#"{"seq":12}"#, T0 + 11);
    let before = info(&mut h, "S", T0 + 20);
    assert_eq!(before["state"]["first_seq"], 11);
    assert_eq!(before["state"]["deleted"], serde_json::json!([12]));

    h.restart(T0 + 30);
    assert!(
        h.log.iter().any(|l| l.contains("Restored stream 'S'")),
        "{:?}",
        h.log
    );
    let after = info(&mut h, "S", T0 + 20);
    assert_eq!(after, before);
    // Created time survives exactly.
    assert_eq!(after["created"], created["created"]);

    // The duplicate window and last message id were rebuilt from the messages.
    assert_eq!(
        h.publish("s.a", &[("Nats-Msg-Id", "id5")], "x", T0 + 40),
        r#"{"stream":"S","seq":15,"duplicate": true}"#
    );
    assert_eq!(
        h.publish("t", &[("Nats-Expected-Last-Msg-Id", "x")], "x", T0 + 40),
        r#"{"error":{"code":400,"err_code":10070,"description":"wrong last msg ID: "},"stream":"S","seq":0}"#
    );
    assert_eq!(
        h.publish("t", &[], "z", T0 + 50),
        r#"{"stream":"S","seq":17}"#
    );
    // The subjects are captured again, with direct get.
    let subjects = h.engine.capture_subjects();
    for s in ["s.>", "t", "$JS.API.DIRECT.GET.S", "$JS.API.DIRECT.GET.S.>"] {
        assert!(subjects.iter().any(|x| x == s), "{subjects:?}");
    }
}

fn dedupe_window_counts_from_message_time(mut h: Harness) {
    h.api(
        "$JS.API.STREAM.CREATE.D",
        r#"{"name":"D","duplicate_window":10000000000}"#,
        T0,
    );
    assert_eq!(
        h.publish("D", &[("Nats-Msg-Id", "a")], "1", T0),
        r#"{"stream":"D","seq":1}"#
    );
    assert_eq!(
        h.publish("D", &[("Nats-Msg-Id", "b")], "2", T0 + 8 * SEC),
        r#"{"stream":"D","seq":2}"#
    );
    h.restart(T0 + 9 * SEC);
    assert_eq!(
        h.publish("D", &[("Nats-Msg-Id", "a")], "1", T0 + 9 * SEC),
        r#"{"stream":"D","seq":1,"duplicate": true}"#
    );
    h.restart(T0 + 11 * SEC);
    // "a" is out of the window now, "b" is not.
    assert_eq!(
        h.publish("D", &[("Nats-Msg-Id", "b")], "2", T0 + 11 * SEC),
        r#"{"stream":"D","seq":2,"duplicate": true}"#
    );
    assert_eq!(
        h.publish("D", &[("Nats-Msg-Id", "a")], "1", T0 + 11 * SEC),
        r#"{"stream":"D","seq":3}"#
    );
}

fn unacknowledged_writes_are_lost_acknowledged_ones_kept(mut h: Harness) {
    h.api("$JS.API.STREAM.CREATE.S", r#"{"name":"S"}"#, T0);
    assert_eq!(
        h.publish("S", &[], "acked", T0),
        r#"{"stream":"S","seq":1}"#
    );
    // Stored but never committed: no ack went out, and the "crash" loses it.
    h.engine
        .publish("S", Some("_INBOX.x"), None, b"lost", T0 + 1);
    h.restart(T0 + 2);
    let v = info(&mut h, "S", T0 + 2);
    assert_eq!(v["state"]["messages"], 1);
    assert_eq!(v["state"]["last_seq"], 1);
}

fn memory_streams_do_not_survive(mut h: Harness) {
    h.api(
        "$JS.API.STREAM.CREATE.M",
        r#"{"name":"M","storage":"memory"}"#,
        T0,
    );
    h.api("$JS.API.STREAM.CREATE.F", r#"{"name":"F"}"#, T0);
    h.restart(T0 + 1);
    let names = h.api("$JS.API.STREAM.NAMES", "", T0 + 1);
    assert_eq!(names["streams"], serde_json::json!(["F"]));
}

fn updates_and_deletes_persist(mut h: Harness) {
    h.api(
        "$JS.API.STREAM.CREATE.U",
        r#"{"name":"U","subjects":["u.*"]}"#,
        T0,
    );
    h.api("$JS.API.STREAM.CREATE.X", r#"{"name":"X"}"#, T0);
    let v = h.api(
        "$JS.API.STREAM.UPDATE.U",
        r#"{"name":"U","subjects":["u.>"],"max_msgs":7,"deny_delete":true}"#,
        T0 + 1,
    );
    assert!(v.get("error").is_none(), "{v}");
    h.api("$JS.API.STREAM.DELETE.X", "", T0 + 2);
    h.restart(T0 + 3);
    let mut v = h.api("$JS.API.STREAM.INFO.U", "", T0 + 3);
    mask_times(&mut v);
    assert_eq!(v["config"]["subjects"], serde_json::json!(["u.>"]));
    assert_eq!(v["config"]["max_msgs"], 7);
    assert_eq!(v["config"]["deny_delete"], true);
    assert_eq!(
        h.api("$JS.API.STREAM.INFO.X", "", T0 + 3)["error"]["err_code"],
        10059
    );
}

#[test]
fn damaged_metadata_is_reported_not_deleted() {
    let mut h = Harness::new();
    h.api("$JS.API.STREAM.CREATE.S", r#"{"name":"S"}"#, T0);
    h.api("$JS.API.STREAM.CREATE.T", r#"{"name":"T"}"#, T0);
    h.publish("S", &[], "keep me", T0);
    let mut raw = h.meta.get_raw("S").unwrap();
    let n = raw.len();
    raw[n - 3] ^= 0x20;
    h.meta.put_raw("S", raw.clone());
    h.restart(T0 + 1);
    assert!(
        h.log
            .iter()
            .any(|l| l.contains("Stream 'S' not restored: damaged metadata (checksum mismatch)")),
        "{:?}",
        h.log
    );
    // T is fine; S is not served, and its name cannot be reused over its data.
    assert_eq!(
        h.api("$JS.API.STREAM.NAMES", "", T0 + 1)["streams"],
        serde_json::json!(["T"])
    );
    let v = h.api("$JS.API.STREAM.CREATE.S", r#"{"name":"S"}"#, T0 + 1);
    assert_eq!(v["error"]["err_code"], 10049);
    assert_eq!(h.meta.get_raw("S"), Some(raw));
    assert!(h.control.lock().unwrap().images.contains_key("S"));
}

fn expired_messages_go_on_open(mut h: Harness) {
    h.api(
        "$JS.API.STREAM.CREATE.A",
        r#"{"name":"A","max_age":1000000000}"#,
        T0,
    );
    h.publish("A", &[], "old", T0);
    h.publish("A", &[], "young", T0 + SEC / 2);
    h.restart(T0 + SEC);
    let v = h.api("$JS.API.STREAM.INFO.A", "", T0 + SEC);
    assert_eq!(v["state"]["messages"], 1);
    assert_eq!(h.engine.next_deadline(), Some(T0 + SEC / 2 + SEC));
}

/// Each scenario on the test double and on the store crate's stores.
mod both {
    use super::*;

    #[test]
    fn everything_comes_back_sim() {
        super::everything_comes_back(Harness::new());
    }

    #[test]
    fn everything_comes_back_real() {
        super::everything_comes_back(Harness::with_real_stores());
    }

    #[test]
    fn dedupe_window_counts_from_message_time_sim() {
        super::dedupe_window_counts_from_message_time(Harness::new());
    }

    #[test]
    fn dedupe_window_counts_from_message_time_real() {
        super::dedupe_window_counts_from_message_time(Harness::with_real_stores());
    }

    #[test]
    fn unacknowledged_writes_are_lost_acknowledged_ones_kept_sim() {
        super::unacknowledged_writes_are_lost_acknowledged_ones_kept(Harness::new());
    }

    #[test]
    fn unacknowledged_writes_are_lost_acknowledged_ones_kept_real() {
        super::unacknowledged_writes_are_lost_acknowledged_ones_kept(Harness::with_real_stores());
    }

    #[test]
    fn memory_streams_do_not_survive_sim() {
        super::memory_streams_do_not_survive(Harness::new());
    }

    #[test]
    fn memory_streams_do_not_survive_real() {
        super::memory_streams_do_not_survive(Harness::with_real_stores());
    }

    #[test]
    fn updates_and_deletes_persist_sim() {
        super::updates_and_deletes_persist(Harness::new());
    }

    #[test]
    fn updates_and_deletes_persist_real() {
        super::updates_and_deletes_persist(Harness::with_real_stores());
    }

    #[test]
    fn expired_messages_go_on_open_sim() {
        super::expired_messages_go_on_open(Harness::new());
    }

    #[test]
    fn expired_messages_go_on_open_real() {
        super::expired_messages_go_on_open(Harness::with_real_stores());
    }
}
