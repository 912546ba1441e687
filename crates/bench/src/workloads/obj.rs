//! `obj-put` and `obj-get`: one large object (default 100 MB) through
//! async-nats's object store, in its default 128 KiB chunks. Each run
//! creates a fresh file object store and deletes it afterwards.
//!
//! - `obj-put`: the time of `put` — async-nats publishes the chunks one at a
//!   time, each awaiting its ack, then the metadata — as MB/s.
//! - `obj-get`: the object is put first (not timed), then `get` and reading
//!   it to the end are timed; the bytes must be those put (async-nats also
//!   checks the SHA-256 digest).
//!
//! Chunk acks differ as JetStream acks do: nats-server acknowledges before
//! its periodic fsync, Sluice after an fsync, and the client awaits each
//! chunk's ack before sending the next, so obj-put pays one fsync per chunk
//! on Sluice.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use async_nats::jetstream::{self, object_store, stream::StorageType};
use tokio::io::AsyncReadExt;

use super::kv::{block_on, bucket_name, outcome};
use super::natsclient::connect;
use super::{payload, Opts, Spec};
use crate::endpoint::Endpoint;
use crate::report::{Metric, Outcome, Unit};

/// The object's name in the store.
const OBJECT: &str = "bench-object";

pub fn run(spec: &Spec, ep: &Endpoint, opts: &Opts, get: bool) -> Result<Outcome> {
    let size = spec.size;
    let data = payload(size);
    // About 1 s per 100 MB at 100 MB/s; a slow disk may need far more.
    let bound = opts.timeout * u32::try_from(size.div_ceil(100_000_000).max(1)).unwrap_or(1);
    let secs = block_on(&spec.name, bound, async {
        let client = connect(ep, &format!("sluice-bench-{}", spec.name)).await?;
        let js = jetstream::new(client.clone());
        let name = bucket_name(&spec.name);
        // Left over by an interrupted run, or absent.
        let _ = js.delete_object_store(&name).await;
        let store = js
            .create_object_store(object_store::Config {
                bucket: name.clone(),
                storage: StorageType::File,
                ..Default::default()
            })
            .await
            .with_context(|| format!("cannot create object store {name}"))?;
        let result = async {
            let start = Instant::now();
            let info = store
                .put(OBJECT, &mut data.as_slice())
                .await
                .context("object put failed")?;
            let put_secs = start.elapsed().as_secs_f64();
            if info.size != size {
                bail!("object put stored {} B of {size}", info.size);
            }
            if !get {
                return Ok(put_secs);
            }
            let start = Instant::now();
            let mut object = store.get(OBJECT).await.context("object get failed")?;
            let mut back = Vec::with_capacity(size);
            object
                .read_to_end(&mut back)
                .await
                .context("reading the object failed")?;
            let get_secs = start.elapsed().as_secs_f64();
            if back != data {
                bail!(
                    "object get returned {} B that differ from the {size} B put",
                    back.len()
                );
            }
            Ok(get_secs)
        }
        .await;
        let cleaned = js
            .delete_object_store(&name)
            .await
            .with_context(|| format!("cannot delete object store {name}"));
        let secs = result?;
        cleaned?;
        Ok(secs)
    })?;
    let what = if get { "get" } else { "put" };
    Ok(outcome(
        spec,
        ep,
        vec![Metric::custom(
            &format!("{what} MB/s"),
            size as f64 / 1e6 / secs.max(1e-9),
            Unit::MBps,
            true,
        )],
        format!("one object of {size} B, {what} in {secs:.2}s"),
    ))
}
