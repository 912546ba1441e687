//! Configuration reload (SIGHUP, `--signal reload`): the config file is read again, the
//! command-line flags applied over it, and the options that can change while clients
//! stay connected are applied. The same options as nats-server are reloadable:
//!
//! `debug`, `trace`, `logtime`, `log_file`, `authorization` (user, password, token,
//! timeout), `max_connections`, `max_control_line`, `max_payload`, `ping_interval`,
//! `ping_max`, `write_deadline`, `pid_file`, `ports_file_dir`.
//!
//! A change to any other option refuses the whole reload (nothing is applied) with
//! nats-server's message: `config reload not supported for <option>: old=<v>, new=<v>`.
//!
//! Effects on connected clients: a new `max_payload` or `max_control_line` applies to
//! their next operation, and clients that speak protocol 1 get an INFO with the new
//! `max_payload` (nats-server changes the limit without telling them); when
//! credentials change, clients whose CONNECT no longer passes are closed with
//! `-ERR 'Authorization Violation'`; past a lowered `max_connections` the excess is
//! closed. `ping_interval`, `ping_max` and `write_deadline` apply to new connections.

use std::fmt::Debug;

use sluice_proto::encode;

use crate::auth::Authenticator;
use crate::client::CloseReason;
use crate::config::Options;
use crate::logging::{self, LogConfig};
use crate::process;
use crate::server::ServerShared;

/// Why a reload was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("can only reload config when a file is provided using -c or --config")]
    NoConfigFile,
    #[error("{0}")]
    Config(String),
    #[error("config reload not supported for {option}: old={old}, new={new}")]
    NotSupported {
        option: &'static str,
        old: String,
        new: String,
    },
}

fn refuse<T: Debug + PartialEq>(option: &'static str, old: &T, new: &T) -> Result<(), ReloadError> {
    if old == new {
        return Ok(());
    }
    Err(ReloadError::NotSupported {
        option,
        old: format!("{old:?}"),
        new: format!("{new:?}"),
    })
}

/// Checks that only reloadable options changed.
fn check(old: &Options, new: &Options) -> Result<(), ReloadError> {
    refuse("host", &old.host, &new.host)?;
    // A random port (-1) stays the port the server got.
    if new.port != -1 && old.port != -1 {
        refuse("port", &old.port, &new.port)?;
    }
    refuse("server_name", &old.server_name, &new.server_name)?;
    refuse("max_pending", &old.max_pending, &new.max_pending)?;
    refuse("jetstream", &old.jetstream, &new.jetstream)?;
    refuse("store_dir", &old.store_dir, &new.store_dir)?;
    refuse(
        "max_memory_store",
        &old.max_memory_store,
        &new.max_memory_store,
    )?;
    refuse("max_file_store", &old.max_file_store, &new.max_file_store)?;
    refuse("sync_interval", &old.sync_interval, &new.sync_interval)?;
    refuse("http_port", &old.http_port, &new.http_port)?;
    refuse("http_host", &old.http_host, &new.http_host)?;
    refuse(
        "no_header_support",
        &old.no_header_support,
        &new.no_header_support,
    )?;
    refuse(
        "logfile_size_limit",
        &old.log_size_limit,
        &new.log_size_limit,
    )?;
    refuse("logfile_max_num", &old.log_max_num, &new.log_max_num)?;
    refuse(
        "lame_duck_duration",
        &old.lame_duck_duration,
        &new.lame_duck_duration,
    )?;
    refuse(
        "lame_duck_grace_period",
        &old.lame_duck_grace_period,
        &new.lame_duck_grace_period,
    )?;
    Ok(())
}

/// Applies `new` (the re-read file with the command-line flags over it) to the running
/// server. Returns the `Reloaded: ...` lines to log.
pub fn apply(shared: &ServerShared, mut new: Options) -> Result<Vec<String>, ReloadError> {
    new.validate()
        .map_err(|e| ReloadError::Config(e.to_string()))?;
    let old = shared.options();
    check(&old, &new)?;
    if new.port == -1 {
        new.port = old.port;
    }
    let mut notes = Vec::new();
    macro_rules! note {
        ($field:ident, $name:literal) => {
            if old.$field != new.$field {
                notes.push(format!(concat!("Reloaded: ", $name, " = {:?}"), new.$field));
            }
        };
    }
    note!(trace, "trace");
    note!(debug, "debug");
    note!(logtime, "logtime");
    note!(log_file, "log_file");
    if old.auth.user != new.auth.user {
        notes.push("Reloaded: authorization username".to_owned());
    }
    if old.auth.password != new.auth.password {
        notes.push("Reloaded: authorization password".to_owned());
    }
    if old.auth.token != new.auth.token {
        notes.push("Reloaded: authorization token".to_owned());
    }
    note!(auth_timeout, "authorization timeout");
    note!(max_connections, "max_connections");
    note!(pid_file, "pid_file");
    note!(ports_file_dir, "ports_file_dir");
    note!(max_control_line, "max_control_line");
    note!(max_payload, "max_payload");
    note!(ping_interval, "ping_interval");
    note!(ping_max, "ping_max");
    note!(write_deadline, "write_deadline");

    let log = LogConfig::from_options(&new);
    if log != LogConfig::from_options(&old) {
        logging::reconfigure(&log)
            .map_err(|e| ReloadError::Config(format!("cannot open log file: {e}")))?;
    }
    let auth = Authenticator::new(
        new.auth.user.as_deref(),
        new.auth.password.as_deref(),
        new.auth.token.as_deref(),
    );
    let auth_changed = old.auth != new.auth;
    let payload_changed = old.max_payload != new.max_payload;
    let max_connections = new.max_connections;
    let pid_changed = old.pid_file != new.pid_file;
    let ports_changed = old.ports_file_dir != new.ports_file_dir;
    shared.replace_options(new.clone(), auth.clone());

    let clients = shared.clients();
    let mut kept = Vec::with_capacity(clients.len());
    for c in clients {
        let connect = c.connect_info();
        if auth_changed {
            if let Some((connect, _)) = &connect {
                if !auth.check(connect) {
                    c.out
                        .push(|b| encode::write_err(b, encode::ERR_AUTH_VIOLATION));
                    c.out.close(CloseReason::AuthViolation, true);
                    continue;
                }
            }
        }
        if payload_changed {
            if let Some((connect, peer)) = &connect {
                if connect.protocol >= 1 {
                    let info = shared.client_info(c.cid, *peer);
                    c.out.push(|b| encode::write_info(b, &info));
                    c.out.signal();
                }
            }
        }
        kept.push(c);
    }
    if kept.len() > max_connections {
        let excess = kept.len() - max_connections;
        for c in kept.iter().rev().take(excess) {
            c.out
                .push(|b| encode::write_err(b, encode::ERR_MAX_CONNECTIONS));
            c.out.close(CloseReason::MaxConnections, true);
        }
        notes.push(format!(
            "Closed {excess} connections to fall within max_connections"
        ));
    }
    if pid_changed {
        if let Some(path) = &new.pid_file {
            if let Err(e) = process::write_pid_file(path) {
                notes.push(format!("Failed to write pidfile: {e}"));
            }
        }
    }
    if ports_changed {
        if let Some(dir) = &old.ports_file_dir {
            process::remove_ports_file(dir);
        }
        if let Some(dir) = &new.ports_file_dir {
            if let Err(e) = process::write_ports_file(dir, shared) {
                notes.push(format!("Error writing ports file: {e}"));
            }
        }
    }
    Ok(notes)
}
