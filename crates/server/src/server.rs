//! The server: listener, accept loop, the registry of live connections, and shutdown.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use sluice_proto::ServerInfo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::auth::Authenticator;
use crate::client::{self, ClientShared, CloseReason};
use crate::config::Options;
use crate::info;
use crate::jetstream::{JetStream, JetStreamStartError};
use crate::router::Router;
use crate::stats::Stats;

/// State every connection shares. Options, auth and the INFO template can be replaced
/// by a config reload (`crate::reload`); readers take a snapshot.
#[derive(Debug)]
pub struct ServerShared {
    opts: RwLock<Arc<Options>>,
    info: RwLock<ServerInfo>,
    server_id: String,
    headers: bool,
    auth: RwLock<Arc<Authenticator>>,
    /// The parser limits connections apply, read once per read batch (reloadable).
    max_payload: AtomicUsize,
    max_control_line: AtomicUsize,
    /// Set when lame-duck mode begins (see `crate::lame_duck`).
    lame_duck: AtomicBool,
    /// Tells the accept loop to close the listener (lame-duck mode).
    stop_accepting: watch::Sender<bool>,
    router: Arc<Router>,
    jetstream: Mutex<Option<JetStream>>,
    stats: Stats,
    clients: Mutex<HashMap<u64, Arc<ClientShared>>>,
    next_cid: AtomicU64,
    shutting_down: AtomicBool,
    monitor: crate::monitor::MonitorState,
}

impl ServerShared {
    /// The current options (a snapshot: a reload swaps in new ones).
    pub fn options(&self) -> Arc<Options> {
        self.opts.read().clone()
    }

    pub fn auth(&self) -> Arc<Authenticator> {
        self.auth.read().clone()
    }

    /// The limits a connection's parser applies; a reload may change them.
    pub fn parser_limits(&self) -> sluice_proto::Limits {
        sluice_proto::Limits {
            max_payload: self.max_payload.load(Ordering::Relaxed),
            max_control_line: self.max_control_line.load(Ordering::Relaxed),
        }
    }

    /// Installs reloaded options and authentication; new connections see them at once.
    pub(crate) fn replace_options(&self, opts: Options, auth: Authenticator) {
        {
            let mut info = self.info.write();
            info.max_payload = opts.max_payload;
            info.auth_required = auth.required();
        }
        self.max_payload.store(opts.max_payload, Ordering::Relaxed);
        self.max_control_line
            .store(opts.max_control_line, Ordering::Relaxed);
        *self.auth.write() = Arc::new(auth);
        *self.opts.write() = Arc::new(opts);
    }

    /// Every registered connection.
    pub fn clients(&self) -> Vec<Arc<ClientShared>> {
        self.clients.lock().values().cloned().collect()
    }

    pub fn is_lame_duck(&self) -> bool {
        self.lame_duck.load(Ordering::Relaxed)
    }

    /// Marks lame-duck mode and closes the listener. False if it had already begun or
    /// the server is shutting down.
    pub(crate) fn begin_lame_duck(&self) -> bool {
        if self.shutting_down.load(Ordering::Relaxed) || self.lame_duck.swap(true, Ordering::SeqCst)
        {
            return false;
        }
        self.info.write().ldm = true;
        let _ = self.stop_accepting.send(true);
        true
    }

    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Monitoring state: closed connections, request counts, latency histograms.
    pub fn monitor(&self) -> &crate::monitor::MonitorState {
        &self.monitor
    }

    /// The INFO template (server name, version, ports).
    pub fn info(&self) -> ServerInfo {
        self.info.read().clone()
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }

    /// Asks the JetStream thread for a snapshot (None without JetStream or when its
    /// queue is full).
    pub fn jetstream_report(
        &self,
    ) -> Option<tokio::sync::oneshot::Receiver<sluice_jetstream::engine::EngineReport>> {
        self.jetstream.lock().as_ref()?.request_report()
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn server_id(&self) -> &str {
        &self.server_id
    }

    pub fn headers_enabled(&self) -> bool {
        self.headers
    }

    /// The INFO a new connection gets (also sent again to connected clients when a
    /// reload or lame-duck mode changes it).
    pub fn client_info(&self, cid: u64, peer: SocketAddr) -> ServerInfo {
        let mut info = self.info.read().clone();
        info.client_id = cid;
        info.client_ip = peer.ip().to_string();
        info
    }

    pub fn at_connection_limit(&self) -> bool {
        self.clients.lock().len() >= self.options().max_connections
    }

    pub fn register_client(&self, client: Arc<ClientShared>) {
        self.clients.lock().insert(client.cid, client);
        self.stats.total_connections.fetch_add(1, Ordering::Relaxed);
    }

    pub fn unregister_client(&self, cid: u64) {
        self.clients.lock().remove(&cid);
    }

    pub fn connection_count(&self) -> usize {
        self.clients.lock().len()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    JetStream(#[from] JetStreamStartError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
}

/// A running server. Dropping it does not stop it; call [`ServerHandle::shutdown`].
#[derive(Debug)]
pub struct ServerHandle {
    shared: Arc<ServerShared>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    accept_task: tokio::task::JoinHandle<JoinSet<()>>,
}

/// How long shutdown waits for connections to flush before dropping them.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(5);

/// Binds the client port and starts serving.
pub async fn start(opts: Options) -> Result<ServerHandle, StartError> {
    let port = if opts.port < 0 { 0 } else { opts.port as u16 };
    let bind = format!("{}:{}", opts.host, port);
    let listener = TcpListener::bind(&bind)
        .await
        .map_err(|source| StartError::Listen {
            addr: bind.clone(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: bind.clone(),
        source,
    })?;
    let auth = Authenticator::new(
        opts.auth.user.as_deref(),
        opts.auth.password.as_deref(),
        opts.auth.token.as_deref(),
    );
    let server_id = info::new_server_id();
    let info = info::info_template(&opts, &server_id, addr.port(), auth.required());
    tracing::info!("  Name:     {}", info.server_name);
    tracing::info!("  ID:       {}", info.server_id);
    let router = Arc::new(Router::new());
    let monitor = crate::monitor::MonitorState::default();
    let (stop_accepting, stop_accepting_rx) = watch::channel(false);
    let jetstream = if opts.jetstream {
        Some(start_jetstream(
            &opts,
            &info,
            router.clone(),
            monitor.js_timings.clone(),
        )?)
    } else {
        None
    };
    let shared = Arc::new(ServerShared {
        max_payload: AtomicUsize::new(opts.max_payload),
        max_control_line: AtomicUsize::new(opts.max_control_line),
        server_id: info.server_id.clone(),
        headers: info.headers,
        opts: RwLock::new(Arc::new(opts)),
        info: RwLock::new(info),
        auth: RwLock::new(Arc::new(auth)),
        lame_duck: AtomicBool::new(false),
        stop_accepting,
        router,
        jetstream: Mutex::new(jetstream),
        stats: Stats::default(),
        clients: Mutex::new(HashMap::new()),
        next_cid: AtomicU64::new(1),
        shutting_down: AtomicBool::new(false),
        monitor,
    });
    tracing::info!("Listening for client connections on {}", addr);
    let (stop, stop_rx) = watch::channel(false);
    crate::monitor::start(shared.clone(), stop.subscribe())
        .await
        .map_err(|source| StartError::Listen {
            addr: "the monitoring port".to_string(),
            source,
        })?;
    let accept_task = tokio::spawn(accept_loop(
        shared.clone(),
        listener,
        stop_rx,
        stop_accepting_rx,
    ));
    Ok(ServerHandle {
        shared,
        addr,
        stop,
        accept_task,
    })
}

/// Where JetStream keeps its data when no `store_dir` is configured: `./data`.
pub const DEFAULT_STORE_DIR: &str = "data";

/// Fallback storage limit when none is configured (nats-server's constant, 1 TB).
const DEFAULT_MAX_STORE: i64 = 1 << 40;

fn start_jetstream(
    opts: &Options,
    info: &ServerInfo,
    router: Arc<Router>,
    timings: Arc<crate::monitor::JsTimings>,
) -> Result<JetStream, StartError> {
    let store_dir = opts
        .store_dir
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from(DEFAULT_STORE_DIR));
    let (sync_always, sync_interval) = match opts.sync_interval {
        Some(crate::config::SyncInterval::Every(d)) => {
            (false, d.as_nanos().min(i64::MAX as u128) as i64)
        }
        _ => (true, sluice_jetstream::engine::SYNC_INTERVAL),
    };
    let config = sluice_jetstream::EngineConfig {
        store_dir: store_dir.clone(),
        // Account limits, reported by $JS.API.INFO: unlimited, as nats-server reports
        // for the global account; the server-wide limits below are logged.
        max_memory: -1,
        max_store: -1,
        server_max_memory: opts.max_memory_store.unwrap_or_else(default_max_memory),
        server_max_store: opts.max_file_store.unwrap_or(DEFAULT_MAX_STORE),
        sync_always,
        sync_interval,
        server_id: info.server_id.clone(),
        server_name: info.server_name.clone(),
    };
    tracing::info!("Starting JetStream");
    tracing::info!("---------------- JETSTREAM ----------------");
    tracing::info!(
        "  Max Memory:      {}",
        crate::logging::friendly_bytes(opts.max_memory_store.unwrap_or_else(default_max_memory))
    );
    tracing::info!(
        "  Max Storage:     {}",
        crate::logging::friendly_bytes(opts.max_file_store.unwrap_or(DEFAULT_MAX_STORE))
    );
    tracing::info!(
        "  Store Directory: \"{}\"",
        store_dir.join("jetstream").display()
    );
    tracing::info!(
        "  Sync:            {}",
        if sync_always {
            "every publish is fsynced before its ack (group commit)"
        } else {
            "periodic, by sync_interval (acks may precede fsync)"
        }
    );
    tracing::info!("-------------------------------------------");
    let (js, log) = JetStream::start(config, router, timings)?;
    for line in log {
        tracing::info!("{line}");
    }
    Ok(js)
}

/// nats-server's default memory limit: 75 % of the machine's memory.
fn default_max_memory() -> i64 {
    let total_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse::<i64>().ok())
        })
        .unwrap_or(1 << 20);
    total_kib * 1024 / 4 * 3
}

async fn accept_loop(
    shared: Arc<ServerShared>,
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
    mut stop_accepting: watch::Receiver<bool>,
) -> JoinSet<()> {
    let mut conns = JoinSet::new();
    // `None` once lame-duck mode closed the listener; connections are still joined.
    let mut listener = Some(listener);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = stop_accepting.changed(), if listener.is_some() => {
                if *stop_accepting.borrow() {
                    listener = None;
                }
            }
            accepted = accept(&listener), if listener.is_some() => match accepted {
                Ok((stream, peer)) => {
                    let cid = shared.next_cid.fetch_add(1, Ordering::Relaxed);
                    conns.spawn(client::serve(shared.clone(), stream, cid, peer));
                }
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::error!("error accepting client connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns
}

async fn accept(
    listener: &Option<TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

impl ServerHandle {
    /// The monitoring port's address, when one is configured.
    pub fn monitor_addr(&self) -> Option<SocketAddr> {
        self.shared.monitor().addr()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `nats://127.0.0.1:<port>`-style URL clients can use (loopback for a wildcard bind).
    pub fn client_url(&self) -> String {
        let ip = if self.addr.ip().is_unspecified() {
            "127.0.0.1".to_owned()
        } else {
            self.addr.ip().to_string()
        };
        format!("nats://{}:{}", ip, self.addr.port())
    }

    pub fn shared(&self) -> &Arc<ServerShared> {
        &self.shared
    }

    /// Stops accepting, flushes what every connection has pending, closes them all.
    pub async fn shutdown(self) {
        self.shared.shutting_down.store(true, Ordering::Relaxed);
        let _ = self.stop.send(true);
        let Ok(mut conns) = self.accept_task.await else {
            return;
        };
        for c in self.shared.clients() {
            c.out.close(CloseReason::ServerShutdown, true);
        }
        let drained = tokio::time::timeout(SHUTDOWN_FLUSH, async {
            while conns.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            conns.abort_all();
        }
        let js = self.shared.jetstream.lock().take();
        if let Some(mut js) = js {
            // Commits what is queued; blocking is fine here, the server is going away.
            tokio::task::spawn_blocking(move || js.stop()).await.ok();
        }
        tracing::info!("Server Exiting..");
    }
}
