//! Stream metadata (configuration and creation time): how it is encoded, and where it
//! is kept.
//!
//! A record is one line of framing and a JSON body:
//!
//! ```text
//! sluice-stream-meta 1 crc32=1a2b3c4d len=512
//! {"created":"2026-11-27T03:22:47.169628123Z","created_ns":1795...,"config":{...}}
//! ```
//!
//! The CRC-32 (IEEE) covers the body, so a torn or damaged file is recognised and
//! reported instead of loading a wrong configuration. Files are replaced atomically
//! (temporary file, fsync, rename, fsync of the directory), so a crash leaves either
//! the old or the new record.
//!
//! `FileMetaStore` works through the store crate's `Vfs`, so crash and fault tests on
//! `SimFs` cover metadata too. Memory streams are not persisted at all (as
//! nats-server, whose memory streams do not survive a restart).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sluice_store::vfs::{OpenMode, RealFs, Vfs};

use crate::api::types::StreamConfigJson;
use crate::stream::config::StreamConfig;

/// Why metadata could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("i/o error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("metadata write refused: {0}")]
    Refused(String),
}

/// Durable storage of stream metadata, one record per stream.
pub trait MetaStore: Send {
    /// Atomically replaces the record of `stream`; durable when it returns.
    fn write(&mut self, stream: &str, bytes: &[u8]) -> Result<(), MetaError>;
    /// Removes the record of `stream` (durably). Removing a missing record is not an
    /// error.
    fn remove(&mut self, stream: &str) -> Result<(), MetaError>;
    /// Every stored record, by stream name.
    fn list(&mut self) -> Result<Vec<(String, Vec<u8>)>, MetaError>;

    /// Atomically replaces one file of a consumer of `stream`; durable when it returns.
    fn write_consumer(
        &mut self,
        stream: &str,
        consumer: &str,
        file: ConsumerFile,
        bytes: &[u8],
    ) -> Result<(), MetaError>;
    /// Removes every file of a consumer (durably); missing is not an error.
    fn remove_consumer(&mut self, stream: &str, consumer: &str) -> Result<(), MetaError>;
    /// Consumers of `stream`: name, configuration record, state record (if written).
    fn list_consumers(&mut self, stream: &str) -> Result<Vec<ConsumerRecords>, MetaError>;
}

/// The two files of a persisted consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConsumerFile {
    /// Configuration and creation time (written on create and update).
    Config,
    /// Delivery and ack positions (written as they change, see `consumer::persist`).
    State,
}

impl ConsumerFile {
    fn name(self) -> &'static str {
        match self {
            ConsumerFile::Config => "meta.inf",
            ConsumerFile::State => "o.dat",
        }
    }
}

/// What is stored of one consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecords {
    pub name: String,
    pub config: Option<Vec<u8>>,
    pub state: Option<Vec<u8>>,
}

/// `<stream dir>/obs/<consumer>/`, nats-server's layout.
pub fn consumer_dir(store_dir: &Path, stream: &str, consumer: &str) -> PathBuf {
    stream_dir(store_dir, stream).join("obs").join(consumer)
}

/// `store_dir/jetstream/$G/streams/<name>/`, where a stream's files live (nats-server's
/// layout, `$G` being the global account).
pub fn stream_dir(store_dir: &Path, name: &str) -> PathBuf {
    streams_dir(store_dir).join(name)
}

fn streams_dir(store_dir: &Path) -> PathBuf {
    store_dir.join("jetstream").join("$G").join("streams")
}

const META_FILE: &str = "meta.inf";
#[cfg(test)]
const META_TMP: &str = "meta.inf.tmp";
const MAGIC: &str = "sluice-stream-meta 1";

#[derive(Serialize, Deserialize)]
struct MetaRecord {
    created: String,
    created_ns: i64,
    config: StreamConfigJson,
}

/// Encodes a stream's record.
pub fn encode(config: &StreamConfig, created: i64) -> Vec<u8> {
    let record = MetaRecord {
        created: crate::time::format_rfc3339_nanos(created),
        created_ns: created,
        config: config.to_json(None),
    };
    frame(MAGIC, &serde_json::to_vec(&record).unwrap_or_default())
}

/// Decodes a record: the stored configuration (to be checked again) and creation
/// time.
pub fn decode(bytes: &[u8]) -> Result<(StreamConfigJson, i64), String> {
    let body = unframe(MAGIC, bytes)?;
    let record: MetaRecord = serde_json::from_slice(body).map_err(|e| format!("bad JSON: {e}"))?;
    Ok((record.config, record.created_ns))
}

/// Frames a record body: `<magic> crc32=<hex> len=<n>\n<body>`.
pub fn frame(magic: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!("{magic} crc32={:08x} len={}\n", crc32(body), body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

/// The body of a framed record, if its header names `magic` and its length and
/// checksum match.
pub fn unframe<'a>(magic: &str, bytes: &'a [u8]) -> Result<&'a [u8], String> {
    let nl = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("no header line")?;
    let header = std::str::from_utf8(&bytes[..nl]).map_err(|_| "header is not text")?;
    let rest = header
        .strip_prefix(magic)
        .ok_or_else(|| format!("unknown format {header:?}"))?;
    let mut crc = None;
    let mut len = None;
    for field in rest.split_whitespace() {
        if let Some(v) = field.strip_prefix("crc32=") {
            crc = u32::from_str_radix(v, 16).ok();
        } else if let Some(v) = field.strip_prefix("len=") {
            len = v.parse::<usize>().ok();
        }
    }
    let (crc, len) = crc.zip(len).ok_or("bad header line")?;
    let body = &bytes[nl + 1..];
    if body.len() != len {
        return Err(format!("body has {} bytes, header says {len}", body.len()));
    }
    if crc32(body) != crc {
        return Err("checksum mismatch".into());
    }
    Ok(body)
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// CRC-32 (IEEE 802.3).
pub fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// Metadata in files under `store_dir/jetstream/$G/streams/<name>/meta.inf`, through
/// the store crate's `Vfs` (the real filesystem by default; `SimFs` in crash tests).
#[derive(Debug, Clone)]
pub struct FileMetaStore {
    vfs: Arc<dyn Vfs>,
    store_dir: PathBuf,
}

impl FileMetaStore {
    /// On the real filesystem.
    pub fn new(store_dir: impl Into<PathBuf>) -> Self {
        Self::with_vfs(Arc::new(RealFs::new()), store_dir)
    }

    pub fn with_vfs(vfs: Arc<dyn Vfs>, store_dir: impl Into<PathBuf>) -> Self {
        FileMetaStore {
            vfs,
            store_dir: store_dir.into(),
        }
    }

    /// Creates `dir` and makes every directory entry on the way there durable. The
    /// entries may exist without being durable yet (the store may just have created
    /// the directory), so the parents are synced every time; metadata is written
    /// rarely.
    fn create_dir_durable(&self, dir: &Path) -> Result<(), MetaError> {
        self.vfs.create_dir_all(dir).map_err(io_err(dir))?;
        for parent in dir.ancestors().skip(1) {
            if parent.as_os_str().is_empty() || parent.parent().is_none() {
                break;
            }
            self.vfs.sync_dir(parent).map_err(io_err(parent))?;
        }
        Ok(())
    }

    fn read_all(&self, path: &Path) -> Result<Option<Vec<u8>>, MetaError> {
        match self.vfs.exists(path) {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            // `<stray file>/meta.inf`: not a stream directory.
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => return Ok(None),
            Err(e) => return Err(io_err(path)(e)),
        }
        let f = match self.vfs.open(path, OpenMode::Read) {
            Ok(f) => f,
            // A directory entry that is not a readable file is not a record.
            Err(_) => return Ok(None),
        };
        let len = f.len().map_err(io_err(path))?;
        let mut buf = vec![0u8; len as usize];
        f.read_exact_at(&mut buf, 0).map_err(io_err(path))?;
        Ok(Some(buf))
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> MetaError + '_ {
    move |source| MetaError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl FileMetaStore {
    /// Replaces `dir/name` atomically: temporary file, fsync, rename, fsync of `dir`.
    fn replace_file(&self, dir: &Path, name: &str, bytes: &[u8]) -> Result<(), MetaError> {
        let tmp = dir.join(format!("{name}.tmp"));
        let dst = dir.join(name);
        let f = self
            .vfs
            .open(&tmp, OpenMode::Create)
            .map_err(io_err(&tmp))?;
        f.set_len(0).map_err(io_err(&tmp))?;
        f.write_at(bytes, 0).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        drop(f);
        self.vfs.rename(&tmp, &dst).map_err(io_err(&dst))?;
        self.vfs.sync_dir(dir).map_err(io_err(dir))
    }
}

impl MetaStore for FileMetaStore {
    fn write(&mut self, stream: &str, bytes: &[u8]) -> Result<(), MetaError> {
        let dir = stream_dir(&self.store_dir, stream);
        self.create_dir_durable(&dir)?;
        self.replace_file(&dir, META_FILE, bytes)
    }

    fn remove(&mut self, stream: &str) -> Result<(), MetaError> {
        let dir = stream_dir(&self.store_dir, stream);
        let path = dir.join(META_FILE);
        if !self.vfs.exists(&path).map_err(io_err(&path))? {
            return Ok(());
        }
        self.vfs.remove_file(&path).map_err(io_err(&path))?;
        self.vfs.sync_dir(&dir).map_err(io_err(&dir))
    }

    fn write_consumer(
        &mut self,
        stream: &str,
        consumer: &str,
        file: ConsumerFile,
        bytes: &[u8],
    ) -> Result<(), MetaError> {
        let dir = consumer_dir(&self.store_dir, stream, consumer);
        if file == ConsumerFile::Config || !self.vfs.exists(&dir).map_err(io_err(&dir))? {
            // The stream's directory is durable already (its metadata was written
            // there): `obs/<consumer>` needs its entry in `obs/` synced, and `obs/`
            // its entry in the stream's directory when it is new.
            let obs = dir.parent().unwrap_or(&dir);
            let new_obs = !self.vfs.exists(obs).map_err(io_err(obs))?;
            self.vfs.create_dir_all(&dir).map_err(io_err(&dir))?;
            let depth = if new_obs { 2 } else { 1 };
            for parent in dir.ancestors().skip(1).take(depth) {
                self.vfs.sync_dir(parent).map_err(io_err(parent))?;
            }
        }
        self.replace_file(&dir, file.name(), bytes)
    }

    fn remove_consumer(&mut self, stream: &str, consumer: &str) -> Result<(), MetaError> {
        let dir = consumer_dir(&self.store_dir, stream, consumer);
        if !self.vfs.exists(&dir).map_err(io_err(&dir))? {
            return Ok(());
        }
        for name in self.vfs.list_dir(&dir).map_err(io_err(&dir))? {
            let path = dir.join(name);
            self.vfs.remove_file(&path).map_err(io_err(&path))?;
        }
        self.vfs.remove_dir(&dir).map_err(io_err(&dir))?;
        let parent = dir.parent().unwrap_or(&dir);
        self.vfs.sync_dir(parent).map_err(io_err(parent))
    }

    fn list_consumers(&mut self, stream: &str) -> Result<Vec<ConsumerRecords>, MetaError> {
        let root = stream_dir(&self.store_dir, stream).join("obs");
        if !self.vfs.exists(&root).map_err(io_err(&root))? {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for name in self.vfs.list_dir(&root).map_err(io_err(&root))? {
            let dir = root.join(&name);
            let config = self.read_all(&dir.join(ConsumerFile::Config.name()))?;
            let state = self.read_all(&dir.join(ConsumerFile::State.name()))?;
            out.push(ConsumerRecords {
                name,
                config,
                state,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn list(&mut self) -> Result<Vec<(String, Vec<u8>)>, MetaError> {
        let root = streams_dir(&self.store_dir);
        if !self.vfs.exists(&root).map_err(io_err(&root))? {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for name in self.vfs.list_dir(&root).map_err(io_err(&root))? {
            let path = root.join(&name).join(META_FILE);
            if let Some(bytes) = self.read_all(&path)? {
                out.push((name, bytes));
            }
        }
        out.sort();
        Ok(out)
    }
}

/// Metadata in memory, shared between clones (so a test can "restart" an engine on
/// the same records), with a switch to make writes fail.
#[derive(Debug, Clone, Default)]
pub struct MemMetaStore {
    inner: Arc<Mutex<MemMeta>>,
}

#[derive(Debug, Default)]
struct MemMeta {
    records: BTreeMap<String, Vec<u8>>,
    consumers: BTreeMap<(String, String), BTreeMap<ConsumerFile, Vec<u8>>>,
    fail_writes: bool,
}

impl MemMetaStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every later `write` and `remove` fail (or succeed again).
    pub fn set_fail_writes(&self, fail: bool) {
        if let Ok(mut m) = self.inner.lock() {
            m.fail_writes = fail;
        }
    }

    /// Replaces a record's bytes (to simulate damage).
    pub fn put_raw(&self, stream: &str, bytes: Vec<u8>) {
        if let Ok(mut m) = self.inner.lock() {
            m.records.insert(stream.to_string(), bytes);
        }
    }

    pub fn get_raw(&self, stream: &str) -> Option<Vec<u8>> {
        self.inner.lock().ok()?.records.get(stream).cloned()
    }

    fn writable(&self) -> Result<std::sync::MutexGuard<'_, MemMeta>, MetaError> {
        let m = self
            .inner
            .lock()
            .map_err(|_| MetaError::Refused("poisoned".into()))?;
        if m.fail_writes {
            return Err(MetaError::Refused("injected failure".into()));
        }
        Ok(m)
    }
}

impl MetaStore for MemMetaStore {
    fn write(&mut self, stream: &str, bytes: &[u8]) -> Result<(), MetaError> {
        let mut m = self
            .inner
            .lock()
            .map_err(|_| MetaError::Refused("poisoned".into()))?;
        if m.fail_writes {
            return Err(MetaError::Refused("injected failure".into()));
        }
        m.records.insert(stream.to_string(), bytes.to_vec());
        Ok(())
    }

    fn remove(&mut self, stream: &str) -> Result<(), MetaError> {
        let mut m = self
            .inner
            .lock()
            .map_err(|_| MetaError::Refused("poisoned".into()))?;
        if m.fail_writes {
            return Err(MetaError::Refused("injected failure".into()));
        }
        m.records.remove(stream);
        Ok(())
    }

    fn write_consumer(
        &mut self,
        stream: &str,
        consumer: &str,
        file: ConsumerFile,
        bytes: &[u8],
    ) -> Result<(), MetaError> {
        let mut m = self.writable()?;
        m.consumers
            .entry((stream.to_string(), consumer.to_string()))
            .or_default()
            .insert(file, bytes.to_vec());
        Ok(())
    }

    fn remove_consumer(&mut self, stream: &str, consumer: &str) -> Result<(), MetaError> {
        let mut m = self.writable()?;
        m.consumers
            .remove(&(stream.to_string(), consumer.to_string()));
        Ok(())
    }

    fn list_consumers(&mut self, stream: &str) -> Result<Vec<ConsumerRecords>, MetaError> {
        let m = self
            .inner
            .lock()
            .map_err(|_| MetaError::Refused("poisoned".into()))?;
        Ok(m.consumers
            .iter()
            .filter(|((s, _), _)| s == stream)
            .map(|((_, name), files)| ConsumerRecords {
                name: name.clone(),
                config: files.get(&ConsumerFile::Config).cloned(),
                state: files.get(&ConsumerFile::State).cloned(),
            })
            .collect())
    }

    fn list(&mut self) -> Result<Vec<(String, Vec<u8>)>, MetaError> {
        let m = self
            .inner
            .lock()
            .map_err(|_| MetaError::Refused("poisoned".into()))?;
        Ok(m.records
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::config;

    fn sample() -> StreamConfig {
        let req: StreamConfigJson = serde_json::from_str(
            r#"{"name":"S","subjects":["a.>"],"max_age":5000000000,"metadata":{"k":"v"}}"#,
        )
        .unwrap();
        config::check(&req, false).unwrap()
    }

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn round_trip_and_damage() {
        let cfg = sample();
        let bytes = encode(&cfg, 42);
        let (json, created) = decode(&bytes).unwrap();
        assert_eq!(created, 42);
        assert_eq!(config::check(&json, false).unwrap(), cfg);
        let mut bad = bytes.clone();
        let last = bad.len() - 2;
        bad[last] ^= 1;
        assert_eq!(decode(&bad).unwrap_err(), "checksum mismatch");
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode(b"garbage").is_err());
    }

    #[test]
    fn file_store_is_atomic_and_lists() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = FileMetaStore::new(dir.path());
        assert!(m.list().unwrap().is_empty());
        m.write("S", b"one").unwrap();
        m.write("S", b"two").unwrap();
        m.write("T", b"three").unwrap();
        // Leftovers of an interrupted write and stray directories are ignored.
        std::fs::create_dir_all(stream_dir(dir.path(), "orphan")).unwrap();
        std::fs::write(streams_dir(dir.path()).join("stray-file"), b"x").unwrap();
        std::fs::write(stream_dir(dir.path(), "S").join(META_TMP), b"torn").unwrap();
        assert_eq!(
            m.list().unwrap(),
            vec![
                ("S".to_string(), b"two".to_vec()),
                ("T".to_string(), b"three".to_vec())
            ]
        );
        m.remove("S").unwrap();
        m.remove("S").unwrap();
        assert_eq!(m.list().unwrap().len(), 1);
        assert!(dir.path().join("jetstream/$G/streams/T/meta.inf").is_file());
    }
}
