//! What the server tells clients about itself in INFO.

use rand::Rng;
use sluice_proto::ServerInfo;

use crate::config::Options;

/// The nats-server version whose client-visible behaviour Sluice provides. Clients gate
/// features on it (nats.go, nats.js and async-nats enable the 2.10 APIs at 2.10.0).
pub const COMPATIBLE_NATS_VERSION: &str = "2.10.0";

/// Sluice's own version, reported in logs and `--version`.
pub const SLUICE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A server id shaped like nats-server's: `N` followed by 55 base32 characters.
pub fn new_server_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::rng();
    let mut id = String::with_capacity(56);
    id.push('N');
    for _ in 0..55 {
        id.push(ALPHABET[rng.random_range(0..ALPHABET.len())] as char);
    }
    id
}

/// The INFO fields common to every connection; per-connection fields are filled in later.
pub fn info_template(
    opts: &Options,
    server_id: &str,
    port: u16,
    auth_required: bool,
) -> ServerInfo {
    ServerInfo {
        server_id: server_id.to_owned(),
        server_name: opts
            .server_name
            .clone()
            .unwrap_or_else(|| server_id.to_owned()),
        version: COMPATIBLE_NATS_VERSION.to_owned(),
        proto: 1,
        git_commit: None,
        go: format!("sluice {SLUICE_VERSION}"),
        host: opts.host.clone(),
        port,
        headers: !opts.no_header_support,
        auth_required,
        tls_required: false,
        max_payload: opts.max_payload,
        jetstream: opts.jetstream,
        client_id: 0,
        client_ip: String::new(),
        nonce: None,
        connect_urls: Vec::new(),
        ldm: false,
    }
}
