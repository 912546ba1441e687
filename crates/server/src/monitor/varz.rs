//! `/varz`: the server's configuration, counters and resource use (nats-server's
//! `Varz`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use sluice_jetstream::engine::EngineReport;
use sluice_jetstream::time::format_rfc3339_nanos;

use super::http::Reply;
use super::json::{go_uptime, system_time_nanos, unix_nanos};
use crate::server::ServerShared;
use crate::stats::Stats;

/// Cluster, gateway, leaf node, MQTT and websocket blocks: empty objects, as
/// nats-server shows them when none is configured.
#[derive(Debug, Serialize)]
pub struct Empty {}

#[derive(Debug, Serialize)]
pub struct JsConfig {
    pub max_memory: i64,
    pub max_storage: i64,
    pub store_dir: String,
    /// Nanoseconds between background fsyncs (with `sync_always`, each publish is
    /// synced as well).
    pub sync_interval: i64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sync_always: bool,
    pub strict: bool,
}

#[derive(Debug, Serialize)]
pub struct ApiStats {
    pub level: u32,
    pub total: u64,
    pub errors: u64,
}

/// `JetStreamStats`.
#[derive(Debug, Serialize)]
pub struct JsStats {
    pub memory: u64,
    pub storage: u64,
    pub reserved_memory: u64,
    pub reserved_storage: u64,
    pub accounts: u64,
    pub ha_assets: u64,
    pub api: ApiStats,
}

#[derive(Debug, Serialize)]
pub struct JsVarz {
    pub config: JsConfig,
    pub stats: JsStats,
    pub limits: Empty,
}

pub fn js_config(r: &EngineReport) -> JsConfig {
    JsConfig {
        max_memory: r.server_max_memory,
        max_storage: r.server_max_store,
        store_dir: r.store_dir.clone(),
        sync_interval: r.sync_interval,
        sync_always: r.sync_always,
        strict: true,
    }
}

pub fn js_stats(r: &EngineReport) -> JsStats {
    JsStats {
        memory: r.memory,
        storage: r.storage,
        reserved_memory: r.reserved_memory,
        reserved_storage: r.reserved_storage,
        accounts: 1,
        ha_assets: 0,
        api: ApiStats {
            level: sluice_jetstream::API_LEVEL,
            total: r.api_total,
            errors: r.api_errors,
        },
    }
}

#[derive(Debug, Serialize)]
struct PerKind {
    clients: u64,
    routes: u64,
    gateways: u64,
    leafs: u64,
}

impl PerKind {
    fn clients(n: u64) -> PerKind {
        PerKind {
            clients: n,
            routes: 0,
            gateways: 0,
            leafs: 0,
        }
    }
}

#[derive(Debug, Serialize)]
struct DiskIoWait {
    waiters: u64,
    waits: u64,
    wait_time: u64,
    max_wait_time: u64,
}

#[derive(Debug, Serialize)]
struct Varz {
    server_id: String,
    server_name: String,
    version: String,
    proto: u32,
    go: String,
    host: String,
    port: u16,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    auth_required: bool,
    max_connections: usize,
    ping_interval: i64,
    ping_max: u32,
    http_host: String,
    http_port: u16,
    http_base_path: &'static str,
    https_port: u16,
    auth_timeout: f64,
    max_control_line: usize,
    max_payload: usize,
    max_pending: usize,
    cluster: Empty,
    gateway: Empty,
    leaf: Empty,
    mqtt: Empty,
    websocket: Empty,
    /// `{}` without JetStream.
    jetstream: serde_json::Value,
    tls_timeout: f64,
    write_deadline: i64,
    start: String,
    now: String,
    uptime: String,
    mem: u64,
    cores: usize,
    gomaxprocs: usize,
    cpu: f64,
    connections: usize,
    total_connections: u64,
    routes: u64,
    remotes: u64,
    leafnodes: u64,
    in_msgs: u64,
    in_bytes: u64,
    in_client_msgs: u64,
    in_client_bytes: u64,
    out_msgs: u64,
    out_bytes: u64,
    out_client_msgs: u64,
    out_client_bytes: u64,
    slow_consumers: u64,
    stale_connections: u64,
    stalled_clients: u64,
    subscriptions: usize,
    http_req_stats: BTreeMap<&'static str, u64>,
    config_load_time: String,
    config_digest: &'static str,
    slow_consumer_stats: PerKind,
    stale_connection_stats: PerKind,
    disk_io_wait_stats: DiskIoWait,
}

fn nanos(d: std::time::Duration) -> i64 {
    d.as_nanos().min(i64::MAX as u128) as i64
}

/// How long monitoring waits for the JetStream thread's snapshot.
const REPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The engine's report, if JetStream runs and answers in time. A full engine queue is
/// retried until the deadline rather than taken for JetStream being off.
pub async fn engine_report(shared: &ServerShared) -> Option<EngineReport> {
    if !shared.options().jetstream {
        return None;
    }
    let deadline = tokio::time::Instant::now() + REPORT_TIMEOUT;
    let rx = loop {
        if let Some(rx) = shared.jetstream_report() {
            break rx;
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    tokio::time::timeout_at(deadline, rx).await.ok()?.ok()
}

pub async fn varz(shared: &Arc<ServerShared>) -> Reply {
    let opts = shared.options();
    let info = shared.info();
    let stats = shared.stats();
    let monitor = shared.monitor();
    let now = unix_nanos();
    let start = system_time_nanos(monitor.start);
    let js = if opts.jetstream {
        engine_report(shared).await.map(|r| JsVarz {
            config: js_config(&r),
            stats: js_stats(&r),
            limits: Empty {},
        })
    } else {
        None
    };
    let (in_msgs, in_bytes) = (Stats::get(&stats.in_msgs), Stats::get(&stats.in_bytes));
    let (out_msgs, out_bytes) = monitor.out_totals(stats);
    let slow = Stats::get(&stats.slow_consumers);
    let stale = monitor.stale_connections();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (mem, cpu) = process_usage(now - start);
    Reply::json(&Varz {
        server_id: info.server_id.clone(),
        server_name: info.server_name.clone(),
        version: info.version.clone(),
        proto: 1,
        go: info.go.clone(),
        host: opts.host.clone(),
        port: info.port,
        auth_required: info.auth_required,
        max_connections: opts.max_connections,
        ping_interval: nanos(opts.ping_interval),
        ping_max: opts.ping_max,
        http_host: opts.http_host.clone().unwrap_or_else(|| opts.host.clone()),
        http_port: monitor.addr().map_or(0, |a| a.port()),
        http_base_path: "",
        https_port: 0,
        auth_timeout: opts.auth_timeout.as_secs_f64(),
        max_control_line: opts.max_control_line,
        max_payload: opts.max_payload,
        max_pending: opts.max_pending,
        cluster: Empty {},
        gateway: Empty {},
        leaf: Empty {},
        mqtt: Empty {},
        websocket: Empty {},
        jetstream: js
            .and_then(|j| serde_json::to_value(j).ok())
            .unwrap_or_else(|| serde_json::json!({})),
        tls_timeout: 2.0,
        write_deadline: nanos(opts.write_deadline),
        start: format_rfc3339_nanos(start),
        now: format_rfc3339_nanos(now),
        uptime: go_uptime(now - start),
        mem,
        cores,
        gomaxprocs: cores,
        cpu,
        connections: shared.connection_count(),
        total_connections: Stats::get(&stats.total_connections),
        routes: 0,
        remotes: 0,
        leafnodes: 0,
        in_msgs,
        in_bytes,
        in_client_msgs: in_msgs,
        in_client_bytes: in_bytes,
        out_msgs,
        out_bytes,
        out_client_msgs: out_msgs,
        out_client_bytes: out_bytes,
        slow_consumers: slow,
        stale_connections: stale,
        stalled_clients: 0,
        subscriptions: shared.router().subscription_count(),
        http_req_stats: monitor.request_stats(),
        config_load_time: format_rfc3339_nanos(start),
        config_digest: "",
        slow_consumer_stats: PerKind::clients(slow),
        stale_connection_stats: PerKind::clients(stale),
        disk_io_wait_stats: DiskIoWait {
            waiters: 0,
            waits: 0,
            wait_time: 0,
            max_wait_time: 0,
        },
    })
}

/// Resident memory in bytes and average CPU use in percent since start (Linux
/// `/proc`; zeros elsewhere).
pub fn process_usage(uptime_nanos: i64) -> (u64, f64) {
    let page = 4096u64;
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * page);
    let cpu_secs = cpu_seconds().unwrap_or(0.0);
    let up = uptime_nanos as f64 / 1e9;
    let cpu = if up > 0.0 {
        (cpu_secs / up * 1000.0).round() / 10.0
    } else {
        0.0
    };
    (rss, cpu)
}

/// User plus system CPU time of this process, in seconds.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Clock ticks per second: 100 on every Linux platform Sluice targets.
    Some((utime + stime) / 100.0)
}
