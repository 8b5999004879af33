//! What the node keeps of its own beside the books, through the library so that nothing above
//! it reaches storage: members' personal data (never synced), the partners the operator
//! accepted, and the database's own check.

use super::{Library, LibraryError};
use crate::storage::{Erased, Personal};
use kaban_protocol::record::BookId;

impl Library {
    /// A member's personal data, if the node keeps any.
    pub async fn personal(
        &self,
        book: BookId,
        member: String,
    ) -> Result<Option<Personal>, LibraryError> {
        Ok(self.storage.get_personal(book, member).await?)
    }

    pub async fn set_personal(
        &self,
        book: BookId,
        member: String,
        personal: Personal,
        now_ms: u64,
    ) -> Result<(), LibraryError> {
        Ok(self
            .storage
            .put_personal(book, member, personal, now_ms)
            .await?)
    }

    /// Erases a member's personal data; says which backups made since still hold it.
    pub async fn erase_personal(
        &self,
        book: BookId,
        member: String,
    ) -> Result<Erased, LibraryError> {
        Ok(self.storage.erase_personal(book, member).await?)
    }

    /// Records that the operator accepted an invite: sync `book` with `peer` at `addrs`.
    pub async fn add_partner(
        &self,
        book: BookId,
        peer: String,
        addrs: Vec<String>,
        now_ms: u64,
    ) -> Result<(), LibraryError> {
        Ok(self.storage.put_partner(book, peer, addrs, now_ms).await?)
    }

    /// Every (book, partner, addresses) the operator accepted.
    pub async fn partners(&self) -> Result<Vec<(BookId, String, Vec<String>)>, LibraryError> {
        Ok(self.storage.partners().await?)
    }

    /// SQLite's own integrity check of the database: `ok`, or what is wrong.
    pub async fn integrity_check(&self) -> Result<String, LibraryError> {
        Ok(self.storage.integrity_check().await?)
    }
}
