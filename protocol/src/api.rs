//! The `/api/v1` wire types: what each request carries and each answer holds, defined once so
//! that the node (which builds them) and the `kaban` CLI (which decodes them) cannot drift apart.
//!
//! Pure serde data, like the rest of this crate: no HTTP, no I/O. Paths are in the doc comment
//! of each type. The node fills some answers with the protocol's own view types (a
//! [`crate::view::Officer`], a [`crate::enterprise::Reconciliation`]), which serialize but are
//! not read back; those answers are generic over their lines, and their default parameters are
//! the line types here, which a client decodes into. The node's API tests decode every answer
//! into these defaults, so a renamed field fails a test rather than a client.
//!
//! Answers are decoded leniently: a field the node adds later is ignored, and a field a client
//! needs and does not find is an error that names it (serde's "missing field").

pub mod book;
pub mod enterprise;
pub mod node;
pub mod session;
pub mod views;

use crate::record::RecordId;
use serde::{Deserialize, Serialize};

/// An anomaly as an answer carries it (the node sends [`crate::view::Anomaly`]). The kind stays
/// text, so a client older than a new kind still reads the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnomalyLine {
    pub kind: String,
    pub records: Vec<RecordId>,
    pub detail: String,
}

/// Every refusal, as `application/problem+json` (RFC 9457): a message a person can act on, and
/// a stable `code` a program can match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
