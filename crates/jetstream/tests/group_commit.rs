//! Group commit: one fsync per written store per commit, however many messages; acks
//! only after the fsync; a failed fsync turns the acks it covered into errors, and
//! the store is reopened later.

mod support;

use support::{Harness, T0};

#[test]
fn one_sync_per_dirty_store() {
    let mut h = Harness::new();
    h.api("$JS.API.STREAM.CREATE.A", r#"{"name":"A"}"#, T0);
    h.api("$JS.API.STREAM.CREATE.B", r#"{"name":"B"}"#, T0);
    h.api("$JS.API.STREAM.CREATE.C", r#"{"name":"C"}"#, T0);
    let (a0, b0, c0) = (h.syncs("A"), h.syncs("B"), h.syncs("C"));
    for i in 0..100 {
        h.engine
            .publish("A", Some(&format!("_INBOX.a{i}")), None, b"x", T0 + i);
        h.engine.publish("B", Some("_INBOX.b"), None, b"x", T0 + i);
    }
    let out = h.engine.commit();
    assert_eq!(out.len(), 200);
    assert_eq!(
        (h.syncs("A") - a0, h.syncs("B") - b0, h.syncs("C") - c0),
        (1, 1, 0)
    );
    // Replies keep their order.
    assert_eq!(out[0].subject, "_INBOX.a0");
    assert_eq!(
        String::from_utf8_lossy(&out[198].payload),
        r#"{"stream":"A","seq":100}"#
    );
    // Nothing new: nothing synced.
    assert!(h.engine.commit().is_empty());
    assert_eq!(h.syncs("A") - a0, 1);
}

#[test]
fn failed_sync_turns_acks_into_errors() {
    let mut h = Harness::new();
    h.api("$JS.API.STREAM.CREATE.A", r#"{"name":"A"}"#, T0);
    h.api("$JS.API.STREAM.CREATE.B", r#"{"name":"B"}"#, T0);
    h.fail_next_sync("A");
    h.engine.publish("A", Some("_INBOX.1"), None, b"x", T0);
    h.engine.publish("B", Some("_INBOX.2"), None, b"x", T0);
    h.engine.publish("A", Some("_INBOX.3"), None, b"x", T0);
    let out = h.engine.commit();
    let texts: Vec<String> = out
        .iter()
        .map(|o| String::from_utf8_lossy(&o.payload).into_owned())
        .collect();
    let err = r#"{"error":{"code":503,"err_code":10077,"description":"i/o error on A/msgs: injected fsync failure"},"stream":"A","seq":0}"#;
    assert_eq!(
        texts,
        vec![
            err.to_string(),
            r#"{"stream":"B","seq":1}"#.to_string(),
            err.to_string()
        ]
    );
    assert!(h.logged("fsync failed"));

    // The store takes no writes until reopened.
    let ack = h.publish("A", &[], "x", T0 + 1);
    assert_eq!(
        ack,
        r#"{"error":{"code":503,"err_code":10077,"description":"store is failed after an fsync error and must be reopened"},"stream":"A","seq":0}"#
    );
    let due = h.engine.next_deadline().unwrap();
    assert_eq!(due, T0 + 5_000_000_000);
    h.engine.tick(due);
    assert!(h.logged("store reopened"));
    // Reopened from what was durable: the failed writes are gone, sequences reused.
    assert_eq!(h.publish("A", &[], "x", due), r#"{"stream":"A","seq":1}"#);
}

/// A store that lost index pages (an I/O error on an index scratch file) refuses reads
/// rather than answering "not found"; the engine then reopens it, which rebuilds the
/// index, and reads answer again.
#[test]
fn a_store_that_lost_its_index_is_reopened() {
    let mut h = Harness::new();
    h.api(
        "$JS.API.STREAM.CREATE.K",
        r#"{"name":"K","subjects":["k.>"],"allow_direct":true}"#,
        T0,
    );
    h.engine.publish("k.a", None, None, b"v1", T0);
    h.engine.commit();
    let get = |h: &mut Harness, now| {
        let out = h.api_raw(
            "$JS.API.DIRECT.GET.K",
            None,
            r#"{"last_by_subj":"k.a"}"#,
            now,
        );
        (
            String::from_utf8_lossy(out[0].headers.as_deref().unwrap_or_default()).into_owned(),
            String::from_utf8_lossy(&out[0].payload).into_owned(),
        )
    };
    assert_eq!(get(&mut h, T0).1, "v1");

    h.lose_index("K");
    let (headers, _) = get(&mut h, T0 + 1);
    assert!(
        headers.starts_with("NATS/1.0 500 Store Unavailable"),
        "a refused read is an error, not 'not found': {headers}"
    );
    h.engine.commit();
    assert!(h.logged("reads are refused"));
    let due = h.engine.next_deadline().unwrap();
    assert_eq!(due, T0 + 1 + 5_000_000_000);
    h.engine.tick(due);
    assert!(h.logged("store reopened"));
    assert_eq!(get(&mut h, due).1, "v1");
}

#[test]
fn purge_and_delete_replies_wait_for_the_sync() {
    let mut h = Harness::new();
    h.api("$JS.API.STREAM.CREATE.P", r#"{"name":"P"}"#, T0);
    h.publish("P", &[], "1", T0);
    h.publish("P", &[], "2", T0);
    h.fail_next_sync("P");
    let out = h.api_raw("$JS.API.STREAM.MSG.DELETE.P", None, r#"{"seq":1}"#, T0);
    assert_eq!(
        String::from_utf8_lossy(&out[0].payload),
        r#"{"type":"io.nats.jetstream.api.v1.stream_msg_delete_response","error":{"code":500,"err_code":10057,"description":"i/o error on P/msgs: injected fsync failure"}}"#
    );
}

#[test]
fn sync_always_off_defers_fsync_to_tick() {
    let mut h = Harness::with_config(support::config(false));
    h.api("$JS.API.STREAM.CREATE.A", r#"{"name":"A"}"#, T0);
    let s0 = h.syncs("A");
    assert_eq!(h.publish("A", &[], "x", T0), r#"{"stream":"A","seq":1}"#);
    assert_eq!(h.syncs("A"), s0);
    let due = h.engine.next_deadline().unwrap();
    assert_eq!(due, T0 + sluice_jetstream::engine::SYNC_INTERVAL);
    h.engine.tick(due);
    assert_eq!(h.syncs("A"), s0 + 1);
    h.publish("A", &[], "y", due);
    assert_eq!(h.engine.sync_all(), Vec::<String>::new());
    assert_eq!(h.syncs("A"), s0 + 2);
}
