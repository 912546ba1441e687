//! Maps a parsed configuration onto [`Options`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use sluice_conf::{Entry, Item, Map, Value};

use super::duration::parse_duration;
use super::{
    ConfigError, ConfigWarning, Options, SyncInterval, DEFAULT_AUTH_TIMEOUT,
    DEFAULT_MAX_CONTROL_LINE, DEFAULT_MAX_PAYLOAD, DEFAULT_MAX_PENDING, DEFAULT_PING_INTERVAL,
    DEFAULT_PING_MAX, DEFAULT_PORT, DEFAULT_WRITE_DEADLINE, MAX_PAYLOAD_WARN_SIZE,
};

/// Top-level keys nats-server understands that Sluice does not implement.
const UNSUPPORTED_TOP: &[&str] = &[
    "client_advertise",
    "trace_headers",
    "logtime_utc",
    "mappings",
    "maps",
    "disable_sublist_cache",
    "no_sublist_cache",
    "default_sentinel",
    "https",
    "https_port",
    "http_base_path",
    "cluster",
    "gateway",
    "leaf",
    "leafnodes",
    "syslog",
    "remote_syslog",
    "prof_port",
    "prof_block_rate",
    "proxy_protocol",
    "max_traced_msg_len",
    "max_subscriptions",
    "max_subs",
    "max_sub_tokens",
    "max_subscription_tokens",
    "ocsp",
    "write_timeout",
    "resolver_tls",
    "resolver_preload",
    "resolver_pinned_accounts",
    "no_system_account",
    "no_system",
    "no_sys_acc",
    "connect_error_reports",
    "reconnect_error_reports",
    "websocket",
    "ws",
    "mqtt",
    "server_tags",
    "server_metadata",
    "feature_flags",
    "default_js_domain",
    "ocsp_cache",
    "no_fast_producer_stall",
    "max_closed_clients",
    "proxies",
];

/// Unsupported keys that configure security: ignoring them leaves the server
/// less protected than the file asks for, so the warning says so.
const UNSUPPORTED_SECURITY: &[&str] = &[
    "tls",
    "allow_non_tls",
    "accounts",
    "operator",
    "operators",
    "roots",
    "root",
    "root_operators",
    "root_operator",
    "resolver",
    "account_resolver",
    "accounts_resolver",
    "trusted",
    "trusted_keys",
    "no_auth_user",
    "system_account",
    "system",
];

const UNSUPPORTED_JETSTREAM: &[&str] = &[
    "strict",
    "domain",
    "key",
    "ek",
    "encryption_key",
    "prev_key",
    "prev_ek",
    "prev_encryption_key",
    "cipher",
    "extension_hint",
    "limits",
    "tpm",
    "unique_tag",
    "max_outstanding_catchup",
    "max_buffered_size",
    "max_buffered_msgs",
    "request_queue_limit",
    "info_queue_limit",
    "meta_compact",
    "meta_compact_size",
    "meta_compact_sync",
    "max_concurrent_io",
];

const UNSUPPORTED_AUTH_SECURITY: &[&str] = &[
    "users",
    "default_permission",
    "default_permissions",
    "permissions",
    "auth_callout",
    "auth_hook",
    "proxy_required",
];

type Res<T> = Result<T, ConfigError>;

/// Where an option was set: file, line and the key as written.
#[derive(Clone)]
struct Origin {
    file: PathBuf,
    line: u32,
    key: String,
}

struct Mapper {
    opts: Options,
    warnings: Vec<ConfigWarning>,
    /// Option name → where the file set it, for validation messages.
    origins: HashMap<&'static str, Origin>,
}

fn invalid(item: &Item, key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        file: item.pos.file.to_path_buf(),
        line: item.pos.line,
        key: key.to_string(),
        message: message.into(),
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Maps a parsed configuration onto [`Options`] (starting from the
/// defaults), and validates the result.
pub fn options_from_map(map: &Map) -> Result<(Options, Vec<ConfigWarning>), ConfigError> {
    let mut m = Mapper {
        opts: Options::default(),
        warnings: Vec::new(),
        origins: HashMap::new(),
    };
    for entry in map.entries() {
        m.top_level(entry)?;
    }
    m.finish()
}

impl Mapper {
    fn set_origin(&mut self, option: &'static str, item: &Item, key: &str) {
        self.origins.insert(
            option,
            Origin {
                file: item.pos.file.to_path_buf(),
                line: item.pos.line,
                key: key.to_string(),
            },
        );
    }

    fn warn(&mut self, entry: &Entry, key: String, message: String) {
        self.warnings.push(ConfigWarning {
            file: entry.key_pos.file.to_path_buf(),
            line: entry.key_pos.line,
            key,
            message,
        });
    }

    /// Warns about a key this level does not handle. Keys only used as
    /// `$variables` are not reported (nats-server does the same).
    /// An option Sluice does not act on. Security options are refused: starting without
    /// the protection a config asks for would fail open.
    fn unhandled(
        &mut self,
        entry: &Entry,
        key: String,
        unsupported: bool,
        security: bool,
    ) -> Res<()> {
        if entry.used_as_variable {
            return Ok(());
        }
        if security {
            return Err(invalid(
                &entry.item,
                &key,
                "is not supported by this version of Sluice; refusing to start without the security it configures",
            ));
        }
        let message = if unsupported {
            format!("unsupported field \"{key}\" is ignored")
        } else {
            format!("unknown field \"{key}\"")
        };
        self.warn(entry, key, message);
        Ok(())
    }

    fn top_level(&mut self, entry: &Entry) -> Res<()> {
        let key = entry.key.as_str();
        let item = &entry.item;
        let o = &mut self.opts;
        match key.to_ascii_lowercase().as_str() {
            "listen" => {
                let (host, port) = host_port(item, key)?;
                if let Some(h) = host {
                    o.host = h;
                }
                o.port = if port == 0 { DEFAULT_PORT } else { port };
                self.set_origin("port", item, key);
            }
            "port" => {
                let port = port_value(item, key)?;
                o.port = if port == 0 { DEFAULT_PORT } else { port };
                self.set_origin("port", item, key);
            }
            "host" | "net" => {
                let h = string(item, key)?;
                o.host = if h.is_empty() {
                    super::DEFAULT_HOST.to_string()
                } else {
                    h
                };
            }
            "server_name" => {
                o.server_name = non_empty(string(item, key)?);
                self.set_origin("server_name", item, key);
            }
            "debug" => o.debug = boolean(item, key)?,
            "trace" => o.trace = boolean(item, key)?,
            "trace_verbose" => o.trace = boolean(item, key)?,
            "logtime" => o.logtime = boolean(item, key)?,
            "logfile" | "log_file" => o.log_file = path(item, key)?,
            "logfile_size_limit" | "log_size_limit" => {
                o.log_size_limit = size(item, key, i64::MAX as u64)? as u64;
            }
            "logfile_max_num" | "log_max_num" => {
                o.log_max_num = size(item, key, i64::MAX as u64)?;
            }
            "lame_duck_duration" => {
                let d = self.duration(entry, key.to_string())?;
                if d < Duration::from_secs(30) {
                    return Err(invalid(
                        item,
                        key,
                        format!("invalid lame_duck_duration of {d:?}, minimum is 30 seconds"),
                    ));
                }
                self.opts.lame_duck_duration = d;
                self.set_origin("lame_duck_grace_period", item, key);
            }
            "lame_duck_grace_period" => {
                self.opts.lame_duck_grace_period = self.duration(entry, key.to_string())?;
                self.set_origin("lame_duck_grace_period", item, key);
            }
            "pidfile" | "pid_file" => o.pid_file = path(item, key)?,
            "ports_file_dir" => o.ports_file_dir = path(item, key)?,
            "no_header_support" => o.no_header_support = boolean(item, key)?,
            "http" => {
                let (host, port) = host_port(item, key)?;
                o.http_host = host;
                o.http_port = (port != 0).then_some(port);
                self.set_origin("http_port", item, key);
            }
            "http_port" | "monitor_port" => {
                let port = port_value(item, key)?;
                o.http_port = (port != 0).then_some(port);
                self.set_origin("http_port", item, key);
            }
            "max_payload" => {
                let v = size(item, key, i32::MAX as u64)?;
                o.max_payload = if v == 0 { DEFAULT_MAX_PAYLOAD } else { v };
                self.set_origin("max_payload", item, key);
                if v > MAX_PAYLOAD_WARN_SIZE {
                    let message = format!(
                        "max_payload of {v} bytes is over 8MB: large payloads are generally \
                         discouraged and can lead to poor performance"
                    );
                    self.warn(entry, key.to_string(), message);
                }
            }
            "max_pending" => {
                let v = size(item, key, i64::MAX as u64)?;
                o.max_pending = if v == 0 { DEFAULT_MAX_PENDING } else { v };
                self.set_origin("max_pending", item, key);
            }
            "max_control_line" => {
                let v = size(item, key, i32::MAX as u64)?;
                o.max_control_line = if v == 0 { DEFAULT_MAX_CONTROL_LINE } else { v };
            }
            "max_connections" | "max_conn" => {
                o.max_connections = size(item, key, i64::MAX as u64)?;
            }
            "ping_interval" => {
                let d = self.duration(entry, key.to_string())?;
                self.opts.ping_interval = if d.is_zero() {
                    DEFAULT_PING_INTERVAL
                } else {
                    d
                };
            }
            "ping_max" => {
                let v = size(item, key, u64::from(u32::MAX))? as u32;
                o.ping_max = if v == 0 { DEFAULT_PING_MAX } else { v };
            }
            "write_deadline" => {
                let d = self.duration(entry, key.to_string())?;
                self.opts.write_deadline = if d.is_zero() {
                    DEFAULT_WRITE_DEADLINE
                } else {
                    d
                };
            }
            "store_dir" | "storedir" => self.store_dir(item, key.to_string())?,
            "jetstream" => self.jetstream(entry)?,
            "authorization" => self.authorization(entry)?,
            other => {
                let security = UNSUPPORTED_SECURITY.contains(&other);
                let unsupported = security || UNSUPPORTED_TOP.contains(&other);
                self.unhandled(entry, key.to_string(), unsupported, security)?;
            }
        }
        Ok(())
    }

    fn store_dir(&mut self, item: &Item, key: String) -> Res<()> {
        let Some(dir) = path(item, &key)? else {
            return Ok(());
        };
        if let Some(prev) = self.origins.get("store_dir") {
            return Err(invalid(
                item,
                &key,
                format!(
                    "duplicate 'store_dir' configuration (already set by \"{}\" at {}:{})",
                    prev.key,
                    prev.file.display(),
                    prev.line
                ),
            ));
        }
        self.opts.store_dir = Some(dir);
        self.set_origin("store_dir", item, &key);
        Ok(())
    }

    fn jetstream(&mut self, entry: &Entry) -> Res<()> {
        let item = &entry.item;
        let key = entry.key.as_str();
        match &item.value {
            Value::Bool(b) => self.opts.jetstream = *b,
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "enabled" | "enable" => self.opts.jetstream = true,
                "disabled" | "disable" => self.opts.jetstream = false,
                _ => {
                    return Err(invalid(
                        item,
                        key,
                        format!("expected 'enabled' or 'disabled' for string value, got {s:?}"),
                    ))
                }
            },
            Value::Map(map) => {
                let mut enable = true;
                for e in map.entries() {
                    let sub = join(key, &e.key);
                    let it = &e.item;
                    match e.key.to_ascii_lowercase().as_str() {
                        "store" | "store_dir" | "storedir" => self.store_dir(it, sub)?,
                        "max_memory_store" | "max_mem_store" | "max_mem" => {
                            self.opts.max_memory_store = Some(storage_size(it, &sub)?);
                        }
                        "max_file_store" | "max_file" => {
                            self.opts.max_file_store = Some(storage_size(it, &sub)?);
                        }
                        "sync" | "sync_interval" => {
                            let always = it
                                .value
                                .as_str()
                                .is_some_and(|s| s.eq_ignore_ascii_case("always"));
                            self.opts.sync_interval = Some(if always {
                                SyncInterval::Always
                            } else {
                                SyncInterval::Every(self.duration(e, sub)?)
                            });
                        }
                        "enable" | "enabled" => enable = boolean(it, &sub)?,
                        other => {
                            let unsupported = UNSUPPORTED_JETSTREAM.contains(&other);
                            self.unhandled(e, sub, unsupported, false)?;
                        }
                    }
                }
                self.opts.jetstream = enable;
            }
            other => {
                return Err(invalid(
                    item,
                    key,
                    format!(
                        "expected a boolean, 'enabled', 'disabled' or a map, got {}",
                        other.describe()
                    ),
                ))
            }
        }
        Ok(())
    }

    fn authorization(&mut self, entry: &Entry) -> Res<()> {
        let item = &entry.item;
        let key = entry.key.as_str();
        let Value::Map(map) = &item.value else {
            return Err(invalid(
                item,
                key,
                format!("expected a map, got {}", item.value.describe()),
            ));
        };
        for e in map.entries() {
            let sub = join(key, &e.key);
            let it = &e.item;
            match e.key.to_ascii_lowercase().as_str() {
                "user" | "username" => self.opts.auth.user = non_empty(string(it, &sub)?),
                "pass" | "password" => self.opts.auth.password = non_empty(string(it, &sub)?),
                "token" => self.opts.auth.token = non_empty(string(it, &sub)?),
                "timeout" => {
                    let d = auth_timeout(it, &sub)?;
                    if d > Duration::from_secs(60) {
                        let message = format!(
                            "timeout of {} seconds is high, consider keeping it under 60 \
                             seconds (an unquoted 1m is 1,000,000; write \"1m\")",
                            d.as_secs_f64()
                        );
                        self.warn(e, sub, message);
                    }
                    self.opts.auth_timeout = if d.is_zero() { DEFAULT_AUTH_TIMEOUT } else { d };
                }
                other => {
                    let security = UNSUPPORTED_AUTH_SECURITY.contains(&other);
                    self.unhandled(e, sub, security, security)?;
                }
            }
        }
        self.set_origin("authorization", item, key);
        Ok(())
    }

    /// A duration: a Go duration string, or an integer number of seconds
    /// (accepted with a warning, as nats-server does).
    fn duration(&mut self, entry: &Entry, key: String) -> Res<Duration> {
        let item = &entry.item;
        match &item.value {
            Value::String(s) => parse_duration(s)
                .map_err(|e| invalid(item, &key, format!("error parsing duration: {e}"))),
            Value::Int(n) => {
                let secs = u64::try_from(*n).map_err(|_| {
                    invalid(
                        item,
                        &key,
                        format!("duration must not be negative, got {n}"),
                    )
                })?;
                let message = format!(
                    "{key} should be a duration string such as \"{n}s\"; the integer {n} is taken as \
                     seconds (note that an unquoted 2m means 2,000,000)"
                );
                self.warn(entry, key, message);
                Ok(Duration::from_secs(secs))
            }
            other => Err(invalid(
                item,
                &key,
                format!(
                    "expected a duration string (e.g. \"2m\", \"10s\"), got {}",
                    other.describe()
                ),
            )),
        }
    }

    fn finish(self) -> Result<(Options, Vec<ConfigWarning>), ConfigError> {
        if let Some((option, message)) = self.opts.problem() {
            // Report the problem where the file set the option, if it did.
            let origin = match option {
                "max_payload" => self
                    .origins
                    .get("max_payload")
                    .or_else(|| self.origins.get("max_pending")),
                other => self.origins.get(other),
            };
            return Err(match origin {
                Some(o) => ConfigError::Invalid {
                    file: o.file.clone(),
                    line: o.line,
                    key: o.key.clone(),
                    message,
                },
                None => ConfigError::Validation {
                    key: option.to_string(),
                    message,
                },
            });
        }
        Ok((self.opts, self.warnings))
    }
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn string(item: &Item, key: &str) -> Res<String> {
    match &item.value {
        Value::String(s) => Ok(s.clone()),
        other => Err(invalid(
            item,
            key,
            format!("expected a string, got {}", other.describe()),
        )),
    }
}

/// A path; an empty string means unset.
fn path(item: &Item, key: &str) -> Res<Option<PathBuf>> {
    Ok(non_empty(string(item, key)?).map(PathBuf::from))
}

fn boolean(item: &Item, key: &str) -> Res<bool> {
    match &item.value {
        Value::Bool(b) => Ok(*b),
        other => Err(invalid(
            item,
            key,
            format!("expected a boolean (true/false), got {}", other.describe()),
        )),
    }
}

fn integer(item: &Item, key: &str) -> Res<i64> {
    match &item.value {
        Value::Int(n) => Ok(*n),
        Value::String(s) if looks_like_size(s) => Err(invalid(
            item,
            key,
            format!("expected an integer, got string {s:?} (write sizes unquoted, e.g. {s})"),
        )),
        other => Err(invalid(
            item,
            key,
            format!("expected an integer, got {}", other.describe()),
        )),
    }
}

fn looks_like_size(s: &str) -> bool {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && s.len() - digits <= 3 && s[digits..].bytes().all(|b| b.is_ascii_alphabetic())
}

/// A non-negative integer no larger than `max`.
fn size(item: &Item, key: &str, max: u64) -> Res<usize> {
    let n = integer(item, key)?;
    let v = u64::try_from(n)
        .map_err(|_| invalid(item, key, format!("must not be negative, got {n}")))?;
    if v > max {
        return Err(invalid(
            item,
            key,
            format!("value {n} is too big (maximum {max})"),
        ));
    }
    usize::try_from(v).map_err(|_| invalid(item, key, format!("value {n} is too big")))
}

fn port_value(item: &Item, key: &str) -> Res<i32> {
    let n = integer(item, key)?;
    check_port(item, key, n)
}

fn check_port(item: &Item, key: &str, n: i64) -> Res<i32> {
    if !(-1..=65535).contains(&n) {
        return Err(invalid(
            item,
            key,
            format!("port {n} out of range (-1 for random, or 0..=65535)"),
        ));
    }
    Ok(n as i32)
}

/// `listen`/`http`: a port, or `"host:port"` (`"[::1]:4222"`, `":4222"`).
/// Returns the host (None when not given) and the port.
fn host_port(item: &Item, key: &str) -> Res<(Option<String>, i32)> {
    match &item.value {
        Value::Int(n) => Ok((None, check_port(item, key, *n)?)),
        Value::String(s) => {
            let (host, port) = split_host_port(s).map_err(|why| {
                invalid(
                    item,
                    key,
                    format!("could not parse address string {s:?}: {why}"),
                )
            })?;
            let n: i64 = port
                .parse()
                .map_err(|_| invalid(item, key, format!("could not parse port {port:?}")))?;
            Ok((non_empty(host.to_string()), check_port(item, key, n)?))
        }
        other => Err(invalid(
            item,
            key,
            format!("expected port or host:port, got {}", other.describe()),
        )),
    }
}

/// Splits like Go's `net.SplitHostPort`.
fn split_host_port(s: &str) -> Result<(&str, &str), &'static str> {
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']').ok_or("missing ']' in address")?;
        let host = &rest[..end];
        let port = rest[end + 1..]
            .strip_prefix(':')
            .ok_or("missing port in address")?;
        if port.contains([':', '[', ']']) || host.contains('[') {
            return Err("unexpected characters in address");
        }
        return Ok((host, port));
    }
    let i = s.rfind(':').ok_or("missing port in address")?;
    let (host, port) = (&s[..i], &s[i + 1..]);
    if host.contains(':') {
        return Err("too many colons in address");
    }
    if host.contains(['[', ']']) {
        return Err("unexpected characters in address");
    }
    Ok((host, port))
}

/// JetStream storage limits: an integer (the config lexer already applied
/// any unquoted suffix), or a string with a binary suffix as nats-server
/// accepts (`"1G"`, `"512M"`, `"10K"`, `"1T"`), also `"1GB"`/`"1GiB"`.
fn storage_size(item: &Item, key: &str) -> Res<i64> {
    match &item.value {
        Value::Int(n) => Ok(*n),
        Value::String(s) => {
            if s.is_empty() {
                return Ok(0);
            }
            let bad = || {
                invalid(
                    item,
                    key,
                    format!("invalid size {s:?}: sizes given as strings must end in K, M, G or T"),
                )
            };
            let digits_end = s
                .char_indices()
                .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
                .map_or(s.len(), |(i, _)| i);
            let num: i64 = s[..digits_end].parse().map_err(|_| bad())?;
            let shift = match s[digits_end..].to_ascii_uppercase().as_str() {
                "K" | "KB" | "KIB" => 10,
                "M" | "MB" | "MIB" => 20,
                "G" | "GB" | "GIB" => 30,
                "T" | "TB" | "TIB" => 40,
                _ => return Err(bad()),
            };
            num.checked_mul(1i64 << shift)
                .ok_or_else(|| invalid(item, key, format!("size {s:?} is out of range")))
        }
        other => Err(invalid(
            item,
            key,
            format!(
                "expected a size (integer or string like \"1G\"), got {}",
                other.describe()
            ),
        )),
    }
}

/// `authorization.timeout`: seconds (integer or float) or a duration string.
fn auth_timeout(item: &Item, key: &str) -> Res<Duration> {
    let secs = match &item.value {
        Value::Int(n) => *n as f64,
        Value::Float(x) => *x,
        Value::String(s) => {
            return parse_duration(s)
                .map_err(|e| invalid(item, key, format!("error parsing timeout: {e}")))
        }
        other => {
            return Err(invalid(
                item,
                key,
                format!(
                    "expected seconds or a duration string, got {}",
                    other.describe()
                ),
            ))
        }
    };
    Duration::try_from_secs_f64(secs)
        .map_err(|_| invalid(item, key, format!("invalid timeout of {secs} seconds")))
}
