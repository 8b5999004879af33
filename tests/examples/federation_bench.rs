//! Federation benchmark: two real nodes on 127.0.0.1 syncing over libp2p (TCP, noise, yamux).
//!
//! Run with `cargo run --release -p kaban-tests --example federation_bench`. It prints, for a
//! book of 10,000 records (`KABAN_BENCH_RECORDS` to change): the time and frame bytes each way to
//! sync it to an empty partner, one new record's latency and bytes, and a resume after 500 new
//! records, each beside its floor (the records' canonical bytes). Figures only; no assertions.

#![allow(clippy::unwrap_used)]

use kaban_protocol::invite::Invite;
use kaban_protocol::record::{BookId, Record};
use kaban_tests::fixture::GroupBook;
use kaban_tests::{Http, NodeProcess};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The coop's view of its partner session for the book.
fn partner(http: &Http, token: &str) -> Value {
    http.get("/api/v1/admin/peers", token).1["partners"][0].clone()
}

/// The partner's record count, from the admin book list: it needs no ledger fold, so polling
/// it does not slow the sync being measured.
fn record_count(http: &Http, admin_token: &str, book: BookId) -> u64 {
    let (_, v) = http.get("/api/v1/books", admin_token);
    v["books"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|b| b["book"] == book.to_string())
        .and_then(|b| b["record_count"].as_u64())
        .unwrap_or(0)
}

/// The partner's counters once they have not moved for a second.
fn settled(http: &Http, token: &str) -> Value {
    let mut last = partner(http, token);
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let now = partner(http, token);
        if now["bytes_received"] == last["bytes_received"]
            && now["bytes_sent"] == last["bytes_sent"]
        {
            return now;
        }
        last = now;
    }
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
    start.elapsed()
}

fn main() {
    let n: usize = std::env::var("KABAN_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let (a_dir, b_dir) = (dir.path().join("group"), dir.path().join("coop"));
    std::fs::create_dir_all(&b_dir).unwrap();
    let coop_id = kaban_tests::node_id(&b_dir);

    // The group's book, with a share naming the cooperative, written with the node's storage.
    let mut fx = GroupBook::new("Bench Savers");
    fx.share(&coop_id);
    fx.contribute(n.saturating_sub(fx.book.record_count()));
    let id = fx.id();
    let total = fx.book.record_count() as u64;
    let floor = fx.record_bytes();
    fx.store(&a_dir);

    println!("Kaban federation benchmark (two nodes on 127.0.0.1, libp2p TCP + noise + yamux)\n");
    let a = NodeProcess::start(&a_dir);
    let b = NodeProcess::start(&b_dir);
    let (ha, hb) = (Http::new(&a.url), Http::new(&b.url));
    let node = ha.get("/api/v1/node", "").1;
    let invite = Invite {
        addrs: node["listen"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect(),
        book: id,
        peer: node["node_id"].as_str().unwrap().to_owned(),
    };
    let token = b.admin_token();
    let start = Instant::now();
    let body = json!({"code": invite.to_code()}).to_string().into_bytes();
    let (status, v) = hb.post_with("/api/v1/admin/peers", &token, body);
    assert_eq!(status, 202, "{v}");
    wait_for("the book arrives", Duration::from_secs(600), || {
        record_count(&hb, &token, id) == total
    });
    let took = start.elapsed();
    // The byte counters are updated after the records become readable, and after any
    // compaction that message triggered (about a second for a 100,000-record book), so wait
    // until they stop moving.
    let p = settled(&hb, &token);
    let (sent, received) = (
        p["bytes_sent"].as_u64().unwrap(),
        p["bytes_received"].as_u64().unwrap(),
    );
    println!(
        "initial sync of {total} records: {:.2} s (aim < 2 s for 10,000)",
        took.as_secs_f64()
    );
    println!(
        "  bytes to the partner {received}, back {sent}; floor (canonical records) {floor}: {:.2}x (aim < 1.5x)",
        received as f64 / floor as f64
    );

    // One new record on the group's node, pushed to the partner.
    let before = settled(&hb, &token);
    let r = fx.contribution(10_000_000);
    let one = r.bytes().len();
    let start = Instant::now();
    assert_eq!(ha.submit(&r).unwrap().0, 201);
    wait_for("one record arrives", Duration::from_secs(30), || {
        record_count(&hb, &token, id) == total + 1
    });
    let latency = start.elapsed();
    let after = settled(&hb, &token);
    println!(
        "one new record ({one} bytes): {:.1} ms until readable at the partner (including a 201 at the group); {} bytes there, {} back (aim: one round trip, < 1 KB)",
        latency.as_secs_f64() * 1e3,
        after["bytes_received"].as_u64().unwrap() - before["bytes_received"].as_u64().unwrap(),
        after["bytes_sent"].as_u64().unwrap() - before["bytes_sent"].as_u64().unwrap(),
    );

    // Durable writes on the group's node, one client, with the partner connected and then
    // without it: the partner's session must not make a write fold the ledger.
    let connected: Vec<Record> = (0..500).map(|i| fx.contribution(30_000_000 + i)).collect();
    let with_partner = timed_writes(&ha, &connected);
    wait_for("the partner has them", Duration::from_secs(120), || {
        record_count(&hb, &token, id) == total + 501
    });
    print_writes("with the partner connected", &with_partner);

    // The partner goes offline while the group records 500 more; then it comes back.
    drop(b);
    let offline: Vec<Record> = (0..500).map(|i| fx.contribution(20_000_000 + i)).collect();
    let resume_floor: usize = offline.iter().map(|r| r.bytes().len()).sum();
    print_writes("with no partner", &timed_writes(&ha, &offline));
    let b = NodeProcess::start(&b_dir);
    let hb = Http::new(&b.url);
    let token = b.admin_token();
    let start = Instant::now();
    wait_for("the partner catches up", Duration::from_secs(120), || {
        record_count(&hb, &token, id) == total + 1001
    });
    let took = start.elapsed();
    let p = settled(&hb, &token);
    println!(
        "resume after 500 new records: {:.2} s after restart (including the redial backoff); {} bytes to the partner, {} back; floor {resume_floor} ({:.2}x)",
        took.as_secs_f64(),
        p["bytes_received"].as_u64().unwrap(),
        p["bytes_sent"].as_u64().unwrap(),
        p["bytes_received"].as_u64().unwrap() as f64 / resume_floor as f64
    );
    drop(a);
}

/// Submits `records` one after another; each one's time until the node answered 201.
fn timed_writes(http: &Http, records: &[Record]) -> Vec<Duration> {
    let mut lat: Vec<Duration> = records
        .iter()
        .map(|r| {
            let t = Instant::now();
            assert_eq!(http.submit(r).unwrap().0, 201);
            t.elapsed()
        })
        .collect();
    lat.sort();
    lat
}

fn print_writes(when: &str, sorted: &[Duration]) {
    let at = |p: f64| sorted[((sorted.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "{} durable writes {when}, one client: p50 {:.2} ms, p99 {:.2} ms",
        sorted.len(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3
    );
}
