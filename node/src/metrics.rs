//! What the node counts, for `GET /metrics` (Prometheus text format, admin token only).
//!
//! Two kinds of figure. Events are counted where they happen: writes and their latency (in the
//! library), sync sessions, bytes and refused changes (in the sync driver and the book's task),
//! bans (in p2p). States are read when the page is asked for, from whoever owns them: books and
//! records from the library, storage size and the last backup from storage, partners' last sync
//! and current bans from the p2p event loop. Reading states on demand keeps one owner for each,
//! rather than a copy here that could drift.
//!
//! Labels come from fixed sets (an outcome, a side, a refusal code) or from ids the operator
//! already sees in `/api/v1/admin/peers` (book and peer ids). Nothing personal is a label.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

type Labels = Vec<(&'static str, String)>;
type SecondsGauge = Gauge<f64, AtomicU64>;

/// Upper bounds of the write latency buckets, in seconds: a write is a rule check and a SQLite
/// commit, milliseconds on a mini-PC; seconds mean a stalled disk.
const WRITE_BUCKETS_S: [f64; 12] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
];

/// The node's counters and gauges.
pub struct Metrics {
    registry: Registry,
    writes: Family<Labels, Counter>,
    write_seconds: Histogram,
    sync_sessions: Family<Labels, Counter>,
    sync_bytes_sent: Counter,
    sync_bytes_received: Counter,
    refused_changes: Family<Labels, Counter>,
    bans: Counter,
    books: Gauge,
    books_in_memory: Gauge,
    records: Gauge,
    storage_bytes: Gauge,
    banned_peers: Gauge,
    partner_last_synced_age: Family<Labels, SecondsGauge>,
    last_backup_age: SecondsGauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// What the node's owners of state report when `/metrics` is read.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub books: usize,
    pub books_in_memory: usize,
    pub records: usize,
    pub storage_bytes: u64,
    pub banned_peers: usize,
    /// `(book, peer, seconds since the last sync that brought changes)`, for partners that
    /// synced at least once.
    pub partners_synced: Vec<(String, String, f64)>,
    /// Seconds since the last backup; `None` when there was none.
    pub last_backup_age_s: Option<f64>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let m = Metrics {
            registry: Registry::with_prefix("kaban"),
            writes: Family::default(),
            write_seconds: Histogram::new(WRITE_BUCKETS_S),
            sync_sessions: Family::default(),
            sync_bytes_sent: Counter::default(),
            sync_bytes_received: Counter::default(),
            refused_changes: Family::default(),
            bans: Counter::default(),
            books: Gauge::default(),
            books_in_memory: Gauge::default(),
            records: Gauge::default(),
            storage_bytes: Gauge::default(),
            banned_peers: Gauge::default(),
            partner_last_synced_age: Family::default(),
            last_backup_age: SecondsGauge::default(),
        };
        m.register()
    }

    fn register(mut self) -> Metrics {
        let r = &mut self.registry;
        r.register(
            "writes",
            "Records submitted, by outcome (created, existing, error)",
            self.writes.clone(),
        );
        r.register(
            "write_seconds",
            "Time from a record's submission to its durable commit",
            self.write_seconds.clone(),
        );
        r.register(
            "sync_sessions",
            "Sync sessions started, by side (dialer, listener)",
            self.sync_sessions.clone(),
        );
        r.register(
            "sync_sent_bytes",
            "Sync frame bytes sent to partners",
            self.sync_bytes_sent.clone(),
        );
        r.register(
            "sync_received_bytes",
            "Sync frame bytes received from partners",
            self.sync_bytes_received.clone(),
        );
        r.register(
            "refused_changes",
            "Changes from partners refused, by reason code",
            self.refused_changes.clone(),
        );
        r.register(
            "bans",
            "Peers banned for breaking the sync protocol",
            self.bans.clone(),
        );
        r.register("books", "Books this node holds", self.books.clone());
        r.register(
            "books_in_memory",
            "Books loaded in memory now",
            self.books_in_memory.clone(),
        );
        r.register("records", "Records in the books held", self.records.clone());
        r.register(
            "storage_bytes",
            "The database and its write-ahead log on disk",
            self.storage_bytes.clone(),
        );
        r.register(
            "banned_peers",
            "Peers banned now",
            self.banned_peers.clone(),
        );
        r.register(
            "partner_last_synced_age_seconds",
            "Seconds since a partner's last sync that brought changes, by book and peer",
            self.partner_last_synced_age.clone(),
        );
        r.register(
            "last_backup_age_seconds",
            "Seconds since the last backup (absent when there was none)",
            self.last_backup_age.clone(),
        );
        self
    }

    /// One record submitted: how it ended and how long it took.
    pub fn write(&self, outcome: &'static str, elapsed: std::time::Duration) {
        self.writes
            .get_or_create(&vec![("outcome", outcome.to_owned())])
            .inc();
        self.write_seconds.observe(elapsed.as_secs_f64());
    }

    pub fn sync_session(&self, side: &'static str) {
        self.sync_sessions
            .get_or_create(&vec![("side", side.to_owned())])
            .inc();
    }

    pub fn sync_bytes(&self, sent: u64, received: u64) {
        self.sync_bytes_sent.inc_by(sent);
        self.sync_bytes_received.inc_by(received);
    }

    pub fn refused_change(&self, code: &'static str) {
        self.refused_changes
            .get_or_create(&vec![("code", code.to_owned())])
            .inc();
    }

    pub fn ban(&self) {
        self.bans.inc();
    }

    /// The page: the states in `now`, then every figure in Prometheus text format.
    pub fn render(&self, now: Snapshot) -> String {
        let gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.books.set(gauge(now.books as u64));
        self.books_in_memory.set(gauge(now.books_in_memory as u64));
        self.records.set(gauge(now.records as u64));
        self.storage_bytes.set(gauge(now.storage_bytes));
        self.banned_peers.set(gauge(now.banned_peers as u64));
        // A partner no longer followed leaves the page.
        self.partner_last_synced_age.clear();
        for (book, peer, age) in now.partners_synced {
            self.partner_last_synced_age
                .get_or_create(&vec![("book", book), ("peer", peer)])
                .set(age);
        }
        // No backup yet reads NaN: any number (0, -1) would pass for a fresh backup.
        self.last_backup_age
            .set(now.last_backup_age_s.unwrap_or(f64::NAN));
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}
