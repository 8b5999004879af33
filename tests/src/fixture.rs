//! A savings group's book built in the test process and written straight into a node's data
//! directory, so end-to-end tests and benchmarks can start from thousands of records without
//! submitting them one by one.

use kaban_protocol::book::Book;
use kaban_protocol::key::PublicKey;
use kaban_protocol::key::SignerKey;
use kaban_protocol::kind::{Approval, Body, Role, Share};
use kaban_protocol::record::{BookId, Place, Record, RecordId};
use kaban_protocol::testing::{self, Founding};
use std::collections::HashMap;
use std::path::Path;

/// A savings group's genesis founded by `treasurer`, with a key holder (seed 2) for quorums and
/// each of `writers` as a treasurer too. One signer's records follow one another, so tests and
/// benchmarks that write concurrently give each writer a key of its own.
pub fn genesis_with_writers(name: &str, treasurer: &SignerKey, writers: &[SignerKey]) -> Record {
    Founding::savings(name)
        .officer(&testing::key(2), Role::KeyHolder)
        .officer(treasurer, Role::Treasurer)
        .officers(writers, Role::Treasurer)
        .sign(treasurer)
}

/// The group's book: a treasurer and a chair, one member (`m-ana`, "Ana"), in HKD.
#[derive(Debug)]
pub struct GroupBook {
    pub treasurer: SignerKey,
    pub chair: SignerKey,
    pub book: Book,
    /// The time of the last record, in milliseconds; each new record is one later.
    time: u64,
    /// The last record the fixture signed: the next one follows it, as records a CLI signs
    /// one after another do, whether they go into this book or to a node.
    tip: Option<RecordId>,
    /// Each signer's latest seq among the records the fixture signed.
    seqs: HashMap<PublicKey, u64>,
}

pub const MEMBER: &str = "m-ana";

impl GroupBook {
    pub fn new(name: &str) -> GroupBook {
        let (treasurer, chair) = (testing::key(1), testing::key(2));
        let book = Founding::savings(name)
            .officer(&treasurer, Role::Treasurer)
            .officer(&chair, Role::Chair)
            .book(&treasurer);
        let mut group = GroupBook {
            treasurer,
            chair,
            book,
            time: 1,
            tip: None,
            seqs: HashMap::new(),
        };
        let join = group.sign_as_treasurer(testing::join(MEMBER, "Ana"));
        group.add(join);
        group
    }

    pub fn id(&self) -> BookId {
        self.book.id()
    }

    /// The last record the fixture signed, which the next one follows.
    pub fn tip(&self) -> Option<RecordId> {
        self.tip
    }

    /// Makes the next record follow `tip` instead, as a node that does not hold the records
    /// signed since would offer.
    pub fn set_tip(&mut self, tip: Option<RecordId>) {
        self.tip = tip;
    }

    /// Signs `body` with `key` at its next place: after the fixture's tip (or its book's heads),
    /// next in the signer's chain.
    pub fn sign(&mut self, key: &SignerKey, body: &Body) -> Record {
        self.time += 1;
        let signer = key.public();
        let seq = self
            .seqs
            .get(&signer)
            .copied()
            .unwrap_or(0)
            .max(self.book.seq_of(&signer))
            + 1;
        self.seqs.insert(signer, seq);
        let after = match self.tip {
            Some(tip) => vec![tip],
            None => self.book.head_records(),
        };
        let record = Record::sign(key, &Place::new(self.id(), seq, after), self.time, body);
        self.tip = Some(record.id());
        record
    }

    fn sign_as_treasurer(&mut self, body: Body) -> Record {
        let key = self.treasurer.clone();
        self.sign(&key, &body)
    }

    pub fn add(&mut self, record: Record) {
        self.book
            .add(record)
            .expect("the fixture's records are valid");
    }

    /// A contribution from Ana of `minor` cents, signed by the treasurer (not yet added).
    pub fn contribution(&mut self, minor: i64) -> Record {
        self.sign_as_treasurer(testing::contribution(MEMBER, testing::hkd(minor)))
    }

    /// The same contribution as [`GroupBook::contribution`], recorded by the chair.
    pub fn chair_contribution(&mut self, minor: i64) -> Record {
        let chair = self.chair.clone();
        self.sign(&chair, &testing::contribution(MEMBER, testing::hkd(minor)))
    }

    /// Adds `n` contributions.
    pub fn contribute(&mut self, n: usize) {
        for i in 0..n {
            let r = self.contribution(100 + i as i64);
            self.add(r);
        }
    }

    /// Shares the book with `peer`, with the chair's approval for the quorum of two.
    pub fn share(&mut self, peer: &str) {
        let share = self.sign_as_treasurer(Body::Share(Share {
            peer: peer.to_owned(),
        }));
        let id = share.id();
        self.add(share);
        let chair = self.chair.clone();
        let approval = self.sign(&chair, &Body::Approval(Approval { record: id }));
        self.add(approval);
    }

    /// The records' canonical bytes, signatures included: the floor for syncing them.
    pub fn record_bytes(&self) -> usize {
        self.book.records().map(|r| r.bytes().len()).sum()
    }

    /// Writes the book into the database in `data_dir`, as the node would have stored it. The
    /// node must not be running.
    pub fn store(&self, data_dir: &Path) {
        store_book(&self.book, data_dir, true);
    }

    /// Writes the officers' key files into `dir` as `treasurer.key` and `chair.key`, for the
    /// `kaban` CLI.
    pub fn write_keys(&self, dir: &Path) {
        std::fs::write(dir.join("treasurer.key"), self.treasurer.to_key_file())
            .expect("writing a key file");
        std::fs::write(dir.join("chair.key"), self.chair.to_key_file())
            .expect("writing a key file");
    }
}

/// Writes `book` into the database in `data_dir`, as the node would have stored it: founded or
/// joined with the node's authority, or (`authorised` false) by a stranger before founding
/// needed authority. The node must not be running.
pub fn store_book(book: &Book, data_dir: &Path, authorised: bool) {
    std::fs::create_dir_all(data_dir).expect("creating the data directory");
    let bytes = book.save();
    let id = book.id();
    // On a thread of its own, so that async tests may call this too.
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async {
                let (storage, thread) =
                    kaban_node::storage::open(data_dir).expect("opening the node's storage");
                storage
                    .create_book(id, bytes, 0, authorised)
                    .await
                    .expect("storing the book");
                drop(storage);
                thread.join().expect("the storage thread stops");
            });
        });
    });
}

/// The book in the schema upgrade fixture (`tests/fixtures/schema-v3`): Ana's join, four
/// contributions by the treasurer and one by the chair. Built the same way every time (fixed
/// keys and times), so a test can rebuild it and compare what an upgraded node serves with
/// what a fresh node serves from the same records.
pub fn upgrade_book() -> GroupBook {
    let mut fx = GroupBook::new("Upgrade Savers");
    fx.contribute(4);
    let chair = fx.chair_contribution(2_500);
    fx.add(chair);
    fx
}

/// The personal data the fixture holds for Ana.
pub const UPGRADE_PERSONAL: (&str, &str, &str) = (
    "Ana Reyes Santos",
    "+852 5550 2001",
    "joined at the Central meeting",
);
