//! A hostile libp2p peer, written by hand for the attack tests: it speaks `/kaban/sync/2` with
//! the same transport as a real node (TCP, noise, yamux), so the node under attack cannot tell
//! it from a partner until it misbehaves. What it sends is built with the real automerge library.

use automerge::Change;
use automerge::sync::{Message, MessageVersion};
use futures::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};
use kaban_protocol::book::Book;
use kaban_protocol::frame::{Frame, PROTOCOL};
use kaban_protocol::sync::PeerSync;
use libp2p::{Multiaddr, PeerId, Stream, StreamProtocol, noise, tcp, yamux};
use std::time::{Duration, Instant};

/// A libp2p peer speaking `/kaban/sync/2` by hand.
pub struct Peer {
    pub id: PeerId,
    control: libp2p_stream::Control,
    /// Addresses for the swarm's task to dial; it owns the swarm.
    dialer: tokio::sync::mpsc::Sender<Multiaddr>,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Peer {
    pub fn new(seed: u8) -> Peer {
        let key = libp2p_identity::Keypair::ed25519_from_bytes([seed; 32]).unwrap();
        let id = key.public().to_peer_id();
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
            .with_tokio()
            .with_tcp(
                tcp::Config::default(),
                noise::Config::new,
                yamux::Config::default,
            )
            .unwrap()
            .with_behaviour(|_| libp2p_stream::Behaviour::new())
            .unwrap()
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build();
        let control = swarm.behaviour().new_control();
        let (dialer, mut dials) = tokio::sync::mpsc::channel::<Multiaddr>(4);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = swarm.select_next_some() => {}
                    addr = dials.recv() => match addr {
                        Some(addr) => { let _ = swarm.dial(addr); }
                        None => break,
                    },
                }
            }
        });
        Peer {
            id,
            control,
            dialer,
        }
    }

    /// Opens a sync stream to `node`, dialing `addr` first.
    pub async fn open(&mut self, node: PeerId, addr: &Multiaddr) -> anyhow::Result<Stream> {
        self.dialer.send(addr.clone()).await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.stream(node).await
    }
}

impl Peer {
    /// Opens another sync stream to `node`, on a connection already made by [`Peer::open`].
    pub async fn stream(&mut self, node: PeerId) -> anyhow::Result<Stream> {
        let stream = tokio::time::timeout(
            Duration::from_secs(10),
            self.control
                .open_stream(node, StreamProtocol::new(PROTOCOL)),
        )
        .await??;
        Ok(stream)
    }
}

pub async fn write(stream: &mut Stream, frame: &Frame) -> std::io::Result<()> {
    stream.write_all(&frame.to_bytes()).await?;
    stream.flush().await
}

/// Reads one frame, or `None` when the stream ends or stays silent for `wait`.
pub async fn read(stream: &mut Stream, wait: Duration) -> Option<Frame> {
    let read = async {
        let mut header = [0u8; 4];
        stream.read_exact(&mut header).await.ok()?;
        let len = Frame::announced_len(header).ok()?;
        let mut body = vec![0u8; len];
        stream.read_exact(&mut body).await.ok()?;
        Frame::from_body(&body).ok()
    };
    tokio::time::timeout(wait, read).await.ok().flatten()
}

/// Syncs honestly until the peer holds `records` records, as a partner would.
pub async fn receive_book(stream: &mut Stream, book: &mut Book, records: usize) -> PeerSync {
    let mut sync = PeerSync::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while book.record_count() < records {
        assert!(Instant::now() < deadline, "the book never arrived");
        while let Some(m) = sync.generate(book) {
            write(stream, &Frame::Sync { message: m }).await.unwrap();
        }
        match read(stream, Duration::from_secs(10)).await {
            Some(Frame::Sync { message }) => {
                let applied = sync.receive(book, &message).unwrap();
                assert!(applied.refused.is_empty());
            }
            other => panic!("expected a sync frame, got {other:?}"),
        }
    }
    sync
}

/// One sync message carrying `changes`, announcing the last as the sender's head, as a hostile
/// peer would send it.
pub fn message_of(changes: &[Change]) -> Vec<u8> {
    Message {
        heads: changes.last().map(Change::hash).into_iter().collect(),
        need: vec![],
        have: vec![],
        changes: changes
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect::<Vec<_>>()
            .into(),
        flags: None,
        version: MessageVersion::V1,
    }
    .encode()
}
