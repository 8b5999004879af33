//! One sync session on one stream: frames in, the library's durable sync path, frames out.
//!
//! A reader task turns bytes into frames (checking the length before buffering) and hands them
//! over a bounded channel, because a half-read frame cannot be cancelled safely; the session
//! loop waits on that channel and on the book's change notifications, so new local records go
//! out at once. A peer whose changes are refused [`MAX_REFUSED`] times, or that sends a malformed
//! message, is disconnected and banned for [`super::BAN_DURATION`].

use super::P2p;
use anyhow::{Context as _, anyhow, bail};
use futures::io::{AsyncReadExt as _, AsyncWriteExt as _, ReadHalf, WriteHalf};
use kaban_protocol::frame::Frame;
use kaban_protocol::record::BookId;
use libp2p::{PeerId, Stream};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long the dialer has to name its book.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// Refused changes after which a peer is disconnected.
pub const MAX_REFUSED: u64 = 3;
/// Frames read ahead of the session loop.
const READ_AHEAD: usize = 8;
/// The one answer to a book that is unknown or not shared with the asker.
pub const NOT_SHARED: &str = "no book with that id is shared with this node";
/// The close reason when every session permit is taken.
pub const BUSY: &str = "this node runs as many sync sessions as it allows; try again later";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Dialer,
    Listener,
}

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

/// Sends sync messages; returns the bytes sent. A peer that refuses the session closes it with
/// a reason and stops reading: that reason, not the failed write, is what the operator sees.
async fn send(
    writer: &mut WriteHalf<Stream>,
    frames: &mut Frames,
    messages: Vec<Vec<u8>>,
) -> anyhow::Result<u64> {
    let mut sent = 0;
    for message in messages {
        let frame = Frame::Sync { message };
        sent += frame.encoded_len() as u64;
        if let Err(e) = write_frame(writer, &frame).await {
            if let Some(reason) = closing_reason(frames).await {
                bail!("the partner closed the session: {reason}");
            }
            return Err(e);
        }
    }
    Ok(sent)
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

/// Closes the session with `reason` and bans the peer, which broke the sync protocol.
async fn close_and_ban(p2p: &P2p, peer: PeerId, writer: &mut WriteHalf<Stream>, reason: String) {
    let _ = write_frame(writer, &Frame::Close { reason }).await;
    p2p.ban(peer).await;
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
        return close_with(&mut writer, NOT_SHARED).await;
    }
    let Some(_permit) = p2p.session_permit() else {
        tracing::warn!(%book, "too many sync sessions; asking the peer to come back later");
        return close_with(&mut writer, BUSY).await;
    };
    drive(p2p, book, peer, reader, writer, Side::Listener).await
}

/// Runs a session on a stream this node opened.
pub async fn run(
    p2p: &P2p,
    book: BookId,
    peer: PeerId,
    stream: Stream,
    side: Side,
) -> anyhow::Result<()> {
    let (reader, mut writer) = stream.split();
    write_frame(&mut writer, &Frame::Open { book }).await?;
    drive(p2p, book, peer, reader, writer, side).await
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn drive(
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
    let sync = library.sync_session(book, &peer_text).await?;
    let mut changed = library.subscribe(book)?;
    if side == Side::Dialer {
        p2p.set_state(book, &peer_text, |s| {
            s.connected = true;
            s.last_error = None;
        });
    }
    tracing::info!(%book, %peer, ?side, "sync session started");
    // The listener speaks only after the dialer's first message. Automerge reads a message with
    // no heads as "the peer lost everything" and resends the whole book; if both sides opened
    // at once, an empty dialer would answer the listener's opening before the book arrived and
    // receive the book twice.
    let mut may_speak = side == Side::Dialer;
    // The reason for the latest refused change, named when the peer is disconnected.
    let mut last_refusal = String::new();
    loop {
        // The book's owner checks the share on every turn, so an unshare stops new changes
        // flowing at once, not at the next connection.
        if side == Side::Listener && !library.is_shared_with(book, &peer_text).await {
            write_frame(
                &mut writer,
                &Frame::Close {
                    reason: NOT_SHARED.into(),
                },
            )
            .await?;
            bail!("the book is no longer shared with this peer");
        }
        let out = if may_speak {
            sync.generate().await?
        } else {
            Vec::new()
        };
        let quiet = out.is_empty();
        let sent = send(&mut writer, &mut frames, out).await?;
        if sent > 0 {
            tracing::debug!(%book, %peer, ?side, bytes = sent, "sent sync messages");
        }
        if sent > 0 && side == Side::Dialer {
            p2p.set_state(book, &peer_text, |s| s.bytes_sent += sent);
        }
        if quiet && side == Side::Dialer {
            p2p.set_state(book, &peer_text, |s| s.in_sync = true);
        }
        tokio::select! {
            frame = frames.recv() => match frame {
                None => bail!("the stream closed"),
                Some(Err(e)) => {
                    // A frame that breaks the framing rules (too large, wrong version) is an
                    // offence; a closed or reset stream is not.
                    if e.downcast_ref::<kaban_protocol::frame::FrameError>().is_some() {
                        tracing::warn!(%book, %peer, error = %e, "refused a frame");
                        close_and_ban(p2p, peer, &mut writer, e.to_string()).await;
                    }
                    return Err(e);
                }
                Some(Ok(Frame::Sync { message })) => {
                    may_speak = true;
                    let now = crate::clock::now_ms();
                    let received = Frame::Sync { message: Vec::new() }.encoded_len() + message.len();
                    let refused_total = match sync.receive(message, now).await {
                        Ok((applied, refused_total)) => {
                            if let Some((_, refusal)) = applied.refused.last() {
                                last_refusal = format!("{}: {refusal}", refusal.code());
                            }
                            if side == Side::Dialer {
                                p2p.set_state(book, &peer_text, |s| {
                                    s.bytes_received += received as u64;
                                    s.last_synced_ms = Some(now);
                                    s.in_sync = applied.accepted.is_empty() && applied.waiting.is_empty();
                                });
                            }
                            refused_total
                        }
                        Err(crate::library::LibraryError::Sync(e)) => {
                            tracing::warn!(%book, %peer, error = %e, "refused a sync message");
                            close_and_ban(p2p, peer, &mut writer, e.to_string()).await;
                            bail!("the peer sent a malformed message: {e}");
                        }
                        Err(e) => return Err(e.into()),
                    };
                    if refused_total >= MAX_REFUSED {
                        let reason = format!("{refused_total} invalid changes refused, the last for {last_refusal}; disconnecting");
                        close_and_ban(p2p, peer, &mut writer, reason.clone()).await;
                        bail!(reason);
                    }
                }
                Some(Ok(Frame::Close { reason })) => bail!("the partner closed the session: {reason}"),
                Some(Ok(Frame::Open { .. })) => bail!("the peer sent a second open frame"),
            },
            _ = changed.changed() => {}
        }
    }
}
