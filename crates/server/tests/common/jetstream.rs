//! JetStream helpers shared by the JetStream test files.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream;
use serde_json::Value;
use tokio::time::Instant;

/// Test options with JetStream on, storing in `dir`.
pub fn js_opts(dir: &std::path::Path) -> sluice_server::Options {
    let mut o = super::opts();
    o.jetstream = true;
    o.store_dir = Some(dir.to_path_buf());
    o
}

/// Waits until the JetStream API answers (`$JS.API.INFO`).
pub async fn js_ready(client: &async_nats::Client) {
    let end = Instant::now() + super::DEADLINE;
    while client.request("$JS.API.INFO", "".into()).await.is_err() {
        assert!(Instant::now() < end, "JetStream API never answered");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Polls an async condition every few milliseconds until it holds or `DEADLINE` passes.
pub async fn poll<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let end = Instant::now() + super::DEADLINE;
    while !cond().await {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A JetStream server on a temporary store, with a client and its JetStream context.
pub struct Setup {
    pub _dir: tempfile::TempDir,
    pub server: super::TestServer,
    pub client: async_nats::Client,
    pub js: jetstream::Context,
}

/// Starts a JetStream server and waits until its API answers.
pub async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let server = super::TestServer::start(js_opts(dir.path())).await;
    let client = server.client().await;
    js_ready(&client).await;
    let js = jetstream::new(client.clone());
    Setup {
        _dir: dir,
        server,
        client,
        js,
    }
}

/// Sends a `$JS.API` request and decodes the JSON reply.
pub async fn api(client: &async_nats::Client, subject: &str, body: &str) -> Value {
    let msg = client
        .request(subject.to_string(), body.to_string().into())
        .await
        .unwrap_or_else(|e| panic!("request {subject}: {e}"));
    serde_json::from_slice(&msg.payload)
        .unwrap_or_else(|e| panic!("{subject}: reply is not JSON ({e}): {:?}", msg.payload))
}

/// Asserts an error reply with nats-server's `code`, `err_code` and description.
#[track_caller]
pub fn assert_error(reply: &Value, code: u64, err_code: u64, description: &str) {
    let e = &reply["error"];
    assert_eq!(
        (
            e["code"].as_u64(),
            e["err_code"].as_u64(),
            e["description"].as_str()
        ),
        (Some(code), Some(err_code), Some(description)),
        "reply: {reply}"
    );
}

// ---------------------------------------------------------------------------------------
// Consumer scenarios: the same scenario against Sluice and against a real nats-server
// ---------------------------------------------------------------------------------------

/// A JetStream server a scenario runs against: Sluice in process, the `sluice-server`
/// binary, or a real nats-server (`-js`), each on its own temporary store directory.
/// `restart` and `kill_and_restart` bring it back on the same port and store, so
/// connected clients reconnect by themselves.
pub struct JsServer {
    kind: JsKind,
    dir: tempfile::TempDir,
    port: u16,
}

enum JsKind {
    Sluice(Option<super::TestServer>),
    Binary(Option<super::ServerProcess>),
    Nats {
        bin: std::path::PathBuf,
        process: Option<super::NatsServerProcess>,
    },
}

impl JsServer {
    /// Sluice in process (`TestServer`).
    pub async fn sluice() -> JsServer {
        let dir = tempfile::tempdir().unwrap();
        let server = super::TestServer::start(js_opts(dir.path())).await;
        let port = server.addr.port();
        JsServer {
            kind: JsKind::Sluice(Some(server)),
            dir,
            port,
        }
    }

    /// The `sluice-server` binary as a child process (for `kill -9`).
    pub async fn sluice_binary() -> JsServer {
        let dir = tempfile::tempdir().unwrap();
        let process = Self::spawn_binary(dir.path(), "-1");
        let port = process.port;
        JsServer {
            kind: JsKind::Binary(Some(process)),
            dir,
            port,
        }
    }

    /// A real nats-server, or `None` (test skipped) where none is installed.
    pub async fn nats_server() -> Option<JsServer> {
        let bin = super::require_nats_server()?;
        let dir = tempfile::tempdir().unwrap();
        let process = Self::spawn_nats(&bin, dir.path(), None).await;
        let port = process.addr.port();
        Some(JsServer {
            kind: JsKind::Nats {
                bin,
                process: Some(process),
            },
            dir,
            port,
        })
    }

    fn spawn_binary(dir: &std::path::Path, port: &str) -> super::ServerProcess {
        let sd = dir.to_str().unwrap();
        let args = ["-js", "-sd", sd, "-a", "127.0.0.1", "-p", port];
        super::ServerProcess::start(env!("CARGO_BIN_EXE_sluice-server"), &args).0
    }

    async fn spawn_nats(
        bin: &std::path::Path,
        dir: &std::path::Path,
        port: Option<u16>,
    ) -> super::NatsServerProcess {
        let sd = dir.to_str().unwrap().to_owned();
        let port = port.map(|p| p.to_string());
        let mut args = vec!["-js", "-sd", sd.as_str()];
        if let Some(p) = &port {
            // Given after the kit's `-p -1`, so this one wins.
            args.extend(["-p", p.as_str()]);
        }
        super::NatsServerProcess::start(bin, &args).await
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn is_nats_server(&self) -> bool {
        matches!(self.kind, JsKind::Nats { .. })
    }

    /// A client that keeps reconnecting (forever) and a JetStream context on it.
    pub async fn connect(&self) -> (async_nats::Client, jetstream::Context) {
        let client = async_nats::ConnectOptions::new()
            .max_reconnects(None)
            .connect(self.url())
            .await
            .expect("client connects");
        js_ready(&client).await;
        let js = jetstream::new(client.clone());
        (client, js)
    }

    /// Stops the server the clean way (shutdown, SIGTERM).
    pub async fn stop(&mut self) {
        match &mut self.kind {
            JsKind::Sluice(server) => {
                if let Some(s) = server.take() {
                    s.shutdown().await;
                }
            }
            JsKind::Binary(process) => {
                if let Some(mut p) = process.take() {
                    p.signal("-TERM");
                    p.wait_exit();
                }
            }
            JsKind::Nats { process, .. } => {
                if let Some(mut p) = process.take() {
                    let status = std::process::Command::new("kill")
                        .args(["-TERM", &p.child.id().to_string()])
                        .status()
                        .expect("kill");
                    assert!(status.success());
                    let end = std::time::Instant::now() + super::DEADLINE;
                    while p.child.try_wait().expect("try_wait").is_none() {
                        assert!(std::time::Instant::now() < end, "nats-server did not exit");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        }
    }

    /// `kill -9` (child processes only; Sluice in process is shut down instead).
    pub async fn kill9(&mut self) {
        match &mut self.kind {
            JsKind::Sluice(_) => self.stop().await,
            JsKind::Binary(process) => {
                if let Some(mut p) = process.take() {
                    p.signal("-KILL");
                    p.wait_exit();
                }
            }
            JsKind::Nats { process, .. } => {
                if let Some(mut p) = process.take() {
                    let _ = p.child.kill();
                    let _ = p.child.wait();
                }
            }
        }
    }

    /// Starts the server again on the same port and store directory.
    pub async fn start_again(&mut self) {
        let port = self.port;
        match &mut self.kind {
            JsKind::Sluice(server) => {
                assert!(server.is_none(), "still running");
                let mut opts = js_opts(self.dir.path());
                opts.port = i32::from(port);
                *server = Some(super::TestServer::start(opts).await);
            }
            JsKind::Binary(process) => {
                assert!(process.is_none(), "still running");
                *process = Some(Self::spawn_binary(self.dir.path(), &port.to_string()));
            }
            JsKind::Nats { bin, process } => {
                assert!(process.is_none(), "still running");
                *process = Some(Self::spawn_nats(bin, self.dir.path(), Some(port)).await);
            }
        }
    }

    /// A clean stop, then a start on the same port and store.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.start_again().await;
    }

    /// `kill -9`, then a start on the same port and store.
    pub async fn kill_and_restart(&mut self) {
        self.kill9().await;
        self.start_again().await;
    }
}

/// Defines a consumer scenario's two tests: `$sluice` runs `$scenario(&mut JsServer)`
/// against Sluice in process, `$reference` (ignored; `cargo test -- --ignored`) runs the
/// very same scenario against a real nats-server to prove the test itself right.
#[macro_export]
macro_rules! js_twins {
    ($scenario:ident => $sluice:ident, $reference:ident) => {
        js_twins!($scenario => $sluice, $reference, sluice);
    };
    ($scenario:ident => $sluice:ident, $reference:ident, $start:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sluice() {
            let mut server = $crate::common::jetstream::JsServer::$start().await;
            $scenario(&mut server).await;
            server.stop().await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[ignore = "reference run against nats-server: proves the test, not Sluice"]
        async fn $reference() {
            let Some(mut server) = $crate::common::jetstream::JsServer::nats_server().await else {
                return;
            };
            $scenario(&mut server).await;
            server.stop().await;
        }
    };
}
