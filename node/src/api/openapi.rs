//! The OpenAPI 3 document at `/api/v1/openapi.json`, built from [`ROUTES`]; a test checks that
//! every route listed here is served and every served route is listed.

use axum::Json;
use serde_json::{Map, Value, json};

/// (method, path, summary, who may call it).
pub const ROUTES: &[(&str, &str, &str, &str)] = &[
    ("get", "/api/v1/health", "Liveness and version", "anyone"),
    ("get", "/api/v1/openapi.json", "This document", "anyone"),
    (
        "get",
        "/api/v1/node",
        "The node id (libp2p PeerId) and version",
        "anyone",
    ),
    (
        "post",
        "/api/v1/sessions/challenge",
        "A challenge to sign for a session; body {key}. Only keys in a book on this node get one",
        "anyone",
    ),
    (
        "post",
        "/api/v1/sessions",
        "Exchange a signed challenge for a session token; body {key, origin, challenge, signature}, signed as SPEC.md section 10 says",
        "anyone",
    ),
    (
        "get",
        "/api/v1/books",
        "Books: all with the admin token, a person's own with a session",
        "session or admin",
    ),
    (
        "post",
        "/api/v1/books",
        "Found a book; body is the signed genesis record",
        "admin token, or a one-time setup code in the Kaban-Setup-Code header",
    ),
    (
        "get",
        "/api/v1/books/{book}",
        "Book summary: totals, record_count, pending, anomalies",
        "officer session",
    ),
    (
        "post",
        "/api/v1/books/{book}/records",
        "Submit a signed record; 201 once durable, 200 if already held",
        "the record's signature and the roster",
    ),
    (
        "get",
        "/api/v1/books/{book}/place",
        "Where a signer's next record stands: its seq and the records it follows (?signer=KEY)",
        "session or admin",
    ),
    (
        "get",
        "/api/v1/books/{book}/records/{record}",
        "A record's canonical bytes",
        "officer session",
    ),
    (
        "get",
        "/api/v1/books/{book}/roster",
        "Officers and members",
        "officer session",
    ),
    (
        "get",
        "/api/v1/books/{book}/balances",
        "Totals, balances and stakes per member (?format=csv)",
        "officer session",
    ),
    (
        "get",
        "/api/v1/books/{book}/pending",
        "Records awaiting approvals",
        "officer session",
    ),
    (
        "get",
        "/api/v1/books/{book}/members/{member}/receipts/{record}",
        "A receipt for one of her entries: the signed record and the book's genesis, checkable offline",
        "officer or that member's session",
    ),
    (
        "get",
        "/api/v1/books/{book}/dashboard",
        "Enterprise dashboard: investors, capital received, transfers, reports, returns, memberships (?format=csv&table=investors|transfers|reports|returns|memberships)",
        "officer session (the cooperative's, or an investor group's)",
    ),
    (
        "get",
        "/api/v1/books/{book}/portfolio",
        "Savings book: cash, and invested, received back and outstanding per enterprise (?format=csv)",
        "officer session",
    ),
    (
        "get",
        "/api/v1/impact",
        "Impact indicators by principle across the enterprise books the caller may read (?format=csv)",
        "session",
    ),
    (
        "get",
        "/api/v1/books/{book}/transfers",
        "Enterprise book: transfers reconciled with receipts (?overdue_days=N, default 14; ?format=csv)",
        "officer session",
    ),
    (
        "get",
        "/api/v1/books/{book}/anomalies",
        "Anomalies to look at",
        "officer session",
    ),
    (
        "get",
        "/api/v1/books/{book}/members/{member}/statement",
        "A member's statement with her stake, returns and share of each enterprise (?format=csv, or ?format=html&lang=en|fil|id|bn for a printable A4 page; ?from=&to= dates)",
        "officer, or the member's own session",
    ),
    (
        "get",
        "/api/v1/books/{book}/members/{member}/personal",
        "Local personal data (never synced)",
        "officer session",
    ),
    (
        "put",
        "/api/v1/books/{book}/members/{member}/personal",
        "Set local personal data; body {full_name, phone, notes}",
        "officer session",
    ),
    (
        "delete",
        "/api/v1/books/{book}/members/{member}/personal",
        "Erase local personal data",
        "officer session",
    ),
    (
        "get",
        "/api/v1/admin/integrity",
        "SQLite integrity check",
        "admin token",
    ),
    (
        "delete",
        "/api/v1/admin/books/{book}",
        "Remove a book no partner shares and no officer of another book here holds a role in",
        "admin token",
    ),
];

pub async fn document() -> Json<Value> {
    let mut paths: Map<String, Value> = Map::new();
    for (method, path, summary, who) in ROUTES {
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = json!({
            "summary": summary,
            "description": format!("Who may call it: {who}."),
            "parameters": params,
            "responses": {
                "default": {
                    "description": "Success as JSON, or an error as application/problem+json with `code` and `detail`",
                }
            },
        });
    }
    Json(json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Kaban node API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A savings group's books. Records are signed canonical JSON (see protocol/SPEC.md). Send `Authorization: Bearer <token>` with a session token or the admin token.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": paths,
    }))
}
