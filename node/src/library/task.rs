//! The book task: one task owns each open book, and everything else reaches it through a
//! [`BookHandle`] with a bounded command queue (the actor shape of iroh and of rust-libp2p's
//! file-sharing example).
//!
//! The task owns the [`Book`], its caches (ledger, reconciliation, shares, members), its
//! compaction counters and each partner's sync state. It handles one command at a time, so a
//! local rule's check and the add it allows are one step: nothing can slip in between. Writes
//! waiting in the queue are committed together (group commit), and no command sees a change
//! before it is durable: the task waits for each commit before it takes the next command.

mod submit;

use super::caches::{Caches, summary_of};
use super::{BookSummary, Caps, LibraryError, Submitted};
use crate::storage::{Checkpoint, Storage};
use kaban_protocol::book::{Book, Refusal};
use kaban_protocol::enterprise::Reconciliation;
use kaban_protocol::record::{BookId, Record, RecordId};
use kaban_protocol::sync::PeerSync;
use kaban_protocol::sync::session::{Action, Event, Session, Side, Status};
use kaban_protocol::view::Ledger;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
pub(super) use submit::check_room;
use tokio::sync::{mpsc, oneshot, watch};

/// Commands waiting for one book; senders wait when it is full.
pub const QUEUE: usize = 256;
/// Most submissions committed in one transaction.
pub const MAX_BATCH: usize = 128;
/// Refused changes of one sync message that are logged one by one; the rest are counted.
const LOGGED_REFUSALS: usize = 3;

pub(super) type Reply<T> = oneshot::Sender<Result<T, LibraryError>>;
/// A read of the book and its caches, run by the task between writes.
pub(super) type Read = Box<dyn FnOnce(Result<(&Book, &mut Caches), LibraryError>) + Send>;
/// The enterprise books' reconciliations, for the cash rule (gathered before the submission is
/// queued: another book's task is never awaited from inside a task).
pub(super) type Enterprises = Vec<(BookId, Arc<Reconciliation>)>;

pub(super) enum Command {
    Submit {
        record: Record,
        enterprises: Enterprises,
        reply: Reply<Submitted>,
    },
    /// A placeholder book takes its genesis.
    Found {
        genesis: Record,
        reply: Reply<bool>,
    },
    Read(Read),
    /// The ledger, answered from the cache while the book is let go.
    QuietLedger(Reply<Arc<Ledger>>),
    /// The book's line in the book list: no fold, and from the cache while the book is let go.
    Summary(Reply<BookSummary>),
    /// Starts (or restarts) the sync session with a peer; the reply is its generation, which
    /// its later events carry, so an older session for the same peer is told it is over, and
    /// what the session does first.
    SyncOpen {
        peer: String,
        side: Side,
        now_ms: u64,
        reply: Reply<(u64, Turn)>,
    },
    /// Something happened on a session's stream.
    SyncEvent {
        peer: String,
        generation: u64,
        event: Event,
        now_ms: u64,
        reply: Reply<Turn>,
    },
    SharedWith {
        peer: String,
        reply: Reply<bool>,
    },
    Evict {
        idle: Duration,
        reply: Reply<bool>,
    },
    Remove(Reply<()>),
}

/// How the library reaches a book's task.
#[derive(Debug, Clone)]
pub(super) struct BookHandle {
    pub(super) id: BookId,
    commands: mpsc::Sender<Command>,
    /// Whether the book is in memory (not let go for being idle).
    loaded: Arc<AtomicBool>,
    /// Bumped whenever the book gains durable changes, so sync sessions push them promptly.
    changed: watch::Receiver<u64>,
}

impl BookHandle {
    /// Sends a command and waits for its answer. A task that has ended (its book removed)
    /// answers as a missing book.
    pub(super) async fn ask<T>(
        &self,
        command: impl FnOnce(Reply<T>) -> Command,
    ) -> Result<T, LibraryError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| LibraryError::UnknownBook(self.id))?;
        answer
            .await
            .unwrap_or(Err(LibraryError::UnknownBook(self.id)))
    }

    /// Runs `f` on the book and its caches, between writes.
    pub(super) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Book, &mut Caches) -> T + Send + 'static,
    ) -> Result<T, LibraryError> {
        self.ask(|reply: Reply<T>| {
            Command::Read(Box::new(move |open| {
                let _ = reply.send(open.map(|(book, caches)| f(book, caches)));
            }))
        })
        .await
    }

    pub(super) fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Relaxed)
    }

    pub(super) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.clone()
    }
}

/// Starts the task that owns `book`; it ends when every handle is gone or the book is
/// removed. `stored` is what its storage holds: bytes, and changes since the snapshot.
pub(super) fn spawn(
    book: Book,
    stored: (u64, usize),
    storage: Storage,
    caps: Caps,
    tasks: &mut tokio::task::JoinSet<()>,
) -> BookHandle {
    let id = book.id();
    let (commands, queue) = mpsc::channel(QUEUE);
    let (changed_tx, changed) = watch::channel(0);
    let loaded = Arc::new(AtomicBool::new(true));
    let in_snapshot = book.change_count().saturating_sub(stored.1);
    let task = BookTask {
        id,
        storage,
        caps,
        caches: Caches::new(&book),
        book: Some(book),
        loaded: Arc::clone(&loaded),
        changed: changed_tx,
        last_used: Instant::now(),
        stored_bytes: stored.0,
        compaction: Compaction {
            since_snapshot: stored.1,
            in_snapshot,
            running: None,
        },
        sessions: HashMap::new(),
        generation: 0,
    };
    // A task of its own, not a part of the request that happened to start it.
    let span = tracing::info_span!(parent: None, "book", book = %id);
    tasks.spawn(tracing::Instrument::instrument(task.run(queue), span));
    BookHandle {
        id,
        commands,
        loaded,
        changed,
    }
}

/// How long a book goes without commands before the changes since its snapshot are compacted
/// even when they are fewer than a quarter of it (but at least
/// [`super::COMPACT_AFTER_CHANGES`]). A partner's first sync of a large book otherwise leaves up
/// to a quarter of it as loose changes, which are slow to load at the next start.
const QUIET_COMPACTION: Duration = Duration::from_millis(if cfg!(test) { 200 } else { 10_000 });

/// When to write a fresh snapshot: once [`super::COMPACT_AFTER_CHANGES`] changes, or a quarter
/// of the snapshot's, have accumulated since the last one; or once the book has been quiet for
/// [`QUIET_COMPACTION`] with at least [`super::COMPACT_AFTER_CHANGES`] loose.
struct Compaction {
    since_snapshot: usize,
    in_snapshot: usize,
    /// A snapshot being written on a blocking thread from a copy of the book: its size and the
    /// stored bytes when it was taken, and the stored changes it covers.
    running: Option<tokio::task::JoinHandle<Result<(u64, u64), LibraryError>>>,
}

pub(super) struct BookTask {
    pub(super) id: BookId,
    pub(super) storage: Storage,
    pub(super) caps: Caps,
    /// The book, or `None` while it is let go for being idle.
    pub(super) book: Option<Book>,
    pub(super) caches: Caches,
    loaded: Arc<AtomicBool>,
    pub(super) changed: watch::Sender<u64>,
    last_used: Instant,
    /// Bytes of the book's stored changes, for the per-book cap.
    pub(super) stored_bytes: u64,
    compaction: Compaction,
    /// Each partner's sync session, with its generation.
    sessions: HashMap<String, (u64, Session)>,
    generation: u64,
}

impl BookTask {
    async fn run(mut self, mut queue: mpsc::Receiver<Command>) {
        let mut next = None;
        loop {
            let command = match next.take() {
                Some(command) => command,
                None => tokio::select! {
                    command = queue.recv() => match command {
                        Some(command) => command,
                        None => break,
                    },
                    done = poll_running(&mut self.compaction.running) => {
                        self.compacted(done);
                        continue;
                    }
                    () = tokio::time::sleep_until((self.last_used + self.caps.book_idle).into()),
                        if self.book.is_some() =>
                    {
                        self.evict_if_idle(self.caps.book_idle);
                        continue;
                    }
                    () = tokio::time::sleep_until((self.last_used + QUIET_COMPACTION).into()),
                        if self.quiet_compaction_due() =>
                    {
                        self.compact();
                        continue;
                    }
                },
            };
            match command {
                Command::Submit {
                    record,
                    enterprises,
                    reply,
                } => {
                    let mut batch = vec![(record, enterprises, reply)];
                    while batch.len() < MAX_BATCH {
                        match queue.try_recv() {
                            Ok(Command::Submit {
                                record,
                                enterprises,
                                reply,
                            }) => batch.push((record, enterprises, reply)),
                            Ok(other) => {
                                next = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    self.submit(batch).await;
                }
                Command::Remove(reply) => {
                    let removed = self.storage.remove_book(self.id).await;
                    let ok = removed.is_ok();
                    let _ = reply.send(removed.map_err(LibraryError::from));
                    if ok {
                        self.loaded.store(false, Ordering::Relaxed);
                        break;
                    }
                }
                other => self.handle(other).await,
            }
        }
        if let Some(running) = self.compaction.running.take() {
            // A snapshot being written is finished, so the work is not thrown away.
            let _ = running.await;
        }
    }

    async fn handle(&mut self, command: Command) {
        match command {
            Command::Submit { .. } | Command::Remove(_) => {
                unreachable!("run handles these itself")
            }
            Command::Found { genesis, reply } => {
                let _ = reply.send(self.found(genesis).await);
            }
            Command::Read(read) => match self.open().await {
                Ok(()) => {
                    let book = self.book.as_ref().expect("open read the book");
                    read(Ok((book, &mut self.caches)));
                }
                Err(e) => read(Err(e)),
            },
            Command::QuietLedger(reply) => {
                let _ = reply.send(self.quiet_ledger().await);
            }
            Command::Summary(reply) => {
                let _ = reply.send(self.summary().await);
            }
            Command::SyncOpen {
                peer,
                side,
                now_ms,
                reply,
            } => {
                let _ = reply.send(self.sync_open(peer, side, now_ms).await);
            }
            Command::SyncEvent {
                peer,
                generation,
                event,
                now_ms,
                reply,
            } => {
                let turn = self.sync_event(&peer, generation, event, now_ms);
                let _ = reply.send(turn.await);
            }
            Command::SharedWith { peer, reply } => {
                let shared = self.open().await.map(|()| {
                    let book = self.book.as_ref().expect("open read the book");
                    self.caches.shared_with(book).contains(&peer)
                });
                let _ = reply.send(shared);
            }
            Command::Evict { idle, reply } => {
                let _ = reply.send(Ok(self.evict_if_idle(idle)));
            }
        }
    }

    /// Reads the book back from storage if it was let go.
    pub(super) async fn open(&mut self) -> Result<(), LibraryError> {
        self.last_used = Instant::now();
        if self.book.is_none() {
            self.read_back().await?;
            tracing::debug!("read an idle book back into memory");
        }
        Ok(())
    }

    /// Reads the book from what is durable, with its counters and member index. The other
    /// caches stay: a book let go for being idle has not changed.
    async fn read_back(&mut self) -> Result<(), LibraryError> {
        let stored = self.storage.load_book(self.id).await?;
        let book = Book::load(stored.id, &stored.bytes)?;
        self.compaction.since_snapshot = stored.changes_since_snapshot;
        self.compaction.in_snapshot = book
            .change_count()
            .saturating_sub(stored.changes_since_snapshot);
        self.stored_bytes = stored.bytes.len() as u64;
        self.caches.members = super::caches::MemberIndex::of(&book);
        self.book = Some(book);
        self.loaded.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// The ledger without reading an idle book back while its cached ledger stands: for scans
    /// across books (who is a person here, who holds roles).
    async fn quiet_ledger(&mut self) -> Result<Arc<Ledger>, LibraryError> {
        if let (None, Some(ledger)) = (&self.book, self.caches.cached_ledger()) {
            return Ok(ledger);
        }
        self.open_quietly().await?;
        let book = self.book.as_ref().expect("open read the book");
        Ok(self.caches.ledger_for(book))
    }

    /// The book's line in the book list, without a fold and without reading an idle book back.
    async fn summary(&mut self) -> Result<BookSummary, LibraryError> {
        if let (None, Some(summary)) = (&self.book, &self.caches.summary) {
            return Ok(summary.clone());
        }
        self.open_quietly().await?;
        Ok(summary_of(self.book.as_ref().expect("open read the book")))
    }

    /// Reads the book back if it was let go; a scan does not count as asking for the book.
    async fn open_quietly(&mut self) -> Result<(), LibraryError> {
        let last_used = self.last_used;
        self.open().await?;
        self.last_used = last_used;
        Ok(())
    }

    /// Lets the book go if nobody asked for it within `idle`. Its summary and ledger stay.
    fn evict_if_idle(&mut self, idle: Duration) -> bool {
        if self.last_used.elapsed() < idle {
            return false;
        }
        let Some(book) = self.book.take() else {
            return false;
        };
        self.caches.let_go(&book);
        self.loaded.store(false, Ordering::Relaxed);
        true
    }

    /// Makes `changes` (and a sync checkpoint) durable in one transaction. If that fails, the
    /// book in memory holds changes the disk does not, and later changes would build on them:
    /// it is read back from what is durable before anyone is told anything.
    pub(super) async fn commit(
        &mut self,
        changes: Vec<Vec<u8>>,
        checkpoint: Option<Checkpoint>,
    ) -> Result<(), LibraryError> {
        match self.storage.write(self.id, changes, checkpoint).await {
            Ok(seq) => {
                self.caches.last_seq = seq;
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "storing changes failed; reading the book back");
                if let Err(reload) = self.reload().await {
                    tracing::error!(error = %reload, "reading the book back failed; it is let go");
                    self.book = None;
                    self.loaded.store(false, Ordering::Relaxed);
                }
                Err(e.into())
            }
        }
    }

    async fn reload(&mut self) -> Result<(), LibraryError> {
        // Every write for the book was queued by this task and has settled.
        self.storage.heal(self.id).await?;
        // What was in memory is not what is durable: no cache of it stands.
        self.caches = Caches::default();
        self.read_back().await
    }

    /// The book gained `added` durable changes: sessions hear of it, and a snapshot is due
    /// once enough have accumulated.
    pub(super) fn grown(&mut self, added: usize) {
        self.changed.send_modify(|n| *n += 1);
        self.compaction.since_snapshot += added;
        self.maybe_compact();
    }

    /// Starts a snapshot if enough changes have accumulated since the last and none is being
    /// written.
    fn maybe_compact(&mut self) {
        let c = &self.compaction;
        if c.since_snapshot >= super::COMPACT_AFTER_CHANGES.max(c.in_snapshot / 4) {
            self.compact();
        }
    }

    /// Whether the loose changes are worth a snapshot once the book goes quiet.
    fn quiet_compaction_due(&self) -> bool {
        self.book.is_some()
            && self.compaction.running.is_none()
            && self.compaction.since_snapshot >= super::COMPACT_AFTER_CHANGES
    }

    /// Starts writing a snapshot, unless one is being written.
    fn compact(&mut self) {
        let c = &mut self.compaction;
        let Some(book) = self.book.as_ref() else {
            return;
        };
        if c.running.is_some() {
            return;
        }
        // Saving a large book takes a second; the task goes on from a copy taken now, when
        // exactly the changes up to `upto` are durable.
        let doc = book.doc().clone();
        let upto = self.caches.last_seq;
        let at = self.stored_bytes;
        c.in_snapshot = book.change_count();
        c.since_snapshot = 0;
        let (storage, id) = (self.storage.clone(), self.id);
        c.running = Some(tokio::spawn(async move {
            let snapshot = tokio::task::spawn_blocking(move || doc.save())
                .await
                .map_err(|e| LibraryError::Unavailable(format!("saving a snapshot: {e}")))?;
            let size = snapshot.len() as u64;
            storage.compact(id, snapshot, upto).await?;
            Ok((size, at))
        }));
    }

    /// A snapshot finished: the stored bytes are the snapshot's and those of the changes
    /// stored since it was taken.
    fn compacted(&mut self, done: Result<(u64, u64), LibraryError>) {
        match done {
            Ok((size, at)) => {
                self.stored_bytes = size.saturating_add(self.stored_bytes.saturating_sub(at));
                tracing::info!("compacted book storage");
            }
            Err(e) => tracing::warn!(error = %e, "compaction failed; changes kept"),
        }
        // Changes that arrived while it was written (a partner's first sync, say) may already
        // call for the next one; waiting for the next write would leave them loose.
        self.maybe_compact();
    }

    async fn found(&mut self, genesis: Record) -> Result<bool, LibraryError> {
        self.open().await?;
        let book = self.book.as_mut().expect("open read the book");
        if book.genesis().is_some() {
            return Ok(false);
        }
        let change = kaban_protocol::book::genesis_change(&genesis)?;
        let bytes = change.raw_bytes().to_vec();
        if let Some((_, refusal)) = book.apply(vec![change]).refused.into_iter().next() {
            return Err(refusal.into());
        }
        self.caches = Caches::new(book);
        self.commit(vec![bytes], None).await?;
        self.grown(1);
        Ok(true)
    }

    async fn sync_open(
        &mut self,
        peer: String,
        side: Side,
        now_ms: u64,
    ) -> Result<(u64, Turn), LibraryError> {
        self.open().await?;
        let sync = match self.storage.get_sync_state(self.id, peer.clone()).await? {
            Some(state) => PeerSync::resume(&state)?,
            None => PeerSync::new(),
        };
        self.generation += 1;
        let book = self.book.as_ref().expect("open read the book");
        let shared = self.caches.shared_with(book).contains(&peer);
        let mut session = Session::new(side, sync);
        let actions = session.start(book, shared);
        if self
            .sessions
            .insert(peer.clone(), (self.generation, session))
            .is_some()
        {
            tracing::info!(%peer, "a new sync session with the peer replaces its older one");
        }
        let turn = self.perform(&peer, actions, now_ms).await?;
        Ok((self.generation, turn))
    }

    /// Hands a session its event, then does what it says: stores what it accepted together
    /// with its checkpoint, in one transaction, before the driver is told to send anything.
    async fn sync_event(
        &mut self,
        peer: &str,
        generation: u64,
        event: Event,
        now_ms: u64,
    ) -> Result<Turn, LibraryError> {
        self.open().await?;
        let book = self.book.as_mut().expect("open read the book");
        let session = match self.sessions.get_mut(peer) {
            Some((g, session)) if *g == generation => session,
            _ => return Err(LibraryError::SessionReplaced(self.id)),
        };
        // A book at its caps takes nothing more from peers either; one message may carry it
        // past them by at most that message's size.
        if let Event::Frame(kaban_protocol::frame::Frame::Sync { message }) = &event {
            check_room(
                &self.storage,
                &self.caps,
                book,
                self.stored_bytes,
                message.len() as u64,
            )?;
        }
        let shared = self.caches.shared_with(book).contains(peer);
        let actions = session.handle(book, event, shared);
        let turn = self.perform(peer, actions, now_ms).await;
        if turn.as_ref().map_or(true, |t| t.ended) {
            self.sessions.remove(peer);
        }
        turn
    }

    /// Stores what a session accepted, notes its records, and returns what the driver must do.
    async fn perform(
        &mut self,
        peer: &str,
        actions: Vec<Action>,
        now_ms: u64,
    ) -> Result<Turn, LibraryError> {
        let mut turn = Turn::default();
        for action in actions {
            match action {
                Action::Store {
                    changes,
                    checkpoint,
                } => {
                    let added = changes.len();
                    let bytes: usize = changes.iter().map(Vec::len).sum();
                    self.stored_bytes = self.stored_bytes.saturating_add(bytes as u64);
                    let checkpoint = Checkpoint {
                        peer: peer.to_owned(),
                        state: checkpoint,
                        now_ms,
                    };
                    self.commit(changes, Some(checkpoint)).await?;
                    if added > 0 {
                        self.grown(added);
                    }
                }
                Action::Received(received) => {
                    let book = self.book.as_ref().expect("the session's book is open");
                    for record in received.records.iter().filter_map(|r| book.record(r)) {
                        self.caches.noted(record);
                    }
                    log_refusals(peer, &received.refused);
                    turn.refused
                        .extend(received.refused.iter().map(|(_, refusal)| refusal.code()));
                }
                Action::Close { .. } | Action::PeerClosed { .. } => {
                    turn.ended = true;
                    turn.actions.push(action);
                }
                Action::Send(_) => turn.actions.push(action),
            }
        }
        if let Some((_, session)) = self.sessions.get(peer) {
            turn.status = session.status();
        }
        Ok(turn)
    }
}

/// What a session's driver does after one event: send these frames, or close; and what the
/// session says of itself, for the partner's status.
#[derive(Debug, Default)]
pub struct Turn {
    /// Only [`Action::Send`], [`Action::Close`] and [`Action::PeerClosed`]: the task has done
    /// the rest.
    pub actions: Vec<Action>,
    pub status: Status,
    /// The reason codes of the changes refused in this turn, for the node's metrics.
    pub refused: Vec<&'static str>,
    /// The session is over; its driver closes the stream.
    pub ended: bool,
}

/// A hostile message may carry thousands of refused changes: the first few are logged each,
/// the rest counted, so a peer cannot flood the log.
fn log_refusals(peer: &str, refused: &[(automerge::ChangeHash, Refusal)]) {
    for (hash, refusal) in refused.iter().take(LOGGED_REFUSALS) {
        tracing::warn!(%peer, change = %hash, code = refusal.code(), reason = %refusal, "refused a change from a peer");
    }
    if refused.len() > LOGGED_REFUSALS {
        tracing::warn!(%peer, more = refused.len() - LOGGED_REFUSALS, "refused more changes from the peer in the same message");
    }
}

/// Waits for a running compaction, or forever when none runs.
async fn poll_running(
    running: &mut Option<tokio::task::JoinHandle<Result<(u64, u64), LibraryError>>>,
) -> Result<(u64, u64), LibraryError> {
    let Some(handle) = running.as_mut() else {
        return std::future::pending().await;
    };
    let done = handle
        .await
        .unwrap_or_else(|e| Err(LibraryError::Unavailable(format!("compaction: {e}"))));
    *running = None;
    done
}

impl Submitted {
    pub fn id(&self) -> RecordId {
        match self {
            Submitted::Created(id) | Submitted::Existing(id) => *id,
        }
    }
}
