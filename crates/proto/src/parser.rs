//! Incremental parser of client operations.
//!
//! The connection reads into a `BytesMut` and calls [`Parser::next_op`] until it returns
//! `Ok(None)`; consumed bytes are split off the buffer, incomplete ones stay for the next
//! read. A frame is checked whole before it is decoded (as mini-redis does), and errors
//! are raised at the earliest byte nats-server would raise them, so a peer never waits
//! on a connection that is already doomed.
//!
//! Memory is bounded: at most `max_control_line` bytes of an unfinished control line and
//! `max_payload + 2` bytes of an unfinished message are ever buffered.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::ProtoError;
use crate::limits::Limits;
use crate::op::ClientOp;

/// Operation names a client may send, and how their arguments are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpName {
    Connect,
    Pub,
    HPub,
    Sub,
    Unsub,
    Ping,
    Pong,
    Ok,
    Err,
    Info,
}

const OP_NAMES: [(&[u8], OpName); 10] = [
    (b"CONNECT", OpName::Connect),
    (b"PUB", OpName::Pub),
    (b"HPUB", OpName::HPub),
    (b"SUB", OpName::Sub),
    (b"UNSUB", OpName::Unsub),
    (b"PING", OpName::Ping),
    (b"PONG", OpName::Pong),
    (b"+OK", OpName::Ok),
    (b"-ERR", OpName::Err),
    (b"INFO", OpName::Info),
];

impl OpName {
    /// Operations whose name must be followed by a space or tab (nats-server's `*_SPC`
    /// states); the others take whatever follows up to the line end.
    fn needs_separator(self) -> bool {
        matches!(
            self,
            OpName::Pub | OpName::HPub | OpName::Sub | OpName::Unsub
        )
    }

    /// Operations whose trailing bytes are ignored, so they need not be buffered.
    fn ignores_rest(self) -> bool {
        matches!(self, OpName::Ping | OpName::Pong | OpName::Ok)
    }
}

#[derive(Debug)]
enum State {
    /// Expecting the start of an operation.
    Start,
    /// A PUB/HPUB control line was read; waiting for `size` body bytes and CRLF.
    Body {
        subject: Bytes,
        reply: Option<Bytes>,
        header_len: Option<usize>,
        size: usize,
    },
    /// The name of an operation with arguments was read; waiting for its line end.
    Args(OpName),
    /// PING/PONG/+OK seen; discarding bytes up to the newline.
    SkipLine(OpName),
}

/// The per-connection parser state.
#[derive(Debug)]
pub struct Parser {
    limits: Limits,
    headers: bool,
    state: State,
}

/// Most arguments any operation takes (HPUB: subject, reply, header size, total size).
const MAX_ARGS: usize = 4;

impl Parser {
    pub fn new(limits: Limits) -> Self {
        Parser {
            limits,
            headers: false,
            state: State::Start,
        }
    }

    /// Whether the client negotiated headers; HPUB is a violation until it has.
    pub fn set_headers(&mut self, headers: bool) {
        self.headers = headers;
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Replaces the limits (a config reload); they apply from the next operation.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Parses the next complete operation from the front of `buf`, removing its bytes.
    /// Returns `Ok(None)` when more bytes are needed. After an error the connection must
    /// be closed; the parser is not meant to continue.
    pub fn next_op(&mut self, buf: &mut BytesMut) -> Result<Option<ClientOp>, ProtoError> {
        match &self.state {
            State::Start => {
                if buf.is_empty() {
                    return Ok(None);
                }
                self.parse_control_line(buf)
            }
            State::Body { size, .. } => {
                let size = *size;
                if buf.len() < size + 2 {
                    // Fail as soon as the byte after the body is known to be wrong.
                    if buf.len() > size && buf[size] != b'\r' {
                        return Err(ProtoError::UnknownOperation);
                    }
                    return Ok(None);
                }
                if buf[size] != b'\r' || buf[size + 1] != b'\n' {
                    return Err(ProtoError::UnknownOperation);
                }
                let body = buf.split_to(size).freeze();
                buf.advance(2);
                match std::mem::replace(&mut self.state, State::Start) {
                    State::Body {
                        subject,
                        reply,
                        header_len,
                        ..
                    } => Ok(Some(ClientOp::Pub {
                        subject,
                        reply,
                        header_len,
                        body,
                    })),
                    _ => Ok(None),
                }
            }
            State::Args(op) => {
                let op = *op;
                self.parse_args(op, buf)
            }
            State::SkipLine(op) => {
                let op = *op;
                match memchr_newline(buf) {
                    Some(i) => {
                        buf.advance(i + 1);
                        self.state = State::Start;
                        Ok(Some(simple_op(op)))
                    }
                    None => {
                        buf.clear();
                        Ok(None)
                    }
                }
            }
        }
    }

    fn parse_control_line(&mut self, buf: &mut BytesMut) -> Result<Option<ClientOp>, ProtoError> {
        let Some(op) = recognise_op(buf)? else {
            return Ok(None);
        };
        let name_len = op_name_len(op);
        if op.needs_separator() {
            match buf.get(name_len) {
                None => return Ok(None),
                Some(b' ') | Some(b'\t') => {}
                Some(_) => return Err(ProtoError::UnknownOperation),
            }
        }
        buf.advance(name_len);
        if op.ignores_rest() {
            self.state = State::SkipLine(op);
        } else {
            self.state = State::Args(op);
        }
        self.next_op(buf)
    }

    /// Reads the arguments of `op` up to the line end. Blanks before them are dropped as
    /// they arrive, so only the arguments count against `max_control_line`.
    fn parse_args(
        &mut self,
        op: OpName,
        buf: &mut BytesMut,
    ) -> Result<Option<ClientOp>, ProtoError> {
        let blanks = buf.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
        buf.advance(blanks);
        let Some(nl) = memchr_newline(buf) else {
            let pending = buf.strip_suffix(b"\r").unwrap_or(buf);
            if pending.len() > self.limits.max_control_line {
                return Err(ProtoError::ControlLineTooLong);
            }
            return Ok(None);
        };
        self.state = State::Start;
        let line = buf.split_to(nl + 1).freeze();
        let args = 0..if nl > 0 && line[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        if args.len() > self.limits.max_control_line {
            return Err(ProtoError::ControlLineTooLong);
        }
        match op {
            OpName::Connect => Ok(Some(ClientOp::Connect(line.slice(args)))),
            OpName::Info => Ok(Some(ClientOp::Info(line.slice(args)))),
            OpName::Err => Ok(Some(ClientOp::Err(line.slice(args)))),
            OpName::Pub | OpName::HPub => {
                self.parse_pub_args(op, &line, args)?;
                self.next_op(buf)
            }
            OpName::Sub => {
                let (parts, n) = split_args(&line[args], true)?;
                let at = |i: usize| line.slice(parts[i].clone());
                match n {
                    2 => Ok(Some(ClientOp::Sub {
                        subject: at(0),
                        queue: None,
                        sid: at(1),
                    })),
                    3 => Ok(Some(ClientOp::Sub {
                        subject: at(0),
                        queue: Some(at(1)),
                        sid: at(2),
                    })),
                    _ => Err(ProtoError::BadArguments("SUB takes 2 or 3 arguments")),
                }
            }
            OpName::Unsub => {
                let (parts, n) = split_args(&line[args], true)?;
                match n {
                    1 => Ok(Some(ClientOp::Unsub {
                        sid: line.slice(parts[0].clone()),
                        max: None,
                    })),
                    2 => Ok(Some(ClientOp::Unsub {
                        sid: line.slice(parts[0].clone()),
                        max: parse_size(&line[parts[1].clone()])
                            .filter(|&m| m > 0)
                            .map(|m| m as u64),
                    })),
                    _ => Err(ProtoError::BadArguments("UNSUB takes 1 or 2 arguments")),
                }
            }
            OpName::Ping | OpName::Pong | OpName::Ok => Ok(Some(simple_op(op))),
        }
    }

    fn parse_pub_args(
        &mut self,
        op: OpName,
        line: &Bytes,
        args: std::ops::Range<usize>,
    ) -> Result<(), ProtoError> {
        let (parts, n) = split_args(&line[args], false)?;
        let at = |i: usize| parts[i].clone();
        let (subject, reply, header_len, size) = if op == OpName::Pub {
            let (subject, reply, size) = match n {
                2 => (at(0), None, at(1)),
                3 => (at(0), Some(at(1)), at(2)),
                _ => return Err(ProtoError::BadArguments("PUB takes 2 or 3 arguments")),
            };
            let size = parse_size(&line[size]).ok_or(ProtoError::BadArguments("bad PUB size"))?;
            (subject, reply, None, size)
        } else {
            if !self.headers {
                return Err(ProtoError::HeadersNotNegotiated);
            }
            let (subject, reply, hdr, total) = match n {
                3 => (at(0), None, at(1), at(2)),
                4 => (at(0), Some(at(1)), at(2), at(3)),
                _ => return Err(ProtoError::BadArguments("HPUB takes 3 or 4 arguments")),
            };
            let hdr = parse_size(&line[hdr]).ok_or(ProtoError::BadArguments("bad HPUB size"))?;
            let total =
                parse_size(&line[total]).ok_or(ProtoError::BadArguments("bad HPUB size"))?;
            if hdr > total {
                return Err(ProtoError::BadArguments(
                    "HPUB header size above total size",
                ));
            }
            // A zero-length header block is no header block (nats-server sends MSG).
            (subject, reply, (hdr > 0).then_some(hdr), total)
        };
        if size > self.limits.max_payload {
            return Err(ProtoError::MaxPayload);
        }
        self.state = State::Body {
            subject: line.slice(subject),
            reply: reply.map(|r| line.slice(r)),
            header_len,
            size,
        };
        Ok(())
    }
}

fn simple_op(op: OpName) -> ClientOp {
    match op {
        OpName::Ping => ClientOp::Ping,
        OpName::Pong => ClientOp::Pong,
        _ => ClientOp::Ok,
    }
}

fn op_name_len(op: OpName) -> usize {
    OP_NAMES
        .iter()
        .find(|(_, o)| *o == op)
        .map_or(0, |(name, _)| name.len())
}

/// Identifies the operation at the start of `buf`, case-insensitively. `Ok(None)` while
/// the bytes so far are a prefix of some operation name.
fn recognise_op(buf: &[u8]) -> Result<Option<OpName>, ProtoError> {
    let mut partial = false;
    for (name, op) in OP_NAMES {
        let n = name.len().min(buf.len());
        if buf[..n].eq_ignore_ascii_case(&name[..n]) {
            if n == name.len() {
                return Ok(Some(op));
            }
            partial = true;
        }
    }
    if partial {
        Ok(None)
    } else {
        Err(ProtoError::UnknownOperation)
    }
}

fn memchr_newline(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\n')
}

type ArgRanges = [std::ops::Range<usize>; MAX_ARGS];

/// Argument separators: blanks, and for SUB/UNSUB also stray line-end bytes (nats-server
/// splits those with a different routine than PUB's).
fn is_arg_separator(b: u8, line_ends: bool) -> bool {
    matches!(b, b' ' | b'\t') || (line_ends && matches!(b, b'\r' | b'\n'))
}

/// Splits arguments on runs of separators without allocating.
fn split_args(args: &[u8], line_ends: bool) -> Result<(ArgRanges, usize), ProtoError> {
    let mut out: ArgRanges = Default::default();
    let mut n = 0;
    let mut i = 0;
    while i < args.len() {
        while i < args.len() && is_arg_separator(args[i], line_ends) {
            i += 1;
        }
        if i == args.len() {
            break;
        }
        let start = i;
        while i < args.len() && !is_arg_separator(args[i], line_ends) {
            i += 1;
        }
        if n == MAX_ARGS {
            return Err(ProtoError::BadArguments("too many arguments"));
        }
        out[n] = start..i;
        n += 1;
    }
    Ok((out, n))
}

/// Parses a decimal size the way nats-server does: digits only, no sign, at most 9.
pub fn parse_size(s: &[u8]) -> Option<usize> {
    if s.is_empty() || s.len() > 9 {
        return None;
    }
    let mut n: usize = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add((b - b'0') as usize)?;
    }
    Some(n)
}

#[cfg(test)]
mod tests;
