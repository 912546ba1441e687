//! The key-value store of async-nats (0.51) as a user sees it: buckets (create, get,
//! config, status, delete), put/get/entry/entry_for_revision, create-if-absent, update
//! (compare-and-set), delete and purge (with expected revisions), history and its limit,
//! keys, persistence across a restart. Watches: `kv_watch.rs`; expiry: `kv_expiry.rs`.
//!
//! Each scenario runs against Sluice (`<name>`) and, ignored by default, against a real
//! nats-server (`reference_<name>`): `cargo test --test kv_basic -- --ignored reference_`
//! proves the expectations are nats-server's.
//!
//! Note on the client: `Store::status()` returns the stream info cached when the store
//! handle was made, so a fresh count of values needs a fresh handle (`get_key_value`).

mod common;
mod kv_support;

use std::time::Duration;

use async_nats::jetstream::context::{CreateKeyValueErrorKind, KeyValueErrorKind};
use async_nats::jetstream::kv::{self, CreateErrorKind, Operation, PutErrorKind, UpdateErrorKind};
use async_nats::jetstream::stream::{Compression, DiscardPolicy, StorageType};
use async_nats::jetstream::Context;
use common::jetstream::JsServer;
use kv_support::*;

// ---------------------------------------------------------------------------------------
// Buckets
// ---------------------------------------------------------------------------------------

/// A bucket's settings land in its stream (`KV_<bucket>`) as nats-server maps them, and
/// `get_key_value` finds it again with the same settings.
async fn create_and_get_bucket(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let kv = js
        .create_key_value(kv::Config {
            bucket: "settings".into(),
            description: "a described bucket".into(),
            history: 5,
            max_age: Duration::from_secs(3600),
            max_value_size: 1024,
            max_bytes: 1 << 20,
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (kv.name.as_str(), kv.stream_name.as_str()),
        ("settings", "KV_settings")
    );

    for store in [kv.clone(), js.get_key_value("settings").await.unwrap()] {
        let c = &store.stream.cached_info().config;
        assert_eq!(c.name, "KV_settings");
        assert_eq!(c.subjects, vec!["$KV.settings.>".to_string()]);
        assert_eq!(c.description.as_deref(), Some("a described bucket"));
        assert_eq!(c.max_messages_per_subject, 5);
        assert_eq!(c.max_age, Duration::from_secs(3600));
        assert_eq!(c.max_message_size, 1024);
        assert_eq!(c.max_bytes, 1 << 20);
        assert_eq!(c.storage, StorageType::Memory);
        assert_eq!(c.discard, DiscardPolicy::New);
        assert!(c.allow_rollup && c.deny_delete && !c.deny_purge && c.allow_direct);
        assert_eq!(c.compression, Some(Compression::None));
        assert!(!c.allow_message_ttl);
        assert_eq!(c.subject_delete_marker_ttl, None);

        let status = store.status().await.unwrap();
        assert_eq!(status.bucket(), "settings");
        assert_eq!(status.history(), 5);
        assert_eq!(status.max_age(), Duration::from_secs(3600));
        assert_eq!(status.values(), 0);
    }

    // History 0 means 1; file storage is the default.
    let plain = bucket(&js, "plain", 0).await;
    let c = &plain.stream.cached_info().config;
    assert_eq!(c.max_messages_per_subject, 1);
    assert_eq!(c.storage, StorageType::File);
    assert_eq!(c.max_age, Duration::ZERO);
    assert_eq!(c.max_message_size, -1);

    // Creating it again with the same settings is fine; with other settings it fails.
    bucket(&js, "plain", 1).await;
    let err = js.create_key_value(config("plain", 7)).await.unwrap_err();
    assert_eq!(err.kind(), CreateKeyValueErrorKind::BucketCreate, "{err}");

    // A bucket that does not exist.
    let err = js.get_key_value("missing").await.unwrap_err();
    assert_eq!(err.kind(), KeyValueErrorKind::GetBucket, "{err}");
}
kv_twins!(create_and_get_bucket => create_and_get_bucket_sluice, reference_create_and_get_bucket);

/// A compressed bucket (S2) says so in its config.
async fn compressed_bucket(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let kv = js
        .create_key_value(kv::Config {
            bucket: "squeezed".into(),
            compression: true,
            ..Default::default()
        })
        .await
        .unwrap();
    put(&kv, "k", &"x".repeat(1000)).await;
    assert_eq!(get(&kv, "k").await, Some("x".repeat(1000)));
    let kv = js.get_key_value("squeezed").await.unwrap();
    let status = kv.status().await.unwrap();
    assert_eq!(status.info.config.compression, Some(Compression::S2));
    assert_eq!(status.values(), 1);
}
kv_twins!(compressed_bucket => compressed_bucket_sluice, reference_compressed_bucket);

/// Status counts every message (old revisions, delete and purge markers); the handle's
/// own `status()` is the info from when the handle was made.
async fn bucket_status(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let kv = bucket(&js, "stat", 10).await;
    for i in 0..3 {
        put(&kv, "a", &format!("a{i}")).await;
        put(&kv, "b", &format!("b{i}")).await;
    }
    put(&kv, "c", "c").await;
    // The handle made at creation still reports the empty bucket (client-side cache).
    assert_eq!(kv.status().await.unwrap().values(), 0);
    assert_eq!(values(&js, "stat").await, 7);

    // Delete adds a marker; purge replaces the key's messages with one marker.
    kv.delete("c").await.unwrap();
    assert_eq!(values(&js, "stat").await, 8);
    kv.purge("a").await.unwrap();
    assert_eq!(values(&js, "stat").await, 6);

    let status = js
        .get_key_value("stat")
        .await
        .unwrap()
        .status()
        .await
        .unwrap();
    assert_eq!(status.bucket(), "stat");
    assert_eq!(status.history(), 10);
    assert_eq!(status.max_age(), Duration::ZERO);
    let state = &status.info.state;
    assert_eq!((state.first_sequence, state.last_sequence), (2, 9));
    assert_eq!(state.subjects_count, 3);
}
kv_twins!(bucket_status => bucket_status_sluice, reference_bucket_status);

/// Deleting a bucket: it is gone for `get_key_value`, writes through an old handle fail,
/// and a new bucket of the same name starts empty at revision 1.
async fn delete_bucket(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let kv = bucket(&js, "doomed", 1).await;
    put(&kv, "k", "v").await;
    put(&kv, "k", "w").await;
    assert!(js.delete_key_value("doomed").await.unwrap().success);

    let err = js.get_key_value("doomed").await.unwrap_err();
    assert_eq!(err.kind(), KeyValueErrorKind::GetBucket, "{err}");
    let err = kv.put("k", "x".into()).await.unwrap_err();
    assert_eq!(err.kind(), PutErrorKind::Ack, "{err}");
    assert!(kv.get("k").await.is_err());
    let Err(err) = js.delete_key_value("doomed").await else {
        panic!("deleting a deleted bucket succeeded");
    };
    assert_eq!(err.kind(), KeyValueErrorKind::JetStream, "{err}");

    let kv = bucket(&js, "doomed", 1).await;
    assert_eq!(get(&kv, "k").await, None);
    assert_eq!(put(&kv, "k", "again").await, 1);
}
kv_twins!(delete_bucket => delete_bucket_sluice, reference_delete_bucket);

// ---------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------

/// Put returns the revision (the bucket-wide sequence); get and entry read the latest.
async fn put_get_entry(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let kv = bucket(&js, "vals", 5).await;
    let before = unix_now();
    assert_eq!(put(&kv, "a", "1").await, 1);
    assert_eq!(put(&kv, "b.c", "2").await, 2);
    assert_eq!(put(&kv, "a", "3").await, 3);
    assert_eq!(put(&kv, "x/y_z-=.w", "").await, 4);
    let after = unix_now();

    assert_eq!(get(&kv, "a").await.as_deref(), Some("3"));
    assert_eq!(get(&kv, "b.c").await.as_deref(), Some("2"));
    assert_eq!(get(&kv, "x/y_z-=.w").await.as_deref(), Some(""));
    assert_eq!(get(&kv, "nope").await, None);
    assert!(entry(&kv, "nope").await.is_none());

    let e = entry(&kv, "a").await.unwrap();
    assert_eq!(seen(&e), s("a", "3", 3, Operation::Put));
    assert_eq!((e.bucket.as_str(), e.delta), ("vals", 0));
    let created = e.created.unix_timestamp();
    assert!(
        (before - 1..=after + 1).contains(&created),
        "created {created} not within [{before}, {after}]"
    );
    let first = kv.entry_for_revision("a", 1).await.unwrap().unwrap();
    assert!(first.created <= e.created);

    // Binary values come back as they went in.
    let bytes: Vec<u8> = (0..=255).collect();
    kv.put("bin", bytes.clone().into()).await.unwrap();
    assert_eq!(kv.get("bin").await.unwrap().unwrap().to_vec(), bytes);
}
kv_twins!(put_get_entry => put_get_entry_sluice, reference_put_get_entry);

/// A value over `max_value_size` is refused (the put's ack is an error) and not stored.
async fn max_value_size_refuses(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let kv = js
        .create_key_value(kv::Config {
            bucket: "small".into(),
            max_value_size: 16,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(put(&kv, "k", &"x".repeat(16)).await, 1);
    let err = kv.put("k", "y".repeat(17).into()).await.unwrap_err();
    assert_eq!(err.kind(), PutErrorKind::Ack, "{err}");
    assert_eq!(get(&kv, "k").await, Some("x".repeat(16)));
    assert_eq!(put(&kv, "k", "short").await, 2);
}
kv_twins!(max_value_size_refuses => max_value_size_refuses_sluice, reference_max_value_size_refuses);

/// The bytes a bucket holds (nats-server's count: 142 for a 100-byte value under a
/// 12-byte subject, 97 for a purge marker there).
async fn bytes(js: &Context, name: &str) -> u64 {
    let kv = js.get_key_value(name).await.unwrap();
    kv.status().await.unwrap().info.state.bytes
}

/// A bucket at its `max_bytes` refuses new values (discard new) and keeps the old ones.
async fn max_bytes_refuses(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let kv = js
        .create_key_value(kv::Config {
            bucket: "full".into(),
            max_bytes: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    let value = "v".repeat(100);
    let mut stored = 0;
    let err = loop {
        match kv.put(format!("k{stored:02}"), value.clone().into()).await {
            Ok(rev) => {
                stored += 1;
                assert_eq!(rev, stored);
                assert!(stored < 20, "max_bytes never refused a value");
            }
            Err(err) => break err,
        }
    };
    assert_eq!(err.kind(), PutErrorKind::Ack, "{err}");
    assert_eq!(stored, 7, "100-byte values that fit in 1000 bytes");
    assert_eq!(bytes(&js, "full").await, 994);
    assert_eq!(values(&js, "full").await, stored);
    assert_eq!(get(&kv, "k00").await, Some(value.clone()));
    // Purging keys makes room again (their markers are small).
    for k in ["k00", "k01", "k02", "k03"] {
        kv.purge(k).await.unwrap();
    }
    assert_eq!(values(&js, "full").await, 7);
    assert_eq!(bytes(&js, "full").await, 3 * 142 + 4 * 97);
    assert_eq!(put(&kv, "again", &value).await, 12);
}
kv_twins!(max_bytes_refuses => max_bytes_refuses_sluice, reference_max_bytes_refuses);

/// Bucket settings can be changed (`update_key_value`, `create_or_update_key_value`);
/// a lower history trims kept revisions.
async fn update_bucket_settings(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let kv = bucket(&js, "tune", 5).await;
    for i in 1..=4 {
        put(&kv, "k", &format!("v{i}")).await;
    }
    assert_eq!(history(&kv, "k").await.len(), 4);

    let kv = js
        .update_key_value(kv::Config {
            bucket: "tune".into(),
            history: 2,
            description: "tuned".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let status = kv.status().await.unwrap();
    assert_eq!(status.history(), 2);
    assert_eq!(status.info.config.description.as_deref(), Some("tuned"));
    let fresh = js.get_key_value("tune").await.unwrap();
    assert_eq!(fresh.status().await.unwrap().history(), 2);
    assert_eq!(
        history(&kv, "k").await,
        vec![
            s("k", "v3", 3, Operation::Put),
            s("k", "v4", 4, Operation::Put)
        ]
    );

    let kv = js
        .create_or_update_key_value(kv::Config {
            bucket: "tune".into(),
            history: 3,
            max_age: Duration::from_secs(600),
            ..Default::default()
        })
        .await
        .unwrap();
    let status = kv.status().await.unwrap();
    assert_eq!(
        (status.history(), status.max_age()),
        (3, Duration::from_secs(600))
    );
    assert_eq!(put(&kv, "k", "v5").await, 5);
    assert_eq!(history(&kv, "k").await.len(), 3);

    // create_or_update also creates.
    let new = js
        .create_or_update_key_value(config("brand_new", 2))
        .await
        .unwrap();
    assert_eq!(new.status().await.unwrap().history(), 2);

    // Updating a bucket that does not exist fails.
    let Err(err) = js.update_key_value(config("nothing", 1)).await else {
        panic!("updating a missing bucket succeeded");
    };
    assert_eq!(
        err.kind(),
        async_nats::jetstream::context::UpdateKeyValueErrorKind::NotFound,
        "{err}"
    );
}
kv_twins!(update_bucket_settings => update_bucket_settings_sluice, reference_update_bucket_settings);

/// Values, revisions, markers and history survive a restart of the server (file
/// storage); revisions go on from where they were.
async fn values_survive_restart(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let kv = bucket(&js, "durable", 3).await;
    put(&kv, "a", "a1").await; // 1
    put(&kv, "a", "a2").await; // 2
    put(&kv, "b", "b1").await; // 3
    kv.delete("b").await.unwrap(); // 4
    put(&kv, "c", "c1").await; // 5
    kv.purge("c").await.unwrap(); // 6
    put(&kv, "d", "d1").await; // 7

    server.restart().await;
    let (_client, js) = server.connect().await;
    let kv = js.get_key_value("durable").await.unwrap();
    assert_eq!(kv.status().await.unwrap().values(), 6);
    assert_eq!(get(&kv, "a").await.as_deref(), Some("a2"));
    assert_eq!(
        seen(&entry(&kv, "b").await.unwrap()),
        s("b", "", 4, Operation::Delete)
    );
    assert_eq!(
        seen(&entry(&kv, "c").await.unwrap()),
        s("c", "", 6, Operation::Purge)
    );
    assert_eq!(
        history(&kv, "a").await,
        vec![
            s("a", "a1", 1, Operation::Put),
            s("a", "a2", 2, Operation::Put)
        ]
    );
    assert_eq!(get(&kv, "d").await.as_deref(), Some("d1"));
    assert_eq!(kv.update("d", "d2".into(), 7).await.unwrap(), 8);
    let err = kv.create("a", "x".into()).await.unwrap_err();
    assert_eq!(err.kind(), CreateErrorKind::AlreadyExists, "{err}");
}
kv_twins!(values_survive_restart => values_survive_restart_sluice, reference_values_survive_restart);

/// Many keys rolling over their history: each put past the third drops the key's
/// oldest revision, so the server must find the next oldest among other keys' puts
/// (and again after a restart, which rebuilds its indexes).
async fn history_rolls_over_across_many_keys(server: &mut JsServer) {
    const KEYS: u64 = 200;
    let (_client, js) = server.connect().await;
    let kv = bucket(&js, "roll", 3).await;
    let put_round = |round: u64| {
        let kv = kv.clone();
        async move {
            for k in 0..KEYS {
                put(&kv, &format!("k{k}"), &format!("r{round}")).await;
            }
        }
    };
    // Key k's revision in round r (rounds put every key in order, from 1).
    let revision = |round: u64, k: u64| round * KEYS + k + 1;
    let expect = |kv: kv::Store, last_round: u64| async move {
        for k in (0..KEYS).step_by(7) {
            let key = format!("k{k}");
            let want: Vec<_> = (last_round - 2..=last_round)
                .map(|r| s(&key, &format!("r{r}"), revision(r, k), Operation::Put))
                .collect();
            assert_eq!(history(&kv, &key).await, want, "history of {key}");
        }
    };
    for round in 0..5 {
        put_round(round).await;
    }
    expect(kv.clone(), 4).await;
    assert_eq!(values(&js, "roll").await, KEYS * 3);

    server.restart().await;
    let (_client, js) = server.connect().await;
    let kv = js.get_key_value("roll").await.unwrap();
    expect(kv.clone(), 4).await;
    for k in 0..KEYS {
        put(&kv, &format!("k{k}"), "r5").await;
    }
    expect(kv.clone(), 5).await;
    assert_eq!(values(&js, "roll").await, KEYS * 3);
}
kv_twins!(history_rolls_over_across_many_keys => history_rolls_over_across_many_keys_sluice, reference_history_rolls_over_across_many_keys);

/// `entry_for_revision` reads a kept revision of that key; a revision of another key, a
/// revision the history limit dropped, and one not yet written read as nothing.
async fn entry_for_revision(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let kv = bucket(&js, "revs", 2).await;
    put(&kv, "k", "v1").await; // 1
    put(&kv, "other", "o").await; // 2
    put(&kv, "k", "v2").await; // 3
    put(&kv, "k", "v3").await; // 4 (drops revision 1: history 2)

    let e = kv.entry_for_revision("k", 3).await.unwrap().unwrap();
    assert_eq!(seen(&e), s("k", "v2", 3, Operation::Put));
    let e = kv.entry_for_revision("k", 4).await.unwrap().unwrap();
    assert_eq!(seen(&e), s("k", "v3", 4, Operation::Put));
    assert!(kv.entry_for_revision("k", 2).await.unwrap().is_none());
    assert!(kv.entry_for_revision("k", 1).await.unwrap().is_none());
    assert!(kv.entry_for_revision("k", 99).await.unwrap().is_none());

    kv.delete("k").await.unwrap(); // 5
    let e = kv.entry_for_revision("k", 5).await.unwrap().unwrap();
    assert_eq!(seen(&e), s("k", "", 5, Operation::Delete));
}
kv_twins!(entry_for_revision => entry_for_revision_sluice, reference_entry_for_revision);

/// `create` writes only a key that is absent (never written, deleted or purged).
async fn create_only_if_absent(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let kv = bucket(&js, "once", 5).await;
    assert_eq!(kv.create("k", "first".into()).await.unwrap(), 1);
    let err = kv.create("k", "second".into()).await.unwrap_err();
    assert_eq!(err.kind(), CreateErrorKind::AlreadyExists, "{err}");
    assert_eq!(get(&kv, "k").await.as_deref(), Some("first"));

    kv.delete("k").await.unwrap(); // 2
    assert_eq!(kv.create("k", "after delete".into()).await.unwrap(), 3);
    let err = kv.create("k", "again".into()).await.unwrap_err();
    assert_eq!(err.kind(), CreateErrorKind::AlreadyExists, "{err}");

    kv.purge("k").await.unwrap(); // 4
    assert_eq!(kv.create("k", "after purge".into()).await.unwrap(), 5);
    assert_eq!(get(&kv, "k").await.as_deref(), Some("after purge"));
    assert_eq!(kv.create("other", "o".into()).await.unwrap(), 6);
}
kv_twins!(create_only_if_absent => create_only_if_absent_sluice, reference_create_only_if_absent);

/// `update` is compare-and-set on the key's last revision.
async fn update_compare_and_set(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let kv = bucket(&js, "cas", 5).await;
    let r1 = put(&kv, "k", "v1").await;
    put(&kv, "noise", "n").await;
    let r2 = kv.update("k", "v2".into(), r1).await.unwrap();
    assert_eq!(r2, 3);
    assert_eq!(get(&kv, "k").await.as_deref(), Some("v2"));

    for stale in [r1, 0, 2, 99] {
        let err = kv.update("k", "lost".into(), stale).await.unwrap_err();
        assert_eq!(
            err.kind(),
            UpdateErrorKind::WrongLastRevision,
            "rev {stale}: {err}"
        );
    }
    assert_eq!(get(&kv, "k").await.as_deref(), Some("v2"));
    assert_eq!(kv.update("k", "v3".into(), r2).await.unwrap(), 4);

    // Revision 0 means "the key has no value yet".
    assert_eq!(kv.update("fresh", "f".into(), 0).await.unwrap(), 5);
    let err = kv.update("absent", "a".into(), 4).await.unwrap_err();
    assert_eq!(err.kind(), UpdateErrorKind::WrongLastRevision, "{err}");
}
kv_twins!(update_compare_and_set => update_compare_and_set_sluice, reference_update_compare_and_set);

/// Delete keeps history and adds a Delete marker; purge drops the key's history for one
/// Purge marker. Both can insist on the key's last revision.
async fn delete_and_purge(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let kv = bucket(&js, "del", 10).await;
    put(&kv, "k", "v1").await; // 1
    put(&kv, "k", "v2").await; // 2
    put(&kv, "keep", "x").await; // 3

    kv.delete("k").await.unwrap(); // 4
    assert_eq!(get(&kv, "k").await, None);
    let e = entry(&kv, "k").await.unwrap();
    assert_eq!(seen(&e), s("k", "", 4, Operation::Delete));
    assert_eq!(
        history(&kv, "k").await,
        vec![
            s("k", "v1", 1, Operation::Put),
            s("k", "v2", 2, Operation::Put),
            s("k", "", 4, Operation::Delete),
        ]
    );

    let err = kv
        .delete_expect_revision("keep", Some(1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), UpdateErrorKind::WrongLastRevision, "{err}");
    assert_eq!(get(&kv, "keep").await.as_deref(), Some("x"));
    kv.delete_expect_revision("keep", Some(3)).await.unwrap(); // 5
    assert_eq!(get(&kv, "keep").await, None);

    put(&kv, "k", "v3").await; // 6
    let err = kv.purge_expect_revision("k", Some(4)).await.unwrap_err();
    assert_eq!(err.kind(), UpdateErrorKind::WrongLastRevision, "{err}");
    assert_eq!(get(&kv, "k").await.as_deref(), Some("v3"));
    kv.purge_expect_revision("k", Some(6)).await.unwrap(); // 7
    assert_eq!(get(&kv, "k").await, None);
    let e = entry(&kv, "k").await.unwrap();
    assert_eq!(seen(&e), s("k", "", 7, Operation::Purge));
    assert_eq!(
        history(&kv, "k").await,
        vec![s("k", "", 7, Operation::Purge)]
    );

    // A plain purge of a key never written leaves just its marker.
    kv.purge("never").await.unwrap(); // 8
    assert_eq!(
        history(&kv, "never").await,
        vec![s("never", "", 8, Operation::Purge)]
    );
    // Deleting needs no value either.
    kv.delete("ghost").await.unwrap(); // 9
    assert_eq!(
        seen(&entry(&kv, "ghost").await.unwrap()),
        s("ghost", "", 9, Operation::Delete)
    );
}
kv_twins!(delete_and_purge => delete_and_purge_sluice, reference_delete_and_purge);

/// History lists a key's kept revisions, oldest first; the bucket's history setting caps
/// how many are kept per key, separately for each key.
async fn history_and_its_limit(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let kv = bucket(&js, "hist", 3).await;
    for i in 1..=5 {
        put(&kv, "k", &format!("v{i}")).await; // 1, 3, 5, 7, 9
        put(&kv, "j", &format!("w{i}")).await; // 2, 4, 6, 8, 10
    }
    assert_eq!(
        history(&kv, "k").await,
        vec![
            s("k", "v3", 5, Operation::Put),
            s("k", "v4", 7, Operation::Put),
            s("k", "v5", 9, Operation::Put),
        ]
    );
    assert_eq!(
        history(&kv, "j").await,
        vec![
            s("j", "w3", 6, Operation::Put),
            s("j", "w4", 8, Operation::Put),
            s("j", "w5", 10, Operation::Put),
        ]
    );
    assert_eq!(history(&kv, "missing").await, vec![]);
    assert_eq!(values(&js, "hist").await, 6);

    // The delete marker counts as one of the kept revisions.
    kv.delete("k").await.unwrap(); // 11
    assert_eq!(
        history(&kv, "k").await,
        vec![
            s("k", "v4", 7, Operation::Put),
            s("k", "v5", 9, Operation::Put),
            s("k", "", 11, Operation::Delete),
        ]
    );

    // History 1 keeps only the latest.
    let one = bucket(&js, "one", 1).await;
    put(&one, "k", "a").await;
    put(&one, "k", "b").await;
    assert_eq!(
        history(&one, "k").await,
        vec![s("k", "b", 2, Operation::Put)]
    );
    assert!(one.entry_for_revision("k", 1).await.unwrap().is_none());
}
kv_twins!(history_and_its_limit => history_and_its_limit_sluice, reference_history_and_its_limit);

/// Keys lists keys whose latest value is a put: deleted and purged keys drop out.
async fn keys_of_bucket(server: &mut JsServer, history: i64) {
    let (_client, js) = server.connect().await;
    let kv = bucket(&js, "keys", history).await;
    assert_eq!(keys(&kv).await, Vec::<String>::new());
    for k in ["c", "a.b", "a.c", "b", "d"] {
        put(&kv, k, "v").await;
    }
    put(&kv, "b", "again").await;
    assert_eq!(keys(&kv).await, ["a.b", "a.c", "b", "c", "d"]);

    kv.delete("b").await.unwrap();
    kv.purge("a.c").await.unwrap();
    assert_eq!(keys(&kv).await, ["a.b", "c", "d"]);

    put(&kv, "b", "back").await;
    assert_eq!(keys(&kv).await, ["a.b", "b", "c", "d"]);

    for k in ["a.b", "b", "c", "d"] {
        kv.delete(k).await.unwrap();
    }
    assert_eq!(keys(&kv).await, Vec::<String>::new());
}

/// History 1: every key has just one message.
async fn keys_listing(server: &mut JsServer) {
    keys_of_bucket(server, 1).await;
}
kv_twins!(keys_listing => keys_listing_sluice, reference_keys_listing);

/// History 5: old revisions of rewritten keys stay in the stream (and are passed over).
async fn keys_listing_with_history(server: &mut JsServer) {
    keys_of_bucket(server, 5).await;
}
kv_twins!(
    keys_listing_with_history => keys_listing_with_history_sluice,
    reference_keys_listing_with_history
);

/// Keys of a bucket with many keys, all listed.
async fn keys_of_many(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let kv = bucket(&js, "lots", 1).await;
    let mut expected = Vec::new();
    for i in 0..500 {
        let key = format!("key.{i:04}");
        put(&kv, &key, "v").await;
        expected.push(key);
    }
    assert_eq!(keys(&kv).await, expected);
}
kv_twins!(keys_of_many => keys_of_many_sluice, reference_keys_of_many);
