//! The HTTP monitoring port: nats-server's endpoints (`/varz`, `/connz`, `/subsz`,
//! `/routez`, `/gatewayz`, `/leafz`, `/accountz`, `/jsz`, `/healthz`) with the same JSON
//! field names, types and units, and `/metrics` in the Prometheus text format.
//!
//! - `http`: the listener, routing, query parameters, responses.
//! - `conn`: what a connection records for `/connz` (`ConnMeta`), and the ring of
//!   recently closed connections.
//! - `varz`, `connz`, `subsz`, `jsz`, `healthz`, `accountz` (with the empty
//!   `/routez`, `/gatewayz`, `/leafz` of a server without clustering): one endpoint each.
//! - `metrics`: the Prometheus exposition; `histogram`: the fsync and publish-to-ack
//!   latency histograms the JetStream thread feeds.
//! - `json`: Go-compatible time and duration formatting.

mod accountz;
pub mod conn;
mod connz;
mod healthz;
pub mod histogram;
mod http;
mod json;
mod jsz;
mod metrics;
mod subsz;
mod varz;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::Mutex;

pub use conn::{ClosedConnections, ConnMeta};
pub use histogram::JsTimings;
pub use http::start;

/// Server-wide monitoring state.
#[derive(Debug)]
pub struct MonitorState {
    pub start: SystemTime,
    pub closed: ClosedConnections,
    /// Requests per endpoint path (`http_req_stats` of `/varz`).
    req_stats: Mutex<BTreeMap<&'static str, u64>>,
    /// Connections closed as stale (unanswered PINGs).
    pub stale_connections: AtomicU64,
    /// Latencies measured by the JetStream thread.
    pub js_timings: Arc<JsTimings>,
    /// Where the monitoring port is bound.
    addr: Mutex<Option<SocketAddr>>,
}

impl Default for MonitorState {
    fn default() -> Self {
        MonitorState {
            start: SystemTime::now(),
            closed: ClosedConnections::default(),
            req_stats: Mutex::new(BTreeMap::new()),
            stale_connections: AtomicU64::new(0),
            js_timings: Arc::new(JsTimings::default()),
            addr: Mutex::new(None),
        }
    }
}

impl MonitorState {
    fn set_addr(&self, addr: SocketAddr) {
        *self.addr.lock() = Some(addr);
    }

    /// The monitoring port's address, once bound.
    pub fn addr(&self) -> Option<SocketAddr> {
        *self.addr.lock()
    }

    fn count_request(&self, path: &'static str) {
        *self.req_stats.lock().entry(path).or_insert(0) += 1;
    }

    fn request_stats(&self) -> BTreeMap<&'static str, u64> {
        self.req_stats.lock().clone()
    }

    /// A connection is closing: keep its entry for `/connz?state=closed`.
    pub fn connection_closed(
        &self,
        client: &crate::client::ClientShared,
        subs: &[Arc<crate::router::Subscription>],
        reason: crate::client::CloseReason,
    ) {
        if reason == crate::client::CloseReason::StaleConnection {
            self.stale_connections.fetch_add(1, Ordering::Relaxed);
        }
        self.closed.record(client, subs, &reason.to_string());
    }

    /// Messages and bytes delivered to clients: by client publishes and by JetStream.
    pub fn out_totals(&self, stats: &crate::stats::Stats) -> (u64, u64) {
        let js = &self.js_timings;
        (
            stats.out_msgs.load(Ordering::Relaxed) + js.out_msgs.load(Ordering::Relaxed),
            stats.out_bytes.load(Ordering::Relaxed) + js.out_bytes.load(Ordering::Relaxed),
        )
    }

    pub fn stale_connections(&self) -> u64 {
        self.stale_connections.load(Ordering::Relaxed)
    }
}
