//! HTTPS for phones on the LAN, checked with a real TLS client (curl) against a real node: the
//! node is its own certificate authority, serves that CA's certificate over plain HTTP for
//! phones to install, and its HTTPS certificate verifies against it for every name the operator
//! gave, across restarts, while an unknown CA is refused.

#![allow(clippy::unwrap_used)]

use kaban_tests::NodeProcess;
use std::path::Path;
use std::process::Command;

fn curl(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(kaban_tests::machine::debian("curl", "curl"))
        .args(["--silent", "--show-error", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Fetches `path` over HTTPS as `name` (resolved to 127.0.0.1), trusting only `ca`.
fn fetch(node: &NodeProcess, name: &str, ca: &Path, path: &str) -> (bool, String, String) {
    let port = node
        .https
        .as_ref()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    curl(&[
        "--cacert",
        ca.to_str().unwrap(),
        "--resolve",
        &format!("{name}:{port}:127.0.0.1"),
        &format!("https://{name}:{port}{path}"),
    ])
}

#[test]
fn phones_trust_the_nodes_own_ca_for_the_names_it_was_given() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let args = [
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
        "--https",
        "127.0.0.1:0",
        "--https-name",
        "kaban.lan",
    ];
    let node = NodeProcess::start_with(&data, "127.0.0.1:0", &args);
    assert!(node.https.is_some(), "the node prints its https address");

    // The phone downloads the CA certificate over plain HTTP, once.
    let ca = dir.path().join("kaban-ca.crt");
    let (ok, pem, err) = curl(&[&format!("{}/kaban-ca.crt", node.url)]);
    assert!(ok, "{err}");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    std::fs::write(&ca, &pem).unwrap();

    for name in ["kaban.lan", "localhost"] {
        let (ok, body, err) = fetch(&node, name, &ca, "/api/v1/health");
        assert!(ok, "{name}: {err}");
        assert!(body.contains("\"status\""), "{body}");
        let (ok, body, err) = fetch(&node, name, &ca, "/");
        assert!(ok && body.contains("<main id=\"app\">"), "{name}: {err}");
    }
    // A name the certificate was not made for is refused, as is a client that does not trust
    // the node's CA.
    let (ok, _, err) = fetch(&node, "elsewhere.lan", &ca, "/api/v1/health");
    assert!(!ok && err.contains("certificate"), "{err}");
    let (ok, _, err) = curl(&[&format!("{}/api/v1/health", node.https.as_ref().unwrap())]);
    assert!(!ok && err.contains("certificate"), "{err}");
    let key_mode = std::fs::metadata(data.join("tls/ca.key")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&key_mode.permissions()) & 0o777,
        0o600
    );

    // After a restart the server certificate is new, and the phones' CA still vouches for it.
    node.stop();
    let node = NodeProcess::start_with(&data, "127.0.0.1:0", &args);
    let (_, again, _) = curl(&[&format!("{}/kaban-ca.crt", node.url)]);
    assert_eq!(again, pem, "the CA stays the same");
    let (ok, _, err) = fetch(&node, "kaban.lan", &ca, "/api/v1/health");
    assert!(ok, "{err}");
}
