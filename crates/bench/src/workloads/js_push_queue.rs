//! `js-push-queue`: a durable push consumer with a `deliver_group` (a durable
//! queue group) and explicit acks drains a pre-filled stream; 1 or more
//! members, one connection and thread each, ack every message they get.
//!
//! The stream (file storage, one subject) is filled with N messages first
//! (not timed). The members subscribe to the deliver subject in the queue
//! group; the clock starts when `CONSUMER.CREATE` is sent (delivery begins
//! right away) and stops when the server's `CONSUMER.INFO` reports nothing
//! pending and nothing awaiting an ack. Each message's stream sequence is read
//! from its ack subject; every sequence must be handled exactly once across
//! the group (redeliveries are counted apart), or the run fails.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

use super::jsconsumer::{
    consumer_config, encode_ack, parse_ack_subject, status_code, status_text, stream_name, Api,
    Ledger, QUEUE_GROUP,
};
use super::publish::{check_payload, CONNECT_TIMEOUT};
use super::{payload, unique_subject, Opts, Spec};
use crate::endpoint::Endpoint;
use crate::rawconn::{Event, RawConn};
use crate::report::Outcome;

/// How long a stream may take to reach its expected size after the drain.
const REMAINING_WAIT: Duration = Duration::from_secs(5);

/// What one drain through a push queue group measured.
pub struct Drained {
    /// From `CONSUMER.CREATE` until the server confirmed every ack.
    pub secs: f64,
    /// Messages each member handled (redeliveries included).
    pub split: Vec<u64>,
    pub redelivered: u64,
}

pub fn run(spec: &Spec, ep: &Endpoint, opts: &Opts, members: usize) -> Result<Outcome> {
    let deadline = Instant::now() + opts.timeout;
    let stream = stream_name("js-push-queue");
    let config = json!({"name": stream, "subjects": ["bench.pushq"], "storage": "file"});
    let d = prefill_and_drain(
        ep,
        spec,
        &config,
        "bench.pushq",
        members,
        spec.msgs,
        deadline,
    )?;
    Ok(Outcome {
        workload: spec.name.clone(),
        url: ep.url.clone(),
        client: "raw",
        size: spec.size,
        published: spec.msgs,
        delivered: d.split.iter().sum(),
        elapsed_secs: d.secs,
        publish_secs: 0.0,
        msgs_per_sec: 0.0,
        mb_per_sec: 0.0,
        split: d.split,
        latency: None,
        custom: Vec::new(),
        detail: Some(format!(
            "{members} member(s), {} redelivered",
            d.redelivered
        )),
    }
    .with_rates(spec.msgs))
}

/// Creates the stream `config` (capturing `subject`), fills it with
/// `spec.msgs` messages, drains it through a durable queue group of
/// `members`, checks that the stream then holds `remaining` messages (0 for a
/// work queue, whose acks delete) and deletes it.
pub fn prefill_and_drain(
    ep: &Endpoint,
    spec: &Spec,
    config: &Value,
    subject: &str,
    members: usize,
    remaining: u64,
    deadline: Instant,
) -> Result<Drained> {
    if members == 0 {
        bail!("{}: needs at least one member", spec.name);
    }
    let mut api = Api::connect(ep, "sluice-bench-js-push")?;
    check_payload(&api.conn, spec.size)?;
    let mut stream = String::new();
    let result = (|| -> Result<_> {
        stream = api.recreate_stream(config)?;
        let body = payload(spec.size);
        api.prefill(&stream, spec.msgs, |_| subject.to_owned(), &body, deadline)?;
        let d = queue_drain(
            ep, &mut api, &stream, members, spec.msgs, spec.size, deadline,
        )?;
        api.wait_stream_messages(&stream, remaining, REMAINING_WAIT)?;
        Ok(d)
    })();
    let cleaned = if stream.is_empty() {
        Ok(())
    } else {
        api.cleanup(ep, &stream)
    };
    let d = result?;
    cleaned.context("deleting the stream")?;
    Ok(d)
}

/// Subscribes `members` connections to a fresh deliver subject in
/// [`QUEUE_GROUP`], creates the durable push consumer `QUEUE` on `stream`,
/// and lets the members ack everything until `expect` distinct messages were
/// handled and the server confirms every ack. Leaves the stream in place.
pub fn queue_drain(
    ep: &Endpoint,
    api: &mut Api,
    stream: &str,
    members: usize,
    expect: u64,
    size: usize,
    deadline: Instant,
) -> Result<Drained> {
    let deliver = unique_subject("bench-deliver", stream);
    let mut conns = Vec::with_capacity(members);
    for i in 0..members {
        let mut c = RawConn::connect(ep, &format!("sluice-bench-member-{i}"), CONNECT_TIMEOUT)?;
        c.subscribe(&deliver, Some(QUEUE_GROUP), 1)?;
        c.flush(deadline)?;
        conns.push(c);
    }
    let ledger = Ledger::new(1, expect)?;
    let stop = AtomicBool::new(false);
    let mut config = consumer_config("QUEUE");
    config["deliver_subject"] = deliver.clone().into();
    config["deliver_group"] = QUEUE_GROUP.into();

    let (start, created, handled) = thread::scope(|s| {
        let handles: Vec<_> = conns
            .iter_mut()
            .map(|c| {
                let (ledger, stop) = (&ledger, &stop);
                s.spawn(move || {
                    let r = member(c, ledger, expect, size, stop, deadline);
                    if r.is_err() {
                        stop.store(true, Ordering::Release); // the others need not wait
                    }
                    r
                })
            })
            .collect();
        let start = Instant::now();
        let created = api.create_consumer(stream, config);
        if created.is_err() {
            stop.store(true, Ordering::Release);
        }
        let handled: Vec<Result<u64>> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("member thread panicked")))
            })
            .collect();
        (start, created, handled)
    });
    for c in conns {
        c.close();
    }
    created?;
    let split = handled.into_iter().collect::<Result<Vec<u64>>>()?;
    api.wait_all_acked(stream, "QUEUE", deadline)?;
    let secs = start.elapsed().as_secs_f64();
    ledger.check(expect)?;
    Ok(Drained {
        secs,
        split,
        redelivered: ledger.redelivered(),
    })
}

/// One queue member: acks every message it gets (one write per read) until
/// the group together handled `expect` distinct messages. Returns how many
/// it handled.
fn member(
    conn: &mut RawConn,
    ledger: &Ledger,
    expect: u64,
    size: usize,
    stop: &AtomicBool,
    deadline: Instant,
) -> Result<u64> {
    let mut out = Vec::with_capacity(64 * 1024);
    let mut count = 0u64;
    loop {
        match conn.poll_buffered()? {
            Event::Msg(m) => {
                if let Some(reply) = m.reply.filter(|r| r.starts_with(b"$JS.ACK.")) {
                    let d = parse_ack_subject(reply)?;
                    let len = m.data.len() - m.headers_len;
                    if len != size {
                        bail!("stream seq {} has {len} bytes, not {size}", d.stream_seq);
                    }
                    ledger.take(d)?;
                    encode_ack(&mut out, reply);
                    count += 1;
                } else if status_code(&m) != Some(100) {
                    bail!(
                        "unexpected message on the deliver subject: {:?}",
                        status_text(&m)
                    );
                }
            }
            Event::Pong => {}
            Event::NeedData => {
                if !out.is_empty() {
                    conn.write_all(&out)?;
                    out.clear();
                }
                if ledger.unique() >= expect || stop.load(Ordering::Acquire) {
                    return Ok(count);
                }
                if !conn.fill()? && Instant::now() >= deadline {
                    bail!(
                        "timed out: the group handled {} of {expect} messages",
                        ledger.unique()
                    );
                }
            }
        }
    }
}
