//! `/connz`: open and recently closed connections, with nats-server's options
//! (`subs`, `sort`, `limit`, `offset`, `state`, `cid`).

use std::sync::Arc;

use serde::Serialize;
use sluice_jetstream::time::format_rfc3339_nanos;

use super::conn::{conn_info, ConnInfo, SubDetail};
use super::http::{bad_request, Query, Reply};
use super::json::unix_nanos;
use crate::server::ServerShared;

/// nats-server's default page size.
pub const DEFAULT_LIMIT: i64 = 1024;

#[derive(Debug, Serialize)]
struct Connz {
    server_id: String,
    now: String,
    num_connections: usize,
    total: usize,
    offset: usize,
    limit: usize,
    connections: Vec<ConnInfo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Closed,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subs {
    None,
    List,
    Detail,
}

pub fn connz(shared: &Arc<ServerShared>, q: &Query) -> Result<Reply, Reply> {
    let sort = match q.get("sort") {
        "" => "cid",
        s => s,
    };
    const SORTS: [&str; 14] = [
        "cid",
        "start",
        "subs",
        "pending",
        "msgs_to",
        "msgs_from",
        "bytes_to",
        "bytes_from",
        "last",
        "idle",
        "uptime",
        "stop",
        "reason",
        "rtt",
    ];
    if !SORTS.contains(&sort) {
        return Err(bad_request(&format!("invalid sorting option: {sort}")));
    }
    let subs = if q.get("subs").eq_ignore_ascii_case("detail") {
        Subs::Detail
    } else if q.bool("subs")? {
        Subs::List
    } else {
        Subs::None
    };
    let offset = q.int("offset")?.max(0) as usize;
    let mut limit = match q.int("limit")? {
        l if l <= 0 => DEFAULT_LIMIT,
        l => l,
    } as usize;
    let cid = q.uint("cid")?;
    let state = match q.get("state").to_ascii_lowercase().as_str() {
        "" | "open" => State::Open,
        "closed" => State::Closed,
        "any" | "all" => State::All,
        _ => {
            return Err(bad_request(&format!(
                "Error decoding state for {}",
                q.get("state")
            )))
        }
    };
    if (sort == "stop" || sort == "reason") && state != State::Closed {
        return Err(bad_request(&format!(
            "sort by {sort} only valid on closed connections"
        )));
    }
    if cid > 0 {
        limit = 1;
    }
    let now = unix_nanos();
    let mut conns: Vec<ConnInfo> = Vec::new();
    let mut total = 0;
    let mut found_open = false;
    if state != State::Closed {
        let clients = shared.clients();
        total += clients.len();
        for c in clients {
            if cid > 0 && c.cid != cid {
                continue;
            }
            let list = c.subscriptions();
            let mut ci = conn_info(&c, list.len(), now);
            match subs {
                Subs::None => {}
                Subs::List => ci.subs = list.iter().map(|s| s.subject.clone()).collect(),
                Subs::Detail => {
                    ci.subs_detail = list.iter().map(|s| SubDetail::of(s)).collect();
                }
            }
            conns.push(ci);
            found_open = true;
        }
    }
    if state != State::Open {
        let closed = shared.monitor().closed.list();
        total += closed.len();
        if !(cid > 0 && found_open) {
            for cc in closed {
                if cid > 0 && cc.info.cid != cid {
                    continue;
                }
                let mut ci = cc.info.clone();
                match subs {
                    Subs::None => {}
                    Subs::List => ci.subs = cc.subs.iter().map(|s| s.subject.clone()).collect(),
                    Subs::Detail => ci.subs_detail = cc.subs.clone(),
                }
                conns.push(ci);
            }
        }
    }
    if cid > 0 {
        total = conns.len();
    }
    sort_conns(&mut conns, sort, now);
    let start = offset.min(conns.len());
    let end = start + limit.min(conns.len() - start);
    let page: Vec<ConnInfo> = conns.drain(start..end).collect();
    Ok(Reply::json(&Connz {
        server_id: shared.server_id().to_string(),
        now: format_rfc3339_nanos(now),
        num_connections: page.len(),
        total,
        offset,
        limit,
        connections: page,
    }))
}

/// nats-server's orders: cid, start, uptime and reason ascending; counters, activity
/// and RTT largest first.
fn sort_conns(conns: &mut [ConnInfo], sort: &str, now: i64) {
    use std::cmp::Reverse;
    match sort {
        "subs" => conns.sort_by_key(|c| Reverse(c.subscriptions)),
        "pending" => conns.sort_by_key(|c| Reverse(c.pending_bytes)),
        "msgs_to" => conns.sort_by_key(|c| Reverse(c.out_msgs)),
        "msgs_from" => conns.sort_by_key(|c| Reverse(c.in_msgs)),
        "bytes_to" => conns.sort_by_key(|c| Reverse(c.out_bytes)),
        "bytes_from" => conns.sort_by_key(|c| Reverse(c.in_bytes)),
        "last" => conns.sort_by_key(|c| Reverse(c.sort.last)),
        "idle" => conns.sort_by_key(|c| Reverse(now - c.sort.last)),
        // Shortest running first; a closed connection's uptime ends at its stop.
        "uptime" => conns.sort_by_key(|c| {
            let end = if c.sort.stop > 0 { c.sort.stop } else { now };
            end - c.sort.start
        }),
        "stop" => conns.sort_by_key(|c| Reverse(c.sort.stop)),
        "reason" => conns.sort_by(|a, b| a.reason.cmp(&b.reason)),
        "rtt" => conns.sort_by_key(|c| Reverse(c.sort.rtt)),
        _ => conns.sort_by_key(|c| c.cid),
    }
}
