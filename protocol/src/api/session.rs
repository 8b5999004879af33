//! Opening a session: `POST /sessions/challenge`, then `POST /sessions` with the challenge
//! signed (SPEC.md section 10). Keys travel as text in requests, so that the node can refuse a
//! malformed one with its own problem code rather than a generic JSON error.

use crate::key::PublicKey;
use serde::{Deserialize, Serialize};

/// `POST /sessions/challenge`: ask for a challenge for `key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChallengeRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::key::PublicKey))]
    pub key: String,
}

/// The answer to [`ChallengeRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::key::PublicKey))]
    pub key: String,
    /// The origin the client connected to, like `https://192.168.1.20:8743`.
    pub origin: String,
    pub challenge: String,
    /// The ed25519 signature, 86 characters of unpadded base64url.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{85}[AQgw]$"))]
    pub signature: String,
}

/// The answer to [`SessionRequest`]: the bearer token for later requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    pub token: String,
    pub key: PublicKey,
    pub expires_in_s: u64,
}
