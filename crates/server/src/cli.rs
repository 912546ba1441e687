//! The command line, compatible with nats-server's Go-style flags.
//!
//! Go's `flag` package takes `-name` and `--name` alike, `-name=value` or `-name value`,
//! and multi-letter short names such as `-js`, `-sd` and `-DV`. [`normalize`] rewrites
//! such an argument list into the long-option form clap parses, so scripts written for
//! nats-server start Sluice unchanged.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;

use crate::config::Options;

/// How one nats-server flag maps onto our long option.
struct Flag {
    names: &'static [&'static str],
    long: &'static str,
    takes_value: bool,
}

const FLAGS: &[Flag] = &[
    Flag {
        names: &["a", "addr", "net"],
        long: "addr",
        takes_value: true,
    },
    Flag {
        names: &["p", "port"],
        long: "port",
        takes_value: true,
    },
    Flag {
        names: &["n", "name", "server_name"],
        long: "name",
        takes_value: true,
    },
    Flag {
        names: &["js", "jetstream"],
        long: "jetstream",
        takes_value: false,
    },
    Flag {
        names: &["sd", "store_dir"],
        long: "store_dir",
        takes_value: true,
    },
    Flag {
        names: &["c", "config"],
        long: "config",
        takes_value: true,
    },
    Flag {
        names: &["t"],
        long: "test_config",
        takes_value: false,
    },
    Flag {
        names: &["D", "debug"],
        long: "debug",
        takes_value: false,
    },
    Flag {
        names: &["V", "trace"],
        long: "trace",
        takes_value: false,
    },
    Flag {
        names: &["T", "logtime"],
        long: "logtime",
        takes_value: false,
    },
    Flag {
        names: &["l", "log"],
        long: "log",
        takes_value: true,
    },
    Flag {
        names: &["m", "http_port"],
        long: "http_port",
        takes_value: true,
    },
    Flag {
        names: &["P", "pid"],
        long: "pid",
        takes_value: true,
    },
    Flag {
        names: &["ports_file_dir"],
        long: "ports_file_dir",
        takes_value: true,
    },
    Flag {
        names: &["sl", "signal"],
        long: "signal",
        takes_value: true,
    },
    Flag {
        names: &["log_size_limit"],
        long: "log_size_limit",
        takes_value: true,
    },
    Flag {
        names: &["s", "syslog"],
        long: "syslog",
        takes_value: false,
    },
    Flag {
        names: &["r", "remote_syslog"],
        long: "remote_syslog",
        takes_value: true,
    },
    Flag {
        names: &["user"],
        long: "user",
        takes_value: true,
    },
    Flag {
        names: &["pass"],
        long: "pass",
        takes_value: true,
    },
    Flag {
        names: &["auth"],
        long: "auth",
        takes_value: true,
    },
    Flag {
        names: &["h", "help"],
        long: "help",
        takes_value: false,
    },
    Flag {
        names: &["v", "version"],
        long: "version",
        takes_value: false,
    },
];

/// Flags that stand for several others.
fn combined(name: &str) -> Option<&'static [&'static str]> {
    match name {
        "DV" | "DVV" => Some(&["--debug", "--trace"]),
        "VV" => Some(&["--trace"]),
        _ => None,
    }
}

/// Rewrites nats-server-style arguments (the program name first) into clap's form.
/// Unknown flags pass through unchanged, so clap reports them.
pub fn normalize<I: IntoIterator<Item = OsString>>(args: I) -> Vec<OsString> {
    let mut args = args.into_iter();
    let mut out: Vec<OsString> = args.next().into_iter().collect();
    let mut rest = args.peekable();
    while let Some(arg) = rest.next() {
        let Some(text) = arg.to_str().map(str::to_owned) else {
            out.push(arg);
            continue;
        };
        if text == "--" || !text.starts_with('-') || text == "-" {
            out.push(arg);
            continue;
        }
        let bare = text.trim_start_matches('-');
        let (name, inline_value) = match bare.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (bare, None),
        };
        if let Some(expanded) = combined(name) {
            out.extend(expanded.iter().map(OsString::from));
            continue;
        }
        let Some(flag) = FLAGS.iter().find(|f| f.names.contains(&name)) else {
            out.push(arg);
            continue;
        };
        let long = format!("--{}", flag.long);
        match (flag.takes_value, inline_value) {
            (_, Some(v)) => out.push(format!("{long}={v}").into()),
            (true, None) => {
                out.push(long.into());
                // The value is taken verbatim, even when it looks like a flag (`-p -1`).
                if let Some(v) = rest.next() {
                    out.push(v);
                }
            }
            (false, None) => out.push(long.into()),
        }
    }
    out
}

/// Sluice's command line (nats-server's flag names; see `normalize`).
#[derive(Debug, Parser)]
#[command(
    name = "sluice-server",
    version = concat!(env!("CARGO_PKG_VERSION"), " (nats-server ", "2.10.0", " compatible)"),
    about = "Sluice: a NATS and JetStream compatible message server",
    disable_help_flag = true,
    disable_version_flag = true
)]
pub struct Cli {
    /// -a, --addr, --net: bind to host address (default 0.0.0.0)
    #[arg(long = "addr", value_name = "HOST")]
    pub addr: Option<String>,
    /// -p, --port: client port (default 4222; -1 picks a free port)
    #[arg(long = "port", value_name = "PORT", allow_hyphen_values = true)]
    pub port: Option<i32>,
    /// -n, --name, --server_name: server name (default: the server id)
    #[arg(long = "name", value_name = "NAME")]
    pub name: Option<String>,
    /// -js, --jetstream: enable JetStream
    #[arg(long = "jetstream", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub jetstream: Option<bool>,
    /// -sd, --store_dir: JetStream storage directory
    #[arg(long = "store_dir", value_name = "DIR")]
    pub store_dir: Option<PathBuf>,
    /// -c, --config: configuration file
    #[arg(long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// -t: test the configuration and exit
    #[arg(long = "test_config")]
    pub test_config: bool,
    /// -D, --debug: enable debug logging (-DV: debug and trace)
    #[arg(long = "debug", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub debug: Option<bool>,
    /// -V, --trace: trace the raw protocol
    #[arg(long = "trace", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub trace: Option<bool>,
    /// -T, --logtime: timestamp log entries (default true)
    #[arg(long = "logtime", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub logtime: Option<bool>,
    /// -l, --log: log file
    #[arg(long = "log", value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// -m, --http_port: HTTP monitoring port
    #[arg(long = "http_port", value_name = "PORT", allow_hyphen_values = true)]
    pub http_port: Option<i32>,
    /// -P, --pid: file to write the process id to
    #[arg(long = "pid", value_name = "FILE")]
    pub pid: Option<PathBuf>,
    /// --ports_file_dir: directory to write the ports file to
    #[arg(long = "ports_file_dir", value_name = "DIR")]
    pub ports_file_dir: Option<PathBuf>,
    /// -sl, --signal: send a signal to a running server: stop, quit, term, reopen,
    /// reload, ldm; `<command>=<pid or pid file>` names the process
    #[arg(long = "signal", value_name = "COMMAND[=PID]")]
    pub signal: Option<String>,
    /// --log_size_limit: rotate the log file past this many bytes
    #[arg(long = "log_size_limit", value_name = "BYTES")]
    pub log_size_limit: Option<u64>,
    /// -s, --syslog: log to syslog (not supported: logs go to stderr or the log file)
    #[arg(long = "syslog", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub syslog: Option<bool>,
    /// -r, --remote_syslog: syslog server address (not supported)
    #[arg(long = "remote_syslog", value_name = "URL")]
    pub remote_syslog: Option<String>,
    /// --user: user required for connections
    #[arg(long = "user", value_name = "USER")]
    pub user: Option<String>,
    /// --pass: password required for connections
    #[arg(long = "pass", value_name = "PASSWORD")]
    pub pass: Option<String>,
    /// --auth: authorization token required for connections
    #[arg(long = "auth", value_name = "TOKEN")]
    pub auth: Option<String>,
    /// -h, --help: show this message
    #[arg(long = "help", action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// -v, --version: show the version
    #[arg(long = "version", action = clap::ArgAction::Version)]
    pub version: Option<bool>,
}

impl Cli {
    /// Parses nats-server-style arguments; on error prints usage and exits, like `flag`.
    pub fn parse_nats_style() -> Self {
        Cli::parse_from(normalize(std::env::args_os()))
    }

    /// Command-line flags override the config file.
    pub fn apply(&self, opts: &mut Options) {
        if let Some(a) = &self.addr {
            opts.host = a.clone();
        }
        if let Some(p) = self.port {
            opts.port = p;
        }
        if let Some(n) = &self.name {
            opts.server_name = Some(n.clone());
        }
        if let Some(js) = self.jetstream {
            opts.jetstream = js;
        }
        if let Some(sd) = &self.store_dir {
            opts.store_dir = Some(sd.clone());
        }
        if let Some(d) = self.debug {
            opts.debug = d;
        }
        if let Some(t) = self.trace {
            opts.trace = t;
        }
        if let Some(t) = self.logtime {
            opts.logtime = t;
        }
        if let Some(l) = &self.log {
            opts.log_file = Some(l.clone());
        }
        if let Some(n) = self.log_size_limit {
            opts.log_size_limit = n;
        }
        if let Some(m) = self.http_port {
            opts.http_port = Some(m);
        }
        if let Some(p) = &self.pid {
            opts.pid_file = Some(p.clone());
        }
        if let Some(d) = &self.ports_file_dir {
            opts.ports_file_dir = Some(d.clone());
        }
        if let Some(u) = &self.user {
            opts.auth.user = Some(u.clone());
        }
        if let Some(p) = &self.pass {
            opts.auth.password = Some(p.clone());
        }
        if let Some(t) = &self.auth {
            opts.auth.token = Some(t.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(args: &[&str]) -> Vec<String> {
        let mut all = vec!["sluice-server"];
        all.extend_from_slice(args);
        normalize(all.into_iter().map(OsString::from))
            .into_iter()
            .skip(1)
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn go_style_flags() {
        assert_eq!(
            norm(&["-p", "-1", "-a", "127.0.0.1"]),
            ["--port", "-1", "--addr", "127.0.0.1"]
        );
        assert_eq!(
            norm(&["-js", "-sd=/tmp/x"]),
            ["--jetstream", "--store_dir=/tmp/x"]
        );
        assert_eq!(
            norm(&["--port=4222", "-port", "5"]),
            ["--port=4222", "--port", "5"]
        );
        assert_eq!(norm(&["-DV"]), ["--debug", "--trace"]);
        assert_eq!(norm(&["-T=false"]), ["--logtime=false"]);
        assert_eq!(
            norm(&["-net", "::1", "--server_name", "x"]),
            ["--addr", "::1", "--name", "x"]
        );
        assert_eq!(norm(&["--bogus"]), ["--bogus"]);
        assert_eq!(
            norm(&["-sl", "reload=/tmp/p.pid", "-P", "/tmp/p.pid"]),
            ["--signal", "reload=/tmp/p.pid", "--pid", "/tmp/p.pid"]
        );
        assert_eq!(norm(&["--signal=ldm"]), ["--signal=ldm"]);
    }

    #[test]
    fn flags_reach_options() {
        let args = normalize(
            [
                "sluice-server",
                "-p",
                "-1",
                "-js",
                "-sd",
                "/d",
                "--user",
                "u",
                "--pass",
                "p",
                "-DV",
                "-n",
                "srv",
            ]
            .into_iter()
            .map(OsString::from),
        );
        let cli = Cli::try_parse_from(args).unwrap();
        let mut opts = Options::default();
        cli.apply(&mut opts);
        assert_eq!(opts.port, -1);
        assert!(opts.jetstream && opts.debug && opts.trace);
        assert_eq!(opts.store_dir, Some(PathBuf::from("/d")));
        assert_eq!(opts.auth.user.as_deref(), Some("u"));
        assert_eq!(opts.auth.password.as_deref(), Some("p"));
        assert_eq!(opts.server_name.as_deref(), Some("srv"));
    }

    #[test]
    fn unknown_flag_is_an_error() {
        let args = normalize(["sluice-server", "--bogus"].into_iter().map(OsString::from));
        assert!(Cli::try_parse_from(args).is_err());
    }
}
