//! Lame-duck mode (SIGUSR2, `--signal ldm`), as nats-server: stop accepting clients,
//! tell the connected ones with an INFO carrying `"ldm":true` (clients that speak
//! protocol 1), wait `lame_duck_grace_period`, then close the clients one at a time
//! spread over the rest of `lame_duck_duration` (at most one second apart), so that
//! they do not all reconnect elsewhere at once. The caller shuts the server down when
//! [`run`] returns.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use sluice_proto::encode;

use crate::client::CloseReason;
use crate::server::ServerShared;

/// Runs lame-duck mode to its end: every client closed. Returns at once if lame-duck
/// mode had already begun or the server is shutting down.
pub async fn run(shared: Arc<ServerShared>) {
    if !shared.begin_lame_duck() {
        return;
    }
    tracing::info!("Entering lame duck mode, stop accepting new clients");
    let opts = shared.options();
    let clients = shared.clients();
    if clients.is_empty() {
        return;
    }
    for c in &clients {
        if let Some((connect, peer)) = c.connect_info() {
            if connect.protocol >= 1 {
                let info = shared.client_info(c.cid, peer);
                c.out.push(|b| encode::write_info(b, &info));
                c.out.signal();
            }
        }
    }
    tokio::time::sleep(opts.lame_duck_grace_period).await;
    tracing::info!("Closing existing clients");
    let spread = opts
        .lame_duck_duration
        .saturating_sub(opts.lame_duck_grace_period);
    let spread = if spread.is_zero() {
        Duration::from_secs(1)
    } else {
        spread
    };
    let interval = (spread / clients.len() as u32).min(Duration::from_secs(1));
    let last = clients.len() - 1;
    for (i, c) in clients.iter().enumerate() {
        c.out.close(CloseReason::ServerShutdown, true);
        if i == last {
            break;
        }
        // A random pause of half to all of the interval, as nats-server.
        let nanos = interval.as_nanos().max(2) as u64;
        let pause = rand::rng().random_range(nanos / 2..nanos);
        tokio::time::sleep(Duration::from_nanos(pause)).await;
    }
}
