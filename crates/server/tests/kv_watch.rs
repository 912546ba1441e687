//! Watches of the async-nats (0.51) key-value store as a user sees them: one key,
//! wildcards, several keys, all keys, with history (initial values, then updates) and
//! from a revision.
//!
//! Note on the client: `watch`, `watch_many` and `watch_all` deliver updates only (deliver
//! policy `New`); the latest entry of each key followed by live updates is
//! `watch_with_history` / `watch_many_with_history` (deliver policy `LastPerSubject`).
//!
//! Each scenario runs against Sluice (`<name>`) and, ignored by default, against a real
//! nats-server (`reference_<name>`): `cargo test --test kv_watch -- --ignored reference_`
//! proves the expectations are nats-server's.

mod common;
mod kv_support;

use async_nats::jetstream::kv::Operation;
use common::jetstream::JsServer;
use kv_support::*;

// ---------------------------------------------------------------------------------------
// Watches
// ---------------------------------------------------------------------------------------

/// `watch(key)` sees that key's updates only (not its value before the watch, nor other
/// keys), including deletes and purges.
async fn watch_one_key(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let kv = bucket(&js, "w1", 5).await;
    put(&kv, "k", "before").await; // 1
    let mut w = kv.watch("k").await.unwrap();
    put(&kv, "other", "o").await; // 2
    put(&kv, "k", "v1").await; // 3
    put(&kv, "k.sub", "s").await; // 4
    kv.delete("k").await.unwrap(); // 5
    put(&kv, "k", "v2").await; // 6
    kv.purge("k").await.unwrap(); // 7
    let mut got = Vec::new();
    for _ in 0..4 {
        let e = next(&mut w).await;
        assert_eq!((e.bucket.as_str(), e.delta), ("w1", 0));
        assert!(e.seen_current);
        got.push(seen(&e));
    }
    assert_eq!(
        got,
        vec![
            s("k", "v1", 3, Operation::Put),
            s("k", "", 5, Operation::Delete),
            s("k", "v2", 6, Operation::Put),
            s("k", "", 7, Operation::Purge),
        ]
    );
}
kv_twins!(watch_one_key => watch_one_key_sluice, reference_watch_one_key);

/// A wildcard watch sees the updates of matching keys only.
async fn watch_wildcard(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let kv = bucket(&js, "wild", 5).await;
    let mut star = kv.watch("a.*").await.unwrap();
    let mut tail = kv.watch("a.>").await.unwrap();
    put(&kv, "a.x", "1").await; // 1
    put(&kv, "b.x", "2").await; // 2
    put(&kv, "a.y.z", "3").await; // 3
    put(&kv, "a", "4").await; // 4
    put(&kv, "a.y", "5").await; // 5

    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(seen(&next(&mut star).await));
    }
    assert_eq!(
        got,
        vec![
            s("a.x", "1", 1, Operation::Put),
            s("a.y", "5", 5, Operation::Put)
        ]
    );
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(seen(&next(&mut tail).await));
    }
    assert_eq!(
        got,
        vec![
            s("a.x", "1", 1, Operation::Put),
            s("a.y.z", "3", 3, Operation::Put),
            s("a.y", "5", 5, Operation::Put),
        ]
    );
}
kv_twins!(watch_wildcard => watch_wildcard_sluice, reference_watch_wildcard);

/// `watch_all` sees every update after it starts, and none of the values before.
async fn watch_all_updates_only(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let kv = bucket(&js, "all", 5).await;
    for k in ["a", "b", "c"] {
        put(&kv, k, "old").await; // 1, 2, 3
    }
    let mut w = kv.watch_all().await.unwrap();
    put(&kv, "b", "new").await; // 4
    kv.delete("a").await.unwrap(); // 5
    put(&kv, "d", "d").await; // 6
    kv.purge("c").await.unwrap(); // 7
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(seen(&next(&mut w).await));
    }
    assert_eq!(
        got,
        vec![
            s("b", "new", 4, Operation::Put),
            s("a", "", 5, Operation::Delete),
            s("d", "d", 6, Operation::Put),
            s("c", "", 7, Operation::Purge),
        ]
    );

    // On an empty bucket too.
    let empty = bucket(&js, "empty", 1).await;
    let mut w = empty.watch_all().await.unwrap();
    put(&empty, "first", "1").await;
    assert_eq!(
        seen(&next(&mut w).await),
        s("first", "1", 1, Operation::Put)
    );
}
kv_twins!(watch_all_updates_only => watch_all_updates_only_sluice, reference_watch_all_updates_only);

/// `watch_with_history(">")` sees the latest entry of every key (puts and markers, in
/// revision order, `delta` counting down to 0, `seen_current` set on the last), then every
/// update — even updates made before the watcher read anything.
async fn watch_initial_values_then_updates(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    latest_of_each_key_then_updates(&js, 1).await;

    // Many keys, and updates racing the initial delivery: all initial values, then all
    // updates, in order.
    let many = bucket(&js, "many", 2).await;
    for i in 0..200 {
        put(&many, &format!("k{i:03}"), "old").await; // 1..=200
    }
    let mut w = many.watch_with_history(">").await.unwrap();
    for i in 0..50 {
        put(&many, &format!("k{i:03}"), "new").await; // 201..=250
    }
    for rev in 1..=250u64 {
        let e = next(&mut w).await;
        let i = (rev - 1) % 200;
        let value = if rev <= 200 { "old" } else { "new" };
        assert_eq!(seen(&e), s(&format!("k{i:03}"), value, rev, Operation::Put));
        if rev == 250 {
            assert_eq!((e.delta, e.seen_current), (0, true));
        }
    }
}
kv_twins!(watch_initial_values_then_updates => watch_initial_values_then_updates_sluice, reference_watch_initial_values_then_updates);

/// The initial part of `watch_initial_values_then_updates`, in a bucket keeping `history`
/// revisions per key.
async fn latest_of_each_key_then_updates(js: &async_nats::jetstream::Context, history: i64) {
    let kv = bucket(js, &format!("init{history}"), history).await;
    put(&kv, "a", "a1").await; // 1
    put(&kv, "b", "b1").await; // 2
    put(&kv, "c", "c1").await; // 3
    put(&kv, "a", "a2").await; // 4
    kv.delete("c").await.unwrap(); // 5

    let mut w = kv.watch_with_history(">").await.unwrap();
    let mut initial = Vec::new();
    for _ in 0..3 {
        let e = next(&mut w).await;
        initial.push((seen(&e), e.delta, e.seen_current));
    }
    assert_eq!(
        initial,
        vec![
            (s("b", "b1", 2, Operation::Put), 2, false),
            (s("a", "a2", 4, Operation::Put), 1, false),
            (s("c", "", 5, Operation::Delete), 0, true),
        ]
    );
    put(&kv, "d", "d1").await; // 6
    let e = next(&mut w).await;
    assert_eq!(
        (seen(&e), e.delta, e.seen_current),
        (s("d", "d1", 6, Operation::Put), 0, true)
    );
}

/// As the first part of `watch_initial_values_then_updates`, in a bucket that keeps old
/// revisions: the watch passes over them, and `delta` still counts the entries to come.
async fn watch_with_history_over_old_revisions(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    latest_of_each_key_then_updates(&js, 5).await;
}
kv_twins!(
    watch_with_history_over_old_revisions => watch_with_history_over_old_revisions_sluice,
    reference_watch_with_history_over_old_revisions
);

/// `watch_with_history(key)` on one key: its latest entry, then its updates.
async fn watch_one_key_with_history(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let kv = bucket(&js, "h1", 5).await;
    put(&kv, "k", "v1").await; // 1
    put(&kv, "k", "v2").await; // 2
    put(&kv, "z", "z").await; // 3
    let mut w = kv.watch_with_history("k").await.unwrap();
    let e = next(&mut w).await;
    assert_eq!(
        (seen(&e), e.delta, e.seen_current),
        (s("k", "v2", 2, Operation::Put), 0, true)
    );
    put(&kv, "z", "z2").await; // 4
    put(&kv, "k", "v3").await; // 5
    assert_eq!(seen(&next(&mut w).await), s("k", "v3", 5, Operation::Put));

    // A key with no value yet: nothing initial, then its first update.
    let mut w = kv.watch_with_history("later").await.unwrap();
    put(&kv, "later", "now").await; // 6
    let e = next(&mut w).await;
    assert_eq!(
        (seen(&e), e.seen_current),
        (s("later", "now", 6, Operation::Put), true)
    );
}
kv_twins!(watch_one_key_with_history => watch_one_key_with_history_sluice, reference_watch_one_key_with_history);

/// `watch_many` (updates of several keys/patterns) and `watch_many_with_history`.
async fn watch_many_keys(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let kv = bucket(&js, "many", 5).await;
    put(&kv, "a", "a1").await; // 1
    put(&kv, "b", "b1").await; // 2
    put(&kv, "c.x", "c1").await; // 3
    put(&kv, "d", "d1").await; // 4

    let mut hist = kv.watch_many_with_history(["a", "c.*"]).await.unwrap();
    let mut live = kv.watch_many(["a", "c.*"]).await.unwrap();
    put(&kv, "b", "b2").await; // 5
    put(&kv, "c.y", "c2").await; // 6
    put(&kv, "a", "a2").await; // 7

    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(seen(&next(&mut hist).await));
    }
    assert_eq!(
        got,
        vec![
            s("a", "a1", 1, Operation::Put),
            s("c.x", "c1", 3, Operation::Put),
            s("c.y", "c2", 6, Operation::Put),
            s("a", "a2", 7, Operation::Put),
        ]
    );
    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(seen(&next(&mut live).await));
    }
    assert_eq!(
        got,
        vec![
            s("c.y", "c2", 6, Operation::Put),
            s("a", "a2", 7, Operation::Put)
        ]
    );
}
kv_twins!(watch_many_keys => watch_many_keys_sluice, reference_watch_many_keys);

/// `watch_from_revision` / `watch_all_from_revision` replay from a revision on (with
/// `delta` counting down), then go live.
async fn watch_from_revision(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let kv = bucket(&js, "from", 10).await;
    put(&kv, "k", "v1").await; // 1
    put(&kv, "o", "o1").await; // 2
    put(&kv, "k", "v2").await; // 3
    kv.delete("k").await.unwrap(); // 4
    put(&kv, "k", "v3").await; // 5

    let mut w = kv.watch_from_revision("k", 2).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..3 {
        let e = next(&mut w).await;
        got.push((seen(&e), e.delta));
    }
    assert_eq!(
        got,
        vec![
            (s("k", "v2", 3, Operation::Put), 2),
            (s("k", "", 4, Operation::Delete), 1),
            (s("k", "v3", 5, Operation::Put), 0),
        ]
    );

    let mut all = kv.watch_all_from_revision(4).await.unwrap();
    put(&kv, "o", "o2").await; // 6
    put(&kv, "k", "v4").await; // 7
    assert_eq!(seen(&next(&mut w).await), s("k", "v4", 7, Operation::Put));
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(seen(&next(&mut all).await));
    }
    assert_eq!(
        got,
        vec![
            s("k", "", 4, Operation::Delete),
            s("k", "v3", 5, Operation::Put),
            s("o", "o2", 6, Operation::Put),
            s("k", "v4", 7, Operation::Put),
        ]
    );
}
kv_twins!(watch_from_revision => watch_from_revision_sluice, reference_watch_from_revision);
