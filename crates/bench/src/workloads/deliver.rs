//! One publisher to N subscribers (pubsub, fanout) or to a queue group of N
//! members, with the raw client: one thread per connection.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};

use super::publish::{check_payload, publish_batched, CONNECT_TIMEOUT};
use super::{unique_subject, Opts, Spec};
use crate::endpoint::Endpoint;
use crate::rawconn::{Event, RawConn};
use crate::report::Outcome;

/// State the publisher and subscriber threads share.
struct Shared {
    /// Messages received by all queue members so far (queue mode only).
    total: AtomicU64,
    /// The publisher got its final PONG: everything has been sent.
    published: AtomicBool,
    /// The publisher failed: subscribers should stop.
    abort: AtomicBool,
}

/// When a subscriber is done.
#[derive(Clone, Copy)]
enum Target {
    /// Plain subscriber: after exactly this many messages.
    Exact(u64),
    /// Queue member: once all members together received this many.
    Total(u64),
}

/// What one subscriber saw.
struct Received {
    count: u64,
    /// When its last message was read.
    last: Option<Instant>,
}

pub fn run(spec: &Spec, ep: &Endpoint, opts: &Opts, subs: usize, queue: bool) -> Result<Outcome> {
    let deadline = Instant::now() + opts.timeout;
    let subject = unique_subject("bench", &spec.name);
    let group = queue.then_some("bench-q");

    let mut conns = Vec::with_capacity(subs);
    for i in 0..subs {
        let mut c = RawConn::connect(ep, &format!("sluice-bench-sub-{i}"), CONNECT_TIMEOUT)?;
        c.subscribe(&subject, group, 1)?;
        c.flush(deadline)?; // the subscription is registered once PONG is back
        conns.push(c);
    }
    let mut publisher = RawConn::connect(ep, "sluice-bench-pub", CONNECT_TIMEOUT)?;
    check_payload(&publisher, spec.size)?;

    let shared = Shared {
        total: AtomicU64::new(0),
        published: AtomicBool::new(false),
        abort: AtomicBool::new(false),
    };
    let target = if queue {
        Target::Total(spec.msgs)
    } else {
        Target::Exact(spec.msgs)
    };

    let (start, pub_result, received) = thread::scope(|s| {
        let handles: Vec<_> = conns
            .iter_mut()
            .map(|c| {
                let shared = &shared;
                s.spawn(move || consume(c, target, shared, deadline, opts.idle))
            })
            .collect();
        let start = Instant::now();
        let r = publish_batched(
            &mut publisher,
            &subject,
            spec.size,
            spec.msgs,
            opts.batch,
            deadline,
        )
        .map(|()| start.elapsed());
        if r.is_ok() {
            shared.published.store(true, Ordering::Release);
        } else {
            shared.abort.store(true, Ordering::Release);
        }
        let received: Vec<Result<Received>> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("subscriber thread panicked")))
            })
            .collect();
        (start, r, received)
    });
    publisher.close();
    for c in conns {
        c.close();
    }

    let publish_time = pub_result?;
    let received = received.into_iter().collect::<Result<Vec<_>>>()?;
    let split: Vec<u64> = received.iter().map(|r| r.count).collect();
    let delivered: u64 = split.iter().sum();
    let expected = if queue {
        spec.msgs
    } else {
        spec.msgs * subs as u64
    };
    if delivered != expected {
        bail!(
            "{}: lost messages: subscribers received {delivered} of {expected} (split {split:?})",
            spec.name
        );
    }
    let last = received
        .iter()
        .filter_map(|r| r.last)
        .max()
        .unwrap_or(start);
    Ok(Outcome {
        workload: spec.name.clone(),
        url: ep.url.clone(),
        client: opts.client.name(),
        size: spec.size,
        published: spec.msgs,
        delivered,
        elapsed_secs: last.duration_since(start).as_secs_f64(),
        publish_secs: publish_time.as_secs_f64(),
        msgs_per_sec: 0.0,
        mb_per_sec: 0.0,
        split,
        latency: None,
        custom: Vec::new(),
        detail: None,
    }
    .with_rates(delivered))
}

/// Counts `MSG`s until the target is met, the publisher is done and nothing
/// arrived for `idle`, the run is aborted, or the deadline passes. Losses are
/// judged by the caller from the counts.
fn consume(
    conn: &mut RawConn,
    target: Target,
    shared: &Shared,
    deadline: Instant,
    idle: Duration,
) -> Result<Received> {
    let mut count = 0u64;
    let mut flushed = 0u64; // part of `count` already added to `shared.total`
    let mut last = None;
    let mut last_activity = Instant::now();
    let mut saw_published = false;
    loop {
        match conn.poll_buffered()? {
            Event::Msg(_) => {
                count += 1;
                if let Target::Exact(n) = target {
                    if count == n {
                        return Ok(Received {
                            count,
                            last: Some(Instant::now()),
                        });
                    }
                }
            }
            Event::Pong => {}
            Event::NeedData => {
                // Buffer drained: account for what this read brought.
                if count != flushed {
                    let now = Instant::now();
                    last = Some(now);
                    last_activity = now;
                    if let Target::Total(n) = target {
                        let total = shared.total.fetch_add(count - flushed, Ordering::AcqRel)
                            + count
                            - flushed;
                        flushed = count;
                        if total >= n {
                            return Ok(Received { count, last });
                        }
                    } else {
                        flushed = count;
                    }
                }
                if let Target::Total(n) = target {
                    if shared.total.load(Ordering::Acquire) >= n {
                        return Ok(Received { count, last });
                    }
                }
                if shared.abort.load(Ordering::Acquire) {
                    return Ok(Received { count, last });
                }
                if !conn.fill()? {
                    let now = Instant::now();
                    if !saw_published && shared.published.load(Ordering::Acquire) {
                        // Start the idle clock no earlier than the end of publishing.
                        saw_published = true;
                        last_activity = now;
                    }
                    let quiet = saw_published && now.duration_since(last_activity) >= idle;
                    if now >= deadline || quiet {
                        return Ok(Received { count, last });
                    }
                }
            }
        }
    }
}
