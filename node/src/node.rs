//! Starting and stopping a node: data directory, node key, admin token, storage, library and
//! the HTTP server, shut down in order (HTTP first, then storage flushes its last commit).

use crate::api::{self, AppState, Auth};
use crate::config::Config;
use crate::library::Library;
use crate::storage;
use anyhow::Context as _;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const ADMIN_TOKEN_FILE: &str = "admin-token";
pub const NODE_KEY_FILE: &str = "node.key";

/// The file descriptors the node asks for: room for the default 512 HTTP connections, p2p
/// connections and SQLite, whatever the login limit (often 1,024).
pub const WANTED_FILE_DESCRIPTORS: u64 = 8192;

/// Makes every file the process creates private (mode 0600, directories 0700), whatever the
/// umask it was started with: the database, its WAL and shm, and backups.
pub fn private_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Raises the soft file-descriptor limit towards [`WANTED_FILE_DESCRIPTORS`], within the hard
/// limit. Returns the soft limit in force.
pub fn raise_fd_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    let current = limit.current.unwrap_or(u64::MAX);
    let wanted = WANTED_FILE_DESCRIPTORS.min(hard);
    if current < wanted {
        let raised = rustix::process::Rlimit {
            current: Some(wanted),
            maximum: limit.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(error = %e, current, wanted, "could not raise the file descriptor limit");
            return Some(current);
        }
        return Some(wanted);
    }
    Some(current)
}

/// Makes the data directory private: the directory and its subdirectories 0700, every file
/// 0600, whatever the umask was when they were made (a data directory from an earlier version,
/// or restored by hand). New files are private by the process's umask (see `main`).
pub fn make_private(data_dir: &Path) -> anyhow::Result<()> {
    crate::files::private_dir(data_dir)?;
    tighten(data_dir);
    Ok(())
}

/// Makes what is inside `dir` private; what the node may not change (a file another user left,
/// say) is logged, and the node goes on.
fn tighten(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let mode = if kind.is_dir() { 0o700 } else { 0o600 };
        if !kind.is_dir() && !kind.is_file() {
            continue;
        }
        if let Err(e) = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)) {
            tracing::warn!(path = %path.display(), error = %e, "could not make this private; check who owns it");
        }
        if kind.is_dir() {
            tighten(&path);
        }
    }
}

/// The admin token, created on first start.
pub fn admin_token(data_dir: &Path) -> anyhow::Result<(String, PathBuf)> {
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    if !path.exists() {
        crate::files::write_private(&path, format!("{}\n", api::random_token()).as_bytes())?;
    }
    let mode = std::fs::metadata(&path)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        anyhow::bail!(
            "admin token {} is readable by others (mode {mode:o}); run chmod 600 on it",
            path.display()
        );
    }
    let token = std::fs::read_to_string(&path)?.trim().to_owned();
    Ok((token, path))
}

/// Runs the node until `shutdown` resolves. `started` receives the bound HTTP address once the
/// node is listening.
pub async fn run(
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    started: impl FnOnce(&Started),
) -> anyhow::Result<()> {
    prepare_process(&config.data_dir)?;
    let key = crate::p2p::node_key(&config.data_dir)?;
    let node_id = key.public().to_peer_id().to_string();
    let (token, token_path) = admin_token(&config.data_dir)?;
    let (storage, storage_thread) = storage::open(&config.data_dir)?;
    let library =
        Arc::new(Library::open_with(storage, crate::library::Caps::from(&config.limits)).await?);
    let p2p = crate::p2p::start(key, &config.p2p, Arc::clone(&library)).await?;
    let listen = wait_for_listeners(&p2p, config.p2p.listen.len()).await;
    let tls = match config.https {
        Some(_) => Some(crate::tls::setup(
            &config.data_dir,
            &node_id,
            &config.https_names,
        )?),
        None => None,
    };
    let listener = bind(config.http, "HTTP").await?;
    let https_listener = match config.https {
        Some(addr) => Some(bind(addr, "HTTPS").await?),
        None => None,
    };
    let http_addr = listener.local_addr()?;
    let https_addr = https_listener
        .as_ref()
        .map(|l| l.local_addr())
        .transpose()?;
    let origins = origins(&config, http_addr, https_addr);
    let setup = crate::setup::SetupCodes::new(&config.data_dir);
    let state = Arc::new(AppState {
        library,
        auth: Auth::new(token, node_id.clone(), origins, setup.clone()),
        node_id: node_id.clone(),
        clock: crate::clock::now_ms,
        request_timeout: config.limits.request_timeout,
        p2p: Some(p2p.clone()),
        ca_pem: tls.as_ref().map(|t| t.ca_pem.clone()),
    });
    // One shutdown signal for both servers.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let backups = spawn_backups(&config, &state, &stop_rx);
    let limits = crate::server::Limits::new(&config.limits);
    let https_task = match (https_listener, tls.as_ref()) {
        (Some(l), Some(tls)) => Some(tokio::spawn(crate::server::serve(
            l,
            Some(Arc::clone(&tls.config)),
            api::router(Arc::clone(&state)),
            Arc::clone(&limits),
            stop_rx.clone(),
        ))),
        _ => None,
    };
    let setup_code = if state.library.list().await.is_empty() {
        Some(setup.issue(crate::clock::now_ms())?)
    } else {
        None
    };
    let info = Started {
        node_id,
        listen,
        http: http_addr,
        https: https_addr,
        admin_token: token_path,
        data_dir: config.data_dir.clone(),
        relay: config.p2p.relay,
        setup_code,
        ca_fingerprint: tls.as_ref().map(|t| t.fingerprint.clone()),
    };
    started(&info);
    crate::server::serve(
        listener,
        None,
        api::router(Arc::clone(&state)),
        limits,
        stop_rx,
    )
    .await;
    if let Some(task) = https_task {
        let _ = task.await;
    }
    // A backup under way finishes before storage closes.
    if let Some(task) = backups {
        let _ = task.await;
    }
    stop_after_http(p2p, state, storage_thread).await
}

/// The scheduled backups' task, when the configuration names a backup directory; it stops
/// with HTTP, and is awaited before storage closes.
fn spawn_backups(
    config: &Config,
    state: &Arc<AppState>,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    let schedule = config.backups.clone()?;
    let library = Arc::clone(&state.library);
    Some(tokio::spawn(crate::backups::run(
        library,
        schedule,
        stop.clone(),
    )))
}

/// The rest of the shutdown order once HTTP has stopped: p2p, then storage flushes its last
/// commit and its thread ends.
async fn stop_after_http(
    p2p: crate::p2p::P2p,
    state: Arc<AppState>,
    storage_thread: std::thread::JoinHandle<()>,
) -> anyhow::Result<()> {
    tracing::info!("HTTP stopped; stopping peer-to-peer sync");
    p2p.shutdown().await;
    drop(p2p);
    tracing::info!("flushing storage");
    state.library.close().await;
    drop(state);
    storage_thread
        .join()
        .map_err(|_| anyhow::anyhow!("the storage thread panicked"))?;
    tracing::info!("stopped");
    Ok(())
}

/// The process's own settings before anything is written: private files, and room for the
/// connections it allows.
fn prepare_process(data_dir: &Path) -> anyhow::Result<()> {
    private_umask();
    let fds = raise_fd_limit();
    tracing::info!(file_descriptors = fds, "file descriptor limit");
    make_private(data_dir)
}

async fn bind(addr: std::net::SocketAddr, what: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening for {what} on {addr}"))
}

/// Waits briefly for the p2p listeners to report their addresses, so they can be printed.
async fn wait_for_listeners(p2p: &crate::p2p::P2p, wanted: usize) -> Vec<String> {
    let wait = std::time::Duration::from_millis(500);
    match tokio::time::timeout(wait, p2p.listening(wanted)).await {
        Ok(listen) => listen,
        // Some listeners (a relay circuit) may come later; start with what there is.
        Err(_) => p2p.status().await.listen,
    }
}

/// What a started node reports.
#[derive(Debug)]
pub struct Started {
    pub node_id: String,
    pub listen: Vec<String>,
    pub http: std::net::SocketAddr,
    pub https: Option<std::net::SocketAddr>,
    pub admin_token: PathBuf,
    pub data_dir: PathBuf,
    pub relay: bool,
    /// A fresh one-time setup code, when the node holds no books yet.
    pub setup_code: Option<String>,
    /// The SHA-256 fingerprint of the node's CA certificate, when it serves HTTPS, for a
    /// person to compare with what a phone shows before trusting it.
    pub ca_fingerprint: Option<String>,
}

/// The origins this node is reached at, which session signatures must name: loopback and the
/// configured names, on the HTTP and HTTPS ports, and any `origins` the configuration adds
/// (a reverse proxy in front, say).
fn origins(
    config: &Config,
    http: std::net::SocketAddr,
    https: Option<std::net::SocketAddr>,
) -> Vec<String> {
    let host = |ip: std::net::IpAddr| match ip {
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    };
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()];
    names.extend(
        config
            .https_names
            .iter()
            .map(|n| match n.parse::<std::net::Ipv6Addr>() {
                Ok(v6) => format!("[{v6}]"),
                Err(_) => n.to_ascii_lowercase(),
            }),
    );
    let mut out = Vec::new();
    let mut add = |scheme: &str, addr: std::net::SocketAddr| {
        let mut hosts = names.clone();
        if !addr.ip().is_unspecified() {
            hosts.push(host(addr.ip()));
        }
        for h in hosts {
            let url = format!("{scheme}://{h}:{}", addr.port());
            if let Some(o) = kaban_protocol::session::origin_of(&url) {
                out.push(o);
            }
        }
    };
    add("http", http);
    if let Some(https) = https {
        add("https", https);
    }
    out.extend(
        config
            .origins
            .iter()
            .filter_map(|o| kaban_protocol::session::origin_of(o)),
    );
    out.sort();
    out.dedup();
    out
}
