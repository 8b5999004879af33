//! Peer-to-peer sync over libp2p: the only module that knows libp2p.
//!
//! One event loop owns the `Swarm`: TCP and QUIC, noise, yamux, identify, ping, mDNS on the LAN,
//! the relay client with DCUtR hole punching and AutoNAT, a relay server in relay mode, and a
//! stream behaviour for `/kaban/sync/1`. Each book a partner syncs gets one stream, and on it
//! one session of the protocol crate's sync engine, driven by [`session`]. The node that
//! received an invite dials its partner and keeps the session up with backoff; the node that
//! owns the book accepts a session only for books whose share records name the dialer, and
//! answers every other request exactly alike, so a peer cannot learn which books exist.
//!
//! A node behind NAT listens on a relay's circuit address (`…/p2p/RELAY/p2p-circuit`) as well as
//! its own; the listener is re-made with backoff whenever the relay goes away. Partners dialled
//! through the relay try a DCUtR upgrade to a direct connection. In relay mode (`--relay`) a
//! node relays only for its partners and the peers its operator names, with limits raised far
//! above libp2p's defaults (2 minutes, 128 KiB per circuit) so an initial sync is not cut off.

mod event_loop;
mod session;

pub use event_loop::Status;
use event_loop::{Command, EventLoop};

use crate::library::Library;
use anyhow::Context as _;
use futures::StreamExt as _;
use kaban_protocol::frame::PROTOCOL;
use kaban_protocol::record::BookId;
use libp2p::{Multiaddr, PeerId, StreamProtocol};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::{AbortHandle, JoinSet};

/// Most sync sessions at once, inbound and outbound together.
pub const MAX_SESSIONS: usize = 64;
/// Inbound sync streams one peer may hold open at once. A session permit is taken only once
/// a stream has named a book shared with its peer, so a stranger's streams never take one.
pub const MAX_STREAMS_PER_PEER: usize = 8;
/// Inbound sync streams from all peers at once; PeerIds cost nothing to make, so the cap per
/// peer alone bounds nothing.
pub const MAX_INBOUND_STREAMS: usize = 512;
/// How long a dial may take.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(20);
/// Backoff between attempts to reach a partner: doubling from the first to the last.
pub const BACKOFF_FIRST: Duration = Duration::from_millis(500);
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// How long an idle connection stays open.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Queue of commands to the event loop.
const COMMAND_QUEUE: usize = 64;
/// How long a peer that kept sending invalid changes is refused.
pub const BAN_DURATION: Duration = Duration::from_secs(10 * 60);
/// Relay mode: how long one relayed connection may last, and how many bytes it may carry. The
/// libp2p defaults (2 minutes, 128 KiB) would cut an initial sync short.
pub const RELAY_CIRCUIT_DURATION: Duration = Duration::from_secs(60 * 60);
pub const RELAY_CIRCUIT_BYTES: u64 = 1 << 30;
/// Relay mode: reservations and relayed connections held at once.
pub const RELAY_MAX_RESERVATIONS: usize = 128;
pub const RELAY_MAX_CIRCUITS: usize = 64;

/// How the p2p layer runs.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Addresses to listen on; a relay circuit address (`…/p2p/RELAY/p2p-circuit`) makes a
    /// reservation on that relay.
    pub listen: Vec<Multiaddr>,
    /// Find and dial other Kaban nodes on the LAN by multicast DNS.
    pub mdns: bool,
    /// Serve as a relay for partners and for `relay_peers`.
    pub relay: bool,
    /// Peers this node relays for besides its partners (relay mode only).
    pub relay_peers: Vec<PeerId>,
}

pub use kaban_protocol::api::node::PartnerState;

/// A handle on the running p2p layer.
#[derive(Clone)]
pub struct P2p {
    pub peer_id: PeerId,
    commands: mpsc::Sender<Command>,
    control: libp2p_stream::Control,
    library: Arc<Library>,
    sessions: Arc<Semaphore>,
    /// Inbound streams per peer, named a book or not yet: a peer may hold at most
    /// [`MAX_STREAMS_PER_PEER`], whatever it does with them.
    inbound: Arc<Mutex<HashMap<PeerId, usize>>>,
    tasks: Arc<Mutex<JoinSet<()>>>,
    /// The sync loop of each (book, partner) this node follows.
    following: Arc<Mutex<HashMap<(BookId, PeerId), AbortHandle>>>,
    /// Peers the relay serves (relay mode): `relay_peers` and every partner.
    relayed_for: Arc<RwLock<HashSet<PeerId>>>,
}

impl std::fmt::Debug for P2p {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("P2p")
            .field("peer_id", &self.peer_id)
            .finish_non_exhaustive()
    }
}

/// The node key (libp2p identity), created on first start. It is not a signer key and never
/// signs records.
pub fn node_key(data_dir: &std::path::Path) -> anyhow::Result<libp2p_identity::Keypair> {
    let path = data_dir.join(crate::node::NODE_KEY_FILE);
    if !path.exists() {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the operating system provides randomness");
        let key = libp2p_identity::Keypair::ed25519_from_bytes(seed)
            .expect("32 random bytes are an ed25519 secret key");
        crate::files::write_private(
            &path,
            &key.to_protobuf_encoding()
                .context("encoding the node key")?,
        )?;
    }
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    libp2p_identity::Keypair::from_protobuf_encoding(&bytes)
        .with_context(|| format!("{} is not a node key", path.display()))
}

/// Checks an invite's partner and addresses before anything is stored for it.
pub fn check_invite(peer: &str, addrs: &[String]) -> Result<(), String> {
    peer.parse::<PeerId>()
        .map_err(|_| format!("invite names {peer:?}, which is not a PeerId"))?;
    for a in addrs {
        a.parse::<Multiaddr>()
            .map_err(|_| format!("invite address {a:?} is not a multiaddr"))?;
    }
    Ok(())
}

pub fn protocol() -> StreamProtocol {
    StreamProtocol::new(PROTOCOL)
}

/// Starts the swarm, listens, accepts sessions, and resumes syncing every partner the operator
/// accepted before.
pub async fn start(
    key: libp2p_identity::Keypair,
    options: &Options,
    library: Arc<Library>,
) -> anyhow::Result<P2p> {
    let relayed_for: Arc<RwLock<HashSet<PeerId>>> =
        Arc::new(RwLock::new(options.relay_peers.iter().copied().collect()));
    let (swarm, circuits) = event_loop::swarm(key, options, &relayed_for)?;
    let peer_id = *swarm.local_peer_id();
    let mut control = swarm.behaviour().stream.new_control();
    let incoming = control
        .accept(protocol())
        .expect("the sync protocol is registered once");
    let (commands, rx) = mpsc::channel(COMMAND_QUEUE);
    let p2p = P2p {
        peer_id,
        commands,
        control,
        library,
        sessions: Arc::new(Semaphore::new(MAX_SESSIONS)),
        inbound: Arc::new(Mutex::new(HashMap::new())),
        tasks: Arc::new(Mutex::new(JoinSet::new())),
        following: Arc::new(Mutex::new(HashMap::new())),
        relayed_for,
    };
    let event_loop = EventLoop::new(swarm, circuits);
    let _ = p2p.spawn(event_loop.run(rx));
    let accepting = p2p.clone();
    let _ = p2p.spawn(async move { accepting.accept(incoming).await });
    let _ = p2p.spawn(refuse_version_1(p2p.control.clone()));
    for (book, peer, addrs) in p2p.library.partners().await? {
        p2p.follow(book, &peer, &addrs)?;
    }
    Ok(p2p)
}

/// Answers every stream of protocol version 1 with a close frame, in version 1's framing, that
/// names the versions, and logs the peer: a partner still on version 1 learns why it cannot sync.
async fn refuse_version_1(mut control: libp2p_stream::Control) {
    use futures::io::AsyncWriteExt as _;
    let Ok(mut incoming) = control.accept(StreamProtocol::new(kaban_protocol::frame::PROTOCOL_V1))
    else {
        tracing::error!(
            "the version 1 protocol was registered twice; version 1 peers are not answered"
        );
        return;
    };
    // Each peer is logged once (of the first few hundred), so a stranger cannot flood the log.
    let mut logged = HashSet::new();
    while let Some((peer, mut stream)) = incoming.next().await {
        if logged.len() < 256 && logged.insert(peer) {
            tracing::warn!(%peer, "a peer opened a session in Kaban protocol version 1; refused, it must upgrade to version 2");
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            stream
                .write_all(&kaban_protocol::frame::refuse_version_1())
                .await?;
            stream.close().await
        })
        .await;
    }
}

impl P2p {
    /// Starts a task the p2p layer owns, reaping the ones that finished, so the set holds
    /// only running tasks.
    fn spawn(&self, f: impl std::future::Future<Output = ()> + Send + 'static) -> AbortHandle {
        let mut tasks = self.tasks.lock().expect("not poisoned");
        while tasks.try_join_next().is_some() {}
        tasks.spawn(f)
    }

    /// Stops every task: the event loop, the acceptor and all sessions.
    pub async fn shutdown(&self) {
        let mut tasks = std::mem::take(&mut *self.tasks.lock().expect("not poisoned"));
        tasks.shutdown().await;
    }

    /// Keeps `book` in sync with `peer` from now on: dials it (with backoff) and runs a session.
    pub fn follow(&self, book: BookId, peer: &str, addrs: &[String]) -> anyhow::Result<()> {
        let peer_id: PeerId = peer
            .parse()
            .with_context(|| format!("{peer:?} is not a PeerId"))?;
        let addrs: Vec<Multiaddr> = addrs
            .iter()
            .map(|a| {
                a.parse()
                    .with_context(|| format!("{a:?} is not a multiaddr"))
            })
            .collect::<anyhow::Result<_>>()?;
        self.relayed_for
            .write()
            .expect("not poisoned")
            .insert(peer_id);
        let me = self.clone();
        // One sync loop per (book, peer): following again (new addresses, say) replaces it.
        let task = self.spawn(async move { me.keep_syncing(book, peer_id, addrs).await });
        if let Some(old) = self
            .following
            .lock()
            .expect("not poisoned")
            .insert((book, peer_id), task)
        {
            old.abort();
        }
        Ok(())
    }

    /// Changes a partner's line in the status; the event loop, which owns it, applies it.
    pub(crate) async fn set_state(
        &self,
        book: BookId,
        peer: &str,
        update: impl FnOnce(&mut PartnerState) + Send + 'static,
    ) {
        let command = Command::Partner {
            book,
            peer: peer.to_owned(),
            update: Box::new(update),
        };
        let _ = self.commands.send(command).await;
    }

    /// What the p2p layer knows of itself now, from its event loop.
    pub async fn status(&self) -> Status {
        let (reply, rx) = oneshot::channel();
        if self.commands.send(Command::Status(reply)).await.is_err() {
            return Status::default();
        }
        rx.await.unwrap_or_default()
    }

    /// Waits until the node listens on `wanted` addresses; returns them.
    pub async fn listening(&self, wanted: usize) -> Vec<String> {
        let (reply, rx) = oneshot::channel();
        let command = Command::WhenListening { wanted, reply };
        if self.commands.send(command).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    async fn keep_syncing(self, book: BookId, peer: PeerId, addrs: Vec<Multiaddr>) {
        let mut backoff = BACKOFF_FIRST;
        let span = tracing::info_span!("partner", %book, %peer);
        self.set_state(book, &peer.to_string(), |s| s.connected = false)
            .await;
        loop {
            let result =
                tracing::Instrument::instrument(self.sync_once(book, peer, &addrs), span.clone())
                    .await;
            let peer_text = peer.to_string();
            match result {
                Ok(()) => backoff = BACKOFF_FIRST,
                Err(e) => {
                    span.in_scope(|| tracing::info!(error = %format!("{e:#}"), retry_in_ms = backoff.as_millis() as u64, "partner session ended"));
                    let error = format!("{e:#}");
                    self.set_state(book, &peer_text, move |s| {
                        s.connected = false;
                        s.last_error = Some(error);
                    })
                    .await;
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    async fn sync_once(
        &self,
        book: BookId,
        peer: PeerId,
        addrs: &[Multiaddr],
    ) -> anyhow::Result<()> {
        if self.is_banned(peer).await {
            anyhow::bail!("the partner is banned for a while: it sent invalid changes");
        }
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Dial {
                peer,
                addrs: addrs.to_vec(),
                reply,
            })
            .await
            .map_err(|_| anyhow::anyhow!("the p2p event loop has stopped"))?;
        tokio::time::timeout(DIAL_TIMEOUT, rx)
            .await
            .map_err(|_| anyhow::anyhow!("dialing took longer than {DIAL_TIMEOUT:?}"))?
            .map_err(|_| anyhow::anyhow!("the p2p event loop has stopped"))?
            .map_err(|e| anyhow::anyhow!("dial failed: {e}"))?;
        let _permit = self.sessions.acquire().await?;
        let mut control = self.control.clone();
        let stream = tokio::time::timeout(DIAL_TIMEOUT, control.open_stream(peer, protocol()))
            .await
            .map_err(|_| anyhow::anyhow!("opening a stream took longer than {DIAL_TIMEOUT:?}"))?
            .map_err(|e| match e {
                libp2p_stream::OpenStreamError::UnsupportedProtocol(p) => anyhow::anyhow!(
                    "the peer does not speak {p}: it may run Kaban protocol version 1, and must upgrade to version 2"
                ),
                e => anyhow::anyhow!("{e}"),
            })?;
        session::run(self, book, peer, stream, session::Side::Dialer).await
    }

    /// Whether `peer` is refused for now, for having sent invalid changes.
    async fn is_banned(&self, peer: PeerId) -> bool {
        let (reply, rx) = oneshot::channel();
        if self
            .commands
            .send(Command::IsBanned(peer, reply))
            .await
            .is_err()
        {
            return true;
        }
        rx.await.unwrap_or(true)
    }

    /// Refuses `peer` for [`BAN_DURATION`] and closes its connections: it sent invalid changes
    /// or broke the framing. Sessions with every other peer go on.
    pub(crate) async fn ban(&self, peer: PeerId) {
        let _ = self.commands.send(Command::Ban(peer)).await;
    }

    /// A place for one more inbound stream from `peer`, within [`MAX_STREAMS_PER_PEER`] and
    /// [`MAX_INBOUND_STREAMS`].
    fn inbound_slot(&self, peer: PeerId) -> Option<InboundSlot> {
        let mut map = self.inbound.lock().expect("not poisoned");
        if map.values().sum::<usize>() >= MAX_INBOUND_STREAMS {
            return None;
        }
        let n = map.entry(peer).or_default();
        if *n >= MAX_STREAMS_PER_PEER {
            return None;
        }
        *n += 1;
        Some(InboundSlot {
            map: Arc::clone(&self.inbound),
            peer,
        })
    }

    /// A session permit, for a stream that named a book shared with its peer; `None` when
    /// [`MAX_SESSIONS`] sessions run already.
    pub(crate) fn session_permit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        Arc::clone(&self.sessions).try_acquire_owned().ok()
    }

    async fn accept(self, mut incoming: libp2p_stream::IncomingStreams) {
        while let Some((peer, stream)) = incoming.next().await {
            if self.is_banned(peer).await {
                tracing::info!(%peer, "refused a stream from a banned peer");
                continue;
            }
            let Some(slot) = self.inbound_slot(peer) else {
                tracing::debug!(%peer, "the peer holds too many sync streams; refusing another");
                continue;
            };
            let me = self.clone();
            let _ = self.spawn(async move {
                let span = tracing::info_span!("inbound", %peer);
                let result = tracing::Instrument::instrument(
                    session::accept(&me, peer, stream),
                    span.clone(),
                )
                .await;
                if let Err(e) = result {
                    span.in_scope(
                        || tracing::info!(error = %format!("{e:#}"), "inbound session ended"),
                    );
                }
                drop(slot);
            });
        }
    }
}

/// One inbound stream's place in its peer's count, given back when the stream ends.
struct InboundSlot {
    map: Arc<Mutex<HashMap<PeerId, usize>>>,
    peer: PeerId,
}

impl Drop for InboundSlot {
    fn drop(&mut self) {
        let mut map = self.map.lock().expect("not poisoned");
        if let Some(n) = map.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.peer);
            }
        }
    }
}
