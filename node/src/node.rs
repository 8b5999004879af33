//! Starting and stopping a node: data directory, node key, admin token, storage, library and
//! the HTTP server, shut down in order (HTTP first, then storage flushes its last commit).

use crate::api::{self, AppState, Auth};
use crate::config::Config;
use crate::library::Library;
use crate::storage;
use anyhow::Context as _;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const ADMIN_TOKEN_FILE: &str = "admin-token";
pub const NODE_KEY_FILE: &str = "node.key";

/// Writes `contents` to a new file readable only by its owner.
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(contents)?;
    f.sync_all()?;
    Ok(())
}

/// The admin token, created on first start.
pub fn admin_token(data_dir: &Path) -> anyhow::Result<(String, PathBuf)> {
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    if !path.exists() {
        write_private(&path, format!("{}\n", api::random_token()).as_bytes())?;
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

/// The node key (libp2p identity), created on first start. It is not a signer key and never
/// signs records.
pub fn node_key(data_dir: &Path) -> anyhow::Result<libp2p_identity::Keypair> {
    let path = data_dir.join(NODE_KEY_FILE);
    if !path.exists() {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the operating system provides randomness");
        let key = libp2p_identity::Keypair::ed25519_from_bytes(seed)
            .expect("32 random bytes are an ed25519 secret key");
        write_private(
            &path,
            &key.to_protobuf_encoding()
                .context("encoding the node key")?,
        )?;
    }
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    libp2p_identity::Keypair::from_protobuf_encoding(&bytes)
        .with_context(|| format!("{} is not a node key", path.display()))
}

/// Runs the node until `shutdown` resolves. `started` receives the bound HTTP address once the
/// node is listening.
pub async fn run(
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    started: impl FnOnce(&Started),
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let key = node_key(&config.data_dir)?;
    let node_id = key.public().to_peer_id().to_string();
    let (token, token_path) = admin_token(&config.data_dir)?;
    let (storage, storage_thread) = storage::open(&config.data_dir)?;
    let library = Arc::new(Library::open(storage).await?);
    let p2p = crate::p2p::start(key, &config.p2p, Arc::clone(&library)).await?;
    // Wait briefly for the listeners to report their addresses, so they can be printed.
    for _ in 0..50 {
        if p2p.status.listen.lock().expect("not poisoned").len() >= config.p2p.listen.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let tls = match config.https {
        Some(_) => Some(crate::tls::setup(
            &config.data_dir,
            &node_id,
            &config.https_names,
        )?),
        None => None,
    };
    let state = Arc::new(AppState {
        library,
        auth: Auth::new(token),
        node_id: node_id.clone(),
        clock: api::now_ms,
        p2p: Some(p2p.clone()),
        ca_pem: tls.as_ref().map(|t| t.ca_pem.clone()),
    });
    let listener = tokio::net::TcpListener::bind(config.http)
        .await
        .with_context(|| format!("listening for HTTP on {}", config.http))?;
    // One shutdown signal for both servers.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let mut https_addr = None;
    let mut https_task = None;
    if let (Some(addr), Some(tls)) = (config.https, tls) {
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening for HTTPS on {addr}"))?;
        https_addr = Some(l.local_addr()?);
        https_task = Some(tokio::spawn(crate::tls::serve(
            l,
            tls.config,
            api::router(Arc::clone(&state)),
            stopped(stop_rx.clone()),
        )));
    }
    let info = Started {
        node_id,
        listen: p2p.status.listen.lock().expect("not poisoned").clone(),
        http: listener.local_addr()?,
        https: https_addr,
        admin_token: token_path,
        data_dir: config.data_dir.clone(),
        relay: config.p2p.relay,
    };
    started(&info);
    axum::serve(listener, api::router(Arc::clone(&state)))
        .with_graceful_shutdown(stopped(stop_rx))
        .await
        .context("serving HTTP")?;
    if let Some(task) = https_task {
        let _ = task.await;
    }
    tracing::info!("HTTP stopped; stopping peer-to-peer sync");
    p2p.shutdown().await;
    drop(p2p);
    tracing::info!("flushing storage");
    drop(state);
    storage_thread
        .join()
        .map_err(|_| anyhow::anyhow!("the storage thread panicked"))?;
    tracing::info!("stopped");
    Ok(())
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
}
