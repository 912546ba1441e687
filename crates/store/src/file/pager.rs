//! A fixed-capacity page cache over one scratch file: how the file store keeps indexes
//! whose size grows with the data (the subject index) in bounded memory.
//!
//! The file holds derived data only. It is never fsynced and never read after a
//! restart (recovery rebuilds it from the segments), so it needs no checksums and no
//! write ordering. It is created on the first eviction of a dirty page: an index that
//! fits in the cache never touches the disk.
//!
//! Replacement is CLOCK (second chance). An I/O error is kept and reported by
//! [`Pager::take_error`]; the store then fails, and reopening rebuilds the file.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::vfs::{OpenMode, Vfs, VfsFile};

pub(crate) const PAGE: usize = 4096;

/// Page numbers are already well spread in their low bits: one multiply is enough.
#[derive(Default)]
pub(crate) struct PageHasher(u64);

impl Hasher for PageHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

struct Frame {
    page: u64,
    dirty: bool,
    referenced: bool,
}

/// Frames' bytes are allocated this many pages at a time (256 KiB): large blocks the
/// allocator hands back to the system when the cache shrinks.
const CHUNK_PAGES: usize = 64;

pub(crate) struct Pager {
    vfs: Arc<dyn Vfs>,
    path: PathBuf,
    file: Option<Box<dyn VfsFile>>,
    /// Pages that exist in the file; reading past them gives zeros.
    file_pages: u64,
    map: HashMap<u64, usize, BuildHasherDefault<PageHasher>>,
    frames: Vec<Frame>,
    /// The frames' bytes: frame `i` is page `i % CHUNK_PAGES` of chunk `i / CHUNK_PAGES`.
    chunks: Vec<Box<[u8]>>,
    hand: usize,
    capacity: usize,
    /// The last page touched and its frame: most accesses repeat it.
    last: Option<(u64, usize)>,
    error: Option<io::Error>,
    /// Set on any I/O error: some page may read back wrong (zeros, or stale) from then
    /// on. Shared by all of a store's pagers, so the store checks one flag.
    broken: Arc<AtomicBool>,
}

impl std::fmt::Debug for Pager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pager")
            .field("path", &self.path)
            .field("resident", &self.frames.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl Pager {
    /// A pager keeping at most `capacity` pages (at least 2) in memory.
    pub(crate) fn new(
        vfs: Arc<dyn Vfs>,
        path: PathBuf,
        capacity: usize,
        broken: &Arc<AtomicBool>,
    ) -> Self {
        Pager {
            vfs,
            path,
            file: None,
            file_pages: 0,
            map: HashMap::default(),
            frames: Vec::new(),
            chunks: Vec::new(),
            hand: 0,
            capacity: capacity.max(2),
            last: None,
            error: None,
            broken: broken.clone(),
        }
    }

    /// Pages held in memory now.
    pub(crate) fn resident(&self) -> usize {
        self.frames.len()
    }

    /// The first I/O error since the last call, if any.
    pub(crate) fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }

    fn fail(&mut self, e: io::Error) {
        self.broken.store(true, Ordering::Relaxed);
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// Changes the capacity. Shrinking writes every page back and drops them all, so
    /// the allocator can return whole blocks (pages come back from the file on use).
    pub(crate) fn set_capacity(&mut self, capacity: usize) {
        let capacity = capacity.max(2);
        if capacity < self.frames.len() {
            for i in 0..self.frames.len() {
                self.write_back(i);
            }
            self.map.clear();
            self.frames = Vec::new();
            self.chunks = Vec::new();
            self.hand = 0;
            self.last = None;
        } else if let Some(last) = self.chunks.pop() {
            // A last chunk sized to the old capacity grows to a whole one.
            let mut v = last.into_vec();
            v.resize(CHUNK_PAGES * PAGE, 0);
            self.chunks.push(v.into_boxed_slice());
        }
        self.capacity = capacity;
    }

    /// Forgets every page and empties the file (its bytes are garbage from here on).
    pub(crate) fn clear(&mut self) {
        self.map.clear();
        self.frames.clear();
        self.chunks.clear();
        self.hand = 0;
        self.last = None;
        self.file_pages = 0;
        if let Some(f) = &self.file {
            if let Err(e) = f.set_len(0) {
                self.fail(e);
            }
        }
    }

    /// Removes the file (if it was ever created) and forgets every page.
    pub(crate) fn remove_file(&mut self) -> io::Result<()> {
        self.clear();
        if self.file.take().is_some() {
            self.vfs.remove_file(&self.path)?;
        }
        Ok(())
    }

    fn bytes(&self, i: usize) -> Option<&[u8]> {
        let at = (i % CHUNK_PAGES) * PAGE;
        self.chunks.get(i / CHUNK_PAGES)?.get(at..at + PAGE)
    }

    fn bytes_mut(&mut self, i: usize) -> Option<&mut [u8]> {
        let at = (i % CHUNK_PAGES) * PAGE;
        self.chunks.get_mut(i / CHUNK_PAGES)?.get_mut(at..at + PAGE)
    }

    /// A frame to evict, by CLOCK: the first one not referenced since the hand passed.
    fn victim(&mut self) -> usize {
        loop {
            if self.hand >= self.frames.len() {
                self.hand = 0;
            }
            let i = self.hand;
            self.hand += 1;
            match self.frames.get_mut(i) {
                Some(f) if f.referenced => f.referenced = false,
                _ => return i,
            }
        }
    }

    fn write_back(&mut self, i: usize) {
        let Some(frame) = self.frames.get(i) else {
            return;
        };
        if !frame.dirty {
            return;
        }
        if self.file.is_none() {
            match self.vfs.open(&self.path, OpenMode::Create) {
                Ok(f) => {
                    if let Err(e) = f.set_len(0) {
                        self.fail(e);
                    }
                    self.file = Some(f);
                }
                Err(e) => return self.fail(e),
            }
        }
        let (page, r) = match (self.frames.get(i), self.bytes(i), &self.file) {
            (Some(frame), Some(bytes), Some(file)) => {
                (frame.page, file.write_at(bytes, frame.page * PAGE as u64))
            }
            _ => return,
        };
        match r {
            Ok(()) => {
                self.file_pages = self.file_pages.max(page + 1);
                if let Some(frame) = self.frames.get_mut(i) {
                    frame.dirty = false;
                }
            }
            Err(e) => self.fail(e),
        }
    }

    /// Reads `page` into frame `i`.
    fn load(&mut self, page: u64, i: usize) {
        let present = page < self.file_pages;
        let at = page * PAGE as u64;
        let (Some(file), Some(buf)) = (self.file.as_ref(), {
            let at = (i % CHUNK_PAGES) * PAGE;
            self.chunks
                .get_mut(i / CHUNK_PAGES)
                .and_then(|c| c.get_mut(at..at + PAGE))
        }) else {
            if let Some(buf) = self.bytes_mut(i) {
                buf.fill(0);
            }
            return;
        };
        let r = if present {
            file.read_exact_at(buf, at)
        } else {
            buf.fill(0);
            Ok(())
        };
        if let Err(e) = r {
            buf.fill(0);
            self.fail(e);
        }
    }

    /// The frame holding `page`, loading it (and evicting another) if needed.
    fn frame(&mut self, page: u64) -> usize {
        if let Some((p, i)) = self.last {
            if p == page {
                return i;
            }
        }
        if let Some(&i) = self.map.get(&page) {
            if let Some(f) = self.frames.get_mut(i) {
                f.referenced = true;
            }
            self.last = Some((page, i));
            return i;
        }
        let i = if self.frames.len() < self.capacity {
            let i = self.frames.len();
            if i / CHUNK_PAGES >= self.chunks.len() {
                let pages = CHUNK_PAGES.min(self.capacity - i);
                self.chunks.push(vec![0u8; pages * PAGE].into_boxed_slice());
            }
            self.frames.push(Frame {
                page,
                dirty: false,
                referenced: true,
            });
            i
        } else {
            let i = self.victim();
            self.write_back(i);
            if let Some(f) = self.frames.get(i) {
                self.map.remove(&f.page);
            }
            i
        };
        self.load(page, i);
        if let Some(f) = self.frames.get_mut(i) {
            *f = Frame {
                page,
                dirty: false,
                referenced: true,
            };
        }
        self.map.insert(page, i);
        self.last = Some((page, i));
        i
    }

    /// Copies bytes at `offset` into `buf` (zeros where nothing was written).
    pub(crate) fn read(&mut self, mut offset: u64, mut buf: &mut [u8]) {
        while !buf.is_empty() {
            let page = offset / PAGE as u64;
            let at = (offset % PAGE as u64) as usize;
            let n = (PAGE - at).min(buf.len());
            let i = self.frame(page);
            let (head, rest) = std::mem::take(&mut buf).split_at_mut(n);
            match self.bytes(i).and_then(|b| b.get(at..at + n)) {
                Some(src) => head.copy_from_slice(src),
                None => head.fill(0),
            }
            buf = rest;
            offset += n as u64;
        }
    }

    /// Writes `buf` at `offset`.
    pub(crate) fn write(&mut self, mut offset: u64, mut buf: &[u8]) {
        while !buf.is_empty() {
            let page = offset / PAGE as u64;
            let at = (offset % PAGE as u64) as usize;
            let n = (PAGE - at).min(buf.len());
            let i = self.frame(page);
            let (head, rest) = buf.split_at(n);
            if let Some(dst) = self.bytes_mut(i).and_then(|b| b.get_mut(at..at + n)) {
                dst.copy_from_slice(head);
            }
            if let Some(f) = self.frames.get_mut(i) {
                f.dirty = true;
            }
            buf = rest;
            offset += n as u64;
        }
    }

    pub(crate) fn read_u64(&mut self, offset: u64) -> u64 {
        let at = (offset % PAGE as u64) as usize;
        if at + 8 <= PAGE {
            // Within one page (every aligned word): no copy loop.
            let i = self.frame(offset / PAGE as u64);
            let word = self
                .bytes(i)
                .and_then(|b| b.get(at..at + 8))
                .and_then(|b| <[u8; 8]>::try_from(b).ok());
            if let Some(b) = word {
                return u64::from_le_bytes(b);
            }
        }
        let mut b = [0u8; 8];
        self.read(offset, &mut b);
        u64::from_le_bytes(b)
    }

    pub(crate) fn write_u64(&mut self, offset: u64, v: u64) {
        self.write(offset, &v.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::SimFs;

    #[test]
    fn pages_survive_eviction_and_memory_stays_bounded() {
        let vfs: Arc<dyn Vfs> = Arc::new(SimFs::new(7));
        vfs.create_dir_all(std::path::Path::new("/d")).unwrap();
        let mut p = Pager::new(vfs.clone(), "/d/index.test".into(), 4, &Arc::default());
        // 64 pages of data through a 4-page cache, with writes that straddle pages.
        for i in 0..(64 * PAGE as u64 / 8) {
            p.write_u64(i * 8 + 3, i * 7 + 1);
            assert!(p.resident() <= 4);
        }
        for i in (0..(64 * PAGE as u64 / 8)).rev() {
            assert_eq!(p.read_u64(i * 8 + 3), i * 7 + 1, "word {i}");
        }
        assert!(p.take_error().is_none());
        assert!(vfs.exists(std::path::Path::new("/d/index.test")).unwrap());
        // Never written: zeros.
        assert_eq!(p.read_u64(1 << 30), 0);
        p.set_capacity(2);
        assert_eq!(p.resident(), 0, "shrinking drops every page");
        assert_eq!(p.read_u64(8 * 100 + 3), 701);
        p.set_capacity(3);
        for i in 0..(64 * PAGE as u64 / 8) {
            assert_eq!(p.read_u64(i * 8 + 3), i * 7 + 1, "word {i} after growing");
        }
        assert_eq!(p.read_u64(8 * 100 + 3), 701);
        p.clear();
        assert_eq!(p.read_u64(8 * 100 + 3), 0, "cleared");
        p.remove_file().unwrap();
        assert!(!vfs.exists(std::path::Path::new("/d/index.test")).unwrap());
    }

    #[test]
    fn small_data_never_creates_the_file() {
        let vfs: Arc<dyn Vfs> = Arc::new(SimFs::new(1));
        vfs.create_dir_all(std::path::Path::new("/d")).unwrap();
        let mut p = Pager::new(vfs.clone(), "/d/index.small".into(), 8, &Arc::default());
        for i in 0..1000u64 {
            p.write_u64(i * 8, i);
        }
        assert_eq!(p.read_u64(999 * 8), 999);
        assert!(!vfs.exists(std::path::Path::new("/d/index.small")).unwrap());
    }
}
