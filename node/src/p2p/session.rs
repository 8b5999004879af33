//! The driver of one sync session on one stream: frames in, the book's task, frames out.
//!
//! The session's rules (who speaks first, refused changes and bans, the share re-check, closes)
//! are the protocol's state machine (`kaban_protocol::sync::session`), which the book's task
//! holds; this driver only moves bytes. A reader task turns bytes into frames (checking the
//! length before buffering) and hands them over a bounded channel, because a half-read frame
//! cannot be cancelled safely; the loop waits on that channel and on the book's change
//! notifications, so new local records go out at once.

use super::P2p;
use anyhow::{Context as _, anyhow, bail};
use futures::io::{AsyncReadExt as _, AsyncWriteExt as _, ReadHalf, WriteHalf};
use kaban_protocol::frame::Frame;
use kaban_protocol::record::BookId;
use kaban_protocol::sync::session::{Action, Event};
use libp2p::{PeerId, Stream};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long the dialer has to name its book.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// Frames read ahead of the session loop.
const READ_AHEAD: usize = 8;
pub use kaban_protocol::sync::session::{NOT_SHARED, Side};
/// The close reason when every session permit is taken.
pub const BUSY: &str = "this node runs as many sync sessions as it allows; try again later";

async fn read_frame(reader: &mut ReadHalf<Stream>) -> anyhow::Result<Frame> {
    let mut header = [0u8; 4];
    reader
        .read_exact(&mut header)
        .await
        .context("reading a frame header")?;
    let len = Frame::announced_len(header)?;
    let mut body = vec![0u8; len];
    reader
        .read_exact(&mut body)
        .await
        .context("reading a frame")?;
    Ok(Frame::from_body(&body)?)
}

async fn write_frame(writer: &mut WriteHalf<Stream>, frame: &Frame) -> anyhow::Result<()> {
    writer
        .write_all(&frame.to_bytes())
        .await
        .context("writing a frame")?;
    writer.flush().await.context("flushing")?;
    Ok(())
}

type Frames = mpsc::Receiver<anyhow::Result<Frame>>;

/// Reads frames ahead on a task of their own, until the stream ends or breaks the framing.
fn read_ahead(mut reader: ReadHalf<Stream>) -> (Frames, AbortOnDrop) {
    let (frames_tx, frames) = mpsc::channel(READ_AHEAD);
    let task = AbortOnDrop(tokio::spawn(async move {
        loop {
            let frame = read_frame(&mut reader).await;
            let stop = frame.is_err();
            if frames_tx.send(frame).await.is_err() || stop {
                break;
            }
        }
    }));
    (frames, task)
}

/// Writes a frame; returns its size. A peer that refuses the session closes it with a reason
/// and stops reading: that reason, not the failed write, is what the operator sees.
async fn send(
    writer: &mut WriteHalf<Stream>,
    frames: &mut Frames,
    frame: &Frame,
) -> anyhow::Result<u64> {
    if let Err(e) = write_frame(writer, frame).await {
        if let Some(reason) = closing_reason(frames).await {
            bail!("the partner closed the session: {reason}");
        }
        return Err(e);
    }
    Ok(frame.encoded_len() as u64)
}

/// The reason of a close frame the peer sent before it stopped reading, if one arrives soon.
async fn closing_reason(frames: &mut Frames) -> Option<String> {
    let deadline = tokio::time::sleep(Duration::from_millis(500));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            frame = frames.recv() => match frame {
                Some(Ok(Frame::Close { reason })) => return Some(reason),
                Some(Ok(_)) => {}
                _ => return None,
            },
            () = &mut deadline => return None,
        }
    }
}

/// Ends a stream with a close frame that says why.
async fn close_with(writer: &mut WriteHalf<Stream>, reason: &str) -> anyhow::Result<()> {
    write_frame(
        writer,
        &Frame::Close {
            reason: reason.into(),
        },
    )
    .await?;
    let _ = writer.close().await;
    Ok(())
}

/// How long a refusing node keeps reading after its close frame, at most.
const LINGER: Duration = Duration::from_secs(2);

/// Reads and drops what the peer still sends, until it ends its side or [`LINGER`] passes.
/// Dropping the stream at once would stop the peer's sending, and a peer busy writing its first
/// frames would then fail on a write before it read the close frame that says why.
async fn linger(reader: &mut ReadHalf<Stream>) -> anyhow::Result<()> {
    let mut buf = [0u8; 1024];
    let _ = tokio::time::timeout(LINGER, async {
        while matches!(reader.read(&mut buf).await, Ok(n) if n > 0) {}
    })
    .await;
    Ok(())
}

/// Serves a stream a peer opened: it must name a book shared with that peer.
pub async fn accept(p2p: &P2p, peer: PeerId, stream: Stream) -> anyhow::Result<()> {
    let (mut reader, mut writer) = stream.split();
    let first = tokio::time::timeout(OPEN_TIMEOUT, read_frame(&mut reader))
        .await
        .map_err(|_| anyhow!("the peer named no book within {OPEN_TIMEOUT:?}"))??;
    let Frame::Open { book } = first else {
        bail!("the peer's first frame was not an open frame");
    };
    if !p2p.library.contains(book) || !p2p.library.is_shared_with(book, &peer.to_string()).await {
        tracing::info!(%book, "refused a session for a book not shared with this peer");
        close_with(&mut writer, NOT_SHARED).await?;
        return linger(&mut reader).await;
    }
    let Some(_permit) = p2p.session_permit() else {
        tracing::warn!(%book, "too many sync sessions; asking the peer to come back later");
        close_with(&mut writer, BUSY).await?;
        return linger(&mut reader).await;
    };
    drive(p2p, book, peer, reader, writer, Side::Listener).await
}

/// Runs a session on a stream this node opened (the session names the book first).
pub async fn run(
    p2p: &P2p,
    book: BookId,
    peer: PeerId,
    stream: Stream,
    side: Side,
) -> anyhow::Result<()> {
    let (reader, writer) = stream.split();
    drive(p2p, book, peer, reader, writer, side).await
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs one session to its end; then the partner is neither connected nor in sync in this
/// book's state, however the session ended, so no view shows a session that is gone.
async fn drive(
    p2p: &P2p,
    book: BookId,
    peer: PeerId,
    reader: ReadHalf<Stream>,
    writer: WriteHalf<Stream>,
    side: Side,
) -> anyhow::Result<()> {
    let result = drive_session(p2p, book, peer, reader, writer, side).await;
    p2p.set_state(book, &peer.to_string(), |s| {
        s.connected = false;
        s.in_sync = false;
    })
    .await;
    result
}

/// Moves one session's frames: each event goes to the book's task, which runs the session and
/// stores what it accepts; what comes back is sent, or ends the session.
async fn drive_session(
    p2p: &P2p,
    book: BookId,
    peer: PeerId,
    reader: ReadHalf<Stream>,
    mut writer: WriteHalf<Stream>,
    side: Side,
) -> anyhow::Result<()> {
    let peer_text = peer.to_string();
    let (mut frames, _reader) = read_ahead(reader);
    let library = &p2p.library;
    let mut changed = library.subscribe(book)?;
    let (session, mut turn) = library
        .sync_session(book, &peer_text, side, crate::clock::now_ms())
        .await?;
    // Both sides keep the partner's state: a listener got here only for a book shared with
    // the peer, so a stranger adds nothing to it.
    p2p.set_state(book, &peer_text, |s| {
        s.connected = true;
        s.last_error = None;
    })
    .await;
    tracing::info!(%book, %peer, ?side, "sync session started");
    let metrics = library.metrics();
    metrics.sync_session(match side {
        Side::Dialer => "dialer",
        Side::Listener => "listener",
    });
    // Frame bytes of the event that led to this turn, for the partner's status.
    let mut received = 0;
    loop {
        let mut sent = 0;
        for code in std::mem::take(&mut turn.refused) {
            metrics.refused_change(code);
        }
        for action in std::mem::take(&mut turn.actions) {
            match action {
                Action::Send(frame) => sent += send(&mut writer, &mut frames, &frame).await?,
                Action::Close { reason, ban } => {
                    tracing::warn!(%book, %peer, %reason, ban, "closing a sync session");
                    let _ = write_frame(
                        &mut writer,
                        &Frame::Close {
                            reason: reason.clone(),
                        },
                    )
                    .await;
                    let _ = writer.close().await;
                    if ban {
                        metrics.ban();
                        p2p.ban(peer).await;
                    }
                    bail!(reason);
                }
                Action::PeerClosed { reason } => bail!("the partner closed the session: {reason}"),
                Action::Store { .. } | Action::Received(_) => {
                    unreachable!("the book's task performs these")
                }
            }
        }
        metrics.sync_bytes(sent, received);
        let status = turn.status;
        let now = crate::clock::now_ms();
        p2p.set_state(book, &peer_text, move |s| {
            s.bytes_sent += sent;
            s.in_sync = status.in_sync;
            s.bytes_received += received;
            // Last synced: when changes last came in, or the two last agreed they hold the same.
            if received > 0 || status.in_sync {
                s.last_synced_ms = Some(now);
            }
        })
        .await;
        if sent > 0 {
            tracing::debug!(%book, %peer, ?side, bytes = sent, "sent sync messages");
        }
        let event;
        (event, received) = tokio::select! {
            frame = frames.recv() => match frame {
                None => bail!("the stream closed"),
                Some(Ok(frame)) => {
                    let size = frame.encoded_len() as u64;
                    (Event::Frame(frame), size)
                }
                // A frame that breaks the framing rules (too large, wrong version) is an
                // offence the session answers; a closed or reset stream is not.
                Some(Err(e)) => match e.downcast::<kaban_protocol::frame::FrameError>() {
                    Ok(error) => (Event::FrameError(error), 0),
                    Err(e) => return Err(e),
                },
            },
            _ = changed.changed() => (Event::BookChanged, 0),
        };
        turn = session.handle(event, crate::clock::now_ms()).await?;
    }
}
