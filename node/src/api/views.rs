//! The money views, each as JSON or, with `?format=csv`, as CSV; a member's statement also as a
//! print-ready HTML page (`?format=html&lang=fil`).
//!
//! Portfolio and impact join several books: they read the savings book's ledger and the
//! reconciliation of every enterprise book this node holds (see `kaban_protocol::portfolio`).

use super::export::{self, Csv, date};
use super::{AppState, Caller, Problem, Reader, Shared, officer_ledger, parse_book, reader_of};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use kaban_protocol::api;
use kaban_protocol::enterprise::{DEFAULT_OVERDUE_DAYS, Reconciliation};
use kaban_protocol::portfolio::{self, Portfolio, Position};
use kaban_protocol::record::BookId;
use kaban_protocol::view::{Anomaly, Entry, Ledger};
use serde::Deserialize;
use std::sync::Arc;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewQuery {
    /// `json` (the default), `csv`, or for statements `html`.
    format: Option<String>,
    /// Which table of a view with several, for CSV.
    table: Option<String>,
    /// Days after which a transfer with no receipt is overdue.
    overdue_days: Option<u32>,
    /// Language of a printed statement: en, fil, id, bn, th.
    lang: Option<String>,
    /// Period of a statement, as dates `YYYY-MM-DD` (inclusive).
    from: Option<String>,
    to: Option<String>,
}

/// What the OpenAPI document says each view's query takes; [`ViewQuery`] reads them all.
mod query {
    #![allow(dead_code)]
    use utoipa::{IntoParams, ToSchema};

    /// A view as JSON (the default) or CSV.
    #[derive(ToSchema)]
    #[schema(rename_all = "lowercase")]
    pub enum Tabular {
        Json,
        Csv,
    }

    /// A statement as JSON (the default), CSV, or a printable HTML page.
    #[derive(ToSchema)]
    #[schema(rename_all = "lowercase")]
    pub enum Printable {
        Json,
        Csv,
        Html,
    }

    /// The languages a statement is printed in.
    #[derive(ToSchema)]
    #[schema(rename_all = "lowercase")]
    pub enum Language {
        En,
        Fil,
        Id,
        Bn,
        Th,
    }

    /// The dashboard's tables, for CSV.
    #[derive(ToSchema)]
    #[schema(rename_all = "lowercase")]
    pub enum Table {
        Investors,
        Transfers,
        Reports,
        Returns,
        Memberships,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct TableQuery {
        /// JSON (the default) or CSV.
        pub format: Option<Tabular>,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct ReconciledQuery {
        /// JSON (the default) or CSV.
        pub format: Option<Tabular>,
        /// Days after which a transfer with no receipt is overdue (default 14).
        #[param(value_type = Option<i64>, minimum = 0, maximum = 3650)]
        pub overdue_days: Option<u32>,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct DashboardQuery {
        /// JSON (the default) or CSV.
        pub format: Option<Tabular>,
        /// Which table, as CSV (default investors).
        pub table: Option<Table>,
        /// Days after which a transfer with no receipt is overdue (default 14).
        #[param(value_type = Option<i64>, minimum = 0, maximum = 3650)]
        pub overdue_days: Option<u32>,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct StatementQuery {
        /// JSON (the default), CSV, or a printable HTML page.
        pub format: Option<Printable>,
        /// The printed page's language (default en).
        pub lang: Option<Language>,
        /// The period's first day, inclusive.
        #[param(value_type = Option<String>, format = Date)]
        pub from: Option<String>,
        /// The period's last day, inclusive.
        #[param(value_type = Option<String>, format = Date)]
        pub to: Option<String>,
    }
}
use query::{DashboardQuery, ReconciledQuery, StatementQuery, TableQuery};
pub(super) use query::{Language, Printable, Table, Tabular};

/// The longest a transfer may go without a receipt before it is overdue, in days.
pub const MAX_OVERDUE_DAYS: u32 = 3650;

/// How a view of one book is asked for: the node's state, who asks, the book as the path
/// names it, and the view's query.
type BookView = (Shared, HeaderMap, Path<String>, Query<ViewQuery>);

enum Format {
    Json,
    Csv,
    Html,
}

impl ViewQuery {
    fn format(&self, html: bool) -> Result<Format, Problem> {
        match self.format.as_deref() {
            None | Some("json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            Some("html") if html => Ok(Format::Html),
            Some(other) => Err(Problem::bad_request(
                "unknown_format",
                format!(
                    "format {other:?} is not one of json, csv{}",
                    if html { ", html" } else { "" }
                ),
            )),
        }
    }

    /// The words of the language a printed statement is asked in (English by default).
    fn words(&self) -> Result<&'static export::Words, Problem> {
        let lang = self.lang.as_deref().unwrap_or("en");
        export::words(lang).ok_or_else(|| {
            Problem::bad_request(
                "unknown_language",
                format!(
                    "statements are printed in {}; {lang:?} is not one of them",
                    export::LANGUAGES.join(", ")
                ),
            )
        })
    }

    fn overdue_days(&self) -> Result<u32, Problem> {
        match self.overdue_days.unwrap_or(DEFAULT_OVERDUE_DAYS) {
            days if days <= MAX_OVERDUE_DAYS => Ok(days),
            days => Err(Problem::bad_request(
                "out_of_range",
                format!("overdue_days {days} is more than {MAX_OVERDUE_DAYS} (ten years)"),
            )),
        }
    }
}

fn csv_response(name: &str, csv: &Csv) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.csv\""),
            ),
        ],
        csv.render(),
    )
        .into_response()
}

/// The reconciliations of the enterprise books the caller may read.
async fn readable_enterprises(
    s: &AppState,
    headers: &HeaderMap,
    overdue_days: u32,
) -> Result<Vec<(BookId, Arc<Reconciliation>)>, Problem> {
    let Caller::Person(key) = s.auth.caller(headers)? else {
        return Err(Problem::forbidden(
            "the admin token administers the node but does not read books; use an officer's session",
        ));
    };
    Ok(s.library
        .enterprises((s.clock)(), overdue_days)
        .await
        .into_iter()
        .filter(|(_, _, ledger)| reader_of(ledger, &key) == Some(Reader::Officer))
        .map(|(id, rec, _)| (id, rec))
        .collect())
}

/// A savings book's portfolio, from every enterprise book this node holds (the group's officers
/// hold the investor role in each, so they may read them).
async fn portfolio_of(s: &AppState, id: BookId, ledger: &Ledger, overdue_days: u32) -> Portfolio {
    let enterprises = s.library.enterprises((s.clock)(), overdue_days).await;
    let refs: Vec<(BookId, &Reconciliation)> = enterprises
        .iter()
        .map(|(id, rec, _)| (*id, rec.as_ref()))
        .collect();
    portfolio::portfolio(id, ledger, &refs)
}

#[utoipa::path(get, path = "/api/v1/books/{book}/portfolio", tag = "views", security(("session" = [])), params(("book" = kaban_protocol::record::BookId, Path, description = "The book's id"), ReconciledQuery), responses((status = 200, description = "A savings book's cash, and invested, received back and outstanding per enterprise (JSON; CSV with ?format=csv)", content((kaban_protocol::portfolio::Portfolio<Anomaly> = "application/json"), (String = "text/csv")))))]
pub async fn portfolio(view: BookView) -> Result<Response, Problem> {
    let (State(s), headers, Path(book), Query(q)) = view;
    let format = q.format(false)?;
    let ledger = officer_ledger(&s, &headers, &book).await?;
    let id = parse_book(&book)?;
    let p = portfolio_of(&s, id, &ledger, q.overdue_days()?).await;
    Ok(match format {
        Format::Csv => csv_response("portfolio", &export::portfolio(&p)),
        _ => axum::Json(&p).into_response(),
    })
}

#[utoipa::path(get, path = "/api/v1/books/{book}/dashboard", tag = "views", security(("session" = [])), params(("book" = kaban_protocol::record::BookId, Path, description = "The book's id"), DashboardQuery), responses((status = 200, description = "An enterprise book's investors, capital, transfers, reports, returns and memberships (JSON; CSV with ?format=csv)", content((Reconciliation<Anomaly> = "application/json"), (String = "text/csv")))))]
pub async fn dashboard(view: BookView) -> Result<Response, Problem> {
    let (State(s), headers, Path(book), Query(q)) = view;
    let format = q.format(false)?;
    // The table is checked whatever the format, so a wrong one never passes unnoticed.
    let table = q.table.as_deref().unwrap_or(export::DASHBOARD[0].0);
    let Some((_, csv)) = export::DASHBOARD.iter().find(|(name, _)| *name == table) else {
        let names: Vec<&str> = export::DASHBOARD.iter().map(|(name, _)| *name).collect();
        return Err(Problem::bad_request(
            "unknown_table",
            format!(
                "the dashboard has no table {table:?}; its tables are {}",
                names.join(", ")
            ),
        ));
    };
    let rec = reconciliation(&s, &headers, &book, q.overdue_days()?).await?;
    let Format::Csv = format else {
        return Ok(axum::Json(rec.as_ref()).into_response());
    };
    Ok(csv_response(&format!("dashboard-{table}"), &csv(&rec)))
}

async fn reconciliation(
    s: &AppState,
    headers: &HeaderMap,
    book: &str,
    overdue_days: u32,
) -> Result<Arc<Reconciliation>, Problem> {
    officer_ledger(s, headers, book).await?;
    let id = parse_book(book)?;
    let rec = s
        .library
        .reconciliation(id, (s.clock)(), overdue_days)
        .await?;
    if rec.enterprise.is_none() {
        return Err(Problem::bad_request(
            "not_an_enterprise_book",
            format!("book {id} is a savings book; its investments show in its portfolio"),
        ));
    }
    Ok(rec)
}

/// An enterprise book's transfers reconciled with their receipts.
#[utoipa::path(get, path = "/api/v1/books/{book}/transfers", tag = "views", security(("session" = [])), params(("book" = kaban_protocol::record::BookId, Path, description = "The book's id"), ReconciledQuery), responses((status = 200, description = "An enterprise book's transfers reconciled with their receipts (JSON; CSV with ?format=csv)", content((api::enterprise::Transfers<kaban_protocol::enterprise::EnterpriseInfo, kaban_protocol::enterprise::InvestorLine, kaban_protocol::enterprise::TransferLine, Anomaly> = "application/json"), (String = "text/csv")))))]
pub async fn transfers(view: BookView) -> Result<Response, Problem> {
    let (State(s), headers, Path(book), Query(q)) = view;
    let format = q.format(false)?;
    let rec = reconciliation(&s, &headers, &book, q.overdue_days()?).await?;
    Ok(match format {
        Format::Csv => csv_response("transfers", &export::transfers(&rec)),
        _ => axum::Json(api::enterprise::Transfers {
            enterprise: rec.enterprise.as_ref(),
            investors: rec.investors.iter().collect(),
            transfers: rec.transfers.iter().collect(),
            anomalies: rec.anomalies.iter().collect(),
        })
        .into_response(),
    })
}

/// Impact indicators across every enterprise book the caller may read on this node.
#[utoipa::path(get, path = "/api/v1/impact", tag = "views", security(("session" = [])), params(ReconciledQuery), responses((status = 200, description = "Impact indicators by principle across the enterprise books the caller may read (JSON; CSV with ?format=csv)", content((api::views::Impact = "application/json"), (String = "text/csv")))))]
pub async fn impact(
    State(s): Shared,
    headers: HeaderMap,
    Query(q): Query<ViewQuery>,
) -> Result<Response, Problem> {
    let format = q.format(false)?;
    let enterprises = readable_enterprises(&s, &headers, q.overdue_days()?).await?;
    let refs: Vec<(BookId, &Reconciliation)> = enterprises
        .iter()
        .map(|(id, rec)| (*id, rec.as_ref()))
        .collect();
    let rows = portfolio::impact(&refs);
    Ok(match format {
        Format::Csv => csv_response("impact", &export::impact(&rows)),
        _ => axum::Json(api::views::Impact {
            enterprises: enterprises.len(),
            indicators: rows,
        })
        .into_response(),
    })
}

#[utoipa::path(get, path = "/api/v1/books/{book}/balances", tag = "views", security(("session" = [])), params(("book" = kaban_protocol::record::BookId, Path, description = "The book's id"), TableQuery), responses((status = 200, description = "Totals, balances and stakes per member (JSON; CSV with ?format=csv)", content((api::views::Balances = "application/json"), (String = "text/csv")))))]
pub async fn balances(view: BookView) -> Result<Response, Problem> {
    let (State(s), headers, Path(book), Query(q)) = view;
    let format = q.format(false)?;
    let l = officer_ledger(&s, &headers, &book).await?;
    Ok(match format {
        Format::Csv => csv_response("balances", &export::balances(&l)),
        _ => axum::Json(api::views::Balances {
            totals: l.totals.clone(),
            members: l.balances.clone(),
            stakes: l.stakes.clone(),
        })
        .into_response(),
    })
}

/// A member's statement: her entries, balance, stake, returns and share of each enterprise.
#[utoipa::path(get, path = "/api/v1/books/{book}/members/{member}/statement", tag = "views", security(("session" = [])), params(("book" = kaban_protocol::record::BookId, Path, description = "The book's id"), ("member" = kaban_protocol::kind::MemberId, Path, description = "The member's id in the book"), StatementQuery), responses((status = 200, description = "Her statement: entries in the period, stake, returns and share of each enterprise (JSON; CSV with ?format=csv, a printable page with ?format=html)", content((api::views::Statement = "application/json"), (String = "text/csv"), (String = "text/html")))))]
pub async fn statement(
    State(s): Shared,
    headers: HeaderMap,
    Path((book, member)): Path<(String, String)>,
    Query(q): Query<ViewQuery>,
) -> Result<Response, Problem> {
    let format = q.format(true)?;
    // The language is checked whatever the format, so a wrong one never passes unnoticed.
    let words = q.words()?;
    let st = member_statement(&s, &headers, &book, &member, &q).await?;
    Ok(match format {
        Format::Json => axum::Json(api::views::Statement {
            book,
            group: st.ledger.name.clone(),
            group_totals: st.ledger.totals.clone(),
            member,
            alias: st.position.alias.clone(),
            balances: vec![st.position.balance],
            position: st.position,
            entries: st.entries,
        })
        .into_response(),
        Format::Csv => csv_response(
            &format!("statement-{member}"),
            &export::statement(&st.entries),
        ),
        Format::Html => printed_statement(&s, words, &book, &st)?,
    })
}

/// What a member's statement shows, gathered once for whichever format it is read in.
struct MemberStatement {
    ledger: Arc<Ledger>,
    position: Position,
    /// The period asked for, as inclusive dates `YYYY-MM-DD`; `None` leaves that end open.
    from: Option<String>,
    to: Option<String>,
    /// Her entries within the period.
    entries: Vec<Entry>,
}

/// Gathers member `member`'s statement in `book`, once the caller may read it.
async fn member_statement(
    s: &AppState,
    headers: &HeaderMap,
    book: &str,
    member: &str,
    q: &ViewQuery,
) -> Result<MemberStatement, Problem> {
    let id = parse_book(book)?;
    // Who asks is checked before the book is looked up: no answer tells a stranger whether it
    // exists.
    s.auth.caller(headers)?;
    let ledger: Arc<Ledger> = s.library.ledger(id).await?;
    member_reader(s, headers, &ledger, id, member, "statement")?;
    let p = portfolio_of(s, id, &ledger, q.overdue_days()?).await;
    let Some(position) = portfolio::position(&ledger, &p, member) else {
        return Err(Problem::not_found(format!(
            "member {member} has not joined book {id}"
        )));
    };
    let (from, to) = (period_bound(&q.from, "from")?, period_bound(&q.to, "to")?);
    let in_period = |e: &&Entry| {
        let d = date(e.time_ms);
        from.as_ref().is_none_or(|f| d >= *f) && to.as_ref().is_none_or(|t| d <= *t)
    };
    let entries = ledger.statements.get(member).into_iter().flatten();
    let entries = entries.filter(in_period).cloned().collect();
    Ok(MemberStatement {
        ledger,
        position,
        from,
        to,
        entries,
    })
}

/// The statement as a page to print, in the language `?lang=` asks for (English by default).
fn printed_statement(
    s: &AppState,
    words: &'static export::Words,
    book: &str,
    st: &MemberStatement,
) -> Result<Response, Problem> {
    let period = match (&st.from, &st.to) {
        (None, None) => words.whole_book.to_owned(),
        (f, t) => format!(
            "{} – {}",
            f.as_deref().unwrap_or("…"),
            t.as_deref().unwrap_or("…")
        ),
    };
    let html = export::statement_html(&export::Printable {
        words,
        group: &st.ledger.name,
        book,
        period,
        position: &st.position,
        entries: &st.entries,
        officers: &st.ledger.officers,
        printed_ms: (s.clock)(),
    });
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
}

/// Lets through an officer of the book, or member `member` herself; `what` names what she reads.
fn member_reader(
    s: &AppState,
    headers: &HeaderMap,
    ledger: &Ledger,
    id: BookId,
    member: &str,
    what: &str,
) -> Result<(), Problem> {
    let allowed = match s.auth.caller(headers)? {
        Caller::Person(key) => match reader_of(ledger, &key) {
            Some(Reader::Officer) => true,
            Some(Reader::Member(m)) => m == member,
            None => false,
        },
        Caller::Admin => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(Problem::forbidden(format!(
            "only an officer of book {id} or member {member} herself may read her {what}"
        )))
    }
}

/// A receipt for one of a member's entries: the signed record and the book's genesis, as
/// canonical text, which any phone can check offline (signature, book, founding officer).
#[utoipa::path(get, path = "/api/v1/books/{book}/members/{member}/receipts/{record}", tag = "views", security(("session" = [])), params(("book" = kaban_protocol::record::BookId, Path, description = "The book's id"), ("member" = kaban_protocol::kind::MemberId, Path, description = "The member's id in the book"), ("record" = kaban_protocol::record::RecordId, Path, description = "The record's id")), responses((status = 200, description = "One of her entries as signed, with what a phone needs to check it offline", body = api::views::Receipt)))]
pub async fn receipt(
    State(s): Shared,
    headers: HeaderMap,
    Path((book, member, record)): Path<(String, String, String)>,
) -> Result<Response, Problem> {
    let id = parse_book(&book)?;
    s.auth.caller(&headers)?;
    let ledger = s.library.ledger(id).await?;
    member_reader(&s, &headers, &ledger, id, &member, "receipts")?;
    let mine = ledger
        .statements
        .get(&member)
        .is_some_and(|entries| entries.iter().any(|e| e.record.to_string() == record));
    if !mine {
        return Err(Problem::not_found(format!(
            "member {member}'s statement in book {id} has no entry {record}"
        )));
    }
    let rid: kaban_protocol::record::RecordId =
        record
            .parse()
            .map_err(|e: kaban_protocol::record::IdError| {
                Problem::bad_request("malformed_id", e.to_string())
            })?;
    let (r, g, proof) = s
        .library
        .with_book(id, move |b| {
            let record = b.record(&rid);
            (
                record.map(|r| r.bytes().to_vec()),
                b.record(&id.0).map(|r| r.bytes().to_vec()),
                record
                    .map(|r| role_proof(b, r.signer()))
                    .unwrap_or_default(),
            )
        })
        .await?;
    let text = |bytes: Option<Vec<u8>>| {
        bytes
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| Problem::not_found(format!("book {id} has no record {rid}")))
    };
    let proof: Vec<String> = proof
        .into_iter()
        .filter_map(|b| String::from_utf8(b).ok())
        .collect();
    Ok(axum::Json(api::views::Receipt {
        record: text(r)?,
        genesis: text(g)?,
        proof,
    })
    .into_response())
}

/// The records that show, from the genesis alone, that `signer` was made an officer: the role
/// grants naming her and their approvals, and the same for whoever signed those who was not a
/// founding officer. At most [`MAX_PROOF_RECORDS`] records, so a receipt stays one QR code.
fn role_proof(
    book: &kaban_protocol::book::Book,
    signer: kaban_protocol::key::PublicKey,
) -> Vec<Vec<u8>> {
    use kaban_protocol::kind::Body;
    let founders: std::collections::BTreeSet<_> = book
        .genesis()
        .map(|g| g.officers.iter().map(|o| o.key).collect())
        .unwrap_or_default();
    let mut wanted = vec![signer];
    let mut seen = std::collections::BTreeSet::new();
    let mut out: Vec<&kaban_protocol::record::Record> = Vec::new();
    while let Some(key) = wanted.pop() {
        if founders.contains(&key) || !seen.insert(key) {
            continue;
        }
        for grant in book
            .records()
            .filter(|r| matches!(r.body(), Body::RoleGrant(g) if g.key == key))
        {
            out.push(grant);
            wanted.push(grant.signer());
            for approval in book
                .records()
                .filter(|r| matches!(r.body(), Body::Approval(a) if a.record == grant.id()))
            {
                out.push(approval);
                wanted.push(approval.signer());
            }
        }
    }
    out.sort_by_key(|r| (r.time_ms(), r.id()));
    out.dedup_by_key(|r| r.id());
    out.truncate(MAX_PROOF_RECORDS);
    out.into_iter().map(|r| r.bytes().to_vec()).collect()
}

/// Role records a receipt carries at most.
const MAX_PROOF_RECORDS: usize = 6;

fn period_bound(v: &Option<String>, name: &str) -> Result<Option<String>, Problem> {
    match v {
        None => Ok(None),
        Some(d) if kaban_protocol::kind::is_date(d) => Ok(Some(d.clone())),
        Some(d) => Err(Problem::bad_request(
            "malformed_date",
            format!("{name} {d:?} is not a date like 2026-11-28"),
        )),
    }
}
