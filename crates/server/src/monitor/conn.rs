//! What monitoring knows about one connection: `ConnMeta`, kept by the connection as it
//! runs (counters, identity from CONNECT, last activity, RTT), and the `/connz` entry
//! (`ConnInfo`) made from it, live or kept after the connection closed.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use serde::Serialize;
use sluice_proto::ConnectOptions;

use super::json::{go_uptime, unix_nanos};
use crate::client::ClientShared;
use crate::router::Subscription;
use sluice_jetstream::time::{format_rfc3339_nanos, go_duration};

#[derive(Debug, Default)]
struct Ident {
    peer: Option<SocketAddr>,
    name: String,
    lang: String,
    version: String,
}

/// Per-connection monitoring data. Counters are relaxed atomics updated once per read
/// batch (inbound) or per delivery (outbound).
#[derive(Debug)]
pub struct ConnMeta {
    start: i64,
    ident: Mutex<Ident>,
    in_msgs: AtomicU64,
    in_bytes: AtomicU64,
    out_msgs: AtomicU64,
    out_bytes: AtomicU64,
    last_activity: AtomicI64,
    /// Nanoseconds; 0 until the first PING was answered.
    rtt: AtomicI64,
    ping_sent: Mutex<Option<Instant>>,
}

impl Default for ConnMeta {
    fn default() -> Self {
        let now = unix_nanos();
        ConnMeta {
            start: now,
            ident: Mutex::new(Ident::default()),
            in_msgs: AtomicU64::new(0),
            in_bytes: AtomicU64::new(0),
            out_msgs: AtomicU64::new(0),
            out_bytes: AtomicU64::new(0),
            last_activity: AtomicI64::new(now),
            rtt: AtomicI64::new(0),
            ping_sent: Mutex::new(None),
        }
    }
}

impl ConnMeta {
    pub fn set_peer(&self, peer: SocketAddr) {
        self.ident.lock().peer = Some(peer);
    }

    /// Name, language and version from CONNECT.
    pub fn on_connect(&self, connect: &ConnectOptions) {
        let mut id = self.ident.lock();
        id.name = connect.name.clone().unwrap_or_default();
        id.lang = connect.lang.clone().unwrap_or_default();
        id.version = connect.version.clone().unwrap_or_default();
    }

    /// Messages published by this client in one read batch.
    pub fn add_in(&self, msgs: u64, bytes: u64) {
        self.in_msgs.fetch_add(msgs, Ordering::Relaxed);
        self.in_bytes.fetch_add(bytes, Ordering::Relaxed);
        self.touch();
    }

    /// One message delivered to this client.
    pub fn add_out(&self, bytes: u64) {
        self.out_msgs.fetch_add(1, Ordering::Relaxed);
        self.out_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// The client did something (nats-server's `last_activity`).
    pub fn touch(&self) {
        self.last_activity.store(unix_nanos(), Ordering::Relaxed);
    }

    /// The server sent a PING; the PONG that answers it measures the RTT.
    pub fn ping_sent(&self) {
        let mut sent = self.ping_sent.lock();
        if sent.is_none() {
            *sent = Some(Instant::now());
        }
    }

    pub fn pong_received(&self) {
        if let Some(at) = self.ping_sent.lock().take() {
            let rtt = at.elapsed().as_nanos().clamp(1, i64::MAX as u128) as i64;
            self.rtt.store(rtt, Ordering::Relaxed);
        }
    }

    pub fn in_msgs(&self) -> u64 {
        self.in_msgs.load(Ordering::Relaxed)
    }

    pub fn out_msgs(&self) -> u64 {
        self.out_msgs.load(Ordering::Relaxed)
    }
}

/// One subscription in `/connz` and `/subsz` (`SubDetail`).
#[derive(Debug, Clone, Serialize)]
pub struct SubDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_tag: Option<&'static str>,
    pub subject: String,
    #[serde(rename = "qgroup", skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    pub sid: String,
    pub msgs: u64,
    pub cid: u64,
}

impl SubDetail {
    pub fn of(sub: &Subscription) -> SubDetail {
        SubDetail {
            account: None,
            account_tag: None,
            subject: sub.subject.clone(),
            queue: sub.queue.clone(),
            sid: String::from_utf8_lossy(&sub.sid).into_owned(),
            msgs: sub.delivered(),
            cid: sub.cid(),
        }
    }
}

/// One connection in `/connz` (`ConnInfo`).
#[derive(Debug, Clone, Serialize)]
pub struct ConnInfo {
    pub cid: u64,
    pub kind: &'static str,
    #[serde(rename = "type")]
    pub conn_type: &'static str,
    pub ip: String,
    pub port: u16,
    pub start: String,
    pub last_activity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt: Option<String>,
    pub uptime: String,
    pub idle: String,
    pub pending_bytes: u64,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    pub subscriptions: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(rename = "subscriptions_list", skip_serializing_if = "Vec::is_empty")]
    pub subs: Vec<String>,
    #[serde(
        rename = "subscriptions_list_detail",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub subs_detail: Vec<SubDetail>,
    /// For sorting: raw values behind the strings above.
    #[serde(skip)]
    pub sort: SortKeys,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SortKeys {
    pub start: i64,
    pub last: i64,
    pub stop: i64,
    pub rtt: i64,
}

/// A connection's entry as of `now`, without subscription lists.
pub fn conn_info(client: &ClientShared, num_subs: usize, now: i64) -> ConnInfo {
    let m = &client.meta;
    let id = m.ident.lock();
    let last = m.last_activity.load(Ordering::Relaxed);
    let rtt = m.rtt.load(Ordering::Relaxed);
    ConnInfo {
        cid: client.cid,
        kind: "Client",
        conn_type: "nats",
        ip: id.peer.map(|p| p.ip().to_string()).unwrap_or_default(),
        port: id.peer.map_or(0, |p| p.port()),
        start: format_rfc3339_nanos(m.start),
        last_activity: format_rfc3339_nanos(last),
        stop: None,
        reason: None,
        rtt: (rtt > 0).then(|| go_duration(rtt)),
        uptime: go_uptime(now - m.start),
        idle: go_uptime(now - last),
        pending_bytes: client.out.pending_bytes() as u64,
        in_msgs: m.in_msgs.load(Ordering::Relaxed),
        out_msgs: m.out_msgs.load(Ordering::Relaxed),
        in_bytes: m.in_bytes.load(Ordering::Relaxed),
        out_bytes: m.out_bytes.load(Ordering::Relaxed),
        subscriptions: num_subs.min(u32::MAX as usize) as u32,
        name: id.name.clone(),
        lang: id.lang.clone(),
        version: id.version.clone(),
        subs: Vec::new(),
        subs_detail: Vec::new(),
        sort: SortKeys {
            start: m.start,
            last,
            stop: 0,
            rtt,
        },
    }
}

/// How many closed connections `/connz?state=closed` remembers (nats-server's default).
pub const MAX_CLOSED: usize = 10_000;

/// A closed connection: its last entry and the subscriptions it had.
#[derive(Debug, Clone)]
pub struct ClosedConn {
    pub info: ConnInfo,
    pub subs: Vec<SubDetail>,
}

/// The most recently closed connections, oldest first.
#[derive(Debug, Default)]
pub struct ClosedConnections {
    ring: Mutex<VecDeque<Arc<ClosedConn>>>,
}

impl ClosedConnections {
    /// Records a connection that is closing, with the subscriptions it had.
    pub fn record(&self, client: &ClientShared, subs: &[Arc<Subscription>], reason: &str) {
        let now = unix_nanos();
        let mut info = conn_info(client, subs.len(), now);
        info.stop = Some(format_rfc3339_nanos(now));
        info.reason = Some(reason.to_string());
        info.pending_bytes = 0;
        info.sort.stop = now;
        // nats-server names the account in a closed connection's subscriptions.
        let subs = subs
            .iter()
            .map(|s| SubDetail {
                account: Some("$G"),
                account_tag: Some("$G"),
                ..SubDetail::of(s)
            })
            .collect();
        let mut ring = self.ring.lock();
        if ring.len() >= MAX_CLOSED {
            ring.pop_front();
        }
        ring.push_back(Arc::new(ClosedConn { info, subs }));
    }

    pub fn list(&self) -> Vec<Arc<ClosedConn>> {
        self.ring.lock().iter().cloned().collect()
    }
}
