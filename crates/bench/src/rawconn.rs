//! A lean, blocking NATS protocol client over one TCP connection.
//!
//! Built for load generation on small machines: big buffered reads, a
//! zero-copy frame parser that hands out borrowed `MSG`/`HMSG` views, and
//! writes of whole caller-built batches. Server `PING`s are answered
//! automatically, `INFO` updates and `+OK` are skipped, `-ERR` is an error.
//! Every blocking call is bounded: reads wake up every [`POLL`] so callers can
//! check their deadlines, writes fail after the connection's write timeout.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::ops::Range;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::endpoint::{Auth, Endpoint};

/// How long a read blocks before returning control to the caller.
pub const POLL: Duration = Duration::from_millis(50);
/// Initial read buffer size; it grows when a single frame does not fit.
const READ_BUF: usize = 256 * 1024;
/// Largest read buffer, bounding the largest frame we accept.
const MAX_READ_BUF: usize = 256 * 1024 * 1024;
/// Longest control line (e.g. `MSG ...\r\n`) we accept before calling it garbage.
const MAX_CONTROL_LINE: usize = 64 * 1024;

/// What the server said about itself in its first `INFO`.
#[derive(Debug, Clone, Default)]
pub struct ServerInfo {
    pub server_name: String,
    pub version: String,
    pub max_payload: usize,
}

/// A delivered message, borrowed from the connection's read buffer.
#[derive(Debug)]
pub struct Msg<'a> {
    pub subject: &'a [u8],
    pub sid: &'a [u8],
    pub reply: Option<&'a [u8]>,
    /// Header block length (0 for plain `MSG`); the payload follows it.
    pub headers_len: usize,
    /// Headers (if any) followed by the payload.
    pub data: &'a [u8],
}

/// What [`RawConn::poll_buffered`] found in the read buffer.
#[derive(Debug)]
pub enum Event<'a> {
    Msg(Msg<'a>),
    Pong,
    /// No complete frame is buffered: call [`RawConn::fill`].
    NeedData,
}

/// A parsed frame as offsets into the read buffer (so no borrow is held).
#[derive(Debug, Clone)]
enum Parsed {
    Msg {
        subject: Range<usize>,
        sid: Range<usize>,
        reply: Option<Range<usize>>,
        headers_len: usize,
        data: Range<usize>,
    },
    Pong,
}

/// One client connection speaking the NATS text protocol.
pub struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    pub server: ServerInfo,
}

impl RawConn {
    /// Connects, reads `INFO`, sends `CONNECT` and waits for the `PONG` that
    /// proves the server accepted it, all within `timeout`.
    pub fn connect(ep: &Endpoint, name: &str, timeout: Duration) -> Result<Self> {
        let deadline = Instant::now() + timeout;
        let addr = ep.socket_addr()?;
        let stream = TcpStream::connect_timeout(&addr, timeout)
            .with_context(|| format!("cannot connect to {addr}"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(POLL))?;
        stream.set_write_timeout(Some(timeout.max(Duration::from_secs(10))))?;
        let mut conn = Self {
            stream,
            buf: vec![0; READ_BUF],
            start: 0,
            end: 0,
            server: ServerInfo::default(),
        };
        conn.server = conn.read_info(deadline)?;
        let mut connect = serde_json::json!({
            "verbose": false,
            "pedantic": false,
            "headers": true,
            // Requests nobody serves (e.g. JetStream API calls to a server
            // without JetStream) get a 503 status reply instead of silence.
            "no_responders": true,
            "protocol": 1,
            "lang": "rust",
            "version": env!("CARGO_PKG_VERSION"),
            "name": name,
        });
        match &ep.auth {
            Auth::None => {}
            Auth::Token(t) => connect["auth_token"] = t.clone().into(),
            Auth::UserPass(u, p) => {
                connect["user"] = u.clone().into();
                connect["pass"] = p.clone().into();
            }
        }
        conn.write_all(format!("CONNECT {connect}\r\n").as_bytes())?;
        conn.flush(deadline)
            .context("server did not accept CONNECT")?;
        Ok(conn)
    }

    /// Reads the server's greeting, which must be an `INFO` line.
    fn read_info(&mut self, deadline: Instant) -> Result<ServerInfo> {
        let nl = loop {
            if let Some(i) = find_newline(&self.buf[self.start..self.end]) {
                break self.start + i;
            }
            if !self.fill()? && Instant::now() >= deadline {
                bail!("timed out waiting for the server's INFO");
            }
        };
        let line = trim_cr(&self.buf[self.start..nl]);
        let json = strip_op(line, b"INFO").ok_or_else(|| {
            anyhow!(
                "server greeting is not INFO: {:?}",
                String::from_utf8_lossy(&line[..line.len().min(80)])
            )
        })?;
        let v: serde_json::Value =
            serde_json::from_slice(json).context("INFO is not valid JSON")?;
        self.start = nl + 1;
        if v["tls_required"].as_bool() == Some(true) {
            bail!("server requires TLS, which sluice-bench does not speak");
        }
        Ok(ServerInfo {
            server_name: v["server_name"].as_str().unwrap_or_default().to_owned(),
            version: v["version"].as_str().unwrap_or_default().to_owned(),
            max_payload: v["max_payload"].as_u64().unwrap_or(1024 * 1024) as usize,
        })
    }

    /// Writes all of `data` (blocking, bounded by the write timeout).
    pub fn write_all(&mut self, data: &[u8]) -> Result<()> {
        (&self.stream).write_all(data).map_err(|e| {
            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
                anyhow!("write to server timed out (server not reading?)")
            } else {
                anyhow!("write to server failed: {e}")
            }
        })
    }

    /// Sends `SUB subject [queue] sid`.
    pub fn subscribe(&mut self, subject: &str, queue: Option<&str>, sid: u64) -> Result<()> {
        let line = match queue {
            Some(q) => format!("SUB {subject} {q} {sid}\r\n"),
            None => format!("SUB {subject} {sid}\r\n"),
        };
        self.write_all(line.as_bytes())
    }

    /// Sends `PING` and waits for its `PONG`: once it arrives, the server has
    /// processed everything this connection sent before. A `MSG` arriving in
    /// between is an error (callers flush only when none is expected).
    pub fn flush(&mut self, deadline: Instant) -> Result<()> {
        self.write_all(b"PING\r\n")?;
        loop {
            match self.next_event(deadline)? {
                Event::Pong => return Ok(()),
                Event::Msg(m) => bail!(
                    "unexpected MSG on {:?} while waiting for PONG",
                    String::from_utf8_lossy(m.subject)
                ),
                Event::NeedData => {}
            }
        }
    }

    /// Blocks until a `MSG` or `PONG` arrives; errors once `deadline` passes.
    /// Never returns [`Event::NeedData`].
    pub fn next_event(&mut self, deadline: Instant) -> Result<Event<'_>> {
        loop {
            if let Some(p) = self.parse_next()? {
                return Ok(self.view(p));
            }
            if !self.fill()? && Instant::now() >= deadline {
                bail!("timed out waiting for the server");
            }
        }
    }

    /// Returns the next complete buffered frame without reading the socket.
    #[inline]
    pub fn poll_buffered(&mut self) -> Result<Event<'_>> {
        match self.parse_next()? {
            Some(p) => Ok(self.view(p)),
            None => Ok(Event::NeedData),
        }
    }

    /// Reads more bytes from the socket. Returns `Ok(false)` if nothing came
    /// within [`POLL`], and an error if the server closed the connection.
    pub fn fill(&mut self) -> Result<bool> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            // A single frame is larger than the buffer.
            let bigger = self.buf.len() * 2;
            if bigger > MAX_READ_BUF {
                bail!("server frame exceeds {MAX_READ_BUF} bytes");
            }
            self.buf.resize(bigger, 0);
        }
        loop {
            match self.stream.read(&mut self.buf[self.end..]) {
                Ok(0) => bail!("server closed the connection"),
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Ok(false)
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(anyhow!("read from server failed: {e}")),
            }
        }
    }

    /// Closes the connection (best effort).
    pub fn close(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    fn view(&self, p: Parsed) -> Event<'_> {
        match p {
            Parsed::Pong => Event::Pong,
            Parsed::Msg {
                subject,
                sid,
                reply,
                headers_len,
                data,
            } => Event::Msg(Msg {
                subject: &self.buf[subject],
                sid: &self.buf[sid],
                reply: reply.map(|r| &self.buf[r]),
                headers_len,
                data: &self.buf[data],
            }),
        }
    }

    /// Parses and consumes the next complete frame. `PING` is answered, `INFO`
    /// and `+OK` are skipped, `-ERR` becomes an error; returns `None` when the
    /// buffer holds no complete `MSG`/`HMSG`/`PONG`.
    #[inline]
    fn parse_next(&mut self) -> Result<Option<Parsed>> {
        loop {
            let avail = &self.buf[self.start..self.end];
            let Some(nl) = find_newline(avail) else {
                if avail.len() > MAX_CONTROL_LINE {
                    bail!("protocol error: control line longer than {MAX_CONTROL_LINE} bytes");
                }
                return Ok(None);
            };
            let line = trim_cr(&avail[..nl]);
            let base = self.start;
            let mut toks = [0..0, 0..0, 0..0, 0..0, 0..0, 0..0, 0..0];
            let n = tokenize(line, &mut toks);
            if n == 0 {
                self.start += nl + 1; // blank line: tolerate
                continue;
            }
            let op = &line[toks[0].clone()];
            let is_msg = op.eq_ignore_ascii_case(b"MSG");
            if is_msg || op.eq_ignore_ascii_case(b"HMSG") {
                let at = |r: &Range<usize>| base + r.start..base + r.end;
                let args = &toks[1..n];
                let (reply, headers_len, total) = match (is_msg, args.len()) {
                    (true, 3) => (None, 0, parse_len(&line[args[2].clone()])?),
                    (true, 4) => (Some(at(&args[2])), 0, parse_len(&line[args[3].clone()])?),
                    (false, 4) => (
                        None,
                        parse_len(&line[args[2].clone()])?,
                        parse_len(&line[args[3].clone()])?,
                    ),
                    (false, 5) => (
                        Some(at(&args[2])),
                        parse_len(&line[args[3].clone()])?,
                        parse_len(&line[args[4].clone()])?,
                    ),
                    _ => bail!(
                        "protocol error: malformed {:?}",
                        String::from_utf8_lossy(line)
                    ),
                };
                if headers_len > total {
                    bail!("protocol error: header length exceeds total in HMSG");
                }
                let data_start = self.start + nl + 1;
                let data_end = data_start + total;
                if data_end + 2 > self.end {
                    return Ok(None); // payload not fully buffered yet
                }
                if &self.buf[data_end..data_end + 2] != b"\r\n" {
                    bail!("protocol error: payload not followed by CRLF");
                }
                let parsed = Parsed::Msg {
                    subject: at(&args[0]),
                    sid: at(&args[1]),
                    reply,
                    headers_len,
                    data: data_start..data_end,
                };
                self.start = data_end + 2;
                return Ok(Some(parsed));
            }
            if op.eq_ignore_ascii_case(b"PING") {
                self.start += nl + 1;
                self.write_all(b"PONG\r\n")?;
            } else if op.eq_ignore_ascii_case(b"PONG") {
                self.start += nl + 1;
                return Ok(Some(Parsed::Pong));
            } else if op.eq_ignore_ascii_case(b"+OK") || op.eq_ignore_ascii_case(b"INFO") {
                self.start += nl + 1;
            } else if op.eq_ignore_ascii_case(b"-ERR") {
                bail!("server error: {}", String::from_utf8_lossy(line));
            } else {
                bail!(
                    "protocol error: unexpected {:?}",
                    String::from_utf8_lossy(&line[..line.len().min(80)])
                );
            }
        }
    }
}

#[inline]
fn find_newline(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

#[inline]
fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Returns the rest of `line` after `op` and its separator, if `line` starts with `op`.
fn strip_op<'a>(line: &'a [u8], op: &[u8]) -> Option<&'a [u8]> {
    if line.len() > op.len()
        && line[..op.len()].eq_ignore_ascii_case(op)
        && matches!(line[op.len()], b' ' | b'\t')
    {
        Some(&line[op.len() + 1..])
    } else {
        None
    }
}

/// Splits on spaces/tabs into `out`; returns how many tokens were found (at
/// most `out.len()`; extra tokens are merged into nothing and make the count
/// exceed what callers accept).
#[inline]
fn tokenize(line: &[u8], out: &mut [Range<usize>]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < line.len() {
        while i < line.len() && matches!(line[i], b' ' | b'\t') {
            i += 1;
        }
        if i == line.len() {
            break;
        }
        let s = i;
        while i < line.len() && !matches!(line[i], b' ' | b'\t') {
            i += 1;
        }
        if n == out.len() {
            return n + 1; // too many tokens
        }
        out[n] = s..i;
        n += 1;
    }
    n
}

#[inline]
fn parse_len(b: &[u8]) -> Result<usize> {
    if b.is_empty() || b.len() > 12 {
        bail!(
            "protocol error: bad length {:?}",
            String::from_utf8_lossy(b)
        );
    }
    let mut v = 0usize;
    for &c in b {
        if !c.is_ascii_digit() {
            bail!(
                "protocol error: bad length {:?}",
                String::from_utf8_lossy(b)
            );
        }
        v = v * 10 + (c - b'0') as usize;
    }
    Ok(v)
}

/// Appends `PUB subject [reply] len\r\n<payload>\r\n` to `out`.
pub fn encode_pub(out: &mut Vec<u8>, subject: &str, reply: Option<&str>, payload: &[u8]) {
    out.extend_from_slice(b"PUB ");
    out.extend_from_slice(subject.as_bytes());
    out.push(b' ');
    if let Some(r) = reply {
        out.extend_from_slice(r.as_bytes());
        out.push(b' ');
    }
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    /// Runs a fake server that greets, accepts CONNECT+PING, then streams `script`
    /// in tiny pieces to exercise partial reads.
    fn fake_server(script: &'static [u8]) -> (Endpoint, thread::JoinHandle<Vec<u8>>) {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let h = thread::spawn(move || {
            let (mut s, _) = l.accept().expect("accept");
            s.write_all(
                b"INFO {\"server_name\":\"fake\",\"version\":\"0\",\"max_payload\":100}\r\n",
            )
            .expect("w");
            let mut got = Vec::new();
            let mut b = [0u8; 4096];
            while !got.windows(6).any(|w| w == b"PING\r\n") {
                let n = s.read(&mut b).expect("r");
                got.extend_from_slice(&b[..n]);
            }
            s.write_all(b"PONG\r\n").expect("w");
            for chunk in script.chunks(3) {
                s.write_all(chunk).expect("w");
                s.flush().expect("f");
                thread::sleep(Duration::from_millis(1));
            }
            // Collect what the client sends back (e.g. its PONG) until it closes.
            s.set_read_timeout(Some(Duration::from_millis(500)))
                .expect("t");
            while let Ok(n) = s.read(&mut b) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&b[..n]);
            }
            got
        });
        let ep = Endpoint::parse(&format!("nats://127.0.0.1:{port}")).expect("ep");
        (ep, h)
    }

    #[test]
    fn parses_frames_across_partial_reads() {
        let script: &'static [u8] = b"MSG a.b 1 5\r\nhello\r\nPING\r\n+OK\r\nMSG a.c 2 r.x 0\r\n\r\nHMSG h 3 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPONG\r\n";
        let (ep, h) = fake_server(script);
        let mut c = RawConn::connect(&ep, "t", Duration::from_secs(5)).expect("connect");
        assert_eq!(c.server.server_name, "fake");
        assert_eq!(c.server.max_payload, 100);
        let dl = Instant::now() + Duration::from_secs(5);
        match c.next_event(dl).expect("ev") {
            Event::Msg(m) => {
                assert_eq!(
                    (m.subject, m.sid, m.reply, m.data),
                    (&b"a.b"[..], &b"1"[..], None, &b"hello"[..])
                );
            }
            e => panic!("unexpected {e:?}"),
        }
        match c.next_event(dl).expect("ev") {
            Event::Msg(m) => {
                assert_eq!(
                    (m.subject, m.reply, m.data),
                    (&b"a.c"[..], Some(&b"r.x"[..]), &b""[..])
                );
            }
            e => panic!("unexpected {e:?}"),
        }
        match c.next_event(dl).expect("ev") {
            Event::Msg(m) => {
                assert_eq!((m.headers_len, &m.data[m.headers_len..]), (12, &b"hi"[..]));
            }
            e => panic!("unexpected {e:?}"),
        }
        assert!(matches!(c.next_event(dl).expect("ev"), Event::Pong));
        c.close();
        let got = h.join().expect("join");
        assert!(
            got.windows(6).any(|w| w == b"PONG\r\n"),
            "client answered PING"
        );
        assert!(got.starts_with(b"CONNECT {"));
    }

    #[test]
    fn err_is_reported() {
        let (ep, h) = fake_server(b"-ERR 'Slow Consumer'\r\n");
        let mut c = RawConn::connect(&ep, "t", Duration::from_secs(5)).expect("connect");
        let e = c
            .next_event(Instant::now() + Duration::from_secs(5))
            .expect_err("must fail");
        assert!(e.to_string().contains("Slow Consumer"), "{e}");
        c.close();
        let _ = h.join();
    }

    #[test]
    fn tokenizer_and_len() {
        let mut t = [0..0, 0..0, 0..0];
        assert_eq!(tokenize(b" MSG  a\t1 ", &mut t), 3);
        assert_eq!(tokenize(b"a b c d", &mut t), 4);
        assert!(parse_len(b"12x").is_err());
        assert_eq!(parse_len(b"1024").expect("len"), 1024);
    }

    #[test]
    fn encodes_pub() {
        let mut v = Vec::new();
        encode_pub(&mut v, "s", Some("r"), b"xy");
        assert_eq!(v, b"PUB s r 2\r\nxy\r\n");
    }
}
