//! Peer-to-peer sync over libp2p: the only module that knows libp2p.
//!
//! One event loop owns the `Swarm` (TCP, noise, yamux, identify, ping, and a stream behaviour
//! for `/kaban/sync/1`). Each book a partner syncs gets one stream, and on it one session of the
//! protocol crate's sync engine, driven by [`session`]. The node that received an invite dials
//! its partner and keeps the session up with backoff; the node that owns the book accepts a
//! session only for books whose share records name the dialer, and answers every other request
//! exactly alike, so a peer cannot learn which books exist.

mod session;

use crate::library::Library;
use anyhow::Context as _;
use futures::StreamExt as _;
use kaban_protocol::frame::PROTOCOL;
use kaban_protocol::record::BookId;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, StreamProtocol, identify, noise, ping, tcp, yamux};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;

/// Most sync sessions at once, inbound and outbound together.
pub const MAX_SESSIONS: usize = 64;
/// How long a dial may take.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(20);
/// Backoff between attempts to reach a partner: doubling from the first to the last.
pub const BACKOFF_FIRST: Duration = Duration::from_millis(500);
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// How long an idle connection stays open.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Queue of commands to the event loop.
const COMMAND_QUEUE: usize = 64;

#[derive(NetworkBehaviour)]
struct Behaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    stream: libp2p_stream::Behaviour,
}

enum Command {
    Dial {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        reply: oneshot::Sender<Result<(), String>>,
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

/// Shared view of the p2p layer for the API.
#[derive(Debug, Default)]
pub struct Status {
    pub listen: Mutex<Vec<String>>,
    pub connected: Mutex<BTreeSet<String>>,
    pub partners: Mutex<BTreeMap<(String, String), PartnerState>>,
}

/// A handle on the running p2p layer.
#[derive(Clone)]
pub struct P2p {
    pub peer_id: PeerId,
    pub status: Arc<Status>,
    commands: mpsc::Sender<Command>,
    control: libp2p_stream::Control,
    library: Arc<Library>,
    sessions: Arc<Semaphore>,
    tasks: Arc<Mutex<JoinSet<()>>>,
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

/// Starts the swarm, listens on `listen`, accepts sessions, and resumes syncing every partner
/// the operator accepted before.
pub async fn start(
    key: libp2p_identity::Keypair,
    listen: &[Multiaddr],
    library: Arc<Library>,
) -> anyhow::Result<P2p> {
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .context("setting up TCP with noise and yamux")?
        .with_behaviour(|key| Behaviour {
            identify: identify::Behaviour::new(identify::Config::new(
                "/kaban/1.0.0".into(),
                key.public(),
            )),
            ping: ping::Behaviour::default(),
            stream: libp2p_stream::Behaviour::new(),
        })
        .context("building the behaviours")?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_TIMEOUT))
        .build();
    for addr in listen {
        swarm
            .listen_on(addr.clone())
            .with_context(|| format!("listening on {addr}"))?;
    }
    let peer_id = *swarm.local_peer_id();
    let mut control = swarm.behaviour().stream.new_control();
    let incoming = control
        .accept(protocol())
        .expect("the sync protocol is registered once");
    let status = Arc::new(Status::default());
    let (commands, rx) = mpsc::channel(COMMAND_QUEUE);
    let p2p = P2p {
        peer_id,
        status: Arc::clone(&status),
        commands,
        control,
        library,
        sessions: Arc::new(Semaphore::new(MAX_SESSIONS)),
        tasks: Arc::new(Mutex::new(JoinSet::new())),
    };
    p2p.spawn(event_loop(swarm, rx, status));
    let accepting = p2p.clone();
    p2p.spawn(async move { accepting.accept(incoming).await });
    for (book, peer, addrs) in p2p.library.storage().partners().await? {
        p2p.follow(book, &peer, &addrs)?;
    }
    Ok(p2p)
}

impl P2p {
    fn spawn(&self, f: impl std::future::Future<Output = ()> + Send + 'static) {
        self.tasks.lock().expect("not poisoned").spawn(f);
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
        let me = self.clone();
        self.set_state(book, peer, |s| s.connected = false);
        self.spawn(async move { me.keep_syncing(book, peer_id, addrs).await });
        Ok(())
    }

    fn set_state(&self, book: BookId, peer: &str, f: impl FnOnce(&mut PartnerState)) {
        let mut partners = self.status.partners.lock().expect("not poisoned");
        let state = partners
            .entry((book.to_string(), peer.to_owned()))
            .or_insert_with(|| PartnerState {
                book: book.to_string(),
                peer: peer.to_owned(),
                ..PartnerState::default()
            });
        f(state);
    }

    async fn keep_syncing(self, book: BookId, peer: PeerId, addrs: Vec<Multiaddr>) {
        let mut backoff = BACKOFF_FIRST;
        let span = tracing::info_span!("partner", %book, %peer);
        loop {
            let result =
                tracing::Instrument::instrument(self.sync_once(book, peer, &addrs), span.clone())
                    .await;
            let peer_text = peer.to_string();
            match result {
                Ok(()) => backoff = BACKOFF_FIRST,
                Err(e) => {
                    span.in_scope(|| tracing::info!(error = %format!("{e:#}"), retry_in_ms = backoff.as_millis() as u64, "partner session ended"));
                    self.set_state(book, &peer_text, |s| {
                        s.connected = false;
                        s.last_error = Some(format!("{e:#}"));
                    });
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
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        session::run(self, book, peer, stream, session::Side::Dialer).await
    }

    async fn accept(self, mut incoming: libp2p_stream::IncomingStreams) {
        while let Some((peer, stream)) = incoming.next().await {
            let Ok(permit) = Arc::clone(&self.sessions).try_acquire_owned() else {
                tracing::warn!(%peer, "too many sync sessions; refusing a stream");
                continue;
            };
            let me = self.clone();
            self.spawn(async move {
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
                drop(permit);
            });
        }
    }
}

async fn event_loop(
    mut swarm: libp2p::Swarm<Behaviour>,
    mut commands: mpsc::Receiver<Command>,
    status: Arc<Status>,
) {
    let mut pending: BTreeMap<PeerId, Vec<oneshot::Sender<Result<(), String>>>> = BTreeMap::new();
    loop {
        tokio::select! {
            event = swarm.select_next_some() => match event {
                SwarmEvent::NewListenAddr { address, .. } => {
                    tracing::info!(%address, "p2p listening");
                    status.listen.lock().expect("not poisoned").push(address.to_string());
                }
                SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } => {
                    tracing::info!(peer = %peer_id, addr = %endpoint.get_remote_address(), "connected");
                    status.connected.lock().expect("not poisoned").insert(peer_id.to_string());
                    for reply in pending.remove(&peer_id).unwrap_or_default() {
                        let _ = reply.send(Ok(()));
                    }
                }
                SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
                    status.connected.lock().expect("not poisoned").remove(&peer_id.to_string());
                }
                SwarmEvent::OutgoingConnectionError { peer_id: Some(peer), error, .. } => {
                    for reply in pending.remove(&peer).unwrap_or_default() {
                        let _ = reply.send(Err(error.to_string()));
                    }
                }
                _ => {}
            },
            command = commands.recv() => match command {
                None => break,
                Some(Command::Dial { peer, addrs, reply }) => {
                    if swarm.is_connected(&peer) {
                        let _ = reply.send(Ok(()));
                        continue;
                    }
                    let opts = libp2p::swarm::dial_opts::DialOpts::peer_id(peer).addresses(addrs).build();
                    match swarm.dial(opts) {
                        Ok(()) => pending.entry(peer).or_default().push(reply),
                        Err(e) => { let _ = reply.send(Err(e.to_string())); }
                    }
                }
            },
        }
    }
}
