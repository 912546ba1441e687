//! Measures what one durable write costs on this machine's disk (not a test): a write
//! followed by `fdatasync`, as a sequential put that waits for its ack pays, for the
//! sizes of a KV put record and an object store chunk, into three kinds of space:
//!
//! - `append`: past the end of the file (each sync also writes the new size);
//! - `fallocated`: inside space reserved with `fallocate` (unwritten extents, which the
//!   write converts), as the file store's active segment does;
//! - `prewritten`: inside blocks already written and synced (no metadata changes).
//!
//! `cargo run --release -p sluice-store --example fsync_costs [dir]`
//!
//! This bounds what any durable acknowledgement can cost here, whatever the server:
//! a sequential durable put can be no faster than its round trip plus one of these.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Instant;

const WRITES: usize = 1000;

#[derive(Clone, Copy, Debug)]
enum Space {
    Append,
    Fallocated,
    Prewritten,
}

fn prepare(path: &Path, space: Space, bytes: u64) -> File {
    let _ = std::fs::remove_file(path);
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .expect("create the probe file");
    match space {
        Space::Append => {}
        Space::Fallocated => {
            rustix::fs::fallocate(&f, rustix::fs::FallocateFlags::empty(), 0, bytes)
                .expect("fallocate");
        }
        Space::Prewritten => {
            let zeros = vec![0u8; 1 << 20];
            let mut at = 0;
            while at < bytes {
                f.write_all_at(&zeros, at).expect("prewrite");
                at += zeros.len() as u64;
            }
        }
    }
    f.sync_all().expect("sync the prepared file");
    f
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/work/tmp-fsync-costs".to_string());
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir).expect("create the probe directory");
    let path = dir.join("probe.dat");
    println!("| write size | append µs | fallocated µs | prewritten µs |");
    println!("|---:|---:|---:|---:|");
    for size in [166usize, 4096, 131_153] {
        let data = vec![b'x'; size];
        let mut row = format!("| {size} B |");
        for space in [Space::Append, Space::Fallocated, Space::Prewritten] {
            let f = prepare(&path, space, (size * WRITES) as u64 + (1 << 20));
            let start = Instant::now();
            for i in 0..WRITES {
                f.write_all_at(&data, (i * size) as u64).expect("write");
                f.sync_data().expect("fdatasync");
            }
            let us = start.elapsed().as_secs_f64() * 1e6 / WRITES as f64;
            row.push_str(&format!(" {us:.0} |"));
        }
        println!("{row}");
    }
    let _ = std::fs::remove_file(&path);
}
