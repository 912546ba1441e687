//! Process control as nats-server does it: the PID file (`-P`), the ports file
//! (`--ports_file_dir`), and `--signal <command>[=<pid or pid file>]` sent to a running
//! server.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use serde::Serialize;

use crate::server::ServerShared;

/// Writes this process's id (decimal, no newline) to `path`.
pub fn write_pid_file(path: &Path) -> io::Result<()> {
    std::fs::write(path, std::process::id().to_string())
}

/// The ports file's content: where the server can be reached, as URLs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Ports {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nats: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub monitoring: Vec<String>,
}

impl Ports {
    pub fn new(client: SocketAddr, monitoring: Option<SocketAddr>) -> Self {
        Ports {
            nats: urls("nats", client),
            monitoring: monitoring.map(|a| urls("http", a)).unwrap_or_default(),
        }
    }
}

/// The listeners, recorded at start so that a reload can write the file again.
static PORTS: Mutex<Option<Ports>> = Mutex::new(None);

/// Records where the server listens (for the ports file).
pub fn set_ports(ports: Ports) {
    *PORTS.lock() = Some(ports);
}

/// `<dir>/<executable name>_<pid>.ports`, nats-server's name for the ports file.
pub fn ports_file_path(dir: &Path) -> PathBuf {
    let exe = std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_os_string()))
        .unwrap_or_else(|| "sluice-server".into());
    let mut name = exe;
    name.push(format!("_{}.ports", std::process::id()));
    dir.join(name)
}

/// Writes the ports file (JSON, as nats-server: `{"nats":["nats://host:port"],...}`).
pub fn write_ports_file(dir: &Path, _shared: &ServerShared) -> io::Result<()> {
    let ports = PORTS.lock().clone().unwrap_or_default();
    let json = serde_json::to_vec(&ports).map_err(io::Error::other)?;
    std::fs::write(ports_file_path(dir), json)
}

/// Removes the ports file at shutdown (or when a reload moves it).
pub fn remove_ports_file(dir: &Path) {
    let path = ports_file_path(dir);
    if let Err(e) = std::fs::remove_file(&path) {
        tracing::error!("Error cleaning up ports file {}: {e}", path.display());
    }
}

/// URLs for a listener; an unspecified address lists the machine's IPv4 addresses.
fn urls(scheme: &str, addr: SocketAddr) -> Vec<String> {
    let ips = if addr.ip().is_unspecified() {
        local_ipv4_addresses()
    } else {
        vec![addr.ip()]
    };
    ips.into_iter()
        .map(|ip| format!("{scheme}://{}", SocketAddr::new(ip, addr.port())))
        .collect()
}

/// The host's local IPv4 addresses from `/proc/net/fib_trie` (loopback if unreadable).
fn local_ipv4_addresses() -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = Vec::new();
    if let Ok(trie) = std::fs::read_to_string("/proc/net/fib_trie") {
        let mut last: Option<IpAddr> = None;
        for line in trie.lines() {
            let t = line.trim_start_matches([' ', '|', '+', '-']).trim();
            if let Ok(ip) = t.parse::<IpAddr>() {
                last = Some(ip);
            } else if t.contains("/32 host LOCAL") {
                if let Some(ip) = last {
                    if !ips.contains(&ip) {
                        ips.push(ip);
                    }
                }
            }
        }
    }
    if ips.is_empty() {
        ips.push(IpAddr::from([127, 0, 0, 1]));
    }
    ips
}

/// A `--signal` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `stop`: SIGKILL.
    Stop,
    /// `quit`: SIGINT (orderly shutdown).
    Quit,
    /// `term`: SIGTERM.
    Term,
    /// `reopen`: SIGUSR1 (reopen the log file).
    Reopen,
    /// `reload`: SIGHUP (reload the config).
    Reload,
    /// `ldm`: SIGUSR2 (lame-duck mode).
    LameDuck,
}

impl Command {
    fn parse(s: &str) -> Option<Command> {
        Some(match s {
            "stop" => Command::Stop,
            "quit" => Command::Quit,
            "term" => Command::Term,
            "reopen" => Command::Reopen,
            "reload" => Command::Reload,
            "ldm" => Command::LameDuck,
            _ => return None,
        })
    }

    fn signal_name(self) -> &'static str {
        match self {
            Command::Stop => "KILL",
            Command::Quit => "INT",
            Command::Term => "TERM",
            Command::Reopen => "USR1",
            Command::Reload => "HUP",
            Command::LameDuck => "USR2",
        }
    }
}

/// Sends `--signal <command>[=<pid or pid file>]` to a running server. Without a pid,
/// the single running process with this executable's name is signalled (`pgrep`).
pub fn send_signal(arg: &str) -> Result<(), String> {
    let parts: Vec<&str> = arg.split('=').collect();
    if parts.len() > 2 {
        return Err(format!("invalid signal parameters: {:?}", &parts[2..]));
    }
    let command =
        Command::parse(parts[0]).ok_or_else(|| format!("unknown signal {:?}", parts[0]))?;
    let pid = match parts.get(1) {
        // A path to a PID file, or the pid itself.
        Some(p) => {
            let text = std::fs::read_to_string(p).unwrap_or_else(|_| (*p).to_owned());
            let text = text.trim();
            text.parse::<u32>()
                .map_err(|_| format!("invalid pid: {text}"))?
        }
        None => single_running_pid()?,
    };
    let status = std::process::Command::new("kill")
        .arg("-s")
        .arg(command.signal_name())
        .arg(pid.to_string())
        .status()
        .map_err(|e| format!("signal {:?} {pid}: {e}", parts[0]))?;
    if !status.success() {
        return Err(format!("signal {:?} {pid}: no such process", parts[0]));
    }
    Ok(())
}

fn single_running_pid() -> Result<u32, String> {
    let exe = std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "sluice-server".to_owned());
    let output = std::process::Command::new("pgrep")
        .arg("-x")
        .arg(&exe)
        .output()
        .map_err(|_| "unable to resolve pid, try providing one".to_owned())?;
    let me = std::process::id();
    let pids: Vec<u32> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .filter(|p| *p != me)
        .collect();
    match pids.as_slice() {
        [] => Err(format!("no {exe} processes running")),
        [pid] => Ok(*pid),
        many => {
            let mut msg = format!("multiple {exe} processes running:");
            for p in many {
                msg.push_str(&format!("\n{p}"));
            }
            Err(msg)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        assert_eq!(Command::parse("ldm"), Some(Command::LameDuck));
        assert_eq!(Command::parse("reload"), Some(Command::Reload));
        assert_eq!(Command::parse("bogus"), None);
        assert!(send_signal("bogus=1")
            .unwrap_err()
            .contains("unknown signal"));
        assert!(send_signal("reload=a=b")
            .unwrap_err()
            .contains("invalid signal"));
        assert!(send_signal("reload=/no/such/file")
            .unwrap_err()
            .contains("invalid pid"));
    }

    #[test]
    fn ports_json_matches_nats_server() {
        let p = Ports::new("127.0.0.1:4222".parse().unwrap(), None);
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"nats":["nats://127.0.0.1:4222"]}"#
        );
        assert!(!Ports::new("0.0.0.0:4222".parse().unwrap(), None)
            .nats
            .is_empty());
    }
}
