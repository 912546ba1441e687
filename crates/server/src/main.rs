//! `sluice-server`: the binary. Parses nats-server-style flags, loads the config file,
//! sets up logging, runs the server until SIGINT/SIGTERM, then shuts down cleanly.

use std::process::ExitCode;

use anyhow::Context;
use sluice_server::cli::Cli;
use sluice_server::config::{self, Options};
use sluice_server::info::{COMPATIBLE_NATS_VERSION, SLUICE_VERSION};

fn main() -> ExitCode {
    let cli = Cli::parse_nats_style();
    let (mut opts, warnings) = match &cli.config {
        Some(path) => match config::load_file(path) {
            Ok(loaded) => loaded,
            Err(e) => {
                eprintln!("sluice-server: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => (Options::default(), Vec::new()),
    };
    cli.apply(&mut opts);
    if let Err(e) = opts.validate() {
        eprintln!("sluice-server: {e}");
        return ExitCode::FAILURE;
    }
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
    if let Err(e) = sluice_server::logging::init(
        opts.debug,
        opts.trace,
        opts.logtime,
        opts.log_file.as_deref(),
    ) {
        eprintln!("sluice-server: cannot open log file: {e}");
        return ExitCode::FAILURE;
    }
    for w in &warnings {
        tracing::warn!("{w}");
    }
    match run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("sluice-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(opts: Options) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        tracing::info!("Starting sluice-server");
        tracing::info!(
            "  Version:  {SLUICE_VERSION} (nats-server {COMPATIBLE_NATS_VERSION} compatible)"
        );
        let name = opts.server_name.clone();
        let handle = sluice_server::start(opts).await?;
        tracing::info!(
            "  Name:     {}",
            name.as_deref().unwrap_or(handle.shared().server_id())
        );
        tracing::info!("  ID:       {}", handle.shared().server_id());
        tracing::info!("Server is ready");
        wait_for_stop_signal().await?;
        tracing::info!("Initiating Shutdown...");
        handle.shutdown().await;
        Ok(())
    })
}

async fn wait_for_stop_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => tracing::info!("Trapped \"terminated\" signal"),
        _ = int.recv() => tracing::info!("Trapped \"interrupt\" signal"),
    }
    Ok(())
}
