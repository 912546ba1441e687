//! Request/reply latency with the raw client: one responder thread echoing
//! payloads, one requester doing sequential round trips.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Instant;

use anyhow::{anyhow, bail, Result};

use super::publish::{check_payload, CONNECT_TIMEOUT};
use super::{payload, unique_subject, Opts, Spec};
use crate::endpoint::Endpoint;
use crate::latency::Recorder;
use crate::rawconn::{encode_pub, Event, RawConn};
use crate::report::Outcome;

/// Round trips made before measuring, to warm connections and caches.
pub fn warmup(reqs: u64) -> u64 {
    (reqs / 10).min(1000)
}

pub fn run(spec: &Spec, ep: &Endpoint, opts: &Opts) -> Result<Outcome> {
    let deadline = Instant::now() + opts.timeout;
    let subject = unique_subject("bench", &spec.name);
    let inbox = unique_subject("_INBOX", &spec.name);

    let mut responder = RawConn::connect(ep, "sluice-bench-responder", CONNECT_TIMEOUT)?;
    responder.subscribe(&subject, None, 1)?;
    responder.flush(deadline)?;
    let mut requester = RawConn::connect(ep, "sluice-bench-requester", CONNECT_TIMEOUT)?;
    check_payload(&requester, spec.size)?;
    requester.subscribe(&format!("{inbox}.*"), None, 1)?;
    requester.flush(deadline)?;

    let stop = AtomicBool::new(false);
    let body = payload(spec.size);
    let warm = warmup(spec.msgs);
    let (served, measured) = thread::scope(|s| {
        let h = s.spawn(|| respond(&mut responder, &stop, deadline));
        let r = request_loop(
            &mut requester,
            &subject,
            &inbox,
            &body,
            warm,
            spec.msgs,
            deadline,
        );
        stop.store(true, Ordering::Release);
        let served = h
            .join()
            .unwrap_or_else(|_| Err(anyhow!("responder thread panicked")));
        (served, r)
    });
    responder.close();
    requester.close();
    let (elapsed, latency) = measured?;
    let served = served?;
    if served != warm + spec.msgs {
        bail!(
            "responder served {served} requests, expected {}",
            warm + spec.msgs
        );
    }
    Ok(Outcome {
        workload: spec.name.clone(),
        url: ep.url.clone(),
        client: opts.client.name(),
        size: spec.size,
        published: spec.msgs,
        delivered: 0,
        elapsed_secs: elapsed,
        publish_secs: elapsed,
        msgs_per_sec: 0.0,
        mb_per_sec: 0.0,
        split: Vec::new(),
        latency: latency.summary(),
        custom: Vec::new(),
        detail: None,
    }
    .with_rates(spec.msgs))
}

/// Sends `warm + n` requests one at a time, each with its own reply subject,
/// and times the measured `n`. Returns the measured seconds and samples.
fn request_loop(
    conn: &mut RawConn,
    subject: &str,
    inbox: &str,
    body: &[u8],
    warm: u64,
    n: u64,
    deadline: Instant,
) -> Result<(f64, Recorder)> {
    let mut rec = Recorder::with_capacity(n as usize);
    let mut frame = Vec::with_capacity(body.len() + subject.len() + inbox.len() + 40);
    let mut start = Instant::now();
    for i in 0..warm + n {
        if i == warm {
            start = Instant::now();
        }
        let reply = format!("{inbox}.{i}");
        frame.clear();
        encode_pub(&mut frame, subject, Some(&reply), body);
        let t0 = Instant::now();
        conn.write_all(&frame)?;
        loop {
            match conn.next_event(deadline)? {
                Event::Msg(m) => {
                    if m.sid != b"1" || m.subject != reply.as_bytes() {
                        bail!(
                            "reply on {:?} sid {:?}, expected {reply:?} sid 1",
                            String::from_utf8_lossy(m.subject),
                            String::from_utf8_lossy(m.sid)
                        );
                    }
                    if m.data.len() - m.headers_len != body.len() {
                        bail!(
                            "reply payload has {} bytes, expected {}",
                            m.data.len(),
                            body.len()
                        );
                    }
                    break;
                }
                Event::Pong | Event::NeedData => {}
            }
        }
        if i >= warm {
            rec.record(t0.elapsed());
        }
    }
    Ok((start.elapsed().as_secs_f64(), rec))
}

/// Echoes each request's payload to its reply subject until told to stop.
/// Returns how many requests it answered.
fn respond(conn: &mut RawConn, stop: &AtomicBool, deadline: Instant) -> Result<u64> {
    let mut out = Vec::with_capacity(64 * 1024);
    let mut served = 0u64;
    loop {
        match conn.poll_buffered()? {
            Event::Msg(m) => {
                let Some(reply) = m.reply else {
                    bail!("request without a reply subject");
                };
                let reply = std::str::from_utf8(reply)
                    .map_err(|_| anyhow!("reply subject is not UTF-8"))?;
                encode_pub(&mut out, reply, None, &m.data[m.headers_len..]);
                served += 1;
            }
            Event::Pong => {}
            Event::NeedData => {
                if !out.is_empty() {
                    conn.write_all(&out)?;
                    out.clear();
                }
                if stop.load(Ordering::Acquire) || Instant::now() >= deadline {
                    return Ok(served);
                }
                conn.fill()?;
            }
        }
    }
}
