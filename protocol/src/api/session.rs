//! Opening a session: `POST /sessions/challenge`, then `POST /sessions` with the challenge
//! signed (SPEC.md section 10). Keys travel as text in requests, so that the node can refuse a
//! malformed one with its own problem code rather than a generic JSON error.

use crate::key::PublicKey;
use serde::{Deserialize, Serialize};

/// `POST /sessions/challenge`: ask for a challenge for `key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeRequest {
    pub key: String,
}

/// The answer to [`ChallengeRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    pub challenge: String,
    /// The node's id, which the signed text names.
    pub node: String,
    pub expires_in_s: u64,
    /// What to sign, in words, for someone reading the answer by hand.
    pub sign: String,
}

/// What [`Challenge::sign`] says: the text to sign, as [`crate::session::sign_challenge`] makes it.
pub const HOW_TO_SIGN: &str = "ed25519 over 'kaban-session-v2\\n' + node + '\\n' + the origin you connected to + '\\n' + challenge (SPEC.md section 10)";

/// `POST /sessions`: the challenge, signed by `key` for `origin`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRequest {
    pub key: String,
    pub origin: String,
    pub challenge: String,
    pub signature: String,
}

/// The answer to [`SessionRequest`]: the bearer token for later requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub token: String,
    pub key: PublicKey,
    pub expires_in_s: u64,
}
