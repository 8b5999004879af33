//! A malicious partner over real libp2p. The group's operator shared the book with two peers
//! that turn out hostile; they connect to the real `kaban-node` process with the same transport
//! and protocol as an honest node, receive the book, then send changes that delete, overwrite
//! and forge records, a change above the size limit, and a frame far above it. Every change is refused, each
//! hostile peer is disconnected and banned, the node stays up with its book intact, and sync
//! with the honest cooperative goes on.

#![allow(clippy::unwrap_used)]

use automerge::transaction::{CommitOptions, Transactable as _};
use automerge::{ActorId, ROOT, ScalarValue};
use futures::AsyncWriteExt as _;
use kaban_protocol::book::Book;
use kaban_protocol::frame::Frame;
use kaban_protocol::key::SignerKey;
use kaban_protocol::kind::{Body, Contribution};
use kaban_protocol::money::Money;
use kaban_protocol::record::BookId;
use kaban_protocol::sync::PeerSync;
use kaban_tests::fixture::GroupBook;
use kaban_tests::hostile::{Peer, read, receive_book, write};
use kaban_tests::{Http, NodeProcess};
use libp2p::{Multiaddr, PeerId};
use serde_json::json;
use std::time::{Duration, Instant};

/// A message carrying one change made on a copy of `book` by `edit`.
fn hostile_message(
    book: &Book,
    actor: u8,
    edit: impl FnOnce(&mut automerge::transaction::Transaction<'_>),
) -> Vec<u8> {
    let mut doc = book.doc().fork().with_actor(ActorId::from([actor; 16]));
    let mut tx = doc.transaction();
    edit(&mut tx);
    tx.commit_with(CommitOptions::default().with_time(0));
    kaban_tests::hostile::message_of(&[doc.get_last_local_change().unwrap()])
}

fn count(http: &Http, session: &str, book: BookId) -> u64 {
    let (status, v) = http.get(&format!("/api/v1/books/{book}"), session);
    if status == 200 {
        v["record_count"].as_u64().unwrap()
    } else {
        0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_changes_are_refused_and_honest_sync_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let mut forger = Peer::new(0xe1);
    let mut flooder = Peer::new(0xe2);
    let coop_dir = d.join("coop");
    let coop_id = kaban_tests::node_id(&coop_dir);

    let mut fx = GroupBook::new("Bayanihan Savers");
    fx.contribute(50);
    for peer in [
        coop_id.clone(),
        forger.id.to_string(),
        flooder.id.to_string(),
    ] {
        fx.share(&peer);
    }
    fx.store(&d.join("group"));
    let book_id = fx.id();
    let total = fx.book.record_count();
    let group = NodeProcess::start(&d.join("group"));
    let coop = NodeProcess::start(&coop_dir);
    let (hg, hc) = (Http::new(&group.url), Http::new(&coop.url));
    let sg = hg.session(&fx.treasurer);
    let group_peer: PeerId = group.node_id.parse().unwrap();
    let group_addr: Multiaddr = format!("{}/p2p/{}", group.p2p[0], group.node_id)
        .parse()
        .unwrap();

    // The honest cooperative joins.
    let invite = kaban_protocol::invite::Invite {
        addrs: group.p2p.clone(),
        book: book_id,
        peer: group.node_id.clone(),
    };
    let body = json!({"code": invite.to_code()}).to_string().into_bytes();
    let (status, v) = hc.post_with("/api/v1/admin/peers", &coop.admin_token(), body);
    assert_eq!(status, 202, "{v}");

    // The forger connects like a partner and receives the book.
    let mut stream = forger.open(group_peer, &group_addr).await.unwrap();
    write(&mut stream, &Frame::Open { book: book_id })
        .await
        .unwrap();
    let mut copy = Book::empty(book_id);
    receive_book(&mut stream, &mut copy, total).await;
    let target = copy
        .records()
        .find(|r| matches!(r.body(), Body::Contribution(_)))
        .unwrap()
        .id()
        .to_string();
    let stranger = SignerKey::from_seed([0x66; 32]);
    let forged = copy.sign_next(
        &stranger,
        10,
        &Body::Contribution(Contribution {
            member: "m-ana".parse().unwrap(),
            amount: Money::new(1_000_000, "HKD".parse().unwrap()),
            meeting: None,
        }),
    );
    let deleting = hostile_message(&copy, 1, |tx| tx.delete(ROOT, target.clone()).unwrap());
    let overwriting = hostile_message(&copy, 2, |tx| {
        tx.put(
            ROOT,
            target.clone(),
            ScalarValue::Bytes(forged.bytes().to_vec()),
        )
        .unwrap()
    });
    let forging = hostile_message(&copy, 3, |tx| {
        tx.put(
            ROOT,
            forged.id().to_string(),
            ScalarValue::Bytes(forged.bytes().to_vec()),
        )
        .unwrap()
    });
    for message in [deleting, overwriting, forging] {
        // The node may close the stream before the last one; that is the point.
        let _ = write(&mut stream, &Frame::Sync { message }).await;
    }
    let mut closed_with = None;
    while let Some(frame) = read(&mut stream, Duration::from_secs(10)).await {
        if let Frame::Close { reason } = frame {
            closed_with = Some(reason);
            break;
        }
    }
    let reason = closed_with.expect("the node closed the session with a reason");
    assert!(reason.contains("3 invalid changes refused"), "{reason}");

    // Banned: a new stream from the forger is dropped without a word.
    tokio::time::sleep(Duration::from_millis(300)).await;
    if let Ok(mut again) = forger.open(group_peer, &group_addr).await {
        let _ = write(&mut again, &Frame::Open { book: book_id }).await;
        let _ = write(
            &mut again,
            &Frame::Sync {
                message: PeerSync::new().generate(&Book::empty(book_id)).unwrap(),
            },
        )
        .await;
        assert!(
            read(&mut again, Duration::from_secs(3)).await.is_none(),
            "a banned peer was answered"
        );
    }

    // The flooder sends a change above the size limit for one change, then announces a frame
    // of 64 MiB, which the node refuses before reading it.
    let mut stream = flooder.open(group_peer, &group_addr).await.unwrap();
    write(&mut stream, &Frame::Open { book: book_id })
        .await
        .unwrap();
    let oversized = hostile_message(&copy, 4, |tx| {
        tx.put(
            ROOT,
            "padding",
            ScalarValue::Bytes(vec![b'x'; kaban_protocol::book::MAX_CHANGE_BYTES + 1]),
        )
        .unwrap()
    });
    write(&mut stream, &Frame::Sync { message: oversized })
        .await
        .unwrap();
    stream
        .write_all(&(64u32 << 20).to_be_bytes())
        .await
        .unwrap();
    let _ = stream.write_all(&[0u8; 4096]).await;
    let _ = stream.flush().await;
    let mut closed_with = None;
    while let Some(frame) = read(&mut stream, Duration::from_secs(10)).await {
        if let Frame::Close { reason } = frame {
            closed_with = Some(reason);
            break;
        }
    }
    let reason = closed_with.expect("the node closed the flooder's session with a reason");
    assert!(reason.contains("67108864"), "{reason}");

    // The node is up, the book is whole, no forged record got in, and the cooperative still
    // receives new records.
    let hg2 = hg.clone();
    let sg2 = sg.clone();
    let at_group = tokio::task::spawn_blocking(move || {
        let (status, v) = hg2.get(&format!("/api/v1/books/{book_id}"), &sg2);
        assert_eq!(status, 200);
        v
    })
    .await
    .unwrap();
    assert_eq!(at_group["record_count"], total as u64);
    let record = fx.contribution(4242);
    // The cooperative's node opens sessions only once the book it holds names the treasurer.
    let sc = hc.session(&fx.treasurer);
    let (hg2, hc2, sc2) = (hg.clone(), hc.clone(), sc.clone());
    tokio::task::spawn_blocking(move || {
        assert_eq!(hg2.submit(&record).unwrap().0, 201);
        let deadline = Instant::now() + Duration::from_secs(30);
        while count(&hc2, &sc2, book_id) != total as u64 + 1 {
            assert!(
                Instant::now() < deadline,
                "the honest cooperative stopped receiving records"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let (_, at_coop) = hc2.get(&format!("/api/v1/books/{book_id}"), &sc2);
        let (_, at_group) = hg2.get(&format!("/api/v1/books/{book_id}"), &sg);
        assert_eq!(at_coop, at_group);
        assert!(
            !at_group.to_string().contains(&forged.id().to_string()),
            "the forged record is in the book"
        );
    })
    .await
    .unwrap();
}
