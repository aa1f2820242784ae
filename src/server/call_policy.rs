//! The serving policy every call of the SLA service runs under, as a tower layer around the
//! server's routes: work calls are shed at once when the server is full, every call is cut off at
//! the time limit, and every call is counted in the metrics, including those tonic answers before
//! a handler runs. Handlers only validate, convert, call the domain and convert back.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::Semaphore;
use tonic::Status;
use tonic::body::Body;
use tonic::codegen::http::{self, HeaderValue};
use tower::{Layer, Service};

use super::metrics::{Method, Metrics};
use crate::api::{ApiError, ClientGone, is_message_too_large};
use crate::limits::CallLimits;

/// What every layered service shares: the call slots, the limits and the metrics.
#[derive(Debug)]
struct Shared {
    slots: Arc<Semaphore>,
    limits: CallLimits,
    metrics: Arc<Metrics>,
}

/// Applies [`CallLimits`] and counts calls.
#[derive(Clone, Debug)]
pub(crate) struct CallPolicyLayer {
    shared: Arc<Shared>,
}

impl CallPolicyLayer {
    /// A policy for a server with these limits, counting into `metrics`.
    pub(crate) fn new(limits: CallLimits, metrics: Arc<Metrics>) -> Self {
        CallPolicyLayer {
            shared: Arc::new(Shared {
                slots: Arc::new(Semaphore::new(limits.max_concurrent)),
                limits,
                metrics,
            }),
        }
    }
}

impl<S> Layer<S> for CallPolicyLayer {
    type Service = CallPolicy<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CallPolicy {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The layered service.
#[derive(Clone, Debug)]
pub(crate) struct CallPolicy<S> {
    inner: S,
    shared: Arc<Shared>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S> Service<http::Request<Body>> for CallPolicy<S>
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
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let Some(method) = Method::from_path(request.uri().path()) else {
            return Box::pin(inner.call(request));
        };
        let shared = Arc::clone(&self.shared);
        let request = watch_upload(request);
        Box::pin(async move {
            // Dropped without `finish` (the client went away), the call counts as CANCELLED.
            let call = shared.metrics.start(method);
            let _slot = if method.is_work() {
                match Arc::clone(&shared.slots).try_acquire_owned() {
                    Ok(slot) => Some(slot),
                    Err(_) => {
                        shared.metrics.shed(method);
                        let status = refuse(ApiError::Overloaded {
                            max: shared.limits.max_concurrent,
                        });
                        call.finish(status.code());
                        return Ok(status.into_http());
                    }
                }
            } else {
                None
            };
            let timeout = shared.limits.timeout;
            let response = match tokio::time::timeout(timeout, inner.call(request)).await {
                Ok(response) => relabel_too_large(response?),
                Err(_) => refuse(ApiError::TimedOut { limit: timeout }).into_http(),
            };
            call.finish(code_of(&response));
            Ok(response)
        })
    }
}

/// Turns a refusal the layer makes itself into a status, logging it once, here.
fn refuse(error: ApiError) -> Status {
    let status = Status::from(error);
    tracing::info!(code = ?status.code(), message = status.message(), "call refused");
    status
}

/// The status code a response carries in its headers (a refusal), or OK: a successful unary
/// answer sends its status in the trailers, after the message the handler already produced.
fn code_of(response: &http::Response<Body>) -> tonic::Code {
    Status::from_header_map(response.headers()).map_or(tonic::Code::Ok, |status| status.code())
}

/// A request tonic refused as too large before any handler saw it is answered RESOURCE_EXHAUSTED,
/// like every other limit (see [`is_message_too_large`]).
fn relabel_too_large(mut response: http::Response<Body>) -> http::Response<Body> {
    let too_large = Status::from_header_map(response.headers())
        .is_some_and(|status| is_message_too_large(status.code(), status.message()));
    if too_large {
        let code = tonic::Code::ResourceExhausted as i32;
        response
            .headers_mut()
            .insert("grpc-status", HeaderValue::from(code));
    }
    response
}

/// Marks a request whose body ended in an error, with [`ClientGone`] in its extensions. tonic reads a
/// client's RST_STREAM(CANCEL) as the end of the stream, so without this mark a handler would take
/// half an upload for all of it.
fn watch_upload(request: http::Request<Body>) -> http::Request<Body> {
    let gone = ClientGone::default();
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(gone.clone());
    let body = Body::new(WatchedBody { inner: body, gone });
    http::Request::from_parts(parts, body)
}

/// A request body that records, in [`ClientGone`], that it ended in an error.
struct WatchedBody {
    inner: Body,
    gone: ClientGone,
}

impl http_body::Body for WatchedBody {
    type Data = <Body as http_body::Body>::Data;
    type Error = <Body as http_body::Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Err(_))) = &polled {
            self.gone.mark();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
