//! Per-subject state of the file store: for each subject, how many messages it has and
//! its first and last sequence. Slots refer to subjects by a small id.
//!
//! The index lives in three scratch files behind fixed-capacity page caches
//! ([`Pager`]), so its memory is bounded however many subjects a stream has (a KV
//! bucket with millions of keys): what does not fit is paged to disk and read back.
//! The files are derived data: recovery rebuilds them from the segments.
//!
//! - entries: id -> 32 bytes (`count`, `first`, `last`, name reference). A free
//!   entry has a zero name reference and links the free list through `first`.
//! - names: the subjects' bytes, appended; compacted when mostly garbage.
//! - table: open addressing with linear probing, one 64-bit word per bucket,
//!   `(id + 1) << 32 | hash32`, 0 when empty; deletion shifts back (no tombstones).
//!   The hasher is std's randomly keyed one: subjects come from clients.

use std::hash::{BuildHasher, RandomState};
use std::io;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::pager::{Pager, PAGE};
use crate::vfs::Vfs;

/// Index files' names start with this; recovery removes stale ones.
pub(crate) const INDEX_PREFIX: &str = "index.";

const ENTRY: u64 = 32;
const NO_ID: u32 = u32::MAX;
const MIN_BUCKETS: u64 = 1024;
/// The names file is compacted once this much of it (and at least half) is garbage.
const MIN_NAME_GARBAGE: u64 = if cfg!(test) { 4096 } else { 1 << 20 };

/// During recovery, which interns every subject in log order, the budget is larger.
pub(crate) const RECOVERY_FACTOR: usize = 8;

/// How a budget of `bytes` splits among the caches, in pages: a quarter for the
/// table, half for the entries, a quarter for the names (each spare file gets as much
/// as its primary, but holds pages only while it is being rebuilt).
#[derive(Debug, Clone, Copy)]
struct Budget {
    table: usize,
    entries: usize,
    names: usize,
}

impl Budget {
    fn of(bytes: usize) -> Self {
        let pages = (bytes / PAGE).max(8);
        Budget {
            table: pages / 2,
            entries: pages * 3 / 8,
            names: pages / 8,
        }
    }

    #[cfg(test)]
    fn total_bytes(&self) -> usize {
        PAGE * (2 * self.table + self.entries + 2 * self.names)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct SubjectEntry {
    pub count: u64,
    pub first: u64,
    pub last: u64,
}

#[derive(Debug)]
pub(crate) struct SubjectIndex {
    hasher: RandomState,
    budget: Budget,
    entries: Pager,
    names: Pager,
    /// The standby names file, the target of the next compaction.
    names_spare: Pager,
    table: Pager,
    /// The standby table file, the target of the next growth.
    table_spare: Pager,
    buckets: u64,
    /// Subjects in the index.
    len: u64,
    /// Ids ever handed out (the entries' high-water mark).
    next_id: u32,
    free_head: u32,
    /// Where the next name goes (offset 0 is never used, so a reference is never 0).
    names_end: u64,
    /// Bytes of released names.
    names_garbage: u64,
    name_buf: Vec<u8>,
}

/// A name reference: offset (up to 2^48) and length (subjects are at most 64 KiB).
fn name_ref(off: u64, len: usize) -> u64 {
    off << 16 | len as u64
}

fn split_ref(r: u64) -> (u64, usize) {
    (r >> 16, (r & 0xFFFF) as usize)
}

fn bucket_word(id: u32, hash: u32) -> u64 {
    u64::from(id + 1) << 32 | u64::from(hash)
}

impl SubjectIndex {
    /// An empty index whose caches (after [`SubjectIndex::settle`]) hold about
    /// `cache_bytes`.
    /// `broken` is set on any I/O error of its files.
    pub(crate) fn new(
        vfs: &Arc<dyn Vfs>,
        dir: &Path,
        cache_bytes: usize,
        broken: &Arc<AtomicBool>,
    ) -> Self {
        let budget = Budget::of(cache_bytes);
        let pager = |name: &str, pages: usize| {
            Pager::new(
                vfs.clone(),
                dir.join(format!("{INDEX_PREFIX}{name}")),
                pages * RECOVERY_FACTOR,
                broken,
            )
        };
        SubjectIndex {
            hasher: RandomState::new(),
            budget,
            entries: pager("entries", budget.entries),
            names: pager("names.0", budget.names),
            names_spare: pager("names.1", budget.names),
            table: pager("table.0", budget.table),
            table_spare: pager("table.1", budget.table),
            buckets: MIN_BUCKETS,
            len: 0,
            next_id: 0,
            free_head: NO_ID,
            names_end: 1,
            names_garbage: 0,
            name_buf: Vec::new(),
        }
    }

    /// Shrinks the page caches to the steady-state budget (after recovery).
    pub(crate) fn settle(&mut self) {
        let b = self.budget;
        self.entries.set_capacity(b.entries);
        self.names.set_capacity(b.names);
        self.names_spare.set_capacity(b.names);
        self.table.set_capacity(b.table);
        self.table_spare.set_capacity(b.table);
    }

    /// Memory the index holds now, in bytes (for tests and monitoring).
    pub(crate) fn resident_bytes(&self) -> usize {
        PAGE * (self.entries.resident()
            + self.names.resident()
            + self.names_spare.resident()
            + self.table.resident()
            + self.table_spare.resident())
    }

    /// The first I/O error of the index files since the last call.
    pub(crate) fn take_error(&mut self) -> Option<io::Error> {
        [
            &mut self.entries,
            &mut self.names,
            &mut self.names_spare,
            &mut self.table,
            &mut self.table_spare,
        ]
        .into_iter()
        .find_map(Pager::take_error)
    }

    /// Deletes the index files (the store is being destroyed).
    pub(crate) fn remove_files(&mut self) -> io::Result<()> {
        for p in [
            &mut self.entries,
            &mut self.names,
            &mut self.names_spare,
            &mut self.table,
            &mut self.table_spare,
        ] {
            p.remove_file()?;
        }
        Ok(())
    }

    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    fn hash(&self, subject: &str) -> u32 {
        self.hasher.hash_one(subject) as u32
    }

    fn entry_word(&mut self, id: u32, word: u64) -> u64 {
        self.entries.read_u64(u64::from(id) * ENTRY + word * 8)
    }

    fn set_entry_word(&mut self, id: u32, word: u64, v: u64) {
        self.entries.write_u64(u64::from(id) * ENTRY + word * 8, v);
    }

    fn is_live(&mut self, id: u32) -> bool {
        id < self.next_id && self.entry_word(id, 3) != 0
    }

    /// Reads the name of `id` into `name_buf`.
    fn load_name(&mut self, id: u32) {
        let (off, len) = split_ref(self.entry_word(id, 3));
        let mut buf = std::mem::take(&mut self.name_buf);
        buf.resize(len, 0);
        self.names.read(off, &mut buf);
        self.name_buf = buf;
    }

    /// Calls `f` with the name of subject `id` (None if there is no such subject).
    pub(crate) fn with_name<R>(&mut self, id: u32, f: impl FnOnce(&str) -> R) -> Option<R> {
        if !self.is_live(id) {
            return None;
        }
        self.load_name(id);
        // Names were written from `&str`; anything else is damage to the scratch file.
        std::str::from_utf8(&self.name_buf).ok().map(f)
    }

    /// The id of `subject`, or the empty bucket that ends its probe sequence.
    fn probe(&mut self, hash: u32, subject: &str) -> Result<u32, u64> {
        let mask = self.buckets - 1;
        let mut b = u64::from(hash) & mask;
        loop {
            let w = self.table.read_u64(b * 8);
            if w == 0 {
                return Err(b);
            }
            if w as u32 == hash {
                let id = ((w >> 32) as u32).wrapping_sub(1);
                self.load_name(id);
                if self.name_buf == subject.as_bytes() {
                    return Ok(id);
                }
            }
            b = (b + 1) & mask;
        }
    }

    pub(crate) fn id(&mut self, subject: &str) -> Option<u32> {
        let h = self.hash(subject);
        self.probe(h, subject).ok()
    }

    pub(crate) fn get(&mut self, id: u32) -> Option<SubjectEntry> {
        if !self.is_live(id) {
            return None;
        }
        Some(SubjectEntry {
            count: self.entry_word(id, 0),
            first: self.entry_word(id, 1),
            last: self.entry_word(id, 2),
        })
    }

    pub(crate) fn set(&mut self, id: u32, e: SubjectEntry) {
        if !self.is_live(id) {
            return;
        }
        self.set_entry_word(id, 0, e.count);
        self.set_entry_word(id, 1, e.first);
        self.set_entry_word(id, 2, e.last);
    }

    pub(crate) fn lookup(&mut self, subject: &str) -> Option<SubjectEntry> {
        self.id(subject).and_then(|id| self.get(id))
    }

    /// The first empty bucket of `hash`'s probe sequence in a table of `buckets`.
    fn free_bucket(table: &mut Pager, buckets: u64, hash: u32) -> u64 {
        let mask = buckets - 1;
        let mut b = u64::from(hash) & mask;
        while table.read_u64(b * 8) != 0 {
            b = (b + 1) & mask;
        }
        b
    }

    /// Doubles the table into the spare file, which then becomes the table.
    fn grow(&mut self) {
        let buckets = self.buckets * 2;
        self.table_spare.clear();
        for b in 0..self.buckets {
            let w = self.table.read_u64(b * 8);
            if w != 0 {
                let b = Self::free_bucket(&mut self.table_spare, buckets, w as u32);
                self.table_spare.write_u64(b * 8, w);
            }
        }
        std::mem::swap(&mut self.table, &mut self.table_spare);
        self.table_spare.clear();
        self.buckets = buckets;
    }

    /// The id of `subject`, creating an entry with no messages if needed.
    pub(crate) fn intern(&mut self, subject: &str) -> u32 {
        let hash = self.hash(subject);
        let mut empty = match self.probe(hash, subject) {
            Ok(id) => return id,
            Err(b) => b,
        };
        // At most 5/8 full: unsuccessful probes (every new subject) stay short.
        if (self.len + 1) * 8 > self.buckets * 5 {
            self.grow();
            empty = Self::free_bucket(&mut self.table, self.buckets, hash);
        }
        let id = if self.free_head != NO_ID {
            let id = self.free_head;
            self.free_head = self.entry_word(id, 1) as u32;
            id
        } else {
            self.next_id += 1;
            self.next_id - 1
        };
        let off = self.names_end;
        self.names.write(off, subject.as_bytes());
        self.names_end += subject.len() as u64;
        self.set_entry_word(id, 0, 0);
        self.set_entry_word(id, 1, 0);
        self.set_entry_word(id, 2, 0);
        self.set_entry_word(id, 3, name_ref(off, subject.len()));
        self.table.write_u64(empty * 8, bucket_word(id, hash));
        self.len += 1;
        id
    }

    /// Counts a message appended (or recovered, in sequence order) at `seq`; returns
    /// the subject's previous last message, if it had any.
    pub(crate) fn add(&mut self, id: u32, seq: u64) -> Option<u64> {
        let mut e = self.get(id)?;
        let prev = (e.count > 0).then_some(e.last);
        if e.count == 0 {
            e.first = seq;
        }
        e.count += 1;
        e.last = seq;
        self.set(id, e);
        prev
    }

    /// Removes `id`'s bucket, shifting later members of its run back into the hole.
    fn remove_bucket(&mut self, id: u32, hash: u32) {
        let mask = self.buckets - 1;
        let want = bucket_word(id, hash);
        let mut hole = u64::from(hash) & mask;
        loop {
            let w = self.table.read_u64(hole * 8);
            if w == 0 {
                return;
            }
            if w == want {
                break;
            }
            hole = (hole + 1) & mask;
        }
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let w = self.table.read_u64(j * 8);
            if w == 0 {
                break;
            }
            let home = (w & 0xFFFF_FFFF) & mask;
            // `w` may move into the hole unless its home lies cyclically in (hole, j].
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.table.write_u64(hole * 8, w);
                hole = j;
            }
        }
        self.table.write_u64(hole * 8, 0);
    }

    /// Forgets a subject with no messages left, so its id can be reused.
    pub(crate) fn release_if_empty(&mut self, id: u32) {
        if self.get(id).is_none_or(|e| e.count != 0) {
            return;
        }
        self.load_name(id);
        let name = std::str::from_utf8(&self.name_buf).unwrap_or_default();
        let hash = self.hasher.hash_one(name) as u32;
        self.remove_bucket(id, hash);
        self.names_garbage += self.name_buf.len() as u64;
        self.set_entry_word(id, 3, 0);
        self.set_entry_word(id, 1, u64::from(self.free_head));
        self.free_head = id;
        self.len -= 1;
        if self.names_garbage > MIN_NAME_GARBAGE && self.names_garbage * 2 > self.names_end {
            self.compact_names();
        }
    }

    /// Rewrites the live names into the spare names file.
    fn compact_names(&mut self) {
        self.names_spare.clear();
        let mut end = 1;
        for id in 0..self.next_id {
            if !self.is_live(id) {
                continue;
            }
            self.load_name(id);
            let buf = std::mem::take(&mut self.name_buf);
            self.names_spare.write(end, &buf);
            self.set_entry_word(id, 3, name_ref(end, buf.len()));
            end += buf.len() as u64;
            self.name_buf = buf;
        }
        std::mem::swap(&mut self.names, &mut self.names_spare);
        self.names_spare.clear();
        self.names_end = end;
        self.names_garbage = 0;
    }

    /// Forgets every subject with no messages (after recovery counted the live ones).
    pub(crate) fn release_all_empty(&mut self) {
        for id in 0..self.next_id {
            self.release_if_empty(id);
        }
    }

    /// Calls `f` for every subject, in id order.
    pub(crate) fn for_each(&mut self, mut f: impl FnMut(u32, SubjectEntry, &str)) {
        for id in 0..self.next_id {
            let Some(e) = self.get(id) else {
                continue;
            };
            self.load_name(id);
            if let Ok(name) = std::str::from_utf8(&self.name_buf) {
                f(id, e, name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::vfs::SimFs;

    fn index() -> (Arc<dyn Vfs>, SubjectIndex) {
        let vfs: Arc<dyn Vfs> = Arc::new(SimFs::new(3));
        vfs.create_dir_all(Path::new("/s")).unwrap();
        let ix = SubjectIndex::new(&vfs, Path::new("/s"), 256 << 10, &Arc::default());
        (vfs, ix)
    }

    #[test]
    fn ids_are_reused_only_after_release() {
        let (_vfs, mut ix) = index();
        let a = ix.intern("a");
        let b = ix.intern("b");
        assert_ne!(a, b);
        assert_eq!(ix.intern("a"), a);
        ix.add(a, 1);
        ix.release_if_empty(a);
        assert_eq!(ix.id("a"), Some(a), "a still has a message");
        ix.release_if_empty(b);
        assert_eq!((ix.id("b"), ix.len()), (None, 1));
        let c = ix.intern("c");
        assert_eq!(c, b, "b's id is reused");
        assert_eq!(ix.lookup("c").map(|e| e.count), Some(0));
        for i in 0..10_000 {
            ix.intern(&format!("s.{i}"));
        }
        assert_eq!(ix.len(), 10_002);
        let id = ix.id("s.9999").unwrap();
        assert_eq!(ix.with_name(id, str::to_owned).as_deref(), Some("s.9999"));
        ix.release_all_empty();
        assert_eq!(ix.len(), 1);
        assert_eq!(ix.id("a"), Some(a));
    }

    /// Random interning, counting and releasing against a HashMap model, with far more
    /// subjects than the page caches hold: memory stays within the budget and every
    /// answer matches the model.
    #[test]
    fn matches_a_model_beyond_the_cache_budget() {
        let (vfs, mut ix) = index();
        ix.settle();
        let mut model: HashMap<String, (u32, SubjectEntry)> = HashMap::new();
        let mut rng = crate::vfs::rng::SplitMix64::new(11);
        let budget = ix.budget.total_bytes();
        for step in 0..200_000u64 {
            let k = rng.next_u64() % 20_000;
            let subject = format!("$KV.bucket.some-longer-key-name.{k}");
            match rng.next_u64() % 5 {
                0 | 1 => {
                    let id = ix.intern(&subject);
                    ix.add(id, step + 1);
                    let m = model
                        .entry(subject)
                        .or_insert((id, SubjectEntry::default()));
                    assert_eq!(m.0, id);
                    if m.1.count == 0 {
                        m.1.first = step + 1;
                    }
                    m.1.count += 1;
                    m.1.last = step + 1;
                }
                2 | 3 => {
                    if let Some((id, e)) = model.get_mut(&subject) {
                        e.count -= 1;
                        ix.set(*id, *e);
                        if e.count == 0 {
                            ix.release_if_empty(*id);
                            model.remove(&subject);
                        }
                    }
                }
                _ => {
                    assert_eq!(ix.lookup(&subject), model.get(&subject).map(|m| m.1));
                }
            }
            assert!(ix.resident_bytes() <= budget);
        }
        assert_eq!(ix.len(), model.len());
        let mut seen = 0;
        ix.for_each(|id, e, name| {
            let m = model.get(name).expect("listed subject is in the model");
            assert_eq!((m.0, m.1), (id, e));
            seen += 1;
        });
        assert_eq!(seen, model.len());
        assert!(ix.take_error().is_none());
        assert!(vfs
            .list_dir(Path::new("/s"))
            .unwrap()
            .iter()
            .all(|n| n.starts_with(INDEX_PREFIX)));
        ix.remove_files().unwrap();
        assert!(vfs.list_dir(Path::new("/s")).unwrap().is_empty());
    }
}
