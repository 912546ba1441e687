//! The engine thread and its handle.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use sluice_jetstream::engine::EngineReport;
use sluice_jetstream::{Engine, EngineConfig};

use super::sink::{EngineSink, Input};
use super::stores;
use crate::monitor::JsTimings;
use crate::router::{Message, PublishContext, Router, SubTarget, Subscription, INTERNAL_CID};

/// Messages queued for the engine before publishers are pushed back.
const QUEUE_CAPACITY: usize = 64 * 1024;
/// Most inputs folded into one commit; bounds the latency of the first ack in a batch.
const MAX_BATCH: usize = 8192;
/// How long the thread sleeps when the engine has no timer due.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// How often subscriptions are looked at while push consumers exist.
const INTEREST_POLL: Duration = Duration::from_millis(20);

#[derive(Debug, thiserror::Error)]
pub enum JetStreamStartError {
    #[error("cannot open the JetStream store in {dir}: {reason}")]
    Open { dir: String, reason: String },
    #[error("cannot start the JetStream thread: {0}")]
    Thread(std::io::Error),
}

/// A running JetStream engine thread.
#[derive(Debug)]
pub struct JetStream {
    sink: Arc<EngineSink>,
    thread: Option<JoinHandle<()>>,
    pub store_dir: PathBuf,
}

/// Unix time in nanoseconds, the engine's clock input.
pub fn unix_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

impl JetStream {
    /// Opens every stream under `store_dir` and starts the engine thread.
    pub fn start(
        config: EngineConfig,
        router: Arc<Router>,
        timings: Arc<JsTimings>,
    ) -> Result<(JetStream, Vec<String>), JetStreamStartError> {
        let store_dir = config.store_dir.clone();
        let open_err = |reason: String| JetStreamStartError::Open {
            dir: store_dir.display().to_string(),
            reason,
        };
        let (factory, meta) =
            stores::for_dir(&store_dir, timings.clone()).map_err(|e| open_err(e.to_string()))?;
        let (engine, log) = Engine::open(config, factory, meta, unix_nanos())
            .map_err(|e| open_err(e.to_string()))?;
        let (tx, rx) = sync_channel(QUEUE_CAPACITY);
        let sink = Arc::new(EngineSink { tx });
        // Subscribe before returning, so the API answers from the moment clients can
        // connect.
        let mut engine = engine;
        engine.set_interest_oracle(Box::new(RouterInterest {
            router: router.clone(),
            ctx: PublishContext::new(INTERNAL_CID, true),
        }));
        let mut engine_thread = EngineThread::new(engine, router, sink.clone(), timings);
        engine_thread.sync_subscriptions();
        let thread = std::thread::Builder::new()
            .name("jetstream".into())
            .spawn(move || engine_thread.run(rx))
            .map_err(JetStreamStartError::Thread)?;
        Ok((
            JetStream {
                sink,
                thread: Some(thread),
                store_dir,
            },
            log,
        ))
    }

    /// Asks the engine thread for a snapshot; None if its queue is full or it stopped.
    pub fn request_report(&self) -> Option<tokio::sync::oneshot::Receiver<EngineReport>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.sink.tx.try_send(Input::Report(tx)).ok()?;
        Some(rx)
    }

    /// Commits what is queued and stops the thread.
    pub fn stop(&mut self) {
        let _ = self.sink.tx.send(Input::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for JetStream {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The engine's view of client interest, straight from the router.
struct RouterInterest {
    router: Arc<Router>,
    ctx: PublishContext,
}

impl sluice_jetstream::InterestOracle for RouterInterest {
    fn has_interest(&mut self, subject: &str) -> bool {
        self.router.has_client_interest(&mut self.ctx, subject)
    }
}

struct EngineThread {
    engine: Engine,
    router: Arc<Router>,
    sink: Arc<EngineSink>,
    publish: PublishContext,
    /// The engine's internal subscriptions, by subject.
    subscriptions: HashMap<String, Arc<Subscription>>,
    /// Push consumers' deliver subjects and whether a client subscribes to each.
    push_interest: HashMap<String, bool>,
    /// Router generation when `push_interest` was last brought up to date.
    seen_generation: u64,
    timings: Arc<JsTimings>,
    /// Arrival times of this batch's stream publishes that asked for a PubAck.
    awaiting_ack: Vec<Instant>,
}

impl EngineThread {
    fn new(
        engine: Engine,
        router: Arc<Router>,
        sink: Arc<EngineSink>,
        timings: Arc<JsTimings>,
    ) -> Self {
        EngineThread {
            engine,
            router,
            sink,
            publish: PublishContext::new(INTERNAL_CID, true),
            subscriptions: HashMap::new(),
            push_interest: HashMap::new(),
            seen_generation: u64::MAX,
            timings,
            awaiting_ack: Vec::new(),
        }
    }

    fn run(mut self, rx: Receiver<Input>) {
        loop {
            // Push consumers wait for subscribers to come and go: look often while any
            // exist.
            let poll = if self.push_interest.is_empty() {
                IDLE_POLL
            } else {
                INTEREST_POLL
            };
            let wait = self.engine.next_deadline().map_or(poll, |deadline| {
                Duration::from_nanos((deadline - unix_nanos()).max(0) as u64).min(poll)
            });
            let mut stop = false;
            match rx.recv_timeout(wait) {
                Ok(input) => stop |= self.handle(input),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => stop = true,
            }
            // Everything that queued up while the last commit ran joins this one.
            for _ in 0..MAX_BATCH {
                if stop {
                    break;
                }
                match rx.try_recv() {
                    Ok(input) => stop |= self.handle(input),
                    Err(_) => break,
                }
            }
            let now = unix_nanos();
            self.update_push_interest(now);
            if self.engine.next_deadline().is_some_and(|d| d <= now) {
                self.engine.tick(now);
            }
            self.commit();
            if stop {
                break;
            }
        }
        // With periodic sync, what is still unsynced is made durable before exit.
        for line in self.engine.sync_all() {
            tracing::warn!("JetStream: {line}");
        }
        for sub in self.subscriptions.values() {
            self.router.unsubscribe(sub);
        }
    }

    /// Returns true when the thread should stop.
    fn handle(&mut self, input: Input) -> bool {
        match input {
            Input::Stop => true,
            Input::Report(tx) => {
                let _ = tx.send(self.engine.report(unix_nanos()));
                false
            }
            Input::Message {
                subject,
                reply,
                headers,
                payload,
                received,
            } => {
                let now = unix_nanos();
                if subject.starts_with("$JS.ACK.") {
                    self.engine
                        .handle_ack(&subject, reply.as_deref(), &payload, now);
                } else if subject.starts_with("$JS.FC.") {
                    self.engine.handle_flow_control(&subject, now);
                } else if subject.starts_with("$JS.API.") {
                    self.engine.handle_api(
                        &subject,
                        reply.as_deref(),
                        headers.as_deref(),
                        &payload,
                        now,
                    );
                } else {
                    if reply.is_some() {
                        self.awaiting_ack.push(received);
                    }
                    self.engine.publish(
                        &subject,
                        reply.as_deref(),
                        headers.as_deref(),
                        &payload,
                        now,
                    );
                }
                false
            }
        }
    }

    /// Group commit, then publish every reply it released. Subscriptions are brought up
    /// to date first, so a client that publishes right after its STREAM.CREATE reply
    /// finds the stream capturing.
    fn commit(&mut self) {
        let released = self.engine.commit();
        if self.engine.subjects_changed() {
            self.sync_subscriptions();
        }
        for line in self.engine.take_log() {
            tracing::warn!("JetStream: {line}");
        }
        for out in released {
            let msg = Message {
                subject: &out.subject,
                reply: out.reply.as_deref().map(str::as_bytes),
                headers: out.headers.as_deref(),
                payload: &out.payload,
            };
            if out.deliver_to.is_none() && out.reply.is_none() {
                // Replies (PubAcks, API responses) go to one-time inboxes: caching
                // their routes would only churn the cache.
                self.router.publish_reply(&mut self.publish, &msg);
            } else {
                self.router
                    .publish_via(&mut self.publish, out.route_subject(), &msg);
            }
        }
        self.router.flush(&mut self.publish);
        for received in self.awaiting_ack.drain(..) {
            self.timings.publish_to_ack.observe(received.elapsed());
        }
        self.timings
            .add_out(self.publish.out_msgs, self.publish.out_bytes);
        self.publish.out_msgs = 0;
        self.publish.out_bytes = 0;
        // The engine thread never stalls for slow readers; they are cut off as usual.
        self.publish.stalled.clear();
    }

    /// Tells the engine which push consumers' deliver subjects have subscribers, when
    /// subscriptions or push consumers changed.
    fn update_push_interest(&mut self, now: i64) {
        let generation = self.router.generation();
        if generation == self.seen_generation && !self.engine.take_consumers_changed() {
            return;
        }
        self.seen_generation = generation;
        let subjects = self.engine.push_subjects();
        let mut fresh = HashMap::with_capacity(subjects.len());
        for subject in subjects {
            let interest = self.router.has_client_interest(&mut self.publish, &subject);
            // Idempotent per consumer; new consumers on a known subject learn it too.
            self.engine.set_push_interest(&subject, interest, now);
            fresh.insert(subject, interest);
        }
        self.push_interest = fresh;
    }

    /// Makes the engine's internal subscriptions match the subjects it captures.
    fn sync_subscriptions(&mut self) {
        let wanted = self.engine.capture_subjects();
        self.subscriptions.retain(|subject, sub| {
            let keep = wanted.contains(subject);
            if !keep {
                self.router.unsubscribe(sub);
            }
            keep
        });
        for subject in wanted {
            if self.subscriptions.contains_key(&subject) {
                continue;
            }
            let target: Arc<dyn crate::router::InternalSink> = self.sink.clone();
            let sub = Arc::new(Subscription::new(
                SubTarget::Internal(target),
                Bytes::from(format!("js-{}", self.subscriptions.len())),
                subject.clone(),
                None,
            ));
            if self.router.subscribe(&sub).is_ok() {
                self.subscriptions.insert(subject, sub);
            } else {
                tracing::warn!("JetStream cannot subscribe to invalid subject {subject:?}");
            }
        }
    }
}
