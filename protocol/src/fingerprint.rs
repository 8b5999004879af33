//! The fingerprint of a node's CA certificate, as browsers show it: the node prints it at start
//! and `kaban phone` shows it, so that a person can compare the two before a phone trusts the
//! certificate.

use sha2::Digest as _;

/// The SHA-256 fingerprint of a PEM certificate as colon-separated upper-case hex pairs
/// (`AB:CD:…`, 95 characters), or `None` when `pem` holds no base64 certificate.
pub fn fingerprint(pem: &str) -> Option<String> {
    use base64::Engine as _;
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()
        .filter(|d| !d.is_empty())?;
    let hex: Vec<String> = sha2::Sha256::digest(&der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    Some(hex.join(":"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_the_certificates_bytes() {
        // SHA-256 of the three bytes "abc".
        let pem = "-----BEGIN CERTIFICATE-----\nYWJj\n-----END CERTIFICATE-----\n";
        assert_eq!(
            fingerprint(pem).unwrap(),
            "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        );
        assert_eq!(fingerprint("not a certificate"), None);
    }
}
