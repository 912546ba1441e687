//! Read-ahead for sequential loads. A consumer delivering a stream in order reads record
//! after record from the same segment; reading each with its own pread costs a syscall
//! per message. The cache keeps a few windows of recently read file bytes and refills a
//! window with the bytes that follow when a read continues where an earlier one ended.
//! Random reads (a KV get of one key) are not widened: they read just their record.
//!
//! What a window holds is always a copy of bytes below the segment's `written` mark,
//! which never change afterwards except when a message is erased in place (the store
//! calls `invalidate_segment`) or a segment is deleted. Buffered, unwritten records are
//! never cached.

/// Bytes read ahead at once.
pub(crate) const WINDOW: usize = 128 << 10;
/// Records larger than this are read directly: read-ahead would only copy them twice.
pub(crate) const MAX_CACHED_RECORD: usize = WINDOW / 4;
/// Windows per store, so two interleaved sequential readers both hit.
const WINDOWS: usize = 2;

#[derive(Debug, Default)]
struct Window {
    seg: u32,
    start: u64,
    data: Vec<u8>,
    /// Where the last read served from this window ended: the next sequential read
    /// starts at or shortly after it.
    cursor: u64,
    last_use: u64,
}

impl Window {
    fn end(&self) -> u64 {
        self.start + self.data.len() as u64
    }
}

#[derive(Debug, Default)]
pub(crate) struct ReadCache {
    windows: Vec<Window>,
    /// The last direct (uncached) read: a read continuing it turns into read-ahead.
    last_direct: Option<(u32, u64)>,
    clock: u64,
}

/// What to do for one read.
pub(crate) enum Plan {
    /// The bytes, copied out of a window.
    Hit(Vec<u8>),
    /// Read `len` bytes at the record's offset into a window, then serve from it.
    Fill { len: usize },
    /// Read just the record.
    Direct,
}

/// A read within this distance after the previous one counts as sequential (deleted
/// or superseded records between two live ones are skipped over).
fn continues(prev_end: u64, offset: u64) -> bool {
    offset >= prev_end && offset - prev_end <= MAX_CACHED_RECORD as u64
}

impl ReadCache {
    /// Decides how to read `len` bytes at `offset` of segment `seg`, whose first
    /// `written` bytes are in the file.
    pub(crate) fn plan(&mut self, seg: u32, offset: u64, len: usize, written: u64) -> Plan {
        let end = offset + len as u64;
        if len > MAX_CACHED_RECORD || end > written {
            return Plan::Direct;
        }
        self.clock += 1;
        let now = self.clock;
        if let Some(w) = self
            .windows
            .iter_mut()
            .find(|w| w.seg == seg && w.start <= offset && end <= w.end())
        {
            w.cursor = end;
            w.last_use = now;
            let from = (offset - w.start) as usize;
            return match w.data.get(from..from + len) {
                Some(b) => Plan::Hit(b.to_vec()),
                None => Plan::Direct,
            };
        }
        let sequential = self
            .windows
            .iter()
            .any(|w| w.seg == seg && continues(w.cursor, offset))
            || self
                .last_direct
                .is_some_and(|(s, e)| s == seg && continues(e, offset));
        if sequential {
            let fill = (written - offset).min(WINDOW as u64) as usize;
            return Plan::Fill { len: fill.max(len) };
        }
        self.last_direct = Some((seg, end));
        Plan::Direct
    }

    /// Stores bytes read at `offset` of `seg` after a `Plan::Fill`, replacing the
    /// sequential window it continues or else the least recently used one.
    pub(crate) fn insert(&mut self, seg: u32, offset: u64, data: Vec<u8>, used: usize) {
        self.clock += 1;
        let w = Window {
            seg,
            start: offset,
            cursor: offset + used as u64,
            data,
            last_use: self.clock,
        };
        if self.windows.len() < WINDOWS {
            self.windows.push(w);
            return;
        }
        let i = self
            .windows
            .iter()
            .position(|x| x.seg == seg && continues(x.cursor, offset))
            .or_else(|| {
                self.windows
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, x)| x.last_use)
                    .map(|(i, _)| i)
            });
        if let Some(slot) = i.and_then(|i| self.windows.get_mut(i)) {
            *slot = w;
        }
    }

    /// Takes a window's buffer to refill (keeps its allocation).
    pub(crate) fn spare_buffer(&mut self) -> Vec<u8> {
        if self.windows.len() < WINDOWS {
            return Vec::new();
        }
        self.windows
            .iter_mut()
            .min_by_key(|x| x.last_use)
            .map(|w| std::mem::take(&mut w.data))
            .unwrap_or_default()
    }

    /// Bytes held by the windows' buffers.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.windows.iter().map(|w| w.data.capacity()).sum()
    }

    /// Forgets everything read from `seg` (its bytes were rewritten, or it is gone).
    pub(crate) fn invalidate_segment(&mut self, seg: u32) {
        self.windows.retain(|w| w.seg != seg);
        if self.last_direct.is_some_and(|(s, _)| s == seg) {
            self.last_direct = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_reads_are_direct_and_sequential_ones_read_ahead() {
        let mut c = ReadCache::default();
        let written = 1 << 20;
        assert!(matches!(c.plan(1, 1000, 100, written), Plan::Direct));
        // Continues the direct read: fill a window.
        let Plan::Fill { len } = c.plan(1, 1100, 100, written) else {
            panic!("expected a fill")
        };
        assert_eq!(len, WINDOW);
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        c.insert(1, 1100, data.clone(), 100);
        let Plan::Hit(b) = c.plan(1, 1200, 100, written) else {
            panic!("expected a hit")
        };
        assert_eq!(b, data[100..200].to_vec());
        // Another segment, far away: direct.
        assert!(matches!(c.plan(2, 50_000, 100, written), Plan::Direct));
        c.invalidate_segment(1);
        assert!(!matches!(c.plan(1, 1200, 100, written), Plan::Hit(_)));
    }

    #[test]
    fn short_fills_replace_large_buffers() {
        let mut c = ReadCache::default();
        for (seg, written) in [(1u32, 1u64 << 20), (2, 1 << 20)] {
            assert!(matches!(c.plan(seg, 0, 100, written), Plan::Direct));
            let Plan::Fill { len } = c.plan(seg, 100, 100, written) else {
                panic!("expected a fill")
            };
            let mut buf = c.spare_buffer();
            buf.resize(len, 0);
            c.insert(seg, 100, buf, 100);
        }
        assert!(c.held() >= 2 * WINDOW);
        // Readers caught up with the end of their data: small fills (in fresh buffers,
        // see `FileStore::read_record`) take the big windows' places.
        for seg in [1u32, 2] {
            c.insert(seg, 1 << 20, vec![0; 400], 100);
        }
        assert!(c.held() < WINDOW / 4, "{}", c.held());
    }

    #[test]
    fn never_plans_past_written_bytes() {
        let mut c = ReadCache::default();
        assert!(matches!(c.plan(1, 0, 100, 1000), Plan::Direct));
        let Plan::Fill { len } = c.plan(1, 100, 100, 1000) else {
            panic!("expected a fill")
        };
        assert_eq!(len, 900);
        assert!(matches!(c.plan(1, 950, 100, 1000), Plan::Direct));
    }
}
