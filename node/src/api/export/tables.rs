//! Every CSV table the node writes, each defined once as a list of columns: a column's header
//! and the cell it takes from a row sit on one line, so a header can never name another
//! column's value.
//!
//! A table whose rows need nothing but themselves is a `const`. A table whose cells also read
//! something around the row (the portfolio's totals, the enterprise's currency, the book's
//! stakes) gathers that into a small row type first; its columns are then a function, because
//! those rows borrow from the view they came from.

use super::{Column, Csv, amount, date};
use kaban_protocol::enterprise::{
    InvestorLine, MembershipLine, Reconciliation, ReportLine, ReturnLine, ReturnStatus,
    TransferLine, TransferStatus,
};
use kaban_protocol::money::{self, Money};
use kaban_protocol::portfolio::{Holding, ImpactRow, Portfolio};
use kaban_protocol::view::{Entry, Ledger, Member};

/// A savings book's portfolio: a row per enterprise it holds, then its totals.
pub fn portfolio(p: &Portfolio) -> Csv {
    let holdings = p.holdings.iter().map(Some);
    let rows: Vec<PortfolioRow<'_>> = holdings
        .chain([None])
        .map(|holding| PortfolioRow {
            portfolio: p,
            holding,
        })
        .collect();
    Csv::table(&portfolio_columns(), &rows)
}

/// One row of the portfolio: a holding, or with none the group's totals.
struct PortfolioRow<'a> {
    portfolio: &'a Portfolio,
    holding: Option<&'a Holding>,
}

impl PortfolioRow<'_> {
    /// A sum the portfolio keeps both per holding and for the whole group.
    fn money(&self, holding: fn(&Holding) -> Money, all: fn(&Portfolio) -> Money) -> String {
        amount(self.holding.map_or_else(|| all(self.portfolio), holding))
    }
}

#[rustfmt::skip] // One column a line: a table reads best as a table.
fn portfolio_columns<'a>() -> [Column<PortfolioRow<'a>>; 14] {
    [
        Column::new("enterprise", |r| r.holding.map_or("all".into(), |h| h.enterprise.to_string())),
        Column::new("name", |r| r.holding.map_or(&r.portfolio.name, |h| &h.name).clone()),
        Column::new("country", |r| or_blank(r.holding, |h| h.country.clone())),
        Column::new("currency", |r| r.portfolio.currency.to_string()),
        Column::new("invested", |r| r.money(|h| h.invested, |p| p.invested)),
        Column::new("fees", |r| r.money(|h| h.fees, |p| p.fees)),
        Column::new("in_transit", |r| r.money(|h| h.in_transit, in_transit)),
        Column::new("received_back", |r| r.money(|h| h.received_back, |p| p.received_back)),
        Column::new("converted", |r| r.money(|h| h.converted, |p| p.converted)),
        Column::new("outstanding", |r| r.money(|h| h.outstanding, |p| p.outstanding)),
        Column::new("distributed", |r| r.money(|h| h.distributed, |p| p.distributed)),
        Column::new("enterprise_currency", |r| or_blank(r.holding, |h| h.currency.to_string())),
        Column::new("capital_received", |r| or_blank(r.holding, |h| amount(h.capital_received))),
        Column::new("returns_paid", |r| or_blank(r.holding, |h| amount(h.returns_paid))),
    ]
}

/// What is in transit across all holdings; the portfolio keeps no total of its own for it.
fn in_transit(p: &Portfolio) -> Money {
    let minor = p.holdings.iter().map(|h| h.in_transit.minor);
    Money::new(minor.fold(0i64, i64::saturating_add), p.currency)
}

/// The investor groups of an enterprise book, with what each sent and was paid back.
pub fn investors(rec: &Reconciliation) -> Csv {
    let ccy = rec
        .enterprise
        .as_ref()
        .map(|e| e.currency.to_string())
        .unwrap_or_default();
    let rows: Vec<InvestorRow<'_>> = rec
        .investors
        .iter()
        .map(|line| InvestorRow {
            line,
            enterprise_currency: &ccy,
        })
        .collect();
    Csv::table(&investor_columns(), &rows)
}

/// An investor group, and the enterprise's currency its `received` and `returns_paid` are in.
struct InvestorRow<'a> {
    line: &'a InvestorLine,
    enterprise_currency: &'a str,
}

#[rustfmt::skip] // One column a line: a table reads best as a table.
fn investor_columns<'a>() -> [Column<InvestorRow<'a>>; 9] {
    [
        Column::new("group", |r| r.line.group.to_string()),
        Column::new("name", |r| r.line.name.clone()),
        Column::new("currency", |r| r.line.currency.to_string()),
        Column::new("quorum", |r| r.line.quorum.to_string()),
        Column::new("sent", |r| amount(r.line.sent)),
        Column::new("returns_received", |r| amount(r.line.returns_received)),
        Column::new("enterprise_currency", |r| r.enterprise_currency.to_owned()),
        Column::new("received", |r| amount(r.line.received)),
        Column::new("returns_paid", |r| amount(r.line.returns_paid)),
    ]
}

/// The tables of an enterprise book's dashboard by name, the default first, in the order a
/// refusal lists them.
pub const DASHBOARD: [(&str, DashboardTable); 5] = [
    ("investors", investors),
    ("transfers", transfers),
    ("reports", |rec| Csv::table(REPORTS, &rec.reports)),
    ("returns", |rec| Csv::table(RETURNS, &rec.returns)),
    ("memberships", |rec| {
        Csv::table(MEMBERSHIPS, &rec.memberships)
    }),
];

/// How one of the dashboard's tables is drawn from the book's reconciliation.
type DashboardTable = fn(&Reconciliation) -> Csv;

/// An enterprise book's reports, one row per report.
#[rustfmt::skip] // One column a line: a table reads best as a table.
const REPORTS: &[Column<ReportLine>] = &[
    Column::new("from", |r| r.report.period.from.clone()),
    Column::new("to", |r| r.report.period.to.clone()),
    Column::new("currency", |r| r.report.revenue.currency.to_string()),
    Column::new("revenue", |r| amount(r.report.revenue)),
    Column::new("costs", |r| amount(r.report.costs)),
    Column::new("surplus", |r| amount(r.surplus)),
    Column::new("jobs_women", |r| r.report.jobs.women.to_string()),
    Column::new("jobs_men", |r| r.report.jobs.men.to_string()),
    Column::new("members", |r| r.report.members.total.to_string()),
    Column::new("returnees", |r| r.report.members.returnees.to_string()),
    Column::new("indicators", |r| r.report.indicators.len().to_string()),
    Column::new("language", |r| r.report.narrative.language.clone()),
    Column::new("effective", |r| r.effective.to_string()),
    Column::new("record", |r| r.record.to_string()),
];

/// The returns an enterprise book paid its investor groups, with how far each got.
#[rustfmt::skip] // One column a line: a table reads best as a table.
const RETURNS: &[Column<ReturnLine>] = &[
    Column::new("date", |r| date(r.time_ms)),
    Column::new("group", |r| r.group_name.clone()),
    Column::new("currency", |r| r.payment.amount.currency.to_string()),
    Column::new("amount", |r| amount(r.payment.amount)),
    Column::new("channel", |r| r.payment.channel.clone()),
    Column::new("reference", |r| r.payment.reference.clone()),
    Column::new("status", |r| r.status.name().into()),
    Column::new("received", |r| or_blank(received_back(r), amount)),
    Column::new("received_currency", |r| or_blank(received_back(r), |m| m.currency.to_string())),
    Column::new("record", |r| r.record.to_string()),
];

/// What the group acknowledged receiving of a return, once it has.
fn received_back(line: &ReturnLine) -> Option<Money> {
    match line.status {
        ReturnStatus::Received { received } => Some(received),
        ReturnStatus::AwaitingApproval { .. } | ReturnStatus::Paid => None,
    }
}

/// The returning members an enterprise book admitted, converting their stakes.
#[rustfmt::skip] // One column a line: a table reads best as a table.
const MEMBERSHIPS: &[Column<MembershipLine>] = &[
    Column::new("date", |m| date(m.time_ms)),
    Column::new("group", |m| m.group_name.clone()),
    Column::new("member", |m| m.membership.member.to_string()),
    Column::new("stake", |m| amount(m.membership.stake)),
    Column::new("stake_currency", |m| m.membership.stake.currency.to_string()),
    Column::new("capital", |m| amount(m.membership.capital)),
    Column::new("capital_currency", |m| m.membership.capital.currency.to_string()),
    Column::new("rate", |m| m.membership.rate.clone()),
    Column::new("effective", |m| m.effective.to_string()),
    Column::new("departure", |m| m.membership.departure.to_string()),
    Column::new("record", |m| m.record.to_string()),
];

/// An enterprise book's transfers reconciled with their receipts.
pub fn transfers(rec: &Reconciliation) -> Csv {
    Csv::table(TRANSFERS, &rec.transfers)
}

#[rustfmt::skip] // One column a line: a table reads best as a table.
const TRANSFERS: &[Column<TransferLine>] = &[
    Column::new("date", |l| date(l.time_ms)),
    Column::new("group", |l| l.group_name.clone()),
    Column::new("currency", |l| l.transfer.amount.currency.to_string()),
    Column::new("amount", |l| amount(l.transfer.amount)),
    Column::new("fee", |l| amount(l.transfer.fee)),
    Column::new("rate", |l| l.transfer.rate.clone()),
    Column::new("rate_source", |l| l.transfer.rate_source.clone()),
    Column::new("expected_currency", |l| l.transfer.expected.currency.to_string()),
    Column::new("expected", |l| amount(l.transfer.expected)),
    Column::new("received", |l| or_blank(transfer_cells(l).received, amount)),
    Column::new("difference", |l| or_blank(transfer_cells(l).difference, amount)),
    Column::new("status", |l| l.status.name().into()),
    Column::new("days_overdue", |l| or_blank(transfer_cells(l).days_overdue, |d| d.to_string())),
    Column::new("channel", |l| l.transfer.channel.clone()),
    Column::new("reference", |l| l.transfer.reference.clone()),
    Column::new("record", |l| l.record.to_string()),
];

/// The figures a transfer's state carries, each in a column of its own.
struct TransferCells {
    received: Option<Money>,
    difference: Option<Money>,
    days_overdue: Option<u64>,
}

fn transfer_cells(line: &TransferLine) -> TransferCells {
    let (received, difference, days_overdue) = match &line.status {
        TransferStatus::AwaitingApproval { .. } | TransferStatus::Sent => (None, None, None),
        TransferStatus::Overdue { days } => (None, None, Some(*days)),
        TransferStatus::ReceivedInFull { received } => (Some(*received), None, None),
        TransferStatus::ReceivedWithDifference {
            received,
            difference,
        } => (Some(*received), Some(*difference), None),
    };
    TransferCells {
        received,
        difference,
        days_overdue,
    }
}

/// Impact indicators across enterprise books, one row per indicator of a report.
pub fn impact(rows: &[ImpactRow]) -> Csv {
    Csv::table(IMPACT, rows)
}

#[rustfmt::skip] // One column a line: a table reads best as a table.
const IMPACT: &[Column<ImpactRow>] = &[
    Column::new("principle", principle),
    Column::new("indicator", |r| r.indicator.clone()),
    Column::new("enterprise_name", |r| r.enterprise_name.clone()),
    Column::new("country", |r| r.country.clone()),
    Column::new("period_from", |r| r.period_from.clone()),
    Column::new("period_to", |r| r.period_to.clone()),
    Column::new("value", |r| money::decimal_text(r.value, r.decimals)),
    Column::new("unit", |r| r.unit.clone()),
    Column::new("enterprise", |r| r.enterprise.to_string()),
    Column::new("report", |r| r.report.to_string()),
];

/// A principle by its wire name, as the JSON view spells it.
fn principle(r: &ImpactRow) -> String {
    serde_json::to_value(r.principle)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Every member's balance in each currency she holds; a member with none shows a zero in the
/// book's currency, so every member has a row.
pub fn balances(l: &Ledger) -> Csv {
    let mut rows = Vec::new();
    for m in &l.members {
        let none = l.balance(&m.member).is_empty();
        let zero = l.currency.filter(|_| none).map(|c| Money::new(0, c));
        for balance in l.balance(&m.member).into_iter().chain(zero) {
            // The stake is in the book's currency, so only that currency's row shows it.
            let stake = (Some(balance.currency) == l.currency)
                .then(|| l.stakes.get(&m.member).copied().unwrap_or(0))
                .map(|s| Money::new(s, balance.currency));
            rows.push(BalanceRow {
                member: m,
                balance,
                stake,
            });
        }
    }
    Csv::table(&balance_columns(), &rows)
}

/// A member's balance in one currency, and her stake if that is the book's currency.
struct BalanceRow<'a> {
    member: &'a Member,
    balance: Money,
    stake: Option<Money>,
}

#[rustfmt::skip] // One column a line: a table reads best as a table.
fn balance_columns<'a>() -> [Column<BalanceRow<'a>>; 5] {
    [
        Column::new("member", |r| r.member.member.clone()),
        Column::new("alias", |r| r.member.alias.clone()),
        Column::new("currency", |r| r.balance.currency.to_string()),
        Column::new("balance", |r| amount(r.balance)),
        Column::new("stake", |r| or_blank(r.stake, amount)),
    ]
}

/// A member's statement entries.
pub fn statement(entries: &[Entry]) -> Csv {
    Csv::table(STATEMENT, entries)
}

#[rustfmt::skip] // One column a line: a table reads best as a table.
const STATEMENT: &[Column<Entry>] = &[
    Column::new("date", |e| date(e.time_ms)),
    Column::new("kind", |e| e.kind.clone()),
    Column::new("currency", |e| e.amount.currency.to_string()),
    Column::new("amount", |e| amount(e.amount)),
    Column::new("balance_after", |e| amount(e.balance_after)),
    Column::new("status", |e| e.status.name().into()),
    Column::new("signer", |e| e.signer.to_string()),
    Column::new("record", |e| e.record.to_string()),
];

/// A cell for a value a row may lack: empty when it does.
fn or_blank<T>(value: Option<T>, cell: impl FnOnce(T) -> String) -> String {
    value.map(cell).unwrap_or_default()
}
