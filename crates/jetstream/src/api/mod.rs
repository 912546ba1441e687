//! The `$JS.API` layer: which subjects mean what, the JSON of requests and responses,
//! the error table, and the handlers.
//!
//! - `types`: request/response JSON (the wire contract) and request schemas.
//! - `errors`: `ApiError` and a constructor per nats-server error used.
//! - `gojson`: Go `encoding/json` behaviour (strict decoding, error texts, escaping).
//! - `base64`: `[]byte` fields.
//! - `handlers`: one method per API call, on `Engine`.
//! - `direct`: `$JS.API.DIRECT.GET`, answered with raw messages.

pub mod base64;
pub mod consumer_handlers;
pub mod consumer_types;
pub mod direct;
mod direct_batch;
pub mod errors;
pub mod gojson;
pub mod handlers;
pub mod types;

use serde::Serialize;

use errors::ApiError;

/// The API level this server reports (nats-server 2.15's `JSApiLevel`).
pub const API_LEVEL: u32 = 5;
/// The version put in `_nats.ver` of stream metadata.
pub const NATS_VERSION: &str = "2.15.1";
/// What the response-only stream metadata reports.
pub const VERSION_AND_LEVEL: (&str, u32) = (NATS_VERSION, API_LEVEL);
/// Most names in one STREAM.NAMES page.
pub const NAMES_LIMIT: usize = 1024;
/// Most streams in one STREAM.LIST page.
pub const LIST_LIMIT: usize = 256;
/// Most subjects in one STREAM.INFO `subjects` page.
pub const SUBJECTS_LIMIT: usize = 100_000;

const PREFIX: &str = "$JS.API.";

/// The API subjects this engine serves, besides streams' direct-get subjects.
/// `$JS.API.*` also catches unknown one-token calls and `ACCOUNT`, `META` and `SERVER`
/// (system-account calls) are taken too, so all of these get no reply, as from
/// nats-server. Consumer calls are not served yet (no responders).
pub const API_SUBJECTS: &[&str] = &[
    "$JS.API.*",
    "$JS.API.STREAM.>",
    "$JS.API.CONSUMER.>",
    "$JS.API.ACCOUNT.>",
    "$JS.API.META.>",
    "$JS.API.SERVER.>",
];

/// A recognised API call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    AccountInfo,
    StreamCreate(&'a str),
    StreamUpdate(&'a str),
    StreamDelete(&'a str),
    StreamInfo(&'a str),
    StreamNames,
    StreamList,
    StreamPurge(&'a str),
    MsgGet(&'a str),
    MsgDelete(&'a str),
    StreamLeaderStepdown(&'a str),
    /// `$JS.API.DIRECT.GET.<stream>` with a JSON request.
    DirectGet(&'a str),
    /// `$JS.API.DIRECT.GET.<stream>.<subject...>`: last message on the subject.
    DirectGetLast(&'a str, &'a str),
    /// `CONSUMER.CREATE.<stream>[.<name>[.<filter...>]]`.
    ConsumerCreate(&'a str, Option<&'a str>, Option<&'a str>),
    /// `CONSUMER.DURABLE.CREATE.<stream>.<durable>`.
    ConsumerDurableCreate(&'a str, &'a str),
    ConsumerDelete(&'a str, &'a str),
    ConsumerInfo(&'a str, &'a str),
    ConsumerNames(&'a str),
    ConsumerList(&'a str),
    ConsumerNext(&'a str, &'a str),
    ConsumerLeaderStepdown(&'a str, &'a str),
}

/// Maps an API subject to its call; `None` for subjects nats-server does not answer.
pub fn route(subject: &str) -> Option<Route<'_>> {
    let rest = subject.strip_prefix(PREFIX)?;
    let tokens: Vec<&str> = rest.split('.').collect();
    Some(match tokens.as_slice() {
        ["INFO"] => Route::AccountInfo,
        ["STREAM", "CREATE", s] => Route::StreamCreate(s),
        ["STREAM", "UPDATE", s] => Route::StreamUpdate(s),
        ["STREAM", "DELETE", s] => Route::StreamDelete(s),
        ["STREAM", "INFO", s] => Route::StreamInfo(s),
        ["STREAM", "NAMES"] => Route::StreamNames,
        ["STREAM", "LIST"] => Route::StreamList,
        ["STREAM", "PURGE", s] => Route::StreamPurge(s),
        ["STREAM", "MSG", "GET", s] => Route::MsgGet(s),
        ["STREAM", "MSG", "DELETE", s] => Route::MsgDelete(s),
        ["STREAM", "LEADER", "STEPDOWN", s] => Route::StreamLeaderStepdown(s),
        ["DIRECT", "GET", s] => Route::DirectGet(s),
        ["CONSUMER", "CREATE", s] => Route::ConsumerCreate(s, None, None),
        ["CONSUMER", "CREATE", s, n] => Route::ConsumerCreate(s, Some(n), None),
        ["CONSUMER", "CREATE", s, n, _, ..] => {
            let filter = &rest["CONSUMER.CREATE.".len() + s.len() + 1 + n.len() + 1..];
            Route::ConsumerCreate(s, Some(n), Some(filter))
        }
        ["CONSUMER", "DURABLE", "CREATE", s, d] => Route::ConsumerDurableCreate(s, d),
        ["CONSUMER", "DELETE", s, c] => Route::ConsumerDelete(s, c),
        ["CONSUMER", "INFO", s, c] => Route::ConsumerInfo(s, c),
        ["CONSUMER", "NAMES", s] => Route::ConsumerNames(s),
        ["CONSUMER", "LIST", s] => Route::ConsumerList(s),
        ["CONSUMER", "MSG", "NEXT", s, c] => Route::ConsumerNext(s, c),
        ["CONSUMER", "LEADER", "STEPDOWN", s, c] => Route::ConsumerLeaderStepdown(s, c),
        ["DIRECT", "GET", s, _, ..] => {
            // Everything after the stream token, as one subject.
            let key = &rest["DIRECT.GET.".len() + s.len() + 1..];
            Route::DirectGetLast(s, key)
        }
        _ => return None,
    })
}

/// The response family of a call, for building its error responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    AccountInfo,
    Create,
    Update,
    Delete,
    Info,
    Names,
    List,
    Purge,
    MsgGet,
    MsgDelete,
    Stepdown,
}

impl Kind {
    pub fn type_name(self) -> &'static str {
        use types::*;
        match self {
            Kind::AccountInfo => ACCOUNT_INFO_RESPONSE,
            Kind::Create => STREAM_CREATE_RESPONSE,
            Kind::Update => STREAM_UPDATE_RESPONSE,
            Kind::Delete => STREAM_DELETE_RESPONSE,
            Kind::Info => STREAM_INFO_RESPONSE,
            Kind::Names => STREAM_NAMES_RESPONSE,
            Kind::List => STREAM_LIST_RESPONSE,
            Kind::Purge => STREAM_PURGE_RESPONSE,
            Kind::MsgGet => STREAM_MSG_GET_RESPONSE,
            Kind::MsgDelete => STREAM_MSG_DELETE_RESPONSE,
            Kind::Stepdown => STREAM_LEADER_STEPDOWN_RESPONSE,
        }
    }

    /// The error response of this call, with the zero-valued fields nats-server
    /// still writes (paging, `purged`, `streams`).
    pub fn error_body(self, error: ApiError) -> Vec<u8> {
        #[derive(Serialize)]
        struct ErrorOnly {
            #[serde(rename = "type")]
            kind: &'static str,
            error: ApiError,
        }
        let kind = self.type_name();
        match self {
            Kind::Info => gojson::encode(&types::StreamInfoResponse {
                kind,
                error: Some(error),
                total: 0,
                offset: 0,
                limit: 0,
                info: None,
            }),
            Kind::Names => gojson::encode(&types::StreamNamesResponse {
                kind,
                error: Some(error),
                total: 0,
                offset: 0,
                limit: 0,
                streams: None,
            }),
            Kind::List => gojson::encode(&types::StreamListResponse {
                kind,
                error: Some(error),
                total: 0,
                offset: 0,
                limit: 0,
                streams: Vec::new(),
            }),
            Kind::Purge => gojson::encode(&types::StreamPurgeResponse {
                kind,
                error: Some(error),
                success: false,
                purged: 0,
            }),
            _ => gojson::encode(&ErrorOnly { kind, error }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let cases: &[(&str, Option<Route<'_>>)] = &[
            ("$JS.API.INFO", Some(Route::AccountInfo)),
            ("$JS.API.STREAM.CREATE.S", Some(Route::StreamCreate("S"))),
            ("$JS.API.STREAM.CREATE.a.b", None),
            ("$JS.API.STREAM.INFO", None),
            ("$JS.API.STREAM.NAMES", Some(Route::StreamNames)),
            ("$JS.API.STREAM.MSG.GET.S", Some(Route::MsgGet("S"))),
            ("$JS.API.STREAM.MSG.DELETE.S", Some(Route::MsgDelete("S"))),
            (
                "$JS.API.STREAM.LEADER.STEPDOWN.S",
                Some(Route::StreamLeaderStepdown("S")),
            ),
            ("$JS.API.DIRECT.GET.S", Some(Route::DirectGet("S"))),
            (
                "$JS.API.DIRECT.GET.KV_b.$KV.b.k.x",
                Some(Route::DirectGetLast("KV_b", "$KV.b.k.x")),
            ),
            ("$JS.API.BOGUS", None),
            (
                "$JS.API.CONSUMER.INFO.S.c",
                Some(Route::ConsumerInfo("S", "c")),
            ),
            (
                "$JS.API.CONSUMER.CREATE.S.c.a.b",
                Some(Route::ConsumerCreate("S", Some("c"), Some("a.b"))),
            ),
            (
                "$JS.API.CONSUMER.CREATE.S",
                Some(Route::ConsumerCreate("S", None, None)),
            ),
            (
                "$JS.API.CONSUMER.MSG.NEXT.S.c",
                Some(Route::ConsumerNext("S", "c")),
            ),
            ("$JS.API.CONSUMER.INFO.S", None),
            ("foo", None),
        ];
        for (subject, want) in cases {
            assert_eq!(route(subject), *want, "{subject}");
        }
    }

    #[test]
    fn error_bodies_carry_zero_fields() {
        let body = |k: Kind| String::from_utf8(k.error_body(errors::stream_not_found())).unwrap();
        assert_eq!(
            body(Kind::Info),
            r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","error":{"code":404,"err_code":10059,"description":"stream not found"},"total":0,"offset":0,"limit":0}"#
        );
        assert_eq!(
            body(Kind::Purge),
            r#"{"type":"io.nats.jetstream.api.v1.stream_purge_response","error":{"code":404,"err_code":10059,"description":"stream not found"},"purged":0}"#
        );
        assert_eq!(
            body(Kind::Delete),
            r#"{"type":"io.nats.jetstream.api.v1.stream_delete_response","error":{"code":404,"err_code":10059,"description":"stream not found"}}"#
        );
        assert_eq!(
            body(Kind::Names),
            r#"{"type":"io.nats.jetstream.api.v1.stream_names_response","error":{"code":404,"err_code":10059,"description":"stream not found"},"total":0,"offset":0,"limit":0,"streams":null}"#
        );
    }
}
