//! Errors as `application/problem+json` (RFC 9457), each with a message a person can act on
//! and a stable `code` a program can match.

use crate::library::LibraryError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kaban_protocol::book::Refusal;

#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            code,
            detail: detail.into(),
        }
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNAUTHORIZED, "unauthenticated", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not_found", detail)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = kaban_protocol::api::Problem {
            kind: format!("https://kaban.invalid/problems/{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            code: self.code.to_owned(),
            detail: self.detail,
        };
        let body = serde_json::to_string(&body).expect("a problem serializes to JSON");
        let mut response = (self.status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

impl From<LibraryError> for Problem {
    fn from(e: LibraryError) -> Problem {
        let detail = e.to_string();
        match e {
            LibraryError::UnknownBook(_) | LibraryError::NotHere { .. } => {
                Problem::new(StatusCode::NOT_FOUND, "unknown_book", detail)
            }
            LibraryError::Refused(r) => {
                let status = match r {
                    Refusal::UnknownSigner { .. }
                    | Refusal::RevokedSigner { .. }
                    | Refusal::WrongRole { .. } => StatusCode::FORBIDDEN,
                    Refusal::Record { .. } | Refusal::WrongBook { .. } => StatusCode::BAD_REQUEST,
                    // The record's place is taken or not reached yet: the signer signs it again
                    // at the place the book now offers (`GET /books/{id}/place`), or retries.
                    Refusal::MissingRecord { .. }
                    | Refusal::MissingPrevious { .. }
                    | Refusal::Equivocation { .. } => StatusCode::CONFLICT,
                    _ => StatusCode::UNPROCESSABLE_ENTITY,
                };
                Problem::new(status, r.code(), detail)
            }
            LibraryError::Objection(o) => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, o.code(), detail)
            }
            LibraryError::Sync(_) => Problem::new(StatusCode::BAD_REQUEST, "sync", detail),
            LibraryError::Quarantined(_) => {
                Problem::new(StatusCode::CONFLICT, "quarantined", detail)
            }
            LibraryError::TooManyBooks => {
                Problem::new(StatusCode::INSUFFICIENT_STORAGE, "too_many_books", detail)
            }
            LibraryError::NotRemovable { .. } => {
                Problem::new(StatusCode::CONFLICT, "not_removable", detail)
            }
            LibraryError::BookFull { .. } => {
                Problem::new(StatusCode::INSUFFICIENT_STORAGE, "book_full", detail)
            }
            LibraryError::DiskFull { .. } => {
                Problem::new(StatusCode::INSUFFICIENT_STORAGE, "disk_budget", detail)
            }
            LibraryError::SessionReplaced(_) => {
                Problem::new(StatusCode::CONFLICT, "session_replaced", detail)
            }
            LibraryError::Storage(_) | LibraryError::Load(_) | LibraryError::Unavailable(_) => {
                tracing::error!(error = %detail, "storage failure");
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, "storage", detail)
            }
        }
    }
}
