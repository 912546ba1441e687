//! `/accountz` (one account: nats-server's global account `$G`) and the clustering
//! endpoints, empty until Sluice has routes, gateways and leaf nodes: `/routez`,
//! `/gatewayz`, `/leafz`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use sluice_jetstream::time::format_rfc3339_nanos;

use super::http::{Query, Reply};
use super::json::{system_time_nanos, unix_nanos};
use super::subsz::SublistStats;
use crate::server::ServerShared;

#[derive(Debug, Serialize)]
struct AccountInfo {
    account_name: &'static str,
    update_time: String,
    expired: bool,
    complete: bool,
    jetstream_enabled: bool,
    leafnode_connections: u64,
    client_connections: usize,
    subscriptions: usize,
    name_tag: &'static str,
    sublist_stats: SublistStats,
}

#[derive(Debug, Serialize)]
struct Accountz {
    server_id: String,
    now: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    accounts: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_detail: Option<AccountInfo>,
}

pub fn accountz(shared: &Arc<ServerShared>, q: &Query) -> Reply {
    let now = format_rfc3339_nanos(unix_nanos());
    let acc = q.get("acc");
    if acc.is_empty() {
        return Reply::json(&Accountz {
            server_id: shared.server_id().to_string(),
            now,
            accounts: vec!["$G"],
            account_detail: None,
        });
    }
    let detail = (acc == "$G").then(|| {
        let stats = shared.router().stats();
        AccountInfo {
            account_name: "$G",
            update_time: format_rfc3339_nanos(system_time_nanos(shared.monitor().start)),
            expired: false,
            complete: true,
            jetstream_enabled: shared.options().jetstream,
            leafnode_connections: 0,
            client_connections: shared.connection_count(),
            subscriptions: stats.subscriptions,
            name_tag: "$G",
            sublist_stats: stats.into(),
        }
    });
    Reply::json(&Accountz {
        server_id: shared.server_id().to_string(),
        now,
        accounts: Vec::new(),
        account_detail: detail,
    })
}

#[derive(Debug, Serialize)]
struct Routez {
    server_id: String,
    server_name: String,
    now: String,
    num_routes: u64,
    routes: [(); 0],
}

pub fn routez(shared: &Arc<ServerShared>) -> Reply {
    Reply::json(&Routez {
        server_id: shared.server_id().to_string(),
        server_name: shared.info().server_name.clone(),
        now: format_rfc3339_nanos(unix_nanos()),
        num_routes: 0,
        routes: [],
    })
}

#[derive(Debug, Serialize)]
struct Gatewayz {
    server_id: String,
    now: String,
    outbound_gateways: BTreeMap<String, ()>,
    inbound_gateways: BTreeMap<String, ()>,
}

pub fn gatewayz(shared: &Arc<ServerShared>) -> Reply {
    Reply::json(&Gatewayz {
        server_id: shared.server_id().to_string(),
        now: format_rfc3339_nanos(unix_nanos()),
        outbound_gateways: BTreeMap::new(),
        inbound_gateways: BTreeMap::new(),
    })
}

#[derive(Debug, Serialize)]
struct Leafz {
    server_id: String,
    now: String,
    leafnodes: u64,
    leafs: [(); 0],
}

pub fn leafz(shared: &Arc<ServerShared>) -> Reply {
    Reply::json(&Leafz {
        server_id: shared.server_id().to_string(),
        now: format_rfc3339_nanos(unix_nanos()),
        leafnodes: 0,
        leafs: [],
    })
}
