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
