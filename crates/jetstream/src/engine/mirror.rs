//! Stream mirrors of streams on this server (nats-server's `mirror` without
//! `external`): the mirror stores each origin message with the origin's sequence,
//! subject, headers and time; skipped origin sequences (deleted, filtered out) are
//! gaps. Copies are taken in `commit`, after the origin's fsync, and the mirror's own
//! writes are fsynced in the same commit. Deletions in the origin are not copied.
//! Progress is not persisted: a mirror resumes after its own last sequence.

use std::collections::BTreeMap;

use sluice_store::StoredMessage;

use super::Engine;
use crate::api::errors::ApiError;
use crate::api::types::StreamSourceInfoJson;
use crate::stream::config::{Mirror, StreamConfig};
use crate::stream::{limits, Stream};

/// Most messages one mirror copies per pass; the rest waits for the next tick.
const MAX_COPY_PER_PASS: usize = 10_000;

/// Copying progress of one mirror.
#[derive(Debug, Clone, Default)]
pub(crate) struct MirrorProgress {
    /// Origin sequences up to this one have been looked at.
    sseq: u64,
    /// Origin messages (matching the filter) not copied yet.
    lag: u64,
    /// When the origin was last read (unix nanoseconds; 0: never).
    active: i64,
    /// A copy pass ran (nats-server shows the filter once the mirror consumer was
    /// set up, not in the create response).
    started: bool,
}

impl Engine {
    /// Brings the mirror table in line with the streams' configurations (after a
    /// stream was opened, created, updated or deleted).
    pub(crate) fn refresh_mirrors(&mut self) {
        let mut next = BTreeMap::new();
        for (name, s) in &self.streams {
            if s.config.mirror.is_some() {
                let progress = self.mirrors.remove(name).unwrap_or_else(|| MirrorProgress {
                    sseq: s.store.state().last_seq,
                    ..MirrorProgress::default()
                });
                next.insert(name.clone(), progress);
            }
        }
        self.mirrors = next;
        self.mirror_backlog = !self.mirrors.is_empty();
    }

    /// nats-server's mirror checks that need the origin: a mirror's `max_msg_size`
    /// must hold the origin's messages, and it serves direct gets for the origin
    /// exactly when the origin allows them.
    pub(crate) fn check_mirror_origin(
        &self,
        cfg: &mut StreamConfig,
        pedantic: bool,
    ) -> Result<(), ApiError> {
        let Some(origin) = cfg.mirror.as_ref().and_then(|m| self.streams.get(&m.name)) else {
            return Ok(());
        };
        let (mine, theirs) = (cfg.max_msg_size, origin.config.max_msg_size);
        if mine > 0 && theirs > 0 && mine < theirs {
            return Err(ApiError::new(
                400,
                10030,
                "stream mirror must have max message size >= source",
            ));
        }
        if pedantic && cfg.mirror_direct != origin.config.allow_direct {
            return Err(crate::api::errors::pedantic(
                "origin stream has direct get set, mirror has it disabled",
            ));
        }
        cfg.mirror_direct = origin.config.allow_direct;
        Ok(())
    }

    /// The stream that answers direct gets addressed to `stream`: itself when it
    /// allows them, else a mirror of it with `mirror_direct` (in nats-server both
    /// answer in one queue group, so a requester gets one reply either way). The
    /// direct-get handler serves only streams with `allow_direct`, so only such a
    /// mirror (as a KV mirror bucket's) stands in for its origin.
    pub(crate) fn direct_responder(&self, stream: &str) -> Option<String> {
        if self
            .streams
            .get(stream)
            .is_some_and(|s| s.config.allow_direct)
        {
            return Some(stream.to_string());
        }
        self.streams
            .values()
            .find(|s| {
                s.config.mirror_direct
                    && s.config.allow_direct
                    && s.config.mirror.as_ref().is_some_and(|m| m.name == stream)
            })
            .map(|s| s.config.name.clone())
    }

    /// STREAM.INFO's `mirror` block.
    pub(crate) fn mirror_info(&self, stream: &Stream, now: i64) -> Option<StreamSourceInfoJson> {
        let m = stream.config.mirror.as_ref()?;
        let p = self.mirrors.get(stream.name()).cloned().unwrap_or_default();
        Some(StreamSourceInfoJson {
            name: m.name.clone(),
            lag: p.lag,
            active: if p.active == 0 {
                -1
            } else {
                now.saturating_sub(p.active).max(0)
            },
            error: None,
            filter_subject: if p.started {
                m.filter_subject.clone()
            } else {
                String::new()
            },
        })
    }

    /// Copies what the origins stored since the last pass into every mirror. True if
    /// some mirror has more to copy (or fed another mirror), so `tick` comes back.
    pub(crate) fn copy_mirrors(&mut self, now: i64) -> bool {
        let names: Vec<String> = self.mirrors.keys().cloned().collect();
        let mut more = false;
        for name in names {
            more |= self.copy_mirror(&name, now);
        }
        self.mirror_backlog = more;
        more
    }

    fn copy_mirror(&mut self, name: &str, now: i64) -> bool {
        let Some(mirror) = self.streams.get(name).and_then(|s| s.config.mirror.clone()) else {
            return false;
        };
        let Some(progress) = self.mirrors.get_mut(name) else {
            return false;
        };
        progress.started = true;
        let progress = progress.clone();
        let Some((msgs, full)) = self.read_origin(name, &mirror, &progress) else {
            return false;
        };
        let Some(stream) = self.streams.get_mut(name) else {
            return false;
        };
        if stream.failed {
            return false;
        }
        let before = stream.store.state();
        let mut looked_at = progress.sseq;
        let mut copied = 0u64;
        let mut failure = None;
        for m in &msgs {
            if m.seq > stream.store.state().last_seq {
                let stored = stream
                    .store
                    .append_at(
                        m.seq,
                        &m.subject,
                        m.headers.as_deref(),
                        &m.payload,
                        m.timestamp,
                    )
                    .and_then(|seq| {
                        limits::enforce_after_append(
                            &stream.config,
                            stream.store.as_mut(),
                            &m.subject,
                        )
                        .map(|_| seq)
                    });
                match stored {
                    Ok(seq) => {
                        copied += 1;
                        for c in stream.consumers.values_mut() {
                            c.on_stored(seq, &m.subject);
                        }
                    }
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            looked_at = m.seq;
        }
        let after = stream.store.state();
        let origin = self.streams.get(&mirror.name);
        if failure.is_none() && !full {
            // Everything up to the origin's end was seen.
            looked_at = looked_at.max(origin.map_or(0, |o| o.store.state().last_seq));
        }
        let lag = origin.map_or(0, |o| o.store.count_from(looked_at + 1, mirror.filter()));
        if let Some(p) = self.mirrors.get_mut(name) {
            p.sseq = looked_at;
            p.lag = lag;
            p.active = now;
        }
        if let Some(e) = failure {
            self.log(format!(
                "Stream '{name}': copying from mirrored stream '{}' failed: {e}",
                mirror.name
            ));
        }
        if before != after {
            self.mark_unsynced(name);
            if after.msgs < before.msgs + copied {
                self.after_removals(name, now);
            }
        }
        let feeds_mirror = copied > 0
            && self
                .streams
                .values()
                .any(|s| s.config.mirror.as_ref().is_some_and(|m| m.name == name));
        full || feeds_mirror
    }

    /// The origin's messages after the mirror's progress (at most one pass' worth),
    /// and whether the pass was cut short. `None` if the origin is not there (or
    /// could not be read).
    fn read_origin(
        &mut self,
        name: &str,
        mirror: &Mirror,
        progress: &MirrorProgress,
    ) -> Option<(Vec<StoredMessage>, bool)> {
        let origin = self.streams.get(&mirror.name).filter(|o| !o.failed)?;
        let mut from = progress.sseq + 1;
        if progress.sseq == 0 {
            if mirror.opt_start_seq > 0 {
                from = mirror.opt_start_seq;
            } else if let Some((ts, _)) = mirror.opt_start_time {
                from = origin.seq_from_time(ts).unwrap_or(1);
            }
        }
        let mut msgs = Vec::new();
        let mut error = None;
        while msgs.len() < MAX_COPY_PER_PASS {
            match origin.store.load_next(from, mirror.filter()) {
                Ok(Some(m)) => {
                    from = m.seq + 1;
                    msgs.push(m);
                }
                Ok(None) => break,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = error {
            // Read again at the next commit.
            self.log(format!(
                "Stream '{name}': reading mirrored stream '{}' failed: {e}",
                mirror.name
            ));
            return None;
        }
        let full = msgs.len() >= MAX_COPY_PER_PASS;
        Some((msgs, full))
    }
}
