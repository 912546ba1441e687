//! sluice-bench: runs the same core workloads against any NATS server URL and
//! compares two servers (e.g. Sluice against nats-server).

mod compare;
mod endpoint;
mod latency;
mod rawconn;
mod report;
mod serverctl;
mod workloads;

use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand};

use crate::compare::Side;
use crate::endpoint::Endpoint;
use crate::rawconn::RawConn;
use crate::report::{single_table, Outcome};
use crate::workloads::{default_msgs, named, ClientKind, Kind, Opts, Spec};

#[derive(Parser)]
#[command(
    name = "sluice-bench",
    version,
    about = "Benchmarks NATS servers: publish, pubsub, fanout, queue groups, request/reply \
        and JetStream publish.",
    long_about = "Benchmarks NATS servers: publish, pubsub, fanout, queue groups, request/reply \
        and JetStream publish (async with an ack window, and sync).\n\n\
        By default the load comes from a lean built-in protocol client (pipelined batched \
        writes, zero-copy reader) so that the numbers measure the server, not the client; \
        --client async-nats uses the async-nats crate instead."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Publish only (no subscribers): msgs/s and MB/s the server ingests.
    Pub(One),
    /// 1 publisher -> 1 subscriber.
    Pubsub(One),
    /// 1 publisher -> N subscribers (default 4), each gets every message.
    Fanout(One),
    /// 1 publisher -> queue group of N members (default 3), each message to one.
    Queue(One),
    /// Sequential request/reply round trips: p50/p90/p99 latency and req/s.
    Reqrep(One),
    /// JetStream: publishes into a fresh file stream BENCH (subject bench.js)
    /// with at most --window acks outstanding; acked msgs/s.
    JsPubAsync(JsArgs),
    /// JetStream: publishes into a fresh file stream BENCH one message at a
    /// time; req/s and ack latency.
    JsPubSync(JsArgs),
    /// JetStream consumer: one puller drains a pre-filled stream through a
    /// durable pull consumer, --batch messages per request, acking each;
    /// msgs/s until the server confirms every ack.
    JsPull(JsPullArgs),
    /// JetStream consumer: a durable push consumer with a deliver group of
    /// --members drains a pre-filled stream, each member acking what it gets;
    /// msgs/s, every message handled exactly once.
    JsPushQueue(JsMembersArgs),
    /// JetStream consumer: publish-to-delivery latency through a push
    /// consumer at --rate msgs/s; p50/p90/p99 µs.
    JsLatency(JsLatencyArgs),
    /// JetStream consumer: a work-queue stream (acks delete) and a limits
    /// stream drained by a durable queue group; both rates and wq/limits.
    JsWqDrain(JsMembersArgs),
    /// JetStream consumer: a consumer filtered on one of 100,000 subjects
    /// (a tenth of the messages) against an unfiltered one; both rates.
    JsFiltered(JsConsumerArgs),
    /// JetStream consumer: the server's memory (VmRSS) after creating
    /// --consumers durable consumers on one stream, and creates/s.
    JsConsumersMem(JsMemArgs),
    /// Every workload once against one server; prints a markdown table.
    All(AllArgs),
    /// Every workload alternately on two servers, best of N; prints
    /// workload | baseline | candidate | ratio.
    Compare(CompareArgs),
    /// Waits until a server accepts a NATS connection; prints its version.
    Probe(ProbeArgs),
}

#[derive(Args, Clone)]
struct Common {
    /// Load generator: the built-in raw protocol client, or async-nats.
    #[arg(long, value_enum, default_value = "raw")]
    client: ClientKind,
    /// Upper bound on one run, in seconds (connections included).
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
    /// Seconds subscribers wait for more messages after the publisher is done
    /// before declaring the rest lost.
    #[arg(long, default_value_t = 3.0)]
    idle: f64,
    /// Bytes per write of the raw publisher.
    #[arg(long, default_value_t = 64 * 1024)]
    batch: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

impl Common {
    fn opts(&self) -> Result<Opts> {
        Ok(Opts {
            client: self.client,
            timeout: secs("--timeout", self.timeout)?,
            idle: secs("--idle", self.idle)?,
            batch: self.batch.max(1),
            server_pid: None,
            server_ctl: None,
        })
    }
}

/// A positive number of seconds as a Duration.
fn secs(flag: &str, v: f64) -> Result<Duration> {
    match Duration::try_from_secs_f64(v) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => bail!("{flag} must be a positive number of seconds, not {v}"),
    }
}

#[derive(Args)]
struct One {
    /// Server URL.
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    url: String,
    /// Messages to publish (requests, for reqrep); default depends on workload and size.
    #[arg(long)]
    msgs: Option<u64>,
    /// Payload size in bytes.
    #[arg(long, default_value_t = 16)]
    size: usize,
    /// Subscribers (fanout) or queue members (queue).
    #[arg(long)]
    subs: Option<usize>,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct JsArgs {
    /// Server URL (JetStream must be enabled).
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    url: String,
    /// Messages to publish; default 200000 (async) or 5000 (sync).
    #[arg(long)]
    msgs: Option<u64>,
    /// Payload size in bytes.
    #[arg(long, default_value_t = workloads::JS_SIZE)]
    size: usize,
    /// Most acks outstanding at once (js-pub-async only).
    #[arg(long)]
    window: Option<u64>,
    #[command(flatten)]
    common: Common,
}

/// What every JetStream consumer workload takes. These always use the
/// built-in raw client: they speak pull requests, acks and status messages.
#[derive(Args)]
struct JsConsumerArgs {
    /// Server URL (JetStream must be enabled).
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    url: String,
    /// Messages in the stream (js-latency: messages published); default
    /// depends on the workload.
    #[arg(long)]
    msgs: Option<u64>,
    /// Payload size in bytes.
    #[arg(long, default_value_t = workloads::JS_SIZE)]
    size: usize,
    /// Upper bound on one run, in seconds (set-up included).
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

impl JsConsumerArgs {
    fn opts(&self, server_pid: Option<u32>) -> Result<Opts> {
        Ok(Opts {
            client: ClientKind::Raw,
            timeout: secs("--timeout", self.timeout)?,
            idle: Duration::from_secs(3),
            batch: 64 * 1024,
            server_pid,
            server_ctl: None,
        })
    }
}

#[derive(Args)]
struct JsPullArgs {
    /// Messages per pull request (MSG.NEXT `batch`).
    #[arg(long, default_value_t = 100)]
    batch: u64,
    #[command(flatten)]
    c: JsConsumerArgs,
}

#[derive(Args)]
struct JsMembersArgs {
    /// Members of the durable queue group.
    #[arg(long, default_value_t = 3)]
    members: usize,
    #[command(flatten)]
    c: JsConsumerArgs,
}

#[derive(Args)]
struct JsLatencyArgs {
    /// Publish rate, msgs/s.
    #[arg(long, default_value_t = workloads::JS_LATENCY_RATE)]
    rate: u64,
    #[command(flatten)]
    c: JsConsumerArgs,
}

#[derive(Args)]
struct JsMemArgs {
    /// Durable consumers to create.
    #[arg(long, default_value_t = workloads::JS_CONSUMERS)]
    consumers: u64,
    /// The server's process id (its memory is read from /proc/<pid>/status);
    /// default: the local process listening on the URL's port.
    #[arg(long)]
    pid: Option<u32>,
    #[command(flatten)]
    c: JsConsumerArgs,
}

#[derive(Args)]
struct SuiteArgs {
    /// Multiplies every workload's message count (e.g. 0.1 for a quick run).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Only these workloads (comma-separated names, e.g. pub-16b,reqrep-16b,
    /// or families: js-pull runs js-pull-batch100 and js-pull-batch1000;
    /// obj runs obj-put and obj-get). kv-scale (a bucket of 1,000,000 keys,
    /// several minutes) runs only when named here.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

impl SuiteArgs {
    fn specs(&self) -> Result<Vec<Spec>> {
        if !self.scale.is_finite() || self.scale <= 0.0 {
            bail!("--scale must be a positive number");
        }
        let all = workloads::suite(self.scale);
        if self.only.is_empty() {
            return Ok(all);
        }
        // The opt-in workloads (kv-scale) run only when named.
        let all: Vec<Spec> = all
            .into_iter()
            .chain(workloads::opt_in(self.scale))
            .collect();
        let picked = |s: &Spec, want: &str| s.name == want || s.kind.family() == want;
        for want in &self.only {
            if !all.iter().any(|s| picked(s, want)) {
                let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
                bail!("unknown workload {want:?}; known: {}", names.join(", "));
            }
        }
        Ok(all
            .into_iter()
            .filter(|s| self.only.iter().any(|w| picked(s, w)))
            .collect())
    }
}

#[derive(Args)]
struct AllArgs {
    /// Server URL.
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    url: String,
    /// The server's process id, for js-consumers-mem and kv-scale (default:
    /// the local process listening on the URL's port).
    #[arg(long)]
    pid: Option<u32>,
    /// The server's control directory (files argv, log, pid; see
    /// scripts/bench.sh), for kv-scale's restart; without it the restart is
    /// not measured.
    #[arg(long)]
    ctl: Option<PathBuf>,
    #[command(flatten)]
    suite: SuiteArgs,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct CompareArgs {
    /// URL of the reference server (e.g. nats-server).
    #[arg(long)]
    baseline: String,
    /// URL of the server under test (e.g. Sluice).
    #[arg(long)]
    candidate: String,
    /// Column title for the baseline.
    #[arg(long, default_value = "nats-server")]
    baseline_name: String,
    /// Column title for the candidate.
    #[arg(long, default_value = "sluice")]
    candidate_name: String,
    /// The baseline server's process id, for js-consumers-mem (default: the
    /// local process listening on its port).
    #[arg(long)]
    baseline_pid: Option<u32>,
    /// The candidate server's process id, for js-consumers-mem.
    #[arg(long)]
    candidate_pid: Option<u32>,
    /// The baseline server's control directory (files argv, log, pid; see
    /// scripts/bench.sh), for kv-scale's restart. Its pid file overrides
    /// --baseline-pid.
    #[arg(long)]
    baseline_ctl: Option<PathBuf>,
    /// The candidate server's control directory.
    #[arg(long)]
    candidate_ctl: Option<PathBuf>,
    /// Runs per workload per server; the best of them is reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Exit 0 even if some runs failed (they still show in the table).
    #[arg(long)]
    keep_going: bool,
    #[command(flatten)]
    suite: SuiteArgs,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct ProbeArgs {
    /// Server URL.
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    url: String,
    /// Keep retrying for this many seconds.
    #[arg(long, default_value_t = 10.0)]
    wait: f64,
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sluice-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> Result<ExitCode> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Pub(a) => one(Kind::Pub, a),
        Cmd::Pubsub(a) => {
            if a.subs.is_some_and(|n| n != 1) {
                bail!("pubsub has exactly one subscriber; use fanout for more");
            }
            one(
                Kind::Deliver {
                    subs: 1,
                    queue: false,
                },
                a,
            )
        }
        Cmd::Fanout(a) => {
            let subs = a.subs.unwrap_or(4);
            one(Kind::Deliver { subs, queue: false }, a)
        }
        Cmd::Queue(a) => {
            let subs = a.subs.unwrap_or(3);
            one(Kind::Deliver { subs, queue: true }, a)
        }
        Cmd::Reqrep(a) => one(Kind::ReqRep, a),
        Cmd::JsPubAsync(a) => {
            let window = a.window.unwrap_or(workloads::JS_WINDOW);
            if window == 0 {
                bail!("--window must be at least 1");
            }
            js(Kind::JsPubAsync { window }, a)
        }
        Cmd::JsPubSync(a) => {
            if a.window.is_some() {
                bail!("--window applies to js-pub-async only");
            }
            js(Kind::JsPubSync, a)
        }
        Cmd::JsPull(a) => {
            if a.batch == 0 {
                bail!("--batch must be at least 1");
            }
            consumer(Kind::JsPull { batch: a.batch }, a.c, None)
        }
        Cmd::JsPushQueue(a) => consumer(Kind::JsPushQueue { members: a.members }, a.c, None),
        Cmd::JsLatency(a) => consumer(Kind::JsLatency { rate: a.rate }, a.c, None),
        Cmd::JsWqDrain(a) => consumer(Kind::JsWqDrain { members: a.members }, a.c, None),
        Cmd::JsFiltered(a) => consumer(Kind::JsFiltered, a, None),
        Cmd::JsConsumersMem(a) => consumer(
            Kind::JsConsumersMem {
                consumers: a.consumers,
            },
            a.c,
            a.pid,
        ),
        Cmd::All(a) => all(a),
        Cmd::Compare(a) => compare(a),
        Cmd::Probe(a) => probe(a),
    }
}

fn one(kind: Kind, a: One) -> Result<ExitCode> {
    if matches!(kind, Kind::Pub | Kind::ReqRep) && a.subs.is_some() {
        bail!("--subs applies to fanout and queue only");
    }
    let ep = Endpoint::parse(&a.url)?;
    let opts = a.common.opts()?;
    let msgs = a.msgs.unwrap_or_else(|| default_msgs(kind, a.size));
    let spec = named(kind, msgs, a.size);
    let o = workloads::run(&spec, &ep, &opts)?;
    print_outcomes(&[o], a.common.json)?;
    Ok(ExitCode::SUCCESS)
}

fn js(kind: Kind, a: JsArgs) -> Result<ExitCode> {
    let ep = Endpoint::parse(&a.url)?;
    let opts = a.common.opts()?;
    let msgs = a.msgs.unwrap_or_else(|| default_msgs(kind, a.size));
    let o = workloads::run(&named(kind, msgs, a.size), &ep, &opts)?;
    print_outcomes(&[o], a.common.json)?;
    Ok(ExitCode::SUCCESS)
}

fn consumer(kind: Kind, a: JsConsumerArgs, pid: Option<u32>) -> Result<ExitCode> {
    let ep = Endpoint::parse(&a.url)?;
    let opts = a.opts(pid)?;
    let msgs = a.msgs.unwrap_or_else(|| default_msgs(kind, a.size));
    let o = workloads::run(&named(kind, msgs, a.size), &ep, &opts)?;
    print_outcomes(&[o], a.json)?;
    Ok(ExitCode::SUCCESS)
}

fn all(a: AllArgs) -> Result<ExitCode> {
    let ep = Endpoint::parse(&a.url)?;
    let opts = Opts {
        server_pid: a.pid,
        server_ctl: a.ctl.clone(),
        ..a.common.opts()?
    };
    let mut outcomes = Vec::new();
    let mut failed = false;
    for spec in a.suite.specs()? {
        // A restart (kv-scale) changes the PID: the control directory has
        // the current one.
        let opts = Opts {
            server_pid: a
                .ctl
                .as_deref()
                .and_then(|d| serverctl::Ctl::new(d).pid().ok())
                .or(a.pid),
            ..opts.clone()
        };
        match workloads::run(&spec, &ep, &opts) {
            Ok(o) => {
                eprintln!("{}", o.line());
                outcomes.push(o);
            }
            Err(e) => {
                eprintln!("{}: ERROR {e:#}", spec.name);
                failed = true;
            }
        }
        thread::sleep(Duration::from_millis(200));
    }
    if a.common.json {
        println!("{}", serde_json::to_string_pretty(&outcomes)?);
    } else {
        print!("{}", single_table(&outcomes));
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn compare(a: CompareArgs) -> Result<ExitCode> {
    if a.rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    let base = Side {
        name: a.baseline_name.clone(),
        ep: Endpoint::parse(&a.baseline)?,
        pid: a.baseline_pid,
        ctl: a.baseline_ctl.clone(),
    };
    let cand = Side {
        name: a.candidate_name.clone(),
        ep: Endpoint::parse(&a.candidate)?,
        pid: a.candidate_pid,
        ctl: a.candidate_ctl.clone(),
    };
    let opts = a.common.opts()?;
    let specs = a.suite.specs()?;
    eprintln!(
        "comparing {} ({}) with {} ({}), {} client, best of {} rounds",
        cand.name,
        cand.ep.url,
        base.name,
        base.ep.url,
        opts.client.name(),
        a.rounds
    );
    let c = compare::run(&specs, &base, &cand, &opts, a.rounds);
    if a.common.json {
        println!("{}", serde_json::to_string_pretty(&c)?);
    } else {
        println!();
        print!("{}", c.table());
    }
    if !c.errors.is_empty() {
        eprintln!("\n{} run(s) failed:", c.errors.len());
        for e in &c.errors {
            eprintln!("  {e}");
        }
        if !a.keep_going {
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn probe(a: ProbeArgs) -> Result<ExitCode> {
    let ep = Endpoint::parse(&a.url)?;
    let deadline = Instant::now() + secs("--wait", a.wait)?;
    loop {
        match RawConn::connect(&ep, "sluice-bench-probe", Duration::from_secs(2)) {
            Ok(c) => {
                println!(
                    "{} is up: server_name={:?} version={:?}",
                    ep.url, c.server.server_name, c.server.version
                );
                c.close();
                return Ok(ExitCode::SUCCESS);
            }
            Err(e) if Instant::now() >= deadline => {
                bail!("{} not reachable: {e:#}", ep.url)
            }
            Err(_) => thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn print_outcomes(outcomes: &[Outcome], json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(outcomes)?);
    } else {
        for o in outcomes {
            println!("{}", o.line());
        }
    }
    Ok(())
}
