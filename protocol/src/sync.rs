//! The sync engine for one book and one peer, without I/O.
//!
//! It wraps automerge's sync protocol (`generate_sync_message` / `receive_sync_message`) with
//! two changes that make it safe between parties who do not trust each other:
//!
//! - Every change a message carries goes through [`Book::apply`], and so through the book's one
//!   validation function, before anything is applied. Automerge itself only ever sees the
//!   message's heads, needs and bloom filter.
//! - Messages are bounded. Automerge would send an initial sync as one message the size of the
//!   whole book; the engine splits outgoing changes into messages of at most
//!   [`TARGET_MESSAGE_BYTES`], and refuses incoming messages over [`MAX_MESSAGE_BYTES`]. It also
//!   keeps automerge from sending the whole document in one compressed chunk (sync v2), by not
//!   passing the peer's capability flags on, because a whole document could not be split or
//!   bounded.
//!
//! The engine persists nothing. [`PeerSync::checkpoint`] gives the bytes to store so a later
//! session resumes without resending the book; store them only after the changes accepted so
//! far are durable.
//!
//! [`session`] holds the rules of a whole session on top of the engine: who speaks first,
//! when to store, when to close and ban.

pub mod session;

use crate::book::{Applied, Book};
use automerge::sync::{Message, State, SyncDoc as _};
use automerge::{Change, ChangeHash};
use std::collections::HashSet;

/// Size the engine aims for when it splits outgoing changes into several messages.
pub const TARGET_MESSAGE_BYTES: usize = 1024 * 1024;

/// Largest sync message the engine accepts. One change can be up to
/// [`crate::book::MAX_CHANGE_BYTES`], so a message holding it must fit.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// Most changes, and most bytes of changes, held while waiting for their dependencies.
pub const MAX_WAITING_CHANGES: usize = 10_000;
pub const MAX_WAITING_BYTES: usize = 16 * 1024 * 1024;

/// Automerge's bloom filter parameters. A filter with others is refused before automerge sees
/// it: zero bits per entry would divide by zero, and a huge probe count would allocate without
/// bound.
const BLOOM_BITS_PER_ENTRY: u64 = 10;
const BLOOM_PROBES: u64 = 7;

fn check_bloom(bytes: &[u8]) -> Result<(), SyncError> {
    if bytes.is_empty() {
        return Ok(());
    }
    let mut rest = bytes;
    let mut next = || -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..35).step_by(7) {
            let (&b, tail) = rest.split_first()?;
            rest = tail;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    };
    let (_entries, bits, probes) = (next(), next(), next());
    if bits != Some(BLOOM_BITS_PER_ENTRY) || probes != Some(BLOOM_PROBES) {
        return Err(SyncError::Malformed(
            "bloom filter parameters are not automerge's".into(),
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    #[error("sync message is {bytes} bytes; the limit is {MAX_MESSAGE_BYTES}")]
    TooLarge { bytes: usize },
    #[error("sync message is malformed: {0}")]
    Malformed(String),
    #[error("stored sync checkpoint is unreadable: {0}")]
    Checkpoint(String),
}

/// Sync state for one (book, peer) pair.
#[derive(Debug)]
pub struct PeerSync {
    state: State,
    /// Changes received before their dependencies, offered to the book again on every message.
    waiting: Vec<Change>,
    /// Messages generated but not yet handed out, when one automerge message was split.
    outbox: Vec<Vec<u8>>,
    /// Whether something happened that automerge should hear about: a received message, or a
    /// new session. Together with `asked_at` this makes `generate` return `None` once there is
    /// nothing new, so a caller may loop on it.
    news: bool,
    /// The book's heads when automerge was last asked for a message.
    asked_at: Vec<ChangeHash>,
    /// The missing dependencies of waiting changes named in the last message's `need`.
    asked_for: HashSet<ChangeHash>,
    /// Answers to the parts of the last split batch that need no reply (see `generate`).
    quiet_answers: usize,
    refused_total: u64,
}

impl Default for PeerSync {
    fn default() -> Self {
        PeerSync::new()
    }
}

impl PeerSync {
    /// A session with a peer this node has never synced this book with.
    pub fn new() -> PeerSync {
        PeerSync {
            state: State::new(),
            waiting: Vec::new(),
            outbox: Vec::new(),
            news: true,
            asked_at: Vec::new(),
            asked_for: HashSet::new(),
            quiet_answers: 0,
            refused_total: 0,
        }
    }

    /// A session resumed from a stored [`PeerSync::checkpoint`].
    pub fn resume(checkpoint: &[u8]) -> Result<PeerSync, SyncError> {
        let state = State::decode(checkpoint).map_err(|e| SyncError::Checkpoint(e.to_string()))?;
        Ok(PeerSync {
            state,
            ..PeerSync::new()
        })
    }

    /// What to store to resume later: the heads both sides are known to share.
    pub fn checkpoint(&self) -> Vec<u8> {
        self.state.encode()
    }

    /// How many changes this peer has sent that the book refused, over the session's life.
    /// Changes this peer sent that were refused, equivocations by a signer aside.
    pub fn refused_total(&self) -> u64 {
        self.refused_total
    }

    /// Changes waiting for their dependencies.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Whether the peer's last message announced exactly this book's heads and nothing from it
    /// waits: as far as this side can tell, both hold the same changes. The peer may have
    /// written since; this is for a status line, not for deciding anything.
    pub fn in_sync(&self, book: &Book) -> bool {
        self.waiting.is_empty() && self.state.their_heads.as_deref() == Some(&book.heads()[..])
    }

    /// Dependencies of waiting changes that are neither in the book nor waiting, sorted.
    fn missing_dependencies(&self, book: &Book) -> Vec<ChangeHash> {
        let waiting: HashSet<ChangeHash> = self.waiting.iter().map(Change::hash).collect();
        let mut missing: Vec<ChangeHash> = self
            .waiting
            .iter()
            .flat_map(|c| c.deps().iter().copied())
            .filter(|d| !waiting.contains(d) && !book.has_change(d))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        missing
    }

    /// The next message to send, or `None` when there is nothing more to say until the peer
    /// speaks or the book changes. Call it until it returns `None` after every received message
    /// and every local change.
    pub fn generate(&mut self, book: &Book) -> Option<Vec<u8>> {
        if self.outbox.is_empty() {
            let heads = book.heads();
            if !self.news && heads == self.asked_at {
                return None;
            }
            self.news = false;
            self.asked_at = heads;
            // Automerge asks only for what leads to the peer's heads through changes it holds;
            // the waiting changes are held here, outside the document, so their missing
            // dependencies are added by hand. Without this a change that the peer's bloom
            // filter check skipped (a false positive) would never be asked for.
            let missing = self.missing_dependencies(book);
            let message = match book.doc().generate_sync_message(&mut self.state) {
                Some(mut message) => {
                    message.need.extend(&missing);
                    // Automerge encodes hash lists sorted.
                    message.need.sort_unstable();
                    message.need.dedup();
                    message
                }
                None if missing.iter().any(|h| !self.asked_for.contains(h)) => Message {
                    heads: book.heads(),
                    need: missing.clone(),
                    have: Vec::new(),
                    changes: Vec::<Vec<u8>>::new().into(),
                    flags: None,
                    version: automerge::sync::MessageVersion::V1,
                },
                None => return None,
            };
            self.asked_for = missing.into_iter().collect();
            // The peer answers each part of a split batch as it takes it in. Automerge would
            // answer every such answer with a bloom filter of all our changes the peer has not
            // acknowledged yet, 10 bits per change per answer: for a 100,000-record book that was
            // 3 MB of filters while the book itself was still arriving. Until the peer has
            // answered every part but the last, an answer that carries no changes and asks for
            // none is not sent.
            if message.changes.is_empty() && message.need.is_empty() && self.quiet_answers > 0 {
                self.quiet_answers -= 1;
                return None;
            }
            self.outbox = split(message);
            self.quiet_answers = self.outbox.len().saturating_sub(1);
            self.outbox.reverse();
        }
        self.outbox.pop()
    }

    /// Takes a message from the peer: validates and applies the changes it carries, then lets
    /// automerge update the session from its heads and bloom filter.
    pub fn receive(&mut self, book: &mut Book, bytes: &[u8]) -> Result<Applied, SyncError> {
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(SyncError::TooLarge { bytes: bytes.len() });
        }
        let mut message =
            Message::decode(bytes).map_err(|e| SyncError::Malformed(e.to_string()))?;
        for have in &message.have {
            check_bloom(&have.bloom.to_bytes())?;
        }
        let mut incoming = Vec::with_capacity(message.changes.len());
        for chunk in message.changes.iter() {
            // Chunk header: 4 magic bytes, 4 checksum bytes, then the chunk type. A compressed
            // change (type 2) would be inflated before any size check, so it is refused; Kaban
            // never sends one.
            if chunk.get(8) != Some(&1) {
                return Err(SyncError::Malformed(
                    "a chunk in the message is not an uncompressed change".into(),
                ));
            }
            let change = Change::from_bytes(chunk.to_vec()).map_err(|e| {
                SyncError::Malformed(format!("a change in the message does not decode: {e}"))
            })?;
            incoming.push(change);
        }
        if !incoming.is_empty() {
            // The peer has news of its own; answer it as automerge would.
            self.quiet_answers = 0;
        }
        let mut changes = std::mem::take(&mut self.waiting);
        changes.extend(incoming);
        // Without the flags automerge assumes the peer cannot take a whole-document message, so
        // it keeps sending changes, which the engine can validate one by one and split.
        message.flags = None;

        let state = &mut self.state;
        let mut applied = book.apply_with(changes, |doc, accepted| {
            // Only validated changes reach automerge, inside the message, so that its session
            // state advances exactly as if the peer had sent only those.
            message.changes = accepted
                .iter()
                .map(|c| c.raw_bytes().to_vec())
                .collect::<Vec<_>>()
                .into();
            // An error here means automerge refused a validated change; the book then
            // rebuilds its index from the document and reports those changes as refused.
            doc.receive_sync_message(state, message)
        });
        // A peer that relays one of a signer's two records for one place is not at fault: only
        // the key's holder could sign them. Equivocations are refused but not held against it.
        self.refused_total += applied
            .refused
            .iter()
            .filter(|(_, r)| !matches!(r, crate::book::Refusal::Equivocation { .. }))
            .count() as u64;
        // A change that depends on a refused one can never become valid; drop it rather than
        // hold it forever.
        let refused: HashSet<ChangeHash> = applied.refused.iter().map(|(h, _)| *h).collect();
        applied
            .waiting
            .retain(|c| !c.deps().iter().any(|d| refused.contains(d)));
        // Keep the newest waiting changes within both bounds.
        let mut kept = Vec::new();
        let mut bytes = 0;
        for change in applied.waiting.drain(..).rev() {
            bytes += change.raw_bytes().len();
            if kept.len() >= MAX_WAITING_CHANGES || bytes > MAX_WAITING_BYTES {
                break;
            }
            kept.push(change);
        }
        kept.reverse();
        self.waiting = kept;

        self.news = true;
        Ok(applied)
    }
}

/// Splits a message whose changes exceed [`TARGET_MESSAGE_BYTES`] into several messages with the
/// same heads, needs and bloom filter, each carrying a share of the changes in order.
fn split(message: Message) -> Vec<Vec<u8>> {
    let total: usize = message.changes.iter().map(<[u8]>::len).sum();
    if total <= TARGET_MESSAGE_BYTES {
        return vec![message.encode()];
    }
    let Message {
        heads,
        need,
        have,
        changes,
        flags,
        version,
    } = message;
    let mut parts: Vec<Vec<Vec<u8>>> = vec![Vec::new()];
    let mut size = 0;
    for chunk in changes.iter() {
        if size + chunk.len() > TARGET_MESSAGE_BYTES && size > 0 {
            parts.push(Vec::new());
            size = 0;
        }
        size += chunk.len();
        parts
            .last_mut()
            .expect("parts starts non-empty")
            .push(chunk.to_vec());
    }
    parts
        .into_iter()
        .map(|changes| {
            Message {
                heads: heads.clone(),
                need: need.clone(),
                have: have.clone(),
                changes: changes.into(),
                flags,
                version: version.clone(),
            }
            .encode()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::SignerKey;
    use crate::testing::{contribute as add, contributed_book};

    fn founded(n: usize) -> (SignerKey, Book) {
        contributed_book("Sync Savers", n as u64)
    }

    /// Runs both sessions until neither has anything to say; returns (messages, bytes) each way.
    fn sync(
        a: &mut Book,
        sa: &mut PeerSync,
        b: &mut Book,
        sb: &mut PeerSync,
    ) -> ((usize, usize), (usize, usize)) {
        let (mut ab, mut ba) = ((0, 0), (0, 0));
        for _ in 0..100 {
            let mut quiet = true;
            while let Some(m) = sa.generate(a) {
                quiet = false;
                ab.0 += 1;
                ab.1 += m.len();
                assert!(sb.receive(b, &m).unwrap().refused.is_empty());
            }
            while let Some(m) = sb.generate(b) {
                quiet = false;
                ba.0 += 1;
                ba.1 += m.len();
                assert!(sa.receive(a, &m).unwrap().refused.is_empty());
            }
            if quiet {
                return (ab, ba);
            }
        }
        panic!("sync did not go quiet");
    }

    /// A peer that already holds part of the book (an interrupted sync) sends a bloom filter of
    /// what it has. About 1% of the changes it lacks test as present; when that happens to the
    /// first change it lacks, its descendants arrive without it, and it must be asked for by
    /// hash or the peer never converges.
    #[test]
    fn a_change_hidden_by_a_bloom_false_positive_is_asked_for() {
        let (_, mut a) = founded(3_000);
        let hashes: Vec<ChangeHash> = a.doc().get_changes(&[]).iter().map(|c| c.hash()).collect();
        // The first split where the first missing change tests as present in the bloom filter
        // of the changes before it. The book is deterministic, so this is too.
        let k = (100..hashes.len())
            .find(|&k| {
                automerge::sync::BloomFilter::from_hashes(hashes[..k].iter())
                    .contains_hash(&hashes[k])
            })
            .expect("some split hits a false positive");
        let mut b = Book::empty(a.id());
        let first: Vec<Change> = hashes[..k]
            .iter()
            .map(|h| Change::from_bytes(a.change_bytes(h).unwrap()).unwrap())
            .collect();
        assert!(b.apply(first).refused.is_empty());
        let (mut sa, mut sb) = (PeerSync::new(), PeerSync::new());
        sync(&mut a, &mut sa, &mut b, &mut sb);
        assert_eq!(b.heads(), a.heads(), "split at {k}");
        assert_eq!(b.record_count(), a.record_count());
        assert_eq!(sb.waiting(), 0);
    }

    #[test]
    fn an_empty_peer_receives_a_book_in_bounded_messages() {
        let (_, mut a) = founded(3_000);
        let mut b = Book::empty(a.id());
        let (mut sa, mut sb) = (PeerSync::new(), PeerSync::new());
        let ((messages, bytes), _) = sync(&mut a, &mut sa, &mut b, &mut sb);
        assert_eq!(b.heads(), a.heads());
        assert_eq!(b.record_count(), 3_001);
        assert!(
            messages > 2,
            "{messages} messages: the initial sync was not split"
        );
        assert!(bytes / messages <= TARGET_MESSAGE_BYTES + 64 * 1024);
    }

    /// A peer answers each part of a split initial sync; the sender's replies to those answers
    /// carry no changes, and must not carry a bloom filter of everything still in flight.
    #[test]
    fn answers_to_a_split_batch_cost_nothing() {
        let (_, mut a) = founded(8_000);
        let mut b = Book::empty(a.id());
        let (mut sa, mut sb) = (PeerSync::new(), PeerSync::new());
        // The opening carries no changes: the sender waits to hear what the peer has.
        let mut to_b: Vec<Vec<u8>> = std::iter::from_fn(|| sa.generate(&a)).collect();
        let mut parts = 0;
        let mut empty_replies = 0;
        let mut empty_bytes = 0;
        for _ in 0..1000 {
            let Some(m) = (!to_b.is_empty()).then(|| to_b.remove(0)) else {
                break;
            };
            sb.receive(&mut b, &m).unwrap();
            for answer in std::iter::from_fn(|| sb.generate(&b)).collect::<Vec<_>>() {
                sa.receive(&mut a, &answer).unwrap();
                for reply in std::iter::from_fn(|| sa.generate(&a)).collect::<Vec<_>>() {
                    if Message::decode(&reply).unwrap().changes.is_empty() {
                        empty_replies += 1;
                        empty_bytes += reply.len();
                    } else {
                        parts += 1;
                    }
                    to_b.push(reply);
                }
            }
        }
        assert_eq!(a.heads(), b.heads());
        assert!(parts >= 4, "the batch came in {parts} parts");
        assert!(
            empty_replies <= 1 && empty_bytes < 1_000,
            "{empty_replies} replies without changes, {empty_bytes} bytes, to {parts} parts"
        );
    }

    #[test]
    fn interleaved_initial_sync_then_one_record() {
        let (key, mut a) = founded(3_000);
        let mut b = Book::empty(a.id());
        let (mut sa, mut sb) = (PeerSync::new(), PeerSync::new());
        // Deliver one message at a time, each side answering every message at once.
        let mut to_b: Vec<Vec<u8>> = std::iter::from_fn(|| sa.generate(&a)).collect();
        let mut to_a: Vec<Vec<u8>> = Vec::new();
        let mut bytes_ab = 0usize;
        for _ in 0..1000 {
            if to_b.is_empty() && to_a.is_empty() {
                break;
            }
            if !to_b.is_empty() {
                let m = to_b.remove(0);
                bytes_ab += m.len();
                sb.receive(&mut b, &m).unwrap();
                to_a.extend(std::iter::from_fn(|| sb.generate(&b)));
            }
            if !to_a.is_empty() {
                let m = to_a.remove(0);
                sa.receive(&mut a, &m).unwrap();
                to_b.extend(std::iter::from_fn(|| sa.generate(&a)));
            }
        }
        assert_eq!(a.heads(), b.heads());
        let floor: usize = a.records().map(|r| r.bytes().len()).sum();
        assert!(
            bytes_ab < 2 * floor,
            "the initial sync sent {bytes_ab} bytes for {floor} of records"
        );
        add(&key, &mut a, 99_999);
        let mut bytes = 0;
        let mut to_b: Vec<Vec<u8>> = std::iter::from_fn(|| sa.generate(&a)).collect();
        for _ in 0..100 {
            let Some(m) = to_b.pop() else { break };
            bytes += m.len();
            sb.receive(&mut b, &m).unwrap();
            for r in std::iter::from_fn(|| sb.generate(&b)).collect::<Vec<_>>() {
                sa.receive(&mut a, &r).unwrap();
                to_b.extend(std::iter::from_fn(|| sa.generate(&a)));
            }
        }
        assert_eq!(a.heads(), b.heads());
        assert!(
            bytes < 2_000,
            "one record after an interleaved sync sent {bytes} bytes"
        );
    }

    #[test]
    fn one_new_record_takes_one_round_trip() {
        let (key, mut a) = founded(50);
        let mut b = Book::empty(a.id());
        let (mut sa, mut sb) = (PeerSync::new(), PeerSync::new());
        sync(&mut a, &mut sa, &mut b, &mut sb);
        add(&key, &mut a, 999);
        let ((to_b, _), (to_a, _)) = sync(&mut a, &mut sa, &mut b, &mut sb);
        assert_eq!(b.heads(), a.heads());
        assert_eq!(
            (to_b, to_a),
            (1, 1),
            "one message there, one acknowledgement back"
        );
    }

    #[test]
    fn a_resumed_session_sends_only_what_is_new() {
        let (key, mut a) = founded(1_000);
        let mut b = Book::empty(a.id());
        let (mut sa, mut sb) = (PeerSync::new(), PeerSync::new());
        let ((_, full), _) = sync(&mut a, &mut sa, &mut b, &mut sb);
        let (ca, cb) = (sa.checkpoint(), sb.checkpoint());
        for i in 0..20 {
            add(&key, &mut a, 5_000 + i);
        }
        let mut sa = PeerSync::resume(&ca).unwrap();
        let mut sb = PeerSync::resume(&cb).unwrap();
        let ((_, resumed), _) = sync(&mut a, &mut sa, &mut b, &mut sb);
        assert_eq!(b.heads(), a.heads());
        assert!(
            resumed * 20 < full,
            "resuming sent {resumed} bytes against {full} for the whole book"
        );
        assert!(PeerSync::resume(b"junk").is_err());
    }

    #[test]
    fn hostile_bloom_filters_and_compressed_chunks_are_refused_before_automerge() {
        let (_, mut a) = founded(3);
        let mut s = PeerSync::new();
        // One entry, zero bits per entry: automerge would divide by zero when asked.
        let bloom = automerge::sync::BloomFilter::try_from(&[1u8, 0, 7][..]).unwrap();
        let message = Message {
            heads: vec![],
            need: vec![],
            have: vec![automerge::sync::Have {
                last_sync: vec![],
                bloom,
            }],
            changes: Vec::<Vec<u8>>::new().into(),
            flags: None,
            version: automerge::sync::MessageVersion::V1,
        };
        assert_eq!(
            s.receive(&mut a, &message.encode()).unwrap_err(),
            SyncError::Malformed("bloom filter parameters are not automerge's".into())
        );
        // Nothing of it reached the session: generating still works.
        assert!(s.generate(&a).is_some());

        let mut chunk = a.doc().get_changes(&[])[0].raw_bytes().to_vec();
        chunk[8] = 2;
        let message = Message {
            heads: vec![],
            need: vec![],
            have: vec![],
            changes: vec![chunk].into(),
            flags: None,
            version: automerge::sync::MessageVersion::V1,
        };
        assert!(matches!(
            PeerSync::new().receive(&mut a, &message.encode()),
            Err(SyncError::Malformed(m)) if m.contains("not an uncompressed change")
        ));
    }

    #[test]
    fn malformed_and_oversized_messages_are_refused() {
        let (_, mut a) = founded(1);
        let mut s = PeerSync::new();
        assert!(matches!(
            s.receive(&mut a, b"\x42garbage"),
            Err(SyncError::Malformed(_))
        ));
        assert!(matches!(
            s.receive(&mut a, &vec![0; MAX_MESSAGE_BYTES + 1]),
            Err(SyncError::TooLarge { .. })
        ));
        assert_eq!(a.record_count(), 2);
    }
}
