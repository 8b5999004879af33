//! Real nodes on 127.0.0.1 sync shared books over libp2p.
//!
//! - Over QUIC: the group shares a book, the cooperative's operator accepts the invite, records
//!   made on either side reach the other, both compute the same views, a node the book was not
//!   shared with gets nothing, and unsharing stops the flow.
//! - Through a relay, with neither partner reachable directly: the book arrives, the
//!   cooperative comes back from being offline and receives only what is new, and writes made
//!   on both sides while the relay is down converge, with the same anomalies on both.
//! - A partner killed in the middle of its initial sync resumes and converges.

#![allow(clippy::unwrap_used)]

use kaban_protocol::invite::Invite;
use kaban_protocol::record::BookId;
use kaban_tests::fixture::GroupBook;
use kaban_tests::{Http, NodeProcess, kaban, kaban_ok};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

/// Waits until `f` holds, up to 20 seconds.
fn eventually(what: &str, f: impl FnMut() -> bool) {
    kaban_tests::eventually(what, Duration::from_secs(20), f);
}

/// The invite code a node would print for `book`: its PeerId and its current addresses.
fn invite(node: &NodeProcess, book: BookId) -> String {
    let v = Http::new(&node.url).get("/api/v1/node", "").1;
    Invite {
        addrs: v["listen"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect(),
        book,
        peer: node.node_id.clone(),
    }
    .to_code()
}

/// The operator of `node` accepts an invite through its admin API.
fn join(node: &NodeProcess, code: &str) {
    let body = json!({"code": code}).to_string().into_bytes();
    let (status, v) =
        Http::new(&node.url).post_with("/api/v1/admin/peers", &node.admin_token(), body);
    assert_eq!(status, 202, "{v}");
}

fn peers(node: &NodeProcess) -> Value {
    Http::new(&node.url)
        .get("/api/v1/admin/peers", &node.admin_token())
        .1
}

/// The book as an officer reads it at `node`, or `None` while the node does not have it yet.
fn book_at(node: &NodeProcess, session: &str, book: BookId) -> Option<Value> {
    let (status, v) = Http::new(&node.url).get(&format!("/api/v1/books/{book}"), session);
    (status == 200).then_some(v)
}

fn count_at(node: &NodeProcess, session: &str, book: BookId) -> u64 {
    book_at(node, session, book).map_or(0, |v| v["record_count"].as_u64().unwrap())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
    // The group's node listens on QUIC only, so this whole exchange runs over QUIC.
    let group = NodeProcess::start_with(
        &d.join("group"),
        "127.0.0.1:0",
        &["--listen", "/ip4/127.0.0.1/udp/0/quic-v1"],
    );
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
            "--setup-code",
            group.setup_code.as_deref().unwrap(),
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
    let coop_id = kaban_tests::node_id(&d.join("coop"));
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
    assert_eq!(partner["connection"], "direct");
    let via = peers["connected"][0]["peer"].as_str().unwrap();
    assert_eq!(via, group.node_id);

    // The stranger got nothing: its placeholder for the book is still empty, and the group's
    // node answered it as if the book did not exist.
    let r = kaban(
        d,
        &stranger.url,
        &["--key", "treasurer.key", "book", "show", "--book", &book],
    );
    assert!(!r.ok);
    // The stranger's operator reads why, in the group's words (it retries meanwhile).
    let stranger_peers = || {
        kaban(
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
        .json()
    };
    eventually("the stranger's node reads why it was refused", || {
        stranger_peers()["partners"][0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("no book with that id is shared with this node"))
    });

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

#[test]
fn through_a_relay_partners_sync_come_back_from_outages_and_converge() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let id_of = |name: &str| kaban_tests::node_id(&d.join(name));
    let (group_id, coop_id) = (id_of("group"), id_of("coop"));

    // The relay serves the two partners only; neither partner listens anywhere but on the
    // relay, so every connection between them runs through it.
    let relay_port = free_port();
    let relay_listen = format!("/ip4/127.0.0.1/tcp/{relay_port}");
    let start_relay = || {
        NodeProcess::start_with(
            &d.join("relay"),
            "127.0.0.1:0",
            &[
                "--listen",
                &relay_listen,
                "--relay",
                "--relay-peer",
                &group_id,
                "--relay-peer",
                &coop_id,
            ],
        )
    };
    let relay = start_relay();
    let circuit = format!("{relay_listen}/p2p/{}/p2p-circuit", relay.node_id);
    let behind_relay =
        |name: &str| NodeProcess::start_with(&d.join(name), "127.0.0.1:0", &["--listen", &circuit]);

    let mut fx = GroupBook::new("Bayanihan Savers");
    fx.share(&coop_id);
    fx.contribute(2000);
    fx.store(&d.join("group"));
    let book = fx.id();
    let group = behind_relay("group");
    let coop = behind_relay("coop");
    let (hg, hc) = (Http::new(&group.url), Http::new(&coop.url));
    let sg = hg.session(&fx.treasurer);

    // A node that is not the relay's partner gets no reservation.
    let stranger = behind_relay("stranger");
    let relayed_listen = |node: &NodeProcess| {
        Http::new(&node.url).get("/api/v1/node", "").1["listen"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a.as_str().unwrap().contains("p2p-circuit"))
    };
    eventually("the group holds a reservation on the relay", || {
        relayed_listen(&group)
    });
    eventually("the cooperative holds a reservation on the relay", || {
        relayed_listen(&coop)
    });
    assert!(
        !relayed_listen(&stranger),
        "the relay served a node that is not its partner"
    );
    drop(stranger);

    let code = invite(&group, book);
    assert!(code.starts_with("kaban-invite:"));
    join(&coop, &code);
    // The cooperative's node opens a session once the book naming the treasurer arrives.
    let sc = hc.session(&fx.treasurer);
    let total = fx.book.record_count() as u64;
    kaban_tests::eventually(
        "the book arrives through the relay",
        Duration::from_secs(60),
        || count_at(&coop, &sc, book) == total,
    );
    let p = peers(&coop);
    assert_eq!(p["partners"][0]["connection"], "relayed", "{p}");
    let hole_punch = peers(&group)["connected"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["peer"] == coop_id)
        .map(|c| c["hole_punch"].clone());
    println!("DCUtR between the partners on loopback: {hole_punch:?} (no direct path exists)");

    // Offline: the cooperative stops while the group records 500 more; on its return it
    // receives them, and the bytes are proportional to what is new, not to the whole book.
    drop(coop);
    let mut new_bytes = 0;
    for i in 0..500 {
        let r = fx.contribution(10_000 + i);
        new_bytes += r.bytes().len();
        let (status, v) = hg.submit(&r).unwrap();
        assert_eq!(status, 201, "{v}");
    }
    let whole_bytes = fx.record_bytes() + new_bytes;
    let coop = behind_relay("coop");
    let hc = Http::new(&coop.url);
    let sc = hc.session(&fx.treasurer);
    kaban_tests::eventually(
        "the cooperative catches up",
        Duration::from_secs(60),
        || count_at(&coop, &sc, book) == total + 500,
    );
    eventually("the cooperative's session settles", || {
        peers(&coop)["partners"][0]["in_sync"] == true
    });
    // The group's treasurer reads her partner's state from her own node, with her session;
    // the admin token reads no book's partners.
    let partners = format!("/api/v1/books/{book}/partners");
    eventually("the group's node sees the cooperative in sync", || {
        let (status, v) = hg.get(&partners, &sg);
        assert_eq!(status, 200, "{v}");
        let p = &v["partners"][0];
        p["peer"] == coop_id.as_str() && p["connected"] == true && p["in_sync"] == true
    });
    let (_, v) = hg.get(&partners, &sg);
    assert_eq!(v["partners"].as_array().unwrap().len(), 1, "{v}");
    assert!(v["partners"][0]["last_synced_ms"].as_u64().is_some(), "{v}");
    let (status, v) = hg.get(&partners, &group.admin_token());
    assert_eq!(status, 403, "{v}");
    let p = peers(&coop)["partners"][0].clone();
    let received = p["bytes_received"].as_u64().unwrap() as usize;
    println!(
        "resume after 500 new records: {received} bytes received; new records {new_bytes} bytes, whole book {whole_bytes} bytes"
    );
    assert!(
        received < 2 * new_bytes,
        "resume took {received} bytes for {new_bytes} bytes of new records"
    );
    assert!(received < whole_bytes / 2);

    // Partition: the relay goes down; both sides record the same contribution from Ana, by
    // different officers. When the relay is back, the books converge and both flag the likely
    // duplicate.
    drop(relay);
    let base = fx.tip();
    let at_group = fx.contribution(5000);
    // The chair signs at the cooperative's node, which does not hold the group's new record.
    fx.set_tip(base);
    let at_coop = fx.chair_contribution(5000);
    assert_eq!(hg.submit(&at_group).unwrap().0, 201);
    assert_eq!(hc.submit(&at_coop).unwrap().0, 201);
    let extra = fx.chair_contribution(7000);
    assert_eq!(hc.submit(&extra).unwrap().0, 201);
    assert_eq!(count_at(&group, &sg, book), total + 501);
    let relay = start_relay();
    kaban_tests::eventually("the partition heals", Duration::from_secs(90), || {
        count_at(&group, &sg, book) == total + 503 && count_at(&coop, &sc, book) == total + 503
    });
    let (vg, vc) = (
        book_at(&group, &sg, book).unwrap(),
        book_at(&coop, &sc, book).unwrap(),
    );
    assert_eq!(vg, vc, "the two nodes' views differ");
    let kinds: Vec<&str> = vg["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"likely_duplicate_contribution"),
        "{}",
        vg["anomalies"]
    );
    drop(relay);
}

#[test]
fn a_partner_killed_mid_sync_resumes_and_converges() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut fx = GroupBook::new("Bayanihan Savers");
    let mut caught_mid_sync = 0;
    // Each attempt uses a fresh partner; the kill must land after part of the book is durable
    // at the partner and before all of it is.
    for attempt in 0..4 {
        let name = format!("coop{attempt}");
        let coop_id = kaban_tests::node_id(&d.join(&name));
        if attempt == 0 {
            fx.contribute(6000);
        }
        fx.share(&coop_id);
        let group_dir = d.join(format!("group{attempt}"));
        fx.store(&group_dir);
        let group = NodeProcess::start(&group_dir);
        let coop = NodeProcess::start(&d.join(&name));
        let hc = Http::new(&coop.url);
        let total = fx.book.record_count() as u64;
        join(&coop, &invite(&group, fx.id()));
        // A session opens as soon as the genesis, which names the treasurer, has arrived.
        let session = hc.session(&fx.treasurer);
        let deadline = Instant::now() + Duration::from_secs(60);
        let seen = loop {
            let n = count_at(&coop, &session, fx.id());
            if n > 0 || Instant::now() > deadline {
                break n;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        coop.kill_hard();
        if seen > 0 && seen < total {
            caught_mid_sync += 1;
            println!("killed the partner with {seen} of {total} records");
        }
        let coop = NodeProcess::start(&d.join(&name));
        // Sessions do not survive a restart.
        let session = Http::new(&coop.url).session(&fx.treasurer);
        kaban_tests::eventually(
            "the restarted partner converges",
            Duration::from_secs(60),
            || count_at(&coop, &session, fx.id()) == total,
        );
        assert_eq!(
            book_at(&coop, &session, fx.id()).unwrap()["balances"],
            book_at(
                &group,
                &Http::new(&group.url).session(&fx.treasurer),
                fx.id()
            )
            .unwrap()["balances"]
        );
        if caught_mid_sync > 0 {
            break;
        }
    }
    assert!(
        caught_mid_sync > 0,
        "the initial sync never was seen half done; the kill always came too late"
    );
}
