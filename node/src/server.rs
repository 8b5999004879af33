//! The HTTP and HTTPS accept loop: every connection is bounded in number, per address, and in
//! time, so that nobody on the LAN can hold the node's sockets or file descriptors.
//!
//! Every bound comes from the configuration's `[limits]` (see `config::Limits`):
//! - One connection cap is shared by HTTP and HTTPS; beyond it new connections wait in the
//!   kernel's backlog instead of taking descriptors.
//! - One address may hold only so many; more are closed at once.
//! - A TLS handshake must finish within [`HANDSHAKE_TIMEOUT`], a request's headers within the
//!   header timeout, and a connection that moves no byte for the idle timeout is closed (a
//!   kept-alive connection between requests, or a stalled body). The router bounds each
//!   request's whole handling by the request timeout.

use crate::api::ClientAddr;
use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// After the node asks a connection to close at shutdown, how long its requests in flight may
/// still take.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// The connection slots, shared by the HTTP and HTTPS listeners.
#[derive(Debug)]
pub struct Limits {
    slots: Arc<Semaphore>,
    per_address: Mutex<HashMap<IpAddr, usize>>,
    max: usize,
    max_per_address: usize,
    header_timeout: Duration,
    idle_timeout: Duration,
}

/// One connection's slot and its address's count, given back when it closes.
struct Slot {
    limits: Arc<Limits>,
    addr: IpAddr,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.limits.per_address.lock().expect("not poisoned");
        if let Some(n) = map.get_mut(&self.addr) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.addr);
            }
        }
    }
}

impl Limits {
    pub fn new(limits: &crate::config::Limits) -> Arc<Limits> {
        Arc::new(Limits {
            slots: Arc::new(Semaphore::new(limits.max_connections)),
            per_address: Mutex::new(HashMap::new()),
            max: limits.max_connections,
            max_per_address: limits.max_connections_per_address,
            header_timeout: limits.header_timeout,
            idle_timeout: limits.idle_timeout,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.max - self.slots.available_permits()
    }

    fn admit(self: &Arc<Self>, addr: IpAddr, permit: OwnedSemaphorePermit) -> Option<Slot> {
        let mut map = self.per_address.lock().expect("not poisoned");
        let n = map.entry(addr).or_default();
        if *n >= self.max_per_address {
            return None;
        }
        *n += 1;
        Some(Slot {
            limits: Arc::clone(self),
            addr,
            _permit: permit,
        })
    }
}

/// Serves `router` on `listener` (over TLS when `tls` is given) until `shutdown` resolves,
/// within `limits`. Connections still open at shutdown are asked to finish and given
/// [`CLOSE_GRACE`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    router: axum::Router,
    limits: Arc<Limits>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let mut connections = tokio::task::JoinSet::new();
    let mut stop = shutdown.clone();
    loop {
        // Reap finished connections as we go, so the set holds only live ones.
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            () = stopping(&mut stop) => break,
            p = Arc::clone(&limits.slots).acquire_owned() => p.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            () = stopping(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, say: wait a little rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let addr = address_of(peer.ip());
        let Some(slot) = limits.admit(addr, permit) else {
            tracing::debug!(%peer, "closed a connection: its address holds too many");
            continue;
        };
        let router = router.clone().layer(axum::Extension(ClientAddr(addr)));
        let (acceptor, shutdown) = (acceptor.clone(), shutdown.clone());
        let times = (limits.header_timeout, limits.idle_timeout);
        connections.spawn(async move {
            let _slot = slot;
            let _ = stream.set_nodelay(true);
            match acceptor {
                None => serve_connection(stream, router, times, shutdown).await,
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => serve_connection(tls, router, times, shutdown).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    let deadline = tokio::time::sleep(CLOSE_GRACE * 2);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            joined = connections.join_next() => if joined.is_none() { break },
            () = &mut deadline => {
                connections.abort_all();
                break;
            }
        }
    }
}

/// The address a connection counts under: an IPv4 address, or an IPv6 /64 (one device or one
/// LAN can hold a whole /64, so counting single IPv6 addresses would bound nothing).
pub fn address_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                IpAddr::V6(octets.into())
            }
        },
        v4 => v4,
    }
}

/// Resolves once the node is stopping (or the signal is gone).
async fn stopping(rx: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Serves one connection until it ends, moves no byte for `idle_timeout`, or the node stops.
async fn serve_connection<S>(
    stream: S,
    router: axum::Router,
    (header_timeout, idle_timeout): (Duration, Duration),
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let started = Instant::now();
    let last = Arc::new(AtomicU64::new(0));
    let io = Watched {
        inner: stream,
        started,
        last: Arc::clone(&last),
    };
    let service = hyper_util::service::TowerToHyperService::new(router);
    let mut builder =
        hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout);
    builder
        .http2()
        .timer(hyper_util::rt::TokioTimer::new())
        .max_concurrent_streams(32);
    let conn = builder.serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut tick = tokio::time::interval(idle_timeout / 4);
    // Idle for the idle timeout: asked to close (a request in flight may finish). Idle for
    // twice that, with a request still stuck (a client that stopped reading): dropped.
    let mut asked = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = stopping(&mut shutdown) => break,
            _ = tick.tick() => {
                let idle = started.elapsed().saturating_sub(Duration::from_millis(last.load(Ordering::Relaxed)));
                if idle >= idle_timeout * 2 {
                    tracing::debug!("dropped a connection that moved nothing after it was asked to close");
                    return;
                }
                if idle >= idle_timeout && !asked {
                    asked = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
    tracing::debug!("closing a connection: the node is stopping");
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(CLOSE_GRACE, conn).await;
}

/// A stream that notes when it last moved a byte, in milliseconds since `started`.
struct Watched<S> {
    inner: S,
    started: Instant,
    last: Arc<AtomicU64>,
}

impl<S> Watched<S> {
    fn touch(&self) {
        self.last
            .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_count_by_their_64_bit_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_of(a), address_of(b));
        assert_ne!(address_of(a), address_of(c));
        let mapped: IpAddr = "::ffff:192.168.1.20".parse().unwrap();
        assert_eq!(
            address_of(mapped),
            "192.168.1.20".parse::<IpAddr>().unwrap()
        );
    }
}
