//! The slot tables of sealed segments, out of memory: regions of one scratch file read
//! through a fixed-size page cache ([`Pager`]). A segment's table is appended as a
//! region when the segment is sealed; deleting the segment leaves its region as
//! garbage, compacted away once it dominates the file. The file is derived data
//! (rebuilt by recovery), like the subject index's.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::pager::Pager;
use super::segment::{Segment, Slot};
use crate::vfs::Vfs;

/// Bytes of one slot in the slot file.
pub(crate) const SLOT_BYTES: u64 = 16;
/// The slot file is compacted once this much of it (and at least half) is garbage.
const MIN_SLOT_GARBAGE: u64 = if cfg!(test) { 1024 } else { 1 << 20 };

/// The slot tables of sealed segments: one scratch file of regions (derived data,
/// rebuilt by recovery) behind a page cache, and a spare file that compaction copies
/// the live regions into once most of the file is garbage.
#[derive(Debug)]
pub(crate) struct SlotPages {
    pager: Pager,
    spare: Pager,
    end: u64,
    garbage: u64,
}

impl SlotPages {
    /// `broken` is set on any I/O error of its files.
    pub(crate) fn new(
        vfs: &Arc<dyn Vfs>,
        dir: &Path,
        pages: usize,
        prefix: &str,
        broken: &Arc<AtomicBool>,
    ) -> Self {
        let pager = |n: u32| {
            Pager::new(
                vfs.clone(),
                dir.join(format!("{prefix}slots.{n}")),
                pages,
                broken,
            )
        };
        SlotPages {
            pager: pager(0),
            spare: pager(1),
            end: 0,
            garbage: 0,
        }
    }

    pub(crate) fn set_capacity(&mut self, pages: usize) {
        self.pager.set_capacity(pages);
        self.spare.set_capacity(pages);
    }

    pub(crate) fn resident(&self) -> usize {
        self.pager.resident() + self.spare.resident()
    }

    pub(crate) fn take_error(&mut self) -> Option<std::io::Error> {
        self.pager.take_error().or_else(|| self.spare.take_error())
    }

    pub(crate) fn remove_files(&mut self) -> std::io::Result<()> {
        self.pager.remove_file()?;
        self.spare.remove_file()
    }

    /// Appends a table as a new region; returns where it starts.
    pub(crate) fn append(&mut self, slots: &[Slot]) -> u64 {
        let at = self.end;
        for (i, s) in slots.iter().enumerate() {
            self.pager.write(at + i as u64 * SLOT_BYTES, &s.to_bytes());
        }
        self.end += slots.len() as u64 * SLOT_BYTES;
        at
    }

    /// Slot `i` of the region at `at`.
    pub(crate) fn get(&mut self, at: u64, i: u64) -> Slot {
        let mut b = [0u8; SLOT_BYTES as usize];
        self.pager.read(at + i * SLOT_BYTES, &mut b);
        Slot::from_bytes(b)
    }

    pub(crate) fn set(&mut self, at: u64, i: u64, slot: Slot) {
        self.pager.write(at + i * SLOT_BYTES, &slot.to_bytes());
    }

    /// `n` slots from `i` of the region at `at`, appended to `out`.
    pub(crate) fn read_run(&mut self, at: u64, i: u64, n: u64, out: &mut Vec<Slot>) {
        let mut raw = vec![0u8; (n * SLOT_BYTES) as usize];
        self.pager.read(at + i * SLOT_BYTES, &mut raw);
        out.extend(raw.chunks_exact(SLOT_BYTES as usize).map(|c| {
            let mut b = [0u8; SLOT_BYTES as usize];
            b.copy_from_slice(c);
            Slot::from_bytes(b)
        }));
    }

    /// A segment's region is gone (the segment was deleted).
    pub(crate) fn release(&mut self, seg: &Segment) {
        if seg.paged_at().is_some() {
            self.garbage += seg.slot_count() * SLOT_BYTES;
        }
    }

    /// Copies the live regions into the spare file once garbage dominates.
    pub(crate) fn compact_if_sparse(&mut self, segs: &mut [Segment]) {
        if self.garbage < MIN_SLOT_GARBAGE || self.garbage * 2 < self.end {
            return;
        }
        self.spare.clear();
        let mut end = 0;
        let mut buf = Vec::new();
        for seg in segs.iter_mut() {
            let Some(at) = seg.paged_at() else {
                continue;
            };
            let n = seg.slot_count() * SLOT_BYTES;
            buf.resize(n as usize, 0);
            self.pager.read(at, &mut buf);
            self.spare.write(end, &buf);
            seg.set_paged_at(end);
            end += n;
        }
        std::mem::swap(&mut self.pager, &mut self.spare);
        self.spare.clear();
        self.end = end;
        self.garbage = 0;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::vfs::SimFs;

    #[test]
    fn paged_slot_tables_survive_eviction_release_and_compaction() {
        let vfs: Arc<dyn Vfs> = Arc::new(SimFs::new(4));
        let dir = Path::new("/slots");
        vfs.create_dir_all(dir).unwrap();
        let pages = Mutex::new(SlotPages::new(&vfs, dir, 2, "index.", &Arc::default()));
        let mut segs: Vec<Segment> = Vec::new();
        let mut seq = 1;
        for id in 1..=40u32 {
            let mut seg = Segment::new(id, dir, None, 0, seq, 0);
            for k in 0..300u32 {
                seg.add(seq, Slot::new(k * 50, 40, k % 2 == 0, id * 1000 + k));
                seq += 1;
            }
            seg.page_out(&mut pages.lock().unwrap());
            // Revision links are set on paged tables too, and only on live slots.
            for k in (0..300u64).step_by(3) {
                seg.link_next(
                    &mut pages.lock().unwrap(),
                    seg.base_seq + k,
                    seg.base_seq + k + 7,
                );
            }
            segs.push(seg);
        }
        let check = |segs: &[Segment], pages: &Mutex<SlotPages>| {
            for seg in segs {
                for k in 0..300u64 {
                    let s = seg.slot(pages, seg.base_seq + k);
                    if k % 3 == 1 {
                        assert_eq!(s.map(|s| s.is_live()), Some(false));
                    } else {
                        let s = s.unwrap();
                        assert_eq!((s.offset(), s.subject), (k * 50, seg.id * 1000 + k as u32));
                        assert_eq!(s.next, if k % 3 == 0 { 7 } else { 0 }, "link of {k}");
                    }
                }
            }
        };
        for seg in &mut segs {
            for k in (1..300).step_by(3) {
                let at = seg.base_seq + k;
                assert!(seg.take(&mut pages.lock().unwrap(), at).is_some());
                assert!(seg.take(&mut pages.lock().unwrap(), at).is_none());
            }
        }
        check(&segs, &pages);
        // Deleting most segments makes the file mostly garbage: compaction moves the
        // survivors' tables, which must read the same afterwards.
        let mut kept = Vec::new();
        for seg in segs {
            if seg.id % 5 == 0 {
                kept.push(seg);
            } else {
                pages.lock().unwrap().release(&seg);
            }
        }
        let before = pages.lock().unwrap().end;
        pages.lock().unwrap().compact_if_sparse(&mut kept);
        assert!(pages.lock().unwrap().end < before, "compacted");
        check(&kept, &pages);
        assert!(pages.lock().unwrap().resident() <= 4);
        assert!(pages.lock().unwrap().take_error().is_none());
    }
}
