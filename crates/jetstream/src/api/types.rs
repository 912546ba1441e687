//! `$JS.API` JSON: request and response bodies, field for field as nats-server 2.15
//! writes them (names, order, which fields Go's `omitempty` leaves out). The only
//! `Serialize`/`Deserialize` types of the crate; everything inside works on the
//! internal types of `stream::config`.
//!
//! Each request type comes with its decoding schema (`gojson::Struct`), so requests are
//! checked as strictly as nats-server checks them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::errors::ApiError;
use super::gojson::{Field, Struct, Ty};

// ---------------------------------------------------------------------------------
// Response type names

pub const ACCOUNT_INFO_RESPONSE: &str = "io.nats.jetstream.api.v1.account_info_response";
pub const STREAM_CREATE_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_create_response";
pub const STREAM_UPDATE_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_update_response";
pub const STREAM_DELETE_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_delete_response";
pub const STREAM_INFO_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_info_response";
pub const STREAM_NAMES_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_names_response";
pub const STREAM_LIST_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_list_response";
pub const STREAM_PURGE_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_purge_response";
pub const STREAM_MSG_GET_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_msg_get_response";
pub const STREAM_MSG_DELETE_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_msg_delete_response";
pub const STREAM_LEADER_STEPDOWN_RESPONSE: &str =
    "io.nats.jetstream.api.v1.stream_leader_stepdown_response";

// ---------------------------------------------------------------------------------
// Stream configuration

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetentionJson {
    #[default]
    Limits,
    Interest,
    Workqueue,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiscardJson {
    #[default]
    Old,
    New,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageJson {
    File,
    Memory,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompressionJson {
    #[default]
    None,
    S2,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PersistModeJson {
    #[default]
    Default,
    Async,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

fn is_default_persist(v: &Option<PersistModeJson>) -> bool {
    matches!(v, None | Some(PersistModeJson::Default))
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlacementJson {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub preferred: String,
}

/// `republish`: where stored messages are published again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RepublishJson {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub src: String,
    pub dest: String,
    #[serde(skip_serializing_if = "is_false")]
    pub headers_only: bool,
}

/// nats-server's `StreamSource`, as a stream's `mirror`. Transforms, `external` and
/// `consumer` are kept only to be refused (or echoed) as given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamSourceJson {
    pub name: String,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub opt_start_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_transforms: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<Value>,
    /// A client-side shorthand for `external` (nats-server turns it into one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer: Option<Value>,
}

/// STREAM.INFO's `mirror`: nats-server's `StreamSourceInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamSourceInfoJson {
    pub name: String,
    /// Origin messages not yet copied.
    pub lag: u64,
    /// Nanoseconds since the origin was last heard from; -1 if never.
    pub active: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsumerLimitsJson {
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub inactive_threshold: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_ack_pending: i64,
}

/// nats-server's `StreamConfig`, as sent in CREATE/UPDATE and returned in StreamInfo.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamConfigJson {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<String>,
    pub retention: RetentionJson,
    pub max_consumers: i64,
    pub max_msgs: i64,
    pub max_bytes: i64,
    pub max_age: i64,
    pub max_msgs_per_subject: i64,
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub max_msg_size: i32,
    pub discard: DiscardJson,
    /// `None` when the request left it out (nats defaults it to file).
    pub storage: Option<StorageJson>,
    pub num_replicas: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub no_ack: bool,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub duplicate_window: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<PlacementJson>,
    /// Local mirrors are supported; sources are parsed but refused by validation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSourceJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Value>,
    pub compression: CompressionJson,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub first_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_transform: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub republish: Option<RepublishJson>,
    pub allow_direct: bool,
    pub mirror_direct: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub discard_new_per_subject: bool,
    pub sealed: bool,
    pub deny_delete: bool,
    pub deny_purge: bool,
    pub allow_rollup_hdrs: bool,
    pub consumer_limits: ConsumerLimitsJson,
    pub allow_msg_ttl: bool,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub subject_delete_marker_ttl: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub allow_msg_counter: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub allow_atomic: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub allow_msg_schedules: bool,
    #[serde(skip_serializing_if = "is_default_persist")]
    pub persist_mode: Option<PersistModeJson>,
    #[serde(skip_serializing_if = "is_false")]
    pub allow_batched: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

pub static PLACEMENT: Struct = Struct {
    go_type: "server.Placement",
    fields: &[
        Field {
            name: "cluster",
            ty: Ty::Str,
        },
        Field {
            name: "tags",
            ty: Ty::StrList,
        },
        Field {
            name: "preferred",
            ty: Ty::Str,
        },
    ],
};

pub static CONSUMER_LIMITS: Struct = Struct {
    go_type: "server.StreamConsumerLimits",
    fields: &[
        Field {
            name: "inactive_threshold",
            ty: Ty::Duration,
        },
        Field {
            name: "max_ack_pending",
            ty: Ty::Int,
        },
    ],
};

/// `StreamConfigRequest`: a `StreamConfig` plus `pedantic`.
pub static STREAM_CONFIG_REQUEST: Struct = Struct {
    go_type: "server.StreamConfigRequest",
    fields: &[
        Field {
            name: "name",
            ty: Ty::Str,
        },
        Field {
            name: "description",
            ty: Ty::Str,
        },
        Field {
            name: "subjects",
            ty: Ty::StrList,
        },
        Field {
            name: "retention",
            ty: Ty::RawEnum(&["limits", "interest", "workqueue"], false),
        },
        Field {
            name: "max_consumers",
            ty: Ty::Int,
        },
        Field {
            name: "max_msgs",
            ty: Ty::I64,
        },
        Field {
            name: "max_bytes",
            ty: Ty::I64,
        },
        Field {
            name: "max_age",
            ty: Ty::Duration,
        },
        Field {
            name: "max_msgs_per_subject",
            ty: Ty::I64,
        },
        Field {
            name: "max_msg_size",
            ty: Ty::I32,
        },
        Field {
            name: "discard",
            ty: Ty::RawEnum(&["old", "new"], true),
        },
        Field {
            name: "storage",
            ty: Ty::RawEnum(&["file", "memory"], false),
        },
        Field {
            name: "num_replicas",
            ty: Ty::Int,
        },
        Field {
            name: "no_ack",
            ty: Ty::Bool,
        },
        Field {
            name: "duplicate_window",
            ty: Ty::Duration,
        },
        Field {
            name: "placement",
            ty: Ty::PtrStruct(&PLACEMENT),
        },
        Field {
            name: "mirror",
            ty: Ty::Any,
        },
        Field {
            name: "sources",
            ty: Ty::Any,
        },
        Field {
            name: "compression",
            ty: Ty::Compression,
        },
        Field {
            name: "first_seq",
            ty: Ty::U64,
        },
        Field {
            name: "subject_transform",
            ty: Ty::Any,
        },
        Field {
            name: "republish",
            ty: Ty::Any,
        },
        Field {
            name: "allow_direct",
            ty: Ty::Bool,
        },
        Field {
            name: "mirror_direct",
            ty: Ty::Bool,
        },
        Field {
            name: "discard_new_per_subject",
            ty: Ty::Bool,
        },
        Field {
            name: "sealed",
            ty: Ty::Bool,
        },
        Field {
            name: "deny_delete",
            ty: Ty::Bool,
        },
        Field {
            name: "deny_purge",
            ty: Ty::Bool,
        },
        Field {
            name: "allow_rollup_hdrs",
            ty: Ty::Bool,
        },
        Field {
            name: "consumer_limits",
            ty: Ty::Struct(&CONSUMER_LIMITS),
        },
        Field {
            name: "allow_msg_ttl",
            ty: Ty::Bool,
        },
        Field {
            name: "subject_delete_marker_ttl",
            ty: Ty::Duration,
        },
        Field {
            name: "allow_msg_counter",
            ty: Ty::Bool,
        },
        Field {
            name: "allow_atomic",
            ty: Ty::Bool,
        },
        Field {
            name: "allow_msg_schedules",
            ty: Ty::Bool,
        },
        Field {
            name: "persist_mode",
            ty: Ty::PersistMode,
        },
        Field {
            name: "allow_batched",
            ty: Ty::Bool,
        },
        Field {
            name: "metadata",
            ty: Ty::StrMap,
        },
        Field {
            name: "pedantic",
            ty: Ty::Bool,
        },
    ],
};

// ---------------------------------------------------------------------------------
// Other requests

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StreamInfoRequest {
    pub offset: i64,
    pub deleted_details: bool,
    pub subjects_filter: String,
}

pub static STREAM_INFO_REQUEST: Struct = Struct {
    go_type: "server.JSApiStreamInfoRequest",
    fields: &[
        Field {
            name: "offset",
            ty: Ty::Int,
        },
        Field {
            name: "deleted_details",
            ty: Ty::Bool,
        },
        Field {
            name: "subjects_filter",
            ty: Ty::Str,
        },
    ],
};

/// Body of STREAM.NAMES and STREAM.LIST.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StreamNamesRequest {
    pub offset: i64,
    pub subject: String,
}

pub static STREAM_NAMES_REQUEST: Struct = Struct {
    go_type: "server.JSApiStreamNamesRequest",
    fields: &[
        Field {
            name: "offset",
            ty: Ty::Int,
        },
        Field {
            name: "subject",
            ty: Ty::Str,
        },
    ],
};

pub static STREAM_LIST_REQUEST: Struct = Struct {
    go_type: "server.JSApiStreamListRequest",
    fields: STREAM_NAMES_REQUEST.fields,
};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StreamPurgeRequest {
    pub seq: u64,
    pub filter: String,
    pub keep: u64,
}

pub static STREAM_PURGE_REQUEST: Struct = Struct {
    go_type: "server.JSApiStreamPurgeRequest",
    fields: &[
        Field {
            name: "seq",
            ty: Ty::U64,
        },
        Field {
            name: "filter",
            ty: Ty::Str,
        },
        Field {
            name: "keep",
            ty: Ty::U64,
        },
    ],
};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MsgDeleteRequest {
    pub seq: u64,
    pub no_erase: bool,
}

pub static MSG_DELETE_REQUEST: Struct = Struct {
    go_type: "server.JSApiMsgDeleteRequest",
    fields: &[
        Field {
            name: "seq",
            ty: Ty::U64,
        },
        Field {
            name: "no_erase",
            ty: Ty::Bool,
        },
    ],
};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MsgGetRequest {
    pub seq: u64,
    pub last_by_subj: String,
    pub next_by_subj: String,
    pub batch: i64,
    pub max_bytes: i64,
    pub start_time: Option<String>,
    pub multi_last: Vec<String>,
    pub up_to_seq: u64,
    pub up_to_time: Option<String>,
    pub no_hdr: bool,
}

pub static MSG_GET_REQUEST: Struct = Struct {
    go_type: "server.JSApiMsgGetRequest",
    fields: &[
        Field {
            name: "seq",
            ty: Ty::U64,
        },
        Field {
            name: "last_by_subj",
            ty: Ty::Str,
        },
        Field {
            name: "next_by_subj",
            ty: Ty::Str,
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
            name: "start_time",
            ty: Ty::Time,
        },
        Field {
            name: "multi_last",
            ty: Ty::StrList,
        },
        Field {
            name: "up_to_seq",
            ty: Ty::U64,
        },
        Field {
            name: "up_to_time",
            ty: Ty::Time,
        },
        Field {
            name: "no_hdr",
            ty: Ty::Bool,
        },
    ],
};

// ---------------------------------------------------------------------------------
// Responses

#[derive(Debug, Clone, Serialize)]
pub struct ClusterInfoJson {
    pub leader: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LostJson {
    pub msgs: Vec<u64>,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StreamStateJson {
    pub messages: u64,
    pub bytes: u64,
    pub first_seq: u64,
    pub first_ts: String,
    pub last_seq: u64,
    pub last_ts: String,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub num_subjects: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subjects: Option<BTreeMap<String, u64>>,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub num_deleted: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deleted: Vec<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost: Option<LostJson>,
    pub consumer_count: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StreamInfoJson {
    pub config: StreamConfigJson,
    pub created: String,
    pub state: StreamStateJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfoJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSourceInfoJson>,
    pub ts: String,
}

/// CREATE and UPDATE responses (UPDATE never sets `did_create`).
#[derive(Debug, Serialize)]
pub struct StreamCreateResponse {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(flatten)]
    pub info: Option<StreamInfoJson>,
    #[serde(skip_serializing_if = "is_false")]
    pub did_create: bool,
}

#[derive(Debug, Serialize)]
pub struct StreamInfoResponse {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
    #[serde(flatten)]
    pub info: Option<StreamInfoJson>,
}

#[derive(Debug, Serialize)]
pub struct StreamNamesResponse {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
    /// `null` when there are none, as nats-server sends it.
    pub streams: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
pub struct StreamListResponse {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
    pub streams: Vec<StreamInfoJson>,
}

/// DELETE, MSG.DELETE and LEADER.STEPDOWN responses.
#[derive(Debug, Serialize)]
pub struct SuccessResponse {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(skip_serializing_if = "is_false")]
    pub success: bool,
}

#[derive(Debug, Serialize)]
pub struct StreamPurgeResponse {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(skip_serializing_if = "is_false")]
    pub success: bool,
    pub purged: u64,
}

#[derive(Debug, Serialize)]
pub struct StoredMsgJson {
    pub subject: String,
    pub seq: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hdrs: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub data: String,
    pub time: String,
}

#[derive(Debug, Serialize)]
pub struct MsgGetResponse {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<StoredMsgJson>,
}

#[derive(Debug, Serialize)]
pub struct AccountLimitsJson {
    pub max_memory: i64,
    pub max_storage: i64,
    pub max_streams: i64,
    pub max_consumers: i64,
    pub max_ack_pending: i64,
    pub memory_max_stream_bytes: i64,
    pub storage_max_stream_bytes: i64,
    pub max_bytes_required: bool,
}

#[derive(Debug, Serialize)]
pub struct ApiStatsJson {
    pub level: u32,
    pub total: u64,
    pub errors: u64,
}

#[derive(Debug, Serialize)]
pub struct AccountInfoResponse {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    pub memory: u64,
    pub storage: u64,
    pub reserved_memory: u64,
    pub reserved_storage: u64,
    pub streams: u64,
    pub consumers: u64,
    pub limits: AccountLimitsJson,
    pub api: ApiStatsJson,
}

/// A failed publish: `{"error":{..},"stream":"S","seq":0}`.
#[derive(Debug, Serialize)]
pub struct PubAckErrorJson<'a> {
    pub error: &'a ApiError,
    pub stream: &'a str,
    pub seq: u64,
}
