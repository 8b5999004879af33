//! The library: the node's books, each owned by its own task (see [`task`]), with their
//! storage.
//!
//! A record submitted to the node goes to its book's task, which checks it against the
//! node's local rules (an overdraw, a wrong currency, cash the group does not hold: what the
//! CRDT could only flag), validates and adds it in memory, and commits it with the other
//! submissions waiting in its queue in one transaction. Each is acknowledged only once that
//! transaction has committed, and no other command sees the book before then.

use crate::storage::{Storage, StorageError};
use kaban_protocol::book::{Book, LoadError, Refusal};
use kaban_protocol::enterprise::Reconciliation;
use kaban_protocol::record::{BookId, Record, RecordId};
use kaban_protocol::sync::SyncError;
use kaban_protocol::sync::session::{Event, Side};
use kaban_protocol::view::{Ledger, Objection};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use task::{BookHandle, Command};

pub use task::Turn;
use tokio::sync::watch;

mod caches;
mod cash;
mod local;
mod task;

pub use crate::storage::{Erased, Personal};

/// Compact a book's storage once this many changes have accumulated since its snapshot, or a
/// quarter of the snapshot's changes if that is more. Each compaction writes the whole book, so
/// a fixed interval would make a large book's initial sync quadratic (a 100,000-record book
/// took 67 s, mostly rewriting itself); growing the interval with the book keeps the cost per
/// change constant, and the change log at most a quarter of the snapshot. (Tests reach the
/// rules with smaller books.)
pub const COMPACT_AFTER_CHANGES: usize = if cfg!(test) { 50 } else { 1000 };
/// Most books one node keeps. A node serves one savings group and the enterprises it invests
/// in; the bound stops a stranger on the network from filling the disk with books.
pub const MAX_BOOKS: usize = 256;

/// What one book, and all books together, may hold; from the configuration's `[limits]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub max_records_per_book: usize,
    /// Bytes of a book's stored changes (its snapshot and the changes since).
    pub max_book_bytes: u64,
    /// Bytes of the database and its WAL, all books together.
    pub disk_budget_bytes: u64,
    /// A book nobody asked for this long leaves memory; its task reads it back when asked.
    pub book_idle: std::time::Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("this node has no book {0}")]
    UnknownBook(BookId),
    #[error("{0}")]
    Refused(#[from] Refusal),
    #[error("{0}")]
    Objection(#[from] Objection),
    /// The same answer whether the book is missing or the signer is a stranger to it, so that
    /// a record posted by a stranger does not tell whether a book is on this node.
    #[error("this node holds no book {book} in which signer {signer} holds a role")]
    NotHere {
        book: BookId,
        signer: kaban_protocol::key::PublicKey,
    },
    #[error("this node already holds {MAX_BOOKS} books, its limit")]
    TooManyBooks,
    #[error("book {book} stays on this node: {why}")]
    NotRemovable { book: BookId, why: String },
    #[error(
        "book {book} holds {what}, its limit on this node; the operator may raise limits.{setting}"
    )]
    BookFull {
        book: BookId,
        what: String,
        setting: &'static str,
    },
    #[error(
        "the node's database takes {used_mb} MB of its {budget_mb} MB disk budget; nothing more is stored until the operator raises limits.disk_budget_mb or frees space"
    )]
    DiskFull { used_mb: u64, budget_mb: u64 },
    #[error(
        "book {0} is quarantined on this node: its stored copy did not load (see GET /api/v1/node); the operator must restore or remove it first"
    )]
    Quarantined(BookId),
    #[error("storage failed, so the record was not kept: {0}")]
    Storage(#[from] StorageError),
    #[error("a stored book does not load: {0}")]
    Load(#[from] LoadError),
    #[error("sync message refused: {0}")]
    Sync(#[from] SyncError),
    /// A commit failed, so nothing of this batch was kept; the book was read back from disk.
    #[error("storage failed, so the record was not kept: {0}")]
    Unavailable(String),
    /// A newer sync session with the same peer took over this one's state.
    #[error("a newer sync session for book {0} with this peer replaced this one")]
    SessionReplaced(BookId),
}

/// What became of a submitted record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// Added now, and durable.
    Created(RecordId),
    /// The book already held it (durably); nothing changed.
    Existing(RecordId),
}

#[derive(Debug)]
pub struct Library {
    storage: Storage,
    caps: Caps,
    books: RwLock<HashMap<BookId, BookHandle>>,
    /// Every book's task: each ends when its handle goes, and shutdown waits for them.
    tasks: Mutex<tokio::task::JoinSet<()>>,
    /// Stored books that failed to load; their storage is left as it was, for an operator.
    quarantined: Vec<Quarantined>,
    /// The node's counters; the library owns them because writes and sync sessions pass here.
    metrics: Arc<crate::metrics::Metrics>,
}

/// A book's line in the book list.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BookSummary {
    pub book: String,
    pub name: String,
    pub currency: Option<String>,
    pub record_count: usize,
    /// Whether it is an enterprise book (a cooperative's).
    pub enterprise: bool,
}

/// A stored book that did not load, kept aside so that the node and its other books serve as
/// usual.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Quarantined {
    pub book: String,
    pub reason: String,
}

impl Library {
    /// Loads every stored book. A book that does not load (damaged, or holding a change that
    /// is not the one its record determines) is quarantined: logged, listed by
    /// [`Library::quarantined`], left untouched on disk, and not served; the others load.
    pub async fn open(storage: Storage) -> Result<Library, LibraryError> {
        Library::open_with(storage, Caps::default()).await
    }

    /// [`Library::open`], within `caps`.
    pub async fn open_with(storage: Storage, caps: Caps) -> Result<Library, LibraryError> {
        let stored = storage.load_books().await?;
        let mut books = HashMap::new();
        let mut tasks = tokio::task::JoinSet::new();
        let mut quarantined = Vec::new();
        for s in stored {
            match Book::load(s.id, &s.bytes) {
                Ok(book) => {
                    tracing::info!(book = %s.id, records = book.record_count(), "loaded book");
                    let stored = (s.bytes.len() as u64, s.changes_since_snapshot);
                    let handle = task::spawn(book, stored, storage.clone(), caps, &mut tasks);
                    books.insert(s.id, handle);
                }
                Err(e) => {
                    tracing::error!(book = %s.id, error = %e, "quarantined a stored book that does not load; the node serves its other books");
                    quarantined.push(Quarantined {
                        book: s.id.to_string(),
                        reason: e.to_string(),
                    });
                }
            }
        }
        Ok(Library {
            storage,
            caps,
            books: RwLock::new(books),
            tasks: Mutex::new(tasks),
            quarantined,
            metrics: Arc::default(),
        })
    }

    /// The node's counters.
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.metrics
    }

    /// Bytes the database and its WAL take on disk now.
    pub fn disk_usage(&self) -> u64 {
        self.storage.disk_usage()
    }

    /// Writes a consistent backup to `out` (see [`Storage::backup`]); how many members'
    /// personal data it holds.
    pub async fn backup(&self, out: std::path::PathBuf, now_ms: u64) -> Result<u64, LibraryError> {
        Ok(self.storage.backup(out, now_ms).await?)
    }

    /// Forgets a backup that was deleted, so that erasing a member no longer names it.
    pub async fn forget_backup(&self, path: std::path::PathBuf) -> Result<(), LibraryError> {
        Ok(self.storage.forget_backup(path).await?)
    }

    /// When the last backup was made, in ms since the epoch; `None` when there was none.
    pub async fn last_backup_ms(&self) -> Result<Option<u64>, LibraryError> {
        Ok(self.storage.last_backup_ms().await?)
    }

    /// Lets every book's task finish what it was asked and end: for shutdown, before the
    /// storage thread is joined.
    pub async fn close(&self) {
        self.books.write().expect("not poisoned").clear();
        let mut tasks = std::mem::take(&mut *self.tasks.lock().expect("not poisoned"));
        while tasks.join_next().await.is_some() {}
    }

    /// Stored books that did not load at start.
    pub fn quarantined(&self) -> &[Quarantined] {
        &self.quarantined
    }

    /// A quarantined book's storage is left as it was: nothing may found it again over it.
    fn refuse_quarantined(&self, id: BookId) -> Result<(), LibraryError> {
        let text = id.to_string();
        if self.quarantined.iter().any(|q| q.book == text) {
            return Err(LibraryError::Quarantined(id));
        }
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn storage(&self) -> &Storage {
        &self.storage
    }

    fn handle(&self, id: BookId) -> Result<BookHandle, LibraryError> {
        self.books
            .read()
            .expect("the books lock is never poisoned")
            .get(&id)
            .cloned()
            .ok_or(LibraryError::UnknownBook(id))
    }

    pub fn contains(&self, id: BookId) -> bool {
        self.handle(id).is_ok()
    }

    /// Founds a book from its signed genesis record. Returns whether it is new; founding the
    /// same book again is harmless.
    pub async fn create_book(
        &self,
        genesis: Record,
        now_ms: u64,
    ) -> Result<(BookId, bool), LibraryError> {
        let id = genesis.book();
        self.refuse_quarantined(id)?;
        if let Ok(handle) = self.handle(id) {
            // A placeholder waiting for a partner's copy takes the genesis directly.
            let created = handle
                .ask(|reply| Command::Found { genesis, reply })
                .await?;
            return Ok((id, created));
        }
        self.store_new(Book::create(genesis)?, now_ms).await?;
        tracing::info!(book = %id, "founded book");
        Ok((id, true))
    }

    /// Makes room for a book that a partner will send: an empty book known only by its id,
    /// which accepts the genesis change from a peer. Returns whether it is new.
    pub async fn expect_book(&self, id: BookId, now_ms: u64) -> Result<bool, LibraryError> {
        self.refuse_quarantined(id)?;
        if self.contains(id) {
            return Ok(false);
        }
        self.store_new(Book::empty(id), now_ms).await?;
        Ok(true)
    }

    /// Removes a book nobody here depends on: it came in without the node's authority (before
    /// founding needed it), no partner shares it, and no key holding a role in another book on
    /// this node holds one in it. This is how an operator clears a book a
    /// stranger's partner brought in; a group's own books and its cooperatives' books stay.
    /// `name` must be the book's name, as the operator's confirmation.
    pub async fn remove_book(&self, id: BookId, name: &str) -> Result<(), LibraryError> {
        let handle = self.handle(id)?;
        if self.storage.is_authorised(id).await? {
            return Err(LibraryError::NotRemovable {
                book: id,
                why: "it was founded with the node's authority (admin token or setup code), or joined from a partner by its operator".into(),
            });
        }
        let ledger = self.ledger(id).await?;
        let refuse = |why: String| Err(LibraryError::NotRemovable { book: id, why });
        if ledger.name != name {
            return refuse(format!(
                "to remove it, confirm its name: it is called {:?}",
                ledger.name
            ));
        }
        if let Some(peer) = ledger.shared_with.first() {
            return refuse(format!("it is shared with partner node {peer}"));
        }
        if let Some((_, peer, _)) = self
            .storage
            .partners()
            .await?
            .into_iter()
            .find(|(b, _, _)| *b == id)
        {
            return refuse(format!("the operator joined it from partner node {peer}"));
        }
        for (other_id, other) in self.handles().into_iter().filter(|(o, _)| *o != id) {
            let local = other.ask(Command::QuietLedger).await?;
            if let Some(o) = ledger
                .officers
                .iter()
                .find(|o| local.officers.iter().any(|l| l.key == o.key))
            {
                return refuse(format!(
                    "signer {} holds a role in it and in book {other_id} on this node",
                    o.key
                ));
            }
        }
        // The book's task removes it between commands and then ends: a write waiting behind it
        // finds the book gone.
        handle.ask(Command::Remove).await?;
        self.books.write().expect("not poisoned").remove(&id);
        tracing::warn!(book = %id, "removed a book at the operator's request");
        Ok(())
    }

    /// Starts a sync session with `peer` for a book, resumed from its stored checkpoint if
    /// there is one, so that a restart does not resend the whole book. The book's task keeps
    /// the session (the protocol's state machine); a second session with the same peer
    /// replaces the first. Returns the session and what it does first.
    pub async fn sync_session(
        &self,
        id: BookId,
        peer: &str,
        side: Side,
        now_ms: u64,
    ) -> Result<(SyncSession, Turn), LibraryError> {
        let handle = self.handle(id)?;
        let peer = peer.to_owned();
        let (generation, turn) = handle
            .ask(|reply| Command::SyncOpen {
                peer: peer.clone(),
                side,
                now_ms,
                reply,
            })
            .await?;
        let session = SyncSession {
            handle,
            peer,
            generation,
        };
        Ok((session, turn))
    }

    /// Stores a book this node did not have and adds it to the library, within [`MAX_BOOKS`]
    /// and the disk budget.
    async fn store_new(&self, book: Book, now_ms: u64) -> Result<(), LibraryError> {
        if self.books.read().expect("not poisoned").len() >= MAX_BOOKS {
            return Err(LibraryError::TooManyBooks);
        }
        check_disk(&self.storage, &self.caps)?;
        let id = book.id();
        let saved = book.save();
        let size = saved.len() as u64;
        // Founding needs the admin token or a setup code, and joining the admin token.
        self.storage.create_book(id, saved, now_ms, true).await?;
        let mut books = self.books.write().expect("not poisoned");
        if let std::collections::hash_map::Entry::Vacant(entry) = books.entry(id) {
            let mut tasks = self.tasks.lock().expect("not poisoned");
            entry.insert(task::spawn(
                book,
                (size, 0),
                self.storage.clone(),
                self.caps,
                &mut tasks,
            ));
        }
        Ok(())
    }

    /// A receiver that changes whenever the book gains durable changes.
    pub fn subscribe(&self, id: BookId) -> Result<watch::Receiver<u64>, LibraryError> {
        Ok(self.handle(id)?.subscribe())
    }

    /// Whether the book's effective share records name `peer`. A book not shared with a peer is
    /// answered exactly like a book that does not exist. It costs no fold unless a record that
    /// can change the shares arrived since the last one.
    pub async fn is_shared_with(&self, id: BookId, peer: &str) -> bool {
        let Ok(handle) = self.handle(id) else {
            return false;
        };
        let peer = peer.to_owned();
        handle
            .ask(|reply| Command::SharedWith { peer, reply })
            .await
            .unwrap_or(false)
    }

    /// Every book's line, without reading idle books back into memory.
    pub async fn list(&self) -> Vec<BookSummary> {
        let mut out = Vec::new();
        for (id, handle) in self.handles() {
            match handle.ask(Command::Summary).await {
                Ok(summary) => out.push(summary),
                Err(e) => tracing::error!(book = %id, error = %e, "a book could not be read"),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name).then(a.book.cmp(&b.book)));
        out
    }

    /// Every enterprise book this node holds, reconciled at `now_ms`, with the ledger (for its
    /// roster) of each.
    pub async fn enterprises(
        &self,
        now_ms: u64,
        overdue_days: u32,
    ) -> Vec<(BookId, Arc<Reconciliation>, Arc<Ledger>)> {
        let mut out = Vec::new();
        for (id, handle) in self.handles() {
            // Savings books stay out of memory if they are idle; enterprise books are read.
            if !handle
                .ask(Command::Summary)
                .await
                .is_ok_and(|s| s.enterprise)
            {
                continue;
            }
            let read = handle.read(move |book, caches| {
                let rec = caches.reconciliation_for(book, now_ms, overdue_days);
                (rec, caches.ledger_for(book))
            });
            match read.await {
                Ok((rec, ledger)) => out.push((id, rec, ledger)),
                Err(e) => tracing::error!(book = %id, error = %e, "a book could not be read"),
            }
        }
        out.sort_by_key(|(id, _, _)| *id);
        out
    }

    /// An enterprise book's reconciliation at `now_ms` (cached, like the ledger).
    pub async fn reconciliation(
        &self,
        id: BookId,
        now_ms: u64,
        overdue_days: u32,
    ) -> Result<Arc<Reconciliation>, LibraryError> {
        self.handle(id)?
            .read(move |book, caches| caches.reconciliation_for(book, now_ms, overdue_days))
            .await
    }

    /// The ledger of a book, folded from its records (and cached until the book changes).
    pub async fn ledger(&self, id: BookId) -> Result<Arc<Ledger>, LibraryError> {
        self.handle(id)?
            .read(|book, caches| caches.ledger_for(book))
            .await
    }

    /// The ledger of a book, for lists across books: it does not count as asking for the book,
    /// and an idle book is not read back while its cached ledger stands.
    pub async fn quiet_ledger(&self, id: BookId) -> Result<Arc<Ledger>, LibraryError> {
        self.handle(id)?.ask(Command::QuietLedger).await
    }

    /// Runs `f` on a book in its task, between writes.
    pub async fn with_book<T: Send + 'static>(
        &self,
        id: BookId,
        f: impl FnOnce(&Book) -> T + Send + 'static,
    ) -> Result<T, LibraryError> {
        self.handle(id)?.read(move |book, _| f(book)).await
    }

    /// Whether `key` holds a role or is a member's key in some book on this node: the people
    /// this node opens sessions for.
    /// Idle books are not read back for this: their cached ledgers answer.
    pub async fn knows_key(&self, key: &kaban_protocol::key::PublicKey) -> bool {
        for (_, handle) in self.handles() {
            let Ok(ledger) = handle.ask(Command::QuietLedger).await else {
                continue;
            };
            if ledger.officers.iter().any(|o| o.key == *key)
                || ledger.members.iter().any(|m| m.key.as_ref() == Some(key))
            {
                return true;
            }
        }
        false
    }

    fn handles(&self) -> Vec<(BookId, BookHandle)> {
        self.books
            .read()
            .expect("not poisoned")
            .iter()
            .map(|(id, handle)| (*id, handle.clone()))
            .collect()
    }

    /// Lets go of every book nobody asked for within `idle`; they are read back from storage
    /// when next asked for. Returns how many went.
    pub async fn evict_idle(&self, idle: std::time::Duration) -> usize {
        let mut evicted = 0;
        for (_, handle) in self.handles() {
            if handle
                .ask(|reply| Command::Evict { idle, reply })
                .await
                .unwrap_or(false)
            {
                evicted += 1;
            }
        }
        if evicted > 0 {
            tracing::debug!(evicted, "let idle books go from memory");
        }
        evicted
    }

    /// How many books are in memory now, and how many the node holds.
    pub fn in_memory(&self) -> (usize, usize) {
        let handles = self.handles();
        let loaded = handles.iter().filter(|(_, h)| h.is_loaded()).count();
        (loaded, handles.len())
    }

    /// Checks, validates, adds and durably stores one record. Returns once it is durable. The
    /// book's task runs the local rules and the add as one step, and commits the record with
    /// the others waiting in its queue. A record for a book this node does not hold and one by
    /// a signer who never held a role in it nor signed in it get one answer.
    pub async fn submit(&self, id: BookId, record: Record) -> Result<Submitted, LibraryError> {
        let handle = self.handle(id).map_err(|_| LibraryError::NotHere {
            book: id,
            signer: record.signer(),
        })?;
        let enterprises = if cash::may_pay(&record) {
            self.enterprises(0, kaban_protocol::enterprise::DEFAULT_OVERDUE_DAYS)
                .await
                .into_iter()
                .filter(|(e, _, _)| *e != id)
                .map(|(e, rec, _)| (e, rec))
                .collect()
        } else {
            Vec::new()
        };
        let started = std::time::Instant::now();
        let result = handle
            .ask(|reply| Command::Submit {
                record,
                enterprises,
                reply,
            })
            .await;
        let outcome = match &result {
            Ok(Submitted::Created(_)) => "created",
            Ok(Submitted::Existing(_)) => "existing",
            Err(_) => "error",
        };
        self.metrics.write(outcome, started.elapsed());
        result
    }
}

/// Refuses to store more once the database and its WAL fill the disk budget.
fn check_disk(storage: &Storage, caps: &Caps) -> Result<(), LibraryError> {
    let used = storage.disk_usage();
    if used >= caps.disk_budget_bytes {
        return Err(LibraryError::DiskFull {
            used_mb: used / (1024 * 1024),
            budget_mb: caps.disk_budget_bytes / (1024 * 1024),
        });
    }
    Ok(())
}

/// One sync session with one peer for one book. Its state lives in the book's task; this is
/// how the session's driver reaches it. A newer session with the same peer replaces it, and
/// then every call answers [`LibraryError::SessionReplaced`].
#[derive(Debug)]
pub struct SyncSession {
    handle: BookHandle,
    peer: String,
    generation: u64,
}

impl SyncSession {
    /// Hands the session an event from its stream (a frame, a broken frame) or the news that
    /// the book changed; the book's task stores what it accepts, with the checkpoint, before
    /// answering. The answer says what to send, or how the session ended.
    pub async fn handle(&self, event: Event, now_ms: u64) -> Result<Turn, LibraryError> {
        self.handle
            .ask(|reply| Command::SyncEvent {
                peer: self.peer.clone(),
                generation: self.generation,
                event,
                now_ms,
                reply,
            })
            .await
    }
}

#[cfg(test)]
mod tests;
