//! `FileStore`: the durable store. Append-only segment files of checksummed records;
//! deletes and purges are records too, so nothing is rewritten; an in-memory slot table
//! per segment and a per-subject index, rebuilt by scanning on open.
//!
//! - `record`: the on-disk format. `scan`: records and damage in one segment's bytes.
//! - `segment`: a segment file, its write buffer and slot table; the active one is
//!   preallocated ahead of its data, so recovery finds the data end inside zeros.
//! - `cache`: read-ahead windows for sequential loads.
//! - `subjects`: per-subject counts and first/last sequences.
//! - `recovery`: open = scan + rebuild + cut a torn tail + report damage.
//! - `meta`: `store.meta`, the checksum salt.
//! - `read` / `write`: the lookups, and the mutations with group commit and segment GC.
//!
//! Durability: `append`, `remove` and `purge` buffer their records; `sync` writes them,
//! fsyncs every segment written since the last sync, then the directory if a segment was
//! created, and only then deletes segments whose every message is gone. A failed write
//! or fsync fails the store for good (no retry on the same descriptor); reopen it.

mod cache;
mod meta;
mod pager;
mod read;
mod record;
mod recovery;
mod scan;
mod segment;
mod slot_pages;
mod subjects;
mod write;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::api::{MessageStore, RecoveryReport, StoreState, StoredMessage};
use crate::error::StoreError;
use crate::filter::Filter;
use crate::vfs::Vfs;
use cache::ReadCache;
use segment::Segment;
use slot_pages::SlotPages;
use subjects::SubjectIndex;

/// Bytes a message counts for in a file store (nats-server's filestore formula).
pub fn file_stored_size(subject_len: usize, headers_len: usize, payload_len: usize) -> u64 {
    let hdr = if headers_len > 0 { 4 + headers_len } else { 0 };
    (22 + subject_len + hdr + payload_len + 8) as u64
}

#[derive(Debug, Clone)]
pub struct FileStoreOptions {
    /// A segment is sealed and a new one started once it would grow past this
    /// (clamped to 1 KiB..=1 GiB). A single larger message gets a segment of its own.
    pub segment_size: u64,
    /// Sync after every mutation. Off by default: the caller batches appends and calls
    /// `sync` once per batch (group commit), acknowledging only after it returns.
    pub sync_always: bool,
    /// Appends are buffered up to this many bytes before being written (not synced).
    pub write_buffer: usize,
    /// Memory for the store's indexes (the subject index, and the slot tables of
    /// sealed segments), in bytes. Past it they page to scratch files in the store's
    /// directory. Recovery may use eight times as much.
    pub index_cache: usize,
}

impl Default for FileStoreOptions {
    fn default() -> Self {
        FileStoreOptions {
            segment_size: 8 << 20,
            sync_always: false,
            write_buffer: 256 << 10,
            index_cache: 8 << 20,
        }
    }
}

/// Open handles of clean sealed segments beyond which `sync` closes them.
const MAX_OPEN_SEALED: usize = 64;

pub struct FileStore {
    vfs: Arc<dyn Vfs>,
    dir: PathBuf,
    opts: FileStoreOptions,
    /// Salt for new segments.
    salt: u32,
    /// Ascending by id and by sequence; the last one is the active segment.
    segs: Vec<Segment>,
    /// Behind a lock because lookups page it in (loads take `&self`).
    subjects: Mutex<SubjectIndex>,
    /// The slot tables of sealed segments (likewise paged).
    slot_pages: Mutex<SlotPages>,
    msgs: u64,
    bytes: u64,
    first_seq: u64,
    first_ts: i64,
    last_seq: u64,
    last_ts: i64,
    report: RecoveryReport,
    /// A write or fsync failed: no more writes until reopened.
    failed: bool,
    /// A segment was created since the directory was last fsynced.
    dir_dirty: bool,
    /// Some sealed segment may have no live messages left.
    gc_pending: bool,
    scratch: Vec<u8>,
    /// Removed with `erase`: overwritten at the next `sync`, once the delete is durable.
    pending_erase: Vec<PendingErase>,
    /// Read-ahead for sequential loads (loads take `&self`).
    cache: Mutex<ReadCache>,
    /// Set by the index's page caches on any I/O error of their files: from then on a
    /// page may read back wrong, so reads are refused until the store is reopened.
    index_broken: Arc<AtomicBool>,
}

#[derive(Debug, Clone, Copy)]
struct PendingErase {
    segment: u32,
    offset: u64,
    len: usize,
    seq: u64,
    ts: i64,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("dir", &self.dir)
            .field("segments", &self.segs.len())
            .field("msgs", &self.msgs)
            .field("first_seq", &self.first_seq)
            .field("last_seq", &self.last_seq)
            .field("failed", &self.failed)
            .finish()
    }
}

impl FileStore {
    /// Opens (or creates) the store in `dir`, recovering whatever is there. What recovery
    /// found is in [`MessageStore::recovery_report`].
    pub fn open(
        vfs: Arc<dyn Vfs>,
        dir: &Path,
        options: FileStoreOptions,
    ) -> Result<FileStore, StoreError> {
        let mut opts = options;
        opts.segment_size = opts.segment_size.clamp(1 << 10, 1 << 30);
        let index_broken = Arc::new(AtomicBool::new(false));
        let r = recovery::recover(&vfs, dir, opts.index_cache, &index_broken)?;
        if r.write_meta {
            meta::write(&vfs, dir, r.salt)?;
        }
        let opts_segment_size = opts.segment_size;
        let gc_pending = r.segs.iter().rev().skip(1).any(|s| s.live == 0);
        let mut store = FileStore {
            vfs,
            dir: dir.to_path_buf(),
            opts,
            salt: r.salt,
            segs: r.segs,
            subjects: Mutex::new(r.subjects),
            slot_pages: Mutex::new(r.slot_pages),
            msgs: r.msgs,
            bytes: r.bytes,
            first_seq: r.first_seq,
            first_ts: 0,
            last_seq: r.last_seq,
            last_ts: r.last_ts,
            report: r.report,
            failed: false,
            dir_dirty: false,
            gc_pending,
            scratch: Vec::new(),
            pending_erase: Vec::new(),
            cache: Mutex::new(ReadCache::default()),
            index_broken,
        };
        match (r.active_file, store.segs.last_mut()) {
            (Some(f), Some(active)) => {
                active.set_file(f);
                active.set_reserve(opts_segment_size);
                if active.len() == 0 {
                    // The whole segment was torn away: start it again with a header.
                    store.scratch.clear();
                    let salt = active.salt;
                    record::encode_segment_header(
                        &mut store.scratch,
                        salt,
                        store.last_seq,
                        store.last_ts,
                    );
                    active.push(&store.scratch);
                }
            }
            _ => store.new_segment()?,
        }
        store.first_ts = store.read_ts(store.first_seq);
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of segment files (for tests and monitoring).
    pub fn segment_count(&self) -> usize {
        self.segs.len()
    }

    /// Bytes of records in the active segment, written or buffered: where its data ends
    /// (its file may be longer, preallocated). For tests and monitoring.
    pub fn active_segment_len(&self) -> u64 {
        self.segs.last().map_or(0, Segment::len)
    }

    /// The subject index (lookups page it in, so even reads take the lock).
    pub(super) fn index(&self) -> MutexGuard<'_, SubjectIndex> {
        self.subjects.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn index_mut(&mut self) -> &mut SubjectIndex {
        self.subjects
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes the store's indexes (subjects, and slot tables of sealed segments) hold
    /// in memory: bounded by `index_cache`, however many subjects and messages the
    /// store has. For tests and monitoring.
    pub fn index_resident_bytes(&self) -> usize {
        let slots = self
            .slot_pages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .resident();
        self.index().resident_bytes() + slots * pager::PAGE
    }

    /// Refuses an answer that the index gave after one of its files failed: a lost page
    /// reads back as zeros, which would look like a missing message.
    fn index_intact(&self) -> Result<(), StoreError> {
        if self.index_broken.load(Ordering::Relaxed) {
            Err(StoreError::IndexLost)
        } else {
            Ok(())
        }
    }

    /// True once a write or fsync failed; the store must be reopened.
    pub fn is_failed(&self) -> bool {
        self.failed
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        // Best effort: hand buffered records to the OS. Not a sync; nothing relies on it.
        if !self.failed {
            if let Some(active) = self.segs.last_mut() {
                let _ = active.flush(&self.vfs);
            }
        }
    }
}

impl MessageStore for FileStore {
    fn append(
        &mut self,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        timestamp: i64,
    ) -> Result<u64, StoreError> {
        self.append_msg(subject, headers, payload, timestamp)
    }

    fn append_at(
        &mut self,
        seq: u64,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        timestamp: i64,
    ) -> Result<u64, StoreError> {
        self.append_skipping_to(seq, subject, headers, payload, timestamp)
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        self.sync_all()
    }

    fn load(&self, seq: u64) -> Result<Option<StoredMessage>, StoreError> {
        let found = self.locate(seq);
        self.index_intact()?;
        match found {
            Some((si, slot)) => self.read_message(si, seq, &slot).map(Some),
            None => Ok(None),
        }
    }

    fn load_next(
        &self,
        from: u64,
        filter: Option<&str>,
    ) -> Result<Option<StoredMessage>, StoreError> {
        let found = self.find_next(from, Filter::new(filter));
        self.index_intact()?;
        match found {
            Some((si, seq, slot)) => self.read_message(si, seq, &slot).map(Some),
            None => Ok(None),
        }
    }

    fn count_from(&self, from: u64, filter: Option<&str>) -> u64 {
        self.count_matching(from, Filter::new(filter))
    }

    fn load_last(&self, filter: &str) -> Result<Option<StoredMessage>, StoreError> {
        let found = self.find_last(Filter::new(Some(filter)));
        self.index_intact()?;
        match found {
            Some(seq) => self.load(seq),
            None => Ok(None),
        }
    }

    fn remove(&mut self, seq: u64, erase: bool) -> Result<bool, StoreError> {
        self.remove_msg(seq, erase)
    }

    fn purge(
        &mut self,
        filter: Option<&str>,
        before_seq: Option<u64>,
        keep: Option<u64>,
    ) -> Result<u64, StoreError> {
        self.purge_msgs(filter, before_seq, keep)
    }

    fn set_first_seq(&mut self, seq: u64) -> Result<(), StoreError> {
        self.set_first(seq)
    }

    fn state(&self) -> StoreState {
        let span = (self.last_seq + 1).saturating_sub(self.first_seq);
        StoreState {
            msgs: self.msgs,
            bytes: self.bytes,
            first_seq: self.first_seq,
            first_ts: if self.msgs == 0 { 0 } else { self.first_ts },
            last_seq: self.last_seq,
            last_ts: self.last_ts,
            num_deleted: span.saturating_sub(self.msgs),
            num_subjects: self.index().len() as u64,
        }
    }

    fn deleted(&self) -> Vec<u64> {
        let mut out = Vec::new();
        if self.msgs == 0 {
            return out;
        }
        let mut expect = self.first_seq;
        for (_, seq, _) in self.live_from(self.first_seq) {
            out.extend(expect..seq);
            expect = seq + 1;
        }
        out.extend(expect..=self.last_seq);
        out
    }

    fn subjects(&self, filter: &str) -> BTreeMap<String, u64> {
        let f = Filter::new(Some(filter));
        let mut out = BTreeMap::new();
        self.index().for_each(|_, e, name| {
            if f.matches(name) {
                out.insert(name.to_string(), e.count);
            }
        });
        out
    }

    fn last_seqs(&self, filter: &str) -> Vec<u64> {
        self.last_seqs_matching(Filter::new(Some(filter)))
    }

    fn subject_count(&self, subject: &str) -> u64 {
        self.index().lookup(subject).map_or(0, |e| e.count)
    }

    fn stored_size(&self, subject: &str, headers_len: usize, payload_len: usize) -> u64 {
        file_stored_size(subject.len(), headers_len, payload_len)
    }

    fn needs_reopen(&self) -> bool {
        self.index_broken.load(Ordering::Relaxed)
    }

    fn recovery_report(&self) -> RecoveryReport {
        self.report.clone()
    }

    fn destroy(mut self: Box<Self>) -> Result<(), StoreError> {
        self.failed = true; // nothing may be written from here on, not even by Drop
        self.index_mut()
            .remove_files()
            .map_err(|e| StoreError::io("subject index", e))?;
        self.slot_pages
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .remove_files()
            .map_err(|e| StoreError::io("slot index", e))?;
        let io = |p: &Path, e| StoreError::Io {
            path: p.display().to_string(),
            source: e,
        };
        for seg in std::mem::take(&mut self.segs) {
            self.vfs
                .remove_file(&seg.path)
                .map_err(|e| io(&seg.path, e))?;
        }
        let meta_path = self.dir.join(meta::META_NAME);
        if self.vfs.exists(&meta_path).map_err(|e| io(&meta_path, e))? {
            self.vfs
                .remove_file(&meta_path)
                .map_err(|e| io(&meta_path, e))?;
        }
        self.vfs.sync_dir(&self.dir).map_err(|e| io(&self.dir, e))?;
        // Leaves the directory if something else lives in it.
        if self
            .vfs
            .list_dir(&self.dir)
            .map_err(|e| io(&self.dir, e))?
            .is_empty()
        {
            self.vfs
                .remove_dir(&self.dir)
                .map_err(|e| io(&self.dir, e))?;
            if let Some(parent) = self.dir.parent() {
                self.vfs.sync_dir(parent).map_err(|e| io(parent, e))?;
            }
        }
        Ok(())
    }
}
