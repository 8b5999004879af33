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

mod session;

use crate::library::Library;
use anyhow::Context as _;
use futures::StreamExt as _;
use kaban_protocol::frame::PROTOCOL;
use kaban_protocol::record::BookId;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::{ConnectionId, NetworkBehaviour, SwarmEvent, dial_opts::DialOpts};
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, autonat, dcutr, identify, mdns, noise, ping, relay, tcp,
    yamux,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
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

#[derive(NetworkBehaviour)]
struct Behaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    stream: libp2p_stream::Behaviour,
    relay_client: relay::client::Behaviour,
    dcutr: dcutr::Behaviour,
    autonat: autonat::Behaviour,
    mdns: Toggle<mdns::tokio::Behaviour>,
    relay: Toggle<relay::Behaviour>,
}

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

enum Command {
    Dial {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Listen(Multiaddr),
    /// Refuses the peer for [`BAN_DURATION`] and closes its connections.
    Ban(PeerId),
    IsBanned(PeerId, oneshot::Sender<bool>),
    Status(oneshot::Sender<Status>),
    Partner {
        book: BookId,
        peer: String,
        update: PartnerUpdate,
    },
    /// Answers once the node listens on at least `wanted` addresses.
    WhenListening {
        wanted: usize,
        reply: oneshot::Sender<Vec<String>>,
    },
}

/// What the API shows of a partner session.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PartnerState {
    pub book: String,
    pub peer: String,
    pub connected: bool,
    pub in_sync: bool,
    pub last_synced_ms: Option<u64>,
    pub last_error: Option<String>,
    /// Frame bytes this node sent and received in this book's sessions with the partner.
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

/// What the p2p layer knows of itself. The event loop owns it; anyone else gets a copy by
/// asking ([`P2p::status`]).
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub listen: Vec<String>,
    /// Connected peers and how: `direct`, or `relayed` when every connection runs through a
    /// relay.
    pub connected: BTreeMap<String, &'static str>,
    pub partners: BTreeMap<(String, String), PartnerState>,
    /// What AutoNAT concluded of this node's reachability: `unknown`, `public` or `private`.
    pub nat: String,
    /// The last DCUtR hole-punch outcome per peer: `upgraded`, or why it failed.
    pub hole_punch: BTreeMap<String, String>,
}

/// A change to a partner's line in the status, made by its session.
type PartnerUpdate = Box<dyn FnOnce(&mut PartnerState) + Send>;

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
    let local = key.public().to_peer_id();
    let relayed_for: Arc<RwLock<HashSet<PeerId>>> =
        Arc::new(RwLock::new(options.relay_peers.iter().copied().collect()));
    let mdns = if options.mdns {
        Some(
            mdns::tokio::Behaviour::new(mdns::Config::default(), local)
                .context("starting mDNS (disable it with --no-mdns)")?,
        )
    } else {
        None
    };
    let relay = options.relay.then(|| {
        let mut relay = relay::Behaviour::new(local, relay_config(&relayed_for));
        // libp2p enables a relay only once it has a confirmed external address; the operator's
        // --relay says this node is reachable, so its listen addresses count as external (see
        // `NewListenAddr`), and the relay is on from the start.
        relay.set_status(Some(relay::Status::Enable));
        relay
    });
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .context("setting up TCP with noise and yamux")?
        .with_quic()
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .context("setting up the relay client")?
        .with_behaviour(|key, relay_client| Behaviour {
            identify: identify::Behaviour::new(identify::Config::new(
                "/kaban/1.0.0".into(),
                key.public(),
            )),
            ping: ping::Behaviour::default(),
            stream: libp2p_stream::Behaviour::new(),
            relay_client,
            dcutr: dcutr::Behaviour::new(local),
            autonat: autonat::Behaviour::new(local, autonat::Config::default()),
            mdns: mdns.into(),
            relay: relay.into(),
        })
        .context("building the behaviours")?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_TIMEOUT))
        .build();
    let mut circuits = HashMap::new();
    for addr in &options.listen {
        let id = swarm
            .listen_on(addr.clone())
            .with_context(|| format!("listening on {addr}"))?;
        if is_relayed(addr) {
            circuits.insert(id, addr.clone());
        }
    }
    let peer_id = *swarm.local_peer_id();
    let mut control = swarm.behaviour().stream.new_control();
    let incoming = control
        .accept(protocol())
        .expect("the sync protocol is registered once");
    let status = Status {
        nat: "unknown".into(),
        ..Status::default()
    };
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
    let event_loop = EventLoop {
        swarm,
        status,
        banned: HashMap::new(),
        listening: Vec::new(),
        pending: BTreeMap::new(),
        connections: HashMap::new(),
        circuits,
        circuit_backoff: HashMap::new(),
        retries: JoinSet::new(),
    };
    let _ = p2p.spawn(event_loop.run(rx));
    let accepting = p2p.clone();
    let _ = p2p.spawn(async move { accepting.accept(incoming).await });
    let _ = p2p.spawn(refuse_version_1(p2p.control.clone()));
    for (book, peer, addrs) in p2p.library.storage().partners().await? {
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

/// The relay server's configuration: raised limits, and only for the peers in `allowed`.
fn relay_config(allowed: &Arc<RwLock<HashSet<PeerId>>>) -> relay::Config {
    let mut config = relay::Config {
        max_reservations: RELAY_MAX_RESERVATIONS,
        max_circuits: RELAY_MAX_CIRCUITS,
        max_circuit_duration: RELAY_CIRCUIT_DURATION,
        max_circuit_bytes: RELAY_CIRCUIT_BYTES,
        ..relay::Config::default()
    };
    config
        .reservation_rate_limiters
        .push(partners_only(allowed, "a relay reservation"));
    config
        .circuit_src_rate_limiters
        .push(partners_only(allowed, "a relayed connection"));
    config
}

/// A relay limiter that lets through only the peers in `allowed`, logging each refusal of
/// `what`.
fn partners_only(
    allowed: &Arc<RwLock<HashSet<PeerId>>>,
    what: &'static str,
) -> Box<dyn relay::RateLimiter> {
    let allowed = Arc::clone(allowed);
    Box::new(move |peer: PeerId, _: &Multiaddr, _: web_time::Instant| {
        let ok = allowed.read().expect("not poisoned").contains(&peer);
        if !ok {
            tracing::info!(%peer, "refused {what}: not a partner");
        }
        ok
    })
}

/// Whether an address runs through a relay.
fn is_relayed(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| p == Protocol::P2pCircuit)
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

/// The event loop's state: the swarm and what it tracks of connections and listeners.
struct EventLoop {
    swarm: libp2p::Swarm<Behaviour>,
    status: Status,
    /// Peers refused until the given time, for having broken the sync protocol.
    banned: HashMap<PeerId, Instant>,
    /// Who waits for the node to listen on so many addresses.
    listening: Vec<(usize, oneshot::Sender<Vec<String>>)>,
    pending: BTreeMap<PeerId, Vec<oneshot::Sender<Result<(), String>>>>,
    /// Open connections per peer, and whether each runs through a relay.
    connections: HashMap<PeerId, HashMap<ConnectionId, bool>>,
    /// Relay circuit listeners, re-made with backoff when they close.
    circuits: HashMap<libp2p::core::transport::ListenerId, Multiaddr>,
    circuit_backoff: HashMap<Multiaddr, Duration>,
    /// Relay listeners waiting out their backoff; the loop owns these timers and listens again
    /// when one ends.
    retries: JoinSet<Multiaddr>,
}

impl EventLoop {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_event(event),
                command = commands.recv() => match command {
                    None => break,
                    Some(command) => self.on_command(command),
                },
                Some(Ok(addr)) = self.retries.join_next(), if !self.retries.is_empty() => {
                    self.on_command(Command::Listen(addr));
                }
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Dial { peer, addrs, reply } => {
                if self.swarm.is_connected(&peer) {
                    let _ = reply.send(Ok(()));
                    return;
                }
                let opts = DialOpts::peer_id(peer).addresses(addrs).build();
                match self.swarm.dial(opts) {
                    Ok(()) => self.pending.entry(peer).or_default().push(reply),
                    Err(e) => {
                        let _ = reply.send(Err(e.to_string()));
                    }
                }
            }
            Command::Listen(addr) => match self.swarm.listen_on(addr.clone()) {
                Ok(id) => {
                    self.circuits.insert(id, addr);
                }
                Err(e) => {
                    tracing::warn!(%addr, error = %e, "cannot listen through the relay");
                    self.retry_circuit(addr);
                }
            },
            Command::Ban(peer) => {
                tracing::warn!(%peer, minutes = BAN_DURATION.as_secs() / 60, "banning a peer that broke the sync protocol");
                self.banned.insert(peer, Instant::now() + BAN_DURATION);
                let _ = self.swarm.disconnect_peer_id(peer);
            }
            Command::IsBanned(peer, reply) => {
                let now = Instant::now();
                self.banned.retain(|_, until| *until > now);
                let _ = reply.send(self.banned.contains_key(&peer));
            }
            Command::Status(reply) => {
                let _ = reply.send(self.status.clone());
            }
            Command::Partner { book, peer, update } => {
                let state = self
                    .status
                    .partners
                    .entry((book.to_string(), peer.clone()))
                    .or_insert_with(|| PartnerState {
                        book: book.to_string(),
                        peer,
                        ..PartnerState::default()
                    });
                update(state);
            }
            Command::WhenListening { wanted, reply } => {
                self.listening.push((wanted, reply));
                self.answer_listening();
            }
        }
    }

    /// Answers whoever waits for as many listen addresses as the node has now.
    fn answer_listening(&mut self) {
        let have = self.status.listen.len();
        let (ready, waiting) = std::mem::take(&mut self.listening)
            .into_iter()
            .partition(|(wanted, _)| *wanted <= have);
        self.listening = waiting;
        for (_, reply) in ready {
            let _ = reply.send(self.status.listen.clone());
        }
    }

    /// Listens on a relay circuit address again after a backoff that doubles per failure.
    fn retry_circuit(&mut self, addr: Multiaddr) {
        let backoff = self
            .circuit_backoff
            .get(&addr)
            .copied()
            .unwrap_or(BACKOFF_FIRST);
        self.circuit_backoff
            .insert(addr.clone(), (backoff * 2).min(BACKOFF_MAX));
        tracing::info!(%addr, retry_in_ms = backoff.as_millis() as u64, "relay listener closed");
        self.retries.spawn(async move {
            tokio::time::sleep(backoff).await;
            addr
        });
    }

    fn publish_connected(&mut self, peer: PeerId) {
        let connected = &mut self.status.connected;
        match self.connections.get(&peer) {
            Some(conns) if !conns.is_empty() => {
                let how = if conns.values().all(|relayed| *relayed) {
                    "relayed"
                } else {
                    "direct"
                };
                connected.insert(peer.to_string(), how);
            }
            _ => {
                connected.remove(&peer.to_string());
            }
        }
    }

    fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr {
                address,
                listener_id,
            } => {
                tracing::info!(%address, "p2p listening");
                if let Some(addr) = self.circuits.get(&listener_id) {
                    self.circuit_backoff.remove(addr);
                }
                // A relay tells the peers it serves where it can be reached; in relay mode the
                // operator has said its own addresses are reachable.
                if self.swarm.behaviour().relay.is_enabled() && !is_relayed(&address) {
                    self.swarm.add_external_address(address.clone());
                }
                self.status.listen.push(address.to_string());
                self.answer_listening();
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                let text = address.to_string();
                self.status.listen.retain(|a| *a != text);
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                addresses,
                reason,
            } => {
                for address in &addresses {
                    let text = address.to_string();
                    self.status.listen.retain(|a| *a != text);
                }
                if let Err(e) = &reason {
                    tracing::info!(error = %e, "a listener closed");
                }
                if let Some(addr) = self.circuits.remove(&listener_id) {
                    self.retry_circuit(addr);
                }
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } => {
                let remote = endpoint.get_remote_address();
                let banned = self
                    .banned
                    .get(&peer_id)
                    .is_some_and(|until| *until > Instant::now());
                if banned {
                    tracing::info!(peer = %peer_id, "closing a connection from a banned peer");
                    let _ = self.swarm.close_connection(connection_id);
                    return;
                }
                tracing::info!(peer = %peer_id, addr = %remote, "connected");
                self.connections
                    .entry(peer_id)
                    .or_default()
                    .insert(connection_id, is_relayed(remote));
                self.publish_connected(peer_id);
                for reply in self.pending.remove(&peer_id).unwrap_or_default() {
                    let _ = reply.send(Ok(()));
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                ..
            } => {
                if let Some(conns) = self.connections.get_mut(&peer_id) {
                    conns.remove(&connection_id);
                    if conns.is_empty() {
                        self.connections.remove(&peer_id);
                    }
                }
                self.publish_connected(peer_id);
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer),
                error,
                ..
            } => {
                for reply in self.pending.remove(&peer).unwrap_or_default() {
                    let _ = reply.send(Err(error.to_string()));
                }
            }
            SwarmEvent::Behaviour(event) => self.on_behaviour(event),
            _ => {}
        }
    }

    fn on_behaviour(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                // Remember where the peer listens, so DCUtR and later dials can use it.
                for addr in info.listen_addrs {
                    self.swarm.add_peer_address(peer_id, addr);
                }
            }
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => {
                for (peer, addr) in found {
                    tracing::info!(%peer, %addr, "found a node on the LAN");
                    self.swarm.add_peer_address(peer, addr);
                    if !self.swarm.is_connected(&peer) {
                        let opts = DialOpts::peer_id(peer)
                            .condition(
                                libp2p::swarm::dial_opts::PeerCondition::DisconnectedAndNotDialing,
                            )
                            .build();
                        if let Err(e) = self.swarm.dial(opts) {
                            tracing::debug!(%peer, error = %e, "could not dial a LAN peer");
                        }
                    }
                }
            }
            BehaviourEvent::RelayClient(relay::client::Event::ReservationReqAccepted {
                relay_peer_id,
                renewal: false,
                ..
            }) => {
                tracing::info!(relay = %relay_peer_id, "reserved a slot on the relay");
            }
            BehaviourEvent::Dcutr(dcutr::Event {
                remote_peer_id,
                result,
            }) => {
                let outcome = match result {
                    Ok(_) => {
                        tracing::info!(peer = %remote_peer_id, "hole punch succeeded: the connection is direct");
                        "upgraded".to_owned()
                    }
                    Err(e) => {
                        tracing::info!(peer = %remote_peer_id, error = %e, "hole punch failed: staying relayed");
                        e.to_string()
                    }
                };
                self.status
                    .hole_punch
                    .insert(remote_peer_id.to_string(), outcome);
            }
            BehaviourEvent::Autonat(autonat::Event::StatusChanged { new, .. }) => {
                let text = match new {
                    autonat::NatStatus::Public(_) => "public",
                    autonat::NatStatus::Private => "private",
                    autonat::NatStatus::Unknown => "unknown",
                };
                tracing::info!(nat = text, "reachability changed");
                self.status.nat = text.into();
            }
            BehaviourEvent::Relay(event) => tracing::debug!(?event, "relay"),
            _ => {}
        }
    }
}
