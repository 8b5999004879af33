//! The `/api/v1` wire types: what each request carries and each answer holds, defined once so
//! that the node (which builds them) and the `kaban` CLI (which decodes them) cannot drift apart.
//!
//! Pure serde data, like the rest of this crate: no HTTP, no I/O. Paths are in the doc comment
//! of each type. Where an answer is one of the protocol's own views (a
//! [`crate::portfolio::Portfolio`], a [`crate::enterprise::Reconciliation`], a
//! [`crate::view::Officer`]), the node sends that view and a client decodes the same type; only
//! anomalies differ, read as [`AnomalyLine`]s. The node's API tests decode every answer as the
//! types here, so a renamed field fails a test rather than a client.
//!
//! Answers are decoded leniently: a field the node adds later is ignored, and a field a client
//! needs and does not find is an error that names it (serde's "missing field").

pub mod book;
pub mod enterprise;
pub mod node;
pub mod session;
pub mod views;

use serde::{Deserialize, Serialize};

/// An anomaly as an answer carries it (the node sends a [`crate::view::Anomaly`]). The kind
/// stays text, so a client older than a new kind still reads the rest.
pub type AnomalyLine = crate::view::Anomaly<String>;

/// Every refusal, as `application/problem+json` (RFC 9457): a message a person can act on, and
/// a stable `code` a program can match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// A URL naming the problem's code.
    #[serde(rename = "type")]
    pub kind: String,
    /// The HTTP status's reason phrase.
    pub title: String,
    pub status: u16,
    pub code: String,
    pub detail: String,
}

#[cfg(test)]
mod tests;
