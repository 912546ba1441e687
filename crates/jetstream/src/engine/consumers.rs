//! The engine's side of consumers: acks and flow-control replies in, deliveries out at
//! commit, retention on ack, timers, state persistence and restore.

use sluice_store::MessageStore;

use crate::consumer::ack::{self, AckKind};
use crate::consumer::persist::{self, StoredState, STATE_FLUSH_INTERVAL};
use crate::consumer::state::DeliveryState;
use crate::consumer::{pull, validate, Consumer, DELIVERY_BUDGET};
use crate::meta::ConsumerFile;
use crate::stream::config::{Retention, StorageType};
use crate::time::format_rfc3339_nanos;

use super::{Engine, Outbound};

/// Subjects of the consumer side the engine captures besides the API.
pub const CONSUMER_SUBJECTS: &[&str] = &["$JS.ACK.>", "$JS.FC.>"];

impl Engine {
    /// A message on a `$JS.ACK.` subject: an ack, nak, progress, term or next request
    /// for a delivered message.
    pub fn handle_ack(&mut self, subject: &str, reply: Option<&str>, body: &[u8], now: i64) {
        self.last_now = self.last_now.max(now);
        let Some(t) = ack::parse_subject(subject) else {
            return;
        };
        let kind = ack::parse_body(body);
        let seq = t.stream_seq;
        let Some(stream) = self.streams.get_mut(t.stream) else {
            return;
        };
        let retention = stream.config.retention;
        let Some(c) = stream.consumers.get_mut(t.consumer) else {
            return;
        };
        let mut acked = Vec::new();
        let mut advisory = None;
        match &kind {
            AckKind::Ack | AckKind::Next { .. } => {
                acked = c.state.ack(seq, &c.rules);
            }
            AckKind::Nak { delay } => {
                c.state.nak(seq, *delay, now);
            }
            AckKind::Progress => {
                c.state.progress(seq, now, &c.rules);
            }
            AckKind::Unknown => {}
            AckKind::Term { reason } => {
                let deliveries = c.state.deliveries_of(seq);
                if c.state.forget(seq) {
                    acked.push(seq);
                    advisory = Some(terminated_advisory(
                        t.stream,
                        t.consumer,
                        t.consumer_seq,
                        seq,
                        deliveries,
                        reason,
                        now,
                    ));
                }
            }
        }
        c.kick = true;
        c.mark_dirty(now);
        if !acked.is_empty() {
            c.last_ack_at = Some(now);
        }
        let mut out = Vec::new();
        match (&kind, reply) {
            (AckKind::Next { request }, Some(reply)) => match pull::parse_next(request) {
                Ok(req) => c.add_request(reply, &req, now, &mut out),
                Err(e) => out.push(Outbound::to(
                    reply,
                    Some(pull::status(400, &format!("Bad Request - {e}"))),
                    Vec::new(),
                )),
            },
            (_, Some(reply)) => {
                c.sync_waiters.push(reply.to_string());
                self.ack_replies_waiting = true;
            }
            _ => {}
        }
        let name = t.stream.to_string();
        for o in out {
            self.push_unguarded(o);
        }
        if let Some(adv) = advisory {
            self.push_unguarded(adv);
        }
        if !acked.is_empty() && retention != Retention::Limits {
            self.remove_consumed(&name, &acked, retention);
        }
    }

    /// Removes acknowledged messages a work-queue or interest stream no longer needs.
    fn remove_consumed(&mut self, stream_name: &str, seqs: &[u64], retention: Retention) {
        let Some(stream) = self.streams.get_mut(stream_name) else {
            return;
        };
        let mut removed = false;
        for &seq in seqs {
            let done = match retention {
                Retention::WorkQueue => true,
                Retention::Interest => match stream.store.load(seq) {
                    Ok(Some(m)) => stream
                        .consumers
                        .values()
                        .all(|c| c.done_with(seq, &m.subject)),
                    _ => false,
                },
                Retention::Limits => false,
            };
            if done {
                removed |= stream.store.remove(seq, false).unwrap_or(false);
            }
        }
        if removed {
            self.mark_lazily_unsynced(stream_name);
        }
    }

    /// A reply to a flow-control request (`$JS.FC.<stream>.<consumer>.<id>`).
    pub fn handle_flow_control(&mut self, subject: &str, now: i64) {
        self.last_now = self.last_now.max(now);
        let mut t = subject.split('.').skip(2);
        let (Some(stream), Some(consumer)) = (t.next(), t.next()) else {
            return;
        };
        if let Some(c) = self
            .streams
            .get_mut(stream)
            .and_then(|s| s.consumers.get_mut(consumer))
        {
            c.flow_control_reply(subject);
        }
    }

    /// Deliver subjects of every push consumer (the server reports whether each has
    /// subscribers with [`Engine::set_push_interest`]).
    pub fn push_subjects(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .streams
            .values()
            .flat_map(|s| s.consumers.values())
            .filter(|c| c.config.is_push())
            .map(|c| c.config.deliver_subject.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    pub fn set_push_interest(&mut self, subject: &str, interest: bool, now: i64) {
        for c in self
            .streams
            .values_mut()
            .flat_map(|s| s.consumers.values_mut())
            .filter(|c| c.config.deliver_subject == subject)
        {
            c.set_interest(interest, now);
        }
    }

    /// Marks every consumer of a stream whose messages went away in bulk (purge,
    /// delete, limits, expiry): pending counts are recounted, and pending acks of
    /// messages below the first sequence are dropped.
    pub(crate) fn after_removals(&mut self, stream_name: &str, now: i64) {
        let Some(stream) = self.streams.get_mut(stream_name) else {
            return;
        };
        let first = stream.store.state().first_seq;
        for c in stream.consumers.values_mut() {
            c.pending_stale = true;
            c.kick = true;
            let gone: Vec<u64> = c.state.pending.range(..first).map(|(s, _)| *s).collect();
            for s in gone {
                c.state.forget(s);
            }
            if c.state.delivered.stream + 1 < first {
                c.state.skip_to(first);
            }
            c.mark_dirty(now);
        }
    }

    /// Sends what every consumer can send now. Returns true if some consumer has more.
    pub(crate) fn deliver_all(&mut self, now: i64, out: &mut Vec<Outbound>) -> bool {
        let mut more = false;
        for stream in self.streams.values_mut() {
            if stream.failed {
                continue;
            }
            let store: &dyn MessageStore = stream.store.as_ref();
            for c in stream.consumers.values_mut() {
                if (c.kick || c.pending_stale) && c.deliver(store, now, out, DELIVERY_BUDGET) {
                    c.kick = true;
                    more = true;
                }
            }
        }
        more
    }

    /// Timers of every consumer; removes ephemerals past their inactivity threshold.
    pub(crate) fn tick_consumers(&mut self, now: i64) {
        let mut out = Vec::new();
        let mut expired = Vec::new();
        for stream in self.streams.values_mut() {
            let name = stream.config.name.clone();
            for c in stream.consumers.values_mut() {
                if c.next_deadline().is_none_or(|d| d > now) {
                    continue;
                }
                let outcome = c.tick(now, &mut out);
                for (seq, deliveries) in outcome.exhausted {
                    out.push(max_deliveries_advisory(
                        &name,
                        c.name(),
                        seq,
                        deliveries,
                        now,
                    ));
                }
                if outcome.expired {
                    expired.push((name.clone(), c.name().to_string()));
                }
            }
        }
        for o in out {
            self.push_unguarded(o);
        }
        for (stream, consumer) in expired {
            self.delete_consumer(&stream, &consumer);
        }
        self.flush_consumers(now, false);
    }

    /// The earliest consumer timer, or now when some consumer has work queued.
    pub(crate) fn consumers_deadline(&self) -> Option<i64> {
        let mut min: Option<i64> = None;
        for c in self.streams.values().flat_map(|s| s.consumers.values()) {
            if c.kick && c_can_progress(c) {
                return Some(self.last_now);
            }
            if let Some(d) = c.next_deadline() {
                min = Some(min.map_or(d, |m| m.min(d)));
            }
        }
        min
    }

    /// Writes the state of consumers that need it: all dirty ones with `force`, those
    /// with ack replies waiting, and those dirty for `STATE_FLUSH_INTERVAL`. Releases
    /// the ack replies of the ones written.
    pub(crate) fn flush_consumers(&mut self, now: i64, force: bool) {
        let mut writes = Vec::new();
        let mut released = Vec::new();
        for stream in self.streams.values_mut() {
            let persistent = stream.config.storage == StorageType::File;
            for c in stream.consumers.values_mut() {
                let Some(since) = c.dirty_since else {
                    released.append(&mut c.sync_waiters);
                    continue;
                };
                let due = force
                    || !c.sync_waiters.is_empty()
                    || since.saturating_add(STATE_FLUSH_INTERVAL) <= now;
                if !due {
                    continue;
                }
                c.dirty_since = None;
                if persistent && !c.config.mem_storage {
                    let bytes = persist::encode_state(&StoredState::of(&c.state));
                    writes.push((
                        stream.config.name.clone(),
                        c.name().to_string(),
                        bytes,
                        std::mem::take(&mut c.sync_waiters),
                    ));
                } else {
                    released.append(&mut c.sync_waiters);
                }
            }
        }
        for (stream, consumer, bytes, waiters) in writes {
            // Acks that removed messages are recorded only once the removals are.
            if !self.sync_removals(&stream) {
                if let Some(c) = self
                    .streams
                    .get_mut(&stream)
                    .and_then(|s| s.consumers.get_mut(&consumer))
                {
                    c.mark_dirty(now);
                    c.sync_waiters.extend(waiters);
                }
                continue;
            }
            match self
                .meta
                .write_consumer(&stream, &consumer, ConsumerFile::State, &bytes)
            {
                Ok(()) => released.extend(waiters),
                Err(e) => {
                    // Not durable: no confirmation goes out; the state is retried.
                    self.log(format!(
                        "Consumer '{stream} > {consumer}': writing its state failed: {e}"
                    ));
                    if let Some(c) = self
                        .streams
                        .get_mut(&stream)
                        .and_then(|s| s.consumers.get_mut(&consumer))
                    {
                        c.mark_dirty(now);
                    }
                }
            }
        }
        for r in released {
            self.push_unguarded(Outbound::to(&r, None, Vec::new()));
        }
    }

    /// Loads the persisted consumers of a stream just restored.
    pub(crate) fn restore_consumers(&mut self, stream_name: &str, now: i64) -> Vec<String> {
        let mut log = Vec::new();
        let records = match self.meta.list_consumers(stream_name) {
            Ok(r) => r,
            Err(e) => {
                log.push(format!(
                    "Stream '{stream_name}': cannot list consumers: {e}"
                ));
                return log;
            }
        };
        let Some(stream) = self.streams.get_mut(stream_name) else {
            return log;
        };
        for rec in records {
            let name = rec.name;
            let Some(cfg_bytes) = rec.config else {
                continue;
            };
            let parsed = persist::decode_config(&cfg_bytes)
                .and_then(|(created, json)| Ok((created, validate::decode_stored(json)?)));
            let (created, config) = match parsed {
                Ok(v) => v,
                Err(e) => {
                    log.push(format!(
                        "Consumer '{stream_name} > {name}' not restored: damaged configuration ({e}); its files are left untouched"
                    ));
                    continue;
                }
            };
            let rules = crate::consumer::ack_rules(&config);
            let state = match rec.state.as_deref().map(persist::decode_state) {
                Some(Ok(s)) => DeliveryState::restore(
                    s.delivered,
                    s.ack_floor,
                    s.pending,
                    s.redelivered,
                    &rules,
                ),
                Some(Err(e)) => {
                    log.push(format!(
                        "Consumer '{stream_name} > {name}': damaged state ({e}); delivering again from its start"
                    ));
                    let fresh = Consumer::new(
                        stream_name,
                        config.clone(),
                        created,
                        stream.store.as_ref(),
                        now,
                    );
                    fresh.state
                }
                None => {
                    let fresh = Consumer::new(
                        stream_name,
                        config.clone(),
                        created,
                        stream.store.as_ref(),
                        now,
                    );
                    fresh.state
                }
            };
            let mut c = Consumer::with_state(stream_name, config, created, state, now);
            c.recount(stream.store.as_ref());
            log.push(format!(
                "Restored consumer '{stream_name} > {name}': delivered {}, ack floor {}, {} pending acks",
                c.state.delivered.stream,
                c.state.ack_floor.stream,
                c.state.num_ack_pending()
            ));
            stream.consumers.insert(name, c);
        }
        log
    }

    /// Deletes a consumer: waiting pull requests get 409, its files go.
    pub(crate) fn delete_consumer(&mut self, stream_name: &str, consumer: &str) -> bool {
        let Some(stream) = self.streams.get_mut(stream_name) else {
            return false;
        };
        let Some(mut c) = stream.consumers.remove(consumer) else {
            return false;
        };
        self.consumers_changed = true;
        let retention = stream.config.retention;
        let persistent = stream.config.storage == StorageType::File;
        let mut out = Vec::new();
        c.close_requests(&mut out);
        for o in out {
            self.push_unguarded(o);
        }
        if persistent {
            if let Err(e) = self.meta.remove_consumer(stream_name, consumer) {
                self.log(format!(
                    "Consumer '{stream_name} > {consumer}': removing its files failed: {e}"
                ));
            }
        }
        if retention == Retention::Interest {
            self.sweep_interest(stream_name);
        }
        true
    }

    /// Interest retention: removes every message no remaining consumer needs.
    fn sweep_interest(&mut self, stream_name: &str) {
        let Some(stream) = self.streams.get_mut(stream_name) else {
            return;
        };
        let mut from = stream.store.state().first_seq;
        let mut doomed = Vec::new();
        while let Ok(Some(m)) = stream.store.load_next(from, None) {
            from = m.seq + 1;
            if stream
                .consumers
                .values()
                .all(|c| c.done_with(m.seq, &m.subject))
            {
                doomed.push(m.seq);
            }
        }
        let mut removed = false;
        for seq in doomed {
            removed |= stream.store.remove(seq, false).unwrap_or(false);
        }
        if removed {
            self.mark_unsynced(stream_name);
        }
    }
}

fn c_can_progress(c: &Consumer) -> bool {
    if c.config.is_push() {
        c.interest
    } else {
        !c.waiting.is_empty()
    }
}

fn advisory_id(now: i64, seq: u64) -> String {
    format!("{:016x}{:08x}", now, seq as u32)
}

fn max_deliveries_advisory(
    stream: &str,
    consumer: &str,
    seq: u64,
    deliveries: u64,
    now: i64,
) -> Outbound {
    let body = serde_json::json!({
        "type": "io.nats.jetstream.advisory.v1.max_deliver",
        "id": advisory_id(now, seq),
        "timestamp": format_rfc3339_nanos(now),
        "stream": stream,
        "consumer": consumer,
        "stream_seq": seq,
        "deliveries": deliveries,
    });
    Outbound::to(
        &format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.{consumer}"),
        None,
        serde_json::to_vec(&body).unwrap_or_default(),
    )
}

fn terminated_advisory(
    stream: &str,
    consumer: &str,
    consumer_seq: u64,
    seq: u64,
    deliveries: u64,
    reason: &str,
    now: i64,
) -> Outbound {
    let mut body = serde_json::json!({
        "type": "io.nats.jetstream.advisory.v1.terminated",
        "id": advisory_id(now, seq),
        "timestamp": format_rfc3339_nanos(now),
        "stream": stream,
        "consumer": consumer,
        "consumer_seq": consumer_seq,
        "stream_seq": seq,
        "deliveries": deliveries,
    });
    if !reason.is_empty() {
        body["reason"] = serde_json::Value::String(reason.to_string());
    }
    Outbound::to(
        &format!("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.{stream}.{consumer}"),
        None,
        serde_json::to_vec(&body).unwrap_or_default(),
    )
}
