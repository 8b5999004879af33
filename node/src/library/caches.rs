//! What a book's task keeps beside the book: the ledger and reconciliation folded at the
//! book's heads, who has joined and left, whom the book is shared with, and its line in the
//! book list while the book is let go.

use super::BookSummary;
use kaban_protocol::book::Book;
use kaban_protocol::enterprise::Reconciliation;
use kaban_protocol::key::PublicKey;
use kaban_protocol::kind::Body;
use kaban_protocol::record::Record;
use kaban_protocol::view::{Ledger, Objection};
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

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

/// What a cached reconciliation depends on: the book's heads, the overdue rule, and the minute
/// (a transfer turns overdue as time passes; a minute late is close enough for a view).
type ReconKey = (Vec<automerge::ChangeHash>, u32, u64);

#[derive(Debug, Default)]
pub(crate) struct Caches {
    /// The ledger for the heads it was folded at.
    ledger: Option<(Vec<automerge::ChangeHash>, Arc<Ledger>)>,
    reconciliation: Option<(ReconKey, Arc<Reconciliation>)>,
    /// Partner nodes the book is shared with; `None` once a record that can change it arrived.
    shares: Option<Arc<BTreeSet<String>>>,
    pub(super) members: MemberIndex,
    /// The book's line in the book list, kept while the book is let go.
    pub(super) summary: Option<BookSummary>,
    /// The `seq` of the book's last durable stored change, for compaction.
    pub(super) last_seq: i64,
    /// How many times the ledger was folded: what a write costs, for tests to check.
    pub(super) folds: u64,
}

/// Who has joined a book, and who has a departure record (reversed or not: the ledger, folded
/// only for them, says which). It is the ledger's membership kept up to date record by record,
/// so that checking a contribution does not fold the whole ledger.
#[derive(Debug, Default)]
pub(super) struct MemberIndex {
    joined: HashSet<String>,
    departed: HashSet<String>,
}

impl MemberIndex {
    pub(super) fn of(book: &Book) -> MemberIndex {
        let mut index = MemberIndex::default();
        for record in book.records() {
            index.note(record);
        }
        index
    }

    fn note(&mut self, record: &Record) {
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

impl Caches {
    pub(super) fn new(book: &Book) -> Caches {
        Caches {
            members: MemberIndex::of(book),
            ..Caches::default()
        }
    }

    /// Takes in a record added to the book.
    pub(super) fn noted(&mut self, record: &Record) {
        self.members.note(record);
        // Whether a share is effective depends on share records, their approvals and
        // reversals, and on who holds roles; nothing else changes it.
        if matches!(
            record.body(),
            Body::Share(_)
                | Body::Unshare(_)
                | Body::Approval(_)
                | Body::Reversal(_)
                | Body::RoleGrant(_)
                | Body::RoleRevoke(_)
                | Body::Genesis(_)
        ) {
            self.shares = None;
        }
    }

    /// The book is let go: its line stays, and its ledger if it was folded at its last heads.
    pub(super) fn let_go(&mut self, book: &Book) {
        self.summary = Some(summary_of(book));
        let heads = book.heads();
        if self.ledger.as_ref().is_some_and(|(at, _)| *at != heads) {
            self.ledger = None;
        }
        self.reconciliation = None;
    }

    pub(super) fn cached_ledger(&self) -> Option<Arc<Ledger>> {
        self.ledger.as_ref().map(|(_, l)| Arc::clone(l))
    }

    pub(crate) fn ledger_for(&mut self, book: &Book) -> Arc<Ledger> {
        let heads = book.heads();
        if let Some((at, ledger)) = self.ledger.as_ref()
            && *at == heads
        {
            return Arc::clone(ledger);
        }
        let ledger = Arc::new(Ledger::fold(book));
        self.folds += 1;
        tracing::debug!(book = %book.id(), folds = self.folds, records = ledger.record_count, "folded the ledger");
        self.shares = Some(Arc::new(ledger.shared_with.iter().cloned().collect()));
        self.ledger = Some((heads, Arc::clone(&ledger)));
        ledger
    }

    /// Whom the book is shared with. A contribution or a meeting does not change it, so a
    /// partner's session asking after every local write costs no fold.
    pub(super) fn shared_with(&mut self, book: &Book) -> Arc<BTreeSet<String>> {
        if let Some(shares) = &self.shares {
            return Arc::clone(shares);
        }
        self.ledger_for(book);
        Arc::clone(self.shares.as_ref().expect("ledger_for sets the shares"))
    }

    /// The reconciliation, folded again only when the heads, the overdue rule or the minute
    /// changed: a stranger's enterprise book of 20,000 transfers costs one fold, not one per
    /// statement.
    pub(crate) fn reconciliation_for(
        &mut self,
        book: &Book,
        now_ms: u64,
        overdue_days: u32,
    ) -> Arc<Reconciliation> {
        let key: ReconKey = (book.heads(), overdue_days, now_ms / 60_000);
        if let Some((at, rec)) = self.reconciliation.as_ref()
            && *at == key
        {
            return Arc::clone(rec);
        }
        let rec = Arc::new(kaban_protocol::enterprise::reconcile(
            book,
            now_ms,
            overdue_days,
        ));
        self.reconciliation = Some((key, Arc::clone(&rec)));
        rec
    }

    /// Whether `key` is someone in this book: an officer (with `past`, also one whose roles
    /// were revoked, or who signed here before) or a member's key.
    pub(crate) fn knows(&mut self, book: &Book, key: &PublicKey, past: bool) -> bool {
        if book.genesis().is_none() {
            return false;
        }
        if past && (book.seq_of(key) > 0 || book.roster().revocations().any(|(k, _)| k == key)) {
            return true;
        }
        let ledger = self.ledger_for(book);
        ledger.officers.iter().any(|o| o.key == *key)
            || ledger.members.iter().any(|m| m.key.as_ref() == Some(key))
    }

    /// The node's local policy on a new record (see [`Ledger::admit`]). Contributions and joins
    /// are checked against the member index; a withdrawal or a departure, which need the
    /// member's balance, and a contribution for a member with a departure record, fold the
    /// ledger.
    pub(super) fn admit(&mut self, book: &Book, record: &Record) -> Result<(), Objection> {
        let name = book.id().to_string();
        let Some(genesis) = book.genesis() else {
            return Ok(());
        };
        let members = &self.members;
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
            Body::Contribution(c) if members.departed.contains(c.member.as_str()) => {
                self.ledger_for(book).admit(&name, record)
            }
            Body::Withdrawal(_) | Body::Departure(_) => self.ledger_for(book).admit(&name, record),
            _ => Ok(()),
        }
    }
}
