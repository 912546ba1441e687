//! The same workloads driven through the async-nats client, for a realistic
//! application's view. Here the client itself is often the bottleneck.

use std::future::IntoFuture;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use async_nats::jetstream::context::{ContextBuilder, PublishAckFuture};
use async_nats::jetstream::publish::PublishAck;
use bytes::Bytes;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use tokio::time::timeout;

use super::jetstream as js;
use super::reqrep::warmup;
use super::{payload, unique_subject, Kind, Opts, Spec};
use crate::endpoint::{Auth, Endpoint};
use crate::latency::{LatencySummary, Recorder};
use crate::rawconn::POLL;
use crate::report::Outcome;

pub fn run(spec: &Spec, ep: &Endpoint, opts: &Opts) -> Result<Outcome> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let result = rt.block_on(async {
        match timeout(opts.timeout, run_async(spec, ep, opts)).await {
            Ok(r) => r,
            Err(_) => Err(anyhow!("{}: timed out after {:?}", spec.name, opts.timeout)),
        }
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

pub async fn connect(ep: &Endpoint, name: &str) -> Result<async_nats::Client> {
    let mut o = async_nats::ConnectOptions::new()
        .name(name)
        .connection_timeout(Duration::from_secs(5))
        .subscription_capacity(1 << 20)
        .client_capacity(1 << 16)
        .request_timeout(Some(Duration::from_secs(10)));
    match &ep.auth {
        Auth::None => {}
        Auth::Token(t) => o = o.token(t.clone()),
        Auth::UserPass(u, p) => o = o.user_and_password(u.clone(), p.clone()),
    }
    o.connect(format!("nats://{}:{}", ep.host, ep.port))
        .await
        .with_context(|| format!("cannot connect to {}", ep.url))
}

async fn run_async(spec: &Spec, ep: &Endpoint, opts: &Opts) -> Result<Outcome> {
    let base = Outcome {
        workload: spec.name.clone(),
        url: ep.url.clone(),
        client: opts.client.name(),
        size: spec.size,
        published: spec.msgs,
        delivered: 0,
        elapsed_secs: 0.0,
        publish_secs: 0.0,
        msgs_per_sec: 0.0,
        mb_per_sec: 0.0,
        split: Vec::new(),
        latency: None,
        custom: Vec::new(),
        detail: None,
    };
    let body = Bytes::from(payload(spec.size));
    match spec.kind {
        Kind::Pub => {
            let subject = unique_subject("bench", &spec.name);
            let client = connect(ep, "sluice-bench-pub").await?;
            let start = Instant::now();
            publish(&client, &subject, &body, spec.msgs).await?;
            let secs = start.elapsed().as_secs_f64();
            Ok(Outcome {
                elapsed_secs: secs,
                publish_secs: secs,
                ..base
            }
            .with_rates(spec.msgs))
        }
        Kind::Deliver { subs, queue } => deliver(spec, ep, opts, subs, queue, body, base).await,
        Kind::ReqRep => reqrep(spec, ep, body, base).await,
        Kind::JsPubAsync { window } => js_pub(spec, ep, Some(window), body, base).await,
        Kind::JsPubSync => js_pub(spec, ep, None, body, base).await,
        _ => bail!("{}: runs on the raw client only", spec.name),
    }
}

async fn publish(client: &async_nats::Client, subject: &str, body: &Bytes, n: u64) -> Result<()> {
    for _ in 0..n {
        client
            .publish(subject.to_owned(), body.clone())
            .await
            .context("publish failed")?;
    }
    client.flush().await.context("flush failed")
}

async fn deliver(
    spec: &Spec,
    ep: &Endpoint,
    opts: &Opts,
    subs: usize,
    queue: bool,
    body: Bytes,
    base: Outcome,
) -> Result<Outcome> {
    let subject = unique_subject("bench", &spec.name);
    let total = Arc::new(AtomicU64::new(0));
    let published = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::with_capacity(subs);
    let mut clients = Vec::with_capacity(subs);
    for i in 0..subs {
        let client = connect(ep, &format!("sluice-bench-sub-{i}")).await?;
        let mut sub = if queue {
            client
                .queue_subscribe(subject.clone(), "bench-q".to_owned())
                .await?
        } else {
            client.subscribe(subject.clone()).await?
        };
        client.flush().await.context("flush after SUB failed")?;
        clients.push(client);
        let total = Arc::clone(&total);
        let published = Arc::clone(&published);
        let (n, idle) = (spec.msgs, opts.idle);
        tasks.push(tokio::spawn(async move {
            let mut count = 0u64;
            let mut last = None;
            let mut last_activity = Instant::now();
            let mut saw_published = false;
            loop {
                let done = if queue {
                    total.load(Ordering::Acquire) >= n
                } else {
                    count >= n
                };
                if done {
                    break;
                }
                match timeout(POLL, sub.next()).await {
                    Ok(Some(_)) => {
                        count += 1;
                        let now = Instant::now();
                        last = Some(now);
                        last_activity = now;
                        if queue {
                            total.fetch_add(1, Ordering::AcqRel);
                        }
                    }
                    Ok(None) => break,
                    Err(_) => {
                        if !saw_published && published.load(Ordering::Acquire) {
                            saw_published = true;
                            last_activity = Instant::now();
                        }
                        if saw_published && last_activity.elapsed() >= idle {
                            break;
                        }
                    }
                }
            }
            (count, last)
        }));
    }
    let publisher = connect(ep, "sluice-bench-pub").await?;
    let start = Instant::now();
    publish(&publisher, &subject, &body, spec.msgs).await?;
    let publish_secs = start.elapsed().as_secs_f64();
    published.store(true, Ordering::Release);
    let mut split = Vec::with_capacity(subs);
    let mut last = start;
    for t in tasks {
        let (count, l) = t.await.context("subscriber task failed")?;
        split.push(count);
        if let Some(l) = l {
            last = last.max(l);
        }
    }
    drop(clients);
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
    Ok(Outcome {
        delivered,
        elapsed_secs: last.duration_since(start).as_secs_f64(),
        publish_secs,
        split,
        ..base
    }
    .with_rates(delivered))
}

async fn reqrep(spec: &Spec, ep: &Endpoint, body: Bytes, base: Outcome) -> Result<Outcome> {
    let subject = unique_subject("bench", &spec.name);
    let responder = connect(ep, "sluice-bench-responder").await?;
    let mut sub = responder.subscribe(subject.clone()).await?;
    responder.flush().await.context("flush after SUB failed")?;
    let echo = responder.clone();
    let serve = tokio::spawn(async move {
        while let Some(m) = sub.next().await {
            if let Some(reply) = m.reply {
                if echo.publish(reply, m.payload).await.is_err() {
                    break;
                }
            }
        }
    });
    let requester = connect(ep, "sluice-bench-requester").await?;
    let warm = warmup(spec.msgs);
    let mut rec = Recorder::with_capacity(spec.msgs as usize);
    let mut start = Instant::now();
    for i in 0..warm + spec.msgs {
        if i == warm {
            start = Instant::now();
        }
        let t0 = Instant::now();
        let resp = requester
            .request(subject.clone(), body.clone())
            .await
            .context("request failed")?;
        if resp.payload.len() != body.len() {
            bail!(
                "reply payload has {} bytes, expected {}",
                resp.payload.len(),
                body.len()
            );
        }
        if i >= warm {
            rec.record(t0.elapsed());
        }
    }
    let secs = start.elapsed().as_secs_f64();
    serve.abort();
    Ok(Outcome {
        elapsed_secs: secs,
        publish_secs: secs,
        latency: rec.summary(),
        ..base
    }
    .with_rates(spec.msgs))
}

/// `js-pub-async` / `js-pub-sync` through async-nats's JetStream context: the
/// same stream set-up, checks and clean-up as the raw version
/// ([`super::jetstream`]).
async fn js_pub(
    spec: &Spec,
    ep: &Endpoint,
    window: Option<u64>,
    body: Bytes,
    base: Outcome,
) -> Result<Outcome> {
    let client = connect(ep, "sluice-bench-js").await?;
    let result = js_measure(&client, spec, window, body).await;
    let deleted = js_api(&client, "DELETE", String::new()).await.map(drop);
    let (secs, latency) = result?;
    deleted?;
    Ok(Outcome {
        elapsed_secs: secs,
        publish_secs: secs,
        latency,
        ..base
    }
    .with_rates(spec.msgs))
}

async fn js_api(client: &async_nats::Client, op: &str, body: String) -> Result<serde_json::Value> {
    let what = format!("STREAM.{op}");
    let reply = timeout(
        js::API_TIMEOUT,
        client.request(js::api_subject(op), body.into()),
    )
    .await
    .map_err(|_| anyhow!("{what}: no reply within {:?}", js::API_TIMEOUT))?
    .with_context(|| format!("{what} request failed"))?;
    js::api_response(&what, &reply.payload)
}

async fn js_measure(
    client: &async_nats::Client,
    spec: &Spec,
    window: Option<u64>,
    body: Bytes,
) -> Result<(f64, Option<LatencySummary>)> {
    let _ = js_api(client, "DELETE", String::new()).await;
    js::check_created(&js_api(client, "CREATE", js::create_request()).await?)?;
    let n = spec.msgs;
    let ctx = ContextBuilder::new()
        .max_ack_inflight(window.unwrap_or(1).max(1) as usize)
        .ack_timeout(js::API_TIMEOUT)
        .build(client.clone());
    let mut seqs = vec![false; n as usize];
    let mut check = |ack: PublishAck| -> Result<()> {
        let slot = ack.sequence.checked_sub(1).filter(|&s| s < n);
        match slot {
            Some(s) if ack.stream == js::STREAM && !seqs[s as usize] => {
                seqs[s as usize] = true;
                Ok(())
            }
            _ => bail!(
                "unexpected PubAck: stream {:?} seq {} (duplicate or out of 1..={n})",
                ack.stream,
                ack.sequence
            ),
        }
    };
    let start = Instant::now();
    let mut latency = None;
    match window {
        Some(w) => {
            let mut pending: FuturesUnordered<<PublishAckFuture as IntoFuture>::IntoFuture> =
                FuturesUnordered::new();
            for _ in 0..n {
                if pending.len() as u64 >= w.max(1) {
                    if let Some(r) = pending.next().await {
                        check(r.context("PubAck")?)?;
                    }
                }
                let ack = ctx
                    .publish(js::SUBJECT, body.clone())
                    .await
                    .context("JetStream publish failed")?;
                pending.push(IntoFuture::into_future(ack));
            }
            while let Some(r) = pending.next().await {
                check(r.context("PubAck")?)?;
            }
        }
        None => {
            let mut rec = Recorder::with_capacity(n as usize);
            for _ in 0..n {
                let t0 = Instant::now();
                let ack = ctx
                    .publish(js::SUBJECT, body.clone())
                    .await
                    .context("JetStream publish failed")?
                    .await
                    .context("PubAck")?;
                rec.record(t0.elapsed());
                check(ack)?;
            }
            latency = rec.summary();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    js::check_count(&js_api(client, "INFO", String::new()).await?, n)?;
    Ok((secs, latency))
}
