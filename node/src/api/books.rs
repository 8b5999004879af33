//! Books: founding one, submitting records, where a signer signs next, and what an officer
//! reads of a book as a whole.

use super::{
    Caller, ClientAddr, Problem, Reader, Shared, auth, client_ip, officer_ledger, parse_book,
    parse_record, reader_of,
};
use crate::library::Submitted;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kaban_protocol::api;
use kaban_protocol::key::PublicKey;
use kaban_protocol::kind::Role;
use kaban_protocol::record::RecordId;
use kaban_protocol::view::Anomaly;
use serde::Deserialize;

type BookList = api::book::BookList<crate::library::BookSummary>;

#[utoipa::path(get, path = "/api/v1/books", tag = "books", security(("session" = []), ("admin" = [])), responses((status = 200, description = "All books with the admin token; a person's own, with what she is in each, with a session", body = api::book::BookList)))]
pub(super) async fn list_books(
    State(s): Shared,
    headers: HeaderMap,
) -> Result<Json<BookList>, Problem> {
    let caller = s.auth.caller(&headers)?;
    let mut books = s.library.list().await;
    let Caller::Person(key) = caller else {
        let books = books.into_iter().map(api::book::Listed::plain).collect();
        return Ok(Json(api::book::BookList { books }));
    };
    // A person's own books, with what she is in each: an officer (and her roles) or a member.
    let mut mine = Vec::new();
    for b in books.drain(..) {
        let id = parse_book(&b.book)?;
        let ledger = s.library.quiet_ledger(id).await?;
        let mut line = api::book::Listed::plain(b);
        match reader_of(&ledger, &key) {
            Some(Reader::Officer) => {
                let officer = ledger.officers.iter().find(|o| o.key == key);
                line.roles = Some(officer.map(|o| o.roles.clone()).unwrap_or_default());
            }
            Some(Reader::Member(m)) => line.member = Some(m),
            None => continue,
        }
        mine.push(line);
    }
    Ok(Json(api::book::BookList { books: mine }))
}

/// Founds a book from its genesis record, with the admin token or a one-time setup code. The
/// authority is checked before the record is read.
#[utoipa::path(post, path = "/api/v1/books", tag = "books", security(("admin" = []), ("setup_code" = [])), request_body(content = crate::api::doc::SignedRecord, description = "The signed genesis record"), responses((status = 201, description = "The book is founded and durable", body = api::book::Created), (status = 200, description = "The node already holds this book", body = api::book::Created)))]
pub(super) async fn create_book(
    State(s): Shared,
    headers: HeaderMap,
    addr: Option<axum::Extension<ClientAddr>>,
    body: Bytes,
) -> Result<Response, Problem> {
    let founder = s.auth.founder(&headers, client_ip(addr), (s.clock)())?;
    let genesis = parse_record(&body)?;
    let (id, created) = s.library.create_book(genesis, (s.clock)()).await?;
    if let auth::Founder::SetupCode(code) = founder {
        // Spent only now that the book is durable; a refused genesis leaves the code usable.
        if created {
            code.keep();
        }
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(api::book::Created { book: id })).into_response())
}

#[utoipa::path(post, path = "/api/v1/books/{book}/records", tag = "books", security(()), params(("book" = kaban_protocol::record::BookId, Path, description = "The book's id")), request_body(content = crate::api::doc::SignedRecord, description = "A signed record; its signature and the book's roster authorise it"), responses((status = 201, description = "The record is durable", body = api::book::Submitted), (status = 200, description = "The book already holds this record", body = api::book::Submitted)))]
pub(super) async fn submit_record(
    State(s): Shared,
    Path(book): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let id = parse_book(&book)?;
    let record = parse_record(&body)?;
    let (status, rid) = match s.library.submit(id, record).await? {
        Submitted::Created(rid) => (StatusCode::CREATED, rid),
        Submitted::Existing(rid) => (StatusCode::OK, rid),
    };
    Ok((status, Json(api::book::Submitted { id: rid })).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PlaceQuery {
    /// The signer's public key.
    #[param(value_type = kaban_protocol::key::PublicKey)]
    signer: String,
}

/// Where a signer's next record stands in a book: its `seq` and the records at the book's
/// heads, which it names in `after`. A signer asks before signing; a phone that signs offline
/// uses the last place it was told and chains its own records after it.
#[utoipa::path(get, path = "/api/v1/books/{book}/place", tag = "books", security(("session" = []), ("admin" = [])), params(("book" = kaban_protocol::record::BookId, Path, description = "The book's id"), PlaceQuery), responses((status = 200, description = "Where the signer's next record stands", body = api::book::Place)))]
pub(super) async fn place(
    State(s): Shared,
    headers: HeaderMap,
    Path(book): Path<String>,
    Query(q): Query<PlaceQuery>,
) -> Result<Response, Problem> {
    let id = parse_book(&book)?;
    // A session (only people in a book here have one) or the admin token: the answer says
    // whether the book is here and how it moves.
    s.auth.caller(&headers)?;
    let signer: PublicKey = q
        .signer
        .parse()
        .map_err(|e: kaban_protocol::key::KeyError| {
            Problem::bad_request("malformed_key", format!("signer: {e}"))
        })?;
    let place = s
        .library
        .with_book(id, move |b| {
            b.genesis().is_some().then(|| b.place_for(&signer))
        })
        .await?
        .ok_or_else(|| {
            Problem::new(
                StatusCode::CONFLICT,
                "not_arrived",
                format!("book {id} has not arrived from its partner yet; try again once it has"),
            )
        })?;
    Ok(Json(api::book::Place {
        book: id,
        seq: place.seq,
        after: place.after.clone(),
    })
    .into_response())
}

#[utoipa::path(get, path = "/api/v1/books/{book}", tag = "books", security(("session" = [])), params(("book" = kaban_protocol::record::BookId, Path, description = "The book's id")), responses((status = 200, description = "An officer's summary of the book", body = api::book::Summary<Anomaly>)))]
pub(super) async fn book_summary(
    State(s): Shared,
    headers: HeaderMap,
    Path(book): Path<String>,
) -> Result<Json<api::book::Summary<Anomaly>>, Problem> {
    let l = officer_ledger(&s, &headers, &book).await?;
    Ok(Json(api::book::Summary {
        book,
        name: l.name.clone(),
        currency: l.currency,
        record_count: l.record_count,
        balances: l.totals.clone(),
        members: l.members.len(),
        officers: l.officers.clone(),
        pending: l.pending.iter().map(|p| p.record).collect(),
        anomalies: l.anomalies.clone(),
        shared_with: l.shared_with.clone(),
    }))
}

#[utoipa::path(get, path = "/api/v1/books/{book}/records/{record}", tag = "books", security(("session" = [])), params(("book" = kaban_protocol::record::BookId, Path, description = "The book's id"), ("record" = kaban_protocol::record::RecordId, Path, description = "The record's id")), responses((status = 200, description = "The record's canonical bytes", body = crate::api::doc::SignedRecord)))]
pub(super) async fn get_record(
    State(s): Shared,
    headers: HeaderMap,
    Path((book, record)): Path<(String, String)>,
) -> Result<Response, Problem> {
    officer_ledger(&s, &headers, &book).await?;
    let id = parse_book(&book)?;
    let rid: RecordId = record
        .parse()
        .map_err(|e: kaban_protocol::record::IdError| {
            Problem::bad_request("malformed_id", e.to_string())
        })?;
    let bytes = s
        .library
        .with_book(id, move |b| b.record(&rid).map(|r| r.bytes().to_vec()))
        .await?
        .ok_or_else(|| Problem::not_found(format!("book {id} has no record {rid}")))?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        bytes,
    )
        .into_response())
}

#[utoipa::path(get, path = "/api/v1/books/{book}/roster", tag = "books", security(("session" = [])), params(("book" = kaban_protocol::record::BookId, Path, description = "The book's id")), responses((status = 200, description = "Officers and members", body = api::book::Roster)))]
pub(super) async fn roster(
    State(s): Shared,
    headers: HeaderMap,
    Path(book): Path<String>,
) -> Result<Json<api::book::Roster>, Problem> {
    let l = officer_ledger(&s, &headers, &book).await?;
    Ok(Json(api::book::Roster {
        officers: l.officers.clone(),
        members: l.members.clone(),
    }))
}

#[utoipa::path(get, path = "/api/v1/books/{book}/pending", tag = "books", security(("session" = [])), params(("book" = kaban_protocol::record::BookId, Path, description = "The book's id")), responses((status = 200, description = "Records awaiting approvals", body = api::book::PendingList)))]
pub(super) async fn pending(
    State(s): Shared,
    headers: HeaderMap,
    Path(book): Path<String>,
) -> Result<Json<api::book::PendingList>, Problem> {
    let l = officer_ledger(&s, &headers, &book).await?;
    Ok(Json(api::book::PendingList {
        pending: l.pending.clone(),
    }))
}

#[utoipa::path(get, path = "/api/v1/books/{book}/anomalies", tag = "books", security(("session" = [])), params(("book" = kaban_protocol::record::BookId, Path, description = "The book's id")), responses((status = 200, description = "Anomalies to look at", body = api::book::Anomalies<Anomaly>)))]
pub(super) async fn anomalies(
    State(s): Shared,
    headers: HeaderMap,
    Path(book): Path<String>,
) -> Result<Json<api::book::Anomalies<Anomaly>>, Problem> {
    let l = officer_ledger(&s, &headers, &book).await?;
    Ok(Json(api::book::Anomalies {
        anomalies: l.anomalies.clone(),
    }))
}

#[utoipa::path(get, path = "/api/v1/books/{book}/partners", tag = "books", security(("session" = [])), params(("book" = kaban_protocol::record::BookId, Path, description = "The book's id")), responses((status = 200, description = "The partners the book is shared with, and each one's sync state", body = api::book::Partners)))]
pub(super) async fn partners(
    State(s): Shared,
    headers: HeaderMap,
    Path(book): Path<String>,
) -> Result<Json<api::book::Partners>, Problem> {
    let l = officer_ledger(&s, &headers, &book).await?;
    // An investor group's officer signs her group's transfers here; whom the cooperative shares
    // its book with, and why a session failed, are the cooperative's officers' to read.
    if let Caller::Person(key) = s.auth.caller(&headers)?
        && !l
            .officers
            .iter()
            .any(|o| o.key == key && o.roles.iter().any(|r| *r != Role::Investor))
    {
        return Err(Problem::forbidden(format!(
            "signer {key} signs only an investor group's records in book {book}; its partners are for the book's own officers"
        )));
    }
    let status = match s.p2p.as_ref() {
        Some(p2p) => Some(p2p.status().await),
        None => None,
    };
    let partners = l
        .shared_with
        .iter()
        .map(|peer| {
            let st = status.as_ref().and_then(|st| {
                st.partners
                    .values()
                    .find(|p| &p.peer == peer && p.book == book)
            });
            api::book::BookPartner {
                peer: peer.clone(),
                connected: status
                    .as_ref()
                    .is_some_and(|st| st.connected.contains_key(peer)),
                in_sync: st.is_some_and(|p| p.in_sync),
                last_synced_ms: st.and_then(|p| p.last_synced_ms),
                last_error: st.and_then(|p| p.last_error.clone()),
            }
        })
        .collect();
    Ok(Json(api::book::Partners { partners }))
}
