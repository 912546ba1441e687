//! The pattern users build on: one durable push consumer shared by a queue group of
//! workers (`deliver_group`, deliver all, explicit acks, a short ack wait, a small
//! `max_ack_pending`). Over 10,000 messages every message is handled by exactly one
//! worker; a message a worker does not acknowledge in time comes back to the group;
//! a worker that dies mid-run loses nothing; a server restart mid-run loses nothing.
//! And a durable consumer resumes where it was after a clean restart and after
//! `kill -9`: nothing acknowledged (confirmed by a double ack) is delivered again,
//! nothing unacknowledged is lost.
//!
//! Known nats-server (2.15.1) weaknesses the reference runs tolerate, and Sluice's do
//! not: an ack confirmed just before a SIGTERM restart can be forgotten (the message
//! comes back once), and after `kill -9` acknowledgements of redelivered messages can
//! be forgotten even with `sync_interval: always`. Sluice confirms an ack only once it
//! is durable, so its runs assert the strict promise.
//!
//! Each scenario runs against Sluice (`<name>`) and, ignored by default, against a real
//! nats-server (`reference_<name>`): `cargo test --test
//! jetstream_consumers_queue_pattern -- --ignored` proves the expectations are
//! nats-server's.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{
    pull, push, AckPolicy, DeliverPolicy, PullConsumer, PushConsumer,
};
use async_nats::jetstream::{self, stream};
use common::jetstream::JsServer;
use common::DEADLINE;
use futures::StreamExt;
use parking_lot::Mutex;
use tokio::time::Instant;

const N: u64 = 10_000;
const ACK_WAIT: Duration = Duration::from_secs(1);
/// An ack confirmed within this long after the message arrived was certainly in time
/// (the ack wait is four times longer): the message must never come back.
const PROMPT: Duration = Duration::from_millis(250);
/// How long a whole 10,000-message run may take.
const RUN_DEADLINE: Duration = Duration::from_secs(90);

/// One delivery of one message to one worker.
#[derive(Clone, Debug)]
struct Delivery {
    member: usize,
    delivered: i64,
    received: Instant,
    /// When the double ack was confirmed; `None` if it was not sent or not confirmed.
    acked: Option<Instant>,
    /// Deliberately left unacknowledged.
    skipped: bool,
    /// A double ack was sent but its confirmation never came (e.g. the server
    /// restarted between applying the ack and the reply reaching the client).
    unconfirmed: bool,
}

impl Delivery {
    fn acked_in_time(&self) -> bool {
        self.acked.is_some_and(|at| at - self.received <= PROMPT)
    }
}

/// Stream sequence → every delivery seen, in order of arrival.
type Log = Arc<Mutex<BTreeMap<u64, Vec<Delivery>>>>;

#[derive(Clone, Copy, Debug)]
enum Role {
    /// Acknowledges everything.
    Good,
    /// Leaves its 10th, 11th and 400th first deliveries unacknowledged.
    Skipper,
    /// Dies (drops its client) on its 1500th message, without acknowledging it.
    Crasher,
}

async fn publish_n(js: &jetstream::Context, subject: &str, n: u64) {
    let mut acks = std::collections::VecDeque::new();
    for i in 1..=n {
        acks.push_back(
            js.publish(subject.to_string(), i.to_string().into())
                .await
                .unwrap(),
        );
        if acks.len() >= 1000 {
            acks.pop_front().unwrap().await.expect("puback");
        }
    }
    for ack in acks {
        ack.await.expect("puback");
    }
}

/// Starts one worker of the queue group on its own connection.
async fn start_member(
    server: &JsServer,
    id: usize,
    role: Role,
    log: Log,
) -> tokio::task::JoinHandle<()> {
    let (client, mut js) = server.connect().await;
    js.set_timeout(Duration::from_secs(2));
    let consumer: PushConsumer = js
        .get_stream("WORK")
        .await
        .unwrap()
        .get_consumer("WORKERS")
        .await
        .unwrap();
    let mut msgs = consumer.messages().await.unwrap();
    client.flush().await.unwrap();
    // Arrival times are taken by a reader of their own: the handler may be held up
    // (e.g. waiting out a double-ack confirmation lost in a restart) while later
    // messages wait in the client, and their ack wait runs from their delivery.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        while let Some(item) = msgs.next().await {
            if let Ok(m) = item {
                if tx.send((Instant::now(), m)).is_err() {
                    return;
                }
            }
        }
    });
    tokio::spawn(async move {
        let _client = client;
        let mut handled = 0usize;
        let mut first_deliveries = 0usize;
        while let Some((received, m)) = rx.recv().await {
            let info = m.info().expect("JetStream message");
            let (s, delivered) = (info.stream_sequence, info.delivered);
            assert_eq!(m.payload, s.to_string().as_bytes(), "payload of {s}");
            handled += 1;
            let mut d = Delivery {
                member: id,
                delivered,
                received,
                acked: None,
                skipped: false,
                unconfirmed: false,
            };
            if delivered == 1 {
                first_deliveries += 1;
            }
            match role {
                Role::Crasher if handled == 1500 => {
                    log.lock().entry(s).or_default().push(d);
                    // Dies mid-message: everything it holds is dropped unacknowledged.
                    reader.abort();
                    return;
                }
                Role::Skipper if delivered == 1 && [10, 11, 400].contains(&first_deliveries) => {
                    d.skipped = true;
                }
                _ => {
                    if m.double_ack().await.is_ok() {
                        d.acked = Some(Instant::now());
                    } else {
                        d.unconfirmed = true;
                    }
                }
            }
            log.lock().entry(s).or_default().push(d);
        }
    })
}

async fn create_work(js: &jetstream::Context) {
    let stream = js
        .create_stream(stream::Config {
            name: "WORK".into(),
            subjects: vec!["work.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    stream
        .create_consumer(push::Config {
            durable_name: Some("WORKERS".into()),
            deliver_subject: "deliver.workers".into(),
            deliver_group: Some("workers".into()),
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::Explicit,
            ack_wait: ACK_WAIT,
            max_ack_pending: 5,
            ..Default::default()
        })
        .await
        .unwrap();
}

fn acked_count(log: &Log) -> usize {
    log.lock()
        .values()
        .filter(|ds| ds.iter().any(|d| d.acked.is_some()))
        .count()
}

async fn wait_acked(log: &Log, n: usize, what: &str) {
    let end = Instant::now() + RUN_DEADLINE;
    while acked_count(log) < n {
        assert!(
            Instant::now() < end,
            "timed out waiting for {what}: {} of {n} acknowledged",
            acked_count(log)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the consumer reports everything acknowledged.
async fn wait_consumer_done(js: &jetstream::Context) {
    let end = Instant::now() + DEADLINE;
    loop {
        let info = js
            .get_stream("WORK")
            .await
            .unwrap()
            .consumer_info("WORKERS")
            .await;
        if let Ok(i) = &info {
            if i.num_pending == 0
                && i.num_ack_pending == 0
                && i.ack_floor.stream_sequence == N
                && i.delivered.stream_sequence == N
            {
                return;
            }
        }
        assert!(
            Instant::now() < end,
            "consumer never reported done: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The group's promise, checked on the full log: every message acknowledged; a message
/// seen again only after a delivery that was not acknowledged in time; every skipped
/// message came back as a redelivery and was acknowledged.
///
/// `forgiven`: acks confirmed in this window may be forgotten by the server (only for
/// nats-server around a restart; `None` for Sluice).
fn check_log(log: &BTreeMap<u64, Vec<Delivery>>, forgiven: Option<(Instant, Instant)>) -> usize {
    assert_eq!(
        log.keys().copied().collect::<Vec<_>>(),
        (1..=N).collect::<Vec<_>>(),
        "every message delivered"
    );
    let mut redelivered = 0;
    for (s, ds) in log {
        // Members finish in any order; judge deliveries in order of arrival.
        let mut ds = ds.clone();
        ds.sort_by_key(|d| d.received);
        let ds = &ds;
        assert!(
            ds.iter().any(|d| d.acked.is_some() || d.unconfirmed),
            "message {s} never acknowledged: {ds:?}"
        );
        for (i, d) in ds.iter().enumerate().skip(1) {
            redelivered += 1;
            let forgotten = |e: &Delivery| {
                forgiven.is_some_and(|(from, to)| e.acked.is_some_and(|at| at >= from && at <= to))
            };
            assert!(
                ds[..i].iter().any(|e| !e.acked_in_time() || forgotten(e)),
                "message {s} handled twice although acknowledged in time: {ds:?}"
            );
            assert!(d.delivered >= 2, "redelivery of {s} not counted: {ds:?}");
        }
        if ds.iter().any(|d| d.skipped) {
            assert!(
                ds.iter()
                    .any(|d| !d.skipped && d.delivered >= 2 && d.acked.is_some()),
                "skipped message {s} did not come back: {ds:?}"
            );
        }
    }
    redelivered
}

async fn queue_group_with_slow_and_dying_members(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    create_work(&js).await;
    publish_n(&js, "work.item", N).await;

    let log: Log = Arc::default();
    let members = [
        start_member(server, 0, Role::Good, log.clone()).await,
        start_member(server, 1, Role::Skipper, log.clone()).await,
        start_member(server, 2, Role::Crasher, log.clone()).await,
    ];
    wait_acked(&log, N as usize, "every message acknowledged").await;
    wait_consumer_done(&js).await;
    assert!(members[2].is_finished(), "the crasher died mid-run");
    for m in &members {
        m.abort();
    }
    let log = log.lock().clone();
    let redelivered = check_log(&log, None);

    let skipped: Vec<u64> = log
        .iter()
        .filter(|(_, ds)| ds.iter().any(|d| d.skipped))
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(
        skipped.len(),
        3,
        "the skipper left three messages: {skipped:?}"
    );
    let crashed: Vec<u64> = log
        .iter()
        .filter(|(_, ds)| ds.iter().any(|d| d.member == 2 && d.acked.is_none()))
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(crashed.len(), 1, "{crashed:?}");
    assert!(
        log[&crashed[0]]
            .iter()
            .any(|d| d.member != 2 && d.acked.is_some()),
        "the message the crasher held was handled by another member"
    );
    let mut per_member = [0usize; 3];
    for d in log.values().flatten() {
        if d.acked.is_some() {
            per_member[d.member] += 1;
        }
    }
    assert!(per_member.iter().all(|&n| n > 0), "{per_member:?}");
    eprintln!("per member {per_member:?}, redeliveries {redelivered}");
}
js_twins!(queue_group_with_slow_and_dying_members => queue_group_with_slow_and_dying_members_sluice, reference_queue_group_with_slow_and_dying_members);

async fn queue_group_survives_server_restart(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    create_work(&js).await;
    publish_n(&js, "work.item", N).await;

    let log: Log = Arc::default();
    let mut members = Vec::new();
    for id in 0..3 {
        members.push(start_member(server, id, Role::Good, log.clone()).await);
    }
    wait_acked(&log, 3000, "3000 messages acknowledged before the restart").await;
    let restart_began = Instant::now();
    server.restart().await;
    let restarted = Instant::now();
    let acked_at_restart = acked_count(&log);
    // A message is done once its ack was confirmed, or once an ack was sent whose
    // confirmation was lost in the restart: had that ack not been applied, the message
    // would still be pending and come back, and `wait_consumer_done` checks the server
    // holds nothing unacknowledged.
    let handled = |log: &Log| {
        log.lock()
            .values()
            .filter(|ds| ds.iter().any(|d| d.acked.is_some() || d.unconfirmed))
            .count()
    };
    let end = Instant::now() + RUN_DEADLINE;
    while handled(&log) < N as usize {
        assert!(
            Instant::now() < end,
            "timed out waiting for every message handled: {} of {N} ({} confirmed)",
            handled(&log),
            acked_count(&log)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_consumer_done(&js).await;
    for m in &members {
        assert!(!m.is_finished(), "members keep running across the restart");
        m.abort();
    }
    let log = log.lock().clone();
    // nats-server may forget acks it confirmed in the last moment before SIGTERM.
    let forgiven = server
        .is_nats_server()
        .then(|| (restart_began - Duration::from_secs(1), restarted));
    let redelivered = check_log(&log, forgiven);
    assert!(
        (acked_at_restart as u64) < N,
        "the restart happened mid-run"
    );
    eprintln!("acked at restart {acked_at_restart}, redeliveries {redelivered}");
}
js_twins!(queue_group_survives_server_restart => queue_group_survives_server_restart_sluice, reference_queue_group_survives_server_restart);

// ---------------------------------------------------------------------------------------
// A durable consumer across a clean restart and kill -9
// ---------------------------------------------------------------------------------------

/// Receives from a new `messages()` stream until every sequence in `want` arrived;
/// returns stream sequence → delivery counts seen (in order) and the messages.
async fn receive_until(
    server: &JsServer,
    want: std::ops::RangeInclusive<u64>,
    ack: std::ops::RangeInclusive<u64>,
) -> BTreeMap<u64, Vec<i64>> {
    let (client, js) = server.connect().await;
    let c: PullConsumer = js
        .get_stream("DUR")
        .await
        .unwrap()
        .get_consumer("D")
        .await
        .unwrap();
    let mut msgs = c.messages().await.unwrap();
    let mut missing: BTreeSet<u64> = want.collect();
    let mut seen: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    let end = Instant::now() + DEADLINE;
    while !missing.is_empty() {
        let m = tokio::time::timeout_at(end, msgs.next())
            .await
            .unwrap_or_else(|_| panic!("still missing {missing:?}; seen {seen:?}"))
            .expect("stream open")
            .expect("message");
        let info = m.info().unwrap();
        let s = info.stream_sequence;
        seen.entry(s).or_default().push(info.delivered);
        missing.remove(&s);
        if ack.contains(&s) {
            m.double_ack().await.expect("ack confirmed");
        }
    }
    drop(msgs);
    client.flush().await.unwrap();
    seen
}

async fn durable_consumer_resumes_after_restart_and_kill9(server: &mut JsServer) {
    {
        let (_client, js) = server.connect().await;
        let stream = js
            .create_stream(stream::Config {
                name: "DUR".into(),
                subjects: vec!["dur".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        publish_n(&js, "dur", 100).await;
        let c: PullConsumer = stream
            .create_consumer(pull::Config {
                durable_name: Some("D".into()),
                ack_policy: AckPolicy::Explicit,
                ack_wait: ACK_WAIT,
                ..Default::default()
            })
            .await
            .unwrap();
        // 1..=30 delivered; 1..=20 acknowledged (confirmed), 21..=30 not.
        let mut batch = c.fetch().max_messages(30).messages().await.unwrap();
        let mut got = Vec::new();
        while let Some(m) = tokio::time::timeout(DEADLINE, batch.next())
            .await
            .expect("fetch within the deadline")
        {
            let m = m.unwrap();
            let s = m.info().unwrap().stream_sequence;
            if s <= 20 {
                m.double_ack().await.expect("ack confirmed");
            }
            got.push(s);
        }
        assert_eq!(got, (1..=30).collect::<Vec<_>>());
    }

    server.restart().await;
    // Everything not acknowledged arrives (21..=30 again, 31..=100 for the first
    // time); nothing acknowledged does. 21..=60 are acknowledged now.
    let seen = receive_until(server, 21..=100, 21..=60).await;
    assert!(
        seen.keys().all(|&s| s > 20),
        "acknowledged messages delivered again after a clean restart: {seen:?}"
    );
    for s in 21..=30 {
        assert!(seen[&s][0] >= 2, "{s} is a redelivery: {:?}", seen[&s]);
    }
    for s in 31..=100 {
        assert_eq!(seen[&s][0], 1, "{s} is a first delivery: {:?}", seen[&s]);
    }

    server.kill_and_restart().await;
    // Nothing unacknowledged is lost: 61..=100 all arrive.
    let seen = receive_until(server, 61..=100, 1..=100).await;
    let again: Vec<u64> = seen.keys().copied().filter(|&s| s <= 60).collect();
    if server.is_nats_server() {
        // nats-server forgets acks of redelivered messages on kill -9 (see the top).
        if !again.is_empty() {
            eprintln!("nats-server delivered acknowledged {again:?} again after kill -9");
        }
    } else {
        assert!(
            again.is_empty(),
            "acknowledged messages delivered again after kill -9: {again:?}"
        );
    }
    let (_client, js) = server.connect().await;
    let i = js
        .get_stream("DUR")
        .await
        .unwrap()
        .consumer_info("D")
        .await
        .unwrap();
    assert_eq!(
        (
            i.num_pending,
            i.num_ack_pending,
            i.ack_floor.stream_sequence
        ),
        (0, 0, 100),
        "{i:?}"
    );
}
js_twins!(durable_consumer_resumes_after_restart_and_kill9 => durable_consumer_resumes_after_restart_and_kill9_sluice, reference_durable_consumer_resumes_after_restart_and_kill9, sluice_binary);
