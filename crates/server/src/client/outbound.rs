//! The outbound half of a connection: a bounded buffer that any task may append to, and
//! the writer task that drains it to the socket.
//!
//! Publishers append encoded messages under a short lock (no allocation once the buffer
//! has grown) and only signal the writer once per read batch. The writer swaps the whole
//! buffer out and writes it with one `write_all`, so many messages share one syscall.
//! Pending bytes (buffered plus being written) above `max_pending` mark the client a slow
//! consumer: its buffer is dropped and the connection is closed, and nobody else waits.

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
    buf: Vec<u8>,
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

/// Above this, a write buffer that is mostly unused is shrunk back.
const KEEP_CAPACITY: usize = 1 << 20;

/// Whether a spare buffer that held `written` bytes in its last write should be
/// replaced by a small one. A connection streaming bulk data (an object-store get)
/// keeps its large buffers: growing them again on every write cost more in page
/// faults than the copy itself. Once writes shrink to under a quarter of the
/// capacity the memory goes back; the buffers never exceed `max_pending` plus one
/// message anyway.
fn should_shrink(capacity: usize, written: usize) -> bool {
    capacity > KEEP_CAPACITY && written < capacity / 4
}

impl Outbound {
    pub fn new(max_pending: usize) -> Self {
        Outbound {
            state: Mutex::new(State {
                buf: Vec::with_capacity(4096),
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
        encode(&mut st.buf);
        if st.buf.len() + st.in_flight > self.max_pending {
            st.buf = Vec::new();
            st.closing = Some((CloseReason::SlowConsumerPendingBytes, false));
            drop(st);
            self.wake_writer.notify_one();
            self.wake_reader.notify_one();
            return Pushed::SlowConsumer;
        }
        if (st.buf.len() + st.in_flight) * 2 > self.max_pending {
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
                if st.closing.is_some() || (st.buf.len() + st.in_flight) * 2 <= self.max_pending {
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
                st.buf = Vec::new();
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
        st.buf.len() + st.in_flight
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
        let mut spare: Vec<u8> = Vec::with_capacity(4096);
        loop {
            let notified = self.wake_writer.notified();
            {
                let mut st = self.state.lock();
                if st.buf.is_empty() {
                    if st.closing.is_some() {
                        break;
                    }
                } else {
                    std::mem::swap(&mut st.buf, &mut spare);
                    st.in_flight = spare.len();
                }
            }
            if spare.is_empty() {
                notified.await;
                continue;
            }
            let result = tokio::time::timeout(write_deadline, sock.write_all(&spare)).await;
            let written = spare.len();
            spare.clear();
            if should_shrink(spare.capacity(), written) {
                spare = Vec::with_capacity(4096);
            }
            self.state.lock().in_flight = 0;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_writers_keep_their_buffers_and_idle_ones_give_them_back() {
        assert!(!should_shrink(4096, 10));
        assert!(!should_shrink(KEEP_CAPACITY, 0));
        assert!(!should_shrink(8 << 20, 4 << 20));
        assert!(!should_shrink(8 << 20, 2 << 20));
        assert!(should_shrink(8 << 20, (2 << 20) - 1));
        assert!(should_shrink(8 << 20, 100));
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
