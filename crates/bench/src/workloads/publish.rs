//! Publish-only throughput with the raw client, and the batched publisher the
//! other raw workloads share.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::{payload, unique_subject, Opts, Spec};
use crate::endpoint::Endpoint;
use crate::rawconn::{encode_pub, RawConn};
use crate::report::Outcome;

/// Time allowed for one connection handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Publishes `msgs` copies of a `size`-byte payload on `subject` in writes of
/// about `batch` bytes, then sends `PING` and waits for the `PONG`: when it
/// returns, the server has read and processed every message.
pub fn publish_batched(
    conn: &mut RawConn,
    subject: &str,
    size: usize,
    msgs: u64,
    batch: usize,
    deadline: Instant,
) -> Result<()> {
    let mut frame = Vec::with_capacity(size + subject.len() + 32);
    encode_pub(&mut frame, subject, None, &payload(size));
    let per_batch = (batch / frame.len()).max(1);
    let buf = frame.repeat(per_batch);
    let mut left = msgs;
    while left >= per_batch as u64 {
        conn.write_all(&buf)?;
        left -= per_batch as u64;
        if Instant::now() >= deadline {
            bail!("timed out publishing ({left} of {msgs} messages not sent)");
        }
    }
    // `left < per_batch`, so this fits in usize.
    let tail = left as usize * frame.len();
    conn.write_all(&buf[..tail])?;
    conn.flush(deadline)
        .context("server did not confirm it processed all published messages")
}

/// Publish-only: no subscriber, so the server parses and drops.
pub fn run(spec: &Spec, ep: &Endpoint, opts: &Opts) -> Result<Outcome> {
    let deadline = Instant::now() + opts.timeout;
    let subject = unique_subject("bench", &spec.name);
    let mut conn = RawConn::connect(ep, "sluice-bench-pub", CONNECT_TIMEOUT)?;
    check_payload(&conn, spec.size)?;
    let start = Instant::now();
    publish_batched(
        &mut conn, &subject, spec.size, spec.msgs, opts.batch, deadline,
    )?;
    let secs = start.elapsed().as_secs_f64();
    conn.close();
    Ok(Outcome {
        workload: spec.name.clone(),
        url: ep.url.clone(),
        client: opts.client.name(),
        size: spec.size,
        published: spec.msgs,
        delivered: 0,
        elapsed_secs: secs,
        publish_secs: secs,
        msgs_per_sec: 0.0,
        mb_per_sec: 0.0,
        split: Vec::new(),
        latency: None,
        custom: Vec::new(),
        detail: None,
    }
    .with_rates(spec.msgs))
}

/// Fails early if the server would reject the payload size.
pub fn check_payload(conn: &RawConn, size: usize) -> Result<()> {
    if size > conn.server.max_payload {
        bail!(
            "payload of {size} bytes exceeds the server's max_payload {}",
            conn.server.max_payload
        );
    }
    Ok(())
}
