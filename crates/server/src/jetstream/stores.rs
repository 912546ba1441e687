//! The real stores the engine uses: file streams through `RealFs`, memory streams in
//! memory, stream metadata as checksummed files.

use std::path::Path;
use std::sync::Arc;

use super::timed_store::TimedStore;
use crate::monitor::JsTimings;
use sluice_jetstream::{FileMetaStore, MetaStore, StorageType, StoreFactory};
use sluice_store::{FileStore, FileStoreOptions, MemStore, MessageStore, RealFs, StoreError, Vfs};

struct RealStores {
    vfs: Arc<dyn Vfs>,
    timings: Arc<JsTimings>,
}

impl StoreFactory for RealStores {
    fn open(
        &mut self,
        _stream: &str,
        storage: StorageType,
        dir: &Path,
    ) -> Result<Box<dyn MessageStore>, StoreError> {
        Ok(match storage {
            // Segments go in `msgs/`, beside the stream's metadata file, as nats-server
            // lays out a stream directory. Their fsyncs are timed for `/metrics`.
            StorageType::File => Box::new(TimedStore {
                inner: Box::new(FileStore::open(
                    self.vfs.clone(),
                    &dir.join("msgs"),
                    FileStoreOptions::default(),
                )?),
                timings: self.timings.clone(),
            }),
            StorageType::Memory => Box::new(MemStore::new()),
        })
    }

    fn remove(&mut self, _stream: &str, dir: &Path) -> Result<(), StoreError> {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StoreError::Io {
                path: dir.display().to_string(),
                source,
            }),
        }
    }
}

/// The store factory and metadata store for a JetStream directory.
pub fn for_dir(
    store_dir: &Path,
    timings: Arc<JsTimings>,
) -> std::io::Result<(Box<dyn StoreFactory>, Box<dyn MetaStore>)> {
    std::fs::create_dir_all(store_dir)?;
    let vfs: Arc<dyn Vfs> = Arc::new(RealFs::new());
    Ok((
        Box::new(RealStores {
            vfs: vfs.clone(),
            timings,
        }),
        Box::new(FileMetaStore::with_vfs(vfs, store_dir)),
    ))
}
