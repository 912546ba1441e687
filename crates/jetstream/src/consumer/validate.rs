//! Consumer configuration on the way in and out, as nats-server 2.15 does it:
//!
//! - `decode_create`: the CONSUMER.CREATE body, decoded as strictly as Go's
//!   `json.Decoder` with `DisallowUnknownFields` (texts of `gojson`, plus the texts of
//!   nats' own unmarshalers for `action` and `priority_policy`).
//! - `prepare`: the checks of `jsConsumerCreateRequest` (subject against body),
//!   `setStaticConsumerMetadata`, `setConsumerConfigDefaults`, `checkConsumerCfg` and
//!   the work-queue rules of `addConsumer`, in that order, with nats-server's codes.
//! - For a consumer that already exists: `adopt_existing`, then (work-queue streams)
//!   `check_workqueue_overlap`, then `check_update` (`checkNewConsumerConfig`).
//! - `to_json`/`to_json_with`: the config as ConsumerInfo shows it;
//!   `encode_stored`/`decode_stored`: the persisted form.
//!
//! Limits nats-server takes from its own configuration (`max_request_batch`,
//! server/account `max_ack_pending`) are unset on this server, so those checks never
//! fire. The stream's `consumer_limits` are enforced.
//!
//! Supported beyond nats-server's checks: every priority policy (`overflow`,
//! `pinned_client`, `prioritized`) is accepted as nats-server accepts it. Refused
//! with a 10052 error after all of nats-server's checks pass: the `flow_control` ack
//! policy and `sourcing` consumers, which only serve stream sourcing (not supported
//! by this server).

use std::collections::BTreeMap;

use sluice_subject::{is_literal, is_valid_subject, subjects_collide, subset_of};

use crate::api::consumer_types::{
    AckPolicyJson, ConsumerConfigJson, DeliverPolicyJson, PriorityPolicyJson, ReplayPolicyJson,
    CREATE_CONSUMER_REQUEST,
};
use crate::api::errors::{self, ApiError};
use crate::api::gojson::{self, Node, NodeKind};
use crate::stream::config::{is_valid_asset_name, Retention, StreamConfig};
use crate::time;
use crate::time::go_duration;

use super::config::*;

/// Longest durable name (`JSMaxNameLen`).
pub const MAX_NAME_LEN: usize = 255;
/// Longest description (`JSMaxDescriptionLen`).
pub const MAX_DESCRIPTION_LEN: usize = 4 * 1024;
/// Most bytes of metadata keys plus values (`JSMaxMetadataLen`).
pub const MAX_METADATA_LEN: usize = 128 * 1024;
/// The idle heartbeat nats-server requires of `flow_control` ack consumers.
const SOURCE_HEALTH_HEARTBEAT: i64 = 1_000_000_000;
const MIN_HEARTBEAT: i64 = 100_000_000;
const MIN_MAX_EXPIRES: i64 = 1_000_000;

/// Metadata keys: stored (`_nats.req.level`) and response-only.
pub const REQUIRED_LEVEL_KEY: &str = "_nats.req.level";
pub const SERVER_VERSION_KEY: &str = "_nats.ver";
pub const SERVER_LEVEL_KEY: &str = "_nats.level";

/// CREATE's `action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Action {
    #[default]
    CreateOrUpdate,
    Create,
    Update,
}

/// A decoded CONSUMER.CREATE body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateRequest {
    pub stream_name: String,
    pub config: ConsumerConfigJson,
    pub action: Action,
    pub pedantic: bool,
}

/// The CREATE subject forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateCall<'a> {
    /// `$JS.API.CONSUMER.CREATE.<stream>` (legacy ephemeral, or `config.name`).
    Create { stream: &'a str },
    /// `$JS.API.CONSUMER.CREATE.<stream>.<name>[.<filter...>]`.
    Named {
        stream: &'a str,
        name: &'a str,
        filter: Option<&'a str>,
    },
    /// `$JS.API.CONSUMER.DURABLE.CREATE.<stream>.<durable>`.
    Durable { stream: &'a str, durable: &'a str },
}

impl<'a> CreateCall<'a> {
    pub fn stream(&self) -> &'a str {
        match *self {
            CreateCall::Create { stream }
            | CreateCall::Named { stream, .. }
            | CreateCall::Durable { stream, .. } => stream,
        }
    }
}

/// The name the consumer will have, known before `prepare` (to look up an existing
/// consumer); empty for a legacy ephemeral whose name is still to be generated.
pub fn consumer_name<'a>(call: &CreateCall<'a>, req: &'a CreateRequest) -> &'a str {
    match *call {
        CreateCall::Create { .. } => &req.config.name,
        CreateCall::Named { name, .. } => name,
        CreateCall::Durable { durable, .. } => durable,
    }
}

// ---------------------------------------------------------------------------------
// Decoding

/// Decodes a CONSUMER.CREATE body (10025 with Go's text on failure).
pub fn decode_create(body: &[u8]) -> Result<CreateRequest, ApiError> {
    let mut map = match gojson::decode(body, &CREATE_CONSUMER_REQUEST, "CreateConsumerRequest") {
        Ok(m) => m,
        Err(e) => return Err(errors::invalid_json(go_text_for(body, e.0))),
    };
    // `backoff` is decoded here (no gojson type for `[]time.Duration`).
    if let Some(e) = backoff_error(body) {
        return Err(errors::invalid_json(e));
    }
    let action = match map.remove("action").as_ref().and_then(|v| v.as_str()) {
        Some("create") => Action::Create,
        Some("update") => Action::Update,
        _ => Action::CreateOrUpdate,
    };
    let pedantic = map
        .remove("pedantic")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let stream_name = match map.remove("stream_name") {
        Some(serde_json::Value::String(s)) => s,
        _ => String::new(),
    };
    let config = match map.remove("config") {
        Some(serde_json::Value::Object(mut m)) => {
            // Go leaves a `null` element of `[]time.Duration` at zero.
            if let Some(serde_json::Value::Array(items)) = m.get_mut("backoff") {
                for item in items.iter_mut().filter(|i| i.is_null()) {
                    *item = serde_json::Value::from(0);
                }
            }
            serde_json::from_value(serde_json::Value::Object(m)).map_err(errors::invalid_json)?
        }
        _ => ConsumerConfigJson::default(),
    };
    Ok(CreateRequest {
        stream_name,
        config,
        action,
        pedantic,
    })
}

/// Every value of a key (case-folded, like Go) of the JSON objects in `nodes`.
fn members<'n>(nodes: &'n [Node], key: &'n str) -> impl Iterator<Item = &'n Node> + 'n {
    nodes.iter().flat_map(move |n| match &n.kind {
        NodeKind::Obj(m) => m
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
            .collect::<Vec<_>>(),
        _ => Vec::new(),
    })
}

fn raw(body: &[u8], n: &Node) -> String {
    String::from_utf8_lossy(&body[n.start..n.end]).into_owned()
}

fn kind_word(n: &Node) -> &'static str {
    match n.kind {
        NodeKind::Null => "null",
        NodeKind::Bool(_) => "bool",
        NodeKind::Num(_) => "number",
        NodeKind::Str(_) => "string",
        NodeKind::Arr(_) => "array",
        NodeKind::Obj(_) => "object",
    }
}

/// Adjusts gojson's text where nats-server's differs: the custom unmarshalers of
/// `action` and `priority_policy`, and Go's element paths in `[]string` fields.
fn go_text_for(body: &[u8], text: String) -> String {
    let Ok(docs) = gojson::parse_values(body) else {
        return text;
    };
    if text.starts_with("can not unmarshal ") {
        // The first enum value (in document order) that failed is the one reported.
        for doc in &docs {
            let NodeKind::Obj(top) = &doc.kind else {
                continue;
            };
            for (k, v) in top {
                if k.eq_ignore_ascii_case("action") {
                    let r = raw(body, v);
                    if !matches!(r.as_str(), "\"\"" | "\"create\"" | "\"update\"") {
                        return format!("unknown consumer action: {r}");
                    }
                } else if k.eq_ignore_ascii_case("config") {
                    let NodeKind::Obj(cfg) = &v.kind else {
                        continue;
                    };
                    for (ck, cv) in cfg {
                        let allowed: &[&str] = match ck.to_ascii_lowercase().as_str() {
                            "deliver_policy" => crate::api::consumer_types::DELIVER_POLICIES,
                            "ack_policy" => crate::api::consumer_types::ACK_POLICIES,
                            "replay_policy" => crate::api::consumer_types::REPLAY_POLICIES,
                            "priority_policy" => crate::api::consumer_types::PRIORITY_POLICIES,
                            _ => continue,
                        };
                        let r = raw(body, cv);
                        if allowed.iter().any(|a| r == format!("\"{a}\"")) {
                            continue;
                        }
                        if ck.eq_ignore_ascii_case("priority_policy") {
                            return format!("unknown priority policy: {r}");
                        }
                        return text;
                    }
                }
            }
        }
        return text;
    }
    if text == "Time.UnmarshalJSON: input is not a JSON string" {
        // nats-server 2.15.1 reports a Go type error naming the field.
        let configs: Vec<Node> = members(&docs, "config").cloned().collect();
        for c in &configs {
            let NodeKind::Obj(m) = &c.kind else {
                continue;
            };
            for (k, v) in m {
                let field = k.to_ascii_lowercase();
                if (field == "opt_start_time" || field == "pause_until")
                    && !matches!(v.kind, NodeKind::Str(_) | NodeKind::Null)
                {
                    return format!(
                        "json: cannot unmarshal {} into Go struct field CreateConsumerRequest.config.{field} of type time.Time",
                        kind_word(v)
                    );
                }
            }
        }
        return text;
    }
    for field in ["filter_subjects", "priority_groups"] {
        let prefix =
            format!("into Go struct field CreateConsumerRequest.config.{field} of type string");
        if !text.ends_with(&prefix) {
            continue;
        }
        let configs: Vec<Node> = members(&docs, "config").cloned().collect();
        for list in members(&configs, field) {
            if let NodeKind::Arr(items) = &list.kind {
                if let Some((i, bad)) = items
                    .iter()
                    .enumerate()
                    .find(|(_, n)| !matches!(n.kind, NodeKind::Str(_) | NodeKind::Null))
                {
                    return format!(
                        "json: cannot unmarshal {} into CreateConsumerRequest.config.{field}.{i} of type string",
                        kind_word(bad)
                    );
                }
            }
        }
    }
    text
}

/// Go's error for `config.backoff` (`[]time.Duration`), if any.
fn backoff_error(body: &[u8]) -> Option<String> {
    let docs = gojson::parse_values(body).ok()?;
    let configs: Vec<Node> = members(&docs, "config").cloned().collect();
    for list in members(&configs, "backoff") {
        match &list.kind {
            NodeKind::Null => {}
            NodeKind::Arr(items) => {
                for (i, item) in items.iter().enumerate() {
                    let what = match &item.kind {
                        NodeKind::Null => continue,
                        NodeKind::Num(n) if n.parse::<i64>().is_ok() => continue,
                        NodeKind::Num(n) => format!("number {n}"),
                        _ => kind_word(item).to_string(),
                    };
                    return Some(format!(
                        "json: cannot unmarshal {what} into CreateConsumerRequest.config.backoff.{i} of type time.Duration"
                    ));
                }
            }
            _ => {
                return Some(format!(
                    "json: cannot unmarshal {} into Go struct field CreateConsumerRequest.config.backoff of type []time.Duration",
                    kind_word(list)
                ))
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------------
// Create

/// The checks of the CREATE handler that compare the subject with the body, and the
/// single-server replica check; nats-server makes them before it looks the stream
/// up, so a handler calls this first (`prepare` repeats it).
pub fn check_call(call: &CreateCall<'_>, req: &CreateRequest) -> Result<(), ApiError> {
    let cfg = &req.config;
    if call.stream() != req.stream_name {
        return Err(errors::stream_mismatch());
    }
    let name = consumer_name(call, req);
    if name.contains(['\\', '/']) {
        return Err(errors::consumer_name_contains_path_separators());
    }
    match *call {
        CreateCall::Durable { durable, .. } => {
            if cfg.durable.is_empty() {
                return Err(errors::consumer_durable_name_not_set());
            }
            if durable != cfg.durable {
                return Err(errors::consumer_durable_name_not_match_subject());
            }
        }
        CreateCall::Named { name, .. } => {
            if !cfg.durable.is_empty() && name != cfg.durable {
                return Err(errors::consumer_durable_name_not_match_subject());
            }
        }
        CreateCall::Create { .. } => {
            if !cfg.durable.is_empty() {
                return Err(errors::consumer_ephemeral_with_durable_name());
            }
        }
    }
    if let CreateCall::Named {
        filter: Some(filter),
        ..
    } = *call
    {
        if !filter.is_empty() {
            if !cfg.filter_subjects.is_empty() {
                return Err(errors::consumer_multiple_filters_not_allowed());
            }
            if cfg.filter_subject != filter {
                return Err(errors::consumer_create_filter_subject_mismatch());
            }
        }
    }
    if cfg.num_replicas > 1 {
        return Err(errors::stream_replicas_not_supported());
    }
    Ok(())
}

/// Validates a CREATE for `stream` and returns the configuration to run, with every
/// default applied. `generated_name` names a legacy ephemeral that has no `name`.
/// Errors are nats-server's, in its order.
///
/// For a consumer that already exists, follow with `adopt_existing`.
pub fn prepare(
    call: CreateCall<'_>,
    req: &CreateRequest,
    stream: &StreamConfig,
    generated_name: &str,
    _now: i64,
) -> Result<ConsumerConfig, ApiError> {
    check_call(&call, req)?;
    let mut c = req.config.clone();
    match call {
        CreateCall::Durable { durable, .. } => c.name = durable.to_string(),
        CreateCall::Named { name, .. } => c.name = name.to_string(),
        CreateCall::Create { .. } => {}
    }
    set_static_metadata(&mut c);
    set_defaults(&mut c, stream, req.pedantic)?;
    check_config(&c, stream)?;

    let wq = stream.retention == Retention::WorkQueue && !c.direct && !c.sourcing;
    if wq {
        if !matches!(
            c.ack_policy,
            AckPolicyJson::Explicit | AckPolicyJson::FlowControl
        ) {
            return Err(errors::consumer_wq_requires_explicit_ack());
        }
        if c.deliver_policy != DeliverPolicyJson::All {
            return Err(errors::consumer_wq_consumer_not_deliver_all());
        }
    }
    if c.durable.len() > MAX_NAME_LEN {
        return Err(errors::consumer_name_too_long(MAX_NAME_LEN));
    }

    if c.ack_policy == AckPolicyJson::FlowControl {
        return Err(errors::stream_invalid_config(
            "flow control ack policy is not supported by this server",
        ));
    }
    if c.sourcing {
        return Err(errors::stream_invalid_config(
            "sourcing consumers are not supported by this server",
        ));
    }

    let mut cfg = from_json(&c).map_err(errors::stream_invalid_config)?;
    if cfg.name.is_empty() {
        cfg.name = generated_name.to_string();
        cfg.wire.name_generated = true;
    }
    if !cfg.is_durable() && cfg.inactive_threshold <= 0 {
        cfg.inactive_threshold = DEFAULT_INACTIVE_THRESHOLD;
        cfg.wire.inactive_threshold_defaulted = true;
    }
    Ok(cfg)
}

/// `setStaticConsumerMetadata`: drops response-only keys and records the API level
/// the features in use need.
fn set_static_metadata(c: &mut ConsumerConfigJson) {
    c.metadata.remove(SERVER_VERSION_KEY);
    c.metadata.remove(SERVER_LEVEL_KEY);
    let mut level = 0;
    let paused = c
        .pause_until
        .as_deref()
        .and_then(time::parse_rfc3339)
        .is_some_and(|t| t != i64::MIN);
    if paused
        || c.priority_policy != PriorityPolicyJson::None
        || c.priority_timeout != 0
        || !c.priority_groups.is_empty()
    {
        level = 1;
    }
    if c.ack_policy == AckPolicyJson::FlowControl {
        level = 4;
    }
    c.metadata
        .insert(REQUIRED_LEVEL_KEY.to_string(), level.to_string());
}

fn pedantic_err(msg: &str) -> ApiError {
    errors::pedantic(msg)
}

/// `setConsumerConfigDefaults` (no server or account limits are configured here).
fn set_defaults(
    c: &mut ConsumerConfigJson,
    stream: &StreamConfig,
    pedantic: bool,
) -> Result<(), ApiError> {
    if c.max_deliver == 0 || c.max_deliver < -1 {
        if pedantic && c.max_deliver < -1 {
            return Err(pedantic_err("max_deliver must be set to -1"));
        }
        c.max_deliver = -1;
    }
    // Negative values become 0 (pedantic refuses them), in nats-server's order.
    let zeroed: [(&mut i64, &str); 7] = [
        (&mut c.max_waiting, "max_waiting must not be negative"),
        (&mut c.max_ack_pending, ""),
        (&mut c.max_batch, "max_batch must not be negative"),
        (&mut c.max_expires, "max_expires must not be negative"),
        (&mut c.max_bytes, "max_bytes must not be negative"),
        (&mut c.idle_heartbeat, "idle_heartbeat must not be negative"),
        (
            &mut c.inactive_threshold,
            "inactive_threshold must not be negative",
        ),
    ];
    for (v, msg) in zeroed {
        if msg.is_empty() {
            // max_ack_pending: below -1 means unlimited.
            if *v < -1 {
                if pedantic {
                    return Err(pedantic_err("max_ack_pending must be set to -1"));
                }
                *v = -1;
            }
        } else if *v < 0 {
            if pedantic {
                return Err(pedantic_err(msg));
            }
            *v = 0;
        }
    }
    if c.priority_timeout < 0 {
        if pedantic {
            return Err(pedantic_err("priority_timeout must not be negative"));
        }
        c.priority_timeout = 0;
    }
    if c.deliver_subject.is_empty() && c.max_waiting == 0 {
        c.max_waiting = DEFAULT_MAX_WAITING;
    }
    if c.ack_wait == 0 && matches!(c.ack_policy, AckPolicyJson::Explicit | AckPolicyJson::All) {
        c.ack_wait = DEFAULT_ACK_WAIT;
    }
    if let Some(&first) = c.backoff.first() {
        if pedantic && c.ack_wait != first {
            return Err(pedantic_err(
                "first backoff value has to equal batch AckWait",
            ));
        }
        c.ack_wait = first;
    }
    let limits = &stream.consumer_limits;
    if c.max_ack_pending == 0 {
        if pedantic && limits.max_ack_pending > 0 {
            return Err(pedantic_err(
                "max_ack_pending must be set if it's configured in stream limits",
            ));
        }
        c.max_ack_pending = limits.max_ack_pending;
    }
    if c.inactive_threshold == 0 {
        if pedantic && limits.inactive_threshold > 0 {
            return Err(pedantic_err(
                "inactive_threshold must be set if it's configured in stream limits",
            ));
        }
        c.inactive_threshold = limits.inactive_threshold;
    }
    if c.max_ack_pending == 0 && c.ack_policy != AckPolicyJson::None {
        c.max_ack_pending = DEFAULT_MAX_ACK_PENDING;
    }
    if c.priority_policy == PriorityPolicyJson::PinnedClient && c.priority_timeout == 0 {
        c.priority_timeout = DEFAULT_PRIORITY_TIMEOUT;
    }
    if c.ack_policy == AckPolicyJson::FlowControl && !pedantic {
        c.flow_control = true;
        c.idle_heartbeat = SOURCE_HEALTH_HEARTBEAT;
    }
    Ok(())
}

/// nats' `ErrBadSubject`, as a 10052.
fn bad_subject() -> ApiError {
    errors::stream_invalid_config("invalid subject")
}

/// Every filter, as nats' `gatherSubjectFilters` (the list, then the single one).
fn gather_filters(c: &ConsumerConfigJson) -> Vec<&str> {
    let mut out: Vec<&str> = c.filter_subjects.iter().map(String::as_str).collect();
    if !c.filter_subject.is_empty() {
        out.push(&c.filter_subject);
    }
    out
}

/// nats' `validGroupName`: `^[a-zA-Z0-9/_=-]{1,16}$`.
fn valid_group_name(g: &str) -> bool {
    (1..=16).contains(&g.len())
        && g.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'=' | b'-'))
}

/// `checkConsumerCfg`, for a single server.
fn check_config(c: &ConsumerConfigJson, stream: &StreamConfig) -> Result<(), ApiError> {
    if !c.name.is_empty() && !is_valid_asset_name(&c.name) {
        return Err(errors::stream_invalid_config(
            "consumer name can not contain '.', '*', '>', '\\', '/'",
        ));
    }
    if !c.durable.is_empty() && !is_valid_asset_name(&c.durable) {
        return Err(errors::stream_invalid_config(
            "consumer durable name can not contain '.', '*', '>', '\\', '/'",
        ));
    }
    if c.num_replicas > 0 && c.num_replicas > stream.num_replicas {
        return Err(errors::consumer_replicas_exceeds_stream());
    }
    if c.num_replicas < 0 {
        return Err(errors::replicas_count_cannot_be_negative());
    }
    if matches!(stream.retention, Retention::Interest | Retention::WorkQueue)
        && c.num_replicas != 0
        && c.num_replicas != stream.num_replicas
    {
        return Err(errors::consumer_replicas_should_match_stream());
    }
    if c.backoff.iter().any(|&b| b < 0) {
        return Err(errors::consumer_back_off_negative());
    }
    if c.ack_wait < 0 {
        return Err(errors::consumer_ack_wait_negative());
    }
    if c.ack_policy == AckPolicyJson::FlowControl {
        if c.deliver_subject.is_empty() {
            return Err(errors::consumer_ack_fc_requires_push());
        }
        if !c.flow_control {
            return Err(errors::consumer_ack_fc_requires_fc());
        }
        if c.idle_heartbeat != SOURCE_HEALTH_HEARTBEAT {
            return Err(errors::stream_invalid_config(
                "flow control ack policy heartbeat needs to be 1s",
            ));
        }
        if c.max_ack_pending <= 0 {
            return Err(errors::consumer_ack_fc_requires_max_ack_pending());
        }
        if c.ack_wait != 0 || !c.backoff.is_empty() {
            return Err(errors::consumer_ack_fc_requires_no_ack_wait());
        }
        if c.max_deliver > 0 {
            return Err(errors::consumer_ack_fc_requires_no_max_deliver());
        }
    }
    check_backoff(c.backoff.len(), c.max_deliver)?;
    if c.description.len() > MAX_DESCRIPTION_LEN {
        return Err(errors::consumer_description_too_long(MAX_DESCRIPTION_LEN));
    }

    if !c.deliver_subject.is_empty() {
        if !is_literal(&c.deliver_subject) {
            return Err(errors::consumer_deliver_to_wildcards());
        }
        if !is_valid_subject(&c.deliver_subject) {
            return Err(errors::consumer_invalid_deliver_subject());
        }
        if stream
            .subjects
            .iter()
            .any(|s| subset_of(&c.deliver_subject, s))
        {
            return Err(errors::consumer_deliver_cycle());
        }
        if c.max_waiting != 0 {
            return Err(errors::consumer_push_max_waiting());
        }
        if c.max_ack_pending > 0 && c.ack_policy == AckPolicyJson::None {
            return Err(errors::consumer_max_pending_ack_policy_required());
        }
        if c.idle_heartbeat > 0 && c.idle_heartbeat < MIN_HEARTBEAT {
            return Err(errors::consumer_small_heartbeat());
        }
    } else {
        if c.ack_policy == AckPolicyJson::None && stream.retention == Retention::WorkQueue {
            return Err(errors::consumer_pull_requires_ack());
        }
        if c.rate_limit > 0 {
            return Err(errors::consumer_pull_with_rate_limit());
        }
        if c.max_waiting < 0 {
            return Err(errors::consumer_max_waiting_negative());
        }
        if c.idle_heartbeat > 0 {
            return Err(errors::consumer_hb_requires_push());
        }
        if c.flow_control {
            return Err(errors::consumer_fc_requires_push());
        }
        if c.max_batch < 0 {
            return Err(errors::consumer_max_request_batch_negative());
        }
        if c.max_expires != 0 && c.max_expires < MIN_MAX_EXPIRES {
            return Err(errors::consumer_max_request_expires_too_small());
        }
    }
    let limits = &stream.consumer_limits;
    if limits.max_ack_pending > 0 && c.max_ack_pending > limits.max_ack_pending {
        return Err(errors::consumer_max_pending_ack_excess(
            limits.max_ack_pending,
        ));
    }
    if limits.inactive_threshold > 0 && c.inactive_threshold > limits.inactive_threshold {
        return Err(errors::consumer_inactive_threshold_excess(&go_duration(
            limits.inactive_threshold,
        )));
    }

    if c.direct {
        if c.deliver_subject.is_empty() {
            return Err(errors::consumer_direct_requires_push());
        }
        if !c.durable.is_empty() {
            return Err(errors::consumer_direct_requires_ephemeral());
        }
    }

    if !c.filter_subject.is_empty() && !c.filter_subjects.is_empty() {
        return Err(errors::consumer_duplicate_filter_subjects());
    }
    if !c.filter_subject.is_empty() && !is_valid_subject(&c.filter_subject) {
        return Err(bad_subject());
    }
    if c.filter_subjects.iter().any(String::is_empty) {
        return Err(errors::consumer_empty_filter());
    }
    let filters = gather_filters(c);
    for (i, f) in filters.iter().enumerate() {
        if !is_valid_subject(f) {
            return Err(bad_subject());
        }
        for (j, g) in filters.iter().enumerate() {
            if i != j && subset_of(f, g) {
                return Err(errors::consumer_overlapping_subject_filters());
            }
        }
    }

    check_start(c)?;

    if !c.sample_freq.is_empty() {
        let s = c.sample_freq.strip_suffix('%').unwrap_or(&c.sample_freq);
        match crate::api::consumer_types::parse_go_atoi(s) {
            Err(e) => return Err(errors::consumer_invalid_sampling(e)),
            // Go formats the nil error of a successful parse.
            Ok(n) if n < 0 => return Err(errors::consumer_invalid_sampling("<nil>")),
            Ok(_) => {}
        }
    }
    if c.flow_control && c.idle_heartbeat == 0 {
        return Err(errors::consumer_with_flow_control_needs_heartbeats());
    }
    if !c.durable.is_empty() && !c.name.is_empty() && c.name != c.durable {
        return Err(errors::consumer_create_durable_and_name_mismatch());
    }
    let metadata_len: usize = c.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
    if metadata_len > MAX_METADATA_LEN {
        return Err(errors::consumer_metadata_length(&format!(
            "{}KB",
            MAX_METADATA_LEN / 1024
        )));
    }

    if c.priority_policy != PriorityPolicyJson::None {
        if !c.deliver_subject.is_empty() {
            return Err(errors::consumer_push_with_priority_group());
        }
        if c.priority_groups.is_empty() {
            return Err(errors::consumer_priority_policy_without_group());
        }
        for g in &c.priority_groups {
            if g.is_empty() {
                return Err(errors::consumer_empty_group_name());
            }
            if !valid_group_name(g) {
                return Err(errors::consumer_invalid_group_name());
            }
        }
    } else {
        if !c.priority_groups.is_empty() {
            return Err(errors::consumer_priority_group_with_policy_none());
        }
        if c.priority_timeout > 0 {
            return Err(errors::consumer_pinned_ttl_without_priority_policy_none());
        }
    }
    Ok(())
}

fn check_backoff(len: usize, max_deliver: i64) -> Result<(), ApiError> {
    if len > 0 && max_deliver != -1 && len as i64 > max_deliver {
        return Err(errors::consumer_max_deliver_backoff());
    }
    Ok(())
}

/// Start position against deliver policy (10094).
fn check_start(c: &ConsumerConfigJson) -> Result<(), ApiError> {
    let bad_start = |dp: &str, start: &str| {
        Err(errors::consumer_invalid_policy(format!(
            "consumer delivery policy is deliver {dp}, but optional start {start} is also set"
        )))
    };
    let not_set = |dp: &str, what: &str| {
        Err(errors::consumer_invalid_policy(format!(
            "consumer delivery policy is deliver {dp}, but optional {what} is not set"
        )))
    };
    let seq = c.opt_start_seq > 0;
    let time = c.opt_start_time.is_some();
    match c.deliver_policy {
        DeliverPolicyJson::All | DeliverPolicyJson::Last | DeliverPolicyJson::New => {
            let dp = match c.deliver_policy {
                DeliverPolicyJson::All => "all",
                DeliverPolicyJson::Last => "last",
                _ => "new",
            };
            if seq {
                return bad_start(dp, "sequence");
            }
            if time {
                return bad_start(dp, "time");
            }
        }
        DeliverPolicyJson::LastPerSubject => {
            if seq {
                return bad_start("last per subject", "sequence");
            }
            if time {
                return bad_start("last per subject", "time");
            }
            if c.filter_subject.is_empty() && c.filter_subjects.is_empty() {
                return not_set("last per subject", "filter subject");
            }
        }
        DeliverPolicyJson::ByStartSequence => {
            if !seq {
                return not_set("by start sequence", "start sequence");
            }
            if time {
                return bad_start("by start sequence", "time");
            }
        }
        DeliverPolicyJson::ByStartTime => {
            if !time {
                return not_set("by start time", "start time");
            }
            if c.opt_start_seq != 0 {
                return bad_start("by start time", "start sequence");
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Existing consumers and updates

/// For a CREATE naming a consumer that already exists: takes over what nats-server
/// keeps from the running consumer (`pause_until`, which only CONSUMER.PAUSE
/// changes, with the API level metadata it implies; the ephemeral inactivity
/// default, decided by the running consumer's durability), and for
/// `action: create` refuses a configuration that differs (10148).
pub fn adopt_existing(
    action: Action,
    old: &ConsumerConfig,
    new: &mut ConsumerConfig,
) -> Result<(), ApiError> {
    new.pause_until = old.pause_until;
    new.wire.pause_until_offset = old.wire.pause_until_offset;
    let priority = new.priority_policy != PriorityPolicy::None
        || new.priority_timeout != 0
        || !new.priority_groups.is_empty();
    let paused = new.pause_until.is_some_and(|t| t != i64::MIN);
    if new.metadata.get(REQUIRED_LEVEL_KEY).map(String::as_str) != Some("4") {
        let level = if priority || paused { "1" } else { "0" };
        new.metadata
            .insert(REQUIRED_LEVEL_KEY.to_string(), level.to_string());
    }
    if action == Action::Create {
        // nats-server compares the request before the ephemeral default is stamped,
        // with the stored API level.
        let mut probe = new.clone();
        if probe.wire.inactive_threshold_defaulted {
            probe.inactive_threshold = 0;
        }
        match old.metadata.get(REQUIRED_LEVEL_KEY) {
            Some(v) => {
                probe
                    .metadata
                    .insert(REQUIRED_LEVEL_KEY.to_string(), v.clone());
            }
            None => {
                probe.metadata.remove(REQUIRED_LEVEL_KEY);
            }
        }
        if !same_config(old, &probe) {
            return Err(errors::consumer_already_exists());
        }
    }
    // On an update nats-server stamps the ephemeral default only when the running
    // consumer is not durable and has an inactivity threshold (whatever the update
    // says of `durable_name`); observed against nats-server 2.15.1.
    let stamps = !old.is_durable() && old.inactive_threshold > 0;
    if new.wire.inactive_threshold_defaulted && !stamps {
        new.inactive_threshold = 0;
    } else if stamps && new.inactive_threshold <= 0 {
        new.inactive_threshold = DEFAULT_INACTIVE_THRESHOLD;
        new.wire.inactive_threshold_defaulted = true;
    }
    Ok(())
}

/// Go's `reflect.DeepEqual` of two configs (presentation flags aside; the offsets of
/// times count, as Go compares their locations).
fn same_config(a: &ConsumerConfig, b: &ConsumerConfig) -> bool {
    let strip = |c: &ConsumerConfig| {
        let mut c = c.clone();
        c.wire.name_generated = false;
        c.wire.inactive_threshold_defaulted = false;
        c
    };
    strip(a) == strip(b)
}

/// Work-queue streams: a new consumer's filters may not overlap another's (10100),
/// and an unfiltered one can't join others (10099). `others` are the stream's other
/// consumers (not the one being updated); direct ones are not compared. For an
/// update nats-server only makes the overlap test, which this also gives when the
/// updated consumer is filtered.
pub fn check_workqueue_overlap<'a>(
    new: &ConsumerConfig,
    others: impl Iterator<Item = &'a ConsumerConfig>,
) -> Result<(), ApiError> {
    if new.direct {
        return Ok(());
    }
    // Direct consumers count as present but are not compared (nats-server's
    // `numLimitableConsumers` and `partitionUnique`).
    let others: Vec<&ConsumerConfig> = others.collect();
    if others.is_empty() {
        return Ok(());
    }
    let mine = new.filters();
    if mine.is_empty() {
        return Err(errors::consumer_wq_multiple_unfiltered());
    }
    for f in &mine {
        for o in others.iter().filter(|o| !o.direct) {
            let theirs = o.filters();
            if theirs.is_empty() || theirs.iter().any(|t| subjects_collide(f, t)) {
                return Err(errors::consumer_wq_consumer_not_unique());
            }
        }
    }
    Ok(())
}

/// `checkNewConsumerConfig`: which fields an update may change. Errors other than
/// nats-server's API errors come as 10012 with its text.
///
/// A push consumer's deliver subject may change only while nobody listens on the old
/// one; use `check_update_with` to tell.
pub fn check_update(old: &ConsumerConfig, new: &ConsumerConfig) -> Result<(), ApiError> {
    check_update_with(old, new, false)
}

/// `check_update`, knowing whether the old deliver subject has interest (10013 if it
/// has and the subject changes).
pub fn check_update_with(
    old: &ConsumerConfig,
    new: &ConsumerConfig,
    old_deliver_subject_has_interest: bool,
) -> Result<(), ApiError> {
    if same_config(old, new) {
        return Ok(());
    }
    let fail = |msg: &str| Err(errors::consumer_create(msg));
    if old.deliver_policy != new.deliver_policy {
        return fail("deliver policy can not be updated");
    }
    if old.mem_storage != new.mem_storage {
        return fail("storage type can not be updated");
    }
    if old.direct != new.direct {
        return fail("direct can not be updated");
    }
    if old.opt_start_seq != new.opt_start_seq {
        return fail("start sequence can not be updated");
    }
    if old.opt_start_time != new.opt_start_time {
        return fail("start time can not be updated");
    }
    if old.ack_policy != new.ack_policy {
        return fail("ack policy can not be updated");
    }
    if old.replay_policy != new.replay_policy {
        return fail("replay policy can not be updated");
    }
    if old.idle_heartbeat != new.idle_heartbeat {
        return fail("heart beats can not be updated");
    }
    if old.flow_control != new.flow_control {
        return fail("flow control can not be updated");
    }
    if old.deliver_subject != new.deliver_subject {
        if old.deliver_subject.is_empty() {
            return fail("can not update pull consumer to push based");
        }
        if new.deliver_subject.is_empty() {
            return fail("can not update push consumer to pull based");
        }
        if old_deliver_subject_has_interest {
            return Err(errors::consumer_name_exist());
        }
    }
    if old.max_waiting != new.max_waiting {
        return fail("max waiting can not be updated");
    }
    check_backoff(new.backoff.len(), new.max_deliver)
}

// ---------------------------------------------------------------------------------
// Conversions

fn time_offset(s: &str) -> i32 {
    let b = s.as_bytes();
    if b.len() < 6 || matches!(b[b.len() - 1], b'Z' | b'z') {
        return 0;
    }
    let tail = &s[s.len() - 6..];
    let sign = if tail.starts_with('-') { -1 } else { 1 };
    let h: i32 = tail[1..3].parse().unwrap_or(0);
    let m: i32 = tail[4..6].parse().unwrap_or(0);
    sign * (h * 3600 + m * 60)
}

/// Formats a time as Go's RFC 3339 with the offset it was given.
fn format_time(unix_nanos: i64, offset: i32) -> String {
    if unix_nanos == i64::MIN {
        return time::ZERO_TIME.to_string();
    }
    if offset == 0 {
        return time::format_rfc3339_nanos(unix_nanos);
    }
    let local = unix_nanos.saturating_add(i64::from(offset) * 1_000_000_000);
    let mut s = time::format_rfc3339_nanos(local);
    s.pop(); // the `Z`
    let a = offset.unsigned_abs();
    s.push_str(&format!(
        "{}{:02}:{:02}",
        if offset < 0 { '-' } else { '+' },
        a / 3600,
        (a % 3600) / 60
    ));
    s
}

fn parse_time(s: &Option<String>, field: &str) -> Result<Option<(i64, i32)>, String> {
    match s {
        None => Ok(None),
        Some(t) => time::parse_rfc3339(t)
            .map(|ns| Some((ns, time_offset(t))))
            .ok_or_else(|| format!("bad {field} {t:?}")),
    }
}

/// The internal config of a wire config, without validation (also for stored
/// configs).
fn from_json(c: &ConsumerConfigJson) -> Result<ConsumerConfig, String> {
    let start = parse_time(&c.opt_start_time, "opt_start_time")?;
    let pause = parse_time(&c.pause_until, "pause_until")?;
    Ok(ConsumerConfig {
        durable: c.durable.clone(),
        name: c.name.clone(),
        description: c.description.clone(),
        deliver_policy: match c.deliver_policy {
            DeliverPolicyJson::All => DeliverPolicy::All,
            DeliverPolicyJson::Last => DeliverPolicy::Last,
            DeliverPolicyJson::New => DeliverPolicy::New,
            DeliverPolicyJson::ByStartSequence => DeliverPolicy::ByStartSequence,
            DeliverPolicyJson::ByStartTime => DeliverPolicy::ByStartTime,
            DeliverPolicyJson::LastPerSubject => DeliverPolicy::LastPerSubject,
        },
        opt_start_seq: c.opt_start_seq,
        opt_start_time: start.map(|(t, _)| t),
        ack_policy: match c.ack_policy {
            AckPolicyJson::None => AckPolicy::None,
            AckPolicyJson::All => AckPolicy::All,
            AckPolicyJson::Explicit => AckPolicy::Explicit,
            AckPolicyJson::FlowControl => {
                return Err("flow control ack policy is not supported by this server".into())
            }
        },
        ack_wait: c.ack_wait,
        max_deliver: c.max_deliver,
        backoff: c.backoff.clone(),
        filter_subject: c.filter_subject.clone(),
        filter_subjects: c.filter_subjects.clone(),
        replay_policy: match c.replay_policy {
            ReplayPolicyJson::Instant => ReplayPolicy::Instant,
            ReplayPolicyJson::Original => ReplayPolicy::Original,
        },
        rate_limit_bps: c.rate_limit,
        sample_freq: c.sample_freq.clone(),
        max_waiting: c.max_waiting,
        max_ack_pending: c.max_ack_pending,
        flow_control: c.flow_control,
        headers_only: c.headers_only,
        max_batch: c.max_batch,
        max_expires: c.max_expires,
        max_bytes: c.max_bytes,
        deliver_subject: c.deliver_subject.clone(),
        deliver_group: c.deliver_group.clone(),
        idle_heartbeat: c.idle_heartbeat,
        inactive_threshold: c.inactive_threshold,
        num_replicas: c.num_replicas,
        mem_storage: c.mem_storage,
        direct: c.direct,
        metadata: c.metadata.clone(),
        pause_until: pause.map(|(t, _)| t),
        priority_groups: c.priority_groups.clone(),
        priority_policy: match c.priority_policy {
            PriorityPolicyJson::None => PriorityPolicy::None,
            PriorityPolicyJson::Overflow => PriorityPolicy::Overflow,
            PriorityPolicyJson::PinnedClient => PriorityPolicy::PinnedClient,
            PriorityPolicyJson::Prioritized => PriorityPolicy::Prioritized,
        },
        priority_timeout: c.priority_timeout,
        wire: WireDetails {
            name_generated: false,
            inactive_threshold_defaulted: false,
            opt_start_time_offset: start.map_or(0, |(_, o)| o),
            pause_until_offset: pause.map_or(0, |(_, o)| o),
        },
    })
}

/// The config as CONSUMER.CREATE and CONSUMER.INFO show it (with the response-only
/// metadata `_nats.ver` and `_nats.level`).
pub fn to_json(cfg: &ConsumerConfig) -> ConsumerConfigJson {
    to_json_with(cfg, Some(crate::api::VERSION_AND_LEVEL))
}

/// The config as JSON; `dynamic` = the version and API level to add to the metadata
/// (CREATE and INFO do, CONSUMER.LIST and the stored form don't).
pub fn to_json_with(cfg: &ConsumerConfig, dynamic: Option<(&str, u32)>) -> ConsumerConfigJson {
    let mut metadata: BTreeMap<String, String> = cfg.metadata.clone();
    if let Some((version, level)) = dynamic {
        metadata.insert(SERVER_VERSION_KEY.into(), version.into());
        metadata.insert(SERVER_LEVEL_KEY.into(), level.to_string());
    }
    ConsumerConfigJson {
        durable: cfg.durable.clone(),
        name: if cfg.wire.name_generated {
            String::new()
        } else {
            cfg.name.clone()
        },
        description: cfg.description.clone(),
        deliver_policy: match cfg.deliver_policy {
            DeliverPolicy::All => DeliverPolicyJson::All,
            DeliverPolicy::Last => DeliverPolicyJson::Last,
            DeliverPolicy::New => DeliverPolicyJson::New,
            DeliverPolicy::ByStartSequence => DeliverPolicyJson::ByStartSequence,
            DeliverPolicy::ByStartTime => DeliverPolicyJson::ByStartTime,
            DeliverPolicy::LastPerSubject => DeliverPolicyJson::LastPerSubject,
        },
        opt_start_seq: cfg.opt_start_seq,
        opt_start_time: cfg
            .opt_start_time
            .map(|t| format_time(t, cfg.wire.opt_start_time_offset)),
        ack_policy: match cfg.ack_policy {
            AckPolicy::None => AckPolicyJson::None,
            AckPolicy::All => AckPolicyJson::All,
            AckPolicy::Explicit => AckPolicyJson::Explicit,
        },
        ack_wait: cfg.ack_wait,
        max_deliver: cfg.max_deliver,
        backoff: cfg.backoff.clone(),
        filter_subject: cfg.filter_subject.clone(),
        filter_subjects: cfg.filter_subjects.clone(),
        replay_policy: match cfg.replay_policy {
            ReplayPolicy::Instant => ReplayPolicyJson::Instant,
            ReplayPolicy::Original => ReplayPolicyJson::Original,
        },
        rate_limit: cfg.rate_limit_bps,
        sample_freq: cfg.sample_freq.clone(),
        max_waiting: cfg.max_waiting,
        max_ack_pending: cfg.max_ack_pending,
        flow_control: cfg.flow_control,
        headers_only: cfg.headers_only,
        max_batch: cfg.max_batch,
        max_expires: cfg.max_expires,
        max_bytes: cfg.max_bytes,
        deliver_subject: cfg.deliver_subject.clone(),
        deliver_group: cfg.deliver_group.clone(),
        idle_heartbeat: cfg.idle_heartbeat,
        inactive_threshold: cfg.inactive_threshold,
        num_replicas: cfg.num_replicas,
        mem_storage: cfg.mem_storage,
        direct: cfg.direct,
        sourcing: false,
        metadata,
        pause_until: cfg
            .pause_until
            .map(|t| format_time(t, cfg.wire.pause_until_offset)),
        priority_groups: cfg.priority_groups.clone(),
        priority_policy: match cfg.priority_policy {
            PriorityPolicy::None => PriorityPolicyJson::None,
            PriorityPolicy::Overflow => PriorityPolicyJson::Overflow,
            PriorityPolicy::PinnedClient => PriorityPolicyJson::PinnedClient,
            PriorityPolicy::Prioritized => PriorityPolicyJson::Prioritized,
        },
        priority_timeout: cfg.priority_timeout,
    }
}

/// The persisted form: the config JSON with its name always present (as nats-server
/// stores it), so a restarted server shows `name` even for a legacy ephemeral.
pub fn encode_stored(cfg: &ConsumerConfig) -> Vec<u8> {
    let mut j = to_json_with(cfg, None);
    j.name = cfg.name.clone();
    gojson::encode(&j)
}

/// Reads `encode_stored`'s output back. No validation: the config was valid when
/// stored.
pub fn decode_stored(bytes: &[u8]) -> Result<ConsumerConfig, String> {
    let j: ConsumerConfigJson = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    from_json(&j)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::types::StreamConfigJson;

    fn stream(json: &str) -> StreamConfig {
        let j: StreamConfigJson = serde_json::from_str(json).unwrap();
        crate::stream::config::check(&j, false).unwrap()
    }

    fn s_stream() -> StreamConfig {
        stream(r#"{"name":"S","subjects":["s.>"]}"#)
    }

    /// Parses a test subject into a call (what the router will do).
    fn call(subject: &str) -> CreateCall<'_> {
        let t: Vec<&str> = subject.split('.').collect();
        match t.as_slice() {
            ["$JS", "API", "CONSUMER", "DURABLE", "CREATE", s, d] => CreateCall::Durable {
                stream: s,
                durable: d,
            },
            ["$JS", "API", "CONSUMER", "CREATE", s] => CreateCall::Create { stream: s },
            ["$JS", "API", "CONSUMER", "CREATE", s, n] => CreateCall::Named {
                stream: s,
                name: n,
                filter: None,
            },
            ["$JS", "API", "CONSUMER", "CREATE", s, n, ..] => {
                let skip = "$JS.API.CONSUMER.CREATE.".len() + s.len() + n.len() + 2;
                CreateCall::Named {
                    stream: s,
                    name: n,
                    filter: Some(&subject[skip..]),
                }
            }
            _ => panic!("bad test subject {subject}"),
        }
    }

    fn create_on(st: &StreamConfig, subject: &str, body: &str) -> Result<ConsumerConfig, ApiError> {
        let req = decode_create(body.as_bytes())?;
        prepare(call(subject), &req, st, "GENERATED", 0)
    }

    fn create(subject: &str, body: &str) -> Result<ConsumerConfig, ApiError> {
        create_on(&s_stream(), subject, body)
    }

    fn cfg_json(cfg: &ConsumerConfig) -> String {
        String::from_utf8(gojson::encode(&to_json(cfg))).unwrap()
    }

    const META: &str =
        r#""metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}"#;

    /// `config` objects observed in nats-server 2.15.1's CREATE responses.
    #[test]
    fn config_json_as_nats_server() {
        let cases: &[(&str, &str, String)] = &[
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{}}"#,
             format!(r#"{{"deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"inactive_threshold":5000000000,"num_replicas":0,{META}}}"#)),
            ("$JS.API.CONSUMER.CREATE.S.d", r#"{"stream_name":"S","config":{"durable_name":"d","ack_policy":"explicit"}}"#,
             format!(r#"{{"durable_name":"d","name":"d","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0,{META}}}"#)),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"deliver_subject":"x.y"}}"#,
             format!(r#"{{"deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","deliver_subject":"x.y","inactive_threshold":5000000000,"num_replicas":0,{META}}}"#)),
            ("$JS.API.CONSUMER.CREATE.S.e1", r#"{"stream_name":"S","config":{},"action":"create"}"#,
             format!(r#"{{"name":"e1","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"inactive_threshold":5000000000,"num_replicas":0,{META}}}"#)),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"opt_start_time":"2020-01-01T01:00:00+01:00","deliver_policy":"by_start_time"}}"#,
             format!(r#"{{"deliver_policy":"by_start_time","opt_start_time":"2020-01-01T01:00:00+01:00","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"inactive_threshold":5000000000,"num_replicas":0,{META}}}"#)),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"deliver_policy":"by_start_time","opt_start_time":"2020-01-01T00:00:00.120+00:00","metadata":{"_nats.ver":"x","_nats.req.level":"9","_nats.level":"7"}}}"#,
             format!(r#"{{"deliver_policy":"by_start_time","opt_start_time":"2020-01-01T00:00:00.12Z","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"inactive_threshold":5000000000,"num_replicas":0,{META}}}"#)),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"pause_until":"2030-01-01T01:00:00.5+01:00"}}"#,
             r#"{"deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"inactive_threshold":5000000000,"num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"1","_nats.ver":"2.15.1"},"pause_until":"2030-01-01T01:00:00.5+01:00"}"#.to_string()),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"pause_until":"0001-01-01T00:00:00Z"}}"#,
             format!(r#"{{"deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"inactive_threshold":5000000000,"num_replicas":0,{META},"pause_until":"0001-01-01T00:00:00Z"}}"#)),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"ack_policy":"explicit","ack_wait":5,"backoff":[7,8]}}"#,
             format!(r#"{{"deliver_policy":"all","ack_policy":"explicit","ack_wait":7,"max_deliver":-1,"backoff":[7,8],"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"inactive_threshold":5000000000,"num_replicas":0,{META}}}"#)),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"priority_policy":"pinned_client","priority_groups":["g"]}}"#,
             r#"{"deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"inactive_threshold":5000000000,"num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"1","_nats.ver":"2.15.1"},"priority_groups":["g"],"priority_policy":"pinned_client","priority_timeout":120000000000}"#.to_string()),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"priority_timeout":-5}}"#,
             r#"{"deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"inactive_threshold":5000000000,"num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"1","_nats.ver":"2.15.1"}}"#.to_string()),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"max_deliver":0,"max_ack_pending":-7,"max_batch":0,"inactive_threshold":-1,"idle_heartbeat":-1,"max_expires":-4,"max_bytes":-4}}"#,
             format!(r#"{{"deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":-1,"inactive_threshold":5000000000,"num_replicas":0,{META}}}"#)),
            ("$JS.API.CONSUMER.CREATE.S.x", r#"{"stream_name":"S","config":{"mem_storage":true,"headers_only":true,"description":"hi","max_batch":5,"max_expires":5000000,"max_bytes":7,"metadata":{"k":"v"},"replay_policy":"original","sample_freq":"5","durable_name":"x","ack_policy":"all","deliver_subject":"dd","deliver_group":"q","idle_heartbeat":1000000000,"flow_control":true,"rate_limit_bps":1000}}"#,
             r#"{"durable_name":"x","name":"x","description":"hi","deliver_policy":"all","ack_policy":"all","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"original","rate_limit_bps":1000,"sample_freq":"5","max_ack_pending":1000,"flow_control":true,"headers_only":true,"max_batch":5,"max_expires":5000000,"max_bytes":7,"deliver_subject":"dd","deliver_group":"q","idle_heartbeat":1000000000,"num_replicas":0,"mem_storage":true,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1","k":"v"}}"#.to_string()),
            ("$JS.API.CONSUMER.CREATE.S.y", r#"{"stream_name":"S","config":{"mem_storage":true,"headers_only":true,"description":"hi","max_batch":5,"max_expires":5000000,"max_bytes":7,"metadata":{"k":"v"},"replay_policy":"original","sample_freq":"5","durable_name":"y","ack_policy":"all","max_waiting":3,"max_ack_pending":-1,"max_deliver":3,"backoff":[1000000000],"inactive_threshold":60000000000,"opt_start_seq":3,"deliver_policy":"by_start_sequence","filter_subjects":["s.a","s.b"]}}"#,
             r#"{"durable_name":"y","name":"y","description":"hi","deliver_policy":"by_start_sequence","opt_start_seq":3,"ack_policy":"all","ack_wait":1000000000,"max_deliver":3,"backoff":[1000000000],"filter_subjects":["s.a","s.b"],"replay_policy":"original","sample_freq":"5","max_waiting":3,"max_ack_pending":-1,"headers_only":true,"max_batch":5,"max_expires":5000000,"max_bytes":7,"inactive_threshold":60000000000,"num_replicas":0,"mem_storage":true,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1","k":"v"}}"#.to_string()),
            ("$JS.API.CONSUMER.CREATE.S.n.s.a", r#"{"stream_name":"S","config":{"filter_subject":"s.a"}}"#,
             format!(r#"{{"name":"n","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"filter_subject":"s.a","replay_policy":"instant","max_waiting":512,"inactive_threshold":5000000000,"num_replicas":0,{META}}}"#)),
            ("$JS.API.CONSUMER.DURABLE.CREATE.S.d", r#"{"stream_name":"S","config":{"durable_name":"d","name":"zz"}}"#,
             format!(r#"{{"durable_name":"d","name":"d","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":0,{META}}}"#)),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"direct":true,"deliver_subject":"d.x"}}"#,
             format!(r#"{{"deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","deliver_subject":"d.x","inactive_threshold":5000000000,"num_replicas":0,"direct":true,{META}}}"#)),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"deliver_group":"q"}}"#,
             format!(r#"{{"deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"deliver_group":"q","inactive_threshold":5000000000,"num_replicas":0,{META}}}"#)),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","Config":{"Durable_Name":""},"ACTION":"create"}"#,
             format!(r#"{{"deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"inactive_threshold":5000000000,"num_replicas":0,{META}}}"#)),
        ];
        for (subject, body, want) in cases {
            let cfg = create(subject, body).unwrap_or_else(|e| panic!("{body}: {e}"));
            assert_eq!(&cfg_json(&cfg), want, "{subject} {body}");
        }
    }

    #[test]
    fn stream_consumer_limits() {
        let l = stream(
            r#"{"name":"L","subjects":["l.>"],"consumer_limits":{"max_ack_pending":50,"inactive_threshold":10000000000}}"#,
        );
        let c = create_on(
            &l,
            "$JS.API.CONSUMER.CREATE.L",
            r#"{"stream_name":"L","config":{}}"#,
        )
        .unwrap();
        assert_eq!(
            cfg_json(&c),
            format!(
                r#"{{"deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":50,"inactive_threshold":10000000000,"num_replicas":0,{META}}}"#
            )
        );
        let c = create_on(
            &l,
            "$JS.API.CONSUMER.CREATE.L.dd",
            r#"{"stream_name":"L","config":{"durable_name":"dd"}}"#,
        )
        .unwrap();
        assert_eq!(
            (c.max_ack_pending, c.inactive_threshold),
            (50, 10_000_000_000)
        );
        let cases: &[(&str, u16, &str)] = &[
            (
                r#"{"stream_name":"L","config":{"ack_policy":"explicit","max_ack_pending":51}}"#,
                10121,
                "consumer max ack pending exceeds system limit of 50",
            ),
            (
                r#"{"stream_name":"L","config":{"inactive_threshold":10000000001}}"#,
                10153,
                "consumer inactive threshold exceeds system limit of 10s",
            ),
            (
                r#"{"stream_name":"L","config":{},"pedantic":true}"#,
                10157,
                "pedantic mode: max_ack_pending must be set if it's configured in stream limits",
            ),
            (
                r#"{"stream_name":"L","config":{"max_ack_pending":5},"pedantic":true}"#,
                10157,
                "pedantic mode: inactive_threshold must be set if it's configured in stream limits",
            ),
        ];
        for &(body, code, desc) in cases {
            let e = create_on(&l, "$JS.API.CONSUMER.CREATE.L", body).unwrap_err();
            assert_eq!((e.err_code, e.description.as_str()), (code, desc), "{body}");
        }
        assert!(create_on(
            &l,
            "$JS.API.CONSUMER.CREATE.L",
            r#"{"stream_name":"L","config":{"ack_policy":"explicit","max_ack_pending":-1}}"#
        )
        .is_ok());
    }

    /// Codes and texts observed from nats-server 2.15.1, in its order of checks.
    #[test]
    fn create_errors_as_nats_server() {
        let long = "n".repeat(256);
        let long_durable = format!(r#"{{"stream_name":"S","config":{{"durable_name":"{long}"}}}}"#);
        let long_subject = format!("$JS.API.CONSUMER.CREATE.S.{long}");
        let desc = format!(
            r#"{{"stream_name":"S","config":{{"description":"{}"}}}}"#,
            "x".repeat(4097)
        );
        let meta_big = format!(
            r#"{{"stream_name":"S","config":{{"metadata":{{"k":"{}"}}}}}}"#,
            "x".repeat(128 * 1024 - 16)
        );
        let e = "$JS.API.CONSUMER.CREATE.S";
        let cases: Vec<(&str, &str, u16, u16, &str)> = vec![
            (e, r#"{"stream_name":"S","config":{"deliver_policy":"bogus"}}"#, 400, 10025, r#"invalid JSON: can not unmarshal "\"bogus\"""#),
            (e, r#"{"stream_name":"S","config":{},"action":"bogus"}"#, 400, 10025, r#"invalid JSON: unknown consumer action: "bogus""#),
            (e, r#"{"stream_name":"S","config":{},"action":null}"#, 400, 10025, "invalid JSON: unknown consumer action: null"),
            (e, r#"{"stream_name":"S","config":{"priority_policy":"x"}}"#, 400, 10025, r#"invalid JSON: unknown priority policy: "x""#),
            (e, r#"{"stream_name":"S","config":{"priority_policy":null}}"#, 400, 10025, "invalid JSON: unknown priority policy: null"),
            (e, r#"{"stream_name":"S","config":{"bogus":1}}"#, 400, 10025, r#"invalid JSON: json: unknown field "bogus""#),
            (e, r#"{"stream_name":"S","config":{"max_deliver":"x"}}"#, 400, 10025, "invalid JSON: json: cannot unmarshal string into Go struct field CreateConsumerRequest.config.max_deliver of type int"),
            (e, r#"{"stream_name":"S","config":{"max_deliver":"x"},"bogus":1}"#, 400, 10025, "invalid JSON: json: cannot unmarshal string into Go struct field CreateConsumerRequest.config.max_deliver of type int"),
            (e, r#"{"stream_name":"S","config":{"backoff":["x"]}}"#, 400, 10025, "invalid JSON: json: cannot unmarshal string into CreateConsumerRequest.config.backoff.0 of type time.Duration"),
            (e, r#"{"stream_name":"S","config":{"backoff":"x"}}"#, 400, 10025, "invalid JSON: json: cannot unmarshal string into Go struct field CreateConsumerRequest.config.backoff of type []time.Duration"),
            (e, r#"{"stream_name":"S","config":{"backoff":[1.5]}}"#, 400, 10025, "invalid JSON: json: cannot unmarshal number 1.5 into CreateConsumerRequest.config.backoff.0 of type time.Duration"),
            (e, r#"{"stream_name":"S","config":{"filter_subjects":[1]}}"#, 400, 10025, "invalid JSON: json: cannot unmarshal number into CreateConsumerRequest.config.filter_subjects.0 of type string"),
            (e, r#"{"stream_name":"S","config":{"metadata":{"a":1}}}"#, 400, 10025, "invalid JSON: json: cannot unmarshal number into Go struct field CreateConsumerRequest.config.metadata.a of type string"),
            (e, r#"{"stream_name":"S","config":5}"#, 400, 10025, "invalid JSON: json: cannot unmarshal number into Go struct field CreateConsumerRequest.config of type server.ConsumerConfig"),
            (e, r#"{"stream_name":"S","config":{"opt_start_time":"x"}}"#, 400, 10025, r#"invalid JSON: parsing time "x" as "2006-01-02T15:04:05Z07:00": cannot parse "x" as "2006""#),
            (e, r#"{"stream_name":"S","config":{"opt_start_time":5}}"#, 400, 10025, "invalid JSON: json: cannot unmarshal number into Go struct field CreateConsumerRequest.config.opt_start_time of type time.Time"),
            (e, r#"{"stream_name":"S","config":{"rate_limit_bps":-1}}"#, 400, 10025, "invalid JSON: json: cannot unmarshal number -1 into Go struct field CreateConsumerRequest.config.rate_limit_bps of type uint64"),
            (e, r#"{"stream_name":"T","config":{}}"#, 400, 10056, "stream name in subject does not match request"),
            (e, r#"{"config":{}}"#, 400, 10056, "stream name in subject does not match request"),
            (e, r#"{"stream_name":"S","config":{"name":"a/b"}}"#, 400, 10127, "Consumer name can not contain path separators"),
            (e, r#"{"stream_name":"S","config":{"name":"a.b"}}"#, 500, 10052, "consumer name can not contain '.', '*', '>', '\\', '/'"),
            (e, r#"{"stream_name":"S","config":{"durable_name":"d"}}"#, 400, 10020, "consumer expected to be ephemeral but a durable name was set in request"),
            ("$JS.API.CONSUMER.CREATE.S.a\\b", r#"{"stream_name":"S","config":{}}"#, 400, 10127, "Consumer name can not contain path separators"),
            ("$JS.API.CONSUMER.CREATE.S.n", r#"{"stream_name":"S","config":{"durable_name":"d"}}"#, 400, 10017, "consumer name in subject does not match durable name in request"),
            ("$JS.API.CONSUMER.CREATE.S.n.s.a", r#"{"stream_name":"S","config":{"filter_subjects":["s.a"]}}"#, 400, 10137, "consumer with multiple subject filters cannot use subject based API"),
            ("$JS.API.CONSUMER.CREATE.S.n.s.a", r#"{"stream_name":"S","config":{"filter_subject":"s.b"}}"#, 400, 10131, "Consumer create request did not match filtered subject from create subject"),
            ("$JS.API.CONSUMER.DURABLE.CREATE.S.d", r#"{"stream_name":"S","config":{}}"#, 400, 10018, "consumer expected to be durable but a durable name was not set"),
            ("$JS.API.CONSUMER.DURABLE.CREATE.S.d", r#"{"stream_name":"S","config":{"durable_name":"x"}}"#, 400, 10017, "consumer name in subject does not match durable name in request"),
            (e, r#"{"stream_name":"S","config":{"num_replicas":3}}"#, 500, 10074, "replicas > 1 not supported in non-clustered mode"),
            (e, r#"{"stream_name":"S","config":{"num_replicas":-1}}"#, 400, 10133, "replicas count cannot be negative"),
            (e, r#"{"stream_name":"S","config":{"max_deliver":-5},"pedantic":true}"#, 400, 10157, "pedantic mode: max_deliver must be set to -1"),
            (e, r#"{"stream_name":"S","config":{"max_waiting":-5},"pedantic":true}"#, 400, 10157, "pedantic mode: max_waiting must not be negative"),
            (e, r#"{"stream_name":"S","config":{"ack_policy":"explicit","max_ack_pending":-7},"pedantic":true}"#, 400, 10157, "pedantic mode: max_ack_pending must be set to -1"),
            (e, r#"{"stream_name":"S","config":{"ack_policy":"explicit","ack_wait":5,"backoff":[7]},"pedantic":true}"#, 400, 10157, "pedantic mode: first backoff value has to equal batch AckWait"),
            (e, r#"{"stream_name":"S","config":{"ack_policy":"explicit","backoff":[7,8],"max_deliver":1}}"#, 400, 10116, "max deliver is required to be > length of backoff values"),
            (e, r#"{"stream_name":"S","config":{"ack_policy":"explicit","backoff":[-7,8]}}"#, 400, 10184, "consumer backoff needs to be positive"),
            (e, r#"{"stream_name":"S","config":{"ack_policy":"explicit","ack_wait":-1}}"#, 400, 10183, "consumer ack wait needs to be positive"),
            (e, r#"{"stream_name":"S","config":{"ack_policy":"none","ack_wait":-1}}"#, 400, 10183, "consumer ack wait needs to be positive"),
            (e, r#"{"stream_name":"S","config":{"ack_policy":"none","max_ack_pending":7,"deliver_subject":"d.x"}}"#, 400, 10082, "consumer requires ack policy for max ack pending"),
            (e, r#"{"stream_name":"S","config":{"deliver_subject":"d.*"}}"#, 400, 10079, "consumer deliver subject has wildcards"),
            (e, r#"{"stream_name":"S","config":{"deliver_subject":"d..x"}}"#, 400, 10112, "invalid push consumer deliver subject"),
            (e, r#"{"stream_name":"S","config":{"deliver_subject":"s.x"}}"#, 400, 10081, "consumer deliver subject forms a cycle"),
            (e, r#"{"stream_name":"S","config":{"deliver_subject":"d.x","max_waiting":5}}"#, 400, 10080, "consumer in push mode can not set max waiting"),
            (e, r#"{"stream_name":"S","config":{"deliver_subject":"d.x","idle_heartbeat":5}}"#, 400, 10083, "consumer idle heartbeat needs to be >= 100ms"),
            (e, r#"{"stream_name":"S","config":{"rate_limit_bps":5}}"#, 400, 10086, "consumer in pull mode can not have rate limit set"),
            (e, r#"{"stream_name":"S","config":{"idle_heartbeat":5}}"#, 400, 10088, "consumer idle heartbeat requires a push based consumer"),
            (e, r#"{"stream_name":"S","config":{"flow_control":true}}"#, 400, 10089, "consumer flow control requires a push based consumer"),
            (e, r#"{"stream_name":"S","config":{"max_expires":5}}"#, 400, 10115, "consumer max request expires needs to be >= 1ms"),
            (e, r#"{"stream_name":"S","config":{"direct":true}}"#, 400, 10090, "consumer direct requires a push based consumer"),
            (e, r#"{"stream_name":"S","config":{"direct":true,"deliver_subject":"d.x","durable_name":"x"}}"#, 400, 10020, "consumer expected to be ephemeral but a durable name was set in request"),
            ("$JS.API.CONSUMER.CREATE.S.x", r#"{"stream_name":"S","config":{"direct":true,"deliver_subject":"d.x","durable_name":"x"}}"#, 400, 10091, "consumer direct requires an ephemeral consumer"),
            (e, r#"{"stream_name":"S","config":{"filter_subject":"a","filter_subjects":["b"]}}"#, 400, 10136, "consumer cannot have both FilterSubject and FilterSubjects specified"),
            (e, r#"{"stream_name":"S","config":{"filter_subject":"a..b"}}"#, 500, 10052, "invalid subject"),
            (e, r#"{"stream_name":"S","config":{"filter_subjects":["a",""]}}"#, 400, 10139, "consumer filter in FilterSubjects cannot be empty"),
            (e, r#"{"stream_name":"S","config":{"filter_subjects":["a..c","b"]}}"#, 500, 10052, "invalid subject"),
            (e, r#"{"stream_name":"S","config":{"filter_subjects":["a.*","a.b"]}}"#, 400, 10138, "consumer subject filters cannot overlap"),
            (e, r#"{"stream_name":"S","config":{"filter_subjects":["a.b","a.b"]}}"#, 400, 10138, "consumer subject filters cannot overlap"),
            (e, r#"{"stream_name":"S","config":{"opt_start_seq":5}}"#, 400, 10094, "consumer delivery policy is deliver all, but optional start sequence is also set"),
            (e, r#"{"stream_name":"S","config":{"opt_start_time":"2020-01-01T00:00:00Z"}}"#, 400, 10094, "consumer delivery policy is deliver all, but optional start time is also set"),
            (e, r#"{"stream_name":"S","config":{"deliver_policy":"last","opt_start_seq":5}}"#, 400, 10094, "consumer delivery policy is deliver last, but optional start sequence is also set"),
            (e, r#"{"stream_name":"S","config":{"deliver_policy":"last_per_subject"}}"#, 400, 10094, "consumer delivery policy is deliver last per subject, but optional filter subject is not set"),
            (e, r#"{"stream_name":"S","config":{"deliver_policy":"last_per_subject","opt_start_time":"2020-01-01T00:00:00Z"}}"#, 400, 10094, "consumer delivery policy is deliver last per subject, but optional start time is also set"),
            (e, r#"{"stream_name":"S","config":{"deliver_policy":"new","opt_start_time":"2020-01-01T00:00:00Z"}}"#, 400, 10094, "consumer delivery policy is deliver new, but optional start time is also set"),
            (e, r#"{"stream_name":"S","config":{"deliver_policy":"by_start_sequence"}}"#, 400, 10094, "consumer delivery policy is deliver by start sequence, but optional start sequence is not set"),
            (e, r#"{"stream_name":"S","config":{"deliver_policy":"by_start_sequence","opt_start_seq":1,"opt_start_time":"2020-01-01T00:00:00Z"}}"#, 400, 10094, "consumer delivery policy is deliver by start sequence, but optional start time is also set"),
            (e, r#"{"stream_name":"S","config":{"deliver_policy":"by_start_time"}}"#, 400, 10094, "consumer delivery policy is deliver by start time, but optional start time is not set"),
            (e, r#"{"stream_name":"S","config":{"deliver_policy":"by_start_time","opt_start_time":null}}"#, 400, 10094, "consumer delivery policy is deliver by start time, but optional start time is not set"),
            (e, r#"{"stream_name":"S","config":{"deliver_policy":"by_start_time","opt_start_seq":1,"opt_start_time":"2020-01-01T00:00:00Z"}}"#, 400, 10094, "consumer delivery policy is deliver by start time, but optional start start sequence is also set"),
            (e, r#"{"stream_name":"S","config":{"sample_freq":"x"}}"#, 400, 10095, r#"failed to parse consumer sampling configuration: strconv.Atoi: parsing "x": invalid syntax"#),
            (e, r#"{"stream_name":"S","config":{"sample_freq":"-5%"}}"#, 400, 10095, "failed to parse consumer sampling configuration: <nil>"),
            (e, r#"{"stream_name":"S","config":{"sample_freq":"99999999999999999999"}}"#, 400, 10095, r#"failed to parse consumer sampling configuration: strconv.Atoi: parsing "99999999999999999999": value out of range"#),
            (e, r#"{"stream_name":"S","config":{"sample_freq":"%"}}"#, 400, 10095, r#"failed to parse consumer sampling configuration: strconv.Atoi: parsing "": invalid syntax"#),
            (e, r#"{"stream_name":"S","config":{"deliver_subject":"d.x","flow_control":true}}"#, 400, 10108, "consumer with flow control also needs heartbeats"),
            (e, r#"{"stream_name":"S","config":{"priority_policy":"overflow","deliver_subject":"d.x"}}"#, 400, 10178, "priority groups can not be used with push consumers"),
            (e, r#"{"stream_name":"S","config":{"priority_policy":"overflow"}}"#, 400, 10159, "Setting PriorityPolicy requires at least one PriorityGroup to be set"),
            (e, r#"{"stream_name":"S","config":{"priority_policy":"overflow","priority_groups":[""]}}"#, 400, 10161, "Group name cannot be an empty string"),
            (e, r#"{"stream_name":"S","config":{"priority_policy":"overflow","priority_groups":["a b"]}}"#, 400, 10162, "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters"),
            (e, r#"{"stream_name":"S","config":{"priority_groups":["a"]}}"#, 400, 10196, "consumer can not have priority groups when policy is none"),
            (e, r#"{"stream_name":"S","config":{"priority_timeout":5}}"#, 400, 10197, "PinnedTTL cannot be set when PriorityPolicy is none"),
            (e, r#"{"stream_name":"S","config":{"ack_policy":"flow_control"}}"#, 400, 10218, "flow control ack policy requires a push based consumer"),
            (e, r#"{"stream_name":"S","config":{"ack_policy":"flow_control","deliver_subject":"fc.x","max_ack_pending":10,"ack_wait":5}}"#, 400, 10221, "flow control ack policy requires unset ack wait"),
            (e, r#"{"stream_name":"S","config":{"ack_policy":"flow_control","deliver_subject":"fc.x","max_ack_pending":10},"pedantic":true}"#, 400, 10219, "flow control ack policy requires flow control"),
            // Accepted by nats-server; refused here (no stream sourcing).
            (e, r#"{"stream_name":"S","config":{"ack_policy":"flow_control","deliver_subject":"fc.x"}}"#, 500, 10052, "flow control ack policy is not supported by this server"),
            (e, r#"{"stream_name":"S","config":{"sourcing":true}}"#, 500, 10052, "sourcing consumers are not supported by this server"),
            (e, &desc, 400, 10107, "consumer description is too long, maximum allowed is 4096"),
            (e, &meta_big, 400, 10135, "consumer metadata exceeds maximum size of 128KB"),
            (&long_subject, &long_durable, 400, 10102, "consumer name is too long, maximum allowed is 255"),
        ];
        for (subject, body, code, err_code, desc) in cases {
            let e = create(subject, body).unwrap_err();
            assert_eq!(
                (e.code, e.err_code, e.description.as_str()),
                (code, err_code, desc),
                "{subject} {body}"
            );
        }
        // Exactly at the metadata limit (the stored API level key counts).
        let meta_ok = format!(
            r#"{{"stream_name":"S","config":{{"metadata":{{"k":"{}"}}}}}}"#,
            "x".repeat(128 * 1024 - 17)
        );
        assert!(create(e, &meta_ok).is_ok());
        for ok in [
            r#"{"stream_name":"S","config":{"max_batch":-5}}"#,
            r#"{"stream_name":"S","config":{"max_waiting":-5}}"#,
            r#"{"stream_name":"S","config":{"deliver_policy":"undefined"}}"#,
            r#"{"stream_name":"S","config":{"sample_freq":"+5"}}"#,
            r#"{"stream_name":"S","config":{"sample_freq":"50%"}}"#,
            r#"{"stream_name":"S","config":{"ack_policy":"none","ack_wait":7}}"#,
            r#"{"stream_name":"S","config":{"ack_policy":"none","max_ack_pending":7}}"#,
            r#"{"stream_name":"S","config":{"filter_subjects":["x.y","s.a"]}}"#,
            r#"{"stream_name":"S","config":{"priority_policy":"overflow","priority_groups":["a","b"]},"pedantic":true}"#,
            r#"{"stream_name":"S","config":{"deliver_subject":"d.x","flow_control":true,"idle_heartbeat":1000000000}}"#,
        ] {
            create(e, ok).unwrap_or_else(|err| panic!("{ok}: {err}"));
        }
    }

    #[test]
    fn workqueue_rules() {
        let w = stream(r#"{"name":"W","subjects":["w.>"],"retention":"workqueue"}"#);
        let mk = |subject: &str, body: &str| create_on(&w, subject, body);
        let e = "$JS.API.CONSUMER.CREATE.W";
        let cases: &[(&str, u16, &str)] = &[
            (
                r#"{"stream_name":"W","config":{}}"#,
                10084,
                "consumer in pull mode requires explicit ack policy on workqueue stream",
            ),
            (
                r#"{"stream_name":"W","config":{"deliver_subject":"dw"}}"#,
                10098,
                "workqueue stream requires explicit ack",
            ),
            (
                r#"{"stream_name":"W","config":{"deliver_subject":"dw","ack_policy":"all"}}"#,
                10098,
                "workqueue stream requires explicit ack",
            ),
            (
                r#"{"stream_name":"W","config":{"ack_policy":"explicit","deliver_policy":"new"}}"#,
                10101,
                "consumer must be deliver all on workqueue stream",
            ),
        ];
        for &(body, code, desc) in cases {
            let err = mk(e, body).unwrap_err();
            assert_eq!(
                (err.err_code, err.description.as_str()),
                (code, desc),
                "{body}"
            );
        }
        // Direct consumers skip the work-queue rules.
        let direct = mk(e, r#"{"stream_name":"W","config":{"ack_policy":"none","filter_subjects":["w.b"],"direct":true,"deliver_subject":"zz","deliver_policy":"new"}}"#).unwrap();

        let w1 = mk(
            "$JS.API.CONSUMER.CREATE.W.w1",
            r#"{"stream_name":"W","config":{"ack_policy":"explicit","filter_subject":"w.a.>"}}"#,
        )
        .unwrap();
        let unfiltered = mk(
            e,
            r#"{"stream_name":"W","config":{"ack_policy":"explicit"}}"#,
        )
        .unwrap();
        assert_eq!(check_workqueue_overlap(&unfiltered, [].into_iter()), Ok(()));
        assert_eq!(
            check_workqueue_overlap(&unfiltered, [&w1].into_iter())
                .unwrap_err()
                .err_code,
            10099
        );
        // Only a direct consumer present still counts (nats' numLimitableConsumers).
        assert_eq!(
            check_workqueue_overlap(&unfiltered, [&direct].into_iter())
                .unwrap_err()
                .err_code,
            10099
        );
        let wild = mk(
            e,
            r#"{"stream_name":"W","config":{"ack_policy":"explicit","filter_subject":"w.*.b"}}"#,
        )
        .unwrap();
        let err = check_workqueue_overlap(&wild, [&w1].into_iter()).unwrap_err();
        assert_eq!(
            (err.err_code, err.description.as_str()),
            (10100, "filtered consumer not unique on workqueue stream")
        );
        let multi = mk(e, r#"{"stream_name":"W","config":{"ack_policy":"explicit","filter_subjects":["w.b","w.a.b.c"]}}"#).unwrap();
        assert_eq!(
            check_workqueue_overlap(&multi, [&w1].into_iter())
                .unwrap_err()
                .err_code,
            10100
        );
        let w2 = mk(
            "$JS.API.CONSUMER.CREATE.W.w2",
            r#"{"stream_name":"W","config":{"ack_policy":"explicit","filter_subject":"w.b"}}"#,
        )
        .unwrap();
        assert_eq!(
            check_workqueue_overlap(&w2, [&w1, &direct].into_iter()),
            Ok(())
        );
        // Against an unfiltered one, nothing is unique.
        assert_eq!(
            check_workqueue_overlap(&w2, [&unfiltered].into_iter())
                .unwrap_err()
                .err_code,
            10100
        );
    }

    fn durable(body_cfg: &str) -> ConsumerConfig {
        create(
            "$JS.API.CONSUMER.CREATE.S.u",
            &format!(r#"{{"stream_name":"S","config":{body_cfg}}}"#),
        )
        .unwrap()
    }

    /// Observed from nats-server 2.15.1 on an existing durable `u`.
    #[test]
    fn update_rules() {
        let base = r#""durable_name":"u","ack_policy":"explicit","filter_subject":"s.a""#;
        let old = durable(&format!("{{{base}}}"));
        let cases: &[(&str, u16, &str)] = &[
            (
                r#","deliver_policy":"new""#,
                10012,
                "deliver policy can not be updated",
            ),
            (
                r#","mem_storage":true"#,
                10012,
                "storage type can not be updated",
            ),
            (
                r#","deliver_policy":"by_start_sequence","opt_start_seq":4"#,
                10012,
                "deliver policy can not be updated",
            ),
            (
                r#","replay_policy":"original""#,
                10012,
                "replay policy can not be updated",
            ),
            (
                r#","deliver_subject":"zz""#,
                10012,
                "can not update pull consumer to push based",
            ),
            (
                r#","max_waiting":7"#,
                10012,
                "max waiting can not be updated",
            ),
        ];
        for &(extra, code, desc) in cases {
            let mut new = durable(&format!("{{{base}{extra}}}"));
            adopt_existing(Action::CreateOrUpdate, &old, &mut new).unwrap();
            let e = check_update(&old, &new).unwrap_err();
            assert_eq!(
                (e.code, e.err_code, e.description.as_str()),
                (500, code, desc),
                "{extra}"
            );
        }
        let mut new = durable(r#"{"durable_name":"u","ack_policy":"all","filter_subject":"s.a"}"#);
        adopt_existing(Action::CreateOrUpdate, &old, &mut new).unwrap();
        assert_eq!(
            check_update(&old, &new).unwrap_err().description,
            "ack policy can not be updated"
        );

        // What may change; pause_until is kept from the running consumer.
        let mut new = durable(
            r#"{"durable_name":"u","ack_policy":"explicit","filter_subject":"s.b","name":"u","description":"new","ack_wait":5000000000,"max_deliver":5,"backoff":[5000000000,6000000000],"sample_freq":"10","max_ack_pending":20,"headers_only":true,"inactive_threshold":60000000000,"metadata":{"a":"b"},"max_batch":10,"max_expires":10000000000,"max_bytes":1000,"pause_until":"2031-01-01T00:00:00+02:00"}"#,
        );
        adopt_existing(Action::CreateOrUpdate, &old, &mut new).unwrap();
        check_update(&old, &new).unwrap();
        assert_eq!(
            cfg_json(&new),
            r#"{"durable_name":"u","name":"u","description":"new","deliver_policy":"all","ack_policy":"explicit","ack_wait":5000000000,"max_deliver":5,"backoff":[5000000000,6000000000],"filter_subject":"s.b","replay_policy":"instant","sample_freq":"10","max_waiting":512,"max_ack_pending":20,"headers_only":true,"max_batch":10,"max_expires":10000000000,"max_bytes":1000,"inactive_threshold":60000000000,"num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1","a":"b"}}"#
        );

        // Push consumers.
        let push = |extra: &str| {
            create(
                "$JS.API.CONSUMER.CREATE.S.p",
                &format!(r#"{{"stream_name":"S","config":{{"durable_name":"p","ack_policy":"explicit"{extra}}}}}"#),
            )
            .unwrap()
        };
        let old = push(r#","deliver_subject":"p.x""#);
        let cases: &[(&str, &str)] = &[
            ("", "can not update push consumer to pull based"),
            (
                r#","deliver_subject":"p.y","idle_heartbeat":1000000000"#,
                "heart beats can not be updated",
            ),
        ];
        for &(extra, desc) in cases {
            let new = push(extra);
            assert_eq!(
                check_update(&old, &new).unwrap_err().description,
                desc,
                "{extra}"
            );
        }
        let new = push(r#","deliver_subject":"p.y","rate_limit_bps":100,"deliver_group":"gg""#);
        check_update(&old, &new).unwrap();
        assert_eq!(
            check_update_with(&old, &new, true).unwrap_err().err_code,
            10013
        );
    }

    #[test]
    fn existing_consumers() {
        let e1 = |body: &str| {
            create(
                "$JS.API.CONSUMER.CREATE.S.e1",
                &format!(r#"{{"stream_name":"S","config":{body},"action":"create"}}"#),
            )
            .unwrap()
        };
        let old = e1("{}");
        // The request's 0 differs from the stamped 5s default: "already exists".
        let mut again = e1("{}");
        let err = adopt_existing(Action::Create, &old, &mut again).unwrap_err();
        assert_eq!(
            (err.err_code, err.description.as_str()),
            (10148, "consumer already exists")
        );
        let mut same = e1(r#"{"inactive_threshold":5000000000}"#);
        adopt_existing(Action::Create, &old, &mut same).unwrap();
        let mut other = e1(r#"{"inactive_threshold":5000000000,"description":"x"}"#);
        assert_eq!(
            adopt_existing(Action::Create, &old, &mut other)
                .unwrap_err()
                .err_code,
            10148
        );

        // An ephemeral updated with a durable name keeps the ephemeral default.
        let mut now_durable = create(
            "$JS.API.CONSUMER.CREATE.S.e1",
            r#"{"stream_name":"S","config":{"durable_name":"e1"}}"#,
        )
        .unwrap();
        adopt_existing(Action::CreateOrUpdate, &old, &mut now_durable).unwrap();
        assert_eq!(now_durable.inactive_threshold, DEFAULT_INACTIVE_THRESHOLD);

        // Pause is carried over, with its API level.
        let mut paused = old.clone();
        paused.pause_until = Some(1_900_000_000_000_000_000);
        paused
            .metadata
            .insert(REQUIRED_LEVEL_KEY.into(), "1".into());
        let mut new = e1(r#"{"inactive_threshold":5000000000}"#);
        adopt_existing(Action::Create, &paused, &mut new).unwrap();
        assert_eq!(new.pause_until, paused.pause_until);
        assert_eq!(new.metadata[REQUIRED_LEVEL_KEY], "1");
    }

    #[test]
    fn generated_names_and_call_checks() {
        let c = create(
            "$JS.API.CONSUMER.CREATE.S",
            r#"{"stream_name":"S","config":{}}"#,
        )
        .unwrap();
        assert_eq!(
            (c.name.as_str(), c.wire.name_generated),
            ("GENERATED", true)
        );
        assert!(!cfg_json(&c).contains("GENERATED"));
        let c = create(
            "$JS.API.CONSUMER.CREATE.S",
            r#"{"stream_name":"S","config":{"name":"mine"}}"#,
        )
        .unwrap();
        assert_eq!((c.name.as_str(), c.wire.name_generated), ("mine", false));
        // A missing stream loses against replicas > 1 (checked before the lookup).
        let req = decode_create(br#"{"stream_name":"NOPE","config":{"num_replicas":3}}"#).unwrap();
        assert_eq!(
            check_call(&CreateCall::Create { stream: "NOPE" }, &req)
                .unwrap_err()
                .err_code,
            10074
        );
        let req = decode_create(br#"{"stream_name":"NOPE","config":{"num_replicas":-1}}"#).unwrap();
        assert_eq!(
            check_call(&CreateCall::Create { stream: "NOPE" }, &req),
            Ok(())
        );
    }

    #[test]
    fn decode_details() {
        let r = decode_create(br#"{"stream_name":"S","config":{"durable_name":"d","backoff":[1,null,3]},"action":"update","pedantic":true}"#).unwrap();
        assert_eq!(r.action, Action::Update);
        assert!(r.pedantic);
        assert_eq!(r.config.backoff, vec![1, 0, 3]);
        let r = decode_create(b"").unwrap();
        assert_eq!(r, CreateRequest::default());
        let e = decode_create(br#"{"stream_name":"S","config":{"deliver_policy":"all","priority_policy":"nope","ack_policy":"bad"}}"#).unwrap_err();
        assert_eq!(
            e.description,
            r#"invalid JSON: unknown priority policy: "nope""#
        );
        let e = decode_create(
            br#"{"stream_name":"S","config":{"ack_policy":"bad","priority_policy":"nope"}}"#,
        )
        .unwrap_err();
        assert_eq!(
            e.description,
            r#"invalid JSON: can not unmarshal "\"bad\"""#
        );
        let e = decode_create(b"{").unwrap_err();
        assert_eq!(
            (e.err_code, e.description.as_str()),
            (10025, "invalid JSON: unexpected EOF")
        );
    }

    #[test]
    fn stored_round_trip() {
        for (subject, body) in [
            (
                "$JS.API.CONSUMER.CREATE.S",
                r#"{"stream_name":"S","config":{"deliver_policy":"by_start_time","opt_start_time":"2020-01-01T01:00:00.25-03:30","pause_until":"2030-01-01T01:00:00+01:00"}}"#,
            ),
            (
                "$JS.API.CONSUMER.CREATE.S.y",
                r#"{"stream_name":"S","config":{"durable_name":"y","ack_policy":"all","max_deliver":3,"backoff":[1000000000],"filter_subjects":["s.a","s.b"],"metadata":{"k":"<v>"},"priority_policy":"prioritized","priority_groups":["g"]}}"#,
            ),
            (
                "$JS.API.CONSUMER.CREATE.S",
                r#"{"stream_name":"S","config":{"deliver_subject":"d.x","deliver_group":"q","idle_heartbeat":1000000000,"flow_control":true}}"#,
            ),
        ] {
            let c = create(subject, body).unwrap();
            let back = decode_stored(&encode_stored(&c)).unwrap();
            let mut expect = c.clone();
            // The stored form forgets these, as nats-server does across a restart.
            expect.wire.name_generated = false;
            expect.wire.inactive_threshold_defaulted = false;
            assert_eq!(back, expect, "{body}");
        }
        let c = create(
            "$JS.API.CONSUMER.CREATE.S",
            r#"{"stream_name":"S","config":{}}"#,
        )
        .unwrap();
        let stored = String::from_utf8(encode_stored(&c)).unwrap();
        assert!(stored.contains(r#""name":"GENERATED""#), "{stored}");
        assert!(!stored.contains("_nats.ver"), "{stored}");
        assert!(decode_stored(b"{").is_err());
        assert!(decode_stored(br#"{"ack_policy":"flow_control"}"#).is_err());
    }

    #[test]
    fn list_form_has_no_dynamic_metadata() {
        let c = create(
            "$JS.API.CONSUMER.CREATE.S.d",
            r#"{"stream_name":"S","config":{"durable_name":"d","ack_policy":"explicit"}}"#,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(gojson::encode(&to_json_with(&c, None))).unwrap(),
            r#"{"durable_name":"d","name":"d","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0,"metadata":{"_nats.req.level":"0"}}"#
        );
    }

    #[test]
    fn go_durations() {
        for (d, want) in [
            (0, "0s"),
            (10_000_000_000, "10s"),
            (1_500_000_000, "1.5s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (500_000_000, "500ms"),
            (1_500, "1.5µs"),
            (7, "7ns"),
            (-2_000_000_000, "-2s"),
        ] {
            assert_eq!(go_duration(d), want);
        }
    }

    proptest::proptest! {
        #[test]
        fn create_never_panics(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..96)) {
            if let Ok(req) = decode_create(&body) {
                let _ = prepare(CreateCall::Create { stream: "S" }, &req, &s_stream(), "G", 0);
            }
        }
    }
}
