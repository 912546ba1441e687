//! `js-latency`: end-to-end latency through JetStream, from the publish of a
//! message into a file stream to its delivery by a durable push consumer
//! (explicit acks), at a moderate fixed rate.
//!
//! The publisher paces itself to `rate` msgs/s (plain `PUB`, no PubAck
//! awaited, so the measurement is publish → store → deliver); each payload
//! starts with its send time (nanoseconds since the run's origin, 16 hex
//! digits). The receiver, on its own connection, takes the difference on
//! arrival and acks each message. The first [`warmup`] messages are not
//! sampled. Every stream sequence must arrive exactly once, the stream must
//! hold all N, and the server must confirm every ack, or the run fails.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::json;

use super::jsconsumer::{
    consumer_config, encode_ack, parse_ack_subject, status_code, status_text, stream_name, Api,
    Ledger,
};
use super::publish::{check_payload, CONNECT_TIMEOUT};
use super::{payload, unique_subject, Opts, Spec};
use crate::endpoint::Endpoint;
use crate::latency::{LatencySummary, Recorder};
use crate::rawconn::{encode_pub, Event, RawConn};
use crate::report::{Metric, Outcome, Unit};

/// Bytes of the send-time stamp at the start of each payload.
pub const STAMP: usize = 16;
const SUBJECT: &str = "bench.latency";

/// Messages at the start that are delivered but not sampled.
pub fn warmup(msgs: u64) -> u64 {
    (msgs / 20).min(200)
}

pub fn run(spec: &Spec, ep: &Endpoint, opts: &Opts, rate: u64) -> Result<Outcome> {
    if spec.size < STAMP {
        bail!(
            "{}: payload must hold the {STAMP}-byte send time",
            spec.name
        );
    }
    if rate == 0 {
        bail!("{}: --rate must be at least 1", spec.name);
    }
    let deadline = Instant::now() + opts.timeout;
    let stream = stream_name("js-latency");
    let mut api = Api::connect(ep, "sluice-bench-js-latency")?;
    check_payload(&api.conn, spec.size)?;
    let result = (|| -> Result<_> {
        api.recreate_stream(&json!({
            "name": stream, "subjects": [SUBJECT], "storage": "file",
        }))?;
        let deliver = unique_subject("bench-deliver", "latency");
        let mut receiver = RawConn::connect(ep, "sluice-bench-receiver", CONNECT_TIMEOUT)?;
        receiver.subscribe(&deliver, None, 1)?;
        receiver.flush(deadline)?;
        let mut config = consumer_config("LATENCY");
        config["deliver_subject"] = deliver.into();
        api.create_consumer(&stream, config)?;
        let mut publisher = RawConn::connect(ep, "sluice-bench-publisher", CONNECT_TIMEOUT)?;
        let r = measure(&mut publisher, &mut receiver, spec, rate, deadline);
        publisher.close();
        receiver.close();
        let rec = r?;
        api.wait_all_acked(&stream, "LATENCY", deadline)?;
        let held = api.stream_messages(&stream)?;
        if held != spec.msgs {
            bail!("stream holds {held} messages, {} were published", spec.msgs);
        }
        rec.summary()
            .ok_or_else(|| anyhow!("too few messages to sample"))
    })();
    let cleaned = api.cleanup(ep, &stream);
    let l: LatencySummary = result?;
    cleaned.context("deleting the stream")?;
    let secs = spec.msgs as f64 / rate as f64;
    Ok(Outcome {
        workload: spec.name.clone(),
        url: ep.url.clone(),
        client: "raw",
        size: spec.size,
        published: spec.msgs,
        delivered: spec.msgs,
        elapsed_secs: secs,
        publish_secs: secs,
        msgs_per_sec: rate as f64,
        mb_per_sec: rate as f64 * spec.size as f64 / 1e6,
        split: Vec::new(),
        latency: Some(l),
        custom: vec![
            Metric::custom("p50 µs", l.p50_us, Unit::Micros, false),
            Metric::custom("p90 µs", l.p90_us, Unit::Micros, false),
            Metric::custom("p99 µs", l.p99_us, Unit::Micros, false),
        ],
        detail: Some(format!(
            "{} msgs at {rate} msgs/s, {} sampled, max {:.1} µs",
            spec.msgs, l.samples, l.max_us
        )),
    })
}

/// Publishes paced on one thread while this one receives, acks and samples.
fn measure(
    publisher: &mut RawConn,
    receiver: &mut RawConn,
    spec: &Spec,
    rate: u64,
    deadline: Instant,
) -> Result<Recorder> {
    let ledger = Ledger::new(1, spec.msgs)?;
    let failed = AtomicBool::new(false);
    let origin = Instant::now();
    let (published, received) = thread::scope(|s| {
        let h = s.spawn(|| {
            let r = publish_paced(publisher, spec, rate, origin, deadline);
            if r.is_err() {
                failed.store(true, Ordering::Release);
            }
            r
        });
        let received = receive(receiver, spec, &ledger, origin, &failed, deadline);
        let published = h
            .join()
            .unwrap_or_else(|_| Err(anyhow!("publisher thread panicked")));
        (published, received)
    });
    published.context("publisher")?;
    let rec = received?;
    ledger.check(spec.msgs)?;
    Ok(rec)
}

/// Publishes message `i` at `origin + i / rate`, each stamped with its send time.
fn publish_paced(
    conn: &mut RawConn,
    spec: &Spec,
    rate: u64,
    origin: Instant,
    deadline: Instant,
) -> Result<()> {
    let mut body = payload(spec.size);
    let mut frame = Vec::with_capacity(spec.size + 64);
    let interval = Duration::from_secs(1).as_nanos() as f64 / rate as f64;
    for i in 0..spec.msgs {
        let due = origin + Duration::from_nanos((i as f64 * interval) as u64);
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
        if Instant::now() >= deadline {
            bail!("timed out publishing ({i} of {} sent)", spec.msgs);
        }
        let stamp = origin.elapsed().as_nanos() as u64;
        body[..STAMP].copy_from_slice(format!("{stamp:016x}").as_bytes());
        frame.clear();
        encode_pub(&mut frame, SUBJECT, None, &body);
        conn.write_all(&frame)?;
    }
    conn.flush(deadline)
        .context("server did not confirm it processed every publish")
}

/// Receives until every message arrived; acks each (one write per read) and
/// samples its latency.
fn receive(
    conn: &mut RawConn,
    spec: &Spec,
    ledger: &Ledger,
    origin: Instant,
    failed: &AtomicBool,
    deadline: Instant,
) -> Result<Recorder> {
    let skip = warmup(spec.msgs);
    let mut rec = Recorder::with_capacity(spec.msgs as usize);
    let mut out = Vec::with_capacity(64 * 1024);
    while ledger.unique() < spec.msgs {
        match conn.poll_buffered()? {
            Event::Msg(m) => {
                let now = origin.elapsed().as_nanos() as u64;
                let Some(reply) = m.reply.filter(|r| r.starts_with(b"$JS.ACK.")) else {
                    if status_code(&m) == Some(100) {
                        continue;
                    }
                    bail!(
                        "unexpected message on the deliver subject: {:?}",
                        status_text(&m)
                    );
                };
                let d = parse_ack_subject(reply)?;
                let data = &m.data[m.headers_len..];
                let sent = data
                    .get(..STAMP)
                    .filter(|_| data.len() == spec.size)
                    .and_then(|s| std::str::from_utf8(s).ok())
                    .and_then(|s| u64::from_str_radix(s, 16).ok())
                    .ok_or_else(|| anyhow!("stream seq {} has a damaged payload", d.stream_seq))?;
                ledger.take(d)?;
                if d.delivered == 1 && d.stream_seq > skip {
                    rec.record(Duration::from_nanos(now.saturating_sub(sent)));
                }
                encode_ack(&mut out, reply);
            }
            Event::Pong => {}
            Event::NeedData => {
                if !out.is_empty() {
                    conn.write_all(&out)?;
                    out.clear();
                }
                if failed.load(Ordering::Acquire) {
                    bail!("publisher failed");
                }
                if !conn.fill()? && Instant::now() >= deadline {
                    bail!(
                        "timed out: {} of {} messages delivered",
                        ledger.unique(),
                        spec.msgs
                    );
                }
            }
        }
    }
    if !out.is_empty() {
        conn.write_all(&out)?;
    }
    Ok(rec)
}
