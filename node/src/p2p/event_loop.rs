//! The event loop that owns the `Swarm`: it builds the network behaviours, takes commands from
//! the [`super::P2p`] handles, and keeps what the p2p layer knows of itself (listeners,
//! connections, NAT, hole punches, partners' sessions, bans). Nobody else holds that state;
//! they ask for a copy.

use super::{
    BACKOFF_FIRST, BACKOFF_MAX, BAN_DURATION, IDLE_TIMEOUT, Options, PartnerState,
    RELAY_CIRCUIT_BYTES, RELAY_CIRCUIT_DURATION, RELAY_MAX_CIRCUITS, RELAY_MAX_RESERVATIONS,
};
use anyhow::Context as _;
use futures::StreamExt as _;
use kaban_protocol::record::BookId;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::{ConnectionId, NetworkBehaviour, SwarmEvent, dial_opts::DialOpts};
use libp2p::{Multiaddr, PeerId, autonat, dcutr, identify, mdns, noise, ping, relay, tcp, yamux};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

/// The swarm, listening on the configured addresses, and the listeners that are relay
/// circuits (re-made with backoff when they close).
pub(super) fn swarm(
    key: libp2p_identity::Keypair,
    options: &Options,
    relayed_for: &Arc<RwLock<HashSet<PeerId>>>,
) -> anyhow::Result<(libp2p::Swarm<Behaviour>, Circuits)> {
    let local = key.public().to_peer_id();
    let mdns = if options.mdns {
        Some(
            mdns::tokio::Behaviour::new(mdns::Config::default(), local)
                .context("starting mDNS (disable it with --no-mdns)")?,
        )
    } else {
        None
    };
    let relay = options.relay.then(|| {
        let mut relay = relay::Behaviour::new(local, relay_config(relayed_for));
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
    Ok((swarm, circuits))
}

type Circuits = HashMap<libp2p::core::transport::ListenerId, Multiaddr>;

#[derive(NetworkBehaviour)]
pub(super) struct Behaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    pub(super) stream: libp2p_stream::Behaviour,
    relay_client: relay::client::Behaviour,
    dcutr: dcutr::Behaviour,
    autonat: autonat::Behaviour,
    mdns: Toggle<mdns::tokio::Behaviour>,
    relay: Toggle<relay::Behaviour>,
}

pub(super) enum Command {
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
    /// How many peers are banned now.
    pub banned: usize,
}

/// A change to a partner's line in the status, made by its session.
type PartnerUpdate = Box<dyn FnOnce(&mut PartnerState) + Send>;

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
pub(super) fn is_relayed(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| p == Protocol::P2pCircuit)
}

/// The event loop's state: the swarm and what it tracks of connections and listeners.
pub(super) struct EventLoop {
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
    circuits: Circuits,
    circuit_backoff: HashMap<Multiaddr, Duration>,
    /// Relay listeners waiting out their backoff; the loop owns these timers and listens again
    /// when one ends.
    retries: JoinSet<Multiaddr>,
}

impl EventLoop {
    pub(super) fn new(swarm: libp2p::Swarm<Behaviour>, circuits: Circuits) -> EventLoop {
        EventLoop {
            swarm,
            status: Status {
                nat: "unknown".into(),
                ..Status::default()
            },
            banned: HashMap::new(),
            listening: Vec::new(),
            pending: BTreeMap::new(),
            connections: HashMap::new(),
            circuits,
            circuit_backoff: HashMap::new(),
            retries: JoinSet::new(),
        }
    }

    pub(super) async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
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
                let now = Instant::now();
                let mut status = self.status.clone();
                status.banned = self.banned.values().filter(|until| **until > now).count();
                let _ = reply.send(status);
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
