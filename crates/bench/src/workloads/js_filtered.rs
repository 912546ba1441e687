//! `js-filtered`: a stream of N messages over 100,000 distinct subjects
//! (`bench.f.<n>`); every tenth message goes to the one hot subject
//! `bench.f.0`, interleaved with the rest. A durable pull consumer filtered
//! on `bench.f.0` drains its N/10 messages; an unfiltered one drains all N.
//! Both pull in batches of [`BATCH`] with explicit acks, as `js-pull` does.
//! Reports both rates (delivered msgs/s) and their ratio filtered/unfiltered:
//! how much the server pays to skip the other subjects.

use std::thread;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::json;

use super::js_pull::{pull_drain, SETTLE};
use super::jsconsumer::{consumer_config, stream_name, Api, Ledger};
use super::publish::{check_payload, CONNECT_TIMEOUT};
use super::{payload, Opts, Spec};
use crate::endpoint::Endpoint;
use crate::rawconn::RawConn;
use crate::report::{Metric, Outcome, Unit};

/// Distinct subjects in the stream.
pub const SUBJECTS: u64 = 100_000;
/// One message in this many goes to the hot subject.
const HOT_EVERY: u64 = 10;
/// Messages per pull request.
const BATCH: u64 = 1000;
/// The fewest messages that reach every subject.
pub const MIN_MSGS: u64 = ((SUBJECTS - 1) * HOT_EVERY).div_ceil(HOT_EVERY - 1);

/// The subject of message `i` (0-based): `bench.f.0` for every tenth, the
/// other 99,999 subjects in turn for the rest.
pub fn subject_of(i: u64) -> String {
    if i.is_multiple_of(HOT_EVERY) {
        "bench.f.0".to_owned()
    } else {
        let cold = i - i / HOT_EVERY - 1; // index among the non-hot messages
        format!("bench.f.{}", 1 + cold % (SUBJECTS - 1))
    }
}

/// How many of `n` messages go to the hot subject.
pub fn hot_count(n: u64) -> u64 {
    n.div_ceil(HOT_EVERY)
}

pub fn run(spec: &Spec, ep: &Endpoint, opts: &Opts) -> Result<Outcome> {
    if spec.msgs < MIN_MSGS {
        bail!(
            "{}: needs at least {MIN_MSGS} messages to cover {SUBJECTS} subjects, not {}",
            spec.name,
            spec.msgs
        );
    }
    let deadline = Instant::now() + opts.timeout;
    let stream = stream_name("js-filtered");
    let mut api = Api::connect(ep, "sluice-bench-js-filtered")?;
    check_payload(&api.conn, spec.size)?;
    let hot = hot_count(spec.msgs);
    let result = (|| -> Result<_> {
        api.recreate_stream(&json!({
            "name": stream, "subjects": ["bench.f.>"], "storage": "file",
        }))?;
        api.prefill(
            &stream,
            spec.msgs,
            subject_of,
            &payload(spec.size),
            deadline,
        )?;
        let mut drain = |name: &str, filter: Option<&str>, expect: u64| -> Result<f64> {
            let mut config = consumer_config(name);
            if let Some(f) = filter {
                config["filter_subject"] = f.into();
            }
            api.create_consumer(&stream, config)?;
            let mut puller = RawConn::connect(ep, "sluice-bench-puller", CONNECT_TIMEOUT)?;
            let ledger = Ledger::new(1, spec.msgs)?;
            let d = pull_drain(
                &mut puller,
                &mut api,
                &stream,
                name,
                BATCH,
                expect,
                Some(spec.size),
                &ledger,
                deadline,
            )
            .with_context(|| format!("consumer {name}"));
            puller.close();
            Ok(expect as f64 / d?.secs.max(1e-9))
        };
        let filtered = drain("FILTERED", Some("bench.f.0"), hot)?;
        thread::sleep(SETTLE);
        let unfiltered = drain("ALL", None, spec.msgs)?;
        Ok((filtered, unfiltered))
    })();
    let cleaned = api.cleanup(ep, &stream);
    let (filtered, unfiltered) = result?;
    cleaned.context("deleting the stream")?;
    Ok(Outcome {
        workload: spec.name.clone(),
        url: ep.url.clone(),
        client: "raw",
        size: spec.size,
        published: spec.msgs,
        delivered: hot + spec.msgs,
        elapsed_secs: hot as f64 / filtered + spec.msgs as f64 / unfiltered,
        publish_secs: 0.0,
        msgs_per_sec: filtered,
        mb_per_sec: filtered * spec.size as f64 / 1e6,
        split: Vec::new(),
        latency: None,
        custom: vec![
            Metric::custom("filtered msgs/s", filtered, Unit::Rate, true),
            Metric::custom("unfiltered msgs/s", unfiltered, Unit::Rate, true),
            Metric::custom(
                "filtered/unfiltered",
                filtered / unfiltered,
                Unit::Ratio,
                true,
            ),
        ],
        detail: Some(format!(
            "{} msgs over {SUBJECTS} subjects, {hot} on the filtered one, batch {BATCH}",
            spec.msgs
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn subjects_cover_all_and_hot_is_a_tenth() {
        let n = MIN_MSGS;
        let all: HashSet<String> = (0..n).map(subject_of).collect();
        assert_eq!(all.len() as u64, SUBJECTS);
        let hot = (0..n).filter(|&i| subject_of(i) == "bench.f.0").count() as u64;
        assert_eq!(hot, hot_count(n));
        assert_eq!(subject_of(1), "bench.f.1");
        assert_eq!(subject_of(11), "bench.f.10");
        let fewer: HashSet<String> = (0..n - 1).map(subject_of).collect();
        assert!((fewer.len() as u64) < SUBJECTS);
    }
}
