//! Signer keys: the ed25519 keys with which people sign records.
//!
//! A signer key lives on its owner's phone or in the officer's key file and never reaches a
//! node. Its public half is written as unpadded base64url (RFC 4648 section 5) of the 32-byte
//! ed25519 public key: 43 characters, safe in URLs, file names and JSON without escaping.
//!
//! Signing always prefixes a domain-separation string, so that a signature over a Kaban record
//! can never be replayed as a signature over anything else, and verification always uses
//! `verify_strict`, which refuses small-order keys and non-canonical signatures.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Length of a public key in its text form.
pub const PUBLIC_KEY_TEXT_LEN: usize = 43;
/// Length of a signature in its text form.
pub const SIGNATURE_TEXT_LEN: usize = 86;

/// Why a key or signature could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("public key {text:?} is not 43 characters of unpadded base64url")]
    PublicKeyText { text: String },
    #[error(
        "public key {text} is not a valid ed25519 point (canonically encoded, not of small order)"
    )]
    PublicKeyPoint { text: String },
    #[error("signature is not 86 characters of unpadded base64url")]
    SignatureText,
    #[error("key file is not a Kaban signer key file: {0}")]
    KeyFile(String),
    #[error("key file's public key {stated} does not match its secret key, which gives {actual}")]
    KeyFileMismatch { stated: String, actual: String },
}

/// The public half of a signer key: 32 bytes, checked to be a valid curve point when parsed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The decompressed point, from the per-thread cache when this key was seen before.
    fn point(&self) -> Option<VerifyingKey> {
        if let Some(key) = KEY_CACHE.with(|c| c.borrow().get(&self.0).copied()) {
            return Some(key);
        }
        // One spelling per key, and only keys a signature can verify under: the encoding must be
        // RFC 8032's canonical one (y below p, no sign bit on x = 0), which dalek alone does not
        // insist on, and the point must not be of small order.
        let key = VerifyingKey::from_bytes(&self.0)
            .ok()
            .filter(|k| !k.is_weak() && k.to_edwards().compress().to_bytes() == self.0)?;
        KEY_CACHE.with(|c| {
            let mut c = c.borrow_mut();
            if c.len() >= KEY_CACHE_ENTRIES {
                c.clear();
            }
            c.insert(self.0, key);
        });
        Some(key)
    }

    /// Verifies `sig` over `prefix || message` with `verify_strict`.
    pub fn verify(&self, prefix: &[u8], message: &[u8], sig: &[u8; 64]) -> bool {
        let mut signed = Vec::with_capacity(prefix.len() + message.len());
        signed.extend_from_slice(prefix);
        signed.extend_from_slice(message);
        self.verify_signed(&signed, sig)
    }

    /// Verifies `sig` over `signed`, which already starts with its domain-separation prefix.
    pub(crate) fn verify_signed(&self, signed: &[u8], sig: &[u8; 64]) -> bool {
        self.point().is_some_and(|key| {
            key.verify_strict(signed, &Signature::from_bytes(sig))
                .is_ok()
        })
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

/// How many decompressed keys each thread remembers. A book has tens of officers; the bound
/// keeps a stream of hostile keys from growing the cache.
const KEY_CACHE_ENTRIES: usize = 1024;

thread_local! {
    /// Decompressing a key costs about a tenth of verifying a signature, and a few officers sign
    /// nearly every record, so parsed keys are remembered. Only valid points are cached.
    static KEY_CACHE: std::cell::RefCell<std::collections::HashMap<[u8; 32], VerifyingKey>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

impl FromStr for PublicKey {
    type Err = KeyError;

    fn from_str(text: &str) -> Result<Self, KeyError> {
        let bytes: [u8; 32] =
            decode_exact(text, PUBLIC_KEY_TEXT_LEN).ok_or_else(|| KeyError::PublicKeyText {
                text: text.chars().take(64).collect(),
            })?;
        let key = PublicKey(bytes);
        key.point().ok_or_else(|| KeyError::PublicKeyPoint {
            text: text.to_owned(),
        })?;
        Ok(key)
    }
}

impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Decodes unpadded base64url of exactly `text_len` characters into `N` bytes. Refuses padding,
/// the standard alphabet and non-zero trailing bits, so each value has one spelling.
pub(crate) fn decode_exact<const N: usize>(text: &str, text_len: usize) -> Option<[u8; N]> {
    if text.len() != text_len {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    let arr: [u8; N] = bytes.try_into().ok()?;
    // The base64 crate refuses non-zero trailing bits by default; encode again to be certain the
    // spelling is the canonical one.
    (URL_SAFE_NO_PAD.encode(arr) == text).then_some(arr)
}

pub fn encode_signature(sig: &[u8; 64]) -> String {
    URL_SAFE_NO_PAD.encode(sig)
}

pub fn decode_signature(text: &str) -> Result<[u8; 64], KeyError> {
    decode_exact(text, SIGNATURE_TEXT_LEN).ok_or(KeyError::SignatureText)
}

/// A signer key: the secret half, held only by its owner.
#[derive(Clone)]
pub struct SignerKey(SigningKey);

impl SignerKey {
    /// Builds a key from 32 bytes of secret seed. The caller supplies the randomness, so the
    /// protocol crate stays free of any source of entropy.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        SignerKey(SigningKey::from_bytes(&seed))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    /// Signs `prefix || message`.
    pub fn sign(&self, prefix: &[u8], message: &[u8]) -> [u8; 64] {
        let mut signed = Vec::with_capacity(prefix.len() + message.len());
        signed.extend_from_slice(prefix);
        signed.extend_from_slice(message);
        self.0.sign(&signed).to_bytes()
    }

    /// The key file form: a small JSON document, written by the CLI with mode 0600.
    ///
    /// ```json
    /// {"public":"<43 chars>","secret":"<43 chars>","type":"kaban-signer-key","version":1}
    /// ```
    ///
    /// `secret` is the 32-byte ed25519 seed in unpadded base64url; `public` repeats the public
    /// key so a person can see whose key a file holds, and is checked when the file is read.
    pub fn to_key_file(&self) -> String {
        let doc = KeyFile {
            kind: KEY_FILE_TYPE.to_owned(),
            version: 1,
            public: self.public().to_string(),
            secret: URL_SAFE_NO_PAD.encode(self.0.to_bytes()),
        };
        let mut text = serde_json::to_string_pretty(&doc).expect("a key file always serializes");
        text.push('\n');
        text
    }

    pub fn from_key_file(text: &str) -> Result<Self, KeyError> {
        let doc: KeyFile =
            serde_json::from_str(text).map_err(|e| KeyError::KeyFile(e.to_string()))?;
        if doc.kind != KEY_FILE_TYPE {
            return Err(KeyError::KeyFile(format!(
                "type is {:?}, expected {KEY_FILE_TYPE:?}",
                doc.kind
            )));
        }
        if doc.version != 1 {
            return Err(KeyError::KeyFile(format!(
                "version {} is not supported; this build reads version 1",
                doc.version
            )));
        }
        let seed: [u8; 32] = decode_exact(&doc.secret, PUBLIC_KEY_TEXT_LEN).ok_or_else(|| {
            KeyError::KeyFile("secret is not 43 characters of unpadded base64url".into())
        })?;
        let key = SignerKey::from_seed(seed);
        if key.public().to_string() != doc.public {
            return Err(KeyError::KeyFileMismatch {
                stated: doc.public,
                actual: key.public().to_string(),
            });
        }
        Ok(key)
    }
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignerKey(public {})", self.public())
    }
}

const KEY_FILE_TYPE: &str = "kaban-signer-key";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: String,
    version: u32,
    public: String,
    secret: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn key_file_round_trips_and_checks_its_public_key() {
        let key = SignerKey::from_seed([7; 32]);
        let text = key.to_key_file();
        assert_eq!(
            SignerKey::from_key_file(&text).unwrap().public(),
            key.public()
        );
        let other = SignerKey::from_seed([8; 32]).public().to_string();
        let forged = text.replace(&key.public().to_string(), &other);
        assert!(matches!(
            SignerKey::from_key_file(&forged),
            Err(KeyError::KeyFileMismatch { .. })
        ));
        assert!(matches!(
            SignerKey::from_key_file("{}"),
            Err(KeyError::KeyFile(_))
        ));
    }

    #[test]
    fn refuses_malformed_public_keys() {
        let good = SignerKey::from_seed([1; 32]).public().to_string();
        assert_eq!(good.len(), PUBLIC_KEY_TEXT_LEN);
        assert!(good.parse::<PublicKey>().is_ok());
        for bad in [
            "",
            &good[1..],
            &format!("{good}="),
            &format!("{}+", &good[..42]),
            "not a key at all, not a key at all, not a k",
        ] {
            assert!(bad.parse::<PublicKey>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn signature_needs_prefix_and_message() {
        let key = SignerKey::from_seed([3; 32]);
        let sig = key.sign(b"p\n", b"hello");
        assert!(key.public().verify(b"p\n", b"hello", &sig));
        assert!(!key.public().verify(b"q\n", b"hello", &sig));
        assert!(!key.public().verify(b"p\n", b"hellO", &sig));
        for i in 0..64 {
            let mut bad = sig;
            bad[i] ^= 1;
            assert!(!key.public().verify(b"p\n", b"hello", &bad), "byte {i}");
        }
    }

    proptest! {
        #[test]
        fn public_key_text_round_trips(seed in any::<[u8; 32]>()) {
            let public = SignerKey::from_seed(seed).public();
            prop_assert_eq!(public.to_string().parse::<PublicKey>().unwrap(), public);
        }

        #[test]
        fn signature_text_round_trips(sig in any::<[u8; 64]>()) {
            prop_assert_eq!(decode_signature(&encode_signature(&sig)).unwrap(), sig);
        }
    }
}
