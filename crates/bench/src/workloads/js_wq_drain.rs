//! `js-wq-drain`: the same drain through a durable queue group with explicit
//! acks, on a work-queue stream (every ack deletes the message) and on a
//! limits stream (acks only move the consumer's floor). Reports both rates
//! and their ratio wq/limits, so the cost of deleting on ack shows per
//! server.
//!
//! Each phase fills its own file stream with N messages (not timed), then
//! times the drain as `js-push-queue` does; afterwards the work-queue stream
//! must be empty and the limits stream must still hold all N.

use std::thread;
use std::time::Instant;

use serde_json::json;

use anyhow::{Context, Result};

use super::js_pull::SETTLE;
use super::js_push_queue::prefill_and_drain;
use super::jsconsumer::stream_name;
use super::{Opts, Spec};
use crate::endpoint::Endpoint;
use crate::report::{Metric, Outcome, Unit};

pub fn run(spec: &Spec, ep: &Endpoint, opts: &Opts, members: usize) -> Result<Outcome> {
    let deadline = Instant::now() + opts.timeout;
    let drain = |retention: &str, remaining: u64| {
        let name = stream_name(&format!("js-wq-drain-{retention}"));
        let subject = format!("bench.wqdrain.{retention}");
        let config = json!({
            "name": name, "subjects": [subject], "storage": "file", "retention": retention,
        });
        prefill_and_drain(ep, spec, &config, &subject, members, remaining, deadline)
            .with_context(|| format!("{retention} stream"))
    };
    let wq = drain("workqueue", 0)?;
    thread::sleep(SETTLE);
    let limits = drain("limits", spec.msgs)?;
    let wq_rate = spec.msgs as f64 / wq.secs.max(1e-9);
    let limits_rate = spec.msgs as f64 / limits.secs.max(1e-9);
    Ok(Outcome {
        workload: spec.name.clone(),
        url: ep.url.clone(),
        client: "raw",
        size: spec.size,
        published: spec.msgs,
        delivered: 2 * spec.msgs,
        elapsed_secs: wq.secs + limits.secs,
        publish_secs: 0.0,
        msgs_per_sec: wq_rate,
        mb_per_sec: wq_rate * spec.size as f64 / 1e6,
        split: Vec::new(),
        latency: None,
        custom: vec![
            Metric::custom("workqueue msgs/s", wq_rate, Unit::Rate, true),
            Metric::custom("limits msgs/s", limits_rate, Unit::Rate, true),
            Metric::custom("wq/limits", wq_rate / limits_rate, Unit::Ratio, true),
        ],
        detail: Some(format!(
            "{} msgs, {members} member(s), {} + {} redelivered",
            spec.msgs, wq.redelivered, limits.redelivered
        )),
    })
}
