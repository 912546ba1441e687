//! The behaviour every `MessageStore` must share (nats-server's `store_test.go` idea):
//! each check is a function over a store factory, instantiated below for every store.

use std::any::Any;
use std::collections::BTreeMap;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sluice_store::vfs::PowerCut;
use sluice_store::{
    FileStore, FileStoreOptions, MemStore, MessageStore, RealFs, RecoveryReport, SimFs, StoreError,
    StoreState, StoredMessage, Vfs,
};

/// A store plus whatever must outlive it (a temporary directory, a simulated fs).
pub struct Harness {
    pub store: Box<dyn MessageStore>,
    _guard: Option<Box<dyn Any>>,
}

type Factory = fn() -> Harness;

fn mem() -> Harness {
    Harness {
        store: Box::new(MemStore::new()),
        _guard: None,
    }
}

/// Small segments so every suite crosses segment boundaries.
fn small_segments() -> FileStoreOptions {
    FileStoreOptions {
        segment_size: 4096,
        ..FileStoreOptions::default()
    }
}

fn file_real() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::open(
        Arc::new(RealFs::new()),
        &dir.path().join("s"),
        small_segments(),
    )
    .unwrap();
    Harness {
        store: Box::new(store),
        _guard: Some(Box::new(dir)),
    }
}

fn file_sim() -> Harness {
    let fs = SimFs::new(7);
    let store = FileStore::open(Arc::new(fs.clone()), Path::new("/s"), small_segments()).unwrap();
    Harness {
        store: Box::new(store),
        _guard: Some(Box::new(fs)),
    }
}

fn file_sim_sync_always() -> Harness {
    let fs = SimFs::new(8);
    let opts = FileStoreOptions {
        sync_always: true,
        ..small_segments()
    };
    let store = FileStore::open(Arc::new(fs.clone()), Path::new("/s"), opts).unwrap();
    Harness {
        store: Box::new(store),
        _guard: Some(Box::new(fs)),
    }
}

/// A file store that syncs, loses power and reopens after every mutation, and checks
/// that the state survived: every check then also proves restart fidelity.
struct Reopening {
    fs: SimFs,
    dir: PathBuf,
    inner: Option<FileStore>,
}

impl Reopening {
    fn inner(&self) -> &FileStore {
        self.inner.as_ref().unwrap()
    }

    fn cycle(&mut self) {
        let before: (StoreState, Vec<u64>) = (self.inner().state(), self.inner().deleted());
        self.inner.as_mut().unwrap().sync().unwrap();
        self.inner = None;
        self.fs.power_cut(PowerCut::DropUnsynced);
        let vfs: Arc<dyn Vfs> = Arc::new(self.fs.clone());
        let store = FileStore::open(vfs, &self.dir, small_segments()).unwrap();
        assert_eq!(
            store.recovery_report(),
            RecoveryReport::default(),
            "clean restart reports nothing"
        );
        assert_eq!(
            (store.state(), store.deleted()),
            before,
            "state after restart"
        );
        self.inner = Some(store);
    }
}

impl MessageStore for Reopening {
    fn append(&mut self, s: &str, h: Option<&[u8]>, p: &[u8], ts: i64) -> Result<u64, StoreError> {
        let r = self.inner.as_mut().unwrap().append(s, h, p, ts);
        self.cycle();
        r
    }
    fn sync(&mut self) -> Result<(), StoreError> {
        self.inner.as_mut().unwrap().sync()
    }
    fn load(&self, seq: u64) -> Result<Option<StoredMessage>, StoreError> {
        self.inner().load(seq)
    }
    fn load_next(&self, from: u64, f: Option<&str>) -> Result<Option<StoredMessage>, StoreError> {
        self.inner().load_next(from, f)
    }
    fn load_last(&self, f: &str) -> Result<Option<StoredMessage>, StoreError> {
        self.inner().load_last(f)
    }
    fn count_from(&self, from: u64, f: Option<&str>) -> u64 {
        self.inner().count_from(from, f)
    }
    fn remove(&mut self, seq: u64, erase: bool) -> Result<bool, StoreError> {
        let r = self.inner.as_mut().unwrap().remove(seq, erase);
        self.cycle();
        r
    }
    fn purge(
        &mut self,
        f: Option<&str>,
        b: Option<u64>,
        k: Option<u64>,
    ) -> Result<u64, StoreError> {
        let r = self.inner.as_mut().unwrap().purge(f, b, k);
        self.cycle();
        r
    }
    fn set_first_seq(&mut self, seq: u64) -> Result<(), StoreError> {
        let r = self.inner.as_mut().unwrap().set_first_seq(seq);
        self.cycle();
        r
    }
    fn state(&self) -> StoreState {
        self.inner().state()
    }
    fn deleted(&self) -> Vec<u64> {
        self.inner().deleted()
    }
    fn subjects(&self, f: &str) -> BTreeMap<String, u64> {
        self.inner().subjects(f)
    }
    fn last_seqs(&self, f: &str) -> Vec<u64> {
        self.inner().last_seqs(f)
    }
    fn subject_count(&self, s: &str) -> u64 {
        self.inner().subject_count(s)
    }
    fn stored_size(&self, s: &str, h: usize, p: usize) -> u64 {
        self.inner().stored_size(s, h, p)
    }
    fn recovery_report(&self) -> RecoveryReport {
        self.inner().recovery_report()
    }
    fn destroy(mut self: Box<Self>) -> Result<(), StoreError> {
        Box::new(self.inner.take().unwrap()).destroy()
    }
}

fn file_sim_reopening() -> Harness {
    let fs = SimFs::new(11);
    let dir = PathBuf::from("/r");
    let store = FileStore::open(Arc::new(fs.clone()), &dir, small_segments()).unwrap();
    Harness {
        store: Box::new(Reopening {
            fs,
            dir,
            inner: Some(store),
        }),
        _guard: None,
    }
}

fn msg(store: &dyn MessageStore, seq: u64) -> StoredMessage {
    store
        .load(seq)
        .unwrap()
        .unwrap_or_else(|| panic!("seq {seq} missing"))
}

/// Checks that the counters agree with what the store serves.
fn check_invariants(store: &dyn MessageStore) {
    let st = store.state();
    let mut seen = Vec::new();
    let mut bytes = 0;
    let mut subjects: BTreeMap<String, u64> = BTreeMap::new();
    let mut from = 0;
    while let Some(m) = store.load_next(from, None).unwrap() {
        assert!(m.seq >= from);
        bytes += store.stored_size(
            &m.subject,
            m.headers.as_ref().map_or(0, |h| h.len()),
            m.payload.len(),
        );
        *subjects.entry(m.subject.clone()).or_default() += 1;
        assert_eq!(store.load(m.seq).unwrap().as_ref(), Some(&m));
        seen.push(m.seq);
        from = m.seq + 1;
    }
    assert_eq!(st.msgs, seen.len() as u64, "msgs");
    assert_eq!(st.bytes, bytes, "bytes");
    assert_eq!(st.num_subjects, subjects.len() as u64, "num_subjects");
    assert_eq!(store.subjects(">"), subjects, "subjects()");
    for (s, n) in &subjects {
        assert_eq!(store.subject_count(s), *n);
    }
    match (seen.first(), seen.last()) {
        (Some(&first), Some(&last)) => {
            assert_eq!(st.first_seq, first, "first_seq");
            assert!(st.last_seq >= last);
            assert_eq!(st.first_ts, msg(store, first).timestamp);
        }
        _ => {
            assert_eq!(
                st.first_seq,
                st.last_seq + 1,
                "empty store: first = last + 1"
            );
            assert_eq!(st.first_ts, 0);
        }
    }
    let deleted = store.deleted();
    assert_eq!(
        st.num_deleted,
        deleted.len() as u64,
        "num_deleted vs deleted()"
    );
    for d in &deleted {
        assert!(*d >= st.first_seq && *d <= st.last_seq);
        assert!(store.load(*d).unwrap().is_none());
    }
    assert_eq!(
        st.msgs + st.num_deleted,
        (st.last_seq + 1).saturating_sub(st.first_seq)
    );
}

fn append(store: &mut dyn MessageStore, subject: &str, payload: &str) -> u64 {
    store
        .append(subject, None, payload.as_bytes(), 1000)
        .unwrap()
}

fn fill(store: &mut dyn MessageStore, subjects: &[&str]) {
    for (i, s) in subjects.iter().enumerate() {
        let seq = store
            .append(s, None, format!("m{}", i + 1).as_bytes(), 1000 + i as i64)
            .unwrap();
        assert_eq!(seq, i as u64 + 1);
    }
}

fn append_and_load(mk: Factory) {
    let mut h = mk();
    let s = h.store.as_mut();
    assert_eq!(s.state().first_seq, 1);
    assert_eq!(s.state().last_seq, 0);
    check_invariants(s);
    assert_eq!(s.append("a.b", None, b"hello", 11).unwrap(), 1);
    assert_eq!(
        s.append("a.c", Some(b"NATS/1.0\r\nk: v\r\n\r\n"), b"", 12)
            .unwrap(),
        2
    );
    assert_eq!(s.append("a.b", Some(b""), b"x", 13).unwrap(), 3);
    s.sync().unwrap();
    let m1 = msg(s, 1);
    assert_eq!(m1.subject, "a.b");
    assert_eq!(&m1.payload[..], b"hello");
    assert_eq!(m1.headers, None);
    assert_eq!(m1.timestamp, 11);
    let m2 = msg(s, 2);
    assert_eq!(
        m2.headers.as_deref(),
        Some(&b"NATS/1.0\r\nk: v\r\n\r\n"[..])
    );
    assert!(m2.payload.is_empty());
    // An empty header block is not the same as none.
    assert_eq!(msg(s, 3).headers.as_deref(), Some(&b""[..]));
    assert!(s.load(0).unwrap().is_none());
    assert!(s.load(4).unwrap().is_none());
    assert!(s.load(u64::MAX).unwrap().is_none());
    let st = s.state();
    assert_eq!(
        (st.msgs, st.first_seq, st.last_seq, st.first_ts, st.last_ts),
        (3, 1, 3, 11, 13)
    );
    assert_eq!(st.num_subjects, 2);
    let expect =
        s.stored_size("a.b", 0, 5) + s.stored_size("a.c", 18, 0) + s.stored_size("a.b", 0, 1);
    assert_eq!(st.bytes, expect);
    check_invariants(s);
}

fn large_and_many(mk: Factory) {
    let mut h = mk();
    let s = h.store.as_mut();
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    for i in 0..300u64 {
        let payload = if i % 100 == 50 {
            big.clone()
        } else {
            format!("p{i}").into_bytes()
        };
        let seq = s
            .append(&format!("s.{}", i % 7), None, &payload, i as i64)
            .unwrap();
        assert_eq!(seq, i + 1);
        if i % 37 == 0 {
            s.sync().unwrap();
        }
    }
    assert_eq!(&msg(s, 51).payload[..], &big[..]);
    assert_eq!(&msg(s, 300).payload[..], b"p299");
    for i in (1..=300).step_by(3) {
        assert!(s.remove(i, i % 2 == 0).unwrap());
    }
    check_invariants(s);
    assert_eq!(s.state().msgs, 200);
    assert_eq!(
        s.subject_count("s.3"),
        (0..300).filter(|i| i % 7 == 3 && i % 3 != 0).count() as u64
    );
}

fn count_from_filters(mk: Factory) {
    let mut h = mk();
    let s = h.store.as_mut();
    fill(s, &["a.1", "b.1", "a.2", "a.1.x", "b.2", "a.1"]);
    assert_eq!(s.count_from(0, None), 6);
    assert_eq!(s.count_from(3, None), 4);
    assert_eq!(s.count_from(2, Some("a.1")), 1);
    assert_eq!(s.count_from(1, Some("a.1")), 2);
    assert_eq!(s.count_from(1, Some("a.*")), 3);
    assert_eq!(s.count_from(1, Some("a.>")), 4);
    assert_eq!(s.count_from(1, Some("zz")), 0);
    s.remove(6, false).unwrap();
    assert_eq!(s.count_from(1, Some("a.1")), 1);
    assert_eq!(s.count_from(5, None), 1);
}

fn load_next_filters(mk: Factory) {
    let mut h = mk();
    let s = h.store.as_mut();
    fill(s, &["a.1", "b.1", "a.2", "a.1.x", "b.2", "a.1"]);
    let next =
        |s: &dyn MessageStore, from, f: Option<&str>| s.load_next(from, f).unwrap().map(|m| m.seq);
    assert_eq!(next(s, 0, None), Some(1));
    assert_eq!(next(s, 1, None), Some(1));
    assert_eq!(next(s, 2, None), Some(2));
    assert_eq!(next(s, 7, None), None);
    assert_eq!(next(s, 1, Some("a.1")), Some(1));
    assert_eq!(next(s, 2, Some("a.1")), Some(6));
    assert_eq!(next(s, 7, Some("a.1")), None);
    assert_eq!(next(s, 1, Some("a.*")), Some(1));
    assert_eq!(next(s, 2, Some("a.*")), Some(3));
    assert_eq!(next(s, 4, Some("a.*")), Some(6));
    assert_eq!(next(s, 1, Some("a.>")), Some(1));
    assert_eq!(next(s, 4, Some("a.>")), Some(4));
    assert_eq!(next(s, 2, Some("*.1")), Some(2));
    assert_eq!(next(s, 3, Some("*.1")), Some(6));
    assert_eq!(next(s, 1, Some(">")), Some(1));
    assert_eq!(next(s, 1, Some("")), Some(1));
    assert_eq!(next(s, 1, Some("c")), None);
    assert_eq!(next(s, 1, Some("c.>")), None);
    assert_eq!(next(s, 1, Some("*.*.*")), Some(4));
    // Deleted messages are skipped.
    assert!(s.remove(1, false).unwrap());
    assert!(s.remove(3, false).unwrap());
    assert_eq!(next(s, 0, None), Some(2));
    assert_eq!(next(s, 1, Some("a.*")), Some(6));
    assert_eq!(next(s, 1, Some("a.1")), Some(6));
    assert_eq!(s.load_next(2, Some("b.*")).unwrap().unwrap().payload, "m2");
}

fn load_last_filters(mk: Factory) {
    let mut h = mk();
    let s = h.store.as_mut();
    fill(s, &["a.1", "b.1", "a.2", "a.1.x", "b.2", "a.1", "c"]);
    let last = |s: &dyn MessageStore, f: &str| s.load_last(f).unwrap().map(|m| m.seq);
    assert_eq!(last(s, "a.1"), Some(6));
    assert_eq!(last(s, "a.2"), Some(3));
    assert_eq!(last(s, "b.*"), Some(5));
    assert_eq!(last(s, "a.>"), Some(6));
    assert_eq!(last(s, "*.*.*"), Some(4));
    assert_eq!(last(s, ">"), Some(7));
    assert_eq!(last(s, "d"), None);
    assert_eq!(last(s, "d.*"), None);
    assert!(s.remove(6, false).unwrap());
    assert_eq!(last(s, "a.1"), Some(1));
    assert_eq!(last(s, "a.*"), Some(3));
    assert!(s.remove(1, false).unwrap());
    assert_eq!(last(s, "a.1"), None);
    assert!(s.remove(7, false).unwrap());
    assert_eq!(last(s, ">"), Some(5));
    assert_eq!(s.load_last("a.2").unwrap().unwrap().payload, "m3");
}

fn remove_messages(mk: Factory) {
    let mut h = mk();
    let s = h.store.as_mut();
    fill(s, &["a", "b", "a", "b", "a"]);
    // Interior delete.
    assert!(s.remove(3, false).unwrap());
    assert!(!s.remove(3, false).unwrap());
    assert!(!s.remove(0, false).unwrap());
    assert!(!s.remove(99, false).unwrap());
    let st = s.state();
    assert_eq!(
        (st.msgs, st.first_seq, st.last_seq, st.num_deleted),
        (4, 1, 5, 1)
    );
    assert_eq!(s.deleted(), vec![3]);
    check_invariants(s);
    // Removing the first moves first_seq past the interior hole too.
    assert!(s.remove(1, false).unwrap());
    assert!(s.remove(2, true).unwrap());
    let st = s.state();
    assert_eq!(
        (st.msgs, st.first_seq, st.first_ts, st.num_deleted),
        (2, 4, 1003, 0)
    );
    assert!(s.load(2).unwrap().is_none());
    check_invariants(s);
    // Removing the last keeps last_seq; the hole at the end counts as deleted.
    assert!(s.remove(5, false).unwrap());
    let st = s.state();
    assert_eq!(
        (st.msgs, st.first_seq, st.last_seq, st.num_deleted),
        (1, 4, 5, 1)
    );
    assert_eq!(s.deleted(), vec![5]);
    assert_eq!(s.subjects(">"), BTreeMap::from([("b".to_string(), 1)]));
    check_invariants(s);
    assert!(s.remove(4, false).unwrap());
    let st = s.state();
    assert_eq!(
        (st.msgs, st.first_seq, st.last_seq, st.num_deleted, st.bytes),
        (0, 6, 5, 0, 0)
    );
    assert_eq!(st.num_subjects, 0);
    assert!(s.deleted().is_empty());
    check_invariants(s);
    assert_eq!(append(s, "c", "x"), 6);
    assert_eq!(s.state().first_seq, 6);
    check_invariants(s);
}

fn purge_all(mk: Factory) {
    let mut h = mk();
    let s = h.store.as_mut();
    fill(s, &["a", "b", "a", "c"]);
    assert!(s.remove(2, false).unwrap());
    assert_eq!(s.purge(None, None, None).unwrap(), 3);
    let st = s.state();
    assert_eq!(
        (
            st.msgs,
            st.bytes,
            st.first_seq,
            st.last_seq,
            st.num_deleted,
            st.num_subjects
        ),
        (0, 0, 5, 4, 0, 0)
    );
    assert!(s.subjects(">").is_empty());
    assert_eq!(s.subject_count("a"), 0);
    assert!(s.load_last("a").unwrap().is_none());
    check_invariants(s);
    assert_eq!(s.purge(None, None, None).unwrap(), 0);
    assert_eq!(append(s, "a", "z"), 5);
    check_invariants(s);
    // `>` and "" mean everything, with Some(0) meaning "unset" as in nats-server.
    assert_eq!(s.purge(Some(">"), Some(0), Some(0)).unwrap(), 1);
    assert_eq!(s.state().first_seq, 6);
    check_invariants(s);
}

fn purge_filtered(mk: Factory) {
    let mut h = mk();
    let s = h.store.as_mut();
    fill(s, &["a.1", "b.1", "a.2", "a.1", "b.2", "c"]);
    assert_eq!(s.purge(Some("a.1"), None, None).unwrap(), 2);
    assert_eq!(s.subject_count("a.1"), 0);
    assert_eq!(s.state().first_seq, 2);
    check_invariants(s);
    assert_eq!(s.purge(Some("b.*"), None, None).unwrap(), 2);
    let st = s.state();
    assert_eq!(
        (st.msgs, st.first_seq, st.last_seq, st.num_deleted),
        (2, 3, 6, 2)
    );
    assert_eq!(s.deleted(), vec![4, 5]);
    check_invariants(s);
    assert_eq!(s.purge(Some("x.>"), None, None).unwrap(), 0);
    assert_eq!(s.purge(Some("*"), None, None).unwrap(), 1);
    assert_eq!(s.state().last_seq, 6);
    assert_eq!(s.state().msgs, 1);
    check_invariants(s);
}

fn purge_before_seq(mk: Factory) {
    let mut h = mk();
    let s = h.store.as_mut();
    fill(s, &["a", "b", "a", "b", "a", "b"]);
    assert_eq!(s.purge(None, Some(3), None).unwrap(), 2);
    assert_eq!(s.state().first_seq, 3);
    check_invariants(s);
    assert_eq!(s.purge(Some("a"), Some(6), None).unwrap(), 2);
    assert_eq!(s.deleted(), vec![5]);
    assert_eq!(s.state().first_seq, 4);
    check_invariants(s);
    // A bound at or below first_seq removes nothing.
    assert_eq!(s.purge(None, Some(4), None).unwrap(), 0);
    // Up to and including the last message: the store empties, sequences stay.
    assert_eq!(s.purge(None, Some(7), None).unwrap(), 2);
    let st = s.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (0, 7, 6));
    check_invariants(s);
}

fn purge_before_seq_past_end(mk: Factory) {
    let mut h = mk();
    let s = h.store.as_mut();
    fill(s, &["a", "b", "c"]);
    // nats-server's Compact past the end: the next message gets `before_seq`.
    assert_eq!(s.purge(None, Some(100), None).unwrap(), 3);
    let st = s.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (0, 100, 99));
    check_invariants(s);
    assert_eq!(append(s, "a", "x"), 100);
    check_invariants(s);
    // A filtered purge never moves sequences.
    assert_eq!(s.purge(Some("a"), Some(1000), None).unwrap(), 1);
    assert_eq!(s.state().last_seq, 100);
    assert_eq!(append(s, "a", "y"), 101);
}

fn purge_keep(mk: Factory) {
    let mut h = mk();
    let s = h.store.as_mut();
    fill(s, &["a", "b", "a", "b", "a", "b", "a"]);
    assert_eq!(s.purge(Some("a"), None, Some(1)).unwrap(), 3);
    assert_eq!(s.subject_count("a"), 1);
    assert_eq!(s.load_last("a").unwrap().unwrap().seq, 7);
    check_invariants(s);
    assert_eq!(s.purge(Some("a"), None, Some(5)).unwrap(), 0);
    // Unfiltered keep: the newest N messages stay.
    assert_eq!(s.purge(None, None, Some(2)).unwrap(), 2);
    let st = s.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (2, 6, 7));
    check_invariants(s);
    assert_eq!(s.purge(None, None, Some(2)).unwrap(), 0);
    assert_eq!(s.purge(Some(">"), None, Some(1)).unwrap(), 1);
    assert_eq!(s.state().first_seq, 7);
    check_invariants(s);
}

fn set_first_seq(mk: Factory) {
    let mut h = mk();
    let s = h.store.as_mut();
    s.set_first_seq(1000).unwrap();
    let st = s.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (0, 1000, 999));
    check_invariants(s);
    assert_eq!(append(s, "a", "x"), 1000);
    assert_eq!(msg(s, 1000).payload, "x");
    assert!(s.set_first_seq(5).is_err());
    assert!(s.set_first_seq(2000).is_err(), "store not empty");
    check_invariants(s);
}

fn last_seqs_per_subject(mk: Factory) {
    let mut h = mk();
    let s = h.store.as_mut();
    fill(s, &["a.1", "a.2", "a.1", "b.1", "a.1.x", "a.1"]);
    let sorted = |mut v: Vec<u64>| {
        v.sort_unstable();
        v
    };
    assert_eq!(sorted(s.last_seqs(">")), vec![2, 4, 5, 6]);
    assert_eq!(sorted(s.last_seqs("a.*")), vec![2, 6]);
    assert_eq!(sorted(s.last_seqs("a.1")), vec![6]);
    assert!(s.last_seqs("z.*").is_empty());
    assert!(s.last_seqs("z").is_empty());
    // The last of a subject removed: its previous message is the last now.
    assert!(s.remove(6, false).unwrap());
    assert!(s.remove(2, false).unwrap());
    assert_eq!(sorted(s.last_seqs(">")), vec![3, 4, 5]);
    check_invariants(s);
}

fn subjects_and_counts(mk: Factory) {
    let mut h = mk();
    let s = h.store.as_mut();
    fill(s, &["a.1", "a.2", "a.1", "b.1", "a.1.x", "a.1"]);
    let all = s.subjects(">");
    assert_eq!(
        all,
        BTreeMap::from([
            ("a.1".to_string(), 3),
            ("a.2".to_string(), 1),
            ("b.1".to_string(), 1),
            ("a.1.x".to_string(), 1)
        ])
    );
    assert_eq!(
        s.subjects("a.*"),
        BTreeMap::from([("a.1".to_string(), 3), ("a.2".to_string(), 1)])
    );
    assert_eq!(
        s.subjects("*.1"),
        BTreeMap::from([("a.1".to_string(), 3), ("b.1".to_string(), 1)])
    );
    assert_eq!(s.subjects("a.1"), BTreeMap::from([("a.1".to_string(), 3)]));
    assert!(s.subjects("z").is_empty());
    assert_eq!(s.subject_count("a.1"), 3);
    assert_eq!(
        s.subject_count("a.*"),
        0,
        "subject_count takes a literal subject"
    );
    assert_eq!(s.subject_count("zzz"), 0);
    assert!(s.remove(2, false).unwrap());
    assert!(s.remove(1, false).unwrap());
    assert_eq!(s.subjects("a.*"), BTreeMap::from([("a.1".to_string(), 2)]));
    assert_eq!(s.state().num_subjects, 3);
    check_invariants(s);
}

fn stored_size_accounting(mk: Factory) {
    let mut h = mk();
    let s = h.store.as_mut();
    let hdr = b"NATS/1.0\r\na: b\r\n\r\n";
    s.append("x.y", Some(hdr), b"12345", 1).unwrap();
    s.append("x", None, b"", 2).unwrap();
    let sz1 = s.stored_size("x.y", hdr.len(), 5);
    let sz2 = s.stored_size("x", 0, 0);
    assert!(sz1 > 3 + hdr.len() as u64 + 5);
    assert_eq!(s.state().bytes, sz1 + sz2);
    assert!(s.remove(1, false).unwrap());
    assert_eq!(s.state().bytes, sz2);
    check_invariants(s);
}

fn random_ops_keep_invariants(mk: Factory) {
    let mut h = mk();
    let s = h.store.as_mut();
    // A small fixed LCG keeps this deterministic without a dependency.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = |n: u64| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) % n
    };
    for i in 0..2000u64 {
        match rnd(100) {
            0..=69 => {
                let subj = format!("t.{}.{}", rnd(5), rnd(3));
                let hdr = if rnd(4) == 0 {
                    Some(&b"NATS/1.0\r\n\r\n"[..])
                } else {
                    None
                };
                s.append(&subj, hdr, &vec![i as u8; rnd(300) as usize], i as i64)
                    .unwrap();
            }
            70..=89 => {
                let last = s.state().last_seq;
                s.remove(rnd(last + 2), rnd(2) == 0).unwrap();
            }
            90..=92 => {
                s.purge(Some(&format!("t.{}.*", rnd(5))), None, Some(rnd(3)))
                    .unwrap();
            }
            93 => {
                let st = s.state();
                s.purge(None, Some(st.first_seq + rnd(20)), None).unwrap();
            }
            94..=97 => s.sync().unwrap(),
            _ => {
                let from = rnd(s.state().last_seq + 2);
                let _ = s.load_next(from, Some("t.*.1")).unwrap();
            }
        }
        if i % 97 == 0 {
            check_invariants(s);
        }
    }
    check_invariants(s);
}

/// Instantiates every check for one store factory.
macro_rules! conformance {
    ($module:ident, $factory:expr) => {
        mod $module {
            use super::*;
            const MK: Factory = $factory;
            #[test]
            fn append_and_load() {
                super::append_and_load(MK)
            }
            #[test]
            fn large_and_many() {
                super::large_and_many(MK)
            }
            #[test]
            fn count_from_filters() {
                super::count_from_filters(MK)
            }
            #[test]
            fn load_next_filters() {
                super::load_next_filters(MK)
            }
            #[test]
            fn load_last_filters() {
                super::load_last_filters(MK)
            }
            #[test]
            fn remove_messages() {
                super::remove_messages(MK)
            }
            #[test]
            fn purge_all() {
                super::purge_all(MK)
            }
            #[test]
            fn purge_filtered() {
                super::purge_filtered(MK)
            }
            #[test]
            fn purge_before_seq() {
                super::purge_before_seq(MK)
            }
            #[test]
            fn purge_before_seq_past_end() {
                super::purge_before_seq_past_end(MK)
            }
            #[test]
            fn purge_keep() {
                super::purge_keep(MK)
            }
            #[test]
            fn set_first_seq() {
                super::set_first_seq(MK)
            }
            #[test]
            fn last_seqs_per_subject() {
                super::last_seqs_per_subject(MK)
            }
            #[test]
            fn subjects_and_counts() {
                super::subjects_and_counts(MK)
            }
            #[test]
            fn stored_size_accounting() {
                super::stored_size_accounting(MK)
            }
            #[test]
            fn random_ops_keep_invariants() {
                super::random_ops_keep_invariants(MK)
            }
        }
    };
}

conformance!(mem_store, mem);
conformance!(file_store_real_fs, file_real);
conformance!(file_store_sim_fs, file_sim);
conformance!(file_store_sync_always, file_sim_sync_always);
conformance!(file_store_restarted_after_every_op, file_sim_reopening);
