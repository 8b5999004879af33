//! The durable sync path between two libraries on real SQLite files, without a network: what
//! the peer-to-peer layer will carry, checked for convergence, durability and resumption.

use super::*;
use kaban_protocol::frame::Frame;
use kaban_protocol::key::SignerKey;
use kaban_protocol::kind::{Approval, Body, Contribution, MemberJoin, Role};
use kaban_protocol::sync::session::Action;
use kaban_protocol::testing::{self, Founding, hkd, php};

/// Signs `body` at the key's next place in the library's copy of the book.
async fn signed(lib: &Library, id: BookId, time: u64, body: Body) -> Record {
    lib.with_book(id, move |b| b.sign_next(&key(), time, &body))
        .await
        .unwrap()
}

async fn open(dir: &std::path::Path) -> (Library, std::thread::JoinHandle<()>) {
    let (storage, thread) = crate::storage::open(dir).unwrap();
    (Library::open(storage).await.unwrap(), thread)
}

fn key() -> SignerKey {
    SignerKey::from_seed([1; 32])
}

async fn founded(lib: &Library) -> BookId {
    founded_named(lib, "Sync Savers").await
}

async fn founded_named(lib: &Library, name: &str) -> BookId {
    let genesis = Founding::savings(name)
        .officer(&key(), Role::Treasurer)
        .officer(&testing::key(2), Role::KeyHolder)
        .sign(&key());
    let (id, _) = lib.create_book(genesis, 1).await.unwrap();
    let join = signed(lib, id, 2, testing::join("m-ana", "Ana")).await;
    lib.submit(id, join).await.unwrap();
    id
}

async fn contribute(lib: &Library, id: BookId, n: u64) {
    let amount = hkd(100 + n as i64);
    let r = signed(lib, id, 10 + n, testing::contribution("m-ana", amount)).await;
    lib.submit(id, r).await.unwrap();
}

/// The sync frames a session's turn sends. Both sides dial in these tests (neither book is
/// shared, which a listener would insist on), and an `Open` frame is read by the accepting
/// node's driver, not by its session, so it is left out.
fn frames(turn: Turn) -> Vec<Frame> {
    turn.actions
        .into_iter()
        .filter_map(|action| match action {
            Action::Send(Frame::Open { .. }) => None,
            Action::Send(frame) => Some(frame),
            other => panic!("the session ended: {other:?}"),
        })
        .collect()
}

/// Exchanges messages until both sides are quiet; returns the bytes sent from `a` to `b`.
async fn sync(a: &Library, b: &Library, id: BookId) -> usize {
    let (sa, first_a) = a.sync_session(id, "peer-b", Side::Dialer, 5).await.unwrap();
    let (sb, first_b) = b.sync_session(id, "peer-a", Side::Dialer, 5).await.unwrap();
    let (mut to_b, mut to_a) = (frames(first_a), frames(first_b));
    let mut bytes = 0;
    for _ in 0..50 {
        if to_b.is_empty() && to_a.is_empty() {
            return bytes;
        }
        let (mut next_b, mut next_a) = (Vec::new(), Vec::new());
        for frame in to_b.drain(..) {
            if let Frame::Sync { message } = &frame {
                bytes += message.len();
            }
            let turn = sb.handle(Event::Frame(frame), 5).await.unwrap();
            assert_eq!(turn.status.refused_total, 0);
            next_a.extend(frames(turn));
        }
        for frame in to_a.drain(..) {
            next_b.extend(frames(sa.handle(Event::Frame(frame), 5).await.unwrap()));
        }
        (to_b, to_a) = (next_b, next_a);
    }
    panic!("sync did not go quiet");
}

#[tokio::test]
async fn a_synced_book_is_durable_and_a_restart_resumes_from_the_checkpoint() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, _ta) = open(da.path()).await;
    let (b, tb) = open(db.path()).await;
    let id = founded(&a).await;
    for n in 0..200 {
        contribute(&a, id, n).await;
    }
    assert!(b.expect_book(id, 1).await.unwrap());
    let full = sync(&a, &b, id).await;
    let heads = a.with_book(id, Book::heads).await.unwrap();
    assert_eq!(b.with_book(id, Book::heads).await.unwrap(), heads);
    assert_eq!(
        b.ledger(id).await.unwrap().totals,
        a.ledger(id).await.unwrap().totals
    );

    // B restarts: what it received is on its disk, and its checkpoint makes the next sync small.
    b.close().await;
    drop(b);
    tb.join().unwrap();
    let (b, _tb) = open(db.path()).await;
    assert_eq!(b.with_book(id, Book::heads).await.unwrap(), heads);
    for n in 1000..1005 {
        contribute(&a, id, n).await;
    }
    let resumed = sync(&a, &b, id).await;
    assert_eq!(
        b.with_book(id, Book::heads).await.unwrap(),
        a.with_book(id, Book::heads).await.unwrap()
    );
    assert!(
        resumed * 10 < full,
        "resuming sent {resumed} bytes against {full} for the whole book"
    );
    // Contributions from a peer update the member index, so local checks keep working.
    let r = signed(
        &b,
        id,
        99_999,
        Body::Contribution(Contribution {
            member: "m-ana".parse().unwrap(),
            amount: hkd(1),
            meeting: None,
        }),
    )
    .await;
    assert!(matches!(
        b.submit(id, r).await.unwrap(),
        Submitted::Created(_)
    ));
}

#[tokio::test]
async fn founding_a_book_that_waits_for_its_partner_fills_the_placeholder() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, _ta) = open(da.path()).await;
    let (b, _tb) = open(db.path()).await;
    let id = founded(&a).await;
    b.expect_book(id, 1).await.unwrap();
    let genesis = a
        .with_book(id, move |book| book.record(&id.0).cloned())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.create_book(genesis.clone(), 2).await.unwrap(), (id, true));
    assert_eq!(b.create_book(genesis, 3).await.unwrap(), (id, false));
    assert_eq!(b.ledger(id).await.unwrap().name, "Sync Savers");
}

#[tokio::test]
async fn a_malformed_message_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _t) = open(dir.path()).await;
    let id = founded(&a).await;
    let heads = a.with_book(id, Book::heads).await.unwrap();
    let (s, _) = a.sync_session(id, "peer-x", Side::Dialer, 1).await.unwrap();
    let junk = Frame::Sync {
        message: b"\x42junk".to_vec(),
    };
    let turn = s.handle(Event::Frame(junk), 1).await.unwrap();
    assert!(turn.ended);
    assert!(
        matches!(&turn.actions[..], [Action::Close { reason, ban: true }]
            if reason.starts_with("sync message is malformed")),
        "{:?}",
        turn.actions
    );
    assert_eq!(a.with_book(id, Book::heads).await.unwrap(), heads);
}

/// A stored book that does not load is quarantined: the node opens, lists it with its reason,
/// and serves its other books.
#[tokio::test]
async fn a_book_that_does_not_load_is_quarantined_and_the_others_serve() {
    let dir = tempfile::tempdir().unwrap();
    let (lib, thread) = open(dir.path()).await;
    let good = founded(&lib).await;
    contribute(&lib, good, 1).await;
    let poisoned = BookId(kaban_protocol::record::RecordId([0x5a; 32]));
    lib.storage()
        .create_book(
            poisoned,
            b"this is not an automerge document".to_vec(),
            1,
            true,
        )
        .await
        .unwrap();
    // A second book, as a version 1 partner could have left it: a record re-wrapped in a
    // change of another actor on top of the genesis, built with automerge directly.
    let twin = founded_named(&lib, "Twin Savers").await;
    let rewrapped = rewrapped_copy(&lib, twin).await;
    lib.storage()
        .compact(twin, rewrapped, i64::MAX)
        .await
        .unwrap();
    lib.close().await;
    drop(lib);
    thread.join().unwrap();

    let (lib, _thread) = open(dir.path()).await;
    let quarantined = lib.quarantined();
    assert_eq!(quarantined.len(), 2, "{quarantined:?}");
    let reason_of = |id: BookId| {
        quarantined
            .iter()
            .find(|q| q.book == id.to_string())
            .map(|q| q.reason.clone())
            .unwrap()
    };
    let garbage = reason_of(poisoned);
    assert!(
        garbage.contains("not a valid automerge document"),
        "{garbage}"
    );
    let twice = reason_of(twin);
    assert!(twice.contains("stored twice"), "{twice}");
    assert!(!lib.contains(poisoned) && !lib.contains(twin));
    assert_eq!(lib.ledger(good).await.unwrap().name, "Sync Savers");
    contribute(&lib, good, 2).await;
    // Nothing founds the quarantined book again over its stored copy.
    assert!(matches!(
        lib.expect_book(poisoned, 2).await,
        Err(LibraryError::Quarantined(_))
    ));
}

/// The book's saved document with one of its records put again by a change of another actor on
/// top of the genesis: the re-wrap version 2 refuses.
async fn rewrapped_copy(lib: &Library, id: BookId) -> Vec<u8> {
    use automerge::transaction::{CommitOptions, Transactable as _};
    lib.with_book(id, |b| {
        let record = b.records().nth(1).unwrap().clone();
        let genesis = b.doc().get_changes(&[])[0].hash();
        let mut fork = b
            .doc()
            .fork_at(&[genesis])
            .unwrap()
            .with_actor(automerge::ActorId::from([0x77; 16]));
        let mut tx = fork.transaction();
        tx.put(
            automerge::ROOT,
            record.id().to_string(),
            automerge::ScalarValue::Bytes(record.bytes().to_vec()),
        )
        .unwrap();
        tx.commit_with(CommitOptions::default().with_time(0));
        let mut doc = b.doc().clone();
        doc.apply_changes(vec![fork.get_last_local_change().unwrap()])
            .unwrap();
        doc.save()
    })
    .await
    .unwrap()
}

/// A book nobody asks for leaves memory; lists and session checks answer from its caches
/// without reading it back, and the next write reads it back and goes on from where it was.
#[tokio::test]
async fn an_idle_book_leaves_memory_and_comes_back_when_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let (lib, _thread) = open(dir.path()).await;
    let id = founded(&lib).await;
    let before = lib.ledger(id).await.unwrap();
    assert_eq!(
        lib.evict_idle(std::time::Duration::from_secs(3600)).await,
        0
    );
    assert_eq!(lib.evict_idle(std::time::Duration::ZERO).await, 1);
    assert_eq!(lib.in_memory(), (0, 1));

    // Scanning every book does not read it back.
    assert!(lib.knows_key(&key().public()).await);
    assert_eq!(lib.list().await[0].name, "Sync Savers");
    assert_eq!(*lib.quiet_ledger(id).await.unwrap(), *before);
    assert_eq!(lib.in_memory(), (0, 1));

    // Asking for the book reads it back, and a record follows on.
    contribute(&lib, id, 1).await;
    assert_eq!(lib.in_memory(), (1, 1));
    assert_eq!(
        lib.ledger(id).await.unwrap().record_count,
        before.record_count + 1
    );
}

/// Signs `body` with `signer` at its next place in the library's copy of the book.
async fn signed_by(lib: &Library, id: BookId, signer: &SignerKey, body: Body) -> Record {
    let signer = signer.clone();
    lib.with_book(id, move |b| b.sign_next(&signer, 50, &body))
        .await
        .unwrap()
}

/// Signs, submits and has the key holder approve `body`, for the quorum of two.
async fn approved(lib: &Library, id: BookId, signer: &SignerKey, body: Body) -> RecordId {
    let r = signed_by(lib, id, signer, body).await;
    let rid = r.id();
    lib.submit(id, r).await.unwrap();
    let approver = if signer.public() == key().public() {
        SignerKey::from_seed([2; 32])
    } else {
        SignerKey::from_seed([12; 32])
    };
    let a = signed_by(lib, id, &approver, Body::Approval(Approval { record: rid })).await;
    lib.submit(id, a).await.unwrap();
    rid
}

/// With HKD 150 of the group's HKD 300 invested, a payment awaiting approval holds its cash:
/// a second payment that the cash would not cover with both is refused, withdrawal or payout,
/// and an approval is refused once the cash no longer covers its payment.
#[tokio::test]
async fn payments_awaiting_approval_hold_the_cash_they_will_take() {
    let dir = tempfile::tempdir().unwrap();
    let (lib, _thread) = open(dir.path()).await;
    let group = founded(&lib).await;
    let treasurer = key();
    let join = Body::MemberJoin(MemberJoin {
        member: "m-bea".parse().unwrap(),
        alias: "Bea".into(),
        key: None,
    });
    lib.submit(group, signed_by(&lib, group, &treasurer, join).await)
        .await
        .unwrap();
    for member in ["m-ana", "m-bea"] {
        let c = Body::Contribution(Contribution {
            member: member.parse().unwrap(),
            amount: hkd(15_000),
            meeting: None,
        });
        lib.submit(group, signed_by(&lib, group, &treasurer, c).await)
            .await
            .unwrap();
    }

    // A cooperative's book in which the group, having accepted it, invests HKD 150.
    let ct = testing::key(11);
    let genesis = Founding::bukid_farm().sign(&ct);
    let (farm, _) = lib.create_book(genesis, 1).await.unwrap();
    let investor = Body::Investor(kaban_protocol::kind::Investor {
        group,
        name: "Sync Savers".into(),
        currency: "HKD".parse().unwrap(),
        officers: vec![treasurer.public(), SignerKey::from_seed([2; 32]).public()],
        quorum: 2,
    });
    approved(&lib, farm, &ct, investor).await;
    let registration = lib.reconciliation(farm, 0, 14).await.unwrap().investors[0].registration;
    let accept = Body::Investment(kaban_protocol::kind::Investment {
        enterprise: farm,
        registration,
    });
    approved(&lib, group, &treasurer, accept).await;
    let transfer = |amount| {
        Body::Transfer(kaban_protocol::kind::Transfer {
            group,
            amount: hkd(amount),
            fee: hkd(0),
            rate: "7".into(),
            rate_source: "quote".into(),
            expected: php(amount * 7),
            channel: "bank".into(),
            reference: format!("T-{amount}"),
        })
    };
    approved(&lib, farm, &treasurer, transfer(15_000)).await;

    // Cash HKD 150: Bea's payout of HKD 150 awaits approval, so Ana cannot withdraw HKD 100.
    let leave = Body::Departure(kaban_protocol::kind::Departure {
        member: "m-bea".parse().unwrap(),
        amount: hkd(15_000),
        settlement: kaban_protocol::kind::Settlement::Payout,
        enterprise: None,
    });
    let payout = signed_by(&lib, group, &treasurer, leave).await;
    let payout_id = payout.id();
    lib.submit(group, payout).await.unwrap();
    let withdraw = Body::Withdrawal(kaban_protocol::kind::Withdrawal {
        member: "m-ana".parse().unwrap(),
        amount: hkd(10_000),
        reason: "rent".into(),
    });
    let refused = lib
        .submit(group, signed_by(&lib, group, &treasurer, withdraw).await)
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            LibraryError::Objection(Objection::InsufficientCash { .. })
        ),
        "{refused}"
    );

    // The cooperative's side moves another HKD 100 of the group's cash away meanwhile: the
    // payout's approval is refused, since the cash no longer covers it.
    approved(&lib, farm, &treasurer, transfer(10_000)).await;
    let approval = signed_by(
        &lib,
        group,
        &SignerKey::from_seed([2; 32]),
        Body::Approval(Approval { record: payout_id }),
    )
    .await;
    let refused = lib.submit(group, approval).await.unwrap_err();
    assert!(
        refused.to_string().contains("cash"),
        "the approval names the cash: {refused}"
    );
}

/// With a partner's session open, a contribution costs no fold of the ledger: the session's
/// share check and the local rules read what the book task keeps record by record. Reading the
/// ledger then folds it once.
#[tokio::test]
async fn a_write_with_a_partner_session_open_costs_no_fold() {
    let dir = tempfile::tempdir().unwrap();
    let (lib, _thread) = open(dir.path()).await;
    let id = founded(&lib).await;
    let (session, _) = lib
        .sync_session(id, "peer-b", Side::Dialer, 5)
        .await
        .unwrap();
    let handle = lib.handle(id).unwrap();
    let before = handle.read(|_, caches| caches.folds).await.unwrap();
    for n in 0..200 {
        contribute(&lib, id, n).await;
        assert!(!lib.is_shared_with(id, "peer-b").await);
        session.handle(Event::BookChanged, 5).await.unwrap();
    }
    assert_eq!(handle.read(|_, caches| caches.folds).await.unwrap(), before);
    assert_eq!(lib.ledger(id).await.unwrap().record_count, 202);
    assert_eq!(
        handle.read(|_, caches| caches.folds).await.unwrap(),
        before + 1
    );
}

#[tokio::test]
async fn loose_changes_below_a_quarter_of_the_book_are_compacted_once_it_goes_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let (lib, _thread) = open(dir.path()).await;
    let id = founded(&lib).await;
    let loose = async || {
        lib.storage()
            .load_book(id)
            .await
            .unwrap()
            .changes_since_snapshot
    };
    // Write until the book is large enough that a quarter of its snapshot (at least 320 of its
    // 400 changes) is more than 60, and the changes since the snapshot are between the fixed
    // interval and 60: no write has called for a snapshot then, and none will.
    let floor = super::COMPACT_AFTER_CHANGES;
    let mut n = 0;
    loop {
        n += 1;
        contribute(&lib, id, n).await;
        let count = lib.ledger(id).await.unwrap().record_count;
        let now = loose().await;
        if count >= 8 * floor && (floor..floor + floor / 5).contains(&now) {
            break;
        }
        assert!(
            n < 20 * floor as u64,
            "the changes never rested between the rules"
        );
    }
    let start = std::time::Instant::now();
    while loose().await > 0 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "a quiet book kept {} loose changes",
            loose().await
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    lib.close().await;
}
