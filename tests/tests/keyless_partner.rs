//! A partner without keys can do no harm (SPEC section 5, the envelope rule), tested as the
//! attacks were made: real `kaban-node` processes on 127.0.0.1, and hostile partners that the
//! group legitimately shared its book with, holding no signer key, speaking libp2p by hand and
//! building their changes with the real automerge library.
//!
//! - 5,000 records re-wrapped in changes of fresh actors on top of the genesis: all refused,
//!   the book unchanged, the node's memory flat;
//! - a revocation re-wrapped after the officer was granted her role again: refused, and she
//!   still records on every node;
//! - two variants of one record's change (other deps, other time, other seq, another actor),
//!   sent to two honest nodes at once: refused on both, which converge with identical views;
//! - every node restarts afterwards, and its views are unchanged.

#![allow(clippy::unwrap_used)]

use automerge::{ActorId, Change};
use kaban_protocol::book::{Book, change_for};
use kaban_protocol::frame::Frame;
use kaban_protocol::key::SignerKey;
use kaban_protocol::kind::{Approval, Body, Contribution, Role, RoleChange};
use kaban_protocol::record::{BookId, Record};
use kaban_protocol::testing;
use kaban_tests::fixture::GroupBook;
use kaban_tests::hostile::{Peer, message_of, read, receive_book, write};
use kaban_tests::{Http, NodeProcess};
use libp2p::{Multiaddr, PeerId};
use serde_json::{Value, json};
use std::time::Duration;

/// Re-wrapped changes sent at once, as in the attack that grew books without bound.
const REWRAPS: usize = 5_000;

/// Runs blocking HTTP off the async runtime that drives the hostile peers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// The book as an officer reads it at `url`: its summary, roster and anomalies.
fn views(url: &str, session: &str, book: BookId) -> Value {
    let http = Http::new(url);
    let get = |path: &str| {
        let (status, v) = http.get(&format!("/api/v1/books/{book}{path}"), session);
        assert_eq!(status, 200, "{path}: {v}");
        v
    };
    json!({"book": get(""), "roster": get("/roster"), "anomalies": get("/anomalies"), "balances": get("/balances")})
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    kaban_tests::eventually(what, Duration::from_secs(60), &mut f);
}

/// A change that carries `record` from a fresh actor on top of the genesis alone: the re-wrap.
fn rewrap(copy: &Book, record: &Record, actor: u32) -> Change {
    testing::rewrap(copy, record, ActorId::from(actor.to_be_bytes().repeat(4)))
}

/// Sends `changes` in one message and returns the reason the node closed the session with.
async fn send_and_read_close(stream: &mut libp2p::Stream, changes: &[Change]) -> String {
    let _ = write(
        stream,
        &Frame::Sync {
            message: message_of(changes),
        },
    )
    .await;
    while let Some(frame) = read(stream, Duration::from_secs(30)).await {
        if let Frame::Close { reason } = frame {
            return reason;
        }
    }
    panic!("the node did not close the hostile session");
}

/// Connects a hostile partner to a node and receives the book from it.
async fn connect(
    peer: &mut Peer,
    node: &NodeProcess,
    book: BookId,
    records: usize,
) -> (libp2p::Stream, Book) {
    let id: PeerId = node.node_id.parse().unwrap();
    let addr: Multiaddr = format!("{}/p2p/{}", node.p2p[0], node.node_id)
        .parse()
        .unwrap();
    let mut stream = peer.open(id, &addr).await.unwrap();
    write(&mut stream, &Frame::Open { book }).await.unwrap();
    let mut copy = Book::empty(book);
    receive_book(&mut stream, &mut copy, records).await;
    (stream, copy)
}

/// The group: 50 contributions, a secretary granted her role, revoked, and granted it again,
/// and the book shared with the honest cooperative and three hostile partners.
fn group(coop: &str, hostile: &[&Peer]) -> (GroupBook, SignerKey) {
    let mut fx = GroupBook::new("Bayanihan Savers");
    fx.contribute(50);
    let secretary = SignerKey::from_seed([3; 32]);
    let role = RoleChange {
        key: secretary.public(),
        role: Role::Secretary,
    };
    for body in [
        Body::RoleGrant(role.clone()),
        Body::RoleRevoke(role.clone()),
        Body::RoleGrant(role),
    ] {
        let (treasurer, chair) = (fx.treasurer.clone(), fx.chair.clone());
        let r = fx.sign(&chair, &body);
        fx.add(r.clone());
        let approval = fx.sign(&treasurer, &Body::Approval(Approval { record: r.id() }));
        fx.add(approval);
    }
    fx.share(coop);
    for peer in hostile {
        fx.share(&peer.id.to_string());
    }
    (fx, secretary)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_without_keys_can_do_no_harm() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let (mut rewrapper, mut replayer, mut equivocator) =
        (Peer::new(0xa1), Peer::new(0xa2), Peer::new(0xa3));
    let coop_dir = d.join("coop");
    let coop_id = kaban_tests::node_id(&coop_dir);
    let (mut fx, secretary) = group(&coop_id, &[&rewrapper, &replayer, &equivocator]);
    fx.store(&d.join("group"));
    let book = fx.id();
    let total = fx.book.record_count();
    let group_node = NodeProcess::start(&d.join("group"));
    let coop = NodeProcess::start(&coop_dir);
    let (gu, cu) = (group_node.url.clone(), coop.url.clone());
    let treasurer = fx.treasurer.clone();
    let sg = blocking(move || Http::new(&gu).session(&treasurer)).await;

    // The honest cooperative joins and receives the book.
    let invite = kaban_protocol::invite::Invite {
        addrs: group_node.p2p.clone(),
        book,
        peer: group_node.node_id.clone(),
    };
    let body = json!({"code": invite.to_code()}).to_string().into_bytes();
    let (status, v) =
        Http::new(&coop.url).post_with("/api/v1/admin/peers", &coop.admin_token(), body);
    assert_eq!(status, 202, "{v}");
    // The cooperative's node opens a session once the book naming the treasurer arrives.
    let treasurer = fx.treasurer.clone();
    let sc = blocking(move || Http::new(&cu).session(&treasurer)).await;
    let (cu, scc) = (coop.url.clone(), sc.clone());
    blocking(move || {
        wait_until("the cooperative receives the book", || {
            let (s, v) = Http::new(&cu).get(&format!("/api/v1/books/{book}"), &scc);
            s == 200 && v["record_count"] == total as u64
        })
    })
    .await;

    // 1. Re-wrapping: 5,000 changes of fresh actors on the genesis, re-putting records the book
    //    holds, in one message. All are refused; the book and the node's memory stay as they
    //    were.
    let (mut stream, copy) = connect(&mut rewrapper, &group_node, book, total).await;
    let records: Vec<Record> = copy.records().skip(1).cloned().collect();
    let changes: Vec<Change> = (0..REWRAPS)
        .map(|i| rewrap(&copy, &records[i % records.len()], i as u32 + 1))
        .collect();
    let rss_before = group_node.rss_kib();
    let reason = send_and_read_close(&mut stream, &changes).await;
    let rss_after = group_node.rss_kib();
    println!(
        "{REWRAPS} re-wrapped changes: node RSS {:.1} MB before, {:.1} MB after; closed with {reason:?}",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0
    );
    assert!(
        reason.starts_with(&format!("{REWRAPS} invalid changes refused"))
            && reason.contains("wrong_envelope"),
        "{reason}"
    );
    assert!(
        rss_after < rss_before + 64 * 1024,
        "the node grew from {rss_before} KiB to {rss_after} KiB on refused changes"
    );

    // 2. A revocation re-wrapped after the re-grant: refused, and the secretary records still.
    let (mut stream, copy) = connect(&mut replayer, &group_node, book, total).await;
    let revoke = copy
        .records()
        .find(|r| r.kind() == "role_revoke")
        .unwrap()
        .clone();
    let approval = copy
        .records()
        .find(|r| matches!(r.body(), Body::Approval(a) if a.record == revoke.id()))
        .unwrap()
        .clone();
    let replayed = [
        rewrap(&copy, &revoke, 0xbeef),
        rewrap(&copy, &approval, 0xbef0),
        rewrap(&copy, &revoke, 0xbef1),
    ];
    let reason = send_and_read_close(&mut stream, &replayed).await;
    assert!(reason.contains("wrong_envelope"), "{reason}");
    let by_secretary = fx.sign(
        &secretary,
        &Body::Contribution(Contribution {
            member: "m-ana".parse().unwrap(),
            amount: testing::hkd(777),
            meeting: None,
        }),
    );

    // 3. Two variants of the secretary's record sent at once to both honest nodes, before and
    //    while the honest change spreads: each is refused by its bytes, whichever node it meets.
    let (mut to_coop, _) = connect(&mut equivocator, &coop, book, total).await;
    let (mut to_group, _) = connect(&mut equivocator, &group_node, book, total).await;
    let honest = copy.change_for(&by_secretary).unwrap();
    let genesis = copy.doc().get_changes(&[])[0].hash();
    let variant = |f: &dyn Fn(&mut automerge::ExpandedChange)| {
        let mut e = honest.decode();
        f(&mut e);
        Change::from(e)
    };
    let to_coop_variants = [
        change_for(&by_secretary, vec![genesis], 2),
        variant(&|e| e.time = 1),
        variant(&|e| e.seq += 1),
    ];
    let to_group_variants = [
        variant(&|e| e.actor_id = ActorId::from([0xab; 32])),
        variant(&|e| e.start_op = e.start_op.saturating_add(1)),
        variant(&|e| e.message = Some("second".into())),
    ];
    let (coop_reason, group_reason) = tokio::join!(
        send_and_read_close(&mut to_coop, &to_coop_variants),
        send_and_read_close(&mut to_group, &to_group_variants),
    );
    for reason in [&coop_reason, &group_reason] {
        assert!(reason.starts_with("3 invalid changes refused"), "{reason}");
    }
    assert!(coop_reason.contains("wrong_envelope"), "{coop_reason}");
    assert!(group_reason.contains("writes_elsewhere"), "{group_reason}");

    // A peer the book was never shared with is answered as if the book did not exist.
    let mut stranger = Peer::new(0xa4);
    let group_peer: PeerId = group_node.node_id.parse().unwrap();
    let group_addr: Multiaddr = format!("{}/p2p/{}", group_node.p2p[0], group_node.node_id)
        .parse()
        .unwrap();
    let mut s = stranger.open(group_peer, &group_addr).await.unwrap();
    write(&mut s, &Frame::Open { book }).await.unwrap();
    assert!(
        matches!(read(&mut s, Duration::from_secs(10)).await, Some(Frame::Close { reason }) if reason.contains("no book")),
        "a stranger was let in"
    );

    // The honest change itself goes in at the group, and reaches the cooperative.
    let (gu, cu, sgc, scc, record) = (
        group_node.url.clone(),
        coop.url.clone(),
        sg.clone(),
        sc.clone(),
        by_secretary.clone(),
    );
    blocking(move || {
        let (status, v) = Http::new(&gu).submit(&record).unwrap();
        assert_eq!(status, 201, "the re-granted secretary records: {v}");
        wait_until("both honest nodes hold the same book", || {
            views(&gu, &sgc, book) == views(&cu, &scc, book)
        });
        let v = views(&gu, &sgc, book);
        assert_eq!(v["book"]["record_count"], total as u64 + 1);
        assert!(
            v["roster"]
                .to_string()
                .contains(&secretary.public().to_string()),
            "{v}"
        );
    })
    .await;

    // Every node restarts, and its views are unchanged.
    let (gu, sgc) = (group_node.url.clone(), sg.clone());
    let before = blocking(move || views(&gu, &sgc, book)).await;
    let (gdir, cdir) = (group_node.data_dir.clone(), coop.data_dir.clone());
    drop((group_node, coop));
    let (group_node, coop) = (NodeProcess::start(&gdir), NodeProcess::start(&cdir));
    let treasurer = fx.treasurer.clone();
    let (gu, cu) = (group_node.url.clone(), coop.url.clone());
    blocking(move || {
        let sg = Http::new(&gu).session(&treasurer);
        let sc = Http::new(&cu).session(&treasurer);
        assert_eq!(views(&gu, &sg, book), before);
        assert_eq!(views(&cu, &sc, book), before);
        let (_, node) = Http::new(&gu).get("/api/v1/node", "");
        assert_eq!(node["quarantined"], 0, "{node}");
    })
    .await;
    drop((group_node, coop));
}
