//! Crashes on the real file store over `SimFs`: whatever was acknowledged survives a
//! power cut (stream metadata included), across seeds and both cut modes; an fsync
//! failure never produces a success ack.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use sluice_jetstream::{Engine, EngineConfig, FileMetaStore, StorageType, StoreFactory};
use sluice_store::vfs::{FaultKind, FaultRule, FsOp, PowerCut, SimFs, Vfs};
use sluice_store::{FileStore, FileStoreOptions, MemStore, MessageStore, StoreError};

const T0: i64 = 1_795_748_567_000_000_000;

struct SimFactory {
    vfs: Arc<dyn Vfs>,
}

impl StoreFactory for SimFactory {
    fn open(
        &mut self,
        _stream: &str,
        storage: StorageType,
        dir: &Path,
    ) -> Result<Box<dyn MessageStore>, StoreError> {
        Ok(match storage {
            StorageType::File => Box::new(FileStore::open(
                self.vfs.clone(),
                dir,
                FileStoreOptions::default(),
            )?),
            StorageType::Memory => Box::new(MemStore::new()),
        })
    }

    fn remove(&mut self, _stream: &str, dir: &Path) -> Result<(), StoreError> {
        let exists = self.vfs.exists(dir).map_err(|source| StoreError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        if exists {
            Box::new(FileStore::open(
                self.vfs.clone(),
                dir,
                FileStoreOptions::default(),
            )?)
            .destroy()?;
        }
        Ok(())
    }
}

fn open(fs: &SimFs, now: i64) -> (Engine, Vec<String>) {
    let dir = PathBuf::from("/data");
    let vfs: Arc<dyn Vfs> = Arc::new(fs.clone());
    vfs.create_dir_all(&dir).unwrap();
    vfs.sync_dir(Path::new("/")).ok();
    let cfg = EngineConfig {
        store_dir: dir.clone(),
        max_memory: -1,
        max_store: -1,
        server_max_memory: -1,
        server_max_store: -1,
        sync_always: true,
        sync_interval: sluice_jetstream::engine::SYNC_INTERVAL,
        server_id: "N".into(),
        server_name: "n".into(),
    };
    Engine::open(
        cfg,
        Box::new(SimFactory { vfs: vfs.clone() }),
        Box::new(FileMetaStore::with_vfs(vfs, dir)),
        now,
    )
    .unwrap()
}

fn api(engine: &mut Engine, subject: &str, body: &str, now: i64) -> Value {
    engine.handle_api(subject, Some("r"), None, body.as_bytes(), now);
    let out = engine.commit();
    serde_json::from_slice(&out[0].payload).unwrap()
}

/// Publishes in batches, committing after each; returns the acknowledged (seq,
/// payload) pairs. The last batch is left uncommitted.
fn publish_batches(engine: &mut Engine, batches: usize, per_batch: usize) -> Vec<(u64, String)> {
    let mut acked = Vec::new();
    let mut n = 0;
    for b in 0..=batches {
        for _ in 0..per_batch {
            let payload = format!("m{n}");
            let hdr = format!("NATS/1.0\r\nNats-Msg-Id: id{n}\r\n\r\n");
            engine.publish(
                &format!("s.{}", n % 3),
                Some(&payload),
                Some(hdr.as_bytes()),
                payload.as_bytes(),
                T0 + n as i64,
            );
            n += 1;
        }
        if b == batches {
            break; // crash before this batch is committed
        }
        for out in engine.commit() {
            let ack: Value = serde_json::from_slice(&out.payload).unwrap();
            assert!(ack.get("error").is_none(), "{ack}");
            acked.push((ack["seq"].as_u64().unwrap(), out.subject));
        }
    }
    acked
}

fn check_survivors(engine: &mut Engine, acked: &[(u64, String)]) {
    let info = api(engine, "$JS.API.STREAM.INFO.S", "", T0 + 1_000);
    assert_eq!(
        info["config"]["subjects"],
        serde_json::json!(["s.>"]),
        "{info}"
    );
    assert_eq!(info["config"]["max_msgs_per_subject"], 1000);
    for (seq, payload) in acked {
        let got = api(
            engine,
            "$JS.API.STREAM.MSG.GET.S",
            &format!(r#"{{"seq":{seq}}}"#),
            T0 + 1_000,
        );
        let data = got["message"]["data"]
            .as_str()
            .unwrap_or_else(|| panic!("seq {seq} lost: {got}"));
        assert_eq!(
            data,
            sluice_jetstream::api::base64::encode(payload.as_bytes())
        );
    }
    // The duplicate window came back with the messages.
    let (seq, payload) = acked.last().unwrap();
    let n: u64 = payload[1..].parse().unwrap();
    let hdr = format!("NATS/1.0\r\nNats-Msg-Id: id{n}\r\n\r\n");
    engine.publish("s.x", Some("r"), Some(hdr.as_bytes()), b"again", T0 + 2_000);
    let ack = String::from_utf8(engine.commit()[0].payload.to_vec()).unwrap();
    assert_eq!(
        ack,
        format!(r#"{{"stream":"S","seq":{seq},"duplicate": true}}"#)
    );
}

#[test]
fn acknowledged_messages_survive_power_cuts() {
    for seed in 0..12u64 {
        for mode in [PowerCut::DropUnsynced, PowerCut::TearUnsynced] {
            let fs = SimFs::new(seed);
            let (mut engine, _) = open(&fs, T0);
            let v = api(
                &mut engine,
                "$JS.API.STREAM.CREATE.S",
                r#"{"name":"S","subjects":["s.>"],"max_msgs_per_subject":1000}"#,
                T0,
            );
            assert_eq!(v["did_create"], true, "{v}");
            let acked = publish_batches(&mut engine, 5, 7);
            fs.power_cut(mode);
            drop(engine);
            let (mut engine, log) = open(&fs, T0 + 100);
            assert!(
                log.iter().any(|l| l.starts_with("Restored stream 'S'")),
                "seed {seed}: {log:?}"
            );
            check_survivors(&mut engine, &acked);
        }
    }
}

#[test]
fn stream_create_is_durable_when_answered() {
    let fs = SimFs::new(7);
    let (mut engine, _) = open(&fs, T0);
    api(
        &mut engine,
        "$JS.API.STREAM.CREATE.S",
        r#"{"name":"S","subjects":["s.>"]}"#,
        T0,
    );
    fs.power_cut(PowerCut::DropUnsynced);
    drop(engine);
    let (mut engine, _) = open(&fs, T0);
    let names = api(&mut engine, "$JS.API.STREAM.NAMES", "", T0);
    assert_eq!(names["streams"], serde_json::json!(["S"]));
    // And a delete is durable too.
    api(&mut engine, "$JS.API.STREAM.DELETE.S", "", T0);
    fs.power_cut(PowerCut::DropUnsynced);
    drop(engine);
    let (mut engine, _) = open(&fs, T0);
    let names = api(&mut engine, "$JS.API.STREAM.NAMES", "", T0);
    assert_eq!(names["total"], 0);
}

#[test]
fn fsync_errors_never_ack_success() {
    let fs = SimFs::new(3);
    let (mut engine, _) = open(&fs, T0);
    api(
        &mut engine,
        "$JS.API.STREAM.CREATE.S",
        r#"{"name":"S","subjects":["s.>"]}"#,
        T0,
    );
    let mut rule = FaultRule::once(FsOp::SyncFile, FaultKind::Eio);
    rule.path_contains = Some("streams/S".into());
    fs.add_fault(rule);
    engine.publish("s.a", Some("r1"), None, b"x", T0);
    engine.publish("s.b", Some("r2"), None, b"y", T0);
    let out = engine.commit();
    for o in &out {
        let ack: Value = serde_json::from_slice(&o.payload).unwrap();
        assert_eq!(ack["error"]["err_code"], 10077, "{ack}");
        assert_eq!(ack["seq"], 0);
    }
    // After the reopen the stream works again.
    let due = engine.next_deadline().unwrap();
    engine.tick(due);
    engine.publish("s.c", Some("r3"), None, b"z", due);
    let ack: Value = serde_json::from_slice(&engine.commit()[0].payload).unwrap();
    assert!(ack.get("error").is_none(), "{ack} {:?}", engine.take_log());
}
