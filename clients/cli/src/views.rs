//! Views: printed for a person, as JSON with `--json` (the node's answer, whole), or written as
//! CSV (and a statement as printable HTML) with `--csv FILE` / `--html FILE`, where FILE `-`
//! means standard output.

mod enterprise;

pub use enterprise::{DashboardView, TransfersView, dashboard, transfers};

use crate::context::Ctx;
use anyhow::Context as _;
use clap::Args;
use kaban_protocol::api;
use kaban_protocol::kind::{Principle, Settlement};
use kaban_protocol::money::Money;
use serde::de::DeserializeOwned;
use std::path::PathBuf;

/// Where a view goes besides the screen.
#[derive(Debug, Args)]
pub struct Export {
    /// Write the view as CSV to FILE ('-' for standard output).
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BookView {
    #[arg(long)]
    book: String,
    #[command(flatten)]
    export: Export,
}

#[derive(Debug, Args)]
pub struct StatementView {
    #[arg(long)]
    book: String,
    #[arg(long)]
    member: String,
    /// Write a printable A4 statement (HTML) to FILE ('-' for standard output).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// The printed statement's language: en, fil, id, bn or th.
    #[arg(long, default_value = "en")]
    lang: String,
    /// The period's first and last day, YYYY-MM-DD.
    #[arg(long)]
    from: Option<String>,
    #[arg(long)]
    to: Option<String>,
    #[command(flatten)]
    export: Export,
}

fn write_out(path: &PathBuf, text: &str) -> anyhow::Result<()> {
    if path.as_os_str() == "-" {
        use std::io::Write as _;
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
        return Ok(());
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// Fetches `path` as CSV into `--csv FILE` and returns true, or returns false if no CSV was
/// asked for.
fn csv(ctx: &Ctx, export: &Export, path: &str) -> anyhow::Result<bool> {
    let Some(file) = &export.csv else {
        return Ok(false);
    };
    let (_, node) = ctx.session()?;
    let sep = if path.contains('?') { '&' } else { '?' };
    write_out(file, &node.get_text(&format!("{path}{sep}format=csv"))?)?;
    Ok(true)
}

/// Shows the view at `path`: written as CSV when `--csv` asks for it, otherwise printed as
/// `text` words the answer (or, with `--json`, the answer whole).
fn show<T: DeserializeOwned>(
    ctx: &Ctx,
    export: &Export,
    path: &str,
    text: impl FnOnce(&T) -> String,
) -> anyhow::Result<()> {
    if csv(ctx, export, path)? {
        return Ok(());
    }
    print_view(ctx, path, text)
}

/// Prints the view at `path` as `text` words the answer (or, with `--json`, the answer whole).
fn print_view<T: DeserializeOwned>(
    ctx: &Ctx,
    path: &str,
    text: impl FnOnce(&T) -> String,
) -> anyhow::Result<()> {
    let (_, node) = ctx.session()?;
    let answer = node.get::<T>(path)?;
    ctx.print(text(&answer.body).trim_end(), &answer.raw);
    Ok(())
}

/// Amounts in several currencies, as "HKD 1,000.00, PHP 50.00".
pub fn money_list(list: &[Money]) -> String {
    list.iter()
        .map(Money::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// An amount the node may leave out, like an enterprise's capital before any arrived.
fn maybe_money(money: Option<Money>) -> String {
    money.map(|m| m.to_string()).unwrap_or_default()
}

/// Anomalies as `! detail` lines.
fn anomaly_lines(human: &mut String, anomalies: &[api::AnomalyLine]) {
    for a in anomalies {
        human.push_str(&format!("! {}\n", a.detail));
    }
}

pub fn balances(ctx: &Ctx, a: BookView) -> anyhow::Result<()> {
    let path = format!("/books/{}/balances", a.book);
    show(ctx, &a.export, &path, balances_text)
}

fn balances_text(v: &api::views::Balances) -> String {
    let mut human = format!("group: {}\n", money_list(&v.totals));
    for (member, balances) in &v.members {
        // A member who left holds no stake; the node lists none for her.
        let stake = v
            .stakes
            .get(member)
            .map_or_else(|| "null".to_owned(), i64::to_string);
        human.push_str(&format!(
            "  {member:<16} {:>16}  stake {stake}\n",
            money_list(balances),
        ));
    }
    human
}

pub fn portfolio(ctx: &Ctx, a: BookView) -> anyhow::Result<()> {
    let path = format!("/books/{}/portfolio", a.book);
    show(ctx, &a.export, &path, |v| portfolio_text(v, &a.book))
}

/// The portfolio of `book`, as the officer typed it.
fn portfolio_text(v: &api::views::Portfolio, book: &str) -> String {
    let mut human = format!(
        "{}\n  members' balances {}\n  cash              {}\n  invested          {}  (fees {})\n  received back     {}  (distributed {}, undistributed {})\n  converted         {}\n  outstanding       {}\n",
        v.name,
        v.members_balances,
        v.cash,
        v.invested,
        v.fees,
        v.received_back,
        v.distributed,
        v.undistributed,
        v.converted,
        v.outstanding,
    );
    for h in &v.holdings {
        human.push_str(&format!(
            "{} ({}, {})\n  invested {}  in transit {}  arrived {}\n  received back {}  converted {}  outstanding {}\n",
            h.name,
            h.country,
            h.sector,
            h.invested,
            h.in_transit,
            h.capital_received,
            h.received_back,
            h.converted,
            h.outstanding,
        ));
    }
    for u in &v.unaccepted {
        human.push_str(&format!(
            "not accepted: {} ({}); accept it with kaban invest --book {} --enterprise {}\n",
            u.name, u.enterprise, book, u.enterprise,
        ));
    }
    anomaly_lines(&mut human, &v.anomalies);
    human
}

/// A principle's name, as reports and the impact view spell it.
fn principle_name(p: Principle) -> &'static str {
    match p {
        Principle::Viability => "viability",
        Principle::GenderEquality => "gender_equality",
        Principle::EcologicalSustainability => "ecological_sustainability",
        Principle::SocialJustice => "social_justice",
    }
}

pub fn impact(ctx: &Ctx, export: Export) -> anyhow::Result<()> {
    show(ctx, &export, "/impact", impact_text)
}

fn impact_text(v: &api::views::Impact) -> String {
    let mut human = String::new();
    let mut principle = None;
    for r in &v.indicators {
        if principle != Some(r.principle) {
            human.push_str(&format!("{}:\n", principle_name(r.principle)));
            principle = Some(r.principle);
        }
        human.push_str(&format!(
            "  {:<24} {:<28} {} to {}  {} {}\n",
            r.indicator,
            r.enterprise_name,
            r.period_from,
            r.period_to,
            kaban_protocol::money::decimal_text(r.value, r.decimals),
            r.unit,
        ));
    }
    if human.is_empty() {
        human = "no effective reports in the enterprise books you can read".into();
    }
    human
}

/// The statement's path with the period and any `extra` query.
fn statement_path(a: &StatementView, extra: &[String]) -> String {
    let base = format!("/books/{}/members/{}/statement", a.book, a.member);
    let period = [("from", &a.from), ("to", &a.to)]
        .into_iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| format!("{name}={v}")));
    let all: Vec<String> = period.chain(extra.iter().cloned()).collect();
    if all.is_empty() {
        base
    } else {
        format!("{base}?{}", all.join("&"))
    }
}

pub fn statement(ctx: &Ctx, a: StatementView) -> anyhow::Result<()> {
    if let Some(file) = &a.html {
        let (_, node) = ctx.session()?;
        let extra = ["format=html".to_owned(), format!("lang={}", a.lang)];
        let html = node.get_text(&statement_path(&a, &extra))?;
        return write_out(file, &html);
    }
    show(ctx, &a.export, &statement_path(&a, &[]), |v| {
        statement_text(&a.member, v)
    })
}

fn statement_text(member: &str, v: &api::views::Statement) -> String {
    let p = &v.position;
    let mut human = format!(
        "{} ({member}), {}\n  balance: {}\n  stake: {} of {}\n  returns received: {}\n",
        v.alias, v.group, p.balance, p.stake, p.group_stake, p.returns_received,
    );
    for e in &p.enterprises {
        human.push_str(&format!("  share of {}: {}\n", e.name, e.share));
    }
    if let Some(d) = &p.departure {
        let settlement = match d.departure.settlement {
            Settlement::Payout => "payout",
            Settlement::Conversion => "conversion",
        };
        human.push_str(&format!(
            "  left the group: {} by {settlement}\n",
            d.departure.amount
        ));
    }
    for e in &v.entries {
        human.push_str(&format!(
            "  {:<12} {:>14}  {:<10} {}\n",
            e.kind,
            e.amount.to_string(),
            e.status.name(),
            e.record
        ));
    }
    human
}
