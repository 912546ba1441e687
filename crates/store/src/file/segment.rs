//! One segment file: its write buffer, its file handle (opened lazily for sealed
//! segments), and its slot table, the in-memory index from sequence to record.
//!
//! Within a segment message sequences are contiguous (the store starts a new segment
//! when the sequence jumps), so the slot table is a plain vector indexed by
//! `seq - base_seq`: 16 bytes per message. The active segment keeps its table in
//! memory; a sealed segment's table moves to a region of the store's slot file
//! (`slot_pages.rs`), read through a fixed-size page cache, so memory does not grow
//! with the number of stored messages.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::slot_pages::{SlotPages, SLOT_BYTES};
use crate::error::StoreError;
use crate::vfs::{OpenMode, Vfs, VfsFile};

/// Where one message's record lives. `len`'s top bit says whether it had headers (that
/// is all the byte accounting needs besides the record length). `next` links a message
/// to the next message of its subject, so removing a subject's oldest message (a KV
/// key's oldest revision, under `max_msgs_per_subject`) finds the new oldest without a
/// scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    offset: u32,
    len: u32,
    pub subject: u32,
    /// How many sequences later the subject's next message was appended (0: none yet,
    /// or too far to say). It may point at a message since removed, never at another
    /// subject's (a subject id is not reused while any of its messages is live).
    pub next: u32,
}

const HAS_HEADERS: u32 = 1 << 31;

impl Slot {
    pub(crate) const EMPTY: Slot = Slot {
        offset: u32::MAX,
        len: 0,
        subject: u32::MAX,
        next: 0,
    };

    pub(crate) fn new(offset: u32, len: u32, has_headers: bool, subject: u32) -> Self {
        Slot {
            offset,
            len: len | if has_headers { HAS_HEADERS } else { 0 },
            subject,
            next: 0,
        }
    }

    pub(crate) fn is_live(&self) -> bool {
        self.offset != u32::MAX
    }

    pub(crate) fn offset(&self) -> u64 {
        u64::from(self.offset)
    }

    pub(crate) fn len(&self) -> usize {
        (self.len & !HAS_HEADERS) as usize
    }

    pub(crate) fn has_headers(&self) -> bool {
        self.len & HAS_HEADERS != 0
    }

    pub(crate) fn to_bytes(self) -> [u8; SLOT_BYTES as usize] {
        let mut b = [0u8; SLOT_BYTES as usize];
        b[..4].copy_from_slice(&self.offset.to_le_bytes());
        b[4..8].copy_from_slice(&self.len.to_le_bytes());
        b[8..12].copy_from_slice(&self.subject.to_le_bytes());
        b[12..].copy_from_slice(&self.next.to_le_bytes());
        b
    }

    pub(crate) fn from_bytes(b: [u8; SLOT_BYTES as usize]) -> Self {
        let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Slot {
            offset: word(0),
            len: word(4),
            subject: word(8),
            next: word(12),
        }
    }
}

/// First preallocation step of a segment; each next one is as large as the file so far.
const MIN_PREALLOC_STEP: u64 = 64 << 10;
/// Largest preallocation step.
const MAX_PREALLOC_STEP: u64 = 4 << 20;

pub(crate) fn segment_name(id: u32) -> String {
    format!("{id:08}.seg")
}

pub(crate) fn parse_segment_name(name: &str) -> Option<u32> {
    let digits = name.strip_suffix(".seg")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[derive(Debug)]
pub(crate) struct Segment {
    pub id: u32,
    /// Checksum salt of this segment's records (the store's salt).
    pub salt: u32,
    pub path: PathBuf,
    file: OnceLock<Box<dyn VfsFile>>,
    /// Bytes already written to the file: the end of its data. The file may be longer,
    /// zero-filled past this, where it was preallocated.
    written: u64,
    /// The file's length as far as this segment knows (preallocation included).
    allocated: u64,
    /// Preallocate up to this length while appending (0: never; sealed segments).
    reserve: u64,
    /// Records appended but not yet written (only the active segment has any).
    buf: Vec<u8>,
    /// Written (or overwritten) since the last fsync.
    pub dirty: bool,
    /// Sequence of `slots[0]`, or of the next message if there are no slots.
    pub base_seq: u64,
    /// The slot table while it is in memory (empty once paged out).
    slots: Vec<Slot>,
    /// Where the table is in the slot file, once the segment is sealed.
    paged_at: Option<u64>,
    /// Slots in the table.
    nslots: u64,
    /// Live messages in this segment.
    pub live: u64,
    /// Other segments whose messages this segment's delete and compact records remove.
    /// While any of them exists this segment must stay, or they would come back.
    pub targets: BTreeSet<u32>,
    /// Highest `below` of the compact records in this segment (0: none).
    pub max_compact: u64,
    /// Recovery found damage here: the file is kept for an operator, never collected.
    pub damaged: bool,
}

impl Segment {
    pub(crate) fn new(
        id: u32,
        dir: &Path,
        file: Option<Box<dyn VfsFile>>,
        len: u64,
        base_seq: u64,
        salt: u32,
    ) -> Self {
        let cell = OnceLock::new();
        if let Some(f) = file {
            let _ = cell.set(f);
        }
        Segment {
            id,
            salt,
            path: dir.join(segment_name(id)),
            file: cell,
            written: len,
            allocated: len,
            reserve: 0,
            buf: Vec::new(),
            dirty: false,
            base_seq,
            slots: Vec::new(),
            paged_at: None,
            nslots: 0,
            live: 0,
            targets: BTreeSet::new(),
            max_compact: 0,
            damaged: false,
        }
    }

    pub(crate) fn name(&self) -> String {
        segment_name(self.id)
    }

    fn file(&self, vfs: &Arc<dyn Vfs>) -> Result<&dyn VfsFile, StoreError> {
        if let Some(f) = self.file.get() {
            return Ok(f.as_ref());
        }
        let f = vfs
            .open(&self.path, OpenMode::ReadWrite)
            .map_err(|e| self.io(e))?;
        Ok(self.file.get_or_init(|| f).as_ref())
    }

    pub(crate) fn io(&self, e: std::io::Error) -> StoreError {
        StoreError::Io {
            path: self.path.display().to_string(),
            source: e,
        }
    }

    /// Recovery found the data to end at `len` in a file of `file_len` bytes.
    pub(crate) fn set_data_end(&mut self, len: u64, file_len: u64) {
        self.written = len;
        self.allocated = file_len;
    }

    /// Lets appends preallocate the file up to `len` bytes (the active segment).
    pub(crate) fn set_reserve(&mut self, len: u64) {
        self.reserve = len;
    }

    /// How far to grow the file ahead of a write ending at `end`: in steps that double
    /// (so a small stream reserves little) up to `MAX_PREALLOC_STEP`, never past
    /// `reserve` unless the write itself goes further.
    fn prealloc_target(&self, end: u64) -> Option<u64> {
        if end <= self.allocated || self.reserve == 0 {
            return None;
        }
        let step = self.allocated.clamp(MIN_PREALLOC_STEP, MAX_PREALLOC_STEP);
        Some((self.allocated + step).min(self.reserve).max(end))
    }

    /// Ends appends to this segment: flushes it and trims the preallocated tail, so a
    /// sealed segment ends with its last record (made durable by the next sync).
    pub(crate) fn seal(&mut self, vfs: &Arc<dyn Vfs>) -> Result<(), StoreError> {
        self.flush(vfs)?;
        self.reserve = 0;
        if self.allocated > self.written {
            self.file(vfs)?
                .set_len(self.written)
                .map_err(|e| self.io(e))?;
            self.allocated = self.written;
            self.dirty = true;
        }
        Ok(())
    }

    /// Installs the open handle (recovery hands over the last segment's).
    pub(crate) fn set_file(&mut self, file: Box<dyn VfsFile>) {
        let _ = self.file.set(file);
    }

    /// Closes the handle of a clean segment to bound open descriptors; reads reopen it.
    pub(crate) fn close_if_clean(&mut self) {
        if !self.dirty && self.buf.is_empty() {
            self.file.take();
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        self.file.get().is_some()
    }

    /// Bytes already in the file (the rest of `len()` is buffered).
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Reads `buf.len()` bytes at `offset` from the file; the caller keeps the range
    /// below `written()`.
    pub(crate) fn read_file(
        &self,
        vfs: &Arc<dyn Vfs>,
        buf: &mut [u8],
        offset: u64,
    ) -> Result<(), StoreError> {
        self.file(vfs)?
            .read_exact_at(buf, offset)
            .map_err(|e| self.io(e))
    }

    /// Logical length: written plus buffered.
    pub(crate) fn len(&self) -> u64 {
        self.written + self.buf.len() as u64
    }

    pub(crate) fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Sequence after the last slot.
    pub(crate) fn end_seq(&self) -> u64 {
        self.base_seq + self.nslots
    }

    pub(crate) fn slot_count(&self) -> u64 {
        self.nslots
    }

    /// Where the slot table is in the slot file, once paged out.
    pub(crate) fn paged_at(&self) -> Option<u64> {
        self.paged_at
    }

    /// The slot file moved the table (compaction).
    pub(crate) fn set_paged_at(&mut self, at: u64) {
        if self.paged_at.is_some() {
            self.paged_at = Some(at);
        }
    }

    pub(crate) fn has_slots(&self) -> bool {
        self.nslots > 0
    }

    /// Moves the slot table to the slot file (the segment is sealed: it never gets
    /// another slot).
    pub(crate) fn page_out(&mut self, pages: &mut SlotPages) {
        if self.paged_at.is_some() {
            return;
        }
        self.paged_at = Some(pages.append(&self.slots));
        self.slots = Vec::new();
    }

    /// Up to `n` slots from index `i` into `out` (cleared first): one lock for a
    /// whole run, for scans.
    pub(crate) fn slots_into(&self, pages: &Mutex<SlotPages>, i: u64, n: u64, out: &mut Vec<Slot>) {
        out.clear();
        let end = i.saturating_add(n).min(self.nslots);
        if i >= end {
            return;
        }
        match self.paged_at {
            None => {
                let (a, b) = (i as usize, end as usize);
                out.extend_from_slice(self.slots.get(a..b).unwrap_or_default());
            }
            Some(at) => pages
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .read_run(at, i, end - i, out),
        }
    }

    /// The slot at index `i` of the table.
    pub(crate) fn slot_at(&self, pages: &Mutex<SlotPages>, i: u64) -> Option<Slot> {
        if i >= self.nslots {
            return None;
        }
        match self.paged_at {
            None => self.slots.get(usize::try_from(i).ok()?).copied(),
            Some(at) => Some(
                pages
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(at, i),
            ),
        }
    }

    /// Buffers a record; returns its offset.
    pub(crate) fn push(&mut self, record: &[u8]) -> u64 {
        let at = self.len();
        self.buf.extend_from_slice(record);
        self.dirty = true;
        at
    }

    /// Writes the buffer to the file. On error the buffer is kept; the caller fails the
    /// store, since an unknown prefix may have reached the file.
    pub(crate) fn flush(&mut self, vfs: &Arc<dyn Vfs>) -> Result<(), StoreError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let end = self.written + self.buf.len() as u64;
        if let Some(target) = self.prealloc_target(end) {
            // Not an error if it fails: the write itself reports a full or failing disk.
            match self.file(vfs)?.allocate(target) {
                Ok(()) => self.allocated = target,
                Err(_) => self.reserve = 0,
            }
        }
        let f = self.file(vfs)?;
        f.write_at(&self.buf, self.written)
            .map_err(|e| self.io(e))?;
        self.allocated = self.allocated.max(end);
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Flushes and fsyncs.
    pub(crate) fn sync(&mut self, vfs: &Arc<dyn Vfs>) -> Result<(), StoreError> {
        self.flush(vfs)?;
        if self.dirty {
            self.file(vfs)?.sync_data().map_err(|e| self.io(e))?;
            self.dirty = false;
        }
        Ok(())
    }

    /// Reads `len` bytes at `offset`, from the buffer or the file.
    pub(crate) fn read(
        &self,
        vfs: &Arc<dyn Vfs>,
        offset: u64,
        len: usize,
    ) -> Result<Vec<u8>, StoreError> {
        let mut out = vec![0u8; len];
        let end = offset + len as u64;
        let from_file = end.min(self.written).saturating_sub(offset) as usize;
        if from_file > 0 {
            self.file(vfs)?
                .read_exact_at(&mut out[..from_file], offset)
                .map_err(|e| self.io(e))?;
        }
        if from_file < len {
            let start = (offset + from_file as u64 - self.written) as usize;
            let src = self
                .buf
                .get(start..start + (len - from_file))
                .ok_or_else(|| self.io(std::io::Error::from(std::io::ErrorKind::UnexpectedEof)))?;
            out[from_file..].copy_from_slice(src);
        }
        Ok(out)
    }

    /// Overwrites bytes in place (erasing a message).
    pub(crate) fn overwrite(
        &mut self,
        vfs: &Arc<dyn Vfs>,
        offset: u64,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        self.dirty = true;
        if offset >= self.written {
            let start = (offset - self.written) as usize;
            if let Some(dst) = self.buf.get_mut(start..start + bytes.len()) {
                dst.copy_from_slice(bytes);
                return Ok(());
            }
        }
        // A record never straddles the buffer boundary: flushes write whole buffers.
        self.flush(vfs)?;
        self.file(vfs)?
            .write_at(bytes, offset)
            .map_err(|e| self.io(e))
    }

    pub(crate) fn slot(&self, pages: &Mutex<SlotPages>, seq: u64) -> Option<Slot> {
        self.slot_at(pages, seq.checked_sub(self.base_seq)?)
    }

    /// Adds a message slot at `seq`, which must be at or after `end_seq()`; a gap (only
    /// after damage, during recovery) is filled with empty slots.
    /// Only while the table is in memory (the active segment, or during recovery).
    pub(crate) fn add(&mut self, seq: u64, slot: Slot) {
        if self.nslots == 0 {
            self.base_seq = seq;
        }
        let gap = seq.saturating_sub(self.end_seq()) as usize;
        self.slots.extend(std::iter::repeat_n(Slot::EMPTY, gap));
        self.slots.push(slot);
        self.nslots = self.slots.len() as u64;
        self.live += 1;
    }

    /// Reserves `seq` as an empty slot (an erased message seen during recovery).
    pub(crate) fn add_empty(&mut self, seq: u64) {
        self.add(seq, Slot::EMPTY);
        self.live -= 1;
    }

    /// Records that the next message of `seq`'s subject is `next` (if `seq` is live).
    pub(crate) fn link_next(&mut self, pages: &mut SlotPages, seq: u64, next: u64) {
        let Some(i) = seq.checked_sub(self.base_seq).filter(|i| *i < self.nslots) else {
            return;
        };
        // Too far to hold: left unknown, and the removal that needs it scans instead.
        let delta = u32::try_from(next.saturating_sub(seq)).unwrap_or(0);
        match self.paged_at {
            None => {
                if let Some(s) = usize::try_from(i).ok().and_then(|i| self.slots.get_mut(i)) {
                    if s.is_live() {
                        s.next = delta;
                    }
                }
            }
            Some(at) => {
                let mut slot = pages.get(at, i);
                if slot.is_live() {
                    slot.next = delta;
                    pages.set(at, i, slot);
                }
            }
        }
    }

    /// Empties the slot at `seq`; returns what it held if it was live.
    pub(crate) fn take(&mut self, pages: &mut SlotPages, seq: u64) -> Option<Slot> {
        let i = seq.checked_sub(self.base_seq)?;
        if i >= self.nslots {
            return None;
        }
        let old = match self.paged_at {
            None => {
                let s = self.slots.get_mut(usize::try_from(i).ok()?)?;
                std::mem::replace(s, Slot::EMPTY)
            }
            Some(at) => {
                let old = pages.get(at, i);
                if old.is_live() {
                    pages.set(at, i, Slot::EMPTY);
                }
                old
            }
        };
        if !old.is_live() {
            return None;
        }
        self.live -= 1;
        Some(old)
    }
}
