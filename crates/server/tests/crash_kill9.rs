//! `kill -9` while clients publish synchronously and asynchronously: after a restart
//! every acknowledged message is there, in order, with no gaps and no duplicates.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::ServerProcess;
use parking_lot::Mutex;

const BIN: &str = env!("CARGO_BIN_EXE_sluice-server");

/// Acknowledged messages: stream sequence → payload.
type Acked = Arc<Mutex<BTreeMap<u64, String>>>;

async fn sync_publisher(url: String, id: usize, acked: Acked) {
    let Ok(client) = async_nats::connect(&url).await else {
        return;
    };
    let js = async_nats::jetstream::new(client);
    for n in 0.. {
        let payload = format!("sync-{id}-{n}");
        let Ok(ack) = js
            .publish(format!("crash.s{id}"), payload.clone().into())
            .await
        else {
            return;
        };
        match ack.await {
            Ok(ack) => {
                acked.lock().insert(ack.sequence, payload);
            }
            Err(_) => return,
        }
    }
}

async fn async_publisher(url: String, id: usize, acked: Acked) {
    let Ok(client) = async_nats::connect(&url).await else {
        return;
    };
    let js = async_nats::jetstream::new(client);
    let mut in_flight = std::collections::VecDeque::new();
    for n in 0.. {
        let payload = format!("async-{id}-{n}");
        let Ok(fut) = js
            .publish(format!("crash.a{id}"), payload.clone().into())
            .await
        else {
            return;
        };
        in_flight.push_back((payload, fut));
        // Keep up to 256 acks outstanding, like PublishAsyncMaxPending.
        if in_flight.len() >= 256 {
            let Some((payload, fut)) = in_flight.pop_front() else {
                return;
            };
            match fut.await {
                Ok(ack) => {
                    acked.lock().insert(ack.sequence, payload);
                }
                Err(_) => return,
            }
        }
    }
}

async fn run_once(kill_after_acks: usize) {
    let dir = tempfile::tempdir().unwrap();
    let sd = dir.path().to_str().unwrap().to_owned();
    let args = ["-js", "-sd", &sd, "-a", "127.0.0.1", "-p", "-1"];
    let (mut server, _) = ServerProcess::start(BIN, &args);
    let client = async_nats::connect(server.url()).await.unwrap();
    let js = async_nats::jetstream::new(client.clone());
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "CRASH".into(),
        subjects: vec!["crash.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();

    let acked: Acked = Arc::default();
    let mut tasks = Vec::new();
    for id in 0..5 {
        tasks.push(tokio::spawn(sync_publisher(
            server.url(),
            id,
            acked.clone(),
        )));
        tasks.push(tokio::spawn(async_publisher(
            server.url(),
            id,
            acked.clone(),
        )));
    }
    common::wait_for("acks before the kill", || {
        acked.lock().len() >= kill_after_acks
    })
    .await;
    server.signal("-KILL");
    server.wait_exit();
    // Acks already received are final; the publishers would only retry from here on.
    for t in &tasks {
        t.abort();
    }
    for t in tasks {
        let _ = t.await;
    }
    drop(client);
    let acked = acked.lock().clone();
    assert!(acked.len() >= kill_after_acks);

    let (server, _) = ServerProcess::start(BIN, &args);
    let client = async_nats::connect(server.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream("CRASH").await.unwrap();
    let state = stream.info().await.unwrap().state.clone();
    let last_acked = *acked.keys().next_back().unwrap();
    assert!(
        state.last_sequence >= last_acked,
        "lost the tail: {state:?} < {last_acked}"
    );
    assert_eq!(state.first_sequence, 1);
    assert_eq!(state.messages, state.last_sequence, "no gaps: {state:?}");
    let mut seen = std::collections::HashSet::new();
    for seq in 1..=state.last_sequence {
        let msg = stream
            .get_raw_message(seq)
            .await
            .unwrap_or_else(|e| panic!("seq {seq}: {e}"));
        let payload = String::from_utf8(msg.payload.to_vec()).unwrap();
        assert!(seen.insert(payload.clone()), "duplicate {payload} at {seq}");
        if let Some(expected) = acked.get(&seq) {
            assert_eq!(&payload, expected, "acknowledged message {seq} changed");
        }
    }
    // Every acknowledged message is present (it was checked by sequence above).
    for seq in acked.keys() {
        assert!(*seq <= state.last_sequence);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_kill_9() {
    for kill_after in [200, 1500, 4000] {
        run_once(kill_after).await;
    }
}
