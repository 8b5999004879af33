//! Books: automerge documents that hold a set of signed records, keyed by record id.
//!
//! A book's document has one shape: its root map holds every record's canonical bytes under the
//! record's id. Nothing else is ever written.
//!
//! **The envelope rule.** Each record travels in exactly one automerge change, and that change
//! is determined by the record (see [`change_for`] and [`Book::envelope`]): its actor is the
//! signer's key, its sequence number the record's signed `seq`, its dependencies the changes of
//! the records it names in its signed `after` and of the signer's previous record, its first
//! operation the Lamport successor of theirs, its time 0, and it has no message.
//! Any two nodes holding a record therefore hold the identical change for it, and a party
//! without the signer's key cannot wrap a record again, equivocate on an actor's sequence
//! number, or choose a record's causal past.
//!
//! Every change, local or from a peer, passes [`validate`] before it touches the document,
//! because automerge cannot roll a change back. The verdict depends only on the change and its
//! causal past, so every honest node reaches the same one.

mod adding;
mod graph;
mod validate;

pub use adding::Adding;
pub use validate::{Refusal, validate};

use crate::key::PublicKey;
use crate::kind::{Body, Genesis};
use crate::record::{BookId, Place, Record, RecordId};
use crate::roster::Roster;
use automerge::legacy::{Key, ObjectId, Op, OpType, SortedVec};
use automerge::transaction::{CommitOptions, Transactable as _};
use automerge::{ActorId, Automerge, Change, ChangeHash, ExpandedChange, ROOT, ScalarValue};
use graph::Graph;
use std::collections::HashSet;
use std::num::NonZeroU64;

/// Records one change carries: exactly one, so that a record and its change determine each
/// other.
pub const MAX_RECORDS_PER_CHANGE: usize = 1;

/// Largest encoded change accepted: one record of at most
/// [`crate::record::MAX_RECORD_BYTES`] with its envelope.
pub const MAX_CHANGE_BYTES: usize = 16 * 1024;

/// Why a stored book could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("stored book {book} is not a valid automerge document: {source}")]
    Automerge {
        book: BookId,
        #[source]
        source: automerge::AutomergeError,
    },
    #[error("stored book {book} could not be read: it is damaged")]
    Panicked { book: BookId },
    #[error("stored book {book} holds a change that is not a valid book change: {refusal}")]
    Invalid { book: BookId, refusal: Refusal },
}

/// The outcome of offering changes from a peer to a book.
#[derive(Debug, Default)]
pub struct Applied {
    /// Changes validated and applied, in the order applied.
    pub accepted: Vec<ChangeHash>,
    /// The accepted changes' bytes, in the same order, for the caller to store. (Asking the
    /// document for a change's bytes rebuilds them from the whole op set, which is linear in
    /// the book's size.)
    pub accepted_bytes: Vec<Vec<u8>>,
    /// Records the accepted changes added.
    pub records: Vec<RecordId>,
    /// Changes refused, each with its reason. The book is unchanged by them.
    pub refused: Vec<(ChangeHash, Refusal)>,
    /// Changes held back because a change they depend on is not in the book.
    pub waiting: Vec<Change>,
    /// Changes the book already had.
    pub duplicate: usize,
}

/// The automerge actor of a signer's changes: the 32 bytes of the signer's public key.
pub fn actor_of(signer: &PublicKey) -> ActorId {
    ActorId::from(&signer.as_bytes()[..])
}

/// The one change that may carry `record`, given its dependencies (`deps`: the changes of the
/// records it names in `after` and of the signer's previous record) and its first operation's
/// counter (`start_op`: one more than the largest in those changes, as automerge's Lamport
/// clock requires); [`Book::envelope`] computes both. Actor: the
/// signer's key; sequence number: the record's `seq`; time 0; no message; one operation putting
/// the record's bytes under its id in the root map. Every node builds the same bytes.
pub fn change_for(record: &Record, deps: Vec<ChangeHash>, start_op: u64) -> Change {
    let seq = record.seq();
    Change::from(ExpandedChange {
        operations: vec![Op {
            action: OpType::Put(ScalarValue::Bytes(record.bytes().to_vec())),
            obj: ObjectId::Root,
            key: Key::Map(record.id().to_string().into()),
            pred: SortedVec::new(),
            insert: false,
        }],
        actor_id: actor_of(&record.signer()),
        hash: None,
        seq,
        start_op: NonZeroU64::new(start_op).expect("a change's first operation is at least 1"),
        time: 0,
        message: None,
        deps,
        extra_bytes: Vec::new(),
        author: None,
    })
}

/// The deterministic genesis change: [`change_for`] the genesis record, which follows nothing.
pub fn genesis_change(genesis: &Record) -> Result<Change, Refusal> {
    if !matches!(genesis.body(), Body::Genesis(_)) {
        return Err(Refusal::NotGenesis {
            record: genesis.id(),
            kind: genesis.kind().to_owned(),
        });
    }
    Ok(change_for(genesis, Vec::new(), 1))
}

/// A savings or enterprise book.
#[derive(Debug)]
pub struct Book {
    id: BookId,
    doc: Automerge,
    genesis: Option<Genesis>,
    graph: Graph,
    /// Changes validated and indexed but not yet in the document: those of an [`Adding`]
    /// batch that did not follow the heads. Empty whenever no batch is open.
    unapplied: Vec<Change>,
}

impl Book {
    /// Founds a book from its genesis record.
    pub fn create(genesis: Record) -> Result<Book, Refusal> {
        let mut book = Book::empty(genesis.book());
        let change = genesis_change(&genesis)?;
        let applied = book.apply(vec![change]);
        if let Some((_, refusal)) = applied.refused.into_iter().next() {
            return Err(refusal);
        }
        Ok(book)
    }

    /// A book known only by its id, waiting to receive its genesis from a peer.
    pub fn empty(id: BookId) -> Book {
        Book {
            id,
            doc: Automerge::new(),
            genesis: None,
            graph: Graph::default(),
            unapplied: Vec::new(),
        }
    }

    /// Loads a book saved with [`Book::save`]. Signatures and roles were checked when each change
    /// was first accepted, so loading skips them; it still checks that every change is the one
    /// its record determines, so a stored book holds nothing an attacker could add. Use
    /// [`Book::load_verified`] to check everything again.
    pub fn load(id: BookId, bytes: &[u8]) -> Result<Book, LoadError> {
        Self::load_inner(id, bytes, false)
    }

    /// Loads a book and validates every change again, as if each arrived from a peer.
    pub fn load_verified(id: BookId, bytes: &[u8]) -> Result<Book, LoadError> {
        Self::load_inner(id, bytes, true)
    }

    fn load_inner(id: BookId, bytes: &[u8], verify: bool) -> Result<Book, LoadError> {
        // Automerge asserts on some inputs it assumes it wrote itself, and stored records are
        // read without the checks that refuse damage politely; a damaged file must cost this
        // book, never the node.
        std::panic::catch_unwind(|| Self::load_unguarded(id, bytes, verify))
            .map_err(|_| LoadError::Panicked { book: id })?
    }

    fn load_unguarded(id: BookId, bytes: &[u8], verify: bool) -> Result<Book, LoadError> {
        let doc =
            Automerge::load(bytes).map_err(|source| LoadError::Automerge { book: id, source })?;
        // Automerge holds back stored changes whose dependencies are missing, out of the
        // document and so out of every check here; a stored book is whole or it is damaged.
        if let Some(missing) = automerge::ReadDoc::get_missing_deps(&doc, &[]).first() {
            return Err(LoadError::Invalid {
                book: id,
                refusal: Refusal::MissingDependency { missing: *missing },
            });
        }
        let mut book = Book::empty(id);
        let invalid = |refusal| LoadError::Invalid { book: id, refusal };
        if verify {
            for change in doc.get_changes(&[]) {
                let candidate = validate::parse_change(id, &change, true)
                    .and_then(|c| validate(&book, &c).map(|()| c))
                    .map_err(invalid)?;
                book.index(candidate);
            }
        } else {
            book.index_trusted(&doc).map_err(invalid)?;
        }
        book.doc = doc;
        Ok(book)
    }

    /// Rebuilds the index of a stored document without expanding its changes or checking
    /// signatures: the records come from the root map, each found by the operation id that put
    /// it, which the envelope rule makes (signer, seq). Each change is still checked to be the
    /// one its record determines, byte for byte, which costs one small encoding per record.
    fn index_trusted(&mut self, doc: &Automerge) -> Result<(), Refusal> {
        use automerge::ReadDoc as _;
        let mut by_op: std::collections::HashMap<(ActorId, u64), Record> =
            std::collections::HashMap::new();
        for item in doc.map_range(ROOT, ..) {
            let automerge::ValueRef::Scalar(automerge::ScalarValueRef::Bytes(bytes)) = &item.value
            else {
                return Err(Refusal::WritesElsewhere {
                    what: format!("a non-record value under {:?}", item.key),
                });
            };
            let record = Record::decode_unverified(bytes).map_err(|error| Refusal::Record {
                key: item.key.to_string(),
                error,
            })?;
            let automerge::ObjId::Id(counter, actor, _) = item.id() else {
                return Err(Refusal::Malformed(
                    "a record without an operation id".into(),
                ));
            };
            if record.book() != self.id {
                return Err(Refusal::WrongBook {
                    id: record.id(),
                    found: record.book(),
                    expected: self.id,
                });
            }
            if item.conflict || item.key != record.id().to_string() {
                return Err(Refusal::Malformed(format!(
                    "record {} is stored twice or under another key",
                    record.id()
                )));
            }
            by_op.insert((actor, counter), record);
        }
        let metas = doc.get_changes_meta(&[]);
        if metas.len() != by_op.len() {
            return Err(Refusal::Malformed(format!(
                "{} changes hold {} records; each change holds exactly one",
                metas.len(),
                by_op.len()
            )));
        }
        for m in metas {
            let record = by_op
                .remove(&(m.actor.clone().into_owned(), m.start_op))
                .ok_or_else(|| Refusal::Malformed(format!("change {} puts no record", m.hash)))?;
            let candidate = validate::Candidate {
                hash: m.hash,
                deps: m.deps,
                start_op: m.start_op,
                record,
            };
            if let Some(missing) = candidate.deps.iter().find(|d| !self.has_change(d)) {
                return Err(Refusal::MissingDependency { missing: *missing });
            }
            if self.change_for(&candidate.record)?.hash() != candidate.hash {
                return Err(Refusal::WrongEnvelope {
                    id: candidate.record.id(),
                    field: "encoding",
                });
            }
            self.index(candidate);
        }
        Ok(())
    }

    /// The whole document, compacted.
    pub fn save(&self) -> Vec<u8> {
        self.doc().save()
    }

    /// The changes after `heads`, in the form [`Book::load`] accepts appended to a save.
    pub fn save_after(&self, heads: &[ChangeHash]) -> Vec<u8> {
        self.doc().save_after(heads)
    }

    pub fn id(&self) -> BookId {
        self.id
    }

    /// The genesis body, once the book has its genesis.
    pub fn genesis(&self) -> Option<&Genesis> {
        self.genesis.as_ref()
    }

    /// The changes no other change depends on, sorted: the document's heads, including the
    /// changes of an open [`Adding`] batch.
    pub fn heads(&self) -> Vec<ChangeHash> {
        self.graph.heads()
    }

    /// The records at the book's heads: what a new record names in `after`.
    pub fn head_records(&self) -> Vec<RecordId> {
        let mut ids: Vec<RecordId> = self
            .heads()
            .iter()
            .filter_map(|h| self.graph.record_of(h))
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Where `signer`'s next record stands: after the book's heads, next in its chain.
    pub fn place_for(&self, signer: &PublicKey) -> Place {
        Place::new(self.id, self.graph.seq_of(signer) + 1, self.head_records())
    }

    /// Signs a record for this book at `key`'s next place ([`Book::place_for`]).
    pub fn sign_next(&self, key: &crate::key::SignerKey, time_ms: u64, body: &Body) -> Record {
        Record::sign(key, &self.place_for(&key.public()), time_ms, body)
    }

    /// How many records `signer` has in this book: the `seq` of its latest.
    pub fn seq_of(&self, signer: &PublicKey) -> u64 {
        self.graph.seq_of(signer)
    }

    /// The envelope `record` determines in this book: its dependencies, the changes of the
    /// records it names in `after` and of its signer's previous record (sorted, without
    /// repeats), and its first operation's counter, one more than the largest among those
    /// changes (each change's is the largest in its own causal past). Or why the book cannot
    /// place it yet: a record it names, or the signer's previous record, has not arrived.
    pub fn envelope(&self, record: &Record) -> Result<(Vec<ChangeHash>, u64), Refusal> {
        let mut deps = Vec::with_capacity(record.after().len() + 1);
        for r in record.after() {
            deps.push(self.graph.change_of(r).ok_or(Refusal::MissingRecord {
                id: record.id(),
                missing: *r,
            })?);
        }
        let seq = record.seq();
        if seq > 1 {
            let previous = self
                .graph
                .chain_record(&record.signer(), seq - 1)
                .and_then(|p| self.graph.change_of(&p))
                .ok_or(Refusal::MissingPrevious {
                    id: record.id(),
                    signer: record.signer(),
                    seq,
                })?;
            deps.push(previous);
        }
        let start_op = deps.iter().map(|(_, op)| op + 1).max().unwrap_or(1);
        let mut deps: Vec<ChangeHash> = deps.into_iter().map(|(hash, _)| hash).collect();
        deps.sort_unstable();
        deps.dedup();
        Ok((deps, start_op))
    }

    /// The one change that may carry `record` in this book ([`change_for`] its envelope).
    pub fn change_for(&self, record: &Record) -> Result<Change, Refusal> {
        let (deps, start_op) = self.envelope(record)?;
        Ok(change_for(record, deps, start_op))
    }

    pub fn doc(&self) -> &Automerge {
        debug_assert!(self.unapplied.is_empty(), "the document is read mid-batch");
        &self.doc
    }

    /// The encoded bytes of a change in this book, as stored and as sent to peers.
    pub fn change_bytes(&self, hash: &ChangeHash) -> Option<Vec<u8>> {
        use automerge::ReadDoc as _;
        if let Some(c) = self.unapplied.iter().find(|c| c.hash() == *hash) {
            return Some(c.raw_bytes().to_vec());
        }
        self.doc
            .get_change_by_hash(hash)
            .map(|c| c.raw_bytes().to_vec())
    }

    pub fn has_change(&self, hash: &ChangeHash) -> bool {
        self.graph.node(hash).is_some()
    }

    pub fn change_count(&self) -> usize {
        self.graph.node_count()
    }

    pub fn record_count(&self) -> usize {
        self.graph.record_count()
    }

    pub fn record(&self, id: &RecordId) -> Option<&Record> {
        self.graph.record(id)
    }

    /// Every record, in the order this node received them. Views sort before folding, so this
    /// order never reaches a result.
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.graph.records()
    }

    /// The roster of the whole book.
    pub fn roster(&self) -> Roster {
        match &self.genesis {
            Some(g) => self.graph.roster(g, &self.graph.all_roles()),
            None => Roster::default(),
        }
    }

    /// Whether record `a` is in the causal past of record `b` (or is `b`).
    pub fn precedes(&self, a: &RecordId, b: &RecordId) -> bool {
        self.graph.record_precedes(a, b)
    }

    /// Validates and adds a record made for this book, in the change it determines. Returns
    /// that change's hash. To add several, [`Book::adding`] costs less.
    pub fn add(&mut self, record: Record) -> Result<ChangeHash, Refusal> {
        let mut adding = self.adding();
        let hash = adding.add(record)?;
        adding.finish()?;
        Ok(hash)
    }

    /// Adds a record that follows exactly the book's heads, the usual case for a record signed
    /// at the place this node gave out. Automerge applies a received change by walking the
    /// whole root map, so adding records one by one that way costs time in the square of the
    /// book; a local transaction costs a lookup. It builds the same change: the signer's actor,
    /// the next sequence number for it, the heads and the actor's last change as dependencies,
    /// and the next operation counter, which for a change on all the heads is the Lamport one.
    fn add_at_heads(&mut self, record: Record, change: Change) -> Result<ChangeHash, Refusal> {
        let candidate = validate::parse_change(self.id, &change, true)?;
        validate(self, &candidate)?;
        self.doc.set_actor(actor_of(&record.signer()));
        let mut tx = self.doc.transaction();
        tx.put(
            ROOT,
            record.id().to_string(),
            ScalarValue::Bytes(record.bytes().to_vec()),
        )
        .expect("putting a scalar into the root map cannot fail");
        let (hash, _) = tx.commit_with(CommitOptions::default().with_time(0));
        let hash = hash.expect("a change that puts a record is never empty");
        assert_eq!(
            hash, candidate.hash,
            "a local change is the change its record determines"
        );
        self.index(candidate);
        Ok(hash)
    }

    /// Validates changes from a peer and applies the valid ones. Changes may come in any order;
    /// a change whose dependencies are missing is returned in [`Applied::waiting`], so the caller
    /// can offer it again once they arrive.
    pub fn apply(&mut self, changes: Vec<Change>) -> Applied {
        self.apply_with(changes, |doc, accepted| doc.apply_changes(accepted))
    }

    /// Validates `changes`, then hands the accepted ones to `commit` to put into the document
    /// (the sync engine passes them through automerge's sync state this way). Validation reads
    /// only the index, which takes each accepted change before the next is checked, so a batch
    /// may build on itself.
    pub(crate) fn apply_with(
        &mut self,
        changes: Vec<Change>,
        commit: impl FnOnce(&mut Automerge, Vec<Change>) -> Result<(), automerge::AutomergeError>,
    ) -> Applied {
        let mut applied = Applied::default();
        let mut pending: Vec<Change> = Vec::new();
        let mut seen: HashSet<ChangeHash> = HashSet::new();
        for change in changes {
            let hash = change.hash();
            if self.has_change(&hash) || !seen.insert(hash) {
                applied.duplicate += 1;
            } else {
                pending.push(change);
            }
        }
        let mut accepted = Vec::new();
        // Repeat until no change becomes ready, so that changes may arrive out of order.
        loop {
            let before = pending.len();
            let mut still = Vec::new();
            for change in pending {
                if !change.deps().iter().all(|d| self.has_change(d)) {
                    still.push(change);
                    continue;
                }
                let verdict = validate::parse_change(self.id, &change, true)
                    .and_then(|c| validate(self, &c).map(|()| c));
                match verdict {
                    Ok(candidate) => {
                        applied.accepted.push(change.hash());
                        applied.accepted_bytes.push(change.raw_bytes().to_vec());
                        applied.records.push(candidate.record.id());
                        self.index(candidate);
                        accepted.push(change);
                    }
                    Err(refusal) => applied.refused.push((change.hash(), refusal)),
                }
            }
            pending = still;
            if pending.len() == before || pending.is_empty() {
                break;
            }
        }
        applied.waiting = pending;
        if let Err(e) = commit(&mut self.doc, accepted) {
            // Automerge refused what validation accepted, which validation is meant to rule out
            // (it checks dependencies and actor sequence numbers). Rebuild the index from what
            // the document really holds, and report the difference.
            self.reindex();
            let (kept, lost): (Vec<_>, Vec<_>) = applied
                .accepted
                .into_iter()
                .zip(applied.accepted_bytes)
                .partition(|(h, _)| self.has_change(h));
            (applied.accepted, applied.accepted_bytes) = kept.into_iter().unzip();
            applied.refused.extend(
                lost.into_iter()
                    .map(|(h, _)| (h, Refusal::Automerge(e.to_string()))),
            );
            applied.records.retain(|id| self.graph.record(id).is_some());
        }
        applied
    }

    fn reindex(&mut self) {
        self.graph = Graph::default();
        self.genesis = None;
        let doc = std::mem::take(&mut self.doc);
        self.index_trusted(&doc)
            .expect("the document holds only changes this book validated");
        self.doc = doc;
    }

    fn index(&mut self, candidate: validate::Candidate) {
        if self.genesis.is_none()
            && let Body::Genesis(g) = candidate.record.body()
        {
            self.genesis = Some(g.clone());
        }
        self.graph.insert(candidate);
    }
}

#[cfg(test)]
mod tests;
