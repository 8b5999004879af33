//! The one validation function that guards every book.
//!
//! A change is accepted only if it is exactly the change its one record determines (the envelope
//! rule), the record is new, correctly signed and stored under its own id, its signer holds the
//! role its kind needs in the roster derived from the change's causal past, and the record
//! follows the signer's previous record. A change that breaks any rule is refused whole, with
//! the first reason found.

use super::{Book, MAX_CHANGE_BYTES, MAX_RECORDS_PER_CHANGE};
use crate::key::PublicKey;
use crate::kind::{Body, Books, Kind, Role};
use crate::money::Currency;
use crate::record::{BookId, Record, RecordError, RecordId};
use automerge::legacy::{Key, ObjectId, OpType};
use automerge::{Change, ChangeHash, ScalarValue};

/// Why a change was refused. Each reason names the record and key involved, so that the person
/// reading a log or an API error can act on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("change is {bytes} bytes; the limit is {MAX_CHANGE_BYTES}")]
    ChangeTooLarge { bytes: usize },
    #[error("change makes {count} operations; a change carries exactly one record")]
    TooManyRecords { count: usize },
    #[error("change adds no records")]
    Empty,
    #[error("change could not be decoded: {0}")]
    Malformed(String),
    #[error("change deletes {key:?}; records are never deleted, only reversed")]
    Delete { key: String },
    #[error("change overwrites {key:?}; records are never edited, only reversed")]
    Overwrite { key: String },
    #[error("change writes {what}; a book holds only records in its root map")]
    WritesElsewhere { what: String },
    #[error("record under key {key:?} is invalid: {error}")]
    Record { key: String, error: RecordError },
    #[error("record {id} is stored under key {key:?} instead of its own id")]
    KeyMismatch { key: String, id: RecordId },
    #[error("record {id} belongs to book {found}, not to book {expected}")]
    WrongBook {
        id: RecordId,
        found: BookId,
        expected: BookId,
    },
    #[error("record {id} is already in the book")]
    AlreadyPresent { id: RecordId },
    #[error("record {record} is a {kind}, not a genesis")]
    NotGenesis { record: RecordId, kind: String },
    #[error("the first change of a book must be exactly the genesis change of book {book}")]
    NotTheGenesisChange { book: BookId },
    #[error("record {id} is a genesis but the book already has one")]
    SecondGenesis { id: RecordId },
    #[error("change depends on {missing} which this book does not have")]
    MissingDependency { missing: ChangeHash },
    #[error(
        "the change carrying record {id} is not the change the record determines: its {field} is not the record's"
    )]
    WrongEnvelope { id: RecordId, field: &'static str },
    #[error(
        "record {id} is number {seq} of signer {signer}, whose record {prev} this book does not hold yet",
        prev = seq - 1
    )]
    MissingPrevious {
        id: RecordId,
        signer: PublicKey,
        seq: u64,
    },
    #[error(
        "signer {signer} signed two records as its number {seq} in this book: {other}, which the book holds, and {id}"
    )]
    Equivocation {
        id: RecordId,
        signer: PublicKey,
        seq: u64,
        other: RecordId,
    },
    #[error("record {id} follows record {missing}, which this book does not hold yet")]
    MissingRecord { id: RecordId, missing: RecordId },
    #[error("signer {signer} of {kind} record {id} is not an officer of book {book}")]
    UnknownSigner {
        id: RecordId,
        kind: String,
        signer: PublicKey,
        book: BookId,
    },
    #[error("signer {signer} of {kind} record {id} had role {role} revoked before signing")]
    RevokedSigner {
        id: RecordId,
        kind: String,
        signer: PublicKey,
        role: Role,
    },
    #[error("signer {signer} of {kind} record {id} holds {held}; a {kind} needs one of: {needed}")]
    WrongRole {
        id: RecordId,
        kind: String,
        signer: PublicKey,
        held: String,
        needed: String,
    },
    #[error("{kind} record {id} refers to {target}, which is not in its causal past")]
    TargetNotInPast {
        id: RecordId,
        kind: String,
        target: RecordId,
    },
    #[error(
        "reversal {id} targets a {target_kind}; only contributions and withdrawals are reversed"
    )]
    NotReversible { id: RecordId, target_kind: String },
    #[error("{kind} record {id} belongs in an enterprise book; this is a savings book")]
    NotAnEnterpriseBook { id: RecordId, kind: String },
    #[error("{kind} record {id} belongs in a savings book; this is an enterprise book")]
    NotASavingsBook { id: RecordId, kind: String },
    #[error("signer {signer} of {kind} record {id} is not an officer of investor group {group}")]
    NotInvestor {
        id: RecordId,
        kind: String,
        signer: PublicKey,
        group: BookId,
    },
    #[error("{kind} record {id} refers to a {target_kind}; it must refer to a {expected}")]
    WrongTarget {
        id: RecordId,
        kind: String,
        target_kind: String,
        expected: &'static str,
    },
    #[error("{field} of {kind} record {id} is in {found}; it must be in {expected}")]
    WrongCurrency {
        id: RecordId,
        kind: String,
        field: &'static str,
        found: Currency,
        expected: Currency,
    },
    #[error("record {id} names investor group {group}, which this enterprise has not registered")]
    UnknownGroup { id: RecordId, group: BookId },
    #[error("automerge refused the change: {0}")]
    Automerge(String),
}

impl Refusal {
    /// A stable, machine-readable name for the reason, used in test vectors, logs and API
    /// problems.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::ChangeTooLarge { .. } => "change_too_large",
            Refusal::TooManyRecords { .. } => "too_many_records",
            Refusal::Empty => "empty_change",
            Refusal::Malformed(_) => "malformed_change",
            Refusal::Delete { .. } => "delete",
            Refusal::Overwrite { .. } => "overwrite",
            Refusal::WritesElsewhere { .. } => "writes_elsewhere",
            Refusal::Record { error, .. } => error.code(),
            Refusal::KeyMismatch { .. } => "wrong_id",
            Refusal::WrongBook { .. } => "wrong_book",
            Refusal::AlreadyPresent { .. } => "already_present",
            Refusal::NotGenesis { .. } => "not_genesis",
            Refusal::NotTheGenesisChange { .. } => "not_the_genesis_change",
            Refusal::SecondGenesis { .. } => "second_genesis",
            Refusal::MissingDependency { .. } => "missing_dependency",
            Refusal::WrongEnvelope { .. } => "wrong_envelope",
            Refusal::MissingPrevious { .. } => "missing_dependency",
            Refusal::Equivocation { .. } => "equivocation",
            Refusal::MissingRecord { .. } => "missing_dependency",
            Refusal::UnknownSigner { .. } => "unknown_signer",
            Refusal::RevokedSigner { .. } => "revoked_signer",
            Refusal::WrongRole { .. } => "wrong_role",
            Refusal::TargetNotInPast { .. } => "target_not_in_past",
            Refusal::NotReversible { .. } => "not_reversible",
            Refusal::NotAnEnterpriseBook { .. } => "not_an_enterprise_book",
            Refusal::NotASavingsBook { .. } => "not_a_savings_book",
            Refusal::NotInvestor { .. } => "not_investor",
            Refusal::WrongTarget { .. } => "wrong_target",
            Refusal::WrongCurrency { .. } => "wrong_currency",
            Refusal::UnknownGroup { .. } => "unknown_group",
            Refusal::Automerge(_) => "automerge",
        }
    }
}

/// A change reduced to what validation looks at: the one record it carries and its envelope.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub hash: ChangeHash,
    pub deps: Vec<ChangeHash>,
    /// The counter of the change's one operation.
    pub start_op: u64,
    pub record: Record,
}

/// Decodes an automerge change into a candidate. Refuses, from the change's own bytes, any
/// change that is not one record put under its own id in the root map, and any whose actor or
/// sequence number differ from what the record determines. `verify` checks the record's
/// signature; only a trusted reload skips it.
pub fn parse_change(book: BookId, change: &Change, verify: bool) -> Result<Candidate, Refusal> {
    let bytes = change.raw_bytes().len();
    if bytes > MAX_CHANGE_BYTES {
        return Err(Refusal::ChangeTooLarge { bytes });
    }
    if change.len() > MAX_RECORDS_PER_CHANGE {
        return Err(Refusal::TooManyRecords {
            count: change.len(),
        });
    }
    if change.is_empty() {
        return Err(Refusal::Empty);
    }
    // Kaban's changes carry nothing but records: no message, no extra bytes, time 0. Anything
    // else would be unsigned data that syncs forever.
    if change.message().is_some() || !change.extra_bytes().is_empty() || change.timestamp() != 0 {
        return Err(Refusal::WritesElsewhere {
            what: "a change message, extra bytes or a timestamp".into(),
        });
    }
    // Automerge's expansion asserts on inputs it assumes were checked when parsed; a hostile
    // change must cost a refusal, never the node.
    let expanded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| change.decode()))
        .map_err(|_| Refusal::Malformed("automerge could not expand the change".into()))?;
    let [op] = expanded.operations.as_slice() else {
        return Err(Refusal::Malformed(
            "a change that is not one operation".into(),
        ));
    };
    let (key, value) = record_op(op)?;
    let record = if verify {
        Record::decode(value)
    } else {
        Record::decode_unverified(value)
    }
    .map_err(|error| Refusal::Record {
        key: key.chars().take(80).collect(),
        error,
    })?;
    if key != record.id().to_string() {
        return Err(Refusal::KeyMismatch {
            key: key.chars().take(80).collect(),
            id: record.id(),
        });
    }
    if record.book() != book {
        return Err(Refusal::WrongBook {
            id: record.id(),
            found: record.book(),
            expected: book,
        });
    }
    let envelope = |field: &'static str| Refusal::WrongEnvelope {
        id: record.id(),
        field,
    };
    if *change.actor_id() != super::actor_of(&record.signer()) {
        return Err(envelope("actor"));
    }
    if change.seq() != record.seq() {
        return Err(envelope("seq"));
    }
    // The records in `after`, and the signer's previous record.
    if change.deps().len() > record.after().len() + 1 {
        return Err(envelope("deps"));
    }
    Ok(Candidate {
        hash: change.hash(),
        deps: change.deps().to_vec(),
        start_op: change.start_op().get(),
        record,
    })
}

/// The key and value of an operation that puts a record's bytes into the root map, or why the
/// operation is not that.
fn record_op(op: &automerge::legacy::Op) -> Result<(String, &[u8]), Refusal> {
    let key = match &op.key {
        Key::Map(k) => k.to_string(),
        Key::Seq(_) => {
            return Err(Refusal::WritesElsewhere {
                what: "into a list".into(),
            });
        }
    };
    if op.obj != ObjectId::Root {
        return Err(Refusal::WritesElsewhere {
            what: format!("into nested object {:?}", op.obj),
        });
    }
    if op.insert {
        return Err(Refusal::WritesElsewhere {
            what: "a list insertion".into(),
        });
    }
    let value = match &op.action {
        OpType::Put(ScalarValue::Bytes(b)) => b,
        OpType::Delete => return Err(Refusal::Delete { key }),
        OpType::Put(other) => {
            return Err(Refusal::WritesElsewhere {
                what: format!("a {} value under {key:?}", scalar_name(other)),
            });
        }
        other => {
            return Err(Refusal::WritesElsewhere {
                what: format!("operation {other:?} under {key:?}"),
            });
        }
    };
    if !op.pred.is_empty() {
        return Err(Refusal::Overwrite { key });
    }
    Ok((key, value))
}

fn scalar_name(v: &ScalarValue) -> &'static str {
    match v {
        ScalarValue::Str(_) => "string",
        ScalarValue::Int(_) | ScalarValue::Uint(_) | ScalarValue::F64(_) => "number",
        ScalarValue::Counter(_) => "counter",
        ScalarValue::Timestamp(_) => "timestamp",
        ScalarValue::Boolean(_) => "boolean",
        ScalarValue::Null => "null",
        _ => "non-bytes",
    }
}

/// The validation function: decides whether `candidate` may join `book`, from the candidate and
/// its causal past alone.
pub fn validate(book: &Book, candidate: &Candidate) -> Result<(), Refusal> {
    let record = &candidate.record;
    let id = record.id();
    if let Some(missing) = candidate.deps.iter().find(|d| !book.has_change(d)) {
        return Err(Refusal::MissingDependency { missing: *missing });
    }
    // The envelope is the one the record determines: its deps are the changes of the records
    // it names in `after` and of the signer's previous record, and every byte is as
    // `change_for` builds it. With every dependency present, a record or previous record the
    // book lacks means the deps are not those. (The envelope comes before the chain check, so
    // that a variant of a record is refused, and counted against its sender, as a variant.)
    let (deps, start_op) = book
        .envelope(record)
        .map_err(|_| Refusal::WrongEnvelope { id, field: "deps" })?;
    let mut have = candidate.deps.clone();
    have.sort_unstable();
    if have != deps {
        return Err(Refusal::WrongEnvelope { id, field: "deps" });
    }
    if candidate.start_op != start_op {
        return Err(Refusal::WrongEnvelope {
            id,
            field: "start_op",
        });
    }
    if super::change_for(record, deps, start_op).hash() != candidate.hash {
        return Err(Refusal::WrongEnvelope {
            id,
            field: "encoding",
        });
    }
    // Only the determined change of a second record for a taken place gets this far, so the
    // code is the same on every node that holds the first.
    if !matches!(record.body(), Body::Genesis(_)) {
        chain(book, candidate)?;
    }

    // The root change is the genesis change, signed by one of the officers it names.
    if let Body::Genesis(g) = record.body() {
        if book.change_count() > 0 {
            return Err(Refusal::SecondGenesis { id });
        }
        if id != book.id().0 {
            return Err(Refusal::NotTheGenesisChange { book: book.id() });
        }
        if !g.officers.iter().any(|o| o.key == record.signer()) {
            return Err(Refusal::UnknownSigner {
                id,
                kind: record.kind().to_owned(),
                signer: record.signer(),
                book: book.id(),
            });
        }
        return Ok(());
    }
    if candidate.deps.is_empty() {
        return Err(Refusal::NotTheGenesisChange { book: book.id() });
    }
    if book.record(&id).is_some() {
        return Err(Refusal::AlreadyPresent { id });
    }

    let genesis = book
        .genesis()
        .expect("a book with changes has its genesis, because the root change is the genesis");
    let roster = book
        .graph
        .roster(genesis, &book.graph.past_roles(&candidate.deps));
    signer_role(book, &roster, record)?;
    enterprise_rules(book, genesis, &roster, record, &candidate.deps)?;

    if let Some(target) = record.body().target() {
        if !book.graph.record_in_past(&target, &candidate.deps) {
            return Err(Refusal::TargetNotInPast {
                id,
                kind: record.kind().to_owned(),
                target,
            });
        }
        if let Body::Reversal(_) = record.body() {
            let target_kind = book
                .record(&target)
                .expect("a target in the causal past is in the book")
                .kind();
            if !matches!(Kind::of(target_kind), Kind::Contribution | Kind::Withdrawal) {
                return Err(Refusal::NotReversible {
                    id,
                    target_kind: target_kind.to_owned(),
                });
            }
        }
    }
    Ok(())
}

/// A signer's records form one chain: the change of record `seq` depends on the change of the
/// signer's record `seq - 1` (the envelope rule), so a signer's changes reach automerge in
/// sequence order on every node, whatever order they arrive in. Only the key's holder can sign
/// a second record for a place already taken; that is refused as equivocation.
fn chain(book: &Book, candidate: &Candidate) -> Result<(), Refusal> {
    let record = &candidate.record;
    let signer = record.signer();
    let seq = record.seq();
    match book.graph.chain_record(&signer, seq) {
        // The same record in another envelope is not a second record: the envelope check names it.
        Some(other) if other != record.id() => Err(Refusal::Equivocation {
            id: record.id(),
            signer,
            seq,
            other,
        }),
        _ => Ok(()),
    }
}

/// The signer must hold one of the roles the record's kind needs. A key that never held a role
/// is `unknown_signer`; one that lost a needed role, `revoked_signer`; any other, `wrong_role`.
fn signer_role(
    book: &Book,
    roster: &crate::roster::Roster,
    record: &Record,
) -> Result<(), Refusal> {
    let needed = Kind::of(record.kind()).signers();
    let signer = record.signer();
    if roster.holds_any(&signer, needed) {
        return Ok(());
    }
    let id = record.id();
    let kind = record.kind().to_owned();
    if let Some(role) = needed.iter().find(|r| roster.was_revoked(&signer, **r)) {
        return Err(Refusal::RevokedSigner {
            id,
            kind,
            signer,
            role: *role,
        });
    }
    let held = roster.roles_of(&signer);
    if held.is_empty() {
        return Err(Refusal::UnknownSigner {
            id,
            kind,
            signer,
            book: book.id(),
        });
    }
    Err(Refusal::WrongRole {
        id,
        kind,
        signer,
        held: join(&held),
        needed: join(needed),
    })
}

/// The rules of enterprise books: their kinds belong only there; a transfer is signed by an
/// officer of the registered group it names, in the group's currency, expecting the
/// enterprise's; an approval of a transfer comes from the same group; a receipt acknowledges a
/// transfer, in the enterprise's currency.
fn enterprise_rules(
    book: &Book,
    genesis: &crate::kind::Genesis,
    roster: &crate::roster::Roster,
    record: &Record,
    deps: &[ChangeHash],
) -> Result<(), Refusal> {
    let rules = EnterpriseRules {
        book,
        genesis,
        roster,
        record,
        deps,
    };
    rules.book_holds_kind()?;
    match record.body() {
        Body::Transfer(t) => rules.transfer(t),
        Body::Receipt(r) => rules.receipt(r),
        Body::Report(r) => rules.currency("revenue", r.revenue.currency, genesis.currency),
        Body::Return(r) => rules.payment(r),
        Body::Membership(m) => rules.membership(m),
        Body::ReturnReceipt(rr) => rules.return_receipt(rr),
        Body::Approval(a) => rules.approval(a),
        _ => Ok(()),
    }
}

/// What the enterprise rules read: the record, its book and genesis, and the roster and changes
/// of its causal past.
struct EnterpriseRules<'a> {
    book: &'a Book,
    genesis: &'a crate::kind::Genesis,
    roster: &'a crate::roster::Roster,
    record: &'a Record,
    deps: &'a [ChangeHash],
}

impl EnterpriseRules<'_> {
    fn kind(&self) -> String {
        self.record.kind().to_owned()
    }

    /// An enterprise book holds only the kinds of enterprise books and of any book, a savings
    /// book only those of savings books and of any book.
    fn book_holds_kind(&self) -> Result<(), Refusal> {
        let id = self.record.id();
        match (
            self.record.body().typed_kind().books(),
            self.genesis.enterprise.is_some(),
        ) {
            (Books::Enterprise, false) => Err(Refusal::NotAnEnterpriseBook {
                id,
                kind: self.kind(),
            }),
            (Books::Savings, true) => Err(Refusal::NotASavingsBook {
                id,
                kind: self.kind(),
            }),
            _ => Ok(()),
        }
    }

    fn currency(
        &self,
        field: &'static str,
        found: Currency,
        expected: Currency,
    ) -> Result<(), Refusal> {
        if found == expected {
            Ok(())
        } else {
            Err(Refusal::WrongCurrency {
                id: self.record.id(),
                kind: self.kind(),
                field,
                found,
                expected,
            })
        }
    }

    /// The signer must be an officer of investor group `group`.
    fn invests_for(&self, group: BookId) -> Result<(), Refusal> {
        if self.roster.invests_for(&self.record.signer(), group) {
            return Ok(());
        }
        Err(Refusal::NotInvestor {
            id: self.record.id(),
            kind: self.kind(),
            signer: self.record.signer(),
            group,
        })
    }

    /// The record `target` names, if it is in the causal past.
    fn target(&self, target: RecordId) -> Option<&Record> {
        self.book
            .graph
            .record_in_past(&target, self.deps)
            .then(|| self.book.record(&target))
            .flatten()
    }

    fn wrong_target(&self, target: &Record, expected: &'static str) -> Refusal {
        Refusal::WrongTarget {
            id: self.record.id(),
            kind: self.kind(),
            target_kind: target.kind().to_owned(),
            expected,
        }
    }

    fn transfer(&self, t: &crate::kind::Transfer) -> Result<(), Refusal> {
        let Some(group) = self.roster.group(t.group) else {
            return Err(Refusal::UnknownGroup {
                id: self.record.id(),
                group: t.group,
            });
        };
        self.invests_for(t.group)?;
        self.currency("amount", t.amount.currency, group.currency)?;
        self.currency("expected", t.expected.currency, self.genesis.currency)
    }

    fn receipt(&self, r: &crate::kind::Receipt) -> Result<(), Refusal> {
        if let Some(target) = self.target(r.transfer)
            && !matches!(target.body(), Body::Transfer(_))
        {
            return Err(self.wrong_target(target, "transfer"));
        }
        self.currency("received", r.received.currency, self.genesis.currency)
    }

    fn payment(&self, r: &crate::kind::Return) -> Result<(), Refusal> {
        if self.roster.group(r.group).is_none() {
            return Err(Refusal::UnknownGroup {
                id: self.record.id(),
                group: r.group,
            });
        }
        self.currency("amount", r.amount.currency, self.genesis.currency)
    }

    fn membership(&self, m: &crate::kind::Membership) -> Result<(), Refusal> {
        let Some(group) = self.roster.group(m.group) else {
            return Err(Refusal::UnknownGroup {
                id: self.record.id(),
                group: m.group,
            });
        };
        self.currency("stake", m.stake.currency, group.currency)?;
        self.currency("capital", m.capital.currency, self.genesis.currency)
    }

    fn return_receipt(&self, rr: &crate::kind::ReturnReceipt) -> Result<(), Refusal> {
        let Some(target) = self.target(rr.return_record) else {
            return Ok(());
        };
        let Body::Return(ret) = target.body() else {
            return Err(self.wrong_target(target, "return"));
        };
        self.invests_for(ret.group)?;
        if let Some(group) = self.roster.group(ret.group) {
            self.currency("received", rr.received.currency, group.currency)?;
        }
        Ok(())
    }

    fn approval(&self, a: &crate::kind::Approval) -> Result<(), Refusal> {
        if let Some(Body::Transfer(t)) = self.target(a.record).map(Record::body) {
            return self.invests_for(t.group);
        }
        // An investor group's officers approve their group's transfers and nothing else:
        // they must not help the cooperative's own records to their quorum.
        const OWN: [Role; 4] = [
            Role::Treasurer,
            Role::Chair,
            Role::Secretary,
            Role::KeyHolder,
        ];
        let signer = self.record.signer();
        if self.roster.holds_any(&signer, &OWN) {
            return Ok(());
        }
        Err(Refusal::WrongRole {
            id: self.record.id(),
            kind: self.kind(),
            signer,
            held: join(&self.roster.roles_of(&signer)),
            needed: join(&OWN),
        })
    }
}

fn join(roles: &[Role]) -> String {
    roles
        .iter()
        .map(Role::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}
