//! Test fixtures shared by the workspace's tests: the genesis records that found a book, and the
//! few records and changes the tests write again and again.
//!
//! A record's id is the hash of its bytes, so a test that asserts an id, a vector or an order of
//! records depends on every seed, name, time and officer of its genesis. One builder, spelled
//! out once, keeps those bytes the same everywhere instead of a dozen hand-written copies that
//! drift apart.
//!
//! Compiled only for this crate's tests and, through the `testing` feature, for the node's unit
//! tests and the end-to-end tests: keys derived from a one-byte seed are no keys at all, so none
//! of this may reach a release build.

use crate::book::Book;
use crate::key::SignerKey;
use crate::kind::{Body, Contribution, Enterprise, Genesis, MemberJoin, Officer, Role, Rules};
use crate::money::{Currency, Money};
use crate::record::{Place, Record};
use automerge::sync::{Message, MessageVersion};
use automerge::transaction::{CommitOptions, Transactable as _};
use automerge::{ActorId, Change, ROOT, ScalarValue};

/// The signer key every byte of whose seed is `seed`: tests name officers by this one byte.
pub fn key(seed: u8) -> SignerKey {
    SignerKey::from_seed([seed; 32])
}

/// A currency by its code; the fixtures use only codes [`Currency`] knows.
pub fn currency(code: &str) -> Currency {
    code.parse().expect("the fixtures name known currencies")
}

/// `minor` units of Hong Kong dollars, the currency of most test groups.
pub fn hkd(minor: i64) -> Money {
    Money::new(minor, currency("HKD"))
}

/// `minor` units of Philippine pesos, the currency of the test cooperative's books.
pub fn php(minor: i64) -> Money {
    Money::new(minor, currency("PHP"))
}

/// A member joining under `alias`, without a key of her own.
pub fn join(member: &str, alias: &str) -> Body {
    Body::MemberJoin(MemberJoin {
        member: member.parse().expect("the fixtures use valid member ids"),
        alias: alias.into(),
        key: None,
    })
}

/// A contribution from `member` outside any meeting.
pub fn contribution(member: &str, amount: Money) -> Body {
    Body::Contribution(Contribution {
        member: member.parse().expect("the fixtures use valid member ids"),
        amount,
        meeting: None,
    })
}

/// Seven members' stakes, in minor units, that do not divide a return of 1,000.00 evenly: the
/// largest remainder method has remainders to settle and a tie to break (m-bea and m-cora).
pub const SEVEN_STAKES: [(&str, i64); 7] = [
    ("m-ana", 50_000),
    ("m-bea", 30_000),
    ("m-cora", 30_000),
    ("m-dina", 12_345),
    ("m-ella", 10_000),
    ("m-fe", 777),
    ("m-gina", 1),
];

/// A book's genesis, built up officer by officer. The officers keep the order they are added
/// in, since that order is part of the genesis's bytes and so of the book's id.
#[derive(Debug, Clone)]
pub struct Founding {
    name: String,
    currency: Currency,
    officers: Vec<Officer>,
    enterprise: Option<Enterprise>,
    time_ms: u64,
}

impl Founding {
    /// A savings group called `name`, in HKD, signed at time 1, with no officers yet.
    pub fn savings(name: &str) -> Founding {
        Founding {
            name: name.into(),
            currency: currency("HKD"),
            officers: Vec::new(),
            enterprise: None,
            time_ms: 1,
        }
    }

    /// A Philippine cooperative's enterprise book called `name`, in PHP, doing `sector`,
    /// signed at time 1, with no officers yet.
    pub fn enterprise(name: &str, sector: &str) -> Founding {
        Founding {
            currency: currency("PHP"),
            enterprise: Some(Enterprise {
                country: "PH".into(),
                sector: sector.into(),
            }),
            ..Founding::savings(name)
        }
    }

    /// The cooperative the investment tests share: Bukid Farm, growing rice, with treasurer
    /// `key(11)` and chair `key(12)`.
    pub fn bukid_farm() -> Founding {
        Founding::enterprise("Bukid Farm", "rice")
            .officer(&key(11), Role::Treasurer)
            .officer(&key(12), Role::Chair)
    }

    /// Keeps the book in `code` instead.
    pub fn currency(self, code: &str) -> Founding {
        Founding {
            currency: currency(code),
            ..self
        }
    }

    /// Signs the genesis at `time_ms` instead of 1.
    pub fn at(self, time_ms: u64) -> Founding {
        Founding { time_ms, ..self }
    }

    /// Adds `key` as the next officer, holding `role`.
    pub fn officer(self, key: &SignerKey, role: Role) -> Founding {
        self.officers([key], role)
    }

    /// Adds each of `keys` in turn as an officer holding `role`.
    pub fn officers<'a>(
        mut self,
        keys: impl IntoIterator<Item = &'a SignerKey>,
        role: Role,
    ) -> Founding {
        self.officers.extend(keys.into_iter().map(|k| Officer {
            key: k.public(),
            roles: vec![role],
        }));
        self
    }

    /// The genesis body, for tests that sign or break it themselves.
    pub fn body(&self) -> Body {
        Body::Genesis(Genesis {
            name: self.name.clone(),
            currency: self.currency,
            rules: Rules::default(),
            officers: self.officers.clone(),
            enterprise: self.enterprise.clone(),
        })
    }

    /// The genesis record, signed by `founder`.
    pub fn sign(&self, founder: &SignerKey) -> Record {
        Record::sign(founder, &Place::genesis(), self.time_ms, &self.body())
    }

    /// The book the genesis founds, signed by `founder`.
    pub fn book(&self, founder: &SignerKey) -> Book {
        Book::create(self.sign(founder)).expect("a fixture's genesis is valid")
    }
}

/// The book the sync tests fill: "`name`" in HKD founded at time 0 by its treasurer `key(1)`,
/// with key holder `key(2)`, and `n` contributions from `m-ana` (see [`contribute`]). Returns
/// the treasurer and the book.
pub fn contributed_book(name: &str, n: u64) -> (SignerKey, Book) {
    let treasurer = key(1);
    let mut book = Founding::savings(name)
        .at(0)
        .officer(&treasurer, Role::Treasurer)
        .officer(&key(2), Role::KeyHolder)
        .book(&treasurer);
    for i in 0..n {
        contribute(&treasurer, &mut book, i);
    }
    (treasurer, book)
}

/// Adds the `i`th contribution, `m-ana`'s HKD `100 + i` cents at time `1_000 + i`, signed by
/// `key` at its next place: each is a record of its own, however many a test adds.
pub fn contribute(key: &SignerKey, book: &mut Book, i: u64) {
    let amount = hkd(100 + i64::try_from(i).expect("a test adds few contributions"));
    let record = book.sign_next(key, 1_000 + i, &contribution("m-ana", amount));
    book.add(record)
        .expect("the treasurer records contributions");
}

/// A change by a fresh `actor` on top of `book`'s genesis alone that puts `record` again: the
/// re-wrap a partner without keys could make, which the envelope rule refuses.
pub fn rewrap(book: &Book, record: &Record, actor: ActorId) -> Change {
    let genesis = book.doc().get_changes(&[])[0].hash();
    let mut doc = book
        .doc()
        .fork_at(&[genesis])
        .expect("the genesis change is in the book")
        .with_actor(actor);
    let mut tx = doc.transaction();
    tx.put(
        ROOT,
        record.id().to_string(),
        ScalarValue::Bytes(record.bytes().to_vec()),
    )
    .expect("putting a value at the root");
    tx.commit_with(CommitOptions::default().with_time(0));
    doc.get_last_local_change()
        .expect("the transaction made a change")
}

/// A sync message that carries `change` alone and announces it as the sender's head.
pub fn sync_message(change: &Change) -> Vec<u8> {
    Message {
        heads: vec![change.hash()],
        need: vec![],
        have: vec![],
        changes: vec![change.raw_bytes().to_vec()].into(),
        flags: None,
        version: MessageVersion::V1,
    }
    .encode()
}
