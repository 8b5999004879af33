//! Views: pure, deterministic folds over a book's valid records.
//!
//! [`Ledger::fold`] reads every record once, in the order of (claimed time, record id), so two
//! nodes holding the same records compute identical results whatever order the records reached
//! them in. A record that needs a quorum moves no money until it has one. Where the CRDT merged
//! things that people must look at (two officers recording the same contribution, withdrawals
//! that overdraw once concurrent records meet, a record signed concurrently with its signer's
//! revocation) the ledger flags an [`Anomaly`]; it never silently picks a winner.

mod fold;

use crate::book::Book;
use crate::key::PublicKey;
use crate::kind::{Body, Kind, Role};
use crate::money::{Currency, Money};
use crate::record::{Record, RecordId};
use crate::roster::Roster;
use fold::{Fold, Standing};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Where a record stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Status {
    /// It has its quorum and counts.
    Effective,
    /// It awaits more officers' signatures.
    Pending { have: u32, need: u32 },
    /// An effective reversal cancelled it.
    Reversed { by: RecordId },
}

impl Status {
    /// The state's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Status::Effective => "effective",
            Status::Pending { .. } => "pending",
            Status::Reversed { .. } => "reversed",
        }
    }
}

/// One line of a member's statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Entry {
    pub record: RecordId,
    pub kind: String,
    pub time_ms: u64,
    /// Positive for money in, negative for money out.
    pub amount: Money,
    pub status: Status,
    /// The member's balance in this currency after this entry.
    pub balance_after: Money,
    pub signer: PublicKey,
}

/// A member as the book knows her: a pseudonymous id and an alias, never personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    pub member: String,
    pub alias: String,
    pub key: Option<PublicKey>,
    pub joined: RecordId,
}

/// An officer and her roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Officer {
    pub key: PublicKey,
    pub roles: Vec<Role>,
}

/// A record awaiting signatures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Pending {
    pub record: RecordId,
    pub kind: String,
    pub signer: PublicKey,
    pub signed_by: Vec<PublicKey>,
    pub need: u32,
    pub summary: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// Same member, amount and meeting, recorded by different officers.
    LikelyDuplicateContribution,
    /// A withdrawal that takes the member's balance below zero.
    Overdraw,
    /// A record signed concurrently with its signer's revocation.
    SignedConcurrentWithRevocation,
    /// A record cancelled by a reversal.
    Reversed,
    /// Money recorded in a currency other than the book's.
    CurrencyMismatch,
    /// Money recorded for a member id that never joined.
    UnknownMember,
    /// A contribution or withdrawal for a member after her effective departure.
    MoneyAfterDeparture,
    /// Two join records for the same member id.
    DuplicateMember,
    /// A second receipt for a transfer that already had one; only the first counts.
    SecondReceipt,
    /// A transfer with its quorum and no receipt, past the overdue limit.
    TransferOverdue,
    /// A second distribution of a return already distributed; it is not paid.
    DuplicateDistribution,
    /// A distribution with no member holding a stake, so nothing could be shared.
    NothingToShare,
    /// A departure whose amount is not the member's balance when it took effect.
    DepartureBalanceMismatch,
    /// A distribution whose amount is not what the group acknowledged receiving for that
    /// return, or that names a return this node has no receipt for.
    DistributionMismatch,
    /// A conversion the cooperative has not recorded (or recorded for another amount).
    ConversionUnmatched,
    /// The group has paid out more cash than it holds (records that met concurrently, or
    /// arrived from a partner node).
    CashShort,
    /// An enterprise book on this node registers the group as its investor, but the group has
    /// not accepted it (no effective investment record names it and that registration, or the
    /// registration names keys outside the group's roster). It moves none of the group's money.
    UnacceptedEnterprise,
}

/// Something people must look at, with the records it concerns. A client reads the kind as
/// text (`Anomaly<String>`), so one older than a new kind still reads the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Anomaly<K = AnomalyKind> {
    pub kind: K,
    pub records: Vec<RecordId>,
    pub detail: String,
}

/// Everything the views of one book need, folded once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ledger {
    pub name: String,
    pub currency: Option<Currency>,
    pub record_count: usize,
    pub officers: Vec<Officer>,
    pub members: Vec<Member>,
    /// Group totals per currency, of effective records only.
    pub totals: Vec<Money>,
    pub balances: BTreeMap<String, Vec<Money>>,
    pub statements: BTreeMap<String, Vec<Entry>>,
    pub pending: Vec<Pending>,
    pub anomalies: Vec<Anomaly>,
    /// Partner node PeerIds this book is shared with (effective shares not later unshared).
    pub shared_with: Vec<String>,
    /// Effective distributions of returns, in fold order; `paid` is false for a replay.
    pub distributions: Vec<DistributionLine>,
    /// Departures (reintegration), effective or not.
    pub departures: Vec<DepartureLine>,
    /// Enterprise books the group accepted (effective investment records): each with the
    /// investor registration it accepted.
    pub investments: Vec<crate::kind::Investment>,
    /// Each remaining member's stake now, by the book's stake rule, in the book's currency.
    pub stakes: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DistributionLine {
    pub record: RecordId,
    pub time_ms: u64,
    pub enterprise: crate::record::BookId,
    #[serde(rename = "return")]
    pub return_record: RecordId,
    pub amount: Money,
    pub paid: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DepartureLine {
    pub record: RecordId,
    pub time_ms: u64,
    #[serde(flatten)]
    pub departure: crate::kind::Departure,
    pub status: Status,
}

impl Ledger {
    /// Folds a book's records, in (claimed time, record id) order, into its views; one function
    /// per kind of record does the work (see the `fold` module).
    pub fn fold(book: &Book) -> Ledger {
        let mut records: Vec<&Record> = book.records().collect();
        records.sort_by_key(|r| (r.time_ms(), r.id()));
        let roster = book.roster();
        let Some(genesis) = book.genesis() else {
            return Ledger::empty(records.len());
        };
        let standing = Standing::new(genesis, &roster, &records);
        let mut fold = Fold::new(genesis);
        for &r in &records {
            fold.record(r, &standing);
        }
        fold.finish(book, &roster, &records, &standing)
    }

    fn empty(record_count: usize) -> Ledger {
        Ledger {
            name: String::new(),
            currency: None,
            record_count,
            officers: Vec::new(),
            members: Vec::new(),
            totals: Vec::new(),
            balances: BTreeMap::new(),
            statements: BTreeMap::new(),
            pending: Vec::new(),
            anomalies: Vec::new(),
            shared_with: Vec::new(),
            distributions: Vec::new(),
            departures: Vec::new(),
            investments: Vec::new(),
            stakes: BTreeMap::new(),
        }
    }

    /// A member's balances, one per currency she has records in.
    pub fn balance(&self, member: &str) -> Vec<Money> {
        self.balances.get(member).cloned().unwrap_or_default()
    }

    /// A member's effective balance in one currency.
    pub fn balance_in(&self, member: &str, currency: Currency) -> Money {
        let minor = self
            .balance(member)
            .iter()
            .find(|m| m.currency == currency)
            .map_or(0, |m| m.minor);
        Money::new(minor, currency)
    }
}

fn money_list(map: &BTreeMap<Currency, i64>) -> Vec<Money> {
    map.iter().map(|(c, m)| Money::new(*m, *c)).collect()
}

/// Signatures per record: its signer plus the distinct signers of approvals of it.
pub(crate) fn signatures(records: &[&Record]) -> HashMap<RecordId, BTreeSet<PublicKey>> {
    let mut signers: HashMap<RecordId, BTreeSet<PublicKey>> = HashMap::new();
    for r in records {
        signers.entry(r.id()).or_default().insert(r.signer());
        if let Body::Approval(a) = r.body() {
            signers.entry(a.record).or_default().insert(r.signer());
        }
    }
    signers
}

/// How many signatures `r` needs: a transfer the quorum its investor group registered,
/// everything else the book's rule for its kind.
pub(crate) fn quorum(genesis: &crate::kind::Genesis, roster: &Roster, r: &Record) -> u32 {
    match r.body() {
        Body::Transfer(t) => roster
            .group(t.group)
            .map_or_else(|| genesis.rules.quorum("transfer"), |g| g.quorum),
        _ => genesis.rules.quorum(r.kind()),
    }
}

/// A few plain words on what a record does, for approvers.
pub fn summary(r: &Record) -> String {
    match r.body() {
        Body::Withdrawal(w) => format!("pay {} to member {} ({})", w.amount, w.member, w.reason),
        Body::Contribution(c) => format!("record {} from member {}", c.amount, c.member),
        Body::RoleGrant(g) => format!("make {} a {}", g.key, g.role),
        Body::RoleRevoke(g) => format!("take the {} role from {}", g.role, g.key),
        Body::Reversal(rv) => format!("reverse record {} ({})", rv.record, rv.reason),
        Body::Share(s) => format!("share this book with partner node {}", s.peer),
        Body::Investment(i) => format!(
            "accept enterprise book {} (registration {}) as one the group invests in: its transfers and returns then count in the group's cash",
            i.enterprise, i.registration
        ),
        Body::Unshare(s) => format!("stop sharing this book with partner node {}", s.peer),
        Body::Distribution(d) => format!(
            "share {} from return {} among the members by their stakes",
            d.amount, d.return_record
        ),
        Body::Departure(d) => match d.enterprise {
            Some(e) => format!(
                "member {} leaves: convert her {} into membership of the cooperative of enterprise {e}",
                d.member, d.amount
            ),
            None => format!("member {} leaves: pay out her {}", d.member, d.amount),
        },
        Body::Membership(m) => format!(
            "admit member {} of the investor group with {} capital",
            m.member, m.capital
        ),
        Body::Transfer(t) => format!(
            "send {} (fee {}) to the enterprise, {} expected",
            t.amount, t.fee, t.expected
        ),
        other => other.kind().replace('_', " "),
    }
}

/// Records whose signer has since lost the role they needed, where the revocation did not
/// causally follow the record: the two were made concurrently, and people must look.
fn concurrent_with_revocation(
    book: &Book,
    roster: &Roster,
    records: &[&Record],
    revocations: &[&Record],
) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for r in records {
        if matches!(r.body(), Body::Genesis(_)) {
            continue;
        }
        let signer = r.signer();
        let needed = Kind::of(r.kind()).signers();
        if roster.holds_any(&signer, needed) {
            continue;
        }
        let relevant: Vec<&Record> = revocations
            .iter()
            .copied()
            .filter(|rev| match rev.body() {
                Body::RoleRevoke(c) => c.key == signer && needed.contains(&c.role),
                _ => false,
            })
            .collect();
        if relevant.is_empty() || relevant.iter().any(|rev| book.precedes(&r.id(), &rev.id())) {
            continue;
        }
        out.push(Anomaly {
            kind: AnomalyKind::SignedConcurrentWithRevocation,
            records: std::iter::once(r.id())
                .chain(relevant.iter().map(|rev| rev.id()))
                .collect(),
            detail: format!(
                "{} {} was signed by {signer} concurrently with the revocation of their role",
                r.kind(),
                r.id()
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::SignerKey;
    use crate::kind::{Approval, Contribution, MemberJoin, Reversal, Withdrawal};
    use crate::testing::{Founding, SEVEN_STAKES, hkd, join, key};

    struct Fixture {
        treasurer: SignerKey,
        secretary: SignerKey,
        keeper: SignerKey,
        book: Book,
    }

    fn fixture() -> Fixture {
        let (treasurer, secretary, keeper) = (key(1), key(2), key(3));
        let mut book = Founding::savings("Sunday Savers")
            .at(0)
            .officer(&treasurer, Role::Treasurer)
            .officer(&secretary, Role::Secretary)
            .officer(&keeper, Role::KeyHolder)
            .book(&treasurer);
        let ana = book.sign_next(&treasurer, 1, &join("m-ana", "Ana"));
        book.add(ana).unwrap();
        Fixture {
            treasurer,
            secretary,
            keeper,
            book,
        }
    }

    impl Fixture {
        fn add(&mut self, key: &SignerKey, time: u64, body: Body) -> Record {
            let r = self.book.sign_next(key, time, &body);
            self.book.add(r.clone()).unwrap();
            r
        }
    }

    fn contribution(minor: i64) -> Body {
        Body::Contribution(Contribution {
            member: "m-ana".parse().unwrap(),
            amount: hkd(minor),
            meeting: None,
        })
    }

    /// A return shared among seven members whose balances do not divide it evenly: exact to
    /// the cent, by the largest remainder method, once only, and only at quorum.
    #[test]
    fn a_return_is_distributed_exactly_once_by_stake() {
        use crate::kind::Distribution;
        let mut f = fixture();
        let (t, k) = (f.treasurer.clone(), f.keeper.clone());
        let stakes = SEVEN_STAKES;
        for (i, (member, minor)) in stakes.iter().enumerate() {
            if *member != "m-ana" {
                f.add(
                    &t,
                    10 + i as u64,
                    Body::MemberJoin(MemberJoin {
                        member: member.parse().unwrap(),
                        alias: member.trim_start_matches("m-").into(),
                        key: None,
                    }),
                );
            }
            f.add(
                &t,
                20 + i as u64,
                Body::Contribution(Contribution {
                    member: member.parse().unwrap(),
                    amount: hkd(*minor),
                    meeting: None,
                }),
            );
        }
        let distribution = || {
            Body::Distribution(Distribution {
                enterprise: crate::record::BookId(RecordId([5; 32])),
                return_record: RecordId([6; 32]),
                amount: hkd(100_000),
            })
        };
        let d = f.add(&t, 100, distribution());
        // Without its quorum nothing is paid.
        let l = Ledger::fold(&f.book);
        assert_eq!(l.balances["m-ana"], vec![hkd(50_000)]);
        f.add(&k, 101, Body::Approval(Approval { record: d.id() }));
        let l = Ledger::fold(&f.book);
        let expected = [37_559, 22_536, 22_535, 9_273, 7_512, 584, 1];
        let mut paid = 0;
        for ((member, stake), share) in stakes.iter().zip(expected) {
            assert_eq!(l.balances[*member], vec![hkd(stake + share)], "{member}");
            paid += share;
        }
        assert_eq!(paid, 100_000);
        assert_eq!(l.totals, vec![hkd(133_123 + 100_000)]);
        let entry = l.statements["m-fe"].last().unwrap();
        assert_eq!(
            (entry.kind.as_str(), entry.amount),
            ("distribution", hkd(584))
        );

        // The same return distributed again is flagged and pays nothing.
        let again = f.add(&t, 200, distribution());
        f.add(&k, 201, Body::Approval(Approval { record: again.id() }));
        let l2 = Ledger::fold(&f.book);
        assert_eq!(l2.balances, l.balances);
        assert!(
            l2.anomalies
                .iter()
                .any(|a| a.kind == AnomalyKind::DuplicateDistribution
                    && a.records == vec![d.id(), again.id()])
        );
    }

    #[test]
    fn a_withdrawal_moves_money_only_at_quorum() {
        let mut f = fixture();
        let t = f.treasurer.clone();
        f.add(&t, 10, contribution(50_000));
        let w = f.add(
            &t,
            20,
            Body::Withdrawal(Withdrawal {
                member: "m-ana".parse().unwrap(),
                amount: hkd(20_000),
                reason: "rent".into(),
            }),
        );
        let ledger = Ledger::fold(&f.book);
        assert_eq!(
            ledger.balance_in("m-ana", "HKD".parse().unwrap()),
            hkd(50_000)
        );
        assert_eq!(ledger.pending.len(), 1);
        assert_eq!(ledger.pending[0].record, w.id());
        assert_eq!(ledger.pending[0].need, 2);
        assert!(ledger.pending[0].summary.contains("200.00 HKD"));

        let k = f.keeper.clone();
        f.add(&k, 30, Body::Approval(Approval { record: w.id() }));
        let ledger = Ledger::fold(&f.book);
        assert_eq!(
            ledger.balance_in("m-ana", "HKD".parse().unwrap()),
            hkd(30_000)
        );
        assert_eq!(ledger.totals, vec![hkd(30_000)]);
        assert!(ledger.pending.is_empty());
        let entries = &ledger.statements["m-ana"];
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].amount, hkd(-20_000));
        assert_eq!(entries[1].balance_after, hkd(30_000));
        assert_eq!(entries[1].status, Status::Effective);
    }

    #[test]
    fn a_reversal_cancels_its_target_once_approved() {
        let mut f = fixture();
        let t = f.treasurer.clone();
        let c = f.add(&t, 10, contribution(50_000));
        let s = f.secretary.clone();
        let rev = f.add(
            &s,
            20,
            Body::Reversal(Reversal {
                record: c.id(),
                reason: "entered twice".into(),
            }),
        );
        assert_eq!(Ledger::fold(&f.book).totals, vec![hkd(50_000)]);
        let k = f.keeper.clone();
        f.add(&k, 30, Body::Approval(Approval { record: rev.id() }));
        let ledger = Ledger::fold(&f.book);
        assert_eq!(ledger.totals, vec![hkd(0)]);
        assert_eq!(
            ledger.statements["m-ana"][0].status,
            Status::Reversed { by: rev.id() }
        );
        assert!(
            ledger
                .anomalies
                .iter()
                .any(|a| a.kind == AnomalyKind::Reversed)
        );
    }

    #[test]
    fn flags_duplicates_overdraws_and_unknown_members() {
        let mut f = fixture();
        let (t, s, k) = (f.treasurer.clone(), f.secretary.clone(), f.keeper.clone());
        f.add(&t, 10, contribution(500));
        f.add(&s, 11, contribution(500));
        let w = f.add(
            &t,
            20,
            Body::Withdrawal(Withdrawal {
                member: "m-ana".parse().unwrap(),
                amount: hkd(5_000),
                reason: "hospital".into(),
            }),
        );
        f.add(&k, 21, Body::Approval(Approval { record: w.id() }));
        f.add(
            &t,
            30,
            Body::Contribution(Contribution {
                member: "m-nobody".parse().unwrap(),
                amount: hkd(100),
                meeting: None,
            }),
        );
        let ledger = Ledger::fold(&f.book);
        let kinds: Vec<AnomalyKind> = ledger.anomalies.iter().map(|a| a.kind).collect();
        assert_eq!(
            kinds,
            vec![
                AnomalyKind::LikelyDuplicateContribution,
                AnomalyKind::Overdraw,
                AnomalyKind::UnknownMember
            ]
        );
        assert!(
            ledger.anomalies[1].detail.contains("-40.00 HKD"),
            "{}",
            ledger.anomalies[1].detail
        );
    }

    #[test]
    fn the_fold_ignores_arrival_order() {
        let mut f = fixture();
        let t = f.treasurer.clone();
        for i in 0..5 {
            f.add(&t, 100 - i, contribution(100 + i as i64));
        }
        let mut other = Book::empty(f.book.id());
        let mut changes = f.book.doc().get_changes(&[]);
        changes.reverse();
        other.apply(changes);
        assert_eq!(Ledger::fold(&other), Ledger::fold(&f.book));
    }
}

/// Why a node refuses a new record that the CRDT would accept and only flag. A node applies
/// these checks to records submitted to it directly; a record arriving later from a peer is
/// validated by the book alone and, if it breaks one of these, shows up as an anomaly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Objection {
    #[error("{kind} of {amount} is in {}, but book {book} keeps {currency}", amount.currency)]
    WrongCurrency {
        kind: String,
        amount: Money,
        book: String,
        currency: Currency,
    },
    #[error("member {member} has not joined book {book}")]
    UnknownMember { member: String, book: String },
    #[error("withdrawal of {amount} exceeds member {member}'s balance of {available}{pending}")]
    Overdraw {
        amount: Money,
        member: String,
        available: Money,
        pending: String,
    },
    #[error("member id {member} is already taken in book {book}")]
    MemberTaken { member: String, book: String },
    #[error("member {member} has already left book {book}")]
    AlreadyLeft { member: String, book: String },
    #[error(
        "departure settles {amount}, but member {member}'s balance is {balance}; a departure settles her whole balance"
    )]
    DepartureAmount {
        amount: Money,
        member: String,
        balance: Money,
    },
    #[error(
        "{kind} of {amount} exceeds the group's cash of {cash}; {outstanding} is invested in enterprises"
    )]
    InsufficientCash {
        kind: String,
        amount: Money,
        cash: Money,
        outstanding: Money,
    },
}

impl Objection {
    pub fn code(&self) -> &'static str {
        match self {
            Objection::WrongCurrency { .. } => "wrong_currency",
            Objection::UnknownMember { .. } => "unknown_member",
            Objection::Overdraw { .. } => "overdraw",
            Objection::MemberTaken { .. } => "member_taken",
            Objection::AlreadyLeft { .. } => "already_left",
            Objection::DepartureAmount { .. } => "departure_amount",
            Objection::InsufficientCash { .. } => "insufficient_cash",
        }
    }
}

impl Ledger {
    /// What withdrawals still awaiting approval will take, in minor units: a member's, or with
    /// `None` the whole group's.
    pub fn pending_withdrawals(&self, member: Option<&str>) -> i64 {
        let entries: Box<dyn Iterator<Item = &Entry>> = match member {
            Some(m) => Box::new(self.statements.get(m).into_iter().flatten()),
            None => Box::new(self.statements.values().flatten()),
        };
        entries
            .filter(|e| e.kind == "withdrawal" && matches!(e.status, Status::Pending { .. }))
            .map(|e| e.amount.minor.saturating_neg())
            .fold(0i64, i64::saturating_add)
    }

    /// Checks a new record against the ledger as a careful treasurer would: money in the book's
    /// currency, for a member who has joined, and no withdrawal beyond what the member has once
    /// the withdrawals still awaiting approval are counted.
    pub fn admit(&self, book: &str, record: &Record) -> Result<(), Objection> {
        let Some(currency) = self.currency else {
            return Ok(());
        };
        let (member, amount) = match record.body() {
            Body::MemberJoin(j) => {
                if self.members.iter().any(|m| m.member == j.member.as_str()) {
                    return Err(Objection::MemberTaken {
                        member: j.member.to_string(),
                        book: book.to_owned(),
                    });
                }
                return Ok(());
            }
            Body::Contribution(c) => (&c.member, c.amount),
            Body::Withdrawal(w) => (&w.member, w.amount),
            Body::Departure(d) => (&d.member, d.amount),
            _ => return Ok(()),
        };
        if amount.currency != currency {
            return Err(Objection::WrongCurrency {
                kind: record.kind().to_owned(),
                amount,
                book: book.to_owned(),
                currency,
            });
        }
        if !self.members.iter().any(|m| m.member == member.as_str()) {
            return Err(Objection::UnknownMember {
                member: member.to_string(),
                book: book.to_owned(),
            });
        }
        if self
            .departures
            .iter()
            .any(|d| d.departure.member == *member && !matches!(d.status, Status::Reversed { .. }))
        {
            return Err(Objection::AlreadyLeft {
                member: member.to_string(),
                book: book.to_owned(),
            });
        }
        if let Body::Departure(_) = record.body() {
            let balance = self.balance_in(member.as_str(), currency);
            if balance != amount {
                return Err(Objection::DepartureAmount {
                    amount,
                    member: member.to_string(),
                    balance,
                });
            }
        }
        if let Body::Withdrawal(_) = record.body() {
            let balance = self.balance_in(member.as_str(), currency);
            let pending = self.pending_withdrawals(Some(member.as_str()));
            let available = Money::new(balance.minor.saturating_sub(pending), currency);
            if amount.minor > available.minor {
                return Err(Objection::Overdraw {
                    amount,
                    member: member.to_string(),
                    available,
                    pending: if pending > 0 {
                        format!(
                            " (after {} in withdrawals awaiting approval)",
                            Money::new(pending, currency)
                        )
                    } else {
                        String::new()
                    },
                });
            }
        }
        Ok(())
    }
}
