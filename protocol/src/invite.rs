//! Invite codes: how an officer tells a partner's operator where to fetch a shared book.
//!
//! A code is `kaban-invite:` followed by unpadded base64url of a small JSON object
//! `{"addrs": [multiaddr…], "book": "<book id>", "peer": "<PeerId>"}`: the inviting node's libp2p
//! PeerId, the addresses it listens on, and the book. A code grants nothing by itself: the
//! inviting node syncs the book only with peers its share records name, and the partner's node
//! syncs it only after its operator accepts the code.

use crate::record::BookId;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

pub const PREFIX: &str = "kaban-invite:";
/// Longest code accepted.
pub const MAX_CODE_BYTES: usize = 4096;
/// Most addresses in a code.
pub const MAX_ADDRS: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invite {
    pub addrs: Vec<String>,
    pub book: BookId,
    pub peer: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InviteError {
    #[error("invite code must start with {PREFIX:?}")]
    Prefix,
    #[error("invite code is longer than {MAX_CODE_BYTES} bytes")]
    TooLong,
    #[error("invite code is damaged: {0}")]
    Damaged(String),
    #[error("invite code lists {0} addresses; at most {MAX_ADDRS}")]
    TooManyAddrs(usize),
}

impl Invite {
    pub fn to_code(&self) -> String {
        let json = serde_json::to_vec(self).expect("an invite serializes");
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(json))
    }

    pub fn from_code(code: &str) -> Result<Invite, InviteError> {
        let code = code.trim();
        if code.len() > MAX_CODE_BYTES {
            return Err(InviteError::TooLong);
        }
        let body = code.strip_prefix(PREFIX).ok_or(InviteError::Prefix)?;
        let json = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|e| InviteError::Damaged(e.to_string()))?;
        let invite: Invite =
            serde_json::from_slice(&json).map_err(|e| InviteError::Damaged(e.to_string()))?;
        if invite.addrs.len() > MAX_ADDRS {
            return Err(InviteError::TooManyAddrs(invite.addrs.len()));
        }
        Ok(invite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RecordId;

    #[test]
    fn codes_round_trip_and_damage_is_named() {
        let invite = Invite {
            addrs: vec!["/ip4/127.0.0.1/tcp/8738".into()],
            book: BookId(RecordId([3; 32])),
            peer: "12D3KooWGzh8nrHxQ5C8mNfkkXDhLyH3dSJZ5Vv1x5X4kY2gFqk9".into(),
        };
        let code = invite.to_code();
        assert_eq!(Invite::from_code(&format!("  {code}\n")).unwrap(), invite);
        assert_eq!(Invite::from_code("hello"), Err(InviteError::Prefix));
        assert!(matches!(
            Invite::from_code(&format!("{code}!")),
            Err(InviteError::Damaged(_))
        ));
    }
}
