//! Everything a client or the disk hands the consumer code: ack subjects and bodies,
//! pull requests, consumer create requests, and persisted consumer records. None may
//! panic; a decoded state record must encode back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_jetstream::consumer::{ack, persist, pull, validate};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ack::parse_subject(text);
    }
    let _ = ack::parse_body(data);
    let _ = pull::parse_next(data);
    let _ = validate::decode_create(data);
    let _ = validate::decode_stored(data);
    let _ = persist::decode_config(data);
    if let Ok(state) = persist::decode_state(data) {
        assert_eq!(persist::encode_state(&state), data, "state records round-trip");
    }
});
