//! Protocol benchmark: signing, verification, book load, and sync, with printed figures.
//!
//! Run with `cargo run --release -p kaban-protocol --example bench`. It prints figures only;
//! nothing here asserts on time, because shared machines make timed assertions flaky.
//! `KABAN_BENCH_LARGE=20000` sets the size of the large book (default 100,000 records).
//! `KABAN_BENCH_DOC_ONLY=1` also times automerge's own load of each saved book, to separate its
//! cost from the index Kaban builds on top.

#![allow(clippy::unwrap_used)]

use kaban_protocol::book::Book;
use kaban_protocol::key::SignerKey;
use kaban_protocol::kind::{Body, Contribution, Genesis, MemberJoin, Officer, Role, Rules};
use kaban_protocol::money::Money;
use kaban_protocol::record::{BookId, Place, Record};
use kaban_protocol::sync::PeerSync;
use std::time::{Duration, Instant};

fn treasurer() -> SignerKey {
    SignerKey::from_seed([1; 32])
}

fn contribution_body(i: u64) -> Body {
    Body::Contribution(Contribution {
        member: format!("m-{:04}", i % 50).parse().unwrap(),
        amount: Money::new(50_000 + (i % 7) as i64, "HKD".parse().unwrap()),
        meeting: None,
    })
}

fn contribution(key: &SignerKey, book: &Book, i: u64) -> Record {
    book.sign_next(key, 1_764_300_000_000 + i, &contribution_body(i))
}

fn founded() -> Book {
    let key = treasurer();
    let genesis = Record::sign(
        &key,
        &Place::genesis(),
        1_764_300_000_000,
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
    );
    let mut book = Book::create(genesis).unwrap();
    for i in 0..50 {
        let join = book.sign_next(
            &key,
            1_764_300_000_000,
            &Body::MemberJoin(MemberJoin {
                member: format!("m-{i:04}").parse().unwrap(),
                alias: format!("Member {i}"),
                key: None,
            }),
        );
        book.add(join).unwrap();
    }
    book
}

/// A book of `n` records, each added as its own change, as records arrive one by one.
fn book_of(n: usize) -> Book {
    let key = treasurer();
    let mut book = founded();
    for i in 0..n.saturating_sub(book.record_count()) {
        let r = contribution(&key, &book, i as u64);
        book.add(r).unwrap();
    }
    book
}

/// `n` records by the treasurer that all name the heads as they stand now, as concurrent
/// clients sign them: from the second on, each follows heads that have moved.
fn behind_heads(key: &SignerKey, book: &Book, n: u64) -> Vec<Record> {
    let after = book.head_records();
    let first = book.seq_of(&key.public()) + 1;
    (0..n)
        .map(|i| {
            let place = Place::new(book.id(), first + i, after.clone());
            Record::sign(key, &place, 1_764_400_000_000 + i, &contribution_body(i))
        })
        .collect()
}

/// Adds records that do not follow the heads, one change at a time and then as one batch, to
/// a copy of `book` each time. Returns (one by one, one batch) in microseconds per record.
fn behind_heads_cost(book: &Book, n: u64) -> (f64, f64) {
    let key = treasurer();
    let saved = book.save();
    let records = behind_heads(&key, book, n);
    let mut one = Book::load(book.id(), &saved).unwrap();
    let start = Instant::now();
    for r in records.clone() {
        one.add(r).unwrap();
    }
    let single = start.elapsed();
    let mut batch = Book::load(book.id(), &saved).unwrap();
    let start = Instant::now();
    let mut adding = batch.adding();
    for r in records {
        adding.add(r).unwrap();
    }
    adding.finish().unwrap();
    let together = start.elapsed();
    assert_eq!(one.heads(), batch.heads());
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    (per(single), per(together))
}

fn rate(n: usize, d: Duration) -> String {
    format!("{:>9.0}/s", n as f64 / d.as_secs_f64())
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Runs both sessions until quiet. Returns (round trips, bytes a->b, bytes b->a, messages a->b).
fn sync(
    a: &mut Book,
    b: &mut Book,
    sa: &mut PeerSync,
    sb: &mut PeerSync,
) -> (u32, usize, usize, usize) {
    let (mut rounds, mut ab, mut ba, mut msgs) = (0, 0, 0, 0);
    loop {
        let mut spoke = false;
        while let Some(m) = sa.generate(a) {
            spoke = true;
            ab += m.len();
            msgs += 1;
            let applied = sb.receive(b, &m).unwrap();
            assert!(applied.refused.is_empty());
        }
        while let Some(m) = sb.generate(b) {
            spoke = true;
            ba += m.len();
            sa.receive(a, &m).unwrap();
        }
        if !spoke {
            return (rounds, ab, ba, msgs);
        }
        rounds += 1;
    }
}

fn main() {
    if let Some(path) = std::env::args()
        .nth(2)
        .filter(|_| std::env::args().nth(1).as_deref() == Some("load-child"))
    {
        // Measured in a fresh process so the peak memory is the load's alone.
        let bytes = std::fs::read(&path).unwrap();
        let id: BookId = std::env::args().nth(3).unwrap().parse().unwrap();
        let before = peak_rss_kib();
        if std::env::var("KABAN_BENCH_DOC_ONLY").is_ok() {
            let start = Instant::now();
            let doc = automerge::Automerge::load(&bytes).unwrap();
            eprintln!(
                "automerge load alone: {:?}, peak {} KiB, {} changes",
                start.elapsed(),
                peak_rss_kib(),
                doc.get_heads().len()
            );
        }
        let start = Instant::now();
        let book = Book::load(id, &bytes).unwrap();
        let took = start.elapsed();
        println!(
            "{} {} {} {}",
            book.record_count(),
            took.as_micros(),
            peak_rss_kib(),
            before
        );
        return;
    }

    println!("Kaban protocol benchmark (one core; figures only, no assertions)\n");

    // Signing and verification.
    let key = treasurer();
    let book = founded();
    let n = 20_000;
    let start = Instant::now();
    let records: Vec<Record> = (0..n)
        .map(|i| contribution(&key, &book, i as u64))
        .collect();
    let sign = start.elapsed();
    let start = Instant::now();
    for r in &records {
        Record::decode(r.bytes()).unwrap();
    }
    let verify = start.elapsed();
    let start = Instant::now();
    for r in &records {
        Record::decode_unverified(r.bytes()).unwrap();
    }
    let parse = start.elapsed();
    let pk = key.public();
    let sigs: Vec<(Vec<u8>, [u8; 64])> = (0..n)
        .map(|i| {
            let msg = format!("message {i}").into_bytes();
            let sig = key.sign(b"p", &msg);
            (msg, sig)
        })
        .collect();
    let start = Instant::now();
    for (msg, sig) in &sigs {
        assert!(pk.verify(b"p", msg, sig));
    }
    let raw = start.elapsed();
    let avg = records.iter().map(|r| r.bytes().len()).sum::<usize>() / records.len();
    println!("records ({n}, {avg} bytes each on average)");
    println!("  sign (build, encode, sign, decode)   {}", rate(n, sign));
    println!(
        "  verify (decode + verify_strict)       {}  (aim: >= 20,000/s)",
        rate(n, verify)
    );
    println!("  decode without verifying              {}", rate(n, parse));
    println!("  verify_strict alone (short message)   {}", rate(n, raw));

    // Book building and loading.
    let large: usize = std::env::var("KABAN_BENCH_LARGE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    println!("\nbooks (one change per record)");
    for size in [10_000, large] {
        let start = Instant::now();
        let book = book_of(size);
        let build = start.elapsed();
        let start = Instant::now();
        let saved = book.save();
        let save = start.elapsed();
        let path = std::env::temp_dir().join(format!("kaban-bench-{size}.book"));
        std::fs::write(&path, &saved).unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["load-child", path.to_str().unwrap(), &book.id().to_string()])
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&path);
        let text = String::from_utf8_lossy(&out.stdout);
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        let f: Vec<u64> = text
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect();
        let canonical: usize = book.records().map(|r| r.bytes().len()).sum();
        println!(
            "  {size:>7} records: add {} ({:.1} s), save {:.0} ms, {:.1} MB saved ({:.2}x the records' bytes)",
            rate(size, build),
            build.as_secs_f64(),
            save.as_secs_f64() * 1e3,
            saved.len() as f64 / 1e6,
            saved.len() as f64 / canonical as f64
        );
        println!(
            "           load {:.0} ms, peak RSS {:.1} MB (process at start {:.1} MB)  (aim for 100,000: < 1 s, < 150 MB)",
            f[1] as f64 / 1e3,
            f[2] as f64 / 1024.0,
            f[3] as f64 / 1024.0
        );

        let (single, together) = behind_heads_cost(&book, 64);
        println!(
            "           64 records that do not follow the heads (concurrent clients): one change at a time {single:.0} us each, as one batch {together:.0} us each ({:.1}x)",
            single / together
        );

        if size == 10_000 {
            let mut a = book;
            let mut b = Book::empty(a.id());
            let (mut sa, mut sb) = (PeerSync::new(), PeerSync::new());
            let start = Instant::now();
            let (rounds, ab, ba, msgs) = sync(&mut a, &mut b, &mut sa, &mut sb);
            let took = start.elapsed();
            assert_eq!(a.heads(), b.heads());
            println!("\nsync of {size} records to an empty peer (in memory, no network)");
            println!(
                "  {:.0} ms, {rounds} round trips, {msgs} messages; {:.2} MB there, {} bytes back",
                took.as_secs_f64() * 1e3,
                ab as f64 / 1e6,
                ba
            );
            println!(
                "  floor (records' canonical bytes): {:.2} MB, so {:.2}x the floor",
                canonical as f64 / 1e6,
                ab as f64 / canonical as f64
            );

            let r = contribution(&key, &a, 9_999_999);
            let one = r.bytes().len();
            a.add(r).unwrap();
            let start = Instant::now();
            let (rounds, ab, ba, msgs) = sync(&mut a, &mut b, &mut sa, &mut sb);
            let took = start.elapsed();
            assert_eq!(a.heads(), b.heads());
            println!("\none new record ({one} bytes) to an up-to-date peer");
            println!(
                "  {rounds} round trip(s), {msgs} message(s), {ab} bytes there, {ba} bytes back, {:.2} ms  (aim: 1 round trip, < 800 bytes: a record carries its place)",
                took.as_secs_f64() * 1e3
            );
        }
    }
}
