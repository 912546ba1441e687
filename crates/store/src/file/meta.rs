//! `store.meta`: the store's salt, written once when the store is created (temp file,
//! fsync, rename, fsync of the directory). Every segment header carries the salt too, so
//! a missing or corrupt meta file is rebuilt from the segments.

use std::path::Path;
use std::sync::Arc;

use crc32c::crc32c;

use crate::error::StoreError;
use crate::vfs::{OpenMode, Vfs};

pub(crate) const META_NAME: &str = "store.meta";
const META_TMP: &str = "store.meta.tmp";
const MAGIC: [u8; 4] = *b"SLM1";
const VERSION: u32 = 1;
const LEN: usize = 16;

fn encode(salt: u32) -> [u8; LEN] {
    let mut b = [0u8; LEN];
    b[..4].copy_from_slice(&MAGIC);
    b[4..8].copy_from_slice(&VERSION.to_le_bytes());
    b[8..12].copy_from_slice(&salt.to_le_bytes());
    let crc = crc32c(&b[..12]);
    b[12..].copy_from_slice(&crc.to_le_bytes());
    b
}

fn decode(b: &[u8]) -> Option<u32> {
    let b: &[u8; LEN] = b.try_into().ok()?;
    let crc = u32::from_le_bytes([b[12], b[13], b[14], b[15]]);
    if b[..4] != MAGIC || crc32c(&b[..12]) != crc || b[4..8] != VERSION.to_le_bytes() {
        return None;
    }
    Some(u32::from_le_bytes([b[8], b[9], b[10], b[11]]))
}

/// The salt from `store.meta`: `Ok(None)` if the file is missing or does not verify.
pub(crate) fn read(vfs: &Arc<dyn Vfs>, dir: &Path) -> Result<Option<u32>, StoreError> {
    let path = dir.join(META_NAME);
    let io = |e| StoreError::Io {
        path: path.display().to_string(),
        source: e,
    };
    if !vfs.exists(&path).map_err(io)? {
        return Ok(None);
    }
    let f = vfs.open(&path, OpenMode::Read).map_err(io)?;
    let len = f.len().map_err(io)?;
    if len != LEN as u64 {
        return Ok(None);
    }
    let mut b = [0u8; LEN];
    f.read_exact_at(&mut b, 0).map_err(io)?;
    Ok(decode(&b))
}

/// Writes `store.meta` atomically and durably.
pub(crate) fn write(vfs: &Arc<dyn Vfs>, dir: &Path, salt: u32) -> Result<(), StoreError> {
    let tmp = dir.join(META_TMP);
    let path = dir.join(META_NAME);
    let io = |p: &Path, e| StoreError::Io {
        path: p.display().to_string(),
        source: e,
    };
    if vfs.exists(&tmp).map_err(|e| io(&tmp, e))? {
        vfs.remove_file(&tmp).map_err(|e| io(&tmp, e))?;
    }
    let f = vfs
        .open(&tmp, OpenMode::CreateNew)
        .map_err(|e| io(&tmp, e))?;
    f.write_at(&encode(salt), 0).map_err(|e| io(&tmp, e))?;
    f.sync_all().map_err(|e| io(&tmp, e))?;
    drop(f);
    vfs.rename(&tmp, &path).map_err(|e| io(&path, e))?;
    vfs.sync_dir(dir).map_err(|e| io(dir, e))
}

/// A fresh random salt from the OS-seeded hasher keys (no extra dependency).
pub(crate) fn new_salt() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x5a17);
    let x = h.finish();
    // 0 is the segment-header salt; never use it for records.
    match (x ^ (x >> 32)) as u32 {
        0 => 1,
        s => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let b = encode(0x1234_5678);
        assert_eq!(decode(&b), Some(0x1234_5678));
        for i in 0..LEN * 8 {
            let mut c = b;
            c[i / 8] ^= 1 << (i % 8);
            assert_eq!(decode(&c), None);
        }
        assert_eq!(decode(&b[..15]), None);
    }
}
