//! The `sluice-server` binary run as an operator runs it, with its log in a file: start,
//! wait for log lines, send signals, wait for the exit. Every wait has a deadline.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_sluice-server");
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A running server whose log goes to `<dir>/sluice.log`; killed and reaped on drop.
pub struct Proc {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Polls `cond` every 10 ms until it holds; panics with `what` at the deadline.
pub fn poll_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Proc {
    /// Starts the binary with `args` plus `-l <dir>/sluice.log` and waits for "Server
    /// is ready"; the port comes from the "Listening for client connections" line.
    pub fn start(dir: &Path, args: &[&str]) -> Proc {
        let log = dir.join("sluice.log");
        Self::start_with_log(&log, args)
    }

    pub fn start_with_log(log: &Path, args: &[&str]) -> Proc {
        Self::start_bin(Path::new(BIN), log, args)
    }

    /// Starts `bin` (Sluice, or nats-server for a reference twin) the same way.
    pub fn start_bin(bin: &Path, log: &Path, args: &[&str]) -> Proc {
        let child = Command::new(bin)
            .args(args)
            .arg("-l")
            .arg(log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sluice-server");
        let mut p = Proc {
            child,
            port: 0,
            log: log.to_path_buf(),
        };
        p.wait_log("Server is ready");
        let text = p.log_text();
        p.port = text
            .lines()
            .find_map(|l| l.split("client connections on ").nth(1))
            .and_then(|a| a.trim().rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .expect("listen line with a port");
        p
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        format!("127.0.0.1:{}", self.port).parse().unwrap()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log file contains `needle`; returns the log.
    pub fn wait_log(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let text = self.log_text();
            if text.contains(needle) {
                return text;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("server exited ({status}) before logging {needle:?}:\n{text}");
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in the log:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until `needle` occurs at least `n` times in the log.
    pub fn wait_log_count(&mut self, needle: &str, n: usize) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let text = self.log_text();
            if text.matches(needle).count() >= n {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "fewer than {n} {needle:?} in the log:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `kill -<sig> <pid>`.
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Runs `sluice-server --signal <arg>` and returns its exit status and stderr.
pub fn send_signal(arg: &str) -> (ExitStatus, String) {
    let out = Command::new(BIN)
        .args(["--signal", arg])
        .output()
        .expect("run --signal");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Polls `cond` every 10 ms on the runtime until it holds; panics at the deadline.
pub async fn wait_async(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A client on a raw socket, to see protocol lines exactly as the server sends them.
pub struct Raw {
    pub stream: tokio::net::TcpStream,
    pub buf: Vec<u8>,
}

impl Raw {
    /// Connects, reads the greeting INFO, sends CONNECT (protocol 1) and PING, and
    /// waits for the PONG.
    pub async fn connect(addr: std::net::SocketAddr, connect_json: &str) -> Raw {
        use tokio::io::AsyncWriteExt;
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let mut raw = Raw {
            stream,
            buf: Vec::new(),
        };
        raw.read_until("\r\n").await;
        raw.stream
            .write_all(format!("CONNECT {connect_json}\r\nPING\r\n").as_bytes())
            .await
            .unwrap();
        raw.read_until("PONG\r\n").await;
        raw.buf.clear();
        raw
    }

    /// Reads until the received text contains `needle`; returns all text so far.
    pub async fn read_until(&mut self, needle: &str) -> String {
        use tokio::io::AsyncReadExt;
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let text = String::from_utf8_lossy(&self.buf).into_owned();
            if text.contains(needle) {
                return text;
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout_at(deadline, self.stream.read(&mut chunk))
                .await
                .unwrap_or_else(|_| panic!("no {needle:?} from the server; got {text:?}"))
                .expect("read");
            assert!(n > 0, "connection closed before {needle:?}; got {text:?}");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads until the server closes the connection; returns everything received.
    pub async fn read_to_close(&mut self) -> String {
        use tokio::io::AsyncReadExt;
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout_at(deadline, self.stream.read(&mut chunk))
                .await
                .expect("server did not close the connection")
                .unwrap_or(0);
            if n == 0 {
                return String::from_utf8_lossy(&self.buf).into_owned();
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}
