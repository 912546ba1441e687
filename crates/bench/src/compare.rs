//! `compare`: every workload on two servers, alternately, best of N rounds,
//! summarised as a markdown table of candidate / baseline ratios.

use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use serde::Serialize;

use crate::endpoint::Endpoint;
use crate::report::{fmt_metric, Metric, Outcome, Unit};
use crate::serverctl::Ctl;
use crate::workloads::{self, Opts, Spec};

/// One server under test.
#[derive(Debug, Clone)]
pub struct Side {
    pub name: String,
    pub ep: Endpoint,
    /// Its process id, for workloads that read the server's memory.
    pub pid: Option<u32>,
    /// Its control directory (current PID, how to restart it).
    pub ctl: Option<PathBuf>,
}

/// A row of the comparison table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub metric: String,
    pub higher_is_better: bool,
    pub payload_size: Option<usize>,
    pub unit: Unit,
    pub baseline: Option<f64>,
    pub candidate: Option<f64>,
    /// candidate / baseline
    pub ratio: Option<f64>,
}

/// Everything `compare` measured.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub baseline: String,
    pub candidate: String,
    pub rounds: usize,
    pub rows: Vec<Row>,
    pub runs: Vec<Outcome>,
    pub errors: Vec<String>,
    /// Caveats printed under the table.
    pub notes: Vec<String>,
}

/// Runs each spec `rounds` times on each side, alternating which goes first,
/// and keeps the best value of each metric per side. Progress goes to stderr.
pub fn run(specs: &[Spec], base: &Side, cand: &Side, opts: &Opts, rounds: usize) -> Comparison {
    let mut rows = Vec::new();
    let mut runs = Vec::new();
    let mut errors = Vec::new();
    for spec in specs {
        let mut got: [Vec<Outcome>; 2] = [Vec::new(), Vec::new()];
        for round in 0..rounds {
            let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for side_ix in order {
                let side = if side_ix == 0 { base } else { cand };
                // A restart (kv-scale) changes the PID: the control
                // directory has the current one.
                let pid = side
                    .ctl
                    .as_deref()
                    .and_then(|d| Ctl::new(d).pid().ok())
                    .or(side.pid);
                let side_opts = Opts {
                    server_pid: pid,
                    server_ctl: side.ctl.clone(),
                    ..opts.clone()
                };
                match workloads::run(spec, &side.ep, &side_opts) {
                    Ok(o) => {
                        eprintln!("[{:>11}] round {}: {}", side.name, round + 1, o.line());
                        got[side_ix].push(o);
                    }
                    Err(e) => {
                        let msg =
                            format!("{} on {} round {}: {e:#}", spec.name, side.name, round + 1);
                        eprintln!("[{:>11}] round {}: ERROR {e:#}", side.name, round + 1);
                        errors.push(msg);
                    }
                }
                // Let the server settle (GC, buffers) between runs.
                thread::sleep(Duration::from_millis(200));
            }
        }
        rows.extend(best_rows(&got[0], &got[1], spec));
        let [b, c] = got;
        runs.extend(b);
        runs.extend(c);
    }
    let mut notes = Vec::new();
    if specs.iter().any(|s| s.kind.is_jetstream()) {
        notes.push(durability_note());
    }
    Comparison {
        baseline: base.name.clone(),
        candidate: cand.name.clone(),
        rounds,
        rows,
        runs,
        errors,
        notes,
    }
}

/// The caveat under JetStream rows: the two servers' default fsync policies
/// differ, so their acks do not promise the same durability.
fn durability_note() -> String {
    "JetStream rows (js-*, kv-*, obj-*): file streams. By default nats-server fsyncs \
     periodically (sync_interval 2 min) and acks before the data is on disk, while Sluice \
     fsyncs before every ack (group commit): these rows compare durable Sluice with \
     non-durable nats-server."
        .to_owned()
}

/// Best value of each metric on each side, as table rows.
fn best_rows(base: &[Outcome], cand: &[Outcome], spec: &Spec) -> Vec<Row> {
    // The metric list comes from whichever side produced a result; a spec
    // with no result on either side still gets one (empty) row.
    let Some(template) = base.first().or(cand.first()) else {
        return vec![Row {
            metric: spec.name.clone(),
            higher_is_better: true,
            payload_size: None,
            unit: Unit::Rate,
            baseline: None,
            candidate: None,
            ratio: None,
        }];
    };
    template
        .metrics()
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            let b = best(base, i, &m);
            let c = best(cand, i, &m);
            let ratio = match (b, c) {
                (Some(b), Some(c)) if b > 0.0 => Some(c / b),
                _ => None,
            };
            Row {
                metric: m.label,
                higher_is_better: m.higher_is_better,
                payload_size: m.payload_size,
                unit: m.unit,
                baseline: b,
                candidate: c,
                ratio,
            }
        })
        .collect()
}

fn best(outcomes: &[Outcome], i: usize, template: &Metric) -> Option<f64> {
    let values = outcomes
        .iter()
        .filter_map(|o| o.metrics().into_iter().nth(i).map(|m| m.value));
    if template.higher_is_better {
        values.reduce(f64::max)
    } else {
        values.reduce(f64::min)
    }
}

impl Comparison {
    /// The markdown table: workload | baseline | candidate | ratio.
    pub fn table(&self) -> String {
        let mut s = format!(
            "| workload | {} | {} | ratio |\n|---|---:|---:|---:|\n",
            self.baseline, self.candidate
        );
        for r in &self.rows {
            let cell = |v: Option<f64>| match v {
                Some(value) => fmt_metric(&Metric {
                    label: String::new(),
                    value,
                    higher_is_better: r.higher_is_better,
                    payload_size: r.payload_size,
                    unit: r.unit,
                }),
                None => "FAILED".to_owned(),
            };
            let ratio = r
                .ratio
                .map_or_else(|| "-".to_owned(), |x| format!("{x:.2}"));
            s += &format!(
                "| {} | {} | {} | {} |\n",
                r.metric,
                cell(r.baseline),
                cell(r.candidate),
                ratio
            );
        }
        s += &format!(
            "\nratio = {} / {}, best of {} rounds each; rates (msgs/s, req/s, MB/s): higher is \
             better; µs latency, seconds and MiB: lower is better.\n",
            self.candidate, self.baseline, self.rounds
        );
        for n in &self.notes {
            s += &format!("\n{n}\n");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::LatencySummary;
    use crate::workloads::{named, Kind};

    fn outcome(rate: f64, p50: Option<f64>) -> Outcome {
        Outcome {
            workload: "w".into(),
            url: String::new(),
            client: "raw",
            size: 1000,
            published: 1,
            delivered: 0,
            elapsed_secs: 1.0,
            publish_secs: 1.0,
            msgs_per_sec: rate,
            mb_per_sec: 0.0,
            split: Vec::new(),
            latency: p50.map(|p| LatencySummary {
                samples: 1,
                p50_us: p,
                p90_us: p,
                p99_us: p,
                max_us: p,
                mean_us: p,
            }),
            custom: Vec::new(),
            detail: None,
        }
    }

    #[test]
    fn best_of_and_ratio() {
        let spec = named(Kind::ReqRep, 1, 16);
        let base = [outcome(100.0, Some(50.0)), outcome(200.0, Some(40.0))];
        let cand = [outcome(150.0, Some(20.0)), outcome(120.0, Some(30.0))];
        let rows = best_rows(&base, &cand, &spec);
        assert_eq!(rows.len(), 4);
        assert_eq!(
            (rows[0].baseline, rows[0].candidate),
            (Some(200.0), Some(150.0))
        );
        assert_eq!(rows[0].ratio, Some(0.75));
        assert_eq!(
            (rows[1].baseline, rows[1].candidate),
            (Some(40.0), Some(20.0))
        );
        assert_eq!(rows[1].ratio, Some(0.5));
    }

    #[test]
    fn failed_side_shows_in_table() {
        let spec = named(Kind::Pub, 1, 1000);
        let rows = best_rows(&[outcome(2e6, None)], &[], &spec);
        let c = Comparison {
            baseline: "b".into(),
            candidate: "c".into(),
            rounds: 1,
            rows,
            runs: Vec::new(),
            errors: Vec::new(),
            notes: vec![durability_note()],
        };
        let t = c.table();
        assert!(
            t.contains("| w msgs/s | 2.00M (2000.0 MB/s) | FAILED | - |"),
            "{t}"
        );
        assert!(
            t.contains("durable Sluice with non-durable nats-server"),
            "{t}"
        );
    }
}
