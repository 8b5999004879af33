//! The node itself: health, its identity and addresses, its partners, and the operator's
//! requests (accepting an invite, the storage integrity check).

use crate::record::BookId;
use serde::{Deserialize, Serialize};

/// `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub status: String,
    pub version: String,
}

impl Health {
    /// A node that answers, at `version`.
    pub fn ok(version: &str) -> Health {
        Health {
            status: "ok".to_owned(),
            version: version.to_owned(),
        }
    }
}

/// `GET /node`: who the node is and where partners reach it. Which books are quarantined, and
/// how many books there are, is the operator's: anyone else sees only a count of quarantined
/// books and no book counts (a count that moves when a stranger names a book would tell
/// whether the book is here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeInfo<Q = QuarantinedBook> {
    /// The node's libp2p PeerId, which invites name.
    pub node_id: String,
    /// The multiaddrs it listens on for partners.
    pub listen: Vec<String>,
    /// What AutoNAT concluded of its reachability.
    pub nat: String,
    pub version: String,
    /// The record format version it signs and accepts.
    pub protocol: u32,
    pub quarantined: Quarantine<Q>,
    /// The operator's: how many books the node holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub books: Option<usize>,
    /// The operator's: how many of them are loaded in memory now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub books_in_memory: Option<usize>,
}

/// The quarantined books, for the operator; their number, for anyone else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum Quarantine<Q = QuarantinedBook> {
    Books(Vec<Q>),
    Count(usize),
}

/// A stored book that did not load, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuarantinedBook {
    pub book: String,
    pub reason: String,
}

/// `POST /admin/peers`: the operator accepts a partner's invite code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JoinRequest {
    /// The invite a partner's node made: `kaban-invite:` and base64url, at most 4096 bytes.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^kaban-invite:[A-Za-z0-9_-]+$", max_length = 4096)
    )]
    pub code: String,
}

/// The answer to [`JoinRequest`]: the book this node will fetch, and from whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Joined {
    pub book: BookId,
    pub peer: String,
}

/// `GET /admin/peers`. `node_id` and `nat` are absent when the node runs no peer-to-peer layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Peers<S = PartnerState> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat: Option<String>,
    pub connected: Vec<ConnectedPeer>,
    pub partners: Vec<Partner<S>>,
}

impl<S> Peers<S> {
    /// The answer of a node that runs no peer-to-peer layer.
    pub fn without_p2p() -> Peers<S> {
        Peers {
            node_id: None,
            nat: None,
            connected: Vec::new(),
            partners: Vec::new(),
        }
    }
}

/// A peer connected now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectedPeer {
    pub peer: String,
    /// `direct`, or `relayed` when every connection runs through a relay.
    pub connection: String,
    /// The last hole-punch outcome with it: `upgraded`, or why it failed.
    pub hole_punch: Option<String>,
}

/// A partner session of one shared book, with how the partner is connected (`None`: it is
/// not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Partner<S = PartnerState> {
    #[serde(flatten)]
    pub state: S,
    pub connection: Option<String>,
}

/// What the node shows of a partner session of one book.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartnerState {
    pub book: String,
    pub peer: String,
    pub connected: bool,
    /// The last turn of the session found nothing left to send either way.
    pub in_sync: bool,
    /// When changes last came in from the partner, or the two last found they hold the same
    /// (Unix milliseconds, this node's clock).
    pub last_synced_ms: Option<u64>,
    /// Why the last session with the partner ended in error, if it did.
    pub last_error: Option<String>,
    /// Frame bytes this node sent and received in this book's sessions with the partner.
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

/// `GET /admin/integrity`: SQLite's own words, `ok` when all is well.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Integrity {
    pub integrity_check: String,
}
