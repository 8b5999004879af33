//! HTTPS for phones on the LAN. Browsers let a page make keys, hash and keep an offline copy of
//! the app only on a secure origin, and a LAN address over plain HTTP is not one.
//!
//! The node is its own small certificate authority. On first start with `--https` it makes a CA
//! key and certificate (`tls/ca.key`, mode 0600, and `tls/ca.crt`) in its data directory. The
//! phones install `ca.crt` once (the node serves it at `/kaban-ca.crt`, over plain HTTP too) and
//! from then on trust the node's HTTPS. The server certificate is made afresh at every start,
//! for the names the operator gives (`--https-name 192.168.1.20`, `--https-name kaban.lan`) and
//! for localhost, signed by that CA.

use anyhow::Context as _;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls;

/// How long a TLS handshake may take before the connection is dropped.
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// At most this many connections are served at once over HTTPS; more wait to be accepted.
pub const MAX_CONNECTIONS: usize = 256;

#[derive(Debug)]
pub struct Tls {
    pub config: Arc<rustls::ServerConfig>,
    /// The CA certificate in PEM, for phones to install.
    pub ca_pem: String,
}

fn ca_params(node_id: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    // A PeerId is ASCII (base58), so its last eight characters are its last eight bytes.
    let short = &node_id[node_id.len().saturating_sub(8)..];
    params
        .distinguished_name
        .push(DnType::CommonName, format!("Kaban node {short}"));
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Kaban");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    // Fixed dates, so the CA certificate made again from its key at every start is the same
    // issuer as the one the phones installed.
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = rcgen::date_time_ymd(2045, 1, 1);
    params
}

/// Loads (or on first use makes) the node's CA, and makes a server certificate for `names`.
pub fn setup(data_dir: &Path, node_id: &str, names: &[String]) -> anyhow::Result<Tls> {
    let dir = data_dir.join("tls");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let (key_path, cert_path) = (dir.join("ca.key"), dir.join("ca.crt"));
    if !key_path.exists() {
        let key = KeyPair::generate().context("making the CA key")?;
        let cert = ca_params(node_id)
            .self_signed(&key)
            .context("making the CA certificate")?;
        crate::node::write_private(&key_path, key.serialize_pem().as_bytes())?;
        std::fs::write(&cert_path, cert.pem())
            .with_context(|| format!("writing {}", cert_path.display()))?;
    }
    let ca_key = KeyPair::from_pem(
        &std::fs::read_to_string(&key_path)
            .with_context(|| format!("reading {}", key_path.display()))?,
    )
    .with_context(|| format!("{} is not a key", key_path.display()))?;
    let ca_pem = std::fs::read_to_string(&cert_path)
        .with_context(|| format!("reading {}", cert_path.display()))?;
    let issuer = ca_params(node_id)
        .self_signed(&ca_key)
        .context("remaking the CA certificate")?;

    let mut sans: Vec<String> = vec!["localhost".into(), "127.0.0.1".into()];
    sans.extend(names.iter().cloned());
    sans.dedup();
    let mut params =
        CertificateParams::new(sans.clone()).with_context(|| format!("names {sans:?}"))?;
    params
        .distinguished_name
        .push(DnType::CommonName, sans.last().cloned().unwrap_or_default());
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = rcgen::date_time_ymd(2045, 1, 1);
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate().context("making the server key")?;
    let cert = params
        .signed_by(&key, &issuer, &ca_key)
        .context("signing the server certificate")?;

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .context("the server certificate")?;
    let mut config = config;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Tls {
        config: Arc::new(config),
        ca_pem,
    })
}

/// Serves `router` over TLS on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Arc<rustls::ServerConfig>,
    router: axum::Router,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => return,
            p = Arc::clone(&slots).acquire_owned() => p.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, say: wait a little rather than spin.
                    tracing::warn!(error = %e, "accepting an HTTPS connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let (acceptor, router) = (acceptor.clone(), router.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let service = hyper_util::service::TowerToHyperService::new(router);
            if let Err(e) =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(tls), service)
                    .await
            {
                tracing::debug!(%peer, error = %e, "HTTPS connection ended with an error");
            }
        });
    }
}
