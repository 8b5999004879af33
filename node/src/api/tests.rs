//! API tests through `router(...).oneshot(...)`, on a real SQLite file in a temporary directory.
//! Every refusal asserts the message a person would read.

use super::*;
use axum::body::Body as HttpBody;
use axum::http::Request;
use http_body_util::BodyExt as _;
use kaban_protocol::api;
use kaban_protocol::key::SignerKey;
use kaban_protocol::kind::{
    Approval, Body, Contribution, MemberJoin, Role, RoleChange, Withdrawal,
};
use kaban_protocol::record::Place;
use kaban_protocol::record::RecordId;
use kaban_protocol::testing::{Founding, hkd, key, php};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tower::ServiceExt as _;

struct Api {
    state: Arc<AppState>,
    _dir: tempfile::TempDir,
    treasurer: SignerKey,
    chair: SignerKey,
    keeper: SignerKey,
    ana: SignerKey,
    book: BookId,
}

async fn call(state: &Arc<AppState>, req: Request<HttpBody>) -> (StatusCode, String, Value) {
    let response = router(Arc::clone(state)).oneshot(req).await.unwrap();
    let status = response.status();
    let ctype = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, ctype, value)
}

const ADMIN: &str = "the-admin-token";
const NODE: &str = "12D3KooWtestnode";
const ORIGIN: &str = "http://127.0.0.1:8737";

fn post(path: &str, body: Vec<u8>) -> Request<HttpBody> {
    Request::post(path).body(HttpBody::from(body)).unwrap()
}

fn post_with(path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Request<HttpBody> {
    let mut r = Request::post(path);
    for (name, value) in headers {
        r = r.header(*name, *value);
    }
    r.body(HttpBody::from(body)).unwrap()
}

fn admin() -> (&'static str, String) {
    ("authorization", format!("Bearer {ADMIN}"))
}

fn get(path: &str, token: Option<&str>) -> Request<HttpBody> {
    let mut r = Request::get(path);
    if let Some(t) = token {
        r = r.header("authorization", format!("Bearer {t}"));
    }
    r.body(HttpBody::empty()).unwrap()
}

/// A session request for `key`, signed by `signer` for `origin` and the challenge's node.
fn session_body(key: &SignerKey, signer: &SignerKey, origin: &str, c: &Value) -> Value {
    let text = kaban_protocol::session::SessionText {
        node: c["node"].as_str().unwrap(),
        origin,
        challenge: c["challenge"].as_str().unwrap(),
    };
    json!({
        "key": key.public().to_string(),
        "origin": origin,
        "challenge": text.challenge,
        "signature": kaban_protocol::session::sign_challenge(signer, &text),
    })
}

impl Api {
    async fn new() -> Api {
        let dir = tempfile::tempdir().unwrap();
        let (storage, _thread) = crate::storage::open(dir.path()).unwrap();
        let library = Arc::new(Library::open(storage).await.unwrap());
        let state = Arc::new(AppState {
            library,
            auth: Auth::new(
                ADMIN.into(),
                NODE.into(),
                vec![ORIGIN.into()],
                crate::setup::SetupCodes::new(dir.path()),
            ),
            node_id: NODE.into(),
            clock: || 1_764_300_000_000,
            request_timeout: std::time::Duration::from_secs(30),
            p2p: None,
            ca_pem: None,
        });
        let (treasurer, chair, keeper, ana) = (key(1), key(2), key(3), key(4));
        let genesis = Founding::savings("Bayanihan Savers")
            .officer(&treasurer, Role::Treasurer)
            .officer(&chair, Role::Chair)
            .officer(&keeper, Role::KeyHolder)
            .sign(&treasurer);
        let (name, value) = admin();
        let found = || post_with("/api/v1/books", &[(name, &value)], genesis.bytes().to_vec());
        let (status, _, v) = call(&state, found()).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        let (status, _, _) = call(&state, found()).await;
        assert_eq!(status, StatusCode::OK, "founding again is harmless");
        let api = Api {
            state,
            _dir: dir,
            treasurer,
            chair,
            keeper,
            ana,
            book: genesis.book(),
        };
        let join = api
            .sign(
                &api.treasurer.clone(),
                Body::MemberJoin(MemberJoin {
                    member: "m-ana".parse().unwrap(),
                    alias: "Ate Ana".into(),
                    key: Some(api.ana.public()),
                }),
            )
            .await;
        assert_eq!(api.submit(&join).await.0, StatusCode::CREATED);
        api
    }

    async fn sign(&self, key: &SignerKey, body: Body) -> Record {
        let signer = key.public();
        let place = self
            .state
            .library
            .with_book(self.book, move |b| b.place_for(&signer))
            .await
            .unwrap();
        Record::sign(key, &place, 1_764_300_000_000, &body)
    }

    async fn submit(&self, record: &Record) -> (StatusCode, Value) {
        self.submit_bytes(record.bytes().to_vec()).await
    }

    async fn submit_bytes(&self, bytes: Vec<u8>) -> (StatusCode, Value) {
        let (s, ctype, v) = call(
            &self.state,
            post(&format!("/api/v1/books/{}/records", self.book), bytes),
        )
        .await;
        if s.is_client_error() {
            assert_eq!(ctype, "application/problem+json");
        }
        (s, v)
    }

    async fn session(&self, key: &SignerKey) -> String {
        let c = self.challenge(key).await;
        let body = session_body(key, key, ORIGIN, &c);
        let (s, _, v) = call(
            &self.state,
            post("/api/v1/sessions", body.to_string().into_bytes()),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["token"].as_str().unwrap().to_owned()
    }

    /// A challenge asked for `key`: its text and the node it names.
    async fn challenge(&self, key: &SignerKey) -> Value {
        let ask = json!({"key": key.public().to_string()});
        let (s, _, c) = call(
            &self.state,
            post("/api/v1/sessions/challenge", ask.to_string().into_bytes()),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{c}");
        c
    }

    fn contribution(&self, minor: i64) -> Body {
        Body::Contribution(Contribution {
            member: "m-ana".parse().unwrap(),
            amount: hkd(minor),
            meeting: None,
        })
    }
}

/// The router is built from the handlers' OpenAPI annotations, so a route cannot be served
/// without being documented; this checks the other way round, and that each operation is
/// described as exactly as the document promises.
#[tokio::test]
async fn every_documented_operation_is_served_and_described_exactly() {
    let api = Api::new().await;
    let (s, _, v) = call(&api.state, get("/api/v1/health", None)).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (_, _, doc) = call(&api.state, get("/api/v1/openapi.json", None)).await;
    let schemas = &doc["components"]["schemas"];
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let what = format!("{method} {path}");
            assert!(op["security"].is_array(), "{what} declares no security");
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["in"] != "path" {
                    continue;
                }
                let name = p["schema"]["$ref"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap();
                assert!(
                    schemas[name]["pattern"].is_string(),
                    "{what}: path parameter {} has no pattern",
                    p["name"]
                );
            }
            for (status, response) in op["responses"].as_object().unwrap() {
                if !status.starts_with('2') {
                    let problem = &response["content"]["application/problem+json"]["schema"];
                    assert!(
                        problem["allOf"].is_array(),
                        "{what} {status} is not a problem"
                    );
                }
            }
            let concrete = path
                .replace("{book}", &api.book.to_string())
                .replace("{member}", "m-ana")
                .replace("{record}", &"0".repeat(64));
            let req = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&concrete)
                .body(HttpBody::empty())
                .unwrap();
            let (s, _, v) = call(&api.state, req).await;
            assert_ne!(
                v["detail"].as_str(),
                Some("no such endpoint; see /api/v1/openapi.json"),
                "{what} is documented but not routed"
            );
            assert_ne!(s, StatusCode::METHOD_NOT_ALLOWED, "{what} is not routed");
        }
    }
    assert_eq!(operations, 29);
    let (s, _, v) = call(&api.state, get("/api/v1/nothing", None)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["code"], "not_found");
}

/// The web client goes gzipped to a browser that takes it, and whole to one that does not.
#[tokio::test]
async fn the_web_client_is_served_gzipped_to_browsers_that_accept_it() {
    let api = Api::new().await;
    let fetch = |encoding: Option<&'static str>| {
        let state = Arc::clone(&api.state);
        async move {
            let mut req = Request::get("/app.js");
            if let Some(e) = encoding {
                req = req.header("accept-encoding", e);
            }
            let response = router(state)
                .oneshot(req.body(HttpBody::empty()).unwrap())
                .await
                .unwrap();
            let coding = response
                .headers()
                .get("content-encoding")
                .map(|v| v.to_str().unwrap().to_owned());
            let vary = response.headers().get("vary").cloned();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (coding, vary, bytes)
        }
    };
    let (coding, vary, plain) = fetch(None).await;
    assert_eq!(
        (coding, vary.unwrap().to_str().unwrap()),
        (None, "Accept-Encoding")
    );
    let (coding, _, gzipped) = fetch(Some("gzip, deflate, br")).await;
    assert_eq!(coding.as_deref(), Some("gzip"));
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&gzipped[..]),
        &mut unzipped,
    )
    .unwrap();
    assert_eq!(unzipped, plain);
    assert!(
        gzipped.len() * 2 < plain.len(),
        "{} bytes gzipped of {}",
        gzipped.len(),
        plain.len()
    );
    let (coding, _, refused) = fetch(Some("gzip;q=0, identity")).await;
    assert_eq!((coding, refused), (None, plain));
}

#[tokio::test]
async fn a_record_is_created_once_and_resubmitting_it_is_idempotent() {
    let api = Api::new().await;
    let r = api.sign(&api.treasurer, api.contribution(50_000)).await;
    let (s, v) = api.submit(&r).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(v["id"], r.id().to_string());
    let (s, v) = api.submit(&r).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["id"], r.id().to_string());
    let token = api.session(&api.treasurer).await;
    let (_, _, v) = call(
        &api.state,
        get(&format!("/api/v1/books/{}", api.book), Some(&token)),
    )
    .await;
    assert_eq!(v["record_count"], 3);
    assert_eq!(v["balances"], json!([{"currency": "HKD", "minor": 50_000}]));
}

#[tokio::test]
async fn refusals_say_what_is_wrong() {
    let api = Api::new().await;
    api.submit(&api.sign(&api.treasurer, api.contribution(40_000)).await)
        .await;

    // Tampered: the amount changed after signing.
    let good = api.sign(&api.treasurer, api.contribution(100)).await;
    let tampered = String::from_utf8(good.bytes().to_vec())
        .unwrap()
        .replace("\"minor\":100", "\"minor\":900");
    let (s, v) = api.submit_bytes(tampered.into_bytes()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["detail"],
        format!(
            "signature does not verify for signer {}",
            api.treasurer.public()
        )
    );

    // A stranger's record is answered exactly as a record for a book the node does not hold,
    // so it tells nothing about which books are here.
    let stranger = key(9);
    let (s, v) = api
        .submit(&api.sign(&stranger, api.contribution(100)).await)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["code"], "unknown_book");
    let other = BookId(kaban_protocol::record::RecordId([7; 32]));
    let missing = other.to_string();
    let elsewhere = Record::sign(
        &stranger,
        &Place::new(other, 1, vec![other.0]),
        1,
        &api.contribution(100),
    );
    let (s2, _, v2) = call(
        &api.state,
        post(
            &format!("/api/v1/books/{missing}/records"),
            elsewhere.bytes().to_vec(),
        ),
    )
    .await;
    assert_eq!(s2, StatusCode::NOT_FOUND);
    assert_eq!(
        v["detail"]
            .as_str()
            .unwrap()
            .replace(&api.book.to_string(), "BOOK"),
        v2["detail"].as_str().unwrap().replace(&missing, "BOOK"),
    );

    // An officer without the role the kind needs.
    let (s, v) = api
        .submit(&api.sign(&api.keeper, api.contribution(100)).await)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(v["detail"].as_str().unwrap().contains(&format!(
        "signer {} of contribution record",
        api.keeper.public()
    )));

    // Overdraw, counting the pending withdrawal.
    let w = Body::Withdrawal(Withdrawal {
        member: "m-ana".parse().unwrap(),
        amount: hkd(30_000),
        reason: "rent".into(),
    });
    assert_eq!(
        api.submit(&api.sign(&api.treasurer, w).await).await.0,
        StatusCode::CREATED
    );
    let w = Body::Withdrawal(Withdrawal {
        member: "m-ana".parse().unwrap(),
        amount: hkd(60_000),
        reason: "more".into(),
    });
    let (s, v) = api.submit(&api.sign(&api.treasurer, w).await).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["code"], "overdraw");
    assert_eq!(
        v["detail"],
        "withdrawal of 600.00 HKD exceeds member m-ana's balance of 100.00 HKD (after 300.00 HKD in withdrawals awaiting approval)"
    );

    // Wrong currency.
    let php = Body::Contribution(Contribution {
        member: "m-ana".parse().unwrap(),
        amount: php(500),
        meeting: None,
    });
    let (s, v) = api.submit(&api.sign(&api.treasurer, php).await).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        v["detail"],
        format!(
            "contribution of 5.00 PHP is in PHP, but book {} keeps HKD",
            api.book
        )
    );

    // Malformed JSON and an oversized body.
    let (s, v) = api.submit_bytes(b"{\"kind\":".to_vec()).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_json"))
    );
    let (s, v) = api.submit_bytes(vec![b' '; MAX_BODY_BYTES + 1]).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        v["detail"],
        format!("request body is larger than {MAX_BODY_BYTES} bytes")
    );

    // A record signed for another book.
    let other = BookId(RecordId([7; 32]));
    let elsewhere = Record::sign(
        &api.treasurer,
        &Place::new(other, 2, vec![other.0]),
        5,
        &api.contribution(100),
    );
    let (s, v) = api.submit(&elsewhere).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("wrong_book"))
    );
    assert_eq!(
        v["detail"],
        format!(
            "record {} belongs to book {}, not to book {}",
            elsewhere.id(),
            "07".repeat(32),
            api.book
        )
    );

    // A book this node does not have.
    let (s, _, v) = call(
        &api.state,
        post(
            &format!("/api/v1/books/{}/records", "ab".repeat(32)),
            good.bytes().to_vec(),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        v["detail"],
        format!(
            "this node holds no book {} in which signer {} holds a role",
            "ab".repeat(32),
            api.treasurer.public()
        )
    );
}

#[tokio::test]
async fn a_revoked_treasurer_is_refused() {
    let api = Api::new().await;
    let revoke = api
        .sign(
            &api.chair,
            Body::RoleRevoke(RoleChange {
                key: api.treasurer.public(),
                role: Role::Treasurer,
            }),
        )
        .await;
    assert_eq!(api.submit(&revoke).await.0, StatusCode::CREATED);
    let approve = api
        .sign(
            &api.keeper,
            Body::Approval(Approval {
                record: revoke.id(),
            }),
        )
        .await;
    assert_eq!(api.submit(&approve).await.0, StatusCode::CREATED);
    let r = api.sign(&api.treasurer, api.contribution(100)).await;
    let (s, v) = api.submit(&r).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(v["code"], "revoked_signer");
    assert_eq!(
        v["detail"],
        format!(
            "signer {} of contribution record {} had role treasurer revoked before signing",
            api.treasurer.public(),
            r.id()
        )
    );
}

#[tokio::test]
async fn reads_need_a_session_and_members_see_only_their_own() {
    let api = Api::new().await;
    let statement = format!("/api/v1/books/{}/members/m-ana/statement", api.book);
    let (s, _, v) = call(&api.state, get(&statement, None)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .starts_with("this needs a session")
    );

    let ana = api.session(&api.ana).await;
    let (s, _, v) = call(&api.state, get(&statement, Some(&ana))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["alias"], "Ate Ana");
    let (s, _, v) = call(
        &api.state,
        get(&format!("/api/v1/books/{}", api.book), Some(&ana)),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        v["detail"],
        format!(
            "signer {} is not an officer of book {}",
            api.ana.public(),
            api.book
        )
    );

    // A signature by another key does not open a session.
    let c = api.challenge(&api.ana).await;
    let body = session_body(&api.ana, &api.chair, ORIGIN, &c);
    let (s, _, v) = call(
        &api.state,
        post("/api/v1/sessions", body.to_string().into_bytes()),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(
        v["detail"],
        format!(
            "the session signature does not verify for signer {}, node {NODE} and origin {ORIGIN}",
            api.ana.public()
        )
    );
    // And a challenge is good for one try only.
    let (s, _, _) = call(
        &api.state,
        post("/api/v1/sessions", body.to_string().into_bytes()),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn administration_needs_the_right_admin_token() {
    let api = Api::new().await;
    let (s, _, v) = call(&api.state, get("/api/v1/admin/integrity", Some("wrong"))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(
        v["detail"],
        "token is neither this node's admin token nor a live session"
    );
    let officer = api.session(&api.treasurer).await;
    let (s, _, _) = call(&api.state, get("/api/v1/admin/integrity", Some(&officer))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, v) = call(
        &api.state,
        get("/api/v1/admin/integrity", Some("the-admin-token")),
    )
    .await;
    assert_eq!(
        (s, v["integrity_check"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    // The admin token reads no member data.
    let (s, _, _) = call(
        &api.state,
        get(
            &format!("/api/v1/books/{}/balances", api.book),
            Some("the-admin-token"),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn personal_data_stays_local_and_can_be_erased() {
    let api = Api::new().await;
    let token = api.session(&api.treasurer).await;
    let path = format!("/api/v1/books/{}/members/m-ana/personal", api.book);
    let put = Request::put(&path)
        .header("authorization", format!("Bearer {token}"))
        .body(HttpBody::from(
            json!({"full_name": "Ana Santos", "phone": "+852 5555 0000"}).to_string(),
        ))
        .unwrap();
    assert_eq!(call(&api.state, put).await.0, StatusCode::NO_CONTENT);
    let (_, _, v) = call(&api.state, get(&path, Some(&token))).await;
    assert_eq!(v["personal"]["full_name"], "Ana Santos");
    // Nothing of it is in the book.
    let in_book = api
        .state
        .library
        .with_book(api.book, |b| {
            b.records()
                .any(|r| String::from_utf8_lossy(r.bytes()).contains("Santos"))
        })
        .await
        .unwrap();
    assert!(!in_book);
    let del = Request::delete(&path)
        .header("authorization", format!("Bearer {token}"))
        .body(HttpBody::empty())
        .unwrap();
    let (_, _, v) = call(&api.state, del).await;
    assert_eq!(v["erased"], true);
    let (_, _, v) = call(&api.state, get(&path, Some(&token))).await;
    assert_eq!(v["personal"], Value::Null);
}

#[tokio::test]
async fn views_say_which_formats_tables_and_books_they_take() {
    let api = Api::new().await;
    let t = api.session(&api.treasurer).await;
    let book = api.book;
    for (path, code, detail) in [
        (
            format!("/api/v1/books/{book}/portfolio?format=xml"),
            "unknown_format",
            "format \"xml\" is not one of json, csv".to_owned(),
        ),
        (
            format!("/api/v1/books/{book}/dashboard"),
            "not_an_enterprise_book",
            format!("book {book} is a savings book; its investments show in its portfolio"),
        ),
        (
            format!("/api/v1/books/{book}/members/m-ana/statement?format=html&lang=xx"),
            "unknown_language",
            "statements are printed in en, fil, id, bn, th; \"xx\" is not one of them".to_owned(),
        ),
        (
            format!("/api/v1/books/{book}/members/m-ana/statement?from=2026-13"),
            "malformed_date",
            "from \"2026-13\" is not a date like 2026-11-28".to_owned(),
        ),
    ] {
        let (s, _, v) = call(&api.state, get(&path, Some(&t))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{path}: {v}");
        assert_eq!(
            (v["code"].as_str().unwrap(), v["detail"].as_str().unwrap()),
            (code, detail.as_str())
        );
    }
    // A member reads her own printed statement; its words are in her language, Thai too.
    let ana = api.session(&api.ana).await;
    for (lang, title) in [("id", "Laporan anggota"), ("th", "รายการบัญชีของสมาชิก")]
    {
        let response = router(Arc::clone(&api.state))
            .oneshot(get(
                &format!("/api/v1/books/{book}/members/m-ana/statement?format=html&lang={lang}"),
                Some(&ana),
            ))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let html = response.into_body().collect().await.unwrap().to_bytes();
        let html = String::from_utf8(html.to_vec()).unwrap();
        assert!(html.contains(&format!("<h1>{title}</h1>")), "{html}");
        assert!(html.contains(&format!("lang=\"{lang}\"")), "{html}");
        assert!(html.contains("Ate Ana"));
    }
    // CSV of the balances, with the stake column.
    let response = router(Arc::clone(&api.state))
        .oneshot(get(
            &format!("/api/v1/books/{book}/balances?format=csv"),
            Some(&t),
        ))
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let csv = response.into_body().collect().await.unwrap().to_bytes();
    assert!(csv.starts_with(b"member,alias,currency,balance,stake\r\nm-ana,Ate Ana,HKD,"));
}

/// Decodes the answer to `GET path` as the shared API type a client reads it as.
async fn answer_as<T: DeserializeOwned>(api: &Api, path: &str, token: Option<&str>) -> T {
    let (status, _, v) = call(&api.state, get(path, token)).await;
    assert_eq!(status, StatusCode::OK, "{path}: {v}");
    serde_json::from_value(v.clone())
        .unwrap_or_else(|e| panic!("{path} does not decode as the shared API type: {e}\n{v}"))
}

#[tokio::test]
async fn every_answer_decodes_as_the_shared_api_types() {
    let api = Api::new().await;
    let treasurer = api.treasurer.clone();
    let contribution = api.sign(&treasurer, api.contribution(50_000)).await;
    let (status, v) = api.submit(&contribution).await;
    assert_eq!(status, StatusCode::CREATED);
    let submitted: api::book::Submitted = serde_json::from_value(v).unwrap();
    assert_eq!(submitted.id, contribution.id());
    let withdrawal = api
        .sign(
            &treasurer,
            Body::Withdrawal(Withdrawal {
                member: "m-ana".parse().unwrap(),
                amount: hkd(10_000),
                reason: "school fees".into(),
            }),
        )
        .await;
    assert_eq!(api.submit(&withdrawal).await.0, StatusCode::CREATED);
    let token = api.session(&api.treasurer).await;
    let officer = Some(token.as_str());
    let book = api.book;

    let _: api::node::Health = answer_as(&api, "/api/v1/health", None).await;
    let _: api::node::NodeInfo = answer_as(&api, "/api/v1/node", None).await;
    let _: api::node::NodeInfo = answer_as(&api, "/api/v1/node", Some(ADMIN)).await;
    let _: api::node::Peers = answer_as(&api, "/api/v1/admin/peers", Some(ADMIN)).await;
    let _: api::node::Integrity = answer_as(&api, "/api/v1/admin/integrity", Some(ADMIN)).await;
    let all: api::book::BookList = answer_as(&api, "/api/v1/books", Some(ADMIN)).await;
    assert_eq!(all.books[0].roles, None);
    let mine: api::book::BookList = answer_as(&api, "/api/v1/books", officer).await;
    assert_eq!(mine.books[0].roles, Some(vec![Role::Treasurer]));
    let summary: api::book::Summary =
        answer_as(&api, &format!("/api/v1/books/{book}"), officer).await;
    assert_eq!(summary.pending, vec![withdrawal.id()]);
    let signer = api.treasurer.public();
    let path = format!("/api/v1/books/{book}/place?signer={signer}");
    let place: api::book::Place = answer_as(&api, &path, officer).await;
    assert_eq!(place.book, book);
    let path = format!("/api/v1/books/{book}/roster");
    let _: api::book::Roster = answer_as(&api, &path, officer).await;
    let path = format!("/api/v1/books/{book}/pending");
    let pending: api::book::PendingList = answer_as(&api, &path, officer).await;
    assert_eq!(pending.pending[0].need, 2);
    let path = format!("/api/v1/books/{book}/anomalies");
    let _: api::book::Anomalies = answer_as(&api, &path, officer).await;
    let path = format!("/api/v1/books/{book}/balances");
    let balances: api::views::Balances = answer_as(&api, &path, officer).await;
    assert_eq!(balances.members["m-ana"], vec![hkd(50_000)]);
    let path = format!("/api/v1/books/{book}/portfolio");
    let _: api::views::Portfolio = answer_as(&api, &path, officer).await;
    let path = format!("/api/v1/books/{book}/members/m-ana/statement");
    let statement: api::views::Statement = answer_as(&api, &path, officer).await;
    assert!(!statement.entries.is_empty());
    let _: api::views::Impact = answer_as(&api, "/api/v1/impact", officer).await;

    let (status, _, v) = call(&api.state, get("/api/v1/books/nonsense", officer)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let problem: api::Problem = serde_json::from_value(v).unwrap();
    assert_eq!(problem.code, "malformed_id");
}
