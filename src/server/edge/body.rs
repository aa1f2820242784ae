//! The bodies of a call as the edge of the server sees them: the request's messages counted, the
//! memory to decode each reserved before the gRPC library buffers it, and a client that went away
//! marked; the response's messages counted, its status recorded when its trailers pass, and cut
//! off with DEADLINE_EXCEEDED when the call's deadline comes first.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http_body::{Body as _, Frame};
use prost::bytes::Bytes;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Sleep};
use tonic::Status;
use tonic::body::Body;
use tonic::codegen::http::HeaderMap;

use super::super::connections::CallOnConnection;
use super::super::metrics::{CallRecord, Metrics};
use super::super::rpc::Rpc;
use super::frames::Frames;
use crate::api::{ApiError, ClientGone, ResponseMemory, log_refusal};
use crate::memory::Reservation;

/// A call's request body.
pub(super) struct RequestBody {
    pub(super) inner: Body,
    pub(super) frames: Frames,
    pub(super) rpc: Rpc,
    pub(super) metrics: Arc<Metrics>,
    pub(super) gone: ClientGone,
    /// What decoding the message being read, and the one before it, may take.
    pub(super) reservation: Reservation,
    /// Decoded bytes a wire byte may become, at most, for this RPC's messages.
    pub(super) amplification: u64,
    /// The largest message, after decompression, the gRPC library accepts.
    pub(super) max_message_bytes: u64,
    pub(super) last_length: u64,
    pub(super) refused: bool,
    /// The client's request has ended (end of stream, or an error): nothing is left to read.
    pub(super) ended: bool,
    /// Until when what the client still sends after the call has been answered is read and
    /// dropped (see [`drain`]): the call's deadline.
    pub(super) drain_until: Instant,
}

/// Reads and drops what a client still sends on a call that has been answered (a refusal while
/// its upload was under way, a unary request whose end came after its message), until the
/// client ends its request, up to `bytes` or `until`.
///
/// Without it, the answered call's stream is reset as soon as the gRPC library lets go of its
/// body, and h2 answers each frame the client sent before it learned of the answer with a reset
/// of its own, counted as the server's protocol error: past `--max-local-error-resets` of them on
/// one connection (1,025 refusals a second), h2 closes the connection with
/// `too_many_internal_resets`, and every good call on it dies. Read to its end, the stream
/// closes as any other does, and a refusal costs its connection nothing.
async fn drain(mut body: Body, until: Instant, mut bytes: u64) {
    let read_to_end = async {
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            let Ok(frame) = frame else { return };
            let length = frame.data_ref().map_or(0, |data| data.len() as u64);
            match bytes.checked_sub(length) {
                Some(left) => bytes = left,
                // A client that keeps sending this much after its answer is not waiting for one.
                None => return,
            }
        }
    };
    let _ = tokio::time::timeout_at(until, read_to_end).await;
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        if self.ended || self.inner.is_end_stream() || Instant::now() >= self.drain_until {
            return;
        }
        // Outside a runtime (the runtime itself shutting down) there is nothing to drain for.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let body = std::mem::replace(&mut self.inner, Body::empty());
            runtime.spawn(drain(body, self.drain_until, self.max_message_bytes));
        }
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        if self.refused {
            return Poll::Ready(None);
        }
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let body = &mut *self;
                    let counted = body.frames.feed(data, |prefix| {
                        body.metrics.received(body.rpc);
                        // A compressed message may decompress to as much as the gRPC library
                        // accepts, and is held compressed and decompressed at once.
                        let length = if prefix.compressed {
                            u64::from(prefix.length) + body.max_message_bytes
                        } else {
                            u64::from(prefix.length)
                        };
                        // Tonic may hold the previous message's bytes still undecoded when the
                        // next one's prefix arrives, so both stay reserved.
                        let bytes = (body.last_length + length) * body.amplification;
                        body.last_length = length;
                        body.reservation.set(bytes)
                    });
                    if let Err(exhausted) = counted {
                        self.refused = true;
                        let status = Status::from(ApiError::MemoryExhausted(exhausted));
                        log_refusal(&status);
                        return Poll::Ready(Some(Err(status)));
                    }
                }
            }
            Poll::Ready(Some(Err(_))) => {
                self.gone.mark();
                self.ended = true;
            }
            Poll::Ready(None) => self.ended = true,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.refused || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A call's response body.
pub(super) struct ResponseBody {
    pub(super) inner: Body,
    pub(super) frames: Frames,
    pub(super) rpc: Rpc,
    pub(super) metrics: Arc<Metrics>,
    /// Finished when the trailers pass; dropped unfinished, the call counts as cancelled.
    pub(super) record: Option<CallRecord>,
    /// The call's span, which the status is recorded on.
    pub(super) span: tracing::Span,
    pub(super) deadline: Pin<Box<Sleep>>,
    /// The status the call ends with if its deadline passes.
    pub(super) late: Status,
    /// The call's concurrency slot, held until its last byte.
    pub(super) slot: Option<OwnedSemaphorePermit>,
    /// The call, as its connection counts it.
    pub(super) connection: Option<CallOnConnection>,
    /// The response's share of the memory budget, given back with its last byte.
    pub(super) memory: Option<ResponseMemory>,
    pub(super) done: bool,
}

impl ResponseBody {
    fn end(&mut self, code: tonic::Code) {
        if let Some(record) = self.record.take() {
            super::ended(&self.span, record, code);
        }
        self.slot = None;
        self.connection = None;
        self.memory = None;
        self.done = true;
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            let status = self.late.clone();
            {
                let _entered = self.span.enter();
                if status.code() == tonic::Code::Ok {
                    // A health watch, ended on time (see `edge::deadline`).
                    tracing::info!(detail = status.message(), "health watch ended");
                } else {
                    log_refusal(&status);
                }
            }
            let mut trailers = HeaderMap::new();
            // A status always fits in headers; `add_header` only fails on a malformed message.
            let _ = status.add_header(&mut trailers);
            self.end(status.code());
            return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
        }
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let body = &mut *self;
                    let _ = body.frames.feed(data, |_| {
                        body.metrics.sent(body.rpc);
                        Ok::<(), ()>(())
                    });
                } else if let Some(trailers) = frame.trailers_ref() {
                    let code = Status::from_header_map(trailers)
                        .map_or(tonic::Code::Ok, |status| status.code());
                    self.end(code);
                }
            }
            Poll::Ready(Some(Err(status))) => {
                let code = status.code();
                self.end(code);
            }
            Poll::Ready(None) => self.end(tonic::Code::Ok),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}
