//! Data-driven parser cases: input bytes → the operations and error the server sees.
//! Expected behaviour was read off nats-server 2.15 over a raw socket.

use super::*;
use proptest::prelude::*;

/// A readable rendering of what the parser produced, one item per op, then the error.
fn render(ops: &[ClientOp], err: Option<&ProtoError>) -> String {
    let s = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
    let mut out: Vec<String> = ops
        .iter()
        .map(|op| match op {
            ClientOp::Connect(j) => format!("CONNECT {}", s(j)),
            ClientOp::Pub {
                subject,
                reply,
                header_len,
                body,
            } => format!(
                "PUB {} {} {:?} {}",
                s(subject),
                reply.as_ref().map(s).unwrap_or_default(),
                header_len,
                s(body)
            ),
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => format!(
                "SUB {} {} {}",
                s(subject),
                queue.as_ref().map(s).unwrap_or_default(),
                s(sid)
            ),
            ClientOp::Unsub { sid, max } => format!("UNSUB {} {:?}", s(sid), max),
            ClientOp::Ping => "PING".into(),
            ClientOp::Pong => "PONG".into(),
            ClientOp::Ok => "+OK".into(),
            ClientOp::Err(e) => format!("-ERR {}", s(e)),
            ClientOp::Info(j) => format!("INFO {}", s(j)),
        })
        .collect();
    if let Some(e) = err {
        out.push(format!("error: {e:?}"));
    }
    out.join(" | ")
}

fn parse_all(input: &[u8], chunk: usize, headers: bool) -> (Vec<ClientOp>, Option<ProtoError>) {
    let mut p = Parser::new(Limits::default());
    p.set_headers(headers);
    let mut buf = BytesMut::new();
    let mut ops = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match p.next_op(&mut buf) {
                Ok(Some(op)) => ops.push(op),
                Ok(None) => break,
                Err(e) => return (ops, Some(e)),
            }
        }
    }
    (ops, None)
}

fn check(input: &[u8], expect: &str) {
    for chunk in [usize::MAX, 1, 2, 3, 7] {
        let (ops, err) = parse_all(input, chunk, true);
        assert_eq!(
            render(&ops, err.as_ref()),
            expect,
            "input {:?} in chunks of {chunk}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn operations() {
    check(b"PING\r\n", "PING");
    check(b"ping\r\nPong\r\n", "PING | PONG");
    check(b"PING x\r\nPINGX\r\nPONGX\r\n", "PING | PING | PONG");
    check(b"PING\n", "PING");
    check(b"+OK\r\n", "+OK");
    check(b"-ERR 'x'\r\n", "-ERR 'x'");
    check(b"INFO {}\r\n", "INFO {}");
    check(b"INFO{}\r\n", "INFO {}");
    check(
        b"CONNECT {\"verbose\":false}\r\n",
        "CONNECT {\"verbose\":false}",
    );
    check(b"connect   {}  \r\n", "CONNECT {}  ");
    check(b"CONNECT\r\n", "CONNECT ");
    check(b"CONNECTX {}\r\n", "CONNECT X {}");
}

#[test]
fn pub_and_hpub() {
    check(b"PUB foo 3\r\nabc\r\n", "PUB foo  None abc");
    check(b"pub foo bar 0\r\n\r\n", "PUB foo bar None ");
    check(b"PUB\tfoo \t 01\r\nx\r\n", "PUB foo  None x");
    check(b"PUB foo 1 \r\na\r\n", "PUB foo  None a");
    check(b"PUB foo 1\na\r\n", "PUB foo  None a");
    check(b"PUB foo 4\r\na\r\nb\r\n", "PUB foo  None a\r\nb");
    check(
        b"HPUB foo r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
        "PUB foo r Some(12) NATS/1.0\r\n\r\nhi",
    );
    check(
        b"HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\nPING\r\n",
        "PUB foo  Some(12) NATS/1.0\r\n\r\n | PING",
    );
}

#[test]
fn nats_server_argument_quirks() {
    // Stray CR/LF bytes inside arguments separate them, as in nats-server.
    check(b"SUB foo\r 1\r\n", "SUB foo  1");
    // A zero-length header block is no header block.
    check(b"HPUB foo 0 2\r\nhi\r\n", "PUB foo  None hi");
    // Sizes are at most 9 digits.
    check(b"PUB foo 000000001\r\nx\r\n", "PUB foo  None x");
    let (_, err) = parse_all(b"PUB foo 0000000001\r\n", usize::MAX, true);
    assert!(matches!(err, Some(ProtoError::BadArguments(_))));
    check(b"UNSUB 1 0000000001\r\n", "UNSUB 1 None");
}

#[test]
fn sub_and_unsub() {
    check(b"SUB foo 1\r\n", "SUB foo  1");
    check(b"SUB foo q 1\r\n", "SUB foo q 1");
    check(b"sub\tfoo\t 1\r\n", "SUB foo  1");
    check(b"UNSUB 1\r\n", "UNSUB 1 None");
    check(b"UNSUB 1 5\r\n", "UNSUB 1 Some(5)");
    // nats-server removes at once on a zero, negative or non-numeric max.
    check(
        b"UNSUB 1 0\r\nUNSUB 1 -5\r\nUNSUB 1 x\r\n",
        "UNSUB 1 None | UNSUB 1 None | UNSUB 1 None",
    );
}

#[test]
fn pipelined() {
    check(
        b"SUB a 1\r\nPUB a 1\r\nx\r\nPING\r\nUNSUB 1\r\n",
        "SUB a  1 | PUB a  None x | PING | UNSUB 1 None",
    );
}

#[test]
fn errors_that_send_unknown_operation() {
    for input in [
        &b"XYZ\r\n"[..],
        b"PUX foo 1\r\n",
        b"PUBX foo 1\r\n",
        b"PUBfoo 1\r\n",
        b"SUBX foo 1\r\n",
        b"UNSUB\r\n",
        b"MSG foo 1 1\r\na\r\n",
        b"\r\nPING\r\n",
        b" PING\r\n",
        b"PUB foo 3\r\nabcXY",
        b"PUB foo 3\r\nabc\n",
        b"PUB foo 1\r\nab\r\n",
    ] {
        let (_, err) = parse_all(input, usize::MAX, true);
        assert_eq!(err, Some(ProtoError::UnknownOperation), "{input:?}");
        assert_eq!(
            err.and_then(|e| e.client_error_text()),
            Some("Unknown Protocol Operation")
        );
    }
}

#[test]
fn errors_that_close_silently() {
    for input in [
        &b"PUB foo\r\n"[..],
        b"PUB foo bar baz 3\r\n",
        b"PUB foo x\r\n",
        b"PUB foo -1\r\n",
        b"PUB foo +1\r\n",
        b"SUB foo\r\n",
        b"SUB foo a b c\r\n",
        b"SUB foo bad\tq 1\r\n",
        b"HPUB foo 13 12\r\n",
        b"HPUB foo 12\r\n",
    ] {
        let (_, err) = parse_all(input, usize::MAX, true);
        assert!(
            matches!(err, Some(ProtoError::BadArguments(_))),
            "{input:?}: {err:?}"
        );
        assert_eq!(err.and_then(|e| e.client_error_text()), None);
    }
    let (_, err) = parse_all(b"HPUB foo 12 12\r\n", usize::MAX, false);
    assert_eq!(err, Some(ProtoError::HeadersNotNegotiated));
}

#[test]
fn max_payload() {
    let (_, err) = parse_all(b"PUB foo 1048577\r\n", usize::MAX, true);
    assert_eq!(err, Some(ProtoError::MaxPayload));
    let (_, err) = parse_all(b"PUB foo 1048576\r\n", usize::MAX, true);
    assert_eq!(err, None);
    let (_, err) = parse_all(b"HPUB foo 12 1048577\r\n", usize::MAX, true);
    assert_eq!(err, Some(ProtoError::MaxPayload));
}

#[test]
fn max_control_line_counts_arguments_only() {
    // Arguments of exactly 4096 bytes pass; 4097 fail (as nats-server).
    let line = |n: usize| {
        let mut v = b"PUB ".to_vec();
        v.extend(std::iter::repeat_n(b'a', n - 2));
        v.extend_from_slice(b" 1\r\nx\r\n");
        v
    };
    for chunk in [usize::MAX, 1, 100] {
        assert_eq!(parse_all(&line(4096), chunk, true).1, None);
        assert_eq!(
            parse_all(&line(4097), chunk, true).1,
            Some(ProtoError::ControlLineTooLong)
        );
    }
    // Without a newline the limit still applies, so memory stays bounded.
    let mut v = b"SUB ".to_vec();
    v.extend(std::iter::repeat_n(b'a', 5000));
    assert_eq!(
        parse_all(&v, 64, true).1,
        Some(ProtoError::ControlLineTooLong)
    );
}

#[test]
fn skipped_lines_are_not_buffered() {
    let mut p = Parser::new(Limits::default());
    let mut buf = BytesMut::from(&b"PING"[..]);
    assert_eq!(p.next_op(&mut buf), Ok(None));
    for _ in 0..100 {
        buf.extend_from_slice(&[b'x'; 1000]);
        assert_eq!(p.next_op(&mut buf), Ok(None));
        assert!(buf.is_empty());
    }
    buf.extend_from_slice(b"\r\nPONG\r\n");
    assert_eq!(p.next_op(&mut buf), Ok(Some(ClientOp::Ping)));
    assert_eq!(p.next_op(&mut buf), Ok(Some(ClientOp::Pong)));
}

proptest! {
    /// Any split of any input gives the same operations and error as one read.
    #[test]
    fn chunking_does_not_change_the_result(
        input in proptest::collection::vec(
            prop_oneof![
                Just(b"PUB foo 3\r\nabc\r\n".to_vec()),
                Just(b"HPUB a.b r 12 13\r\nNATS/1.0\r\n\r\nz\r\n".to_vec()),
                Just(b"SUB foo q 1\r\n".to_vec()),
                Just(b"UNSUB 1 3\r\n".to_vec()),
                Just(b"PING\r\n".to_vec()),
                Just(b"CONNECT {}\r\n".to_vec()),
                proptest::collection::vec(any::<u8>(), 0..8),
            ],
            0..12,
        ),
        chunk in 1usize..40,
    ) {
        let input: Vec<u8> = input.concat();
        let whole = parse_all(&input, usize::MAX, true);
        let split = parse_all(&input, chunk, true);
        prop_assert_eq!(render(&whole.0, whole.1.as_ref()), render(&split.0, split.1.as_ref()));
    }

    /// Arbitrary bytes never panic and never leave more than the limits buffered.
    #[test]
    fn never_panics(input in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let mut p = Parser::new(Limits { max_payload: 64, max_control_line: 32 });
        p.set_headers(true);
        let mut buf = BytesMut::new();
        for piece in input.chunks(17) {
            buf.extend_from_slice(piece);
            loop {
                match p.next_op(&mut buf) {
                    Ok(Some(_)) => continue,
                    Ok(None) => break,
                    Err(_) => return Ok(()),
                }
            }
            prop_assert!(buf.len() <= 64 + 2 + 32 + 16);
        }
    }
}
