//! The workloads, their default sizes, and dispatch by client kind.

pub mod deliver;
pub mod jetstream;
pub mod js_consumers_mem;
pub mod js_filtered;
pub mod js_latency;
pub mod js_pull;
pub mod js_push_queue;
pub mod js_wq_drain;
pub mod jsconsumer;
pub mod kv;
pub mod kv_scale;
pub mod natsclient;
pub mod obj;
pub mod publish;
pub mod reqrep;

use std::path::PathBuf;
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
    Deliver {
        subs: usize,
        queue: bool,
    },
    /// One responder; one requester doing sequential requests.
    ReqRep,
    /// JetStream publishes into a file stream with at most `window` acks
    /// outstanding (like nats.go's `PublishAsyncMaxPending`).
    JsPubAsync {
        window: u64,
    },
    /// JetStream publishes one at a time, each waiting for its ack.
    JsPubSync,
    /// One puller drains a pre-filled stream through a durable pull consumer
    /// in requests of `batch`, acking each message.
    JsPull {
        batch: u64,
    },
    /// A durable push consumer with a deliver group of `members` drains a
    /// pre-filled stream, each member acking what it gets.
    JsPushQueue {
        members: usize,
    },
    /// Publish-to-delivery latency through a push consumer at `rate` msgs/s.
    JsLatency {
        rate: u64,
    },
    /// A work-queue stream and a limits stream drained by a durable queue
    /// group of `members`; both rates and their ratio.
    JsWqDrain {
        members: usize,
    },
    /// A consumer filtered on one of 100,000 subjects against an unfiltered one.
    JsFiltered,
    /// Server memory after creating `consumers` durable consumers.
    JsConsumersMem {
        consumers: u64,
    },
    /// Key-value puts through async-nats, one at a time and many in flight.
    KvPut,
    /// Key-value gets (direct get) of existing keys: rate and latency.
    KvGet,
    /// A watch of all keys over a filled bucket until every initial value arrived.
    KvWatch,
    KvHistory,
    /// A bucket of a million keys: memory, listing keys, watching, restart.
    KvScale,
    /// One large object put into an object store.
    ObjPut,
    /// One large object read back from an object store.
    ObjGet,
}

impl Kind {
    /// Whether this workload needs JetStream.
    pub fn is_jetstream(self) -> bool {
        !matches!(self, Kind::Pub | Kind::Deliver { .. } | Kind::ReqRep)
    }

    /// Whether this is a key-value or object store workload (they always run
    /// on async-nats: they measure its KV and object store APIs).
    pub fn is_kv(self) -> bool {
        matches!(
            self,
            Kind::KvPut
                | Kind::KvGet
                | Kind::KvWatch
                | Kind::KvHistory
                | Kind::KvScale
                | Kind::ObjPut
                | Kind::ObjGet
        )
    }

    /// Whether this workload uses JetStream consumers (and so always runs on
    /// the raw client).
    pub fn is_consumer(self) -> bool {
        matches!(
            self,
            Kind::JsPull { .. }
                | Kind::JsPushQueue { .. }
                | Kind::JsLatency { .. }
                | Kind::JsWqDrain { .. }
                | Kind::JsFiltered
                | Kind::JsConsumersMem { .. }
        )
    }

    /// The name of the workload whatever its sizes: `--only js-pull` picks
    /// `js-pull-batch100` and `js-pull-batch1000`.
    pub fn family(self) -> &'static str {
        match self {
            Kind::Pub => "pub",
            Kind::Deliver {
                subs: 1,
                queue: false,
            } => "pubsub",
            Kind::Deliver { queue: false, .. } => "fanout",
            Kind::Deliver { queue: true, .. } => "queue",
            Kind::ReqRep => "reqrep",
            Kind::JsPubAsync { .. } => "js-pub-async",
            Kind::JsPubSync => "js-pub-sync",
            Kind::JsPull { .. } => "js-pull",
            Kind::JsPushQueue { .. } => "js-push-queue",
            Kind::JsLatency { .. } => "js-latency",
            Kind::JsWqDrain { .. } => "js-wq-drain",
            Kind::JsFiltered => "js-filtered",
            Kind::JsConsumersMem { .. } => "js-consumers-mem",
            Kind::KvPut => "kv-put",
            Kind::KvGet => "kv-get",
            Kind::KvWatch => "kv-watch",
            Kind::KvHistory => "kv-history",
            Kind::KvScale => "kv-scale",
            Kind::ObjPut | Kind::ObjGet => "obj",
        }
    }
}

/// Acks `js-pub-async` keeps outstanding by default.
pub const JS_WINDOW: u64 = 1000;
/// Payload size of the JetStream workloads in the suite.
pub const JS_SIZE: usize = 128;
/// Pull batch sizes of `js-pull` in the suite.
pub const JS_PULL_BATCHES: [u64; 2] = [100, 1000];
/// Queue group sizes of `js-push-queue` in the suite.
pub const JS_PUSH_MEMBERS: [usize; 2] = [1, 3];
/// Queue members of `js-wq-drain`.
pub const JS_WQ_MEMBERS: usize = 3;
/// Publish rate of `js-latency`, msgs/s.
pub const JS_LATENCY_RATE: u64 = 5000;
/// Consumers `js-consumers-mem` creates.
pub const JS_CONSUMERS: u64 = 1000;
/// Value size of `kv-put`, `kv-get` and `kv-watch`.
pub const KV_SIZE: usize = 100;
/// Value size of `kv-scale`.
pub const KV_SCALE_SIZE: usize = 16;
/// Object size of `obj-put` and `obj-get` (100 MB).
pub const OBJ_SIZE: usize = 100_000_000;

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
    /// The server's process id, for workloads that read its memory; found
    /// by port when the server runs on this machine and this is `None`.
    pub server_pid: Option<u32>,
    /// The server's control directory (see [`crate::serverctl`]), for
    /// workloads that restart it; without one they skip the restart.
    pub server_ctl: Option<PathBuf>,
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
        Kind::JsPull { .. } | Kind::JsPushQueue { .. } => return 100_000,
        Kind::JsWqDrain { .. } => return 50_000,
        Kind::JsLatency { .. } | Kind::JsConsumersMem { .. } => return 10_000,
        Kind::JsFiltered => return 200_000,
        Kind::KvPut | Kind::KvGet | Kind::KvWatch => return 100_000,
        // Puts: 20,000 keys, each put eight times.
        Kind::KvHistory => return 160_000,
        Kind::KvScale => return 1_000_000,
        Kind::ObjPut | Kind::ObjGet => return 1,
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
    let consumers = JS_PULL_BATCHES
        .map(|batch| Kind::JsPull { batch })
        .into_iter()
        .chain(JS_PUSH_MEMBERS.map(|members| Kind::JsPushQueue { members }))
        .chain([
            Kind::JsLatency {
                rate: JS_LATENCY_RATE,
            },
            Kind::JsWqDrain {
                members: JS_WQ_MEMBERS,
            },
            Kind::JsFiltered,
            Kind::JsConsumersMem {
                consumers: JS_CONSUMERS,
            },
        ])
        .map(|kind| (kind, JS_SIZE));
    let kv = [
        (Kind::KvPut, KV_SIZE),
        (Kind::KvGet, KV_SIZE),
        (Kind::KvWatch, KV_SIZE),
        (Kind::KvHistory, KV_SIZE),
        (Kind::ObjPut, scaled_obj_size(scale)),
        (Kind::ObjGet, scaled_obj_size(scale)),
    ];
    shapes
        .into_iter()
        .chain(consumers)
        .chain(kv)
        .map(|(kind, size)| {
            let mut msgs = ((default_msgs(kind, size) as f64 * scale).round() as u64).max(1);
            if kind == Kind::JsFiltered {
                // Fewer would not reach all 100,000 subjects.
                msgs = msgs.max(js_filtered::MIN_MSGS);
            }
            named(kind, msgs, size)
        })
        .collect()
}

/// Workloads that run only when `--only` names them: `kv-scale` (a bucket
/// of 1,000,000 keys; several minutes per server).
pub fn opt_in(scale: f64) -> Vec<Spec> {
    let msgs = ((default_msgs(Kind::KvScale, KV_SCALE_SIZE) as f64 * scale).round() as u64).max(1);
    vec![named(Kind::KvScale, msgs, KV_SCALE_SIZE)]
}

/// The object size of `obj-put`/`obj-get`: `scale` scales the size (there
/// is one object), at least 1 MB.
fn scaled_obj_size(scale: f64) -> usize {
    ((OBJ_SIZE as f64 * scale).round() as usize).max(1_000_000)
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
        Kind::JsPull { batch } => format!("js-pull-batch{batch}"),
        Kind::JsPushQueue { members } => format!("js-push-queue{members}"),
        Kind::JsLatency { .. }
        | Kind::JsWqDrain { .. }
        | Kind::JsFiltered
        | Kind::JsConsumersMem { .. }
        | Kind::KvPut
        | Kind::KvGet
        | Kind::KvWatch
        | Kind::KvHistory
        | Kind::KvScale => kind.family().to_owned(),
        Kind::ObjPut => "obj-put".to_owned(),
        Kind::ObjGet => "obj-get".to_owned(),
    };
    if kind.is_consumer() || kind.is_kv() {
        return spec(&base, kind, msgs, size);
    }
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
    // The consumer workloads speak the protocol themselves (acks, pull
    // requests, status messages), whatever --client says.
    match spec.kind {
        Kind::JsPull { batch } => return js_pull::run(spec, ep, opts, batch),
        Kind::JsPushQueue { members } => return js_push_queue::run(spec, ep, opts, members),
        Kind::JsLatency { rate } => return js_latency::run(spec, ep, opts, rate),
        Kind::JsWqDrain { members } => return js_wq_drain::run(spec, ep, opts, members),
        Kind::JsFiltered => return js_filtered::run(spec, ep, opts),
        Kind::JsConsumersMem { consumers } => {
            return js_consumers_mem::run(spec, ep, opts, consumers)
        }
        // The KV and object store workloads measure async-nats's APIs.
        Kind::KvPut => return kv::run_put(spec, ep, opts),
        Kind::KvGet => return kv::run_get(spec, ep, opts),
        Kind::KvWatch => return kv::run_watch(spec, ep, opts),
        Kind::KvHistory => return kv::run_history(spec, ep, opts),
        Kind::KvScale => return kv_scale::run(spec, ep, opts),
        Kind::ObjPut => return obj::run(spec, ep, opts, false),
        Kind::ObjGet => return obj::run(spec, ep, opts, true),
        _ => {}
    }
    match opts.client {
        ClientKind::Raw => match spec.kind {
            Kind::Pub => publish::run(spec, ep, opts),
            Kind::Deliver { subs, queue } => deliver::run(spec, ep, opts, subs, queue),
            Kind::ReqRep => reqrep::run(spec, ep, opts),
            Kind::JsPubAsync { window } => jetstream::run(spec, ep, opts, Some(window)),
            Kind::JsPubSync => jetstream::run(spec, ep, opts, None),
            _ => unreachable!("consumer workloads are dispatched above"),
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

    fn opt_in_msgs() -> u64 {
        opt_in(1.0).first().map_or(0, |s| s.msgs)
    }

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
                "js-pub-sync",
                "js-pull-batch100",
                "js-pull-batch1000",
                "js-push-queue1",
                "js-push-queue3",
                "js-latency",
                "js-wq-drain",
                "js-filtered",
                "js-consumers-mem",
                "kv-put",
                "kv-get",
                "kv-watch",
                "kv-history",
                "obj-put",
                "obj-get",
            ]
        );
        let opt_in: Vec<String> = opt_in(1.0).into_iter().map(|s| s.name).collect();
        assert_eq!(opt_in, ["kv-scale"]);
        assert_eq!(opt_in_msgs(), 1_000_000);
        let obj = suite(0.001).into_iter().find(|s| s.kind == Kind::ObjGet);
        assert_eq!(obj.map(|s| (s.msgs, s.size)), Some((1, 1_000_000)));
        let filtered = suite(0.01).into_iter().find(|s| s.kind == Kind::JsFiltered);
        assert_eq!(filtered.map(|s| s.msgs), Some(js_filtered::MIN_MSGS));
        assert!(suite(0.0).iter().all(|s| s.msgs >= 1));
        assert_ne!(unique_subject("a", "b"), unique_subject("a", "b"));
    }
}
