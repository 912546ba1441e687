//! Helpers shared by the store's integration tests: a seeded generator, a copy of a
//! simulated filesystem image, and the invariant check every store must pass.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use sluice_store::vfs::OpenMode;
use sluice_store::{FileStore, FileStoreOptions, MessageStore, SimFs, StoredMessage, Vfs};

/// xorshift64*: deterministic, no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// What was appended, to compare loads against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub subject: String,
    pub headers: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub ts: i64,
}

impl Sent {
    pub fn random(rng: &mut Rng, i: u64) -> Sent {
        let subject = format!("s.{}.{}", rng.below(4), rng.below(3));
        let headers = rng
            .chance(30)
            .then(|| format!("NATS/1.0\r\nI: {i}\r\n\r\n").into_bytes());
        let len = if rng.chance(5) {
            rng.below(3000)
        } else {
            rng.below(120)
        };
        let payload = (0..len)
            .map(|k| (k as u8).wrapping_mul(31).wrapping_add(i as u8))
            .collect();
        Sent {
            subject,
            headers,
            payload,
            ts: 1_000_000 + i as i64,
        }
    }

    pub fn append(&self, store: &mut dyn MessageStore) -> Result<u64, sluice_store::StoreError> {
        store.append(
            &self.subject,
            self.headers.as_deref(),
            &self.payload,
            self.ts,
        )
    }

    pub fn matches(&self, m: &StoredMessage) -> bool {
        m.subject == self.subject
            && m.headers.as_deref() == self.headers.as_deref()
            && m.payload[..] == self.payload[..]
            && m.timestamp == self.ts
    }
}

/// Small segments and buffers so tests cross every boundary.
pub fn small_opts() -> FileStoreOptions {
    FileStoreOptions {
        segment_size: 2048,
        sync_always: false,
        write_buffer: 512,
        ..Default::default()
    }
}

pub fn open_sim(fs: &SimFs, dir: &str, opts: FileStoreOptions) -> FileStore {
    FileStore::open(Arc::new(fs.clone()), Path::new(dir), opts).expect("open")
}

/// A new simulated filesystem holding exactly the durable files of `dir` in `from`
/// (current contents, everything synced), so one image can be damaged many ways.
pub fn clone_dir(from: &SimFs, dir: &str, seed: u64) -> SimFs {
    let to = SimFs::new(seed);
    let d = Path::new(dir);
    to.create_dir_all(d).unwrap();
    to.sync_dir(Path::new("/")).unwrap();
    for name in from.list_dir(d).unwrap() {
        let p = d.join(&name);
        let bytes = from.read_file(&p).unwrap();
        let f = to.open(&p, OpenMode::CreateNew).unwrap();
        f.write_at(&bytes, 0).unwrap();
        f.sync_all().unwrap();
    }
    to.sync_dir(d).unwrap();
    to
}

/// Names of the segment files of `dir`, oldest first.
pub fn segments(fs: &SimFs, dir: &str) -> Vec<String> {
    let mut v: Vec<String> = fs
        .list_dir(Path::new(dir))
        .unwrap()
        .into_iter()
        .filter(|n| n.ends_with(".seg"))
        .collect();
    v.sort();
    v
}

/// Every live message, by sequence.
pub fn contents(store: &dyn MessageStore) -> BTreeMap<u64, StoredMessage> {
    let mut out = BTreeMap::new();
    let mut from = 0;
    while let Some(m) = store.load_next(from, None).expect("load_next") {
        from = m.seq + 1;
        out.insert(m.seq, m);
    }
    out
}

/// The counters agree with what the store serves.
pub fn check_invariants(store: &dyn MessageStore) {
    let st = store.state();
    let all = contents(store);
    let mut bytes = 0;
    let mut subjects: BTreeMap<String, u64> = BTreeMap::new();
    for m in all.values() {
        bytes += store.stored_size(
            &m.subject,
            m.headers.as_ref().map_or(0, |h| h.len()),
            m.payload.len(),
        );
        *subjects.entry(m.subject.clone()).or_default() += 1;
        assert_eq!(store.load(m.seq).unwrap().as_ref(), Some(m));
    }
    assert_eq!(st.msgs, all.len() as u64, "msgs");
    assert_eq!(st.bytes, bytes, "bytes");
    assert_eq!(store.subjects(">"), subjects, "subjects");
    assert_eq!(st.num_subjects, subjects.len() as u64);
    for (s, n) in &subjects {
        assert_eq!(store.subject_count(s), *n);
        let last = all.values().rev().find(|m| &m.subject == s).map(|m| m.seq);
        assert_eq!(
            store.load_last(s).unwrap().map(|m| m.seq),
            last,
            "load_last({s})"
        );
    }
    match all.keys().next() {
        Some(&first) => assert_eq!(st.first_seq, first, "first_seq"),
        None => assert_eq!(st.first_seq, st.last_seq + 1, "empty: first = last + 1"),
    }
    if let Some(&last) = all.keys().next_back() {
        assert!(st.last_seq >= last);
    }
    let deleted = store.deleted();
    assert_eq!(st.num_deleted, deleted.len() as u64, "num_deleted");
    assert_eq!(
        st.msgs + st.num_deleted,
        (st.last_seq + 1).saturating_sub(st.first_seq)
    );
}
