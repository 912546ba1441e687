//! `$JS.API.DIRECT.GET.<stream>[.<subject>]`: answered with the stored message itself
//! (headers `Nats-Stream`, `Nats-Subject`, `Nats-Sequence`, `Nats-Time-Stamp` appended
//! to its own) or a status (`404 Message Not Found`, `408 Empty Request`,
//! `408 Malformed Request`, `408 Bad Request`, `412 Required Api Level`). Only streams
//! with `allow_direct` answer; direct gets are not counted as API calls.
//!
//! Batched (`batch`) and multi-subject (`multi_last`) gets are in `direct_batch`.

use sluice_proto::headers::status_block;

use super::gojson;
use super::handlers::api_level_unmet;
use super::types::{MsgGetRequest, MSG_GET_REQUEST};
use crate::engine::Engine;
use crate::stream::message_time;

impl Engine {
    pub(crate) fn status_reply(&mut self, reply: &str, code: u16, text: &str) {
        self.send(
            Some(reply),
            Some(status_block(code, Some(text), &[])),
            Vec::new(),
        );
    }

    pub(crate) fn direct_get(
        &mut self,
        stream: &str,
        key: Option<&str>,
        reply: Option<&str>,
        headers: Option<&[u8]>,
        body: &[u8],
    ) {
        let Some(reply) = reply else {
            return;
        };
        if !self
            .streams
            .get(stream)
            .is_some_and(|s| s.config.allow_direct)
        {
            // Nobody listens: the server reports no responders.
            return;
        }
        if api_level_unmet(headers) {
            return self.status_reply(reply, 412, "Required Api Level");
        }
        let parse = |body: &[u8]| -> Option<MsgGetRequest> {
            let map = gojson::decode_lenient(body, &MSG_GET_REQUEST).ok()?;
            serde_json::from_value(serde_json::Value::Object(map)).ok()
        };
        let req = match key {
            None => {
                if body.is_empty() {
                    return self.status_reply(reply, 408, "Empty Request");
                }
                let Some(req) = parse(body) else {
                    return self.status_reply(reply, 408, "Malformed Request");
                };
                let has_time = req.start_time.is_some();
                if req.seq == 0
                    && req.last_by_subj.is_empty()
                    && req.next_by_subj.is_empty()
                    && req.multi_last.is_empty()
                    && !has_time
                {
                    return self.status_reply(reply, 408, "Empty Request");
                }
                let last = !req.last_by_subj.is_empty();
                let next = !req.next_by_subj.is_empty();
                let multi = !req.multi_last.is_empty();
                let conflicting = (req.seq > 0 && (last || has_time))
                    || (has_time && last)
                    || (last && next)
                    || (last && (req.batch > 0 || multi))
                    || (next && multi)
                    || (req.up_to_seq > 0 && req.up_to_time.is_some());
                if conflicting {
                    return self.status_reply(reply, 408, "Bad Request");
                }
                if multi {
                    return self.direct_multi_last(stream, reply, &req);
                }
                if req.batch > 0 {
                    return self.direct_batch(stream, reply, &req);
                }
                req
            }
            Some(key) => {
                let mut req = if body.is_empty() {
                    MsgGetRequest::default()
                } else {
                    match parse(body) {
                        Some(r) => r,
                        None => return self.status_reply(reply, 408, "Malformed Request"),
                    }
                };
                if !req.last_by_subj.is_empty()
                    || !req.next_by_subj.is_empty()
                    || !req.multi_last.is_empty()
                    || req.seq != 0
                    || req.batch != 0
                    || req.start_time.is_some()
                    || req.up_to_seq != 0
                    || req.up_to_time.is_some()
                {
                    return self.status_reply(reply, 408, "Bad Request");
                }
                req.last_by_subj = key.to_string();
                req
            }
        };
        let found = match self
            .streams
            .get(stream)
            .map(|s| Engine::find_message(s, &req))
        {
            Some(Ok(found)) => found,
            // The store could not answer (it lost index pages and awaits reopening): an
            // error the client reports, not a 404 it would read as "no such key".
            Some(Err(_)) => return self.status_reply(reply, 500, "Store Unavailable"),
            None => None,
        };
        let Some(m) = found else {
            return self.status_reply(reply, 404, "Message Not Found");
        };
        let headers = (!req.no_hdr).then(|| {
            let mut block = match m.headers.as_deref().filter(|h| h.len() > 2) {
                Some(h) => h[..h.len() - 2].to_vec(),
                None => b"NATS/1.0\r\n".to_vec(),
            };
            for (k, v) in [
                ("Nats-Stream", stream.to_string()),
                ("Nats-Subject", m.subject.clone()),
                ("Nats-Sequence", m.seq.to_string()),
                ("Nats-Time-Stamp", message_time(&m)),
            ] {
                block.extend_from_slice(k.as_bytes());
                block.extend_from_slice(b": ");
                block.extend_from_slice(v.as_bytes());
                block.extend_from_slice(b"\r\n");
            }
            block.extend_from_slice(b"\r\n");
            block
        });
        self.send(Some(reply), headers, m.payload.to_vec());
    }
}
