//! Consumer configuration: the internal type with every default applied.
//! Decoding, validation and update rules live beside it (see `validate`).

use std::collections::BTreeMap;

/// Default `ack_wait`: 30 s.
pub const DEFAULT_ACK_WAIT: i64 = 30_000_000_000;
/// Default `max_ack_pending`.
pub const DEFAULT_MAX_ACK_PENDING: i64 = 1000;
/// Default `max_waiting` (pull consumers).
pub const DEFAULT_MAX_WAITING: i64 = 512;
/// Default `inactive_threshold` of ephemeral consumers: 5 s.
pub const DEFAULT_INACTIVE_THRESHOLD: i64 = 5_000_000_000;
/// Default `priority_timeout` of `pinned_client` consumers: 2 min.
pub const DEFAULT_PRIORITY_TIMEOUT: i64 = 120_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliverPolicy {
    All,
    Last,
    New,
    ByStartSequence,
    ByStartTime,
    LastPerSubject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckPolicy {
    None,
    All,
    Explicit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayPolicy {
    Instant,
    Original,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PriorityPolicy {
    #[default]
    None,
    Overflow,
    PinnedClient,
    Prioritized,
}

/// A validated consumer configuration. Durations are nanoseconds (0 = not set);
/// `max_deliver`, `max_ack_pending`, `max_waiting` are -1 when unlimited, as
/// nats-server reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerConfig {
    /// `durable_name`; empty for ephemerals.
    pub durable: String,
    /// `name`: always set once validated (durable name, or a generated one).
    pub name: String,
    pub description: String,
    pub deliver_policy: DeliverPolicy,
    pub opt_start_seq: u64,
    /// Unix nanoseconds.
    pub opt_start_time: Option<i64>,
    pub ack_policy: AckPolicy,
    pub ack_wait: i64,
    pub max_deliver: i64,
    pub backoff: Vec<i64>,
    pub filter_subject: String,
    pub filter_subjects: Vec<String>,
    pub replay_policy: ReplayPolicy,
    pub rate_limit_bps: u64,
    pub sample_freq: String,
    pub max_waiting: i64,
    pub max_ack_pending: i64,
    pub flow_control: bool,
    pub headers_only: bool,
    /// Pull: `max_batch`, `max_expires`, `max_bytes` (0 = unlimited).
    pub max_batch: i64,
    pub max_expires: i64,
    pub max_bytes: i64,
    /// Push: `deliver_subject`, `deliver_group`, `idle_heartbeat`.
    pub deliver_subject: String,
    pub deliver_group: String,
    pub idle_heartbeat: i64,
    pub inactive_threshold: i64,
    pub num_replicas: i64,
    pub mem_storage: bool,
    pub direct: bool,
    pub metadata: BTreeMap<String, String>,
    /// Unix nanoseconds.
    pub pause_until: Option<i64>,
    pub priority_groups: Vec<String>,
    pub priority_policy: PriorityPolicy,
    pub priority_timeout: i64,
    /// How nats-server would echo some values back; no effect on delivery.
    pub wire: WireDetails,
}

/// Details of the client's request that nats-server shows back in the config JSON
/// but that do not change what the consumer does. Not all of them are persisted,
/// exactly as nats-server forgets them across a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WireDetails {
    /// The name was generated for a legacy ephemeral (`$JS.API.CONSUMER.CREATE.<stream>`
    /// without `name`): nats-server leaves `name` out of that consumer's config JSON
    /// until a restart.
    pub name_generated: bool,
    /// `inactive_threshold` was 0 in the request and got the ephemeral default; a
    /// repeated `action: create` compares the request's 0, not the default.
    pub inactive_threshold_defaulted: bool,
    /// UTC offsets (seconds east) the client wrote `opt_start_time` and `pause_until`
    /// with: Go keeps and prints them.
    pub opt_start_time_offset: i32,
    pub pause_until_offset: i32,
}

impl Default for ConsumerConfig {
    /// A pull consumer with nats-server's defaults, named nothing yet.
    fn default() -> Self {
        ConsumerConfig {
            durable: String::new(),
            name: String::new(),
            description: String::new(),
            deliver_policy: DeliverPolicy::All,
            opt_start_seq: 0,
            opt_start_time: None,
            ack_policy: AckPolicy::None,
            ack_wait: 0,
            max_deliver: -1,
            backoff: Vec::new(),
            filter_subject: String::new(),
            filter_subjects: Vec::new(),
            replay_policy: ReplayPolicy::Instant,
            rate_limit_bps: 0,
            sample_freq: String::new(),
            max_waiting: DEFAULT_MAX_WAITING,
            max_ack_pending: 0,
            flow_control: false,
            headers_only: false,
            max_batch: 0,
            max_expires: 0,
            max_bytes: 0,
            deliver_subject: String::new(),
            deliver_group: String::new(),
            idle_heartbeat: 0,
            inactive_threshold: 0,
            num_replicas: 0,
            mem_storage: false,
            direct: false,
            metadata: BTreeMap::new(),
            pause_until: None,
            priority_groups: Vec::new(),
            priority_policy: PriorityPolicy::None,
            priority_timeout: 0,
            wire: WireDetails::default(),
        }
    }
}

impl ConsumerConfig {
    pub fn is_durable(&self) -> bool {
        !self.durable.is_empty()
    }

    pub fn is_push(&self) -> bool {
        !self.deliver_subject.is_empty()
    }

    /// Every filter, borrowed (see [`ConsumerConfig::filters`]).
    pub fn filter_iter(&self) -> impl Iterator<Item = &str> {
        let single = (!self.filter_subject.is_empty()).then_some(self.filter_subject.as_str());
        let many = self
            .filter_subjects
            .iter()
            .map(String::as_str)
            .filter(move |_| single.is_none());
        single.into_iter().chain(many)
    }

    /// Every filter (from `filter_subject` or `filter_subjects`); empty = all.
    pub fn filters(&self) -> Vec<String> {
        if !self.filter_subject.is_empty() {
            vec![self.filter_subject.clone()]
        } else {
            self.filter_subjects.clone()
        }
    }
}
