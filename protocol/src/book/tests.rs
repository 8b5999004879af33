//! Tests of the validation rules through the book's two doors: local adds and peer changes.

use super::*;
use crate::key::SignerKey;
use crate::kind::{
    Approval, Contribution, Genesis, MemberJoin, Officer, Reversal, Role, RoleChange, Rules,
    Withdrawal,
};
use crate::money::Money;

struct Group {
    treasurer: SignerKey,
    keeper: SignerKey,
    chair: SignerKey,
    book: Book,
}

fn key(n: u8) -> SignerKey {
    SignerKey::from_seed([n; 32])
}

fn hkd(minor: i64) -> Money {
    Money::new(minor, "HKD".parse().unwrap())
}

fn group() -> Group {
    let (treasurer, keeper, chair) = (key(1), key(2), key(3));
    let genesis = Body::Genesis(Genesis {
        enterprise: None,
        name: "Bayanihan Savers".into(),
        currency: "HKD".parse().unwrap(),
        rules: Rules::default(),
        officers: vec![
            Officer {
                key: treasurer.public(),
                roles: vec![Role::Treasurer],
            },
            Officer {
                key: keeper.public(),
                roles: vec![Role::KeyHolder],
            },
            Officer {
                key: chair.public(),
                roles: vec![Role::Chair],
            },
        ],
    });
    let record = Record::sign(&treasurer, None, 1, &genesis);
    let book = Book::create(record, [0xa1; 16]).unwrap();
    Group {
        treasurer,
        keeper,
        chair,
        book,
    }
}

impl Group {
    fn sign(&self, key: &SignerKey, body: Body) -> Record {
        Record::sign(key, Some(self.book.id()), 10, &body)
    }
}

fn join(member: &str) -> Body {
    Body::MemberJoin(MemberJoin {
        member: member.parse().unwrap(),
        alias: "Ana".into(),
        key: None,
    })
}

fn contribution(member: &str, minor: i64) -> Body {
    Body::Contribution(Contribution {
        member: member.parse().unwrap(),
        amount: hkd(minor),
        meeting: None,
    })
}

/// A second node holding a copy of the book, to exercise the peer path.
fn replica(book: &Book) -> Book {
    let mut other = Book::empty(book.id(), [0xb2; 16]);
    let applied = other.apply(book.doc().get_changes(&[]));
    assert!(applied.refused.is_empty(), "{:?}", applied.refused);
    other
}

#[test]
fn genesis_change_is_deterministic_and_replicas_agree() {
    let g = group();
    let again = genesis_change(g.book.record(&g.book.id().0).unwrap()).unwrap();
    assert_eq!(again.hash(), g.book.doc().get_changes(&[])[0].hash());
    let r = replica(&g.book);
    assert_eq!(r.heads(), g.book.heads());
    assert_eq!(r.genesis(), g.book.genesis());
}

#[test]
fn officers_add_records_and_strangers_are_refused() {
    let mut g = group();
    let rec = g.sign(&g.treasurer, join("m-ana"));
    g.book.add(vec![rec.clone()]).unwrap();
    assert_eq!(g.book.record_count(), 2);
    assert_eq!(
        g.book.add(vec![rec.clone()]),
        Err(Refusal::AlreadyPresent { id: rec.id() })
    );

    let stranger = key(9);
    let rec = g.sign(&stranger, contribution("m-ana", 100));
    assert!(matches!(
        g.book.add(vec![rec]),
        Err(Refusal::UnknownSigner { signer, .. }) if signer == stranger.public()
    ));
    // A key holder approves but does not record contributions.
    let rec = g.sign(&g.keeper, contribution("m-ana", 100));
    let err = g.book.add(vec![rec]).unwrap_err();
    assert!(
        err.to_string()
            .contains("holds key_holder; a contribution needs one of"),
        "{err}"
    );
    // Only the treasurer records withdrawals.
    let rec = g.sign(
        &g.chair,
        Body::Withdrawal(Withdrawal {
            member: "m-ana".parse().unwrap(),
            amount: hkd(5),
            reason: "school fees".into(),
        }),
    );
    assert!(matches!(
        g.book.add(vec![rec]),
        Err(Refusal::WrongRole { .. })
    ));
}

#[test]
fn approvals_and_reversals_must_follow_their_target() {
    let mut g = group();
    let other_book_record = Record::sign(
        &g.treasurer,
        Some(BookId(RecordId([7; 32]))),
        10,
        &contribution("m-ana", 1),
    );
    let approval = g.sign(
        &g.keeper,
        Body::Approval(Approval {
            record: other_book_record.id(),
        }),
    );
    assert!(matches!(
        g.book.add(vec![approval]),
        Err(Refusal::TargetNotInPast { .. })
    ));
    let join_rec = g.sign(&g.treasurer, join("m-ana"));
    g.book.add(vec![join_rec.clone()]).unwrap();
    let reversal = g.sign(
        &g.chair,
        Body::Reversal(Reversal {
            record: join_rec.id(),
            reason: "typo".into(),
        }),
    );
    assert!(matches!(
        g.book.add(vec![reversal]),
        Err(Refusal::NotReversible { .. })
    ));
}

#[test]
fn revocation_takes_effect_at_quorum_for_changes_that_follow_it() {
    let mut g = group();
    let revoke = g.sign(
        &g.chair,
        Body::RoleRevoke(RoleChange {
            key: g.treasurer.public(),
            role: Role::Treasurer,
        }),
    );
    g.book.add(vec![revoke.clone()]).unwrap();
    // One signature of two: the treasurer still records.
    g.book
        .add(vec![g.sign(&g.treasurer, join("m-ana"))])
        .unwrap();
    let approve = g.sign(
        &g.keeper,
        Body::Approval(Approval {
            record: revoke.id(),
        }),
    );
    g.book.add(vec![approve]).unwrap();
    let err = g
        .book
        .add(vec![g.sign(&g.treasurer, join("m-ben"))])
        .unwrap_err();
    assert!(
        matches!(
            err,
            Refusal::RevokedSigner {
                role: Role::Treasurer,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        !g.book
            .roster()
            .holds(&g.treasurer.public(), Role::Treasurer)
    );
    // A grant made after the revocation restores the role.
    let grant = g.sign(
        &g.chair,
        Body::RoleGrant(RoleChange {
            key: g.treasurer.public(),
            role: Role::Treasurer,
        }),
    );
    g.book.add(vec![grant.clone()]).unwrap();
    g.book
        .add(vec![g.sign(
            &g.keeper,
            Body::Approval(Approval { record: grant.id() }),
        )])
        .unwrap();
    g.book
        .add(vec![g.sign(&g.treasurer, join("m-ben"))])
        .unwrap();
}

/// Builds a raw change on a replica's document without validation, as a malicious peer would.
fn forge(
    book: &Book,
    actor: u8,
    f: impl FnOnce(&mut automerge::transaction::Transaction<'_>),
) -> Change {
    let mut doc = book.doc().fork().with_actor(ActorId::from([actor; 16]));
    let mut tx = doc.transaction();
    f(&mut tx);
    tx.commit_with(CommitOptions::default().with_time(0));
    doc.get_last_local_change().unwrap()
}

#[test]
fn peer_changes_that_delete_overwrite_or_write_elsewhere_are_refused_whole() {
    let mut g = group();
    let ana = g.sign(&g.treasurer, join("m-ana"));
    g.book.add(vec![ana.clone()]).unwrap();
    let mut victim = replica(&g.book);
    let heads = victim.heads();
    let records_before = victim.record_count();

    let ben = g.sign(&g.treasurer, join("m-ben"));
    let cases: Vec<(Change, &str)> = vec![
        (
            forge(&g.book, 0xc1, |tx| {
                tx.delete(ROOT, ana.id().to_string()).unwrap()
            }),
            "deletes",
        ),
        (
            forge(&g.book, 0xc2, |tx| {
                tx.put(
                    ROOT,
                    ana.id().to_string(),
                    ScalarValue::Bytes(ben.bytes().to_vec()),
                )
                .unwrap()
            }),
            "overwrites",
        ),
        (
            forge(&g.book, 0xc3, |tx| {
                tx.put(ROOT, "note", "hello").unwrap();
            }),
            "string value",
        ),
        (
            forge(&g.book, 0xc4, |tx| {
                tx.put(ROOT, "wrong-key", ScalarValue::Bytes(ben.bytes().to_vec()))
                    .unwrap();
            }),
            "instead of its own id",
        ),
        (
            forge(&g.book, 0xc5, |tx| {
                // One good record and one tampered one: the whole change goes.
                tx.put(
                    ROOT,
                    ben.id().to_string(),
                    ScalarValue::Bytes(ben.bytes().to_vec()),
                )
                .unwrap();
                let mut bad = ben.bytes().to_vec();
                let at = bad.len() - 20;
                bad[at] ^= 1;
                tx.put(ROOT, "x", ScalarValue::Bytes(bad)).unwrap();
            }),
            "invalid",
        ),
        (
            forge(&g.book, 0xc6, |tx| {
                tx.put_object(ROOT, "nested", automerge::ObjType::Map)
                    .unwrap();
            }),
            "operation",
        ),
    ];
    for (change, expect) in cases {
        let applied = victim.apply(vec![change]);
        assert!(applied.accepted.is_empty());
        let (_, refusal) = &applied.refused[0];
        assert!(refusal.to_string().contains(expect), "{expect}: {refusal}");
    }
    assert_eq!(victim.heads(), heads);
    assert_eq!(victim.record_count(), records_before);

    // An honest change still goes through afterwards.
    g.book.add(vec![ben]).unwrap();
    let applied = victim.apply(g.book.doc().get_changes(&heads));
    assert_eq!(applied.accepted.len(), 1, "{:?}", applied.refused);
}

#[test]
fn unknown_kinds_signed_by_officers_are_kept() {
    let mut g = group();
    let rec = g.sign(
        &g.keeper,
        Body::Unknown {
            kind: "loan_offer".into(),
            body: serde_json::json!({"rate_bp": 150}),
        },
    );
    g.book.add(vec![rec.clone()]).unwrap();
    let r = replica(&g.book);
    assert_eq!(r.record(&rec.id()).unwrap().bytes(), rec.bytes());
}

#[test]
fn save_and_load_round_trip_with_and_without_verification() {
    let mut g = group();
    for i in 0..20 {
        g.book
            .add(vec![g.sign(&g.treasurer, contribution("m-ana", 100 + i))])
            .unwrap();
    }
    let bytes = g.book.save();
    for verified in [false, true] {
        let loaded = if verified {
            Book::load_verified(g.book.id(), &bytes, [5; 16]).unwrap()
        } else {
            Book::load(g.book.id(), &bytes, [5; 16]).unwrap()
        };
        assert_eq!(loaded.heads(), g.book.heads());
        assert_eq!(loaded.record_count(), 21);
        assert_eq!(loaded.roster(), g.book.roster());
    }
    assert!(Book::load(g.book.id(), b"not a book", [5; 16]).is_err());
}

#[test]
fn out_of_order_changes_wait_for_their_dependencies() {
    let mut g = group();
    let base = g.book.heads();
    for i in 0..3 {
        g.book
            .add(vec![g.sign(&g.treasurer, contribution("m-ana", 10 + i))])
            .unwrap();
    }
    let mut r = Book::empty(g.book.id(), [0xb2; 16]);
    let mut changes = g.book.doc().get_changes(&[]);
    changes.reverse();
    let applied = r.apply(changes);
    assert_eq!(applied.accepted.len(), 4);
    assert!(applied.waiting.is_empty());

    let mut r = replica_at(&g.book, &base);
    let late = g.book.doc().get_changes(&base);
    let applied = r.apply(vec![late[2].clone()]);
    assert_eq!(applied.waiting.len(), 1);
    assert_eq!(r.record_count(), 1);
}

fn replica_at(book: &Book, heads: &[ChangeHash]) -> Book {
    let mut other = Book::empty(book.id(), [0xb3; 16]);
    let all = book.doc().get_changes(&[]);
    let later: HashSet<_> = book
        .doc()
        .get_changes(heads)
        .iter()
        .map(|c| c.hash())
        .collect();
    other.apply(
        all.into_iter()
            .filter(|c| !later.contains(&c.hash()))
            .collect(),
    );
    other
}

/// Two nodes add the same record while apart, then an approval is made on one of them. Every
/// node must accept the approval, whichever copy of the record reached it first, and keep
/// doing so after a reload.
#[test]
fn a_record_added_on_two_nodes_at_once_counts_in_both_places() {
    let mut g = group();
    let join = g.sign(&g.treasurer, join("m-ana"));
    g.book.add(vec![join]).unwrap();
    let mut one = Book::load(g.book.id(), &g.book.save(), [0xd1; 16]).unwrap();
    let mut two = Book::load(g.book.id(), &g.book.save(), [0xd2; 16]).unwrap();
    let base = one.heads();
    let w = g.sign(
        &g.treasurer,
        Body::Withdrawal(Withdrawal {
            member: "m-ana".parse().unwrap(),
            amount: hkd(100),
            reason: "rent".into(),
        }),
    );
    one.add(vec![w.clone()]).unwrap();
    two.add(vec![w.clone()]).unwrap();
    let approval = g.sign(&g.keeper, Body::Approval(Approval { record: w.id() }));
    one.add(vec![approval]).unwrap();

    // Node two first has its own copy, then receives node one's copy and the approval.
    let applied = two.apply(one.doc().get_changes(&base));
    assert!(applied.refused.is_empty(), "{:?}", applied.refused);
    assert_eq!(applied.accepted.len(), 2);
    let reloaded = Book::load(two.id(), &two.save(), [7; 16]).unwrap();
    assert_eq!(reloaded.record_count(), two.record_count());
    // A fresh node that sees node two's copy first agrees too.
    let mut three = Book::load(g.book.id(), &g.book.save(), [0xd3; 16]).unwrap();
    let mut theirs = two.doc().get_changes(&base);
    theirs.sort_by_key(|c| c.actor_id() != two.doc().get_actor());
    let applied = three.apply(theirs);
    assert!(applied.refused.is_empty(), "{:?}", applied.refused);
    assert_eq!(three.heads(), {
        let mut h = two.heads();
        h.sort();
        h
    });
}
