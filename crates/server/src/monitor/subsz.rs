//! `/subsz`: subscription index statistics and, with `subs`, the client
//! subscriptions (optionally only those a `test` subject would reach).

use std::sync::Arc;

use serde::Serialize;
use sluice_jetstream::time::format_rfc3339_nanos;

use super::conn::SubDetail;
use super::connz::DEFAULT_LIMIT;
use super::http::{bad_request, Query, Reply};
use super::json::unix_nanos;
use crate::router::RouterStats;
use crate::server::ServerShared;

/// The subscription index figures `/subsz` shows at its top level and `/accountz`
/// as an account's `sublist_stats`.
#[derive(Debug, Serialize)]
pub(super) struct SublistStats {
    num_subscriptions: usize,
    num_cache: usize,
    num_inserts: u64,
    num_removes: u64,
    num_matches: u64,
    cache_hit_rate: f64,
    max_fanout: u64,
    avg_fanout: f64,
}

impl From<RouterStats> for SublistStats {
    fn from(stats: RouterStats) -> Self {
        SublistStats {
            num_subscriptions: stats.subscriptions,
            num_cache: stats.cache,
            num_inserts: stats.inserts,
            num_removes: stats.removes,
            num_matches: stats.matches,
            cache_hit_rate: stats.cache_hit_rate(),
            max_fanout: stats.max_fanout,
            avg_fanout: stats.avg_fanout,
        }
    }
}

#[derive(Debug, Serialize)]
struct Subsz {
    server_id: String,
    now: String,
    #[serde(flatten)]
    stats: SublistStats,
    total: usize,
    offset: usize,
    limit: usize,
    #[serde(rename = "subscriptions_list", skip_serializing_if = "Vec::is_empty")]
    subs: Vec<SubDetail>,
}

pub fn subsz(shared: &Arc<ServerShared>, q: &Query) -> Result<Reply, Reply> {
    let list = q.bool("subs")?;
    let offset = q.int("offset")?.max(0) as usize;
    let limit = match q.int("limit")? {
        l if l <= 0 => DEFAULT_LIMIT,
        l => l,
    } as usize;
    let test = q.get("test");
    if !test.is_empty() && !sluice_subject::is_valid_literal_subject(test) {
        return Err(bad_request(&format!(
            "invalid test subject, must be valid publish subject: {test}"
        )));
    }
    let stats = shared.router().stats();
    let mut total = 0;
    let mut page = Vec::new();
    if list {
        let mut all: Vec<SubDetail> = Vec::new();
        for c in shared.clients() {
            for s in c.subscriptions() {
                if !test.is_empty() && !sluice_subject::subject_matches(&s.subject, test) {
                    continue;
                }
                let mut d = SubDetail::of(&s);
                d.account = Some("$G");
                d.account_tag = Some("$G");
                all.push(d);
            }
        }
        all.sort_by(|a, b| (a.cid, &a.sid).cmp(&(b.cid, &b.sid)));
        total = all.len();
        let start = offset.min(total);
        let end = start + limit.min(total - start);
        page = all.drain(start..end).collect();
    }
    Ok(Reply::json(&Subsz {
        server_id: shared.server_id().to_string(),
        now: format_rfc3339_nanos(unix_nanos()),
        stats: stats.into(),
        total,
        offset,
        limit,
        subs: page,
    }))
}
