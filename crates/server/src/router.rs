//! Core publish/subscribe routing: the shared subscription index and the delivery of one
//! published message to every matching subscription (all plain subscribers, one member
//! of each queue group).
//!
//! The index sits behind one lock, but publishers rarely take it: each connection keeps
//! a small cache of match results tagged with the index generation, checked with one
//! atomic load per message.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use sluice_proto::encode;
use sluice_subject::{InvalidSubject, MatchResult, SubjectIndex};

use crate::client::outbound::Pushed;
use crate::client::ClientShared;

/// A consumer of messages inside the server (JetStream), fed by the router like a
/// client connection is.
pub trait InternalSink: Send + Sync + std::fmt::Debug {
    /// Takes one message; false if it could not (the message counts as undelivered).
    fn deliver(&self, msg: &Message<'_>) -> bool;
}

/// Where a subscription's messages go.
#[derive(Debug, Clone)]
pub enum SubTarget {
    Client(Arc<ClientShared>),
    Internal(Arc<dyn InternalSink>),
}

/// Client ids start at 1; internal subscribers publish and subscribe as id 0.
pub const INTERNAL_CID: u64 = 0;

/// One subscription of one connection (or of an internal subscriber).
#[derive(Debug)]
pub struct Subscription {
    pub target: SubTarget,
    pub sid: Bytes,
    pub subject: String,
    pub queue: Option<String>,
    /// Auto-unsubscribe after this many deliveries; 0 = no limit.
    max: AtomicU64,
    delivered: AtomicU64,
}

impl Subscription {
    pub fn new(target: SubTarget, sid: Bytes, subject: String, queue: Option<String>) -> Self {
        Subscription {
            target,
            sid,
            subject,
            queue,
            max: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
        }
    }

    /// The owning connection's id (`INTERNAL_CID` for internal subscribers).
    pub fn cid(&self) -> u64 {
        match &self.target {
            SubTarget::Client(c) => c.cid,
            SubTarget::Internal(_) => INTERNAL_CID,
        }
    }

    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Sets the auto-unsubscribe limit. Returns false if it is already reached, in which
    /// case the caller removes the subscription now.
    pub fn set_max(&self, max: u64) -> bool {
        self.max.store(max, Ordering::Relaxed);
        self.delivered() < max
    }

    /// Counts one delivery. `None`: the limit was already reached, do not deliver.
    /// `Some(true)`: deliver, and this was the last one.
    fn take_delivery(&self) -> Option<bool> {
        let n = self.delivered.fetch_add(1, Ordering::Relaxed) + 1;
        match self.max.load(Ordering::Relaxed) {
            0 => Some(false),
            max if n > max => None,
            max => Some(n == max),
        }
    }
}

/// Index entries compare by identity: one `Subscription` is one entry.
#[derive(Debug, Clone)]
pub struct SubRef(pub Arc<Subscription>);

impl PartialEq for SubRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

type Matches = Arc<MatchResult<SubRef>>;

#[derive(Debug, Default)]
pub struct Router {
    index: Mutex<SubjectIndex<SubRef>>,
    /// Mirror of the index generation, readable without the lock.
    generation: AtomicU64,
    /// Subscriptions ever added and removed (`/subsz`).
    inserts: AtomicU64,
    removes: AtomicU64,
    /// Route lookups, those answered by a publisher's cache, and the subscriptions
    /// they matched (sum and most): `/subsz`'s match statistics. Publishers count
    /// locally and add here once per batch.
    matches: AtomicU64,
    cache_hits: AtomicU64,
    fanout_sum: AtomicU64,
    fanout_max: AtomicU64,
}

/// Subscription index figures for monitoring.
#[derive(Debug, Clone, Copy)]
pub struct RouterStats {
    pub subscriptions: usize,
    pub cache: usize,
    pub inserts: u64,
    pub removes: u64,
    pub matches: u64,
    pub cache_hits: u64,
    pub max_fanout: u64,
    /// Subscriptions matched per lookup, on average.
    pub avg_fanout: f64,
}

impl RouterStats {
    /// Share of lookups answered from a cache.
    pub fn cache_hit_rate(&self) -> f64 {
        if self.matches == 0 {
            0.0
        } else {
            self.cache_hits as f64 / self.matches as f64
        }
    }
}

/// Match statistics a publisher gathers during one batch.
#[derive(Debug, Default)]
struct MatchCounts {
    matches: u64,
    cache_hits: u64,
    fanout_sum: u64,
    fanout_max: u64,
}

impl MatchCounts {
    fn record(&mut self, m: &Matches, hit: bool) {
        let fanout = (m.plain.len() + m.queues.len()) as u64;
        self.matches += 1;
        self.cache_hits += u64::from(hit);
        self.fanout_sum += fanout;
        self.fanout_max = self.fanout_max.max(fanout);
    }
}

/// A message as routing sees it: borrowed from the publisher's read buffer.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub subject: &'a str,
    pub reply: Option<&'a [u8]>,
    pub headers: Option<&'a [u8]>,
    pub payload: &'a [u8],
}

/// Per-publisher routing state: match cache, connections to wake, counters.
#[derive(Debug)]
pub struct PublishContext {
    /// The publishing connection, for echo suppression.
    pub publisher_cid: u64,
    pub echo: bool,
    cache: HashMap<Box<str>, (u64, Matches), BuildHasherDefault<Fnv1a>>,
    to_signal: Vec<Arc<ClientShared>>,
    /// Clients past half their `max_pending` during this batch.
    pub stalled: Vec<Arc<ClientShared>>,
    finished: Vec<Arc<Subscription>>,
    rng: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    counts: MatchCounts,
}

/// Subjects used once by construction (JetStream ack replies carry the message's
/// sequences): caching their matches would only evict useful entries.
fn is_one_off(subject: &str) -> bool {
    subject.starts_with("$JS.ACK.")
}

/// FNV-1a: the cache keys are short subjects hashed on every publish, where SipHash's
/// DoS resistance buys nothing (a publisher only fills its own small cache).
#[derive(Default)]
pub struct Fnv1a(u64);

impl std::hash::Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Publisher-side cache entries; small, as a publisher's hot subjects are few.
const PUBLISHER_CACHE_CAP: usize = 128;

impl PublishContext {
    pub fn new(publisher_cid: u64, echo: bool) -> Self {
        PublishContext {
            publisher_cid,
            echo,
            cache: HashMap::default(),
            to_signal: Vec::new(),
            stalled: Vec::new(),
            finished: Vec::new(),
            // Any odd seed works for xorshift; mixing in the cid spreads queue picks.
            rng: 0x9E37_79B9_7F4A_7C15 ^ publisher_cid.wrapping_mul(0xBF58_476D_1CE4_E5B9) | 1,
            out_msgs: 0,
            out_bytes: 0,
            counts: MatchCounts::default(),
        }
    }

    fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    fn note_target(&mut self, client: &Arc<ClientShared>) {
        if self.to_signal.len() < 64 && self.to_signal.iter().any(|c| Arc::ptr_eq(c, client)) {
            return;
        }
        self.to_signal.push(client.clone());
    }
}

impl Router {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn subscribe(&self, sub: &Arc<Subscription>) -> Result<(), InvalidSubject> {
        let mut index = self.index.lock();
        index.insert(&sub.subject, sub.queue.as_deref(), SubRef(sub.clone()))?;
        self.generation.store(index.generation(), Ordering::Release);
        self.inserts.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    pub fn unsubscribe(&self, sub: &Arc<Subscription>) {
        let mut index = self.index.lock();
        if index.remove(&sub.subject, sub.queue.as_deref(), &SubRef(sub.clone())) {
            self.removes.fetch_add(1, Ordering::Relaxed);
        }
        self.generation.store(index.generation(), Ordering::Release);
    }

    /// Changes whenever a subscription is added or removed.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Whether any client (not an internal subscriber) would receive a message on
    /// `subject`.
    pub fn has_client_interest(&self, ctx: &mut PublishContext, subject: &str) -> bool {
        let matches = self.lookup(ctx, subject);
        let is_client = |SubRef(s): &SubRef| matches!(s.target, SubTarget::Client(_));
        matches.plain.iter().any(is_client)
            || matches
                .queues
                .iter()
                .any(|g| g.members.iter().any(is_client))
    }

    pub fn subscription_count(&self) -> usize {
        self.index.lock().len()
    }

    pub fn stats(&self) -> RouterStats {
        let (subscriptions, cache) = {
            let index = self.index.lock();
            (index.len(), index.cache_len())
        };
        let matches = self.matches.load(Ordering::Relaxed);
        let fanout_sum = self.fanout_sum.load(Ordering::Relaxed);
        RouterStats {
            subscriptions,
            cache,
            inserts: self.inserts.load(Ordering::Relaxed),
            removes: self.removes.load(Ordering::Relaxed),
            matches,
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            max_fanout: self.fanout_max.load(Ordering::Relaxed),
            avg_fanout: if matches == 0 {
                0.0
            } else {
                fanout_sum as f64 / matches as f64
            },
        }
    }

    /// Matches without touching the publisher's cache: for subjects used once
    /// (replies to unique inboxes), which would only churn it.
    fn lookup_uncached(&self, ctx: &mut PublishContext, subject: &str) -> Matches {
        let matches = self.index.lock().match_subject(subject);
        ctx.counts.record(&matches, false);
        matches
    }

    fn lookup(&self, ctx: &mut PublishContext, subject: &str) -> Matches {
        let generation = self.generation.load(Ordering::Acquire);
        if let Some((g, m)) = ctx.cache.get(subject) {
            if *g == generation {
                let m = m.clone();
                ctx.counts.record(&m, true);
                return m;
            }
        }
        let (generation, matches) = {
            let mut index = self.index.lock();
            (index.generation(), index.match_subject(subject))
        };
        ctx.counts.record(&matches, false);
        if is_one_off(subject) {
            return matches;
        }
        if ctx.cache.len() >= PUBLISHER_CACHE_CAP {
            ctx.cache.clear();
        }
        ctx.cache
            .insert(subject.into(), (generation, matches.clone()));
        matches
    }

    /// Delivers `msg` to every plain subscriber and one member of each queue group.
    /// Returns how many deliveries were made. Writers are not woken yet: call
    /// [`Router::flush`] once the read batch is done.
    pub fn publish(&self, ctx: &mut PublishContext, msg: &Message<'_>) -> usize {
        self.publish_via(ctx, msg.subject, msg)
    }

    /// Like [`Router::publish`], but matches subscriptions against `route` while
    /// receivers see `msg.subject` (JetStream deliveries to a deliver subject or a
    /// pull request's inbox keep the message's own subject).
    pub fn publish_via(&self, ctx: &mut PublishContext, route: &str, msg: &Message<'_>) -> usize {
        let matches = self.lookup(ctx, route);
        self.deliver_matches(ctx, &matches, msg)
    }

    /// Like [`Router::publish`] for a reply to a one-time subject (a request's reply
    /// inbox): matched without caching.
    pub fn publish_reply(&self, ctx: &mut PublishContext, msg: &Message<'_>) -> usize {
        let matches = self.lookup_uncached(ctx, msg.subject);
        self.deliver_matches(ctx, &matches, msg)
    }

    fn deliver_matches(
        &self,
        ctx: &mut PublishContext,
        matches: &Matches,
        msg: &Message<'_>,
    ) -> usize {
        let mut delivered = 0;
        for SubRef(sub) in &matches.plain {
            if !ctx.echo && sub.cid() == ctx.publisher_cid {
                continue;
            }
            if deliver(ctx, sub, msg) {
                delivered += 1;
            }
        }
        for group in &matches.queues {
            let n = group.members.len();
            if n == 0 {
                continue;
            }
            let start = (ctx.next_random() % n as u64) as usize;
            for i in 0..n {
                let SubRef(sub) = &group.members[(start + i) % n];
                if !ctx.echo && sub.cid() == ctx.publisher_cid {
                    continue;
                }
                if deliver(ctx, sub, msg) {
                    delivered += 1;
                    break;
                }
            }
        }
        if !ctx.finished.is_empty() {
            for sub in std::mem::take(&mut ctx.finished) {
                if let SubTarget::Client(c) = &sub.target {
                    c.remove_subscription(&sub.sid);
                }
                self.unsubscribe(&sub);
            }
        }
        delivered
    }

    /// The sid of `cid`'s first plain subscription matching `subject`, in match order.
    pub fn first_plain_subscription_of(
        &self,
        ctx: &mut PublishContext,
        subject: &str,
        cid: u64,
    ) -> Option<Bytes> {
        let matches = self.lookup(ctx, subject);
        matches
            .plain
            .iter()
            .find(|SubRef(s)| s.cid() == cid)
            .map(|SubRef(s)| s.sid.clone())
    }

    /// Wakes the writers of every connection the batch wrote to.
    pub fn flush(&self, ctx: &mut PublishContext) {
        for client in ctx.to_signal.drain(..) {
            client.out.signal();
        }
        let c = std::mem::take(&mut ctx.counts);
        if c.matches > 0 {
            self.matches.fetch_add(c.matches, Ordering::Relaxed);
            self.cache_hits.fetch_add(c.cache_hits, Ordering::Relaxed);
            self.fanout_sum.fetch_add(c.fanout_sum, Ordering::Relaxed);
            self.fanout_max.fetch_max(c.fanout_max, Ordering::Relaxed);
        }
    }
}

/// Writes `msg` into the subscriber's outbound buffer. False if it was not delivered
/// (auto-unsubscribe limit reached, or the subscriber is closing).
fn deliver(ctx: &mut PublishContext, sub: &Arc<Subscription>, msg: &Message<'_>) -> bool {
    let Some(last) = sub.take_delivery() else {
        return false;
    };
    if last {
        ctx.finished.push(sub.clone());
    }
    let client = match &sub.target {
        SubTarget::Client(c) => c,
        SubTarget::Internal(sink) => return sink.deliver(msg),
    };
    let headers = msg.headers.filter(|_| client.wants_headers());
    let pushed = client.out.push(|buf| {
        encode::write_msg(
            buf,
            msg.subject.as_bytes(),
            &sub.sid,
            msg.reply,
            headers,
            msg.payload,
        )
    });
    match pushed {
        Pushed::Queued | Pushed::QueuedOverHalf => {
            if pushed == Pushed::QueuedOverHalf
                && client.cid != ctx.publisher_cid
                && !ctx.stalled.iter().any(|c| Arc::ptr_eq(c, client))
            {
                ctx.stalled.push(client.clone());
            }
            let bytes = (msg.payload.len() + headers.map_or(0, <[u8]>::len)) as u64;
            ctx.out_msgs += 1;
            ctx.out_bytes += bytes;
            client.meta.add_out(bytes);
            ctx.note_target(client);
            true
        }
        Pushed::SlowConsumer => {
            client.note_slow_consumer();
            false
        }
        Pushed::Closed => false,
    }
}
