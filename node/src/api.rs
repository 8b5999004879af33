//! The HTTP API: JSON under `/api/v1`, the only module that knows HTTP.
//!
//! Writes are records, authorised by their own signatures and the book's roster. Reads of member
//! data need a session of a person in the book: officers read the whole book, a member reads her
//! own statement. The admin token administers the node but reads no member data.

mod auth;
mod export;
mod openapi;
mod problem;
mod views;
mod web;

pub use auth::{Auth, Caller, SETUP_CODE_HEADER, random_token};
pub use problem::Problem;

use crate::library::Personal;
use crate::library::{Library, Submitted};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kaban_protocol::api;
use kaban_protocol::key::PublicKey;
use kaban_protocol::record::{BookId, Record, RecordId};
use kaban_protocol::view::{Anomaly, Ledger};
use serde::Deserialize;
use std::sync::Arc;

/// Largest request body. A record is at most 8 KiB; everything else is smaller.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the handlers share.
#[derive(Debug)]
pub struct AppState {
    pub library: Arc<Library>,
    pub auth: Auth,
    pub node_id: String,
    pub clock: fn() -> u64,
    /// How long one request may take, its body included; a slower one is answered 408.
    pub request_timeout: std::time::Duration,
    /// The peer-to-peer layer; `None` in tests that exercise the API alone.
    pub p2p: Option<crate::p2p::P2p>,
    /// The certificate of the node's own CA, when it serves HTTPS, for phones to install.
    pub ca_pem: Option<String>,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/node", get(node))
        .route("/api/v1/sessions/challenge", post(challenge))
        .route("/api/v1/sessions", post(open_session))
        .route("/api/v1/books", get(list_books).post(create_book))
        .route("/api/v1/books/{book}", get(book_summary))
        .route("/api/v1/books/{book}/records", post(submit_record))
        .route("/api/v1/books/{book}/place", get(place))
        .route("/api/v1/books/{book}/records/{record}", get(get_record))
        .route("/api/v1/books/{book}/roster", get(roster))
        .route("/api/v1/books/{book}/balances", get(views::balances))
        .route("/api/v1/books/{book}/pending", get(pending))
        .route("/api/v1/books/{book}/transfers", get(views::transfers))
        .route("/api/v1/books/{book}/dashboard", get(views::dashboard))
        .route("/api/v1/books/{book}/portfolio", get(views::portfolio))
        .route("/api/v1/impact", get(views::impact))
        .route("/api/v1/books/{book}/anomalies", get(anomalies))
        .route(
            "/api/v1/books/{book}/members/{member}/statement",
            get(views::statement),
        )
        .route(
            "/api/v1/books/{book}/members/{member}/personal",
            get(get_personal).put(put_personal).delete(erase_personal),
        )
        .route("/kaban-ca.crt", get(ca_certificate))
        .route("/api/v1/admin/integrity", get(integrity))
        .route("/api/v1/admin/peers", get(list_peers).post(join_peer))
        .route(
            "/api/v1/admin/books/{book}",
            axum::routing::delete(remove_book),
        )
        .route(
            "/api/v1/books/{book}/members/{member}/receipts/{record}",
            get(views::receipt),
        )
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(problems_everywhere))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            bounded_in_time,
        ))
        .layer(middleware::from_fn(trace_request))
        .with_state(state)
}

/// The web client for GETs outside the API; a problem for everything else.
/// The node's CA certificate, which phones install once to trust its HTTPS.
async fn ca_certificate(State(s): Shared) -> Response {
    match &s.ca_pem {
        Some(pem) => (
            [
                (axum::http::header::CONTENT_TYPE, "application/x-x509-ca-cert"),
                (
                    axum::http::header::CONTENT_DISPOSITION,
                    "attachment; filename=\"kaban-ca.crt\"",
                ),
            ],
            pem.clone(),
        )
            .into_response(),
        None => Problem::not_found(
            "this node does not serve HTTPS; start it with --https 0.0.0.0:8743 --https-name THIS-MACHINE'S-LAN-ADDRESS",
        )
        .into_response(),
    }
}

async fn fallback(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    if method == axum::http::Method::GET && !uri.path().starts_with("/api/") {
        return web::asset(uri).await;
    }
    Problem::not_found("no such endpoint; see /api/v1/openapi.json").into_response()
}

/// One span per request, with its method and path, and one line when it ends.
async fn trace_request(request: Request, next: Next) -> Response {
    let span =
        tracing::info_span!("request", method = %request.method(), path = %request.uri().path());
    let _enter = span.enter();
    let start = std::time::Instant::now();
    drop(_enter);
    let response = tracing::Instrument::instrument(next.run(request), span.clone()).await;
    let status = response.status();
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::warn!(
                status = status.as_u16(),
                elapsed_ms = start.elapsed().as_millis() as u64,
                "request failed"
            );
        } else {
            tracing::debug!(
                status = status.as_u16(),
                elapsed_ms = start.elapsed().as_millis() as u64,
                "request"
            );
        }
    });
    response
}

/// A request's body must arrive whole within the request timeout: a body trickled in byte by
/// byte does not hold a connection and a task for ever. Only the reading is timed; a handler,
/// once it has its body, is never cut off halfway (a record being committed, say).
async fn bounded_in_time(State(s): Shared, request: Request, next: Next) -> Response {
    let limit = s.request_timeout;
    let (parts, body) = request.into_parts();
    // One byte past the limit, so an oversized body still gets its own refusal below.
    let read = axum::body::to_bytes(body, MAX_BODY_BYTES + 1);
    let bytes = match tokio::time::timeout(limit, read).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => {
            return Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("request body is larger than {MAX_BODY_BYTES} bytes"),
            )
            .into_response();
        }
        Err(_) => {
            return Problem::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the request's body did not arrive within {} s; send it again, whole",
                    limit.as_secs()
                ),
            )
            .into_response();
        }
    };
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// Axum's own rejections (a body over the limit, a wrong method, a bad path) answer in plain
/// text; this turns them into problems like every other error, keeping their message.
async fn problems_everywhere(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !status.is_client_error() || is_problem {
        return response;
    }
    let bytes = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).trim().to_owned();
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        _ => "bad_request",
    };
    let detail = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("request body is larger than {MAX_BODY_BYTES} bytes")
        }
        StatusCode::METHOD_NOT_ALLOWED => {
            "this endpoint does not take that method; see /api/v1/openapi.json".to_owned()
        }
        _ if text.is_empty() => "the request is malformed".to_owned(),
        _ => text,
    };
    Problem::new(status, code, detail).into_response()
}

type Shared = State<Arc<AppState>>;

/// The network address a request came from, put on each request by the server's accept loop.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub std::net::IpAddr);

/// The caller's address; a request that did not come through the accept loop (a test calling
/// the router directly) counts as the unspecified address.
fn client_ip(addr: Option<axum::Extension<ClientAddr>>) -> std::net::IpAddr {
    addr.map(|a| a.0.0)
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

fn parse_book(text: &str) -> Result<BookId, Problem> {
    text.parse().map_err(|e: kaban_protocol::record::IdError| {
        Problem::bad_request("malformed_id", e.to_string())
    })
}

fn parse_record(bytes: &[u8]) -> Result<Record, Problem> {
    Record::decode(bytes).map_err(|e| Problem::bad_request(e.code(), e.to_string()))
}

async fn health() -> Json<api::node::Health> {
    Json(api::node::Health::ok(env!("CARGO_PKG_VERSION")))
}

async fn node(
    State(s): Shared,
    headers: HeaderMap,
) -> Json<api::node::NodeInfo<crate::library::Quarantined>> {
    let (listen, nat) = match s.p2p.as_ref() {
        Some(p) => {
            let status = p.status().await;
            (status.listen, status.nat)
        }
        None => Default::default(),
    };
    // Which books are quarantined is for the operator; anyone else learns only how many.
    // How many books there are, and which are in memory, is the operator's too: a count that
    // moves when a stranger names a book would tell whether the book is here.
    let quarantined = s.library.quarantined();
    let (quarantined, books_in_memory, books) = if s.auth.require_admin(&headers).is_ok() {
        let (in_memory, books) = s.library.in_memory();
        let list = api::node::Quarantine::Books(quarantined.to_vec());
        (list, Some(in_memory), Some(books))
    } else {
        (api::node::Quarantine::Count(quarantined.len()), None, None)
    };
    Json(api::node::NodeInfo {
        node_id: s.node_id.clone(),
        listen,
        nat,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        protocol: kaban_protocol::record::RECORD_VERSION,
        quarantined,
        books,
        books_in_memory,
    })
}

/// The operator accepts an invite: make room for the book and keep it in sync with the partner.
async fn join_peer(State(s): Shared, headers: HeaderMap, body: Bytes) -> Result<Response, Problem> {
    s.auth.require_admin(&headers)?;
    let req: api::node::JoinRequest = serde_json::from_slice(&body)
        .map_err(|e| Problem::bad_request("malformed_json", format!("join request: {e}")))?;
    let invite = kaban_protocol::invite::Invite::from_code(&req.code)
        .map_err(|e| Problem::bad_request("malformed_invite", e.to_string()))?;
    let p2p = s.p2p.as_ref().ok_or_else(|| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_p2p",
            "peer-to-peer sync is not running on this node",
        )
    })?;
    if invite.peer == s.node_id {
        return Err(Problem::bad_request(
            "own_invite",
            "this invite was made by this node; give it to the partner's operator",
        ));
    }
    crate::p2p::check_invite(&invite.peer, &invite.addrs)
        .map_err(|why| Problem::bad_request("malformed_invite", why))?;
    s.library.expect_book(invite.book, (s.clock)()).await?;
    s.library
        .add_partner(
            invite.book,
            invite.peer.clone(),
            invite.addrs.clone(),
            (s.clock)(),
        )
        .await?;
    p2p.follow(invite.book, &invite.peer, &invite.addrs)
        .map_err(|e| Problem::bad_request("malformed_invite", format!("{e:#}")))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(api::node::Joined {
            book: invite.book,
            peer: invite.peer.clone(),
        }),
    )
        .into_response())
}

async fn list_peers(
    State(s): Shared,
    headers: HeaderMap,
) -> Result<Json<api::node::Peers>, Problem> {
    s.auth.require_admin(&headers)?;
    let Some(p2p) = s.p2p.as_ref() else {
        return Ok(Json(api::node::Peers::without_p2p()));
    };
    let status = p2p.status().await;
    let (connected, hole_punch) = (&status.connected, &status.hole_punch);
    let partners = status
        .partners
        .values()
        .map(|st| {
            let mut state = st.clone();
            let how = connected.get(&state.peer).copied();
            state.connected = how.is_some();
            api::node::Partner {
                state,
                connection: how.map(str::to_owned),
            }
        })
        .collect();
    let peers = connected
        .iter()
        .map(|(peer, how)| api::node::ConnectedPeer {
            peer: peer.clone(),
            connection: (*how).to_owned(),
            hole_punch: hole_punch.get(peer).cloned(),
        })
        .collect();
    Ok(Json(api::node::Peers {
        node_id: Some(s.node_id.clone()),
        nat: Some(status.nat.clone()),
        connected: peers,
        partners,
    }))
}

fn parse_key(text: &str, what: &str) -> Result<PublicKey, Problem> {
    text.parse().map_err(|e: kaban_protocol::key::KeyError| {
        Problem::bad_request("malformed_key", format!("{what}: {e}"))
    })
}

/// Sessions are only for people in a book on this node: a key that holds (or held) a role, or
/// a member's key. A phone waiting to be added keeps asking until it is.
async fn require_known(s: &AppState, key: &PublicKey) -> Result<(), Problem> {
    if s.library.knows_key(key).await {
        return Ok(());
    }
    Err(Problem::new(
        StatusCode::FORBIDDEN,
        "unknown_key",
        format!(
            "signer {key} holds no role or membership in any book on this node; an officer must add it first, then try again"
        ),
    ))
}

async fn challenge(
    State(s): Shared,
    addr: Option<axum::Extension<ClientAddr>>,
    body: Bytes,
) -> Result<Json<api::session::Challenge>, Problem> {
    let req: api::session::ChallengeRequest = serde_json::from_slice(&body)
        .map_err(|e| Problem::bad_request("malformed_json", format!("challenge request: {e}")))?;
    let key = parse_key(&req.key, "key")?;
    require_known(&s, &key).await?;
    let challenge = s.auth.challenge(key, client_ip(addr))?;
    Ok(Json(api::session::Challenge {
        challenge,
        node: s.node_id.clone(),
        expires_in_s: auth::CHALLENGE_TTL.as_secs(),
        sign: api::session::HOW_TO_SIGN.to_owned(),
    }))
}

async fn open_session(
    State(s): Shared,
    body: Bytes,
) -> Result<Json<api::session::Session>, Problem> {
    let req: api::session::SessionRequest = serde_json::from_slice(&body)
        .map_err(|e| Problem::bad_request("malformed_json", format!("session request: {e}")))?;
    let key = parse_key(&req.key, "key")?;
    require_known(&s, &key).await?;
    let token = s
        .auth
        .open_session(key, &req.origin, &req.challenge, &req.signature)?;
    Ok(Json(api::session::Session {
        token,
        key,
        expires_in_s: auth::SESSION_TTL.as_secs(),
    }))
}

type BookList = api::book::BookList<crate::library::BookSummary>;

async fn list_books(State(s): Shared, headers: HeaderMap) -> Result<Json<BookList>, Problem> {
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
async fn create_book(
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

async fn submit_record(
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

#[derive(Deserialize)]
struct PlaceQuery {
    signer: String,
}

/// Where a signer's next record stands in a book: its `seq` and the records at the book's
/// heads, which it names in `after`. A signer asks before signing; a phone that signs offline
/// uses the last place it was told and chains its own records after it.
async fn place(
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

/// How a person may read a book.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reader {
    Officer,
    Member(String),
}

fn reader_of(ledger: &Ledger, key: &PublicKey) -> Option<Reader> {
    if ledger.officers.iter().any(|o| o.key == *key) {
        return Some(Reader::Officer);
    }
    ledger
        .members
        .iter()
        .find(|m| m.key.as_ref() == Some(key))
        .map(|m| Reader::Member(m.member.clone()))
}

/// The ledger, for a caller who may read the whole book. Who asks is checked before the book
/// is looked up, so no answer tells a stranger whether the book exists.
async fn officer_ledger(
    s: &AppState,
    headers: &HeaderMap,
    book: &str,
) -> Result<Arc<Ledger>, Problem> {
    let id = parse_book(book)?;
    let caller = s.auth.caller(headers)?;
    let ledger = s.library.ledger(id).await?;
    match caller {
        Caller::Person(key) => match reader_of(&ledger, &key) {
            Some(Reader::Officer) => Ok(ledger),
            _ => Err(Problem::forbidden(format!(
                "signer {key} is not an officer of book {id}"
            ))),
        },
        Caller::Admin => Err(Problem::forbidden(
            "the admin token administers the node but does not read member data; use an officer's session",
        )),
    }
}

async fn book_summary(
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

async fn get_record(
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

async fn roster(
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

async fn pending(
    State(s): Shared,
    headers: HeaderMap,
    Path(book): Path<String>,
) -> Result<Json<api::book::PendingList>, Problem> {
    let l = officer_ledger(&s, &headers, &book).await?;
    Ok(Json(api::book::PendingList {
        pending: l.pending.clone(),
    }))
}

async fn anomalies(
    State(s): Shared,
    headers: HeaderMap,
    Path(book): Path<String>,
) -> Result<Json<api::book::Anomalies<Anomaly>>, Problem> {
    let l = officer_ledger(&s, &headers, &book).await?;
    Ok(Json(api::book::Anomalies {
        anomalies: l.anomalies.clone(),
    }))
}

async fn get_personal(
    State(s): Shared,
    headers: HeaderMap,
    Path((book, member)): Path<(String, String)>,
) -> Result<Json<api::book::Personal<Option<Personal>>>, Problem> {
    officer_ledger(&s, &headers, &book).await?;
    let personal = s
        .library
        .personal(parse_book(&book)?, member.clone())
        .await?;
    Ok(Json(api::book::Personal { member, personal }))
}

async fn put_personal(
    State(s): Shared,
    headers: HeaderMap,
    Path((book, member)): Path<(String, String)>,
    body: Bytes,
) -> Result<StatusCode, Problem> {
    let ledger = officer_ledger(&s, &headers, &book).await?;
    if !ledger.members.iter().any(|m| m.member == member) {
        return Err(Problem::not_found(format!(
            "member {member} has not joined book {book}"
        )));
    }
    let personal: Personal = serde_json::from_slice(&body)
        .map_err(|e| Problem::bad_request("malformed_json", format!("personal data: {e}")))?;
    for (field, value) in [
        ("full_name", &personal.full_name),
        ("phone", &personal.phone),
        ("notes", &personal.notes),
    ] {
        if value.as_ref().is_some_and(|v| v.chars().count() > 500) {
            return Err(Problem::bad_request(
                "too_long",
                format!("{field} is longer than 500 characters"),
            ));
        }
    }
    s.library
        .set_personal(parse_book(&book)?, member, personal, (s.clock)())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn erase_personal(
    State(s): Shared,
    headers: HeaderMap,
    Path((book, member)): Path<(String, String)>,
) -> Result<Json<api::book::Erased>, Problem> {
    officer_ledger(&s, &headers, &book).await?;
    let erased = s
        .library
        .erase_personal(parse_book(&book)?, member.clone())
        .await?;
    if !erased.backups.is_empty() {
        tracing::warn!(
            %book,
            backups = ?erased.backups,
            "erased a member's personal data from the database; these backups, made since, still hold it until they are deleted"
        );
    }
    Ok(Json(api::book::Erased {
        member,
        erased: erased.erased,
        backups_still_holding: erased.backups,
    }))
}

#[derive(Deserialize)]
struct RemoveQuery {
    /// The book's name, as the operator's confirmation.
    name: String,
}

/// The operator removes a book nobody on this node depends on (see `Library::remove_book`).
async fn remove_book(
    State(s): Shared,
    headers: HeaderMap,
    Path(book): Path<String>,
    Query(q): Query<RemoveQuery>,
) -> Result<Json<api::book::Removed>, Problem> {
    s.auth.require_admin(&headers)?;
    let id = parse_book(&book)?;
    s.library.remove_book(id, &q.name).await?;
    Ok(Json(api::book::Removed {
        book: id,
        removed: true,
    }))
}

async fn integrity(
    State(s): Shared,
    headers: HeaderMap,
) -> Result<Json<api::node::Integrity>, Problem> {
    s.auth.require_admin(&headers)?;
    let answer = s.library.integrity_check().await?;
    Ok(Json(api::node::Integrity {
        integrity_check: answer,
    }))
}

#[cfg(test)]
mod tests;
