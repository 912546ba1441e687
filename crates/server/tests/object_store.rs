//! The object store of async-nats as a user sees it: buckets (create with description,
//! max_bytes and storage; get; status through the bucket's stream; delete), puts (small,
//! empty, chunked, and one large object of 50 MiB whose bytes and SHA-256 digest are
//! checked), streamed gets, object info, list, delete, links to objects and to buckets,
//! watch, metadata updates (rename, description) and sealing.
//!
//! Each scenario runs against Sluice (`<name>`) and, ignored by default, against a real
//! nats-server (`reference_<name>`): `cargo test --test object_store -- --ignored
//! reference_` proves the expectations are nats-server's.

mod common;

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::object_store::{
    self, AddLinkErrorKind, GetErrorKind, InfoErrorKind, ObjectInfo, ObjectMetadata, ObjectStore,
    UpdateMetadata, UpdateMetadataErrorKind,
};
use async_nats::jetstream::stream::{DiscardPolicy, StorageType};
use async_nats::jetstream::{self, Context};
use common::jetstream::JsServer;
use common::DEADLINE;
use futures::StreamExt;
use tokio::io::AsyncReadExt;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

async fn bucket(js: &Context, name: &str) -> ObjectStore {
    js.create_object_store(object_store::Config {
        bucket: name.into(),
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("create bucket {name}: {e}"))
}

async fn put(store: &ObjectStore, meta: impl Into<ObjectMetadata>, data: &[u8]) -> ObjectInfo {
    let meta: ObjectMetadata = meta.into();
    let name = meta.name.clone();
    let mut reader = data;
    tokio::time::timeout(Duration::from_secs(60), store.put(meta, &mut reader))
        .await
        .unwrap_or_else(|_| panic!("put {name} timed out"))
        .unwrap_or_else(|e| panic!("put {name}: {e}"))
}

/// Gets `name` and reads it to the end (the client checks the digest as it reads).
async fn get_bytes(store: &ObjectStore, name: &str) -> Vec<u8> {
    let mut object = store
        .get(name)
        .await
        .unwrap_or_else(|e| panic!("get {name}: {e}"));
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), object.read_to_end(&mut out))
        .await
        .unwrap_or_else(|_| panic!("reading {name} timed out"))
        .unwrap_or_else(|e| panic!("read {name}: {e}"));
    out
}

async fn stream_info(js: &Context, bucket: &str) -> jetstream::stream::Info {
    js.get_stream(format!("OBJ_{bucket}"))
        .await
        .unwrap_or_else(|e| panic!("get stream OBJ_{bucket}: {e}"))
        .get_info()
        .await
        .unwrap_or_else(|e| panic!("stream info OBJ_{bucket}: {e}"))
}

/// Names of the objects `list` returns, sorted.
async fn list_names(store: &ObjectStore) -> Vec<String> {
    let list = store.list().await.expect("list");
    let infos: Vec<_> = tokio::time::timeout(DEADLINE, list.collect::<Vec<_>>())
        .await
        .expect("list ends within the deadline");
    let mut names: Vec<String> = infos
        .into_iter()
        .map(|i| i.expect("list entry").name)
        .collect();
    names.sort();
    names
}

/// `n` deterministic pseudo-random bytes (xorshift64*), different per `seed`.
fn pseudo_random(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(n);
    out
}

/// SHA-256 (FIPS 180-4), one shot.
fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut compress = |block: &[u8]| {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    };
    let mut blocks = data.chunks_exact(64);
    for block in &mut blocks {
        compress(block);
    }
    let mut tail = blocks.remainder().to_vec();
    tail.push(0x80);
    while tail.len() % 64 != 56 {
        tail.push(0);
    }
    tail.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in tail.chunks_exact(64) {
        compress(block);
    }
    let mut out = [0u8; 32];
    for (i, word) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// Base64 with the URL-safe alphabet and padding (how object digests are written).
fn base64_url(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The digest an object info carries for `data`: `SHA-256=<base64url>`.
fn digest_of(data: &[u8]) -> String {
    format!("SHA-256={}", base64_url(&sha256(data)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn digest_helpers_match_known_values() {
    assert_eq!(
        hex(&sha256(b"")),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        hex(&sha256(b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    // Two blocks of padding (56 bytes of input).
    assert_eq!(
        hex(&sha256(
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
        )),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    );
    assert_eq!(base64_url(b""), "");
    assert_eq!(base64_url(b"f"), "Zg==");
    assert_eq!(base64_url(b"fo"), "Zm8=");
    assert_eq!(base64_url(b"foo"), "Zm9v");
    assert_eq!(base64_url(&[0xfb, 0xff]), "-_8=");
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

// ---------------------------------------------------------------------------------------
// Buckets
// ---------------------------------------------------------------------------------------

async fn bucket_create_get_status_delete(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let mem = js
        .create_object_store(object_store::Config {
            bucket: "MEM".into(),
            description: Some("objects in memory".into()),
            max_bytes: 1 << 20,
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await
        .expect("create memory bucket");
    let file = js
        .create_object_store(object_store::Config {
            bucket: "FILE".into(),
            ..Default::default()
        })
        .await
        .expect("create file bucket");
    put(&mem, "a", b"in memory").await;
    put(&file, "b", b"on file").await;

    // Status: what the bucket's stream says.
    let info = stream_info(&js, "MEM").await;
    let c = &info.config;
    assert_eq!(c.name, "OBJ_MEM");
    assert_eq!(c.description.as_deref(), Some("objects in memory"));
    assert_eq!(c.max_bytes, 1 << 20);
    assert_eq!(c.storage, StorageType::Memory);
    assert_eq!(c.subjects, ["$O.MEM.C.>", "$O.MEM.M.>"]);
    assert_eq!(c.discard, DiscardPolicy::New);
    assert!(c.allow_rollup && c.allow_direct && !c.sealed);
    // One chunk and one meta message.
    assert_eq!(info.state.messages, 2);
    assert!(info.state.bytes > 0);
    let info = stream_info(&js, "FILE").await;
    assert_eq!(info.config.storage, StorageType::File);
    assert_eq!(info.config.max_bytes, -1);
    assert_eq!(info.config.description, None);
    assert_eq!(info.state.messages, 2);

    // Get: another handle on the same bucket sees its objects.
    let again = js.get_object_store("MEM").await.expect("get bucket");
    assert_eq!(get_bytes(&again, "a").await, b"in memory");
    assert!(js.get_object_store("NOPE").await.is_err());

    // Creating it again with the same config is fine (idempotent), with another is not.
    js.create_object_store(object_store::Config {
        bucket: "MEM".into(),
        description: Some("objects in memory".into()),
        max_bytes: 1 << 20,
        storage: StorageType::Memory,
        ..Default::default()
    })
    .await
    .expect("same config again");
    assert!(js
        .create_object_store(object_store::Config {
            bucket: "MEM".into(),
            storage: StorageType::File,
            ..Default::default()
        })
        .await
        .is_err());

    // Delete: the bucket and its stream are gone, the other bucket stays.
    js.delete_object_store("MEM").await.expect("delete bucket");
    assert!(js.get_object_store("MEM").await.is_err());
    assert!(js.get_stream("OBJ_MEM").await.is_err());
    assert!(js.delete_object_store("MEM").await.is_err());
    assert_eq!(get_bytes(&file, "b").await, b"on file");
}
js_twins!(bucket_create_get_status_delete => bucket_create_get_status_delete_sluice, reference_bucket_create_get_status_delete);

async fn max_bytes_refuses_a_put_that_does_not_fit(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let store = js
        .create_object_store(object_store::Config {
            bucket: "SMALL".into(),
            max_bytes: 4096,
            ..Default::default()
        })
        .await
        .expect("create bucket");
    put(&store, "fits", &[7u8; 1000]).await;
    let mut big: &[u8] = &[9u8; 8000];
    assert!(
        store.put("too-big", &mut big).await.is_err(),
        "a put beyond max_bytes fails (discard new)"
    );
    assert_eq!(
        store.info("too-big").await.unwrap_err().kind(),
        InfoErrorKind::NotFound
    );
    assert_eq!(get_bytes(&store, "fits").await, vec![7u8; 1000]);
}
js_twins!(max_bytes_refuses_a_put_that_does_not_fit => max_bytes_refuses_a_put_that_does_not_fit_sluice, reference_max_bytes_refuses_a_put_that_does_not_fit);

// ---------------------------------------------------------------------------------------
// Put, get, info
// ---------------------------------------------------------------------------------------

async fn put_get_and_info(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let store = bucket(&js, "B").await;
    let before = now_secs();

    // Small: one chunk.
    let small = put(&store, "small.txt", b"hello object").await;
    assert_eq!(
        (
            small.name.as_str(),
            small.bucket.as_str(),
            small.size,
            small.chunks
        ),
        ("small.txt", "B", 12, 1)
    );
    assert_eq!(
        small.digest.as_deref(),
        Some(digest_of(b"hello object").as_str())
    );
    assert_eq!(get_bytes(&store, "small.txt").await, b"hello object");

    // Empty: no chunk at all.
    let empty = put(&store, "empty", b"").await;
    assert_eq!((empty.size, empty.chunks), (0, 0));
    assert_eq!(empty.digest.as_deref(), Some(digest_of(b"").as_str()));
    assert!(get_bytes(&store, "empty").await.is_empty());

    // Chunked, with description, metadata and headers.
    let data = pseudo_random(10_500, 1);
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("X-Kind", "test");
    let meta = ObjectMetadata {
        name: "dir/chunked.bin".into(),
        description: Some("eleven chunks".into()),
        chunk_size: Some(1000),
        metadata: HashMap::from([("owner".to_string(), "sluice".to_string())]),
        headers: Some(headers),
    };
    let put_info = put(&store, meta, &data).await;
    assert_eq!((put_info.size, put_info.chunks), (10_500, 11));
    assert_eq!(
        put_info.options.as_ref().and_then(|o| o.max_chunk_size),
        Some(1000)
    );

    let info = store.info("dir/chunked.bin").await.expect("info");
    assert_eq!(info, put_info, "info returns what put stored");
    assert_eq!(info.name, "dir/chunked.bin");
    assert_eq!((info.size, info.chunks), (10_500, 11));
    assert_eq!(info.digest.as_deref(), Some(digest_of(&data).as_str()));
    assert_eq!(info.description.as_deref(), Some("eleven chunks"));
    assert_eq!(
        info.metadata.get("owner").map(String::as_str),
        Some("sluice")
    );
    assert_eq!(
        info.headers
            .as_ref()
            .and_then(|h| h.get("X-Kind"))
            .map(|v| v.as_str()),
        Some("test")
    );
    assert!(!info.deleted);
    let modified = info.modified.expect("modified").unix_timestamp();
    assert!(
        (before - 1..=now_secs() + 1).contains(&modified),
        "modified {modified} is now"
    );

    // The object a get returns carries the same info; reading it streams the chunks.
    let mut object = store.get("dir/chunked.bin").await.expect("get");
    assert_eq!(object.info(), &put_info);
    let mut got = Vec::new();
    object.read_to_end(&mut got).await.expect("read");
    assert_eq!(got, data);

    // Eleven chunks and three meta messages in the stream.
    let sinfo = stream_info(&js, "B").await;
    assert_eq!(sinfo.state.messages, 1 + 11 + 3);

    // A put under an existing name replaces the object and purges its old chunks.
    let replaced = put(&store, "dir/chunked.bin", b"short now").await;
    assert_ne!(replaced.nuid, put_info.nuid);
    assert_eq!(get_bytes(&store, "dir/chunked.bin").await, b"short now");
    common::jetstream::poll("old chunks purged", || async {
        stream_info(&js, "B").await.state.messages == 1 + 1 + 3
    })
    .await;

    // Missing objects.
    let err = store
        .get("missing")
        .await
        .expect_err("get of a missing object");
    assert_eq!(err.kind(), GetErrorKind::NotFound);
    let err = store
        .info("missing")
        .await
        .expect_err("info of a missing object");
    assert_eq!(err.kind(), InfoErrorKind::NotFound);
}
js_twins!(put_get_and_info => put_get_and_info_sluice, reference_put_get_and_info);

/// 50 MiB and a bit in default (128 KiB) chunks: the bytes read back and the digest are
/// the ones put.
async fn large_object(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let store = bucket(&js, "LARGE").await;
    let size = 50 * 1024 * 1024 + 12_345;
    let data = pseudo_random(size, 50);
    let want_digest = digest_of(&data);

    let info = put(&store, "large.bin", &data).await;
    assert_eq!(info.size, size);
    assert_eq!(info.chunks, size.div_ceil(128 * 1024));
    assert_eq!(info.digest.as_deref(), Some(want_digest.as_str()));

    let got = get_bytes(&store, "large.bin").await;
    assert_eq!(got.len(), size);
    assert!(got == data, "the bytes read back are the bytes put");
    assert_eq!(digest_of(&got), want_digest);

    let sinfo = stream_info(&js, "LARGE").await;
    assert_eq!(sinfo.state.messages, info.chunks as u64 + 1);
    assert!(sinfo.state.bytes > size as u64);
}
js_twins!(large_object => large_object_sluice, reference_large_object);

// ---------------------------------------------------------------------------------------
// List, delete
// ---------------------------------------------------------------------------------------

async fn list_and_delete(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let store = bucket(&js, "LD").await;
    assert!(
        list_names(&store).await.is_empty(),
        "an empty bucket lists nothing"
    );

    let a = put(&store, "a", b"1").await;
    let b = put(
        &store,
        ObjectMetadata {
            name: "b".into(),
            chunk_size: Some(2),
            ..Default::default()
        },
        b"22222",
    )
    .await;
    assert!(b.chunks > 1, "b is chunked: {} chunks", b.chunks);
    let c = put(&store, "c", b"333").await;
    assert_eq!(list_names(&store).await, ["a", "b", "c"]);

    store.delete("b").await.expect("delete");
    let err = store.get("b").await.expect_err("get after delete");
    assert_eq!(err.kind(), GetErrorKind::NotFound);
    // The client's info shows the delete marker: deleted, no size, no chunks.
    let info = store.info("b").await.expect("info of a deleted object");
    assert!(info.deleted);
    assert_eq!((info.size, info.chunks), (0, 0));
    assert_eq!(info.nuid, b.nuid);
    assert_eq!(list_names(&store).await, ["a", "c"]);

    // Its chunks are purged: the chunks of a and c and three meta messages remain.
    let sinfo = stream_info(&js, "LD").await;
    assert_eq!(sinfo.state.messages, (a.chunks + c.chunks + 3) as u64);

    // Deleting a missing object fails.
    assert!(store.delete("nope").await.is_err());

    // The name can be used again.
    put(&store, "b", b"back").await;
    assert_eq!(get_bytes(&store, "b").await, b"back");
    assert_eq!(list_names(&store).await, ["a", "b", "c"]);
}
js_twins!(list_and_delete => list_and_delete_sluice, reference_list_and_delete);

// ---------------------------------------------------------------------------------------
// Links
// ---------------------------------------------------------------------------------------

async fn links(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let store = bucket(&js, "L1").await;
    let other = bucket(&js, "L2").await;
    let target = put(&store, "target", b"linked bytes").await;
    let remote = put(&other, "remote", b"from the other bucket").await;

    // A link to an object in the same bucket.
    let link = store.add_link("ln", &target).await.expect("add_link");
    assert_eq!(link.name, "ln");
    assert_eq!((link.size, link.chunks), (0, 0));
    let info = store.info("ln").await.expect("info of a link");
    let to = info
        .options
        .as_ref()
        .and_then(|o| o.link.as_ref())
        .expect("a link");
    assert_eq!(
        (to.name.as_deref(), to.bucket.as_str()),
        (Some("target"), "L1")
    );
    assert_eq!(get_bytes(&store, "ln").await, b"linked bytes");

    // A link to an object in another bucket.
    store.add_link("far", &remote).await.expect("add_link");
    assert_eq!(get_bytes(&store, "far").await, b"from the other bucket");

    // A link to a bucket: info says so; get refuses it.
    store
        .add_bucket_link("bucket-link", "L2")
        .await
        .expect("add_bucket_link");
    let info = store.info("bucket-link").await.expect("info");
    let to = info.options.unwrap().link.expect("a link");
    assert_eq!((to.name, to.bucket.as_str()), (None, "L2"));
    let err = store
        .get("bucket-link")
        .await
        .expect_err("get of a bucket link");
    assert_eq!(err.kind(), GetErrorKind::BucketLink);

    // No link over an object, no link to a link.
    let err = store
        .add_link("target", &remote)
        .await
        .expect_err("name taken");
    assert_eq!(err.kind(), AddLinkErrorKind::AlreadyExists);
    let err = store
        .add_link("ln2", &info_of(&store, "ln").await)
        .await
        .expect_err("link to link");
    assert_eq!(err.kind(), AddLinkErrorKind::LinkToLink);

    // Links are listed like objects.
    assert_eq!(
        list_names(&store).await,
        ["bucket-link", "far", "ln", "target"]
    );

    // A link to a deleted object leads nowhere.
    store.delete("target").await.expect("delete target");
    let err = store
        .get("ln")
        .await
        .expect_err("get through a dangling link");
    assert_eq!(err.kind(), GetErrorKind::NotFound);
}
js_twins!(links => links_sluice, reference_links);

async fn info_of(store: &ObjectStore, name: &str) -> ObjectInfo {
    store
        .info(name)
        .await
        .unwrap_or_else(|e| panic!("info {name}: {e}"))
}

// ---------------------------------------------------------------------------------------
// Watch
// ---------------------------------------------------------------------------------------

async fn next_change(watch: &mut object_store::Watch) -> ObjectInfo {
    tokio::time::timeout(DEADLINE, watch.next())
        .await
        .expect("a change within the deadline")
        .expect("watch open")
        .expect("watch entry")
}

async fn watch_sees_puts_and_deletes(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let store = bucket(&js, "W").await;
    put(&store, "before", b"old").await;

    // `watch` starts with new changes only.
    let mut watch = store.watch().await.expect("watch");
    put(&store, "x", b"x1").await;
    let change = next_change(&mut watch).await;
    assert_eq!(
        (change.name.as_str(), change.size, change.deleted),
        ("x", 2, false)
    );
    put(&store, "y", b"yyy").await;
    let change = next_change(&mut watch).await;
    assert_eq!((change.name.as_str(), change.size), ("y", 3));
    store.delete("x").await.expect("delete");
    let change = next_change(&mut watch).await;
    assert_eq!((change.name.as_str(), change.deleted), ("x", true));

    // `watch_with_history` starts with the latest info of every object.
    let mut history = store
        .watch_with_history()
        .await
        .expect("watch_with_history");
    let mut seen = Vec::new();
    for _ in 0..3 {
        let c = next_change(&mut history).await;
        seen.push((c.name, c.deleted));
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            ("before".to_string(), false),
            ("x".to_string(), true),
            ("y".to_string(), false)
        ]
    );
    put(&store, "z", b"z").await;
    assert_eq!(next_change(&mut history).await.name, "z");
    assert_eq!(next_change(&mut watch).await.name, "z");
}
js_twins!(watch_sees_puts_and_deletes => watch_sees_puts_and_deletes_sluice, reference_watch_sees_puts_and_deletes);

// ---------------------------------------------------------------------------------------
// Metadata updates
// ---------------------------------------------------------------------------------------

async fn update_metadata_renames_and_describes(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let store = bucket(&js, "U").await;
    let data = pseudo_random(3000, 7);
    let original = put(
        &store,
        ObjectMetadata {
            name: "old".into(),
            description: Some("first".into()),
            chunk_size: Some(1024),
            ..Default::default()
        },
        &data,
    )
    .await;
    put(&store, "taken", b"t").await;

    // Description only.
    store
        .update_metadata(
            "old",
            UpdateMetadata {
                name: "old".into(),
                description: Some("second".into()),
                ..Default::default()
            },
        )
        .await
        .expect("update description");
    let info = info_of(&store, "old").await;
    assert_eq!(info.description.as_deref(), Some("second"));
    assert_eq!(
        (info.nuid.as_str(), info.chunks),
        (original.nuid.as_str(), 3)
    );

    // A rename onto an existing name is refused.
    let err = store
        .update_metadata(
            "old",
            UpdateMetadata {
                name: "taken".into(),
                ..Default::default()
            },
        )
        .await
        .expect_err("rename onto an existing object");
    assert_eq!(err.kind(), UpdateMetadataErrorKind::NameAlreadyInUse);

    // Rename: the old name is gone (its meta purged), the data follows the new name.
    let renamed = store
        .update_metadata(
            "old",
            UpdateMetadata {
                name: "new".into(),
                description: Some("renamed".into()),
                ..Default::default()
            },
        )
        .await
        .expect("rename");
    assert_eq!(renamed.name, "new");
    let err = store.info("old").await.expect_err("old name");
    assert_eq!(err.kind(), InfoErrorKind::NotFound);
    let info = info_of(&store, "new").await;
    assert_eq!(info.description.as_deref(), Some("renamed"));
    assert_eq!(info.digest, original.digest);
    assert_eq!(get_bytes(&store, "new").await, data);
    assert_eq!(list_names(&store).await, ["new", "taken"]);
}
js_twins!(update_metadata_renames_and_describes => update_metadata_renames_and_describes_sluice, reference_update_metadata_renames_and_describes);

// ---------------------------------------------------------------------------------------
// Seal
// ---------------------------------------------------------------------------------------

async fn seal_makes_the_bucket_read_only(server: &mut JsServer) {
    let (_client, js) = server.connect().await;
    let mut store = bucket(&js, "S").await;
    put(&store, "kept", b"still readable").await;

    store.seal().await.expect("seal");
    let info = stream_info(&js, "S").await;
    assert!(info.config.sealed);
    assert_eq!(info.state.messages, 2);

    let mut data: &[u8] = b"refused";
    assert!(store.put("new", &mut data).await.is_err(), "put after seal");
    assert!(store.delete("kept").await.is_err(), "delete after seal");
    assert_eq!(get_bytes(&store, "kept").await, b"still readable");
    assert_eq!(list_names(&store).await, ["kept"]);
    assert_eq!(stream_info(&js, "S").await.state.messages, 2);
}
js_twins!(seal_makes_the_bucket_read_only => seal_makes_the_bucket_read_only_sluice, reference_seal_makes_the_bucket_read_only);

// ---------------------------------------------------------------------------------------
// Restart
// ---------------------------------------------------------------------------------------

async fn objects_survive_a_restart(server: &mut JsServer) {
    let data = pseudo_random(300_000, 9);
    let info = {
        let (_client, js) = server.connect().await;
        let store = bucket(&js, "R").await;
        let info = put(&store, "big", &data).await;
        put(&store, "gone", b"deleted before the restart").await;
        store.delete("gone").await.expect("delete");
        store.add_link("ln", &info).await.expect("add_link");
        info
    };
    server.restart().await;

    let (_client, js) = server.connect().await;
    let store = js
        .get_object_store("R")
        .await
        .expect("bucket after restart");
    assert_eq!(info_of(&store, "big").await, info);
    assert_eq!(get_bytes(&store, "big").await, data);
    assert_eq!(get_bytes(&store, "ln").await, data);
    assert!(info_of(&store, "gone").await.deleted);
    assert_eq!(list_names(&store).await, ["big", "ln"]);
    put(&store, "after", b"new").await;
    assert_eq!(get_bytes(&store, "after").await, b"new");
}
js_twins!(objects_survive_a_restart => objects_survive_a_restart_sluice, reference_objects_survive_a_restart);

// ---------------------------------------------------------------------------------------
// Chunks at the payload limit
// ---------------------------------------------------------------------------------------

/// Chunks of exactly max_payload (1 MiB) are stored and read back; larger ones cannot
/// be published.
async fn chunks_at_max_payload(server: &mut JsServer) {
    let (client, js) = server.connect().await;
    let max = client.server_info().max_payload;
    assert_eq!(max, 1024 * 1024);
    let store = bucket(&js, "MAXP").await;
    let data = pseudo_random(3 * max, 3);
    let info = put(
        &store,
        ObjectMetadata {
            name: "max".into(),
            chunk_size: Some(max),
            ..Default::default()
        },
        &data,
    )
    .await;
    assert_eq!((info.size, info.chunks), (3 * max, 3));
    assert_eq!(get_bytes(&store, "max").await, data);

    let mut over: &[u8] = &data[..max + 1];
    let meta = ObjectMetadata {
        name: "over".into(),
        chunk_size: Some(max + 1),
        ..Default::default()
    };
    assert!(store.put(meta, &mut over).await.is_err());
    assert_eq!(
        store.info("over").await.unwrap_err().kind(),
        InfoErrorKind::NotFound
    );
}
js_twins!(chunks_at_max_payload => chunks_at_max_payload_sluice, reference_chunks_at_max_payload);
