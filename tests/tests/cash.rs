//! A group never pays out cash it does not hold: payments awaiting approval reserve the cash
//! and the member's balance from the moment they are accepted, concurrently or one after
//! another, and an approval is refused once the cash no longer covers its payment. All through
//! the real HTTP API of a real node.

#![allow(clippy::unwrap_used)]

use kaban_protocol::book::Book;
use kaban_protocol::key::SignerKey;
use kaban_protocol::kind::{
    Approval, Body, Departure, Investment, Investor, Reversal, Settlement, Transfer, Withdrawal,
};
use kaban_protocol::record::{BookId, Record, RecordId};
use kaban_protocol::testing::{self, Founding, hkd, php};
use kaban_tests::{Http, NodeProcess, fixture};
use serde_json::Value;

const WRITERS: usize = 16;

/// A group whose 16 treasurers each record one payment at once, a key holder who approves, and
/// (when `invested`) a cooperative's book holding HKD 3,000 of the group's HKD 3,100.
struct Group {
    book: Book,
    farm: Option<Book>,
    treasurer: SignerKey,
    writers: Vec<SignerKey>,
    key_holder: SignerKey,
    time: u64,
}

impl Group {
    /// Members m-01 to m-16 with HKD 100 each, and m-big with HKD 1,500.
    fn new(invested: bool) -> Group {
        let treasurer = SignerKey::from_seed([1; 32]);
        let writers: Vec<SignerKey> = (0..WRITERS)
            .map(|i| SignerKey::from_seed([40 + i as u8; 32]))
            .collect();
        let genesis = fixture::genesis_with_writers("Cash Savers", &treasurer, &writers);
        let mut group = Group {
            book: Book::create(genesis).unwrap(),
            farm: None,
            treasurer,
            writers,
            key_holder: SignerKey::from_seed([2; 32]),
            time: 10,
        };
        for (member, amount) in members() {
            let treasurer = group.treasurer.clone();
            group.add_group(&treasurer, testing::join(&member, &member));
            group.add_group(&treasurer, testing::contribution(&member, hkd(amount)));
        }
        if invested {
            group.invest(300_000);
        }
        group
    }

    fn id(&self) -> BookId {
        self.book.id()
    }

    fn add_group(&mut self, key: &SignerKey, body: Body) -> RecordId {
        self.time += 1;
        let record = self.book.sign_next(key, self.time, &body);
        let id = record.id();
        self.book.add(record).unwrap();
        id
    }

    fn add_farm(&mut self, key: &SignerKey, body: Body) -> RecordId {
        self.time += 1;
        let farm = self.farm.as_mut().unwrap();
        let record = farm.sign_next(key, self.time, &body);
        let id = record.id();
        farm.add(record).unwrap();
        id
    }

    /// The cooperative registers the group, the group accepts it, and HKD `minor` moves.
    fn invest(&mut self, minor: i64) {
        let (ct, cc) = (testing::key(11), testing::key(12));
        self.farm = Some(Founding::bukid_farm().book(&ct));
        let investor = Body::Investor(Investor {
            group: self.id(),
            name: "Cash Savers".into(),
            currency: "HKD".parse().unwrap(),
            officers: vec![self.treasurer.public(), self.key_holder.public()],
            quorum: 2,
        });
        let registration = self.add_farm(&ct, investor);
        self.add_farm(
            &cc,
            Body::Approval(Approval {
                record: registration,
            }),
        );
        let farm = self.farm.as_ref().unwrap().id();
        let accept = Body::Investment(Investment {
            enterprise: farm,
            registration,
        });
        let accepted = self.add_group(&self.treasurer.clone(), accept);
        self.add_group(
            &self.key_holder.clone(),
            Body::Approval(Approval { record: accepted }),
        );
        let treasurer = self.treasurer.clone();
        let moved = self.add_farm(&treasurer, transfer(self.id(), minor, "T-1"));
        let key_holder = self.key_holder.clone();
        self.add_farm(&key_holder, Body::Approval(Approval { record: moved }));
    }

    /// Stores the books into a fresh data directory and starts a node on them.
    fn start(&self, dir: &std::path::Path) -> NodeProcess {
        fixture::store_book(&self.book, dir, true);
        if let Some(farm) = &self.farm {
            fixture::store_book(farm, dir, true);
        }
        NodeProcess::start(dir)
    }

    /// Writer `i`'s record of `body`, signed at its place in the book as stored.
    fn by_writer(&self, i: usize, body: &Body) -> Record {
        let key = &self.writers[i];
        Record::sign(
            key,
            &self.book.place_for(&key.public()),
            100 + i as u64,
            body,
        )
    }
}

fn members() -> Vec<(String, i64)> {
    (1..=WRITERS)
        .map(|i| (format!("m-{i:02}"), 10_000))
        .chain(std::iter::once(("m-big".to_owned(), 150_000)))
        .collect()
}

fn transfer(group: BookId, minor: i64, reference: &str) -> Body {
    Body::Transfer(Transfer {
        group,
        amount: hkd(minor),
        fee: hkd(0),
        rate: "7".into(),
        rate_source: "quote".into(),
        expected: php(minor * 7),
        channel: "bank".into(),
        reference: reference.into(),
    })
}

fn payout(member: &str, minor: i64) -> Body {
    Body::Departure(Departure {
        member: member.parse().unwrap(),
        amount: hkd(minor),
        settlement: Settlement::Payout,
        enterprise: None,
    })
}

fn withdrawal(member: &str, minor: i64) -> Body {
    Body::Withdrawal(Withdrawal {
        member: member.parse().unwrap(),
        amount: hkd(minor),
        reason: "going home".into(),
    })
}

/// Submits every record at once, each from its own thread and connection; the answers, in
/// the records' order.
fn all_at_once(url: &str, records: &[Record]) -> Vec<(u16, Value)> {
    let barrier = std::sync::Barrier::new(records.len());
    std::thread::scope(|s| {
        let handles: Vec<_> = records
            .iter()
            .map(|r| {
                let barrier = &barrier;
                s.spawn(move || {
                    let http = Http::new(url);
                    barrier.wait();
                    http.submit(r).expect("the node answers")
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn one_after_another(url: &str, records: &[Record]) -> Vec<(u16, Value)> {
    let http = Http::new(url);
    records
        .iter()
        .map(|r| http.submit(r).expect("the node answers"))
        .collect()
}

/// Exactly one answer is 201 and every other is 422 with `code`; returns the accepted index.
fn exactly_one_accepted(answers: &[(u16, Value)], code: &str) -> usize {
    let accepted: Vec<usize> = (0..answers.len())
        .filter(|&i| answers[i].0 == 201)
        .collect();
    assert_eq!(accepted.len(), 1, "exactly one accepted: {answers:?}");
    for (status, v) in answers.iter().filter(|(s, _)| *s != 201) {
        assert_eq!((*status, v["code"].as_str()), (422, Some(code)), "{v}");
    }
    accepted[0]
}

fn cash_of(http: &Http, session: &str, group: BookId) -> i64 {
    let (status, v) = http.get(&format!("/api/v1/books/{group}/portfolio"), session);
    assert_eq!(status, 200, "{v}");
    v["cash"]["minor"]
        .as_i64()
        .expect("the portfolio names its cash")
}

#[test]
fn sixteen_payouts_at_once_against_cash_for_one_pay_exactly_one() {
    let group = Group::new(true);
    let dir = tempfile::tempdir().unwrap();
    let node = group.start(dir.path());
    let payouts: Vec<Record> = (0..WRITERS)
        .map(|i| group.by_writer(i, &payout(&format!("m-{:02}", i + 1), 10_000)))
        .collect();
    let answers = all_at_once(&node.url, &payouts);
    let paid = exactly_one_accepted(&answers, "insufficient_cash");
    assert!(
        answers[(paid + 1) % WRITERS].1["detail"]
            .as_str()
            .unwrap()
            .contains("cash"),
        "the refusal says why: {answers:?}"
    );
    // The accepted payout holds the cash it will take: one more payment does not fit, and
    // the portfolio never shows less than nothing.
    let http = Http::new(&node.url);
    let more = group
        .book
        .sign_next(&group.treasurer, 500, &withdrawal("m-big", 100));
    assert_eq!(http.submit(&more).unwrap().1["code"], "insufficient_cash");
    let session = http.session(&group.treasurer);
    assert_eq!(cash_of(&http, &session, group.id()), 10_000);
}

#[test]
fn payouts_one_after_another_stop_when_the_cash_is_spoken_for() {
    let group = Group::new(true);
    let dir = tempfile::tempdir().unwrap();
    let node = group.start(dir.path());
    let payouts: Vec<Record> = (0..WRITERS)
        .map(|i| group.by_writer(i, &payout(&format!("m-{:02}", i + 1), 10_000)))
        .collect();
    let answers = one_after_another(&node.url, &payouts);
    assert_eq!(exactly_one_accepted(&answers, "insufficient_cash"), 0);
}

#[test]
fn withdrawals_at_once_and_in_turn_take_only_the_cash_there_is() {
    let group = Group::new(true);
    let dir = tempfile::tempdir().unwrap();
    let node = group.start(dir.path());
    let withdrawals: Vec<Record> = (0..WRITERS)
        .map(|i| group.by_writer(i, &withdrawal(&format!("m-{:02}", i + 1), 10_000)))
        .collect();
    exactly_one_accepted(&all_at_once(&node.url, &withdrawals), "insufficient_cash");

    let group = Group::new(true);
    let dir = tempfile::tempdir().unwrap();
    let node = group.start(dir.path());
    let withdrawals: Vec<Record> = (0..WRITERS)
        .map(|i| group.by_writer(i, &withdrawal("m-big", 10_000)))
        .collect();
    let answers = one_after_another(&node.url, &withdrawals);
    assert_eq!(exactly_one_accepted(&answers, "insufficient_cash"), 0);
}

/// Without investments the cash is the members' own: 16 withdrawals of one member's whole
/// balance at once, and one is accepted; the others are overdraws that name the withdrawal
/// awaiting approval.
#[test]
fn sixteen_withdrawals_of_one_members_whole_balance_pay_her_once() {
    let group = Group::new(false);
    let dir = tempfile::tempdir().unwrap();
    let node = group.start(dir.path());
    let withdrawals: Vec<Record> = (0..WRITERS)
        .map(|i| group.by_writer(i, &withdrawal("m-01", 10_000)))
        .collect();
    let answers = all_at_once(&node.url, &withdrawals);
    let paid = exactly_one_accepted(&answers, "overdraw");
    let refused = &answers[(paid + 1) % WRITERS].1;
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("awaiting approval"),
        "{refused}"
    );
}

/// A reversed payment releases what it held; an approval that would pay beyond the cash at
/// that moment is refused, and says why.
#[test]
fn a_reversal_releases_the_cash_and_an_approval_beyond_it_is_refused() {
    let group = Group::new(true);
    let dir = tempfile::tempdir().unwrap();
    let node = group.start(dir.path());
    let http = Http::new(&node.url).with_token(&node.admin_token());
    let submit = |r: &Record| {
        let (status, v) = http.submit(r).unwrap();
        assert!(status == 201, "{v}");
        r.id()
    };
    let sign =
        |key: &SignerKey, book: BookId, body: &Body| http.sign(key, book, 600, body).unwrap();
    let (treasurer, key_holder) = (group.treasurer.clone(), group.key_holder.clone());
    let gid = group.id();

    let pay = submit(&sign(&treasurer, gid, &withdrawal("m-01", 10_000)));
    let (_, v) = http
        .submit(&sign(&treasurer, gid, &payout("m-02", 10_000)))
        .unwrap();
    assert_eq!(v["code"], "insufficient_cash", "{v}");

    let reversal = Body::Reversal(Reversal {
        record: pay,
        reason: "recorded for the wrong member".into(),
    });
    let reversed = submit(&sign(&treasurer, gid, &reversal));
    submit(&sign(
        &key_holder,
        gid,
        &Body::Approval(Approval { record: reversed }),
    ));
    let withdrawn = submit(&sign(&treasurer, gid, &withdrawal("m-big", 10_000)));

    // The cooperative's side moves the group's last HKD 100 meanwhile.
    let farm = group.farm.as_ref().unwrap().id();
    let moved = submit(&sign(&treasurer, farm, &transfer(gid, 10_000, "T-2")));
    submit(&sign(
        &key_holder,
        farm,
        &Body::Approval(Approval { record: moved }),
    ));
    let approval = sign(
        &key_holder,
        gid,
        &Body::Approval(Approval { record: withdrawn }),
    );
    let (status, v) = http.submit(&approval).unwrap();
    assert_eq!(
        (status, v["code"].as_str()),
        (422, Some("insufficient_cash")),
        "{v}"
    );
    let detail = v["detail"].as_str().unwrap();
    assert!(
        detail.contains("cash") && detail.contains("HKD"),
        "{detail}"
    );
}
