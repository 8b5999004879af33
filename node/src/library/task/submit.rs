//! A book task's writes: the submissions waiting in its queue are checked against the local
//! rules and added as one batch, then committed in one transaction.

use super::{BookTask, Enterprises, Reply};
use crate::library::caches::Caches;
use crate::library::{Caps, LibraryError, Submitted, cash};
use crate::storage::Storage;
use kaban_protocol::book::{Adding, Book};
use kaban_protocol::record::Record;

impl BookTask {
    /// Checks, validates and adds each submission as one batch (see [`Book::adding`]), then
    /// commits the added ones in one transaction and answers each once it is durable.
    pub(super) async fn submit(&mut self, batch: Vec<(Record, Enterprises, Reply<Submitted>)>) {
        if let Err(e) = self.open().await {
            let text = e.to_string();
            for (_, _, reply) in batch {
                let _ = reply.send(Err(LibraryError::Unavailable(text.clone())));
            }
            return;
        }
        let book = self.book.as_mut().expect("the book was just opened");
        let mut adding = book.adding();
        let mut room = Room {
            storage: &self.storage,
            caps: &self.caps,
            stored: &mut self.stored_bytes,
        };
        let mut changes = Vec::new();
        let mut waiting: Vec<(Reply<Submitted>, Submitted)> = Vec::new();
        for (record, enterprises, reply) in batch {
            let rid = record.id();
            match admit(
                &mut adding,
                &mut self.caches,
                &mut room,
                record,
                &enterprises,
            ) {
                Ok(Some(change)) => {
                    changes.push(change);
                    waiting.push((reply, Submitted::Created(rid)));
                }
                // A record added earlier in this batch is answered once the batch is durable.
                Ok(None) if waiting.iter().any(|(_, s)| s.id() == rid) => {
                    waiting.push((reply, Submitted::Existing(rid)));
                }
                Ok(None) => {
                    let _ = reply.send(Ok(Submitted::Existing(rid)));
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            }
        }
        let finished = adding.finish();
        if changes.is_empty() {
            return;
        }
        let added = changes.len();
        let stored = match finished {
            Ok(()) => self.commit(changes, None).await,
            Err(refusal) => {
                // The document refused what validation accepted: the caches saw records the
                // book no longer holds, so both are read back from what is durable.
                tracing::error!(%refusal, "a batch of records could not be added; reading the book back");
                let reload = self.reload().await;
                Err(reload.err().unwrap_or(LibraryError::Refused(refusal)))
            }
        };
        match stored {
            Ok(()) => {
                for (reply, submitted) in waiting {
                    let _ = reply.send(Ok(submitted));
                }
                self.grown(added);
            }
            Err(e) => {
                let text = e.to_string();
                for (reply, _) in waiting {
                    let _ = reply.send(Err(LibraryError::Unavailable(text.clone())));
                }
            }
        }
    }
}

/// What a submission may grow the book by, and what it has grown so far.
struct Room<'a> {
    storage: &'a Storage,
    caps: &'a Caps,
    stored: &'a mut u64,
}

/// One submission, checked against the book and the node's local rules and added to the
/// batch. Returns the change to store, or `None` if the book already holds the record.
fn admit(
    adding: &mut Adding<'_>,
    caches: &mut Caches,
    room: &mut Room<'_>,
    record: Record,
    enterprises: &Enterprises,
) -> Result<Option<Vec<u8>>, LibraryError> {
    let book = adding.book();
    let signer = record.signer();
    if !caches.knows(book, &signer, true) {
        return Err(LibraryError::NotHere {
            book: book.id(),
            signer,
        });
    }
    if book.record(&record.id()).is_some() {
        return Ok(None);
    }
    caches.admit(book, &record)?;
    cash::check(book.id(), book, caches, &record, enterprises)?;
    let size = record.bytes().len() as u64;
    check_room(room.storage, room.caps, book, *room.stored, size)?;
    let noted = record.clone();
    let hash = adding.add(record)?;
    let change = adding
        .book()
        .change_bytes(&hash)
        .expect("the change was just added");
    *room.stored = room.stored.saturating_add(change.len() as u64);
    caches.noted(&noted);
    Ok(Some(change))
}

/// Refuses to grow `book` past its caps by `adding` more bytes, or the node past its disk
/// budget.
pub(in crate::library) fn check_room(
    storage: &Storage,
    caps: &Caps,
    book: &Book,
    stored: u64,
    adding: u64,
) -> Result<(), LibraryError> {
    crate::library::check_disk(storage, caps)?;
    if book.record_count() >= caps.max_records_per_book {
        return Err(LibraryError::BookFull {
            book: book.id(),
            what: format!("{} records", caps.max_records_per_book),
            setting: "max_records_per_book",
        });
    }
    if stored.saturating_add(adding) > caps.max_book_bytes {
        return Err(LibraryError::BookFull {
            book: book.id(),
            what: format!("{} MB of changes", caps.max_book_bytes / (1024 * 1024)),
            setting: "max_book_mb",
        });
    }
    Ok(())
}
