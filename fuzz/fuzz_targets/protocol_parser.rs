//! Feeds arbitrary bytes to the protocol parser, split at fuzzer-chosen points, and checks
//! that the split never changes the result and that buffered bytes stay within limits.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sluice_proto::{ClientOp, Limits, Parser, ProtoError};

const LIMITS: Limits = Limits {
    max_payload: 256,
    max_control_line: 64,
};

fn parse(input: &[u8], chunk: usize) -> (Vec<ClientOp>, Option<ProtoError>) {
    let mut parser = Parser::new(LIMITS);
    parser.set_headers(true);
    let mut buf = BytesMut::new();
    let mut ops = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match parser.next_op(&mut buf) {
                Ok(Some(op)) => ops.push(op),
                Ok(None) => break,
                Err(e) => return (ops, Some(e)),
            }
        }
        // Never more than one unfinished frame is held.
        assert!(buf.len() <= LIMITS.max_payload + 2 + LIMITS.max_control_line + 16 + piece.len());
    }
    (ops, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, input)) = data.split_first() else {
        return;
    };
    let whole = parse(input, usize::MAX);
    let pieces = parse(input, split as usize % 17 + 1);
    assert_eq!(whole, pieces);
});
