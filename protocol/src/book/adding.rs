//! Adding records made for a book, several at a time.
//!
//! A record made at this node usually follows the book's heads, and goes into the document as a
//! local transaction, which costs a lookup. One that does not (concurrent clients each signed at
//! heads that have since moved) must go through automerge's `apply_changes`, which rebuilds the
//! root map's columns and so costs time in the size of the book on each call, however few
//! changes it takes. A batch validates and indexes each record as it comes, so each is checked
//! against the book as the ones before it left it, and hands the document all the changes that
//! did not follow the heads in one call when it finishes.

use super::{Book, Refusal, validate};
use crate::record::Record;
use automerge::ChangeHash;

/// A batch of records being added to a book; see the module documentation. Reads through
/// [`Adding::book`] see the batch's records (the index, the heads, the roster), but the
/// document takes them only at [`Adding::finish`], or when the batch is dropped.
#[derive(Debug)]
pub struct Adding<'a> {
    book: &'a mut Book,
}

impl Book {
    /// Starts a batch of records to add.
    pub fn adding(&mut self) -> Adding<'_> {
        Adding { book: self }
    }
}

impl Adding<'_> {
    /// The book, with the batch's records so far.
    pub fn book(&self) -> &Book {
        self.book
    }

    /// Validates a record made for this book and indexes it in the change it determines.
    /// Returns that change's hash.
    pub fn add(&mut self, record: Record) -> Result<ChangeHash, Refusal> {
        let book = &mut *self.book;
        if book.record(&record.id()).is_some() {
            return Err(Refusal::AlreadyPresent { id: record.id() });
        }
        if record.book() != book.id {
            return Err(Refusal::WrongBook {
                id: record.id(),
                found: record.book(),
                expected: book.id,
            });
        }
        let change = book.change_for(&record)?;
        // A local transaction depends on the heads and on its actor's last change, and can be
        // used only while the document holds every change the index does.
        let mut local = book.heads();
        local.extend(
            book.graph
                .chain_record(&record.signer(), book.graph.seq_of(&record.signer()))
                .and_then(|p| book.graph.change_of(&p))
                .map(|(hash, _)| hash),
        );
        local.sort_unstable();
        local.dedup();
        if book.unapplied.is_empty() && change.deps() == local.as_slice() {
            return book.add_at_heads(record, change);
        }
        let candidate = validate::parse_change(book.id, &change, true)?;
        validate(book, &candidate)?;
        let hash = candidate.hash;
        book.index(candidate);
        book.unapplied.push(change);
        Ok(hash)
    }

    /// Puts the batch's changes into the document. If automerge refuses them, which validation
    /// is meant to rule out, the index is rebuilt from what the document holds and the batch's
    /// records that did not follow the heads are gone.
    pub fn finish(mut self) -> Result<(), Refusal> {
        self.flush()
    }

    fn flush(&mut self) -> Result<(), Refusal> {
        let changes = std::mem::take(&mut self.book.unapplied);
        if changes.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.book.doc.apply_changes(changes) {
            self.book.reindex();
            return Err(Refusal::Automerge(e.to_string()));
        }
        Ok(())
    }
}

impl Drop for Adding<'_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = self.flush();
        }
    }
}
