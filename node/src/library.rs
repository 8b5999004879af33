//! The library: the node's books in memory, each behind its own lock, with their storage.
//!
//! A record submitted to the node is checked against the book's ledger (the node refuses an
//! overdraw or a wrong currency that the CRDT could only flag), validated and added to the book
//! in memory, queued for storage while the book is still locked (so changes reach the disk in
//! the order they were accepted), and acknowledged only once its transaction has committed.
//! Many submissions wait on one group commit together.

use crate::storage::{Storage, StorageError};
use kaban_protocol::book::{Applied, Book, LoadError, Refusal};
use kaban_protocol::enterprise::Reconciliation;
use kaban_protocol::record::{BookId, Record, RecordId};
use kaban_protocol::sync::{PeerSync, SyncError};
use kaban_protocol::view::{Ledger, Objection};
use slot::{MemberIndex, Slot};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tokio::sync::watch;

mod cash;
mod slot;

/// Compact a book's storage once this many changes have accumulated since its snapshot, or a
/// quarter of the snapshot's changes if that is more. Each compaction writes the whole book, so
/// a fixed interval would make a large book's initial sync quadratic (a 100,000-record book
/// took 67 s, mostly rewriting itself); growing the interval with the book keeps the cost per
/// change constant, and the change log at most a quarter of the snapshot.
pub const COMPACT_AFTER_CHANGES: usize = 1000;
/// Refused changes of one sync message that are logged one by one; the rest are counted.
const LOGGED_REFUSALS: usize = 3;
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
}

impl From<&crate::config::Limits> for Caps {
    fn from(l: &crate::config::Limits) -> Caps {
        Caps {
            max_records_per_book: l.max_records_per_book,
            max_book_bytes: l.max_book_bytes,
            disk_budget_bytes: l.disk_budget_bytes,
        }
    }
}

impl Default for Caps {
    fn default() -> Caps {
        Caps::from(&crate::config::Limits::default())
    }
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
    books: RwLock<HashMap<BookId, Arc<Slot>>>,
    /// Stored books that failed to load; their storage is left as it was, for an operator.
    quarantined: Vec<Quarantined>,
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
        let mut quarantined = Vec::new();
        for s in stored {
            match Book::load(s.id, &s.bytes) {
                Ok(book) => {
                    tracing::info!(book = %s.id, records = book.record_count(), "loaded book");
                    let slot = Slot::new(book, s.changes_since_snapshot, s.bytes.len() as u64);
                    books.insert(s.id, Arc::new(slot));
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
            quarantined,
        })
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

    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    fn slot(&self, id: BookId) -> Result<Arc<Slot>, LibraryError> {
        self.books
            .read()
            .expect("the books lock is never poisoned")
            .get(&id)
            .cloned()
            .ok_or(LibraryError::UnknownBook(id))
    }

    pub fn contains(&self, id: BookId) -> bool {
        self.slot(id).is_ok()
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
        if let Ok(slot) = self.slot(id) {
            // A placeholder waiting for a partner's copy takes the genesis directly.
            let mut book = slot.open(&self.storage).await?;
            if book.genesis().is_some() {
                return Ok((id, false));
            }
            let change = kaban_protocol::book::genesis_change(&genesis)?;
            let bytes = change.raw_bytes().to_vec();
            if let Some((_, refusal)) = book.apply(vec![change]).refused.into_iter().next() {
                return Err(refusal.into());
            }
            let durable = self.storage.append(id, bytes).await?;
            if let Err(e) = durable.await.unwrap_or(Err(StorageError::Stopped)) {
                drop(book);
                self.reload(id).await?;
                return Err(e.into());
            }
            slot.changed.send_modify(|n| *n += 1);
            return Ok((id, true));
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
        let slot = self.slot(id)?;
        if self.storage.is_authorised(id).await? {
            return Err(LibraryError::NotRemovable {
                book: id,
                why: "it was founded with the node's authority (admin token or setup code), or joined from a partner by its operator".into(),
            });
        }
        let book = slot.open(&self.storage).await?;
        let ledger = slot.ledger_for(&book);
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
        let keys: Vec<kaban_protocol::key::PublicKey> =
            book.roster().officers().map(|(k, _)| *k).collect();
        drop(book);
        for (other_id, other) in self.slots_by_id().into_iter().filter(|(o, _)| *o != id) {
            let local = other.quiet_ledger(&self.storage).await?;
            if let Some(key) = keys
                .iter()
                .find(|k| local.officers.iter().any(|o| o.key == **k))
            {
                return refuse(format!(
                    "signer {key} holds a role in it and in book {other_id} on this node"
                ));
            }
        }
        // Under the book's lock, so nothing is added while it goes.
        let mut guard = slot.lock().await;
        self.storage.remove_book(id).await?;
        slot.remove(&mut guard);
        self.books.write().expect("not poisoned").remove(&id);
        tracing::warn!(book = %id, "removed a book at the operator's request");
        Ok(())
    }

    /// A sync session with `peer` for a book, resumed from its stored checkpoint if there is
    /// one, so that a restart does not resend the whole book.
    pub async fn sync_session(&self, id: BookId, peer: &str) -> Result<PeerSync, LibraryError> {
        self.slot(id)?;
        match self.storage.get_sync_state(id, peer.to_owned()).await? {
            Some(state) => Ok(PeerSync::resume(&state)?),
            None => Ok(PeerSync::new()),
        }
    }

    /// The messages to send to a peer now (none when there is nothing new to say).
    pub async fn sync_generate(
        &self,
        id: BookId,
        sync: &mut PeerSync,
    ) -> Result<Vec<Vec<u8>>, LibraryError> {
        let slot = self.slot(id)?;
        let book = slot.open(&self.storage).await?;
        Ok(std::iter::from_fn(|| sync.generate(&book)).collect())
    }

    /// Takes a sync message from `peer`: validates and applies the changes it carries, makes
    /// them durable, and only then stores the session's checkpoint. Returns the verdicts.
    pub async fn sync_receive(
        &self,
        id: BookId,
        peer: &str,
        sync: &mut PeerSync,
        message: &[u8],
        now_ms: u64,
    ) -> Result<Applied, LibraryError> {
        let slot = self.slot(id)?;
        let mut book = slot.open(&self.storage).await?;
        // A book at its caps takes nothing more from peers either; one message may carry it
        // past them by at most that message's size.
        self.check_room(&slot, &book, message.len() as u64)?;
        let applied = sync.receive(&mut book, message)?;
        let added: usize = applied.accepted_bytes.iter().map(Vec::len).sum();
        slot.stored_bytes
            .fetch_add(added as u64, std::sync::atomic::Ordering::Relaxed);
        let mut durable = Vec::with_capacity(applied.accepted.len());
        for change in &applied.accepted_bytes {
            durable.push(self.storage.append(id, change.clone()).await?);
        }
        if !applied.records.is_empty() {
            let mut members = slot.members.lock().expect("not poisoned");
            for record in applied.records.iter().filter_map(|rid| book.record(rid)) {
                members.note(record);
            }
        }
        let checkpoint = sync.checkpoint();
        // Wait for the commit while still holding the book, so no one is told a synced record
        // exists before it is durable. Sync is not latency-critical; submissions wait briefly.
        for rx in durable {
            if let Err(e) = rx.await.unwrap_or(Err(StorageError::Stopped)) {
                tracing::error!(book = %id, %peer, error = %e, "storing synced changes failed; reloading the book");
                drop(book);
                self.reload(id).await?;
                return Err(e.into());
            }
        }
        drop(book);
        if !applied.accepted.is_empty() {
            self.maybe_compact_by(id, &slot, applied.accepted.len())
                .await;
        }
        // A hostile message may carry thousands of refused changes: the first few are logged
        // each, the rest counted, so a peer cannot flood the log.
        for (hash, refusal) in applied.refused.iter().take(LOGGED_REFUSALS) {
            tracing::warn!(book = %id, %peer, change = %hash, code = refusal.code(), reason = %refusal, "refused a change from a peer");
        }
        if applied.refused.len() > LOGGED_REFUSALS {
            tracing::warn!(book = %id, %peer, more = applied.refused.len() - LOGGED_REFUSALS, "refused more changes from the peer in the same message");
        }
        self.storage
            .put_sync_state(id, peer.to_owned(), checkpoint, now_ms)
            .await?;
        if !applied.accepted.is_empty() {
            slot.changed.send_modify(|n| *n += 1);
        }
        Ok(applied)
    }

    /// Stores a book this node did not have and adds it to the library, within [`MAX_BOOKS`]
    /// and the disk budget.
    async fn store_new(&self, book: Book, now_ms: u64) -> Result<(), LibraryError> {
        if self.books.read().expect("not poisoned").len() >= MAX_BOOKS {
            return Err(LibraryError::TooManyBooks);
        }
        self.check_disk()?;
        let id = book.id();
        let saved = book.save();
        let size = saved.len() as u64;
        // Founding needs the admin token or a setup code, and joining the admin token.
        self.storage.create_book(id, saved, now_ms, true).await?;
        self.books
            .write()
            .expect("not poisoned")
            .entry(id)
            .or_insert_with(|| Arc::new(Slot::new(book, 0, size)));
        Ok(())
    }

    /// Refuses to store more once the database and its WAL fill the disk budget.
    fn check_disk(&self) -> Result<(), LibraryError> {
        let used = self.storage.disk_usage();
        if used >= self.caps.disk_budget_bytes {
            return Err(LibraryError::DiskFull {
                used_mb: used / (1024 * 1024),
                budget_mb: self.caps.disk_budget_bytes / (1024 * 1024),
            });
        }
        Ok(())
    }

    /// Refuses to grow `book` past its caps by `adding` more bytes.
    fn check_room(&self, slot: &Slot, book: &Book, adding: u64) -> Result<(), LibraryError> {
        self.check_disk()?;
        let caps = &self.caps;
        if book.record_count() >= caps.max_records_per_book {
            return Err(LibraryError::BookFull {
                book: book.id(),
                what: format!("{} records", caps.max_records_per_book),
                setting: "max_records_per_book",
            });
        }
        let stored = slot.stored_bytes.load(std::sync::atomic::Ordering::Relaxed);
        if stored.saturating_add(adding) > caps.max_book_bytes {
            return Err(LibraryError::BookFull {
                book: book.id(),
                what: format!("{} MB of changes", caps.max_book_bytes / (1024 * 1024)),
                setting: "max_book_mb",
            });
        }
        Ok(())
    }

    /// A receiver that changes whenever the book gains durable changes.
    pub fn subscribe(&self, id: BookId) -> Result<watch::Receiver<u64>, LibraryError> {
        Ok(self.slot(id)?.changed.subscribe())
    }

    /// Whether the book's effective share records name `peer`. A book not shared with a peer is
    /// answered exactly like a book that does not exist.
    pub async fn is_shared_with(&self, id: BookId, peer: &str) -> bool {
        match self.ledger(id).await {
            Ok(ledger) => ledger.shared_with.iter().any(|p| p == peer),
            Err(_) => false,
        }
    }

    /// Every book's line, without reading idle books back into memory.
    pub async fn list(&self) -> Vec<BookSummary> {
        let mut out = Vec::new();
        for (id, slot) in self.slots_by_id() {
            match slot.summary(&self.storage).await {
                Ok(summary) => out.push(summary),
                Err(e) => tracing::error!(book = %id, error = %e, "a book could not be read"),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name).then(a.book.cmp(&b.book)));
        out
    }

    /// Every enterprise book this node holds, reconciled at `now_ms`, with the ledger (for its
    /// roster) of each. One book is locked at a time.
    pub async fn enterprises(
        &self,
        now_ms: u64,
        overdue_days: u32,
    ) -> Vec<(BookId, Arc<Reconciliation>, Arc<Ledger>)> {
        let mut out = Vec::new();
        for (id, slot) in self.slots_by_id() {
            // Savings books stay out of memory if they are idle; enterprise books are read.
            if !slot
                .summary(&self.storage)
                .await
                .is_ok_and(|s| s.enterprise)
            {
                continue;
            }
            match slot.open(&self.storage).await {
                Ok(book) => {
                    let rec = slot.reconciliation_for(&book, now_ms, overdue_days);
                    out.push((id, rec, slot.ledger_for(&book)));
                }
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
        let slot = self.slot(id)?;
        let book = slot.open(&self.storage).await?;
        Ok(slot.reconciliation_for(&book, now_ms, overdue_days))
    }

    /// The ledger of a book, folded from its records (and cached until the book changes).
    pub async fn ledger(&self, id: BookId) -> Result<Arc<Ledger>, LibraryError> {
        let slot = self.slot(id)?;
        let book = slot.open(&self.storage).await?;
        Ok(slot.ledger_for(&book))
    }

    /// The ledger of a book, for lists across books: it does not count as asking for the book,
    /// and an idle book is not read back while its cached ledger stands.
    pub async fn quiet_ledger(&self, id: BookId) -> Result<Arc<Ledger>, LibraryError> {
        self.slot(id)?.quiet_ledger(&self.storage).await
    }

    /// Runs `f` on a book while holding its lock.
    pub async fn with_book<T>(
        &self,
        id: BookId,
        f: impl FnOnce(&Book) -> T,
    ) -> Result<T, LibraryError> {
        let slot = self.slot(id)?;
        let book = slot.open(&self.storage).await?;
        Ok(f(&book))
    }

    /// Where `signer`'s next record in a book stands, without waiting: for tests, where nothing
    /// else holds the book at that moment.
    #[cfg(test)]
    pub(crate) fn place_now(
        &self,
        id: BookId,
        signer: &kaban_protocol::key::PublicKey,
    ) -> kaban_protocol::record::Place {
        let slot = self.slot(id).expect("the book exists");
        let book = slot.try_book().expect("nothing else holds the book");
        book.as_ref()
            .expect("the book is in memory")
            .place_for(signer)
    }

    /// Whether `key` holds a role or is a member's key in some book on this node: the people
    /// this node opens sessions for.
    /// Idle books are not read back for this: their cached ledgers answer.
    pub async fn knows_key(&self, key: &kaban_protocol::key::PublicKey) -> bool {
        for (_, slot) in self.slots_by_id() {
            let Ok(ledger) = slot.quiet_ledger(&self.storage).await else {
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

    fn slots_by_id(&self) -> Vec<(BookId, Arc<Slot>)> {
        self.books
            .read()
            .expect("not poisoned")
            .iter()
            .map(|(id, slot)| (*id, Arc::clone(slot)))
            .collect()
    }

    /// Lets go of every book nobody asked for within `idle`; they are read back from storage
    /// when next asked for. Returns how many went.
    pub fn evict_idle(&self, idle: std::time::Duration) -> usize {
        let evicted = self
            .slots_by_id()
            .iter()
            .filter(|(_, slot)| slot.evict_if_idle(idle))
            .count();
        if evicted > 0 {
            tracing::debug!(evicted, "let idle books go from memory");
        }
        evicted
    }

    /// How many books are in memory now, and how many the node holds.
    pub fn in_memory(&self) -> (usize, usize) {
        let slots = self.slots_by_id();
        let loaded = slots.iter().filter(|(_, s)| s.is_loaded()).count();
        (loaded, slots.len())
    }

    /// Refuses a record for a book this node does not hold, or by a signer who never held a
    /// role in it nor signed in it, with one answer for both.
    async fn check_signer(&self, id: BookId, record: &Record) -> Result<(), LibraryError> {
        let signer = record.signer();
        let known = match self.slot(id) {
            Ok(slot) => {
                let book = slot.open(&self.storage).await?;
                slot.knows(&book, &signer, true)
            }
            Err(_) => false,
        };
        if known {
            return Ok(());
        }
        Err(LibraryError::NotHere { book: id, signer })
    }

    /// Checks, validates, adds and durably stores one record. Returns once it is durable.
    pub async fn submit(&self, id: BookId, record: Record) -> Result<Submitted, LibraryError> {
        self.check_signer(id, &record).await?;
        self.check_cash(id, &record).await?;
        let slot = self.slot(id)?;
        let rid = record.id();
        let mut book = slot.open(&self.storage).await?;
        if book.record(&rid).is_some() {
            let waiter = slot
                .inflight
                .lock()
                .expect("not poisoned")
                .get(&rid)
                .cloned();
            drop(book);
            if let Some(mut w) = waiter {
                let ok = w
                    .wait_for(Option::is_some)
                    .await
                    .is_ok_and(|v| *v == Some(true));
                if !ok {
                    return Err(StorageError::Stopped.into());
                }
            }
            return Ok(Submitted::Existing(rid));
        }
        slot.admit(&book, &record)?;
        self.check_room(&slot, &book, record.bytes().len() as u64)?;
        let indexed = record.clone();
        let hash = book.add(record)?;
        slot.members.lock().expect("not poisoned").note(&indexed);
        let change = book.change_bytes(&hash).expect("the change was just added");
        slot.stored_bytes
            .fetch_add(change.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let durable = self.storage.append(id, change).await?;
        let (done, waiter) = watch::channel(None);
        slot.inflight
            .lock()
            .expect("not poisoned")
            .insert(rid, waiter);
        drop(book);

        let result = durable.await.unwrap_or(Err(StorageError::Stopped));
        if let Err(e) = result {
            // The book in memory holds a change the disk does not; later changes would build on
            // it. Reload the book from what is durable before anyone is told anything, so a
            // retry cannot find the record in memory and be told it exists.
            tracing::error!(book = %id, error = %e, "storing a change failed; reloading the book");
            let reloaded = self.reload(id).await;
            slot.inflight.lock().expect("not poisoned").remove(&rid);
            let _ = done.send(Some(false));
            reloaded?;
            return Err(e.into());
        }
        slot.inflight.lock().expect("not poisoned").remove(&rid);
        let _ = done.send(Some(true));
        slot.changed.send_modify(|n| *n += 1);
        self.maybe_compact(id, &slot).await;
        Ok(Submitted::Created(rid))
    }

    async fn reload(&self, id: BookId) -> Result<(), LibraryError> {
        let slot = self.slot(id)?;
        let mut guard = slot.lock().await;
        // Under the book's lock no new append for it can be queued; everything queued before
        // is settled by the time the heal job runs.
        self.storage.heal(id).await?;
        let s = self.storage.load_book(id).await?;
        let book = guard.insert(Book::load(s.id, &s.bytes)?);
        *slot.changes_since_snapshot.lock().expect("not poisoned") = (
            s.changes_since_snapshot,
            book.change_count().saturating_sub(s.changes_since_snapshot),
        );
        *slot.members.lock().expect("not poisoned") = MemberIndex::of(book);
        slot.stored_bytes
            .store(s.bytes.len() as u64, std::sync::atomic::Ordering::Relaxed);
        *slot.ledger.lock().expect("not poisoned") = None;
        Ok(())
    }

    async fn maybe_compact(&self, id: BookId, slot: &Slot) {
        self.maybe_compact_by(id, slot, 1).await;
    }

    async fn maybe_compact_by(&self, id: BookId, slot: &Slot, added: usize) {
        {
            let mut n = slot.changes_since_snapshot.lock().expect("not poisoned");
            n.0 += added;
            if n.0 < COMPACT_AFTER_CHANGES.max(n.1 / 4) {
                return;
            }
            n.0 = 0;
        }
        let book = match slot.open(&self.storage).await {
            Ok(book) => book,
            Err(e) => {
                tracing::warn!(book = %id, error = %e, "compaction skipped: the book could not be read");
                return;
            }
        };
        slot.changes_since_snapshot.lock().expect("not poisoned").1 = book.change_count();
        let snapshot = book.save();
        slot.stored_bytes
            .store(snapshot.len() as u64, std::sync::atomic::Ordering::Relaxed);
        // Queued while the book is locked: every change stored before is in the snapshot.
        let result = self.storage.compact(id, snapshot).await;
        drop(book);
        match result {
            Ok(()) => tracing::info!(book = %id, "compacted book storage"),
            Err(e) => tracing::warn!(book = %id, error = %e, "compaction failed; changes kept"),
        }
    }
}

#[cfg(test)]
mod tests;
