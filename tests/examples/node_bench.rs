//! Node benchmark: durable signed-record writes over HTTP, memory, startup time and binary size.
//!
//! Run with `cargo run --release -p kaban-tests --example node_bench`. It starts real
//! `kaban-node` processes on 127.0.0.1 and prints figures; nothing is asserted on time.
//! `KABAN_BENCH_WRITES=4000` sets writes per client count; `KABAN_BENCH_LARGE=100000` the size
//! of the large book.

#![allow(clippy::unwrap_used)]

use kaban_protocol::book::Book;
use kaban_protocol::key::SignerKey;
use kaban_protocol::kind::{Body, Contribution, Genesis, MemberJoin, Officer, Role, Rules};
use kaban_protocol::money::Money;
use kaban_protocol::record::{BookId, Record};
use kaban_tests::{Http, NodeProcess, bin_dir};
use std::time::{Duration, Instant};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn genesis(key: &SignerKey) -> Record {
    Record::sign(
        key,
        None,
        1,
        &Body::Genesis(Genesis {
            enterprise: None,
            name: "Bench Savers".into(),
            currency: "HKD".parse().unwrap(),
            rules: Rules::default(),
            officers: vec![
                Officer {
                    key: key.public(),
                    roles: vec![Role::Treasurer],
                },
                Officer {
                    key: SignerKey::from_seed([2; 32]).public(),
                    roles: vec![Role::KeyHolder],
                },
            ],
        }),
    )
}

fn join(key: &SignerKey, book: BookId) -> Record {
    Record::sign(
        key,
        Some(book),
        2,
        &Body::MemberJoin(MemberJoin {
            member: "m-bench".parse().unwrap(),
            alias: "Bench".into(),
            key: None,
        }),
    )
}

fn contribution(key: &SignerKey, book: BookId, n: u64) -> Record {
    Record::sign(
        key,
        Some(book),
        10 + n,
        &Body::Contribution(Contribution {
            member: "m-bench".parse().unwrap(),
            amount: Money::new(100 + n as i64, "HKD".parse().unwrap()),
            meeting: None,
        }),
    )
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

    let http = Http::new(&node.url);
    let g = genesis(&key);
    let book = g.book();
    http.post("/api/v1/books", g.bytes().to_vec()).unwrap();
    http.submit(&join(&key, book)).unwrap();

    // Sign everything first so the clients measure the node, not the signing.
    let mut next = 0u64;
    for clients in [1usize, 16] {
        let per_client = writes / clients;
        let batches: Vec<Vec<Record>> = (0..clients)
            .map(|_| {
                (0..per_client)
                    .map(|_| {
                        next += 1;
                        contribution(&key, book, next)
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
    let mut b = Book::create(genesis(&key), [9; 16]).unwrap();
    b.add(vec![join(&key, b.id())]).unwrap();
    for n in 0..large as u64 {
        b.add(vec![contribution(&key, b.id(), n)]).unwrap();
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
            .create_book(book.id(), book.save(), 0)
            .await
            .unwrap();
        drop(storage);
        thread.join().unwrap();
    });
}
