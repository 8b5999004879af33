//! Sessions: how a person proves to a node that she holds a signer key, without sending it.
//!
//! The node hands out a random challenge; the person signs [`SESSION_PREFIX`] followed by the
//! challenge text with her signer key, and the node checks the signature with `verify_strict`.
//! The prefix differs from the record prefix, so a session signature can never be replayed as a
//! record, nor the reverse.

use crate::key::{PublicKey, SignerKey, decode_signature, encode_signature};

/// Prepended to the challenge text before signing.
pub const SESSION_PREFIX: &[u8] = b"kaban-session-v1\n";

/// Signs a challenge; returns the signature text.
pub fn sign_challenge(key: &SignerKey, challenge: &str) -> String {
    encode_signature(&key.sign(SESSION_PREFIX, challenge.as_bytes()))
}

/// Checks a challenge signature given as text.
pub fn verify_challenge(key: &PublicKey, challenge: &str, signature: &str) -> bool {
    decode_signature(signature)
        .is_ok_and(|sig| key.verify(SESSION_PREFIX, challenge.as_bytes(), &sig))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_signature_binds_key_and_challenge() {
        let key = SignerKey::from_seed([4; 32]);
        let sig = sign_challenge(&key, "abc");
        assert!(verify_challenge(&key.public(), "abc", &sig));
        assert!(!verify_challenge(&key.public(), "abd", &sig));
        let other = SignerKey::from_seed([5; 32]).public();
        assert!(!verify_challenge(&other, "abc", &sig));
        assert!(!verify_challenge(&key.public(), "abc", "short"));
    }
}
