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

#[derive(Debug)]
pub struct Tls {
    pub config: Arc<rustls::ServerConfig>,
    /// The CA certificate in PEM, for phones to install.
    pub ca_pem: String,
    /// Its SHA-256 fingerprint, for a person to compare before trusting it.
    pub fingerprint: String,
}

/// The names (besides loopback) the CA may certify, kept beside it: one per line.
const CA_NAMES_FILE: &str = "ca.names";

/// The CA may certify only loopback and these names: a phone that installs it trusts it for
/// this node and nothing else.
fn name_constraints(names: &[String]) -> rcgen::NameConstraints {
    use rcgen::{CidrSubnet, GeneralSubtree};
    let mut permitted: Vec<GeneralSubtree> = Vec::new();
    for name in ["localhost", "127.0.0.1", "::1"]
        .into_iter()
        .chain(names.iter().map(String::as_str))
    {
        let subtree = match name.parse::<std::net::IpAddr>() {
            Ok(ip) => {
                let bits = if ip.is_ipv4() { 32 } else { 128 };
                GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(ip, bits))
            }
            Err(_) => GeneralSubtree::DnsName(name.to_ascii_lowercase()),
        };
        if !permitted.contains(&subtree) {
            permitted.push(subtree);
        }
    }
    rcgen::NameConstraints {
        permitted_subtrees: permitted,
        excluded_subtrees: Vec::new(),
    }
}

fn ca_params(node_id: &str, names: &[String]) -> CertificateParams {
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
    params.name_constraints = Some(name_constraints(names));
    // Fixed dates, so the CA certificate made again from its key at every start is the same
    // issuer as the one the phones installed.
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = rcgen::date_time_ymd(2045, 1, 1);
    params
}

/// Loads (or on first use makes) the node's CA, and makes a server certificate for `names`.
pub fn setup(data_dir: &Path, node_id: &str, names: &[String]) -> anyhow::Result<Tls> {
    let dir = data_dir.join("tls");
    crate::files::private_dir(&dir)?;
    let (key_path, cert_path) = (dir.join("ca.key"), dir.join("ca.crt"));
    let names_path = dir.join(CA_NAMES_FILE);
    if !key_path.exists() {
        let key = KeyPair::generate().context("making the CA key")?;
        let cert = ca_params(node_id, names)
            .self_signed(&key)
            .context("making the CA certificate")?;
        crate::files::write_private(&key_path, key.serialize_pem().as_bytes())?;
        std::fs::write(&names_path, names.join("\n"))
            .with_context(|| format!("writing {}", names_path.display()))?;
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
    // A CA made before name constraints has no names file: it stays unconstrained until the
    // operator makes a new one (move tls/ aside); phones then install the new one.
    let ca_names: Option<Vec<String>> = std::fs::read_to_string(&names_path).ok().map(|t| {
        t.lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    });
    match &ca_names {
        None => tracing::warn!(
            "this node's CA has no name constraints (made by an earlier version): phones that install it trust it for every site. Move {} aside and restart to make a constrained one; phones then install it again",
            dir.display()
        ),
        Some(allowed) => {
            for name in names.iter().filter(|n| !allowed.contains(n)) {
                tracing::warn!(%name, "this HTTPS name is outside the CA's name constraints, so phones will refuse it; move the tls directory aside and restart to make a CA for all the names (phones install it again)");
            }
        }
    }
    let issuer = ca_params(node_id, ca_names.as_deref().unwrap_or(names))
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
        fingerprint: kaban_protocol::fingerprint::fingerprint(&ca_pem)
            .context("the CA certificate is not PEM")?,
        ca_pem,
    })
}
