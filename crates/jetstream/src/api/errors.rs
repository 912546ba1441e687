//! The JetStream API errors this crate can return, with nats-server's codes and texts
//! (`server/errors.json`). Codes are never reused for something else.
//!
//! Each constructor is named after the nats-server constant without the `JS` prefix
//! and `Err` suffix; templated descriptions (`{err}`, `{seq}`) take the value.

use serde::Serialize;

/// The `error` object of an API response or PubAck.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    /// HTTP-like status.
    pub code: u16,
    /// JetStream error id (always non-zero here).
    #[serde(skip_serializing_if = "is_zero")]
    pub err_code: u16,
    pub description: String,
}

fn is_zero(v: &u16) -> bool {
    *v == 0
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (err_code {}, code {})",
            self.description, self.err_code, self.code
        )
    }
}

impl ApiError {
    pub fn new(code: u16, err_code: u16, description: impl Into<String>) -> Self {
        ApiError {
            code,
            err_code,
            description: description.into(),
        }
    }
}

macro_rules! fixed {
    ($($(#[$doc:meta])* $name:ident => $code:expr, $err:expr, $desc:expr;)*) => {
        $( $(#[$doc])* pub fn $name() -> ApiError { ApiError::new($code, $err, $desc) } )*
    };
}

macro_rules! templated {
    ($($(#[$doc:meta])* $name:ident($arg:ident: $ty:ty) => $code:expr, $err:expr, $fmt:expr;)*) => {
        $( $(#[$doc])* pub fn $name($arg: $ty) -> ApiError { ApiError::new($code, $err, format!($fmt, $arg)) } )*
    };
}

fixed! {
    account_resources_exceeded => 400, 10002, "resource limits exceeded for account";
    bad_request => 400, 10003, "bad request";
    cluster_required => 503, 10010, "JetStream clustering support required";
    insufficient_resources => 503, 10023, "insufficient resources";
    maximum_streams_limit => 400, 10027, "maximum number of streams reached";
    memory_resources_exceeded => 500, 10028, "insufficient memory resources available";
    no_message_found => 404, 10037, "no message found";
    not_empty_request => 400, 10038, "expected an empty request payload";
    not_enabled_for_account => 503, 10039, "JetStream not enabled for account";
    storage_resources_exceeded => 500, 10047, "insufficient storage resources available";
    stream_message_exceeds_maximum => 400, 10054, "message size exceeds maximum allowed";
    stream_mirror_not_updatable => 400, 10055, "stream mirror configuration can not be updated";
    stream_mismatch => 400, 10056, "stream name in subject does not match request";
    stream_name_exist => 400, 10058, "stream name already in use with a different configuration";
    stream_not_found => 404, 10059, "stream not found";
    stream_not_match => 400, 10060, "expected stream does not match";
    stream_subject_overlap => 400, 10065, "subjects overlap with an existing stream";
    stream_replicas_not_supported => 500, 10074, "replicas > 1 not supported in non-clustered mode";
    stream_header_exceeds_maximum => 400, 10097, "header size exceeds maximum allowed of 64k";
    stream_sealed => 400, 10109, "invalid operation on sealed stream";
    stream_name_contains_path_separators => 400, 10128, "Stream name can not contain path separators";
    replicas_count_cannot_be_negative => 400, 10133, "replicas count cannot be negative";
    message_ttl_invalid => 400, 10165, "invalid per-message TTL";
    message_ttl_disabled => 400, 10166, "per-message TTL is disabled";
    message_incr_disabled => 400, 10168, "message counters is disabled";
    message_incr_invalid => 400, 10171, "message counter increment is invalid";
    required_api_level => 412, 10185, "JetStream minimum api level required";
    message_schedules_disabled => 400, 10188, "message schedules is disabled";
    stream_expected_last_seq_per_subject_invalid => 400, 10193, "missing sequence for expected last sequence per subject";
    message_schedules_scheduler_invalid => 400, 10212, "message schedules invalid scheduler";
    message_source_hdr_not_allowed => 400, 10227, "message stream source header is not allowed";
    consumer_name_exist => 400, 10013, "consumer name already in use";
    consumer_not_found => 404, 10014, "consumer not found";
    consumer_durable_name_not_in_subject => 400, 10016, "consumer expected to be durable but no durable name set in subject";
    consumer_durable_name_not_match_subject => 400, 10017, "consumer name in subject does not match durable name in request";
    consumer_durable_name_not_set => 400, 10018, "consumer expected to be durable but a durable name was not set";
    consumer_ephemeral_with_durable_in_subject => 400, 10019, "consumer expected to be ephemeral but detected a durable name set in subject";
    consumer_ephemeral_with_durable_name => 400, 10020, "consumer expected to be ephemeral but a durable name was set in request";
    maximum_consumers_limit => 400, 10026, "maximum consumers limit reached";
    consumer_config_required => 400, 10078, "consumer config required";
    consumer_deliver_to_wildcards => 400, 10079, "consumer deliver subject has wildcards";
    consumer_push_max_waiting => 400, 10080, "consumer in push mode can not set max waiting";
    consumer_deliver_cycle => 400, 10081, "consumer deliver subject forms a cycle";
    consumer_max_pending_ack_policy_required => 400, 10082, "consumer requires ack policy for max ack pending";
    consumer_small_heartbeat => 400, 10083, "consumer idle heartbeat needs to be >= 100ms";
    consumer_pull_requires_ack => 400, 10084, "consumer in pull mode requires explicit ack policy on workqueue stream";
    consumer_pull_with_rate_limit => 400, 10086, "consumer in pull mode can not have rate limit set";
    consumer_max_waiting_negative => 400, 10087, "consumer max waiting needs to be positive";
    consumer_hb_requires_push => 400, 10088, "consumer idle heartbeat requires a push based consumer";
    consumer_fc_requires_push => 400, 10089, "consumer flow control requires a push based consumer";
    consumer_direct_requires_push => 400, 10090, "consumer direct requires a push based consumer";
    consumer_direct_requires_ephemeral => 400, 10091, "consumer direct requires an ephemeral consumer";
    consumer_wq_requires_explicit_ack => 400, 10098, "workqueue stream requires explicit ack";
    consumer_wq_multiple_unfiltered => 400, 10099, "multiple non-filtered consumers not allowed on workqueue stream";
    consumer_wq_consumer_not_unique => 400, 10100, "filtered consumer not unique on workqueue stream";
    consumer_wq_consumer_not_deliver_all => 400, 10101, "consumer must be deliver all on workqueue stream";
    consumer_bad_durable_name => 400, 10103, "durable name can not contain '.', '*', '>'";
    consumer_existing_active => 400, 10105, "consumer already exists and is still active";
    consumer_replacement_with_different_name => 400, 10106, "consumer replacement durable config not the same";
    consumer_with_flow_control_needs_heartbeats => 400, 10108, "consumer with flow control also needs heartbeats";
    consumer_invalid_deliver_subject => 400, 10112, "invalid push consumer deliver subject";
    consumer_max_request_batch_negative => 400, 10114, "consumer max request batch needs to be > 0";
    consumer_max_request_expires_too_small => 400, 10115, "consumer max request expires needs to be >= 1ms";
    consumer_max_deliver_backoff => 400, 10116, "max deliver is required to be > length of backoff values";
    consumer_replicas_exceeds_stream => 400, 10126, "consumer config replica count exceeds parent stream";
    consumer_name_contains_path_separators => 400, 10127, "Consumer name can not contain path separators";
    consumer_create_filter_subject_mismatch => 400, 10131, "Consumer create request did not match filtered subject from create subject";
    consumer_create_durable_and_name_mismatch => 400, 10132, "Consumer Durable and Name have to be equal if both are provided";
    consumer_replicas_should_match_stream => 400, 10134, "consumer config replicas must match interest retention stream's replicas";
    consumer_duplicate_filter_subjects => 400, 10136, "consumer cannot have both FilterSubject and FilterSubjects specified";
    consumer_multiple_filters_not_allowed => 400, 10137, "consumer with multiple subject filters cannot use subject based API";
    consumer_overlapping_subject_filters => 400, 10138, "consumer subject filters cannot overlap";
    consumer_empty_filter => 400, 10139, "consumer filter in FilterSubjects cannot be empty";
    consumer_already_exists => 400, 10148, "consumer already exists";
    consumer_does_not_exist => 400, 10149, "consumer does not exist";
    consumer_priority_policy_without_group => 400, 10159, "Setting PriorityPolicy requires at least one PriorityGroup to be set";
    consumer_invalid_priority_group => 400, 10160, "Provided priority group does not exist for this consumer";
    consumer_empty_group_name => 400, 10161, "Group name cannot be an empty string";
    consumer_invalid_group_name => 400, 10162, "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters";
    consumer_push_with_priority_group => 400, 10178, "priority groups can not be used with push consumers";
    consumer_ack_wait_negative => 400, 10183, "consumer ack wait needs to be positive";
    consumer_back_off_negative => 400, 10184, "consumer backoff needs to be positive";
    consumer_priority_group_with_policy_none => 400, 10196, "consumer can not have priority groups when policy is none";
    consumer_pinned_ttl_without_priority_policy_none => 400, 10197, "PinnedTTL cannot be set when PriorityPolicy is none";
    consumer_ack_fc_requires_push => 400, 10218, "flow control ack policy requires a push based consumer";
    consumer_ack_fc_requires_fc => 400, 10219, "flow control ack policy requires flow control";
    consumer_ack_fc_requires_max_ack_pending => 400, 10220, "flow control ack policy requires max ack pending";
    consumer_ack_fc_requires_no_ack_wait => 400, 10221, "flow control ack policy requires unset ack wait";
    consumer_ack_fc_requires_no_max_deliver => 400, 10222, "flow control ack policy requires unset max deliver";
}

templated! {
    invalid_json(err: impl std::fmt::Display) => 400, 10025, "invalid JSON: {}";
    sequence_not_found(seq: u64) => 400, 10043, "sequence {} not found";
    stream_create(err: impl std::fmt::Display) => 500, 10049, "{}";
    stream_delete(err: impl std::fmt::Display) => 500, 10050, "{}";
    stream_general(err: impl std::fmt::Display) => 500, 10051, "{}";
    stream_invalid_config(err: impl std::fmt::Display) => 500, 10052, "{}";
    stream_msg_delete_failed(err: impl std::fmt::Display) => 500, 10057, "{}";
    stream_update(err: impl std::fmt::Display) => 500, 10069, "{}";
    stream_wrong_last_msg_id(id: &str) => 400, 10070, "wrong last msg ID: {}";
    stream_wrong_last_sequence(seq: u64) => 400, 10071, "wrong last sequence: {}";
    stream_store_failed(err: impl std::fmt::Display) => 503, 10077, "{}";
    stream_purge_failed(err: impl std::fmt::Display) => 500, 10110, "{}";
    stream_rollup_failed(err: impl std::fmt::Display) => 500, 10111, "{}";
    pedantic(err: impl std::fmt::Display) => 400, 10157, "pedantic mode: {}";
    consumer_create(err: impl std::fmt::Display) => 500, 10012, "{}";
    consumer_invalid_policy(err: impl std::fmt::Display) => 400, 10094, "{}";
    consumer_invalid_sampling(err: impl std::fmt::Display) => 400, 10095, "failed to parse consumer sampling configuration: {}";
    consumer_name_too_long(max: usize) => 400, 10102, "consumer name is too long, maximum allowed is {}";
    consumer_store_failed(err: impl std::fmt::Display) => 500, 10104, "error creating store for consumer: {}";
    consumer_description_too_long(max: usize) => 400, 10107, "consumer description is too long, maximum allowed is {}";
    consumer_max_pending_ack_excess(limit: i64) => 400, 10121, "consumer max ack pending exceeds system limit of {}";
    consumer_max_request_batch_exceeded(limit: i64) => 400, 10125, "consumer max request batch exceeds server limit of {}";
    consumer_metadata_length(limit: &str) => 400, 10135, "consumer metadata exceeds maximum size of {}";
    /// `limit` is a Go `time.Duration` string (`10s`).
    consumer_inactive_threshold_excess(limit: &str) => 400, 10153, "consumer inactive threshold exceeds system limit of {}";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_like_nats_server() {
        let json = String::from_utf8(crate::api::gojson::encode(&stream_not_found())).unwrap();
        assert_eq!(
            json,
            r#"{"code":404,"err_code":10059,"description":"stream not found"}"#
        );
        let json = String::from_utf8(crate::api::gojson::encode(&stream_replicas_not_supported()))
            .unwrap();
        assert_eq!(
            json,
            r#"{"code":500,"err_code":10074,"description":"replicas \u003e 1 not supported in non-clustered mode"}"#
        );
    }

    #[test]
    fn templates() {
        assert_eq!(sequence_not_found(8).description, "sequence 8 not found");
        assert_eq!(
            stream_wrong_last_sequence(3).description,
            "wrong last sequence: 3"
        );
        assert_eq!(
            stream_wrong_last_msg_id("").description,
            "wrong last msg ID: "
        );
        assert_eq!(
            invalid_json("unexpected EOF").description,
            "invalid JSON: unexpected EOF"
        );
        assert_eq!(pedantic("x").err_code, 10157);
    }
}
