//! Server options: defaults, the NATS configuration file (parsed by
//! `sluice-conf`) mapped onto them, and validation.
//!
//! ```text
//! load_file(path) = sluice_conf::parse_file(path) + options_from_map(..)
//! ```
//!
//! Command-line flags are applied by the caller on the returned [`Options`]
//! (flags override file values, as in nats-server); call
//! [`Options::validate`] afterwards.
//!
//! Unknown keys, and nats-server keys Sluice does not implement, produce
//! [`ConfigWarning`]s, never errors. Wrong types and invalid values are
//! [`ConfigError`]s naming the file, line and key.

mod duration;
mod from_conf;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use duration::{parse_duration, DurationError};
pub use from_conf::options_from_map;
pub use sluice_conf::ConfError;

/// Default client port.
pub const DEFAULT_PORT: i32 = 4222;
/// Default bind host.
pub const DEFAULT_HOST: &str = "0.0.0.0";
/// Default maximum message payload (1 MiB).
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;
/// max_payload above this draws a warning (8 MiB), as in nats-server.
pub const MAX_PAYLOAD_WARN_SIZE: usize = 8 * 1024 * 1024;
/// Default per-connection outbound buffer limit (64 MiB).
pub const DEFAULT_MAX_PENDING: usize = 64 * 1024 * 1024;
/// Default maximum protocol control line length.
pub const DEFAULT_MAX_CONTROL_LINE: usize = 4096;
/// Default maximum number of client connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 64 * 1024;
/// Default server-to-client PING period.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(120);
/// Default maximum of unanswered PINGs.
pub const DEFAULT_PING_MAX: u32 = 2;
/// Default write deadline.
pub const DEFAULT_WRITE_DEADLINE: Duration = Duration::from_secs(10);
/// Default time a client has to send CONNECT.
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(2);
/// Default time lame-duck mode spreads the closing of clients over.
pub const DEFAULT_LAME_DUCK_DURATION: Duration = Duration::from_secs(120);
/// Default wait, in lame-duck mode, before the first client is closed.
pub const DEFAULT_LAME_DUCK_GRACE_PERIOD: Duration = Duration::from_secs(10);

/// Validated server options. Build with `Options::default()` and/or
/// [`load_file`] / [`options_from_map`].
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Client listener host; default `"0.0.0.0"`.
    pub host: String,
    /// Client port; default 4222; `-1` = random (the server binds port 0).
    /// `port: 0` in a file means the default, as in nats-server.
    pub port: i32,
    pub server_name: Option<String>,
    /// Default 1 MiB; must not exceed `max_pending`.
    pub max_payload: usize,
    /// Default 64 MiB.
    pub max_pending: usize,
    /// Default 4096.
    pub max_control_line: usize,
    /// Default 65536. `max_connections: 0` in a file means no client is
    /// accepted, as in nats-server.
    pub max_connections: usize,
    /// Default 2 minutes.
    pub ping_interval: Duration,
    /// Default 2.
    pub ping_max: u32,
    /// Default 10 s.
    pub write_deadline: Duration,
    /// `authorization.timeout`; default 2 s.
    pub auth_timeout: Duration,
    pub jetstream: bool,
    /// `jetstream.store_dir` or top-level `store_dir` (the server stores
    /// under `<dir>/jetstream`).
    pub store_dir: Option<PathBuf>,
    pub max_memory_store: Option<i64>,
    pub max_file_store: Option<i64>,
    pub sync_interval: Option<SyncInterval>,
    pub auth: AuthConfig,
    pub debug: bool,
    pub trace: bool,
    /// Default true.
    pub logtime: bool,
    pub log_file: Option<PathBuf>,
    /// `logfile_size_limit`: rotate the log file past this many bytes; 0 = never.
    pub log_size_limit: u64,
    /// `logfile_max_num`: keep at most this many log files (the live one and
    /// its backups); 0 = keep all.
    pub log_max_num: usize,
    /// `lame_duck_duration`: time over which lame-duck mode closes clients.
    pub lame_duck_duration: Duration,
    /// `lame_duck_grace_period`: wait before lame-duck mode closes the first client.
    pub lame_duck_grace_period: Duration,
    /// Monitoring port (`http`, `http_port`, `monitor_port`); `-1` = random.
    /// `None` = no monitoring (also for port 0, as in nats-server).
    pub http_port: Option<i32>,
    /// Monitoring host when given as `http: host:port`; `None` = same as
    /// `host`.
    pub http_host: Option<String>,
    pub pid_file: Option<PathBuf>,
    pub ports_file_dir: Option<PathBuf>,
    pub no_header_support: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            host: DEFAULT_HOST.to_string(),
            port: DEFAULT_PORT,
            server_name: None,
            max_payload: DEFAULT_MAX_PAYLOAD,
            max_pending: DEFAULT_MAX_PENDING,
            max_control_line: DEFAULT_MAX_CONTROL_LINE,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            ping_interval: DEFAULT_PING_INTERVAL,
            ping_max: DEFAULT_PING_MAX,
            write_deadline: DEFAULT_WRITE_DEADLINE,
            auth_timeout: DEFAULT_AUTH_TIMEOUT,
            jetstream: false,
            store_dir: None,
            max_memory_store: None,
            max_file_store: None,
            sync_interval: None,
            auth: AuthConfig::default(),
            debug: false,
            trace: false,
            logtime: true,
            log_file: None,
            log_size_limit: 0,
            log_max_num: 0,
            lame_duck_duration: DEFAULT_LAME_DUCK_DURATION,
            lame_duck_grace_period: DEFAULT_LAME_DUCK_GRACE_PERIOD,
            http_port: None,
            http_host: None,
            pid_file: None,
            ports_file_dir: None,
            no_header_support: false,
        }
    }
}

/// How often JetStream file storage is synced to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncInterval {
    /// `sync_interval: always`: sync after every write.
    Always,
    Every(Duration),
}

/// Single-user or token authentication (`authorization { }`, `--user`,
/// `--pass`, `--auth`). Empty strings in a file count as unset. A password
/// may be a bcrypt hash (`$2a$...`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthConfig {
    pub user: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
}

/// Something in the configuration worth telling the operator about that does
/// not stop the server: unknown or unsupported keys, deprecated forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    pub file: PathBuf,
    /// 1-based; 0 when the warning is about the whole file.
    pub line: u32,
    /// The key, dotted for nested keys (`jetstream.domain`).
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or parsed.
    #[error("{0}")]
    Parse(#[from] ConfError),
    /// A key in the file has a wrong type or an invalid value.
    #[error("{}:{line}: key \"{key}\": {message}", .file.display())]
    Invalid {
        file: PathBuf,
        line: u32,
        /// Dotted for nested keys (`authorization.timeout`).
        key: String,
        message: String,
    },
    /// An invalid combination of options that did not all come from the
    /// file (e.g. after command-line overrides).
    #[error("option \"{key}\": {message}")]
    Validation { key: String, message: String },
}

/// Reads, parses and maps a configuration file.
pub fn load_file(path: &Path) -> Result<(Options, Vec<ConfigWarning>), ConfigError> {
    let map = sluice_conf::parse_file(path)?;
    let (opts, mut warnings) = options_from_map(&map)?;
    if map.is_empty() {
        warnings.insert(
            0,
            ConfigWarning {
                file: path.to_path_buf(),
                line: 0,
                key: String::new(),
                message: "config has no values or is empty".to_string(),
            },
        );
    }
    Ok((opts, warnings))
}

impl Options {
    /// Checks option combinations: ports in range, `max_payload <=
    /// max_pending`, no spaces in the server name, not both user/password
    /// and token. Call after applying command-line overrides.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.problem() {
            None => Ok(()),
            Some((key, message)) => Err(ConfigError::Validation {
                key: key.to_string(),
                message,
            }),
        }
    }

    /// The first invalid combination, as (option name, message).
    pub(crate) fn problem(&self) -> Option<(&'static str, String)> {
        if !(-1..=65535).contains(&self.port) {
            return Some((
                "port",
                format!(
                    "port {} out of range (-1 for random, or 0..=65535)",
                    self.port
                ),
            ));
        }
        if let Some(p) = self.http_port {
            if !(-1..=65535).contains(&p) {
                return Some((
                    "http_port",
                    format!("port {p} out of range (-1 for random, or 0..=65535)"),
                ));
            }
        }
        if self.max_payload > self.max_pending {
            return Some((
                "max_payload",
                format!(
                    "max_payload ({}) cannot be higher than max_pending ({})",
                    self.max_payload, self.max_pending
                ),
            ));
        }
        if self.lame_duck_grace_period >= self.lame_duck_duration {
            return Some((
                "lame_duck_grace_period",
                format!(
                    "lame duck grace period ({:?}) should be strictly lower than lame duck duration ({:?})",
                    self.lame_duck_grace_period, self.lame_duck_duration
                ),
            ));
        }
        if let Some(name) = &self.server_name {
            if name.contains(' ') {
                return Some((
                    "server_name",
                    "server name cannot contain spaces".to_string(),
                ));
            }
        }
        if (self.auth.user.is_some() || self.auth.password.is_some()) && self.auth.token.is_some() {
            return Some((
                "authorization",
                "cannot have a user/password and a token".to_string(),
            ));
        }
        None
    }
}
