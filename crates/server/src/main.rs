//! `sluice-server`: the binary. Parses nats-server-style flags, loads the config file,
//! sets up logging, writes the PID and ports files, and serves until a signal says
//! otherwise: SIGINT/SIGTERM shut down, SIGHUP reloads the config, SIGUSR1 reopens the
//! log file, SIGUSR2 enters lame-duck mode. `--signal` sends those to a running server.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use sluice_server::cli::Cli;
use sluice_server::config::{self, ConfigWarning, Options};
use sluice_server::info::{COMPATIBLE_NATS_VERSION, SLUICE_VERSION};
use sluice_server::logging::{self, LogConfig, Reopened};
use sluice_server::{lame_duck, process, reload};

// The server allocates and frees many short-lived buffers (messages, replies, read
// buffers) across threads; mimalloc keeps them off the page-fault and lock paths
// glibc's allocator showed in profiles.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse_nats_style();
    if let Some(sig) = &cli.signal {
        return match process::send_signal(sig) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("sluice-server: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let (opts, warnings) = match load(&cli) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("sluice-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    if cli.test_config {
        for w in &warnings {
            eprintln!("sluice-server: warning: {w}");
        }
        if let Some(path) = &cli.config {
            println!(
                "sluice-server: configuration file {} test is successful",
                path.display()
            );
        }
        return ExitCode::SUCCESS;
    }
    if let Err(e) = logging::init(&LogConfig::from_options(&opts)) {
        eprintln!("sluice-server: cannot open log file: {e}");
        return ExitCode::FAILURE;
    }
    for w in &warnings {
        tracing::warn!("{w}");
    }
    if cli.syslog == Some(true) || cli.remote_syslog.is_some() {
        tracing::warn!(
            "syslog is not supported by Sluice; logging to {}",
            if opts.log_file.is_some() {
                "the log file"
            } else {
                "stderr"
            }
        );
    }
    let cli = Arc::new(cli);
    match run(opts, cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("sluice-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The config file (if any) with the command-line flags over it, validated.
fn load(cli: &Cli) -> anyhow::Result<(Options, Vec<ConfigWarning>)> {
    let (mut opts, warnings) = match &cli.config {
        Some(path) => config::load_file(path)?,
        None => (Options::default(), Vec::new()),
    };
    cli.apply(&mut opts);
    opts.validate()?;
    Ok((opts, warnings))
}

fn run(opts: Options, cli: Arc<Cli>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        tracing::info!("Starting sluice-server");
        tracing::info!(
            "  Version:  {SLUICE_VERSION} (nats-server {COMPATIBLE_NATS_VERSION} compatible)"
        );
        if let Some(path) = &cli.config {
            tracing::info!("Using configuration file: {}", path.display());
        }
        let pid_file = opts.pid_file.clone();
        let ports_dir = opts.ports_file_dir.clone();
        // Handlers go in before the listeners open: a signal sent as soon as the
        // server answers must be handled, not kill the process.
        let signals = Signals::install()?;
        let handle = sluice_server::start(opts).await?;
        if let Some(path) = &pid_file {
            process::write_pid_file(path)
                .with_context(|| format!("could not write pidfile {}", path.display()))?;
        }
        process::set_ports(process::Ports::new(
            handle.local_addr(),
            handle.monitor_addr(),
        ));
        if let Some(dir) = &ports_dir {
            if let Err(e) = process::write_ports_file(dir, handle.shared()) {
                tracing::error!("Error writing ports file ({}): {e}", dir.display());
            }
        }
        tracing::info!("Server is ready");
        serve_signals(signals, &handle, &cli).await?;
        // The ports directory in effect now (a reload may have moved it).
        let ports_dir = handle.shared().options().ports_file_dir.clone();
        handle.shutdown().await;
        if let Some(dir) = &ports_dir {
            process::remove_ports_file(dir);
        }
        Ok(())
    })
}

/// The signals the server handles, installed once at startup.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    usr1: tokio::signal::unix::Signal,
    usr2: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate()).context("installing SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("installing SIGINT handler")?,
            hup: signal(SignalKind::hangup()).context("installing SIGHUP handler")?,
            usr1: signal(SignalKind::user_defined1()).context("installing SIGUSR1 handler")?,
            usr2: signal(SignalKind::user_defined2()).context("installing SIGUSR2 handler")?,
        })
    }
}

/// Handles signals until one asks the server to stop (or lame-duck mode finished).
async fn serve_signals(
    signals: Signals,
    handle: &sluice_server::ServerHandle,
    cli: &Cli,
) -> anyhow::Result<()> {
    let Signals {
        mut term,
        mut int,
        mut hup,
        mut usr1,
        mut usr2,
    } = signals;
    let mut ldm: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        tokio::select! {
            _ = int.recv() => {
                tracing::info!("Trapped \"interrupt\" signal");
                return Ok(());
            }
            _ = term.recv() => {
                tracing::info!("Trapped \"terminated\" signal");
                // As nats-server: SIGTERM does not cut a lame-duck shutdown short.
                if ldm.is_none() {
                    return Ok(());
                }
            }
            _ = hup.recv() => {
                tracing::info!("Trapped \"hangup\" signal");
                reload_config(handle, cli);
            }
            _ = usr1.recv() => {
                tracing::info!("Trapped \"user defined signal 1\" signal");
                match logging::reopen() {
                    Ok(Reopened::File) => tracing::info!("File log re-opened"),
                    Ok(Reopened::NotAFileLogger) => {
                        tracing::info!("File log re-open ignored, not a file logger")
                    }
                    Err(e) => tracing::error!("Error re-opening the log file: {e}"),
                }
            }
            _ = usr2.recv() => {
                tracing::info!("Trapped \"user defined signal 2\" signal");
                if ldm.is_none() {
                    ldm = Some(tokio::spawn(lame_duck::run(handle.shared().clone())));
                }
            }
            _ = async { ldm.as_mut().expect("guarded").await }, if ldm.is_some() => {
                return Ok(());
            }
        }
    }
}

fn reload_config(handle: &sluice_server::ServerHandle, cli: &Cli) {
    if cli.config.is_none() {
        tracing::error!(
            "Failed to reload server configuration: {}",
            reload::ReloadError::NoConfigFile
        );
        return;
    }
    let (opts, warnings) = match load(cli) {
        Ok(loaded) => loaded,
        Err(e) => {
            tracing::error!("Failed to reload server configuration: {e:#}");
            return;
        }
    };
    for w in &warnings {
        tracing::warn!("{w}");
    }
    match reload::apply(handle.shared(), opts) {
        Ok(notes) => {
            for n in notes {
                tracing::info!("{n}");
            }
            tracing::info!("Reloaded server configuration");
        }
        Err(e) => tracing::error!("Failed to reload server configuration: {e}"),
    }
}
