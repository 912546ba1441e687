//! Consumers as a deterministic state machine: deliveries, acks, ack-wait redelivery,
//! the in-flight cap, work-queue removal and restart — with time passed in, never
//! slept.

mod support;

use sluice_jetstream::Outbound;
use support::{Harness, T0};

const SEC: i64 = 1_000_000_000;

fn publish_quiet(h: &mut Harness, subject: &str, payload: &str, now: i64) -> Vec<Outbound> {
    h.engine
        .publish(subject, Some("_INBOX.ack"), None, payload.as_bytes(), now);
    h.engine.commit()
}

/// Messages routed to `to` (deliveries), as (subject, ack reply).
fn deliveries(out: &[Outbound], to: &str) -> Vec<(String, String)> {
    out.iter()
        .filter(|o| o.route_subject() == to && o.reply.is_some())
        .map(|o| (o.subject.clone(), o.reply.clone().unwrap()))
        .collect()
}

/// Ack reply tokens: (delivered count, stream seq, consumer seq, pending).
fn tokens(reply: &str) -> (u64, u64, u64, u64) {
    let t: Vec<&str> = reply.split('.').collect();
    let n = |i: usize| t[i].parse::<u64>().unwrap();
    (n(4), n(5), n(6), n(8))
}

fn push_setup(h: &mut Harness, consumer_cfg: &str) {
    h.api(
        "$JS.API.STREAM.CREATE.S",
        r#"{"name":"S","subjects":["s.>"]}"#,
        T0,
    );
    let created = h.api("$JS.API.CONSUMER.DURABLE.CREATE.S.d", consumer_cfg, T0);
    assert_eq!(created["name"], "d", "{created}");
    h.engine.set_push_interest("deliver.d", true, T0);
}

#[test]
fn push_delivers_acks_and_redelivers_after_ack_wait() {
    let mut h = Harness::new();
    push_setup(
        &mut h,
        r#"{"stream_name":"S","config":{"durable_name":"d","deliver_subject":"deliver.d","ack_policy":"explicit","ack_wait":1000000000}}"#,
    );
    let mut got = Vec::new();
    for i in 0..3 {
        got.extend(deliveries(
            &publish_quiet(&mut h, &format!("s.{i}"), "x", T0 + i),
            "deliver.d",
        ));
    }
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0].0, "s.0", "the message keeps its own subject");
    assert_eq!(tokens(&got[0].1), (1, 1, 1, 0));
    // Ack 1 and 3; 2 stays unacknowledged.
    h.engine.handle_ack(&got[0].1, None, b"+ACK", T0 + SEC / 2);
    h.engine.handle_ack(&got[2].1, None, b"", T0 + SEC / 2);
    assert!(h.engine.commit().is_empty());
    // Before the ack wait: nothing.
    h.engine.tick(T0 + SEC - 1);
    assert!(deliveries(&h.engine.commit(), "deliver.d").is_empty());
    // After it: seq 2 again, second delivery, next consumer sequence.
    h.engine.tick(T0 + SEC + 2);
    let again = deliveries(&h.engine.commit(), "deliver.d");
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(tokens(&again[0].1), (2, 2, 4, 0));
    let info = h.api("$JS.API.CONSUMER.INFO.S.d", "", T0 + 3 * SEC);
    assert_eq!(info["num_ack_pending"], 1);
    assert_eq!(info["num_redelivered"], 1);
    assert_eq!(info["ack_floor"]["stream_seq"], 1);
    assert_eq!(info["delivered"]["stream_seq"], 3);
}

/// A store that refuses reads (index pages lost to an I/O error, awaiting reopening)
/// must not make a consumer drop an unacknowledged message as if it were deleted: it
/// is redelivered once the store is reopened.
#[test]
fn a_redelivery_waits_for_a_store_that_lost_its_index() {
    let mut h = Harness::new();
    push_setup(
        &mut h,
        r#"{"stream_name":"S","config":{"durable_name":"d","deliver_subject":"deliver.d","ack_policy":"explicit","ack_wait":1000000000}}"#,
    );
    let got = deliveries(&publish_quiet(&mut h, "s.0", "x", T0), "deliver.d");
    assert_eq!(got.len(), 1, "{got:?}");
    h.lose_index("S");
    h.engine.tick(T0 + SEC + 2);
    assert!(deliveries(&h.engine.commit(), "deliver.d").is_empty());
    // The engine reopens the store; the message comes back.
    h.engine.tick(T0 + 7 * SEC);
    assert!(h.logged("store reopened"));
    let again = deliveries(&h.engine.commit(), "deliver.d");
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0].0, "s.0");
    let (delivery, stream_seq, _, _) = tokens(&again[0].1);
    assert_eq!(
        (delivery, stream_seq),
        (2, 1),
        "second delivery of stream seq 1"
    );
    let info = h.api("$JS.API.CONSUMER.INFO.S.d", "", T0 + 8 * SEC);
    assert_eq!(info["num_ack_pending"], 1);
}

#[test]
fn max_ack_pending_caps_in_flight_until_acks_come() {
    let mut h = Harness::new();
    push_setup(
        &mut h,
        r#"{"stream_name":"S","config":{"durable_name":"d","deliver_subject":"deliver.d","ack_policy":"explicit","max_ack_pending":2}}"#,
    );
    let mut got = Vec::new();
    for i in 0..5 {
        got.extend(deliveries(
            &publish_quiet(&mut h, "s.x", &i.to_string(), T0 + i),
            "deliver.d",
        ));
    }
    assert_eq!(got.len(), 2, "only max_ack_pending in flight: {got:?}");
    h.engine.handle_ack(&got[0].1, None, b"+ACK", T0 + 10);
    let more = deliveries(&h.engine.commit(), "deliver.d");
    assert_eq!(more.len(), 1);
    assert_eq!(tokens(&more[0].1).1, 3);
}

#[test]
fn no_interest_pauses_push_delivery() {
    let mut h = Harness::new();
    push_setup(
        &mut h,
        r#"{"stream_name":"S","config":{"durable_name":"d","deliver_subject":"deliver.d","ack_policy":"explicit"}}"#,
    );
    h.engine.set_push_interest("deliver.d", false, T0);
    assert!(deliveries(&publish_quiet(&mut h, "s.x", "1", T0 + 1), "deliver.d").is_empty());
    h.engine.set_push_interest("deliver.d", true, T0 + 2);
    h.engine.tick(T0 + 2);
    let got = deliveries(&h.engine.commit(), "deliver.d");
    assert_eq!(got.len(), 1);
}

#[test]
fn pull_request_expires_with_408_and_no_wait_gets_404() {
    let mut h = Harness::new();
    h.api(
        "$JS.API.STREAM.CREATE.S",
        r#"{"name":"S","subjects":["s.>"]}"#,
        T0,
    );
    h.api(
        "$JS.API.CONSUMER.CREATE.S.p",
        r#"{"stream_name":"S","config":{"name":"p","durable_name":"p","ack_policy":"explicit"}}"#,
        T0,
    );
    let out = h.api_raw(
        "$JS.API.CONSUMER.MSG.NEXT.S.p",
        None,
        r#"{"batch":1,"no_wait":true}"#,
        T0,
    );
    assert_eq!(
        out[0].headers.as_deref(),
        Some(&b"NATS/1.0 404 No Messages\r\n\r\n"[..])
    );
    let out = h.api_raw(
        "$JS.API.CONSUMER.MSG.NEXT.S.p",
        None,
        r#"{"batch":2,"expires":1000000000}"#,
        T0,
    );
    assert!(out.is_empty());
    // One message comes; the request still wants one more, then expires.
    let got = deliveries(&publish_quiet(&mut h, "s.a", "1", T0 + 1), "_INBOX.r");
    assert_eq!(got.len(), 1);
    assert!(h.engine.next_deadline().is_some_and(|d| d <= T0 + SEC));
    h.engine.tick(T0 + SEC - 1);
    assert!(h.engine.commit().is_empty(), "not expired yet");
    h.engine.tick(T0 + SEC);
    let out = h.engine.commit();
    assert_eq!(
        out[0].headers.as_deref(),
        Some(&b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\nNats-Pending-Bytes: 0\r\n\r\n"[..])
    );
}

#[test]
fn work_queue_ack_removes_the_message() {
    let mut h = Harness::new();
    h.api(
        "$JS.API.STREAM.CREATE.W",
        r#"{"name":"W","subjects":["w"],"retention":"workqueue"}"#,
        T0,
    );
    h.api(
        "$JS.API.CONSUMER.DURABLE.CREATE.W.d",
        r#"{"stream_name":"W","config":{"durable_name":"d","deliver_subject":"dw","ack_policy":"explicit"}}"#,
        T0,
    );
    h.engine.set_push_interest("dw", true, T0);
    let got = deliveries(&publish_quiet(&mut h, "w", "1", T0 + 1), "dw");
    assert_eq!(got.len(), 1);
    h.engine
        .handle_ack(&got[0].1, Some("_INBOX.sync"), b"+ACK", T0 + 2);
    let out = h.engine.commit();
    assert!(
        out.iter().any(|o| o.subject == "_INBOX.sync"),
        "double ack answered"
    );
    let info = h.api("$JS.API.STREAM.INFO.W", "", T0 + 3);
    assert_eq!(info["state"]["messages"], 0);
}

#[test]
fn durable_consumer_resumes_after_power_cut() {
    let mut h = Harness::with_real_stores();
    push_setup(
        &mut h,
        r#"{"stream_name":"S","config":{"durable_name":"d","deliver_subject":"deliver.d","ack_policy":"explicit","ack_wait":30000000000}}"#,
    );
    let mut got = Vec::new();
    for i in 0..4 {
        got.extend(deliveries(
            &publish_quiet(&mut h, "s.x", &i.to_string(), T0 + i),
            "deliver.d",
        ));
    }
    assert_eq!(got.len(), 4);
    // 1 and 2 acked with a confirmed (double) ack; 3 and 4 not acked.
    h.engine
        .handle_ack(&got[0].1, Some("_INBOX.a1"), b"+ACK", T0 + 10);
    h.engine
        .handle_ack(&got[1].1, Some("_INBOX.a2"), b"+ACK", T0 + 10);
    let out = h.engine.commit();
    assert_eq!(
        out.iter()
            .filter(|o| o.subject.starts_with("_INBOX.a"))
            .count(),
        2
    );
    h.restart(T0 + 20);
    assert!(
        h.log
            .iter()
            .any(|l| l.contains("Restored consumer 'S > d'")),
        "{:?}",
        h.log
    );
    h.engine.set_push_interest("deliver.d", true, T0 + 20);
    // Unacknowledged 3 and 4 come back once their ack wait (from delivery) ran out;
    // 1 and 2 never do.
    h.engine.tick(T0 + 31 * SEC);
    let again = deliveries(&h.engine.commit(), "deliver.d");
    let seqs: Vec<u64> = again.iter().map(|(_, r)| tokens(r).1).collect();
    assert_eq!(seqs, vec![3, 4]);
    let info = h.api("$JS.API.CONSUMER.INFO.S.d", "", T0 + 32 * SEC);
    assert_eq!(info["ack_floor"]["stream_seq"], 2);
}

#[test]
fn work_queue_removals_are_synced_with_the_consumer_state_not_per_ack() {
    let mut h = Harness::new();
    h.api(
        "$JS.API.STREAM.CREATE.W",
        r#"{"name":"W","subjects":["w"],"retention":"workqueue"}"#,
        T0,
    );
    h.api(
        "$JS.API.CONSUMER.DURABLE.CREATE.W.d",
        r#"{"stream_name":"W","config":{"durable_name":"d","deliver_subject":"dw","ack_policy":"explicit"}}"#,
        T0,
    );
    h.engine.set_push_interest("dw", true, T0);
    let mut got = Vec::new();
    for i in 0..3 {
        got.extend(deliveries(&publish_quiet(&mut h, "w", "x", T0 + i), "dw"));
    }
    assert_eq!(got.len(), 3);
    let synced = h.syncs("W");
    // Plain acks: the removals wait for the consumer state flush.
    h.engine.handle_ack(&got[0].1, None, b"+ACK", T0 + 10);
    h.engine.handle_ack(&got[1].1, None, b"+ACK", T0 + 10);
    h.engine.commit();
    assert_eq!(h.syncs("W"), synced, "no fsync per batch of acks");
    h.engine
        .tick(T0 + 10 + sluice_jetstream::consumer::persist::STATE_FLUSH_INTERVAL);
    h.engine.commit();
    assert_eq!(h.syncs("W"), synced + 1, "removals synced before the state");
    // A confirmed ack: its removal is synced before the reply goes.
    h.engine
        .handle_ack(&got[2].1, Some("_INBOX.sync"), b"+ACK", T0 + SEC);
    let out = h.engine.commit();
    assert!(out.iter().any(|o| o.subject == "_INBOX.sync"));
    assert_eq!(h.syncs("W"), synced + 2);
    let info = h.api("$JS.API.STREAM.INFO.W", "", T0 + 2 * SEC);
    assert_eq!(info["state"]["messages"], 0);
}

#[test]
fn max_deliveries_and_terminated_advisories() {
    let mut h = Harness::new();
    push_setup(
        &mut h,
        r#"{"stream_name":"S","config":{"durable_name":"d","deliver_subject":"deliver.d","ack_policy":"explicit","ack_wait":1000000000,"max_deliver":1}}"#,
    );
    let got = deliveries(&publish_quiet(&mut h, "s.a", "1", T0 + 1), "deliver.d");
    let term = deliveries(&publish_quiet(&mut h, "s.b", "2", T0 + 2), "deliver.d");
    h.engine
        .handle_ack(&term[0].1, None, b"+TERM not for me", T0 + 3);
    let out = h.engine.commit();
    let adv = out
        .iter()
        .find(|o| o.subject == "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.S.d")
        .expect("terminated advisory");
    let v: serde_json::Value = serde_json::from_slice(&adv.payload).unwrap();
    assert_eq!(v["type"], "io.nats.jetstream.advisory.v1.terminated");
    assert_eq!(
        (v["stream_seq"].as_u64(), v["reason"].as_str()),
        (Some(2), Some("not for me"))
    );
    assert_eq!(got.len(), 1);
    h.engine.tick(T0 + 2 * SEC);
    let out = h.engine.commit();
    let adv = out
        .iter()
        .find(|o| o.subject == "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.S.d")
        .expect("max deliveries advisory");
    let v: serde_json::Value = serde_json::from_slice(&adv.payload).unwrap();
    assert_eq!(v["type"], "io.nats.jetstream.advisory.v1.max_deliver");
    assert_eq!(
        (v["stream_seq"].as_u64(), v["deliveries"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(deliveries(&out, "deliver.d").is_empty(), "not redelivered");
}

#[test]
fn replay_original_keeps_the_gaps_between_messages() {
    let mut h = Harness::new();
    h.api(
        "$JS.API.STREAM.CREATE.S",
        r#"{"name":"S","subjects":["s.>"]}"#,
        T0,
    );
    publish_quiet(&mut h, "s.a", "1", T0);
    publish_quiet(&mut h, "s.a", "2", T0 + SEC / 2);
    h.api(
        "$JS.API.CONSUMER.DURABLE.CREATE.S.r",
        r#"{"stream_name":"S","config":{"durable_name":"r","deliver_subject":"dr","ack_policy":"none","replay_policy":"original"}}"#,
        T0 + SEC,
    );
    h.engine.set_push_interest("dr", true, T0 + SEC);
    h.engine.tick(T0 + SEC);
    assert_eq!(
        deliveries(&h.engine.commit(), "dr").len(),
        1,
        "first at once"
    );
    h.engine.tick(T0 + SEC + SEC / 4);
    assert!(
        deliveries(&h.engine.commit(), "dr").is_empty(),
        "not before the gap"
    );
    h.engine.tick(T0 + SEC + SEC / 2);
    assert_eq!(
        deliveries(&h.engine.commit(), "dr").len(),
        1,
        "after the gap"
    );
}

#[test]
fn ack_next_acks_and_asks_for_more() {
    let mut h = Harness::new();
    h.api(
        "$JS.API.STREAM.CREATE.S",
        r#"{"name":"S","subjects":["s.>"]}"#,
        T0,
    );
    h.api(
        "$JS.API.CONSUMER.DURABLE.CREATE.S.p",
        r#"{"stream_name":"S","config":{"durable_name":"p","ack_policy":"explicit"}}"#,
        T0,
    );
    for i in 0..3 {
        publish_quiet(&mut h, "s.a", &i.to_string(), T0 + i);
    }
    let out = h.api_raw("$JS.API.CONSUMER.MSG.NEXT.S.p", None, "1", T0 + 10);
    let first = deliveries(&out, "_INBOX.r");
    assert_eq!(first.len(), 1);
    // +NXT acks the message and is itself a pull request for two more.
    h.engine.handle_ack(
        &first[0].1,
        Some("_INBOX.next"),
        br#"+NXT {"batch":2}"#,
        T0 + 11,
    );
    let out = h.engine.commit();
    let more: Vec<u64> = deliveries(&out, "_INBOX.next")
        .iter()
        .map(|(_, r)| tokens(r).1)
        .collect();
    assert_eq!(more, vec![2, 3]);
    let info = h.api("$JS.API.CONSUMER.INFO.S.p", "", T0 + 12);
    assert_eq!(info["ack_floor"]["stream_seq"], 1);
    assert_eq!(info["num_ack_pending"], 2);
}
