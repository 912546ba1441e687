//! Queue groups as clients see them: every message goes to exactly one member of each
//! group, spread across members; plain subscribers still get everything; members that
//! leave stop getting messages and the rest take over.
//!
//! Accounting uses a barrier: after the test messages, the publisher sends one message on
//! a `barrier` subject every member also subscribes to (plainly). One publisher's
//! messages reach each connection in order, so when a member sees the barrier, every test
//! message the server routed to it is already in its subscription's channel.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use async_nats::Client;
use common::{TestServer, DEADLINE};
use futures::{FutureExt, StreamExt};
use parking_lot::Mutex;
use tokio::sync::mpsc;

const SUBJECT: &str = "work";
const BARRIER: &str = "barrier";

enum Control {
    /// Unsubscribe the test subscription; the connection stays up.
    Leave,
}

/// One subscriber connection: a (queue) subscription on [`SUBJECT`] that records payload
/// ids, and a plain subscription on [`BARRIER`] that it acknowledges.
struct Member {
    client: Client,
    got: Arc<Mutex<Vec<u32>>>,
    acks: mpsc::UnboundedReceiver<()>,
    control: mpsc::UnboundedSender<Control>,
    task: tokio::task::JoinHandle<()>,
}

impl Member {
    async fn join(server: &TestServer, group: Option<&str>) -> Member {
        let client = server.client().await;
        let mut work = match group {
            Some(g) => client.queue_subscribe(SUBJECT, g.to_owned()).await.unwrap(),
            None => client.subscribe(SUBJECT).await.unwrap(),
        };
        let mut barrier = client.subscribe(BARRIER).await.unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let (ack_tx, acks) = mpsc::unbounded_channel();
        let (control, mut control_rx) = mpsc::unbounded_channel();
        let record = got.clone();
        let task = tokio::spawn(async move {
            let mut active = true;
            loop {
                tokio::select! {
                    msg = work.next(), if active => match msg {
                        Some(msg) => record.lock().push(id_of(&msg.payload)),
                        None => active = false,
                    },
                    msg = barrier.next() => {
                        if msg.is_none() {
                            return;
                        }
                        // `unconstrained`: tokio's co-op budget must not make a ready
                        // channel look empty.
                        while active {
                            match tokio::task::unconstrained(work.next()).now_or_never() {
                                Some(Some(msg)) => record.lock().push(id_of(&msg.payload)),
                                Some(None) => active = false,
                                None => break,
                            }
                        }
                        let _ = ack_tx.send(());
                    }
                    ctl = control_rx.recv() => match ctl {
                        Some(Control::Leave) => {
                            work.unsubscribe().await.unwrap();
                            active = false;
                        }
                        None => return,
                    },
                }
            }
        });
        Member {
            client,
            got,
            acks,
            control,
            task,
        }
    }

    fn ids(&self) -> Vec<u32> {
        self.got.lock().clone()
    }
}

fn id_of(payload: &[u8]) -> u32 {
    std::str::from_utf8(payload).unwrap().parse().unwrap()
}

async fn wait_subs(server: &TestServer, n: usize) {
    let router = server.handle().shared().router();
    common::wait_for(&format!("{n} subscriptions on the server"), || {
        router.subscription_count() == n
    })
    .await;
}

async fn publish_range(publisher: &Client, ids: std::ops::Range<u32>) {
    for i in ids {
        publisher
            .publish(SUBJECT, i.to_string().into())
            .await
            .unwrap();
    }
    publisher.flush().await.unwrap();
}

/// Sends the barrier and waits until each of `members` has seen it.
async fn barrier(publisher: &Client, members: &mut [&mut Member]) {
    publisher.publish(BARRIER, "".into()).await.unwrap();
    publisher.flush().await.unwrap();
    for (i, m) in members.iter_mut().enumerate() {
        tokio::time::timeout(DEADLINE, m.acks.recv())
            .await
            .unwrap_or_else(|_| panic!("member {i} did not see the barrier"))
            .expect("member task running");
    }
}

/// Asserts that `members` together got each id in `expected` exactly once.
fn assert_each_once(what: &str, members: &[&Member], expected: std::ops::Range<u32>) {
    let all: Vec<u32> = members.iter().flat_map(|m| m.ids()).collect();
    let unique: HashSet<u32> = all.iter().copied().collect();
    let want: HashSet<u32> = expected.clone().collect();
    let missing = want.difference(&unique).count();
    let unexpected: Vec<_> = unique.difference(&want).take(10).collect();
    assert_eq!(
        all.len(),
        unique.len(),
        "{what}: {} duplicate deliveries",
        all.len() - unique.len()
    );
    assert_eq!(missing, 0, "{what}: {missing} messages never delivered");
    assert!(
        unexpected.is_empty(),
        "{what}: unexpected ids {unexpected:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_message_goes_to_exactly_one_member_spread_evenly() {
    const N: u32 = 3000;
    let server = TestServer::default().await;
    let mut a = Member::join(&server, Some("workers")).await;
    let mut b = Member::join(&server, Some("workers")).await;
    let mut c = Member::join(&server, Some("workers")).await;
    wait_subs(&server, 6).await;
    let publisher = server.client().await;

    publish_range(&publisher, 0..N).await;
    barrier(&publisher, &mut [&mut a, &mut b, &mut c]).await;

    assert_each_once("group of 3", &[&a, &b, &c], 0..N);
    let counts = [a.ids().len(), b.ids().len(), c.ids().len()];
    for (i, n) in counts.iter().enumerate() {
        assert!(
            *n as u32 > N / 5,
            "member {i} got {n} of {N} messages (each of 3 should get > 20%): {counts:?}"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_subscribers_alongside_a_group_get_everything() {
    const N: u32 = 500;
    let server = TestServer::default().await;
    let mut plain1 = Member::join(&server, None).await;
    let mut q1 = Member::join(&server, Some("g")).await;
    let mut q2 = Member::join(&server, Some("g")).await;
    let mut plain2 = Member::join(&server, None).await;
    wait_subs(&server, 8).await;
    let publisher = server.client().await;

    publish_range(&publisher, 0..N).await;
    barrier(
        &publisher,
        &mut [&mut plain1, &mut q1, &mut q2, &mut plain2],
    )
    .await;

    let all: Vec<u32> = (0..N).collect();
    assert_eq!(
        plain1.ids(),
        all,
        "plain subscriber 1 gets every message, in order"
    );
    assert_eq!(
        plain2.ids(),
        all,
        "plain subscriber 2 gets every message, in order"
    );
    assert_each_once("group g", &[&q1, &q2], 0..N);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_groups_each_get_every_message_once() {
    const N: u32 = 1000;
    let server = TestServer::default().await;
    let mut a1 = Member::join(&server, Some("alpha")).await;
    let mut a2 = Member::join(&server, Some("alpha")).await;
    let mut b1 = Member::join(&server, Some("beta")).await;
    let mut b2 = Member::join(&server, Some("beta")).await;
    let mut b3 = Member::join(&server, Some("beta")).await;
    wait_subs(&server, 10).await;
    let publisher = server.client().await;

    publish_range(&publisher, 0..N).await;
    barrier(
        &publisher,
        &mut [&mut a1, &mut a2, &mut b1, &mut b2, &mut b3],
    )
    .await;

    assert_each_once("group alpha", &[&a1, &a2], 0..N);
    assert_each_once("group beta", &[&b1, &b2, &b3], 0..N);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_member_on_the_publishing_connection_counts_as_a_member() {
    // Echo is on: the publisher's own queue subscription may win a message, but each
    // message still goes to exactly one member.
    const N: u32 = 600;
    let server = TestServer::default().await;
    let mut a = Member::join(&server, Some("g")).await;
    let mut b = Member::join(&server, Some("g")).await;
    wait_subs(&server, 4).await;
    let publisher = a.client.clone();

    publish_range(&publisher, 0..N).await;
    barrier(&publisher, &mut [&mut a, &mut b]).await;

    assert_each_once("group with the publisher in it", &[&a, &b], 0..N);
    assert!(
        !a.ids().is_empty() && !b.ids().is_empty(),
        "both members got some"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_leaving_the_rest_get_every_message() {
    const BATCH: u32 = 300;
    let server = TestServer::default().await;
    let mut a = Member::join(&server, Some("g")).await;
    let mut b = Member::join(&server, Some("g")).await;
    let mut c = Member::join(&server, Some("g")).await;
    wait_subs(&server, 6).await;
    let publisher = server.client().await;

    publish_range(&publisher, 0..BATCH).await;
    barrier(&publisher, &mut [&mut a, &mut b, &mut c]).await;
    assert_each_once("all three members", &[&a, &b, &c], 0..BATCH);

    // `c` unsubscribes but stays connected.
    let c_before = c.ids().len();
    c.control.send(Control::Leave).unwrap();
    wait_subs(&server, 5).await;
    publish_range(&publisher, BATCH..2 * BATCH).await;
    barrier(&publisher, &mut [&mut a, &mut b, &mut c]).await;
    assert_eq!(
        c.ids().len(),
        c_before,
        "a member that left gets nothing more"
    );
    assert_each_once("after one member left", &[&a, &b, &c], 0..2 * BATCH);
    let second: Vec<&Member> = vec![&a, &b];
    let second_batch: usize = second
        .iter()
        .map(|m| m.ids().iter().filter(|&&i| i >= BATCH).count())
        .sum();
    assert_eq!(
        second_batch, BATCH as usize,
        "a and b share the second batch"
    );

    // `b` disconnects entirely: its connection goes away.
    let Member { client, task, .. } = b;
    task.abort();
    let _ = task.await;
    drop(client);
    wait_subs(&server, 3).await;
    publish_range(&publisher, 2 * BATCH..3 * BATCH).await;
    barrier(&publisher, &mut [&mut a, &mut c]).await;
    let a_third: Vec<u32> = a.ids().into_iter().filter(|&i| i >= 2 * BATCH).collect();
    assert_eq!(
        a_third,
        (2 * BATCH..3 * BATCH).collect::<Vec<_>>(),
        "the last member gets every message, in order"
    );
    assert_eq!(
        c.ids().len(),
        c_before,
        "the member that left still gets nothing"
    );
    server.shutdown().await;
}
