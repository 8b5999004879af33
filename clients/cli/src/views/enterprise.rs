//! An enterprise book's views: the dashboard (investors, reports, returns, memberships) and the
//! reconciliation of transfers with their receipts.

use super::{Export, anomaly_lines, csv, maybe_money, print_view, show};
use crate::context::Ctx;
use clap::Args;
use kaban_protocol::api;
use kaban_protocol::api::enterprise::Dashboard;
use kaban_protocol::enterprise::{ReturnStatus, TransferStatus};

#[derive(Debug, Args)]
pub struct TransfersView {
    #[arg(long)]
    book: String,
    /// Days after which a transfer with no receipt is overdue.
    #[arg(long, default_value_t = 14)]
    overdue_days: u32,
    #[command(flatten)]
    export: Export,
}

#[derive(Debug, Args)]
pub struct DashboardView {
    #[arg(long)]
    book: String,
    /// With --csv: which table (investors, transfers, reports, returns, memberships).
    #[arg(long, default_value = "investors")]
    table: String,
    #[command(flatten)]
    export: Export,
}

pub fn dashboard(ctx: &Ctx, a: DashboardView) -> anyhow::Result<()> {
    let path = format!("/books/{}/dashboard", a.book);
    if csv(ctx, &a.export, &format!("{path}?table={}", a.table))? {
        return Ok(());
    }
    print_view(ctx, &path, dashboard_text)
}

fn dashboard_text(v: &Dashboard) -> String {
    let mut human = dashboard_head(v);
    human.push_str("reports:\n");
    dashboard_reports(&mut human, v);
    human.push_str("returns:\n");
    for r in &v.returns {
        let received = match &r.status {
            ReturnStatus::Received { received } => format!(" {received}"),
            _ => String::new(),
        };
        human.push_str(&format!(
            "  {}  {}  {}  {}{received}\n",
            r.record,
            r.group_name,
            r.payment.amount,
            r.status.name(),
        ));
    }
    for ms in &v.memberships {
        human.push_str(&format!(
            "member {} of {} admitted with {} (stake {})\n",
            ms.membership.member, ms.group_name, ms.membership.capital, ms.membership.stake,
        ));
    }
    anomaly_lines(&mut human, &v.anomalies);
    human
}

/// The enterprise, its totals, and its investors.
fn dashboard_head(v: &Dashboard) -> String {
    let (name, country, sector) = v.enterprise.as_ref().map_or(("", "", ""), |e| {
        (e.name.as_str(), e.country.as_str(), e.sector.as_str())
    });
    let mut human = format!(
        "{name} ({country}, {sector})\n  capital received {}  returns paid {}\ninvestors:\n",
        maybe_money(v.capital_received),
        maybe_money(v.returns_paid),
    );
    for i in &v.investors {
        human.push_str(&format!(
            "  {}  sent {}  arrived {}  returns paid {}  acknowledged {}\n",
            i.name, i.sent, i.received, i.returns_paid, i.returns_received,
        ));
    }
    human
}

fn dashboard_reports(human: &mut String, v: &Dashboard) {
    for r in &v.reports {
        let rep = &r.report;
        human.push_str(&format!(
            "  {} to {}  revenue {}  costs {}  surplus {}  jobs {} women, {} men  members {} ({} returnees){}\n",
            rep.period.from,
            rep.period.to,
            rep.revenue,
            rep.costs,
            r.surplus,
            rep.jobs.women,
            rep.jobs.men,
            rep.members.total,
            rep.members.returnees,
            if r.effective { "" } else { "  (awaiting approval)" },
        ));
    }
}

/// What a transfer's state adds after its name.
fn transfer_detail(status: &TransferStatus) -> String {
    match status {
        TransferStatus::AwaitingApproval { have, need } => {
            format!("{have} of {need} signatures")
        }
        TransferStatus::Overdue { days } => format!("{days} days"),
        TransferStatus::ReceivedInFull { received } => received.to_string(),
        TransferStatus::ReceivedWithDifference {
            received,
            difference,
        } => format!("{received}, difference {difference}"),
        TransferStatus::Sent => String::new(),
    }
}

pub fn transfers(ctx: &Ctx, a: TransfersView) -> anyhow::Result<()> {
    let path = format!(
        "/books/{}/transfers?overdue_days={}",
        a.book, a.overdue_days
    );
    show(ctx, &a.export, &path, transfers_text)
}

fn transfers_text(v: &api::enterprise::Transfers) -> String {
    let mut human = String::new();
    for i in &v.investors {
        human.push_str(&format!(
            "{}  sent {}  received {}\n",
            i.name, i.sent, i.received,
        ));
    }
    for t in &v.transfers {
        human.push_str(&format!(
            "{}  {}  {} -> {}  {} {}\n",
            t.record,
            t.group_name,
            t.transfer.amount,
            t.transfer.expected,
            t.status.name(),
            transfer_detail(&t.status),
        ));
    }
    anomaly_lines(&mut human, &v.anomalies);
    human
}
