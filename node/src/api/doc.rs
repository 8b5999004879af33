//! The OpenAPI 3.1 document at `/api/v1/openapi.json`. It is generated: each handler's
//! `#[utoipa::path]` gives its parameters, body, answers and security, the protocol's types
//! give their schemas (feature `openapi`), and [`Problems`] adds every error an operation can
//! answer, with the `code` values each status carries. The router registers handlers through
//! the same annotations (`utoipa_axum::routes!`), so a served route is a documented one.

use kaban_protocol::api::Problem;
use kaban_protocol::schema::{self, SIGNATURE_PATTERN};
use serde_json::json;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, Ref, RefOr};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

/// The media type of every error.
pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kaban node API",
        description = "A savings group's books, kept on the group's own node. Every write is a record signed by an officer (canonical JSON, see SPEC.md in the protocol crate); reads of member data need a session opened by signing a challenge (SPEC.md section 10). Money is always `{currency, minor}`: integer minor units of an ISO 4217 currency. Every error is `application/problem+json` with a stable `code`.",
        license(name = "AGPL-3.0-or-later"),
    ),
    components(schemas(
        Problem,
        kaban_protocol::money::Money,
        kaban_protocol::view::AnomalyKind,
        super::views::Tabular,
        super::views::Printable,
        super::views::Language,
        super::views::Table,
    )),
    modifiers(&Security),
)]
pub struct ApiDoc;

/// The three ways to call: a person's session, the operator's admin token, and the one-time
/// setup code that founds the first book.
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        let bearer = |description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(description))
                    .build(),
            )
        };
        components.add_security_scheme(
            "session",
            bearer("A session token from POST /api/v1/sessions: a person in a book on this node, who signed a challenge with her key. Officers read their whole book; a member reads her own statement and receipts."),
        );
        components.add_security_scheme(
            "admin",
            bearer("The node's admin token, from its data directory. It administers the node and reads no member data."),
        );
        components.add_security_scheme(
            "setup_code",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                super::SETUP_CODE_HEADER,
                "The node's one-time setup code, printed at its first start (or made with `kaban-node setup-code`); it founds one book.",
            ))),
        );
    }
}

/// The errors an operation answers, by status, with the codes each carries.
type Errors = &'static [(u16, &'static [&'static str])];

/// Every error each operation can answer, besides those [`common`] adds from its shape.
const ERRORS: &[(&str, Errors)] = &[
    (
        "challenge",
        &[
            (400, &["malformed_key"]),
            (403, &["unknown_key"]),
            (429, &["too_many_challenges"]),
        ],
    ),
    (
        "open_session",
        &[
            (400, &["malformed_key"]),
            (401, &["unauthenticated", "wrong_origin"]),
            (403, &["unknown_key"]),
            (503, &["busy"]),
        ],
    ),
    (
        "create_book",
        &[
            (400, RECORD_CODES),
            (
                401,
                &[
                    "unauthenticated",
                    "needs_setup_code",
                    "malformed_setup_code",
                    "unknown_setup_code",
                ],
            ),
            (409, &["quarantined"]),
            (422, &["not_genesis", "automerge"]),
            (429, &["too_many_guesses"]),
            (507, &["too_many_books", "disk_budget"]),
        ],
    ),
    (
        "submit_record",
        &[
            (400, RECORD_CODES),
            (400, &["wrong_book"]),
            (403, &["unknown_signer", "revoked_signer", "wrong_role"]),
            (
                409,
                &[
                    "missing_dependency",
                    "equivocation",
                    "quarantined",
                    "not_arrived",
                ],
            ),
            (422, SUBMIT_422),
            (507, &["book_full", "disk_budget"]),
        ],
    ),
    (
        "place",
        &[(400, &["malformed_key"]), (409, &["not_arrived"])],
    ),
    ("get_record", &[(404, &["not_found"])]),
    (
        "statement",
        &[
            (
                400,
                &[
                    "unknown_format",
                    "malformed_date",
                    "unknown_language",
                    "out_of_range",
                ],
            ),
            (404, &["not_found"]),
        ],
    ),
    ("receipt", &[(404, &["not_found"])]),
    (
        "put_personal",
        &[(400, &["too_long"]), (404, &["not_found"])],
    ),
    (
        "dashboard",
        &[(
            400,
            &[
                "unknown_format",
                "unknown_table",
                "out_of_range",
                "not_an_enterprise_book",
            ],
        )],
    ),
    (
        "transfers",
        &[(
            400,
            &["unknown_format", "out_of_range", "not_an_enterprise_book"],
        )],
    ),
    (
        "portfolio",
        &[(
            400,
            &["unknown_format", "out_of_range", "not_a_savings_book"],
        )],
    ),
    ("balances", &[(400, &["unknown_format"])]),
    ("impact", &[(400, &["unknown_format", "out_of_range"])]),
    (
        "join_peer",
        &[
            (400, &["malformed_invite", "own_invite"]),
            (503, &["no_p2p"]),
            (507, &["too_many_books", "disk_budget"]),
        ],
    ),
    ("remove_book", &[(409, &["not_removable"])]),
];

/// What a record's decoding refuses (SPEC.md section 3).
const RECORD_CODES: &[&str] = kaban_protocol::record::RecordError::CODES;

/// What validation (SPEC.md section 6) and the node's local rules refuse as unprocessable.
const SUBMIT_422: &[&str] = &[
    "target_not_in_past",
    "not_reversible",
    "not_an_enterprise_book",
    "not_a_savings_book",
    "not_investor",
    "wrong_target",
    "wrong_currency",
    "unknown_group",
    "second_genesis",
    "not_genesis",
    "wrong_envelope",
    "automerge",
    "unknown_member",
    "overdraw",
    "member_taken",
    "already_left",
    "departure_amount",
    "insufficient_cash",
];

/// The errors an operation answers because of its shape: a session or token checked (401,
/// 403), a book in its path (400 for a malformed id, 404 for a book not here), a body (400,
/// 408, 413), a query (400), and storage that fails (503).
fn common(op: &Operation, path: &str) -> Vec<(u16, Vec<&'static str>)> {
    let mut out: Vec<(u16, Vec<&'static str>)> = Vec::new();
    let secured = op
        .security
        .as_ref()
        .is_some_and(|s| !s.is_empty() && !s.iter().any(is_anonymous));
    if secured {
        out.push((401, vec!["unauthenticated"]));
        out.push((403, vec!["forbidden"]));
    }
    let params = op.parameters.as_deref().unwrap_or_default();
    let has_query = params
        .iter()
        .any(|p| p.parameter_in == utoipa::openapi::path::ParameterIn::Query);
    if path.contains("{book}") || path.contains("{record}") {
        out.push((400, vec!["malformed_id"]));
    }
    if path.contains("{book}") {
        out.push((404, vec!["unknown_book"]));
    }
    if has_query {
        out.push((400, vec!["bad_request"]));
    }
    if op.request_body.is_some() {
        out.push((400, vec!["malformed_json", "bad_request"]));
        out.push((408, vec!["request_timeout"]));
        out.push((413, vec!["body_too_large"]));
    }
    if path.contains("{book}") || op.operation_id.as_deref() == Some("list_books") {
        out.push((503, vec!["storage"]));
    }
    out
}

fn is_anonymous(requirement: &utoipa::openapi::security::SecurityRequirement) -> bool {
    *requirement == utoipa::openapi::security::SecurityRequirement::default()
}

/// Adds each operation's errors: a problem+json answer per status whose `code` is one of that
/// status's codes. It runs once the router has added the operations.
pub struct Problems;

impl Modify for Problems {
    fn modify(&self, doc: &mut Document) {
        for (path, item) in doc.paths.paths.iter_mut() {
            for op in operations(item) {
                let id = op.operation_id.clone().unwrap_or_default();
                let mut errors = common(op, path);
                let own = ERRORS.iter().find(|(name, _)| *name == id).map(|e| e.1);
                for (status, codes) in own.unwrap_or_default() {
                    errors.push((*status, codes.to_vec()));
                }
                let mut by_status: std::collections::BTreeMap<u16, Vec<&str>> = Default::default();
                for (status, codes) in errors {
                    let entry = by_status.entry(status).or_default();
                    for code in codes {
                        if !entry.contains(&code) {
                            entry.push(code);
                        }
                    }
                }
                for (status, codes) in by_status {
                    op.responses
                        .responses
                        .insert(status.to_string(), problem_response(&codes).into());
                }
            }
        }
    }
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// A problem whose `code` is one of `codes`.
fn problem_response(codes: &[&str]) -> utoipa::openapi::Response {
    let narrowed = ObjectBuilder::new().property(
        "code",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(codes.iter().copied())),
    );
    let schema = AllOfBuilder::new()
        .item(Ref::from_schema_name(Problem::name()))
        .item(narrowed);
    ResponseBuilder::new()
        .description(format!("A problem; `code` is one of: {}", codes.join(", ")))
        .content(
            PROBLEM_JSON,
            ContentBuilder::new().schema(Some(schema)).build(),
        )
        .build()
}

/// A signed record as its body: the canonical JSON envelope of SPEC.md section 3. Its
/// signature can only be made with the signer's key, so a generated record is refused.
pub struct SignedRecord;

impl PartialSchema for SignedRecord {
    fn schema() -> RefOr<Schema> {
        let id = || schema::text("A record id", schema::ID_PATTERN, "");
        let integer = |description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .maximum(Some(9_007_199_254_740_991_u64))
                .description(Some(description))
        };
        ObjectBuilder::new()
            .description(Some("A record signed by an officer, as canonical JSON (SPEC.md sections 1 and 3): members sorted, no spaces, at most 8192 bytes. `book` and `after` are absent in a genesis. The body depends on `kind` (SPEC.md section 4)."))
            .property("after", utoipa::openapi::schema::ArrayBuilder::new().items(RefOr::T(id())).min_items(Some(1)).max_items(Some(16)))
            .property("body", ObjectBuilder::new().description(Some("The kind's body (SPEC.md section 4)")))
            .property("book", kaban_protocol::record::BookId::schema())
            .property("kind", schema::text("The record's kind", "^[a-z0-9_]{1,32}$", "contribution"))
            .required("kind")
            .property("seq", integer("The record's place in its signer's chain, from 1").minimum(Some(1)))
            .required("seq")
            .property("sig", schema::text("The ed25519 signature, 86 characters of unpadded base64url", SIGNATURE_PATTERN, ""))
            .required("sig")
            .property("signer", kaban_protocol::key::PublicKey::schema())
            .required("signer")
            .property("time", integer("Milliseconds since the Unix epoch, as the signer claims"))
            .required("time")
            .property("v", ObjectBuilder::new().schema_type(Type::Integer).enum_values(Some([json!(2)])))
            .required("v")
            .required("body")
            .into()
    }
}

impl ToSchema for SignedRecord {
    fn name() -> std::borrow::Cow<'static, str> {
        "SignedRecord".into()
    }
}
