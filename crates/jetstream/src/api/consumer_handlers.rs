//! The consumer calls of the `$JS.API`, on `Engine`, in nats-server's order of checks:
//! API level, body, stream lookup, consumer lookup, then the operation.

use serde_json::Value;

use super::consumer_types::{
    ConsumerDeleteResponse, ConsumerInfoJson, ConsumerInfoResponse, ConsumerKind,
    ConsumerListResponse, ConsumerNamesResponse, ConsumersRequest, CONSUMER_LIST_REQUEST,
    CONSUMER_NAMES_REQUEST,
};
use super::errors::{self, ApiError};
use super::gojson;
use super::handlers::api_level_unmet;
use super::{Route, LIST_LIMIT, NAMES_LIMIT};
use crate::consumer::validate::{self, Action, CreateCall};
use crate::consumer::{persist, pull, Consumer};
use crate::engine::{Engine, Outbound};
use crate::meta::ConsumerFile;
use crate::stream::config::{Retention, StorageType};
use crate::time::format_rfc3339_nanos;

/// Longest file name the consumer's directory may have.
const MAX_FILE_NAME: usize = 255;

impl Route<'_> {
    pub fn is_consumer(&self) -> bool {
        matches!(
            self,
            Route::ConsumerCreate(..)
                | Route::ConsumerDurableCreate(..)
                | Route::ConsumerDelete(..)
                | Route::ConsumerInfo(..)
                | Route::ConsumerNames(..)
                | Route::ConsumerList(..)
                | Route::ConsumerNext(..)
                | Route::ConsumerLeaderStepdown(..)
        )
    }
}

impl Engine {
    pub(crate) fn dispatch_consumer(
        &mut self,
        route: Route<'_>,
        reply: Option<&str>,
        headers: Option<&[u8]>,
        body: &[u8],
        now: i64,
    ) {
        if let Route::ConsumerNext(s, c) = route {
            return self.consumer_next(s, c, reply, body, now);
        }
        let kind = match route {
            Route::ConsumerCreate(..) | Route::ConsumerDurableCreate(..) => ConsumerKind::Create,
            Route::ConsumerDelete(..) => ConsumerKind::Delete,
            Route::ConsumerInfo(..) => ConsumerKind::Info,
            Route::ConsumerNames(..) => ConsumerKind::Names,
            Route::ConsumerList(..) => ConsumerKind::List,
            _ => ConsumerKind::LeaderStepdown,
        };
        if kind == ConsumerKind::LeaderStepdown {
            return self.respond(reply, kind.error_body(errors::cluster_required()), true);
        }
        if api_level_unmet(headers) {
            return self.respond(reply, kind.error_body(errors::required_api_level()), true);
        }
        let result = match route {
            Route::ConsumerCreate(s, name, filter) => {
                let call = match name {
                    None => CreateCall::Create { stream: s },
                    Some(name) => CreateCall::Named {
                        stream: s,
                        name,
                        filter,
                    },
                };
                self.consumer_create(s, call, body, now)
            }
            Route::ConsumerDurableCreate(s, d) => self.consumer_create(
                s,
                CreateCall::Durable {
                    stream: s,
                    durable: d,
                },
                body,
                now,
            ),
            Route::ConsumerDelete(s, c) => self.consumer_delete_call(s, c, body),
            Route::ConsumerInfo(s, c) => self.consumer_info_call(s, c, body, now),
            Route::ConsumerNames(s) => self.consumer_names(s, body),
            Route::ConsumerList(s) => self.consumer_list(s, body, now),
            _ => return,
        };
        match result {
            Ok(body) => self.respond(reply, body, false),
            Err(e) => self.respond(reply, kind.error_body(e), true),
        }
    }

    fn consumer_create(
        &mut self,
        stream_name: &str,
        call: CreateCall<'_>,
        body: &[u8],
        now: i64,
    ) -> Result<Vec<u8>, ApiError> {
        let req = validate::decode_create(body)?;
        if req.stream_name != stream_name {
            return Err(errors::stream_mismatch());
        }
        validate::check_call(&call, &req)?;
        let generated = self.ephemeral_name(now);
        let Some(stream) = self.streams.get(stream_name) else {
            return Err(errors::stream_not_found());
        };
        let mut cfg = validate::prepare(call, &req, &stream.config, &generated, now)?;
        let name = cfg.name.clone();
        if stream.config.storage == StorageType::File && name.len() > MAX_FILE_NAME {
            // Its directory could not be made (nats-server fails the same way).
            return Err(errors::consumer_create("error creating store for consumer"));
        }
        let persistent = stream.config.storage == StorageType::File && cfg.is_durable();
        if let Some(existing) = stream.consumers.get(&name) {
            validate::adopt_existing(req.action, &existing.config, &mut cfg)?;
            if existing.config == cfg {
                let info = self.consumer_info(stream_name, &name, now);
                return Ok(create_response(info));
            }
            if stream.config.retention == Retention::WorkQueue {
                validate::check_workqueue_overlap(
                    &cfg,
                    stream
                        .consumers
                        .values()
                        .filter(|c| c.name() != name)
                        .map(|c| &c.config),
                )?;
            }
            validate::check_update_with(&existing.config, &cfg, existing.is_push_bound())?;
            if persistent {
                self.write_consumer_config(stream_name, &cfg, existing.created)?;
            }
            let Some(stream) = self.streams.get_mut(stream_name) else {
                return Err(errors::stream_not_found());
            };
            let store = stream.store.as_ref();
            if let Some(c) = stream.consumers.get_mut(&name) {
                c.update_config(cfg, store);
            }
            self.consumers_changed = true;
            let info = self.consumer_info(stream_name, &name, now);
            return Ok(create_response(info));
        }
        if req.action == Action::Update {
            return Err(errors::consumer_does_not_exist());
        }
        if stream.config.max_consumers > 0
            && stream.consumers.len() as i64 >= stream.config.max_consumers
        {
            return Err(errors::maximum_consumers_limit());
        }
        if stream.config.retention == Retention::WorkQueue {
            validate::check_workqueue_overlap(&cfg, stream.consumers.values().map(|c| &c.config))?;
        }
        if persistent {
            self.write_consumer_config(stream_name, &cfg, now)?;
        }
        let Some(stream) = self.streams.get_mut(stream_name) else {
            return Err(errors::stream_not_found());
        };
        let mut consumer = Consumer::new(stream_name, cfg, now, stream.store.as_ref(), now);
        consumer.mark_dirty(now);
        if consumer.config.is_push() {
            if let Some(oracle) = self.interest.as_mut() {
                let bound = oracle.has_interest(&consumer.config.deliver_subject);
                consumer.set_interest(bound, now);
            }
        }
        stream.consumers.insert(name.clone(), consumer);
        self.consumers_changed = true;
        let info = self.consumer_info(stream_name, &name, now);
        Ok(create_response(info))
    }

    fn write_consumer_config(
        &mut self,
        stream: &str,
        cfg: &crate::consumer::config::ConsumerConfig,
        created: i64,
    ) -> Result<(), ApiError> {
        let bytes = persist::encode_config(created, &validate::encode_stored(cfg));
        self.meta
            .write_consumer(stream, &cfg.name, ConsumerFile::Config, &bytes)
            .map_err(errors::consumer_store_failed)
    }

    /// A fresh ephemeral name: 8 characters as nats-server's, from the time and a
    /// counter (the engine draws no random numbers).
    fn ephemeral_name(&mut self, now: i64) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        self.name_counter += 1;
        let mut x = (now as u64) ^ self.name_counter.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut name = String::with_capacity(8);
        for _ in 0..8 {
            x ^= x >> 33;
            x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
            x ^= x >> 29;
            name.push(ALPHABET[(x % ALPHABET.len() as u64) as usize] as char);
        }
        name
    }

    /// ConsumerInfo of an existing consumer.
    pub(crate) fn consumer_info(
        &self,
        stream: &str,
        name: &str,
        now: i64,
    ) -> Option<ConsumerInfoJson> {
        let s = self.streams.get(stream)?;
        let c = s.consumers.get(name)?;
        let seq_info = |p: crate::consumer::state::SeqPair, at: Option<i64>| {
            super::consumer_types::SequenceInfoJson {
                consumer_seq: p.consumer,
                stream_seq: p.stream,
                last_active: at.map(format_rfc3339_nanos),
            }
        };
        let mut num_pending = c.num_pending;
        if c.pending_stale {
            let mut fresh =
                Consumer::with_state(stream, c.config.clone(), c.created, c.state.clone(), now);
            fresh.recount(s.store.as_ref());
            num_pending = fresh.num_pending;
        }
        Some(ConsumerInfoJson {
            stream_name: stream.to_string(),
            name: name.to_string(),
            created: format_rfc3339_nanos(c.created),
            config: validate::to_json(&c.config),
            delivered: seq_info(c.state.delivered, c.last_delivered_at),
            ack_floor: seq_info(c.state.ack_floor, c.last_ack_at),
            num_ack_pending: c.state.num_ack_pending(),
            num_redelivered: c.state.num_redelivered(),
            num_waiting: c.waiting.len() as u64,
            num_pending,
            cluster: None,
            push_bound: c.is_push_bound(),
            paused: false,
            pause_remaining: 0,
            ts: format_rfc3339_nanos(now),
            priority_groups: Vec::new(),
        })
    }

    fn consumer_info_call(
        &mut self,
        stream: &str,
        name: &str,
        body: &[u8],
        now: i64,
    ) -> Result<Vec<u8>, ApiError> {
        if !gojson::is_empty_request(body) {
            return Err(errors::not_empty_request());
        }
        if !self.streams.contains_key(stream) {
            return Err(errors::stream_not_found());
        }
        let info = self
            .consumer_info(stream, name, now)
            .ok_or_else(errors::consumer_not_found)?;
        Ok(gojson::encode(&ConsumerInfoResponse {
            kind: ConsumerKind::Info.type_name(),
            error: None,
            info: Some(info),
        }))
    }

    fn consumer_delete_call(
        &mut self,
        stream: &str,
        name: &str,
        body: &[u8],
    ) -> Result<Vec<u8>, ApiError> {
        if !gojson::is_empty_request(body) {
            return Err(errors::not_empty_request());
        }
        if !self.streams.contains_key(stream) {
            return Err(errors::stream_not_found());
        }
        if !self.delete_consumer(stream, name) {
            return Err(errors::consumer_not_found());
        }
        Ok(gojson::encode(&ConsumerDeleteResponse {
            kind: ConsumerKind::Delete.type_name(),
            error: None,
            success: true,
        }))
    }

    fn paging(body: &[u8], names: bool) -> Result<usize, ApiError> {
        if !gojson::is_object_or_array(body) {
            return Ok(0);
        }
        let schema = if names {
            &CONSUMER_NAMES_REQUEST
        } else {
            &CONSUMER_LIST_REQUEST
        };
        let map =
            gojson::decode(body, schema, "JSApiConsumersRequest").map_err(errors::invalid_json)?;
        let req: ConsumersRequest =
            serde_json::from_value(Value::Object(map)).map_err(errors::invalid_json)?;
        Ok(req.offset.max(0) as usize)
    }

    fn consumer_names(&mut self, stream: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
        let offset = Self::paging(body, true)?;
        let s = self
            .streams
            .get(stream)
            .ok_or_else(errors::stream_not_found)?;
        let names: Vec<String> = s.consumers.keys().cloned().collect();
        let total = names.len();
        let offset = offset.min(total);
        let page: Vec<String> = names.into_iter().skip(offset).take(NAMES_LIMIT).collect();
        Ok(gojson::encode(&ConsumerNamesResponse {
            kind: ConsumerKind::Names.type_name(),
            error: None,
            total: total as u64,
            offset: offset as u64,
            limit: NAMES_LIMIT as u64,
            consumers: page,
        }))
    }

    fn consumer_list(&mut self, stream: &str, body: &[u8], now: i64) -> Result<Vec<u8>, ApiError> {
        let offset = Self::paging(body, false)?;
        let s = self
            .streams
            .get(stream)
            .ok_or_else(errors::stream_not_found)?;
        let names: Vec<String> = s.consumers.keys().cloned().collect();
        let total = names.len();
        let offset = offset.min(total);
        let infos: Vec<ConsumerInfoJson> = names
            .iter()
            .skip(offset)
            .take(LIST_LIMIT)
            .filter_map(|n| self.consumer_info(stream, n, now))
            .map(|mut info| {
                // LIST shows the stored metadata only, without the response-only keys.
                if let Some(c) = self
                    .streams
                    .get(stream)
                    .and_then(|s| s.consumers.get(&info.name))
                {
                    info.config = validate::to_json_with(&c.config, None);
                }
                info
            })
            .collect();
        Ok(gojson::encode(&ConsumerListResponse {
            kind: ConsumerKind::List.type_name(),
            error: None,
            total: total as u64,
            offset: offset as u64,
            limit: LIST_LIMIT as u64,
            consumers: infos,
            missing: Vec::new(),
            offline: Default::default(),
        }))
    }

    /// `CONSUMER.MSG.NEXT`: a pull request. Answered with messages or status messages
    /// on the reply subject; a missing consumer looks like no responders (503), as on
    /// nats-server, where the request goes to the consumer's own subscription.
    fn consumer_next(
        &mut self,
        stream: &str,
        consumer: &str,
        reply: Option<&str>,
        body: &[u8],
        now: i64,
    ) {
        let Some(reply) = reply else {
            return;
        };
        let mut out = Vec::new();
        match self
            .streams
            .get_mut(stream)
            .and_then(|s| s.consumers.get_mut(consumer))
        {
            None => {
                let block = format!(
                    "NATS/1.0 503\r\nNats-Subject: $JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}\r\n\r\n"
                );
                out.push(Outbound::to(reply, Some(block.into_bytes()), Vec::new()))
            }
            Some(c) if c.config.is_push() => out.push(Outbound::to(
                reply,
                Some(pull::status(409, "Consumer is push based")),
                Vec::new(),
            )),
            Some(c) => match pull::parse_next(body) {
                Err(e) => out.push(Outbound::to(
                    reply,
                    Some(pull::status(400, &format!("Bad Request - {e}"))),
                    Vec::new(),
                )),
                Ok(req) => match c.request_limit_error(&req) {
                    Some(text) => out.push(Outbound::to(
                        reply,
                        Some(pull::status(409, &text)),
                        Vec::new(),
                    )),
                    None => c.add_request(reply, &req, now, &mut out),
                },
            },
        }
        for o in out {
            self.push_unguarded(o);
        }
    }
}

fn create_response(info: Option<ConsumerInfoJson>) -> Vec<u8> {
    gojson::encode(&ConsumerInfoResponse {
        kind: ConsumerKind::Create.type_name(),
        error: None,
        info,
    })
}
