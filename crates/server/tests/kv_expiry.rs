//! Expiry in the async-nats (0.51) key-value store as a user sees it: bucket `max_age`,
//! per-key TTLs (`create_with_ttl`, `purge_with_ttl`) and the markers of a bucket with
//! `limit_markers` (per-message TTLs and subject delete markers in its stream).
//!
//! Each scenario runs against Sluice (`<name>`) and, ignored by default, against a real
//! nats-server (`reference_<name>`): `cargo test --test kv_expiry -- --ignored reference_`
//! proves the expectations are nats-server's.

mod common;
mod kv_support;

use std::time::Duration;

use async_nats::jetstream::kv::{self, CreateErrorKind, Operation, Store};
use async_nats::jetstream::Context;
use common::jetstream::{poll, JsServer};
use kv_support::*;

// ---------------------------------------------------------------------------------------
// Expiry: bucket max_age and per-key TTLs
// ---------------------------------------------------------------------------------------

/// Values in a bucket with `max_age` expire; the bucket then counts no values.
async fn bucket_max_age_expires_values(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let kv = js
        .create_key_value(kv::Config {
            bucket: "aging".into(),
            history: 3,
            max_age: Duration::from_secs(1),
            ..Default::default()
        })
        .await
        .unwrap();
    put(&kv, "a", "1").await;
    put(&kv, "a", "2").await;
    put(&kv, "b", "3").await;
    assert_eq!(get(&kv, "a").await.as_deref(), Some("2"));
    poll("values to expire", || async {
        get(&kv, "a").await.is_none() && get(&kv, "b").await.is_none()
    })
    .await;
    assert!(entry(&kv, "a").await.is_none());
    assert_eq!(values(&js, "aging").await, 0);
    assert_eq!(keys(&kv).await, Vec::<String>::new());
    assert_eq!(history(&kv, "a").await, vec![]);
    // The bucket goes on: a new value gets the next revision.
    assert_eq!(put(&kv, "a", "4").await, 4);
}
kv_twins!(bucket_max_age_expires_values => bucket_max_age_expires_values_sluice, reference_bucket_max_age_expires_values);

async fn ttl_bucket(js: &Context, name: &str, max_age: Duration) -> Store {
    js.create_key_value(kv::Config {
        bucket: name.into(),
        history: 5,
        max_age,
        limit_markers: Some(Duration::from_secs(1)),
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("create bucket {name} with limit markers: {e}"))
}

/// `limit_markers` turns on per-message TTLs and subject delete markers in the stream.
async fn limit_markers_config(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let kv = ttl_bucket(&js, "marked", Duration::ZERO).await;
    let c = &kv.stream.cached_info().config;
    assert!(c.allow_message_ttl);
    assert_eq!(c.subject_delete_marker_ttl, Some(Duration::from_secs(1)));
    let again = js.get_key_value("marked").await.unwrap();
    let c = &again.stream.cached_info().config;
    assert!(c.allow_message_ttl);
    assert_eq!(c.subject_delete_marker_ttl, Some(Duration::from_secs(1)));
}
kv_twins!(limit_markers_config => limit_markers_config_sluice, reference_limit_markers_config);

/// `create_with_ttl`: once the TTL passes the value is replaced by a marker (a Purge
/// entry) that itself goes after the bucket's marker TTL; the key can then be created
/// again.
async fn create_with_ttl_expires(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let kv = ttl_bucket(&js, "ttl", Duration::ZERO).await;
    let rev = kv
        .create_with_ttl("k", "short".into(), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(rev, 1);
    put(&kv, "stays", "s").await; // 2
    assert_eq!(get(&kv, "k").await.as_deref(), Some("short"));
    let err = kv.create("k", "dup".into()).await.unwrap_err();
    assert_eq!(err.kind(), CreateErrorKind::AlreadyExists, "{err}");

    poll("the key to expire", || async {
        get(&kv, "k").await.is_none()
    })
    .await;
    // The marker (revision 3) lives for the bucket's limit_markers TTL (1s).
    let e = entry(&kv, "k")
        .await
        .expect("a marker in place of the value");
    assert_eq!(seen(&e), s("k", "", 3, Operation::Purge));
    assert_eq!(get(&kv, "stays").await.as_deref(), Some("s"));
    assert_eq!(keys(&kv).await, ["stays"]);

    poll("the marker to expire", || async {
        entry(&kv, "k").await.is_none()
    })
    .await;
    assert_eq!(values(&js, "ttl").await, 1);
    assert_eq!(history(&kv, "k").await, vec![]);
    assert_eq!(kv.create("k", "again".into()).await.unwrap(), 4);
    assert_eq!(get(&kv, "k").await.as_deref(), Some("again"));
}
kv_twins!(create_with_ttl_expires => create_with_ttl_expires_sluice, reference_create_with_ttl_expires);

/// `purge_with_ttl`: the purge marker itself goes away after its TTL.
async fn purge_with_ttl_marker_expires(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let kv = ttl_bucket(&js, "pttl", Duration::ZERO).await;
    for i in 0..3 {
        put(&kv, "gone", &format!("g{i}")).await;
        put(&kv, "kept", &format!("k{i}")).await;
    }
    assert_eq!(values(&js, "pttl").await, 6);
    kv.purge_with_ttl("gone", Duration::from_secs(1))
        .await
        .unwrap(); // 7
    assert_eq!(values(&js, "pttl").await, 4);
    let e = entry(&kv, "gone").await.unwrap();
    assert_eq!(seen(&e), s("gone", "", 7, Operation::Purge));
    assert_eq!(get(&kv, "gone").await, None);

    poll("the purge marker to expire", || async {
        values(&js, "pttl").await == 3
    })
    .await;
    assert!(entry(&kv, "gone").await.is_none());
    assert_eq!(history(&kv, "gone").await, vec![]);
    assert_eq!(keys(&kv).await, ["kept"]);
}
kv_twins!(purge_with_ttl_marker_expires => purge_with_ttl_marker_expires_sluice, reference_purge_with_ttl_marker_expires);

/// With limit markers, a value aging out of a `max_age` bucket leaves a marker that a
/// watcher sees as a Purge of that key; the marker goes away after its own TTL.
async fn max_age_marker_seen_by_watch(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let kv = ttl_bucket(&js, "aged", Duration::from_secs(1)).await;
    let mut w = kv.watch_all().await.unwrap();
    put(&kv, "k", "v").await; // 1
    assert_eq!(seen(&next(&mut w).await), s("k", "v", 1, Operation::Put));
    let e = next(&mut w).await;
    assert_eq!(
        (e.key.as_str(), text(&e).as_str(), e.operation),
        ("k", "", Operation::Purge)
    );
    assert!(e.revision > 1);
    assert_eq!(get(&kv, "k").await, None);
    poll("the marker to expire", || async {
        values(&js, "aged").await == 0
    })
    .await;
    assert!(entry(&kv, "k").await.is_none());
}
kv_twins!(max_age_marker_seen_by_watch => max_age_marker_seen_by_watch_sluice, reference_max_age_marker_seen_by_watch);
