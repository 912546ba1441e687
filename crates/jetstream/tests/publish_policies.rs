//! The append policy, step by step: each case is a stream config and a sequence of
//! publishes with the PubAck each must get (texts as nats-server 2.15.1 sends them).

mod support;

use serde_json::Value;
use support::{Harness, T0};

const MS: i64 = 1_000_000;
const SEC: i64 = 1_000_000_000;

struct Pub<'a> {
    subject: &'a str,
    headers: &'a [(&'a str, &'a str)],
    payload: &'a str,
    /// Time offset from T0.
    at: i64,
    ack: &'a str,
}

const fn p<'a>(
    subject: &'a str,
    headers: &'a [(&'a str, &'a str)],
    payload: &'a str,
    at: i64,
    ack: &'a str,
) -> Pub<'a> {
    Pub {
        subject,
        headers,
        payload,
        at,
        ack,
    }
}

fn run(stream: &str, config: &str, pubs: &[Pub<'_>]) -> Harness {
    let mut h = Harness::new();
    let v = h.api(&format!("$JS.API.STREAM.CREATE.{stream}"), config, T0);
    assert!(v.get("error").is_none(), "{v}");
    for (i, p) in pubs.iter().enumerate() {
        let got = h.publish(p.subject, p.headers, p.payload, T0 + p.at);
        assert_eq!(
            got, p.ack,
            "publish #{i} on {} ({:?})",
            p.subject, p.headers
        );
    }
    h
}

fn state(h: &mut Harness, stream: &str, body: &str, at: i64) -> Value {
    h.api(&format!("$JS.API.STREAM.INFO.{stream}"), body, T0 + at)["state"].clone()
}

#[test]
fn duplicate_window() {
    let mut h = run(
        "S",
        r#"{"name":"S","subjects":["s.>"],"duplicate_window":1000000000}"#,
        &[
            p(
                "s.a",
                &[("Nats-Msg-Id", "m1")],
                "1",
                0,
                r#"{"stream":"S","seq":1}"#,
            ),
            p(
                "s.a",
                &[("Nats-Msg-Id", "m1")],
                "again",
                10 * MS,
                r#"{"stream":"S","seq":1,"duplicate": true}"#,
            ),
            p(
                "s.b",
                &[("Nats-Msg-Id", "m2")],
                "2",
                20 * MS,
                r#"{"stream":"S","seq":2}"#,
            ),
            p(
                "s.b",
                &[("Nats-Msg-Id", "m1")],
                "x",
                999 * MS,
                r#"{"stream":"S","seq":1,"duplicate": true}"#,
            ),
            // The window is measured from the first message's time.
            p(
                "s.b",
                &[("Nats-Msg-Id", "m1")],
                "x",
                SEC,
                r#"{"stream":"S","seq":3}"#,
            ),
            p(
                "s.b",
                &[("Nats-Msg-Id", "")],
                "no id",
                SEC + MS,
                r#"{"stream":"S","seq":4}"#,
            ),
            p(
                "s.b",
                &[("Nats-Msg-Id", "")],
                "no id",
                SEC + 2 * MS,
                r#"{"stream":"S","seq":5}"#,
            ),
        ],
    );
    assert_eq!(state(&mut h, "S", "", SEC)["messages"], 5);
}

#[test]
fn expected_headers() {
    run(
        "S",
        r#"{"name":"S","subjects":["s.>"]}"#,
        &[
            p(
                "s.a",
                &[("Nats-Expected-Stream", "X")],
                "",
                0,
                r#"{"error":{"code":400,"err_code":10060,"description":"expected stream does not match"},"stream":"S","seq":0}"#,
            ),
            p(
                "s.a",
                &[("Nats-Expected-Stream", "S")],
                "",
                0,
                r#"{"stream":"S","seq":1}"#,
            ),
            p(
                "s.a",
                &[("Nats-Expected-Last-Sequence", "0")],
                "",
                0,
                r#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 1"},"stream":"S","seq":0}"#,
            ),
            p(
                "s.a",
                &[("Nats-Expected-Last-Sequence", "1")],
                "",
                0,
                r#"{"stream":"S","seq":2}"#,
            ),
            p(
                "s.a",
                &[("Nats-Expected-Last-Sequence", "junk")],
                "",
                0,
                r#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 2"},"stream":"S","seq":0}"#,
            ),
            p(
                "s.b",
                &[("Nats-Expected-Last-Subject-Sequence", "0")],
                "",
                0,
                r#"{"stream":"S","seq":3}"#,
            ),
            p(
                "s.b",
                &[("Nats-Expected-Last-Subject-Sequence", "0")],
                "",
                0,
                r#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 3"},"stream":"S","seq":0}"#,
            ),
            p(
                "s.b",
                &[("Nats-Expected-Last-Subject-Sequence", "3")],
                "",
                0,
                r#"{"stream":"S","seq":4}"#,
            ),
            p(
                "s.c",
                &[("Nats-Expected-Last-Subject-Sequence-Subject", "s.a")],
                "",
                0,
                r#"{"error":{"code":400,"err_code":10193,"description":"missing sequence for expected last sequence per subject"},"stream":"S","seq":0}"#,
            ),
            p(
                "s.c",
                &[
                    ("Nats-Expected-Last-Subject-Sequence-Subject", "s.*"),
                    ("Nats-Expected-Last-Subject-Sequence", "4"),
                ],
                "",
                0,
                r#"{"stream":"S","seq":5}"#,
            ),
            p(
                "s.c",
                &[("Nats-Msg-Id", "id5")],
                "",
                0,
                r#"{"stream":"S","seq":6}"#,
            ),
            p(
                "s.c",
                &[("Nats-Expected-Last-Msg-Id", "nope")],
                "",
                0,
                r#"{"error":{"code":400,"err_code":10070,"description":"wrong last msg ID: id5"},"stream":"S","seq":0}"#,
            ),
            p(
                "s.c",
                &[("Nats-Expected-Last-Msg-Id", "id5")],
                "",
                0,
                r#"{"stream":"S","seq":7}"#,
            ),
            p(
                "s.c",
                &[("Nats-Expected-Last-Msg-Id", "id5")],
                "",
                0,
                r#"{"error":{"code":400,"err_code":10070,"description":"wrong last msg ID: "},"stream":"S","seq":0}"#,
            ),
            p(
                "s.c",
                &[("Nats-TTL", "5s")],
                "",
                0,
                r#"{"error":{"code":400,"err_code":10166,"description":"per-message TTL is disabled"},"stream":"S","seq":0}"#,
            ),
            p(
                "s.c",
                &[("Nats-Incr", "1")],
                "",
                0,
                r#"{"error":{"code":400,"err_code":10168,"description":"message counters is disabled"},"stream":"S","seq":0}"#,
            ),
            p(
                "s.c",
                &[("Nats-Schedule", "@every 1s")],
                "",
                0,
                r#"{"error":{"code":400,"err_code":10188,"description":"message schedules is disabled"},"stream":"S","seq":0}"#,
            ),
            p(
                "s.c",
                &[("Nats-Stream-Source", "X 1")],
                "",
                0,
                r#"{"error":{"code":400,"err_code":10227,"description":"message stream source header is not allowed"},"stream":"S","seq":0}"#,
            ),
        ],
    );
}

#[test]
fn discard_new_limits() {
    run(
        "L",
        r#"{"name":"L","subjects":["l.>"],"max_msgs":2,"discard":"new"}"#,
        &[
            p("l.a", &[], "1", 0, r#"{"stream":"L","seq":1}"#),
            p("l.a", &[], "2", 0, r#"{"stream":"L","seq":2}"#),
            p(
                "l.a",
                &[],
                "3",
                0,
                r#"{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"L","seq":0}"#,
            ),
        ],
    );
    // Memory store: 3 + 40 + 16 = 59 bytes each.
    run(
        "B",
        r#"{"name":"B","subjects":["b.>"],"max_bytes":100,"discard":"new","storage":"memory"}"#,
        &[
            p(
                "b.a",
                &[],
                "0123456789012345678901234567890123456789",
                0,
                r#"{"stream":"B","seq":1}"#,
            ),
            p(
                "b.a",
                &[],
                "0123456789012345678901234567890123456789",
                0,
                r#"{"error":{"code":503,"err_code":10077,"description":"maximum bytes exceeded"},"stream":"B","seq":0}"#,
            ),
            p("b.a", &[], "0", 0, r#"{"stream":"B","seq":2}"#),
        ],
    );
    // A subject at its own limit replaces its oldest message, so max_msgs lets it in.
    let mut h = run(
        "P",
        r#"{"name":"P","subjects":["p.>"],"max_msgs":2,"max_msgs_per_subject":1,"discard":"new"}"#,
        &[
            p("p.a", &[], "1", 0, r#"{"stream":"P","seq":1}"#),
            p("p.b", &[], "2", 0, r#"{"stream":"P","seq":2}"#),
            p(
                "p.c",
                &[],
                "3",
                0,
                r#"{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"P","seq":0}"#,
            ),
            p("p.a", &[], "4", 0, r#"{"stream":"P","seq":3}"#),
        ],
    );
    assert!(state(&mut h, "P", r#"{"deleted_details":true}"#, 0)
        .get("deleted")
        .is_none());
    assert_eq!(state(&mut h, "P", "", 0)["first_seq"], 2);
}

#[test]
fn discard_new_per_subject_and_rollup() {
    run(
        "PS",
        r#"{"name":"PS","subjects":["ps.>"],"max_msgs_per_subject":2,"discard":"new","discard_new_per_subject":true,"allow_rollup_hdrs":true}"#,
        &[
            p("ps.a", &[], "1", 0, r#"{"stream":"PS","seq":1}"#),
            p("ps.a", &[], "2", 0, r#"{"stream":"PS","seq":2}"#),
            p(
                "ps.a",
                &[],
                "3",
                0,
                r#"{"error":{"code":503,"err_code":10077,"description":"maximum messages per subject exceeded"},"stream":"PS","seq":0}"#,
            ),
            p("ps.b", &[], "1", 0, r#"{"stream":"PS","seq":3}"#),
            // A roll-up passes the per-subject limit and then purges the subject.
            p(
                "ps.a",
                &[("Nats-Rollup", "sub")],
                "r",
                0,
                r#"{"stream":"PS","seq":4}"#,
            ),
        ],
    );
}

#[test]
fn discard_old_and_per_subject() {
    let mut h = run(
        "O",
        r#"{"name":"O","subjects":["o.>"],"max_msgs":3,"max_msgs_per_subject":2}"#,
        &[
            p("o.a", &[], "1", 0, r#"{"stream":"O","seq":1}"#),
            p("o.a", &[], "2", 0, r#"{"stream":"O","seq":2}"#),
            p("o.a", &[], "3", 0, r#"{"stream":"O","seq":3}"#),
            p("o.b", &[], "4", 0, r#"{"stream":"O","seq":4}"#),
            p("o.c", &[], "5", 0, r#"{"stream":"O","seq":5}"#),
        ],
    );
    let s = state(&mut h, "O", r#"{"subjects_filter":">"}"#, 0);
    assert_eq!(s["first_seq"], 3);
    assert_eq!(s["messages"], 3);
    assert_eq!(s["subjects"], serde_json::json!({"o.a":1,"o.b":1,"o.c":1}));

    // File store bytes: 22 + 4 + 40 + 8 = 74 per message; 200 keeps two.
    let mut h = run(
        "OB",
        r#"{"name":"OB","subjects":["ob.>"],"max_bytes":200}"#,
        &[
            p(
                "ob.a",
                &[],
                "0123456789012345678901234567890123456789",
                0,
                r#"{"stream":"OB","seq":1}"#,
            ),
            p(
                "ob.a",
                &[],
                "0123456789012345678901234567890123456789",
                0,
                r#"{"stream":"OB","seq":2}"#,
            ),
            p(
                "ob.b",
                &[],
                "0123456789012345678901234567890123456789",
                0,
                r#"{"stream":"OB","seq":3}"#,
            ),
        ],
    );
    let s = state(&mut h, "OB", "", 0);
    assert_eq!(
        (
            s["messages"].as_u64(),
            s["bytes"].as_u64(),
            s["first_seq"].as_u64()
        ),
        (Some(2), Some(148), Some(2))
    );
}

#[test]
fn rollups() {
    let mut h = run(
        "R",
        r#"{"name":"R","subjects":["r.>"],"allow_rollup_hdrs":true}"#,
        &[
            p("r.a", &[], "1", 0, r#"{"stream":"R","seq":1}"#),
            p("r.b", &[], "2", 0, r#"{"stream":"R","seq":2}"#),
            p("r.a", &[], "3", 0, r#"{"stream":"R","seq":3}"#),
            p(
                "r.a",
                &[("Nats-Rollup", "bogus")],
                "",
                0,
                r#"{"error":{"code":500,"err_code":10111,"description":"rollup value invalid: \"bogus\""},"stream":"R","seq":0}"#,
            ),
            p(
                "r.a",
                &[("Nats-Rollup", "SUB")],
                "4",
                0,
                r#"{"stream":"R","seq":4}"#,
            ),
        ],
    );
    let s = state(
        &mut h,
        "R",
        r#"{"subjects_filter":">","deleted_details":true}"#,
        0,
    );
    assert_eq!(s["subjects"], serde_json::json!({"r.a":1,"r.b":1}));
    // Sequence 1 was the first: only 3 is an interior gap.
    assert_eq!(s["deleted"], serde_json::json!([3]));
    assert_eq!(
        h.publish("r.c", &[("Nats-Rollup", "all")], "5", T0),
        r#"{"stream":"R","seq":5}"#
    );
    let s = state(&mut h, "R", "", 0);
    assert_eq!(
        (s["messages"].as_u64(), s["first_seq"].as_u64()),
        (Some(1), Some(5))
    );

    run(
        "NR",
        r#"{"name":"NR","subjects":["nr.>"]}"#,
        &[p(
            "nr.a",
            &[("Nats-Rollup", "all")],
            "",
            0,
            r#"{"error":{"code":500,"err_code":10111,"description":"rollup not permitted"},"stream":"NR","seq":0}"#,
        )],
    );
}

#[test]
fn sizes_and_sealed() {
    let mut h = run(
        "Z",
        r#"{"name":"Z","subjects":["z.>"],"max_msg_size":10}"#,
        &[
            p("z.a", &[], "0123456789", 0, r#"{"stream":"Z","seq":1}"#),
            p(
                "z.a",
                &[],
                "01234567890",
                0,
                r#"{"error":{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"},"stream":"Z","seq":0}"#,
            ),
            // Headers count too.
            p(
                "z.a",
                &[("A", "b")],
                "0",
                0,
                r#"{"error":{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"},"stream":"Z","seq":0}"#,
            ),
        ],
    );
    let v = h.api(
        "$JS.API.STREAM.UPDATE.Z",
        r#"{"name":"Z","subjects":["z.>"],"max_msg_size":10,"sealed":true}"#,
        T0,
    );
    assert_eq!(v["config"]["sealed"], true);
    assert_eq!(
        h.publish("z.a", &[], "1", T0),
        r#"{"error":{"code":400,"err_code":10109,"description":"invalid operation on sealed stream"},"stream":"Z","seq":0}"#
    );
    let big = "x".repeat(70_000);
    let mut h = run("H", r#"{"name":"H","subjects":["h"]}"#, &[]);
    assert_eq!(
        h.publish("h", &[("Big", &big)], "", T0),
        r#"{"error":{"code":400,"err_code":10097,"description":"header size exceeds maximum allowed of 64k"},"stream":"H","seq":0}"#
    );
}

#[test]
fn max_age_expires_on_time() {
    let mut h = run(
        "A",
        r#"{"name":"A","subjects":["a.>"],"max_age":2000000000}"#,
        &[
            p("a.x", &[], "1", 0, r#"{"stream":"A","seq":1}"#),
            p("a.x", &[], "2", SEC, r#"{"stream":"A","seq":2}"#),
        ],
    );
    // The first message is due at T0 + 2s; the engine asks to be woken then.
    assert_eq!(h.engine.next_deadline(), Some(T0 + 2 * SEC));
    assert_eq!(h.engine.tick(T0 + 2 * SEC - 1), Some(T0 + 2 * SEC));
    assert_eq!(state(&mut h, "A", "", SEC)["messages"], 2);
    assert_eq!(h.engine.tick(T0 + 2 * SEC), Some(T0 + 3 * SEC));
    let s = state(&mut h, "A", "", 2 * SEC);
    assert_eq!(
        (s["messages"].as_u64(), s["first_seq"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(h.engine.tick(T0 + 3 * SEC), None);
    let s = state(&mut h, "A", "", 3 * SEC);
    assert_eq!(
        (
            s["messages"].as_u64(),
            s["first_seq"].as_u64(),
            s["last_seq"].as_u64()
        ),
        (Some(0), Some(3), Some(2))
    );
    assert_eq!(s["first_ts"], "0001-01-01T00:00:00Z");
    assert_eq!(h.engine.next_deadline(), None);
}

#[test]
fn interest_without_consumers_keeps_nothing() {
    let mut h = run(
        "I",
        r#"{"name":"I","subjects":["i.>"],"retention":"interest"}"#,
        &[
            p("i.a", &[], "1", 0, r#"{"stream":"I","seq":1}"#),
            p(
                "i.a",
                &[("Nats-Msg-Id", "x")],
                "2",
                0,
                r#"{"stream":"I","seq":2}"#,
            ),
            p(
                "i.a",
                &[("Nats-Msg-Id", "x")],
                "2",
                0,
                r#"{"stream":"I","seq":2,"duplicate": true}"#,
            ),
        ],
    );
    let s = state(&mut h, "I", "", 0);
    assert_eq!(
        (
            s["messages"].as_u64(),
            s["first_seq"].as_u64(),
            s["last_seq"].as_u64()
        ),
        (Some(0), Some(3), Some(2))
    );
}

#[test]
fn no_ack_and_no_reply_still_store() {
    let mut h = run("N", r#"{"name":"N","subjects":["n.>"],"no_ack":true}"#, &[]);
    h.engine.publish("n.a", Some("_INBOX.x"), None, b"1", T0);
    assert!(h.engine.commit().is_empty());
    let mut h2 = run("Q", r#"{"name":"Q","subjects":["q.>"]}"#, &[]);
    h2.engine.publish("q.a", None, None, b"1", T0);
    assert!(h2.engine.commit().is_empty());
    assert_eq!(state(&mut h, "N", "", 0)["messages"], 1);
    assert_eq!(state(&mut h2, "Q", "", 0)["messages"], 1);
    // Subjects no stream captures are ignored.
    h2.engine.publish("zzz", Some("_INBOX.x"), None, b"1", T0);
    assert!(h2.engine.commit().is_empty());
}

#[test]
fn account_limits() {
    let mut cfg = support::config(true);
    cfg.max_memory = 100;
    let mut h = Harness::with_config(cfg);
    let v = h.api(
        "$JS.API.STREAM.CREATE.M",
        r#"{"name":"M","storage":"memory","max_bytes":200}"#,
        T0,
    );
    assert_eq!(v["error"]["err_code"], 10028, "{v}");
    let v = h.api(
        "$JS.API.STREAM.CREATE.M",
        r#"{"name":"M","storage":"memory"}"#,
        T0,
    );
    assert!(v.get("error").is_none(), "{v}");
    assert_eq!(
        h.publish("M", &[], &"x".repeat(60), T0),
        r#"{"stream":"M","seq":1}"#
    );
    assert_eq!(
        h.publish("M", &[], &"x".repeat(60), T0),
        r#"{"error":{"code":400,"err_code":10002,"description":"resource limits exceeded for account"},"stream":"M","seq":0}"#
    );
    let info = h.api("$JS.API.INFO", "", T0);
    assert_eq!(info["limits"]["max_memory"], 100);
    assert_eq!(info["memory"], 77);
}
