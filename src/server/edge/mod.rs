//! The edge of the server: one tower layer around every service on every listener, so that every
//! call, whatever its service and however it ends, is bounded and counted.
//!
//! - **Deadline**: every call ends by the server's call timeout, or by the client's own
//!   `grpc-timeout` when that is shorter, answered DEADLINE_EXCEEDED whether the call is still
//!   waiting for its answer or already streaming one (reflection, health's Watch).
//! - **Shedding**: work calls (Evaluate, ClassifyOutages) beyond the concurrency limit are refused
//!   at once with RESOURCE_EXHAUSTED, before any work; so are health `Watch` streams beyond their
//!   own cap. A `Watch` ends at the server's call timeout with OK and a message that says so.
//! - **Memory**: each request message's decoded size is reserved from the memory budget as soon as
//!   its length prefix arrives, before the gRPC library buffers and decodes it.
//! - **Metrics**: started, handled (by final status code), handling time and messages, for calls
//!   refused before any handler runs as much as for the others; a call whose client goes away
//!   counts as CANCELLED, and its handler learns of it through [`ClientGone`].
//!
//! Handlers only validate, convert, call the domain and convert back.

mod body;
mod frames;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tracing::Instrument;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tonic::Status;
use tonic::body::Body;
use tonic::codegen::http::{self, HeaderMap};
use tower::{Layer, Service};

use super::connections::ConnectionInfo;
use super::metrics::{CallRecord, Metrics};
use super::rpc::Rpc;
use crate::api::{ApiError, ClientGone, ResponseMemory, log_refusal};
use crate::limits::CallLimits;
use crate::memory::MemoryBudget;
use body::{RequestBody, ResponseBody};
use frames::Frames;

/// Decoded bytes one wire byte of an Evaluate message may become, at most: a one-byte varint is an
/// eight-byte integer, readable rows add their own structures, and the rows and starts are
/// copied once more into columns for the engine (measured bound: 38 for rows).
const EVALUATE_AMPLIFICATION: u64 = 40;
/// The same for every other message: an empty outage of two wire bytes decodes to a structure of
/// some 200.
const OTHER_AMPLIFICATION: u64 = 100;

/// What every call on the server shares.
#[derive(Debug)]
struct Edge {
    metrics: Arc<Metrics>,
    slots: Arc<Semaphore>,
    watches: Arc<Semaphore>,
    limits: CallLimits,
    max_message_bytes: u64,
    budget: Arc<MemoryBudget>,
}

/// Bounds and counts every call.
#[derive(Clone, Debug)]
pub(crate) struct EdgeLayer {
    edge: Arc<Edge>,
}

impl EdgeLayer {
    /// A layer for a server with these limits, budget and metrics.
    pub(crate) fn new(
        limits: CallLimits,
        max_message_bytes: usize,
        budget: Arc<MemoryBudget>,
        metrics: Arc<Metrics>,
    ) -> Self {
        EdgeLayer {
            edge: Arc::new(Edge {
                metrics,
                slots: Arc::new(Semaphore::new(limits.max_concurrent)),
                watches: Arc::new(Semaphore::new(limits.max_health_watches)),
                limits,
                max_message_bytes: max_message_bytes as u64,
                budget,
            }),
        }
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = EdgeService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        EdgeService {
            inner,
            edge: Arc::clone(&self.edge),
        }
    }
}

/// The layered service.
#[derive(Clone, Debug)]
pub(crate) struct EdgeService<S> {
    inner: S,
    edge: Arc<Edge>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S> Service<http::Request<Body>> for EdgeService<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // The clone that was not polled ready stays behind; the ready one serves this call.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let rpc = Rpc::from_path(request.uri().path());
        let span = call_span(rpc, &request);
        // Taken here, in the same synchronous step as tonic's own timer (see [`deadline`]), not
        // when the call's future is first polled.
        let ends = deadline(request.headers(), self.edge.limits.timeout, rpc);
        Box::pin(bound(Arc::clone(&self.edge), rpc, inner, request, ends).instrument(span))
    }
}

/// The span every log line of a call carries: its RPC, its request id (the client's
/// `x-request-id`, or one made here) and its peer; a child of the caller's trace when the request
/// carries one.
fn call_span(rpc: Rpc, request: &http::Request<Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|id| id.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= 128)
        .map_or_else(new_request_id, str::to_string);
    let peer = request
        .extensions()
        .get::<ConnectionInfo>()
        .and_then(|info| info.remote);
    let span = tracing::info_span!(
        "call",
        rpc = %format_args!("{}/{}", rpc.service(), rpc.method()),
        request_id = %request_id,
        peer = peer.map(|address| address.to_string()),
        rpc.system = "grpc",
        rpc.service = rpc.service(),
        rpc.method = rpc.method(),
        rpc.grpc.status_code = tracing::field::Empty,
    );
    crate::telemetry::join_callers_trace(&span, request.headers());
    span
}

/// One call, bounded and counted from its arrival to its last byte: shed when it is work and the
/// server is full, cut off at its deadline, its request's messages reserved in the memory budget.
async fn bound<S>(
    edge: Arc<Edge>,
    rpc: Rpc,
    mut inner: S,
    request: http::Request<Body>,
    (deadline, late): (Instant, Status),
) -> Result<http::Response<Body>, S::Error>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>>,
{
    let record = edge.metrics.start(rpc);
    // Counted on its connection until its last byte: a connection with a call in progress is
    // never idle.
    let connection = request
        .extensions()
        .get::<ConnectionInfo>()
        .map(|info| info.state.call());
    // Watched before anything can refuse it, so that a refused call's request is read to its end
    // (see `body::drain`).
    let request = watch(request, rpc, &edge, deadline);
    let slot = match admit(&edge, rpc) {
        Ok(slot) => slot,
        Err(status) => {
            ended(&tracing::Span::current(), record, status.code());
            return Ok(status.into_http());
        }
    };
    let response = match tokio::time::timeout_at(deadline, inner.call(request)).await {
        Ok(response) => relabel_too_large(response?),
        Err(_) => refuse_status(late.clone()).into_http(),
    };
    if let Some(status) = Status::from_header_map(response.headers()) {
        // Answered in the headers alone: a refusal, or an error before any message.
        ended(&tracing::Span::current(), record, status.code());
        return Ok(response);
    }
    let (mut parts, body) = response.into_parts();
    // The response's share of the memory budget, held until its last byte is sent.
    let memory = parts.extensions.remove::<ResponseMemory>();
    let body = ResponseBody {
        inner: body,
        frames: Frames::default(),
        rpc,
        metrics: Arc::clone(&edge.metrics),
        record: Some(record),
        span: tracing::Span::current(),
        deadline: Box::pin(tokio::time::sleep_until(deadline)),
        late,
        slot,
        connection,
        memory,
        done: false,
    };
    Ok(http::Response::from_parts(parts, Body::new(body)))
}

/// When the call must end, and the status it then ends with: the server's call timeout, or the
/// client's own `grpc-timeout` when that is shorter. A health `Watch` the server ends at its call
/// timeout ends with OK: nothing failed, and its client watches again.
///
/// tonic's server wraps every service, outside this layer, in a timer of its own on the same
/// `grpc-timeout` header, which answers CANCELLED ("Timeout expired") when it fires first. It is
/// started just before this layer's `call`; a client's deadline therefore ends here
/// [`AHEAD_OF_TONIC`] early, so that the answer sent is always DEADLINE_EXCEEDED, counted and
/// logged as such.
fn deadline(headers: &HeaderMap, limit: Duration, rpc: Rpc) -> (Instant, Status) {
    let now = Instant::now();
    match client_timeout(headers) {
        Some(client) if client < limit => (
            now + client.saturating_sub(AHEAD_OF_TONIC),
            Status::from(ApiError::ClientDeadline { timeout: client }),
        ),
        _ if rpc == Rpc::HealthWatch => (
            now + limit,
            Status::ok(format!(
                "the server ends a health watch at its call timeout of {}; watch again to go on",
                humantime::format_duration(limit)
            )),
        ),
        _ => (now + limit, Status::from(ApiError::TimedOut { limit })),
    }
}

/// How much earlier than tonic's own timer a client's deadline ends here: one tick of tokio's
/// timer wheel, so that the two never fire in the same tick with tonic's first.
const AHEAD_OF_TONIC: Duration = Duration::from_millis(1);

/// The slot of a call that needs one, held to its last byte: a work call's concurrency slot, a
/// health watch's. A call that finds its pool full is refused at once, before any work; other
/// calls need none.
fn admit(edge: &Edge, rpc: Rpc) -> Result<Option<OwnedSemaphorePermit>, Status> {
    let (pool, full) = match rpc {
        _ if rpc.is_work() => (
            &edge.slots,
            ApiError::Overloaded {
                max: edge.limits.max_concurrent,
            },
        ),
        Rpc::HealthWatch => (
            &edge.watches,
            ApiError::LimitExceeded {
                subject: "health watches".into(),
                message: format!(
                    "the server is at its limit of {} health watches (--max-health-watches); \
                     call Check instead, or watch again later",
                    edge.limits.max_health_watches
                ),
            },
        ),
        _ => return Ok(None),
    };
    match Arc::clone(pool).try_acquire_owned() {
        Ok(slot) => Ok(Some(slot)),
        Err(_) => {
            edge.metrics.shed(rpc);
            Err(refuse(full))
        }
    }
}

/// A request id for a call whose client sent none: unique within the process, and unlikely to
/// repeat across replicas (the process's start time seeds it).
fn new_request_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let seed = *SEED.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos() as u64)
    });
    let mut z = seed
        ^ NEXT
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    format!("{:016x}", z ^ (z >> 31))
}

/// The request with its body watched and [`ClientGone`] in its extensions for the handler; what
/// the client sends after its call is answered is drained until `deadline`.
fn watch(
    request: http::Request<Body>,
    rpc: Rpc,
    edge: &Edge,
    deadline: Instant,
) -> http::Request<Body> {
    let gone = ClientGone::default();
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(gone.clone());
    let amplification = if rpc == Rpc::Evaluate {
        EVALUATE_AMPLIFICATION
    } else {
        OTHER_AMPLIFICATION
    };
    let body = RequestBody {
        inner: body,
        frames: Frames::default(),
        rpc,
        metrics: Arc::clone(&edge.metrics),
        gone,
        reservation: edge.budget.reservation(),
        amplification,
        max_message_bytes: edge.max_message_bytes,
        last_length: 0,
        refused: false,
        ended: false,
        drain_until: deadline,
    };
    http::Request::from_parts(parts, Body::new(body))
}

/// A refusal the edge makes itself, as a status, logged once, here.
fn refuse(error: ApiError) -> Status {
    refuse_status(Status::from(error))
}

fn refuse_status(status: Status) -> Status {
    log_refusal(&status);
    status
}

/// The client's deadline, from its `grpc-timeout` header: up to 8 digits and a unit (hours,
/// minutes, seconds, milliseconds, microseconds, nanoseconds).
fn client_timeout(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get("grpc-timeout")?.to_str().ok()?;
    if text.len() < 2 || text.len() > 9 {
        return None;
    }
    let (digits, unit) = text.split_at(text.len() - 1);
    let value: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(value.checked_mul(3600)?),
        "M" => Duration::from_secs(value.checked_mul(60)?),
        "S" => Duration::from_secs(value),
        "m" => Duration::from_millis(value),
        "u" => Duration::from_micros(value),
        "n" => Duration::from_nanos(value),
        _ => return None,
    })
}

/// Counts the call's end and puts its status on its span, for the trace.
pub(super) fn ended(span: &tracing::Span, record: CallRecord, code: tonic::Code) {
    span.record("rpc.grpc.status_code", code as i32);
    record.finish(code);
}

/// A request tonic refused as too large before any handler saw it is answered RESOURCE_EXHAUSTED
/// with the details of every other limit (see `api::error::is_message_too_large`).
fn relabel_too_large(mut response: http::Response<Body>) -> http::Response<Body> {
    let Some(status) = Status::from_header_map(response.headers()) else {
        return response;
    };
    if let refused @ ApiError::LimitExceeded { .. } = ApiError::from(status) {
        let refused = Status::from(refused);
        log_refusal(&refused);
        let mut headers = HeaderMap::new();
        // A status always fits in headers; `add_header` only fails on a malformed message.
        let _ = refused.add_header(&mut headers);
        response.headers_mut().extend(headers);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::codegen::http::HeaderValue;

    #[test]
    fn grpc_timeouts_are_read_in_every_unit() {
        let timeout = |text: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("grpc-timeout", HeaderValue::from_str(text).unwrap());
            client_timeout(&headers)
        };
        assert_eq!(timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(timeout("99999999n"), Some(Duration::from_nanos(99_999_999)));
        assert_eq!(timeout("123456789S"), None);
        assert_eq!(timeout("5x"), None);
        assert_eq!(timeout("S"), None);
    }

    /// tonic's own timer on `grpc-timeout` answers CANCELLED when it fires first: a client's
    /// deadline must end here strictly before it (it failed CI as CANCELLED under load).
    #[tokio::test(start_paused = true)]
    async fn a_clients_deadline_ends_before_tonics_timer() {
        let mut headers = HeaderMap::new();
        headers.insert("grpc-timeout", HeaderValue::from_static("200m"));
        let tonics = Instant::now() + Duration::from_millis(200);
        let (ends, status) = deadline(&headers, Duration::from_secs(1), Rpc::Evaluate);
        assert!(ends < tonics, "{ends:?} is not before {tonics:?}");
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
        let (ends, status) = deadline(&HeaderMap::new(), Duration::from_secs(1), Rpc::Evaluate);
        assert_eq!(ends, Instant::now() + Duration::from_secs(1));
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
    }
}
