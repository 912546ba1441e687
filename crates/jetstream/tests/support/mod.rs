//! Test doubles and helpers for engine tests.
//!
//! `SimStore` is a memory store that keeps a separate "durable image": `sync` copies
//! the live state into it, and reopening a store (after the engine is dropped, as a
//! kill -9 would) starts from the image, so anything not synced is lost. A shared
//! control makes the next fsync fail. Byte accounting follows nats-server's file or
//! memory store formula.

#![allow(dead_code)]

pub mod replay;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::Value;
use sluice_jetstream::{Engine, EngineConfig, MemMetaStore, Outbound, StorageType, StoreFactory};
use sluice_store::{MessageStore, RecoveryReport, StoreError, StoreState, StoredMessage};
use sluice_subject::subject_matches;

#[derive(Debug, Clone, Default)]
pub struct Image {
    pub msgs: BTreeMap<u64, StoredMessage>,
    pub last_seq: u64,
    pub last_ts: i64,
}

#[derive(Debug, Default)]
pub struct Control {
    /// Durable images by stream name.
    pub images: BTreeMap<String, Image>,
    /// Streams whose next fsync fails.
    pub fail_sync: Vec<String>,
    /// Streams whose open store lost index pages: it refuses reads until reopened.
    pub lost_index: Vec<String>,
    /// fsyncs performed, by stream.
    pub syncs: BTreeMap<String, u64>,
    pub opens: BTreeMap<String, u64>,
}

pub type Shared = Arc<Mutex<Control>>;

pub struct SimStore {
    name: String,
    file: bool,
    live: Image,
    failed: bool,
    control: Shared,
}

fn matches(filter: Option<&str>, subject: &str) -> bool {
    filter.is_none_or(|f| subject_matches(f, subject))
}

impl SimStore {
    fn size_of(&self, m: &StoredMessage) -> u64 {
        self.stored_size(
            &m.subject,
            m.headers.as_ref().map_or(0, |h| h.len()),
            m.payload.len(),
        )
    }

    fn index_intact(&self) -> Result<(), StoreError> {
        if self.control.lock().unwrap().lost_index.contains(&self.name) {
            return Err(StoreError::IndexLost);
        }
        Ok(())
    }

    fn first_seq(&self) -> u64 {
        self.live
            .msgs
            .keys()
            .next()
            .copied()
            .unwrap_or(self.live.last_seq + 1)
    }
}

impl MessageStore for SimStore {
    fn append(
        &mut self,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        timestamp: i64,
    ) -> Result<u64, StoreError> {
        if self.failed {
            return Err(StoreError::Failed);
        }
        let seq = self.live.last_seq + 1;
        self.live.msgs.insert(
            seq,
            StoredMessage {
                seq,
                subject: subject.to_string(),
                headers: headers.map(Bytes::copy_from_slice),
                payload: Bytes::copy_from_slice(payload),
                timestamp,
            },
        );
        self.live.last_seq = seq;
        self.live.last_ts = timestamp;
        Ok(seq)
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        let mut c = self.control.lock().unwrap();
        *c.syncs.entry(self.name.clone()).or_default() += 1;
        if self.failed {
            return Err(StoreError::Failed);
        }
        if let Some(i) = c.fail_sync.iter().position(|n| *n == self.name) {
            c.fail_sync.remove(i);
            self.failed = true;
            return Err(StoreError::Io {
                path: format!("{}/msgs", self.name),
                source: std::io::Error::other("injected fsync failure"),
            });
        }
        c.images.insert(self.name.clone(), self.live.clone());
        Ok(())
    }

    fn load(&self, seq: u64) -> Result<Option<StoredMessage>, StoreError> {
        self.index_intact()?;
        Ok(self.live.msgs.get(&seq).cloned())
    }

    fn load_next(
        &self,
        from: u64,
        filter: Option<&str>,
    ) -> Result<Option<StoredMessage>, StoreError> {
        self.index_intact()?;
        Ok(self
            .live
            .msgs
            .range(from..)
            .map(|(_, m)| m)
            .find(|m| matches(filter, &m.subject))
            .cloned())
    }

    fn count_from(&self, from: u64, filter: Option<&str>) -> u64 {
        self.live
            .msgs
            .range(from..)
            .filter(|(_, m)| matches(filter, &m.subject))
            .count() as u64
    }

    fn load_last(&self, filter: &str) -> Result<Option<StoredMessage>, StoreError> {
        self.index_intact()?;
        Ok(self
            .live
            .msgs
            .values()
            .rev()
            .find(|m| subject_matches(filter, &m.subject))
            .cloned())
    }

    fn remove(&mut self, seq: u64, _erase: bool) -> Result<bool, StoreError> {
        if self.failed {
            return Err(StoreError::Failed);
        }
        Ok(self.live.msgs.remove(&seq).is_some())
    }

    fn purge(
        &mut self,
        filter: Option<&str>,
        before_seq: Option<u64>,
        keep: Option<u64>,
    ) -> Result<u64, StoreError> {
        if self.failed {
            return Err(StoreError::Failed);
        }
        let candidates: Vec<u64> = self
            .live
            .msgs
            .values()
            .filter(|m| matches(filter, &m.subject) && before_seq.is_none_or(|b| m.seq < b))
            .map(|m| m.seq)
            .collect();
        let keep = keep.unwrap_or(0).min(candidates.len() as u64) as usize;
        let doomed = candidates.len() - keep;
        for seq in &candidates[..doomed] {
            self.live.msgs.remove(seq);
        }
        // Compaction past the end moves the sequence forward.
        if filter.is_none() && keep == 0 {
            if let Some(b) = before_seq {
                if b > self.live.last_seq + 1 {
                    self.live.last_seq = b - 1;
                }
            }
        }
        Ok(doomed as u64)
    }

    fn set_first_seq(&mut self, seq: u64) -> Result<(), StoreError> {
        if !self.live.msgs.is_empty() || seq.max(1) <= self.live.last_seq {
            return Err(StoreError::SequenceInUse {
                requested: seq,
                last_seq: self.live.last_seq,
            });
        }
        self.live.last_seq = seq.max(1) - 1;
        Ok(())
    }

    fn state(&self) -> StoreState {
        let first_seq = self.first_seq();
        let msgs = self.live.msgs.len() as u64;
        let mut subjects = std::collections::BTreeSet::new();
        let mut bytes = 0;
        for m in self.live.msgs.values() {
            subjects.insert(m.subject.as_str());
            bytes += self.size_of(m);
        }
        StoreState {
            msgs,
            bytes,
            first_seq,
            first_ts: self.live.msgs.values().next().map_or(0, |m| m.timestamp),
            last_seq: self.live.last_seq,
            last_ts: self.live.last_ts,
            num_deleted: (self.live.last_seq + 1)
                .saturating_sub(first_seq)
                .saturating_sub(msgs),
            num_subjects: subjects.len() as u64,
        }
    }

    fn deleted(&self) -> Vec<u64> {
        let mut out = Vec::new();
        let mut expect = self.first_seq();
        for &seq in self.live.msgs.keys() {
            out.extend(expect..seq);
            expect = seq + 1;
        }
        if !self.live.msgs.is_empty() {
            out.extend(expect..=self.live.last_seq);
        }
        out
    }

    fn subjects(&self, filter: &str) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for m in self.live.msgs.values() {
            if subject_matches(filter, &m.subject) {
                *out.entry(m.subject.clone()).or_default() += 1;
            }
        }
        out
    }

    fn subject_count(&self, subject: &str) -> u64 {
        self.live
            .msgs
            .values()
            .filter(|m| m.subject == subject)
            .count() as u64
    }

    fn stored_size(&self, subject: &str, headers_len: usize, payload_len: usize) -> u64 {
        if self.file {
            let h = if headers_len > 0 { 4 + headers_len } else { 0 };
            (22 + subject.len() + h + payload_len + 8) as u64
        } else {
            (subject.len() + headers_len + payload_len + 16) as u64
        }
    }

    fn recovery_report(&self) -> RecoveryReport {
        RecoveryReport::default()
    }

    fn needs_reopen(&self) -> bool {
        self.index_intact().is_err()
    }

    fn destroy(self: Box<Self>) -> Result<(), StoreError> {
        self.control.lock().unwrap().images.remove(&self.name);
        Ok(())
    }
}

pub struct SimFactory {
    pub control: Shared,
}

impl StoreFactory for SimFactory {
    fn open(
        &mut self,
        stream: &str,
        storage: StorageType,
        _dir: &Path,
    ) -> Result<Box<dyn MessageStore>, StoreError> {
        let mut c = self.control.lock().unwrap();
        *c.opens.entry(stream.to_string()).or_default() += 1;
        // Opening rebuilds the index.
        c.lost_index.retain(|n| n != stream);
        // Memory stores never come back.
        let live = if storage == StorageType::File {
            c.images.get(stream).cloned().unwrap_or_default()
        } else {
            Image::default()
        };
        Ok(Box::new(SimStore {
            name: stream.to_string(),
            file: storage == StorageType::File,
            live,
            failed: false,
            control: self.control.clone(),
        }))
    }

    fn remove(&mut self, stream: &str, _dir: &Path) -> Result<(), StoreError> {
        self.control.lock().unwrap().images.remove(stream);
        Ok(())
    }
}

/// The store crate's own stores: `FileStore` on a `SimFs` for file streams,
/// `MemStore` for memory streams.
pub struct RealFactory {
    pub vfs: std::sync::Arc<dyn sluice_store::vfs::Vfs>,
}

impl StoreFactory for RealFactory {
    fn open(
        &mut self,
        _stream: &str,
        storage: StorageType,
        dir: &Path,
    ) -> Result<Box<dyn MessageStore>, StoreError> {
        Ok(match storage {
            StorageType::File => Box::new(sluice_store::FileStore::open(
                self.vfs.clone(),
                dir,
                sluice_store::FileStoreOptions::default(),
            )?),
            StorageType::Memory => Box::new(sluice_store::MemStore::new()),
        })
    }

    fn remove(&mut self, _stream: &str, dir: &Path) -> Result<(), StoreError> {
        let exists = self.vfs.exists(dir).map_err(|source| StoreError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        if exists {
            Box::new(sluice_store::FileStore::open(
                self.vfs.clone(),
                dir,
                sluice_store::FileStoreOptions::default(),
            )?)
            .destroy()?;
        }
        Ok(())
    }
}

/// An engine on the store crate's real stores over a simulated filesystem.
pub fn real_engine(fs: &sluice_store::SimFs, now: i64) -> (Engine, Vec<String>) {
    let vfs: std::sync::Arc<dyn sluice_store::vfs::Vfs> = std::sync::Arc::new(fs.clone());
    let dir = std::path::PathBuf::from("/data");
    vfs.create_dir_all(&dir).unwrap();
    let mut cfg = config(true);
    cfg.store_dir = dir.clone();
    Engine::open(
        cfg,
        Box::new(RealFactory { vfs: vfs.clone() }),
        Box::new(sluice_jetstream::FileMetaStore::with_vfs(vfs, dir)),
        now,
    )
    .unwrap()
}

/// An engine on simulated stores, with handles to reopen it on the same "disk".
pub struct Harness {
    pub engine: Engine,
    pub control: Shared,
    pub meta: MemMetaStore,
    pub log: Vec<String>,
    pub sync_always: bool,
    /// Set when running on the store crate's stores over this filesystem.
    pub real: Option<sluice_store::SimFs>,
}

pub const T0: i64 = 1_795_748_567_000_000_000;

pub fn config(sync_always: bool) -> EngineConfig {
    EngineConfig {
        store_dir: "/nonexistent/sluice".into(),
        max_memory: -1,
        max_store: -1,
        server_max_memory: -1,
        server_max_store: -1,
        sync_always,
        sync_interval: sluice_jetstream::engine::SYNC_INTERVAL,
        server_id: "NTEST".into(),
        server_name: "probe-srv".into(),
    }
}

impl Harness {
    pub fn new() -> Self {
        Self::with_config(config(true))
    }

    /// The store crate's `FileStore` (on `SimFs`) and `MemStore` instead of `SimStore`.
    pub fn with_real_stores() -> Self {
        let mut h = Self::new();
        let fs = sluice_store::SimFs::new(1);
        let (engine, log) = real_engine(&fs, T0);
        h.engine = engine;
        h.log = log;
        h.real = Some(fs);
        h
    }

    pub fn with_config(cfg: EngineConfig) -> Self {
        let control: Shared = Arc::default();
        let meta = MemMetaStore::new();
        let sync_always = cfg.sync_always;
        let (engine, log) = Engine::open(
            cfg,
            Box::new(SimFactory {
                control: control.clone(),
            }),
            Box::new(meta.clone()),
            T0,
        )
        .unwrap();
        Harness {
            engine,
            control,
            meta,
            log,
            sync_always,
            real: None,
        }
    }

    /// Drops the engine (unsynced writes are lost: a power cut, stricter than a kill)
    /// and opens a new one at `now`.
    pub fn restart(&mut self, now: i64) {
        if let Some(fs) = &self.real {
            fs.power_cut(sluice_store::vfs::PowerCut::DropUnsynced);
            let (engine, log) = real_engine(fs, now);
            self.engine = engine;
            self.log = log;
            return;
        }
        let mut cfg = config(self.sync_always);
        cfg.sync_always = self.sync_always;
        let (engine, log) = Engine::open(
            cfg,
            Box::new(SimFactory {
                control: self.control.clone(),
            }),
            Box::new(self.meta.clone()),
            now,
        )
        .unwrap();
        self.engine = engine;
        self.log = log;
    }

    /// An API request; returns the JSON of the single reply (after commit).
    pub fn api(&mut self, subject: &str, body: &str, now: i64) -> Value {
        self.engine
            .handle_api(subject, Some("_INBOX.r"), None, body.as_bytes(), now);
        let out = self.engine.commit();
        assert_eq!(
            out.len(),
            1,
            "expected one reply to {subject} {body}, got {out:?}"
        );
        assert_eq!(out[0].subject, "_INBOX.r");
        serde_json::from_slice(&out[0].payload).unwrap()
    }

    /// An API request; returns every reply raw.
    pub fn api_raw(
        &mut self,
        subject: &str,
        headers: Option<&[u8]>,
        body: &str,
        now: i64,
    ) -> Vec<Outbound> {
        self.engine
            .handle_api(subject, Some("_INBOX.r"), headers, body.as_bytes(), now);
        self.engine.commit()
    }

    /// Publishes with a reply and returns the PubAck text.
    pub fn publish(
        &mut self,
        subject: &str,
        headers: &[(&str, &str)],
        payload: &str,
        now: i64,
    ) -> String {
        let block = header_block(headers);
        self.engine.publish(
            subject,
            Some("_INBOX.ack"),
            block.as_deref(),
            payload.as_bytes(),
            now,
        );
        let out = self.engine.commit();
        assert_eq!(out.len(), 1, "expected one ack, got {out:?}");
        String::from_utf8(out[0].payload.to_vec()).unwrap()
    }

    pub fn fail_next_sync(&self, stream: &str) {
        self.control
            .lock()
            .unwrap()
            .fail_sync
            .push(stream.to_string());
    }

    /// Whether the engine logged a line containing `text` since the last look.
    pub fn logged(&mut self, text: &str) -> bool {
        self.engine.take_log().iter().any(|l| l.contains(text))
    }

    /// The stream's store loses index pages: it refuses reads until reopened.
    pub fn lose_index(&self, stream: &str) {
        self.control
            .lock()
            .unwrap()
            .lost_index
            .push(stream.to_string());
    }

    pub fn syncs(&self, stream: &str) -> u64 {
        self.control
            .lock()
            .unwrap()
            .syncs
            .get(stream)
            .copied()
            .unwrap_or(0)
    }
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

/// A `NATS/1.0` header block, or `None` for no headers.
pub fn header_block(headers: &[(&str, &str)]) -> Option<Vec<u8>> {
    if headers.is_empty() {
        return None;
    }
    let mut b = b"NATS/1.0\r\n".to_vec();
    for (k, v) in headers {
        b.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    b.extend_from_slice(b"\r\n");
    Some(b)
}

/// Replaces every RFC 3339 timestamp string except Go's zero time with "<ts>", so
/// responses compare with nats-server's.
pub fn mask_times(v: &mut Value) {
    match v {
        Value::String(s)
            if s != "0001-01-01T00:00:00Z"
                && sluice_jetstream::time::parse_rfc3339(s).is_some() =>
        {
            *s = "<ts>".into();
        }
        Value::Array(a) => a.iter_mut().for_each(mask_times),
        Value::Object(o) => o.values_mut().for_each(mask_times),
        _ => {}
    }
}
