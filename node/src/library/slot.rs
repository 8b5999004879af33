//! One book's place in the library: the book (or nothing, while it is let go for being idle),
//! its caches, the records being committed, and its counters.

use super::{BookSummary, LibraryError};
use crate::storage::Storage;
use kaban_protocol::book::Book;
use kaban_protocol::enterprise::Reconciliation;
use kaban_protocol::record::{BookId, Record, RecordId};
use kaban_protocol::view::{Ledger, Objection};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{MappedMutexGuard, MutexGuard, watch};

/// Milliseconds since the library first asked, for idle times.
fn now() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// A book's line in the book list.
pub(super) fn summary_of(book: &Book) -> BookSummary {
    BookSummary {
        book: book.id().to_string(),
        name: book.genesis().map(|g| g.name.clone()).unwrap_or_default(),
        currency: book.genesis().map(|g| g.currency.to_string()),
        record_count: book.record_count(),
        enterprise: book.genesis().is_some_and(|g| g.enterprise.is_some()),
    }
}

#[derive(Debug)]
pub(super) struct Slot {
    id: BookId,
    /// The book, or `None` while it is let go for being idle (see [`Slot::evict_if_idle`]).
    book: tokio::sync::Mutex<Option<Book>>,
    /// When the book was last asked for, in milliseconds since the library started.
    last_used: AtomicU64,
    /// Set when the operator removed the book: nothing may read it back or write to it.
    gone: std::sync::atomic::AtomicBool,
    /// The book's line in the book list, kept while the book is let go.
    summary: Mutex<Option<BookSummary>>,
    /// The ledger for the heads it was folded at.
    pub(super) ledger: Mutex<Option<(Vec<automerge::ChangeHash>, Arc<Ledger>)>>,
    /// Records added in memory whose storage has not committed yet, with a channel that says
    /// whether it did. A second submission of such a record waits on it.
    pub(super) inflight: Mutex<HashMap<RecordId, watch::Receiver<Option<bool>>>>,
    /// Changes stored since the snapshot, and how many changes the snapshot holds.
    pub(super) changes_since_snapshot: Mutex<(usize, usize)>,
    /// Bytes of the book's stored changes, for the per-book cap.
    pub(super) stored_bytes: AtomicU64,
    /// The enterprise reconciliation for the heads, overdue rule and minute it was made at.
    pub(super) reconciliation: Mutex<Option<(ReconKey, Arc<Reconciliation>)>>,
    /// Who has joined and who has left, kept up to date as records are added, so that
    /// checking a contribution does not fold the whole ledger.
    pub(super) members: Mutex<MemberIndex>,
    /// Bumped whenever the book gains durable changes, so sync sessions push them promptly.
    pub(super) changed: watch::Sender<u64>,
}

/// What a cached reconciliation depends on: the book's heads, the overdue rule, and the minute
/// (a transfer turns overdue as time passes; a minute late is close enough for a view).
type ReconKey = (Vec<automerge::ChangeHash>, u32, u64);

/// Who has joined a book, and who has a departure record (reversed or not: the ledger, folded
/// only for them, says which).
#[derive(Debug, Default)]
pub(super) struct MemberIndex {
    pub(super) joined: std::collections::HashSet<String>,
    pub(super) departed: std::collections::HashSet<String>,
}

impl MemberIndex {
    pub(super) fn of(book: &Book) -> MemberIndex {
        let mut index = MemberIndex::default();
        for record in book.records() {
            index.note(record);
        }
        index
    }

    /// Takes in a record added to the book.
    pub(super) fn note(&mut self, record: &Record) {
        use kaban_protocol::kind::Body;
        match record.body() {
            Body::MemberJoin(j) => {
                self.joined.insert(j.member.to_string());
            }
            Body::Departure(d) => {
                self.departed.insert(d.member.to_string());
            }
            _ => {}
        }
    }
}

impl Slot {
    /// The book, read again from storage if it was let go.
    pub(super) async fn open(
        &self,
        storage: &Storage,
    ) -> Result<MappedMutexGuard<'_, Book>, LibraryError> {
        let mut guard = self.book.lock().await;
        if self.gone.load(Ordering::Relaxed) {
            return Err(LibraryError::UnknownBook(self.id));
        }
        self.last_used.store(now(), Ordering::Relaxed);
        if guard.is_none() {
            let stored = storage.load_book(self.id).await?;
            *guard = Some(Book::load(stored.id, &stored.bytes)?);
            tracing::debug!(book = %self.id, "read an idle book back into memory");
        }
        Ok(MutexGuard::map(guard, |b| {
            b.as_mut().expect("the book was just read")
        }))
    }

    /// Marks the book removed and lets it go, under its lock (`guard`): whoever waits for the
    /// book next finds it gone.
    pub(super) fn remove(&self, guard: &mut MutexGuard<'_, Option<Book>>) {
        self.gone.store(true, Ordering::Relaxed);
        **guard = None;
    }

    /// The book's place in memory, whether or not it is there now: for replacing it.
    pub(super) async fn lock(&self) -> MutexGuard<'_, Option<Book>> {
        self.book.lock().await
    }

    /// The ledger, for scanning every book (who is a person here, who holds roles): it does
    /// not count as asking for the book, and a book that was let go is not read back while its
    /// cached ledger stands (the book cannot change while it is out of memory).
    pub(super) async fn quiet_ledger(
        &self,
        storage: &Storage,
    ) -> Result<Arc<Ledger>, LibraryError> {
        {
            let guard = self.book.lock().await;
            if let Some(book) = guard.as_ref() {
                return Ok(self.ledger_for(book));
            }
            if let Some((_, ledger)) = self.ledger.lock().expect("not poisoned").as_ref() {
                return Ok(Arc::clone(ledger));
            }
        }
        let book = self.open(storage).await?;
        Ok(self.ledger_for(&book))
    }

    /// The book's line in the book list, quietly like [`Slot::quiet_ledger`].
    pub(super) async fn summary(&self, storage: &Storage) -> Result<BookSummary, LibraryError> {
        {
            let guard = self.book.lock().await;
            if let Some(book) = guard.as_ref() {
                return Ok(summary_of(book));
            }
            if let Some(summary) = self.summary.lock().expect("not poisoned").as_ref() {
                return Ok(summary.clone());
            }
        }
        let book = self.open(storage).await?;
        Ok(summary_of(&book))
    }

    /// Lets the book go if nobody asked for it for `idle` and nobody holds it now. Its
    /// summary and ledger stay; its storage is untouched. Returns whether it went.
    pub(super) fn evict_if_idle(&self, idle: Duration) -> bool {
        let since = now().saturating_sub(self.last_used.load(Ordering::Relaxed));
        if u128::from(since) < idle.as_millis()
            || !self.inflight.lock().expect("not poisoned").is_empty()
        {
            return false;
        }
        let Ok(mut guard) = self.book.try_lock() else {
            return false;
        };
        let Some(book) = guard.as_ref() else {
            return false;
        };
        *self.summary.lock().expect("not poisoned") = Some(summary_of(book));
        // A ledger folded at other heads would be stale once the book is gone.
        let heads = book.heads();
        let mut ledger = self.ledger.lock().expect("not poisoned");
        if ledger.as_ref().is_some_and(|(at, _)| *at != heads) {
            *ledger = None;
        }
        *guard = None;
        true
    }

    /// The book's place, if nobody holds it now: for tests.
    #[cfg(test)]
    pub(super) fn try_book(&self) -> Option<MutexGuard<'_, Option<Book>>> {
        self.book.try_lock().ok()
    }

    /// Whether the book is in memory now.
    pub(super) fn is_loaded(&self) -> bool {
        self.book.try_lock().map_or(true, |g| g.is_some())
    }

    pub(super) fn new(book: Book, changes_since_snapshot: usize, stored_bytes: u64) -> Slot {
        let in_snapshot = book.change_count().saturating_sub(changes_since_snapshot);
        Slot {
            id: book.id(),
            last_used: AtomicU64::new(now()),
            gone: std::sync::atomic::AtomicBool::new(false),
            summary: Mutex::new(None),
            stored_bytes: AtomicU64::new(stored_bytes),
            reconciliation: Mutex::new(None),
            members: Mutex::new(MemberIndex::of(&book)),
            changed: watch::channel(0).0,
            book: tokio::sync::Mutex::new(Some(book)),
            ledger: Mutex::new(None),
            inflight: Mutex::new(HashMap::new()),
            changes_since_snapshot: Mutex::new((changes_since_snapshot, in_snapshot)),
        }
    }

    /// The node's local policy on a new record (see [`Ledger::admit`]). Contributions and joins
    /// are checked against the member index; only a withdrawal, which needs the member's
    /// balance, folds the ledger.
    pub(super) fn admit(&self, book: &Book, record: &Record) -> Result<(), Objection> {
        use kaban_protocol::kind::Body;
        let name = book.id().to_string();
        let Some(genesis) = book.genesis() else {
            return Ok(());
        };
        let members = self.members.lock().expect("not poisoned");
        match record.body() {
            Body::MemberJoin(j) if members.joined.contains(j.member.as_str()) => {
                Err(Objection::MemberTaken {
                    member: j.member.to_string(),
                    book: name,
                })
            }
            Body::Contribution(c) if c.amount.currency != genesis.currency => {
                Err(Objection::WrongCurrency {
                    kind: record.kind().to_owned(),
                    amount: c.amount,
                    book: name,
                    currency: genesis.currency,
                })
            }
            Body::Contribution(c) if !members.joined.contains(c.member.as_str()) => {
                Err(Objection::UnknownMember {
                    member: c.member.to_string(),
                    book: name,
                })
            }
            // A member with a departure record: the ledger says whether she has left.
            Body::Contribution(c) if members.departed.contains(c.member.as_str()) => {
                drop(members);
                self.ledger_for(book).admit(&name, record)
            }
            Body::Withdrawal(_) | Body::Departure(_) => {
                drop(members);
                self.ledger_for(book).admit(&name, record)
            }
            _ => Ok(()),
        }
    }

    /// Whether `key` is someone in this book: an officer (with `past`, also one whose roles
    /// were revoked, or who signed here before) or a member's key.
    pub(super) fn knows(
        &self,
        book: &Book,
        key: &kaban_protocol::key::PublicKey,
        past: bool,
    ) -> bool {
        if book.genesis().is_none() {
            return false;
        }
        let ledger = self.ledger_for(book);
        ledger.officers.iter().any(|o| o.key == *key)
            || ledger.members.iter().any(|m| m.key.as_ref() == Some(key))
            || (past
                && (book.seq_of(key) > 0 || book.roster().revocations().any(|(k, _)| k == key)))
    }

    /// The reconciliation, folded again only when the heads, the overdue rule or the minute
    /// changed: a stranger's enterprise book of 20,000 transfers costs one fold, not one per
    /// statement.
    pub(super) fn reconciliation_for(
        &self,
        book: &Book,
        now_ms: u64,
        overdue_days: u32,
    ) -> Arc<Reconciliation> {
        let key: ReconKey = (book.heads(), overdue_days, now_ms / 60_000);
        let mut cached = self.reconciliation.lock().expect("not poisoned");
        if let Some((at, rec)) = cached.as_ref()
            && *at == key
        {
            return Arc::clone(rec);
        }
        let rec = Arc::new(kaban_protocol::enterprise::reconcile(
            book,
            now_ms,
            overdue_days,
        ));
        *cached = Some((key, Arc::clone(&rec)));
        rec
    }

    pub(super) fn ledger_for(&self, book: &Book) -> Arc<Ledger> {
        let heads = book.heads();
        let mut cached = self.ledger.lock().expect("not poisoned");
        if let Some((at, ledger)) = cached.as_ref()
            && *at == heads
        {
            return Arc::clone(ledger);
        }
        let ledger = Arc::new(Ledger::fold(book));
        *cached = Some((heads, Arc::clone(&ledger)));
        ledger
    }
}
