//! The workloads, their default sizes, and dispatch by client kind.

pub mod deliver;
pub mod jetstream;
pub mod natsclient;
pub mod publish;
pub mod reqrep;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use clap::ValueEnum;

use crate::endpoint::Endpoint;
use crate::report::Outcome;

/// Which client library generates the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClientKind {
    /// The built-in lean protocol client: pipelined batched writes, a
    /// zero-copy reader. Measures the server, not the client.
    Raw,
    /// The async-nats crate, as applications use it. Slower; the client may be
    /// the bottleneck.
    AsyncNats,
}

impl ClientKind {
    pub fn name(self) -> &'static str {
        match self {
            ClientKind::Raw => "raw",
            ClientKind::AsyncNats => "async-nats",
        }
    }
}

/// The shape of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Publish only; nobody subscribes.
    Pub,
    /// One publisher, `subs` subscribers on the subject. With `queue`, they
    /// form one queue group, so each message goes to exactly one of them.
    Deliver { subs: usize, queue: bool },
    /// One responder; one requester doing sequential requests.
    ReqRep,
    /// JetStream publishes into a file stream with at most `window` acks
    /// outstanding (like nats.go's `PublishAsyncMaxPending`).
    JsPubAsync { window: u64 },
    /// JetStream publishes one at a time, each waiting for its ack.
    JsPubSync,
}

impl Kind {
    /// Whether this workload needs JetStream.
    pub fn is_jetstream(self) -> bool {
        matches!(self, Kind::JsPubAsync { .. } | Kind::JsPubSync)
    }
}

/// Acks `js-pub-async` keeps outstanding by default.
pub const JS_WINDOW: u64 = 1000;
/// Payload size of the JetStream workloads in the suite.
pub const JS_SIZE: usize = 128;

/// One workload with its sizes.
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    pub kind: Kind,
    /// Messages to publish (requests, for request/reply).
    pub msgs: u64,
    /// Payload size in bytes.
    pub size: usize,
}

/// Settings shared by every workload run.
#[derive(Debug, Clone)]
pub struct Opts {
    pub client: ClientKind,
    /// Bound on one whole run, connection set-up included.
    pub timeout: Duration,
    /// How long subscribers wait for more after the publisher finished
    /// before declaring the rest lost.
    pub idle: Duration,
    /// Bytes per write for the raw publisher.
    pub batch: usize,
}

/// Default message count for a workload of this shape and payload size:
/// about a second or a few per run on a 2-core machine, server and bench
/// sharing it. Large payloads get fewer messages (a byte budget).
pub fn default_msgs(kind: Kind, size: usize) -> u64 {
    let (cap, byte_budget): (u64, u64) = match kind {
        Kind::Pub => (5_000_000, 2_000_000_000),
        Kind::Deliver { subs, queue: false } if subs > 1 => (1_000_000, 250_000_000),
        Kind::Deliver { .. } => (2_000_000, 1_000_000_000),
        Kind::ReqRep => return 20_000,
        Kind::JsPubAsync { .. } => return 200_000,
        Kind::JsPubSync => return 5_000,
    };
    (byte_budget / size.max(1) as u64).clamp(1000, cap)
}

/// The standard suite; `scale` multiplies every message count.
pub fn suite(scale: f64) -> Vec<Spec> {
    let shapes = [
        (Kind::Pub, 16),
        (Kind::Pub, 1024),
        (
            Kind::Deliver {
                subs: 1,
                queue: false,
            },
            16,
        ),
        (
            Kind::Deliver {
                subs: 4,
                queue: false,
            },
            16,
        ),
        (
            Kind::Deliver {
                subs: 3,
                queue: true,
            },
            16,
        ),
        (Kind::ReqRep, 16),
        (Kind::JsPubAsync { window: JS_WINDOW }, JS_SIZE),
        (Kind::JsPubSync, JS_SIZE),
    ];
    shapes
        .into_iter()
        .map(|(kind, size)| {
            let msgs = ((default_msgs(kind, size) as f64 * scale).round() as u64).max(1);
            named(kind, msgs, size)
        })
        .collect()
}

fn spec(name: &str, kind: Kind, msgs: u64, size: usize) -> Spec {
    Spec {
        name: name.to_owned(),
        kind,
        msgs,
        size,
    }
}

/// A pubsub (1 sub), fanout (N subs) or queue (N members) spec, named after its shape.
pub fn deliver_spec(subs: usize, queue: bool, msgs: u64, size: usize) -> Spec {
    let base = match (queue, subs) {
        (true, n) => format!("queue{n}"),
        (false, 1) => "pubsub".to_owned(),
        (false, n) => format!("fanout{n}"),
    };
    spec(
        &format!("{base}-{}", size_name(size)),
        Kind::Deliver { subs, queue },
        msgs,
        size,
    )
}

/// A reqrep or pub spec named after its size; the JetStream ones are
/// `js-pub-async` and `js-pub-sync` whatever their size.
pub fn named(kind: Kind, msgs: u64, size: usize) -> Spec {
    let base = match kind {
        Kind::Pub => "pub".to_owned(),
        Kind::ReqRep => "reqrep".to_owned(),
        Kind::Deliver { subs, queue } => return deliver_spec(subs, queue, msgs, size),
        Kind::JsPubAsync { .. } => return spec("js-pub-async", kind, msgs, size),
        Kind::JsPubSync => return spec("js-pub-sync", kind, msgs, size),
    };
    spec(&format!("{base}-{}", size_name(size)), kind, msgs, size)
}

fn size_name(size: usize) -> String {
    if size >= 1024 && size.is_multiple_of(1024) {
        format!("{}kb", size / 1024)
    } else {
        format!("{size}b")
    }
}

/// Runs one workload once against one server.
pub fn run(spec: &Spec, ep: &Endpoint, opts: &Opts) -> Result<Outcome> {
    if let Kind::Deliver { subs: 0, .. } = spec.kind {
        bail!("{}: needs at least one subscriber", spec.name);
    }
    if spec.msgs == 0 {
        bail!("{}: needs at least one message", spec.name);
    }
    match opts.client {
        ClientKind::Raw => match spec.kind {
            Kind::Pub => publish::run(spec, ep, opts),
            Kind::Deliver { subs, queue } => deliver::run(spec, ep, opts, subs, queue),
            Kind::ReqRep => reqrep::run(spec, ep, opts),
            Kind::JsPubAsync { window } => jetstream::run(spec, ep, opts, Some(window)),
            Kind::JsPubSync => jetstream::run(spec, ep, opts, None),
        },
        ClientKind::AsyncNats => natsclient::run(spec, ep, opts),
    }
}

/// A subject no other run (of this or another process) uses.
pub fn unique_subject(prefix: &str, workload: &str) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}.{workload}.{}x{nanos}x{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// The payload every workload sends: `size` printable bytes.
pub fn payload(size: usize) -> Vec<u8> {
    (0..size).map(|i| b'a' + (i % 26) as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let names: Vec<String> = suite(1.0).into_iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "pub-16b",
                "pub-1kb",
                "pubsub-16b",
                "fanout4-16b",
                "queue3-16b",
                "reqrep-16b",
                "js-pub-async",
                "js-pub-sync"
            ]
        );
        assert!(suite(0.0).iter().all(|s| s.msgs >= 1));
        assert_ne!(unique_subject("a", "b"), unique_subject("a", "b"));
    }
}
