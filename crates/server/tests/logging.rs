//! Logs as an operator reads them: nats-server's line shape and startup lines,
//! connection lifecycle at debug, protocol trace at trace, rotation by size, reopen on
//! SIGUSR1, and the level changed by a config reload.

mod proc_kit;

use proc_kit::{Proc, Raw};
use tokio::io::AsyncWriteExt;

/// `[pid] YYYY/MM/DD HH:MM:SS.micros [LVL] ` at the start of the line.
fn has_nats_prefix(line: &str, pid: u32) -> bool {
    let Some(rest) = line.strip_prefix(&format!("[{pid}] ")) else {
        return false;
    };
    let b = rest.as_bytes();
    rest.len() > 33
        && b[4] == b'/'
        && b[7] == b'/'
        && b[10] == b' '
        && b[13] == b':'
        && b[19] == b'.'
        && b[26] == b' '
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[20..26].iter().all(u8::is_ascii_digit)
        && matches!(
            &rest[27..32],
            "[INF]" | "[DBG]" | "[TRC]" | "[WRN]" | "[ERR]"
        )
}

#[test]
fn startup_lines_name_version_listener_and_jetstream() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut server = Proc::start(
        dir.path(),
        &[
            "-a",
            "127.0.0.1",
            "-p",
            "-1",
            "-js",
            "-sd",
            store.to_str().unwrap(),
        ],
    );
    let log = server.log_text();
    let pid = server.pid();
    for line in log.lines() {
        assert!(
            has_nats_prefix(line, pid),
            "not in nats-server's shape: {line:?}"
        );
    }
    for needle in [
        "[INF] Starting sluice-server",
        &format!("[INF]   Version:  {}", env!("CARGO_PKG_VERSION")),
        "[INF] Starting JetStream",
        "[INF]   Max Memory:",
        "[INF]   Max Storage:     1.00 TB",
        &format!(
            "[INF]   Store Directory: \"{}\"",
            store.join("jetstream").display()
        ),
        &format!(
            "[INF] Listening for client connections on 127.0.0.1:{}",
            server.port
        ),
        "[INF] Server is ready",
    ] {
        assert!(log.contains(needle), "missing {needle:?} in\n{log}");
    }
    server.signal("-INT");
    assert_eq!(server.wait_exit().code(), Some(0));
    let log = server.log_text();
    assert!(log.contains("[INF] Trapped \"interrupt\" signal"), "{log}");
    assert!(log.contains("[INF] Server Exiting.."), "{log}");
}

#[test]
fn logtime_false_drops_the_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Proc::start(dir.path(), &["-a", "127.0.0.1", "-p", "-1", "-T=false"]);
    let log = server.log_text();
    let prefix = format!("[{}] [INF] Starting sluice-server", server.pid());
    assert!(log.lines().any(|l| l == prefix), "{log}");
    server.signal("-TERM");
    server.wait_exit();
}

#[tokio::test]
async fn debug_logs_lifecycle_and_trace_logs_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Proc::start(dir.path(), &["-a", "127.0.0.1", "-p", "-1", "-DV"]);
    let mut raw = Raw::connect(server.addr(), r#"{"verbose":false}"#).await;
    raw.stream
        .write_all(b"SUB foo 1\r\nPUB foo 5\r\nhello\r\nPING\r\n")
        .await
        .unwrap();
    raw.read_until("PONG\r\n").await;
    drop(raw);
    let log = server.wait_log("Client connection closed: Client Closed");
    for needle in [
        "[DBG] 127.0.0.1:",
        " - cid:1 - Client connection created",
        "[TRC] 127.0.0.1:",
        " - cid:1 - <<- [CONNECT {\"verbose\":false}]",
        " - cid:1 - <<- [SUB foo  1]",
        " - cid:1 - <<- [PUB foo 5]",
        " - cid:1 - <<- MSG_PAYLOAD: [\"hello\"]",
        " - cid:1 - <<- [PING]",
        " - cid:1 - ->> [PONG]",
        " - cid:1 - Client connection closed: Client Closed",
    ] {
        assert!(log.contains(needle), "missing {needle:?} in\n{log}");
    }
    server.signal("-TERM");
    server.wait_exit();
}

#[tokio::test]
async fn without_debug_there_are_no_connection_lines() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Proc::start(dir.path(), &["-a", "127.0.0.1", "-p", "-1"]);
    let raw = Raw::connect(server.addr(), r#"{"verbose":false}"#).await;
    drop(raw);
    server.signal("-TERM");
    server.wait_exit();
    let log = server.log_text();
    assert!(!log.contains("[DBG]") && !log.contains("[TRC]"), "{log}");
}

#[tokio::test]
async fn log_rotates_at_the_size_limit_and_keeps_max_num_files() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let conf = dir.path().join("sluice.conf");
    std::fs::write(
        &conf,
        "host: 127.0.0.1\nport: -1\ntrace: true\nlogfile_size_limit: 2KB\nlogfile_max_num: 3\n",
    )
    .unwrap();
    let mut server = Proc::start_with_log(&logs.join("s.log"), &["-c", conf.to_str().unwrap()]);
    let mut raw = Raw::connect(server.addr(), r#"{"verbose":false}"#).await;
    // Each PING traces two lines of about 80 bytes: 100 of them are ~16 KB of log.
    for _ in 0..100 {
        raw.stream.write_all(b"PING\r\n").await.unwrap();
    }
    raw.stream.write_all(b"PUB done 0\r\n\r\n").await.unwrap();
    server.wait_log_count("Rotated log, backup saved as", 1);
    let names = || -> Vec<String> {
        let mut n: Vec<String> = std::fs::read_dir(&logs)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        n.sort();
        n
    };
    proc_kit::poll_until("the traffic to be logged", || {
        names().iter().any(|n| {
            std::fs::read_to_string(logs.join(n))
                .unwrap_or_default()
                .contains("<<- [PUB done 0]")
        })
    });
    let files = names();
    // s.log and at most two backups named s.log.YYYY.MM.DD.HH.MM.SS.NNNNNNNNN.
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(files.contains(&"s.log".to_owned()));
    for f in files.iter().filter(|f| *f != "s.log") {
        let stamp = f.strip_prefix("s.log.").expect("backup name");
        assert_eq!(stamp.split('.').count(), 7, "{f}");
        let size = std::fs::metadata(logs.join(f)).unwrap().len();
        // A backup holds at most the limit plus the line that crossed it.
        assert!(size <= 2048 + 512, "{f}: {size} bytes");
    }
    assert!(server.log_text().contains("Purged log file"));
    server.signal("-TERM");
    server.wait_exit();
}

#[test]
fn sigusr1_reopens_the_log_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Proc::start(dir.path(), &["-a", "127.0.0.1", "-p", "-1"]);
    // An outside tool moves the file away, then asks for a new one.
    let moved = dir.path().join("sluice.log.1");
    std::fs::rename(&server.log, &moved).unwrap();
    let pid_file = dir.path().join("pid");
    std::fs::write(&pid_file, server.pid().to_string()).unwrap();
    let (status, err) = proc_kit::send_signal(&format!("reopen={}", pid_file.display()));
    assert!(status.success(), "{err}");
    let fresh = server.wait_log("File log re-opened");
    assert!(!fresh.contains("Server is ready"), "a new file: {fresh}");
    let old = std::fs::read_to_string(&moved).unwrap();
    assert!(
        old.contains("Trapped \"user defined signal 1\" signal"),
        "{old}"
    );
    server.signal("-TERM");
    server.wait_exit();
}

#[tokio::test]
async fn reload_turns_debug_on() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("sluice.conf");
    std::fs::write(&conf, "host: 127.0.0.1\nport: -1\n").unwrap();
    let mut server = Proc::start(dir.path(), &["-c", conf.to_str().unwrap()]);
    std::fs::write(&conf, "host: 127.0.0.1\nport: -1\ndebug: true\n").unwrap();
    server.signal("-HUP");
    let log = server.wait_log("Reloaded server configuration");
    assert!(log.contains("Reloaded: debug = true"), "{log}");
    let raw = Raw::connect(server.addr(), r#"{"verbose":false}"#).await;
    server.wait_log("Client connection created");
    drop(raw);
    server.signal("-TERM");
    server.wait_exit();
}
