//! Stream configuration: the internal type, defaults and validation (nats-server's
//! `checkStreamCfg`, in its order, with its texts), and the update rules
//! (`configUpdateCheck`).

use std::collections::BTreeMap;

use sluice_subject::{is_valid_subject, subjects_collide, subset_of, SubjectTransform};

use crate::api::errors::{self, ApiError};
use crate::api::types::{
    CompressionJson, ConsumerLimitsJson, DiscardJson, PersistModeJson, PlacementJson,
    RepublishJson, RetentionJson, StorageJson, StreamConfigJson, StreamSourceJson,
};

/// Longest stream name.
pub const MAX_NAME_LEN: usize = 255;
/// Longest description.
pub const MAX_DESCRIPTION_LEN: usize = 4 * 1024;
/// Most bytes of metadata keys plus values.
pub const MAX_METADATA_LEN: usize = 128 * 1024;
/// Most replicas nats-server accepts in a config.
pub const MAX_REPLICAS: i64 = 5;
/// Default `duplicate_window`: two minutes.
pub const DEFAULT_DUPLICATE_WINDOW: i64 = 120_000_000_000;
const MIN_WINDOW: i64 = 100_000_000;

/// Metadata key for the API level a stream needs (stored with the config).
pub const REQUIRED_LEVEL_KEY: &str = "_nats.req.level";
/// Metadata keys added to responses only.
pub const SERVER_VERSION_KEY: &str = "_nats.ver";
pub const SERVER_LEVEL_KEY: &str = "_nats.level";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    Limits,
    Interest,
    WorkQueue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discard {
    Old,
    New,
}

/// Where a stream keeps its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StorageType {
    File,
    Memory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    S2,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    pub cluster: String,
    pub tags: Vec<String>,
}

/// Stored messages matching `src` are published again on the mapped subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Republish {
    pub src: String,
    pub dest: String,
    pub headers_only: bool,
    /// `None` for an empty `dest`: nats-server accepts it and republishes nothing.
    pub transform: Option<SubjectTransform>,
}

/// A stream this one mirrors (on this server): its messages are copied with their
/// sequences, subjects, headers and times.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mirror {
    /// The origin stream.
    pub name: String,
    /// Copy from this origin sequence (0: from the start).
    pub opt_start_seq: u64,
    /// Copy from this time (unix nanoseconds), with the text the client sent.
    pub opt_start_time: Option<(i64, String)>,
    /// Copy only messages on these subjects (empty: all).
    pub filter_subject: String,
}

impl Mirror {
    pub fn to_json(&self) -> StreamSourceJson {
        StreamSourceJson {
            name: self.name.clone(),
            opt_start_seq: self.opt_start_seq,
            opt_start_time: self.opt_start_time.as_ref().map(|(_, t)| t.clone()),
            filter_subject: self.filter_subject.clone(),
            ..StreamSourceJson::default()
        }
    }

    /// The filter as the store takes it.
    pub fn filter(&self) -> Option<&str> {
        (!self.filter_subject.is_empty()).then_some(self.filter_subject.as_str())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsumerLimits {
    pub inactive_threshold: i64,
    pub max_ack_pending: i64,
}

/// A validated stream configuration with every default applied. Durations are
/// nanoseconds; limits are -1 when unlimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    pub name: String,
    pub description: String,
    pub subjects: Vec<String>,
    pub retention: Retention,
    pub max_consumers: i64,
    pub max_msgs: i64,
    pub max_bytes: i64,
    pub max_age: i64,
    pub max_msgs_per_subject: i64,
    pub max_msg_size: i32,
    pub discard: Discard,
    pub storage: StorageType,
    pub num_replicas: i64,
    pub no_ack: bool,
    pub duplicate_window: i64,
    pub placement: Option<Placement>,
    pub mirror: Option<Mirror>,
    pub compression: Compression,
    pub first_seq: u64,
    pub allow_direct: bool,
    pub mirror_direct: bool,
    pub discard_new_per_subject: bool,
    pub sealed: bool,
    pub deny_delete: bool,
    pub deny_purge: bool,
    pub allow_rollup: bool,
    pub republish: Option<Republish>,
    /// Honour per-message `Nats-TTL` headers.
    pub allow_msg_ttl: bool,
    /// When > 0 (nanoseconds), a message removed by age that was the last on its
    /// subject leaves a delete marker with this TTL.
    pub subject_delete_marker_ttl: i64,
    pub consumer_limits: ConsumerLimits,
    /// User metadata plus `_nats.req.level` (never the response-only keys).
    pub metadata: BTreeMap<String, String>,
}

impl StreamConfig {
    /// True if a message on `subject` belongs to this stream.
    pub fn captures(&self, subject: &str) -> bool {
        self.subjects
            .iter()
            .any(|s| sluice_subject::subject_matches(s, subject))
    }

    /// Roll-ups are honoured only when allowed and purging is not denied.
    pub fn rollup_allowed(&self) -> bool {
        self.allow_rollup && !self.deny_purge
    }

    /// The wire form. `dynamic` adds the response-only metadata (`_nats.ver`,
    /// `_nats.level`), as CREATE/UPDATE/INFO show it; LIST and the stored form don't.
    pub fn to_json(&self, dynamic: Option<(&str, u32)>) -> StreamConfigJson {
        let mut metadata = self.metadata.clone();
        if let Some((version, level)) = dynamic {
            metadata.insert(SERVER_VERSION_KEY.into(), version.into());
            metadata.insert(SERVER_LEVEL_KEY.into(), level.to_string());
        }
        StreamConfigJson {
            name: self.name.clone(),
            description: self.description.clone(),
            subjects: self.subjects.clone(),
            retention: match self.retention {
                Retention::Limits => RetentionJson::Limits,
                Retention::Interest => RetentionJson::Interest,
                Retention::WorkQueue => RetentionJson::Workqueue,
            },
            max_consumers: self.max_consumers,
            max_msgs: self.max_msgs,
            max_bytes: self.max_bytes,
            max_age: self.max_age,
            max_msgs_per_subject: self.max_msgs_per_subject,
            max_msg_size: self.max_msg_size,
            discard: match self.discard {
                Discard::Old => DiscardJson::Old,
                Discard::New => DiscardJson::New,
            },
            storage: Some(match self.storage {
                StorageType::File => StorageJson::File,
                StorageType::Memory => StorageJson::Memory,
            }),
            num_replicas: self.num_replicas,
            no_ack: self.no_ack,
            duplicate_window: self.duplicate_window,
            placement: self.placement.as_ref().map(|p| PlacementJson {
                cluster: p.cluster.clone(),
                tags: p.tags.clone(),
                preferred: String::new(),
            }),
            mirror: self.mirror.as_ref().map(Mirror::to_json),
            sources: None,
            compression: match self.compression {
                Compression::None => CompressionJson::None,
                Compression::S2 => CompressionJson::S2,
            },
            first_seq: self.first_seq,
            subject_transform: None,
            republish: self.republish.as_ref().map(|r| RepublishJson {
                src: r.src.clone(),
                dest: r.dest.clone(),
                headers_only: r.headers_only,
            }),
            allow_direct: self.allow_direct,
            mirror_direct: self.mirror_direct,
            discard_new_per_subject: self.discard_new_per_subject,
            sealed: self.sealed,
            deny_delete: self.deny_delete,
            deny_purge: self.deny_purge,
            allow_rollup_hdrs: self.allow_rollup,
            consumer_limits: ConsumerLimitsJson {
                inactive_threshold: self.consumer_limits.inactive_threshold,
                max_ack_pending: self.consumer_limits.max_ack_pending,
            },
            allow_msg_ttl: self.allow_msg_ttl,
            subject_delete_marker_ttl: self.subject_delete_marker_ttl,
            allow_msg_counter: false,
            allow_atomic: false,
            allow_msg_schedules: false,
            persist_mode: None,
            allow_batched: false,
            metadata,
        }
    }
}

/// nats-server's `isValidAssetName`.
pub fn is_valid_asset_name(name: &str) -> bool {
    !name.is_empty()
        && !name.chars().any(|c| {
            matches!(
                c,
                ' ' | '\t' | '\r' | '\n' | '\x0c' | '.' | '*' | '>' | '\\' | '/'
            )
        })
}

fn invalid(msg: &str) -> ApiError {
    errors::stream_invalid_config(msg)
}

/// Collapses 0 and values below -1 to -1 (unlimited); pedantic mode refuses < -1.
fn unlimited(v: i64, field: &str, pedantic: bool) -> Result<i64, ApiError> {
    if v == 0 || v < -1 {
        if pedantic && v < -1 {
            return Err(errors::pedantic(format!("{field} must be set to -1")));
        }
        return Ok(-1);
    }
    Ok(v)
}

/// Applies defaults and validates a requested configuration, as nats-server's
/// `checkStreamCfg`. Features this server does not implement (mirrors, sources,
/// subject transforms, republish, per-message TTL, counters, atomic/fast batches,
/// schedules, async persistence) are refused with a 10052 error naming them.
pub fn check(req: &StreamConfigJson, pedantic: bool) -> Result<StreamConfig, ApiError> {
    if !is_valid_asset_name(&req.name) {
        return Err(invalid(
            "stream name is required and can not contain '.', '*', '>', '\\', '/'",
        ));
    }
    if req.name.len() > MAX_NAME_LEN {
        return Err(invalid(&format!(
            "stream name is too long, maximum allowed is {MAX_NAME_LEN}"
        )));
    }
    if req.description.len() > MAX_DESCRIPTION_LEN {
        return Err(invalid(&format!(
            "stream description is too long, maximum allowed is {MAX_DESCRIPTION_LEN}"
        )));
    }
    let metadata_len: usize = req.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
    if metadata_len > MAX_METADATA_LEN {
        return Err(invalid(&format!(
            "stream metadata exceeds maximum size of {MAX_METADATA_LEN} bytes"
        )));
    }

    let storage = match req.storage {
        None | Some(StorageJson::File) => StorageType::File,
        Some(StorageJson::Memory) => StorageType::Memory,
    };
    let mut num_replicas = req.num_replicas;
    if num_replicas == 0 {
        num_replicas = 1;
    }
    if num_replicas > MAX_REPLICAS {
        return Err(invalid(&format!("maximum replicas is {MAX_REPLICAS}")));
    }
    if num_replicas < 0 {
        return Err(errors::replicas_count_cannot_be_negative());
    }
    let max_msgs = unlimited(req.max_msgs, "max_msgs", pedantic)?;
    let max_msgs_per_subject =
        unlimited(req.max_msgs_per_subject, "max_msgs_per_subject", pedantic)?;
    let max_bytes = unlimited(req.max_bytes, "max_bytes", pedantic)?;
    let max_msg_size = unlimited(i64::from(req.max_msg_size), "max_msg_size", pedantic)? as i32;
    let max_consumers = unlimited(req.max_consumers, "max_consumers", pedantic)?;
    let max_age = req.max_age;
    if max_age < 0 {
        return Err(invalid("max age can not be negative"));
    }
    if max_age != 0 && max_age < MIN_WINDOW {
        return Err(invalid("max age needs to be >= 100ms"));
    }

    let has_sources = req.sources.as_ref().is_some_and(|s| match s {
        serde_json::Value::Array(a) => !a.is_empty(),
        serde_json::Value::Null => false,
        _ => true,
    });
    let mut duplicate_window = req.duplicate_window;
    if duplicate_window == 0 && req.mirror.is_none() && !has_sources {
        if max_age != 0 && max_age < DEFAULT_DUPLICATE_WINDOW {
            if pedantic {
                return Err(errors::pedantic(
                    "duplicate window cannot be bigger than max age",
                ));
            }
            duplicate_window = max_age;
        } else {
            duplicate_window = DEFAULT_DUPLICATE_WINDOW;
        }
    }
    if duplicate_window < 0 {
        return Err(invalid("duplicates window can not be negative"));
    }
    if max_age != 0 && duplicate_window > max_age {
        return Err(invalid("duplicates window can not be larger then max age"));
    }
    if duplicate_window > 0 && duplicate_window < MIN_WINDOW {
        return Err(invalid("duplicates window needs to be >= 100ms"));
    }
    if req.deny_purge && req.allow_rollup_hdrs {
        return Err(invalid("roll-ups require the purge permission"));
    }
    let discard = match req.discard {
        DiscardJson::Old => Discard::Old,
        DiscardJson::New => Discard::New,
    };
    if req.allow_msg_counter {
        if discard == Discard::New {
            return Err(invalid("counter stream cannot use discard new"));
        }
        if req.allow_msg_ttl {
            return Err(invalid("counter stream cannot use message TTLs"));
        }
        if req.allow_msg_schedules {
            return Err(invalid("counter stream cannot use message schedules"));
        }
        if req.retention != RetentionJson::Limits {
            return Err(invalid("counter stream can only use limits retention"));
        }
    }
    if req.discard_new_per_subject {
        if discard != Discard::New {
            return Err(invalid(
                "discard new per subject requires discard new policy to be set",
            ));
        }
        if max_msgs_per_subject <= 0 {
            return Err(invalid(
                "discard new per subject requires max msgs per subject > 0",
            ));
        }
    }
    let mut allow_msg_ttl = req.allow_msg_ttl;
    let (mut allow_rollup, mut deny_purge) = (req.allow_rollup_hdrs, req.deny_purge);
    if req.subject_delete_marker_ttl > 0 {
        if req.subject_delete_marker_ttl < 1_000_000_000 {
            return Err(invalid(
                "subject delete marker TTL must be at least 1 second",
            ));
        }
        // Markers are TTL'd roll-ups: without pedantic, the features they need are
        // switched on rather than refused.
        if !allow_msg_ttl {
            if pedantic {
                return Err(invalid(
                    "subject delete marker cannot be set if message TTLs are disabled",
                ));
            }
            allow_msg_ttl = true;
        }
        if !allow_rollup {
            if pedantic {
                return Err(invalid(
                    "subject delete marker cannot be set if roll-ups are disabled",
                ));
            }
            (allow_rollup, deny_purge) = (true, false);
        }
    } else if req.subject_delete_marker_ttl < 0 {
        return Err(invalid("subject delete marker TTL must not be negative"));
    }
    if req.allow_msg_schedules && discard == Discard::New {
        return Err(invalid("message scheduling cannot use discard new"));
    }
    if req.persist_mode == Some(PersistModeJson::Async) {
        if storage != StorageType::File {
            return Err(invalid(
                "async persist mode is only supported on file storage",
            ));
        }
        if num_replicas > 1 {
            return Err(invalid(
                "async persist mode is not supported on replicated streams",
            ));
        }
        if req.allow_atomic {
            return Err(invalid(
                "async persist mode is not supported with atomic batch publish",
            ));
        }
    }

    let mirror = match &req.mirror {
        Some(m) => Some(check_mirror(req, m, has_sources)?),
        None => None,
    };
    // What nats-server would go on to check next concerns features this server lacks.
    let unsupported = [
        (
            has_sources,
            "stream sources are not supported by this server",
        ),
        (
            req.subject_transform.is_some(),
            "subject transforms are not supported by this server",
        ),
        (
            req.allow_msg_counter,
            "message counters are not supported by this server",
        ),
        (
            req.allow_atomic,
            "atomic batch publishing is not supported by this server",
        ),
        (
            req.allow_batched,
            "batch publishing is not supported by this server",
        ),
        (
            req.allow_msg_schedules,
            "message schedules are not supported by this server",
        ),
        (
            req.persist_mode == Some(PersistModeJson::Async),
            "async persist mode is not supported by this server",
        ),
    ];
    if let Some((_, msg)) = unsupported.iter().find(|(on, _)| *on) {
        return Err(invalid(msg));
    }

    let mut subjects = req.subjects.clone();
    if subjects.is_empty() {
        if mirror.is_none() {
            subjects.push(req.name.clone());
        }
    } else {
        let mut seen = std::collections::HashSet::new();
        for (i, subj) in subjects.iter().enumerate() {
            if !is_valid_subject(subj) {
                return Err(invalid("invalid subject"));
            }
            if !seen.insert(subj.as_str()) {
                return Err(invalid("duplicate subjects detected"));
            }
            if subj == ">" {
                if !req.no_ack {
                    return Err(invalid("capturing all subjects requires no-ack to be true"));
                }
                if num_replicas != 1 {
                    return Err(invalid("capturing all subjects requires replicas of 1"));
                }
            }
            if !req.no_ack {
                for namespace in ["$JS.>", "$JSC.>", "$NRG.>"] {
                    if subjects_collide(subj, namespace) && !subset_of(subj, "$JS.EVENT.>") {
                        return Err(invalid(
                            "subjects that overlap with jetstream api require no-ack to be true",
                        ));
                    }
                }
                if subjects_collide(subj, "$SYS.>") && !subset_of(subj, "$SYS.ACCOUNT.>") {
                    return Err(invalid(
                        "subjects that overlap with system api require no-ack to be true",
                    ));
                }
            }
            for other in &subjects[i + 1..] {
                if subjects_collide(other, subj) {
                    return Err(invalid(&format!(
                        "subject {} overlaps with {}",
                        crate::api::gojson::go_quote(subj),
                        crate::api::gojson::go_quote(other)
                    )));
                }
            }
        }
    }

    let republish = match &req.republish {
        None => None,
        Some(r) => Some(check_republish(r, &subjects, pedantic)?),
    };

    let placement = match &req.placement {
        Some(p) if *p == PlacementJson::default() => None,
        Some(p) => {
            if !p.preferred.is_empty() {
                return Err(invalid("preferred server not permitted in placement"));
            }
            Some(Placement {
                cluster: p.cluster.clone(),
                tags: p.tags.clone(),
            })
        }
        None => None,
    };

    let mut metadata = req.metadata.clone();
    metadata.remove(SERVER_VERSION_KEY);
    metadata.remove(SERVER_LEVEL_KEY);

    Ok(StreamConfig {
        name: req.name.clone(),
        description: req.description.clone(),
        subjects,
        retention: match req.retention {
            RetentionJson::Limits => Retention::Limits,
            RetentionJson::Interest => Retention::Interest,
            RetentionJson::Workqueue => Retention::WorkQueue,
        },
        max_consumers,
        max_msgs,
        max_bytes,
        max_age,
        max_msgs_per_subject,
        max_msg_size,
        discard,
        storage,
        num_replicas,
        no_ack: req.no_ack,
        duplicate_window,
        placement,
        mirror,
        compression: match req.compression {
            CompressionJson::None => Compression::None,
            CompressionJson::S2 => Compression::S2,
        },
        first_seq: req.first_seq,
        allow_direct: req.allow_direct,
        mirror_direct: req.mirror_direct,
        discard_new_per_subject: req.discard_new_per_subject,
        sealed: req.sealed,
        deny_delete: req.deny_delete,
        deny_purge,
        allow_rollup,
        republish,
        allow_msg_ttl,
        subject_delete_marker_ttl: req.subject_delete_marker_ttl,
        consumer_limits: ConsumerLimits {
            inactive_threshold: req.consumer_limits.inactive_threshold,
            max_ack_pending: req.consumer_limits.max_ack_pending,
        },
        metadata,
    })
}

/// nats-server's mirror checks (`checkStreamCfg`), in its order. Mirrors of streams
/// on other servers or domains (`external`), durable mirror consumers and mirror
/// subject transforms are refused as unsupported.
fn check_mirror(
    req: &StreamConfigJson,
    m: &StreamSourceJson,
    has_sources: bool,
) -> Result<Mirror, ApiError> {
    if req.first_seq > 0 {
        return Err(ApiError::new(
            400,
            10143,
            "stream mirrors can not have first sequence configured",
        ));
    }
    if !req.subjects.is_empty() {
        return Err(mirror_with_subjects());
    }
    if has_sources {
        return Err(ApiError::new(
            400,
            10031,
            "stream mirrors can not also contain other sources",
        ));
    }
    let with = [
        (
            req.allow_msg_counter,
            10173,
            "stream mirrors can not also calculate counters",
        ),
        (
            req.allow_atomic,
            10198,
            "stream mirrors can not also use atomic publishing",
        ),
        (
            req.allow_batched,
            10209,
            "stream mirrors can not also use batch publishing",
        ),
        (
            req.allow_msg_schedules,
            10186,
            "stream mirrors can not also schedule messages",
        ),
    ];
    if let Some((_, code, msg)) = with.iter().find(|(on, _, _)| *on) {
        return Err(ApiError::new(400, *code, *msg));
    }
    if m.consumer.is_some() {
        return Err(invalid(
            "stream mirror consumers are not supported by this server",
        ));
    }
    let transforms = m.subject_transforms.as_ref().is_some_and(|t| {
        !matches!(t, serde_json::Value::Null) && t.as_array().is_none_or(|a| !a.is_empty())
    });
    if !m.filter_subject.is_empty() && transforms {
        return Err(ApiError::new(
            400,
            10150,
            "mirror with multiple subject transforms cannot also have a single subject filter",
        ));
    }
    if req.subject_delete_marker_ttl > 0 {
        return Err(invalid("subject delete markers forbidden on mirrors"));
    }
    if transforms {
        return Err(invalid(
            "mirror subject transforms are not supported by this server",
        ));
    }
    if m.external.is_some() || m.domain.as_ref().is_some_and(|d| !d.is_empty()) {
        return Err(invalid(
            "mirrors of streams in other domains or accounts are not supported by this server",
        ));
    }
    if !is_valid_asset_name(&m.name) {
        return Err(ApiError::new(400, 10142, "mirrored stream name is invalid"));
    }
    if !m.filter_subject.is_empty() && !is_valid_subject(&m.filter_subject) {
        return Err(invalid(&format!(
            "subject filter '{}' for the mirror invalid subject",
            m.filter_subject
        )));
    }
    let opt_start_time = match &m.opt_start_time {
        None => None,
        Some(t) => match crate::time::parse_rfc3339(t) {
            Some(ns) => Some((ns, t.clone())),
            None => return Err(invalid("mirror opt_start_time is not a valid time")),
        },
    };
    Ok(Mirror {
        name: m.name.clone(),
        opt_start_seq: m.opt_start_seq,
        opt_start_time,
        filter_subject: m.filter_subject.clone(),
    })
}

fn mirror_with_subjects() -> ApiError {
    ApiError::new(400, 10034, "stream mirrors can not contain subjects")
}

/// nats-server's republish checks: an empty source means `>` (refused in pedantic
/// mode), the destination must not feed the stream, and the mapping must compile.
fn check_republish(
    r: &RepublishJson,
    subjects: &[String],
    pedantic: bool,
) -> Result<Republish, ApiError> {
    let mut src = r.src.clone();
    if src.is_empty() {
        if pedantic {
            return Err(errors::pedantic("republish source can not be empty"));
        }
        src = ">".into();
    }
    if !r.dest.is_empty() && subjects.iter().any(|s| subjects_collide(&r.dest, s)) {
        return Err(invalid(
            "stream configuration for republish destination forms a cycle",
        ));
    }
    let transform = if r.dest.is_empty() {
        None
    } else {
        Some(SubjectTransform::new(&src, &r.dest).map_err(|_| {
            invalid(&format!(
                "stream configuration for republish with transform from '{src}' to '{}' not valid",
                r.dest
            ))
        })?)
    };
    Ok(Republish {
        src,
        dest: r.dest.clone(),
        headers_only: r.headers_only,
        transform,
    })
}

/// Sets the stored, static metadata: `_nats.req.level`, the API level the features
/// in use need (per-message TTLs came with level 1).
pub fn set_static_metadata(cfg: &mut StreamConfig) {
    let level = if cfg.allow_msg_ttl || cfg.subject_delete_marker_ttl > 0 {
        "1"
    } else {
        "0"
    };
    cfg.metadata.insert(REQUIRED_LEVEL_KEY.into(), level.into());
}

/// The rules for changing `old` into the (already checked) `new`, as nats-server's
/// `configUpdateCheck`; returns the configuration to apply.
pub fn check_update(old: &StreamConfig, mut new: StreamConfig) -> Result<StreamConfig, ApiError> {
    if new.name != old.name {
        return Err(invalid("stream configuration name must match original"));
    }
    if new.num_replicas > 1 {
        return Err(errors::stream_replicas_not_supported());
    }
    if new.storage != old.storage {
        return Err(invalid(
            "stream configuration update can not change storage type",
        ));
    }
    if new.retention != old.retention
        && (old.retention == Retention::WorkQueue || new.retention == Retention::WorkQueue)
    {
        return Err(invalid(
            "stream configuration update can not change retention policy to/from workqueue",
        ));
    }
    if old.allow_msg_ttl && !new.allow_msg_ttl {
        return Err(invalid("message TTL status can not be disabled"));
    }
    if !new.sealed && old.sealed {
        return Err(invalid(
            "stream configuration update can not unseal a sealed stream",
        ));
    }
    if !new.deny_delete && old.deny_delete {
        return Err(invalid(
            "stream configuration update can not cancel deny message deletes",
        ));
    }
    if !new.deny_purge && old.deny_purge {
        return Err(invalid(
            "stream configuration update can not cancel deny purge",
        ));
    }
    if new.mirror.is_some() && new.mirror != old.mirror {
        return Err(ApiError::new(
            400,
            10055,
            "stream mirror configuration can not be updated",
        ));
    }
    if new.sealed {
        new.max_age = 0;
        new.discard = Discard::New;
        new.deny_delete = true;
        new.deny_purge = true;
        new.allow_rollup = false;
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(json: &str) -> StreamConfigJson {
        serde_json::from_str(json).unwrap()
    }

    fn check_err(json: &str) -> ApiError {
        check(&cfg(json), false).unwrap_err()
    }

    /// Texts and codes observed from nats-server 2.15.1.
    #[test]
    fn validation_errors() {
        let cases: &[(&str, u16, u16, &str)] = &[
            (
                r#"{"name":""}"#,
                500,
                10052,
                "stream name is required and can not contain '.', '*', '>', '\\', '/'",
            ),
            (
                r#"{"name":"a.b"}"#,
                500,
                10052,
                "stream name is required and can not contain '.', '*', '>', '\\', '/'",
            ),
            (
                r#"{"name":"a b"}"#,
                500,
                10052,
                "stream name is required and can not contain '.', '*', '>', '\\', '/'",
            ),
            (
                r#"{"name":"foo","max_age":-1}"#,
                500,
                10052,
                "max age can not be negative",
            ),
            (
                r#"{"name":"foo","max_age":1000}"#,
                500,
                10052,
                "max age needs to be >= 100ms",
            ),
            (
                r#"{"name":"foo","duplicate_window":-1}"#,
                500,
                10052,
                "duplicates window can not be negative",
            ),
            (
                r#"{"name":"foo","duplicate_window":1000}"#,
                500,
                10052,
                "duplicates window needs to be >= 100ms",
            ),
            (
                r#"{"name":"foo","max_age":1000000000,"duplicate_window":2000000000}"#,
                500,
                10052,
                "duplicates window can not be larger then max age",
            ),
            (
                r#"{"name":"foo","deny_purge":true,"allow_rollup_hdrs":true}"#,
                500,
                10052,
                "roll-ups require the purge permission",
            ),
            (
                r#"{"name":"foo","discard_new_per_subject":true}"#,
                500,
                10052,
                "discard new per subject requires discard new policy to be set",
            ),
            (
                r#"{"name":"foo","discard_new_per_subject":true,"discard":"new"}"#,
                500,
                10052,
                "discard new per subject requires max msgs per subject > 0",
            ),
            (
                r#"{"name":"foo","subjects":["a..b"]}"#,
                500,
                10052,
                "invalid subject",
            ),
            (
                r#"{"name":"foo","subjects":["a","a"]}"#,
                500,
                10052,
                "subject \"a\" overlaps with \"a\"",
            ),
            (
                r#"{"name":"foo","subjects":[">"]}"#,
                500,
                10052,
                "capturing all subjects requires no-ack to be true",
            ),
            (
                r#"{"name":"foo","subjects":["$JS.API.>"]}"#,
                500,
                10052,
                "subjects that overlap with jetstream api require no-ack to be true",
            ),
            (
                r#"{"name":"foo","subjects":["$SYS.>"]}"#,
                500,
                10052,
                "subjects that overlap with system api require no-ack to be true",
            ),
            (
                r#"{"name":"foo","subjects":["a.*","a.b"]}"#,
                500,
                10052,
                "subject \"a.*\" overlaps with \"a.b\"",
            ),
            (
                r#"{"name":"foo","num_replicas":6}"#,
                500,
                10052,
                "maximum replicas is 5",
            ),
            (
                r#"{"name":"foo","num_replicas":-1}"#,
                400,
                10133,
                "replicas count cannot be negative",
            ),
            (
                r#"{"name":"foo","placement":{"preferred":"x"}}"#,
                500,
                10052,
                "preferred server not permitted in placement",
            ),
            (
                r#"{"name":"foo","mirror":{"name":"x","external":{"api":"$JS.H.API"}}}"#,
                500,
                10052,
                "mirrors of streams in other domains or accounts are not supported by this server",
            ),
            (
                r#"{"name":"foo","mirror":{"name":"x"},"subjects":["a"]}"#,
                400,
                10034,
                "stream mirrors can not contain subjects",
            ),
            (
                r#"{"name":"foo","mirror":{"name":"x"},"first_seq":5}"#,
                400,
                10143,
                "stream mirrors can not have first sequence configured",
            ),
            (
                r#"{"name":"foo","mirror":{"name":"x"},"sources":[{"name":"y"}]}"#,
                400,
                10031,
                "stream mirrors can not also contain other sources",
            ),
            (
                r#"{"name":"foo","mirror":{"name":"x.y"}}"#,
                400,
                10142,
                "mirrored stream name is invalid",
            ),
            (
                r#"{"name":"foo","subject_delete_marker_ttl":10}"#,
                500,
                10052,
                "subject delete marker TTL must be at least 1 second",
            ),
        ];
        for &(json, code, err_code, desc) in cases {
            let e = check_err(json);
            assert_eq!(
                (e.code, e.err_code, e.description.as_str()),
                (code, err_code, desc),
                "{json}"
            );
        }
        let long = format!(r#"{{"name":"{}"}}"#, "n".repeat(256));
        assert_eq!(
            check_err(&long).description,
            "stream name is too long, maximum allowed is 255"
        );
        let long = format!(r#"{{"name":"n","description":"{}"}}"#, "d".repeat(4097));
        assert_eq!(
            check_err(&long).description,
            "stream description is too long, maximum allowed is 4096"
        );
    }

    #[test]
    fn defaults_as_nats_server() {
        let c = check(&cfg(r#"{"name":"foo"}"#), false).unwrap();
        assert_eq!(c.subjects, vec!["foo".to_string()]);
        assert_eq!(
            (
                c.max_msgs,
                c.max_bytes,
                c.max_msgs_per_subject,
                c.max_msg_size,
                c.max_consumers
            ),
            (-1, -1, -1, -1, -1)
        );
        assert_eq!(c.duplicate_window, DEFAULT_DUPLICATE_WINDOW);
        assert_eq!(c.storage, StorageType::File);
        assert_eq!(c.num_replicas, 1);
        let c = check(
            &cfg(r#"{"name":"foo","max_age":60000000000,"max_msgs":-5,"placement":{}}"#),
            false,
        )
        .unwrap();
        assert_eq!(c.duplicate_window, 60_000_000_000);
        assert_eq!(c.max_msgs, -1);
        assert_eq!(c.placement, None);
        let e = check(&cfg(r#"{"name":"foo","max_msgs":-5}"#), true).unwrap_err();
        assert_eq!(
            (e.err_code, e.description.as_str()),
            (10157, "pedantic mode: max_msgs must be set to -1")
        );
        // The wildcard-subject exception for $JS.EVENT.
        assert!(check(&cfg(r#"{"name":"foo","subjects":["$JS.EVENT.>"]}"#), false).is_ok());
        assert!(check(
            &cfg(r#"{"name":"foo","subjects":[">"],"no_ack":true}"#),
            false
        )
        .is_ok());
    }

    #[test]
    fn update_rules() {
        let base = check(
            &cfg(r#"{"name":"foo","deny_delete":true,"retention":"interest"}"#),
            false,
        )
        .unwrap();
        let cases: &[(&str, &str)] = &[
            (
                r#"{"name":"foo","deny_delete":true,"storage":"memory","retention":"interest"}"#,
                "stream configuration update can not change storage type",
            ),
            (
                r#"{"name":"foo","deny_delete":true,"retention":"workqueue"}"#,
                "stream configuration update can not change retention policy to/from workqueue",
            ),
            (
                r#"{"name":"foo","retention":"interest"}"#,
                "stream configuration update can not cancel deny message deletes",
            ),
            (
                r#"{"name":"bar","deny_delete":true,"retention":"interest"}"#,
                "stream configuration name must match original",
            ),
        ];
        for &(json, want) in cases {
            let new = check(&cfg(json), false).unwrap();
            assert_eq!(
                check_update(&base, new).unwrap_err().description,
                want,
                "{json}"
            );
        }
        let sealed = check_update(&base, check(&cfg(r#"{"name":"foo","deny_delete":true,"sealed":true,"max_age":5000000000,"retention":"interest"}"#), false).unwrap()).unwrap();
        assert!(sealed.sealed && sealed.deny_purge && sealed.deny_delete);
        assert_eq!((sealed.discard, sealed.max_age), (Discard::New, 0));
        let e = check_update(
            &sealed,
            check(
                &cfg(
                    r#"{"name":"foo","deny_delete":true,"deny_purge":true,"retention":"interest"}"#,
                ),
                false,
            )
            .unwrap(),
        )
        .unwrap_err();
        assert_eq!(
            e.description,
            "stream configuration update can not unseal a sealed stream"
        );
        let e = check_update(
            &base,
            check(
                &cfg(
                    r#"{"name":"foo","deny_delete":true,"retention":"interest","num_replicas":3}"#,
                ),
                false,
            )
            .unwrap(),
        )
        .unwrap_err();
        assert_eq!(e.err_code, 10074);
    }
}
