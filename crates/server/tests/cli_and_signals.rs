//! The `sluice-server` binary as scripts drive it: nats-server's flags, config files,
//! config errors, log lines, and a clean exit on SIGTERM/SIGINT.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_sluice-server");

/// A server process that is killed and reaped if a test fails midway.
struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// Starts the binary with `args` and waits for its "Listening for client connections
/// on HOST:PORT" line (the line the async-nats test harness greps); returns the port.
fn start(args: &[&str]) -> (ServerProcess, u16, Vec<String>) {
    let mut child = ServerProcess(
        Command::new(BIN)
            .args(args)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn sluice-server"),
    );
    let stderr = child.0.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + common::DEADLINE;
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("server logs its listen address");
        lines.push(line.clone());
        if let Some(addr) = line.split("client connections on ").nth(1) {
            let port = addr.trim().rsplit(':').next().and_then(|p| p.parse().ok());
            // Keep draining stderr so the server never blocks on a full pipe.
            std::thread::spawn(move || while rx.recv().is_ok() {});
            return (child, port.expect("port in listen line"), lines);
        }
    }
}

fn wait_exit(child: &mut ServerProcess) -> std::process::ExitStatus {
    let deadline = Instant::now() + common::DEADLINE;
    loop {
        if let Some(status) = child.0.try_wait().expect("try_wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "server did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn signal(child: &ServerProcess, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

#[tokio::test]
async fn nats_server_flags_and_sigterm() {
    let (mut child, port, lines) =
        start(&["-a", "127.0.0.1", "-p", "-1", "-n", "flag-test", "-DV"]);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("[INF] Starting sluice-server")),
        "{lines:?}"
    );
    let mut raw = common::RawClient::connect(format!("127.0.0.1:{port}").parse().unwrap()).await;
    assert_eq!(raw.info["server_name"], "flag-test");
    assert_eq!(raw.info["port"], port);
    let reply = raw
        .round_trip(b"CONNECT {\"verbose\":false}\r\nSUB a 1\r\nPUB a 2\r\nhi\r\n")
        .await;
    assert_eq!(reply, "MSG a 1 2\r\nhi\r\n");
    signal(&child, "-TERM");
    let status = wait_exit(&mut child);
    assert_eq!(status.code(), Some(0), "SIGTERM exits 0");
    // The server flushed and closed our connection on the way out.
    assert_eq!(raw.read_to_close().await, "");
}

#[test]
fn sigint_exits_zero() {
    let (mut child, _, _) = start(&["-a", "127.0.0.1", "-p", "-1"]);
    signal(&child, "-INT");
    assert_eq!(wait_exit(&mut child).code(), Some(0));
}

#[tokio::test]
async fn config_file_and_auth_flags() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("sluice.conf");
    let mut f = std::fs::File::create(&conf).unwrap();
    writeln!(
        f,
        "# comment\nPW: \"s3cret\"\nhost = 127.0.0.1\nport: -1\nserver_name conf-test\n\
         max_payload: 2KB // a size\nauthorization {{\n  user: alice\n  password: $PW\n}}\n\
         some_unknown_key: 1"
    )
    .unwrap();
    let (mut child, port, lines) = start(&["-c", conf.to_str().unwrap()]);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("[WRN]") && l.contains("some_unknown_key")),
        "unknown keys warn: {lines:?}"
    );
    let url = format!("nats://127.0.0.1:{port}");
    let good = async_nats::ConnectOptions::with_user_and_password("alice".into(), "s3cret".into())
        .connect(&url)
        .await;
    let good = good.expect("right password connects");
    assert_eq!(good.server_info().max_payload, 2048);
    assert_eq!(good.server_info().server_name, "conf-test");
    let mut raw = common::RawClient::connect(format!("127.0.0.1:{port}").parse().unwrap()).await;
    assert_eq!(raw.info["auth_required"], true);
    raw.send(b"CONNECT {\"user\":\"alice\",\"pass\":\"wrong\"}\r\n")
        .await;
    assert_eq!(
        raw.read_to_close().await,
        "-ERR 'Authorization Violation'\r\n"
    );
    signal(&child, "-TERM");
    assert_eq!(wait_exit(&mut child).code(), Some(0));
}

#[test]
fn bad_config_names_file_line_and_key_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("bad.conf");
    std::fs::write(&conf, "host: 127.0.0.1\n\nport: \"not a number\"\n").unwrap();
    let out = Command::new(BIN)
        .args(["-c", conf.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.conf:3") && err.contains("port"), "{err}");

    std::fs::write(&conf, "port: [1, 2\n").unwrap();
    let out = Command::new(BIN)
        .args(["-c", conf.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.conf:"));

    let out = Command::new(BIN)
        .args(["-c", "/nonexistent/x.conf"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn test_config_flag_checks_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("ok.conf");
    std::fs::write(&conf, "port: 4999\nping_interval: \"30s\"\n").unwrap();
    let out = Command::new(BIN)
        .args(["-t", "-c", conf.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn version_help_and_unknown_flags() {
    let out = Command::new(BIN).arg("-v").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--store_dir"));
    let out = Command::new(BIN).arg("--no-such-flag").output().unwrap();
    assert!(!out.status.success());
}

#[test]
fn log_file_flag_writes_startup_lines() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("sluice.log");
    let mut child = ServerProcess(
        Command::new(BIN)
            .args(["-a", "127.0.0.1", "-p", "-1", "-l", log.to_str().unwrap()])
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + common::DEADLINE;
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("Server is ready") {
            assert!(
                text.contains("Listening for client connections on 127.0.0.1:"),
                "{text}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no startup lines in log file: {text}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    signal(&child, "-TERM");
    assert_eq!(wait_exit(&mut child).code(), Some(0));
}

mod proc_kit;

/// Reads the ports file `<dir>/<exe>_<pid>.ports` once it exists.
fn read_ports_file(dir: &std::path::Path, exe: &str, pid: u32) -> serde_json::Value {
    let path = dir.join(format!("{exe}_{pid}.ports"));
    let mut text = String::new();
    proc_kit::poll_until("the ports file", || {
        text = std::fs::read_to_string(&path).unwrap_or_default();
        !text.is_empty()
    });
    serde_json::from_str(&text).expect("ports file is JSON")
}

#[test]
fn pid_and_ports_files_and_signal_by_pid_file() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("sluice.pid");
    let ports_dir = dir.path().join("ports");
    std::fs::create_dir(&ports_dir).unwrap();
    let mut server = proc_kit::Proc::start(
        dir.path(),
        &[
            "-a",
            "127.0.0.1",
            "-p",
            "-1",
            "-m",
            "-1",
            "-P",
            pid_file.to_str().unwrap(),
            "--ports_file_dir",
            ports_dir.to_str().unwrap(),
        ],
    );
    let pid = server.pid();
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), pid.to_string());
    let ports = read_ports_file(&ports_dir, "sluice-server", pid);
    assert_eq!(
        ports["nats"],
        serde_json::json!([format!("nats://127.0.0.1:{}", server.port)])
    );
    let monitoring = ports["monitoring"][0].as_str().expect("monitoring URL");
    assert!(monitoring.starts_with("http://127.0.0.1:"), "{ports}");
    assert_eq!(ports.as_object().unwrap().len(), 2, "{ports}");

    // --signal reload addressed by the PID file reaches the server.
    let (status, err) = proc_kit::send_signal(&format!("reload={}", pid_file.display()));
    assert!(status.success(), "{err}");
    server.wait_log("Trapped \"hangup\" signal");
    // --signal quit: an orderly shutdown that removes the ports file.
    let (status, err) = proc_kit::send_signal(&format!("quit={}", pid_file.display()));
    assert!(status.success(), "{err}");
    assert_eq!(server.wait_exit().code(), Some(0));
    assert!(server.log_text().contains("Trapped \"interrupt\" signal"));
    assert_eq!(std::fs::read_dir(&ports_dir).unwrap().count(), 0);
}

#[test]
fn signal_stop_and_term_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = proc_kit::Proc::start(dir.path(), &["-a", "127.0.0.1", "-p", "-1"]);
    let (status, err) = proc_kit::send_signal(&format!("term={}", server.pid()));
    assert!(status.success(), "{err}");
    assert_eq!(server.wait_exit().code(), Some(0));
    assert!(server.log_text().contains("Trapped \"terminated\" signal"));

    // stop is SIGKILL, as in nats-server.
    let mut server = proc_kit::Proc::start(dir.path(), &["-a", "127.0.0.1", "-p", "-1"]);
    let (status, err) = proc_kit::send_signal(&format!("stop={}", server.pid()));
    assert!(status.success(), "{err}");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(server.wait_exit().signal(), Some(9));

    let (status, err) = proc_kit::send_signal("bogus=1");
    assert!(!status.success());
    assert!(err.contains("unknown signal \"bogus\""), "{err}");
    let (status, err) = proc_kit::send_signal("reload=not-a-pid");
    assert!(!status.success());
    assert!(err.contains("invalid pid: not-a-pid"), "{err}");
}

/// The same files from nats-server, to pin their names and shapes.
#[test]
#[ignore = "reference twin: runs nats-server"]
fn reference_pid_and_ports_files() {
    let Some(bin) = common::require_nats_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("n.pid");
    let mut child = ServerProcess(
        Command::new(&bin)
            .args(["-a", "127.0.0.1", "-p", "-1", "-m", "-1", "-P"])
            .arg(&pid_file)
            .arg("--ports_file_dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = child.0.id();
    let exe = bin.file_name().unwrap().to_str().unwrap().to_owned();
    let ports = read_ports_file(dir.path(), &exe, pid);
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), pid.to_string());
    assert!(ports["nats"][0]
        .as_str()
        .unwrap()
        .starts_with("nats://127.0.0.1:"));
    assert!(ports["monitoring"][0]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    assert_eq!(ports.as_object().unwrap().len(), 2, "{ports}");
    signal(&child, "-INT");
    wait_exit(&mut child);
    assert!(!dir.path().join(format!("{exe}_{pid}.ports")).exists());
}

#[test]
fn sample_config_is_valid_and_warning_free() {
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/sluice.conf");
    let out = Command::new(BIN)
        .args(["-t", "-c"])
        .arg(&sample)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("warning"), "{err}");
}
