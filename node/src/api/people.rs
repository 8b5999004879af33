//! People: opening a session with a signed challenge (SPEC.md section 10), and the personal
//! data an officer keeps of a member on this node, which is never synced.

use super::{AppState, ClientAddr, Problem, Shared, auth, client_ip, officer_ledger, parse_book};
use crate::library::Personal;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use kaban_protocol::api;
use kaban_protocol::key::PublicKey;

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

#[utoipa::path(post, path = "/api/v1/sessions/challenge", tag = "sessions", security(()), request_body(content = api::session::ChallengeRequest), responses((status = 200, description = "A challenge to sign; only keys in a book on this node get one", body = api::session::Challenge)))]
pub(super) async fn challenge(
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

#[utoipa::path(post, path = "/api/v1/sessions", tag = "sessions", security(()), request_body(content = api::session::SessionRequest, description = "The challenge, signed as SPEC.md section 10 says"), responses((status = 200, description = "A session token", body = api::session::Session)))]
pub(super) async fn open_session(
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

#[utoipa::path(get, path = "/api/v1/books/{book}/members/{member}/personal", tag = "members", security(("session" = [])), params(("book" = kaban_protocol::record::BookId, Path, description = "The book's id"), ("member" = kaban_protocol::kind::MemberId, Path, description = "The member's id in the book")), responses((status = 200, description = "What the node keeps of her, never synced", body = api::book::Personal<Option<api::book::PersonalData>>)))]
pub(super) async fn get_personal(
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

#[utoipa::path(put, path = "/api/v1/books/{book}/members/{member}/personal", tag = "members", security(("session" = [])), params(("book" = kaban_protocol::record::BookId, Path, description = "The book's id"), ("member" = kaban_protocol::kind::MemberId, Path, description = "The member's id in the book")), request_body(content = api::book::PersonalData), responses((status = 204, description = "Kept on this node; never synced")))]
pub(super) async fn put_personal(
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

#[utoipa::path(delete, path = "/api/v1/books/{book}/members/{member}/personal", tag = "members", security(("session" = [])), params(("book" = kaban_protocol::record::BookId, Path, description = "The book's id"), ("member" = kaban_protocol::kind::MemberId, Path, description = "The member's id in the book")), responses((status = 200, description = "Erased, and which backups still hold it", body = api::book::Erased)))]
pub(super) async fn erase_personal(
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
