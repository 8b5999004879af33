//! Books: automerge documents that hold a set of signed records, keyed by record id.
//!
//! A book's document has one shape: its root map holds every record's canonical bytes under the
//! record's id. Nothing else is ever written. The first change is the *genesis change*, built
//! deterministically from the genesis record (a fixed actor derived from the book id, time 0), so
//! any node holding the genesis record builds the byte-identical change; after it, each node
//! writes with its own actor.
//!
//! Every change, local or from a peer, passes [`validate`] before it touches the document,
//! because automerge cannot roll a change back. The verdict depends only on the change and its
//! causal past, so every honest node reaches the same one.

mod graph;
mod validate;

pub use validate::{Refusal, validate};

use crate::kind::{Body, Genesis};
use crate::record::{BookId, Record, RecordId};
use crate::roster::Roster;
use automerge::transaction::{CommitOptions, Transactable as _};
use automerge::{ActorId, Automerge, Change, ChangeHash, ROOT, ScalarValue};
use graph::Graph;
use std::collections::HashSet;

/// Most records one change may add. The node batches concurrent submissions into one change
/// (group commit); this bounds how large such a batch, or a peer's change, can be.
pub const MAX_RECORDS_PER_CHANGE: usize = 256;

/// Largest encoded change accepted from a peer.
pub const MAX_CHANGE_BYTES: usize = 2 * 1024 * 1024;

/// Why a stored book could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("stored book {book} is not a valid automerge document: {source}")]
    Automerge {
        book: BookId,
        #[source]
        source: automerge::AutomergeError,
    },
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

/// A savings or enterprise book.
#[derive(Debug)]
pub struct Book {
    id: BookId,
    doc: Automerge,
    genesis: Option<Genesis>,
    graph: Graph,
}

impl Book {
    /// Founds a book from its genesis record. `actor` must be unique to this node and book; the
    /// caller draws it at random.
    pub fn create(genesis: Record, actor: [u8; 16]) -> Result<Book, Refusal> {
        let mut book = Book::empty(genesis.book(), actor);
        let change = genesis_change(&genesis)?;
        let applied = book.apply(vec![change]);
        if let Some((_, refusal)) = applied.refused.into_iter().next() {
            return Err(refusal);
        }
        Ok(book)
    }

    /// A book known only by its id, waiting to receive its genesis from a peer.
    pub fn empty(id: BookId, actor: [u8; 16]) -> Book {
        Book {
            id,
            doc: Automerge::new().with_actor(ActorId::from(actor)),
            genesis: None,
            graph: Graph::default(),
        }
    }

    /// Loads a book saved with [`Book::save`]. Signatures and roles were checked when each change
    /// was first accepted, so loading trusts the stored bytes and only rebuilds the index; use
    /// [`Book::load_verified`] to check everything again.
    pub fn load(id: BookId, bytes: &[u8], actor: [u8; 16]) -> Result<Book, LoadError> {
        Self::load_inner(id, bytes, actor, false)
    }

    /// Loads a book and validates every change again, as if each arrived from a peer.
    pub fn load_verified(id: BookId, bytes: &[u8], actor: [u8; 16]) -> Result<Book, LoadError> {
        Self::load_inner(id, bytes, actor, true)
    }

    fn load_inner(
        id: BookId,
        bytes: &[u8],
        actor: [u8; 16],
        verify: bool,
    ) -> Result<Book, LoadError> {
        let doc = Automerge::load(bytes)
            .map_err(|source| LoadError::Automerge { book: id, source })?
            .with_actor(ActorId::from(actor));
        let mut book = Book {
            id,
            doc: Automerge::new(),
            genesis: None,
            graph: Graph::default(),
        };
        if verify {
            for change in doc.get_changes(&[]) {
                let candidate = validate::parse_change(id, &change, true)
                    .and_then(|c| validate(&book, &c).map(|()| c))
                    .map_err(|refusal| LoadError::Invalid { book: id, refusal })?;
                book.index(candidate);
            }
        } else {
            book.index_trusted(&doc)
                .map_err(|refusal| LoadError::Invalid { book: id, refusal })?;
        }
        book.doc = doc;
        Ok(book)
    }

    /// Rebuilds the index of a stored document without expanding its changes: the records come
    /// from the root map, and each is placed in its change by the operation id that put it. This
    /// is several times faster than decoding every change, which matters for a node starting
    /// with large books.
    fn index_trusted(&mut self, doc: &Automerge) -> Result<(), Refusal> {
        use automerge::ReadDoc as _;
        let metas = doc.get_changes_meta(&[]);
        // For each actor, its changes' first operation counters, in order, with their index.
        let mut by_actor: std::collections::HashMap<ActorId, Vec<(u64, usize)>> =
            std::collections::HashMap::new();
        for (i, m) in metas.iter().enumerate() {
            by_actor
                .entry(m.actor.clone().into_owned())
                .or_default()
                .push((m.start_op, i));
        }
        for ops in by_actor.values_mut() {
            ops.sort_unstable();
        }
        let mut records: Vec<Vec<Record>> = vec![Vec::new(); metas.len()];
        let change_of = |id: automerge::ObjId, record: &Record| {
            let automerge::ObjId::Id(counter, actor, _) = id else {
                return Err(Refusal::Malformed(
                    "a record without an operation id".into(),
                ));
            };
            by_actor
                .get(&actor)
                .and_then(|ops| {
                    let at = ops.partition_point(|(start, _)| *start <= counter);
                    at.checked_sub(1).map(|i| ops[i].1)
                })
                .ok_or_else(|| {
                    Refusal::Malformed(format!("record {} has no change that put it", record.id()))
                })
        };
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
            if item.conflict {
                // The same record put by concurrent changes: place it in each of them.
                let all = doc
                    .get_all(ROOT, item.key.as_ref())
                    .map_err(|e| Refusal::Malformed(e.to_string()))?;
                for (_, id) in all {
                    records[change_of(id, &record)?].push(record.clone());
                }
            } else {
                records[change_of(item.id(), &record)?].push(record);
            }
        }
        for (m, records) in metas.into_iter().zip(records) {
            if let Some(missing) = m.deps.iter().find(|d| !self.has_change(d)) {
                return Err(Refusal::MissingDependency { missing: *missing });
            }
            self.index(validate::Candidate {
                hash: Some(m.hash),
                deps: m.deps,
                actor: m.actor.into_owned(),
                seq: m.seq,
                records,
                bytes: 0,
            });
        }
        Ok(())
    }

    /// The whole document, compacted.
    pub fn save(&self) -> Vec<u8> {
        self.doc.save()
    }

    /// The changes after `heads`, in the form [`Book::load`] accepts appended to a save.
    pub fn save_after(&self, heads: &[ChangeHash]) -> Vec<u8> {
        self.doc.save_after(heads)
    }

    pub fn id(&self) -> BookId {
        self.id
    }

    /// The genesis body, once the book has its genesis.
    pub fn genesis(&self) -> Option<&Genesis> {
        self.genesis.as_ref()
    }

    pub fn heads(&self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    pub fn doc(&self) -> &Automerge {
        &self.doc
    }

    /// The encoded bytes of a change in this book, as stored and as sent to peers.
    pub fn change_bytes(&self, hash: &ChangeHash) -> Option<Vec<u8>> {
        use automerge::ReadDoc as _;
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

    /// Validates and adds records made on this node, as one change. Either every record is
    /// added or none is.
    pub fn add(&mut self, records: Vec<Record>) -> Result<ChangeHash, Refusal> {
        let candidate = validate::Candidate {
            hash: None,
            deps: self.doc.get_heads(),
            actor: self.doc.get_actor().clone(),
            seq: self.graph.seq_of(self.doc.get_actor()) + 1,
            records,
            bytes: 0,
        };
        validate(self, &candidate)?;
        let mut tx = self.doc.transaction();
        for record in &candidate.records {
            tx.put(
                ROOT,
                record.id().to_string(),
                ScalarValue::Bytes(record.bytes().to_vec()),
            )
            .expect("putting a scalar into the root map cannot fail");
        }
        let (hash, _) = tx.commit_with(CommitOptions::default().with_time(0));
        let hash = hash.expect("a change that puts records is never empty");
        let mut candidate = candidate;
        candidate.hash = Some(hash);
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
                        applied
                            .records
                            .extend(candidate.records.iter().map(Record::id));
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
            && let Some(Body::Genesis(g)) = candidate.records.first().map(Record::body)
        {
            self.genesis = Some(g.clone());
        }
        self.graph.insert(candidate);
    }
}

/// The deterministic genesis change: the genesis record put under its id by an actor derived
/// from the book id, at time 0, with no message. Every node builds the same bytes.
pub fn genesis_change(genesis: &Record) -> Result<Change, Refusal> {
    if !matches!(genesis.body(), Body::Genesis(_)) {
        return Err(Refusal::NotGenesis {
            record: genesis.id(),
            kind: genesis.kind().to_owned(),
        });
    }
    let mut doc = Automerge::new().with_actor(genesis_actor(genesis.book()));
    let mut tx = doc.transaction();
    tx.put(
        ROOT,
        genesis.id().to_string(),
        ScalarValue::Bytes(genesis.bytes().to_vec()),
    )
    .expect("putting a scalar into the root map cannot fail");
    tx.commit_with(CommitOptions::default().with_time(0));
    Ok(doc
        .get_last_local_change()
        .expect("the genesis change was just committed"))
}

/// The actor of a book's genesis change: the first 16 bytes of the book id.
pub fn genesis_actor(book: BookId) -> ActorId {
    ActorId::from(&book.0.0[..16])
}

#[cfg(test)]
mod tests;
