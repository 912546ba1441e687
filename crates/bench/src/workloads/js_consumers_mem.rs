//! `js-consumers-mem`: creates many durable consumers (default 1,000) on one
//! file stream holding N messages, and reports the server process's memory
//! (VmRSS from `/proc/<pid>/status`) before and after, and how fast the
//! creates went (up to [`WINDOW`] `CONSUMER.CREATE` requests in flight).
//!
//! The server's PID comes from `--pid` (`--baseline-pid`/`--candidate-pid` in
//! compare mode); without one, a server on this machine is found by the
//! port it listens on (`/proc/net/tcp*` and `/proc/*/fd`). RSS is read once
//! the creates are done and the server had [`SETTLE`] to finish. Every create
//! must succeed and `STREAM.INFO` must then count every consumer.
//!
//! Compared: the RSS after the creates (it includes whatever the server kept
//! from earlier runs) and creates/s. The growth during the run is printed
//! only: a garbage-collected server may hand memory of earlier runs back to
//! the OS meanwhile, which makes the difference meaningless (even negative).
//! For a clean growth figure, run it alone against freshly started servers.

use std::fs;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

use super::jsconsumer::{consumer_config, stream_name, Api, API_TIMEOUT};
use super::publish::check_payload;
use super::{payload, Opts, Spec};
use crate::endpoint::Endpoint;
use crate::report::{Metric, Outcome, Unit};

/// `CONSUMER.CREATE` requests in flight at most.
const WINDOW: u64 = 16;
/// Time the server gets to settle before RSS is read.
const SETTLE: Duration = Duration::from_millis(500);

pub fn run(spec: &Spec, ep: &Endpoint, opts: &Opts, consumers: u64) -> Result<Outcome> {
    if consumers == 0 {
        bail!("{}: --consumers must be at least 1", spec.name);
    }
    let pid = match opts.server_pid {
        Some(p) => p,
        None => listener_pid(ep)?,
    };
    rss_kib(pid).with_context(|| format!("reading the memory of server PID {pid}"))?;
    let deadline = Instant::now() + opts.timeout;
    let stream = stream_name("js-consumers-mem");
    let mut api = Api::connect(ep, "sluice-bench-js-consumers-mem")?;
    check_payload(&api.conn, spec.size)?;
    let result = (|| -> Result<_> {
        api.recreate_stream(&json!({
            "name": stream, "subjects": ["bench.cmem"], "storage": "file",
        }))?;
        api.prefill(
            &stream,
            spec.msgs,
            |_| "bench.cmem".to_owned(),
            &payload(spec.size),
            deadline,
        )?;
        thread::sleep(SETTLE);
        let before = rss_kib(pid)?;
        let start = Instant::now();
        create_consumers(&mut api, &stream, consumers)?;
        let create_secs = start.elapsed().as_secs_f64();
        let info = api.request(&format!("$JS.API.STREAM.INFO.{stream}"), b"")?;
        match info
            .pointer("/state/consumer_count")
            .and_then(Value::as_u64)
        {
            Some(n) if n == consumers => {}
            other => bail!("STREAM.INFO counts {other:?} consumers, {consumers} were created"),
        }
        thread::sleep(SETTLE);
        let after = rss_kib(pid)?;
        Ok((before, after, create_secs))
    })();
    let cleaned = api.cleanup(ep, &stream);
    let (before, after, create_secs) = result?;
    cleaned.context("deleting the stream")?;
    let mib = |kib: u64| kib as f64 / 1024.0;
    let growth_kib = after as f64 - before as f64;
    Ok(Outcome {
        workload: spec.name.clone(),
        url: ep.url.clone(),
        client: "raw",
        size: spec.size,
        published: spec.msgs,
        delivered: 0,
        elapsed_secs: create_secs,
        publish_secs: 0.0,
        msgs_per_sec: consumers as f64 / create_secs.max(1e-9),
        mb_per_sec: 0.0,
        split: Vec::new(),
        latency: None,
        custom: vec![
            Metric::custom("RSS after", mib(after), Unit::MiB, false),
            Metric::custom(
                "creates/s",
                consumers as f64 / create_secs.max(1e-9),
                Unit::Rate,
                true,
            ),
        ],
        // The growth is shown but not compared: a garbage-collected server
        // (nats-server) may return memory of earlier runs meanwhile, so it
        // can even be negative.
        detail: Some(format!(
            "pid {pid}, {consumers} consumers on {} msgs; RSS {:.1} MiB before, growth {:+.1} MiB \
             ({:+.1} KiB per consumer)",
            spec.msgs,
            mib(before),
            growth_kib / 1024.0,
            growth_kib / consumers as f64
        )),
    })
}

/// Creates durable pull consumers `C0`..`C<n-1>`, [`WINDOW`] at a time.
fn create_consumers(api: &mut Api, stream: &str, n: u64) -> Result<()> {
    let (mut sent, mut done) = (0u64, 0u64);
    while done < n {
        while sent < n && sent - done < WINDOW {
            let name = format!("C{sent}");
            let body = json!({"stream_name": stream, "config": consumer_config(&name)});
            api.send(
                &format!("$JS.API.CONSUMER.CREATE.{stream}.{name}"),
                body.to_string().as_bytes(),
            )?;
            sent += 1;
        }
        let (_, v) = api
            .recv(Instant::now() + API_TIMEOUT)
            .with_context(|| format!("no reply to CONSUMER.CREATE ({done} of {n} created)"))?;
        if let Some(e) = v.get("error") {
            bail!("CONSUMER.CREATE failed after {done} of {n}: {e}");
        }
        done += 1;
    }
    Ok(())
}

/// The resident set size of `pid` in KiB (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    parse_vm_rss(&status).ok_or_else(|| anyhow!("{path} has no VmRSS line"))
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut it = line["VmRSS:".len()..].split_whitespace();
    let n: u64 = it.next()?.parse().ok()?;
    match it.next() {
        Some("kB") | None => Some(n),
        Some(_) => None,
    }
}

/// The PID of the local process listening on `ep`'s port, found through
/// `/proc/net/tcp{,6}` (the socket's inode) and `/proc/<pid>/fd`.
pub fn listener_pid(ep: &Endpoint) -> Result<u32> {
    let hint = "pass the server's PID with --pid (--baseline-pid/--candidate-pid in compare mode)";
    if !matches!(
        ep.host.as_str(),
        "127.0.0.1" | "localhost" | "::1" | "0.0.0.0"
    ) {
        bail!("server {} is not on this machine: {hint}", ep.url);
    }
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = fs::read_to_string(table) {
            inodes.extend(listening_inodes(&text, ep.port));
        }
    }
    if inodes.is_empty() {
        bail!("no socket listens on port {}: {hint}", ep.port);
    }
    let targets: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for entry in fs::read_dir("/proc")
        .context("cannot list /proc")?
        .flatten()
    {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue; // not ours to look at, or gone
        };
        for fd in fds.flatten() {
            if let Ok(link) = fs::read_link(fd.path()) {
                if targets.iter().any(|t| link.as_os_str() == t.as_str()) {
                    return Ok(pid);
                }
            }
        }
    }
    bail!(
        "cannot tell which process listens on port {}: {hint}",
        ep.port
    )
}

/// Inodes of the sockets in LISTEN state (`0A`) on `port` in a `/proc/net/tcp` table.
fn listening_inodes(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let local_port = f.get(1)?.rsplit(':').next()?;
            if u16::from_str_radix(local_port, 16).ok()? != port || *f.get(3)? != "0A" {
                return None;
            }
            f.get(9)?.parse().ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        assert_eq!(
            parse_vm_rss("Name:\tx\nVmRSS:\t   12345 kB\nVmSwap: 0 kB\n"),
            Some(12345)
        );
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   \
            0: 0100007F:10E1 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0 100 0 0 10 0\n   \
            1: 0100007F:10E1 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 4343 1 0 20 4 30 10 -1\n";
        assert_eq!(listening_inodes(table, 4321), vec![4242]);
        assert!(listening_inodes(table, 4222).is_empty());
        assert!(rss_kib(std::process::id()).expect("own rss") > 0);
    }
}
