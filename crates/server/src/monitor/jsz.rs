//! `/jsz`: JetStream usage and, with `accounts`, `streams`, `consumers` and `config`,
//! the account's streams and consumers (nats-server's `JSInfo`).

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use sluice_jetstream::engine::{EngineReport, StreamReport};
use sluice_jetstream::time::format_rfc3339_nanos;

use super::http::{Query, Reply};
use super::json::unix_nanos;
use super::varz::{engine_report, js_config, js_stats, Empty, JsConfig, JsStats};
use crate::server::ServerShared;

/// The only account: nats-server's global account.
const ACCOUNT: &str = "$G";

#[derive(Debug, Serialize)]
struct Jsz {
    #[serde(flatten)]
    stats: Option<JsStats>,
    server_id: String,
    now: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    disabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<JsConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limits: Option<Empty>,
    streams: usize,
    consumers: usize,
    messages: u64,
    bytes: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    account_details: Vec<AccountDetail>,
    total: usize,
}

#[derive(Debug, Serialize)]
struct AccountDetail {
    name: &'static str,
    id: &'static str,
    #[serde(flatten)]
    stats: JsStats,
    #[serde(rename = "stream_detail", skip_serializing_if = "Vec::is_empty")]
    streams: Vec<StreamDetail>,
}

#[derive(Debug, Serialize)]
struct Leader {
    leader: String,
}

#[derive(Debug, Serialize)]
struct StreamDetail {
    name: String,
    created: String,
    cluster: Leader,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<Value>,
    state: Value,
    #[serde(rename = "consumer_detail", skip_serializing_if = "Vec::is_empty")]
    consumers: Vec<Value>,
}

fn parse(json: &str) -> Value {
    serde_json::from_str(json).unwrap_or(Value::Null)
}

pub async fn jsz(shared: &Arc<ServerShared>, q: &Query) -> Result<Reply, Reply> {
    let mut accounts = q.bool("accounts")?;
    let mut streams = q.bool("streams")?;
    let consumers = q.bool("consumers")?;
    let config = q.bool("config")?;
    let acc = q.get("acc");
    let offset = q.int("offset")?.max(0) as usize;
    if consumers {
        streams = true;
    }
    if streams && acc.is_empty() {
        accounts = true;
    }
    let now = unix_nanos();
    let base = Jsz {
        stats: None,
        server_id: shared.server_id().to_string(),
        now: format_rfc3339_nanos(now),
        disabled: false,
        config: None,
        limits: None,
        streams: 0,
        consumers: 0,
        messages: 0,
        bytes: 0,
        account_details: Vec::new(),
        total: 0,
    };
    if !shared.options().jetstream {
        return Ok(Reply::json(&Jsz {
            disabled: true,
            ..base
        }));
    }
    let Some(r) = engine_report(shared).await else {
        return Ok(Reply::json(&Jsz {
            disabled: true,
            ..base
        }));
    };
    let wanted = acc == ACCOUNT || (acc.is_empty() && accounts && offset == 0);
    let account_details = if wanted {
        vec![account_detail(shared, &r, streams, consumers, config)]
    } else {
        Vec::new()
    };
    Ok(Reply::json(&Jsz {
        stats: Some(js_stats(&r)),
        config: Some(js_config(&r)),
        limits: Some(Empty {}),
        streams: r.streams.len(),
        consumers: r.streams.iter().map(|s| s.consumers.len()).sum(),
        messages: r.streams.iter().map(|s| s.messages).sum(),
        bytes: r.streams.iter().map(|s| s.bytes).sum(),
        account_details,
        total: 1,
        ..base
    }))
}

fn account_detail(
    shared: &ServerShared,
    r: &EngineReport,
    streams: bool,
    consumers: bool,
    config: bool,
) -> AccountDetail {
    let mut stats = js_stats(r);
    // Per account, nats-server reports no accounts count and no API level.
    stats.accounts = 0;
    stats.api.level = 0;
    let details = if streams {
        r.streams
            .iter()
            .map(|s| stream_detail(shared, s, consumers, config))
            .collect()
    } else {
        Vec::new()
    };
    AccountDetail {
        name: ACCOUNT,
        id: ACCOUNT,
        stats,
        streams: details,
    }
}

fn stream_detail(
    shared: &ServerShared,
    s: &StreamReport,
    consumers: bool,
    config: bool,
) -> StreamDetail {
    let consumer_detail = if consumers {
        s.consumers
            .iter()
            .map(|c| {
                let mut info = parse(&c.info_json);
                if !config {
                    if let Value::Object(m) = &mut info {
                        m.remove("config");
                    }
                }
                info
            })
            .collect()
    } else {
        Vec::new()
    };
    StreamDetail {
        name: s.name.clone(),
        created: s.created.clone(),
        cluster: Leader {
            leader: shared.info().server_name.clone(),
        },
        config: config.then(|| parse(&s.config_json)),
        state: parse(&s.state_json),
        consumers: consumer_detail,
    }
}
