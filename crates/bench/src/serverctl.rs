//! Restarting a server under test, for workloads that time a restart
//! (`kv-scale`).
//!
//! `scripts/bench.sh` keeps a control directory per server
//! (`--baseline-ctl`/`--candidate-ctl`, `--ctl` for `all`) holding:
//! - `argv`: the command line that started it, NUL-separated;
//! - `log`: the path of its log file (one line);
//! - `pid`: its current process id.
//!
//! A restart stops the process in `pid` (SIGTERM; SIGKILL if it is still
//! there after [`STOP_GRACE`]), starts `argv` again (same store directory),
//! its output appended to the log, and writes the new process id to `pid`.
//! The new server outlives this tool; the script stops it on exit.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// How long a stopping server may take before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(60);

/// Servers this process started: reaped when they are stopped again, so
/// they do not linger as zombies.
static CHILDREN: Mutex<Vec<Child>> = Mutex::new(Vec::new());

/// A server's control directory.
#[derive(Debug, Clone)]
pub struct Ctl {
    pub dir: PathBuf,
}

impl Ctl {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
        }
    }

    /// The server's current process id.
    pub fn pid(&self) -> Result<u32> {
        let path = self.dir.join("pid");
        let text =
            fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        text.trim()
            .parse()
            .with_context(|| format!("{} holds no process id: {text:?}", path.display()))
    }

    /// Stops the server and waits until it has exited; the seconds it took.
    pub fn stop(&self) -> Result<f64> {
        let pid = self.pid()?;
        let start = Instant::now();
        signal(pid, "TERM")?;
        let mut killed = false;
        while alive(pid) {
            if !killed && start.elapsed() > STOP_GRACE {
                signal(pid, "KILL")?;
                killed = true;
            }
            if start.elapsed() > STOP_GRACE * 2 {
                bail!("server PID {pid} does not exit");
            }
            reap(pid);
            thread::sleep(Duration::from_millis(2));
        }
        reap(pid);
        if killed {
            bail!("server PID {pid} ignored SIGTERM for {STOP_GRACE:?} and was killed");
        }
        Ok(start.elapsed().as_secs_f64())
    }

    /// Starts the server's command line again; returns the new process id
    /// (also written to `pid`).
    pub fn start(&self) -> Result<u32> {
        let argv_path = self.dir.join("argv");
        let raw =
            fs::read(&argv_path).with_context(|| format!("cannot read {}", argv_path.display()))?;
        let argv: Vec<String> = raw
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let Some((prog, args)) = argv.split_first() else {
            bail!("{} is empty", argv_path.display());
        };
        let log_path = fs::read_to_string(self.dir.join("log"))
            .map(|s| s.trim_end_matches('\n').to_owned())
            .unwrap_or_default();
        let mut cmd = Command::new(prog);
        cmd.args(args).stdin(Stdio::null());
        if log_path.is_empty() {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        } else {
            let log = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .with_context(|| format!("cannot open {log_path}"))?;
            cmd.stdout(log.try_clone()?).stderr(log);
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {prog}"))?;
        let pid = child.id();
        CHILDREN
            .lock()
            .map_err(|_| anyhow!("child list poisoned"))?
            .push(child);
        let tmp = self.dir.join("pid.tmp");
        fs::write(&tmp, format!("{pid}\n"))?;
        fs::rename(&tmp, self.dir.join("pid"))?;
        Ok(pid)
    }
}

fn signal(pid: u32, sig: &str) -> Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status()
        .context("cannot run kill")?;
    if !status.success() && alive(pid) {
        bail!("kill -{sig} {pid} failed");
    }
    Ok(())
}

/// Whether `pid` is a running process (a zombie is not).
fn alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !matches!(proc_state(&stat), Some('Z' | 'X') | None),
        Err(_) => false,
    }
}

/// The state letter of a `/proc/<pid>/stat` line (after the `(comm)` field,
/// which may itself hold spaces and parentheses).
fn proc_state(stat: &str) -> Option<char> {
    let after = &stat[stat.rfind(')')? + 1..];
    after.trim_start().chars().next()
}

/// Collects the exit status of `pid` if this process started it.
fn reap(pid: u32) {
    if let Ok(mut children) = CHILDREN.lock() {
        children.retain_mut(|c| c.id() != pid || c.try_wait().map_or(true, |s| s.is_none()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_state() {
        assert_eq!(proc_state("42 (a (b) c) S 1 2 3"), Some('S'));
        assert_eq!(proc_state("42 (x) Z 1"), Some('Z'));
        assert_eq!(proc_state("garbage"), None);
        assert!(alive(std::process::id()));
    }
}
