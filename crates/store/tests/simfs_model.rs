//! The simulated filesystem itself: what survives a power cut, and its faults. The
//! crash tests are only as good as this model.

use std::path::Path;

use sluice_store::vfs::{FaultKind, FaultRule, FsOp, OpenMode, PowerCut};
use sluice_store::{SimFs, Vfs};

fn p(s: &str) -> &Path {
    Path::new(s)
}

fn setup() -> SimFs {
    let fs = SimFs::new(1);
    fs.create_dir_all(p("/d")).unwrap();
    fs.sync_dir(p("/")).unwrap();
    fs
}

#[test]
fn a_new_file_needs_its_directory_synced() {
    let fs = setup();
    let f = fs.open(p("/d/a"), OpenMode::CreateNew).unwrap();
    f.write_at(b"hello", 0).unwrap();
    f.sync_data().unwrap();
    fs.power_cut(PowerCut::DropUnsynced);
    assert!(
        !fs.exists(p("/d/a")).unwrap(),
        "fsync of the file does not make its name durable"
    );
    let f = fs.open(p("/d/a"), OpenMode::CreateNew).unwrap();
    f.write_at(b"hello", 0).unwrap();
    f.sync_data().unwrap();
    fs.sync_dir(p("/d")).unwrap();
    fs.power_cut(PowerCut::DropUnsynced);
    assert_eq!(fs.read_file(p("/d/a")).unwrap(), b"hello");
}

#[test]
fn unsynced_bytes_are_lost_and_synced_bytes_kept() {
    let fs = setup();
    let f = fs.open(p("/d/a"), OpenMode::CreateNew).unwrap();
    fs.sync_dir(p("/d")).unwrap();
    f.write_at(b"durable", 0).unwrap();
    f.sync_data().unwrap();
    f.write_at(b"-volatile", 7).unwrap();
    f.set_len(20).unwrap();
    assert_eq!(f.len().unwrap(), 20);
    fs.power_cut(PowerCut::DropUnsynced);
    assert_eq!(fs.read_file(p("/d/a")).unwrap(), b"durable");
    // The old handle belongs to a dead process.
    assert!(f.write_at(b"x", 0).is_err());
}

#[test]
fn tearing_keeps_a_prefix_of_unsynced_writes() {
    for seed in 0..50 {
        let fs = SimFs::new(seed);
        fs.create_dir_all(p("/d")).unwrap();
        fs.sync_dir(p("/")).unwrap();
        let f = fs.open(p("/d/a"), OpenMode::CreateNew).unwrap();
        fs.sync_dir(p("/d")).unwrap();
        f.write_at(b"base", 0).unwrap();
        f.sync_data().unwrap();
        f.write_at(b"0123456789", 4).unwrap();
        f.write_at(b"abcdefghij", 14).unwrap();
        fs.power_cut(PowerCut::TearUnsynced);
        let got = fs.read_file(p("/d/a")).unwrap();
        let full = b"base0123456789abcdefghij";
        assert!(
            got.len() >= 4 && full.starts_with(&got),
            "seed {seed}: {got:?}"
        );
    }
}

#[test]
fn removal_and_rename_need_the_directory_synced() {
    let fs = setup();
    for name in ["/d/a", "/d/b"] {
        let f = fs.open(p(name), OpenMode::CreateNew).unwrap();
        f.write_at(name.as_bytes(), 0).unwrap();
        f.sync_all().unwrap();
    }
    fs.sync_dir(p("/d")).unwrap();
    fs.remove_file(p("/d/a")).unwrap();
    fs.rename(p("/d/b"), p("/d/c")).unwrap();
    fs.power_cut(PowerCut::DropUnsynced);
    let mut names = fs.list_dir(p("/d")).unwrap();
    names.sort();
    assert_eq!(names, ["a", "b"]);
    fs.remove_file(p("/d/a")).unwrap();
    fs.rename(p("/d/b"), p("/d/c")).unwrap();
    fs.sync_dir(p("/d")).unwrap();
    fs.power_cut(PowerCut::DropUnsynced);
    assert_eq!(fs.list_dir(p("/d")).unwrap(), ["c"]);
    assert_eq!(fs.read_file(p("/d/c")).unwrap(), b"/d/b");
}

#[test]
fn a_failed_fsync_never_persists_the_dropped_writes() {
    let fs = setup();
    let f = fs.open(p("/d/a"), OpenMode::CreateNew).unwrap();
    fs.sync_dir(p("/d")).unwrap();
    f.write_at(&[1; 100], 0).unwrap();
    fs.add_fault(FaultRule::once(FsOp::SyncFile, FaultKind::Eio));
    assert_eq!(f.sync_data().unwrap_err().raw_os_error(), Some(5));
    // The page cache still shows the data, and a retried fsync "succeeds"...
    assert_eq!(fs.read_file(p("/d/a")).unwrap().len(), 100);
    f.sync_data().unwrap();
    // ...but what the failed fsync dropped is not on disk (fsyncgate).
    fs.power_cut(PowerCut::DropUnsynced);
    let got = fs.read_file(p("/d/a")).unwrap();
    assert!(got.len() <= 100);
}

#[test]
fn faults_are_targeted_and_counted() {
    let fs = setup();
    fs.add_fault(
        FaultRule::once(FsOp::Open, FaultKind::Enospc)
            .after(1)
            .on_path("x"),
    );
    fs.open(p("/d/y"), OpenMode::Create).unwrap();
    fs.open(p("/d/x1"), OpenMode::Create).unwrap();
    assert_eq!(
        fs.open(p("/d/x2"), OpenMode::Create)
            .unwrap_err()
            .raw_os_error(),
        Some(28)
    );
    fs.open(p("/d/x3"), OpenMode::Create).unwrap();
    assert_eq!(fs.op_count(FsOp::Open), 4);
}

#[test]
fn capacity_runs_out_with_a_partial_write() {
    let fs = setup();
    fs.set_capacity(Some(10));
    let f = fs.open(p("/d/a"), OpenMode::CreateNew).unwrap();
    f.write_at(b"12345", 0).unwrap();
    assert_eq!(
        f.write_at(b"6789abcdef", 5).unwrap_err().raw_os_error(),
        Some(28)
    );
    assert_eq!(f.len().unwrap(), 10);
    fs.set_capacity(None);
    f.write_at(b"more", 10).unwrap();
}

#[test]
fn bit_flips_hit_both_images() {
    let fs = setup();
    let f = fs.open(p("/d/a"), OpenMode::CreateNew).unwrap();
    fs.sync_dir(p("/d")).unwrap();
    f.write_at(&[0; 4], 0).unwrap();
    f.sync_data().unwrap();
    fs.flip_bit(p("/d/a"), 2, 7).unwrap();
    assert_eq!(fs.read_file(p("/d/a")).unwrap(), [0, 0, 0x80, 0]);
    fs.power_cut(PowerCut::DropUnsynced);
    assert_eq!(fs.read_file(p("/d/a")).unwrap(), [0, 0, 0x80, 0]);
}
