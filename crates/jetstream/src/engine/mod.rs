//! The engine: every stream of the (global) account, the `$JS.API` entry point, the
//! publish path, group commit and timers. Deterministic: time comes in as unix
//! nanoseconds, nothing here reads a clock, spawns or does network I/O.
//!
//! Durability contract: a PubAck (or a purge/delete reply) is queued with a guard on
//! its stream; `commit` fsyncs each stream written since the last commit once, and
//! replaces the replies of a stream whose fsync failed with the storage error. A
//! stream whose fsync failed takes no more writes until its store is reopened (tried
//! from `tick`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use sluice_store::{MessageStore, RecoveryReport, StoreError, StoreState, StoredMessage};
use sluice_subject::{subset_of, SubjectIndex};

use crate::api::errors::{self, ApiError};
use crate::api::types::{PubAckErrorJson, StreamPurgeResponse};
use crate::api::{self, gojson, Kind, Route};
use crate::meta::{self, MetaError, MetaStore};
use crate::stream::config::{self, StorageType};
use crate::stream::publish::{Accepted, AccountRoom};
use crate::stream::Stream;

mod consumers;
mod mirror;
mod report;
pub use consumers::CONSUMER_SUBJECTS;
pub use report::{ConsumerReport, EngineReport, StreamReport};

/// How often unsynced writes are flushed when `sync_always` is off (nats-server's
/// default `sync_interval`).
pub const SYNC_INTERVAL: i64 = 120_000_000_000;
/// How long after a failed fsync the store is reopened.
pub const REOPEN_DELAY: i64 = 5_000_000_000;

pub struct EngineConfig {
    /// Streams live under `store_dir/jetstream/$G/streams/<name>/`.
    pub store_dir: PathBuf,
    /// Account limits reported by `$JS.API.INFO` and enforced (-1 = unlimited).
    pub max_memory: i64,
    pub max_store: i64,
    /// Server-wide limits (`max_memory_store`, `max_file_store`; -1 = none): a stream
    /// whose `max_bytes` exceeds them is refused, as nats-server does.
    pub server_max_memory: i64,
    pub server_max_store: i64,
    /// True (default): `commit` fsyncs before releasing acks. False: every
    /// `SYNC_INTERVAL`, from `tick`.
    pub sync_always: bool,
    /// With `sync_always` off: nanoseconds between periodic fsyncs (nats-server's
    /// `sync_interval`, default [`SYNC_INTERVAL`]).
    pub sync_interval: i64,
    pub server_id: String,
    /// Reported as the stream leader in STREAM.INFO.
    pub server_name: String,
}

/// A message the engine wants published (API response, PubAck, error, direct get,
/// consumer delivery, advisory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    /// The subject receivers see.
    pub subject: String,
    pub reply: Option<String>,
    /// Shared with the store's read buffer where possible: a delivery does not copy.
    pub headers: Option<Bytes>,
    pub payload: Bytes,
    /// Route by this subject instead of `subject` (consumer deliveries keep the
    /// message's own subject but go to a deliver subject or a pull request's inbox).
    pub deliver_to: Option<String>,
}

impl Outbound {
    /// A plain message on `subject` (no reply, routed by its subject).
    pub fn to(subject: &str, headers: Option<Vec<u8>>, payload: Vec<u8>) -> Outbound {
        Outbound {
            subject: subject.to_string(),
            reply: None,
            headers: headers.map(Bytes::from),
            payload: Bytes::from(payload),
            deliver_to: None,
        }
    }

    /// The subject the router matches subscriptions against.
    pub fn route_subject(&self) -> &str {
        self.deliver_to.as_deref().unwrap_or(&self.subject)
    }
}

/// Answers whether a client subscribes to a subject (push consumers' deliver
/// subjects), so a consumer created while its subscriber is there starts bound. The
/// server asks its router; without one, interest arrives only via
/// [`Engine::set_push_interest`].
pub trait InterestOracle: Send {
    fn has_interest(&mut self, subject: &str) -> bool;
}

/// How the engine makes stores. The server passes a real one; tests pass memory or
/// simulated stores.
pub trait StoreFactory: Send {
    /// Opens (creating if needed) the store of `stream` in `dir`.
    fn open(
        &mut self,
        stream: &str,
        storage: StorageType,
        dir: &Path,
    ) -> Result<Box<dyn MessageStore>, StoreError>;
    /// Removes whatever store files `dir` holds (leftovers of a stream that no longer
    /// exists). Must succeed when there is nothing to remove.
    fn remove(&mut self, stream: &str, dir: &Path) -> Result<(), StoreError>;
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot read stream metadata: {0}")]
    Meta(#[from] MetaError),
}

/// What to send instead of a guarded reply when its stream's fsync failed.
#[derive(Debug)]
enum OnSyncFailure {
    PubAck,
    Purge,
    MsgDelete,
    /// Not sent at all (a republished copy of a write that did not become durable).
    Drop,
}

#[derive(Debug)]
struct Queued {
    out: Outbound,
    /// Stream whose writes this reply reports, and what replaces it if they fail.
    guard: Option<(String, OnSyncFailure)>,
}

pub struct Engine {
    pub(crate) config: EngineConfig,
    pub(crate) stores: Box<dyn StoreFactory>,
    pub(crate) meta: Box<dyn MetaStore>,
    pub(crate) streams: BTreeMap<String, Stream>,
    /// Stream subjects → stream name.
    index: SubjectIndex<String>,
    /// Names whose metadata could not be read: never overwritten or reused.
    pub(crate) quarantined: BTreeSet<String>,
    queue: Vec<Queued>,
    /// Streams with writes not yet fsynced.
    unsynced: BTreeSet<String>,
    /// Streams whose only unsynced writes are removals of consumed messages (work
    /// queue and interest retention). They are fsynced before the consumer state that
    /// records those acks is written (within `STATE_FLUSH_INTERVAL`), not at every
    /// commit: losing them in a crash loses only acks, which the consumer contract
    /// already bounds.
    lazy_unsynced: BTreeSet<String>,
    subjects_changed: bool,
    pub(crate) api_total: u64,
    pub(crate) api_errors: u64,
    log: Vec<String>,
    last_sync: i64,
    reopen_at: Option<i64>,
    /// The latest time passed in (for scheduling work noticed in `commit`).
    last_now: i64,
    /// Ephemeral consumer names made so far (feeds the name generator).
    pub(crate) name_counter: u64,
    /// A consumer was created, updated or deleted since `take_consumers_changed`.
    pub(crate) consumers_changed: bool,
    pub(crate) interest: Option<Box<dyn InterestOracle>>,
    /// Some consumer holds ack replies to release once its state is written.
    pub(crate) ack_replies_waiting: bool,
    /// Copying progress of every mirror stream, by mirror name.
    pub(crate) mirrors: BTreeMap<String, mirror::MirrorProgress>,
    /// Some mirror has more to copy than one pass took.
    pub(crate) mirror_backlog: bool,
}

/// The state that tells whether a store changed.
fn fingerprint(s: &StoreState) -> (u64, u64, u64, u64) {
    (s.msgs, s.first_seq, s.last_seq, s.bytes)
}

impl Engine {
    /// Opens every persisted stream. Damage is reported in the returned log lines;
    /// nothing is deleted because of it.
    pub fn open(
        config: EngineConfig,
        stores: Box<dyn StoreFactory>,
        meta: Box<dyn MetaStore>,
        now: i64,
    ) -> Result<(Engine, Vec<String>), EngineError> {
        let mut engine = Engine {
            config,
            stores,
            meta,
            streams: BTreeMap::new(),
            index: SubjectIndex::new(),
            quarantined: BTreeSet::new(),
            queue: Vec::new(),
            unsynced: BTreeSet::new(),
            lazy_unsynced: BTreeSet::new(),
            subjects_changed: true,
            api_total: 0,
            api_errors: 0,
            log: Vec::new(),
            last_sync: now,
            reopen_at: None,
            last_now: now,
            name_counter: 0,
            consumers_changed: true,
            interest: None,
            ack_replies_waiting: false,
            mirrors: BTreeMap::new(),
            mirror_backlog: false,
        };
        let records = engine.meta.list()?;
        let mut log = Vec::new();
        for (name, bytes) in records {
            match engine.recover_stream(&name, &bytes, now) {
                Ok(line) => {
                    log.extend(line);
                    log.extend(engine.restore_consumers(&name, now));
                }
                Err(why) => {
                    log.push(format!(
                        "Stream '{name}' not restored: {why}; its files are left untouched"
                    ));
                    engine.quarantined.insert(name);
                }
            }
        }
        engine.rebuild_index();
        engine.refresh_mirrors();
        Ok((engine, log))
    }

    fn recover_stream(
        &mut self,
        name: &str,
        bytes: &[u8],
        now: i64,
    ) -> Result<Vec<String>, String> {
        let (json, created) = meta::decode(bytes).map_err(|e| format!("damaged metadata ({e})"))?;
        let cfg = config::check(&json, false)
            .map_err(|e| format!("invalid configuration ({})", e.description))?;
        if cfg.name != name {
            return Err(format!("metadata names stream '{}'", cfg.name));
        }
        let dir = self.stream_dir(name);
        let store = self
            .stores
            .open(name, cfg.storage, &dir)
            .map_err(|e| format!("cannot open store ({e})"))?;
        let mut lines = Vec::new();
        let report = store.recovery_report();
        let mut stream = Stream::new(cfg, created, store);
        lines.extend(describe_recovery(name, &report));
        stream.lost = lost_from_report(&report);
        stream
            .rebuild_ttls()
            .map_err(|e| format!("cannot index message TTLs ({e})"))?;
        stream
            .expire(now)
            .map_err(|e| format!("cannot expire old messages ({e})"))?;
        stream
            .rebuild_dedupe(now)
            .map_err(|e| format!("cannot rebuild the duplicate window ({e})"))?;
        let s = stream.store.state();
        lines.push(format!(
            "Restored stream '{name}': {} messages, {} bytes, sequences {}..{}",
            s.msgs, s.bytes, s.first_seq, s.last_seq
        ));
        self.streams.insert(name.to_string(), stream);
        Ok(lines)
    }

    pub(crate) fn stream_dir(&self, name: &str) -> PathBuf {
        meta::stream_dir(&self.config.store_dir, name)
    }

    /// Subjects the engine must receive: the API subjects it serves
    /// (`api::API_SUBJECTS`), `$JS.API.DIRECT.GET.<s>` and `.<s>.>` for streams with
    /// `allow_direct`, and every stream's subjects. A pattern already covered by
    /// another is left out, so no message arrives twice. Subjects outside this list
    /// (direct gets of other streams, consumer calls) have no responders.
    pub fn capture_subjects(&self) -> Vec<String> {
        let mut all: Vec<String> = api::API_SUBJECTS
            .iter()
            .chain(CONSUMER_SUBJECTS)
            .map(|s| s.to_string())
            .collect();
        for s in self.streams.values() {
            if s.config.allow_direct {
                all.push(format!("$JS.API.DIRECT.GET.{}", s.name()));
                all.push(format!("$JS.API.DIRECT.GET.{}.>", s.name()));
            }
            let stands_in = s.config.mirror_direct && s.config.allow_direct;
            if let Some(m) = s.config.mirror.as_ref().filter(|_| stands_in) {
                all.push(format!("$JS.API.DIRECT.GET.{}", m.name));
                all.push(format!("$JS.API.DIRECT.GET.{}.>", m.name));
            }
            all.extend(s.config.subjects.iter().cloned());
        }
        all.sort();
        all.dedup();
        let covered = |i: usize, s: &str| {
            all.iter()
                .enumerate()
                .any(|(j, other)| j != i && other != s && subset_of(s, other))
        };
        all.iter()
            .enumerate()
            .filter(|(i, s)| !covered(*i, s))
            .map(|(_, s)| s.clone())
            .collect()
    }

    /// Installs the interest oracle (see [`InterestOracle`]).
    pub fn set_interest_oracle(&mut self, oracle: Box<dyn InterestOracle>) {
        self.interest = Some(oracle);
    }

    /// True once after any consumer was created, updated or deleted.
    pub fn take_consumers_changed(&mut self) -> bool {
        std::mem::take(&mut self.consumers_changed)
    }

    /// True once after any change of `capture_subjects`.
    pub fn subjects_changed(&mut self) -> bool {
        std::mem::take(&mut self.subjects_changed)
    }

    /// True if the engine answers a request on `subject`. False for direct gets of
    /// streams without `allow_direct` (the server then reports no responders).
    pub fn has_responder(&self, subject: &str) -> bool {
        match api::route(subject) {
            Some(Route::DirectGet(s)) | Some(Route::DirectGetLast(s, _)) => {
                self.direct_responder(s).is_some()
            }
            Some(_) => true,
            None => false,
        }
    }

    /// Log lines produced since the last call (sync failures, reopened stores).
    pub fn take_log(&mut self) -> Vec<String> {
        std::mem::take(&mut self.log)
    }

    pub(crate) fn log(&mut self, line: String) {
        self.log.push(line);
    }

    pub(crate) fn rebuild_index(&mut self) {
        let mut index = SubjectIndex::new();
        for s in self.streams.values() {
            for subj in &s.config.subjects {
                // Subjects were validated with the stream.
                let _ = index.insert(subj, None, s.config.name.clone());
            }
        }
        self.index = index;
        self.subjects_changed = true;
    }

    /// A request on a `$JS.API.` subject. Queues the response(s) for `commit`.
    pub fn handle_api(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&[u8]>,
        body: &[u8],
        now: i64,
    ) {
        self.last_now = self.last_now.max(now);
        // A `no_ack` stream may capture API subjects too; it stores them as nats-server
        // does (and sends no PubAck, so the reply gets only the API response).
        if !self.index.match_subject(subject).plain.is_empty() {
            self.publish(subject, reply, headers, body, now);
        }
        let Some(route) = api::route(subject) else {
            return;
        };
        self.dispatch(route, reply, headers, body, now);
    }

    /// A message published on a subject some stream captures. Queues its PubAck or
    /// error (nothing without a reply or with `no_ack`; the message is stored anyway).
    pub fn publish(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&[u8]>,
        payload: &[u8],
        now: i64,
    ) {
        self.last_now = self.last_now.max(now);
        let name = {
            let found = self.index.match_subject(subject);
            match found.plain.first() {
                Some(n) => n.clone(),
                None => return,
            }
        };
        let room = self
            .streams
            .get(&name)
            .and_then(|s| self.account_room(s.config.storage));
        let Some(stream) = self.streams.get_mut(&name) else {
            return;
        };
        let before = fingerprint(&stream.store.state());
        let result = stream.accept(subject, headers, payload, now, room);
        let after = fingerprint(&stream.store.state());
        let changed = before != after;
        let no_ack = stream.config.no_ack;
        let mut removals = false;
        // Delete markers that expiry stored on the way reach consumers first.
        let Some(stream) = self.announce_stream_writes(&name) else {
            return;
        };
        if let Ok(Accepted::Stored(seq)) = &result {
            for c in stream.consumers.values_mut() {
                c.on_stored(*seq, subject);
            }
            removals = after.0 != before.0 + 1;
        } else if changed && after.0 < before.0 {
            removals = true;
        }
        if removals {
            self.after_removals(&name, now);
        }
        if changed {
            self.unsynced.insert(name.clone());
        }
        let Some(reply) = reply.filter(|_| !no_ack) else {
            return;
        };
        let stream_json = gojson::encode_str(&name);
        let (payload, guarded) = match result {
            Ok(Accepted::Stored(seq)) => (
                format!("{{\"stream\":{stream_json},\"seq\":{seq}}}").into_bytes(),
                true,
            ),
            Ok(Accepted::Duplicate(seq)) => (
                format!("{{\"stream\":{stream_json},\"seq\":{seq},\"duplicate\": true}}")
                    .into_bytes(),
                self.unsynced.contains(&name),
            ),
            Err(e) => (pub_ack_error(&name, &e), false),
        };
        self.queue.push(Queued {
            out: Outbound::to(reply, None, payload),
            guard: guarded.then_some((name, OnSyncFailure::PubAck)),
        });
    }

    /// Hands what a stream wrote besides the message at hand to the rest of the
    /// engine: delete markers to its consumers, republished copies to the queue
    /// (released once durable). Returns the stream for the caller to go on with.
    fn announce_stream_writes(&mut self, name: &str) -> Option<&mut Stream> {
        let stream = self.streams.get_mut(name)?;
        for (seq, subject) in std::mem::take(&mut stream.new_markers) {
            for c in stream.consumers.values_mut() {
                c.on_stored(seq, &subject);
            }
        }
        for r in std::mem::take(&mut stream.republished) {
            self.queue.push(Queued {
                out: Outbound::to(&r.subject, Some(r.headers), r.payload),
                guard: Some((name.to_string(), OnSyncFailure::Drop)),
            });
        }
        self.streams.get_mut(name)
    }

    /// Room under the account limit for a storage type, if that type is limited.
    pub(crate) fn account_room(&self, storage: StorageType) -> Option<AccountRoom> {
        let limit = match storage {
            StorageType::Memory => self.config.max_memory,
            StorageType::File => self.config.max_store,
        };
        (limit >= 0).then(|| AccountRoom {
            used: self.usage(storage),
            limit,
        })
    }

    /// Bytes stored by streams of a storage type.
    pub(crate) fn usage(&self, storage: StorageType) -> u64 {
        self.streams
            .values()
            .filter(|s| s.config.storage == storage)
            .map(|s| s.store.state().bytes)
            .sum()
    }

    /// Queues an API response and counts it (as nats-server's `sendAPIResponse`).
    pub(crate) fn respond(&mut self, reply: Option<&str>, body: Vec<u8>, is_error: bool) {
        self.api_total += 1;
        if is_error {
            self.api_errors += 1;
        }
        self.send(reply, None, body);
    }

    /// Queues an error response of `kind`.
    pub(crate) fn respond_err(&mut self, reply: Option<&str>, kind: Kind, e: ApiError) {
        self.respond(reply, kind.error_body(e), true);
    }

    /// Queues a message without counting it as an API response.
    pub(crate) fn send(&mut self, reply: Option<&str>, headers: Option<Vec<u8>>, payload: Vec<u8>) {
        if let Some(reply) = reply {
            self.queue.push(Queued {
                out: Outbound::to(reply, headers, payload),
                guard: None,
            });
        }
    }

    /// Queues a message released at the next commit whatever happens to fsyncs.
    pub(crate) fn push_unguarded(&mut self, out: Outbound) {
        self.queue.push(Queued { out, guard: None });
    }

    /// Queues a counted success response that reports writes to `stream`.
    fn respond_guarded(
        &mut self,
        reply: Option<&str>,
        body: Vec<u8>,
        stream: &str,
        on_failure: OnSyncFailure,
    ) {
        self.api_total += 1;
        if let Some(reply) = reply {
            self.queue.push(Queued {
                out: Outbound::to(reply, None, body),
                guard: Some((stream.to_string(), on_failure)),
            });
        }
    }

    pub(crate) fn respond_purged(&mut self, reply: Option<&str>, stream: &str, body: Vec<u8>) {
        self.respond_guarded(reply, body, stream, OnSyncFailure::Purge);
    }

    pub(crate) fn respond_deleted(&mut self, reply: Option<&str>, stream: &str, body: Vec<u8>) {
        self.respond_guarded(reply, body, stream, OnSyncFailure::MsgDelete);
    }

    pub(crate) fn last_now(&self) -> i64 {
        self.last_now
    }

    pub(crate) fn mark_unsynced(&mut self, stream: &str) {
        self.unsynced.insert(stream.to_string());
    }

    /// Notes removals of consumed messages (see `lazy_unsynced`).
    pub(crate) fn mark_lazily_unsynced(&mut self, stream: &str) {
        if !self.unsynced.contains(stream) {
            self.lazy_unsynced.insert(stream.to_string());
        }
    }

    /// Fsyncs a stream's pending removals, if any, before consumer state that depends
    /// on them is written. False if that fsync failed.
    pub(crate) fn sync_removals(&mut self, stream: &str) -> bool {
        if self.lazy_unsynced.remove(stream) {
            return self.sync_stream(stream).is_none();
        }
        true
    }

    pub(crate) fn forget_stream(&mut self, stream: &str) {
        self.unsynced.remove(stream);
        self.lazy_unsynced.remove(stream);
    }

    /// Group commit: fsyncs every store written since the last commit (once each),
    /// then returns every queued message in order. Replies reporting writes of a
    /// stream whose fsync failed are replaced by the storage error.
    pub fn commit(&mut self) -> Vec<Outbound> {
        let mut failed: BTreeMap<String, String> = BTreeMap::new();
        self.sync_written(&mut failed);
        let now = self.last_now;
        // Mirrors copy what the fsync above made durable, and are fsynced in turn.
        if !self.mirrors.is_empty() {
            self.copy_mirrors(now);
            self.sync_written(&mut failed);
        }
        // Consumers deliver only what the fsyncs above made durable, and their ack
        // replies wait for their state to be written.
        let mut deliveries = Vec::new();
        self.deliver_all(now, &mut deliveries);
        // Periodic state writes come from `tick`; a commit writes only for acks
        // waiting on a confirmation.
        if std::mem::take(&mut self.ack_replies_waiting) {
            self.flush_consumers(now, false);
        }
        let queue = std::mem::take(&mut self.queue);
        let mut out = Vec::with_capacity(queue.len() + deliveries.len());
        for q in queue {
            let failure = q
                .guard
                .as_ref()
                .and_then(|(stream, on_failure)| Some((stream, on_failure, failed.get(stream)?)));
            match failure {
                Some((_, OnSyncFailure::Drop, _)) => {}
                Some((stream, on_failure, why)) => {
                    let payload = match on_failure {
                        OnSyncFailure::Drop => continue,
                        OnSyncFailure::PubAck => {
                            pub_ack_error(stream, &errors::stream_store_failed(why))
                        }
                        OnSyncFailure::Purge => {
                            self.api_errors += 1;
                            gojson::encode(&StreamPurgeResponse {
                                kind: Kind::Purge.type_name(),
                                error: Some(errors::stream_general(why)),
                                success: false,
                                purged: 0,
                            })
                        }
                        OnSyncFailure::MsgDelete => {
                            self.api_errors += 1;
                            Kind::MsgDelete.error_body(errors::stream_msg_delete_failed(why))
                        }
                    };
                    out.push(Outbound::to(&q.out.subject, None, payload));
                }
                None => out.push(q.out),
            }
        }
        out.extend(deliveries);
        self.fail_stores_needing_reopen();
        out
    }

    /// Marks failed, to be reopened, every stream whose store started refusing reads
    /// (an index page lost to an I/O error): reopening rebuilds the index.
    fn fail_stores_needing_reopen(&mut self) {
        let mut any = false;
        for (name, stream) in &mut self.streams {
            if !stream.failed && stream.store.needs_reopen() {
                stream.failed = true;
                any = true;
                self.log.push(format!(
                    "Stream '{name}': store index lost pages after an i/o error; reads are refused until the store is reopened"
                ));
            }
        }
        if any {
            self.reopen_at = Some(self.reopen_at.unwrap_or(self.last_now + REOPEN_DELAY));
        }
    }

    /// With `sync_always`, fsyncs every stream written since the last commit.
    fn sync_written(&mut self, failed: &mut BTreeMap<String, String>) {
        if self.config.sync_always {
            for name in std::mem::take(&mut self.unsynced) {
                self.lazy_unsynced.remove(&name);
                if let Some(err) = self.sync_stream(&name) {
                    failed.insert(name, err);
                }
            }
        }
    }

    /// Fsyncs one stream; on failure marks it failed and returns why.
    fn sync_stream(&mut self, name: &str) -> Option<String> {
        let stream = self.streams.get_mut(name)?;
        if stream.failed {
            return Some(StoreError::Failed.to_string());
        }
        match stream.store.sync() {
            Ok(()) => None,
            Err(e) => {
                stream.failed = true;
                let why = e.to_string();
                self.log.push(format!(
                    "Stream '{name}': fsync failed ({why}); unacknowledged writes are reported as failed and the store will be reopened"
                ));
                self.reopen_at = Some(self.reopen_at.unwrap_or(self.last_now + REOPEN_DELAY));
                Some(why)
            }
        }
    }

    /// Fsyncs every stream with unsynced writes now (for shutdown when `sync_always`
    /// is off). Returns the streams whose fsync failed.
    pub fn sync_all(&mut self) -> Vec<String> {
        let now = self.last_now;
        self.flush_consumers(now, true);
        let mut failed = Vec::new();
        let lazy = std::mem::take(&mut self.lazy_unsynced);
        self.unsynced.extend(lazy);
        for name in std::mem::take(&mut self.unsynced) {
            if self.sync_stream(&name).is_some() {
                failed.push(name);
            }
        }
        failed
    }

    /// Time-driven work: `max_age` expiry, periodic fsync (when `sync_always` is off),
    /// reopening failed stores. Returns the next time it wants to be called.
    pub fn tick(&mut self, now: i64) -> Option<i64> {
        self.last_now = self.last_now.max(now);
        let names: Vec<String> = self.streams.keys().cloned().collect();
        for name in &names {
            let Some(stream) = self.streams.get_mut(name) else {
                continue;
            };
            if stream.failed {
                continue;
            }
            if stream.next_expiry().is_some_and(|t| t <= now) {
                match stream.expire(now) {
                    Ok(done) if !done.changed() => {}
                    Ok(done) => {
                        stream.new_markers.extend(done.markers);
                        self.announce_stream_writes(name);
                        self.unsynced.insert(name.clone());
                        if done.removed > 0 {
                            self.after_removals(name, now);
                        }
                    }
                    Err(e) => self
                        .log
                        .push(format!("Stream '{name}': expiring messages failed: {e}")),
                }
            }
        }
        if self.mirror_backlog {
            // Copied here, fsynced by the commit that follows every tick.
            self.copy_mirrors(now);
        }
        if !self.config.sync_always
            && !self.unsynced.is_empty()
            && now >= self.last_sync + self.config.sync_interval
        {
            self.sync_all();
            self.last_sync = now;
        }
        if self.reopen_at.is_some_and(|t| t <= now) {
            self.reopen_at = None;
            for name in names {
                if self.streams.get(&name).is_some_and(|s| s.failed) {
                    self.reopen(&name, now);
                }
            }
        }
        if self.config.sync_always {
            self.last_sync = now;
        }
        self.tick_consumers(now);
        self.next_deadline()
    }

    /// Replaces a failed stream's store with a freshly opened one.
    fn reopen(&mut self, name: &str, now: i64) {
        let dir = self.stream_dir(name);
        let Some(stream) = self.streams.get_mut(name) else {
            return;
        };
        // The failed store goes first: two live stores on one directory could clash.
        drop(std::mem::replace(&mut stream.store, Box::new(ClosedStore)));
        match self.stores.open(name, stream.config.storage, &dir) {
            Ok(store) => {
                stream.store = store;
                stream.failed = false;
                // Deliveries stopped while the stream was failed; resume them.
                for c in stream.consumers.values_mut() {
                    c.kick = true;
                }
                let rebuilt = stream.rebuild_dedupe(now);
                self.log
                    .push(format!("Stream '{name}': store reopened after a failure"));
                if let Err(e) = rebuilt {
                    self.log.push(format!(
                        "Stream '{name}': duplicate window not rebuilt: {e}"
                    ));
                }
            }
            Err(e) => {
                self.log.push(format!(
                    "Stream '{name}': reopening the store failed: {e}; retrying"
                ));
                self.reopen_at = Some(now + REOPEN_DELAY);
            }
        }
    }

    /// The next time `tick` has work: the earliest `max_age` expiry, a due periodic
    /// fsync, or a store reopen.
    pub fn next_deadline(&self) -> Option<i64> {
        let expiry = self
            .streams
            .values()
            .filter(|s| !s.failed)
            .filter_map(Stream::next_expiry);
        let sync = (!self.config.sync_always && !self.unsynced.is_empty())
            .then(|| self.last_sync + self.config.sync_interval);
        expiry
            .chain(sync)
            .chain(self.reopen_at)
            .chain(self.mirror_backlog.then_some(self.last_now))
            .chain(self.consumers_deadline())
            .min()
    }

    /// Streams by name (for tests and monitoring).
    pub fn stream_names(&self) -> Vec<String> {
        self.streams.keys().cloned().collect()
    }
}

/// A failed PubAck: `{"error":{..},"stream":"S","seq":0}`.
fn pub_ack_error(stream: &str, e: &ApiError) -> Vec<u8> {
    gojson::encode(&PubAckErrorJson {
        error: e,
        stream,
        seq: 0,
    })
}

fn describe_recovery(name: &str, report: &RecoveryReport) -> Vec<String> {
    let mut lines = Vec::new();
    if report.truncated_tail_bytes > 0 {
        lines.push(format!(
            "Stream '{name}': cut {} bytes of a torn write from the end of the store",
            report.truncated_tail_bytes
        ));
    }
    for d in &report.damaged {
        let lost = match (d.first_lost_seq, d.last_lost_seq) {
            (Some(a), Some(b)) => format!(", sequences {a}..{b} lost"),
            _ => String::new(),
        };
        lines.push(format!(
            "Stream '{name}': damaged region in {} at offset {} ({} bytes){lost}",
            d.file, d.offset, d.len
        ));
    }
    lines.extend(report.notes.iter().map(|n| format!("Stream '{name}': {n}")));
    lines
}

/// The `lost` of STREAM.INFO: sequences known lost in damaged regions (capped).
fn lost_from_report(report: &RecoveryReport) -> Option<(Vec<u64>, u64)> {
    const MAX_LISTED: u64 = 10_000;
    let mut msgs = Vec::new();
    let mut bytes = 0;
    for d in &report.damaged {
        bytes += d.len;
        if let (Some(a), Some(b)) = (d.first_lost_seq, d.last_lost_seq) {
            let room = MAX_LISTED.saturating_sub(msgs.len() as u64);
            msgs.extend((a..=b).take(room as usize));
        }
    }
    (!report.damaged.is_empty()).then_some((msgs, bytes))
}

/// Stands in for a store being reopened: refuses everything, stores nothing.
struct ClosedStore;

impl MessageStore for ClosedStore {
    fn append(&mut self, _: &str, _: Option<&[u8]>, _: &[u8], _: i64) -> Result<u64, StoreError> {
        Err(StoreError::Failed)
    }
    fn sync(&mut self) -> Result<(), StoreError> {
        Err(StoreError::Failed)
    }
    fn load(&self, _: u64) -> Result<Option<StoredMessage>, StoreError> {
        Err(StoreError::Failed)
    }
    fn load_next(&self, _: u64, _: Option<&str>) -> Result<Option<StoredMessage>, StoreError> {
        Err(StoreError::Failed)
    }
    fn load_last(&self, _: &str) -> Result<Option<StoredMessage>, StoreError> {
        Err(StoreError::Failed)
    }
    fn count_from(&self, _: u64, _: Option<&str>) -> u64 {
        0
    }
    fn remove(&mut self, _: u64, _: bool) -> Result<bool, StoreError> {
        Err(StoreError::Failed)
    }
    fn purge(
        &mut self,
        _: Option<&str>,
        _: Option<u64>,
        _: Option<u64>,
    ) -> Result<u64, StoreError> {
        Err(StoreError::Failed)
    }
    fn set_first_seq(&mut self, _: u64) -> Result<(), StoreError> {
        Err(StoreError::Failed)
    }
    fn state(&self) -> StoreState {
        StoreState::default()
    }
    fn deleted(&self) -> Vec<u64> {
        Vec::new()
    }
    fn subjects(&self, _: &str) -> BTreeMap<String, u64> {
        BTreeMap::new()
    }
    fn subject_count(&self, _: &str) -> u64 {
        0
    }
    fn stored_size(&self, subject: &str, headers_len: usize, payload_len: usize) -> u64 {
        (subject.len() + headers_len + payload_len) as u64
    }
    fn recovery_report(&self) -> RecoveryReport {
        RecoveryReport::default()
    }
    fn destroy(self: Box<Self>) -> Result<(), StoreError> {
        Ok(())
    }
}
