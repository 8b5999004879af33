//! Views across books: a savings group's portfolio, a member's position in it, and impact
//! indicators across enterprises.
//!
//! A group's money crosses books. Its transfers, and the cooperative's receipts and returns,
//! live in the enterprise books it invests in (each side signs its own records there); its
//! members, their balances and the distribution of returns live in its savings book. These
//! views join the folded views of those books ([`Ledger`] and [`Reconciliation`]), so they are
//! as pure and deterministic as the views they join: two nodes holding the same books show the
//! same portfolio.
//!
//! The group's position always satisfies, to the minor unit,
//!
//! ```text
//! members' balances = cash + outstanding + fees − undistributed returns
//! ```
//!
//! where `cash` is contributions − withdrawals − payouts − transfers − fees + returns received,
//! `outstanding` is what was transferred with quorum less what members converted into
//! cooperative membership, and `undistributed` is returns received and not yet distributed.

use crate::allocate::allocate;
use crate::enterprise::{EnterpriseInfo, Reconciliation, ReturnStatus};
use crate::kind::{Kind, Principle, Settlement};
use crate::money::{Currency, Money};
use crate::record::{BookId, RecordId};
use crate::view::{Anomaly, AnomalyKind, Ledger, Status};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One enterprise the group invests in, in the group's currency unless a field says otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Holding {
    pub enterprise: BookId,
    pub name: String,
    pub country: String,
    pub sector: String,
    /// The enterprise's currency.
    pub currency: Currency,
    /// Transfers with their quorum.
    pub invested: Money,
    pub fees: Money,
    /// Of `invested`, what the cooperative has not yet acknowledged.
    pub in_transit: Money,
    /// What the cooperative acknowledged receiving, in the enterprise's currency.
    pub capital_received: Money,
    /// Returns the group acknowledged receiving.
    pub received_back: Money,
    /// Returns the cooperative paid the group, in the enterprise's currency.
    pub returns_paid: Money,
    /// Members' stakes converted into membership of this cooperative.
    pub converted: Money,
    /// `invested − converted`: the group's capital still in the enterprise.
    pub outstanding: Money,
    /// Of `received_back`, what has been distributed to members.
    pub distributed: Money,
    /// The returns the cooperative paid the group (with their quorum), in the order paid: what
    /// the group's officers acknowledge when the money arrives, then share among the members.
    pub returns: Vec<HeldReturn>,
    /// Members' effective conversions into this cooperative, and whether it has admitted them.
    pub conversions: Vec<HeldConversion>,
}

/// A member's stake the group converted into membership of the cooperative.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeldConversion {
    /// The departure record in the group's book.
    pub departure: RecordId,
    pub member: crate::kind::MemberId,
    /// Her stake, in the group's currency.
    pub stake: Money,
    /// The cooperative's effective membership record that admits her, once there is one that
    /// names her and her stake as the departure does (one that differs is an anomaly instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership: Option<RecordId>,
}

/// A return paid to the group, and how far the group has taken it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeldReturn {
    /// The return record in the enterprise book.
    pub record: RecordId,
    /// What the cooperative paid, in the enterprise's currency, and its channel's reference.
    pub paid: Money,
    pub reference: String,
    /// What the group acknowledged receiving, in its own currency; absent until an officer of
    /// the accepted registration acknowledges it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<Money>,
    /// The effective distribution that shared it among the members, once there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<RecordId>,
}

/// A savings group's money: in the box, out in enterprises, and back. A client reads its
/// anomalies as [`crate::api::AnomalyLine`]s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Portfolio<A = Anomaly> {
    pub group: BookId,
    pub name: String,
    pub currency: Currency,
    /// The sum of the members' balances: what the group owes its members.
    pub members_balances: Money,
    /// Money the group holds: contributions − withdrawals − payouts − transfers − fees +
    /// returns received.
    pub cash: Money,
    pub invested: Money,
    pub fees: Money,
    pub received_back: Money,
    pub converted: Money,
    pub outstanding: Money,
    pub distributed: Money,
    /// Returns received and not yet distributed.
    pub undistributed: Money,
    pub holdings: Vec<Holding>,
    /// Enterprise books that register this group but that it has not accepted; they count
    /// for nothing until it does.
    pub unaccepted: Vec<Unaccepted>,
    /// Where the books disagree with each other; see [`AnomalyKind`].
    pub anomalies: Vec<A>,
}

/// The group `group`'s portfolio, from its savings book's ledger and the reconciliations of the
/// enterprise books this node holds. Enterprise books that do not register the group are
/// ignored.
pub fn portfolio(
    group: BookId,
    ledger: &Ledger,
    enterprises: &[(BookId, &Reconciliation)],
) -> Portfolio {
    let currency = ledger
        .currency
        .unwrap_or_else(|| "XXX".parse().expect("XXX is a currency code"));
    let mut anomalies = Vec::new();
    let mut holdings = Vec::new();
    let mut conversions = conversions_by_enterprise(ledger);
    let distributed_by_return: BTreeMap<RecordId, (RecordId, Money)> = ledger
        .distributions
        .iter()
        .filter(|d| d.paid)
        .map(|d| (d.return_record, (d.record, d.amount)))
        .collect();
    let mut received_returns: BTreeMap<RecordId, Money> = BTreeMap::new();
    let mut unaccepted = Vec::new();

    for (id, rec) in enterprises {
        let Some(info) = rec.enterprise.as_ref() else {
            continue;
        };
        let Some(registration) = rec.investors.iter().find(|i| i.group == group) else {
            continue;
        };
        if let Some(why) = unaccepted_because(ledger, *id, registration) {
            let line = Unaccepted {
                enterprise: *id,
                name: info.name.clone(),
                registration: registration.registration,
                officers: registration.officers.clone(),
                reason: why,
            };
            anomalies.push(line.anomaly());
            unaccepted.push(line);
            continue;
        }
        let converted = Money::new(conversions.remove(id).unwrap_or(0), currency);
        let mut h = Holding::new(*id, info, converted);
        count_transfers(&mut h, rec, registration, &mut anomalies);
        for (record, received) in count_returns(
            &mut h,
            rec,
            registration,
            &distributed_by_return,
            &mut anomalies,
        ) {
            received_returns.insert(record, received);
        }
        h.outstanding = Money::new(h.invested.minor.saturating_sub(h.converted.minor), currency);
        check_conversions(ledger, group, &mut h, rec, &mut anomalies);
        holdings.push(h);
    }
    unheld_conversions(ledger, conversions, currency, &mut anomalies);
    check_distributions(ledger, &received_returns, &mut anomalies);
    let totals = Totals::of(ledger, &holdings, currency);
    if totals.cash < 0 {
        anomalies.push(Anomaly {
            kind: AnomalyKind::CashShort,
            records: Vec::new(),
            detail: format!(
                "the group's cash is {}: it has paid out more than it holds outside its investments",
                Money::new(totals.cash, currency)
            ),
        });
    }
    anomalies.sort_by(|a, b| (a.kind, &a.records).cmp(&(b.kind, &b.records)));
    Portfolio {
        group,
        name: ledger.name.clone(),
        currency,
        members_balances: Money::new(totals.members_balances, currency),
        cash: Money::new(totals.cash, currency),
        invested: totals.invested,
        fees: totals.fees,
        received_back: totals.received_back,
        converted: Money::new(totals.converted, currency),
        outstanding: Money::new(
            totals.invested.minor.saturating_sub(totals.converted),
            currency,
        ),
        distributed: Money::new(totals.distributed, currency),
        undistributed: Money::new(
            totals
                .received_back
                .minor
                .saturating_sub(totals.distributed),
            currency,
        ),
        holdings,
        unaccepted,
        anomalies,
    }
}

impl Holding {
    /// A holding in enterprise `id` with nothing counted yet but the members' conversions.
    fn new(id: BookId, info: &EnterpriseInfo, converted: Money) -> Holding {
        let zero = Money::new(0, converted.currency);
        Holding {
            enterprise: id,
            name: info.name.clone(),
            country: info.country.clone(),
            sector: info.sector.clone(),
            currency: info.currency,
            invested: zero,
            fees: zero,
            in_transit: zero,
            capital_received: Money::new(0, info.currency),
            received_back: zero,
            returns_paid: Money::new(0, info.currency),
            converted,
            outstanding: zero,
            distributed: zero,
            returns: Vec::new(),
            conversions: Vec::new(),
        }
    }
}

/// Effective conversions, by enterprise.
fn conversions_by_enterprise(ledger: &Ledger) -> BTreeMap<BookId, i64> {
    let mut conversions: BTreeMap<BookId, i64> = BTreeMap::new();
    for d in &ledger.departures {
        if d.status == Status::Effective
            && d.departure.settlement == Settlement::Conversion
            && let Some(e) = d.departure.enterprise
        {
            let c = conversions.entry(e).or_default();
            *c = c.saturating_add(d.departure.amount.minor);
        }
    }
    conversions
}

/// Adds the returns the cooperative paid the group in one enterprise book to its holding there,
/// and gives back what the group acknowledged receiving, by return record. Only the accepted
/// registration's officers speak for the group; a receipt by anyone else's key adds no cash.
fn count_returns(
    h: &mut Holding,
    rec: &Reconciliation,
    accepted: &crate::enterprise::InvestorLine,
    distributed_by_return: &BTreeMap<RecordId, (RecordId, Money)>,
    anomalies: &mut Vec<Anomaly>,
) -> Vec<(RecordId, Money)> {
    let mut received_returns = Vec::new();
    for r in rec
        .returns
        .iter()
        .filter(|r| r.payment.group == accepted.group)
    {
        let mut held = HeldReturn {
            record: r.record,
            paid: r.payment.amount,
            reference: r.payment.reference.clone(),
            received: None,
            distribution: None,
        };
        match &r.status {
            ReturnStatus::AwaitingApproval { .. } => continue,
            ReturnStatus::Paid => {}
            ReturnStatus::Received { .. }
                if !r
                    .receipt_signer
                    .is_some_and(|k| accepted.officers.contains(&k)) =>
            {
                anomalies.push(Anomaly {
                    kind: AnomalyKind::UnacceptedEnterprise,
                    records: r.receipt.into_iter().collect(),
                    detail: format!(
                        "the receipt of return {} in enterprise book {} is not signed by an officer the accepted registration names; it is not counted",
                        r.record, h.enterprise
                    ),
                });
            }
            ReturnStatus::Received { received } => {
                h.received_back.minor = h.received_back.minor.saturating_add(received.minor);
                received_returns.push((r.record, *received));
                held.received = Some(*received);
                if let Some((distribution, amount)) = distributed_by_return.get(&r.record) {
                    h.distributed.minor = h.distributed.minor.saturating_add(amount.minor);
                    held.distribution = Some(*distribution);
                }
            }
        }
        h.returns.push(held);
        h.returns_paid.minor = h.returns_paid.minor.saturating_add(r.payment.amount.minor);
    }
    received_returns
}

/// Each conversion the group signed into holding `h`'s enterprise should have its side in the
/// cooperative's book. The holding lists them all.
fn check_conversions(
    ledger: &Ledger,
    group: BookId,
    h: &mut Holding,
    rec: &Reconciliation,
    anomalies: &mut Vec<Anomaly>,
) {
    let (id, name) = (h.enterprise, h.name.clone());
    for d in ledger
        .departures
        .iter()
        .filter(|d| d.status == Status::Effective && d.departure.enterprise == Some(id))
    {
        let matched = rec.memberships.iter().find(|m| {
            m.effective && m.membership.group == group && m.membership.departure == d.record
        });
        // Her admission counts only if it names her and her stake as the departure does.
        let agrees = |m: &&crate::enterprise::MembershipLine| {
            m.membership.stake == d.departure.amount && m.membership.member == d.departure.member
        };
        h.conversions.push(HeldConversion {
            departure: d.record,
            member: d.departure.member.clone(),
            stake: d.departure.amount,
            membership: matched.filter(agrees).map(|m| m.record),
        });
        match matched {
            Some(m) if agrees(&m) => {}
            Some(m) => anomalies.push(Anomaly {
                kind: AnomalyKind::ConversionUnmatched,
                records: vec![d.record, m.record],
                detail: format!(
                    "departure {} converts {} for member {} but the cooperative admitted member {} with a stake of {}",
                    d.record, d.departure.amount, d.departure.member, m.membership.member, m.membership.stake
                ),
            }),
            None => anomalies.push(Anomaly {
                kind: AnomalyKind::ConversionUnmatched,
                records: vec![d.record],
                detail: format!(
                    "departure {} converts {} for member {} into membership of {name}; the cooperative has not recorded it yet",
                    d.record, d.departure.amount, d.departure.member
                ),
            }),
        }
    }
}

/// Conversions into enterprises this node does not hold (or that the group has not accepted).
fn unheld_conversions(
    ledger: &Ledger,
    conversions: BTreeMap<BookId, i64>,
    currency: Currency,
    anomalies: &mut Vec<Anomaly>,
) {
    for (enterprise, minor) in conversions {
        anomalies.push(Anomaly {
            kind: AnomalyKind::ConversionUnmatched,
            records: ledger
                .departures
                .iter()
                .filter(|d| d.departure.enterprise == Some(enterprise))
                .map(|d| d.record)
                .collect(),
            detail: format!(
                "{} converted into membership of enterprise {enterprise}, whose book this node does not hold",
                Money::new(minor, currency)
            ),
        });
    }
}

/// Each distribution should share what the group acknowledged receiving for its return.
fn check_distributions(
    ledger: &Ledger,
    received_returns: &BTreeMap<RecordId, Money>,
    anomalies: &mut Vec<Anomaly>,
) {
    for d in ledger.distributions.iter().filter(|d| d.paid) {
        match received_returns.get(&d.return_record) {
            Some(received) if *received == d.amount => {}
            Some(received) => anomalies.push(Anomaly {
                kind: AnomalyKind::DistributionMismatch,
                records: vec![d.record],
                detail: format!(
                    "distribution {} shares {}, but the group acknowledged {received} for return {}",
                    d.record, d.amount, d.return_record
                ),
            }),
            None => anomalies.push(Anomaly {
                kind: AnomalyKind::DistributionMismatch,
                records: vec![d.record],
                detail: format!(
                    "distribution {} shares {} from return {}, which has no receipt in a book this node holds",
                    d.record, d.amount, d.return_record
                ),
            }),
        }
    }
}

/// The group's totals, in its currency's minor units where not `Money`.
struct Totals {
    invested: Money,
    fees: Money,
    received_back: Money,
    converted: i64,
    distributed: i64,
    members_balances: i64,
    cash: i64,
}

impl Totals {
    fn of(ledger: &Ledger, holdings: &[Holding], currency: Currency) -> Totals {
        let sum = |f: fn(&Holding) -> i64| {
            Money::new(
                holdings.iter().map(f).fold(0i64, i64::saturating_add),
                currency,
            )
        };
        let (invested, fees, received_back) = (
            sum(|h| h.invested.minor),
            sum(|h| h.fees.minor),
            sum(|h| h.received_back.minor),
        );
        let converted: i64 = ledger
            .departures
            .iter()
            .filter(|d| {
                d.status == Status::Effective && d.departure.settlement == Settlement::Conversion
            })
            .map(|d| d.departure.amount.minor)
            .fold(0i64, i64::saturating_add);
        let distributed: i64 = ledger
            .distributions
            .iter()
            .filter(|d| d.paid)
            .map(|d| d.amount.minor)
            .fold(0i64, i64::saturating_add);
        let members_balances = ledger
            .totals
            .iter()
            .find(|m| m.currency == currency)
            .map_or(0, |m| m.minor);
        // Members' balances hold every distribution and lost every departure; cash holds
        // neither distributions (the money arrived as a return) nor conversions (no cash moved).
        let cash = members_balances
            .saturating_sub(distributed)
            .saturating_add(converted)
            .saturating_sub(invested.minor)
            .saturating_sub(fees.minor)
            .saturating_add(received_back.minor);
        Totals {
            invested,
            fees,
            received_back,
            converted,
            distributed,
            members_balances,
            cash,
        }
    }
}

/// An enterprise book that registers a group the group has not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Unaccepted {
    pub enterprise: BookId,
    pub name: String,
    /// The registration an investment record would name.
    pub registration: RecordId,
    /// The keys the registration names as the group's officers.
    pub officers: Vec<crate::key::PublicKey>,
    /// Why it does not count yet.
    pub reason: String,
}

impl Unaccepted {
    fn anomaly(&self) -> Anomaly {
        Anomaly {
            kind: AnomalyKind::UnacceptedEnterprise,
            records: vec![self.registration],
            detail: format!(
                "enterprise book {} ({}) names this group as its investor, but {}; it counts for nothing in the group's cash or statements",
                self.enterprise, self.name, self.reason
            ),
        }
    }
}

/// Adds the group's transfers in one enterprise book to its holding there. Only transfers
/// signed by the officers of the registration the group accepted, to its quorum, count; the
/// roster may give the investor role to the keys of registrations that lost or were replaced.
fn count_transfers(
    h: &mut Holding,
    rec: &Reconciliation,
    accepted: &crate::enterprise::InvestorLine,
    anomalies: &mut Vec<Anomaly>,
) {
    for t in rec.transfers.iter().filter(|t| t.group == accepted.group) {
        use crate::enterprise::TransferStatus as S;
        if !matches!(t.status, S::AwaitingApproval { .. })
            && !signed_by_accepted(&t.signed_by, accepted)
        {
            anomalies.push(Anomaly {
                kind: AnomalyKind::UnacceptedEnterprise,
                records: vec![t.record],
                detail: format!(
                    "transfer {} in enterprise book {} is not signed by {} of the officers the accepted registration names; it moves none of the group's money",
                    t.record, h.enterprise, accepted.quorum
                ),
            });
            continue;
        }
        let (sent, received) = match &t.status {
            S::AwaitingApproval { .. } => continue,
            S::Sent | S::Overdue { .. } => (true, None),
            S::ReceivedInFull { received } | S::ReceivedWithDifference { received, .. } => {
                (true, Some(*received))
            }
        };
        if sent {
            h.invested.minor = h.invested.minor.saturating_add(t.transfer.amount.minor);
            h.fees.minor = h.fees.minor.saturating_add(t.transfer.fee.minor);
        }
        match received {
            Some(r) => {
                h.capital_received.minor = h.capital_received.minor.saturating_add(r.minor);
            }
            None => {
                h.in_transit.minor = h.in_transit.minor.saturating_add(t.transfer.amount.minor);
            }
        }
    }
}

/// Whether the group's officers named in the registration it accepted signed a record to that
/// registration's quorum. The roster may also give the investor role to keys of registrations
/// that lost or were replaced; only the accepted one speaks for the group.
fn signed_by_accepted(
    signers: &[crate::key::PublicKey],
    accepted: &crate::enterprise::InvestorLine,
) -> bool {
    let ours = signers
        .iter()
        .filter(|k| accepted.officers.contains(k))
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    ours as u32 >= accepted.quorum
}

/// Why the group does not count enterprise book `id`, registered by `line`, or `None` when it
/// does: an effective investment record names the book and this registration, and every key
/// the registration names holds a role in the group's own roster.
fn unaccepted_because(
    ledger: &Ledger,
    id: BookId,
    line: &crate::enterprise::InvestorLine,
) -> Option<String> {
    let accepted = ledger
        .investments
        .iter()
        .any(|i| i.enterprise == id && i.registration == line.registration);
    if !accepted {
        return Some(format!(
            "the group's officers have not accepted it (an investment record naming registration {} needs the investment quorum)",
            line.registration
        ));
    }
    let strangers: Vec<String> = line
        .officers
        .iter()
        .filter(|k| !ledger.officers.iter().any(|o| o.key == **k))
        .map(ToString::to_string)
        .collect();
    if !strangers.is_empty() {
        return Some(format!(
            "its registration names keys that hold no role in the group: {}",
            strangers.join(", ")
        ));
    }
    None
}

/// A member's share of one enterprise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnterpriseShare {
    pub enterprise: BookId,
    pub name: String,
    /// Her part of the group's outstanding capital there, by stake.
    pub share: Money,
}

/// A member's position: what her statement shows beyond its entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Position {
    pub member: String,
    pub alias: String,
    pub balance: Money,
    /// Her stake by the book's rule, and the whole group's, so the fraction is exact.
    pub stake: Money,
    pub group_stake: Money,
    /// Her shares of the returns distributed so far.
    pub returns_received: Money,
    pub enterprises: Vec<EnterpriseShare>,
    /// Her departure, once recorded.
    pub departure: Option<crate::view::DepartureLine>,
}

/// `member`'s position in the group, or `None` if she never joined. Her share of each
/// enterprise is her part of the group's outstanding capital there, allocated among all
/// current stakes by the largest remainder method, so the members' shares add up exactly.
pub fn position(ledger: &Ledger, portfolio: &Portfolio, member: &str) -> Option<Position> {
    let m = ledger.members.iter().find(|m| m.member == member)?;
    let currency = portfolio.currency;
    let returns_received = ledger.statements.get(member).map_or(0, |entries| {
        entries
            .iter()
            .filter(|e| Kind::of(&e.kind) == Kind::Distribution && e.amount.currency == currency)
            .map(|e| e.amount.minor)
            .fold(0i64, i64::saturating_add)
    });
    let enterprises = portfolio
        .holdings
        .iter()
        .map(|h| EnterpriseShare {
            enterprise: h.enterprise,
            name: h.name.clone(),
            share: Money::new(
                allocate(h.outstanding.minor.max(0), &ledger.stakes)
                    .ok()
                    .and_then(|shares| shares.get(member).copied())
                    .unwrap_or(0),
                currency,
            ),
        })
        .collect();
    Some(Position {
        member: m.member.clone(),
        alias: m.alias.clone(),
        balance: ledger.balance_in(member, currency),
        stake: Money::new(ledger.stakes.get(member).copied().unwrap_or(0), currency),
        group_stake: Money::new(
            ledger
                .stakes
                .values()
                .fold(0i64, |a, b| a.saturating_add(*b)),
            currency,
        ),
        returns_received: Money::new(returns_received, currency),
        enterprises,
        departure: ledger
            .departures
            .iter()
            .find(|d| d.departure.member.as_str() == member && d.status == Status::Effective)
            .cloned(),
    })
}

/// One indicator of one effective report, in a form that compares across enterprises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImpactRow {
    pub principle: Principle,
    pub indicator: String,
    pub enterprise: BookId,
    pub enterprise_name: String,
    pub country: String,
    pub period_from: String,
    pub period_to: String,
    /// `value` × 10^−`decimals` `unit`.
    pub value: i64,
    pub decimals: u32,
    pub unit: String,
    pub report: RecordId,
}

/// Impact indicators across every enterprise book given, from their effective reports: the
/// indicators each report names, plus the figures every report carries, as indicators of their
/// principle (`surplus`, `revenue` under viability; `jobs_women`, `jobs_men` under gender
/// equality; `returnee_members` under social justice). Sorted by principle, indicator,
/// enterprise name and period, so each principle's rows read as one comparison.
pub fn impact(enterprises: &[(BookId, &Reconciliation)]) -> Vec<ImpactRow> {
    let mut rows = Vec::new();
    for (id, rec) in enterprises {
        let Some(info) = &rec.enterprise else {
            continue;
        };
        for rep in rec.reports.iter().filter(|r| r.effective) {
            let r = &rep.report;
            let exponent = r.revenue.currency.exponent();
            let money_unit = r.revenue.currency.to_string();
            let core = [
                (
                    Principle::Viability,
                    "revenue",
                    r.revenue.minor,
                    exponent,
                    money_unit.clone(),
                ),
                (
                    Principle::Viability,
                    "surplus",
                    rep.surplus.minor,
                    exponent,
                    money_unit,
                ),
                (
                    Principle::GenderEquality,
                    "jobs_women",
                    i64::from(r.jobs.women),
                    0,
                    "jobs".into(),
                ),
                (
                    Principle::GenderEquality,
                    "jobs_men",
                    i64::from(r.jobs.men),
                    0,
                    "jobs".into(),
                ),
                (
                    Principle::SocialJustice,
                    "returnee_members",
                    i64::from(r.members.returnees),
                    0,
                    "members".into(),
                ),
            ];
            let named = r.indicators.iter().map(|i| {
                (
                    i.principle,
                    i.name.as_str(),
                    i.value,
                    i.decimals,
                    i.unit.clone(),
                )
            });
            for (principle, name, value, decimals, unit) in core.into_iter().chain(named) {
                rows.push(ImpactRow {
                    principle,
                    indicator: name.to_owned(),
                    enterprise: *id,
                    enterprise_name: info.name.clone(),
                    country: info.country.clone(),
                    period_from: r.period.from.clone(),
                    period_to: r.period.to.clone(),
                    value,
                    decimals,
                    unit,
                    report: rep.record,
                });
            }
        }
    }
    rows.sort_by(|a, b| {
        (
            a.principle,
            &a.indicator,
            &a.enterprise_name,
            &a.period_from,
            a.report,
        )
            .cmp(&(
                b.principle,
                &b.indicator,
                &b.enterprise_name,
                &b.period_from,
                b.report,
            ))
    });
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::Book;
    use crate::enterprise::{DEFAULT_OVERDUE_DAYS, reconcile};
    use crate::key::{PublicKey, SignerKey};
    use crate::kind::{
        Approval, Body, Contribution, Departure, Distribution, Investor, MemberJoin, Membership,
        Receipt, Return, ReturnReceipt, Role, Transfer,
    };
    use crate::record::Record;
    use crate::testing::{Founding, key};

    fn money(minor: i64, code: &str) -> Money {
        Money::new(minor, code.parse().unwrap())
    }

    struct Books {
        savings: Book,
        farm: Book,
        time: u64,
    }

    impl Books {
        /// The group's savings book in HKD, founded by [`group_officers`], and an enterprise
        /// book in PHP founded by `coop`, each with nothing recorded yet.
        fn new(coop: (&SignerKey, &SignerKey)) -> Books {
            let (gt, gc) = group_officers();
            Books {
                savings: Book::create(genesis(&gt, &gc, "Bayanihan Savers", "HKD", false)).unwrap(),
                farm: Book::create(genesis(coop.0, coop.1, "Bukid Farm", "PHP", true)).unwrap(),
                time: 0,
            }
        }

        fn add(&mut self, enterprise: bool, key: &SignerKey, body: Body) -> RecordId {
            self.time += 1;
            let book = if enterprise {
                &mut self.farm
            } else {
                &mut self.savings
            };
            let r = book.sign_next(key, self.time, &body);
            book.add(r.clone()).unwrap();
            r.id()
        }

        /// Signed by `a`, approved by `b`.
        fn add2(&mut self, enterprise: bool, a: &SignerKey, b: &SignerKey, body: Body) -> RecordId {
            let id = self.add(enterprise, a, body);
            self.add(enterprise, b, Body::Approval(Approval { record: id }));
            id
        }

        /// The cooperative's officers `coop` register the group as an investor whose officers
        /// are `officers`, two of whom sign a transfer.
        fn register(&mut self, coop: (&SignerKey, &SignerKey), officers: Vec<PublicKey>) {
            let investor = Body::Investor(Investor {
                group: self.savings.id(),
                name: "Bayanihan Savers".into(),
                currency: "HKD".parse().unwrap(),
                officers,
                quorum: 2,
            });
            self.add2(true, coop.0, coop.1, investor);
        }

        /// The group's officers accept the enterprise book under `registration`, to the
        /// investment quorum.
        fn accept(&mut self, registration: RecordId) {
            let (gt, gc) = group_officers();
            let investment = Body::Investment(crate::kind::Investment {
                enterprise: self.farm.id(),
                registration,
            });
            self.add2(false, &gt, &gc, investment);
        }

        /// The cooperative's officers `coop` pay the group a return (`amount`, by `channel`,
        /// reference RT-1), and `receiver` acknowledges receiving `received` of it.
        fn return_received(
            &mut self,
            coop: (&SignerKey, &SignerKey),
            amount: Money,
            channel: &str,
            receiver: &SignerKey,
            received: Money,
        ) -> RecordId {
            let payment = Body::Return(Return {
                group: self.savings.id(),
                amount,
                channel: channel.into(),
                reference: "RT-1".into(),
            });
            let ret = self.add2(true, coop.0, coop.1, payment);
            let receipt = Body::ReturnReceipt(ReturnReceipt {
                return_record: ret,
                received,
            });
            self.add(true, receiver, receipt);
            ret
        }

        fn portfolio(&self) -> (Ledger, Portfolio) {
            let ledger = Ledger::fold(&self.savings);
            let rec = reconcile(&self.farm, 0, DEFAULT_OVERDUE_DAYS);
            let p = portfolio(self.savings.id(), &ledger, &[(self.farm.id(), &rec)]);
            (ledger, p)
        }
    }

    /// The group's treasurer (seed 21) and chair (seed 22).
    fn group_officers() -> (SignerKey, SignerKey) {
        (key(21), key(22))
    }

    fn genesis(key: &SignerKey, other: &SignerKey, name: &str, code: &str, farm: bool) -> Record {
        let founding = if farm {
            Founding::enterprise(name, "organic rice farming")
        } else {
            Founding::savings(name)
        };
        founding
            .currency(code)
            .at(0)
            .officer(key, Role::Treasurer)
            .officer(other, Role::Chair)
            .sign(key)
    }

    /// The whole journey across two books: members save, the group invests, the cooperative
    /// acknowledges and pays a return, the group distributes it, one member is paid out and
    /// one converts her stake. At every step the position identity holds to the cent.
    #[test]
    fn the_group_position_reconciles_at_every_step() {
        let (gt, gc) = group_officers();
        let (ct, cc) = (key(11), key(12));
        let mut b = Books::new((&ct, &cc));
        let check = |b: &Books| {
            let (_, p) = b.portfolio();
            assert_eq!(
                p.members_balances.minor,
                p.cash.minor + p.outstanding.minor + p.fees.minor - p.undistributed.minor,
                "{p:#?}"
            );
            p
        };
        for (i, (m, minor)) in [("m-ana", 50_000), ("m-bea", 30_000), ("m-cora", 20_001)]
            .into_iter()
            .enumerate()
        {
            b.add(
                false,
                &gt,
                Body::MemberJoin(MemberJoin {
                    member: m.parse().unwrap(),
                    alias: format!("member {i}"),
                    key: None,
                }),
            );
            b.add(
                false,
                &gt,
                Body::Contribution(Contribution {
                    member: m.parse().unwrap(),
                    amount: money(minor, "HKD"),
                    meeting: None,
                }),
            );
        }
        let group = b.savings.id();
        b.register((&ct, &cc), vec![gt.public(), gc.public()]);
        assert_eq!(check(&b).cash, money(100_001, "HKD"));
        let registration = reconcile(&b.farm, 0, DEFAULT_OVERDUE_DAYS).investors[0].registration;

        // Until the group accepts the book, it is listed as unaccepted and holds nothing.
        let p = check(&b);
        assert!(p.holdings.is_empty(), "{p:#?}");
        assert_eq!(p.unaccepted[0].registration, registration);
        assert_eq!(p.anomalies[0].kind, AnomalyKind::UnacceptedEnterprise);
        // One officer's word is not the investment quorum.
        let accept = Body::Investment(crate::kind::Investment {
            enterprise: b.farm.id(),
            registration,
        });
        let accepted = b.add(false, &gt, accept);
        assert_eq!(check(&b).holdings.len(), 0);
        b.add(false, &gc, Body::Approval(Approval { record: accepted }));
        let p = check(&b);
        assert!(p.unaccepted.is_empty() && p.anomalies.is_empty(), "{p:#?}");
        assert_eq!(p.holdings.len(), 1);

        // Without its quorum a transfer moves nothing.
        let transfer = b.add(
            true,
            &gt,
            Body::Transfer(Transfer {
                group,
                amount: money(60_000, "HKD"),
                fee: money(1_500, "HKD"),
                rate: "7.2".into(),
                rate_source: "remittance quote".into(),
                expected: money(432_000, "PHP"),
                channel: "bank remittance".into(),
                reference: "BR-1".into(),
            }),
        );
        assert_eq!(check(&b).cash, money(100_001, "HKD"));
        b.add(true, &gc, Body::Approval(Approval { record: transfer }));
        let p = check(&b);
        assert_eq!(p.cash, money(100_001 - 61_500, "HKD"));
        assert_eq!(p.holdings[0].in_transit, money(60_000, "HKD"));
        b.add(
            true,
            &ct,
            Body::Receipt(Receipt {
                transfer,
                received: money(427_500, "PHP"),
            }),
        );
        let p = check(&b);
        assert_eq!(p.holdings[0].in_transit, money(0, "HKD"));
        assert_eq!(p.holdings[0].capital_received, money(427_500, "PHP"));

        let ret = b.return_received(
            (&ct, &cc),
            money(43_200, "PHP"),
            "bank remittance",
            &gt,
            money(5_900, "HKD"),
        );
        assert_eq!(check(&b).undistributed, money(5_900, "HKD"));
        let distribution = Body::Distribution(Distribution {
            enterprise: b.farm.id(),
            return_record: ret,
            amount: money(5_900, "HKD"),
        });
        b.add2(false, &gt, &gc, distribution.clone());
        let (ledger, p) = b.portfolio();
        assert_eq!(p.undistributed, money(0, "HKD"));
        assert!(p.anomalies.is_empty(), "{:?}", p.anomalies);
        let shares: Vec<EnterpriseShare> = ["m-ana", "m-bea", "m-cora"]
            .iter()
            .flat_map(|m| position(&ledger, &p, m).unwrap().enterprises)
            .collect();
        assert_eq!(
            shares.iter().map(|s| s.share.minor).sum::<i64>(),
            60_000,
            "the members' shares of the enterprise add up to the group's"
        );
        assert_eq!(
            position(&ledger, &p, "m-ana").unwrap().returns_received,
            money(2_950, "HKD")
        );
        // A replayed distribution pays nothing and the position still reconciles.
        b.add2(false, &gt, &gc, distribution);
        assert_eq!(check(&b).distributed, money(5_900, "HKD"));

        // Bea is paid out; Cora converts into the cooperative, which records its side.
        let bea = ledger.balance_in("m-bea", "HKD".parse().unwrap());
        b.add2(
            false,
            &gt,
            &gc,
            Body::Departure(Departure {
                member: "m-bea".parse().unwrap(),
                amount: bea,
                settlement: Settlement::Payout,
                enterprise: None,
            }),
        );
        let p = check(&b);
        assert_eq!(p.cash, money(100_001 - 61_500 + 5_900 - bea.minor, "HKD"));
        let cora = Ledger::fold(&b.savings).balance_in("m-cora", "HKD".parse().unwrap());
        let departure = b.add2(
            false,
            &gt,
            &gc,
            Body::Departure(Departure {
                member: "m-cora".parse().unwrap(),
                amount: cora,
                settlement: Settlement::Conversion,
                enterprise: Some(b.farm.id()),
            }),
        );
        let p = check(&b);
        assert_eq!(p.outstanding, money(60_000 - cora.minor, "HKD"));
        assert_eq!(p.anomalies.len(), 1, "{:?}", p.anomalies);
        assert_eq!(p.anomalies[0].kind, AnomalyKind::ConversionUnmatched);
        b.add2(
            true,
            &ct,
            &cc,
            Body::Membership(Membership {
                group,
                departure,
                member: "m-cora".parse().unwrap(),
                stake: cora,
                capital: money(cora.minor * 72 / 10, "PHP"),
                rate: "7.2".into(),
            }),
        );
        let (ledger, p) = b.portfolio();
        assert!(p.anomalies.is_empty(), "{:?}", p.anomalies);
        let kinds: Vec<AnomalyKind> = ledger.anomalies.iter().map(|a| a.kind).collect();
        assert_eq!(
            kinds,
            [AnomalyKind::DuplicateDistribution],
            "only the replay is flagged"
        );
        assert_eq!(ledger.stakes.keys().collect::<Vec<_>>(), ["m-ana"]);
        let ana = position(&ledger, &p, "m-ana").unwrap();
        assert_eq!(
            ana.enterprises[0].share, p.outstanding,
            "she alone holds it now"
        );
    }

    /// The group with one member, Ana, who saved `minor` cents, and an enterprise book founded
    /// by `coop`.
    fn ana_saved(minor: i64, coop: (&SignerKey, &SignerKey)) -> Books {
        let gt = group_officers().0;
        let mut b = Books::new(coop);
        b.add(
            false,
            &gt,
            Body::MemberJoin(MemberJoin {
                member: "m-ana".parse().unwrap(),
                alias: "Ana".into(),
                key: None,
            }),
        );
        b.add(
            false,
            &gt,
            Body::Contribution(Contribution {
                member: "m-ana".parse().unwrap(),
                amount: money(minor, "HKD"),
                meeting: None,
            }),
        );
        b
    }

    /// A stranger founds an enterprise book that registers the group with the stranger's own
    /// keys, and moves "money" in it with effective transfers. The group's cash, holdings and
    /// statements do not change, whether or not the group's officers accept it, because the
    /// registration names keys outside the group's roster.
    #[test]
    fn a_strangers_enterprise_book_moves_none_of_the_groups_money() {
        let (st, sc) = (key(31), key(32));
        let mut b = ana_saved(i64::from(i32::MAX), (&st, &sc));
        let group = b.savings.id();
        b.register((&st, &sc), vec![st.public(), sc.public()]);
        b.add2(
            true,
            &st,
            &sc,
            Body::Transfer(Transfer {
                group,
                amount: money(crate::canonical::MAX_SAFE_INTEGER, "HKD"),
                fee: money(0, "HKD"),
                rate: "7.2".into(),
                rate_source: "made up".into(),
                expected: money(1, "PHP"),
                channel: "none".into(),
                reference: "FAKE".into(),
            }),
        );
        let before = b.portfolio().1;
        assert!(before.holdings.is_empty());
        assert_eq!(before.cash, money(i64::from(i32::MAX), "HKD"));
        assert_eq!(before.anomalies[0].kind, AnomalyKind::UnacceptedEnterprise);
        // Even accepted by the group's officers, keys outside its roster keep it out.
        let registration = before.unaccepted[0].registration;
        b.accept(registration);
        let (ledger, after) = b.portfolio();
        assert!(after.holdings.is_empty(), "{after:#?}");
        assert_eq!(after.cash, before.cash);
        assert!(
            after.unaccepted[0]
                .reason
                .contains("hold no role in the group")
        );
        let position = position(&ledger, &after, "m-ana").unwrap();
        assert!(position.enterprises.is_empty());
    }

    /// A node refuses money for a member who has left; a record that arrives anyway (from a
    /// peer) is flagged, not silently added to a balance nobody can take out.
    #[test]
    fn money_after_a_departure_is_flagged() {
        let (gt, gc) = group_officers();
        let mut b = ana_saved(500, (&gt, &gc));
        let contribution = Body::Contribution(Contribution {
            member: "m-ana".parse().unwrap(),
            amount: money(500, "HKD"),
            meeting: None,
        });
        b.add2(
            false,
            &gt,
            &gc,
            Body::Departure(Departure {
                member: "m-ana".parse().unwrap(),
                amount: money(500, "HKD"),
                settlement: Settlement::Payout,
                enterprise: None,
            }),
        );
        assert!(Ledger::fold(&b.savings).anomalies.is_empty());
        let late = b.add(false, &gt, contribution);
        let ledger = Ledger::fold(&b.savings);
        assert_eq!(ledger.anomalies.len(), 1, "{:?}", ledger.anomalies);
        assert_eq!(ledger.anomalies[0].kind, AnomalyKind::MoneyAfterDeparture);
        assert_eq!(ledger.anomalies[0].records, vec![late]);
    }

    /// A cooperative registers the group twice: first with its own keys, then with the
    /// group's officers. The group accepts the second. Transfers the cooperative's keys sign
    /// still hold the investor role in the enterprise book, but they do not speak for the group.
    #[test]
    fn only_the_accepted_registrations_keys_move_the_groups_money() {
        let (gt, gc) = group_officers();
        let (ct, cc) = (key(11), key(12));
        let mut b = ana_saved(50_000, (&ct, &cc));
        let group = b.savings.id();
        for officers in [
            vec![ct.public(), cc.public()],
            vec![gt.public(), gc.public()],
        ] {
            b.register((&ct, &cc), officers);
        }
        let registration = b.portfolio().1.unaccepted[0].registration;
        b.accept(registration);
        let transfer = |reference: &str| {
            Body::Transfer(Transfer {
                group,
                amount: money(20_000, "HKD"),
                fee: money(0, "HKD"),
                rate: "7.2".into(),
                rate_source: "quote".into(),
                expected: money(144_000, "PHP"),
                channel: "bank".into(),
                reference: reference.into(),
            })
        };
        b.add2(true, &ct, &cc, transfer("BY-THE-COOP"));
        let p = b.portfolio().1;
        assert_eq!(p.cash, money(50_000, "HKD"), "{p:#?}");
        assert_eq!(p.anomalies[0].kind, AnomalyKind::UnacceptedEnterprise);
        b.add2(true, &gt, &gc, transfer("BY-THE-GROUP"));
        let p = b.portfolio().1;
        assert_eq!(p.cash, money(30_000, "HKD"), "{p:#?}");
        assert_eq!(p.holdings[0].invested, money(20_000, "HKD"));

        // A return "received" by the cooperative's own key adds no cash to the group.
        b.return_received(
            (&ct, &cc),
            money(72_000, "PHP"),
            "bank",
            &ct,
            money(50_000, "HKD"),
        );
        let p = b.portfolio().1;
        assert_eq!(p.cash, money(30_000, "HKD"), "{p:#?}");
        assert_eq!(p.received_back, money(0, "HKD"));
    }
}
