//! Sessions: how a person proves to a node that she holds a signer key, without sending it.
//!
//! The node hands out a random challenge with its own id; the person signs [`SESSION_PREFIX`]
//! followed by the node's id, the origin she connected to and the challenge, each on its own
//! line (see [`session_text`]), and the node checks the signature with `verify_strict`, its own
//! id, and that the origin is one of its own. A node that relays another node's challenge gets
//! a signature for its own origin, which the real node refuses: the session is bound to the
//! channel the person used. The prefix differs from the record prefix, so a session signature
//! can never be replayed as a record, nor the reverse.

use crate::key::{PublicKey, SignerKey, decode_signature, encode_signature};

/// Prepended to the session text before signing.
pub const SESSION_PREFIX: &[u8] = b"kaban-session-v2\n";

/// What a session signature covers: the node, the origin and the challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionText<'a> {
    /// The node's id (its libp2p PeerId), as the node's challenge answer gives it.
    pub node: &'a str,
    /// The origin the person connected to, as the client itself knows it: scheme, host and
    /// port (omitted when it is the scheme's default), like a browser's `location.origin`.
    pub origin: &'a str,
    /// The node's challenge.
    pub challenge: &'a str,
}

/// The bytes signed after the prefix: `node "\n" origin "\n" challenge`.
pub fn session_text(t: &SessionText<'_>) -> Vec<u8> {
    format!("{}\n{}\n{}", t.node, t.origin, t.challenge).into_bytes()
}

/// Signs a session text; returns the signature text.
pub fn sign_challenge(key: &SignerKey, text: &SessionText<'_>) -> String {
    encode_signature(&key.sign(SESSION_PREFIX, &session_text(text)))
}

/// Checks a session signature given as text.
pub fn verify_challenge(key: &PublicKey, text: &SessionText<'_>, signature: &str) -> bool {
    decode_signature(signature)
        .is_ok_and(|sig| key.verify(SESSION_PREFIX, &session_text(text), &sig))
}

/// The origin of a URL (`http://127.0.0.1:8737/api` → `http://127.0.0.1:8737`), the way a
/// browser writes `location.origin`: lowercase scheme and host, the port only when it is not
/// the scheme's default. `None` for anything that is not an http or https URL.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default = match scheme.as_str() {
        "http" => "80",
        "https" => "443",
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?.to_ascii_lowercase();
    if authority.is_empty() {
        return None;
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && (!h.contains(':') || h.ends_with(']')) => (h, Some(p)),
        _ => (authority.as_str(), None),
    };
    Some(match port {
        Some(p) if p != default && !p.is_empty() => format!("{scheme}://{host}:{p}"),
        _ => format!("{scheme}://{host}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text<'a>(node: &'a str, origin: &'a str, challenge: &'a str) -> SessionText<'a> {
        SessionText {
            node,
            origin,
            challenge,
        }
    }

    #[test]
    fn a_session_signature_binds_key_node_origin_and_challenge() {
        let key = SignerKey::from_seed([4; 32]);
        let t = text("12D3KooWnode", "http://127.0.0.1:8737", "abc");
        let sig = sign_challenge(&key, &t);
        assert!(verify_challenge(&key.public(), &t, &sig));
        for other in [
            text("12D3KooWnode", "http://127.0.0.1:8737", "abd"),
            text("12D3KooWother", "http://127.0.0.1:8737", "abc"),
            text("12D3KooWnode", "http://192.168.1.66:8737", "abc"),
        ] {
            assert!(!verify_challenge(&key.public(), &other, &sig), "{other:?}");
        }
        let other = SignerKey::from_seed([5; 32]).public();
        assert!(!verify_challenge(&other, &t, &sig));
        assert!(!verify_challenge(&key.public(), &t, "short"));
    }

    #[test]
    fn origins_are_written_as_browsers_write_them() {
        for (url, origin) in [
            ("http://127.0.0.1:8737", Some("http://127.0.0.1:8737")),
            ("http://127.0.0.1:8737/", Some("http://127.0.0.1:8737")),
            ("HTTPS://Kaban.LAN:443/app?x#y", Some("https://kaban.lan")),
            ("http://kaban.lan:80", Some("http://kaban.lan")),
            ("https://[::1]:8743/api", Some("https://[::1]:8743")),
            ("https://[::1]", Some("https://[::1]")),
            ("ftp://x", None),
            ("127.0.0.1:8737", None),
            ("http://", None),
        ] {
            assert_eq!(origin_of(url).as_deref(), origin, "{url}");
        }
    }
}
