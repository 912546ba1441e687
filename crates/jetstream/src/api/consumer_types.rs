//! `$JS.API.CONSUMER.*` JSON: request schemas for strict decoding and the bodies of
//! responses, field for field as nats-server 2.15 writes them (names, order, Go's
//! `omitempty`). The internal type is `consumer::config::ConsumerConfig`; conversion
//! and validation live in `consumer::validate`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::errors::ApiError;
use super::gojson::{self, Field, Struct, Ty};
use super::types::ClusterInfoJson;

// ---------------------------------------------------------------------------------
// Response type names

pub const CONSUMER_CREATE_RESPONSE: &str = "io.nats.jetstream.api.v1.consumer_create_response";
pub const CONSUMER_INFO_RESPONSE: &str = "io.nats.jetstream.api.v1.consumer_info_response";
pub const CONSUMER_DELETE_RESPONSE: &str = "io.nats.jetstream.api.v1.consumer_delete_response";
pub const CONSUMER_NAMES_RESPONSE: &str = "io.nats.jetstream.api.v1.consumer_names_response";
pub const CONSUMER_LIST_RESPONSE: &str = "io.nats.jetstream.api.v1.consumer_list_response";
pub const CONSUMER_PAUSE_RESPONSE: &str = "io.nats.jetstream.api.v1.consumer_pause_response";
pub const CONSUMER_UNPIN_RESPONSE: &str = "io.nats.jetstream.api.v1.consumer_unpin_response";
pub const CONSUMER_LEADER_STEPDOWN_RESPONSE: &str =
    "io.nats.jetstream.api.v1.consumer_leader_stepdown_response";

// ---------------------------------------------------------------------------------
// Consumer configuration

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliverPolicyJson {
    #[default]
    #[serde(alias = "undefined")]
    All,
    Last,
    New,
    ByStartSequence,
    ByStartTime,
    LastPerSubject,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AckPolicyJson {
    #[default]
    None,
    All,
    Explicit,
    /// nats-server's stream-sourcing policy; decoded and checked, then refused.
    FlowControl,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayPolicyJson {
    #[default]
    Instant,
    Original,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorityPolicyJson {
    #[default]
    None,
    Overflow,
    PinnedClient,
    Prioritized,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

fn is_no_priority(p: &PriorityPolicyJson) -> bool {
    *p == PriorityPolicyJson::None
}

/// nats-server's `ConsumerConfig`, as sent in CREATE and returned in ConsumerInfo.
/// Times are RFC 3339 strings as the client wrote them (Go keeps their offsets).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsumerConfigJson {
    #[serde(rename = "durable_name", skip_serializing_if = "String::is_empty")]
    pub durable: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub deliver_policy: DeliverPolicyJson,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub opt_start_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<String>,
    pub ack_policy: AckPolicyJson,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub ack_wait: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_deliver: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backoff: Vec<i64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filter_subjects: Vec<String>,
    pub replay_policy: ReplayPolicyJson,
    #[serde(rename = "rate_limit_bps", skip_serializing_if = "is_zero_u64")]
    pub rate_limit: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sample_freq: String,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_waiting: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_ack_pending: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub flow_control: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub headers_only: bool,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_batch: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_expires: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_bytes: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub deliver_subject: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub deliver_group: String,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub idle_heartbeat: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub inactive_threshold: i64,
    pub num_replicas: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub mem_storage: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub direct: bool,
    /// nats-server-internal (stream sourcing); decoded, then refused when set.
    #[serde(skip_serializing_if = "is_false")]
    pub sourcing: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_until: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub priority_groups: Vec<String>,
    #[serde(skip_serializing_if = "is_no_priority")]
    pub priority_policy: PriorityPolicyJson,
    #[serde(rename = "priority_timeout", skip_serializing_if = "is_zero_i64")]
    pub priority_timeout: i64,
}

pub const DELIVER_POLICIES: &[&str] = &[
    "all",
    "last",
    "new",
    "by_start_sequence",
    "by_start_time",
    "last_per_subject",
    "undefined",
];
pub const ACK_POLICIES: &[&str] = &["none", "all", "explicit", "flow_control"];
pub const REPLAY_POLICIES: &[&str] = &["instant", "original"];
pub const PRIORITY_POLICIES: &[&str] = &["none", "overflow", "pinned_client", "prioritized"];
/// `""` is create-or-update.
pub const ACTIONS: &[&str] = &["", "create", "update"];

/// `server.ConsumerConfig`. `backoff` (`[]time.Duration`) has no `Ty` of its own, so it
/// is taken as is and checked by `consumer::validate` with Go's texts.
pub static CONSUMER_CONFIG: Struct = Struct {
    go_type: "server.ConsumerConfig",
    fields: &[
        Field {
            name: "durable_name",
            ty: Ty::Str,
        },
        Field {
            name: "name",
            ty: Ty::Str,
        },
        Field {
            name: "description",
            ty: Ty::Str,
        },
        Field {
            name: "deliver_policy",
            ty: Ty::RawEnum(DELIVER_POLICIES, false),
        },
        Field {
            name: "opt_start_seq",
            ty: Ty::U64,
        },
        Field {
            name: "opt_start_time",
            ty: Ty::Time,
        },
        Field {
            name: "ack_policy",
            ty: Ty::RawEnum(ACK_POLICIES, false),
        },
        Field {
            name: "ack_wait",
            ty: Ty::Duration,
        },
        Field {
            name: "max_deliver",
            ty: Ty::Int,
        },
        Field {
            name: "backoff",
            ty: Ty::Any,
        },
        Field {
            name: "filter_subject",
            ty: Ty::Str,
        },
        Field {
            name: "filter_subjects",
            ty: Ty::StrList,
        },
        Field {
            name: "replay_policy",
            ty: Ty::RawEnum(REPLAY_POLICIES, false),
        },
        Field {
            name: "rate_limit_bps",
            ty: Ty::U64,
        },
        Field {
            name: "sample_freq",
            ty: Ty::Str,
        },
        Field {
            name: "max_waiting",
            ty: Ty::Int,
        },
        Field {
            name: "max_ack_pending",
            ty: Ty::Int,
        },
        Field {
            name: "flow_control",
            ty: Ty::Bool,
        },
        Field {
            name: "headers_only",
            ty: Ty::Bool,
        },
        Field {
            name: "max_batch",
            ty: Ty::Int,
        },
        Field {
            name: "max_expires",
            ty: Ty::Duration,
        },
        Field {
            name: "max_bytes",
            ty: Ty::Int,
        },
        Field {
            name: "deliver_subject",
            ty: Ty::Str,
        },
        Field {
            name: "deliver_group",
            ty: Ty::Str,
        },
        Field {
            name: "idle_heartbeat",
            ty: Ty::Duration,
        },
        Field {
            name: "inactive_threshold",
            ty: Ty::Duration,
        },
        Field {
            name: "num_replicas",
            ty: Ty::Int,
        },
        Field {
            name: "mem_storage",
            ty: Ty::Bool,
        },
        Field {
            name: "direct",
            ty: Ty::Bool,
        },
        Field {
            name: "sourcing",
            ty: Ty::Bool,
        },
        Field {
            name: "metadata",
            ty: Ty::StrMap,
        },
        Field {
            name: "pause_until",
            ty: Ty::Time,
        },
        Field {
            name: "priority_groups",
            ty: Ty::StrList,
        },
        Field {
            name: "priority_policy",
            ty: Ty::RawEnum(PRIORITY_POLICIES, false),
        },
        Field {
            name: "priority_timeout",
            ty: Ty::Duration,
        },
    ],
};

/// `server.CreateConsumerRequest` (decoded with root name `CreateConsumerRequest`).
pub static CREATE_CONSUMER_REQUEST: Struct = Struct {
    go_type: "server.CreateConsumerRequest",
    fields: &[
        Field {
            name: "stream_name",
            ty: Ty::Str,
        },
        Field {
            name: "config",
            ty: Ty::Struct(&CONSUMER_CONFIG),
        },
        Field {
            name: "action",
            ty: Ty::RawEnum(ACTIONS, false),
        },
        Field {
            name: "pedantic",
            ty: Ty::Bool,
        },
    ],
};

/// Body of CONSUMER.NAMES and CONSUMER.LIST (`JSApiConsumersRequest`), read only when
/// it starts with `{` or `[` (`gojson::is_object_or_array`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ConsumersRequest {
    pub offset: i64,
}

pub static CONSUMER_NAMES_REQUEST: Struct = Struct {
    go_type: "server.JSApiConsumersRequest",
    fields: &[Field {
        name: "offset",
        ty: Ty::Int,
    }],
};

pub static CONSUMER_LIST_REQUEST: Struct = Struct {
    go_type: "server.JSApiConsumersRequest",
    fields: CONSUMER_NAMES_REQUEST.fields,
};

/// A pull request (`JSApiConsumerGetNextRequest` with its embedded `PriorityGroup`).
/// nats-server reads it with plain `json.Unmarshal`: use `gojson::decode_lenient`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct NextRequest {
    /// Nanoseconds; 0 = no expiry.
    pub expires: i64,
    pub batch: i64,
    pub max_bytes: i64,
    pub no_wait: bool,
    /// Nanoseconds.
    pub idle_heartbeat: i64,
    pub group: String,
    pub min_pending: i64,
    pub min_ack_pending: i64,
    pub id: String,
    pub priority: i64,
}

pub static NEXT_REQUEST: Struct = Struct {
    go_type: "server.JSApiConsumerGetNextRequest",
    fields: &[
        Field {
            name: "expires",
            ty: Ty::Duration,
        },
        Field {
            name: "batch",
            ty: Ty::Int,
        },
        Field {
            name: "max_bytes",
            ty: Ty::Int,
        },
        Field {
            name: "no_wait",
            ty: Ty::Bool,
        },
        Field {
            name: "idle_heartbeat",
            ty: Ty::Duration,
        },
        Field {
            name: "group",
            ty: Ty::Str,
        },
        Field {
            name: "min_pending",
            ty: Ty::I64,
        },
        Field {
            name: "min_ack_pending",
            ty: Ty::I64,
        },
        Field {
            name: "id",
            ty: Ty::Str,
        },
        Field {
            name: "priority",
            ty: Ty::Int,
        },
    ],
};

/// What a pull request body asks for, as nats-server's `nextReqFromMsg` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextBody {
    /// Empty body, a bare number (`"5"`), or anything else that is not JSON: a batch
    /// with no other options (nats-server uses 1 when the text is not a number).
    Batch(i64),
    /// A JSON object.
    Request(NextRequest),
}

/// Reads a pull request body. `Err` carries Go's `json.Unmarshal` error text.
pub fn parse_next(body: &[u8]) -> Result<NextBody, gojson::GoJsonError> {
    let trimmed = body.trim_ascii();
    if trimmed.first() == Some(&b'{') {
        let map = gojson::decode_lenient(trimmed, &NEXT_REQUEST)?;
        let req = serde_json::from_value(Value::Object(map))
            .map_err(|e| gojson::GoJsonError(e.to_string()))?;
        return Ok(NextBody::Request(req));
    }
    let n = std::str::from_utf8(trimmed)
        .ok()
        .and_then(|s| parse_go_atoi(s).ok())
        .unwrap_or(1);
    Ok(NextBody::Batch(if trimmed.is_empty() { 1 } else { n }))
}

/// Go's `strconv.Atoi` (base 10, optional sign, no underscores), with its error text.
pub fn parse_go_atoi(s: &str) -> Result<i64, String> {
    let quoted = gojson::go_quote(s);
    let syntax = || format!("strconv.Atoi: parsing {quoted}: invalid syntax");
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return Err(syntax());
    }
    let mut n: u64 = 0;
    let mut overflow = false;
    for b in digits.bytes() {
        if !b.is_ascii_digit() {
            // Go stops at the first overflow before looking at later characters.
            return Err(if overflow {
                format!("strconv.Atoi: parsing {quoted}: value out of range")
            } else {
                syntax()
            });
        }
        if !overflow {
            match n
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b - b'0')))
            {
                Some(v) => n = v,
                None => overflow = true,
            }
        }
    }
    let limit = if neg {
        i64::MIN.unsigned_abs()
    } else {
        i64::MAX as u64
    };
    if overflow || n > limit {
        return Err(format!(
            "strconv.Atoi: parsing {quoted}: value out of range"
        ));
    }
    Ok(if neg {
        0i64.wrapping_sub_unsigned(n)
    } else {
        n as i64
    })
}

// ---------------------------------------------------------------------------------
// Responses

/// `SequenceInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SequenceInfoJson {
    #[serde(rename = "consumer_seq")]
    pub consumer_seq: u64,
    #[serde(rename = "stream_seq")]
    pub stream_seq: u64,
    /// RFC 3339, UTC (`time::format_rfc3339_nanos`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_active: Option<String>,
}

/// One entry of ConsumerInfo's `priority_groups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriorityGroupStateJson {
    pub group: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pinned_client_id: String,
    /// Go's zero time (`time::ZERO_TIME`) when nobody is pinned: a `time.Time` is never
    /// left out by `omitempty`.
    pub pinned_ts: String,
}

/// `ConsumerInfo`. A single server has no `cluster` block for consumers (nats-server
/// fills it only for clustered consumers).
#[derive(Debug, Clone, Serialize)]
pub struct ConsumerInfoJson {
    pub stream_name: String,
    pub name: String,
    pub created: String,
    pub config: ConsumerConfigJson,
    pub delivered: SequenceInfoJson,
    pub ack_floor: SequenceInfoJson,
    pub num_ack_pending: u64,
    pub num_redelivered: u64,
    pub num_waiting: u64,
    pub num_pending: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfoJson>,
    #[serde(skip_serializing_if = "is_false")]
    pub push_bound: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub paused: bool,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub pause_remaining: i64,
    pub ts: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub priority_groups: Vec<PriorityGroupStateJson>,
}

/// CONSUMER.CREATE and CONSUMER.INFO responses (`kind` tells them apart).
#[derive(Debug, Serialize)]
pub struct ConsumerInfoResponse {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(flatten)]
    pub info: Option<ConsumerInfoJson>,
}

/// CONSUMER.DELETE (and LEADER.STEPDOWN) responses.
#[derive(Debug, Serialize)]
pub struct ConsumerDeleteResponse {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(skip_serializing_if = "is_false")]
    pub success: bool,
}

#[derive(Debug, Serialize)]
pub struct ConsumerNamesResponse {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
    /// `[]`, never `null`, even in errors.
    pub consumers: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ConsumerListResponse {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
    pub consumers: Vec<ConsumerInfoJson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub offline: BTreeMap<String, String>,
}

/// CONSUMER.PAUSE response: `paused` and `pause_until` are always written.
#[derive(Debug, Serialize)]
pub struct ConsumerPauseResponse {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    pub paused: bool,
    pub pause_until: String,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub pause_remaining: i64,
}

/// The response family of a consumer call, for building its error responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerKind {
    Create,
    Info,
    Delete,
    Names,
    List,
    Pause,
    Unpin,
    LeaderStepdown,
}

impl ConsumerKind {
    pub fn type_name(self) -> &'static str {
        match self {
            ConsumerKind::Create => CONSUMER_CREATE_RESPONSE,
            ConsumerKind::Info => CONSUMER_INFO_RESPONSE,
            ConsumerKind::Delete => CONSUMER_DELETE_RESPONSE,
            ConsumerKind::Names => CONSUMER_NAMES_RESPONSE,
            ConsumerKind::List => CONSUMER_LIST_RESPONSE,
            ConsumerKind::Pause => CONSUMER_PAUSE_RESPONSE,
            ConsumerKind::Unpin => CONSUMER_UNPIN_RESPONSE,
            ConsumerKind::LeaderStepdown => CONSUMER_LEADER_STEPDOWN_RESPONSE,
        }
    }

    /// The error response of this call, with the zero-valued fields nats-server
    /// still writes (paging and `consumers: []` for NAMES/LIST, `paused` and
    /// `pause_until` for PAUSE).
    pub fn error_body(self, error: ApiError) -> Vec<u8> {
        #[derive(Serialize)]
        struct ErrorOnly {
            #[serde(rename = "type")]
            kind: &'static str,
            error: ApiError,
        }
        let kind = self.type_name();
        match self {
            ConsumerKind::Names => gojson::encode(&ConsumerNamesResponse {
                kind,
                error: Some(error),
                total: 0,
                offset: 0,
                limit: 0,
                consumers: Vec::new(),
            }),
            ConsumerKind::List => gojson::encode(&ConsumerListResponse {
                kind,
                error: Some(error),
                total: 0,
                offset: 0,
                limit: 0,
                consumers: Vec::new(),
                missing: Vec::new(),
                offline: BTreeMap::new(),
            }),
            ConsumerKind::Pause => gojson::encode(&ConsumerPauseResponse {
                kind,
                error: Some(error),
                paused: false,
                pause_until: crate::time::ZERO_TIME.to_string(),
                pause_remaining: 0,
            }),
            _ => gojson::encode(&ErrorOnly { kind, error }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::errors;

    fn s(b: Vec<u8>) -> String {
        String::from_utf8(b).unwrap()
    }

    /// Bodies observed from nats-server 2.15.1.
    #[test]
    fn error_bodies_as_nats_server() {
        assert_eq!(
            s(ConsumerKind::Names.error_body(errors::stream_not_found())),
            r#"{"type":"io.nats.jetstream.api.v1.consumer_names_response","error":{"code":404,"err_code":10059,"description":"stream not found"},"total":0,"offset":0,"limit":0,"consumers":[]}"#
        );
        assert_eq!(
            s(ConsumerKind::List.error_body(errors::stream_not_found())),
            r#"{"type":"io.nats.jetstream.api.v1.consumer_list_response","error":{"code":404,"err_code":10059,"description":"stream not found"},"total":0,"offset":0,"limit":0,"consumers":[]}"#
        );
        assert_eq!(
            s(ConsumerKind::Info.error_body(errors::consumer_not_found())),
            r#"{"type":"io.nats.jetstream.api.v1.consumer_info_response","error":{"code":404,"err_code":10014,"description":"consumer not found"}}"#
        );
        assert_eq!(
            s(ConsumerKind::Delete.error_body(errors::consumer_not_found())),
            r#"{"type":"io.nats.jetstream.api.v1.consumer_delete_response","error":{"code":404,"err_code":10014,"description":"consumer not found"}}"#
        );
        assert_eq!(
            s(ConsumerKind::Pause.error_body(errors::consumer_not_found())),
            r#"{"type":"io.nats.jetstream.api.v1.consumer_pause_response","error":{"code":404,"err_code":10014,"description":"consumer not found"},"paused":false,"pause_until":"0001-01-01T00:00:00Z"}"#
        );
        assert_eq!(
            s(ConsumerKind::Unpin.error_body(errors::consumer_not_found())),
            r#"{"type":"io.nats.jetstream.api.v1.consumer_unpin_response","error":{"code":404,"err_code":10014,"description":"consumer not found"}}"#
        );
        assert_eq!(
            s(ConsumerKind::LeaderStepdown.error_body(errors::cluster_required())),
            r#"{"type":"io.nats.jetstream.api.v1.consumer_leader_stepdown_response","error":{"code":503,"err_code":10010,"description":"JetStream clustering support required"}}"#
        );
        assert_eq!(
            s(ConsumerKind::Create.error_body(errors::consumer_small_heartbeat())),
            r#"{"type":"io.nats.jetstream.api.v1.consumer_create_response","error":{"code":400,"err_code":10083,"description":"consumer idle heartbeat needs to be \u003e= 100ms"}}"#
        );
    }

    #[test]
    fn success_bodies() {
        assert_eq!(
            s(gojson::encode(&ConsumerDeleteResponse {
                kind: CONSUMER_DELETE_RESPONSE,
                error: None,
                success: true
            })),
            r#"{"type":"io.nats.jetstream.api.v1.consumer_delete_response","success":true}"#
        );
        assert_eq!(
            s(gojson::encode(&ConsumerNamesResponse {
                kind: CONSUMER_NAMES_RESPONSE,
                error: None,
                total: 2,
                offset: 0,
                limit: 1024,
                consumers: vec!["d".into(), "fffrcrSm".into()],
            })),
            r#"{"type":"io.nats.jetstream.api.v1.consumer_names_response","total":2,"offset":0,"limit":1024,"consumers":["d","fffrcrSm"]}"#
        );
    }

    #[test]
    fn info_body_field_order() {
        let info = ConsumerInfoJson {
            stream_name: "S".into(),
            name: "g".into(),
            created: "2026-11-27T06:07:21.22764622Z".into(),
            config: ConsumerConfigJson {
                max_deliver: -1,
                max_waiting: 512,
                inactive_threshold: 5_000_000_000,
                priority_groups: vec!["g".into()],
                priority_policy: PriorityPolicyJson::Overflow,
                ..Default::default()
            },
            delivered: SequenceInfoJson::default(),
            ack_floor: SequenceInfoJson::default(),
            num_ack_pending: 0,
            num_redelivered: 0,
            num_waiting: 0,
            num_pending: 0,
            cluster: None,
            push_bound: false,
            paused: false,
            pause_remaining: 0,
            ts: "2026-11-27T06:07:21.228312359Z".into(),
            priority_groups: vec![PriorityGroupStateJson {
                group: "g".into(),
                pinned_client_id: String::new(),
                pinned_ts: crate::time::ZERO_TIME.into(),
            }],
        };
        let body = s(gojson::encode(&ConsumerInfoResponse {
            kind: CONSUMER_CREATE_RESPONSE,
            error: None,
            info: Some(info),
        }));
        assert_eq!(
            body,
            r#"{"type":"io.nats.jetstream.api.v1.consumer_create_response","stream_name":"S","name":"g","created":"2026-11-27T06:07:21.22764622Z","config":{"deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"inactive_threshold":5000000000,"num_replicas":0,"priority_groups":["g"],"priority_policy":"overflow"},"delivered":{"consumer_seq":0,"stream_seq":0},"ack_floor":{"consumer_seq":0,"stream_seq":0},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":0,"ts":"2026-11-27T06:07:21.228312359Z","priority_groups":[{"group":"g","pinned_ts":"0001-01-01T00:00:00Z"}]}"#
        );
    }

    #[test]
    fn next_request_bodies() {
        assert_eq!(parse_next(b"").unwrap(), NextBody::Batch(1));
        assert_eq!(parse_next(b" 7 ").unwrap(), NextBody::Batch(7));
        assert_eq!(parse_next(b"junk").unwrap(), NextBody::Batch(1));
        let NextBody::Request(r) =
            parse_next(br#"{"batch":5,"expires":1000,"no_wait":true,"group":"g","x":1}"#).unwrap()
        else {
            panic!("not a request")
        };
        assert_eq!(
            (r.batch, r.expires, r.no_wait, r.group.as_str()),
            (5, 1000, true, "g")
        );
        assert!(parse_next(br#"{"batch":"x"}"#).is_err());
    }

    #[test]
    fn atoi_as_go() {
        assert_eq!(parse_go_atoi("+5"), Ok(5));
        assert_eq!(parse_go_atoi("-5"), Ok(-5));
        assert_eq!(parse_go_atoi("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(
            parse_go_atoi("x").unwrap_err(),
            r#"strconv.Atoi: parsing "x": invalid syntax"#
        );
        assert_eq!(
            parse_go_atoi("").unwrap_err(),
            r#"strconv.Atoi: parsing "": invalid syntax"#
        );
        assert_eq!(
            parse_go_atoi("99999999999999999999").unwrap_err(),
            r#"strconv.Atoi: parsing "99999999999999999999": value out of range"#
        );
        assert_eq!(
            parse_go_atoi("9223372036854775808").unwrap_err(),
            r#"strconv.Atoi: parsing "9223372036854775808": value out of range"#
        );
    }
}
