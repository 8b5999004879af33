//! Node benchmark: durable signed-record writes over HTTP, memory, startup time and binary size.
//!
//! Run with `cargo run --release -p kaban-tests --example node_bench`. It starts real
//! `kaban-node` processes on 127.0.0.1 and prints figures; nothing is asserted on time.
//! `KABAN_BENCH_WRITES=4000` sets writes per client count; `KABAN_BENCH_LARGE=100000` the size
//! of the large book.

#![allow(clippy::unwrap_used)]

use kaban_protocol::book::Book;
use kaban_protocol::key::SignerKey;
use kaban_protocol::kind::{Body, Contribution, MemberJoin};
use kaban_protocol::money::Money;
use kaban_protocol::record::{BookId, Place, Record, RecordId};
use kaban_tests::{Http, NodeProcess, bin_dir};
use std::time::{Duration, Instant};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn genesis(key: &SignerKey) -> Record {
    let clients: Vec<SignerKey> = (0..CLIENTS).map(client_key).collect();
    kaban_tests::fixture::genesis_with_writers("Bench Savers", key, &clients)
}

/// Most concurrent clients; each signs as an officer of its own, since one signer's records
/// form a chain and reach the node one after another.
const CLIENTS: u8 = 16;

fn client_key(c: u8) -> SignerKey {
    SignerKey::from_seed([10 + c; 32])
}

fn join(key: &SignerKey, book: BookId) -> Record {
    Record::sign(
        key,
        &Place::new(book, 2, vec![book.0]),
        2,
        &Body::MemberJoin(MemberJoin {
            member: "m-bench".parse().unwrap(),
            alias: "Bench".into(),
            key: None,
        }),
    )
}

/// Contribution number `n`, the signer's record `seq`, following `after`.
fn contribution(key: &SignerKey, book: BookId, seq: u64, after: RecordId, n: u64) -> Record {
    Record::sign(
        key,
        &Place::new(book, seq, vec![after]),
        10 + n,
        &contribution_body(n),
    )
}

fn contribution_body(n: u64) -> Body {
    Body::Contribution(Contribution {
        member: "m-bench".parse().unwrap(),
        amount: Money::new(100 + n as i64, "HKD".parse().unwrap()),
        meeting: None,
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let key = SignerKey::from_seed([1; 32]);
    let writes = env("KABAN_BENCH_WRITES", 4000);
    let large = env("KABAN_BENCH_LARGE", 100_000);
    println!("Kaban node benchmark (real processes on 127.0.0.1; figures only)\n");
    let binary = bin_dir().join("kaban-node");
    println!(
        "release binary: {:.1} MB ({})",
        std::fs::metadata(&binary).unwrap().len() as f64 / 1e6,
        binary.display()
    );

    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&dir.path().join("data"));
    std::thread::sleep(Duration::from_millis(300));
    println!(
        "idle RSS: {:.1} MB (aim < 30 MB); started in {:.0} ms",
        node.rss_kib() as f64 / 1024.0,
        node.startup.as_secs_f64() * 1e3
    );

    let http = Http::new(&node.url).with_token(&node.admin_token());
    let g = genesis(&key);
    let book = g.book();
    http.post("/api/v1/books", g.bytes().to_vec()).unwrap();
    let joined = join(&key, book);
    http.submit(&joined).unwrap();

    // Sign everything first so the clients measure the node, not the signing. Each client's
    // records follow one another, the first following the join or the client's last record.
    let mut next = 0u64;
    let mut tips: Vec<(u64, RecordId)> = vec![(0, joined.id()); CLIENTS as usize];
    for clients in [1usize, CLIENTS as usize] {
        let per_client = writes / clients;
        let batches: Vec<Vec<Record>> = (0..clients)
            .map(|c| {
                let signer = client_key(c as u8);
                (0..per_client)
                    .map(|_| {
                        next += 1;
                        let (seq, after) = tips[c];
                        let r = contribution(&signer, book, seq + 1, after, next);
                        tips[c] = (seq + 1, r.id());
                        r
                    })
                    .collect()
            })
            .collect();
        let start = Instant::now();
        let threads: Vec<_> = batches
            .into_iter()
            .map(|records| {
                let http = http.clone();
                std::thread::spawn(move || {
                    let mut lat = Vec::with_capacity(records.len());
                    for r in records {
                        let t = Instant::now();
                        let (status, v) = http.submit(&r).unwrap();
                        assert_eq!(status, 201, "{v}");
                        lat.push(t.elapsed());
                    }
                    lat
                })
            })
            .collect();
        let mut lat: Vec<Duration> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        let took = start.elapsed();
        lat.sort();
        println!(
            "{clients:>2} client(s): {:>6.0} durable writes/s, p50 {:.2} ms, p99 {:.2} ms ({} writes){}",
            lat.len() as f64 / took.as_secs_f64(),
            percentile(&lat, 0.5).as_secs_f64() * 1e3,
            percentile(&lat, 0.99).as_secs_f64() * 1e3,
            lat.len(),
            if clients == 16 {
                "  (aim >= 2,000/s)"
            } else {
                ""
            }
        );
    }
    drop(node);

    // A large book, stored through the node's own storage, then a cold start.
    let start = Instant::now();
    let mut b = Book::create(genesis(&key)).unwrap();
    b.add(join(&key, b.id())).unwrap();
    for n in 0..large as u64 {
        let r = b.sign_next(&key, 10 + n, &contribution_body(n));
        b.add(r).unwrap();
    }
    println!(
        "\nbuilt a {large}-record book in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let data = dir.path().join("large");
    store_book(&data, b);
    let node = NodeProcess::start(&data);
    println!(
        "startup with {large} records: {:.0} ms (aim < 1 s); RSS {:.1} MB",
        node.startup.as_secs_f64() * 1e3,
        node.rss_kib() as f64 / 1024.0
    );
}

/// Writes the book into a fresh data directory with the node's own storage module.
fn store_book(data: &std::path::Path, book: Book) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (storage, thread) = kaban_node::storage::open(data).unwrap();
        storage
            .create_book(book.id(), book.save(), 0, true)
            .await
            .unwrap();
        drop(storage);
        thread.join().unwrap();
    });
}
