//! Damaged stream files, with the real binary (so its log can be read): publish small
//! messages to a file stream, stop the server cleanly, damage the segment file, restart.
//!
//! (a) The last record cut in the middle (a torn write): the server starts, logs that
//!     it cut the torn bytes, and serves every earlier message; the next publish takes
//!     the next free sequence.
//! (b) Bytes flipped inside earlier records — one in a payload, one in a length field:
//!     the server starts, logs which sequences it lost, and serves every other message,
//!     including all those after the damage; sequences are not reused.
//!
//! Segment files are found as `*.seg` under `<store_dir>/jetstream`; records are found
//! by their magic (`SLR1`, see `sluice_store`'s record format: magic, length, checksum,
//! body). Payloads never contain the magic.

mod common;

use common::jetstream::api;

use common::jetstream::js_ready;

use std::path::{Path, PathBuf};

use common::ServerProcess;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_sluice-server");
const STREAM: &str = "CORRUPT";
const N: u64 = 200;
const MAGIC: &[u8] = b"SLR1";

fn seg_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "seg") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Offsets of every record (each starts with the magic), in file order.
fn record_offsets(bytes: &[u8]) -> Vec<usize> {
    bytes
        .windows(MAGIC.len())
        .enumerate()
        .filter(|(_, w)| *w == MAGIC)
        .map(|(i, _)| i)
        .collect()
}

/// The offset of the message record whose payload is `payload`.
fn record_of(bytes: &[u8], payload: &str) -> usize {
    let at = bytes
        .windows(payload.len())
        .position(|w| w == payload.as_bytes())
        .unwrap_or_else(|| panic!("{payload} not in the segment"));
    record_offsets(bytes)
        .into_iter()
        .rev()
        .find(|&o| o < at)
        .expect("a record before the payload")
}

fn payload(seq: u64) -> String {
    format!("message-{seq:05}")
}

fn args(dir: &str) -> Vec<String> {
    ["-js", "-sd", dir, "-a", "127.0.0.1", "-p", "-1"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn start(dir: &str) -> (ServerProcess, Vec<String>) {
    let a = args(dir);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    ServerProcess::start(BIN, &a)
}

/// Starts a server on a new directory, fills the stream with `N` messages, stops it
/// cleanly. Returns the directory and the one segment file.
async fn filled_store() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let sd = dir.path().to_str().unwrap().to_owned();
    let (mut server, _) = start(&sd);
    let client = async_nats::connect(server.url()).await.unwrap();
    js_ready(&client).await;
    let v = api(
        &client,
        &format!("$JS.API.STREAM.CREATE.{STREAM}"),
        &format!(r#"{{"name":"{STREAM}","subjects":["corrupt.*"]}}"#),
    )
    .await;
    assert!(v.get("error").is_none(), "{v}");
    api(&client, &format!("$JS.API.STREAM.INFO.{STREAM}"), "").await;
    for seq in 1..=N {
        let ack = api(&client, &format!("corrupt.{}", seq % 7), &payload(seq)).await;
        assert_eq!(ack["seq"], seq, "{ack}");
    }
    drop(client);
    server.signal("-TERM");
    assert!(server.wait_exit().success(), "clean shutdown");
    let segs = seg_files(&dir.path().join("jetstream"));
    assert_eq!(segs.len(), 1, "one segment: {segs:?}");
    let seg = segs.into_iter().next().unwrap();
    (dir, seg)
}

/// Every sequence in 1..=upto that MSG.GET finds, with its payload checked.
async fn served(client: &async_nats::Client, upto: u64) -> Vec<u64> {
    let mut out = Vec::new();
    for seq in 1..=upto {
        let v = api(
            client,
            &format!("$JS.API.STREAM.MSG.GET.{STREAM}"),
            &format!(r#"{{"seq":{seq}}}"#),
        )
        .await;
        if v.get("error").is_some() {
            assert_eq!(v["error"]["err_code"], 10037, "seq {seq}: {v}");
            continue;
        }
        let m = &v["message"];
        assert_eq!(m["seq"], seq);
        assert_eq!(m["subject"], format!("corrupt.{}", seq % 7));
        let b64 = m["data"].as_str().unwrap();
        assert_eq!(b64, base64(payload(seq).as_bytes()), "seq {seq} payload");
        out.push(seq);
    }
    out
}

/// Standard base64 with padding (for comparing `data` fields).
fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn log_mentions(lines: &[String], what: &[&str]) -> bool {
    lines
        .iter()
        .any(|l| l.contains(STREAM) && what.iter().all(|w| l.contains(w)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torn_last_record_is_cut_and_earlier_messages_served() {
    let (dir, seg) = filled_store().await;
    let bytes = std::fs::read(&seg).unwrap();
    let last = record_of(&bytes, &payload(N));
    // The active segment is preallocated: the file goes on in zeros after its data.
    let data_end = bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    assert!(
        data_end > last + payload(N).len(),
        "the last record is in the file"
    );
    let cut_at = last + (data_end - last) / 2;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(cut_at as u64)
        .unwrap();
    let cut_bytes = cut_at - last;

    let sd = dir.path().to_str().unwrap().to_owned();
    let (server, log) = start(&sd);
    assert!(
        log_mentions(&log, &["cut", &cut_bytes.to_string()]),
        "the log says what was cut ({cut_bytes} bytes):\n{}",
        log.join("\n")
    );
    let client = async_nats::connect(server.url()).await.unwrap();
    js_ready(&client).await;
    let info = api(&client, &format!("$JS.API.STREAM.INFO.{STREAM}"), "").await;
    let st = &info["state"];
    assert_eq!(st["messages"], N - 1, "{info}");
    assert_eq!(st["first_seq"], 1);
    assert_eq!(st["last_seq"], N - 1);
    assert_eq!(served(&client, N).await, (1..N).collect::<Vec<_>>());
    // Appends continue after the valid data. (Sluice hands out N again: the torn record
    // is treated as never written. Skipping to N + 1 would be as good.)
    let ack = api(&client, "corrupt.0", "after the cut").await;
    let next = ack["seq"].as_u64().unwrap_or_else(|| panic!("{ack}"));
    assert!(next == N || next == N + 1, "{ack}");
    let again = api(&client, "corrupt.1", "and one more").await;
    assert_eq!(again["seq"], next + 1, "{again}");
    eprintln!("recovery log:\n{}", log.join("\n"));
    drop(client);
    drop(server);

    // And the repaired file opens cleanly, with both new messages.
    let (server, log) = start(&sd);
    assert!(
        !log_mentions(&log, &["cut"]) && !log_mentions(&log, &["damaged"]),
        "no damage after the repair:\n{}",
        log.join("\n")
    );
    let client = async_nats::connect(server.url()).await.unwrap();
    js_ready(&client).await;
    let info = api(&client, &format!("$JS.API.STREAM.INFO.{STREAM}"), "").await;
    assert_eq!(info["state"]["messages"], N + 1, "{info}");
    assert_eq!(info["state"]["last_seq"], next + 1, "{info}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipped_bytes_lose_only_the_damaged_records() {
    let (dir, seg) = filled_store().await;
    let mut bytes = std::fs::read(&seg).unwrap();
    // seq 60: a byte in the middle of its payload; seq 120: its length field.
    let payload_hit: u64 = 60;
    let length_hit: u64 = 120;
    let at = bytes
        .windows(payload(payload_hit).len())
        .position(|w| w == payload(payload_hit).as_bytes())
        .unwrap();
    bytes[at + 5] ^= 0x5a;
    let rec = record_of(&bytes, &payload(length_hit));
    bytes[rec + 5] ^= 0x01; // length is bytes 4..8, little endian
    bytes[rec + 4] ^= 0x40;
    std::fs::write(&seg, &bytes).unwrap();

    let sd = dir.path().to_str().unwrap().to_owned();
    let (server, log) = start(&sd);
    let joined = log.join("\n");
    for seq in [payload_hit, length_hit] {
        assert!(
            log.iter()
                .any(|l| l.contains(STREAM) && l.contains("lost") && l.contains(&seq.to_string())),
            "the log names lost sequence {seq}:\n{joined}"
        );
    }
    eprintln!("recovery log:\n{joined}");
    let client = async_nats::connect(server.url()).await.unwrap();
    js_ready(&client).await;
    let info = api(&client, &format!("$JS.API.STREAM.INFO.{STREAM}"), "").await;
    let st = &info["state"];
    assert_eq!(st["messages"], N - 2, "{info}");
    assert_eq!(st["first_seq"], 1);
    assert_eq!(st["last_seq"], N);
    let lost: Vec<u64> = st["lost"]["msgs"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    assert_eq!(lost, vec![payload_hit, length_hit], "state.lost: {info}");
    let want: Vec<u64> = (1..=N)
        .filter(|s| *s != payload_hit && *s != length_hit)
        .collect();
    assert_eq!(served(&client, N).await, want);
    // Subject queries skip the lost records too.
    let last = api(
        &client,
        &format!("$JS.API.STREAM.MSG.GET.{STREAM}"),
        &format!(r#"{{"last_by_subj":"corrupt.{}"}}"#, N % 7),
    )
    .await;
    assert_eq!(last["message"]["seq"], N, "{last}");
    // Sequences are never reused.
    let ack = api(&client, "corrupt.0", "after").await;
    assert_eq!(ack["seq"], N + 1, "{ack}");
}
