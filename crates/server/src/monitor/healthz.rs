//! `/healthz`: 200 `{"status":"ok"}` when the server accepts clients and, if JetStream
//! is configured, its engine answers; 503 with the reason otherwise.
//! `js-enabled-only` and `js-server-only` limit the check to the JetStream engine
//! running (a single server has no meta leader or replicas to wait for).

use std::sync::Arc;

use hyper::StatusCode;
use serde::Serialize;

use super::http::{Query, Reply};
use super::varz::engine_report;
use crate::server::ServerShared;

#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
}

pub async fn healthz(shared: &Arc<ServerShared>, q: &Query) -> Result<Reply, Reply> {
    // Parsed for their errors; every JetStream check here is the same one.
    q.bool("js-enabled-only")?;
    q.bool("js-server-only")?;
    q.bool("js-enabled")?;
    q.bool("details")?;
    if shared.is_shutting_down() {
        return Ok(unavailable("Server is shutting down"));
    }
    if shared.options().jetstream && engine_report(shared).await.is_none() {
        return Ok(unavailable("JetStream is not running"));
    }
    Ok(Reply::json_compact(
        StatusCode::OK,
        &Health {
            status: "ok",
            error: String::new(),
        },
    ))
}

fn unavailable(why: &str) -> Reply {
    Reply::json_compact(
        StatusCode::SERVICE_UNAVAILABLE,
        &Health {
            status: "unavailable",
            error: why.to_string(),
        },
    )
}
