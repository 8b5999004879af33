//! The rules of one sync session with one peer, as a state machine without I/O.
//!
//! A [`Session`] takes what happened ([`Event`]: a frame from the peer, a frame that broke the
//! framing, a change to the local book) and answers with what to do ([`Action`]: send a frame,
//! store accepted changes, report what a message brought, close). The node's driver only moves
//! bytes and performs the actions in order; the seeded simulation runs the very same rules over
//! a simulated network. This is samod-core's shape: events in, effects out, no clock, no
//! socket, no randomness, so every rule can be tested and replayed from a seed.
//!
//! The rules, in the order [`Session::handle`] applies them:
//!
//! - Once closed, a session ignores everything: frames the peer sent before it heard the close
//!   are still arriving, and they must not reach the book.
//! - The listener (the node that owns the book and was dialed) checks on every event that the
//!   book is still shared with the peer, and closes with [`NOT_SHARED`] when it is not, so an
//!   unshare stops changes flowing at once rather than at the next connection.
//! - A frame that breaks the framing, or a sync message the engine cannot read, closes the
//!   session and bans the peer: an honest peer never sends either.
//! - [`MAX_REFUSED`] refused changes over the session close it and ban the peer, naming the
//!   last refusal, because validation is costly and a peer that keeps sending invalid changes
//!   is either broken or hostile.
//! - A `Close` frame from the peer ends the session; a second `Open` frame ends it with a close
//!   of our own, without a ban, as the node did before the rules moved here.
//! - The dialer speaks first; the listener speaks only after the dialer's first sync message
//!   (see [`Session::start`]).
//!
//! Left to the node, because they need a clock, a database or a view of other sessions: the
//! timeout for the dialer's `Open`, refusing a stream when every session permit is taken,
//! refusing a message when the book is at its storage caps (check before passing the frame
//! in), how long a ban lasts, and reading the stored checkpoint to build the [`PeerSync`].

use super::PeerSync;
use crate::book::{Book, Refusal};
use crate::frame::{Frame, FrameError};
use crate::record::RecordId;
use automerge::ChangeHash;

/// Refused changes in one session after which the peer is disconnected and banned. A few rather
/// than one, so that one odd change is logged and looked into rather than cutting a partner
/// off; few, because each refused change cost a validation and says the peer is broken or
/// hostile.
pub const MAX_REFUSED: u64 = 3;

/// The one answer to a book that is unknown or not shared with the asker. The same words for
/// both, so a peer cannot learn which books a node holds.
pub const NOT_SHARED: &str = "no book with that id is shared with this node";

/// The close reason for a second `Open` frame: a session carries one book.
pub const SECOND_OPEN: &str = "the peer sent a second open frame";

/// Which end of the stream this node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Opened the stream and named the book; speaks first.
    Dialer,
    /// Was asked for the book; the owner of the share, so it enforces it.
    Listener,
}

/// What happened on the session, as the driver saw it.
#[derive(Debug)]
pub enum Event {
    /// A whole frame arrived from the peer.
    Frame(Frame),
    /// The peer sent bytes that break the framing (too large, wrong version, unknown type). A
    /// stream that merely ended or reset is not an event: the driver just drops the session.
    FrameError(FrameError),
    /// The local book changed (a local record, or changes from another peer), or the driver
    /// wants the session to look again (a tick). Also how the listener learns of an unshare.
    BookChanged,
}

/// What the driver must do, in the order given.
#[derive(Debug, PartialEq)]
pub enum Action {
    /// Write this frame to the peer.
    Send(Frame),
    /// Make these accepted changes durable together with this checkpoint, in one transaction,
    /// before performing any later action. The checkpoint names heads the peer will take as
    /// shared on the next session; stored ahead of the changes, a crash would lose changes
    /// that neither side ever resends. Sent frames that follow announce the changes too, so
    /// they must not leave before the changes are durable. Emitted after every sync message
    /// the peer sent, even one that brought no changes, because the checkpoint moves anyway.
    Store {
        changes: Vec<Vec<u8>>,
        checkpoint: Vec<u8>,
    },
    /// What one sync message from the peer brought, once its [`Action::Store`] is done: for
    /// the node's member index, its log and its status line. Nothing needs doing about it.
    Received(Received),
    /// End the session: send `Close` with this reason, then drop the stream. `ban` says the
    /// peer broke the protocol and should be banned.
    Close { reason: String, ban: bool },
    /// The peer ended the session with this reason. Send nothing more; drop the stream.
    PeerClosed { reason: String },
}

/// What one sync message from the peer brought.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// Records the message's accepted changes added, in the order applied.
    pub records: Vec<RecordId>,
    /// Changes refused, each with its reason. The book is unchanged by them.
    pub refused: Vec<(ChangeHash, Refusal)>,
}

/// The session's state for a status line. The driver reads it when it likes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Status {
    /// Whether, after the last event, the peer's last message announced this book's heads and
    /// nothing from it waits ([`PeerSync::in_sync`]). A hint for people, not a guarantee: the
    /// peer may have written since.
    pub in_sync: bool,
    /// Changes from the peer waiting for their dependencies.
    pub waiting: usize,
    /// Changes the peer sent this session that were refused (equivocations aside).
    pub refused_total: u64,
    /// Sync messages received from the peer this session.
    pub messages_received: u64,
}

/// One sync session with one peer for one book. See the module documentation for its rules.
#[derive(Debug)]
pub struct Session {
    side: Side,
    sync: PeerSync,
    /// Whether this side may send sync messages yet. Automerge reads a message with no heads as
    /// "the peer lost everything" and resends the whole book; if both sides opened at once, an
    /// empty dialer would answer the listener's opening before the book arrived, and receive
    /// the book twice. So the listener waits for the dialer's first message.
    may_speak: bool,
    /// The latest refusal that counts towards [`MAX_REFUSED`], as `code: reason`, named when
    /// the peer is banned so its operator can see what it sent.
    last_refusal: Option<String>,
    closed: bool,
    status: Status,
}

impl Session {
    /// A session on a new stream. `sync` is [`PeerSync::new`] for a peer never synced with,
    /// or [`PeerSync::resume`] from the checkpoint last stored for it.
    pub fn new(side: Side, sync: PeerSync) -> Session {
        Session {
            side,
            sync,
            may_speak: side == Side::Dialer,
            last_refusal: None,
            closed: false,
            status: Status::default(),
        }
    }

    /// What to do when the stream is open. The dialer names the book and speaks first. The
    /// listener starts once the node has read the dialer's `Open` frame and found the book
    /// (an unknown book is answered with [`NOT_SHARED`] before any session exists); it checks
    /// the share here too, and otherwise waits for the dialer's first sync message.
    pub fn start(&mut self, book: &Book, shared: bool) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.side == Side::Dialer {
            actions.push(Action::Send(Frame::Open { book: book.id() }));
        }
        if !self.still_shared(shared, &mut actions) {
            return actions;
        }
        self.speak(book, &mut actions);
        actions
    }

    /// Takes one event and returns what to do. `shared`: whether the book's effective share
    /// records still name this peer (the caller answers it cheaply); only the listener
    /// enforces it, since the dialer asked for the book and the listener owns the share.
    pub fn handle(&mut self, book: &mut Book, event: Event, shared: bool) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.closed || !self.still_shared(shared, &mut actions) {
            return actions;
        }
        match event {
            Event::FrameError(error) => self.close(error.to_string(), true, &mut actions),
            Event::Frame(Frame::Open { .. }) => self.close(SECOND_OPEN.into(), false, &mut actions),
            Event::Frame(Frame::Close { reason }) => {
                self.closed = true;
                actions.push(Action::PeerClosed { reason });
            }
            Event::Frame(Frame::Sync { message }) => {
                self.may_speak = true;
                self.on_message(book, &message, &mut actions);
            }
            Event::BookChanged => {}
        }
        self.speak(book, &mut actions);
        actions
    }

    /// Whether the session has ended, by either side. A closed session takes no more events.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Which end of the stream this session is.
    pub fn side(&self) -> Side {
        self.side
    }

    /// The session's checkpoint now, the same bytes the last [`Action::Store`] carried unless
    /// the peer spoke since. For a driver that stores it on close as well.
    pub fn checkpoint(&self) -> Vec<u8> {
        self.sync.checkpoint()
    }

    /// The session's state for a status line.
    pub fn status(&self) -> Status {
        Status {
            waiting: self.sync.waiting(),
            refused_total: self.sync.refused_total(),
            ..self.status
        }
    }

    /// Closes with [`NOT_SHARED`] when the listener finds the book no longer shared.
    fn still_shared(&mut self, shared: bool, actions: &mut Vec<Action>) -> bool {
        if self.side == Side::Listener && !shared {
            self.close(NOT_SHARED.into(), false, actions);
            return false;
        }
        true
    }

    fn close(&mut self, reason: String, ban: bool, actions: &mut Vec<Action>) {
        self.closed = true;
        actions.push(Action::Close { reason, ban });
    }

    /// Applies one sync message: store what was accepted, report it, and ban a peer that broke
    /// the engine's rules or sent too many invalid changes.
    fn on_message(&mut self, book: &mut Book, message: &[u8], actions: &mut Vec<Action>) {
        let applied = match self.sync.receive(book, message) {
            Ok(applied) => applied,
            // Too large or malformed: the engine refused the whole message before the book or
            // automerge saw any of it.
            Err(error) => return self.close(error.to_string(), true, actions),
        };
        self.status.messages_received += 1;
        // Equivocations are not held against a relaying peer (see `PeerSync::receive`), so the
        // reason named must be one that counted.
        if let Some((_, refusal)) = applied
            .refused
            .iter()
            .rev()
            .find(|(_, r)| !matches!(r, Refusal::Equivocation { .. }))
        {
            self.last_refusal = Some(format!("{}: {refusal}", refusal.code()));
        }
        actions.push(Action::Store {
            changes: applied.accepted_bytes,
            checkpoint: self.sync.checkpoint(),
        });
        actions.push(Action::Received(Received {
            records: applied.records,
            refused: applied.refused,
        }));
        let refused = self.sync.refused_total();
        if refused >= MAX_REFUSED {
            let last = self.last_refusal.as_deref().unwrap_or("an unknown reason");
            let reason =
                format!("{refused} invalid changes refused, the last for {last}; disconnecting");
            self.close(reason, true, actions);
        }
    }

    /// Sends every message the engine has, if this side may speak and the session is open.
    fn speak(&mut self, book: &Book, actions: &mut Vec<Action>) {
        if self.closed || !self.may_speak {
            return;
        }
        while let Some(message) = self.sync.generate(book) {
            actions.push(Action::Send(Frame::Sync { message }));
        }
        self.status.in_sync = self.sync.in_sync(book);
    }
}

#[cfg(test)]
mod tests;
