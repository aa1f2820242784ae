//! Accepting connections: at most `max_connections` open at once (past it a new one is closed at
//! once, so the server never runs out of descriptors), TLS when configured, and every connection
//! guarded (see [`guard`]) from its first byte: a peer that never finishes its handshake, never
//! sends a request, sits idle or floods control frames is closed, instead of holding a descriptor
//! and a task forever.

mod guard;
mod tls;

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;

pub(crate) use guard::{CallOnConnection, ConnectionInfo, Guarded, Protocol};

pub(crate) use tls::tls_acceptor;
pub use tls::{TlsError, TlsOptions};

use super::metrics::{ConnectionRefusal, Metrics};

/// How connections are bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once, over the gRPC and health listeners; one more is closed at once.
    pub max_connections: usize,
    /// Connections open at once on the metrics listener, which has a pool of its own so that
    /// neither port can take the other's.
    pub max_metrics_connections: usize,
    /// How long a new connection has to finish its handshakes (TCP, TLS, HTTP/2) and send its
    /// first request.
    pub handshake_timeout: Duration,
    /// How long a connection may go without a call in progress before it is closed.
    pub idle_timeout: Duration,
    /// PING and SETTINGS frames a peer may send at once before it must slow down.
    pub control_frame_burst: u32,
    /// Then how many per second.
    pub control_frames_per_second: u32,
}

impl Default for ConnectionLimits {
    /// 4,096 connections (within a default descriptor limit of a container) and 64 for metrics
    /// (a scraper keeps one open; an HA pair and a few people with curl fit many times over), 10
    /// s to start, 15 minutes idle (longer than clients' own idle timeouts, so they close first),
    /// and control frames at 256 at once then 32 a second: a keepalive ping every 10 s, or a
    /// client's bandwidth probes, stay far below it.
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 4096,
            max_metrics_connections: 64,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(15 * 60),
            control_frame_burst: 256,
            control_frames_per_second: 32,
        }
    }
}

/// A connection's bytes: plaintext, or TLS.
pub(crate) enum Stream {
    /// Plaintext TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

/// Accepts connections on `listener` and hands them on guarded for `protocol`, TLS first when
/// `tls` is given. Each holds one of `slots`, shared by the listeners whose connections count
/// together.
pub(crate) fn incoming(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    protocol: Protocol,
    limits: ConnectionLimits,
    slots: Arc<Semaphore>,
    metrics: Arc<Metrics>,
) -> ReceiverStream<io::Result<Guarded<Stream>>> {
    let (ready, connections) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let (socket, remote) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Running out of descriptors or memory is momentary: wait and go on.
                        tracing::warn!(%error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                // The server stopped taking connections.
                () = ready.closed() => return,
            };
            let accepted = Instant::now();
            let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                metrics.refused_connection(ConnectionRefusal::MaxConnections);
                drop(socket);
                continue;
            };
            // Without it, a stream's small writes (window updates, the response and its
            // trailers) wait for Nagle's algorithm to meet the peer's delayed ACK: measured as
            // 40 ms more per call.
            let _ = socket.set_nodelay(true);
            // `sla_open_connections` counts the gRPC and health listeners' connections: the
            // metrics port's would count the scrape reading it.
            let counted = i64::from(protocol == Protocol::Http2);
            metrics.connections(counted);
            let ready = ready.clone();
            let metrics = Arc::clone(&metrics);
            let tls = tls.clone();
            tokio::spawn(async move {
                let stream = match tls {
                    None => Stream::Plain(socket),
                    Some(acceptor) => {
                        let deadline = accepted + limits.handshake_timeout;
                        match tokio::time::timeout_at(deadline, acceptor.accept(socket)).await {
                            Ok(Ok(stream)) => Stream::Tls(Box::new(stream)),
                            Ok(Err(error)) => {
                                tracing::debug!(%error, ?remote, "TLS handshake failed");
                                metrics.refused_connection(ConnectionRefusal::Tls);
                                metrics.connections(-counted);
                                return;
                            }
                            Err(_) => {
                                metrics.refused_connection(ConnectionRefusal::HandshakeTimeout);
                                metrics.connections(-counted);
                                return;
                            }
                        }
                    }
                };
                let guarded = Guarded::new(
                    stream,
                    Some(remote),
                    accepted,
                    protocol,
                    limits,
                    metrics,
                    slot,
                );
                let _ = ready.send(Ok(guarded)).await;
            });
        }
    });
    ReceiverStream::new(connections)
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Stream::Tls(stream) => Pin::new(stream).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Stream::Tls(stream) => Pin::new(stream).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Stream::Tls(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(stream) => stream.is_write_vectored(),
            Stream::Tls(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Stream::Tls(stream) => Pin::new(stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Stream::Tls(stream) => Pin::new(stream).poll_shutdown(cx),
        }
    }
}
