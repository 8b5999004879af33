use super::*;
use crate::key::SignerKey;
use crate::testing::{contribute as add, contributed_book, sync_message};
use automerge::sync::Message;
use automerge::transaction::{CommitOptions, Transactable as _};
use automerge::{ActorId, ROOT};
use std::collections::VecDeque;

fn founded(n: u64) -> (SignerKey, Book) {
    contributed_book("Session Savers", n)
}

/// A sync message carrying one change that writes outside the records, with a fresh actor so
/// each is a different change.
fn invalid_message(book: &Book, n: u8) -> Vec<u8> {
    let mut doc = book.doc().fork().with_actor(ActorId::from([n; 16]));
    let mut tx = doc.transaction();
    tx.put(ROOT, "note", "hello").unwrap();
    tx.commit_with(CommitOptions::default().with_time(0));
    sync_message(&doc.get_last_local_change().unwrap())
}

fn sync_frame(message: Vec<u8>) -> Event {
    Event::Frame(Frame::Sync { message })
}

fn sends(actions: &[Action]) -> Vec<&Frame> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(f) => Some(f),
            _ => None,
        })
        .collect()
}

fn closes(actions: &[Action]) -> Vec<(&str, bool)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Close { reason, ban } => Some((reason.as_str(), *ban)),
            _ => None,
        })
        .collect()
}

/// One end of a simulated stream: its book, its session and what it stored.
struct End {
    book: Book,
    session: Session,
    stored_changes: usize,
    checkpoint: Option<Vec<u8>>,
}

impl End {
    fn new(side: Side, book: Book, checkpoint: Option<Vec<u8>>) -> End {
        let sync = match &checkpoint {
            Some(c) => PeerSync::resume(c).unwrap(),
            None => PeerSync::new(),
        };
        End {
            book,
            session: Session::new(side, sync),
            stored_changes: 0,
            checkpoint,
        }
    }

    fn start(&mut self) -> Vec<Frame> {
        let actions = self.session.start(&self.book, true);
        self.perform(actions)
    }

    fn take(&mut self, frame: Frame) -> Vec<Frame> {
        let actions = self
            .session
            .handle(&mut self.book, Event::Frame(frame), true);
        self.perform(actions)
    }

    /// Performs actions; returns the frames to deliver to the other end.
    fn perform(&mut self, actions: Vec<Action>) -> Vec<Frame> {
        let mut out = Vec::new();
        for action in actions {
            match action {
                Action::Send(frame) => out.push(frame),
                Action::Store {
                    changes,
                    checkpoint,
                } => {
                    self.stored_changes += changes.len();
                    self.checkpoint = Some(checkpoint);
                }
                Action::Received(_) => {}
                Action::Close { reason, .. } => out.push(Frame::Close { reason }),
                Action::PeerClosed { .. } => {}
            }
        }
        out
    }
}

/// Starts both ends and delivers frames one at a time, in order each way, until both are
/// quiet; returns the sync bytes each way (dialer to listener, listener to dialer).
fn run_until_quiescent(dialer: &mut End, listener: &mut End) -> (usize, usize) {
    let mut to_listener: VecDeque<Frame> = dialer.start().into();
    // The listener's session starts once it has read the dialer's Open frame.
    assert!(matches!(to_listener.pop_front(), Some(Frame::Open { .. })));
    let mut to_dialer: VecDeque<Frame> = listener.start().into();
    assert!(to_dialer.is_empty(), "the listener spoke first");
    let mut bytes = (0, 0);
    for _ in 0..10_000 {
        if let Some(frame) = to_listener.pop_front() {
            bytes.0 += frame.encoded_len();
            to_dialer.extend(listener.take(frame));
        } else if let Some(frame) = to_dialer.pop_front() {
            bytes.1 += frame.encoded_len();
            to_listener.extend(dialer.take(frame));
        } else {
            return bytes;
        }
    }
    panic!("the session never went quiet");
}

#[test]
fn the_dialer_names_the_book_and_speaks_first() {
    let (_, book) = founded(3);
    let mut dialer = Session::new(Side::Dialer, PeerSync::new());
    let actions = dialer.start(&book, false);
    assert_eq!(actions[0], Action::Send(Frame::Open { book: book.id() }));
    assert!(matches!(&actions[1], Action::Send(Frame::Sync { .. })));
    assert!(!dialer.is_closed(), "the dialer does not enforce the share");
}

/// Automerge takes a message with no heads for a peer that lost everything; an empty listener
/// that spoke first would be sent the book twice.
#[test]
fn the_listener_waits_for_the_dialers_first_message() {
    let (_, owner) = founded(3);
    let mut listener = Session::new(Side::Listener, PeerSync::new());
    assert!(listener.start(&owner, true).is_empty());
    let mut owner = owner;
    assert!(
        listener
            .handle(&mut owner, Event::BookChanged, true)
            .is_empty()
    );
    let (_, other) = founded(0);
    let mut dialer = Session::new(Side::Dialer, PeerSync::new());
    let Some(Action::Send(Frame::Sync { message })) = dialer.start(&other, true).pop() else {
        panic!("the dialer sent no sync message");
    };
    let actions = listener.handle(&mut owner, sync_frame(message), true);
    assert!(matches!(actions[0], Action::Store { .. }));
    assert!(!sends(&actions).is_empty(), "the listener answered");
}

#[test]
fn two_sessions_converge_storing_each_change_once() {
    let (_, owner) = founded(50);
    let mut listener = End::new(Side::Listener, owner, None);
    let mut dialer = End::new(Side::Dialer, Book::empty(listener.book.id()), None);
    run_until_quiescent(&mut dialer, &mut listener);
    assert_eq!(dialer.book.heads(), listener.book.heads());
    assert_eq!(
        dialer.stored_changes, 51,
        "the genesis and 50 records, each once"
    );
    assert_eq!(listener.stored_changes, 0);
    assert!(dialer.session.status().in_sync);
    assert!(listener.session.status().in_sync);
    assert_eq!(dialer.session.status().waiting, 0);
}

/// A peer that will be told the changes are shared must not hear of them before they are
/// durable: the store comes before any frame that follows the message.
#[test]
fn accepted_changes_are_stored_before_anything_is_sent() {
    let (key, mut a) = founded(3);
    let mut b = Book::empty(a.id());
    let (mut sa, mut sb) = (
        Session::new(Side::Dialer, PeerSync::new()),
        Session::new(Side::Listener, PeerSync::new()),
    );
    let mut to_b: VecDeque<Frame> = sa
        .start(&a, true)
        .into_iter()
        .skip(1)
        .filter_map(|x| match x {
            Action::Send(f) => Some(f),
            _ => None,
        })
        .collect();
    add(&key, &mut a, 77);
    let mut saw_changes = false;
    for _ in 0..100 {
        let Some(frame) = to_b.pop_front() else { break };
        let actions = sb.handle(&mut b, Event::Frame(frame), true);
        let store = actions
            .iter()
            .position(|x| matches!(x, Action::Store { .. }))
            .expect("every sync message is followed by a store");
        if let Action::Store { changes, .. } = &actions[store] {
            saw_changes |= !changes.is_empty();
        }
        assert!(
            actions[..store]
                .iter()
                .all(|x| !matches!(x, Action::Send(_))),
            "sent before storing: {actions:?}"
        );
        for frame in sends(&actions).into_iter().cloned() {
            for x in sa.handle(&mut a, Event::Frame(frame), true) {
                if let Action::Send(f) = x {
                    to_b.push_back(f);
                }
            }
        }
    }
    assert!(saw_changes);
    assert_eq!(a.heads(), b.heads());
}

#[test]
fn a_resumed_session_sends_only_what_is_new() {
    let (key, owner) = founded(200);
    let mut listener = End::new(Side::Listener, owner, None);
    let mut dialer = End::new(Side::Dialer, Book::empty(listener.book.id()), None);
    let (_, full) = run_until_quiescent(&mut dialer, &mut listener);
    add(&key, &mut listener.book, 999);
    let mut listener = End::new(Side::Listener, listener.book, listener.checkpoint);
    let mut dialer = End::new(Side::Dialer, dialer.book, dialer.checkpoint);
    let (there, back) = run_until_quiescent(&mut dialer, &mut listener);
    assert_eq!(dialer.book.heads(), listener.book.heads());
    assert_eq!(dialer.stored_changes, 1);
    assert!(
        (there + back) * 20 < full,
        "resuming sent {there}+{back} bytes against {full}"
    );
}

#[test]
fn the_listener_closes_when_the_book_is_not_shared_at_start() {
    let (_, owner) = founded(1);
    let mut listener = Session::new(Side::Listener, PeerSync::new());
    let actions = listener.start(&owner, false);
    assert_eq!(
        actions,
        vec![Action::Close {
            reason: NOT_SHARED.into(),
            ban: false
        }]
    );
    assert!(listener.is_closed());
}

/// An unshare stops changes flowing at once: the next event closes the session, and the frame
/// that came with it does not reach the book.
#[test]
fn the_listener_closes_on_unshare_before_taking_the_frame() {
    let (key, mut owner) = founded(1);
    let (_, mut theirs) = founded(0);
    add(&key, &mut theirs, 5);
    let mut dialer = Session::new(Side::Dialer, PeerSync::new());
    let Some(Action::Send(Frame::Sync { message })) = dialer.start(&theirs, true).pop() else {
        panic!("the dialer sent no sync message");
    };
    let mut listener = Session::new(Side::Listener, PeerSync::new());
    assert!(listener.start(&owner, true).is_empty());
    let before = owner.heads();
    let actions = listener.handle(&mut owner, sync_frame(message), false);
    assert_eq!(
        actions,
        vec![Action::Close {
            reason: NOT_SHARED.into(),
            ban: false
        }]
    );
    assert_eq!(owner.heads(), before);
    assert!(
        listener
            .handle(&mut owner, Event::BookChanged, true)
            .is_empty(),
        "a closed session stays closed"
    );
}

#[test]
fn the_dialer_does_not_enforce_the_share() {
    let (_, mut book) = founded(1);
    let mut dialer = Session::new(Side::Dialer, PeerSync::new());
    dialer.start(&book, true);
    let actions = dialer.handle(&mut book, Event::BookChanged, false);
    assert!(closes(&actions).is_empty());
}

#[test]
fn a_frame_that_breaks_the_framing_closes_and_bans() {
    let (_, mut book) = founded(1);
    let mut s = Session::new(Side::Listener, PeerSync::new());
    let error = FrameError::Version(9);
    let actions = s.handle(&mut book, Event::FrameError(error.clone()), true);
    assert_eq!(closes(&actions), vec![(error.to_string().as_str(), true)]);
    assert!(s.is_closed());
}

#[test]
fn a_malformed_sync_message_closes_and_bans() {
    let (_, mut book) = founded(1);
    let mut s = Session::new(Side::Listener, PeerSync::new());
    let actions = s.handle(&mut book, sync_frame(b"\x42garbage".to_vec()), true);
    let [(reason, true)] = closes(&actions)[..] else {
        panic!("not closed with a ban: {actions:?}");
    };
    assert!(reason.starts_with("sync message is malformed"), "{reason}");
    assert!(
        sends(&actions).is_empty(),
        "nothing is said to a banned peer"
    );
    assert_eq!(book.record_count(), 2);
}

#[test]
fn refused_changes_close_and_ban_at_the_limit_naming_the_last() {
    let (_, mut book) = founded(1);
    let mut s = Session::new(Side::Listener, PeerSync::new());
    for n in 1..MAX_REFUSED as u8 {
        let message = invalid_message(&book, n);
        let actions = s.handle(&mut book, sync_frame(message), true);
        assert!(closes(&actions).is_empty(), "closed after {n} refusals");
        let Some(Action::Received(received)) = actions.get(1) else {
            panic!("no report of the refusal: {actions:?}");
        };
        assert_eq!(received.refused.len(), 1);
        assert_eq!(s.status().refused_total, u64::from(n));
    }
    let message = invalid_message(&book, 9);
    let actions = s.handle(&mut book, sync_frame(message), true);
    let [(reason, true)] = closes(&actions)[..] else {
        panic!("not closed with a ban: {actions:?}");
    };
    assert!(
        reason.starts_with("3 invalid changes refused, the last for writes_elsewhere: ")
            && reason.ends_with("; disconnecting"),
        "{reason}"
    );
    assert!(
        matches!(actions[0], Action::Store { .. }),
        "the checkpoint is still stored"
    );
    assert!(sends(&actions).is_empty(), "nothing more is said");
    assert_eq!(book.record_count(), 2);
}

#[test]
fn a_close_from_the_peer_ends_the_session_without_a_ban() {
    let (_, mut book) = founded(1);
    let mut s = Session::new(Side::Dialer, PeerSync::new());
    s.start(&book, true);
    let actions = s.handle(
        &mut book,
        Event::Frame(Frame::Close {
            reason: "bye".into(),
        }),
        true,
    );
    assert_eq!(
        actions,
        vec![Action::PeerClosed {
            reason: "bye".into()
        }]
    );
    assert!(s.is_closed());
    assert!(s.handle(&mut book, Event::BookChanged, true).is_empty());
}

#[test]
fn a_second_open_closes_without_a_ban() {
    let (_, mut book) = founded(1);
    let mut s = Session::new(Side::Listener, PeerSync::new());
    let id = book.id();
    let actions = s.handle(&mut book, Event::Frame(Frame::Open { book: id }), true);
    assert_eq!(closes(&actions), vec![(SECOND_OPEN, false)]);
    assert!(s.is_closed());
}

#[test]
fn a_local_change_is_sent_at_once() {
    let (key, book) = founded(3);
    let mut listener = End::new(Side::Listener, book, None);
    let mut dialer = End::new(Side::Dialer, Book::empty(listener.book.id()), None);
    run_until_quiescent(&mut dialer, &mut listener);
    add(&key, &mut listener.book, 42);
    let actions = listener
        .session
        .handle(&mut listener.book, Event::BookChanged, true);
    let [Frame::Sync { message }] = sends(&actions)[..] else {
        panic!("not one sync message: {actions:?}");
    };
    assert_eq!(Message::decode(message).unwrap().changes.len(), 1);
    assert!(
        !listener.session.status().in_sync,
        "the peer has not heard yet"
    );
}
