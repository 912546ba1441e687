//! A read-only snapshot of the engine for monitoring (`/jsz`, `/metrics`): usage, API
//! counters, and every stream and consumer with its configuration and state, in the
//! JSON nats-server's monitoring shows and as plain numbers for metrics.

use crate::api::gojson;
use crate::stream::config::StorageType;
use crate::time::format_rfc3339_nanos;

use super::Engine;

/// The whole engine at one instant.
#[derive(Debug, Clone, Default)]
pub struct EngineReport {
    /// Bytes stored by memory streams and by file streams.
    pub memory: u64,
    pub storage: u64,
    /// `max_bytes` reserved by memory and file streams.
    pub reserved_memory: u64,
    pub reserved_storage: u64,
    pub api_total: u64,
    pub api_errors: u64,
    /// Server-wide limits and where the data lives.
    pub server_max_memory: i64,
    pub server_max_store: i64,
    pub store_dir: String,
    /// Nanoseconds between periodic fsyncs (reported even when every write is synced).
    pub sync_interval: i64,
    pub sync_always: bool,
    /// Streams by name.
    pub streams: Vec<StreamReport>,
}

/// One stream.
#[derive(Debug, Clone)]
pub struct StreamReport {
    pub name: String,
    /// RFC 3339.
    pub created: String,
    pub storage: StorageType,
    /// The configuration as STREAM.INFO shows it (JSON object).
    pub config_json: String,
    /// The state as STREAM.INFO shows it (JSON object).
    pub state_json: String,
    pub messages: u64,
    pub bytes: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    pub num_subjects: u64,
    pub num_deleted: u64,
    /// Consumers by name.
    pub consumers: Vec<ConsumerReport>,
}

/// One consumer.
#[derive(Debug, Clone)]
pub struct ConsumerReport {
    pub name: String,
    /// ConsumerInfo as CONSUMER.INFO shows it (JSON object, with `config`).
    pub info_json: String,
    pub num_pending: u64,
    pub num_ack_pending: u64,
    pub num_redelivered: u64,
    pub num_waiting: u64,
    pub delivered_stream_seq: u64,
    pub delivered_consumer_seq: u64,
    pub ack_floor_stream_seq: u64,
    pub ack_floor_consumer_seq: u64,
}

impl Engine {
    /// Everything monitoring shows, as of `now` (unix nanoseconds).
    pub fn report(&self, now: i64) -> EngineReport {
        let reserved = |storage: StorageType| -> u64 {
            self.streams
                .values()
                .filter(|s| s.config.storage == storage && s.config.max_bytes > 0)
                .map(|s| s.config.max_bytes as u64)
                .sum()
        };
        let streams = self
            .streams
            .values()
            .map(|s| {
                let state = s.state_json(false);
                let consumers = s
                    .consumers
                    .keys()
                    .filter_map(|c| {
                        let info = self.consumer_info(s.name(), c, now)?;
                        Some(ConsumerReport {
                            name: c.clone(),
                            num_pending: info.num_pending,
                            num_ack_pending: info.num_ack_pending,
                            num_redelivered: info.num_redelivered,
                            num_waiting: info.num_waiting,
                            delivered_stream_seq: info.delivered.stream_seq,
                            delivered_consumer_seq: info.delivered.consumer_seq,
                            ack_floor_stream_seq: info.ack_floor.stream_seq,
                            ack_floor_consumer_seq: info.ack_floor.consumer_seq,
                            info_json: json_string(&info),
                        })
                    })
                    .collect();
                StreamReport {
                    name: s.name().to_string(),
                    created: format_rfc3339_nanos(s.created),
                    storage: s.config.storage,
                    config_json: json_string(&s.config.to_json(None)),
                    messages: state.messages,
                    bytes: state.bytes,
                    first_seq: state.first_seq,
                    last_seq: state.last_seq,
                    num_subjects: state.num_subjects,
                    num_deleted: state.num_deleted,
                    state_json: json_string(&state),
                    consumers,
                }
            })
            .collect();
        EngineReport {
            memory: self.usage(StorageType::Memory),
            storage: self.usage(StorageType::File),
            reserved_memory: reserved(StorageType::Memory),
            reserved_storage: reserved(StorageType::File),
            api_total: self.api_total,
            api_errors: self.api_errors,
            server_max_memory: self.config.server_max_memory,
            server_max_store: self.config.server_max_store,
            store_dir: self
                .config
                .store_dir
                .join("jetstream")
                .display()
                .to_string(),
            sync_interval: self.config.sync_interval,
            sync_always: self.config.sync_always,
            streams,
        }
    }
}

fn json_string<T: serde::Serialize>(value: &T) -> String {
    String::from_utf8(gojson::encode(value)).unwrap_or_else(|_| "{}".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{EngineConfig, StoreFactory};
    use crate::meta::MemMetaStore;
    use sluice_store::{MemStore, MessageStore, StoreError};
    use std::path::Path;

    struct Mem;
    impl StoreFactory for Mem {
        fn open(
            &mut self,
            _: &str,
            _: StorageType,
            _: &Path,
        ) -> Result<Box<dyn MessageStore>, StoreError> {
            Ok(Box::new(MemStore::new()))
        }
        fn remove(&mut self, _: &str, _: &Path) -> Result<(), StoreError> {
            Ok(())
        }
    }

    #[test]
    fn report_counts_streams_consumers_and_messages() {
        let config = EngineConfig {
            store_dir: "/data".into(),
            max_memory: -1,
            max_store: -1,
            server_max_memory: 1 << 30,
            server_max_store: 1 << 40,
            sync_always: true,
            sync_interval: crate::engine::SYNC_INTERVAL,
            server_id: "S".into(),
            server_name: "S".into(),
        };
        let (mut e, _) =
            Engine::open(config, Box::new(Mem), Box::new(MemMetaStore::default()), 1).unwrap();
        e.handle_api(
            "$JS.API.STREAM.CREATE.ORDERS",
            Some("r"),
            None,
            br#"{"name":"ORDERS","subjects":["orders.>"],"storage":"memory","max_bytes":4096}"#,
            2,
        );
        e.handle_api(
            "$JS.API.CONSUMER.CREATE.ORDERS.C1",
            Some("r"),
            None,
            br#"{"stream_name":"ORDERS","config":{"durable_name":"C1","ack_policy":"explicit"}}"#,
            3,
        );
        for i in 0..3 {
            e.publish("orders.new", Some("r"), None, b"hello", 4 + i);
        }
        e.commit();
        let r = e.report(10);
        assert_eq!(r.api_total, 2);
        assert_eq!(r.reserved_memory, 4096);
        assert_eq!(r.store_dir, "/data/jetstream");
        assert_eq!(r.streams.len(), 1);
        let s = &r.streams[0];
        assert_eq!(
            (s.name.as_str(), s.messages, s.first_seq, s.last_seq),
            ("ORDERS", 3, 1, 3)
        );
        assert!(s.bytes > 0 && r.memory == s.bytes && r.storage == 0);
        assert!(s.config_json.contains(r#""storage":"memory""#));
        assert!(s.state_json.contains(r#""consumer_count":1"#));
        assert_eq!(s.consumers.len(), 1);
        let c = &s.consumers[0];
        assert_eq!(
            (c.name.as_str(), c.num_pending, c.num_ack_pending),
            ("C1", 3, 0)
        );
        assert!(c.info_json.contains(r#""durable_name":"C1""#));
    }
}
