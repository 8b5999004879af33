//! Two real nodes on 127.0.0.1 sync a shared book over libp2p: the group shares it, the
//! cooperative's operator accepts the invite, records made on either side reach the other, both
//! compute the same views, and a node the book was not shared with gets nothing.

#![allow(clippy::unwrap_used)]

use kaban_tests::{NodeProcess, kaban, kaban_ok};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

/// Waits until `f` holds, up to a deadline; sync is prompt but not instant.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn show(d: &Path, url: &str, book: &str) -> Option<Value> {
    let r = kaban(
        d,
        url,
        &[
            "--key",
            "treasurer.key",
            "--json",
            "book",
            "show",
            "--book",
            book,
        ],
    );
    r.ok.then(|| r.json())
}

#[test]
fn a_shared_book_syncs_both_ways_and_stays_private() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let group = NodeProcess::start(&d.join("group"));
    let coop = NodeProcess::start(&d.join("coop"));
    let stranger = NodeProcess::start(&d.join("stranger"));
    let (g, c) = (group.url.clone(), coop.url.clone());
    let k = |url: &str, args: &[&str]| kaban_ok(d, url, args);

    k(&g, &["key", "new", "--out", "treasurer.key"]);
    let chair = k(&g, &["key", "new", "--out", "chair.key"]);
    let book = k(
        &g,
        &[
            "--key",
            "treasurer.key",
            "book",
            "create",
            "--name",
            "Bayanihan Savers",
            "--currency",
            "HKD",
            "--officer",
            &format!("{chair}:chair"),
        ],
    );
    let ana = k(
        &g,
        &[
            "--key",
            "treasurer.key",
            "member",
            "add",
            "--book",
            &book,
            "--alias",
            "Ana",
        ],
    );
    for amount in ["100", "200.50", "300"] {
        k(
            &g,
            &[
                "--key",
                "treasurer.key",
                "contribute",
                "--book",
                &book,
                "--member",
                &ana,
                "--amount",
                amount,
            ],
        );
    }

    // The cooperative's node id, from its own machine.
    let coop_id = std::process::Command::new(kaban_tests::bin_dir().join("kaban-node"))
        .args(["id", "--data-dir", d.join("coop").to_str().unwrap()])
        .output()
        .unwrap();
    let coop_id = String::from_utf8(coop_id.stdout).unwrap().trim().to_owned();
    let share = kaban(
        d,
        &g,
        &[
            "--key",
            "treasurer.key",
            "--json",
            "share",
            "--book",
            &book,
            "--peer",
            &coop_id,
        ],
    )
    .json();
    let code = share["code"].as_str().unwrap().to_owned();
    k(
        &g,
        &[
            "--key",
            "chair.key",
            "approve",
            "--book",
            &book,
            "--record",
            share["record"].as_str().unwrap(),
        ],
    );

    // The cooperative's operator accepts; the stranger tries the same code, though the book was
    // not shared with it.
    let token = |name: &str| {
        d.join(name)
            .join("admin-token")
            .to_str()
            .unwrap()
            .to_owned()
    };
    k(
        &c,
        &["--admin-token", &token("coop"), "peer", "join", &code],
    );
    k(
        &stranger.url,
        &["--admin-token", &token("stranger"), "peer", "join", &code],
    );
    let r = kaban(
        d,
        &c,
        &[
            "--admin-token",
            &token("coop"),
            "peer",
            "join",
            "kaban-invite:garbage",
        ],
    );
    assert!(
        r.stderr.starts_with("kaban: invite code is damaged"),
        "{}",
        r.stderr
    );

    eventually("the book arrives at the cooperative", || {
        show(d, &c, &book).is_some_and(|v| v["record_count"] == 7)
    });
    let at_group = show(d, &g, &book).unwrap();
    let at_coop = show(d, &c, &book).unwrap();
    assert_eq!(at_coop["balances"], at_group["balances"]);

    // Records made on either side reach the other promptly.
    k(
        &g,
        &[
            "--key",
            "treasurer.key",
            "contribute",
            "--book",
            &book,
            "--member",
            &ana,
            "--amount",
            "5",
        ],
    );
    eventually("a new group record reaches the cooperative", || {
        show(d, &c, &book).is_some_and(|v| v["record_count"] == 8)
    });
    k(
        &c,
        &[
            "--key",
            "treasurer.key",
            "contribute",
            "--book",
            &book,
            "--member",
            &ana,
            "--amount",
            "7",
        ],
    );
    eventually("a record made at the cooperative reaches the group", || {
        show(d, &g, &book).is_some_and(|v| v["record_count"] == 9)
    });
    eventually("both compute identical views", || {
        show(d, &g, &book) == show(d, &c, &book)
    });

    // The peer list shows the partner connected and in sync.
    let peers = kaban(
        d,
        &c,
        &["--admin-token", &token("coop"), "--json", "peer", "list"],
    )
    .json();
    let partner = &peers["partners"][0];
    assert_eq!(partner["book"], book);
    assert_eq!(partner["connected"], true);

    // The stranger got nothing: its placeholder for the book is still empty, and the group's
    // node answered it as if the book did not exist.
    let r = kaban(
        d,
        &stranger.url,
        &["--key", "treasurer.key", "book", "show", "--book", &book],
    );
    assert!(!r.ok);
    let peers = kaban(
        d,
        &stranger.url,
        &[
            "--admin-token",
            &token("stranger"),
            "--json",
            "peer",
            "list",
        ],
    )
    .json();
    let error = peers["partners"][0]["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        error.contains("no book with that id is shared with this node"),
        "{peers}"
    );

    // The cooperative restarts and catches up with what the group wrote meanwhile.
    drop(coop);
    k(
        &g,
        &[
            "--key",
            "treasurer.key",
            "contribute",
            "--book",
            &book,
            "--member",
            &ana,
            "--amount",
            "11",
        ],
    );
    let coop = NodeProcess::start(&d.join("coop"));
    eventually("the restarted cooperative catches up", || {
        show(d, &coop.url, &book).is_some_and(|v| v["record_count"] == 10)
    });

    // Unsharing stops new changes flowing to the cooperative.
    k(
        &g,
        &[
            "--key",
            "treasurer.key",
            "unshare",
            "--book",
            &book,
            "--peer",
            &coop_id,
        ],
    );
    k(
        &g,
        &[
            "--key",
            "treasurer.key",
            "contribute",
            "--book",
            &book,
            "--member",
            &ana,
            "--amount",
            "13",
        ],
    );
    // Absence cannot be awaited; two seconds is many times the sync latency seen above.
    std::thread::sleep(Duration::from_secs(2));
    let at_coop = show(d, &coop.url, &book).unwrap();
    assert!(
        at_coop["record_count"].as_u64().unwrap() < 12,
        "records kept flowing after unshare: {at_coop}"
    );
}
