//! The JetStream consumer adapter on a memory store: deliver policies that pick
//! messages, headers-only deliveries, and pull requests with byte limits.

use sluice_jetstream::consumer::config::{ConsumerConfig, DeliverPolicy};
use sluice_jetstream::consumer::pull::parse_next;
use sluice_jetstream::consumer::Consumer;
use sluice_jetstream::Outbound;
use sluice_store::{MemStore, MessageStore};

const T0: i64 = 1_795_748_567_000_000_000;

fn store_with(subjects: &[&str]) -> MemStore {
    let mut s = MemStore::new();
    for (i, subj) in subjects.iter().enumerate() {
        s.append(subj, None, format!("m{}", i + 1).as_bytes(), T0 + i as i64)
            .unwrap();
    }
    s
}

fn pull_config(name: &str) -> ConsumerConfig {
    ConsumerConfig {
        durable: name.into(),
        name: name.into(),
        ..Default::default()
    }
}

/// Delivered stream sequences from the ack reply subjects.
fn seqs(out: &[Outbound]) -> Vec<u64> {
    out.iter()
        .filter_map(|o| o.reply.as_deref())
        .map(|r| r.split('.').nth(5).unwrap().parse().unwrap())
        .collect()
}

fn pull(c: &mut Consumer, store: &dyn MessageStore, body: &str) -> Vec<Outbound> {
    let mut out = Vec::new();
    c.add_request(
        "_INBOX.p",
        &parse_next(body.as_bytes()).unwrap(),
        T0,
        &mut out,
    );
    c.deliver(store, T0, &mut out, 1024);
    out
}

#[test]
fn last_per_subject_then_new_messages() {
    let mut store = store_with(&["k.a", "k.b", "k.a", "k.c", "k.b"]);
    let cfg = ConsumerConfig {
        deliver_policy: DeliverPolicy::LastPerSubject,
        filter_subject: "k.*".into(),
        ..pull_config("lps")
    };
    let mut c = Consumer::new("S", cfg, T0, &store, T0);
    assert_eq!(c.num_pending, 3, "one per subject");
    let out = pull(&mut c, &store, r#"{"batch":10,"expires":1000000000}"#);
    assert_eq!(seqs(&out), vec![3, 4, 5]);
    let seq = store.append("k.a", None, b"new", T0 + 10).unwrap();
    c.on_stored(seq, "k.a");
    let mut out = Vec::new();
    c.deliver(&store, T0 + 10, &mut out, 1024);
    assert_eq!(seqs(&out), vec![6]);
}

#[test]
fn headers_only_sends_the_size() {
    let store = store_with(&["h"]);
    let cfg = ConsumerConfig {
        headers_only: true,
        ..pull_config("h")
    };
    let mut c = Consumer::new("S", cfg, T0, &store, T0);
    let out = pull(&mut c, &store, "");
    assert_eq!(out.len(), 1);
    assert!(out[0].payload.is_empty());
    assert_eq!(
        out[0].headers.as_deref(),
        Some(&b"NATS/1.0\r\nNats-Msg-Size: 2\r\n\r\n"[..])
    );
}

#[test]
fn a_message_larger_than_max_bytes_ends_the_request_and_waits() {
    let store = store_with(&["big"]);
    let mut c = Consumer::new("S", pull_config("b"), T0, &store, T0);
    let out = pull(&mut c, &store, r#"{"batch":5,"max_bytes":10}"#);
    assert_eq!(out.len(), 1);
    assert!(out[0]
        .headers
        .as_deref()
        .unwrap()
        .starts_with(b"NATS/1.0 409 Message Size Exceeds MaxBytes\r\n"));
    // The message was not consumed: the next request big enough gets it.
    let out = pull(&mut c, &store, r#"{"batch":1,"max_bytes":1000}"#);
    assert_eq!(seqs(&out), vec![1]);
}

#[test]
fn by_start_time_and_last_and_new() {
    let store = store_with(&["a", "b", "a", "b"]);
    let at = |policy, time: Option<i64>, filter: &str| {
        let cfg = ConsumerConfig {
            deliver_policy: policy,
            opt_start_time: time,
            filter_subject: filter.into(),
            ..pull_config("x")
        };
        let mut c = Consumer::new("S", cfg, T0, &store, T0);
        seqs(&pull(&mut c, &store, r#"{"batch":10,"no_wait":true}"#))
    };
    assert_eq!(at(DeliverPolicy::ByStartTime, Some(T0 + 2), ""), vec![3, 4]);
    assert_eq!(at(DeliverPolicy::Last, None, "a"), vec![3]);
    assert_eq!(at(DeliverPolicy::Last, None, ""), vec![4]);
    assert!(at(DeliverPolicy::New, None, "").is_empty());
}

#[test]
fn rate_limit_spaces_deliveries() {
    let store = store_with(&["r", "r"]);
    // 8 bits/s is a byte a second: a delivery of some 40 bytes (subject, payload and
    // ack reply) holds the next one back for about 40 s.
    let cfg = ConsumerConfig {
        rate_limit_bps: 8,
        deliver_subject: "dr".into(),
        ..pull_config("rl")
    };
    let mut c = Consumer::new("S", cfg, T0, &store, T0);
    c.set_interest(true, T0);
    let mut out = Vec::new();
    c.deliver(&store, T0, &mut out, 1024);
    assert_eq!(
        seqs(&out),
        vec![1],
        "one, then the rate limit holds the next"
    );
    let later = T0 + 10_000_000_000;
    c.tick(later, &mut out);
    let mut out = Vec::new();
    c.deliver(&store, later, &mut out, 1024);
    assert!(out.is_empty(), "held back after 10 s");
    let much_later = T0 + 60_000_000_000;
    c.tick(much_later, &mut out);
    c.deliver(&store, much_later, &mut out, 1024);
    assert_eq!(seqs(&out), vec![2]);
}

#[test]
fn flow_control_window_starts_small_and_doubles_with_each_reply() {
    // 100 KiB messages: the window starts at 2 MiB (a sixteenth of nats-server's
    // 32 MiB), so about 21 go out before delivery stalls; each answered request doubles
    // the window, as nats-server's slow start does.
    let mut store = MemStore::new();
    let payload = vec![b'x'; 100 * 1024];
    for i in 0..400 {
        store.append("f", None, &payload, T0 + i).unwrap();
    }
    let cfg = ConsumerConfig {
        deliver_subject: "df".into(),
        flow_control: true,
        idle_heartbeat: 5_000_000_000,
        ..pull_config("fc")
    };
    let mut c = Consumer::new("S", cfg, T0, &store, T0);
    c.set_interest(true, T0);
    let mut bursts = Vec::new();
    for round in 0..4 {
        let mut out = Vec::new();
        c.deliver(&store, T0 + round, &mut out, 1024);
        let fc: Vec<String> = out
            .iter()
            .filter(|o| o.reply.as_deref().is_some_and(|r| r.starts_with("$JS.FC.")))
            .map(|o| o.reply.clone().unwrap())
            .collect();
        let delivered = out
            .iter()
            .filter(|o| {
                o.reply
                    .as_deref()
                    .is_some_and(|r| r.starts_with("$JS.ACK."))
            })
            .count();
        bursts.push(delivered);
        assert_eq!(fc.len(), 1, "one request per window: {fc:?}");
        c.flow_control_reply(&fc[0]);
    }
    assert_eq!(bursts[0], 21, "{bursts:?}");
    assert!(
        bursts[1] > bursts[0] && bursts[2] > bursts[1] && bursts[3] > bursts[2],
        "the window grows: {bursts:?}"
    );
}
