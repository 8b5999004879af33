//! The node itself: health, who it is, its partners, the integrity check, and the operator's
//! removal of a book. Only the admin token sees more than a stranger may.

use super::{Problem, Shared, parse_book};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kaban_protocol::api;
use serde::Deserialize;

#[utoipa::path(get, path = "/api/v1/health", tag = "node", security(()), responses((status = 200, description = "The node answers", body = api::node::Health)))]
pub(super) async fn health() -> Json<api::node::Health> {
    Json(api::node::Health::ok(env!("CARGO_PKG_VERSION")))
}

#[utoipa::path(get, path = "/api/v1/node", tag = "node", security((), ("admin" = [])), responses((status = 200, description = "The node's id, addresses and version; with the admin token, also which books are quarantined and how many it holds", body = api::node::NodeInfo)))]
pub(super) async fn node(
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
#[utoipa::path(post, path = "/api/v1/admin/peers", tag = "admin", security(("admin" = [])), request_body(content = api::node::JoinRequest, description = "A partner's invite code"), responses((status = 202, description = "The book is expected, and the node syncs it with the partner", body = api::node::Joined)))]
pub(super) async fn join_peer(
    State(s): Shared,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
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

#[utoipa::path(get, path = "/api/v1/admin/peers", tag = "admin", security(("admin" = [])), responses((status = 200, description = "Connected peers and each partner's sync state", body = api::node::Peers)))]
pub(super) async fn list_peers(
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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct RemoveQuery {
    /// The book's name, as the operator's confirmation.
    name: String,
}

/// The operator removes a book nobody on this node depends on (see `Library::remove_book`).
#[utoipa::path(delete, path = "/api/v1/admin/books/{book}", tag = "admin", security(("admin" = [])), params(("book" = kaban_protocol::record::BookId, Path, description = "The book's id"), RemoveQuery), responses((status = 200, description = "The book is removed", body = api::book::Removed)))]
pub(super) async fn remove_book(
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

#[utoipa::path(get, path = "/api/v1/admin/integrity", tag = "admin", security(("admin" = [])), responses((status = 200, description = "SQLite's integrity check", body = api::node::Integrity)))]
pub(super) async fn integrity(
    State(s): Shared,
    headers: HeaderMap,
) -> Result<Json<api::node::Integrity>, Problem> {
    s.auth.require_admin(&headers)?;
    let answer = s.library.integrity_check().await?;
    Ok(Json(api::node::Integrity {
        integrity_check: answer,
    }))
}

/// `GET /metrics`: the node's figures in Prometheus text format (OpenMetrics), for the admin
/// token only: how many books a node holds and who its partners are is the operator's to know.
/// Outside `/api/v1` and the OpenAPI document, where scrapers look for it.
pub(super) async fn metrics(State(s): Shared, headers: HeaderMap) -> Result<Response, Problem> {
    s.auth.require_admin(&headers)?;
    let now_ms = (s.clock)();
    let age_s = |ms: u64| now_ms.saturating_sub(ms) as f64 / 1000.0;
    let (books_in_memory, books) = s.library.in_memory();
    let records = s.library.list().await.iter().map(|b| b.record_count).sum();
    let (banned_peers, partners_synced) = match s.p2p.as_ref() {
        Some(p2p) => {
            let status = p2p.status().await;
            let synced = status
                .partners
                .values()
                .filter_map(|p| Some((p.book.clone(), p.peer.clone(), age_s(p.last_synced_ms?))))
                .collect();
            (status.banned, synced)
        }
        None => (0, Vec::new()),
    };
    let snapshot = crate::metrics::Snapshot {
        books,
        books_in_memory,
        records,
        storage_bytes: s.library.disk_usage(),
        banned_peers,
        partners_synced,
        last_backup_age_s: s.library.last_backup_ms().await?.map(age_s),
    };
    let page = s.library.metrics().render(snapshot);
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        page,
    )
        .into_response())
}
