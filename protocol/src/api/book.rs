//! Books: founding one, submitting records to it, where to sign next, and what an officer
//! reads of it as a whole (summary, list, roster, pending approvals, anomalies), plus the
//! operator's removal and a member's erasure of personal data.

use super::AnomalyLine;
use crate::kind::Role;
use crate::money::{Currency, Money};
use crate::record::{BookId, RecordId};
use crate::view::{Member, Officer, Pending};
use serde::{Deserialize, Serialize};

/// `POST /books` (a genesis record as the body): the book it founded, or had already.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Created {
    pub book: BookId,
}

/// `POST /books/{book}/records` (a signed record as the body): the record's id, once durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Submitted {
    pub id: RecordId,
}

/// `GET /books/{book}/place?signer=KEY`: where the signer's next record stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Place {
    pub book: BookId,
    /// The record's number in the signer's own chain, from 1.
    pub seq: u64,
    /// The book's heads, which the record names as what it follows.
    pub after: Vec<RecordId>,
}

/// `GET /books/{book}`: an officer's summary of a book. The node fills `anomalies` with the
/// ledger's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Summary<A = AnomalyLine> {
    /// The book as the request named it.
    pub book: String,
    pub name: String,
    /// Absent until the genesis has arrived from a partner.
    pub currency: Option<Currency>,
    pub record_count: usize,
    /// Group totals per currency, of effective records only.
    pub balances: Vec<Money>,
    /// How many members joined.
    pub members: usize,
    pub officers: Vec<Officer>,
    /// Records awaiting approvals.
    pub pending: Vec<RecordId>,
    pub anomalies: Vec<A>,
    /// Partner nodes the book is shared with.
    pub shared_with: Vec<String>,
}

/// `GET /books`: the books the caller may read; all of them for the admin token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BookList<B = BookEntry> {
    pub books: Vec<Listed<B>>,
}

/// One book of a [`BookList`], with what the caller is in it when she is a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Listed<B = BookEntry> {
    #[serde(flatten)]
    pub book: B,
    /// Her roles, when she is an officer of the book.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<Role>>,
    /// Her member id, when she is a member of the book.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
}

impl<B> Listed<B> {
    /// A book as the operator sees it: no roles, no membership.
    pub fn plain(book: B) -> Listed<B> {
        Listed {
            book,
            roles: None,
            member: None,
        }
    }
}

/// What the node's library says of each book it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BookEntry {
    pub book: String,
    pub name: String,
    /// Absent until the genesis has arrived from a partner.
    pub currency: Option<String>,
    pub record_count: usize,
    /// Whether it is an enterprise book (a cooperative's).
    pub enterprise: bool,
}

/// `GET /books/{book}/partners`: the partner nodes the book is shared with (effective share
/// records), each with its sync state as this node sees it. An officer reads it; a partner
/// never named by a share is not listed, whatever connects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Partners {
    pub partners: Vec<BookPartner>,
}

/// One partner of a book: connected now, in sync, and when it last was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BookPartner {
    /// The partner node's libp2p PeerId.
    pub peer: String,
    pub connected: bool,
    /// Both nodes hold the same changes of this book.
    pub in_sync: bool,
    /// When the two last were in sync (Unix milliseconds); absent if never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_synced_ms: Option<u64>,
    /// Why the last session with it failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// `GET /books/{book}/roster`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Roster {
    pub officers: Vec<Officer>,
    pub members: Vec<Member>,
}

/// `GET /books/{book}/pending`: records awaiting approvals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PendingList {
    pub pending: Vec<Pending>,
}

/// `GET /books/{book}/anomalies`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Anomalies<A = AnomalyLine> {
    pub anomalies: Vec<A>,
}

/// `GET /books/{book}/members/{member}/personal`: what the node keeps of her, never synced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Personal<P> {
    pub member: String,
    pub personal: P,
}

/// A member's personal data, which the node keeps in a local table and never syncs: each
/// field at most 500 characters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PersonalData {
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub full_name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub phone: Option<String>,
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub notes: Option<String>,
}

/// `DELETE /books/{book}/members/{member}/personal`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Erased {
    pub member: String,
    /// Whether the node held any personal data of hers.
    pub erased: bool,
    /// Backups made since she was added, which still hold it until the operator deletes them.
    pub backups_still_holding: Vec<String>,
}

/// `DELETE /admin/books/{book}?name=NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Removed {
    pub book: BookId,
    pub removed: bool,
}
