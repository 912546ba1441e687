//! Differential protocol tests: the same raw client sessions are played against a real
//! nats-server and against Sluice, and what each sends back, and whether it closed the
//! connection, must be the same.
//!
//! Every session runs on a fresh pair of servers, so sessions cannot disturb each other
//! (a connection's subscriptions outlive its socket for a moment on both servers).
//!
//! What is normalised before comparing:
//! - The INFO line: only the fields every client relies on are compared, by JSON type,
//!   and by value where the value is not an id, a version or a port (see [`info_summary`]).
//! - The extra `INFO {"connect_info":true,...}` nats-server sends after the first PONG to
//!   a `protocol: 1` client is dropped (optional for servers; clients ignore it).
//! - When one message matches several subscriptions of one connection, the order of the
//!   copies is not part of the protocol (nats-server's depends on Go map iteration), so
//!   runs of MSG/HMSG frames that differ only in their sid are sorted.
//!
//! Everything else is compared byte for byte.
//!
//! Known differences, deliberately not played here: nats-server echoes a PUB's size text
//! as sent (`PUB foo 001` is delivered as `MSG foo 1 001`; Sluice writes `1`), and it
//! accepts subjects and queue names that are not UTF-8 (Sluice answers
//! `-ERR 'Invalid Subject'` to such a SUB and delivers such a PUB to nobody).
//!
//! "Open" sessions end with `PING\r\nPING\r\n` and are read until the matching PONGs (the
//! second one also flushes anything a server queues right after the first PONG); sessions
//! expected to end in a close are read to EOF. Neither needs a sleep.

mod common;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use common::{NatsServerProcess, TestServer};
use sluice_server::config::AuthConfig;
use sluice_server::Options;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How long to wait for a PONG or a close that does not come.
const READ_DEADLINE: Duration = Duration::from_secs(3);

// ---------------------------------------------------------------------------------------
// Session rows
// ---------------------------------------------------------------------------------------

/// How a session is expected to end on nats-server; decides how its end is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The connection stays open: finish with PINGs and read to their PONGs.
    Open,
    /// The server closes the connection: read to EOF.
    Close,
}

struct Session {
    name: &'static str,
    end: End,
    bytes: Vec<u8>,
}

fn open(name: &'static str, bytes: impl Into<Vec<u8>>) -> Session {
    Session {
        name,
        end: End::Open,
        bytes: bytes.into(),
    }
}

fn close(name: &'static str, bytes: impl Into<Vec<u8>>) -> Session {
    Session {
        name,
        end: End::Close,
        bytes: bytes.into(),
    }
}

/// A session over several connections, all expected to stay open: each step sends bytes
/// on connection `.0` (opened on first use) and reads that connection's replies to the
/// PONGs of the step.
struct Script {
    name: &'static str,
    steps: Vec<(usize, Vec<u8>)>,
}

fn script(name: &'static str, steps: &[(usize, &str)]) -> Script {
    Script {
        name,
        steps: steps
            .iter()
            .map(|(c, b)| (*c, b.as_bytes().to_vec()))
            .collect(),
    }
}

macro_rules! quiet {
    () => {
        "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n"
    };
}
macro_rules! pedantic {
    () => {
        "CONNECT {\"verbose\":false,\"pedantic\":true}\r\n"
    };
}
macro_rules! hdrs {
    () => {
        "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true}\r\n"
    };
}
macro_rules! nr {
    () => {
        "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true}\r\n"
    };
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Parsing, separators, case, client-sent operations, malformed input, CONNECT.
fn parsing_sessions() -> Vec<Session> {
    let mut pipelined = String::from(quiet!());
    pipelined.push_str("SUB p.* 1\r\nSUB p.> q 2\r\n");
    for i in 0..60 {
        write!(pipelined, "PUB p.{i} {}\r\nm{i}\r\n", format!("m{i}").len()).unwrap();
        if i % 20 == 19 {
            pipelined.push_str("PING\r\n");
        }
    }
    let binary: Vec<u8> = (0..=255u8).collect();
    vec![
        open("ping", "PING\r\n"),
        open("verbose and pedantic defaults without connect", "SUB foo 1\r\nPUB foo 2\r\nhi\r\nUNSUB 1\r\nUNSUB 1\r\nPING\r\n"),
        open(
            "connect verbose true",
            "CONNECT {\"verbose\":true}\r\nSUB foo 1\r\nPUB foo r 2\r\nhi\r\nUNSUB 1\r\nPONG\r\n+OK\r\nPING\r\n",
        ),
        open(
            "lower case operations",
            "connect {\"verbose\":false,\"headers\":true}\r\nsub foo 1\r\npub foo 1\r\na\r\nhpub foo 12 12\r\nNATS/1.0\r\n\r\n\r\nunsub 1\r\nping\r\npong\r\n+ok\r\ninfo {}\r\n",
        ),
        open(
            "mixed case operations",
            "cOnNeCt {\"verbose\":true}\r\nsUb foo 1\r\npUb foo 1\r\na\r\nUnSuB 1\r\npInG\r\n",
        ),
        open("tabs as separators", concat!(quiet!(), "SUB\tfoo\t1\r\nPUB\tfoo\treply\t1\r\na\r\nUNSUB\t1\r\nPING\t\r\n")),
        open(
            "runs of blanks",
            concat!(quiet!(), "SUB  \t foo \t q  2 \t\r\nPUB  foo   bar   1  \r\na\r\nUNSUB  2 \r\nPUB foo 1\r\nb\r\n"),
        ),
        open("bare LF line ends", concat!(quiet!(), "SUB foo 1\nPUB foo 2\nhi\r\nPING\n")),
        open("trailing CR before CRLF in CONNECT", "CONNECT {\"verbose\":false}\r\r\n"),
        open("pipelined publishes", pipelined),
        open("empty payload", concat!(quiet!(), "SUB foo 1\r\nPUB foo 0\r\n\r\n")),
        open("payload holding CRLF", concat!(quiet!(), "SUB foo 1\r\nPUB foo 4\r\na\r\nb\r\n")),
        open("payload holding protocol text", concat!(quiet!(), "SUB foo 1\r\nPUB foo 13\r\nPING\r\nPUB x 0\r\n")),
        open(
            "payload with every byte value",
            cat(&[concat!(quiet!(), "SUB foo 1\r\nPUB foo 256\r\n").as_bytes(), &binary, b"\r\n"]),
        ),
        open("ping with trailing bytes", "PINGX\r\nPING foo\r\n"),
        open("client pong and +ok", concat!(quiet!(), "PONG\r\n+OK\r\npongxx\r\n+ok\r\n")),
        open("client info with valid json", concat!(quiet!(), "INFO {\"server_id\":\"x\"}\r\ninfo {}\r\n")),
        close("client info with bad json", concat!(quiet!(), "INFO {bad\r\n")),
        open("client info without separator", concat!(quiet!(), "INFO{}\r\n")),
        close("client -ERR closes", concat!(quiet!(), "-ERR 'bye'\r\n")),
        close("client -err lower case closes", concat!(quiet!(), "-err 'bye'\r\n")),
        close("unknown operation", concat!(quiet!(), "FOO\r\n")),
        close("unknown operation after answered ones", "SUB foo 1\r\nPUB foo 1\r\na\r\nPING\r\nXYZ\r\nPING\r\n"),
        close("MSG from client", concat!(quiet!(), "MSG foo 1 0\r\n\r\n")),
        close("leading blank before operation", concat!(quiet!(), " PING\r\n")),
        close("empty line", concat!(quiet!(), "\r\n")),
        close("NUL byte", concat!(quiet!(), "\0\r\n")),
        close("truncated operation name", concat!(quiet!(), "PIN\r\n")),
        close("one letter operations", concat!(quiet!(), "P\r\n")),
        close("ERR without dash", concat!(quiet!(), "ERR\r\n")),
        close("PUB without separator", concat!(quiet!(), "PUBfoo 1\r\n")),
        close("UNSUB without separator", concat!(quiet!(), "UNSUB1\r\n")),
        close("UNSUB without arguments", concat!(quiet!(), "UNSUB\r\n")),
        close("PUB one argument", concat!(quiet!(), "PUB foo\r\n")),
        close("PUB four arguments", concat!(quiet!(), "PUB foo bar baz 1\r\n")),
        close("PUB without subject", concat!(quiet!(), "PUB  1\r\n")),
        close("PUB non-numeric size", concat!(quiet!(), "PUB foo x\r\n")),
        close("PUB negative size", concat!(quiet!(), "PUB foo -1\r\n")),
        close("PUB size with plus sign", concat!(quiet!(), "PUB foo +1\r\n")),
        close("PUB size of ten digits", concat!(quiet!(), "SUB foo 1\r\nPUB foo 0000000001\r\na\r\n")),
        close("payload longer than announced", concat!(quiet!(), "SUB foo 1\r\nPUB foo 2\r\nhiX\r\n")),
        close("payload followed by LF only", concat!(quiet!(), "SUB foo 1\r\nPUB foo 2\r\nhi\n")),
        close("payload followed by CR and garbage", concat!(quiet!(), "PUB foo 2\r\nhi\rX\r\n")),
        close("payload followed by two CRs", concat!(quiet!(), "PUB foo 2\r\nhi\r\r\n")),
        close("verbose payload error after +OK", "SUB foo 1\r\nPUB foo 2\r\nhiX"),
        close("SUB one argument", concat!(quiet!(), "SUB foo\r\n")),
        close("SUB four arguments", concat!(quiet!(), "SUB foo q 1 2\r\n")),
        close("UNSUB three arguments", concat!(quiet!(), "UNSUB 1 2 3\r\n")),
        open("SUB arguments split by CR", concat!(quiet!(), "SUB foo\r 1\r\nPUB foo 1\r\na\r\n")),
        open("pedantic PUB subject holding CR", concat!(pedantic!(), "SUB foo 1\r\nPUB foo\r 1\r\na\r\n")),
        // CONNECT
        close("CONNECT bad json", "CONNECT {bad\r\n"),
        close("CONNECT without arguments", "CONNECT\r\n"),
        close("CONNECT blank argument", "CONNECT \r\n"),
        close("CONNECT wrong field type", "CONNECT {\"verbose\":\"yes\"}\r\n"),
        close("CONNECT trailing garbage", "CONNECT {} x\r\n"),
        close("CONNECT string", "CONNECT \"x\"\r\n"),
        close("CONNECT array", "CONNECT []\r\n"),
        open("CONNECT null", "CONNECT null\r\n"),
        open("CONNECT without separator", "CONNECT{}\r\n"),
        open("CONNECT unknown fields", "CONNECT {\"future\":[1,{\"a\":null}],\"lang\":\"x\",\"version\":\"1\"}\r\n"),
        open("CONNECT twice", "CONNECT {\"verbose\":true}\r\nCONNECT {\"verbose\":false}\r\nSUB foo 1\r\n"),
        close("CONNECT protocol 2", "CONNECT {\"protocol\":2}\r\n"),
        close("CONNECT protocol -1", "CONNECT {\"protocol\":-1}\r\n"),
        open("CONNECT protocol 1 then PING", "CONNECT {\"protocol\":1,\"verbose\":false}\r\nPING\r\n"),
        close("CONNECT no_responders without headers", "CONNECT {\"no_responders\":true}\r\n"),
        close(
            "CONNECT no_responders with headers false",
            "CONNECT {\"headers\":false,\"no_responders\":true,\"verbose\":false}\r\n",
        ),
        close("CONNECT legacy account field", "CONNECT {\"account\":\"A\"}\r\n"),
        close("HPUB without CONNECT", "HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n"),
        close("HPUB with headers false", "CONNECT {\"headers\":false}\r\nHPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n"),
    ]
}

/// Control line and payload limits.
fn limit_sessions() -> Vec<Session> {
    let a = |n: usize| "a".repeat(n);
    let with_quiet = |s: String| format!("{}{s}", quiet!());
    let big = "x".repeat(1024 * 1024);
    vec![
        open(
            "SUB and PUB arguments of 4096 bytes",
            with_quiet(format!("SUB {} 1\r\nPUB {} 1\r\nx\r\n", a(4094), a(4094))),
        ),
        close(
            "SUB arguments of 4097 bytes",
            with_quiet(format!("SUB {} 1\r\n", a(4095))),
        ),
        close(
            "PUB arguments of 4097 bytes",
            with_quiet(format!("PUB {} 0\r\n\r\n", a(4095))),
        ),
        close(
            "UNSUB arguments of 4097 bytes",
            with_quiet(format!("UNSUB {}\r\n", "1".repeat(4097))),
        ),
        close(
            "unfinished control line of 4097 bytes",
            with_quiet(format!("SUB {}", a(4097))),
        ),
        open(
            "CONNECT arguments of 4096 bytes",
            format!(
                "CONNECT {{\"verbose\":false,\"name\":\"{}\"}}\r\n",
                a(4096 - 27)
            ),
        ),
        close(
            "CONNECT arguments of 4097 bytes",
            format!(
                "CONNECT {{\"verbose\":false,\"name\":\"{}\"}}\r\n",
                a(4097 - 27)
            ),
        ),
        open(
            "blanks before arguments do not count",
            with_quiet(format!(
                "SUB{}foo 1\r\nPUB foo 1\r\na\r\n",
                " ".repeat(5000)
            )),
        ),
        open(
            "PING with 5000 trailing blanks",
            format!("PING{}\r\n", " ".repeat(5000)),
        ),
        open(
            "payload of exactly max_payload",
            with_quiet(format!("SUB foo 1\r\nPUB foo 1048576\r\n{big}\r\n")),
        ),
        close(
            "PUB announcing max_payload + 1",
            with_quiet("PUB foo 1048577\r\n".into()),
        ),
        close(
            "HPUB announcing max_payload + 1",
            format!("{}HPUB foo 12 1048577\r\n", hdrs!()),
        ),
    ]
}

/// Subject validation, wildcards, queue groups, echo, sids, UNSUB.
fn subscription_sessions() -> Vec<Session> {
    vec![
        open(
            "invalid subscription subjects keep the connection",
            concat!(quiet!(), "SUB foo..bar 1\r\nSUB .foo 2\r\nSUB foo. 3\r\nSUB foo.>.bar 4\r\nSUB foo.>.* 5\r\nSUB ok 6\r\nPUB ok 1\r\na\r\n"),
        ),
        open("invalid subject verbose", "SUB foo..bar 1\r\nSUB foo 2\r\n"),
        open("queue names with wildcard characters", concat!(quiet!(), "SUB foo q.* 1\r\nSUB bar q> 2\r\nPUB foo 1\r\na\r\nPUB bar 1\r\nb\r\n")),
        open("pedantic publish to * subject", concat!(pedantic!(), "SUB foo.* 1\r\nSUB foo.bar 2\r\nPUB foo.* 1\r\na\r\n")),
        open("pedantic publish to > subject", concat!(pedantic!(), "SUB foo.> 1\r\nSUB foo.x 2\r\nPUB foo.> 1\r\na\r\n")),
        open("pedantic publish to empty token", concat!(pedantic!(), "SUB > 1\r\nPUB foo..bar 1\r\na\r\nPUB .foo 1\r\nb\r\n")),
        open("pedantic default without connect", "PUB foo.* 0\r\n\r\n"),
        open("pedantic wildcard reply is accepted", concat!(pedantic!(), "SUB foo 1\r\nPUB foo a.* 1\r\na\r\nPUB foo a..b 1\r\nb\r\n")),
        open("non-pedantic wildcard publish", concat!(quiet!(), "SUB foo.* 1\r\nSUB foo.bar 2\r\nPUB foo.* 1\r\na\r\n")),
        open("* matches one token", concat!(quiet!(), "SUB foo.* 1\r\nPUB foo 1\r\na\r\nPUB foo.bar 1\r\nb\r\nPUB foo.bar.baz 1\r\nc\r\n")),
        open("> matches one or more tokens", concat!(quiet!(), "SUB foo.> 1\r\nPUB foo 1\r\na\r\nPUB foo.bar 1\r\nb\r\nPUB foo.bar.baz 1\r\nc\r\n")),
        open("wildcard in the middle", concat!(quiet!(), "SUB a.*.c 1\r\nPUB a.b.c 1\r\na\r\nPUB a.b.d 1\r\nb\r\nPUB a.b.c.d 1\r\nc\r\n")),
        open("lone > and *", concat!(quiet!(), "SUB > 1\r\nSUB * 2\r\nPUB a 1\r\na\r\nPUB a.b.c 1\r\nb\r\n")),
        open("wildcard characters inside tokens are literal", concat!(quiet!(), "SUB foo* 1\r\nSUB a>b 2\r\nSUB >x 3\r\nPUB foo* 1\r\na\r\nPUB a>b 1\r\nb\r\nPUB >x 1\r\nc\r\nPUB foox 1\r\nd\r\n")),
        open(
            "one message, many matching subscriptions",
            concat!(quiet!(), "SUB foo.bar 1\r\nSUB foo.* 2\r\nSUB *.bar 3\r\nSUB foo.> 4\r\nSUB > 5\r\nSUB *.* 6\r\nSUB foo.bar 7\r\nSUB *.> 8\r\nPUB foo.bar 1\r\na\r\nPUB foo.bar 1\r\nb\r\n"),
        ),
        open("utf-8 subject", concat!(quiet!(), "SUB f\u{f6}\u{f6}.\u{732b} 1\r\nPUB f\u{f6}\u{f6}.\u{732b} 1\r\na\r\n")),
        open("queue group with one member", concat!(quiet!(), "SUB foo q 1\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\n")),
        open("queue and plain subscription", concat!(quiet!(), "SUB foo q 1\r\nSUB foo 2\r\nPUB foo 1\r\na\r\n")),
        open("two queue groups", concat!(quiet!(), "SUB foo q 1\r\nSUB foo r 2\r\nPUB foo 1\r\na\r\n")),
        open("queue group on a wildcard", concat!(quiet!(), "SUB foo.* q 1\r\nPUB foo.bar 1\r\na\r\n")),
        open("queue member joining later", concat!(quiet!(), "SUB foo q 1\r\nPUB foo 1\r\na\r\nSUB foo q 2\r\n")),
        open("unsubscribed queue member", concat!(quiet!(), "SUB foo q 1\r\nUNSUB 1\r\nPUB foo 1\r\na\r\n")),
        open("queue member with max", concat!(quiet!(), "SUB foo q 1\r\nUNSUB 1 1\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\n")),
        open("echo false", "CONNECT {\"verbose\":false,\"echo\":false}\r\nSUB foo 1\r\nPUB foo 1\r\na\r\nPING\r\n"),
        open("echo true explicitly", "CONNECT {\"verbose\":false,\"echo\":true}\r\nSUB foo 1\r\nPUB foo 1\r\na\r\n"),
        open("publish with reply", concat!(quiet!(), "SUB foo 1\r\nPUB foo bar 2\r\nhi\r\n")),
        open("long sid", concat!(quiet!(), "SUB foo abcdefghijklmnopqrstuvwxyz0123456789 1\r\nPUB foo 1\r\na\r\n")),
        open("duplicate sid keeps the first subscription", concat!(quiet!(), "SUB foo 1\r\nSUB bar 1\r\nPUB bar 1\r\nb\r\nPUB foo 1\r\nf\r\n")),
        open("duplicate sid with a queue", concat!(quiet!(), "SUB foo 1\r\nSUB foo q 1\r\nPUB foo 1\r\na\r\n")),
        open("duplicate sid verbose", "SUB foo 1\r\nSUB foo 1\r\n"),
        open("same subject, several sids", concat!(quiet!(), "SUB foo 1\r\nSUB foo 2\r\nSUB foo 3\r\nUNSUB 2\r\nPUB foo 1\r\na\r\n")),
        open("UNSUB unknown sid", concat!(quiet!(), "UNSUB 9\r\nUNSUB 9 1\r\n")),
        open("UNSUB unknown sid verbose", "UNSUB 9\r\nUNSUB 9 x\r\n"),
        open("UNSUB then publish", concat!(quiet!(), "SUB foo 1\r\nUNSUB 1\r\nPUB foo 1\r\na\r\n")),
        open("UNSUB twice verbose", "SUB foo 1\r\nUNSUB 1\r\nUNSUB 1\r\n"),
        open("UNSUB max 2", concat!(quiet!(), "SUB foo 1\r\nUNSUB 1 2\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\n")),
        open("UNSUB max below delivered", concat!(quiet!(), "SUB foo 1\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nUNSUB 1 1\r\nPUB foo 1\r\nc\r\n")),
        open("UNSUB max above delivered", concat!(quiet!(), "SUB foo 1\r\nPUB foo 1\r\na\r\nUNSUB 1 2\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\n")),
        open("UNSUB max 0", concat!(quiet!(), "SUB foo 1\r\nUNSUB 1 0\r\nPUB foo 1\r\na\r\n")),
        open("UNSUB max -1", concat!(quiet!(), "SUB foo 1\r\nUNSUB 1 -1\r\nPUB foo 1\r\na\r\n")),
        open("UNSUB max not a number", concat!(quiet!(), "SUB foo 1\r\nUNSUB 1 x\r\nPUB foo 1\r\na\r\n")),
        open("UNSUB max of ten digits", concat!(quiet!(), "SUB foo 1\r\nUNSUB 1 0000000001\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\n")),
        open("UNSUB max raised", concat!(quiet!(), "SUB foo 1\r\nUNSUB 1 1\r\nUNSUB 1 3\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\n")),
        open("UNSUB max then plain UNSUB", concat!(quiet!(), "SUB foo 1\r\nUNSUB 1 5\r\nUNSUB 1\r\nPUB foo 1\r\na\r\n")),
        open("sid reused after auto-unsubscribe", concat!(quiet!(), "SUB foo 1\r\nUNSUB 1 1\r\nPUB foo 1\r\na\r\nSUB foo 1\r\nPUB foo 1\r\nb\r\n")),
    ]
}

/// HPUB/HMSG and no-responders.
fn header_sessions() -> Vec<Session> {
    vec![
        open("HPUB", concat!(hdrs!(), "SUB foo 1\r\nHPUB foo 19 21\r\nNATS/1.0\r\nA: bc\r\n\r\nhi\r\n")),
        open("HPUB with reply", concat!(hdrs!(), "SUB foo 1\r\nHPUB foo r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n")),
        open("HPUB with status line", concat!(hdrs!(), "SUB foo 1\r\nHPUB foo 16 16\r\nNATS/1.0 503\r\n\r\n\r\n")),
        open("HPUB with repeated keys", concat!(hdrs!(), "SUB foo 1\r\nHPUB foo 24 26\r\nNATS/1.0\r\nA: 1\r\nA: 2\r\n\r\nhi\r\n")),
        open("HPUB verbose", "CONNECT {\"headers\":true}\r\nSUB foo 1\r\nHPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n"),
        open("HPUB header size equals total", concat!(hdrs!(), "SUB foo 1\r\nHPUB foo 2 2\r\nhi\r\n")),
        open("HPUB header size 0", concat!(hdrs!(), "SUB foo 1\r\nHPUB foo 0 2\r\nhi\r\n")),
        open("HPUB trailing blank", concat!(hdrs!(), "SUB foo 1\r\nHPUB foo 12 12 \r\nNATS/1.0\r\n\r\n\r\n")),
        close("HPUB header size above total", concat!(hdrs!(), "HPUB foo 12 10\r\nNATS/1.0\r\n\r\n\r\n")),
        close("HPUB non-numeric header size", concat!(hdrs!(), "HPUB foo x 2\r\nhi\r\n")),
        close("HPUB two arguments", concat!(hdrs!(), "HPUB foo 2\r\nhi\r\n")),
        close("HPUB five arguments", concat!(hdrs!(), "HPUB foo r x 2 2\r\nhi\r\n")),
        close("HPUB payload longer than announced", concat!(hdrs!(), "HPUB foo 12 12\r\nNATS/1.0\r\n\r\nX\r\n")),
        open("no responders", concat!(nr!(), "SUB _INBOX.a 1\r\nPUB svc _INBOX.a 2\r\nhi\r\n")),
        open("no responders for HPUB", concat!(nr!(), "SUB r 1\r\nHPUB svc r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n")),
        open("no responders on wildcard reply subscription", concat!(nr!(), "SUB _INBOX.> 1\r\nPUB a.b.c _INBOX.x.y 0\r\n\r\n")),
        open("no responders verbose", "CONNECT {\"headers\":true,\"no_responders\":true}\r\nSUB r 1\r\nPUB svc r 0\r\n\r\n"),
        open("no responders after responder left", concat!(nr!(), "SUB r 1\r\nSUB svc 2\r\nUNSUB 2\r\nPUB svc r 0\r\n\r\n")),
        open("no responders with echo false", "CONNECT {\"verbose\":false,\"echo\":false,\"headers\":true,\"no_responders\":true}\r\nSUB svc 9\r\nSUB r 1\r\nPUB svc r 0\r\n\r\n"),
        open("responder is own subscription", concat!(nr!(), "SUB r 1\r\nPUB r r 0\r\n\r\n")),
        open("queue responder", concat!(nr!(), "SUB svc q 9\r\nSUB r 1\r\nPUB svc r 0\r\n\r\n")),
        open("no responders without reply subscription", concat!(nr!(), "PUB svc r 0\r\n\r\n")),
        open("no responders with queue reply subscription", concat!(nr!(), "SUB r q 1\r\nPUB svc r 0\r\n\r\n")),
        open("no responders without reply subject", concat!(nr!(), "SUB r 1\r\nPUB svc 0\r\n\r\n")),
        open("headers without no_responders", concat!(hdrs!(), "SUB r 1\r\nPUB svc r 0\r\n\r\n")),
        open("no responders with max-ed out responder", concat!(nr!(), "SUB svc 2\r\nUNSUB 2 1\r\nSUB r 1\r\nPUB svc r 1\r\na\r\nPUB svc r 1\r\nb\r\n")),
    ]
}

/// Sessions over two connections.
fn scripts() -> Vec<Script> {
    let hpub = "HPUB foo 19 21\r\nNATS/1.0\r\nA: bc\r\n\r\nhi\r\n";
    vec![
        script(
            "headers stripped for a subscriber without headers",
            &[
                (0, concat!(quiet!(), "SUB foo 1\r\n")),
                (
                    1,
                    &format!("{}{hpub}HPUB foo r 12 12\r\nNATS/1.0\r\n\r\n\r\n", hdrs!()),
                ),
                (0, ""),
            ],
        ),
        script(
            "headers kept for a subscriber with headers",
            &[
                (0, concat!(hdrs!(), "SUB foo 1\r\n")),
                (1, &format!("{}{hpub}", hdrs!())),
                (0, ""),
            ],
        ),
        script(
            "plain publish to a header subscriber",
            &[
                (0, concat!(hdrs!(), "SUB foo 1\r\n")),
                (1, concat!(quiet!(), "PUB foo 1\r\na\r\n")),
                (0, ""),
            ],
        ),
        script(
            "echo false still delivers to others",
            &[
                (0, concat!(quiet!(), "SUB foo 1\r\n")),
                (
                    1,
                    "CONNECT {\"verbose\":false,\"echo\":false}\r\nSUB foo 1\r\nPUB foo 1\r\na\r\n",
                ),
                (0, ""),
            ],
        ),
        script(
            "queue group with one member on another connection",
            &[
                (0, concat!(quiet!(), "SUB foo q 1\r\nSUB foo 2\r\n")),
                (1, concat!(quiet!(), "PUB foo 1\r\na\r\nPUB foo 1\r\nb\r\n")),
                (0, ""),
            ],
        ),
        script(
            "request and reply",
            &[
                (0, concat!(quiet!(), "SUB svc 1\r\n")),
                (
                    1,
                    concat!(nr!(), "SUB _INBOX.x.* 1\r\nPUB svc _INBOX.x.1 3\r\nreq\r\n"),
                ),
                (0, "PUB _INBOX.x.1 3\r\nrep\r\n"),
                (1, ""),
            ],
        ),
        script(
            "request to a responder with headers",
            &[
                (0, concat!(quiet!(), "SUB svc 1\r\n")),
                (
                    1,
                    concat!(
                        nr!(),
                        "SUB r 1\r\nHPUB svc r 19 22\r\nNATS/1.0\r\nA: bc\r\n\r\nreq\r\n"
                    ),
                ),
                (0, "PUB r 3\r\nrep\r\n"),
                (1, ""),
            ],
        ),
        script(
            "no responders after the responder unsubscribed",
            &[
                (0, concat!(quiet!(), "SUB svc 1\r\n")),
                (1, concat!(nr!(), "SUB r 1\r\nPUB svc r 0\r\n\r\n")),
                (0, "UNSUB 1\r\n"),
                (1, "PUB svc r 0\r\n\r\n"),
            ],
        ),
        script(
            "auto-unsubscribe counts messages from others",
            &[
                (0, concat!(quiet!(), "SUB foo 1\r\nUNSUB 1 2\r\n")),
                (
                    1,
                    concat!(
                        quiet!(),
                        "PUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\n"
                    ),
                ),
                (0, ""),
            ],
        ),
        script(
            "pedantic wildcard publish reaches other connections",
            &[
                (0, concat!(quiet!(), "SUB foo.* 1\r\nSUB foo.> 2\r\n")),
                (1, concat!(pedantic!(), "PUB foo.* 1\r\na\r\n")),
                (0, ""),
            ],
        ),
        script(
            "several matching subscriptions on another connection",
            &[
                (
                    0,
                    concat!(
                        quiet!(),
                        "SUB a.b 1\r\nSUB a.* 2\r\nSUB a.> 3\r\nSUB a.b 4\r\n"
                    ),
                ),
                (1, concat!(quiet!(), "PUB a.b 1\r\nx\r\nPUB a.b 1\r\ny\r\n")),
                (0, ""),
            ],
        ),
    ]
}

/// Sessions on servers requiring a user and password (`u`/`p`).
fn user_pass_sessions() -> Vec<Session> {
    vec![
        close("operation before CONNECT", "SUB foo 1\r\n"),
        close("PING before CONNECT", "PING\r\n"),
        close("unknown operation before CONNECT", "FOO\r\n"),
        open("good credentials", "CONNECT {\"user\":\"u\",\"pass\":\"p\"}\r\nSUB foo 1\r\nPUB foo 1\r\na\r\n"),
        open("good credentials lower case connect", "connect {\"user\":\"u\",\"pass\":\"p\",\"verbose\":false}\r\n"),
        close("bad password", "CONNECT {\"user\":\"u\",\"pass\":\"x\"}\r\n"),
        close("unknown user", "CONNECT {\"user\":\"x\",\"pass\":\"p\"}\r\n"),
        close("no credentials", "CONNECT {}\r\n"),
        close("token instead of user", "CONNECT {\"auth_token\":\"p\"}\r\n"),
        close("bad json", "CONNECT {\r\n"),
        close("good credentials, protocol 2", "CONNECT {\"user\":\"u\",\"pass\":\"p\",\"protocol\":2}\r\n"),
        close("bad credentials, protocol 2", "CONNECT {\"user\":\"u\",\"pass\":\"x\",\"protocol\":2}\r\n"),
        close(
            "second CONNECT with bad credentials",
            "CONNECT {\"user\":\"u\",\"pass\":\"p\",\"verbose\":false}\r\nCONNECT {\"user\":\"u\",\"pass\":\"x\"}\r\n",
        ),
    ]
}

/// Sessions on servers requiring the token `tok`.
fn token_sessions() -> Vec<Session> {
    vec![
        open("good token", "CONNECT {\"auth_token\":\"tok\"}\r\n"),
        close("bad token", "CONNECT {\"auth_token\":\"x\"}\r\n"),
        close("user instead of token", "CONNECT {\"user\":\"tok\"}\r\n"),
        close("no token", "CONNECT {\"verbose\":false}\r\n"),
    ]
}

// ---------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Setup {
    Default,
    UserPass,
    Token,
}

impl Setup {
    fn nats_args(self) -> &'static [&'static str] {
        match self {
            Setup::Default => &[],
            Setup::UserPass => &["--user", "u", "--pass", "p"],
            Setup::Token => &["--auth", "tok"],
        }
    }

    fn sluice_opts(self) -> Options {
        let auth = match self {
            Setup::Default => AuthConfig::default(),
            Setup::UserPass => AuthConfig {
                user: Some("u".into()),
                password: Some("p".into()),
                token: None,
            },
            Setup::Token => AuthConfig {
                token: Some("tok".into()),
                ..AuthConfig::default()
            },
        };
        Options {
            auth,
            ..common::opts()
        }
    }
}

// ---------------------------------------------------------------------------------------
// Reading and normalising what a server sends
// ---------------------------------------------------------------------------------------

/// How a connection ended up after its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Answered every PING: still open.
    Open,
    /// EOF or reset.
    Closed,
    /// Neither the expected PONGs nor a close within the deadline.
    TimedOut,
}

#[derive(Debug, PartialEq)]
struct Transcript {
    info: Vec<String>,
    frames: Vec<Vec<u8>>,
    outcome: Outcome,
}

/// Length of the first complete server frame in `buf` (a line, or a MSG/HMSG with its
/// payload), if it is all there.
fn frame_len(buf: &[u8]) -> Option<usize> {
    let nl = buf.iter().position(|&b| b == b'\n')?;
    let line = buf[..nl].strip_suffix(b"\r").unwrap_or(&buf[..nl]);
    if line.starts_with(b"MSG ") || line.starts_with(b"HMSG ") {
        let size = line
            .rsplit(|&b| b == b' ')
            .next()
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.parse::<usize>().ok());
        if let Some(size) = size {
            let total = nl + 1 + size + 2;
            return (buf.len() >= total).then_some(total);
        }
    }
    Some(nl + 1)
}

/// Number of PINGs in a client session (walking over PUB/HPUB payloads).
fn count_pings(mut s: &[u8]) -> usize {
    let mut n = 0;
    while let Some(nl) = s.iter().position(|&b| b == b'\n') {
        let line = s[..nl].to_ascii_uppercase();
        s = &s[nl + 1..];
        if line.starts_with(b"PING") {
            n += 1;
        } else if line.starts_with(b"PUB") || line.starts_with(b"HPUB") {
            let line = line.strip_suffix(b"\r").unwrap_or(&line);
            let size = line
                .split(|&b| b == b' ' || b == b'\t')
                .rfind(|t| !t.is_empty())
                .and_then(|t| std::str::from_utf8(t).ok())
                .and_then(|t| t.parse::<usize>().ok())
                .unwrap_or(0);
            s = &s[(size + 2).min(s.len())..];
        }
    }
    n
}

/// One client connection to a server under test.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    info: Vec<String>,
}

impl Conn {
    async fn connect(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).ok();
        let mut c = Conn {
            stream,
            buf: Vec::new(),
            info: Vec::new(),
        };
        let end = Instant::now() + READ_DEADLINE;
        let line = loop {
            if let Some(i) = c.buf.windows(2).position(|w| w == b"\r\n") {
                break c.buf.drain(..i + 2).collect::<Vec<u8>>();
            }
            assert!(c.fill(end).await, "no INFO line from {addr}");
        };
        c.info = info_summary(&line);
        c
    }

    /// Reads more bytes; false on EOF, error or deadline.
    async fn fill(&mut self, end: Instant) -> bool {
        let mut chunk = [0u8; 65536];
        match tokio::time::timeout_at(end, self.stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            _ => false,
        }
    }

    async fn eof_or_deadline(&mut self, end: Instant) -> Outcome {
        let mut chunk = [0u8; 65536];
        match tokio::time::timeout_at(end, self.stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => Outcome::Closed,
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Outcome::Open
            }
            Err(_) => Outcome::TimedOut,
        }
    }

    /// Sends `bytes`; then either PINGs and reads up to their PONGs, or reads to EOF.
    async fn play(&mut self, bytes: &[u8], end: End) -> (Vec<Vec<u8>>, Outcome) {
        let mut frames = Vec::new();
        // A server that already closed may reset the connection; what it sent before is
        // still read below.
        let _ = self.stream.write_all(bytes).await;
        let want_pongs = match end {
            End::Open => {
                let _ = self.stream.write_all(b"PING\r\nPING\r\n").await;
                Some(count_pings(bytes) + 2)
            }
            End::Close => None,
        };
        let deadline = Instant::now() + READ_DEADLINE;
        let mut pongs = 0;
        loop {
            while let Some(n) = frame_len(&self.buf) {
                let frame: Vec<u8> = self.buf.drain(..n).collect();
                if frame == b"PONG\r\n" {
                    pongs += 1;
                }
                frames.push(frame);
            }
            if want_pongs.is_some_and(|w| pongs >= w) {
                return (frames, Outcome::Open);
            }
            match self.eof_or_deadline(deadline).await {
                Outcome::Open => {}
                outcome => {
                    if !self.buf.is_empty() {
                        frames.push(std::mem::take(&mut self.buf));
                    }
                    return (frames, outcome);
                }
            }
        }
    }
}

/// The INFO line reduced to what must agree between servers: its framing, the required
/// fields with their JSON types, the values of those that are not ids, versions or ports,
/// and the auth/TLS flags.
fn info_summary(line: &[u8]) -> Vec<String> {
    const REQUIRED: [(&str, bool); 11] = [
        // (field, compare the value)
        ("server_id", false),
        ("server_name", false),
        ("version", false),
        ("proto", true),
        ("go", false),
        ("host", true),
        ("port", false),
        ("headers", true),
        ("max_payload", true),
        ("client_id", false),
        ("client_ip", true),
    ];
    let mut out = Vec::new();
    let text = String::from_utf8_lossy(line);
    let Some(json) = text
        .strip_prefix("INFO ")
        .and_then(|t| t.strip_suffix(" \r\n"))
    else {
        return vec![format!("badly framed INFO line: {text:?}")];
    };
    let v: serde_json::Value = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(e) => return vec![format!("INFO is not JSON ({e}): {json}")],
    };
    let kind = |v: &serde_json::Value| match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    };
    for (field, compare) in REQUIRED {
        match v.get(field) {
            None => out.push(format!("{field}: missing")),
            Some(x) if compare => out.push(format!("{field}: {} = {x}", kind(x))),
            Some(x) => out.push(format!("{field}: {}", kind(x))),
        }
    }
    for flag in ["auth_required", "tls_required"] {
        let set = v
            .get(flag)
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        out.push(format!("{flag}: {set}"));
    }
    if v.get("nonce").is_some() {
        out.push("nonce: present".into());
    }
    out
}

/// The control line of a MSG/HMSG frame without its sid, plus the rest of the frame:
/// frames with equal keys are copies of one message for different subscriptions.
fn copy_key(frame: &[u8]) -> Option<Vec<u8>> {
    if !(frame.starts_with(b"MSG ") || frame.starts_with(b"HMSG ")) {
        return None;
    }
    let nl = frame.iter().position(|&b| b == b'\n')?;
    let mut key: Vec<u8> = Vec::new();
    for (i, tok) in frame[..nl].split(|&b| b == b' ').enumerate() {
        if i != 2 {
            key.extend_from_slice(tok);
            key.push(b' ');
        }
    }
    key.extend_from_slice(&frame[nl..]);
    Some(key)
}

fn is_connect_info(frame: &[u8]) -> bool {
    frame
        .strip_prefix(b"INFO ")
        .and_then(|j| serde_json::from_slice::<serde_json::Value>(j).ok())
        .is_some_and(|v| v.get("connect_info") == Some(&serde_json::Value::Bool(true)))
}

fn normalise(frames: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let frames: Vec<Vec<u8>> = frames.into_iter().filter(|f| !is_connect_info(f)).collect();
    let mut out: Vec<Vec<u8>> = Vec::with_capacity(frames.len());
    let mut i = 0;
    while i < frames.len() {
        let key = copy_key(&frames[i]);
        let mut j = i + 1;
        while key.is_some() && j < frames.len() && copy_key(&frames[j]) == key {
            j += 1;
        }
        let mut run = frames[i..j].to_vec();
        run.sort();
        out.extend(run);
        i = j;
    }
    out
}

// ---------------------------------------------------------------------------------------
// Running and comparing
// ---------------------------------------------------------------------------------------

async fn play_session(addr: SocketAddr, session: &Session) -> Transcript {
    let mut c = Conn::connect(addr).await;
    let (frames, outcome) = c.play(&session.bytes, session.end).await;
    Transcript {
        info: c.info,
        frames: normalise(frames),
        outcome,
    }
}

async fn play_script(addr: SocketAddr, script: &Script) -> Vec<Transcript> {
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut out = Vec::new();
    for (idx, bytes) in &script.steps {
        if conns.len() <= *idx {
            conns.resize_with(idx + 1, || None);
        }
        if conns[*idx].is_none() {
            conns[*idx] = Some(Conn::connect(addr).await);
        }
        let c = conns[*idx].as_mut().expect("connection");
        let (frames, outcome) = c.play(bytes, End::Open).await;
        out.push(Transcript {
            info: c.info.clone(),
            frames: normalise(frames),
            outcome,
        });
    }
    out
}

fn escape(bytes: &[u8]) -> String {
    let s: String = bytes.escape_ascii().to_string();
    if s.len() > 400 {
        format!(
            "{} ...({} bytes)... {}",
            &s[..200],
            bytes.len(),
            &s[s.len() - 100..]
        )
    } else {
        s
    }
}

/// One transcript for a failure report; the INFO summary only when the two differ.
fn render(t: &Transcript, other: &Transcript) -> String {
    let mut s = String::new();
    if t.info != other.info {
        for line in &t.info {
            writeln!(s, "      info  {line}").unwrap();
        }
    }
    for f in &t.frames {
        writeln!(s, "      {}", escape(f)).unwrap();
    }
    writeln!(s, "      [{:?}]", t.outcome).unwrap();
    s
}

/// Plays every session on a fresh nats-server and a fresh Sluice; returns a report of
/// each difference.
async fn compare_sessions(
    bin: &std::path::Path,
    setup: Setup,
    sessions: &[Session],
) -> Vec<String> {
    let mut failures = Vec::new();
    for s in sessions {
        let nats = NatsServerProcess::start(bin, setup.nats_args()).await;
        let sluice = TestServer::start(setup.sluice_opts()).await;
        let (want, got) = tokio::join!(play_session(nats.addr, s), play_session(sluice.addr, s));
        drop(nats);
        sluice.shutdown().await;
        let mut problems = Vec::new();
        let expected_outcome = match s.end {
            End::Open => Outcome::Open,
            End::Close => Outcome::Closed,
        };
        if want.outcome != expected_outcome {
            problems.push(format!(
                "the row says {:?} but nats-server ended {:?} (fix the row)",
                s.end, want.outcome
            ));
        }
        if want != got {
            problems.push("replies differ".into());
        }
        if !problems.is_empty() {
            failures.push(format!(
                "session {:?} ({setup:?}): {}\n    sent: {}\n    nats-server:\n{}    sluice:\n{}",
                s.name,
                problems.join("; "),
                escape(&s.bytes),
                render(&want, &got),
                render(&got, &want),
            ));
        }
    }
    failures
}

async fn compare_scripts(bin: &std::path::Path, scripts: &[Script]) -> Vec<String> {
    let mut failures = Vec::new();
    for s in scripts {
        let nats = NatsServerProcess::start(bin, &[]).await;
        let sluice = TestServer::start(common::opts()).await;
        let want = play_script(nats.addr, s).await;
        let got = play_script(sluice.addr, s).await;
        drop(nats);
        sluice.shutdown().await;
        let row_ok = want.iter().all(|t| t.outcome == Outcome::Open);
        if want != got || !row_ok {
            let mut report = format!("script {:?}:", s.name);
            if !row_ok {
                report.push_str(" nats-server closed a connection (fix the row);");
            }
            for (i, (step, (w, g))) in s.steps.iter().zip(want.iter().zip(&got)).enumerate() {
                write!(
                    report,
                    "\n  step {i} on connection {}: sent {}\n    nats-server:\n{}    sluice:\n{}",
                    step.0,
                    escape(&step.1),
                    render(w, g),
                    render(g, w)
                )
                .unwrap();
            }
            failures.push(report);
        }
    }
    failures
}

fn check(group: &str, count: usize, failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} of {count} {group} sessions differ from nats-server:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

macro_rules! nats_server_or_skip {
    () => {
        match common::require_nats_server() {
            Some(bin) => bin,
            None => return,
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn differential_parsing() {
    let bin = nats_server_or_skip!();
    let sessions = parsing_sessions();
    check(
        "parsing",
        sessions.len(),
        compare_sessions(&bin, Setup::Default, &sessions).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn differential_limits() {
    let bin = nats_server_or_skip!();
    let sessions = limit_sessions();
    check(
        "limit",
        sessions.len(),
        compare_sessions(&bin, Setup::Default, &sessions).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn differential_subscriptions() {
    let bin = nats_server_or_skip!();
    let sessions = subscription_sessions();
    check(
        "subscription",
        sessions.len(),
        compare_sessions(&bin, Setup::Default, &sessions).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn differential_headers_and_no_responders() {
    let bin = nats_server_or_skip!();
    let sessions = header_sessions();
    check(
        "header",
        sessions.len(),
        compare_sessions(&bin, Setup::Default, &sessions).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn differential_two_connections() {
    let bin = nats_server_or_skip!();
    let scripts = scripts();
    check(
        "two-connection",
        scripts.len(),
        compare_scripts(&bin, &scripts).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn differential_auth() {
    let bin = nats_server_or_skip!();
    let user_pass = user_pass_sessions();
    let token = token_sessions();
    let mut failures = compare_sessions(&bin, Setup::UserPass, &user_pass).await;
    failures.extend(compare_sessions(&bin, Setup::Token, &token).await);
    check("auth", user_pass.len() + token.len(), failures);
}

/// The harness itself: frame splitting, PING counting and normalisation.
#[test]
fn harness_normalisation() {
    assert_eq!(frame_len(b"MSG a 1 3\r\nabc\r\nPONG\r\n"), Some(16));
    assert_eq!(frame_len(b"MSG a 1 3\r\nab"), None);
    assert_eq!(
        frame_len(b"HMSG a 1 r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"),
        Some(34)
    );
    assert_eq!(frame_len(b"+OK\r\nPONG\r\n"), Some(5));
    assert_eq!(
        count_pings(b"PING\r\nPUB a 6\r\nPING\r\n\r\nping x\nHPUB a 2 2\r\nhi\r\n"),
        2
    );
    let frames: Vec<Vec<u8>> = [
        &b"MSG a 2 1\r\nx\r\n"[..],
        b"MSG a 1 1\r\nx\r\n",
        b"MSG a 1 1\r\ny\r\n",
        b"INFO {\"connect_info\":true} \r\n",
        b"MSG a 3 1\r\nz\r\n",
        b"MSG a 1 1\r\nz\r\n",
    ]
    .iter()
    .map(|f| f.to_vec())
    .collect();
    let expected: Vec<Vec<u8>> = [
        &b"MSG a 1 1\r\nx\r\n"[..],
        b"MSG a 2 1\r\nx\r\n",
        b"MSG a 1 1\r\ny\r\n",
        b"MSG a 1 1\r\nz\r\n",
        b"MSG a 3 1\r\nz\r\n",
    ]
    .iter()
    .map(|f| f.to_vec())
    .collect();
    assert_eq!(normalise(frames), expected);
    let info = info_summary(b"INFO {\"server_id\":\"N\",\"proto\":1} \r\n");
    assert!(info.contains(&"proto: integer = 1".to_string()), "{info:?}");
    assert!(info.contains(&"port: missing".to_string()), "{info:?}");
}
