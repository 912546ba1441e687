//! Log output in nats-server's shape: `[pid] 2006/01/02 15:04:05.000000 [INF] text`.
//!
//! The logger can be changed while the server runs: a config reload changes the level
//! (`debug`, `trace`), timestamps and the log file ([`reconfigure`]); SIGUSR1 reopens
//! the file after an external rotation ([`reopen`]). With `logfile_size_limit` the file
//! is rotated by size as nats-server does: past the limit it is renamed to
//! `<file>.YYYY.MM.DD.HH.MM.SS.NNNNNNNNN` and a new file is started; with
//! `logfile_max_num` the oldest backups are removed so that at most that many files
//! (the live one included) remain.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use parking_lot::Mutex;
use sluice_proto::ClientOp;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, Registry};

use crate::config::Options;

/// What the logger is configured from (a subset of [`Options`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    pub debug: bool,
    pub trace: bool,
    pub logtime: bool,
    pub file: Option<PathBuf>,
    pub size_limit: u64,
    pub max_num: usize,
}

impl LogConfig {
    pub fn from_options(o: &Options) -> Self {
        LogConfig {
            debug: o.debug,
            trace: o.trace,
            logtime: o.logtime,
            file: o.log_file.clone(),
            size_limit: o.log_size_limit,
            max_num: o.log_max_num,
        }
    }

    fn level(&self) -> LevelFilter {
        if self.trace {
            LevelFilter::TRACE
        } else if self.debug {
            LevelFilter::DEBUG
        } else {
            LevelFilter::INFO
        }
    }
}

struct NatsFormat;

impl<S, N> FormatEvent<S, N> for NatsFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(w, "{}", line_prefix(*event.metadata().level()))?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// `[pid] time [LVL] `: the start of every line.
fn line_prefix(level: Level) -> String {
    let label = match level {
        Level::ERROR => "[ERR]",
        Level::WARN => "[WRN]",
        Level::INFO => "[INF]",
        Level::DEBUG => "[DBG]",
        Level::TRACE => "[TRC]",
    };
    let logtime = STATE
        .get()
        .is_none_or(|s| s.logtime.load(Ordering::Relaxed));
    if logtime {
        format!("[{}] {} {label} ", std::process::id(), format_now())
    } else {
        format!("[{}] {label} ", std::process::id())
    }
}

/// Where lines go.
enum Sink {
    Stderr,
    File(FileSink),
}

struct FileSink {
    path: PathBuf,
    file: File,
    /// Bytes in the live file.
    size: u64,
    limit: u64,
    max_num: usize,
}

impl FileSink {
    fn open(path: &Path, limit: u64, max_num: usize) -> io::Result<FileSink> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(FileSink {
            path: path.to_path_buf(),
            file,
            size,
            limit,
            max_num,
        })
    }

    fn write_line(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all(buf)?;
        self.size += buf.len() as u64;
        if self.limit > 0 && self.size > self.limit {
            self.rotate();
        }
        Ok(())
    }

    /// Renames the live file to a timestamped backup and starts a new one. Failures are
    /// reported in the log and leave the current file in use.
    fn rotate(&mut self) {
        let backup = PathBuf::from(format!("{}.{}", self.path.display(), backup_stamp()));
        if let Err(e) = std::fs::rename(&self.path, &backup) {
            let msg = format!("Unable to rotate logfile ({e}), will attempt next rotation\n");
            let _ = self
                .file
                .write_all(format!("{}{msg}", line_prefix(Level::ERROR)).as_bytes());
            self.size = 0;
            return;
        }
        match FileSink::open(&self.path, self.limit, self.max_num) {
            Ok(new) => *self = new,
            Err(e) => {
                // Keep writing to the renamed file rather than lose lines.
                let msg = format!("Unable to re-open the logfile after rotation: {e}\n");
                let _ = self
                    .file
                    .write_all(format!("{}{msg}", line_prefix(Level::ERROR)).as_bytes());
                self.size = 0;
                return;
            }
        }
        let line = format!(
            "{}Rotated log, backup saved as {:?}\n",
            line_prefix(Level::INFO),
            backup.display().to_string()
        );
        let _ = self.file.write_all(line.as_bytes());
        self.size = line.len() as u64;
        if self.max_num > 0 {
            self.purge();
        }
    }

    /// Removes the oldest backups beyond `max_num - 1`.
    fn purge(&mut self) {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let Some(base) = self.path.file_name().and_then(|b| b.to_str()) else {
            return;
        };
        let prefix = format!("{base}.");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        let mut backups: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.strip_prefix(&prefix).is_some_and(is_backup_stamp))
            .collect();
        // The stamps sort oldest first.
        backups.sort();
        let keep = self.max_num.saturating_sub(1);
        let excess = backups.len().saturating_sub(keep);
        for name in backups.into_iter().take(excess) {
            let line = match std::fs::remove_file(dir.join(&name)) {
                Ok(()) => format!("{}Purged log file {name:?}\n", line_prefix(Level::INFO)),
                Err(e) => format!(
                    "{}Unable to remove backup log file {name:?} ({e}), will attempt next rotation\n",
                    line_prefix(Level::ERROR)
                ),
            };
            if self.file.write_all(line.as_bytes()).is_ok() {
                self.size += line.len() as u64;
            }
        }
    }
}

struct LogState {
    sink: Mutex<Sink>,
    logtime: AtomicBool,
    level: reload::Handle<LevelFilter, Registry>,
    config: Mutex<LogConfig>,
}

static STATE: OnceLock<LogState> = OnceLock::new();

#[derive(Clone, Copy)]
struct SinkMaker;

struct SinkWriter;

impl Write for SinkWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(state) = STATE.get() else {
            return io::stderr().write(buf);
        };
        match &mut *state.sink.lock() {
            Sink::Stderr => io::stderr().write_all(buf)?,
            Sink::File(f) => f.write_line(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for SinkMaker {
    type Writer = SinkWriter;

    fn make_writer(&'a self) -> SinkWriter {
        SinkWriter
    }
}

fn open_sink(cfg: &LogConfig) -> io::Result<Sink> {
    Ok(match &cfg.file {
        Some(path) => Sink::File(FileSink::open(path, cfg.size_limit, cfg.max_num)?),
        None => Sink::Stderr,
    })
}

/// Installs the global logger. A logger already installed (tests running servers in
/// process) is left in place.
pub fn init(cfg: &LogConfig) -> io::Result<()> {
    let sink = open_sink(cfg)?;
    let (filter, handle) = reload::Layer::new(cfg.level());
    let state = LogState {
        sink: Mutex::new(sink),
        logtime: AtomicBool::new(cfg.logtime),
        level: handle,
        config: Mutex::new(cfg.clone()),
    };
    if STATE.set(state).is_err() {
        return Ok(());
    }
    let layer = tracing_subscriber::fmt::layer()
        .event_format(NatsFormat)
        .with_writer(SinkMaker);
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .try_init();
    Ok(())
}

/// Applies a reloaded logging configuration: level, timestamps, file, rotation.
pub fn reconfigure(cfg: &LogConfig) -> io::Result<()> {
    let Some(state) = STATE.get() else {
        return Ok(());
    };
    let mut current = state.config.lock();
    if current.file != cfg.file {
        *state.sink.lock() = open_sink(cfg)?;
    } else if let Sink::File(f) = &mut *state.sink.lock() {
        f.limit = cfg.size_limit;
        f.max_num = cfg.max_num;
    }
    state.logtime.store(cfg.logtime, Ordering::Relaxed);
    if current.level() != cfg.level() {
        state
            .level
            .reload(cfg.level())
            .map_err(|e| io::Error::other(e.to_string()))?;
    }
    *current = cfg.clone();
    Ok(())
}

/// What [`reopen`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Reopened {
    File,
    NotAFileLogger,
}

/// Closes and reopens the log file (SIGUSR1), for rotation by an outside tool.
pub fn reopen() -> io::Result<Reopened> {
    let Some(state) = STATE.get() else {
        return Ok(Reopened::NotAFileLogger);
    };
    let cfg = state.config.lock().clone();
    if cfg.file.is_none() {
        return Ok(Reopened::NotAFileLogger);
    }
    *state.sink.lock() = open_sink(&cfg)?;
    Ok(Reopened::File)
}

/// Traces a received operation (at trace level), as nats-server does:
/// `127.0.0.1:5000 - cid:4 - <<- [PUB foo 5]`, then `... - <<- MSG_PAYLOAD: ["hello"]`.
pub fn trace_in(peer: SocketAddr, cid: u64, op: &ClientOp) {
    if !tracing::enabled!(Level::TRACE) {
        return;
    }
    tracing::trace!("{peer} - cid:{cid} - {}", describe_in(op));
    if let ClientOp::Pub { body, .. } = op {
        let payload = String::from_utf8_lossy(body);
        tracing::trace!("{peer} - cid:{cid} - <<- MSG_PAYLOAD: [{payload:?}]");
    }
}

/// Traces protocol bytes the server sends a client: `... - ->> [PONG]`.
pub fn trace_out(peer: SocketAddr, cid: u64, bytes: &[u8]) {
    if tracing::enabled!(Level::TRACE) {
        tracing::trace!("{peer} - cid:{cid} - {}", describe_out(bytes));
    }
}

/// A received operation as nats-server prints it in traces: `<<- [SUB foo  1]`.
fn describe_in(op: &ClientOp) -> String {
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match op {
        ClientOp::Connect(json) => format!("<<- [CONNECT {}]", s(json)),
        ClientOp::Pub {
            subject,
            reply,
            header_len,
            body,
        } => {
            let reply = reply.as_deref().map(s).unwrap_or_default();
            let head = match header_len {
                Some(h) => format!("HPUB {} {reply} {h} {}", s(subject), body.len()),
                None => format!("PUB {} {reply} {}", s(subject), body.len()),
            };
            format!("<<- [{}]", head.replace("  ", " "))
        }
        ClientOp::Sub {
            subject,
            queue,
            sid,
        } => format!(
            "<<- [SUB {} {} {}]",
            s(subject),
            queue.as_deref().map(s).unwrap_or_default(),
            s(sid)
        ),
        ClientOp::Unsub { sid, max } => match max {
            Some(m) => format!("<<- [UNSUB {} {m}]", s(sid)),
            None => format!("<<- [UNSUB {}]", s(sid)),
        },
        ClientOp::Ping => "<<- [PING]".to_owned(),
        ClientOp::Pong => "<<- [PONG]".to_owned(),
        ClientOp::Ok => "<<- [+OK]".to_owned(),
        ClientOp::Err(text) => format!("<<- [-ERR {}]", s(text)),
        ClientOp::Info(json) => format!("<<- [INFO {}]", s(json)),
    }
}

/// Protocol bytes the server sends, as nats-server prints them in traces: `->> [PONG]`.
fn describe_out(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_end_matches("\r\n");
    let text = text.strip_prefix('+').unwrap_or(text);
    format!("->> [{text}]")
}

/// A byte count as nats-server prints limits: `512 B`, `17.66 GB`, `1.00 TB`.
pub fn friendly_bytes(bytes: i64) -> String {
    const UNITS: [&str; 6] = ["K", "M", "G", "T", "P", "E"];
    let b = bytes as f64;
    if b < 1024.0 {
        return format!("{bytes} B");
    }
    let exp = ((b.ln() / 1024f64.ln()) as usize).clamp(1, UNITS.len());
    format!("{:.2} {}B", b / 1024f64.powi(exp as i32), UNITS[exp - 1])
}

/// UTC wall-clock time as `YYYY/MM/DD HH:MM:SS.micros` (no tz database needed).
fn format_now() -> String {
    let (y, m, d, hh, mm, ss, nanos) = now_parts();
    format!(
        "{y:04}/{m:02}/{d:02} {hh:02}:{mm:02}:{ss:02}.{:06}",
        nanos / 1000
    )
}

/// `YYYY.MM.DD.HH.MM.SS.NNNNNNNNN`, the suffix of a rotated log file.
fn backup_stamp() -> String {
    let (y, m, d, hh, mm, ss, nanos) = now_parts();
    format!("{y:04}.{m:02}.{d:02}.{hh:02}.{mm:02}.{ss:02}.{nanos:09}")
}

fn is_backup_stamp(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 7
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn now_parts() -> (i64, u32, u32, i64, i64, i64, u32) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    (
        y,
        m,
        d,
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        now.subsec_nanos(),
    )
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_784), (2026, 11, 27));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn friendly_bytes_as_nats_server() {
        assert_eq!(friendly_bytes(512), "512 B");
        assert_eq!(friendly_bytes(1 << 40), "1.00 TB");
        assert_eq!(friendly_bytes(1536 * 1024 * 1024), "1.50 GB");
    }

    #[test]
    fn backup_stamps_are_recognised() {
        assert!(is_backup_stamp(&backup_stamp()));
        assert!(!is_backup_stamp("2026.11.27"));
        assert!(!is_backup_stamp("gz"));
    }

    #[test]
    fn traces_look_like_nats_server() {
        let op = ClientOp::Sub {
            subject: "foo".into(),
            queue: None,
            sid: "1".into(),
        };
        assert_eq!(describe_in(&op), "<<- [SUB foo  1]");
        let op = ClientOp::Pub {
            subject: "foo".into(),
            reply: None,
            header_len: None,
            body: "hi".into(),
        };
        assert_eq!(describe_in(&op), "<<- [PUB foo 2]");
        assert_eq!(describe_out(b"PONG\r\n"), "->> [PONG]");
        assert_eq!(describe_out(b"+OK\r\n"), "->> [OK]");
    }

    #[test]
    fn rotation_renames_and_purges() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.log");
        let mut sink = FileSink::open(&path, 100, 2).unwrap();
        for _ in 0..10 {
            sink.write_line(&[b'x'; 60]).unwrap();
        }
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        // The live file and one backup (max_num 2).
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.contains(&"s.log".to_owned()));
        let live = std::fs::read_to_string(&path).unwrap();
        assert!(live.contains("Rotated log, backup saved as"), "{live}");
    }
}
