//! One method per `$JS.API` call, in the order of checks nats-server makes
//! (`jetstream_api.go`): required API level, body decoding, name checks, stream
//! lookup, permissions, then the operation.

use serde::de::DeserializeOwned;
use serde_json::Value;
use sluice_subject::subjects_collide;

use super::errors::{self, ApiError};
use super::gojson::{self, Struct};
use super::types::*;
use super::{Kind, Route, API_LEVEL, LIST_LIMIT, NAMES_LIMIT, SUBJECTS_LIMIT, VERSION_AND_LEVEL};
use crate::engine::Engine;
use crate::meta;
use crate::stream::config::{self, StorageType, StreamConfig};
use crate::stream::{limits, message_time, Stream};
use crate::time::format_rfc3339_nanos;

/// nats-server's `errorOnRequiredApiLevel`: a `Nats-Required-Api-Level` header this
/// server does not satisfy (or cannot read).
pub(crate) fn api_level_unmet(headers: Option<&[u8]>) -> bool {
    let Some(v) = headers.and_then(|h| sluice_proto::headers::get(h, "Nats-Required-Api-Level"))
    else {
        return false;
    };
    if v.is_empty() {
        return false;
    }
    match std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
    {
        Some(level) => level > i64::from(API_LEVEL),
        None => true,
    }
}

fn decode<T: DeserializeOwned>(
    body: &[u8],
    schema: &'static Struct,
    root: &str,
) -> Result<T, ApiError> {
    let map = gojson::decode(body, schema, root).map_err(errors::invalid_json)?;
    serde_json::from_value(Value::Object(map)).map_err(errors::invalid_json)
}

fn decode_config(body: &[u8]) -> Result<(StreamConfigJson, bool), ApiError> {
    let mut map = gojson::decode(body, &STREAM_CONFIG_REQUEST, "StreamConfigRequest")
        .map_err(errors::invalid_json)?;
    let pedantic = map
        .remove("pedantic")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let cfg = serde_json::from_value(Value::Object(map)).map_err(errors::invalid_json)?;
    Ok((cfg, pedantic))
}

impl Engine {
    pub(crate) fn dispatch(
        &mut self,
        route: Route<'_>,
        reply: Option<&str>,
        headers: Option<&[u8]>,
        body: &[u8],
        now: i64,
    ) {
        if route.is_consumer() {
            return self.dispatch_consumer(route, reply, headers, body, now);
        }
        let kind = match route {
            Route::DirectGet(s) => {
                let s = self.direct_responder(s).unwrap_or_else(|| s.to_string());
                return self.direct_get(&s, None, reply, headers, body);
            }
            Route::DirectGetLast(s, key) => {
                let s = self.direct_responder(s).unwrap_or_else(|| s.to_string());
                let s = s.as_str();
                return self.direct_get(s, Some(key), reply, headers, body);
            }
            Route::AccountInfo => Kind::AccountInfo,
            Route::StreamCreate(_) => Kind::Create,
            Route::StreamUpdate(_) => Kind::Update,
            Route::StreamDelete(_) => Kind::Delete,
            Route::StreamInfo(_) => Kind::Info,
            Route::StreamNames => Kind::Names,
            Route::StreamList => Kind::List,
            Route::StreamPurge(_) => Kind::Purge,
            Route::MsgGet(_) => Kind::MsgGet,
            Route::MsgDelete(_) => Kind::MsgDelete,
            Route::StreamLeaderStepdown(_) => Kind::Stepdown,
            _ => return,
        };
        if kind == Kind::Stepdown {
            return self.respond_err(reply, kind, errors::cluster_required());
        }
        if api_level_unmet(headers) {
            return self.respond_err(reply, kind, errors::required_api_level());
        }
        let result = match route {
            Route::AccountInfo => Ok(self.account_info()),
            Route::StreamCreate(s) => self.stream_create(s, body, now),
            Route::StreamUpdate(s) => self.stream_update(s, body, now),
            Route::StreamDelete(s) => self.stream_delete(s, body),
            Route::StreamInfo(s) => self.stream_info(s, body, now),
            Route::StreamNames => self.stream_names_call(body),
            Route::StreamList => self.stream_list(body, now),
            Route::StreamPurge(s) => return self.stream_purge(s, reply, body),
            Route::MsgGet(s) => match self.msg_get(s, body) {
                // A found message is sent like nats-server does it: not counted.
                Ok(found) => return self.send(reply, None, found),
                Err(e) => Err(e),
            },
            Route::MsgDelete(s) => return self.msg_delete(s, reply, body),
            _ => return,
        };
        match result {
            Ok(body) => self.respond(reply, body, false),
            Err(e) => self.respond_err(reply, kind, e),
        }
    }

    fn account_info(&self) -> Vec<u8> {
        let reserved = |storage: StorageType| -> u64 {
            self.streams
                .values()
                .filter(|s| s.config.storage == storage && s.config.max_bytes > 0)
                .map(|s| s.config.max_bytes as u64)
                .sum()
        };
        gojson::encode(&AccountInfoResponse {
            kind: ACCOUNT_INFO_RESPONSE,
            error: None,
            memory: self.usage(StorageType::Memory),
            storage: self.usage(StorageType::File),
            reserved_memory: reserved(StorageType::Memory),
            reserved_storage: reserved(StorageType::File),
            streams: self.streams.len() as u64,
            consumers: 0,
            limits: AccountLimitsJson {
                max_memory: self.config.max_memory,
                max_storage: self.config.max_store,
                max_streams: -1,
                max_consumers: -1,
                max_ack_pending: -1,
                memory_max_stream_bytes: -1,
                storage_max_stream_bytes: -1,
                max_bytes_required: false,
            },
            api: ApiStatsJson {
                level: API_LEVEL,
                total: self.api_total,
                errors: self.api_errors,
            },
        })
    }

    /// STREAM.INFO-style description of a stream. `dynamic` adds the response-only
    /// metadata; `cluster` the single-server cluster block.
    fn info_json(
        &self,
        stream: &Stream,
        dynamic: bool,
        details: bool,
        cluster: bool,
        now: i64,
    ) -> StreamInfoJson {
        StreamInfoJson {
            config: stream.config.to_json(dynamic.then_some(VERSION_AND_LEVEL)),
            created: format_rfc3339_nanos(stream.created),
            state: stream.state_json(details),
            cluster: cluster.then(|| ClusterInfoJson {
                leader: self.config.server_name.clone(),
            }),
            mirror: self.mirror_info(stream, now),
            ts: format_rfc3339_nanos(now),
        }
    }

    /// nats-server's non-clustered account limits check on create: the new stream's
    /// `max_bytes` (1 when unlimited) must fit next to the other streams' reservations.
    fn check_reservation(&self, req: &StreamConfigJson) -> Result<(), ApiError> {
        let (storage, limit, err): (StorageType, i64, fn() -> ApiError) = match req.storage {
            Some(StorageJson::Memory) => (
                StorageType::Memory,
                self.config.max_memory,
                errors::memory_resources_exceeded,
            ),
            Some(StorageJson::File) => (
                StorageType::File,
                self.config.max_store,
                errors::storage_resources_exceeded,
            ),
            None => return Ok(()),
        };
        if limit < 0 {
            return Ok(());
        }
        let reserved: i64 = self
            .streams
            .values()
            .filter(|s| {
                s.config.storage == storage && s.config.max_bytes > 0 && s.config.name != req.name
            })
            .map(|s| s.config.max_bytes)
            .sum();
        let add = if req.max_bytes < 0 { 1 } else { req.max_bytes };
        if reserved > limit || add > limit - reserved {
            return Err(err());
        }
        Ok(())
    }

    /// nats-server's server-wide check (`max_memory_store` / `max_file_store`): a
    /// stream's `max_bytes` above the server's limit cannot be reserved.
    fn check_server_limits(&self, req: &StreamConfigJson) -> Result<(), ApiError> {
        let (limit, err): (i64, fn() -> ApiError) = match req.storage {
            Some(StorageJson::Memory) => (
                self.config.server_max_memory,
                errors::memory_resources_exceeded,
            ),
            _ => (
                self.config.server_max_store,
                errors::storage_resources_exceeded,
            ),
        };
        if limit >= 0 && req.max_bytes > limit {
            return Err(err());
        }
        Ok(())
    }

    fn overlaps_other_stream(&self, cfg: &StreamConfig) -> bool {
        self.streams
            .values()
            .filter(|s| s.config.name != cfg.name)
            .any(|s| {
                s.config
                    .subjects
                    .iter()
                    .any(|a| cfg.subjects.iter().any(|b| subjects_collide(a, b)))
            })
    }

    fn stream_create(&mut self, name: &str, body: &[u8], now: i64) -> Result<Vec<u8>, ApiError> {
        let (req, pedantic) = decode_config(body)?;
        if req.name != name {
            return Err(errors::stream_mismatch());
        }
        if name.contains(['\\', '/']) {
            return Err(errors::stream_name_contains_path_separators());
        }
        if req.sealed {
            return Err(errors::stream_invalid_config(
                "stream configuration for create can not be sealed",
            ));
        }
        if req.mirror_direct && req.mirror.is_none() {
            return Err(errors::stream_invalid_config(
                "stream has no mirror but does have mirror direct",
            ));
        }
        self.check_reservation(&req)?;
        self.check_server_limits(&req)?;
        let mut cfg = config::check(&req, pedantic)?;
        if cfg.num_replicas > 1 {
            return Err(errors::stream_replicas_not_supported());
        }
        self.check_mirror_origin(&mut cfg, pedantic)?;
        config::set_static_metadata(&mut cfg);
        if let Some(existing) = self.streams.get(name) {
            // Idempotent create: same configuration (ignoring the stored API level).
            let mut probe = cfg.clone();
            match existing.config.metadata.get(config::REQUIRED_LEVEL_KEY) {
                Some(level) => {
                    probe
                        .metadata
                        .insert(config::REQUIRED_LEVEL_KEY.into(), level.clone());
                }
                None => {
                    probe.metadata.remove(config::REQUIRED_LEVEL_KEY);
                }
            }
            if probe != existing.config {
                return Err(errors::stream_name_exist());
            }
            let info = self.info_json(existing, true, false, false, now);
            return Ok(gojson::encode(&StreamCreateResponse {
                kind: STREAM_CREATE_RESPONSE,
                error: None,
                info: Some(info),
                did_create: true,
            }));
        }
        if self.quarantined.contains(name) {
            return Err(errors::stream_create(
                "stream metadata on disk is damaged; refusing to replace it",
            ));
        }
        if self.overlaps_other_stream(&cfg) {
            return Err(errors::stream_subject_overlap());
        }
        let dir = self.stream_dir(name);
        let fail = |engine: &mut Engine, what: String| {
            engine.log(format!("Stream create failed for '{name}': {what}"));
            errors::stream_create("error creating store for stream")
        };
        // Whatever an interrupted create or delete left in the directory is garbage.
        if let Err(e) = self.stores.remove(name, &dir) {
            return Err(fail(self, format!("cannot clear {}: {e}", dir.display())));
        }
        let mut store = match self.stores.open(name, cfg.storage, &dir) {
            Ok(s) => s,
            Err(e) => return Err(fail(self, e.to_string())),
        };
        if cfg.first_seq > 0 {
            if let Err(e) = store.set_first_seq(cfg.first_seq) {
                let _ = store.destroy();
                return Err(fail(self, e.to_string()));
            }
        }
        if cfg.storage == StorageType::File {
            if let Err(e) = self.meta.write(name, &meta::encode(&cfg, now)) {
                let _ = store.destroy();
                return Err(fail(self, e.to_string()));
            }
        }
        let stream = Stream::new(cfg, now, store);
        let info = self.info_json(&stream, true, false, false, now);
        self.streams.insert(name.to_string(), stream);
        self.mark_unsynced(name);
        self.rebuild_index();
        self.refresh_mirrors();
        Ok(gojson::encode(&StreamCreateResponse {
            kind: STREAM_CREATE_RESPONSE,
            error: None,
            info: Some(info),
            did_create: true,
        }))
    }

    fn stream_update(&mut self, name: &str, body: &[u8], now: i64) -> Result<Vec<u8>, ApiError> {
        let (req, pedantic) = decode_config(body)?;
        let mut cfg = config::check(&req, pedantic)?;
        if cfg.name != name {
            return Err(errors::stream_mismatch());
        }
        let Some(existing) = self.streams.get(name) else {
            return Err(errors::stream_not_found());
        };
        config::set_static_metadata(&mut cfg);
        let mut cfg = config::check_update(&existing.config, cfg)?;
        self.check_mirror_origin(&mut cfg, pedantic)?;
        if self.overlaps_other_stream(&cfg) {
            return Err(errors::stream_subject_overlap());
        }
        if cfg.storage == StorageType::File {
            let created = existing.created;
            if let Err(e) = self.meta.write(name, &meta::encode(&cfg, created)) {
                self.log(format!("Stream update failed for '{name}': {e}"));
                return Err(errors::stream_update(e));
            }
        }
        let Some(stream) = self.streams.get_mut(name) else {
            return Err(errors::stream_not_found());
        };
        let reindex = stream.config.subjects != cfg.subjects
            || stream.config.allow_direct != cfg.allow_direct
            || stream.config.mirror_direct != cfg.mirror_direct
            || stream.config.mirror != cfg.mirror;
        let became_interest = cfg.retention == config::Retention::Interest
            && stream.config.retention != config::Retention::Interest;
        stream.config = cfg;
        let before = stream.store.state();
        // Switching to interest retention drops what no consumer is interested in; with
        // no consumers that is everything, as on nats-server.
        let dropped = if became_interest {
            stream.store.purge(None, None, None).map(|_| ())
        } else {
            Ok(())
        };
        if let Err(e) = dropped {
            self.log(format!(
                "Stream '{name}': dropping messages without interest failed: {e}"
            ));
        }
        let Some(stream) = self.streams.get_mut(name) else {
            return Err(errors::stream_not_found());
        };
        let enforced = limits::enforce_all(&stream.config, stream.store.as_mut(), now);
        let changed = before != stream.store.state();
        if let Err(e) = enforced {
            self.log(format!("Stream '{name}': applying new limits failed: {e}"));
        }
        if changed {
            self.mark_unsynced(name);
        }
        if reindex {
            self.rebuild_index();
        }
        self.refresh_mirrors();
        let Some(stream) = self.streams.get(name) else {
            return Err(errors::stream_not_found());
        };
        let info = self.info_json(stream, true, false, false, now);
        Ok(gojson::encode(&StreamCreateResponse {
            kind: STREAM_UPDATE_RESPONSE,
            error: None,
            info: Some(info),
            did_create: false,
        }))
    }

    fn stream_delete(&mut self, name: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
        if !gojson::is_empty_request(body) {
            return Err(errors::not_empty_request());
        }
        let Some(storage) = self.streams.get(name).map(|s| s.config.storage) else {
            return Err(errors::stream_not_found());
        };
        if storage == StorageType::File {
            if let Err(e) = self.meta.remove(name) {
                self.log(format!("Stream delete failed for '{name}': {e}"));
                return Err(errors::stream_delete(e));
            }
        }
        let consumers: Vec<String> = self
            .streams
            .get(name)
            .map(|s| s.consumers.keys().cloned().collect())
            .unwrap_or_default();
        for c in consumers {
            self.delete_consumer(name, &c);
        }
        let Some(stream) = self.streams.remove(name) else {
            return Err(errors::stream_not_found());
        };
        self.forget_stream(name);
        self.rebuild_index();
        self.refresh_mirrors();
        let dir = self.stream_dir(name);
        if let Err(e) = stream.store.destroy() {
            // The stream is gone; make sure its data cannot come back under its name.
            if let Err(e2) = self.stores.remove(name, &dir) {
                self.log(format!(
                    "Stream '{name}' deleted but its files remain: {e}; {e2}"
                ));
                return Err(errors::stream_delete(e));
            }
        }
        Ok(gojson::encode(&SuccessResponse {
            kind: STREAM_DELETE_RESPONSE,
            error: None,
            success: true,
        }))
    }

    fn stream_info(&mut self, name: &str, body: &[u8], now: i64) -> Result<Vec<u8>, ApiError> {
        let req: StreamInfoRequest = if gojson::is_object_or_array(body) {
            decode(body, &STREAM_INFO_REQUEST, "JSApiStreamInfoRequest")?
        } else {
            StreamInfoRequest::default()
        };
        let Some(stream) = self.streams.get(name) else {
            return Err(errors::stream_not_found());
        };
        let mut info = self.info_json(stream, true, req.deleted_details, true, now);
        let (mut total, mut offset, mut limit) = (0, 0, 0);
        if !req.subjects_filter.is_empty() {
            let all = stream.store.subjects(&req.subjects_filter);
            if !all.is_empty() {
                let start = req.offset.max(0) as usize;
                total = all.len() as u64;
                offset = start as u64;
                limit = SUBJECTS_LIMIT as u64;
                if start == 0 && all.len() <= SUBJECTS_LIMIT {
                    info.state.subjects = Some(all);
                } else {
                    // BTreeMap iterates sorted, as nats-server sorts before paging.
                    let page: std::collections::BTreeMap<String, u64> =
                        all.into_iter().skip(start).take(SUBJECTS_LIMIT).collect();
                    info.state.subjects = (!page.is_empty()).then_some(page);
                }
            }
        }
        Ok(gojson::encode(&StreamInfoResponse {
            kind: STREAM_INFO_RESPONSE,
            error: None,
            total,
            offset,
            limit,
            info: Some(info),
        }))
    }

    /// Streams whose subjects collide with `filter` (all when empty), by name.
    fn filtered_streams(&self, filter: &str) -> Vec<&Stream> {
        self.streams
            .values()
            .filter(|s| {
                filter.is_empty()
                    || s.config
                        .subjects
                        .iter()
                        .any(|subj| subjects_collide(filter, subj))
            })
            .collect()
    }

    fn stream_names_call(&mut self, body: &[u8]) -> Result<Vec<u8>, ApiError> {
        let req: StreamNamesRequest = if gojson::is_object_or_array(body) {
            decode(body, &STREAM_NAMES_REQUEST, "JSApiStreamNamesRequest")?
        } else {
            StreamNamesRequest::default()
        };
        let names: Vec<String> = self
            .filtered_streams(&req.subject)
            .iter()
            .map(|s| s.config.name.clone())
            .collect();
        let total = names.len();
        let offset = (req.offset.max(0) as usize).min(total);
        let page: Vec<String> = names.into_iter().skip(offset).take(NAMES_LIMIT).collect();
        Ok(gojson::encode(&StreamNamesResponse {
            kind: STREAM_NAMES_RESPONSE,
            error: None,
            total: total as u64,
            offset: offset as u64,
            limit: NAMES_LIMIT as u64,
            streams: (!page.is_empty()).then_some(page),
        }))
    }

    fn stream_list(&mut self, body: &[u8], now: i64) -> Result<Vec<u8>, ApiError> {
        let req: StreamNamesRequest = if gojson::is_object_or_array(body) {
            decode(body, &STREAM_LIST_REQUEST, "JSApiStreamListRequest")?
        } else {
            StreamNamesRequest::default()
        };
        let streams = self.filtered_streams(&req.subject);
        let total = streams.len();
        let offset = (req.offset.max(0) as usize).min(total);
        let page: Vec<StreamInfoJson> = streams
            .into_iter()
            .skip(offset)
            .take(LIST_LIMIT)
            .map(|s| self.info_json(s, false, false, false, now))
            .collect();
        Ok(gojson::encode(&StreamListResponse {
            kind: STREAM_LIST_RESPONSE,
            error: None,
            total: total as u64,
            offset: offset as u64,
            limit: LIST_LIMIT as u64,
            streams: page,
        }))
    }

    fn stream_purge(&mut self, name: &str, reply: Option<&str>, body: &[u8]) {
        let kind = Kind::Purge;
        let req: StreamPurgeRequest = if gojson::is_object_or_array(body) {
            match decode(body, &STREAM_PURGE_REQUEST, "JSApiStreamPurgeRequest") {
                Ok(r) => r,
                Err(e) => return self.respond_err(reply, kind, e),
            }
        } else {
            StreamPurgeRequest::default()
        };
        if req.seq > 0 && req.keep > 0 {
            return self.respond_err(reply, kind, errors::bad_request());
        }
        let Some(stream) = self.streams.get_mut(name) else {
            return self.respond_err(reply, kind, errors::stream_not_found());
        };
        if stream.config.sealed {
            return self.respond_err(reply, kind, errors::stream_sealed());
        }
        if stream.config.deny_purge {
            return self.respond_err(
                reply,
                kind,
                errors::stream_purge_failed("stream purge not permitted"),
            );
        }
        let filter = (!req.filter.is_empty()).then_some(req.filter.as_str());
        let result = stream.store.purge(
            filter,
            (req.seq > 0).then_some(req.seq),
            (req.keep > 0).then_some(req.keep),
        );
        match result {
            Ok(purged) => {
                self.mark_unsynced(name);
                let now = self.last_now();
                self.after_removals(name, now);
                let body = gojson::encode(&StreamPurgeResponse {
                    kind: STREAM_PURGE_RESPONSE,
                    error: None,
                    success: true,
                    purged,
                });
                self.respond_purged(reply, name, body);
            }
            Err(e) => {
                self.mark_unsynced(name);
                // Not counted as an API error, as in nats-server.
                self.respond(reply, kind.error_body(errors::stream_general(e)), false);
            }
        }
    }

    /// Finds the message a MSG.GET / DIRECT.GET request names.
    pub(crate) fn find_message(
        stream: &Stream,
        req: &MsgGetRequest,
    ) -> Result<Option<sluice_store::StoredMessage>, sluice_store::StoreError> {
        let seq = match &req.start_time {
            Some(t) => {
                let Some(ts) = crate::time::parse_rfc3339(t) else {
                    return Ok(None);
                };
                stream.seq_from_time(ts)?
            }
            None => req.seq,
        };
        let found = if seq > 0 && req.next_by_subj.is_empty() {
            stream.store.load(seq)
        } else if !req.next_by_subj.is_empty() {
            stream.store.load_next(seq, Some(&req.next_by_subj))
        } else {
            stream.store.load_last(&req.last_by_subj)
        };
        // A store error is not "no such message": a KV get must not read it as absent.
        found
    }

    fn msg_get(&mut self, name: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
        if gojson::is_empty_request(body) {
            return Err(errors::bad_request());
        }
        let req: MsgGetRequest = decode(body, &MSG_GET_REQUEST, "JSApiMsgGetRequest")?;
        if req.batch > 0 || req.max_bytes > 0 {
            return Err(errors::bad_request());
        }
        let has_time = req.start_time.is_some();
        if (req.seq > 0 && !req.last_by_subj.is_empty())
            || (req.seq == 0
                && req.last_by_subj.is_empty()
                && req.next_by_subj.is_empty()
                && !has_time)
            || (req.seq > 0 && has_time)
            || (has_time && !req.last_by_subj.is_empty())
            || (!req.last_by_subj.is_empty() && !req.next_by_subj.is_empty())
        {
            return Err(errors::bad_request());
        }
        let Some(stream) = self.streams.get(name) else {
            return Err(errors::stream_not_found());
        };
        let m = Self::find_message(stream, &req)
            .map_err(errors::stream_store_failed)?
            .ok_or_else(errors::no_message_found)?;
        let hdrs = match (&m.headers, req.no_hdr) {
            (Some(h), false) => super::base64::encode(h),
            _ => String::new(),
        };
        Ok(gojson::encode(&MsgGetResponse {
            kind: STREAM_MSG_GET_RESPONSE,
            error: None,
            message: Some(StoredMsgJson {
                subject: m.subject.clone(),
                seq: m.seq,
                hdrs,
                data: super::base64::encode(&m.payload),
                time: message_time(&m),
            }),
        }))
    }

    fn msg_delete(&mut self, name: &str, reply: Option<&str>, body: &[u8]) {
        let kind = Kind::MsgDelete;
        if gojson::is_empty_request(body) {
            return self.respond_err(reply, kind, errors::bad_request());
        }
        let req: MsgDeleteRequest = match decode(body, &MSG_DELETE_REQUEST, "JSApiMsgDeleteRequest")
        {
            Ok(r) => r,
            Err(e) => return self.respond_err(reply, kind, e),
        };
        let Some(stream) = self.streams.get_mut(name) else {
            return self.respond_err(reply, kind, errors::stream_not_found());
        };
        if stream.config.sealed {
            return self.respond_err(reply, kind, errors::stream_sealed());
        }
        if stream.config.deny_delete {
            return self.respond_err(
                reply,
                kind,
                errors::stream_msg_delete_failed("message delete not permitted"),
            );
        }
        let state = stream.store.state();
        let file = stream.config.storage == StorageType::File;
        // What the store says is answered as a plain (not error-counted) response, as
        // nats-server does; its file store words misses by where the sequence lies.
        let outcome = match stream.store.remove(req.seq, !req.no_erase) {
            Ok(true) => {
                self.mark_unsynced(name);
                let now = self.last_now();
                self.after_removals(name, now);
                let body = gojson::encode(&SuccessResponse {
                    kind: STREAM_MSG_DELETE_RESPONSE,
                    error: None,
                    success: true,
                });
                return self.respond_deleted(reply, name, body);
            }
            Ok(false) if file && req.seq > state.last_seq => {
                errors::stream_msg_delete_failed("stream store EOF")
            }
            Ok(false) if file && (req.seq == 0 || req.seq < state.first_seq) => {
                errors::stream_msg_delete_failed("no message found")
            }
            Ok(false) => errors::sequence_not_found(req.seq),
            Err(e) => errors::stream_msg_delete_failed(e),
        };
        self.respond(reply, kind.error_body(outcome), false);
    }
}
