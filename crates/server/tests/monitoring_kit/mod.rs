//! Test kit of the monitoring tests: a plain HTTP/1.1 GET, a nats-server child with its
//! monitoring port, and a Sluice server with one.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

pub const DEADLINE: Duration = Duration::from_secs(10);

/// One HTTP response.
#[derive(Debug)]
pub struct Http {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Http {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// `GET path` with `Connection: close`; reads the whole response (content-length or
/// chunked, as Go's server sends large bodies).
pub async fn get(addr: SocketAddr, path: &str) -> Http {
    let mut s = tokio::time::timeout(DEADLINE, TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(DEADLINE, s.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .expect("read response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("header end");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let mut content_type = String::new();
    let mut chunked = false;
    for l in lines {
        let (k, v) = l.split_once(':').unwrap_or((l, ""));
        match k.trim().to_ascii_lowercase().as_str() {
            "content-type" => content_type = v.trim().to_string(),
            "transfer-encoding" => chunked = v.trim().eq_ignore_ascii_case("chunked"),
            _ => {}
        }
    }
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Http {
        status,
        content_type,
        body,
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").expect("chunk size");
        let size = usize::from_str_radix(size.trim(), 16).expect("hex chunk size");
        if size == 0 {
            return out;
        }
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
}

/// Waits until `cond` holds, checking every 10 ms; panics after `DEADLINE`.
pub async fn poll<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + DEADLINE;
    while !cond().await {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A server under test: client URL and monitoring address.
pub struct Monitored {
    pub url: String,
    pub monitor: SocketAddr,
    pub is_nats_server: bool,
    kind: Kind,
    _dir: tempfile::TempDir,
}

enum Kind {
    Sluice(Option<sluice_server::ServerHandle>),
    Nats(std::process::Child, tempfile::TempDir),
}

impl Monitored {
    /// Sluice in process with JetStream and `http_port: -1`.
    pub async fn sluice() -> Monitored {
        let dir = tempfile::tempdir().unwrap();
        let opts = sluice_server::Options {
            host: "127.0.0.1".into(),
            port: -1,
            http_port: Some(-1),
            jetstream: true,
            store_dir: Some(dir.path().to_path_buf()),
            ..sluice_server::Options::default()
        };
        Self::sluice_with(opts, dir).await
    }

    pub async fn sluice_with(opts: sluice_server::Options, dir: tempfile::TempDir) -> Monitored {
        let handle = sluice_server::start(opts).await.expect("server starts");
        Monitored {
            url: handle.client_url(),
            monitor: handle.monitor_addr().expect("monitoring port bound"),
            is_nats_server: false,
            kind: Kind::Sluice(Some(handle)),
            _dir: dir,
        }
    }

    /// nats-server with JetStream and `-m -1`, ports learnt from its ports file.
    pub async fn nats_server(bin: &Path) -> Monitored {
        let dir = tempfile::tempdir().unwrap();
        let ports = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(bin)
            .args(["-a", "127.0.0.1", "-p", "-1", "-m", "-1", "-js", "-sd"])
            .arg(dir.path())
            .arg("--ports_file_dir")
            .arg(ports.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn nats-server");
        let file = ports.path().join(format!(
            "{}_{}.ports",
            bin.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("nats-server"),
            child.id()
        ));
        let end = Instant::now() + DEADLINE;
        let (url, monitor) = loop {
            let v = std::fs::read_to_string(&file)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
            let nats = v
                .as_ref()
                .and_then(|v| v["nats"][0].as_str().map(str::to_owned));
            let mon = v.as_ref().and_then(|v| {
                v["monitoring"][0]
                    .as_str()
                    .and_then(|u| u.strip_prefix("http://"))
                    .and_then(|a| a.parse::<SocketAddr>().ok())
            });
            if let (Some(n), Some(m)) = (nats, mon) {
                break (n, m);
            }
            assert!(
                child.try_wait().ok().flatten().is_none(),
                "nats-server exited"
            );
            assert!(Instant::now() < end, "nats-server did not start");
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let addr: SocketAddr = url.trim_start_matches("nats://").parse().unwrap();
        while TcpStream::connect(addr).await.is_err() {
            assert!(Instant::now() < end, "nats-server does not accept clients");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Monitored {
            url,
            monitor,
            is_nats_server: true,
            kind: Kind::Nats(child, ports),
            _dir: dir,
        }
    }

    pub async fn get(&self, path: &str) -> Http {
        get(self.monitor, path).await
    }

    pub async fn json(&self, path: &str) -> serde_json::Value {
        let r = self.get(path).await;
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        r.json()
    }

    pub async fn stop(mut self) {
        match &mut self.kind {
            Kind::Sluice(h) => {
                if let Some(h) = h.take() {
                    h.shutdown().await;
                }
            }
            Kind::Nats(child, _) => {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Drop for Monitored {
    fn drop(&mut self) {
        if let Kind::Nats(child, _) = &mut self.kind {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Monitored {
    /// Waits until `/subsz` shows `n` client subscriptions that `subject` would reach
    /// (a client's `flush` does not wait for the server to have taken its SUB).
    pub async fn wait_for_subs(&self, subject: &str, n: u64) {
        let path = format!("/subsz?subs=1&test={subject}");
        poll(&format!("{n} subscription(s) for {subject}"), || async {
            self.json(&path).await["total"].as_u64() == Some(n)
        })
        .await;
    }
}
