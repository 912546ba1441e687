//! One client connection: the read loop that parses and executes operations, the writer
//! task (in [`outbound`]), liveness pings, authentication and teardown.

pub mod liveness;
pub mod outbound;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use sluice_proto::{encode, headers, ClientOp, ConnectOptions, Parser, ProtoError};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::{Instant, MissedTickBehavior};

use crate::router::{Message, PublishContext, SubTarget, Subscription};
use crate::server::ServerShared;
use liveness::{Liveness, TickAction};
use outbound::Outbound;

/// Why a connection closed; logged, and (later) shown by monitoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    ClientClosed,
    ReadError,
    WriteError,
    ProtocolViolation,
    ParseError,
    MaxPayload,
    MaxControlLine,
    AuthViolation,
    AuthTimeout,
    StaleConnection,
    SlowConsumerPendingBytes,
    SlowConsumerWriteDeadline,
    MaxConnections,
    ServerShutdown,
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            CloseReason::ClientClosed => "Client Closed",
            CloseReason::ReadError => "Read Error",
            CloseReason::WriteError => "Write Error",
            CloseReason::ProtocolViolation => "Protocol Violation",
            CloseReason::ParseError => "Parse Error",
            CloseReason::MaxPayload => "Maximum Payload Exceeded",
            CloseReason::MaxControlLine => "Maximum Control Line Exceeded",
            CloseReason::AuthViolation => "Authentication Failure",
            CloseReason::AuthTimeout => "Authentication Timeout",
            CloseReason::StaleConnection => "Stale Connection",
            CloseReason::SlowConsumerPendingBytes => "Slow Consumer (Pending Bytes)",
            CloseReason::SlowConsumerWriteDeadline => "Slow Consumer (Write Deadline)",
            CloseReason::MaxConnections => "Maximum Connections Exceeded",
            CloseReason::ServerShutdown => "Server Shutdown",
        };
        f.write_str(s)
    }
}

/// The part of a connection other tasks touch: its outbound buffer and subscriptions.
#[derive(Debug)]
pub struct ClientShared {
    pub cid: u64,
    pub out: Outbound,
    headers: AtomicBool,
    slow_consumer: AtomicBool,
    subs: Mutex<HashMap<Bytes, Arc<Subscription>>>,
    /// Counters and identity for monitoring (`/connz`).
    pub meta: crate::monitor::ConnMeta,
    /// The CONNECT and peer address once the client connected: re-checked against the
    /// credentials after a config reload, and used for INFO updates.
    connected: Mutex<Option<(ConnectOptions, SocketAddr)>>,
}

impl ClientShared {
    pub fn new(cid: u64, max_pending: usize) -> Self {
        ClientShared {
            cid,
            out: Outbound::new(max_pending),
            headers: AtomicBool::new(false),
            slow_consumer: AtomicBool::new(false),
            subs: Mutex::new(HashMap::new()),
            meta: crate::monitor::ConnMeta::default(),
            connected: Mutex::new(None),
        }
    }

    /// The client's CONNECT and address, once it has connected.
    pub fn connect_info(&self) -> Option<(ConnectOptions, SocketAddr)> {
        self.connected.lock().clone()
    }

    /// Whether messages to this client may carry headers (HMSG).
    pub fn wants_headers(&self) -> bool {
        self.headers.load(Ordering::Relaxed)
    }

    pub fn note_slow_consumer(&self) {
        self.slow_consumer.store(true, Ordering::Relaxed);
    }

    pub fn remove_subscription(&self, sid: &[u8]) -> Option<Arc<Subscription>> {
        self.subs.lock().remove(sid)
    }

    /// The client's subscriptions, in no particular order.
    pub fn subscriptions(&self) -> Vec<Arc<Subscription>> {
        self.subs.lock().values().cloned().collect()
    }

    pub fn subscription_count(&self) -> usize {
        self.subs.lock().len()
    }
}

/// Longest a publisher is paused per read batch for clients that fall behind.
const STALL_MAX: Duration = Duration::from_millis(5);

/// Reads per `read` call; grows the buffer only as far as a frame needs.
const READ_CHUNK: usize = 64 * 1024;

/// State owned by the connection's read loop.
struct Connection {
    server: Arc<ServerShared>,
    shared: Arc<ClientShared>,
    peer: SocketAddr,
    parser: Parser,
    connect: ConnectOptions,
    connected: bool,
    liveness: Liveness,
    publish: PublishContext,
    /// Something was queued on our own outbound buffer during this batch.
    wrote_own: bool,
    /// This batch's inbound counters, added to the server's once per batch.
    in_msgs: u64,
    in_bytes: u64,
}

/// Serves one accepted socket until it closes.
pub async fn serve(server: Arc<ServerShared>, stream: TcpStream, cid: u64, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let opts = server.options();
    let shared = Arc::new(ClientShared::new(cid, opts.max_pending));
    shared.meta.set_peer(peer);
    let (mut reader, writer) = stream.into_split();

    shared
        .out
        .push(|buf| encode::write_info(buf, &server.client_info(cid, peer)));
    if server.at_connection_limit() {
        shared
            .out
            .push(|buf| encode::write_err(buf, encode::ERR_MAX_CONNECTIONS));
        shared.out.close(CloseReason::MaxConnections, true);
    }
    let writer_task = {
        let shared = shared.clone();
        let deadline = opts.write_deadline;
        tokio::spawn(async move { shared.out.run_writer(writer, deadline).await })
    };
    server.register_client(shared.clone());
    tracing::debug!("{peer} - cid:{cid} - Client connection created");

    let mut conn = Connection {
        server: server.clone(),
        shared: shared.clone(),
        peer,
        parser: Parser::new(sluice_proto::Limits {
            max_payload: opts.max_payload,
            max_control_line: opts.max_control_line,
        }),
        connect: ConnectOptions::default(),
        connected: false,
        liveness: Liveness::new(opts.ping_max),
        publish: PublishContext::new(cid, true),
        wrote_own: false,
        in_msgs: 0,
        in_bytes: 0,
    };
    let reason = conn.read_loop(&mut reader).await;
    conn.teardown(reason, writer_task).await;
}

/// nats-server's pedantic publish check: no empty tokens and no wildcard tokens.
fn is_pedantic_publish_subject(subject: &str) -> bool {
    !subject.is_empty()
        && subject
            .split('.')
            .all(|t| !t.is_empty() && t != "*" && t != ">")
}

impl Connection {
    async fn read_loop(&mut self, reader: &mut tokio::net::tcp::OwnedReadHalf) -> CloseReason {
        let opts = self.server.options();
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        let first_ping = opts.ping_interval.min(Duration::from_secs(2));
        let mut ping = tokio::time::interval_at(Instant::now() + first_ping, opts.ping_interval);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let auth_deadline = Instant::now() + opts.auth_timeout;
        let auth_required = self.server.auth().required();

        loop {
            if buf.capacity() - buf.len() < 4096 {
                buf.reserve(READ_CHUNK);
            }
            tokio::select! {
                biased;
                _ = self.shared.out.closing() => {
                    return self.shared.out.close_reason().unwrap_or(CloseReason::ServerShutdown);
                }
                read = reader.read_buf(&mut buf) => {
                    match read {
                        Ok(0) => return CloseReason::ClientClosed,
                        Ok(_) => {}
                        Err(_) => return CloseReason::ReadError,
                    }
                    self.liveness.on_activity();
                    let limits = self.server.parser_limits();
                    if limits != self.parser.limits() {
                        self.parser.set_limits(limits);
                    }
                    let result = self.process_buffer(&mut buf);
                    self.finish_batch();
                    if let Err(reason) = result {
                        return reason;
                    }
                    self.stall_for_slow_readers().await;
                }
                _ = ping.tick() => {
                    match self.liveness.on_tick() {
                        TickAction::Skip => {}
                        TickAction::SendPing => {
                            self.shared.meta.ping_sent();
                            self.shared.out.push(|b| b.extend_from_slice(encode::PING));
                            self.shared.out.signal();
                        }
                        TickAction::Stale => {
                            tracing::debug!(cid = self.shared.cid, "stale connection");
                            return self.fail(encode::ERR_STALE_CONNECTION, CloseReason::StaleConnection);
                        }
                    }
                }
                _ = tokio::time::sleep_until(auth_deadline), if auth_required && !self.connected => {
                    return self.fail(encode::ERR_AUTH_TIMEOUT, CloseReason::AuthTimeout);
                }
            }
        }
    }

    /// Executes every complete operation in `buf`.
    fn process_buffer(&mut self, buf: &mut BytesMut) -> Result<(), CloseReason> {
        // With auth required nats-server refuses anything but CONNECT as the first
        // operation, judged by its first byte, before parsing it.
        if !self.connected
            && self.server.auth().required()
            && buf.first().is_some_and(|b| !b.eq_ignore_ascii_case(&b'c'))
        {
            return Err(self.fail(encode::ERR_AUTH_VIOLATION, CloseReason::AuthViolation));
        }
        loop {
            match self.parser.next_op(buf) {
                Ok(Some(op)) => self.process_op(op)?,
                Ok(None) => return Ok(()),
                Err(e) => return Err(self.protocol_error(e)),
            }
        }
    }

    fn protocol_error(&mut self, e: ProtoError) -> CloseReason {
        tracing::debug!(cid = self.shared.cid, peer = %self.peer, error = %e, "protocol error");
        let reason = match e {
            ProtoError::UnknownOperation => CloseReason::ParseError,
            ProtoError::ControlLineTooLong => CloseReason::MaxControlLine,
            ProtoError::MaxPayload => CloseReason::MaxPayload,
            ProtoError::BadArguments(_) | ProtoError::HeadersNotNegotiated => {
                CloseReason::ProtocolViolation
            }
        };
        match e.client_error_text() {
            Some(text) => self.fail(text, reason),
            None => {
                self.shared.out.close(reason, true);
                reason
            }
        }
    }

    /// Sends `-ERR '<text>'`, then closes after flushing it.
    fn fail(&mut self, text: &str, reason: CloseReason) -> CloseReason {
        self.send_err(text);
        self.shared.out.close(reason, true);
        reason
    }

    fn send_err(&mut self, text: &str) {
        self.shared.out.push(|b| encode::write_err(b, text));
        self.wrote_own = true;
    }

    fn send(&mut self, bytes: &[u8]) {
        crate::logging::trace_out(self.peer, self.shared.cid, bytes);
        self.shared.out.push(|b| b.extend_from_slice(bytes));
        self.wrote_own = true;
    }

    fn ok(&mut self) {
        if self.connect.verbose {
            self.send(encode::OK);
        }
    }

    fn process_op(&mut self, op: ClientOp) -> Result<(), CloseReason> {
        crate::logging::trace_in(self.peer, self.shared.cid, &op);
        if !self.connected && self.server.auth().required() && !matches!(op, ClientOp::Connect(_)) {
            return Err(self.fail(encode::ERR_AUTH_VIOLATION, CloseReason::AuthViolation));
        }
        match op {
            ClientOp::Connect(json) => self.process_connect(&json),
            ClientOp::Pub {
                subject,
                reply,
                header_len,
                body,
            } => {
                self.process_pub(&subject, reply.as_deref(), header_len, &body);
                Ok(())
            }
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => {
                self.process_sub(&subject, queue.as_deref(), sid);
                Ok(())
            }
            ClientOp::Unsub { sid, max } => {
                self.process_unsub(&sid, max);
                Ok(())
            }
            ClientOp::Ping => {
                self.send(encode::PONG);
                Ok(())
            }
            ClientOp::Pong => {
                self.liveness.on_pong();
                self.shared.meta.pong_received();
                Ok(())
            }
            ClientOp::Ok => Ok(()),
            ClientOp::Err(text) => {
                tracing::debug!(cid = self.shared.cid, error = %String::from_utf8_lossy(&text), "client sent -ERR");
                self.shared.out.close(CloseReason::ClientClosed, true);
                Err(CloseReason::ClientClosed)
            }
            ClientOp::Info(json) => {
                if serde_json::from_slice::<serde::de::IgnoredAny>(&json).is_err() {
                    self.shared.out.close(CloseReason::ProtocolViolation, true);
                    return Err(CloseReason::ProtocolViolation);
                }
                Ok(())
            }
        }
    }

    fn process_connect(&mut self, json: &[u8]) -> Result<(), CloseReason> {
        let Ok(connect) = ConnectOptions::from_json(json) else {
            // nats-server closes on an undecodable CONNECT without an -ERR.
            self.shared.out.close(CloseReason::ProtocolViolation, true);
            return Err(CloseReason::ProtocolViolation);
        };
        if !self.server.auth().check(&connect) {
            tracing::debug!(cid = self.shared.cid, peer = %self.peer, "authorization violation");
            return Err(self.fail(encode::ERR_AUTH_VIOLATION, CloseReason::AuthViolation));
        }
        if !(0..=1).contains(&connect.protocol) {
            return Err(self.fail(encode::ERR_INVALID_PROTOCOL, CloseReason::ProtocolViolation));
        }
        let headers = connect.headers && self.server.headers_enabled();
        if connect.no_responders && !headers {
            return Err(self.fail(
                encode::ERR_NO_RESPONDERS_NEEDS_HEADERS,
                CloseReason::ProtocolViolation,
            ));
        }
        self.parser.set_headers(headers);
        self.shared.headers.store(headers, Ordering::Relaxed);
        self.publish.echo = connect.echo;
        self.shared.meta.on_connect(&connect);
        *self.shared.connected.lock() = Some((connect.clone(), self.peer));
        self.connect = connect;
        self.connected = true;
        self.ok();
        Ok(())
    }

    fn process_pub(
        &mut self,
        subject: &[u8],
        reply: Option<&[u8]>,
        header_len: Option<usize>,
        body: &[u8],
    ) {
        let subject = std::str::from_utf8(subject).ok();
        if self.connect.pedantic && !subject.is_some_and(is_pedantic_publish_subject) {
            self.send_err(encode::ERR_INVALID_PUBLISH_SUBJECT);
        }
        self.ok();
        self.in_msgs += 1;
        self.in_bytes += body.len() as u64;
        let Some(subject) = subject else {
            return;
        };
        let (headers, payload) = match header_len {
            Some(h) => (Some(&body[..h]), &body[h..]),
            None => (None, body),
        };
        let msg = Message {
            subject,
            reply,
            headers,
            payload,
        };
        let delivered = self.server.router().publish(&mut self.publish, &msg);
        if delivered == 0 && self.connect.no_responders {
            if let Some(reply) = reply {
                self.send_no_responders(subject, reply);
            }
        }
    }

    /// The 503 status nats-server sends to a requester nobody answered, on the
    /// requester's own subscription that matches the reply subject.
    fn send_no_responders(&mut self, subject: &str, reply: &[u8]) {
        let Ok(reply_str) = std::str::from_utf8(reply) else {
            return;
        };
        // The requester's first matching plain subscription, in the index's match
        // order, as nats-server picks it.
        let Some(sid) = self.server.router().first_plain_subscription_of(
            &mut self.publish,
            reply_str,
            self.shared.cid,
        ) else {
            return;
        };
        let block = headers::status_block(503, None, &[("Nats-Subject", subject.as_bytes())]);
        self.shared
            .out
            .push(|b| encode::write_msg(b, reply, &sid, None, Some(&block), b""));
        self.wrote_own = true;
    }

    fn process_sub(&mut self, subject: &[u8], queue: Option<&[u8]>, sid: Bytes) {
        let subject = std::str::from_utf8(subject)
            .ok()
            .filter(|s| sluice_subject::is_valid_subject(s));
        let queue = match queue.map(std::str::from_utf8) {
            None => Some(None),
            Some(Ok(q)) if sluice_subject::is_valid_queue_name(q) => Some(Some(q)),
            Some(_) => None,
        };
        let (Some(subject), Some(queue)) = (subject, queue) else {
            self.send_err(encode::ERR_INVALID_SUBJECT);
            return;
        };
        {
            let mut subs = self.shared.subs.lock();
            // A repeated sid keeps the existing subscription, as nats-server does.
            if !subs.contains_key(&sid) {
                let sub = Arc::new(Subscription::new(
                    SubTarget::Client(self.shared.clone()),
                    sid.clone(),
                    subject.to_owned(),
                    queue.map(str::to_owned),
                ));
                if self.server.router().subscribe(&sub).is_err() {
                    drop(subs);
                    self.send_err(encode::ERR_INVALID_SUBJECT);
                    return;
                }
                subs.insert(sid, sub);
            }
        }
        self.ok();
    }

    fn process_unsub(&mut self, sid: &[u8], max: Option<u64>) {
        let sub = self.shared.subs.lock().get(sid).cloned();
        if let Some(sub) = sub {
            let keep = max.is_some_and(|m| sub.set_max(m));
            if !keep {
                self.shared.remove_subscription(sid);
                self.server.router().unsubscribe(&sub);
            }
        }
        self.ok();
    }

    /// Pauses this publisher briefly while a client it just wrote to has more than half
    /// its `max_pending` outstanding, so a burst does not cut off a reader that is
    /// merely slower than the burst (nats-server stalls producers the same way). The
    /// pause is short and bounded: a client that does not read at all still reaches
    /// `max_pending` and is cut off, and other clients are not held up for long.
    async fn stall_for_slow_readers(&mut self) {
        if self.publish.stalled.is_empty() {
            return;
        }
        let stalled = std::mem::take(&mut self.publish.stalled);
        let wait = async {
            for client in &stalled {
                client.out.drained_to_half().await;
            }
        };
        let _ = tokio::time::timeout(STALL_MAX, wait).await;
    }

    /// After a read batch: publish the batch's counters, then wake every writer this
    /// batch queued bytes for (so whoever receives the messages finds them counted).
    fn finish_batch(&mut self) {
        self.shared.meta.add_in(self.in_msgs, self.in_bytes);
        if self.in_msgs > 0 {
            self.server.stats().add_in(self.in_msgs, self.in_bytes);
            self.in_msgs = 0;
            self.in_bytes = 0;
        }
        if self.publish.out_msgs > 0 {
            self.server
                .stats()
                .add_out(self.publish.out_msgs, self.publish.out_bytes);
            self.publish.out_msgs = 0;
            self.publish.out_bytes = 0;
        }
        let router = self.server.router();
        router.flush(&mut self.publish);
        if self.wrote_own {
            self.shared.out.signal();
            self.wrote_own = false;
        }
    }

    async fn teardown(self, reason: CloseReason, writer: tokio::task::JoinHandle<()>) {
        let subs: Vec<_> = self.shared.subs.lock().drain().map(|(_, s)| s).collect();
        for sub in &subs {
            self.server.router().unsubscribe(sub);
        }
        self.server
            .monitor()
            .connection_closed(&self.shared, &subs, reason);
        drop(subs);
        self.shared.out.close(reason, true);
        // Give the writer the write deadline to flush a final -ERR; a client that does
        // not read cannot hold the task longer than that.
        let deadline = self.server.options().write_deadline;
        let abort = writer.abort_handle();
        if tokio::time::timeout(deadline, writer).await.is_err() {
            abort.abort();
        }
        if matches!(
            reason,
            CloseReason::SlowConsumerPendingBytes | CloseReason::SlowConsumerWriteDeadline
        ) || self.shared.slow_consumer.load(Ordering::Relaxed)
        {
            self.server
                .stats()
                .slow_consumers
                .fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                "{} - cid:{} - Slow Consumer Detected",
                self.peer,
                self.shared.cid
            );
        }
        self.server.unregister_client(self.shared.cid);
        tracing::debug!(
            "{} - cid:{} - Client connection closed: {reason}",
            self.peer,
            self.shared.cid
        );
    }
}
