//! The HTTP API: JSON under `/api/v1`, the only module that knows HTTP.
//!
//! Writes are records, authorised by their own signatures and the book's roster. Reads of member
//! data need a session of a person in the book: officers read the whole book, a member reads her
//! own statement. The admin token administers the node but reads no member data.

mod auth;
mod books;
mod doc;
mod export;
mod operator;
mod people;
mod problem;
mod views;
mod web;

pub use auth::{Auth, Caller, SETUP_CODE_HEADER, random_token};
pub use problem::Problem;

use crate::library::Library;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kaban_protocol::key::PublicKey;
use kaban_protocol::record::{BookId, Record};
use kaban_protocol::view::Ledger;
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
    let (api, document) = OpenApiRouter::with_openapi(doc::ApiDoc::openapi())
        .routes(routes!(operator::health))
        .routes(routes!(openapi_document))
        .routes(routes!(operator::node))
        .routes(routes!(people::challenge))
        .routes(routes!(people::open_session))
        .routes(routes!(books::list_books, books::create_book))
        .routes(routes!(books::book_summary))
        .routes(routes!(books::submit_record))
        .routes(routes!(books::place))
        .routes(routes!(books::get_record))
        .routes(routes!(books::roster))
        .routes(routes!(books::pending))
        .routes(routes!(books::partners))
        .routes(routes!(books::anomalies))
        .routes(routes!(views::balances))
        .routes(routes!(views::transfers))
        .routes(routes!(views::dashboard))
        .routes(routes!(views::portfolio))
        .routes(routes!(views::impact))
        .routes(routes!(views::statement))
        .routes(routes!(views::receipt))
        .routes(routes!(
            people::get_personal,
            people::put_personal,
            people::erase_personal
        ))
        .routes(routes!(operator::integrity))
        .routes(routes!(operator::list_peers, operator::join_peer))
        .routes(routes!(operator::remove_book))
        .split_for_parts();
    let mut document = document;
    utoipa::Modify::modify(&doc::Problems, &mut document);
    let document = Arc::new(document.to_json().expect("the OpenAPI document serializes"));
    api.route("/kaban-ca.crt", get(ca_certificate))
        .route("/metrics", get(operator::metrics))
        .fallback(fallback)
        .layer(axum::Extension(Document(document)))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(problems_everywhere))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            bounded_in_time,
        ))
        .layer(middleware::from_fn(trace_request))
        .with_state(state)
}

/// The OpenAPI document, made once when the router is built.
#[derive(Debug, Clone)]
struct Document(Arc<String>);

/// This API's OpenAPI 3.1 document, generated from the handlers and the protocol's types.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "node", security(()), responses((status = 200, description = "This document", content_type = "application/json", body = Object)))]
async fn openapi_document(axum::Extension(Document(doc)): axum::Extension<Document>) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        doc.as_ref().clone(),
    )
        .into_response()
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

async fn fallback(
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    if method == axum::http::Method::GET && !uri.path().starts_with("/api/") {
        return web::asset(uri, &headers).await;
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

#[cfg(test)]
mod tests;
