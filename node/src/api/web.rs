//! The mobile web client, served at `/` from the files embedded at build time. Every response
//! carries a Content-Security-Policy that lets the page talk to this node only, so the client
//! makes no request to any other host, whatever a book or a translation holds.

use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

/// Whether the request's `Accept-Encoding` takes gzip (and does not refuse it with `q=0`).
fn takes_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

/// Serves an embedded file, gzipped to a browser that takes it; `/` is the app shell. Anything
/// else under `/api` is not ours.
pub async fn asset(uri: Uri, request_headers: &HeaderMap) -> Response {
    let path = match uri.path() {
        "/" => "/index.html",
        p => p,
    };
    let Some((_, content_type, bytes, gzipped)) = ASSETS.iter().find(|(p, ..)| *p == path) else {
        return super::Problem::not_found(format!(
            "no such page {path}; the client is at / and the API under /api/v1"
        ))
        .into_response();
    };
    let gzip = takes_gzip(request_headers);
    let mut response = (StatusCode::OK, if gzip { *gzipped } else { *bytes }).into_response();
    let headers = response.headers_mut();
    if gzip {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The service worker keeps the app shell; the browser's HTTP cache must not keep stale copies
    // of it (or of the worker itself) in between.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
