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

use crate::book::{Applied, Book};
use automerge::sync::{Message, State, SyncDoc as _};
use automerge::{Change, ChangeHash};
use std::collections::HashSet;

/// Size the engine aims for when it splits outgoing changes into several messages.
pub const TARGET_MESSAGE_BYTES: usize = 1024 * 1024;

/// Largest sync message the engine accepts. One change can be up to
/// [`crate::book::MAX_CHANGE_BYTES`], so a message holding it must fit.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// Most changes held while waiting for their dependencies to arrive.
pub const MAX_WAITING_CHANGES: usize = 10_000;

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

    /// Starts a new session over a new connection, keeping only what the checkpoint keeps.
    /// Messages in flight on the old connection are forgotten.
    pub fn reconnect(&mut self) {
        self.state = State::decode(&self.state.encode())
            .expect("a state this engine encoded always decodes");
        self.outbox.clear();
        self.news = true;
    }

    /// How many changes this peer has sent that the book refused, over the session's life.
    pub fn refused_total(&self) -> u64 {
        self.refused_total
    }

    /// Changes waiting for their dependencies.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
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
            let message = book.doc().generate_sync_message(&mut self.state)?;
            self.outbox = split(message);
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
        let mut changes = std::mem::take(&mut self.waiting);
        for chunk in message.changes.iter() {
            let change = Change::from_bytes(chunk.to_vec()).map_err(|e| {
                SyncError::Malformed(format!("a change in the message does not decode: {e}"))
            })?;
            changes.push(change);
        }
        message.changes = Vec::<Vec<u8>>::new().into();
        // Without the flags automerge assumes the peer cannot take a whole-document message, so
        // it keeps sending changes, which the engine can validate one by one and split.
        message.flags = None;

        let mut applied = book.apply(changes);
        self.refused_total += applied.refused.len() as u64;
        // A change that depends on a refused one can never become valid; drop it rather than
        // hold it forever.
        let refused: HashSet<ChangeHash> = applied.refused.iter().map(|(h, _)| *h).collect();
        applied
            .waiting
            .retain(|c| !c.deps().iter().any(|d| refused.contains(d)));
        let keep_from = applied.waiting.len().saturating_sub(MAX_WAITING_CHANGES);
        self.waiting = applied.waiting.split_off(keep_from);

        book.doc_for_sync()
            .receive_sync_message(&mut self.state, message)
            .map_err(|e| SyncError::Malformed(e.to_string()))?;
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
