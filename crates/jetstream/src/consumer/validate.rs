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
        Some(v @ serde_json::Value::Object(_)) => {
            serde_json::from_value(v).map_err(errors::invalid_json)?
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

/// Go's `time.Duration.String()` for the texts that print one (`10s`, `1m30s`,
/// `1.5s`, `500ms`).
pub fn go_duration(d: i64) -> String {
    if d == 0 {
        return "0s".into();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let sign = if neg { "-" } else { "" };
    // Fractions are printed with trailing zeros trimmed.
    let frac = |v: u64, digits: u32| -> String {
        let unit = 10u64.pow(digits);
        let (int, rem) = (v / unit, v % unit);
        if rem == 0 {
            int.to_string()
        } else {
            let f = format!("{rem:0width$}", width = digits as usize);
            format!("{int}.{}", f.trim_end_matches('0'))
        }
    };
    if u < 1_000 {
        return format!("{sign}{u}ns");
    }
    if u < 1_000_000 {
        return format!("{sign}{}µs", frac(u, 3));
    }
    if u < 1_000_000_000 {
        return format!("{sign}{}ms", frac(u, 6));
    }
    let secs = u / 1_000_000_000;
    let nanos = u % 1_000_000_000;
    let s_part = frac((secs % 60) * 1_000_000_000 + nanos, 9);
    let mins = secs / 60;
    if mins == 0 {
        return format!("{sign}{s_part}s");
    }
    let hours = mins / 60;
    if hours == 0 {
        return format!("{sign}{}m{s_part}s", mins % 60);
    }
    format!("{sign}{hours}h{}m{s_part}s", mins % 60)
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
    if new.wire.inactive_threshold_defaulted && old.is_durable() {
        // The running consumer was durable: nats-server does not stamp the default.
        new.inactive_threshold = 0;
    } else if !old.is_durable() && new.inactive_threshold <= 0 {
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
}
