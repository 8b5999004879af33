//! Tests of the validation rules through the book's two doors: local adds and peer changes.

use super::*;
use crate::key::SignerKey;
use crate::kind::{Approval, Reversal, Role, RoleChange, Withdrawal};
use crate::testing::{self, Founding, hkd, key};
use std::collections::HashMap;

struct Group {
    treasurer: SignerKey,
    keeper: SignerKey,
    chair: SignerKey,
    book: Book,
}

fn group() -> Group {
    let (treasurer, keeper, chair) = (key(1), key(2), key(3));
    let book = Founding::savings("Bayanihan Savers")
        .officer(&treasurer, Role::Treasurer)
        .officer(&keeper, Role::KeyHolder)
        .officer(&chair, Role::Chair)
        .book(&treasurer);
    Group {
        treasurer,
        keeper,
        chair,
        book,
    }
}

impl Group {
    fn sign(&self, key: &SignerKey, body: Body) -> Record {
        self.book.sign_next(key, 10, &body)
    }
}

fn join(member: &str) -> Body {
    testing::join(member, "Ana")
}

fn contribution(member: &str, minor: i64) -> Body {
    testing::contribution(member, hkd(minor))
}

/// A second node holding a copy of the book, to exercise the peer path.
fn replica(book: &Book) -> Book {
    let mut other = Book::empty(book.id());
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
    g.book.add(rec.clone()).unwrap();
    assert_eq!(g.book.record_count(), 2);
    assert_eq!(
        g.book.add(rec.clone()),
        Err(Refusal::AlreadyPresent { id: rec.id() })
    );

    let stranger = key(9);
    let rec = g.sign(&stranger, contribution("m-ana", 100));
    assert!(matches!(
        g.book.add(rec),
        Err(Refusal::UnknownSigner { signer, .. }) if signer == stranger.public()
    ));
    // A key holder approves but does not record contributions.
    let rec = g.sign(&g.keeper, contribution("m-ana", 100));
    let err = g.book.add(rec).unwrap_err();
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
    assert!(matches!(g.book.add(rec), Err(Refusal::WrongRole { .. })));
}

#[test]
fn approvals_and_reversals_must_follow_their_target() {
    let mut g = group();
    let other_book = BookId(RecordId([7; 32]));
    let other_book_record = Record::sign(
        &g.treasurer,
        &Place::new(other_book, 2, vec![other_book.0]),
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
        g.book.add(approval),
        Err(Refusal::TargetNotInPast { .. })
    ));
    let join_rec = g.sign(&g.treasurer, join("m-ana"));
    g.book.add(join_rec.clone()).unwrap();
    let reversal = g.sign(
        &g.chair,
        Body::Reversal(Reversal {
            record: join_rec.id(),
            reason: "typo".into(),
        }),
    );
    assert!(matches!(
        g.book.add(reversal),
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
    g.book.add(revoke.clone()).unwrap();
    // One signature of two: the treasurer still records.
    g.book.add(g.sign(&g.treasurer, join("m-ana"))).unwrap();
    let approve = g.sign(
        &g.keeper,
        Body::Approval(Approval {
            record: revoke.id(),
        }),
    );
    g.book.add(approve).unwrap();
    let err = g.book.add(g.sign(&g.treasurer, join("m-ben"))).unwrap_err();
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
    g.book.add(grant.clone()).unwrap();
    g.book
        .add(g.sign(&g.keeper, Body::Approval(Approval { record: grant.id() })))
        .unwrap();
    g.book.add(g.sign(&g.treasurer, join("m-ben"))).unwrap();
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
    g.book.add(ana.clone()).unwrap();
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
            "exactly one record",
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
    g.book.add(ben).unwrap();
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
    g.book.add(rec.clone()).unwrap();
    let r = replica(&g.book);
    assert_eq!(r.record(&rec.id()).unwrap().bytes(), rec.bytes());
}

#[test]
fn save_and_load_round_trip_with_and_without_verification() {
    let mut g = group();
    for i in 0..20 {
        g.book
            .add(g.sign(&g.treasurer, contribution("m-ana", 100 + i)))
            .unwrap();
    }
    let bytes = g.book.save();
    for verified in [false, true] {
        let loaded = if verified {
            Book::load_verified(g.book.id(), &bytes).unwrap()
        } else {
            Book::load(g.book.id(), &bytes).unwrap()
        };
        assert_eq!(loaded.heads(), g.book.heads());
        assert_eq!(loaded.record_count(), 21);
        assert_eq!(loaded.roster(), g.book.roster());
    }
    assert!(Book::load(g.book.id(), b"not a book").is_err());
}

#[test]
fn out_of_order_changes_wait_for_their_dependencies() {
    let mut g = group();
    let base = g.book.heads();
    for i in 0..3 {
        g.book
            .add(g.sign(&g.treasurer, contribution("m-ana", 10 + i)))
            .unwrap();
    }
    let mut r = Book::empty(g.book.id());
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
    let mut other = Book::empty(book.id());
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

/// Two nodes add the same record while apart: each builds the identical change, so when they
/// meet the record is one change, counted once, whichever copy arrived first.
#[test]
fn a_record_added_on_two_nodes_at_once_is_one_change() {
    let mut g = group();
    let join = g.sign(&g.treasurer, join("m-ana"));
    g.book.add(join).unwrap();
    let mut one = Book::load(g.book.id(), &g.book.save()).unwrap();
    let mut two = Book::load(g.book.id(), &g.book.save()).unwrap();
    let base = one.heads();
    let w = g.sign(
        &g.treasurer,
        Body::Withdrawal(Withdrawal {
            member: "m-ana".parse().unwrap(),
            amount: hkd(100),
            reason: "rent".into(),
        }),
    );
    assert_eq!(one.add(w.clone()).unwrap(), two.add(w.clone()).unwrap());
    let approval = one.sign_next(&g.keeper, 10, &Body::Approval(Approval { record: w.id() }));
    one.add(approval).unwrap();

    let applied = two.apply(one.doc().get_changes(&base));
    assert!(applied.refused.is_empty(), "{:?}", applied.refused);
    assert_eq!((applied.accepted.len(), applied.duplicate), (1, 1));
    assert_eq!(two.heads(), one.heads());
    assert_eq!(two.change_count(), two.record_count());
}

/// A change of a fresh actor on top of the genesis alone that puts `record` again: the re-wrap
/// a partner without keys could make in version 1.
fn rewrap(book: &Book, record: &Record, actor: u8) -> Change {
    testing::rewrap(book, record, ActorId::from([actor; 16]))
}

/// Offers `change` to a replica of `book` and returns the one refusal it must get.
fn refusal_of(book: &Book, change: Change) -> Refusal {
    let mut victim = replica(book);
    let heads = victim.heads();
    let mut applied = victim.apply(vec![change]);
    assert!(applied.accepted.is_empty(), "accepted");
    assert_eq!(victim.heads(), heads);
    applied.refused.pop().expect("refused").1
}

/// A party without the signer's key can only relay a record in the change it determines: a
/// re-wrap in a fresh actor's change, or the record's own change with other deps, seq, time or
/// extra bytes, is refused from the change's bytes, the same way on every node.
#[test]
fn a_record_travels_only_in_the_change_it_determines() {
    let mut g = group();
    let ana = g.sign(&g.treasurer, join("m-ana"));
    g.book.add(ana.clone()).unwrap();
    let c = g.sign(&g.treasurer, contribution("m-ana", 500));
    g.book.add(c.clone()).unwrap();
    let genesis = g.book.doc().get_changes(&[])[0].hash();
    let honest = g.book.change_for(&c).unwrap();

    // Re-wrapped on top of the genesis by a fresh actor: a second copy of a record it holds.
    let rewrap = rewrap(&g.book, &c, 0xab);
    assert_eq!(refusal_of(&g.book, rewrap).code(), "wrong_envelope");

    let variant = |f: &dyn Fn(&mut ExpandedChange)| {
        let mut e = honest.decode();
        f(&mut e);
        Change::from(e)
    };
    let cases: Vec<(Change, &str)> = vec![
        (change_for(&c, vec![genesis], 2), "wrong_envelope"),
        (variant(&|e| e.seq += 1), "wrong_envelope"),
        (
            variant(&|e| e.start_op = e.start_op.saturating_add(1)),
            "wrong_envelope",
        ),
        (
            variant(&|e| e.actor_id = ActorId::from([1u8; 32])),
            "wrong_envelope",
        ),
        (variant(&|e| e.time = 1), "writes_elsewhere"),
        (variant(&|e| e.extra_bytes = vec![0]), "writes_elsewhere"),
        (
            variant(&|e| e.message = Some("hi".into())),
            "writes_elsewhere",
        ),
    ];
    for (change, code) in cases {
        // The book already holds the record: a variant is refused, never taken as a second copy.
        assert_eq!(refusal_of(&g.book, change.clone()).code(), code);
        // Nor can it stand in for the record where it is new.
        let mut fresh = Book::empty(g.book.id());
        let all = g.book.doc().get_changes(&[]);
        fresh.apply(all[..2].to_vec());
        let applied = fresh.apply(vec![change]);
        assert_eq!(applied.refused.len(), 1, "{code}");
        assert_eq!(applied.refused[0].1.code(), code);
    }
    assert_eq!(g.book.change_count(), g.book.record_count());
}

/// A signer's records form one chain: each record's change depends on the signer's previous
/// record's, whatever the record names in `after`. A record for a place further on waits for
/// the records before it; only the key's holder can sign a second record for a place, and that
/// is refused as equivocation.
#[test]
fn a_signers_records_form_one_chain() {
    let mut g = group();
    let first = g.sign(&g.treasurer, join("m-ana"));
    let place = g.book.place_for(&g.treasurer.public());
    g.book.add(first.clone()).unwrap();
    // The same place again, with other content: equivocation.
    let twin = Record::sign(&g.treasurer, &place, 11, &join("m-ben"));
    assert!(
        matches!(g.book.add(twin), Err(Refusal::Equivocation { other, .. }) if other == first.id())
    );
    // A place further on waits for the signer's record before it.
    let mut skip = g.book.place_for(&g.treasurer.public());
    skip.seq += 1;
    let gap = Record::sign(&g.treasurer, &skip, 12, &join("m-ben"));
    assert_eq!(g.book.add(gap).unwrap_err().code(), "missing_dependency");
    // A record following one the book does not hold cannot be placed yet.
    let ghost = Place::new(g.book.id(), 3, vec![RecordId([9; 32])]);
    let waiting = Record::sign(&g.treasurer, &ghost, 14, &join("m-ben"));
    assert_eq!(
        g.book.add(waiting).unwrap_err().code(),
        "missing_dependency"
    );
    // A record that names only the genesis, as a phone that saw nothing since would, still
    // follows the signer's previous record: its change depends on it.
    let early = Place::new(g.book.id(), 3, vec![g.book.id().0]);
    let stale = Record::sign(&g.treasurer, &early, 13, &join("m-ben"));
    let hash = g.book.add(stale.clone()).unwrap();
    let previous = g.book.change_for(&first).unwrap().hash();
    use automerge::ReadDoc as _;
    assert!(
        g.book
            .doc()
            .get_change_by_hash(&hash)
            .unwrap()
            .deps()
            .contains(&previous)
    );
    assert!(g.book.precedes(&first.id(), &stale.id()));
}

/// A revocation replayed by a keyless party changes nothing: the re-wrap is refused, and the
/// roster after a re-grant stands.
#[test]
fn a_replayed_revocation_revokes_nothing() {
    let mut g = group();
    let revoke = g.sign(
        &g.chair,
        Body::RoleRevoke(RoleChange {
            key: g.treasurer.public(),
            role: Role::Treasurer,
        }),
    );
    g.book.add(revoke.clone()).unwrap();
    let approve = g.sign(
        &g.keeper,
        Body::Approval(Approval {
            record: revoke.id(),
        }),
    );
    g.book.add(approve).unwrap();
    let grant = g.sign(
        &g.chair,
        Body::RoleGrant(RoleChange {
            key: g.treasurer.public(),
            role: Role::Treasurer,
        }),
    );
    g.book.add(grant.clone()).unwrap();
    g.book
        .add(g.sign(&g.keeper, Body::Approval(Approval { record: grant.id() })))
        .unwrap();
    let roster = g.book.roster();
    assert!(roster.holds(&g.treasurer.public(), Role::Treasurer));

    // Re-put from a fork at the genesis, where the key is free: a re-wrap, refused.
    let rewrap = rewrap(&g.book, &revoke, 0xef);
    assert_eq!(refusal_of(&g.book, rewrap).code(), "wrong_envelope");
    let reloaded = Book::load_verified(g.book.id(), &g.book.save()).unwrap();
    assert_eq!(reloaded.roster(), roster);
    g.book.add(g.sign(&g.treasurer, join("m-ana"))).unwrap();
}

/// A stored book that holds anything but determined changes (here, a record put by two
/// changes, as a version 1 partner could re-wrap it) does not load: the node quarantines it.
#[test]
fn a_poisoned_stored_book_does_not_load() {
    let mut g = group();
    let ana = g.sign(&g.treasurer, join("m-ana"));
    g.book.add(ana.clone()).unwrap();
    let mut doc = g.book.doc().clone();
    doc.apply_changes(vec![rewrap(&g.book, &ana, 0x77)])
        .unwrap();
    let err = Book::load(g.book.id(), &doc.save()).unwrap_err();
    assert!(err.to_string().contains("stored twice"), "{err}");
    assert!(Book::load_verified(g.book.id(), &doc.save()).is_err());

    // A stored change whose dependency is missing (a lost row of the change log): automerge
    // would hold it back out of sight; the book refuses to load instead.
    let base = g.book.save();
    let ben = g.sign(&g.treasurer, join("m-ben"));
    let ben_change = g.book.change_for(&ben).unwrap();
    g.book.add(ben.clone()).unwrap();
    let cleo = g.sign(&g.treasurer, join("m-cleo"));
    let cleo_change = g.book.change_for(&cleo).unwrap();
    let mut stored = base;
    stored.extend_from_slice(cleo_change.raw_bytes());
    let err = Book::load(g.book.id(), &stored).unwrap_err();
    assert!(
        err.to_string().contains(&ben_change.hash().to_string()),
        "{err}"
    );
}

/// Records signed at heads that have since moved, as concurrent clients sign them: each names
/// the heads as they stand now, in turn for `signers`.
fn behind_heads(g: &Group, signers: &[&SignerKey], n: usize) -> Vec<Record> {
    let after = g.book.head_records();
    let mut next: HashMap<PublicKey, u64> = HashMap::new();
    (0..n)
        .map(|i| {
            let key = signers[i % signers.len()];
            let seq = next
                .entry(key.public())
                .or_insert_with(|| g.book.seq_of(&key.public()));
            *seq += 1;
            let place = Place::new(g.book.id(), *seq, after.clone());
            Record::sign(key, &place, 10 + i as u64, &contribution("m-1", 100))
        })
        .collect()
}

#[test]
fn a_batch_adds_records_that_do_not_follow_the_heads_as_one_by_one_would() {
    let mut g = group();
    let joined = g.sign(&g.treasurer, join("m-1"));
    g.book.add(joined).unwrap();
    let records = behind_heads(&g, &[&g.treasurer, &g.chair], 9);
    let mut one = replica(&g.book);
    for r in records.clone() {
        one.add(r).unwrap();
    }
    let mut adding = g.book.adding();
    let mut heads = adding.book().heads();
    for r in records {
        let hash = adding.add(r).unwrap();
        // Reads mid-batch see each record as it is added: the heads move with it.
        assert!(adding.book().heads().contains(&hash));
        assert_ne!(adding.book().heads(), heads);
        heads = adding.book().heads();
        assert!(adding.book().change_bytes(&hash).is_some());
    }
    adding.finish().unwrap();
    assert_eq!(g.book.heads(), g.book.doc().get_heads());
    assert_eq!(g.book.heads(), one.heads());
    assert_eq!(g.book.record_count(), one.record_count());
    let saved = Book::load_verified(g.book.id(), &g.book.save()).unwrap();
    assert_eq!(saved.heads(), one.heads());
}

#[test]
fn a_record_refused_in_a_batch_leaves_the_others_in() {
    let mut g = group();
    let joined = g.sign(&g.treasurer, join("m-1"));
    g.book.add(joined).unwrap();
    let mut records = behind_heads(&g, &[&g.treasurer, &g.chair], 4);
    let stranger = key(9);
    let outsider = Record::sign(
        &stranger,
        &g.book.place_for(&stranger.public()),
        10,
        &contribution("m-1", 100),
    );
    records.insert(2, outsider);
    let before = g.book.record_count();
    let mut adding = g.book.adding();
    let verdicts: Vec<_> = records.into_iter().map(|r| adding.add(r)).collect();
    drop(adding);
    assert!(matches!(verdicts[2], Err(Refusal::UnknownSigner { .. })));
    assert_eq!(verdicts.iter().filter(|v| v.is_ok()).count(), 4);
    assert_eq!(g.book.heads(), g.book.doc().get_heads());
    assert_eq!(g.book.record_count(), before + 4);
}
