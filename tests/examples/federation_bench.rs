//! Federation benchmark: two real nodes on 127.0.0.1 syncing over libp2p (TCP, noise, yamux).
//!
//! Run with `cargo run --release -p kaban-tests --example federation_bench`. It prints, for a
//! book of 10,000 records (`KABAN_BENCH_RECORDS` to change): the time and frame bytes each way to
//! sync it to an empty partner, one new record's latency and bytes, and a resume after 500 new
//! records, each beside its floor (the records' canonical bytes). Figures only; no assertions.

#![allow(clippy::unwrap_used)]

use kaban_protocol::book::Book;
use kaban_protocol::invite::Invite;
use kaban_protocol::key::SignerKey;
use kaban_protocol::kind::{
    Approval, Body, Contribution, Genesis, MemberJoin, Officer, Role, Rules, Share,
};
use kaban_protocol::money::Money;
use kaban_protocol::record::{BookId, Record};
use kaban_tests::{Http, NodeProcess, bin_dir};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

fn node_id(data: &Path) -> String {
    let out = std::process::Command::new(bin_dir().join("kaban-node"))
        .args(["id", "--data-dir", data.to_str().unwrap()])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn contribution(key: &SignerKey, book: BookId, n: u64) -> Record {
    Record::sign(
        key,
        Some(book),
        100 + n,
        &Body::Contribution(Contribution {
            member: "m-bench".parse().unwrap(),
            amount: Money::new(100 + n as i64, "HKD".parse().unwrap()),
            meeting: None,
        }),
    )
}

/// The coop's view of its partner session for the book.
fn partner(http: &Http, token: &str) -> Value {
    http.get("/api/v1/admin/peers", token).1["partners"][0].clone()
}

fn record_count(http: &Http, session: &str, book: BookId) -> u64 {
    let (status, v) = http.get(&format!("/api/v1/books/{book}"), session);
    if status == 200 {
        v["record_count"].as_u64().unwrap_or(0)
    } else {
        0
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
    let n: u64 = std::env::var("KABAN_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let (a_dir, b_dir) = (dir.path().join("group"), dir.path().join("coop"));
    std::fs::create_dir_all(&a_dir).unwrap();
    std::fs::create_dir_all(&b_dir).unwrap();
    let coop_id = node_id(&b_dir);

    // The group's book, with a share naming the cooperative, written with the node's storage.
    let treasurer = SignerKey::from_seed([1; 32]);
    let keeper = SignerKey::from_seed([2; 32]);
    let genesis = Record::sign(
        &treasurer,
        None,
        1,
        &Body::Genesis(Genesis {
            name: "Bench Savers".into(),
            currency: "HKD".parse().unwrap(),
            rules: Rules::default(),
            officers: vec![
                Officer {
                    key: treasurer.public(),
                    roles: vec![Role::Treasurer],
                },
                Officer {
                    key: keeper.public(),
                    roles: vec![Role::Chair],
                },
            ],
        }),
    );
    let mut book = Book::create(genesis, [9; 16]).unwrap();
    let id = book.id();
    let join = Record::sign(
        &treasurer,
        Some(id),
        2,
        &Body::MemberJoin(MemberJoin {
            member: "m-bench".parse().unwrap(),
            alias: "Bench".into(),
            key: None,
        }),
    );
    book.add(vec![join]).unwrap();
    let share = Record::sign(
        &treasurer,
        Some(id),
        3,
        &Body::Share(Share {
            peer: coop_id.clone(),
        }),
    );
    book.add(vec![share.clone()]).unwrap();
    book.add(vec![Record::sign(
        &keeper,
        Some(id),
        4,
        &Body::Approval(Approval { record: share.id() }),
    )])
    .unwrap();
    for i in 0..n.saturating_sub(4) {
        book.add(vec![contribution(&treasurer, id, i)]).unwrap();
    }
    let total = book.record_count() as u64;
    let floor: usize = book.records().map(|r| r.bytes().len()).sum();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (storage, thread) = kaban_node::storage::open(&a_dir).unwrap();
        storage.create_book(id, book.save(), 0).await.unwrap();
        drop(storage);
        thread.join().unwrap();
    });

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
    let session = hb.session(&treasurer);
    let start = Instant::now();
    let (status, v) = {
        let body = json!({"code": invite.to_code()}).to_string().into_bytes();
        let http = Http::new(&b.url);
        let agent_post = |path: &str, body: Vec<u8>| {
            // The admin endpoint needs the bearer token; Http::post sends none, so use ureq here.
            let config = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build();
            let agent = ureq::Agent::new_with_config(config);
            let mut r = agent
                .post(format!("{}{path}", http.url))
                .header("Authorization", format!("Bearer {token}"))
                .send(body)
                .unwrap();
            let status = r.status().as_u16();
            (
                status,
                r.body_mut().read_json::<Value>().unwrap_or(Value::Null),
            )
        };
        agent_post("/api/v1/admin/peers", body)
    };
    assert_eq!(status, 202, "{v}");
    let session_b = session.clone();
    wait_for("the book arrives", Duration::from_secs(600), || {
        record_count(&hb, &session_b, id) == total
    });
    let took = start.elapsed();
    // The byte counters are updated just after the records become readable.
    std::thread::sleep(Duration::from_millis(300));
    let p = partner(&hb, &token);
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
    let session_a = ha.session(&treasurer);
    let before = partner(&hb, &token);
    let r = contribution(&treasurer, id, 10_000_000);
    let one = r.bytes().len();
    let start = Instant::now();
    assert_eq!(ha.submit(&r).unwrap().0, 201);
    wait_for("one record arrives", Duration::from_secs(30), || {
        record_count(&hb, &session_b, id) == total + 1
    });
    let latency = start.elapsed();
    std::thread::sleep(Duration::from_millis(200));
    let after = partner(&hb, &token);
    println!(
        "one new record ({one} bytes): {:.1} ms until readable at the partner (including a 201 at the group); {} bytes there, {} back (aim: one round trip, < 1 KB)",
        latency.as_secs_f64() * 1e3,
        after["bytes_received"].as_u64().unwrap() - before["bytes_received"].as_u64().unwrap(),
        after["bytes_sent"].as_u64().unwrap() - before["bytes_sent"].as_u64().unwrap(),
    );

    // The partner goes offline while the group records 500 more; then it comes back.
    drop(b);
    let mut resume_floor = 0;
    for i in 0..500 {
        let r = contribution(&treasurer, id, 20_000_000 + i);
        resume_floor += r.bytes().len();
        assert_eq!(ha.submit(&r).unwrap().0, 201);
    }
    let _ = session_a;
    let b = NodeProcess::start(&b_dir);
    let hb = Http::new(&b.url);
    let token = b.admin_token();
    let session_b = hb.session(&treasurer);
    let start = Instant::now();
    wait_for("the partner catches up", Duration::from_secs(120), || {
        record_count(&hb, &session_b, id) == total + 501
    });
    let took = start.elapsed();
    std::thread::sleep(Duration::from_millis(200));
    let p = partner(&hb, &token);
    println!(
        "resume after 500 new records: {:.2} s after restart (including the redial backoff); {} bytes to the partner, {} back; floor {resume_floor} ({:.2}x)",
        took.as_secs_f64(),
        p["bytes_received"].as_u64().unwrap(),
        p["bytes_sent"].as_u64().unwrap(),
        p["bytes_received"].as_u64().unwrap() as f64 / resume_floor as f64
    );
    drop(a);
}
