//! Views of an enterprise book: the investor groups, and the reconciliation of the transfers
//! they sent with the receipts the cooperative's treasurer signed.
//!
//! Like every view, a pure function of the book's records (and, for "overdue", of the `now`
//! the caller passes). Records are taken in (time, id) order, so the first receipt of a
//! transfer is the same on every node; a later one is flagged, never counted.

use crate::book::Book;
use crate::key::PublicKey;
use crate::kind::{Body, Genesis, Membership, Report, Return, Transfer};
use crate::money::Money;
use crate::record::{BookId, Record, RecordId};
use crate::roster::Roster;
use crate::view::{Anomaly, AnomalyKind};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Days after which a transfer with no receipt is overdue, unless the caller says otherwise.
pub const DEFAULT_OVERDUE_DAYS: u32 = 14;
const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// Where a transfer stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TransferStatus {
    /// Signed, but not yet by as many of the group's officers as its quorum.
    AwaitingApproval { have: u32, need: u32 },
    /// Sent (it has its quorum); no receipt yet.
    Sent,
    /// Sent more than the overdue limit ago, and no receipt.
    Overdue { days: u64 },
    /// The receipt shows exactly the expected amount.
    ReceivedInFull { received: Money },
    /// The receipt shows another amount; `difference` is received minus expected.
    ReceivedWithDifference { received: Money, difference: Money },
}

impl TransferStatus {
    /// The state's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            TransferStatus::AwaitingApproval { .. } => "awaiting_approval",
            TransferStatus::Sent => "sent",
            TransferStatus::Overdue { .. } => "overdue",
            TransferStatus::ReceivedInFull { .. } => "received_in_full",
            TransferStatus::ReceivedWithDifference { .. } => "received_with_difference",
        }
    }
}

/// One transfer, reconciled. It names the group twice, in its own field and in the record's;
/// read back, both come from the one `group` a JSON object keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(from = "ReadTransferLine")]
pub struct TransferLine {
    pub record: RecordId,
    pub time_ms: u64,
    pub group: BookId,
    pub group_name: String,
    #[serde(flatten)]
    pub transfer: Transfer,
    pub signed_by: Vec<crate::key::PublicKey>,
    pub status: TransferStatus,
    /// The receipt that counts, if any.
    pub receipt: Option<RecordId>,
}

/// A [`TransferLine`] as it is read: serde hands a key to one field only, so the group comes
/// with the record's fields alone.
#[derive(Deserialize)]
struct ReadTransferLine {
    record: RecordId,
    time_ms: u64,
    group_name: String,
    #[serde(flatten)]
    transfer: Transfer,
    signed_by: Vec<PublicKey>,
    status: TransferStatus,
    receipt: Option<RecordId>,
}

impl From<ReadTransferLine> for TransferLine {
    fn from(line: ReadTransferLine) -> TransferLine {
        TransferLine {
            record: line.record,
            time_ms: line.time_ms,
            group: line.transfer.group,
            group_name: line.group_name,
            transfer: line.transfer,
            signed_by: line.signed_by,
            status: line.status,
            receipt: line.receipt,
        }
    }
}

/// Where a return stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ReturnStatus {
    AwaitingApproval {
        have: u32,
        need: u32,
    },
    /// Paid by the cooperative (it has its quorum); not yet acknowledged by the group.
    Paid,
    /// The group acknowledged it, with what arrived in its own currency.
    Received {
        received: Money,
    },
}

impl ReturnStatus {
    /// The state's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            ReturnStatus::AwaitingApproval { .. } => "awaiting_approval",
            ReturnStatus::Paid => "paid",
            ReturnStatus::Received { .. } => "received",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReturnLine {
    pub record: RecordId,
    pub time_ms: u64,
    pub group_name: String,
    #[serde(flatten)]
    pub payment: Return,
    pub signed_by: Vec<crate::key::PublicKey>,
    pub status: ReturnStatus,
    pub receipt: Option<RecordId>,
    /// Who signed the receipt that counts.
    pub receipt_signer: Option<crate::key::PublicKey>,
}

/// A report, with its surplus (revenue − costs) worked out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportLine {
    pub record: RecordId,
    pub time_ms: u64,
    #[serde(flatten)]
    pub report: Report,
    pub surplus: Money,
    pub signed_by: Vec<crate::key::PublicKey>,
    /// Whether it has the report quorum; only effective reports count in comparisons.
    pub effective: bool,
}

/// An investor group as the enterprise book registers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvestorLine {
    pub group: BookId,
    /// The investor record that registers the group, which the group names when it accepts
    /// this book.
    pub registration: RecordId,
    pub name: String,
    pub currency: crate::money::Currency,
    pub officers: Vec<crate::key::PublicKey>,
    pub quorum: u32,
    /// Sum of the group's transfers that have their quorum, in the group's currency.
    pub sent: Money,
    /// Sum of what arrived for them, in the enterprise's currency.
    pub received: Money,
    /// Returns the cooperative paid the group (with quorum), in the enterprise's currency.
    pub returns_paid: Money,
    /// What the group acknowledged receiving of them, in its own currency.
    pub returns_received: Money,
}

/// A returning member the cooperative admitted, converting her stake in an investor group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MembershipLine {
    pub record: RecordId,
    pub time_ms: u64,
    pub group_name: String,
    #[serde(flatten)]
    pub membership: Membership,
    pub signed_by: Vec<crate::key::PublicKey>,
    pub effective: bool,
}

/// The enterprise, as its book's genesis describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnterpriseInfo {
    pub name: String,
    pub currency: crate::money::Currency,
    pub country: String,
    pub sector: String,
}

/// The enterprise dashboard and the reconciliation of its transfers, in one fold. A client
/// reads its anomalies as [`crate::api::AnomalyLine`]s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reconciliation<A = Anomaly> {
    /// Absent when the book is not an enterprise book.
    pub enterprise: Option<EnterpriseInfo>,
    /// What arrived for transfers with their quorum, in the enterprise's currency.
    pub capital_received: Option<Money>,
    /// Returns paid with their quorum, in the enterprise's currency.
    pub returns_paid: Option<Money>,
    pub investors: Vec<InvestorLine>,
    pub transfers: Vec<TransferLine>,
    pub returns: Vec<ReturnLine>,
    pub reports: Vec<ReportLine>,
    pub memberships: Vec<MembershipLine>,
    pub anomalies: Vec<A>,
}

/// Reconciles the transfers in an enterprise book at `now_ms`.
pub fn reconcile(book: &Book, now_ms: u64, overdue_days: u32) -> Reconciliation {
    let mut records: Vec<&Record> = book.records().collect();
    records.sort_by_key(|r| (r.time_ms(), r.id()));
    let roster = book.roster();
    let Some(genesis) = book.genesis() else {
        return Reconciliation {
            enterprise: None,
            capital_received: None,
            returns_paid: None,
            memberships: Vec::new(),
            investors: Vec::new(),
            transfers: Vec::new(),
            returns: Vec::new(),
            reports: Vec::new(),
            anomalies: Vec::new(),
        };
    };
    let mut anomalies = Vec::new();
    let receipts = first_receipts(&records, &mut anomalies);
    let mut rec = Reconciling {
        genesis,
        roster: &roster,
        signers: crate::view::signatures(&records),
        receipts,
        now_ms,
        overdue_days,
        investors: investor_lines(&roster, genesis),
        transfers: Vec::new(),
        returns: Vec::new(),
        reports: Vec::new(),
        memberships: Vec::new(),
        anomalies,
    };
    // Transfers first, then the rest: overdue transfers are flagged before anything the
    // second pass finds.
    for r in &records {
        if let Body::Transfer(t) = r.body() {
            rec.transfer(r, t);
        }
    }
    for r in &records {
        match r.body() {
            Body::Return(ret) => rec.payment(r, ret),
            Body::Membership(m) => rec.membership(r, m),
            Body::Report(rep) => rec.report(r, rep),
            _ => {}
        }
    }
    rec.finish()
}

/// What a receipt says arrived, for either kind of receipt.
fn received_of(r: &Record) -> Option<Money> {
    match r.body() {
        Body::Receipt(x) => Some(x.received),
        Body::ReturnReceipt(x) => Some(x.received),
        _ => None,
    }
}

/// The receipt that counts for each transfer and return: the first in fold order. Later ones
/// are flagged.
fn first_receipts<'a>(
    records: &[&'a Record],
    anomalies: &mut Vec<Anomaly>,
) -> HashMap<RecordId, &'a Record> {
    let mut receipts: HashMap<RecordId, &Record> = HashMap::new();
    for &r in records {
        let (target, what) = match r.body() {
            Body::Receipt(rc) => (rc.transfer, "transfer"),
            Body::ReturnReceipt(rr) => (rr.return_record, "return"),
            _ => continue,
        };
        match receipts.get(&target) {
            None => {
                receipts.insert(target, r);
            }
            Some(first) => anomalies.push(Anomaly {
                kind: AnomalyKind::SecondReceipt,
                records: vec![first.id(), r.id()],
                detail: format!(
                    "{what} {target} already has receipt {} for {}; receipt {} for {} is not counted",
                    first.id(),
                    received_of(first).map(|m| m.to_string()).unwrap_or_default(),
                    r.id(),
                    received_of(r).map(|m| m.to_string()).unwrap_or_default(),
                ),
            }),
        }
    }
    receipts
}

/// A line per investor group the roster registers, with nothing sent or received yet.
fn investor_lines(roster: &Roster, genesis: &Genesis) -> BTreeMap<BookId, InvestorLine> {
    roster
        .groups()
        .map(|g| {
            (
                g.group,
                InvestorLine {
                    group: g.group,
                    registration: roster
                        .registration(g.group)
                        .expect("every registered group has its record"),
                    name: g.name.clone(),
                    currency: g.currency,
                    officers: g.officers.clone(),
                    quorum: g.quorum,
                    sent: Money::new(0, g.currency),
                    received: Money::new(0, genesis.currency),
                    returns_paid: Money::new(0, genesis.currency),
                    returns_received: Money::new(0, g.currency),
                },
            )
        })
        .collect()
}

/// The reconciliation as it is built, with what each step reads.
struct Reconciling<'a> {
    genesis: &'a Genesis,
    roster: &'a Roster,
    signers: HashMap<RecordId, BTreeSet<PublicKey>>,
    receipts: HashMap<RecordId, &'a Record>,
    now_ms: u64,
    overdue_days: u32,
    investors: BTreeMap<BookId, InvestorLine>,
    transfers: Vec<TransferLine>,
    returns: Vec<ReturnLine>,
    reports: Vec<ReportLine>,
    memberships: Vec<MembershipLine>,
    anomalies: Vec<Anomaly>,
}

impl Reconciling<'_> {
    /// The record's signatures, and how many it has and needs.
    fn signatures(&self, r: &Record) -> (Vec<PublicKey>, u32, u32) {
        let signed_by: Vec<_> = self.signers[&r.id()].iter().copied().collect();
        let have = signed_by.len() as u32;
        let need = crate::view::quorum(self.genesis, self.roster, r);
        (signed_by, have, need)
    }

    fn group_name(&self, group: BookId) -> String {
        self.roster
            .group(group)
            .map(|g| g.name.clone())
            .unwrap_or_default()
    }

    fn transfer(&mut self, r: &Record, t: &Transfer) {
        let (signed_by, have, need) = self.signatures(r);
        let receipt = self.receipts.get(&r.id()).copied();
        let status = if have < need {
            TransferStatus::AwaitingApproval { have, need }
        } else if let Some(Body::Receipt(rc)) = receipt.map(Record::body) {
            if rc.received == t.expected {
                TransferStatus::ReceivedInFull {
                    received: rc.received,
                }
            } else {
                TransferStatus::ReceivedWithDifference {
                    received: rc.received,
                    difference: Money::new(
                        rc.received.minor.saturating_sub(t.expected.minor),
                        t.expected.currency,
                    ),
                }
            }
        } else {
            self.unreceived(r, t)
        };
        if have >= need
            && let Some(line) = self.investors.get_mut(&t.group)
        {
            line.sent.minor = line.sent.minor.saturating_add(t.amount.minor);
            if let Some(Body::Receipt(rc)) = receipt.map(Record::body) {
                line.received.minor = line.received.minor.saturating_add(rc.received.minor);
            }
        }
        self.transfers.push(TransferLine {
            record: r.id(),
            time_ms: r.time_ms(),
            group: t.group,
            group_name: self.group_name(t.group),
            transfer: t.clone(),
            signed_by,
            status,
            receipt: receipt.map(Record::id),
        });
    }

    /// A sent transfer with no receipt: overdue, and flagged, once older than the limit.
    fn unreceived(&mut self, r: &Record, t: &Transfer) -> TransferStatus {
        let age = self.now_ms.saturating_sub(r.time_ms()) / DAY_MS;
        if age <= u64::from(self.overdue_days) {
            return TransferStatus::Sent;
        }
        self.anomalies.push(Anomaly {
            kind: AnomalyKind::TransferOverdue,
            records: vec![r.id()],
            detail: format!(
                "transfer {} of {} ({} {}) sent {age} days ago has no receipt",
                r.id(),
                t.amount,
                t.channel,
                t.reference
            ),
        });
        TransferStatus::Overdue { days: age }
    }

    /// A return the cooperative pays a group, and the group's receipt of it.
    fn payment(&mut self, r: &Record, ret: &Return) {
        let (signed_by, have, need) = self.signatures(r);
        let receipt = self.receipts.get(&r.id()).copied();
        let status = if have < need {
            ReturnStatus::AwaitingApproval { have, need }
        } else if let Some(received) = receipt.and_then(received_of) {
            ReturnStatus::Received { received }
        } else {
            ReturnStatus::Paid
        };
        if have >= need
            && let Some(line) = self.investors.get_mut(&ret.group)
        {
            line.returns_paid.minor = line.returns_paid.minor.saturating_add(ret.amount.minor);
            if let ReturnStatus::Received { received } = &status {
                line.returns_received.minor =
                    line.returns_received.minor.saturating_add(received.minor);
            }
        }
        self.returns.push(ReturnLine {
            record: r.id(),
            time_ms: r.time_ms(),
            group_name: self.group_name(ret.group),
            payment: ret.clone(),
            signed_by,
            status,
            receipt: receipt.map(Record::id),
            receipt_signer: receipt.map(Record::signer),
        });
    }

    fn membership(&mut self, r: &Record, m: &Membership) {
        let (signed_by, have, need) = self.signatures(r);
        self.memberships.push(MembershipLine {
            record: r.id(),
            time_ms: r.time_ms(),
            group_name: self.group_name(m.group),
            membership: m.clone(),
            signed_by,
            effective: have >= need,
        });
    }

    fn report(&mut self, r: &Record, rep: &Report) {
        let (signed_by, have, need) = self.signatures(r);
        self.reports.push(ReportLine {
            record: r.id(),
            time_ms: r.time_ms(),
            surplus: Money::new(
                rep.revenue.minor.saturating_sub(rep.costs.minor),
                rep.revenue.currency,
            ),
            report: rep.clone(),
            signed_by,
            effective: have >= need,
        });
    }

    fn finish(self) -> Reconciliation {
        let genesis = self.genesis;
        let sum = |f: fn(&InvestorLine) -> i64| {
            Money::new(
                self.investors
                    .values()
                    .map(f)
                    .fold(0i64, i64::saturating_add),
                genesis.currency,
            )
        };
        Reconciliation {
            enterprise: genesis.enterprise.as_ref().map(|e| EnterpriseInfo {
                name: genesis.name.clone(),
                currency: genesis.currency,
                country: e.country.clone(),
                sector: e.sector.clone(),
            }),
            capital_received: Some(sum(|l| l.received.minor)),
            returns_paid: Some(sum(|l| l.returns_paid.minor)),
            memberships: self.memberships,
            investors: self.investors.into_values().collect(),
            transfers: self.transfers,
            returns: self.returns,
            reports: self.reports,
            anomalies: self.anomalies,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::Refusal;
    use crate::key::SignerKey;
    use crate::kind::{Approval, Investor, Receipt, Role, Transfer};
    use crate::record::RecordId;
    use crate::testing::{Founding, hkd, key, php};

    struct Fixture {
        book: Book,
        coop_treasurer: SignerKey,
        coop_chair: SignerKey,
        group_treasurer: SignerKey,
        group_chair: SignerKey,
        group: BookId,
        time: u64,
    }

    impl Fixture {
        /// A cooperative's enterprise book in PHP, with one investor group (HKD, quorum 2)
        /// registered by two of the cooperative's officers.
        fn new() -> Fixture {
            let (coop_treasurer, coop_chair) = (key(11), key(12));
            let book = Founding::enterprise("Bukid Organic Farm", "organic rice farming")
                .officer(&coop_treasurer, Role::Treasurer)
                .officer(&coop_chair, Role::Chair)
                .book(&coop_treasurer);
            let mut f = Fixture {
                book,
                coop_treasurer,
                coop_chair,
                group_treasurer: key(21),
                group_chair: key(22),
                group: BookId(RecordId([5; 32])),
                time: 1,
            };
            let investor = Body::Investor(Investor {
                group: f.group,
                name: "Bayanihan Savers".into(),
                currency: "HKD".parse().unwrap(),
                officers: vec![f.group_treasurer.public(), f.group_chair.public()],
                quorum: 2,
            });
            let treasurer = f.coop_treasurer.clone();
            let id = f.add(&treasurer, investor).unwrap();
            let chair = f.coop_chair.clone();
            f.add(&chair, Body::Approval(Approval { record: id }))
                .unwrap();
            f
        }

        fn add(&mut self, key: &SignerKey, body: Body) -> Result<RecordId, Refusal> {
            self.time += 1;
            let r = self.book.sign_next(key, self.time, &body);
            let id = r.id();
            self.book.add(r).map(|_| id)
        }

        fn transfer(&self, minor: i64) -> Body {
            Body::Transfer(Transfer {
                group: self.group,
                amount: hkd(minor),
                fee: hkd(5_000),
                rate: "7.185".into(),
                rate_source: "remittance quote".into(),
                expected: php(minor * 7185 / 1000),
                channel: "bank remittance".into(),
                reference: "BR-2026-1128".into(),
            })
        }
    }

    fn line(f: &Fixture, id: RecordId, now: u64) -> TransferLine {
        reconcile(&f.book, now, DEFAULT_OVERDUE_DAYS)
            .transfers
            .into_iter()
            .find(|t| t.record == id)
            .unwrap()
    }

    #[test]
    fn a_transfer_goes_out_with_quorum_and_comes_back_with_a_fee_difference() {
        let mut f = Fixture::new();
        let (gt, gc, ct, cc) = (
            f.group_treasurer.clone(),
            f.group_chair.clone(),
            f.coop_treasurer.clone(),
            f.coop_chair.clone(),
        );
        let t = f.add(&gt, f.transfer(1_000_000)).unwrap();
        assert_eq!(
            line(&f, t, 0).status,
            TransferStatus::AwaitingApproval { have: 1, need: 2 }
        );
        let r = reconcile(&f.book, 0, DEFAULT_OVERDUE_DAYS);
        assert_eq!(r.investors[0].sent, hkd(0), "no money moves without quorum");

        // A cooperative officer cannot approve the group's transfer.
        let err = f
            .add(&cc, Body::Approval(Approval { record: t }))
            .unwrap_err();
        assert_eq!(err.code(), "not_investor", "{err}");
        f.add(&gc, Body::Approval(Approval { record: t })).unwrap();
        assert_eq!(line(&f, t, 0).status, TransferStatus::Sent);
        // Nor can the group's officers approve the cooperative's own records.
        let grant = f
            .add(
                &ct,
                Body::Investor(Investor {
                    group: BookId(RecordId([6; 32])),
                    name: "Pagasa Savers".into(),
                    currency: "TWD".parse().unwrap(),
                    officers: vec![gt.public()],
                    quorum: 1,
                }),
            )
            .unwrap();
        let err = f
            .add(&gc, Body::Approval(Approval { record: grant }))
            .unwrap_err();
        assert_eq!(err.code(), "wrong_role", "{err}");

        // Only the cooperative's treasurer acknowledges, in pesos.
        let receipt = |received| {
            Body::Receipt(Receipt {
                transfer: t,
                received,
            })
        };
        let err = f.add(&cc, receipt(php(7_150_000))).unwrap_err();
        assert_eq!(err.code(), "wrong_role", "{err}");
        let err = f.add(&ct, receipt(hkd(7_150_000))).unwrap_err();
        assert_eq!(err.code(), "wrong_currency", "{err}");
        let first = f.add(&ct, receipt(php(7_150_000))).unwrap();
        assert_eq!(
            line(&f, t, 0).status,
            TransferStatus::ReceivedWithDifference {
                received: php(7_150_000),
                difference: php(-35_000),
            }
        );
        // A second receipt is flagged and not counted.
        let second = f.add(&ct, receipt(php(7_185_000))).unwrap();
        let r = reconcile(&f.book, 0, DEFAULT_OVERDUE_DAYS);
        assert_eq!(r.transfers[0].receipt, Some(first));
        assert_eq!(r.anomalies.len(), 1);
        assert_eq!(r.anomalies[0].kind, AnomalyKind::SecondReceipt);
        assert_eq!(r.anomalies[0].records, vec![first, second]);
        assert_eq!(r.investors[0].sent, hkd(1_000_000));
        assert_eq!(r.investors[0].received, php(7_150_000));
    }

    #[test]
    fn an_unacknowledged_transfer_becomes_overdue() {
        let mut f = Fixture::new();
        let (gt, gc) = (f.group_treasurer.clone(), f.group_chair.clone());
        let t = f.add(&gt, f.transfer(200_000)).unwrap();
        f.add(&gc, Body::Approval(Approval { record: t })).unwrap();
        let sent_at = line(&f, t, 0).time_ms;
        assert_eq!(
            line(&f, t, sent_at + 14 * DAY_MS).status,
            TransferStatus::Sent
        );
        let r = reconcile(&f.book, sent_at + 15 * DAY_MS, 14);
        assert_eq!(r.transfers[0].status, TransferStatus::Overdue { days: 15 });
        assert_eq!(r.anomalies[0].kind, AnomalyKind::TransferOverdue);
    }

    #[test]
    fn only_the_groups_officers_transfer_for_it_and_only_in_enterprise_books() {
        let mut f = Fixture::new();
        let ct = f.coop_treasurer.clone();
        let gt = f.group_treasurer.clone();
        // The cooperative's treasurer is not an investor.
        let err = f.add(&ct, f.transfer(1_000)).unwrap_err();
        assert_eq!(err.code(), "wrong_role", "{err}");
        // A group the enterprise never registered.
        let mut other = f.transfer(1_000);
        if let Body::Transfer(t) = &mut other {
            t.group = BookId(RecordId([6; 32]));
        }
        let err = f.add(&gt, other).unwrap_err();
        assert_eq!(err.code(), "unknown_group", "{err}");
        // The group's currency, not the enterprise's.
        let mut pesos = f.transfer(1_000);
        if let Body::Transfer(t) = &mut pesos {
            t.amount = php(1_000);
            t.fee = php(0);
        }
        let err = f.add(&gt, pesos).unwrap_err();
        assert_eq!(err.code(), "wrong_currency", "{err}");

        // A savings book holds no transfers.
        let treasurer = key(1);
        let mut savings = Founding::savings("Bayanihan Savers")
            .officer(&treasurer, Role::Treasurer)
            .officer(&key(2), Role::Chair)
            .book(&treasurer);
        let investor = savings.sign_next(
            &treasurer,
            2,
            &Body::Investor(Investor {
                group: f.group,
                name: "x".into(),
                currency: "HKD".parse().unwrap(),
                officers: vec![treasurer.public()],
                quorum: 1,
            }),
        );
        let err = savings.add(investor).unwrap_err();
        assert_eq!(err.code(), "not_an_enterprise_book", "{err}");
    }

    #[test]
    fn a_report_then_a_return_and_its_receipt() {
        use crate::kind::{
            CoopMembers, Indicator, Jobs, Narrative, Period, Principle, Report, Return,
            ReturnReceipt,
        };
        let mut f = Fixture::new();
        let (ct, cc, gt) = (
            f.coop_treasurer.clone(),
            f.coop_chair.clone(),
            f.group_treasurer.clone(),
        );
        let report = Body::Report(Report {
            period: Period {
                from: "2026-07-01".into(),
                to: "2026-09-30".into(),
            },
            revenue: php(48_000_000),
            costs: php(39_500_000),
            jobs: Jobs { women: 7, men: 5 },
            members: CoopMembers {
                total: 42,
                returnees: 9,
            },
            indicators: vec![
                Indicator {
                    principle: Principle::EcologicalSustainability,
                    name: "organic_hectares".into(),
                    value: 1250,
                    decimals: 2,
                    unit: "ha".into(),
                },
                Indicator {
                    principle: Principle::GenderEquality,
                    name: "women_in_leadership".into(),
                    value: 3,
                    decimals: 0,
                    unit: "officers".into(),
                },
            ],
            narrative: Narrative {
                language: "fil".into(),
                text: "Maganda ang ani ngayong tag-ulan.".into(),
            },
        });
        let rep = f.add(&ct, report).unwrap();
        f.add(&cc, Body::Approval(Approval { record: rep }))
            .unwrap();
        let ret = f
            .add(
                &ct,
                Body::Return(Return {
                    group: f.group,
                    amount: php(1_200_000),
                    channel: "bank remittance".into(),
                    reference: "RET-2026-Q3".into(),
                }),
            )
            .unwrap();
        let r = reconcile(&f.book, 0, DEFAULT_OVERDUE_DAYS);
        assert_eq!(r.reports[0].surplus, php(8_500_000));
        assert!(r.reports[0].effective);
        assert_eq!(
            r.returns[0].status,
            ReturnStatus::AwaitingApproval { have: 1, need: 2 }
        );
        assert_eq!(r.investors[0].returns_paid, php(0));
        f.add(&cc, Body::Approval(Approval { record: ret }))
            .unwrap();
        // Only the group's officers acknowledge it, in the group's currency.
        let receipt = |received| {
            Body::ReturnReceipt(ReturnReceipt {
                return_record: ret,
                received,
            })
        };
        assert_eq!(
            f.add(&ct, receipt(hkd(160_000))).unwrap_err().code(),
            "wrong_role"
        );
        assert_eq!(
            f.add(&gt, receipt(php(160_000))).unwrap_err().code(),
            "wrong_currency"
        );
        f.add(&gt, receipt(hkd(160_000))).unwrap();
        let r = reconcile(&f.book, 0, DEFAULT_OVERDUE_DAYS);
        assert_eq!(
            r.returns[0].status,
            ReturnStatus::Received {
                received: hkd(160_000)
            }
        );
        assert_eq!(r.investors[0].returns_paid, php(1_200_000));
        assert_eq!(r.investors[0].returns_received, hkd(160_000));
    }

    #[test]
    fn a_rate_is_a_plain_positive_decimal() {
        for good in ["7.185", "0.0191", "58", "1.00000001"] {
            assert!(
                crate::kind::Body::from_value("transfer", rate_body(good)).is_ok(),
                "{good}"
            );
        }
        for bad in [
            "7,185",
            "-7.1",
            "07.1",
            "7.",
            ".5",
            "0",
            "0.000",
            "1e3",
            "7.123456789",
            "",
        ] {
            assert!(
                crate::kind::Body::from_value("transfer", rate_body(bad)).is_err(),
                "{bad}"
            );
        }
    }

    fn rate_body(rate: &str) -> serde_json::Value {
        serde_json::json!({
            "group": "05".repeat(32),
            "amount": {"currency": "HKD", "minor": 100},
            "fee": {"currency": "HKD", "minor": 0},
            "rate": rate,
            "rate_source": "quote",
            "expected": {"currency": "PHP", "minor": 700},
            "channel": "bank",
            "reference": "r-1",
        })
    }
}
