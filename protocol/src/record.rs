//! Records: immutable, signed facts.
//!
//! A record is one canonical JSON object (see [`crate::canonical`]):
//!
//! ```json
//! {"after":["<record id>"],"body":{..},"book":"<book id>","kind":"contribution","seq":4,"sig":"<86 chars>","signer":"<43 chars>","time":1764300000000,"v":2}
//! ```
//!
//! The signature covers [`SIGNING_PREFIX`] followed by the canonical encoding of the same object
//! without `sig`. Besides what it says, a record signs where it stands in its book: `after`, the
//! records the signer saw as the book's heads, and `seq`, its place in the signer's own chain of
//! records in that book. Together they determine the one automerge change that may carry the
//! record (see [`crate::book::change_for`]), so nobody without the key can wrap it differently. The record id is the SHA-256 of exactly those signed bytes, so the id names the
//! signed content and a record can be checked against its id without trusting anyone. A genesis
//! record has no `book` field; its id is the book's id, which makes a book self-certifying.

use crate::canonical::{self, CanonicalError};
use crate::key::{self, KeyError, PublicKey, SignerKey};
use crate::kind::{Body, BodyError};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// The record format version this build writes and reads.
pub const RECORD_VERSION: u32 = 2;

/// Prepended to the canonical unsigned record before signing and hashing.
pub const SIGNING_PREFIX: &[u8] = b"kaban-record-v2\n";

/// Most records a record may name in `after`. Every new record names the heads it saw, so a
/// book's heads are as many as its concurrent writers; a signer who sees more names the first
/// this many (by id), which only shrinks the causal past it claims.
pub const MAX_AFTER: usize = 16;

/// The largest encoded record, signature included. Records are small facts; a meeting with 50
/// attendees is about 3 KiB.
pub const MAX_RECORD_BYTES: usize = 8 * 1024;

/// The largest claimed time, in milliseconds since the Unix epoch: the safe-integer limit.
pub const MAX_TIME_MS: u64 = canonical::MAX_SAFE_INTEGER as u64;

/// Why bytes are not a valid record. Each variant names what a person must fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record is {len} bytes; the limit is {MAX_RECORD_BYTES}")]
    TooLarge { len: usize },
    #[error("record is not canonical JSON: {0}")]
    Canonical(#[from] CanonicalError),
    #[error(
        "record is not a JSON object with fields after, body, book, kind, seq, sig, signer, time, v: {0}"
    )]
    Shape(String),
    #[error("record version {0} is not supported; this build reads version {RECORD_VERSION}")]
    Version(u64),
    #[error("record kind {0:?} is not lowercase letters, digits and underscores, 1 to 32 long")]
    KindName(String),
    #[error("{0}")]
    Key(#[from] KeyError),
    #[error("signature does not verify for signer {signer}")]
    Signature { signer: PublicKey },
    #[error("{kind} record body is invalid: {source}")]
    Body {
        kind: String,
        #[source]
        source: BodyError,
    },
    #[error("a genesis record must not name a book; its own id is the book id")]
    GenesisNamesBook,
    #[error("a {kind} record must name its book")]
    MissingBook { kind: String },
}

/// Where a record stands in its book: the book, the signer's place in its own chain of records
/// there, and the records the signer saw as the book's heads. A genesis founds its book, so it
/// has seq 1 and names nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Place {
    /// `None` only for a genesis.
    pub book: Option<BookId>,
    pub seq: u64,
    /// Sorted and without repeats; empty only for a genesis.
    pub after: Vec<RecordId>,
}

impl Place {
    /// The place of a genesis record.
    pub fn genesis() -> Place {
        Place {
            book: None,
            seq: 1,
            after: Vec::new(),
        }
    }

    /// Reads a node's answer to `GET /api/v1/books/{book}/place`: `{"seq", "after"}`.
    pub fn from_answer(book: BookId, answer: &Value) -> Result<Place, String> {
        let seq = answer["seq"]
            .as_u64()
            .filter(|s| *s >= 1)
            .ok_or("the answer names no seq")?;
        let after = answer["after"]
            .as_array()
            .ok_or("the answer names no records to follow")?
            .iter()
            .map(|id| {
                id.as_str()
                    .and_then(|t| t.parse().ok())
                    .ok_or_else(|| format!("the answer names a malformed record id: {id}"))
            })
            .collect::<Result<Vec<RecordId>, String>>()?;
        Ok(Place::new(book, seq, after))
    }

    /// A place in `book`: `seq` in the signer's chain, after the records `after` (sorted here,
    /// and cut to the first [`MAX_AFTER`]).
    pub fn new(book: BookId, seq: u64, mut after: Vec<RecordId>) -> Place {
        after.sort_unstable();
        after.dedup();
        after.truncate(MAX_AFTER);
        Place {
            book: Some(book),
            seq,
            after,
        }
    }
}

impl RecordError {
    /// Every code [`RecordError::code`] gives, for a client that lists them (the OpenAPI
    /// document). The vectors test checks that a vector gives each of them.
    pub const CODES: &'static [&'static str] = &[
        "record_too_large",
        "malformed_json",
        "non_canonical",
        "malformed_record",
        "unsupported_version",
        "malformed_kind",
        "malformed_signature",
        "malformed_key",
        "bad_signature",
        "invalid_body",
        "genesis_names_book",
        "missing_book",
    ];

    /// A stable, machine-readable name for the reason, used in test vectors and API problems.
    pub fn code(&self) -> &'static str {
        match self {
            RecordError::TooLarge { .. } => "record_too_large",
            RecordError::Canonical(CanonicalError::Syntax(_)) => "malformed_json",
            RecordError::Canonical(_) => "non_canonical",
            RecordError::Shape(_) => "malformed_record",
            RecordError::Version(_) => "unsupported_version",
            RecordError::KindName(_) => "malformed_kind",
            RecordError::Key(KeyError::SignatureText) => "malformed_signature",
            RecordError::Key(_) => "malformed_key",
            RecordError::Signature { .. } => "bad_signature",
            RecordError::Body { .. } => "invalid_body",
            RecordError::GenesisNamesBook => "genesis_names_book",
            RecordError::MissingBook { .. } => "missing_book",
        }
    }
}

/// A record id: SHA-256 of the signed bytes, written as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(pub [u8; 32]);

/// A book id: the id of the book's genesis record.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BookId(pub RecordId);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {text:?} is not 64 lowercase hex digits")]
pub struct IdError {
    what: &'static str,
    text: String,
}

impl RecordId {
    pub fn of_signed_bytes(signed: &[u8]) -> RecordId {
        RecordId(Sha256::digest(signed).into())
    }
}

fn hex(bytes: &[u8; 32], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

fn parse_hex(text: &str, what: &'static str) -> Result<[u8; 32], IdError> {
    let err = || IdError {
        what,
        text: text.chars().take(80).collect(),
    };
    if text.len() != 64 {
        return Err(err());
    }
    let mut out = [0u8; 32];
    for (i, chunk) in text.as_bytes().chunks(2).enumerate() {
        let digit = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        out[i] = digit(chunk[0]).ok_or_else(err)? << 4 | digit(chunk[1]).ok_or_else(err)?;
    }
    Ok(out)
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        hex(&self.0, f)
    }
}
impl fmt::Debug for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordId({self})")
    }
}
impl FromStr for RecordId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        parse_hex(s, "record id").map(RecordId)
    }
}
impl fmt::Display for BookId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        hex(&self.0.0, f)
    }
}
impl fmt::Debug for BookId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BookId({self})")
    }
}
impl FromStr for BookId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        parse_hex(s, "book id").map(|b| BookId(RecordId(b)))
    }
}

macro_rules! serde_via_text {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
serde_via_text!(RecordId);
serde_via_text!(BookId);

/// A decoded, signature-checked record. Cheap to clone.
#[derive(Clone)]
pub struct Record(Arc<Inner>);

struct Inner {
    id: RecordId,
    book: Option<BookId>,
    kind: String,
    signer: PublicKey,
    time_ms: u64,
    seq: u64,
    after: Vec<RecordId>,
    body: Body,
    /// The canonical encoding, signature included: what a book stores and a peer receives.
    bytes: Vec<u8>,
}

impl Record {
    /// Builds and signs a record at `place` ([`Place::genesis`] for a genesis).
    ///
    /// # Panics
    /// If the body does not encode within the record limits, which is a programmer error: every
    /// caller builds bodies from checked inputs.
    pub fn sign(key: &SignerKey, place: &Place, time_ms: u64, body: &Body) -> Record {
        Self::try_sign(key, place, time_ms, body).expect("a record built by Kaban is valid")
    }

    /// Like [`Record::sign`], but reports a body that breaks the limits instead of panicking.
    /// Use it for bodies built from user input.
    pub fn try_sign(
        key: &SignerKey,
        place: &Place,
        time_ms: u64,
        body: &Body,
    ) -> Result<Record, RecordError> {
        let mut envelope = envelope(place, body.kind(), &key.public(), time_ms, body.to_value());
        let signed = signed_bytes(&envelope)?;
        let sig = key.sign(SIGNING_PREFIX, &signed);
        envelope.insert("sig".into(), Value::String(key::encode_signature(&sig)));
        let bytes = canonical::encode(&Value::Object(envelope))?;
        Record::decode(&bytes)
    }

    /// Decodes and fully checks a record: size, canonical form, shape, version, key, signature
    /// and body.
    pub fn decode(bytes: &[u8]) -> Result<Record, RecordError> {
        Self::decode_inner(bytes, true)
    }

    /// Decodes a record without checking its signature. Only for records this node checked when
    /// it first accepted them and now reads back from its own storage.
    pub fn decode_unverified(bytes: &[u8]) -> Result<Record, RecordError> {
        Self::decode_inner(bytes, false)
    }

    fn decode_inner(bytes: &[u8], verify: bool) -> Result<Record, RecordError> {
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(RecordError::TooLarge { len: bytes.len() });
        }
        // Bytes this node checked when it first accepted them were canonical then and are still:
        // skip the second encoding that proves it.
        let value = if verify {
            canonical::decode(bytes)?
        } else {
            serde_json::from_slice(bytes)
                .map_err(|e| RecordError::Canonical(CanonicalError::Syntax(e.to_string())))?
        };
        let Value::Object(mut map) = value else {
            return Err(RecordError::Shape("not an object".into()));
        };
        check_version_and_members(&map)?;
        let text = |map: &Map<String, Value>, field: &str| -> Result<String, RecordError> {
            map.get(field)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| RecordError::Shape(format!("{field} must be a string")))
        };
        let kind = text(&map, "kind")?;
        if kind.is_empty()
            || kind.len() > 32
            || !kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(RecordError::KindName(kind.chars().take(40).collect()));
        }
        let signer: PublicKey = text(&map, "signer")?.parse()?;
        let time_ms = map
            .get("time")
            .and_then(Value::as_u64)
            .ok_or_else(|| RecordError::Shape("time must be a non-negative integer".into()))?;
        let book = match map.get("book") {
            None => None,
            Some(Value::String(s)) => Some(
                s.parse::<BookId>()
                    .map_err(|e| RecordError::Shape(e.to_string()))?,
            ),
            Some(_) => return Err(RecordError::Shape("book must be a string".into())),
        };
        let seq = map
            .get("seq")
            .and_then(Value::as_u64)
            .filter(|s| *s >= 1)
            .ok_or_else(|| RecordError::Shape("seq must be a positive integer".into()))?;
        let after = decode_after(map.get("after"))?;
        let sig_text = text(&map, "sig")?;
        let sig = key::decode_signature(&sig_text)?;
        let body_value = map
            .remove("body")
            .ok_or_else(|| RecordError::Shape("body is missing".into()))?;

        let id_input = signing_input_of(bytes, &sig_text)?;
        if verify && !signer.verify_signed(&id_input, &sig) {
            return Err(RecordError::Signature { signer });
        }
        let body = Body::from_value(&kind, body_value).map_err(|source| RecordError::Body {
            kind: kind.clone(),
            source,
        })?;
        check_place(&body, &kind, book, seq, &after)?;
        Ok(Record(Arc::new(Inner {
            id: RecordId::of_signed_bytes(&id_input),
            book,
            kind,
            signer,
            time_ms,
            seq,
            after,
            body,
            bytes: bytes.to_vec(),
        })))
    }

    pub fn id(&self) -> RecordId {
        self.0.id
    }
    /// The book this record belongs to; for a genesis record, the book it founds.
    pub fn book(&self) -> BookId {
        self.0.book.unwrap_or(BookId(self.0.id))
    }
    pub fn kind(&self) -> &str {
        &self.0.kind
    }
    pub fn signer(&self) -> PublicKey {
        self.0.signer
    }
    /// The time the signer claims, in milliseconds since the Unix epoch. Claimed, not proven:
    /// views order by it for display, never for validity.
    pub fn time_ms(&self) -> u64 {
        self.0.time_ms
    }
    /// The record's place in its signer's chain of records in this book, from 1.
    pub fn seq(&self) -> u64 {
        self.0.seq
    }
    /// The records the signer saw as the book's heads, sorted; empty only for a genesis.
    pub fn after(&self) -> &[RecordId] {
        &self.0.after
    }
    /// Where the record stands in its book.
    pub fn place(&self) -> Place {
        Place {
            book: self.0.book,
            seq: self.0.seq,
            after: self.0.after.clone(),
        }
    }
    pub fn body(&self) -> &Body {
        &self.0.body
    }
    pub fn bytes(&self) -> &[u8] {
        &self.0.bytes
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("id", &self.0.id)
            .field("kind", &self.0.kind)
            .field("signer", &self.0.signer)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Record {
    fn eq(&self, other: &Self) -> bool {
        self.0.bytes == other.0.bytes
    }
}
impl Eq for Record {}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// The version comes first, so that a record of another version is refused as such whatever
/// members that version has; then no member but this version's.
fn check_version_and_members(map: &Map<String, Value>) -> Result<(), RecordError> {
    let v = map
        .get("v")
        .and_then(Value::as_u64)
        .ok_or_else(|| RecordError::Shape("v must be a non-negative integer".into()))?;
    if v != u64::from(RECORD_VERSION) {
        return Err(RecordError::Version(v));
    }
    const MEMBERS: [&str; 9] = [
        "after", "body", "book", "kind", "seq", "sig", "signer", "time", "v",
    ];
    match map.keys().find(|f| !MEMBERS.contains(&f.as_str())) {
        Some(field) => Err(RecordError::Shape(format!(
            "unexpected field {:?}",
            field.chars().take(40).collect::<String>()
        ))),
        None => Ok(()),
    }
}

/// The signing input of canonical record bytes: the prefix, then the record without its `sig`
/// member. Because the bytes are canonical and members are sorted, that member is exactly
/// `,"sig":"<86 chars>"` sitting between `seq` and `signer`, and it is the last such run in the
/// record: only `signer`, `time` and `v` follow it. Cutting it out is the same as encoding again.
fn signing_input_of(bytes: &[u8], sig_text: &str) -> Result<Vec<u8>, RecordError> {
    let member = format!(",\"sig\":\"{sig_text}\"");
    let at = rfind(bytes, member.as_bytes())
        .ok_or_else(|| RecordError::Shape("the sig member is not where it belongs".into()))?;
    let mut input = Vec::with_capacity(SIGNING_PREFIX.len() + bytes.len());
    input.extend_from_slice(SIGNING_PREFIX);
    input.extend_from_slice(&bytes[..at]);
    input.extend_from_slice(&bytes[at + member.len()..]);
    Ok(input)
}

/// A genesis names no book, has seq 1 and follows nothing; every other record names its book
/// and the records it follows.
fn check_place(
    body: &Body,
    kind: &str,
    book: Option<BookId>,
    seq: u64,
    after: &[RecordId],
) -> Result<(), RecordError> {
    let genesis = matches!(body, Body::Genesis(_));
    match (genesis, book) {
        (true, Some(_)) => Err(RecordError::GenesisNamesBook),
        (true, None) if seq != 1 || !after.is_empty() => Err(RecordError::Shape(
            "a genesis has seq 1 and no after: it founds its book".into(),
        )),
        (false, None) => Err(RecordError::MissingBook {
            kind: kind.to_owned(),
        }),
        (false, Some(_)) if after.is_empty() => Err(RecordError::Shape(format!(
            "a {kind} record must name in after the records it follows"
        ))),
        _ => Ok(()),
    }
}

/// `after`: absent (a genesis), or 1 to [`MAX_AFTER`] record ids in strictly ascending order,
/// so that each context has one spelling.
fn decode_after(value: Option<&Value>) -> Result<Vec<RecordId>, RecordError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let shape = |what: &str| RecordError::Shape(format!("after {what}"));
    let Value::Array(items) = value else {
        return Err(shape("must be a list of record ids"));
    };
    if items.is_empty() || items.len() > MAX_AFTER {
        return Err(shape(&format!("must name 1 to {MAX_AFTER} records")));
    }
    let mut after = Vec::with_capacity(items.len());
    for item in items {
        let id = item
            .as_str()
            .and_then(|s| s.parse::<RecordId>().ok())
            .ok_or_else(|| shape("must hold record ids, 64 lowercase hex digits"))?;
        if after.last().is_some_and(|last| *last >= id) {
            return Err(shape("must be sorted, without repeats"));
        }
        after.push(id);
    }
    Ok(after)
}

fn envelope(
    place: &Place,
    kind: &str,
    signer: &PublicKey,
    time_ms: u64,
    body: Value,
) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("v".into(), Value::from(RECORD_VERSION));
    if let Some(book) = place.book {
        map.insert("book".into(), Value::String(book.to_string()));
    }
    if !place.after.is_empty() {
        let after = place.after.iter().map(|id| Value::String(id.to_string()));
        map.insert("after".into(), Value::Array(after.collect()));
    }
    map.insert("seq".into(), Value::from(place.seq));
    map.insert("kind".into(), Value::String(kind.to_owned()));
    map.insert("signer".into(), Value::String(signer.to_string()));
    map.insert("time".into(), Value::from(time_ms));
    map.insert("body".into(), body);
    map
}

/// The canonical bytes of the unsigned envelope: what the signature covers after the prefix.
fn signed_bytes(envelope: &Map<String, Value>) -> Result<Vec<u8>, RecordError> {
    Ok(canonical::encode(&Value::Object(envelope.clone()))?)
}

/// Builds the unsigned signing input for a record, for tests and vector generation.
pub fn signing_input(place: &Place, signer: &PublicKey, time_ms: u64, body: &Body) -> Vec<u8> {
    let env = envelope(place, body.kind(), signer, time_ms, body.to_value());
    let mut out = SIGNING_PREFIX.to_vec();
    out.extend(signed_bytes(&env).expect("bodies built by Kaban encode"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::{Contribution, MemberId};
    use crate::money::Money;
    use proptest::prelude::*;

    fn sample(time_ms: u64, minor: i64, member: &str) -> (SignerKey, Record) {
        let key = SignerKey::from_seed([9; 32]);
        let book: BookId = "ab".repeat(32).parse().unwrap();
        let body = Body::Contribution(Contribution {
            member: member.parse::<MemberId>().unwrap(),
            amount: Money::new(minor, "HKD".parse().unwrap()),
            meeting: None,
        });
        let rec = Record::sign(&key, &Place::new(book, 2, vec![book.0]), time_ms, &body);
        (key, rec)
    }

    #[test]
    fn id_is_hash_of_signing_input() {
        let (key, rec) = sample(1_700_000_000_000, 50000, "m-alice");
        let input = signing_input(&rec.place(), &key.public(), rec.time_ms(), rec.body());
        assert_eq!(rec.id(), RecordId::of_signed_bytes(&input));
        assert_eq!(Record::decode(rec.bytes()).unwrap(), rec);
    }

    /// Flipping any single bit of an encoded record must make it fail to decode: either it is no
    /// longer canonical JSON, or a field no longer parses, or the signature no longer verifies.
    #[test]
    fn every_bit_flip_is_refused() {
        let (_, rec) = sample(1_700_000_000_000, 50000, "m-alice");
        let bytes = rec.bytes();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut bad = bytes.to_vec();
                bad[i] ^= 1 << bit;
                assert!(
                    Record::decode(&bad).is_err(),
                    "flipping bit {bit} of byte {i} ({:?}) was accepted",
                    bytes[i] as char
                );
            }
        }
    }

    #[test]
    fn altered_fields_break_the_signature() {
        let (_, rec) = sample(1_700_000_000_000, 50000, "m-alice");
        let text = std::str::from_utf8(rec.bytes()).unwrap();
        for (from, to) in [
            ("50000", "50001"),
            ("m-alice", "m-alicf"),
            ("1700000000000", "1700000000001"),
            ("\"HKD\"", "\"PHP\""),
        ] {
            let bad = text.replacen(from, to, 1);
            assert!(
                matches!(
                    Record::decode(bad.as_bytes()),
                    Err(RecordError::Signature { .. })
                ),
                "{from} -> {to}"
            );
        }
    }

    proptest! {
        #[test]
        fn records_round_trip(time in 0u64..=MAX_TIME_MS, minor in 1i64..=1_000_000_000, member in "m-[a-z0-9]{1,20}") {
            let (_, rec) = sample(time, minor, &member);
            let again = Record::decode(rec.bytes()).unwrap();
            prop_assert_eq!(again.id(), rec.id());
            prop_assert_eq!(again.body(), rec.body());
        }

        #[test]
        fn ids_round_trip(bytes in any::<[u8; 32]>()) {
            let id = RecordId(bytes);
            prop_assert_eq!(id.to_string().parse::<RecordId>().unwrap(), id);
        }
    }
}
