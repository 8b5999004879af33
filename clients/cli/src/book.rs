//! `kaban book`: founding a book, listing the books you can read, an officer's summary of one,
//! and the operator's removal of a book nobody depends on.

use crate::context::{Ctx, now_ms};
use crate::node::Node;
use crate::views::money_list;
use anyhow::{anyhow, bail};
use clap::{Args, Subcommand};
use kaban_protocol::api;
use kaban_protocol::key::{PublicKey, SignerKey};
use kaban_protocol::kind::{Body, Enterprise, Genesis, Officer, Role, Rules, StakeRule};
use kaban_protocol::record::{Place, Record};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Subcommand)]
pub enum BookCommand {
    /// Found a book; the --key holder is its founding treasurer. Prints the book id.
    Create(CreateArgs),
    /// The books you can read (all of them with --admin-token).
    List,
    /// Remove a book from the node (needs --admin-token): only one no partner shares and in
    /// which no officer of another book on the node holds a role, like a stranger's book.
    Remove {
        #[arg(long)]
        book: String,
        /// The book's name, to confirm which book goes.
        #[arg(long)]
        name: String,
    },
    /// Totals, record count, members, pending approvals and anomalies.
    Show {
        #[arg(long)]
        book: String,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[arg(long)]
    name: String,
    #[arg(long)]
    currency: String,
    /// Another founding officer, as PUBKEY:ROLE (treasurer, chair, secretary, key_holder).
    // Public keys are base64url and may start with '-'.
    #[arg(long = "officer", allow_hyphen_values = true)]
    officers: Vec<String>,
    /// How many officers must sign a withdrawal (default 2).
    #[arg(long)]
    withdrawal_quorum: Option<u32>,
    /// What decides a member's stake when returns are distributed: balance (the default)
    /// or contributions.
    #[arg(long, value_parser = ["balance", "contributions"])]
    stake: Option<String>,
    /// Found an enterprise book (a cooperative's): the enterprise's country, like PH.
    #[arg(long, requires = "sector")]
    country: Option<String>,
    /// The enterprise's sector, like "organic rice farming".
    #[arg(long, requires = "country")]
    sector: Option<String>,
    /// The node's one-time setup code (it prints one when it starts with no books;
    /// `kaban-node setup-code` prints a fresh one). Or pass --admin-token.
    #[arg(long, env = "KABAN_SETUP_CODE")]
    setup_code: Option<String>,
}

/// What `kaban book create` prints with `--json`.
#[derive(Debug, Serialize)]
struct CreatedOut {
    book: String,
}

pub fn run(ctx: &Ctx, command: BookCommand) -> anyhow::Result<()> {
    match command {
        BookCommand::Create(args) => create(ctx, args),
        BookCommand::List => list(ctx),
        BookCommand::Remove { book, name } => {
            let name = encode_query(&name);
            let answer = ctx
                .admin()?
                .delete::<api::book::Removed>(&format!("/admin/books/{book}?name={name}"))?;
            ctx.print(format!("removed book {book} from this node"), &answer.raw);
            Ok(())
        }
        BookCommand::Show { book } => show(ctx, &book),
    }
}

/// Whoever may found a book on this node: the setup code's holder, or the operator.
fn founder(ctx: &Ctx, setup_code: Option<String>) -> anyhow::Result<Node> {
    match (setup_code, &ctx.admin_token) {
        (Some(code), _) => Ok(ctx.node().with_setup_code(code)),
        (None, Some(_)) => ctx.admin(),
        (None, None) => bail!(
            "founding a book needs the node's setup code (--setup-code; the node prints one when it starts with no books, and `kaban-node setup-code` prints a fresh one) or --admin-token FILE"
        ),
    }
}

/// The founding officers: the key holder as treasurer, and each `--officer PUBKEY:ROLE`.
fn founding_officers(key: &SignerKey, officers: &[String]) -> anyhow::Result<Vec<Officer>> {
    let mut roles: BTreeMap<PublicKey, Vec<Role>> = BTreeMap::new();
    roles.entry(key.public()).or_default().push(Role::Treasurer);
    for o in officers {
        let (k, r) = o
            .rsplit_once(':')
            .ok_or_else(|| anyhow!("--officer {o:?} must be PUBKEY:ROLE"))?;
        let role: Role = r.parse().map_err(|e: String| anyhow!(e))?;
        let list = roles.entry(k.parse()?).or_default();
        if !list.contains(&role) {
            list.push(role);
        }
    }
    Ok(roles
        .into_iter()
        .map(|(key, roles)| Officer { key, roles })
        .collect())
}

fn create(ctx: &Ctx, a: CreateArgs) -> anyhow::Result<()> {
    let founder = founder(ctx, a.setup_code)?;
    let key = ctx.key()?;
    let currency = a.currency.parse()?;
    let officers = founding_officers(&key, &a.officers)?;
    let mut rules = Rules::default();
    if let Some(q) = a.withdrawal_quorum {
        rules.quorum.insert("withdrawal".into(), q);
    }
    rules.stake = match a.stake.as_deref() {
        Some("contributions") => Some(StakeRule::Contributions),
        Some(_) => Some(StakeRule::Balance),
        None => None,
    };
    let body = Body::Genesis(Genesis {
        enterprise: a
            .country
            .zip(a.sector)
            .map(|(country, sector)| Enterprise { country, sector }),
        name: a.name,
        currency,
        rules,
        officers,
    });
    let record = Record::try_sign(&key, &Place::genesis(), now_ms(), &body)?;
    let created: api::book::Created = founder.post_bytes("/books", record.bytes().to_vec())?.body;
    let book = created.book.to_string();
    ctx.print(&book, &CreatedOut { book: book.clone() });
    Ok(())
}

fn list(ctx: &Ctx) -> anyhow::Result<()> {
    let node = match &ctx.admin_token {
        Some(_) => ctx.admin()?,
        None => ctx.session()?.1,
    };
    let answer = node.get::<api::book::BookList>("/books")?;
    let human = answer
        .body
        .books
        .iter()
        .map(|listed| {
            // A book that has not arrived from its partner has no currency yet, so it shows
            // none; that is the node's answer, not a field it failed to send.
            let b = &listed.book;
            format!(
                "{}  {} ({}, {} records)",
                b.book,
                b.name,
                b.currency.as_deref().unwrap_or(""),
                b.record_count
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let human = if human.is_empty() {
        "no books".to_owned()
    } else {
        human
    };
    ctx.print(human, &answer.raw);
    Ok(())
}

fn show(ctx: &Ctx, book: &str) -> anyhow::Result<()> {
    let (_, node) = ctx.session()?;
    let answer = node.get::<api::book::Summary>(&format!("/books/{book}"))?;
    let v = &answer.body;
    let anomalies = if v.anomalies.is_empty() {
        "none".to_owned()
    } else {
        v.anomalies
            .iter()
            .map(|x| format!("\n    {}: {}", x.kind, x.detail))
            .collect()
    };
    let human = format!(
        "{}\n  book: {book}\n  totals: {}\n  records: {}\n  members: {}\n  pending approvals: {}\n  anomalies: {anomalies}",
        v.name,
        money_list(&v.balances),
        v.record_count,
        v.members,
        v.pending.len(),
    );
    ctx.print(human, &answer.raw);
    Ok(())
}

/// `text` as a URL query value: unreserved characters as they are, everything else as %XX.
fn encode_query(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
