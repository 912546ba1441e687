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
