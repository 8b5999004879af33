//! Crash test: writers submit records concurrently while the node is killed with SIGKILL at
//! random moments and restarted on the same data directory. Every record that got a 201 must
//! be there after every restart, and SQLite's integrity check must pass.
//!
//! 20 cycles run in the normal test run; `KABAN_CRASH_CYCLES=200` runs more, and
//! `KABAN_CRASH_SEED` picks the seed (printed on failure).

#![allow(clippy::unwrap_used)]

use kaban_protocol::key::SignerKey;
use kaban_protocol::kind::{Body, Contribution, MemberJoin};
use kaban_protocol::money::Money;
use kaban_protocol::record::{Place, Record};
use kaban_tests::{Http, NodeProcess, Rng};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WRITERS: u64 = 8;

fn writer_key(w: u64) -> SignerKey {
    SignerKey::from_seed([10 + w as u8; 32])
}

#[test]
fn acknowledged_records_survive_kill_9() {
    let cycles: u64 = std::env::var("KABAN_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("KABAN_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    eprintln!("crash test: {cycles} cycles, seed {seed} (KABAN_CRASH_SEED to replay)");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let treasurer = SignerKey::from_seed([1; 32]);
    // Each writer signs as an officer of its own: one signer's records follow one another, so
    // concurrent writers are concurrent signers.
    let writers: Vec<SignerKey> = (0..WRITERS).map(writer_key).collect();
    let genesis = kaban_tests::fixture::genesis_with_writers("Crash Savers", &treasurer, &writers);
    let book = genesis.book();
    let node = NodeProcess::start(&data);
    let admin = node.admin_token();
    let http = Http::new(&node.url).with_token(&admin);
    assert_eq!(
        http.post("/api/v1/books", genesis.bytes().to_vec())
            .unwrap()
            .0,
        201
    );
    let join = Record::sign(
        &treasurer,
        &Place::new(book, 2, vec![book.0]),
        2,
        &Body::MemberJoin(MemberJoin {
            member: "m-crash".parse().unwrap(),
            alias: "Crash".into(),
            key: None,
        }),
    );
    assert_eq!(http.submit(&join).unwrap().0, 201);
    let mut node = Some(node);

    let acknowledged: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let counter = Arc::new(AtomicU64::new(0));
    for cycle in 0..cycles {
        let current = node.take().unwrap();
        let url = current.url.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (url, admin, stop, acked, counter, signer) = (
                    url.clone(),
                    admin.clone(),
                    Arc::clone(&stop),
                    Arc::clone(&acknowledged),
                    Arc::clone(&counter),
                    writer_key(w),
                );
                std::thread::spawn(move || {
                    let http = Http::new(&url).with_token(&admin);
                    while !stop.load(Ordering::Relaxed) {
                        let n = counter.fetch_add(1, Ordering::Relaxed);
                        // The node says where the writer's next record stands, as it does
                        // for the CLI; after a crash that is whatever was durable.
                        let body = Body::Contribution(Contribution {
                            member: "m-crash".parse().unwrap(),
                            amount: Money::new(100 + n as i64, "HKD".parse().unwrap()),
                            meeting: None,
                        });
                        let Some(r) = http.sign(&signer, book, 10 + n, &body) else {
                            break;
                        };
                        match http.submit(&r) {
                            Some((201 | 200, _)) => {
                                acked.lock().unwrap().insert(r.id().to_string());
                            }
                            // The node died under us: nothing was promised.
                            None => break,
                            Some((status, v)) => {
                                if status >= 500 {
                                    break;
                                }
                                panic!("unexpected refusal {status}: {v}");
                            }
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(20 + rng.below(180)));
        current.kill_hard();
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.join().unwrap();
        }

        let restarted = NodeProcess::start(&data);
        let http = Http::new(&restarted.url);
        let token = http.session(&treasurer);
        let (status, st) = http.get(
            &format!("/api/v1/books/{book}/members/m-crash/statement"),
            &token,
        );
        assert_eq!(status, 200, "cycle {cycle}, seed {seed}: {st}");
        let present: BTreeSet<String> = st["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["record"].as_str().unwrap().to_owned())
            .collect();
        let acked = acknowledged.lock().unwrap();
        let missing: Vec<&String> = acked.difference(&present).collect();
        assert!(
            missing.is_empty(),
            "cycle {cycle}, seed {seed}: {} acknowledged records lost after kill -9, e.g. {:?}",
            missing.len(),
            missing.first()
        );
        let (status, check) = http.get("/api/v1/admin/integrity", &restarted.admin_token());
        assert_eq!(
            (status, check["integrity_check"].as_str()),
            (200, Some("ok")),
            "cycle {cycle}, seed {seed}"
        );
        eprintln!(
            "cycle {cycle}: {} acknowledged so far, all present",
            acked.len()
        );
        drop(acked);
        node = Some(restarted);
    }
    assert!(
        acknowledged.lock().unwrap().len() as u64 > cycles,
        "too few writes were acknowledged to test anything"
    );
}
