//! One accepted connection, guarded: it must finish its handshake and send its first request in
//! time, it is closed once it has been idle too long, and a peer that sends PING or SETTINGS frames
//! faster than any client needs (each one is answered, so a flood costs the server) is cut off.
//!
//! The guard sits on the plaintext HTTP/2 bytes (above TLS) and reads only frame headers, skipping
//! payloads by their length, so its cost is per frame, not per byte. An HTTP/2 connection it
//! closes for its timers gets a GOAWAY first (NO_ERROR, naming the last stream the client
//! opened), so that its client opens a new connection for its next call instead of losing it to
//! a reset; the guard then reads and drops what the client still sends for a moment, and closes.
//! On the metrics listener's HTTP/1.1 only the timers apply.

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
    /// The highest stream the client opened (HEADERS), for a GOAWAY to name.
    last_stream: u32,
    /// The payload of the PING acknowledgement being read, and how much of it has come.
    ping_ack: Option<([u8; 8], usize)>,
    /// The client acknowledged the PING sent with the guard's GOAWAY: it has read the GOAWAY.
    goaway_acked: bool,
}

const PREFACE: usize = 24;
const HEADERS: u8 = 0x1;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const ACK: u8 = 0x1;

/// How long a connection closed with a GOAWAY stays open, at most, for the frames its client sent
/// before it read the GOAWAY, which are read and dropped. It ends sooner, once the client has
/// acknowledged the PING sent after the GOAWAY: a client that read the GOAWAY but finds the
/// connection still open may send its next call there and lose it (tonic's does), so the
/// connection closes as soon as its client is known to have been told.
const GOAWAY_LINGER: Duration = Duration::from_secs(1);

/// The payload of the PING sent after the guard's GOAWAY, to know when its client has read it.
const GOAWAY_PING: [u8; 8] = *b"sla-bye!";

/// What a connection speaks, which decides how the guard reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// gRPC's HTTP/2: control frames are counted, and a connection the timers close gets a
    /// GOAWAY first.
    Http2,
    /// The metrics listener's HTTP/1.1: the timers only.
    Http1,
}

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
            last_stream: 0,
            ping_ack: None,
            goaway_acked: false,
        }
    }

    /// The client sent the whole HTTP/2 preface: it speaks HTTP/2, and may be sent a GOAWAY.
    fn spoke_http2(&self) -> bool {
        self.preface == 0
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
                if let Some((payload, got)) = &mut self.ping_ack {
                    let take = skip as usize;
                    payload[*got..*got + take].copy_from_slice(&bytes[..take]);
                    *got += take;
                    if *got == payload.len() {
                        self.goaway_acked |= *payload == GOAWAY_PING;
                        self.ping_ack = None;
                    }
                }
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
            if kind == PING && flags & ACK != 0 && length == 8 {
                self.ping_ack = Some(([0; 8], 0));
            }
            if kind == HEADERS {
                let stream = u32::from_be_bytes([
                    self.header[5],
                    self.header[6],
                    self.header[7],
                    self.header[8],
                ]) & 0x7FFF_FFFF;
                self.last_stream = self.last_stream.max(stream);
            }
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

/// Where the server's own HTTP/2 bytes stand: between two frames, or inside one. A GOAWAY of the
/// guard's may only go between two of h2's frames.
#[derive(Debug, Default)]
struct FrameBoundary {
    header: [u8; 9],
    have: usize,
    /// Payload bytes of the current frame still to come.
    skip: u64,
}

impl FrameBoundary {
    fn wrote(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
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
            if self.have == 9 {
                self.have = 0;
                self.skip = u64::from(u32::from_be_bytes([
                    0,
                    self.header[0],
                    self.header[1],
                    self.header[2],
                ]));
            }
        }
    }

    fn between_frames(&self) -> bool {
        self.have == 0 && self.skip == 0
    }
}

/// A GOAWAY frame (NO_ERROR, `last_stream` the last stream processed, and why), then a PING whose
/// acknowledgement says the client has read it.
fn goaway(last_stream: u32, why: &[u8]) -> Vec<u8> {
    let length = (8 + why.len()) as u32;
    let mut frames = length.to_be_bytes()[1..].to_vec();
    frames.extend([GOAWAY, 0, 0, 0, 0, 0]);
    frames.extend(last_stream.to_be_bytes());
    frames.extend(0u32.to_be_bytes());
    frames.extend(why);
    frames.extend([0, 0, 8, PING, 0, 0, 0, 0, 0]);
    frames.extend(GOAWAY_PING);
    frames
}

/// How far the guard is in closing a connection.
enum Closing {
    /// It is not closing it.
    Open,
    /// It is writing a GOAWAY (`sent` bytes of it so far); then the connection ends with
    /// `error`.
    Goaway {
        frame: Vec<u8>,
        sent: usize,
        error: Option<io::Error>,
    },
    /// The GOAWAY is sent: what the client still sends is dropped until it closes or `until`.
    Lingering {
        until: Pin<Box<Sleep>>,
        error: Option<io::Error>,
    },
}

/// A connection under guard.
pub(crate) struct Guarded<IO> {
    io: IO,
    info: ConnectionInfo,
    protocol: Protocol,
    scanner: FrameScanner,
    written: FrameBoundary,
    closing: Closing,
    /// h2's writer, when it waits for the guard's GOAWAY to be written.
    writer: Option<std::task::Waker>,
    timer: Pin<Box<Sleep>>,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    _slot: OwnedSemaphorePermit,
}

impl<IO> Guarded<IO> {
    /// Guards `io`, born `accepted`, speaking `protocol`, holding one of the server's connection
    /// slots.
    pub(crate) fn new(
        io: IO,
        remote: Option<std::net::SocketAddr>,
        accepted: Instant,
        protocol: Protocol,
        limits: ConnectionLimits,
        metrics: Arc<Metrics>,
        slot: OwnedSemaphorePermit,
    ) -> Self {
        let state = Arc::new(ConnectionState::new());
        Guarded {
            io,
            info: ConnectionInfo { remote, state },
            protocol,
            scanner: FrameScanner::new(&limits),
            written: FrameBoundary::default(),
            closing: Closing::Open,
            writer: None,
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
        if self.protocol == Protocol::Http2 {
            self.metrics.connections(-1);
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Guarded<IO> {
    /// Drives the closing of the connection: the GOAWAY written, then the linger. Ready with what
    /// the read returns once the connection is to end.
    fn close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            match &mut self.closing {
                Closing::Open => unreachable!("only a closing connection is closed"),
                Closing::Goaway { frame, sent, error } => {
                    while *sent < frame.len() {
                        match Pin::new(&mut self.io).poll_write(cx, &frame[*sent..]) {
                            Poll::Ready(Ok(0)) => {
                                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                            }
                            Poll::Ready(Ok(n)) => *sent += n,
                            Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                            Poll::Pending => return Poll::Pending,
                        }
                    }
                    std::task::ready!(Pin::new(&mut self.io).poll_flush(cx))?;
                    let error = error.take();
                    self.closing = Closing::Lingering {
                        until: Box::pin(tokio::time::sleep(GOAWAY_LINGER)),
                        error,
                    };
                    if let Some(writer) = self.writer.take() {
                        writer.wake();
                    }
                }
                Closing::Lingering { until, error } => {
                    if until.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Err(error
                            .take()
                            .unwrap_or_else(|| io::ErrorKind::TimedOut.into())));
                    }
                    let mut dropped = [0u8; 4096];
                    let mut dropped = ReadBuf::new(&mut dropped);
                    match Pin::new(&mut self.io).poll_read(cx, &mut dropped) {
                        // The client closed: the connection ends as it would have.
                        Poll::Ready(Ok(())) if dropped.filled().is_empty() => {
                            return Poll::Ready(Ok(()));
                        }
                        // Told, or flooding: closed now.
                        Poll::Ready(Ok(()))
                            if !self.scanner.scan(dropped.filled())
                                || self.scanner.goaway_acked =>
                        {
                            return Poll::Ready(Err(error
                                .take()
                                .unwrap_or_else(|| io::ErrorKind::TimedOut.into())));
                        }
                        Poll::Ready(Ok(())) => {}
                        Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                        Poll::Pending => return Poll::Pending,
                    }
                }
            }
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for Guarded<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if !matches!(this.closing, Closing::Open) {
            return this.close(cx);
        }
        if let Some(error) = this.expired(cx) {
            // An HTTP/2 client is told first, when the server's frames leave room for it.
            if this.protocol == Protocol::Http2
                && this.scanner.spoke_http2()
                && this.written.between_frames()
            {
                let why: &[u8] = if this.info.state.first_request.load(Ordering::Acquire) {
                    b"idle"
                } else {
                    b"no request"
                };
                this.closing = Closing::Goaway {
                    frame: goaway(this.scanner.last_stream, why),
                    sent: 0,
                    error: Some(error),
                };
                return this.close(cx);
            }
            return Poll::Ready(Err(error));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &polled
            && this.protocol == Protocol::Http2
            && !this.scanner.scan(&buf.filled()[before..])
        {
            this.metrics
                .refused_connection(ConnectionRefusal::FrameFlood);
            return Poll::Ready(Err(io::Error::other(
                "PING or SETTINGS frames faster than the server answers them",
            )));
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> Guarded<IO> {
    /// Whether h2 must wait: the guard is writing its GOAWAY, and nothing may come between its
    /// bytes.
    fn writes_wait(&mut self, cx: &mut Context<'_>) -> bool {
        if matches!(self.closing, Closing::Goaway { .. }) {
            self.writer = Some(cx.waker().clone());
            return true;
        }
        false
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Guarded<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.writes_wait(cx) {
            return Poll::Pending;
        }
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled
            && self.protocol == Protocol::Http2
        {
            self.written.wrote(&buf[..n]);
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.writes_wait(cx) {
            return Poll::Pending;
        }
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = polled
            && self.protocol == Protocol::Http2
        {
            let mut left = n;
            for slice in bufs {
                let take = left.min(slice.len());
                self.written.wrote(&slice[..take]);
                left -= take;
                if left == 0 {
                    break;
                }
            }
        }
        polled
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

    #[tokio::test]
    async fn the_acknowledgement_of_the_goaway_s_ping_is_seen_in_pieces() {
        let mut scanner = FrameScanner::new(&ConnectionLimits::default());
        let mut stream = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        stream.extend(frame(0x0, 0, 100));
        // h2's own keepalive acknowledged: not the guard's.
        let mut keepalive = frame(PING, ACK, 0);
        keepalive[2] = 8;
        keepalive.extend(*b"keepaliv");
        stream.extend(keepalive);
        for piece in stream.chunks(3) {
            assert!(scanner.scan(piece));
        }
        assert!(!scanner.goaway_acked);
        let goaway = goaway(1, b"idle");
        // The guard's own PING, as its client echoes it with ACK.
        let mut echoed = goaway[goaway.len() - 17..].to_vec();
        echoed[4] = ACK;
        for piece in echoed.chunks(5) {
            assert!(scanner.scan(piece));
        }
        assert!(scanner.goaway_acked);
    }
}
