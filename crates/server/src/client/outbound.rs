//! The outbound half of a connection: a bounded buffer that any task may append to, and
//! the writer task that drains it to the socket.
//!
//! Publishers append encoded messages under a short lock and only signal the writer once
//! per read batch. Bytes queue in chunks of up to `CHUNK` bytes (a message larger than
//! that gets a chunk of its own): a client receiving a burst of megabytes never forces
//! one huge buffer to be regrown and copied, which page faults made the main cost of
//! bulk deliveries. The writer takes every queued chunk at once and writes them in turn,
//! so many messages share one syscall, and keeps a couple of chunks for reuse.
//! Pending bytes (buffered plus being written) above `max_pending` mark the client a slow
//! consumer: its buffer is dropped and the connection is closed, and nobody else waits.

use std::collections::VecDeque;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Notify;

use super::CloseReason;

/// What happened to an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    /// Queued, and the client now has more than half of `max_pending` outstanding: the
    /// publisher should pause briefly so the writer can catch up.
    QueuedOverHalf,
    /// The connection is closing; the bytes were dropped.
    Closed,
    /// This append took the client over `max_pending`; the connection is now closing.
    SlowConsumer,
}

#[derive(Debug)]
struct State {
    /// Queued bytes, oldest first.
    chunks: VecDeque<Vec<u8>>,
    /// Total bytes in `chunks`.
    queued: usize,
    /// Empty chunks kept for reuse (at most `SPARE_CHUNKS`).
    spare: Vec<Vec<u8>>,
    /// Bytes the writer took and has not finished writing.
    in_flight: usize,
    /// Set once the connection is closing. With `flush` the writer drains `buf` first.
    closing: Option<(CloseReason, bool)>,
}

#[derive(Debug)]
pub struct Outbound {
    state: Mutex<State>,
    /// Wakes the writer: there are bytes, or the connection is closing.
    wake_writer: Notify,
    /// Wakes the connection's reader so it tears the connection down.
    wake_reader: Notify,
    /// Wakes publishers stalled on this client after each completed write.
    drained: Notify,
    max_pending: usize,
}

/// Queued bytes are kept in chunks of about this size.
const CHUNK: usize = 64 * 1024;
/// Empty chunks a connection keeps between writes.
const SPARE_CHUNKS: usize = 2;

impl State {
    fn clear(&mut self) {
        self.chunks = VecDeque::new();
        self.queued = 0;
    }

    /// The chunk the next message goes into: the last one unless it is full.
    fn tail(&mut self) -> &mut Vec<u8> {
        if self.chunks.back().is_none_or(|c| c.len() >= CHUNK) {
            let chunk = self.spare.pop().unwrap_or_default();
            self.chunks.push_back(chunk);
        }
        let n = self.chunks.len();
        &mut self.chunks[n - 1]
    }

    /// Takes back written chunks for reuse; oversized ones (a large message) go.
    fn recycle(&mut self, written: &mut VecDeque<Vec<u8>>) {
        for mut chunk in written.drain(..) {
            if self.spare.len() < SPARE_CHUNKS && chunk.capacity() <= 2 * CHUNK {
                chunk.clear();
                self.spare.push(chunk);
            }
        }
    }
}

impl Outbound {
    pub fn new(max_pending: usize) -> Self {
        Outbound {
            state: Mutex::new(State {
                chunks: VecDeque::new(),
                queued: 0,
                spare: Vec::new(),
                in_flight: 0,
                closing: None,
            }),
            wake_writer: Notify::new(),
            wake_reader: Notify::new(),
            drained: Notify::new(),
            max_pending,
        }
    }

    /// Appends bytes written by `encode`. The caller signals the writer later with
    /// [`Outbound::signal`], once per batch.
    pub fn push(&self, encode: impl FnOnce(&mut Vec<u8>)) -> Pushed {
        let mut st = self.state.lock();
        if st.closing.is_some() {
            return Pushed::Closed;
        }
        let tail = st.tail();
        let before = tail.len();
        encode(tail);
        let added = tail.len() - before;
        st.queued += added;
        if st.queued + st.in_flight > self.max_pending {
            st.clear();
            st.closing = Some((CloseReason::SlowConsumerPendingBytes, false));
            drop(st);
            self.wake_writer.notify_one();
            self.wake_reader.notify_one();
            return Pushed::SlowConsumer;
        }
        if (st.queued + st.in_flight) * 2 > self.max_pending {
            return Pushed::QueuedOverHalf;
        }
        Pushed::Queued
    }

    /// Resolves once the client's pending bytes are at most half of `max_pending`, or it
    /// is closing. Publishers wait on this (with a short timeout) instead of letting a
    /// client that reads, but more slowly than a burst arrives, be cut off.
    pub async fn drained_to_half(&self) {
        loop {
            let notified = self.drained.notified();
            {
                let st = self.state.lock();
                if st.closing.is_some() || (st.queued + st.in_flight) * 2 <= self.max_pending {
                    return;
                }
            }
            notified.await;
        }
    }

    /// Tells the writer there is something to write.
    pub fn signal(&self) {
        self.wake_writer.notify_one();
    }

    /// Starts closing the connection. With `flush`, what is already queued is written
    /// first (used for a final `-ERR` and for shutdown); the first reason given wins.
    pub fn close(&self, reason: CloseReason, flush: bool) {
        let mut st = self.state.lock();
        if st.closing.is_none() {
            if !flush {
                st.clear();
            }
            st.closing = Some((reason, flush));
        }
        drop(st);
        self.wake_writer.notify_one();
        self.wake_reader.notify_one();
    }

    pub fn close_reason(&self) -> Option<CloseReason> {
        self.state.lock().closing.map(|(r, _)| r)
    }

    pub fn pending_bytes(&self) -> usize {
        let st = self.state.lock();
        st.queued + st.in_flight
    }

    /// Resolves when someone asked this connection to close.
    pub async fn closing(&self) {
        loop {
            let notified = self.wake_reader.notified();
            if self.state.lock().closing.is_some() {
                return;
            }
            notified.await;
        }
    }

    /// The writer task: drains the buffer to the socket until the connection closes.
    pub async fn run_writer(&self, mut sock: OwnedWriteHalf, write_deadline: Duration) {
        let mut writing: VecDeque<Vec<u8>> = VecDeque::new();
        loop {
            let notified = self.wake_writer.notified();
            {
                let mut st = self.state.lock();
                if st.queued == 0 {
                    if st.closing.is_some() {
                        break;
                    }
                } else {
                    std::mem::swap(&mut st.chunks, &mut writing);
                    st.in_flight = st.queued;
                    st.queued = 0;
                }
            }
            if writing.is_empty() {
                notified.await;
                continue;
            }
            let result =
                tokio::time::timeout(write_deadline, write_chunks(&mut sock, &writing)).await;
            {
                let mut st = self.state.lock();
                st.in_flight = 0;
                st.recycle(&mut writing);
            }
            self.drained.notify_waiters();
            match result {
                Ok(Ok(())) => {}
                Ok(Err(_)) => {
                    self.close(CloseReason::WriteError, false);
                    return;
                }
                Err(_) => {
                    self.close(CloseReason::SlowConsumerWriteDeadline, false);
                    return;
                }
            }
        }
        self.drained.notify_waiters();
        let _ = sock.shutdown().await;
    }
}

async fn write_chunks(
    sock: &mut OwnedWriteHalf,
    chunks: &VecDeque<Vec<u8>>,
) -> std::io::Result<()> {
    for chunk in chunks {
        sock.write_all(chunk).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_queue_in_bounded_chunks_and_chunks_are_reused() {
        let out = Outbound::new(usize::MAX);
        let msg = vec![b'x'; 1000];
        for _ in 0..200 {
            out.push(|b| b.extend_from_slice(&msg));
        }
        let big = vec![b'y'; 3 * CHUNK];
        out.push(|b| b.extend_from_slice(&big));
        out.push(|b| b.extend_from_slice(b"tail"));
        let mut st = out.state.lock();
        assert_eq!(st.queued, 200 * 1000 + 3 * CHUNK + 4);
        assert_eq!(st.chunks.iter().map(Vec::len).sum::<usize>(), st.queued);
        // Every chunk but the one holding the large message stays near CHUNK.
        assert!(st.chunks.iter().filter(|c| c.len() > CHUNK + 1000).count() <= 1);
        let all: Vec<u8> = st.chunks.iter().flatten().copied().collect();
        assert!(all.starts_with(&msg) && all.ends_with(b"tail"));
        // After a write, at most SPARE_CHUNKS small chunks are kept, emptied.
        let mut written = std::mem::take(&mut st.chunks);
        st.queued = 0;
        st.recycle(&mut written);
        assert_eq!(st.spare.len(), SPARE_CHUNKS);
        assert!(st
            .spare
            .iter()
            .all(|c| c.is_empty() && c.capacity() <= 2 * CHUNK));
    }

    #[test]
    fn slow_consumer_past_max_pending() {
        let out = Outbound::new(10);
        assert_eq!(out.push(|b| b.extend_from_slice(b"12345")), Pushed::Queued);
        assert_eq!(
            out.push(|b| b.extend_from_slice(b"12345")),
            Pushed::QueuedOverHalf
        );
        assert_eq!(out.push(|b| b.push(b'x')), Pushed::SlowConsumer);
        assert_eq!(out.pending_bytes(), 0);
        assert_eq!(out.push(|b| b.push(b'x')), Pushed::Closed);
        assert_eq!(
            out.close_reason(),
            Some(CloseReason::SlowConsumerPendingBytes)
        );
    }

    #[test]
    fn first_close_reason_wins() {
        let out = Outbound::new(100);
        out.close(CloseReason::StaleConnection, true);
        out.close(CloseReason::ServerShutdown, true);
        assert_eq!(out.close_reason(), Some(CloseReason::StaleConnection));
    }
}
