//! `kaban-node`: the process that keeps a savings group's books.
//!
//! - [`storage`]: SQLite on a dedicated thread; the only module that knows SQL.
//! - [`library`]: the books in memory, local policy, durable submission.
//! - [`api`]: the HTTP API; the only module that knows HTTP.
//! - [`config`]: the TOML configuration and its defaults.
//! - [`p2p`]: peer-to-peer sync with partner nodes; the only module that knows libp2p.
//! - [`node`]: starting and stopping the whole node.
//! - [`server`]: the HTTP and HTTPS accept loop, with its connection limits and timeouts.
//! - [`setup`]: one-time setup codes, the authority to found a book.
//! - [`clock`]: the wall-clock time; [`files`]: private files in the data directory.

pub mod api;
pub mod backups;
pub mod clock;
pub mod config;
pub mod doctor;
pub mod files;
pub mod library;
pub mod metrics;
pub mod node;
pub mod p2p;
pub mod server;
pub mod setup;
pub mod storage;
pub mod tls;
