//! `js-pull`: one puller drains a pre-filled stream through a durable pull
//! consumer with explicit acks, fetching `batch` messages per request.
//!
//! The stream (file storage, one subject) is filled with N messages first
//! (not timed). Then the clock starts, and the puller sends
//! `$JS.API.CONSUMER.MSG.NEXT` with `{"batch":B,"expires":..}`, reads the
//! messages the request brings (until B arrived or a 404/408 status ends
//! it), acks each one (`+ACK` published to its reply subject, written in one
//! batch per read), and sends the next request: the way a client's `Fetch`
//! loop works. The clock stops when the server's `CONSUMER.INFO` reports
//! nothing pending and nothing awaiting an ack. Every stream sequence must
//! arrive exactly once (redeliveries are counted apart); anything else fails
//! the run.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;

use super::jsconsumer::{
    consumer_config, encode_ack, encode_pull, parse_ack_subject, status_code, status_text, Api,
    Ledger,
};
use super::publish::{check_payload, CONNECT_TIMEOUT};
use super::{payload, unique_subject, Opts, Spec};
use crate::endpoint::Endpoint;
use crate::rawconn::{Event, RawConn};
use crate::report::Outcome;

/// What one drain through a pull consumer measured.
pub struct Drained {
    /// From the first pull request until the server confirmed every ack.
    pub secs: f64,
    pub redelivered: u64,
    pub requests: u64,
}

pub fn run(spec: &Spec, ep: &Endpoint, opts: &Opts, batch: u64) -> Result<Outcome> {
    let deadline = Instant::now() + opts.timeout;
    let stream = super::jsconsumer::stream_name("js-pull");
    let subject = "bench.pull";
    let mut api = Api::connect(ep, "sluice-bench-js-pull")?;
    check_payload(&api.conn, spec.size)?;
    let result = (|| -> Result<_> {
        api.recreate_stream(&json!({
            "name": stream, "subjects": [subject], "storage": "file",
        }))?;
        let body = payload(spec.size);
        api.prefill(&stream, spec.msgs, |_| subject.to_owned(), &body, deadline)?;
        api.create_consumer(&stream, consumer_config("PULLER"))?;
        let ledger = Ledger::new(1, spec.msgs)?;
        let mut puller = RawConn::connect(ep, "sluice-bench-puller", CONNECT_TIMEOUT)?;
        let d = pull_drain(
            &mut puller,
            &mut api,
            &stream,
            "PULLER",
            batch,
            spec.msgs,
            Some(spec.size),
            &ledger,
            deadline,
        );
        puller.close();
        d
    })();
    let cleaned = api.cleanup(ep, &stream);
    let d = result?;
    cleaned.context("deleting the stream")?;
    Ok(Outcome {
        workload: spec.name.clone(),
        url: ep.url.clone(),
        client: "raw",
        size: spec.size,
        published: spec.msgs,
        delivered: spec.msgs,
        elapsed_secs: d.secs,
        publish_secs: 0.0,
        msgs_per_sec: 0.0,
        mb_per_sec: 0.0,
        split: Vec::new(),
        latency: None,
        custom: Vec::new(),
        detail: Some(format!(
            "batch {batch}, {} pull requests, {} redelivered",
            d.requests, d.redelivered
        )),
    }
    .with_rates(spec.msgs))
}

/// Pulls from `consumer` in requests of `batch` until `expect` distinct
/// messages arrived (each acked and recorded in `ledger`), then waits until
/// the server confirms every ack. `size`, if given, is the payload size every
/// message must have.
#[allow(clippy::too_many_arguments)]
pub fn pull_drain(
    puller: &mut RawConn,
    api: &mut Api,
    stream: &str,
    consumer: &str,
    batch: u64,
    expect: u64,
    size: Option<usize>,
    ledger: &Ledger,
    deadline: Instant,
) -> Result<Drained> {
    let inbox = unique_subject("_INBOX", "bench-pull");
    puller.subscribe(&inbox, None, 1)?;
    puller.flush(deadline)?;
    let mut out = Vec::with_capacity(64 * 1024);
    let mut requests = 0u64;
    let start = Instant::now();
    while ledger.unique() < expect {
        encode_pull(&mut out, stream, consumer, &inbox, batch);
        puller.write_all(&out)?;
        out.clear();
        requests += 1;
        // Messages this request brought; it ends at `batch` or a status.
        let mut got = 0u64;
        let mut open = true;
        while open && ledger.unique() < expect {
            match puller.poll_buffered()? {
                Event::Msg(m) => {
                    if let Some(reply) = m.reply.filter(|r| r.starts_with(b"$JS.ACK.")) {
                        let d = parse_ack_subject(reply)?;
                        if let Some(want) = size {
                            let len = m.data.len() - m.headers_len;
                            if len != want {
                                bail!("stream seq {} has {len} bytes, not {want}", d.stream_seq);
                            }
                        }
                        ledger.take(d)?;
                        encode_ack(&mut out, reply);
                        got += 1;
                        open = got < batch;
                    } else {
                        match status_code(&m) {
                            // No messages / request expired: ask again.
                            Some(404 | 408) => open = false,
                            Some(100) => {} // heartbeat
                            _ => bail!(
                                "pull request {requests} ended with {:?} after {got} messages \
                                 ({} of {expect} so far)",
                                status_text(&m),
                                ledger.unique()
                            ),
                        }
                    }
                }
                Event::Pong => {}
                Event::NeedData => {
                    if !out.is_empty() {
                        puller.write_all(&out)?;
                        out.clear();
                    }
                    if !puller.fill()? && Instant::now() >= deadline {
                        bail!(
                            "timed out pulling: {} of {expect} messages after {requests} requests",
                            ledger.unique()
                        );
                    }
                }
            }
        }
        if !out.is_empty() {
            puller.write_all(&out)?;
            out.clear();
        }
    }
    api.wait_all_acked(stream, consumer, deadline)?;
    let secs = start.elapsed().as_secs_f64();
    ledger.check(expect)?;
    Ok(Drained {
        secs,
        redelivered: ledger.redelivered(),
        requests,
    })
}

/// Time to let a server settle between the phases of a workload.
pub const SETTLE: Duration = Duration::from_millis(100);
