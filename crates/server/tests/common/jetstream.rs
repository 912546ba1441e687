//! JetStream helpers shared by the JetStream test files.

use std::future::Future;
use std::time::Duration;

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
