//! The filesystem seam. The file store does all of its file access through [`Vfs`], so
//! tests can swap the real filesystem for [`SimFs`], which models what survives a power
//! cut (only fsynced bytes, only fsynced directory entries) and injects faults.
//!
//! File operations take `&self` and explicit offsets (pread/pwrite style), so a store
//! can read through a shared reference while it owns the writer.

mod fault;
mod real;
pub(crate) mod rng;
mod sim;

use std::fmt::Debug;
use std::io;
use std::path::Path;

pub use fault::{FaultKind, FaultRule, FsOp};
pub use real::RealFs;
pub use sim::{PowerCut, SimFs};

/// How to open a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Read only; the file must exist.
    Read,
    /// Read and write; the file must exist.
    ReadWrite,
    /// Read and write; created empty if missing, never truncated.
    Create,
    /// Read and write; fails with `AlreadyExists` if the file exists.
    CreateNew,
}

/// A filesystem: files, directories, and the syncs that make them durable.
pub trait Vfs: Send + Sync + Debug {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn VfsFile>>;
    /// Makes creations, renames and removals of entries in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes an empty directory.
    fn remove_dir(&self, path: &Path) -> io::Result<()>;
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Names (not paths) of the entries in `dir`, in no particular order.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>>;
    fn exists(&self, path: &Path) -> io::Result<bool>;
}

/// An open file. Writes are not durable until [`VfsFile::sync_data`] returns.
pub trait VfsFile: Send + Sync + Debug {
    /// Reads up to `buf.len()` bytes at `offset`; returns how many (0 at end of file).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Writes all of `buf` at `offset`, extending the file if needed. On error an
    /// unknown prefix may have been written.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    fn len(&self) -> io::Result<u64>;
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Makes the file at least `len` bytes long, zero-filled past its old end, with the
    /// space reserved (fallocate); never shrinks it. Writes below `len` then change no
    /// file size, so their fdatasync has no size change to journal.
    fn allocate(&self, len: u64) -> io::Result<()>;
    /// fsync of data and size (fdatasync).
    fn sync_data(&self) -> io::Result<()>;
    /// fsync of data and all metadata.
    fn sync_all(&self) -> io::Result<()>;

    /// Reads exactly `buf.len()` bytes at `offset`, or fails with `UnexpectedEof`.
    fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(buf, offset) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short read")),
                Ok(n) => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
