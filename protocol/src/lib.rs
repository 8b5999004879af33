//! `kaban-protocol`: the sans-IO heart of Kaban.
//!
//! Everything a node, a phone or an auditor needs to agree on lives here, free of any I/O,
//! clock or randomness (callers pass `now` and random bytes in):
//!
//! - [`key`]: signer keys and their text and file forms;
//! - [`canonical`]: the canonical JSON every record is encoded in;
//! - [`money`]: integer minor units and currencies;
//! - [`record`] and [`kind`]: signed facts and what each kind says;
//! - [`book`]: an automerge document of records, guarded by one validation function;
//! - [`roster`]: who holds which role, derived from a set of records;
//! - [`view`]: balances, statements, pending approvals and anomalies, folded from records;
//! - [`enterprise`]: an enterprise book's dashboard and transfer reconciliation;
//! - [`portfolio`]: views across books: a group's portfolio, a member's position, impact;
//! - [`sync`]: the per-peer sync engine that validates every change before applying it;
//! - `testing` (tests and the `testing` feature only): the shared test fixtures.
//!
//! `SPEC.md` beside this crate defines the encoding byte for byte.

pub mod allocate;
pub mod api;
pub mod book;
pub mod canonical;
pub mod enterprise;
pub mod fingerprint;
pub mod frame;
pub mod invite;
pub mod key;
pub mod kind;
pub mod money;
pub mod portfolio;
pub mod record;
pub mod roster;
#[cfg(feature = "openapi")]
pub mod schema;
pub mod session;
pub mod sync;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod view;
