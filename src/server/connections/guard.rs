//! One accepted connection, guarded: it must finish its handshake and send its first request in
//! time, it is closed once it has been idle too long, and a peer that sends PING or SETTINGS frames
//! faster than any client needs (each one is answered, so a flood costs the server) is cut off.
//!
//! The guard sits on the plaintext HTTP/2 bytes (above TLS) and reads only frame headers, skipping
//! payloads by their length, so its cost is per frame, not per byte.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use atomic_waker::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Sleep};

use super::super::metrics::{ConnectionRefusal, Metrics};
use super::ConnectionLimits;

/// What the rest of the server tells a connection about its calls: through the connection's
/// [`ConnectionInfo`], found in every request's extensions.
#[derive(Debug)]
pub(crate) struct ConnectionState {
    first_request: AtomicBool,
    active: AtomicUsize,
    /// Milliseconds since `born` when the last call ended.
    idle_since: AtomicU64,
    born: Instant,
    /// The connection's reader, woken when a call ends so that it arms its idle timer.
    reader: AtomicWaker,
}

impl ConnectionState {
    fn new() -> Self {
        ConnectionState {
            first_request: AtomicBool::new(false),
            active: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            born: Instant::now(),
            reader: AtomicWaker::new(),
        }
    }

    /// A call started on the connection; the returned guard says when it ends.
    pub(crate) fn call(self: &Arc<Self>) -> CallOnConnection {
        self.first_request.store(true, Ordering::Release);
        self.active.fetch_add(1, Ordering::AcqRel);
        CallOnConnection(Arc::clone(self))
    }

    fn idle_deadline(&self, idle: Duration) -> Option<Instant> {
        if self.active.load(Ordering::Acquire) > 0 {
            return None;
        }
        let since = Duration::from_millis(self.idle_since.load(Ordering::Acquire));
        Some(self.born + since + idle)
    }
}

/// A call in progress on a connection.
#[derive(Debug)]
pub(crate) struct CallOnConnection(Arc<ConnectionState>);

impl Drop for CallOnConnection {
    fn drop(&mut self) {
        let since = self.0.born.elapsed().as_millis();
        self.0
            .idle_since
            .store(u64::try_from(since).unwrap_or(u64::MAX), Ordering::Release);
        self.0.active.fetch_sub(1, Ordering::AcqRel);
        self.0.reader.wake();
    }
}

/// What tonic puts in every request's extensions for the connection it came on.
#[derive(Clone, Debug)]
pub(crate) struct ConnectionInfo {
    /// The peer.
    pub(crate) remote: Option<std::net::SocketAddr>,
    /// The connection's state.
    pub(crate) state: Arc<ConnectionState>,
}

/// Counts PING and SETTINGS frames a peer sends, in a token bucket: a burst is allowed (a client's
/// first SETTINGS, keepalive pings), a flood is not.
#[derive(Debug)]
struct FrameScanner {
    /// Bytes of the client preface still to skip.
    preface: usize,
    header: [u8; 9],
    have: usize,
    /// Payload bytes of the current frame still to skip.
    skip: u64,
    tokens: f64,
    refilled: Instant,
    burst: f64,
    per_second: f64,
}

const PREFACE: usize = 24;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const ACK: u8 = 0x1;

impl FrameScanner {
    fn new(limits: &ConnectionLimits) -> Self {
        FrameScanner {
            preface: PREFACE,
            header: [0; 9],
            have: 0,
            skip: 0,
            tokens: f64::from(limits.control_frame_burst),
            refilled: Instant::now(),
            burst: f64::from(limits.control_frame_burst),
            per_second: f64::from(limits.control_frames_per_second),
        }
    }

    /// Reads `bytes`; false once the peer has sent control frames faster than allowed.
    fn scan(&mut self, mut bytes: &[u8]) -> bool {
        while !bytes.is_empty() {
            if self.preface > 0 {
                let skip = self.preface.min(bytes.len());
                self.preface -= skip;
                bytes = &bytes[skip..];
                continue;
            }
            if self.skip > 0 {
                let skip = self.skip.min(bytes.len() as u64);
                self.skip -= skip;
                bytes = &bytes[skip as usize..];
                continue;
            }
            let take = (9 - self.have).min(bytes.len());
            self.header[self.have..self.have + take].copy_from_slice(&bytes[..take]);
            self.have += take;
            bytes = &bytes[take..];
            if self.have < 9 {
                continue;
            }
            self.have = 0;
            let length = u64::from(u32::from_be_bytes([
                0,
                self.header[0],
                self.header[1],
                self.header[2],
            ]));
            self.skip = length;
            let (kind, flags) = (self.header[3], self.header[4]);
            // Acknowledgements answer the server's own frames; only requests cost it work.
            if matches!(kind, PING | SETTINGS) && flags & ACK == 0 && !self.spend() {
                return false;
            }
        }
        true
    }

    fn spend(&mut self) -> bool {
        let now = Instant::now();
        let earned = now.duration_since(self.refilled).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + earned).min(self.burst);
        self.refilled = now;
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}

/// A connection under guard.
pub(crate) struct Guarded<IO> {
    io: IO,
    info: ConnectionInfo,
    scanner: FrameScanner,
    timer: Pin<Box<Sleep>>,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    _slot: OwnedSemaphorePermit,
}

impl<IO> Guarded<IO> {
    /// Guards `io`, born `accepted`, holding one of the server's connection slots.
    pub(crate) fn new(
        io: IO,
        remote: Option<std::net::SocketAddr>,
        accepted: Instant,
        limits: ConnectionLimits,
        metrics: Arc<Metrics>,
        slot: OwnedSemaphorePermit,
    ) -> Self {
        let state = Arc::new(ConnectionState::new());
        Guarded {
            io,
            info: ConnectionInfo { remote, state },
            scanner: FrameScanner::new(&limits),
            timer: Box::pin(tokio::time::sleep_until(
                accepted + limits.handshake_timeout,
            )),
            limits,
            metrics,
            _slot: slot,
        }
    }

    /// Whether the connection must close now: it is still waiting for its first request past the
    /// handshake deadline, or has been idle past the idle timeout. Otherwise arms the timer for
    /// the next moment that could change it.
    fn expired(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        self.info.state.reader.register(cx.waker());
        let state = &self.info.state;
        if state.first_request.load(Ordering::Acquire)
            && let Some(deadline) = state.idle_deadline(self.limits.idle_timeout)
            && deadline < self.timer.deadline()
        {
            // A call ended since the timer was armed: the idle deadline comes first now.
            self.timer.as_mut().reset(deadline);
        }
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return None;
            }
            let state = &self.info.state;
            if !state.first_request.load(Ordering::Acquire) {
                self.metrics
                    .refused_connection(ConnectionRefusal::HandshakeTimeout);
                return Some(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no request within the handshake timeout",
                ));
            }
            match state.idle_deadline(self.limits.idle_timeout) {
                Some(deadline) if deadline <= Instant::now() => {
                    return Some(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "idle past the idle timeout",
                    ));
                }
                Some(deadline) => self.timer.as_mut().reset(deadline),
                // A call is in progress; look again when it could have ended.
                None => self
                    .timer
                    .as_mut()
                    .reset(Instant::now() + self.limits.idle_timeout),
            }
        }
    }
}

impl<IO> Drop for Guarded<IO> {
    fn drop(&mut self) {
        self.metrics.connections(-1);
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Guarded<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(error) = self.expired(cx) {
            return Poll::Ready(Err(error));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &polled
            && !self.scanner.scan(&buf.filled()[before..])
        {
            self.metrics
                .refused_connection(ConnectionRefusal::FrameFlood);
            return Poll::Ready(Err(io::Error::other(
                "PING or SETTINGS frames faster than the server answers them",
            )));
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Guarded<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl<IO> tonic::transport::server::Connected for Guarded<IO> {
    type ConnectInfo = ConnectionInfo;

    fn connect_info(&self) -> ConnectionInfo {
        self.info.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, payload: usize) -> Vec<u8> {
        let length = (payload as u32).to_be_bytes();
        let mut bytes = vec![length[1], length[2], length[3], kind, flags, 0, 0, 0, 0];
        bytes.extend(std::iter::repeat_n(0, payload));
        bytes
    }

    #[tokio::test(start_paused = true)]
    async fn a_ping_flood_is_caught_and_acknowledgements_are_not_counted() {
        let limits = ConnectionLimits {
            control_frame_burst: 10,
            control_frames_per_second: 1,
            ..ConnectionLimits::default()
        };
        let mut scanner = FrameScanner::new(&limits);
        let mut stream = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        stream.extend(frame(SETTINGS, 0, 6));
        stream.extend(frame(0x0, 0, 16_384));
        for _ in 0..100 {
            stream.extend(frame(SETTINGS, ACK, 0));
        }
        for _ in 0..9 {
            stream.extend(frame(PING, 0, 8));
        }
        // In pieces of every size: the scanner keeps its place across them.
        for piece in stream.chunks(7) {
            assert!(scanner.scan(piece));
        }
        assert!(!scanner.scan(&frame(PING, 0, 8)));
    }
}
