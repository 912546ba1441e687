//! `SimFs`: an in-memory filesystem that models durability, for crash tests.
//!
//! Model (strict POSIX, the adversarial reading):
//! - Every file (inode) has its current bytes, its durable bytes, and the list of writes
//!   and size changes made since its last fsync. `sync_data`/`sync_all` make them durable.
//! - Every directory entry (create, rename, remove) changes the current namespace only;
//!   it becomes durable when its parent directory is fsynced. fsync of a file does not
//!   make its name durable.
//! - [`SimFs::power_cut`] throws away the page cache: the namespace falls back to its
//!   durable entries and every file to its durable bytes. In
//!   [`PowerCut::TearUnsynced`] mode a random prefix of each file's unsynced writes
//!   survives (the last of them possibly torn mid-write) and each unsynced directory
//!   change survives with probability 1/2, as a real disk may have written some of it.
//! - A failed fsync loses an unknown part of the unsynced writes for good (the
//!   "fsyncgate" behaviour of Linux): a later successful fsync does not bring them back.
//! - Faults (EIO, ENOSPC) come from [`FaultRule`]s and a capacity limit. A failing write
//!   may have written a random prefix. All randomness comes from the seed.
//!
//! Handles opened before a power cut fail with an error afterwards: the process that
//! owned them is gone.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::fault::{FaultKind, FaultRule, FsOp};
use super::rng::SplitMix64;
use super::{OpenMode, Vfs, VfsFile};

/// What a power cut keeps of what was not fsynced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerCut {
    /// Nothing: every unsynced byte and directory entry is lost.
    DropUnsynced,
    /// A random prefix of each file's unsynced writes, the last possibly torn, and a
    /// random subset of unsynced directory changes.
    TearUnsynced,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    File(u64),
    Dir,
}

#[derive(Debug, Clone)]
enum Pending {
    Write { offset: u64, data: Vec<u8> },
    SetLen(u64),
}

impl Pending {
    fn apply(&self, to: &mut Vec<u8>) {
        match self {
            Pending::Write { offset, data } => write_into(to, *offset, data),
            Pending::SetLen(len) => to.resize(usize::try_from(*len).unwrap_or(usize::MAX), 0),
        }
    }
}

fn write_into(to: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let start = usize::try_from(offset).unwrap_or(usize::MAX);
    let end = start.saturating_add(data.len());
    if to.len() < end {
        to.resize(end, 0);
    }
    if let Some(dst) = to.get_mut(start..end) {
        dst.copy_from_slice(data);
    }
}

#[derive(Debug, Default, Clone)]
struct Inode {
    data: Vec<u8>,
    durable: Vec<u8>,
    pending: Vec<Pending>,
}

#[derive(Debug)]
struct ActiveRule {
    rule: FaultRule,
    matched: u64,
    fired: u64,
}

#[derive(Debug)]
struct State {
    entries: BTreeMap<PathBuf, Node>,
    durable: BTreeMap<PathBuf, Node>,
    inodes: HashMap<u64, Inode>,
    next_inode: u64,
    epoch: u64,
    rng: SplitMix64,
    rules: Vec<ActiveRule>,
    capacity: Option<u64>,
    op_counts: HashMap<FsOp, u64>,
}

fn is_root(p: &Path) -> bool {
    p.as_os_str().is_empty() || p == Path::new("/")
}

fn parent_of(p: &Path) -> PathBuf {
    p.parent().map(Path::to_path_buf).unwrap_or_default()
}

fn same_dir(a: &Path, b: &Path) -> bool {
    a == b || (is_root(a) && is_root(b))
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

impl State {
    /// Counts the operation and fails it if a fault rule says so.
    fn check(&mut self, op: FsOp, path: &str) -> io::Result<()> {
        *self.op_counts.entry(op).or_default() += 1;
        for r in &mut self.rules {
            if !r.rule.applies(op, path) {
                continue;
            }
            r.matched += 1;
            if r.matched <= r.rule.skip || r.rule.times.is_some_and(|t| r.fired >= t) {
                continue;
            }
            if r.rule.probability >= 1.0 || self.rng.chance(r.rule.probability) {
                r.fired += 1;
                return Err(r.rule.kind.to_error());
            }
        }
        Ok(())
    }

    fn is_dir(&self, p: &Path) -> bool {
        is_root(p) || self.entries.get(p) == Some(&Node::Dir)
    }

    fn used_bytes(&self) -> u64 {
        self.inodes.values().map(|i| i.data.len() as u64).sum()
    }

    fn inode(&mut self, ino: u64) -> io::Result<&mut Inode> {
        self.inodes
            .get_mut(&ino)
            .ok_or_else(|| io::Error::other("simfs: inode vanished"))
    }

    /// Applies a random prefix of the pending writes to the durable image and forgets
    /// the rest (a crash, or a failed fsync).
    fn settle_randomly(rng: &mut SplitMix64, inode: &mut Inode) {
        let pending = std::mem::take(&mut inode.pending);
        let keep = rng.up_to(pending.len() as u64) as usize;
        for (i, p) in pending.iter().enumerate() {
            if i < keep {
                p.apply(&mut inode.durable);
            } else {
                if let Pending::Write { offset, data } = p {
                    let torn = rng.up_to(data.len() as u64) as usize;
                    write_into(
                        &mut inode.durable,
                        *offset,
                        data.get(..torn).unwrap_or_default(),
                    );
                }
                break;
            }
        }
    }
}

/// The simulated filesystem. Cloning shares the same state.
#[derive(Clone)]
pub struct SimFs {
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for SimFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimFs").finish_non_exhaustive()
    }
}

impl SimFs {
    pub fn new(seed: u64) -> Self {
        SimFs {
            state: Arc::new(Mutex::new(State {
                entries: BTreeMap::new(),
                durable: BTreeMap::new(),
                inodes: HashMap::new(),
                next_inode: 1,
                epoch: 0,
                rng: SplitMix64::new(seed),
                rules: Vec::new(),
                capacity: None,
                op_counts: HashMap::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in another test thread must not hide this one's result.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Loses the page cache; see the module docs. Open handles become unusable.
    pub fn power_cut(&self, mode: PowerCut) {
        let mut st = self.lock();
        let st = &mut *st;
        let mut namespace = st.durable.clone();
        if mode == PowerCut::TearUnsynced {
            let paths: BTreeSet<PathBuf> = st
                .entries
                .keys()
                .chain(st.durable.keys())
                .cloned()
                .collect();
            for p in paths {
                let (cur, dur) = (st.entries.get(&p), st.durable.get(&p));
                if cur != dur && st.rng.chance(0.5) {
                    match cur {
                        Some(n) => namespace.insert(p, *n),
                        None => namespace.remove(&p),
                    };
                }
            }
            // An entry whose directory did not survive is unreachable.
            let dirs: BTreeSet<PathBuf> = namespace
                .iter()
                .filter(|(_, n)| **n == Node::Dir)
                .map(|(p, _)| p.clone())
                .collect();
            namespace.retain(|p, _| {
                let parent = parent_of(p);
                is_root(&parent) || dirs.contains(&parent)
            });
        }
        let mut inodes = HashMap::new();
        for node in namespace.values() {
            if let Node::File(ino) = node {
                if inodes.contains_key(ino) {
                    continue;
                }
                let mut inode = st.inodes.get(ino).cloned().unwrap_or_default();
                if mode == PowerCut::TearUnsynced {
                    State::settle_randomly(&mut st.rng, &mut inode);
                }
                inode.pending.clear();
                inode.data = inode.durable.clone();
                inodes.insert(*ino, inode);
            }
        }
        st.inodes = inodes;
        st.durable = namespace.clone();
        st.entries = namespace;
        st.epoch += 1;
    }

    pub fn add_fault(&self, rule: FaultRule) {
        self.lock().rules.push(ActiveRule {
            rule,
            matched: 0,
            fired: 0,
        });
    }

    pub fn clear_faults(&self) {
        let mut st = self.lock();
        st.rules.clear();
        st.capacity = None;
    }

    /// Total bytes all files may hold; a write past it fails with ENOSPC after writing
    /// what fits.
    pub fn set_capacity(&self, bytes: Option<u64>) {
        self.lock().capacity = bytes;
    }

    /// How many times `op` was attempted (including failed attempts).
    pub fn op_count(&self, op: FsOp) -> u64 {
        self.lock().op_counts.get(&op).copied().unwrap_or(0)
    }

    fn file_inode(st: &State, path: &Path) -> io::Result<u64> {
        match st.entries.get(path) {
            Some(Node::File(ino)) => Ok(*ino),
            _ => Err(io::Error::new(io::ErrorKind::NotFound, path_str(path))),
        }
    }

    /// Media damage: flips one bit in the current and the durable image.
    pub fn flip_bit(&self, path: &Path, offset: u64, bit: u8) -> io::Result<()> {
        let mut st = self.lock();
        let ino = Self::file_inode(&st, path)?;
        let inode = st.inode(ino)?;
        let i = usize::try_from(offset).unwrap_or(usize::MAX);
        for img in [&mut inode.data, &mut inode.durable] {
            if let Some(b) = img.get_mut(i) {
                *b ^= 1 << (bit % 8);
            }
        }
        Ok(())
    }

    /// Media damage: overwrites bytes in the current and the durable image.
    pub fn overwrite(&self, path: &Path, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let mut st = self.lock();
        let ino = Self::file_inode(&st, path)?;
        let inode = st.inode(ino)?;
        write_into(&mut inode.data, offset, bytes);
        write_into(&mut inode.durable, offset, bytes);
        Ok(())
    }

    /// Cuts a file short in the current and the durable image (a crash image).
    pub fn truncate_durably(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut st = self.lock();
        let ino = Self::file_inode(&st, path)?;
        let inode = st.inode(ino)?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        inode.data.truncate(len);
        inode.durable.truncate(len);
        inode.pending.clear();
        Ok(())
    }

    /// The current bytes of a file.
    pub fn read_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        let mut st = self.lock();
        let ino = Self::file_inode(&st, path)?;
        Ok(st.inode(ino)?.data.clone())
    }
}

impl Vfs for SimFs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn VfsFile>> {
        let mut st = self.lock();
        let name = path_str(path);
        st.check(FsOp::Open, &name)?;
        let ino = match st.entries.get(path).copied() {
            Some(Node::File(_)) if mode == OpenMode::CreateNew => {
                return Err(io::Error::new(io::ErrorKind::AlreadyExists, name));
            }
            Some(Node::File(ino)) => ino,
            Some(Node::Dir) => return Err(io::Error::other(format!("{name} is a directory"))),
            None => {
                if matches!(mode, OpenMode::Read | OpenMode::ReadWrite)
                    || !st.is_dir(&parent_of(path))
                {
                    return Err(io::Error::new(io::ErrorKind::NotFound, name));
                }
                let ino = st.next_inode;
                st.next_inode += 1;
                st.inodes.insert(ino, Inode::default());
                st.entries.insert(path.to_path_buf(), Node::File(ino));
                ino
            }
        };
        Ok(Box::new(SimFile {
            state: self.state.clone(),
            ino,
            path: name,
            epoch: st.epoch,
            writable: mode != OpenMode::Read,
        }))
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut st = self.lock();
        st.check(FsOp::SyncDir, &path_str(dir))?;
        if !st.is_dir(dir) {
            return Err(io::Error::new(io::ErrorKind::NotFound, path_str(dir)));
        }
        let children: BTreeSet<PathBuf> = st
            .entries
            .keys()
            .chain(st.durable.keys())
            .filter(|p| same_dir(&parent_of(p), dir))
            .cloned()
            .collect();
        for p in children {
            match st.entries.get(&p).copied() {
                Some(n) => st.durable.insert(p, n),
                None => st.durable.remove(&p),
            };
        }
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut st = self.lock();
        st.check(FsOp::Rename, &path_str(from))?;
        match st.entries.get(from).copied() {
            Some(Node::File(ino))
                if st.is_dir(&parent_of(to)) && st.entries.get(to) != Some(&Node::Dir) =>
            {
                st.entries.remove(from);
                st.entries.insert(to.to_path_buf(), Node::File(ino));
                Ok(())
            }
            _ => Err(io::Error::new(io::ErrorKind::NotFound, path_str(from))),
        }
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut st = self.lock();
        st.check(FsOp::Remove, &path_str(path))?;
        match st.entries.get(path) {
            Some(Node::File(_)) => {
                st.entries.remove(path);
                Ok(())
            }
            _ => Err(io::Error::new(io::ErrorKind::NotFound, path_str(path))),
        }
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        let mut st = self.lock();
        st.check(FsOp::Remove, &path_str(path))?;
        if st.entries.get(path) != Some(&Node::Dir) {
            return Err(io::Error::new(io::ErrorKind::NotFound, path_str(path)));
        }
        if st.entries.keys().any(|p| same_dir(&parent_of(p), path)) {
            return Err(io::Error::other(format!("{} is not empty", path_str(path))));
        }
        st.entries.remove(path);
        Ok(())
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut st = self.lock();
        st.check(FsOp::CreateDir, &path_str(path))?;
        let mut todo: Vec<&Path> = path.ancestors().filter(|p| !is_root(p)).collect();
        todo.reverse();
        for p in todo {
            match st.entries.get(p) {
                Some(Node::Dir) => {}
                Some(Node::File(_)) => {
                    return Err(io::Error::other(format!("{} is a file", path_str(p))))
                }
                None => {
                    st.entries.insert(p.to_path_buf(), Node::Dir);
                }
            }
        }
        Ok(())
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut st = self.lock();
        st.check(FsOp::ListDir, &path_str(dir))?;
        if !st.is_dir(dir) {
            return Err(io::Error::new(io::ErrorKind::NotFound, path_str(dir)));
        }
        Ok(st
            .entries
            .keys()
            .filter(|p| same_dir(&parent_of(p), dir))
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect())
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        let st = self.lock();
        Ok(is_root(path) || st.entries.contains_key(path))
    }
}

struct SimFile {
    state: Arc<Mutex<State>>,
    ino: u64,
    path: String,
    epoch: u64,
    writable: bool,
}

impl fmt::Debug for SimFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimFile")
            .field("path", &self.path)
            .field("ino", &self.ino)
            .finish()
    }
}

impl SimFile {
    /// Locks the fs, refuses stale handles, and applies fault rules for `op`.
    fn begin(&self, op: FsOp) -> io::Result<MutexGuard<'_, State>> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.epoch != self.epoch {
            return Err(io::Error::other("simfs: handle from before a power cut"));
        }
        st.check(op, &self.path)?;
        Ok(st)
    }

    fn need_writable(&self) -> io::Result<()> {
        if self.writable {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                self.path.clone(),
            ))
        }
    }
}

impl VfsFile for SimFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut st = self.begin(FsOp::Read)?;
        let data = &st.inode(self.ino)?.data;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let avail = data.get(start..).unwrap_or_default();
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        Ok(n)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.need_writable()?;
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.epoch != self.epoch {
            return Err(io::Error::other("simfs: handle from before a power cut"));
        }
        // Work out how much of the write lands: all of it, or (on a fault) a prefix.
        let mut fault = st.check(FsOp::Write, &self.path).err();
        let mut landed = buf.len();
        if fault.is_some() {
            landed = st.rng.up_to(buf.len() as u64) as usize;
        }
        if let Some(cap) = st.capacity {
            let used = st.used_bytes();
            let cur_len = st.inode(self.ino)?.data.len() as u64;
            let growth = (offset + landed as u64).saturating_sub(cur_len);
            if used + growth > cap {
                let room = cap.saturating_sub(used);
                let fits = (cur_len + room).saturating_sub(offset);
                landed = landed.min(usize::try_from(fits).unwrap_or(usize::MAX));
                fault = Some(FaultKind::Enospc.to_error());
            }
        }
        let part = buf.get(..landed).unwrap_or_default();
        if !part.is_empty() {
            let inode = st.inode(self.ino)?;
            write_into(&mut inode.data, offset, part);
            inode.pending.push(Pending::Write {
                offset,
                data: part.to_vec(),
            });
        }
        match fault {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn len(&self) -> io::Result<u64> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.epoch != self.epoch {
            return Err(io::Error::other("simfs: handle from before a power cut"));
        }
        Ok(st.inode(self.ino)?.data.len() as u64)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.need_writable()?;
        let mut st = self.begin(FsOp::SetLen)?;
        let inode = st.inode(self.ino)?;
        let p = Pending::SetLen(len);
        p.apply(&mut inode.data);
        inode.pending.push(p);
        Ok(())
    }

    fn allocate(&self, len: u64) -> io::Result<()> {
        self.need_writable()?;
        let mut st = self.begin(FsOp::Allocate)?;
        let cur = st.inode(self.ino)?.data.len() as u64;
        if len <= cur {
            return Ok(());
        }
        // All or nothing, as fallocate reserves the whole range or fails.
        if st
            .capacity
            .is_some_and(|cap| st.used_bytes() + (len - cur) > cap)
        {
            return Err(FaultKind::Enospc.to_error());
        }
        let inode = st.inode(self.ino)?;
        let p = Pending::SetLen(len);
        p.apply(&mut inode.data);
        inode.pending.push(p);
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.epoch != self.epoch {
            return Err(io::Error::other("simfs: handle from before a power cut"));
        }
        let st = &mut *st;
        if let Err(e) = st.check(FsOp::SyncFile, &self.path) {
            // fsyncgate: part of the dirty data may have reached the disk, the rest is
            // dropped and no later fsync will write it.
            let inode = st
                .inodes
                .get_mut(&self.ino)
                .ok_or_else(|| io::Error::other("simfs: inode vanished"))?;
            State::settle_randomly(&mut st.rng, inode);
            return Err(e);
        }
        let inode = st.inode(self.ino)?;
        for p in std::mem::take(&mut inode.pending) {
            p.apply(&mut inode.durable);
        }
        Ok(())
    }

    fn sync_all(&self) -> io::Result<()> {
        self.sync_data()
    }
}
