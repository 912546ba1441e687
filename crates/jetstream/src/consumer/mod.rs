//! Consumers: configuration, the wire-neutral delivery and ack state machine, and the
//! JetStream adapter (push delivery, pull requests, `$JS.ACK` subjects).
//!
//! - `config`: the validated configuration type; `validate`: decoding, defaults,
//!   checks and update rules.
//! - `state`: [`state::DeliveryState`], the wire-neutral core (deliveries by stream
//!   sequence and member, acks/naks/terms in, redelivery timers, ack floor).
//! - `ack`: the `$JS.ACK` reply subject and ack bodies; `pull`: pull requests.
//! - `persist`: configuration and state records.
//! - this module: [`Consumer`], the JetStream adapter around the core: picks the next
//!   message from the stream, and turns deliveries into messages for a deliver
//!   subject (push) or a waiting request (pull), with heartbeats and flow control.

pub mod ack;
pub mod config;
mod last_per_subject;
pub mod persist;
pub mod pull;
pub mod state;
pub mod validate;

use bytes::Bytes;

use sluice_store::{MessageStore, StoreError, StoredMessage};
use sluice_subject::subject_matches;

use crate::engine::Outbound;
use config::{AckPolicy, ConsumerConfig, DeliverPolicy, ReplayPolicy};
use last_per_subject::LastPerSubject;
use pull::{Waiting, WaitingQueue};
use state::{AckRules, DeliveryState, ANY_MEMBER};

/// nats-server's flow-control limit for push consumers (`JsFlowControlMaxPending`). The
/// window starts at a sixteenth of it and doubles with every answered request (slow
/// start) up to the limit; a request goes out at half the window, delivery stalls past
/// the window.
const FLOW_CONTROL_LIMIT: u64 = 32 * 1024 * 1024;
const FLOW_CONTROL_START: u64 = FLOW_CONTROL_LIMIT / 16;

/// Most messages one consumer sends per commit before others get a turn.
pub const DELIVERY_BUDGET: usize = 1024;

/// One consumer of a stream and its JetStream adapter state.
pub struct Consumer {
    pub stream: String,
    pub config: ConsumerConfig,
    pub created: i64,
    pub state: DeliveryState,
    pub rules: AckRules,
    /// Matching messages above `state.delivered.stream` (nats-server's `num_pending`).
    pub num_pending: u64,
    /// Set when messages went away in ways not tracked one by one (purge, limits):
    /// `num_pending` is recounted before it is used.
    pub pending_stale: bool,
    /// Pull requests in arrival order.
    pub waiting: WaitingQueue,
    /// Push: whether the deliver subject has a subscriber.
    pub interest: bool,
    flow: FlowControl,
    /// Push with `idle_heartbeat`: when the next heartbeat is due.
    next_heartbeat: Option<i64>,
    /// Ephemerals: when interest (push) or requests (pull) were last seen.
    pub last_active: i64,
    /// Last delivery time (for ConsumerInfo `delivered.last_active`).
    pub last_delivered_at: Option<i64>,
    /// Last ack time (for `ack_floor.last_active`).
    pub last_ack_at: Option<i64>,
    /// State changed since it was last persisted, and since when.
    pub dirty_since: Option<i64>,
    /// Replies to acks that asked for one, released once the state is durable.
    pub sync_waiters: Vec<String>,
    /// Something may be deliverable (new messages, acks, requests, interest).
    pub kick: bool,
    /// `deliver_policy: last_per_subject`: the sequences still to deliver below the
    /// highest of them; every other sequence up to it is skipped.
    last_per_subject: Option<LastPerSubject>,
    /// Earliest time the next delivery may go (replay original, rate limit).
    not_before: i64,
    /// Timestamp of the last message delivered (replay original).
    last_msg_ts: Option<i64>,
    fc_counter: u64,
}

#[derive(Debug, Default)]
struct FlowControl {
    /// Bytes delivered and not yet confirmed by a flow-control reply.
    bytes: u64,
    /// The reply subject of the outstanding request, and the bytes it covers.
    outstanding: Option<(String, u64)>,
    /// Current window (0 until the first delivery: `FLOW_CONTROL_START`).
    window: u64,
}

impl FlowControl {
    fn window(&self) -> u64 {
        if self.window == 0 {
            FLOW_CONTROL_START
        } else {
            self.window
        }
    }
}

/// Ack rules from a configuration.
pub fn ack_rules(cfg: &ConsumerConfig) -> AckRules {
    AckRules {
        tracked: cfg.ack_policy != AckPolicy::None,
        cumulative: cfg.ack_policy == AckPolicy::All,
        ack_wait: cfg.ack_wait,
        backoff: cfg.backoff.clone(),
        max_deliver: cfg.max_deliver,
        max_ack_pending: cfg.max_ack_pending,
    }
}

/// What a timer pass found that the engine acts on.
#[derive(Debug, Default)]
pub struct TickOutcome {
    /// (stream seq, deliveries) that reached `max_deliver`.
    pub exhausted: Vec<(u64, u64)>,
    /// An ephemeral past its inactivity threshold.
    pub expired: bool,
}

impl Consumer {
    /// A new consumer positioned by its deliver policy.
    pub fn new(
        stream: &str,
        config: ConsumerConfig,
        created: i64,
        store: &dyn MessageStore,
        now: i64,
    ) -> Consumer {
        let (start, lps) = start_position(&config, store);
        let state = DeliveryState::starting_at(start);
        let mut c = Consumer::with_state(stream, config, created, state, now);
        c.last_per_subject = lps;
        c.recount(store);
        c
    }

    /// A consumer with a given state (restored from disk).
    pub fn with_state(
        stream: &str,
        config: ConsumerConfig,
        created: i64,
        state: DeliveryState,
        now: i64,
    ) -> Consumer {
        Consumer {
            stream: stream.to_string(),
            rules: ack_rules(&config),
            config,
            created,
            state,
            num_pending: 0,
            pending_stale: true,
            waiting: WaitingQueue::default(),
            interest: false,
            flow: FlowControl::default(),
            next_heartbeat: None,
            last_active: now,
            last_delivered_at: None,
            last_ack_at: None,
            dirty_since: None,
            sync_waiters: Vec::new(),
            kick: true,
            last_per_subject: None,
            not_before: 0,
            last_msg_ts: None,
            fc_counter: 0,
        }
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Applies an updated configuration (already checked by the update rules).
    pub fn update_config(&mut self, config: ConsumerConfig, store: &dyn MessageStore) {
        let refilter = config.filters() != self.config.filters();
        self.rules = ack_rules(&config);
        self.config = config;
        if refilter {
            self.recount(store);
        }
        self.kick = true;
    }

    pub fn matches(&self, subject: &str) -> bool {
        let f = &self.config;
        if !f.filter_subject.is_empty() {
            return subject_matches(&f.filter_subject, subject);
        }
        f.filter_subjects.is_empty()
            || f.filter_subjects
                .iter()
                .any(|p| subject_matches(p, subject))
    }

    /// Recounts `num_pending` from the store.
    pub fn recount(&mut self, store: &dyn MessageStore) {
        let mut from = self.state.delivered.stream + 1;
        // With `last_per_subject`, only the last message of each subject is pending up
        // to the highest of them; every message above it is.
        let mut wanted = 0;
        if let Some(lps) = &self.last_per_subject {
            if let Some(top) = lps.top() {
                wanted = lps.count_from(from);
                from = from.max(top + 1);
            }
        }
        let filters = self.config.filters();
        let above: u64 = if filters.is_empty() {
            store.count_from(from, None)
        } else {
            filters
                .iter()
                .map(|f| store.count_from(from, Some(f)))
                .sum()
        };
        self.num_pending = above + wanted;
        self.pending_stale = false;
    }

    /// A message was stored on the stream.
    pub fn on_stored(&mut self, seq: u64, subject: &str) {
        if seq > self.state.delivered.stream && self.matches(subject) {
            self.num_pending += 1;
            self.kick = true;
        }
    }

    pub fn mark_dirty(&mut self, now: i64) {
        self.dirty_since.get_or_insert(now);
    }

    /// Whether this consumer could send something right now.
    fn can_send(&self) -> bool {
        if self.config.is_push() {
            self.interest && !self.flow_stalled()
        } else {
            !self.waiting.is_empty()
        }
    }

    fn flow_stalled(&self) -> bool {
        self.config.flow_control && self.flow.bytes > self.flow.window()
    }

    /// The first message above the delivered position that this consumer wants.
    fn next_new(&mut self, store: &dyn MessageStore) -> Option<StoredMessage> {
        loop {
            let from = self.state.delivered.stream + 1;
            let mut lost_index = false;
            let mut load = |filter: Option<&str>| match store.load_next(from, filter) {
                Ok(m) => m,
                Err(e) => {
                    lost_index |= matches!(e, StoreError::IndexLost);
                    None
                }
            };
            let found = if self.config.filter_iter().next().is_none() {
                load(None)
            } else {
                self.config
                    .filter_iter()
                    .filter_map(|f| load(Some(f)))
                    .min_by_key(|m| m.seq)
            };
            // A store awaiting reopening may hide an earlier match behind a later one:
            // deliver nothing rather than skip it.
            if lost_index {
                return None;
            }
            let found = found?;
            if let Some(lps) = &self.last_per_subject {
                match lps.top() {
                    Some(top) if found.seq <= top && !lps.contains(found.seq) => {
                        // Not the last of its subject: skip it without delivering
                        // (`recount` never counted it as pending).
                        self.state.skip_to(found.seq + 1);
                        continue;
                    }
                    Some(top) if found.seq <= top => {}
                    _ => self.last_per_subject = None,
                }
            }
            return Some(found);
        }
    }

    /// Sends what can be sent now (up to `budget` messages). Returns true if more
    /// could be sent right away (the budget ran out).
    pub fn deliver(
        &mut self,
        store: &dyn MessageStore,
        now: i64,
        out: &mut Vec<Outbound>,
        budget: usize,
    ) -> bool {
        self.kick = false;
        if self.pending_stale {
            self.recount(store);
        }
        if self.config.pause_until.is_some_and(|t| t > now) {
            return false;
        }
        let mut sent = 0;
        while self.can_send() {
            if sent >= budget {
                return true;
            }
            if now < self.not_before {
                break;
            }
            // Redeliveries first, then new messages while the in-flight cap allows.
            let (msg, redelivery) = if let Some(seq) = self.state.pop_redelivery() {
                if self.rules.max_deliver > 0
                    && self.state.deliveries_of(seq) >= self.rules.max_deliver as u64
                {
                    // Naked after its last allowed delivery: no more deliveries.
                    self.state.exhaust(seq);
                    self.mark_dirty(now);
                    continue;
                }
                match store.load(seq) {
                    Ok(Some(m)) => (m, true),
                    // The store refuses reads until it is reopened: retry then.
                    Err(StoreError::IndexLost) => {
                        self.state.unpop_redelivery(seq);
                        break;
                    }
                    Ok(None) | Err(_) => {
                        // Gone from the stream (deleted, purged, expired) or unreadable.
                        self.state.forget(seq);
                        self.mark_dirty(now);
                        continue;
                    }
                }
            } else if self.state.room_for_new(&self.rules) {
                match self.next_new(store) {
                    Some(m) => (m, false),
                    None => break,
                }
            } else {
                break;
            };
            if self.config.replay_policy == ReplayPolicy::Original && !redelivery {
                if let Some(prev) = self.last_msg_ts {
                    let gap = msg.timestamp.saturating_sub(prev);
                    let due = self.last_delivered_at.unwrap_or(now).saturating_add(gap);
                    if gap > 0 && due > now {
                        self.not_before = due;
                        break;
                    }
                }
            }
            let target = if self.config.is_push() {
                self.config.deliver_subject.clone()
            } else {
                let ack_len = 64 + self.stream.len() + self.config.name.len();
                let size = msg_size(&msg, ack_len) as i64;
                let Some(w) = self.waiting.queue.front_mut() else {
                    break;
                };
                if w.bytes_left > 0 && size > w.bytes_left {
                    // Cannot fit: that request ends, the message waits for the next.
                    let status = w.too_big_status();
                    let reply = w.reply.clone();
                    self.waiting.queue.pop_front();
                    out.push(status_msg(&reply, status));
                    // A new message was not recorded: `next_new` finds it again.
                    if redelivery {
                        self.state.unpop_redelivery(msg.seq);
                    }
                    continue;
                }
                w.reply.clone()
            };
            let d = if redelivery {
                match self
                    .state
                    .record_redelivery(msg.seq, now, ANY_MEMBER, &self.rules)
                {
                    Some(d) => d,
                    None => continue,
                }
            } else {
                self.num_pending = self.num_pending.saturating_sub(1);
                if let Some(lps) = &mut self.last_per_subject {
                    if lps.delivered(msg.seq) {
                        self.last_per_subject = None;
                    }
                }
                self.state.record_new(msg.seq, now, ANY_MEMBER, &self.rules)
            };
            self.mark_dirty(now);
            let reply = ack::reply_subject(
                &self.stream,
                &self.config.name,
                d.deliveries,
                d.stream_seq,
                d.consumer_seq,
                msg.timestamp,
                self.num_pending,
            );
            let size = msg_size(&msg, reply.len()) as u64;
            let timestamp = msg.timestamp;
            let (headers, payload) = if self.config.headers_only {
                (Some(Bytes::from(headers_only(&msg))), Bytes::new())
            } else {
                (msg.headers, msg.payload)
            };
            out.push(Outbound {
                subject: msg.subject,
                reply: Some(reply),
                headers,
                payload,
                deliver_to: Some(target),
            });
            sent += 1;
            self.last_delivered_at = Some(now);
            self.last_msg_ts = Some(timestamp);
            if let Some(ns) = (size * 8)
                .saturating_mul(1_000_000_000)
                .checked_div(self.config.rate_limit_bps)
            {
                self.not_before = now.saturating_add(ns as i64);
            }
            if self.config.is_push() {
                self.after_push(size, out);
            } else {
                self.after_pull(size as i64, out);
            }
        }
        if !self.config.is_push() {
            self.end_no_wait_requests(out);
        }
        if self.config.is_push() && self.config.idle_heartbeat > 0 && sent > 0 {
            self.next_heartbeat = Some(now.saturating_add(self.config.idle_heartbeat));
        }
        false
    }

    fn after_push(&mut self, size: u64, out: &mut Vec<Outbound>) {
        if !self.config.flow_control {
            return;
        }
        self.flow.bytes += size;
        let window = self.flow.window();
        if let Some((_, covered)) = &mut self.flow.outstanding {
            // Past a full window beyond the request: its reply will cover this too.
            if self.flow.bytes.saturating_sub(*covered) >= window {
                *covered += size;
            }
        }
        if self.flow.outstanding.is_none() && self.flow.bytes > window / 2 {
            self.fc_counter += 1;
            let reply = format!(
                "$JS.FC.{}.{}.{}",
                self.stream, self.config.name, self.fc_counter
            );
            self.flow.outstanding = Some((reply.clone(), self.flow.bytes));
            out.push(Outbound {
                subject: self.config.deliver_subject.clone(),
                reply: Some(reply),
                headers: Some(Bytes::from_static(
                    b"NATS/1.0 100 FlowControl Request\r\n\r\n",
                )),
                payload: Bytes::new(),
                deliver_to: None,
            });
        }
    }

    fn after_pull(&mut self, size: i64, out: &mut Vec<Outbound>) {
        let Some(w) = self.waiting.queue.front_mut() else {
            return;
        };
        w.left -= 1;
        w.delivered += 1;
        if w.bytes_left > 0 {
            w.bytes_left = (w.bytes_left - size).max(0);
            if w.bytes_left == 0 {
                w.left = 0;
            }
        }
        if w.left <= 0 {
            let done = w.clone();
            self.waiting.queue.pop_front();
            if done.bytes_left > 0 {
                out.push(status_msg(&done.reply, done.batch_completed_status()));
            }
        }
    }

    /// `no_wait` requests end when nothing more is there: 404 if they expire never or
    /// got something, otherwise they wait for their expiry (as nats-server).
    fn end_no_wait_requests(&mut self, out: &mut Vec<Outbound>) {
        if self.waiting.is_empty() {
            return;
        }
        // Only the end of the stream ends them, not the in-flight cap.
        let more = self.state.has_redeliveries() || self.num_pending > 0;
        if more {
            return;
        }
        self.waiting.queue.retain(|w| {
            let end = w.no_wait && (w.expires_at.is_none() || w.delivered > 0);
            if end {
                out.push(status_msg(&w.reply, pull::status(404, "No Messages")));
            }
            !end
        });
    }

    /// A flow-control reply arrived.
    pub fn flow_control_reply(&mut self, subject: &str) {
        if let Some((id, covered)) = &self.flow.outstanding {
            if id == subject {
                self.flow.bytes = self.flow.bytes.saturating_sub(*covered);
                self.flow.outstanding = None;
                self.flow.window = (self.flow.window() * 2).min(FLOW_CONTROL_LIMIT);
                self.kick = true;
            }
        }
    }

    /// Push interest changed.
    pub fn set_interest(&mut self, interest: bool, now: i64) {
        if interest != self.interest {
            self.interest = interest;
            self.last_active = now;
            if interest {
                self.kick = true;
                if self.config.idle_heartbeat > 0 {
                    self.next_heartbeat = Some(now.saturating_add(self.config.idle_heartbeat));
                }
            }
        }
    }

    /// Timers: ack waits, pull expiries and heartbeats, push heartbeats, inactivity.
    pub fn tick(&mut self, now: i64, out: &mut Vec<Outbound>) -> TickOutcome {
        let mut outcome = TickOutcome::default();
        if self.state.next_deadline().is_some_and(|d| d <= now) {
            let e = self.state.expire(now, &self.rules);
            if self.state.has_redeliveries() {
                self.kick = true;
            }
            if !e.exhausted.is_empty() {
                self.mark_dirty(now);
            }
            outcome.exhausted = e.exhausted;
        }
        if self.not_before > 0 && self.not_before <= now {
            self.not_before = 0;
            self.kick = true;
        }
        // Pull requests: expiry (408) and heartbeats.
        let mut keep = std::collections::VecDeque::with_capacity(self.waiting.len());
        for mut w in std::mem::take(&mut self.waiting.queue) {
            if w.expires_at.is_some_and(|t| t <= now) {
                out.push(status_msg(&w.reply, w.timeout_status()));
                continue;
            }
            if let Some(hb) = w.next_heartbeat.filter(|t| *t <= now) {
                out.push(status_msg(&w.reply, self.heartbeat_headers()));
                w.next_heartbeat = Some(hb.max(now).saturating_add(w.heartbeat));
            }
            keep.push_back(w);
        }
        self.waiting.queue = keep;
        if !self.waiting.is_empty() {
            self.last_active = now;
        }
        // Push idle heartbeats.
        if self.config.is_push()
            && self.config.idle_heartbeat > 0
            && self.next_heartbeat.is_some_and(|t| t <= now)
        {
            if self.interest {
                out.push(Outbound {
                    subject: self.config.deliver_subject.clone(),
                    reply: None,
                    headers: Some(Bytes::from(self.heartbeat_headers())),
                    payload: Bytes::new(),
                    deliver_to: None,
                });
            }
            self.next_heartbeat = Some(now.saturating_add(self.config.idle_heartbeat));
        }
        if self.config.is_push() && self.interest {
            self.last_active = now;
        }
        if !self.config.is_durable()
            && self.config.inactive_threshold > 0
            && now.saturating_sub(self.last_active) >= self.config.inactive_threshold
        {
            outcome.expired = true;
        }
        outcome
    }

    fn heartbeat_headers(&self) -> Vec<u8> {
        let mut h = format!(
            "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: {}\r\nNats-Last-Stream: {}\r\n",
            self.state.delivered.consumer, self.state.delivered.stream
        );
        if let Some((id, _)) = &self.flow.outstanding {
            h.push_str(&format!("Nats-Consumer-Stalled: {id}\r\n"));
        }
        h.push_str("\r\n");
        h.into_bytes()
    }

    /// The next time `tick` has work for this consumer.
    pub fn next_deadline(&self) -> Option<i64> {
        let inactive = (!self.config.is_durable()
            && self.config.inactive_threshold > 0
            && !(self.config.is_push() && self.interest)
            && self.waiting.is_empty())
        .then(|| {
            self.last_active
                .saturating_add(self.config.inactive_threshold)
        });
        [
            self.state.next_deadline(),
            self.waiting.next_deadline(),
            self.next_heartbeat
                .filter(|_| self.config.is_push() && self.config.idle_heartbeat > 0),
            (self.not_before > 0).then_some(self.not_before),
            inactive,
            self.dirty_since
                .map(|t| t.saturating_add(persist::STATE_FLUSH_INTERVAL)),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether a pull request's batch/expiry/bytes exceed this consumer's limits: the
    /// 409 text nats-server sends, if so.
    pub fn request_limit_error(&self, req: &pull::NextRequest) -> Option<String> {
        let c = &self.config;
        if c.max_batch > 0 && req.batch > c.max_batch {
            return Some(format!("Exceeded MaxRequestBatch of {}", c.max_batch));
        }
        if req.expires > 0 && c.max_expires > 0 && req.expires > c.max_expires {
            return Some(format!(
                "Exceeded MaxRequestExpires of {}",
                crate::time::go_duration(c.max_expires)
            ));
        }
        if req.max_bytes > 0 && c.max_bytes > 0 && req.max_bytes > c.max_bytes {
            return Some(format!("Exceeded MaxRequestMaxBytes of {}", c.max_bytes));
        }
        None
    }

    /// Queues a pull request, or answers it at once (404 for `no_wait` with nothing
    /// pending, 409 when too many wait).
    pub fn add_request(
        &mut self,
        reply: &str,
        req: &pull::NextRequest,
        now: i64,
        out: &mut Vec<Outbound>,
    ) {
        self.last_active = now;
        if req.no_wait {
            let pending = self.num_pending + u64::from(self.state.has_redeliveries());
            if pending == 0 && req.expires == 0 {
                out.push(status_msg(reply, pull::status(404, "No Messages")));
                return;
            }
        }
        let max = if self.config.max_waiting > 0 {
            self.config.max_waiting as usize
        } else {
            usize::MAX
        };
        if self.waiting.len() >= max {
            if req.idle_heartbeat == 0 {
                out.push(status_msg(reply, pull::status(409, "Exceeded MaxWaiting")));
            }
            return;
        }
        self.waiting.queue.push_back(Waiting::new(reply, req, now));
        self.kick = true;
    }

    /// Answers every waiting request with 409 Consumer Deleted.
    pub fn close_requests(&mut self, out: &mut Vec<Outbound>) {
        for w in std::mem::take(&mut self.waiting.queue) {
            out.push(status_msg(&w.reply, pull::status(409, "Consumer Deleted")));
        }
    }

    /// Whether the stream message `seq` on `subject` is acknowledged by this consumer
    /// (or none of its business), for interest retention.
    pub fn done_with(&self, seq: u64, subject: &str) -> bool {
        !self.matches(subject)
            || (seq <= self.state.delivered.stream && !self.state.pending.contains_key(&seq))
            || seq <= self.state.ack_floor.stream
    }

    pub fn is_push_bound(&self) -> bool {
        self.config.is_push() && self.interest
    }
}

/// Where a new consumer starts, by deliver policy (and, for `last_per_subject`, the
/// sequences to deliver before following new messages).
fn start_position(cfg: &ConsumerConfig, store: &dyn MessageStore) -> (u64, Option<LastPerSubject>) {
    let st = store.state();
    let filters = cfg.filters();
    let first = st.first_seq.max(1);
    match cfg.deliver_policy {
        DeliverPolicy::All => (first, None),
        DeliverPolicy::New => (st.last_seq + 1, None),
        DeliverPolicy::ByStartSequence => (cfg.opt_start_seq.max(1), None),
        DeliverPolicy::ByStartTime => {
            let t = cfg.opt_start_time.unwrap_or(0);
            let mut seq = st.last_seq + 1;
            let mut from = first;
            // Timestamps grow with sequences: the first at or after `t`.
            while let Ok(Some(m)) = store.load_next(from, None) {
                if m.timestamp >= t {
                    seq = m.seq;
                    break;
                }
                from = m.seq + 1;
            }
            (seq, None)
        }
        DeliverPolicy::Last => {
            let last = if filters.is_empty() {
                (st.msgs > 0).then_some(st.last_seq)
            } else {
                filters
                    .iter()
                    .filter_map(|f| store.load_last(f).ok().flatten().map(|m| m.seq))
                    .max()
            };
            (last.unwrap_or(st.last_seq + 1), None)
        }
        DeliverPolicy::LastPerSubject => {
            let pats: Vec<String> = if filters.is_empty() {
                vec![">".to_string()]
            } else {
                filters
            };
            let mut seqs = Vec::new();
            for p in &pats {
                seqs.extend(store.last_seqs(p));
            }
            match LastPerSubject::new(seqs) {
                Some(lps) => (lps.first().unwrap_or(st.last_seq + 1), Some(lps)),
                None => (st.last_seq + 1, None),
            }
        }
    }
}

/// A status message to a pull request's reply subject.
fn status_msg(reply: &str, headers: Vec<u8>) -> Outbound {
    Outbound {
        subject: reply.to_string(),
        reply: None,
        headers: Some(Bytes::from(headers)),
        payload: Bytes::new(),
        deliver_to: None,
    }
}

/// Size of a delivery as nats-server counts it against `max_bytes`.
fn msg_size(m: &StoredMessage, reply_len: usize) -> usize {
    m.subject.len() + reply_len + m.headers.as_ref().map_or(0, |h| h.len()) + m.payload.len()
}

/// `headers_only`: the message's headers plus `Nats-Msg-Size`.
fn headers_only(m: &StoredMessage) -> Vec<u8> {
    let size = format!("Nats-Msg-Size: {}\r\n\r\n", m.payload.len());
    match &m.headers {
        Some(h) if h.len() >= 4 && h.ends_with(b"\r\n\r\n") => {
            let mut v = h[..h.len() - 2].to_vec();
            v.extend_from_slice(size.as_bytes());
            v
        }
        _ => format!("NATS/1.0\r\n{size}").into_bytes(),
    }
}
