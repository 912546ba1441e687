//! Byte-level protocol tests against Sluice over raw TCP: framing across reads,
//! pipelining, separators and case, malformed operations, limits, subjects, verbose
//! replies, subscriptions, CONNECT handling, INFO contents, headers and no-responders.
//!
//! Every expectation here is the exact byte sequence nats-server v2.15 sends for the same
//! input (checked against the real server; `differential_protocol.rs` keeps checking it).

mod common;

use std::time::Duration;

use common::{RawClient, TestServer};
use sluice_server::config::AuthConfig;
use sluice_server::Options;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

const QUIET: &str = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";
const QUIET_HDRS: &str = "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true}\r\n";
const NO_RESPONDERS: &str =
    "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true}\r\n";
const UNKNOWN_OP: &str = "-ERR 'Unknown Protocol Operation'\r\n";

/// `PUB` with the size computed.
fn pub_msg(subject: &str, reply: Option<&str>, payload: &str) -> String {
    match reply {
        Some(r) => format!("PUB {subject} {r} {}\r\n{payload}\r\n", payload.len()),
        None => format!("PUB {subject} {}\r\n{payload}\r\n", payload.len()),
    }
}

/// `HPUB` with both sizes computed; `headers` is the whole header block.
fn hpub(subject: &str, reply: Option<&str>, headers: &str, payload: &str) -> String {
    let (h, t) = (headers.len(), headers.len() + payload.len());
    match reply {
        Some(r) => format!("HPUB {subject} {r} {h} {t}\r\n{headers}{payload}\r\n"),
        None => format!("HPUB {subject} {h} {t}\r\n{headers}{payload}\r\n"),
    }
}

/// Sends `bytes` and a PING; returns everything before that PING's PONG. `pings` is the
/// number of PINGs inside `bytes`, whose PONGs are part of the reply.
async fn round_trip_counting(c: &mut RawClient, bytes: &[u8], pings: usize) -> String {
    c.send(bytes).await;
    c.send(b"PING\r\n").await;
    let mut out = Vec::new();
    loop {
        out.extend(c.read_until(b"PONG\r\n").await);
        let pongs = out
            .split(|&b| b == b'\n')
            .filter(|l| *l == b"PONG\r")
            .count();
        if pongs > pings {
            break;
        }
    }
    String::from_utf8_lossy(&out[..out.len() - 6]).into_owned()
}

/// New connection, `bytes` (holding no PING) sent, everything up to the PONG of a
/// following PING.
async fn exchange(server: &TestServer, bytes: &[u8]) -> String {
    exchange_with_pings(server, bytes, 0).await
}

/// Like [`exchange`] for `bytes` holding `pings` PINGs.
async fn exchange_with_pings(server: &TestServer, bytes: &[u8], pings: usize) -> String {
    let mut c = RawClient::connect(server.addr).await;
    round_trip_counting(&mut c, bytes, pings).await
}

/// New connection, `bytes` sent, everything the server sends before it closes.
async fn exchange_to_close(server: &TestServer, bytes: &[u8]) -> String {
    let mut c = RawClient::connect(server.addr).await;
    c.send(bytes).await;
    c.read_to_close().await
}

/// Sends `bytes` in pieces of `piece` bytes, pausing between pieces so the server reads
/// each piece on its own.
async fn send_in_pieces(c: &mut RawClient, bytes: &[u8], piece: usize) {
    for chunk in bytes.chunks(piece) {
        c.send(chunk).await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The raw INFO line (with its CRLF) a new connection receives first.
async fn raw_info_line(server: &TestServer) -> String {
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let mut buf = Vec::new();
    let end = tokio::time::Instant::now() + common::DEADLINE;
    while !buf.ends_with(b"\r\n") {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout_at(end, s.read(&mut chunk))
            .await
            .expect("INFO in time")
            .expect("read INFO");
        assert!(n > 0, "closed before INFO");
        buf.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8(buf).unwrap()
}

// ---------------------------------------------------------------------------------------
// Framing across reads
// ---------------------------------------------------------------------------------------

/// Sessions whose replies must not depend on how the bytes are split across reads.
fn split_sessions() -> Vec<(&'static str, String, usize, String)> {
    let hdr = "NATS/1.0\r\nA: bc\r\n\r\n";
    vec![
        (
            "pub, hpub and unsub with headers negotiated",
            format!(
                "{QUIET_HDRS}SUB foo 1\r\nSUB bar q 2\r\n{}{}UNSUB 1\r\n{}",
                pub_msg("foo", Some("reply"), "hello"),
                hpub("bar", None, hdr, "world"),
                pub_msg("foo", None, "x"),
            ),
            0,
            format!("MSG foo 1 reply 5\r\nhello\r\nHMSG bar 2 19 24\r\n{hdr}world\r\n"),
        ),
        (
            "verbose defaults without CONNECT",
            "SUB foo 1\r\nPUB foo 2\r\nhi\r\nUNSUB 1\r\nPING\r\n".into(),
            1,
            "+OK\r\n+OK\r\nMSG foo 1 2\r\nhi\r\n+OK\r\nPONG\r\n".into(),
        ),
        (
            "payload holding CRLF and protocol words",
            format!(
                "{QUIET}SUB foo 1\r\n{}",
                pub_msg("foo", None, "PING\r\nPUB x 1\r\n")
            ),
            0,
            "MSG foo 1 15\r\nPING\r\nPUB x 1\r\n\r\n".into(),
        ),
        (
            "bare LF line ends and tabs",
            "connect\t{\"verbose\":false}\nsub\tfoo\t7\nPUB\tfoo\t2\nhi\r\nPING\n".into(),
            1,
            "MSG foo 7 2\r\nhi\r\nPONG\r\n".into(),
        ),
    ]
}

#[tokio::test]
async fn session_sent_one_byte_at_a_time_gets_the_same_replies() {
    let server = TestServer::default().await;
    for (name, session, pings, expected) in split_sessions() {
        let whole = exchange_with_pings(&server, session.as_bytes(), pings).await;
        assert_eq!(whole, expected, "{name}: sent whole");
        let mut c = RawClient::connect(server.addr).await;
        send_in_pieces(&mut c, session.as_bytes(), 1).await;
        let split = round_trip_counting(&mut c, b"", pings).await;
        assert_eq!(split, expected, "{name}: sent one byte at a time");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn pub_split_at_every_position_gets_the_same_replies() {
    let server = TestServer::default().await;
    let session = format!(
        "{QUIET_HDRS}SUB foo 1\r\n{}{}",
        pub_msg("foo", Some("r"), "hello"),
        hpub("foo", None, "NATS/1.0\r\nK: v\r\n\r\n", "xy"),
    );
    let expected = "MSG foo 1 r 5\r\nhello\r\nHMSG foo 1 18 20\r\nNATS/1.0\r\nK: v\r\n\r\nxy\r\n";
    let bytes = session.as_bytes();
    let start = QUIET_HDRS.len();
    for at in start..bytes.len() {
        let mut c = RawClient::connect(server.addr).await;
        c.send(&bytes[..at]).await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        let got = c.round_trip(&bytes[at..]).await;
        assert_eq!(
            got,
            expected,
            "split at byte {at}: {:?} | {:?}",
            &session[..at],
            &session[at..]
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn control_line_split_across_reads() {
    let server = TestServer::default().await;
    let mut c = RawClient::connect(server.addr).await;
    c.send(QUIET.as_bytes()).await;
    for piece in [
        "SU",
        "B fo",
        "o.",
        "bar",
        " 4",
        "2\r",
        "\nPU",
        "B foo.bar 3",
        "\r\nab",
        "c\r",
        "\n",
    ] {
        c.send(piece.as_bytes()).await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(c.round_trip(b"").await, "MSG foo.bar 42 3\r\nabc\r\n");
    server.shutdown().await;
}

#[tokio::test]
async fn error_in_split_payload_trailer_is_detected() {
    let server = TestServer::default().await;
    let mut c = RawClient::connect(server.addr).await;
    send_in_pieces(&mut c, b"SUB foo 1\r\nPUB foo 2\r\nhiX", 1).await;
    assert_eq!(c.read_to_close().await, format!("+OK\r\n{UNKNOWN_OP}"));
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Pipelining, case, separators
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn many_operations_in_one_write() {
    let server = TestServer::default().await;
    // A plain and a queue subscription: plain subscribers get a message first.
    let mut session = format!("{QUIET}SUB foo.* q 1\r\nSUB foo.bar 2\r\n");
    let mut expected = String::new();
    for i in 0..200 {
        let payload = format!("m{i}");
        session.push_str(&pub_msg("foo.bar", None, &payload));
        expected.push_str(&format!("MSG foo.bar 2 {}\r\n{payload}\r\n", payload.len()));
        expected.push_str(&format!("MSG foo.bar 1 {}\r\n{payload}\r\n", payload.len()));
        if i % 50 == 49 {
            session.push_str("PING\r\n");
            expected.push_str("PONG\r\n");
        }
    }
    session.push_str("UNSUB 2\r\n");
    session.push_str(&pub_msg("foo.bar", None, "last"));
    expected.push_str("MSG foo.bar 1 4\r\nlast\r\n");
    assert_eq!(
        exchange_with_pings(&server, session.as_bytes(), 4).await,
        expected
    );
    server.shutdown().await;
}

#[tokio::test]
async fn operation_names_are_case_insensitive() {
    let server = TestServer::default().await;
    let session = "cOnNeCt {\"verbose\":true,\"headers\":true}\r\nsub foo 1\r\nSub bar 2\r\npub foo 1\r\na\r\n\
                   hPuB bar 12 13\r\nNATS/1.0\r\n\r\nb\r\nunsub 1\r\nPuB foo 1\r\nc\r\npong\r\n+ok\r\nping\r\n";
    assert_eq!(
        exchange_with_pings(&server, session.as_bytes(), 1).await,
        "+OK\r\n+OK\r\n+OK\r\n+OK\r\nMSG foo 1 1\r\na\r\n+OK\r\nHMSG bar 2 12 13\r\nNATS/1.0\r\n\r\nb\r\n\
         +OK\r\n+OK\r\nPONG\r\n"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn tabs_and_runs_of_blanks_separate_arguments() {
    let server = TestServer::default().await;
    let session = format!(
        "{QUIET}SUB\tfoo\t1\r\nSUB \t bar \t q \t 2 \t\r\nPUB\tfoo\treply\t1\r\na\r\nPUB  bar \t 1 \r\nb\r\nUNSUB\t1\t\r\nPUB foo 1\r\nc\r\n"
    );
    assert_eq!(
        exchange(&server, session.as_bytes()).await,
        "MSG foo 1 reply 1\r\na\r\nMSG bar 2 1\r\nb\r\n"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn ping_ignores_the_rest_of_its_line() {
    let server = TestServer::default().await;
    assert_eq!(
        exchange_with_pings(&server, b"PINGX\r\nPING foo bar\r\nPING\t\r\n", 3).await,
        "PONG\r\nPONG\r\nPONG\r\n"
    );
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Malformed operations
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn unknown_operation_gets_err_and_close() {
    let server = TestServer::default().await;
    for bad in [
        "FOO\r\n",
        "MSG foo 1 0\r\n\r\n",
        " PING\r\n",
        "\r\n",
        "PIN\r\n",
        "PUBfoo 1\r\n",
        "UNSUB\r\n",
        "UNSUB1\r\n",
        "\0\r\n",
    ] {
        let got = exchange_to_close(&server, format!("{QUIET}{bad}").as_bytes()).await;
        assert_eq!(got, UNKNOWN_OP, "after {bad:?}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn operations_before_an_unknown_one_are_still_answered() {
    let server = TestServer::default().await;
    let got = exchange_to_close(
        &server,
        b"SUB foo 1\r\nPUB foo 1\r\na\r\nPING\r\nXYZ\r\nPING\r\n",
    )
    .await;
    assert_eq!(
        got,
        format!("+OK\r\n+OK\r\nMSG foo 1 1\r\na\r\nPONG\r\n{UNKNOWN_OP}")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_argument_counts_and_sizes_close_without_err() {
    let server = TestServer::default().await;
    for bad in [
        "PUB foo\r\n",
        "PUB foo bar baz 1\r\n",
        "PUB foo x\r\n",
        "PUB foo -1\r\n",
        "PUB foo +1\r\n",
        "PUB  1\r\n",
        "SUB foo\r\n",
        "SUB foo q 1 extra\r\n",
        "UNSUB 1 2 3\r\n",
        "CONNECT\r\n",
    ] {
        let got = exchange_to_close(&server, format!("{QUIET}{bad}").as_bytes()).await;
        assert_eq!(got, "", "after {bad:?}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn payload_not_followed_by_crlf_is_unknown_operation() {
    let server = TestServer::default().await;
    for bad in [
        "PUB foo 2\r\nhiX\r\n",
        "PUB foo 2\r\nhi\n",
        "PUB foo 2\r\nhi\rX\r\n",
        "PUB foo 2\r\nhi\r\r\n",
        "PUB foo 1\r\nhi\r\n",
    ] {
        let got = exchange_to_close(&server, format!("{QUIET}SUB foo 1\r\n{bad}").as_bytes()).await;
        assert_eq!(got, UNKNOWN_OP, "after {bad:?}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn client_err_closes_and_client_info_is_ignored() {
    let server = TestServer::default().await;
    assert_eq!(exchange_to_close(&server, b"-ERR 'bye'\r\n").await, "");
    assert_eq!(exchange_to_close(&server, b"INFO {bad\r\n").await, "");
    assert_eq!(
        exchange(&server, b"INFO {\"server_id\":\"x\"}\r\n+OK\r\nPONG\r\n").await,
        ""
    );
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn control_line_of_4096_argument_bytes_is_accepted() {
    let server = TestServer::default().await;
    let subject = "a".repeat(4094);
    // "SUB " + 4094 + " 1" and "PUB " + 4094 + " 2": both argument sections are 4096.
    let session = format!("{QUIET}SUB {subject} 1\r\nPUB {subject} 2\r\nhi\r\n");
    assert_eq!(
        exchange(&server, session.as_bytes()).await,
        format!("MSG {subject} 1 2\r\nhi\r\n")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn control_line_of_4097_argument_bytes_is_refused() {
    let server = TestServer::default().await;
    let err = "-ERR 'maximum control line exceeded'\r\n";
    let subject = "a".repeat(4095);
    for session in [
        format!("{QUIET}SUB {subject} 1\r\n"),
        format!("{QUIET}PUB {subject} 0\r\n\r\n"),
        format!("{QUIET}UNSUB {}\r\n", "1".repeat(4097)),
        // No line end yet: refused as soon as the 4097th byte arrives.
        format!("{QUIET}SUB {}", "a".repeat(4097)),
    ] {
        let got = exchange_to_close(&server, session.as_bytes()).await;
        assert_eq!(got, err, "{}", &session[..60]);
    }
    // Blanks between the operation name and its arguments do not count.
    let session = format!("{QUIET}SUB{}foo 1\r\nPUB foo 1\r\na\r\n", " ".repeat(5000));
    assert_eq!(
        exchange(&server, session.as_bytes()).await,
        "MSG foo 1 1\r\na\r\n"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn unfinished_control_line_of_4096_bytes_waits_for_more() {
    let server = TestServer::default().await;
    let mut c = RawClient::connect(server.addr).await;
    let subject = "a".repeat(4094);
    c.send(format!("{QUIET}SUB {subject} 1").as_bytes()).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let got = c
        .round_trip(format!("\r\nPUB {subject} 1\r\nx\r\n").as_bytes())
        .await;
    assert_eq!(got, format!("MSG {subject} 1 1\r\nx\r\n"));
    server.shutdown().await;
}

#[tokio::test]
async fn max_payload_is_enforced_on_the_announced_size() {
    let server = TestServer::default().await;
    let err = "-ERR 'Maximum Payload Violation'\r\n";
    // Refused on the control line, before any payload byte is sent.
    assert_eq!(
        exchange_to_close(&server, format!("{QUIET}PUB foo 1048577\r\n").as_bytes()).await,
        err
    );
    assert_eq!(
        exchange_to_close(
            &server,
            format!("{QUIET_HDRS}HPUB foo 12 1048577\r\n").as_bytes()
        )
        .await,
        err
    );
    // Exactly max_payload is delivered.
    let payload = "p".repeat(1024 * 1024);
    let session = format!("{QUIET}SUB foo 1\r\n{}", pub_msg("foo", None, &payload));
    assert_eq!(
        exchange(&server, session.as_bytes()).await,
        format!("MSG foo 1 1048576\r\n{payload}\r\n")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn configured_max_payload_is_advertised_and_enforced() {
    let server = TestServer::start(Options {
        max_payload: 1024,
        ..common::opts()
    })
    .await;
    let c = RawClient::connect(server.addr).await;
    assert_eq!(c.info["max_payload"], 1024);
    let ok = "x".repeat(1024);
    assert_eq!(
        exchange(
            &server,
            format!("{QUIET}SUB foo 1\r\n{}", pub_msg("foo", None, &ok)).as_bytes()
        )
        .await,
        format!("MSG foo 1 1024\r\n{ok}\r\n")
    );
    assert_eq!(
        exchange_to_close(&server, format!("{QUIET}PUB foo 1025\r\n").as_bytes()).await,
        "-ERR 'Maximum Payload Violation'\r\n"
    );
    // HPUB counts headers and payload together.
    assert_eq!(
        exchange_to_close(
            &server,
            format!("{QUIET_HDRS}HPUB foo 12 1025\r\n").as_bytes()
        )
        .await,
        "-ERR 'Maximum Payload Violation'\r\n"
    );
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Subjects
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn invalid_subscription_subject_keeps_the_connection() {
    let server = TestServer::default().await;
    let err = "-ERR 'Invalid Subject'\r\n";
    let session = format!(
        "{QUIET}SUB foo..bar 1\r\nSUB .foo 2\r\nSUB foo. 3\r\nSUB foo.>.bar 4\r\nSUB foo.bar 5\r\n{}",
        pub_msg("foo.bar", None, "ok")
    );
    assert_eq!(
        exchange(&server, session.as_bytes()).await,
        format!("{err}{err}{err}{err}MSG foo.bar 5 2\r\nok\r\n")
    );
    // Verbose: the -ERR replaces the +OK.
    assert_eq!(
        exchange(&server, b"SUB foo..bar 1\r\nSUB foo 2\r\n").await,
        format!("{err}+OK\r\n")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn pedantic_publish_to_wildcard_errs_but_is_delivered() {
    let server = TestServer::default().await;
    let err = "-ERR 'Invalid Publish Subject'\r\n";
    let session = format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":true}}\r\nSUB foo.* 1\r\nSUB foo.bar 2\r\nSUB foo.> 3\r\n{}{}",
        pub_msg("foo.*", None, "w"),
        pub_msg("foo..bar", None, "e"),
    );
    assert_eq!(
        exchange(&server, session.as_bytes()).await,
        format!("{err}MSG foo.* 3 1\r\nw\r\nMSG foo.* 1 1\r\nw\r\n{err}")
    );
    // Default (no CONNECT) is verbose and pedantic: -ERR, then +OK.
    assert_eq!(
        exchange(&server, b"PUB foo.> 0\r\n\r\n").await,
        format!("{err}+OK\r\n")
    );
    // Not pedantic: no error, still routed literally.
    let session = format!(
        "{QUIET}SUB foo.* 1\r\nSUB foo.bar 2\r\n{}",
        pub_msg("foo.*", None, "w")
    );
    assert_eq!(
        exchange(&server, session.as_bytes()).await,
        "MSG foo.* 1 1\r\nw\r\n"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn wildcards_match_tokens() {
    let server = TestServer::default().await;
    let session = format!(
        "{QUIET}SUB foo.* 1\r\nSUB foo.> 2\r\nSUB *.bar.* 3\r\nSUB > 4\r\nSUB foo* 5\r\n{}{}{}{}",
        pub_msg("foo", None, "a"),
        pub_msg("foo.bar", None, "b"),
        pub_msg("foo.bar.baz", None, "c"),
        pub_msg("foo*", None, "d"),
    );
    // One message matching several subscriptions of a connection: compare as a set.
    let got = exchange(&server, session.as_bytes()).await;
    let lines: Vec<&str> = got.split_inclusive("\r\n").collect();
    let mut msgs: Vec<String> = lines.chunks(2).map(|c| c.concat()).collect();
    msgs.sort();
    let mut expected = vec![
        "MSG foo 4 1\r\na\r\n",
        "MSG foo.bar 1 1\r\nb\r\n",
        "MSG foo.bar 2 1\r\nb\r\n",
        "MSG foo.bar 4 1\r\nb\r\n",
        "MSG foo.bar.baz 2 1\r\nc\r\n",
        "MSG foo.bar.baz 3 1\r\nc\r\n",
        "MSG foo.bar.baz 4 1\r\nc\r\n",
        "MSG foo* 4 1\r\nd\r\n",
        "MSG foo* 5 1\r\nd\r\n",
    ];
    expected.sort();
    assert_eq!(msgs, expected);
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Verbose, subscriptions
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn verbose_acknowledges_connect_pub_sub_unsub() {
    let server = TestServer::default().await;
    let session = "CONNECT {\"verbose\":true,\"pedantic\":false}\r\nSUB foo 1\r\nPUB foo 2\r\nhi\r\nUNSUB 1\r\nUNSUB 99\r\nPONG\r\n";
    assert_eq!(
        exchange(&server, session.as_bytes()).await,
        "+OK\r\n+OK\r\n+OK\r\nMSG foo 1 2\r\nhi\r\n+OK\r\n+OK\r\n"
    );
    // verbose:false turns them off from the CONNECT on.
    assert_eq!(
        exchange(
            &server,
            format!("{QUIET}SUB foo 1\r\nUNSUB 1\r\n").as_bytes()
        )
        .await,
        ""
    );
    server.shutdown().await;
}

#[tokio::test]
async fn duplicate_sid_keeps_the_first_subscription() {
    let server = TestServer::default().await;
    let session = format!(
        "SUB foo 1\r\nSUB bar 1\r\nSUB foo q 1\r\n{}{}",
        pub_msg("bar", None, "b"),
        pub_msg("foo", None, "f"),
    );
    assert_eq!(
        exchange(&server, session.as_bytes()).await,
        "+OK\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\nMSG foo 1 1\r\nf\r\n"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn unsub_of_unknown_sid_is_acknowledged() {
    let server = TestServer::default().await;
    assert_eq!(
        exchange(&server, b"UNSUB 42\r\nUNSUB 42 5\r\n").await,
        "+OK\r\n+OK\r\n"
    );
    assert_eq!(
        exchange(&server, format!("{QUIET}UNSUB 42\r\n").as_bytes()).await,
        ""
    );
    server.shutdown().await;
}

#[tokio::test]
async fn unsub_with_max_delivers_that_many_in_total() {
    let server = TestServer::default().await;
    let pubs = |n: usize| {
        (0..n)
            .map(|i| pub_msg("foo", None, &i.to_string()))
            .collect::<String>()
    };
    // Max 2: two messages, then gone.
    let session = format!("{QUIET}SUB foo 1\r\nUNSUB 1 2\r\n{}", pubs(4));
    assert_eq!(
        exchange(&server, session.as_bytes()).await,
        "MSG foo 1 1\r\n0\r\nMSG foo 1 1\r\n1\r\n"
    );
    // Max counts messages already delivered: at or below that count removes now.
    let session = format!("{QUIET}SUB foo 1\r\n{}UNSUB 1 2\r\n{}", pubs(2), pubs(2));
    assert_eq!(
        exchange(&server, session.as_bytes()).await,
        "MSG foo 1 1\r\n0\r\nMSG foo 1 1\r\n1\r\n"
    );
    let session = format!("{QUIET}SUB foo 1\r\n{}UNSUB 1 3\r\n{}", pubs(2), pubs(3));
    assert_eq!(
        exchange(&server, session.as_bytes()).await,
        "MSG foo 1 1\r\n0\r\nMSG foo 1 1\r\n1\r\nMSG foo 1 1\r\n0\r\n"
    );
    // Zero, negative or non-numeric max: removed now.
    for max in ["0", "-1", "x"] {
        let session = format!("{QUIET}SUB foo 1\r\nUNSUB 1 {max}\r\n{}", pubs(1));
        assert_eq!(
            exchange(&server, session.as_bytes()).await,
            "",
            "UNSUB 1 {max}"
        );
    }
    // The sid is free again after the auto-unsubscribe.
    let session = format!(
        "{QUIET}SUB foo 1\r\nUNSUB 1 1\r\n{}SUB foo 1\r\n{}",
        pubs(1),
        pubs(1)
    );
    assert_eq!(
        exchange(&server, session.as_bytes()).await,
        "MSG foo 1 1\r\n0\r\nMSG foo 1 1\r\n0\r\n"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn echo_false_suppresses_own_messages_only() {
    let server = TestServer::default().await;
    let mut other = RawClient::connect(server.addr).await;
    assert_eq!(
        other
            .round_trip(format!("{QUIET}SUB foo 9\r\n").as_bytes())
            .await,
        ""
    );
    let session = format!(
        "CONNECT {{\"verbose\":false,\"echo\":false}}\r\nSUB foo 1\r\n{}",
        pub_msg("foo", None, "a")
    );
    assert_eq!(exchange(&server, session.as_bytes()).await, "");
    assert_eq!(other.round_trip(b"").await, "MSG foo 9 1\r\na\r\n");
    server.shutdown().await;
}

#[tokio::test]
async fn queue_group_with_one_member_gets_every_message() {
    let server = TestServer::default().await;
    let session = format!(
        "{QUIET}SUB foo q 1\r\nSUB foo 2\r\n{}{}",
        pub_msg("foo", None, "a"),
        pub_msg("foo", None, "b")
    );
    assert_eq!(
        exchange(&server, session.as_bytes()).await,
        "MSG foo 2 1\r\na\r\nMSG foo 1 1\r\na\r\nMSG foo 2 1\r\nb\r\nMSG foo 1 1\r\nb\r\n"
    );
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// CONNECT
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn connect_with_bad_json_closes_without_err() {
    let server = TestServer::default().await;
    for bad in [
        "CONNECT {bad\r\n",
        "CONNECT {\"verbose\":\"yes\"}\r\n",
        "CONNECT {} trailing\r\n",
        "CONNECT \"x\"\r\n",
    ] {
        assert_eq!(
            exchange_to_close(&server, bad.as_bytes()).await,
            "",
            "{bad:?}"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn connect_protocol_outside_0_1_is_refused() {
    let server = TestServer::default().await;
    for p in ["2", "-1"] {
        let got = exchange_to_close(
            &server,
            format!("CONNECT {{\"protocol\":{p}}}\r\n").as_bytes(),
        )
        .await;
        assert_eq!(got, "-ERR 'invalid client protocol'\r\n", "protocol {p}");
    }
    assert_eq!(
        exchange(&server, b"CONNECT {\"protocol\":1,\"verbose\":false}\r\n").await,
        ""
    );
    server.shutdown().await;
}

#[tokio::test]
async fn no_responders_requires_headers() {
    let server = TestServer::default().await;
    for connect in [
        "CONNECT {\"no_responders\":true}\r\n",
        "CONNECT {\"no_responders\":true,\"headers\":false}\r\n",
    ] {
        assert_eq!(
            exchange_to_close(&server, connect.as_bytes()).await,
            "-ERR 'no responders requires headers support'\r\n"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn hpub_without_negotiated_headers_closes_without_err() {
    let server = TestServer::default().await;
    let frame = hpub("foo", None, "NATS/1.0\r\n\r\n", "");
    assert_eq!(exchange_to_close(&server, frame.as_bytes()).await, "");
    let got = exchange_to_close(
        &server,
        format!("CONNECT {{\"headers\":false}}\r\n{frame}").as_bytes(),
    )
    .await;
    assert_eq!(got, "+OK\r\n");
    server.shutdown().await;
}

#[tokio::test]
async fn connect_unknown_fields_and_no_separator_are_accepted() {
    let server = TestServer::default().await;
    assert_eq!(
        exchange(
            &server,
            b"CONNECT{\"future_field\":[1,2],\"lang\":\"x\"}\r\n"
        )
        .await,
        "+OK\r\n"
    );
    assert_eq!(
        exchange(
            &server,
            b"CONNECT {\"verbose\":true}\r\nCONNECT {\"verbose\":false}\r\nSUB foo 1\r\n"
        )
        .await,
        "+OK\r\n"
    );
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// INFO
// ---------------------------------------------------------------------------------------

fn version_at_least(v: &str, min: (u64, u64, u64)) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let mut parts = core.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    let got = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    got >= min
}

#[tokio::test]
async fn info_line_is_framed_like_nats_server() {
    let server = TestServer::default().await;
    let line = raw_info_line(&server).await;
    assert!(line.starts_with("INFO {"), "{line:?}");
    assert!(
        line.ends_with("} \r\n"),
        "trailing space before CRLF: {line:?}"
    );
    let json: serde_json::Value = serde_json::from_str(&line[5..line.len() - 3]).unwrap();
    assert!(json.is_object());
    server.shutdown().await;
}

#[tokio::test]
async fn info_fields() {
    let server = TestServer::default().await;
    let a = RawClient::connect(server.addr).await;
    let b = RawClient::connect(server.addr).await;
    let c = RawClient::connect(server.addr).await;
    let info = &a.info;

    let id = info["server_id"].as_str().expect("server_id string");
    assert_eq!(id.len(), 56, "{id}");
    assert!(id.starts_with('N'), "{id}");
    assert_eq!(
        info["server_name"].as_str(),
        Some(id),
        "server_name defaults to server_id"
    );
    let version = info["version"].as_str().expect("version string");
    assert!(version_at_least(version, (2, 10, 0)), "version {version}");
    assert_eq!(info["proto"], 1);
    assert!(info["go"].is_string());
    assert_eq!(info["host"], "127.0.0.1");
    assert_eq!(info["port"], server.addr.port());
    assert_eq!(info["headers"], true);
    assert_eq!(info["max_payload"], 1048576);
    assert_eq!(info["client_ip"], "127.0.0.1");
    assert!(info.get("auth_required").is_none(), "{info}");
    assert!(info.get("tls_required").is_none(), "{info}");
    assert!(info.get("nonce").is_none(), "{info}");

    let ids: Vec<u64> = [&a, &b, &c]
        .iter()
        .map(|c| c.info["client_id"].as_u64().expect("client_id"))
        .collect();
    assert!(
        ids[0] >= 1 && ids[0] < ids[1] && ids[1] < ids[2],
        "client ids {ids:?}"
    );
    // Same server, same id on every connection.
    assert_eq!(b.info["server_id"], info["server_id"]);
    server.shutdown().await;
}

#[tokio::test]
async fn info_server_name_is_configurable() {
    let server = TestServer::start(Options {
        server_name: Some("sluice-a".into()),
        ..common::opts()
    })
    .await;
    let c = RawClient::connect(server.addr).await;
    assert_eq!(c.info["server_name"], "sluice-a");
    assert_ne!(c.info["server_id"], "sluice-a");
    server.shutdown().await;
}

fn user_pass_opts() -> Options {
    Options {
        auth: AuthConfig {
            user: Some("u".into()),
            password: Some("p".into()),
            token: None,
        },
        ..common::opts()
    }
}

#[tokio::test]
async fn info_announces_auth_when_required() {
    let server = TestServer::start(user_pass_opts()).await;
    let c = RawClient::connect(server.addr).await;
    assert_eq!(c.info["auth_required"], true);
    server.shutdown().await;
}

#[tokio::test]
async fn auth_timeout_without_connect() {
    let server = TestServer::start(Options {
        auth_timeout: Duration::from_millis(200),
        ..user_pass_opts()
    })
    .await;
    let mut c = RawClient::connect(server.addr).await;
    assert_eq!(c.read_to_close().await, "-ERR 'Authentication Timeout'\r\n");
    server.shutdown().await;
}

#[tokio::test]
async fn auth_violations() {
    let server = TestServer::start(user_pass_opts()).await;
    let err = "-ERR 'Authorization Violation'\r\n";
    for bad in [
        "SUB foo 1\r\n",
        "PING\r\n",
        "CONNECT {\"user\":\"u\",\"pass\":\"x\"}\r\n",
        "CONNECT {}\r\n",
        "CONNECT {\"auth_token\":\"p\"}\r\n",
        "CONNECT {\"user\":\"u\",\"pass\":\"p\",\"verbose\":false}\r\nCONNECT {\"user\":\"u\",\"pass\":\"x\"}\r\n",
    ] {
        assert_eq!(exchange_to_close(&server, bad.as_bytes()).await, err, "{bad:?}");
    }
    assert_eq!(
        exchange(
            &server,
            b"CONNECT {\"user\":\"u\",\"pass\":\"p\"}\r\nSUB foo 1\r\n"
        )
        .await,
        "+OK\r\n+OK\r\n"
    );
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Headers and no-responders
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn headers_are_stripped_for_clients_without_headers() {
    let server = TestServer::default().await;
    let mut plain = RawClient::connect(server.addr).await;
    let mut hdrs = RawClient::connect(server.addr).await;
    assert_eq!(
        plain
            .round_trip(format!("{QUIET}SUB foo 1\r\n").as_bytes())
            .await,
        ""
    );
    assert_eq!(
        hdrs.round_trip(format!("{QUIET_HDRS}SUB foo 2\r\n").as_bytes())
            .await,
        ""
    );

    let block = "NATS/1.0\r\nA: 1\r\n\r\n";
    let mut publisher = RawClient::connect(server.addr).await;
    let session = format!(
        "{QUIET_HDRS}{}{}{}",
        hpub("foo", None, block, "hi"),
        hpub("foo", Some("r"), block, ""),
        hpub("foo", None, "NATS/1.0\r\n\r\n", "x"),
    );
    assert_eq!(publisher.round_trip(session.as_bytes()).await, "");

    assert_eq!(
        plain.round_trip(b"").await,
        "MSG foo 1 2\r\nhi\r\nMSG foo 1 r 0\r\n\r\nMSG foo 1 1\r\nx\r\n"
    );
    let n = block.len();
    assert_eq!(n, 18);
    assert_eq!(
        hdrs.round_trip(b"").await,
        format!(
            "HMSG foo 2 {n} {}\r\n{block}hi\r\nHMSG foo 2 r {n} {n}\r\n{block}\r\n\
             HMSG foo 2 12 13\r\nNATS/1.0\r\n\r\nx\r\n",
            n + 2
        )
    );
    server.shutdown().await;
}

#[tokio::test]
async fn no_responders_status_bytes() {
    let server = TestServer::default().await;
    for (subject, reply) in [
        ("svc", "_INBOX.abc"),
        ("orders.new", "r"),
        ("a.b.c.d", "_INBOX.x.y"),
    ] {
        let session = format!(
            "{NO_RESPONDERS}SUB {reply} 7\r\n{}",
            pub_msg(subject, Some(reply), "req")
        );
        let n = 32 + subject.len();
        assert_eq!(
            n,
            "NATS/1.0 503\r\nNats-Subject: \r\n\r\n".len() + subject.len()
        );
        assert_eq!(
            exchange(&server, session.as_bytes()).await,
            format!(
                "HMSG {reply} 7 {n} {n}\r\nNATS/1.0 503\r\nNats-Subject: {subject}\r\n\r\n\r\n"
            ),
            "{subject} -> {reply}"
        );
    }
    // Also for an HPUB request, and through a wildcard reply subscription.
    let session = format!(
        "{NO_RESPONDERS}SUB _INBOX.> 3\r\n{}",
        hpub(
            "svc",
            Some("_INBOX.q.1"),
            "NATS/1.0\r\nX: y\r\n\r\n",
            "body"
        )
    );
    assert_eq!(
        exchange(&server, session.as_bytes()).await,
        "HMSG _INBOX.q.1 3 35 35\r\nNATS/1.0 503\r\nNats-Subject: svc\r\n\r\n\r\n"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn no_responders_only_when_nobody_gets_the_message() {
    let server = TestServer::default().await;
    let cases = [
        // A queue subscriber is a responder.
        (
            format!("{NO_RESPONDERS}SUB svc q 9\r\nSUB r 1\r\n{}", pub_msg("svc", Some("r"), "")),
            "MSG svc 9 r 0\r\n\r\n",
        ),
        // No subscription matching the reply: nothing to send the status on.
        (format!("{NO_RESPONDERS}{}", pub_msg("svc", Some("r"), "")), ""),
        // No reply subject: not a request.
        (format!("{NO_RESPONDERS}SUB r 1\r\n{}", pub_msg("svc", None, "")), ""),
        // Headers but no no_responders flag.
        (format!("{QUIET_HDRS}SUB r 1\r\n{}", pub_msg("svc", Some("r"), "")), ""),
        // Own subscription with echo off does not count as a responder.
        (
            format!(
                "CONNECT {{\"verbose\":false,\"echo\":false,\"headers\":true,\"no_responders\":true}}\r\nSUB svc 9\r\nSUB r 1\r\n{}",
                pub_msg("svc", Some("r"), "")
            ),
            "HMSG r 1 35 35\r\nNATS/1.0 503\r\nNats-Subject: svc\r\n\r\n\r\n",
        ),
        // A subscription on a queue group only does not receive the status.
        (format!("{NO_RESPONDERS}SUB r q 1\r\n{}", pub_msg("svc", Some("r"), "")), ""),
    ];
    for (session, expected) in cases {
        assert_eq!(
            exchange(&server, session.as_bytes()).await,
            expected,
            "{session:?}"
        );
    }
    server.shutdown().await;
}

/// nats-server sends the status on the first of the requester's subscriptions in
/// subject-match order (`>` before `*` before literal at each level); with several
/// candidates the choice must at least not change from one connection to the next.
#[tokio::test]
async fn no_responders_picks_the_same_subscription_every_time() {
    let server = TestServer::default().await;
    let session = format!(
        "{NO_RESPONDERS}SUB _INBOX.* 2\r\nSUB _INBOX.a 1\r\nSUB _INBOX.> 3\r\n{}",
        pub_msg("svc", Some("_INBOX.a"), "")
    );
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..12 {
        seen.insert(exchange(&server, session.as_bytes()).await);
    }
    let expected =
        "HMSG _INBOX.a 3 35 35\r\nNATS/1.0 503\r\nNats-Subject: svc\r\n\r\n\r\n".to_string();
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        vec![expected],
        "nats-server always answers on sid 3 (the `>` subscription)"
    );
    server.shutdown().await;
}
