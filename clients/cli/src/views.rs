//! Views: printed for a person, as JSON with `--json`, or written as CSV (and a statement as
//! printable HTML) with `--csv FILE` / `--html FILE`, where FILE `-` means standard output.

use crate::{Ctx, money_lines};
use anyhow::Context as _;
use clap::Args;
use serde_json::{Value, json};
use std::path::PathBuf;

/// Where a view goes besides the screen.
#[derive(Args)]
pub struct Export {
    /// Write the view as CSV to FILE ('-' for standard output).
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
}

#[derive(Args)]
pub struct BookView {
    #[arg(long)]
    book: String,
    #[command(flatten)]
    export: Export,
}

#[derive(Args)]
pub struct TransfersView {
    #[arg(long)]
    book: String,
    /// Days after which a transfer with no receipt is overdue.
    #[arg(long, default_value_t = 14)]
    overdue_days: u32,
    #[command(flatten)]
    export: Export,
}

#[derive(Args)]
pub struct DashboardView {
    #[arg(long)]
    book: String,
    /// With --csv: which table (investors, transfers, reports, returns, memberships).
    #[arg(long, default_value = "investors")]
    table: String,
    #[command(flatten)]
    export: Export,
}

#[derive(Args)]
pub struct StatementView {
    #[arg(long)]
    book: String,
    #[arg(long)]
    member: String,
    /// Write a printable A4 statement (HTML) to FILE ('-' for standard output).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// The printed statement's language: en, fil, id or bn.
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

fn m(v: &Value) -> String {
    money_lines(&json!([v]))
}

pub fn balances(ctx: &Ctx, a: BookView) -> anyhow::Result<()> {
    let path = format!("/books/{}/balances", a.book);
    if csv(ctx, &a.export, &path)? {
        return Ok(());
    }
    let (_, node) = ctx.session()?;
    let v = node.get(&path)?;
    let mut human = format!("group: {}\n", money_lines(&v["totals"]));
    for (member, balances) in v["members"].as_object().into_iter().flatten() {
        human.push_str(&format!(
            "  {member:<16} {:>16}  stake {}\n",
            money_lines(balances),
            v["stakes"][member]
        ));
    }
    ctx.print(human.trim_end(), v);
    Ok(())
}

pub fn portfolio(ctx: &Ctx, a: BookView) -> anyhow::Result<()> {
    let path = format!("/books/{}/portfolio", a.book);
    if csv(ctx, &a.export, &path)? {
        return Ok(());
    }
    let (_, node) = ctx.session()?;
    let v = node.get(&path)?;
    let mut human = format!(
        "{}\n  members' balances {}\n  cash              {}\n  invested          {}  (fees {})\n  received back     {}  (distributed {}, undistributed {})\n  converted         {}\n  outstanding       {}\n",
        v["name"].as_str().unwrap_or(""),
        m(&v["members_balances"]),
        m(&v["cash"]),
        m(&v["invested"]),
        m(&v["fees"]),
        m(&v["received_back"]),
        m(&v["distributed"]),
        m(&v["undistributed"]),
        m(&v["converted"]),
        m(&v["outstanding"]),
    );
    for h in v["holdings"].as_array().into_iter().flatten() {
        human.push_str(&format!(
            "{} ({}, {})\n  invested {}  in transit {}  arrived {}\n  received back {}  converted {}  outstanding {}\n",
            h["name"].as_str().unwrap_or(""),
            h["country"].as_str().unwrap_or(""),
            h["sector"].as_str().unwrap_or(""),
            m(&h["invested"]),
            m(&h["in_transit"]),
            m(&h["capital_received"]),
            m(&h["received_back"]),
            m(&h["converted"]),
            m(&h["outstanding"]),
        ));
    }
    for u in v["unaccepted"].as_array().into_iter().flatten() {
        human.push_str(&format!(
            "not accepted: {} ({}); accept it with kaban invest --book {} --enterprise {}\n",
            u["name"].as_str().unwrap_or(""),
            u["enterprise"].as_str().unwrap_or(""),
            a.book,
            u["enterprise"].as_str().unwrap_or(""),
        ));
    }
    for a in v["anomalies"].as_array().into_iter().flatten() {
        human.push_str(&format!("! {}\n", a["detail"].as_str().unwrap_or("")));
    }
    ctx.print(human.trim_end(), v);
    Ok(())
}

pub fn dashboard(ctx: &Ctx, a: DashboardView) -> anyhow::Result<()> {
    let path = format!("/books/{}/dashboard", a.book);
    if csv(ctx, &a.export, &format!("{path}?table={}", a.table))? {
        return Ok(());
    }
    let (_, node) = ctx.session()?;
    let v = node.get(&path)?;
    let e = &v["enterprise"];
    let mut human = format!(
        "{} ({}, {})\n  capital received {}  returns paid {}\ninvestors:\n",
        e["name"].as_str().unwrap_or(""),
        e["country"].as_str().unwrap_or(""),
        e["sector"].as_str().unwrap_or(""),
        m(&v["capital_received"]),
        m(&v["returns_paid"]),
    );
    for i in v["investors"].as_array().into_iter().flatten() {
        human.push_str(&format!(
            "  {}  sent {}  arrived {}  returns paid {}  acknowledged {}\n",
            i["name"].as_str().unwrap_or(""),
            m(&i["sent"]),
            m(&i["received"]),
            m(&i["returns_paid"]),
            m(&i["returns_received"]),
        ));
    }
    human.push_str("reports:\n");
    for r in v["reports"].as_array().into_iter().flatten() {
        human.push_str(&format!(
            "  {} to {}  revenue {}  costs {}  surplus {}  jobs {} women, {} men  members {} ({} returnees){}\n",
            r["period"]["from"].as_str().unwrap_or(""),
            r["period"]["to"].as_str().unwrap_or(""),
            m(&r["revenue"]),
            m(&r["costs"]),
            m(&r["surplus"]),
            r["jobs"]["women"],
            r["jobs"]["men"],
            r["members"]["total"],
            r["members"]["returnees"],
            if r["effective"] == json!(true) { "" } else { "  (awaiting approval)" },
        ));
    }
    human.push_str("returns:\n");
    for r in v["returns"].as_array().into_iter().flatten() {
        human.push_str(&format!(
            "  {}  {}  {}  {}{}\n",
            r["record"].as_str().unwrap_or(""),
            r["group_name"].as_str().unwrap_or(""),
            m(&r["amount"]),
            r["status"]["state"].as_str().unwrap_or(""),
            match r["status"]["received"].is_null() {
                true => String::new(),
                false => format!(" {}", m(&r["status"]["received"])),
            },
        ));
    }
    for ms in v["memberships"].as_array().into_iter().flatten() {
        human.push_str(&format!(
            "member {} of {} admitted with {} (stake {})\n",
            ms["member"].as_str().unwrap_or(""),
            ms["group_name"].as_str().unwrap_or(""),
            m(&ms["capital"]),
            m(&ms["stake"]),
        ));
    }
    for a in v["anomalies"].as_array().into_iter().flatten() {
        human.push_str(&format!("! {}\n", a["detail"].as_str().unwrap_or("")));
    }
    ctx.print(human.trim_end(), v);
    Ok(())
}

pub fn transfers(ctx: &Ctx, a: TransfersView) -> anyhow::Result<()> {
    let path = format!(
        "/books/{}/transfers?overdue_days={}",
        a.book, a.overdue_days
    );
    if csv(ctx, &a.export, &path)? {
        return Ok(());
    }
    let (_, node) = ctx.session()?;
    let v = node.get(&path)?;
    let mut human = String::new();
    for i in v["investors"].as_array().into_iter().flatten() {
        human.push_str(&format!(
            "{}  sent {}  received {}\n",
            i["name"].as_str().unwrap_or(""),
            m(&i["sent"]),
            m(&i["received"]),
        ));
    }
    for t in v["transfers"].as_array().into_iter().flatten() {
        let status = &t["status"];
        let state = status["state"].as_str().unwrap_or("");
        let detail = match state {
            "awaiting_approval" => {
                format!("{} of {} signatures", status["have"], status["need"])
            }
            "overdue" => format!("{} days", status["days"]),
            "received_in_full" => m(&status["received"]),
            "received_with_difference" => format!(
                "{}, difference {}",
                m(&status["received"]),
                m(&status["difference"])
            ),
            _ => String::new(),
        };
        human.push_str(&format!(
            "{}  {}  {} -> {}  {state} {detail}\n",
            t["record"].as_str().unwrap_or(""),
            t["group_name"].as_str().unwrap_or(""),
            m(&t["amount"]),
            m(&t["expected"]),
        ));
    }
    for a in v["anomalies"].as_array().into_iter().flatten() {
        human.push_str(&format!("! {}\n", a["detail"].as_str().unwrap_or("")));
    }
    ctx.print(human.trim_end(), v);
    Ok(())
}

pub fn impact(ctx: &Ctx, export: Export) -> anyhow::Result<()> {
    if csv(ctx, &export, "/impact")? {
        return Ok(());
    }
    let (_, node) = ctx.session()?;
    let v = node.get("/impact")?;
    let mut human = String::new();
    let mut principle = "";
    for r in v["indicators"].as_array().into_iter().flatten() {
        let p = r["principle"].as_str().unwrap_or("");
        if p != principle {
            human.push_str(&format!("{p}:\n"));
            principle = p;
        }
        let (value, decimals) = (
            r["value"].as_i64().unwrap_or(0),
            r["decimals"].as_u64().unwrap_or(0) as u32,
        );
        human.push_str(&format!(
            "  {:<24} {:<28} {} to {}  {} {}\n",
            r["indicator"].as_str().unwrap_or(""),
            r["enterprise_name"].as_str().unwrap_or(""),
            r["period_from"].as_str().unwrap_or(""),
            r["period_to"].as_str().unwrap_or(""),
            kaban_protocol::money::decimal_text(value, decimals),
            r["unit"].as_str().unwrap_or(""),
        ));
    }
    if human.is_empty() {
        human = "no effective reports in the enterprise books you can read".into();
    }
    ctx.print(human.trim_end(), v);
    Ok(())
}

pub fn statement(ctx: &Ctx, a: StatementView) -> anyhow::Result<()> {
    let mut query = Vec::new();
    for (name, value) in [("from", &a.from), ("to", &a.to)] {
        if let Some(v) = value {
            query.push(format!("{name}={v}"));
        }
    }
    let base = format!("/books/{}/members/{}/statement", a.book, a.member);
    let path = |extra: &[String]| {
        let all: Vec<String> = query.iter().chain(extra).cloned().collect();
        if all.is_empty() {
            base.clone()
        } else {
            format!("{base}?{}", all.join("&"))
        }
    };
    if let Some(file) = &a.html {
        let (_, node) = ctx.session()?;
        let html = node.get_text(&path(&["format=html".into(), format!("lang={}", a.lang)]))?;
        return write_out(file, &html);
    }
    if csv(ctx, &a.export, &path(&[]))? {
        return Ok(());
    }
    let (_, node) = ctx.session()?;
    let v = node.get(&path(&[]))?;
    let p = &v["position"];
    let mut human = format!(
        "{} ({}), {}\n  balance: {}\n  stake: {} of {}\n  returns received: {}\n",
        v["alias"].as_str().unwrap_or(""),
        a.member,
        v["group"].as_str().unwrap_or(""),
        m(&p["balance"]),
        m(&p["stake"]),
        m(&p["group_stake"]),
        m(&p["returns_received"]),
    );
    for e in p["enterprises"].as_array().into_iter().flatten() {
        human.push_str(&format!(
            "  share of {}: {}\n",
            e["name"].as_str().unwrap_or(""),
            m(&e["share"])
        ));
    }
    if !p["departure"].is_null() {
        human.push_str(&format!(
            "  left the group: {} by {}\n",
            m(&p["departure"]["amount"]),
            p["departure"]["settlement"].as_str().unwrap_or("")
        ));
    }
    for e in v["entries"].as_array().into_iter().flatten() {
        human.push_str(&format!(
            "  {:<12} {:>14}  {:<10} {}\n",
            e["kind"].as_str().unwrap_or(""),
            m(&e["amount"]),
            e["status"]["state"].as_str().unwrap_or(""),
            e["record"].as_str().unwrap_or("")
        ));
    }
    ctx.print(human.trim_end(), v);
    Ok(())
}
