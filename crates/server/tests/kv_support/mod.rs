//! Helpers shared by the key-value store tests (`kv_basic.rs`, `kv_watch.rs`): the
//! `kv_twins!` macro and short ways to put, read, watch and list what a user sees.
#![allow(dead_code)]

use std::time::{SystemTime, UNIX_EPOCH};

use async_nats::jetstream::kv::{self, Entry, Operation, Store, Watch};
use async_nats::jetstream::Context;
use futures::{StreamExt, TryStreamExt};

use crate::common::DEADLINE;

/// Defines a scenario's two tests, as `js_twins!` does: `$sluice` runs
/// `$scenario(&mut JsServer)` against Sluice in process, `$reference` (ignored) against a
/// real nats-server. With `ignore = "reason"` the Sluice twin is ignored too, for
/// behaviour Sluice does not have yet; the reference twin still proves the test.
macro_rules! kv_twins {
    ($scenario:ident => $sluice:ident, $reference:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sluice() {
            let mut server = $crate::common::jetstream::JsServer::sluice().await;
            $scenario(&mut server).await;
            server.stop().await;
        }

        kv_twins!(@reference $scenario => $reference);
    };
    ($scenario:ident => $sluice:ident, $reference:ident, ignore = $why:literal) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[ignore = $why]
        async fn $sluice() {
            let mut server = $crate::common::jetstream::JsServer::sluice().await;
            $scenario(&mut server).await;
            server.stop().await;
        }

        kv_twins!(@reference $scenario => $reference);
    };
    (@reference $scenario:ident => $reference:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[ignore = "reference run against nats-server: proves the test, not Sluice"]
        async fn $reference() {
            let Some(mut server) = $crate::common::jetstream::JsServer::nats_server().await
            else {
                return;
            };
            $scenario(&mut server).await;
            server.stop().await;
        }
    };
}
pub(crate) use kv_twins;

pub fn config(bucket: &str, history: i64) -> kv::Config {
    kv::Config {
        bucket: bucket.into(),
        history,
        ..Default::default()
    }
}

pub async fn bucket(js: &Context, bucket: &str, history: i64) -> Store {
    js.create_key_value(config(bucket, history))
        .await
        .unwrap_or_else(|e| panic!("create bucket {bucket}: {e}"))
}

pub async fn put(kv: &Store, key: &str, value: &str) -> u64 {
    kv.put(key, value.to_string().into())
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e}"))
}

pub async fn get(kv: &Store, key: &str) -> Option<String> {
    kv.get(key)
        .await
        .unwrap_or_else(|e| panic!("get {key}: {e}"))
        .map(|v| String::from_utf8(v.to_vec()).unwrap())
}

pub async fn entry(kv: &Store, key: &str) -> Option<Entry> {
    kv.entry(key)
        .await
        .unwrap_or_else(|e| panic!("entry {key}: {e}"))
}

pub fn text(e: &Entry) -> String {
    String::from_utf8(e.value.to_vec()).unwrap()
}

/// What a user looks at in an entry: key, value, revision, operation.
pub fn seen(e: &Entry) -> (String, String, u64, Operation) {
    (e.key.clone(), text(e), e.revision, e.operation)
}

pub fn s(key: &str, value: &str, revision: u64, op: Operation) -> (String, String, u64, Operation) {
    (key.to_string(), value.to_string(), revision, op)
}

/// The next entry of a watch, within the deadline.
pub async fn next(watch: &mut Watch) -> Entry {
    tokio::time::timeout(DEADLINE, watch.next())
        .await
        .expect("a watch entry within the deadline")
        .expect("the watch goes on")
        .unwrap_or_else(|e| panic!("watch error: {e}"))
}

/// The history of a key, to its end.
pub async fn history(kv: &Store, key: &str) -> Vec<(String, String, u64, Operation)> {
    let h = kv
        .history(key)
        .await
        .unwrap_or_else(|e| panic!("history {key}: {e}"));
    let entries: Vec<Entry> = tokio::time::timeout(DEADLINE, h.try_collect())
        .await
        .expect("history ends within the deadline")
        .unwrap_or_else(|e| panic!("history {key}: {e}"));
    entries.iter().map(seen).collect()
}

/// The keys of a bucket, sorted.
pub async fn keys(kv: &Store) -> Vec<String> {
    let k = kv.keys().await.unwrap_or_else(|e| panic!("keys: {e}"));
    let mut keys: Vec<String> = tokio::time::timeout(DEADLINE, k.try_collect())
        .await
        .expect("keys end within the deadline")
        .unwrap_or_else(|e| panic!("keys: {e}"));
    keys.sort();
    keys
}

/// The number of values (messages) in a bucket, read fresh from the server.
pub async fn values(js: &Context, name: &str) -> u64 {
    js.get_key_value(name)
        .await
        .unwrap_or_else(|e| panic!("get bucket {name}: {e}"))
        .status()
        .await
        .unwrap()
        .values()
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}
