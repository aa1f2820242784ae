//! The side listeners: plaintext health, for probes that cannot speak the gRPC listener's TLS,
//! and Prometheus metrics over HTTP. They keep serving until the gRPC server has stopped, so that
//! probes see NOT_SERVING through the whole drain, and stop with it.
//!
//! Both are guarded as the gRPC listener is ([`super::connections`]): a handshake timeout for the
//! first request, an idle timeout, and a cap on connections. Health shares the gRPC listener's
//! pool of connections; metrics has a small pool of its own, so that connections held open on
//! the metrics port can never take the gRPC port's descriptors, nor the other way round.

use std::sync::Arc;

use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tonic::transport::Server;
use tonic_health::pb::health_server::HealthServer;
use tonic_health::server::{HealthReporter, HealthService};

use super::ServeError;
use super::connections::{ConnectionLimits, Guarded, Protocol, Stream, incoming};
use super::edge::EdgeLayer;
use super::metrics::Metrics;
use crate::memory::MemoryBudget;

/// What the side listeners share with the gRPC listener.
pub(super) struct Shared {
    /// The bounds of every call, health's too.
    pub(super) edge: EdgeLayer,
    /// The health the gRPC listener reports.
    pub(super) health: HealthReporter,
    /// The server's metrics.
    pub(super) metrics: Arc<Metrics>,
    /// The memory budget, whose state a scrape reads.
    pub(super) budget: Arc<MemoryBudget>,
    /// How connections are bounded, and the pool every listener's connections share.
    pub(super) connections: ConnectionLimits,
    pub(super) slots: Arc<Semaphore>,
}

/// The side listeners running, until [`SideListeners::stop`].
pub(super) struct SideListeners {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Result<(), ServeError>>>,
}

impl SideListeners {
    /// Serves health on `health` and metrics on `metrics`, each when given.
    pub(super) fn start(
        health: Option<TcpListener>,
        metrics: Option<TcpListener>,
        shared: Shared,
    ) -> Self {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        if let Some(listener) = health {
            let incoming = incoming(
                listener,
                None,
                Protocol::Http2,
                shared.connections,
                shared.slots,
                Arc::clone(&shared.metrics),
            );
            tasks.push(tokio::spawn(serve_health(
                incoming,
                shared.edge,
                shared.health,
                stopped.clone(),
            )));
        }
        if let Some(listener) = metrics {
            let slots = Arc::new(Semaphore::new(shared.connections.max_metrics_connections));
            let incoming = incoming(
                listener,
                None,
                Protocol::Http1,
                shared.connections,
                slots,
                Arc::clone(&shared.metrics),
            );
            tasks.push(tokio::spawn(serve_metrics(
                incoming,
                shared.connections,
                shared.metrics,
                shared.budget,
                stopped,
            )));
        }
        SideListeners { stop, tasks }
    }

    /// A signal that turns true when the side listeners are told to stop, for other tasks that
    /// end with the server (the policy reload).
    pub(super) fn stopping(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// Stops them and waits until they have; a listener that failed is logged.
    pub(super) async fn stop(self) {
        self.stop.send_replace(true);
        for task in self.tasks {
            match task.await {
                Ok(Err(error)) => tracing::error!(%error, "a side listener failed"),
                Err(error) => tracing::error!(%error, "a side listener panicked"),
                Ok(Ok(())) => {}
            }
        }
    }
}

/// Resolves once `stop` turns true.
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|&stopped| stopped).await;
}

/// Health alone, in plaintext, sharing the reporter with the gRPC listener and bounded by the same
/// edge.
async fn serve_health(
    incoming: impl tokio_stream::Stream<Item = std::io::Result<Guarded<Stream>>>,
    edge: EdgeLayer,
    health: HealthReporter,
    stop: watch::Receiver<bool>,
) -> Result<(), ServeError> {
    Server::builder()
        .layer(edge)
        .add_service(HealthServer::new(HealthService::from_health_reporter(
            health,
        )))
        .serve_with_incoming_shutdown(incoming, stopped(stop))
        .await?;
    Ok(())
}

/// `GET /metrics` in the Prometheus text format, over HTTP/1.1: each guarded connection served
/// with a deadline for every request's header (the handshake timeout), its first request and
/// idle time counted by the guard, and closed gracefully when the server stops.
async fn serve_metrics(
    mut incoming: impl tokio_stream::Stream<Item = std::io::Result<Guarded<Stream>>> + Unpin,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    budget: Arc<MemoryBudget>,
    stop: watch::Receiver<bool>,
) -> Result<(), ServeError> {
    use tokio_stream::StreamExt as _;
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let metrics = Arc::clone(&metrics);
            let budget = Arc::clone(&budget);
            async move {
                metrics.observe_memory(&budget);
                let (text, content_type) = metrics.encode();
                ([("content-type", content_type)], text)
            }
        }),
    );
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.handshake_timeout);
    loop {
        let connection = tokio::select! {
            next = incoming.next() => match next {
                Some(Ok(connection)) => connection,
                Some(Err(_)) => continue,
                None => return Ok(()),
            },
            () = stopped(stop.clone()) => return Ok(()),
        };
        let state = tonic::transport::server::Connected::connect_info(&connection).state;
        // Each request counts as a call on its connection while it is answered, so the guard's
        // first-request and idle timers see it.
        let app = app.clone();
        let service = tower::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let call = state.call();
            let answered = tower::ServiceExt::oneshot(app.clone(), request);
            async move {
                let response = answered.await;
                drop(call);
                response
            }
        });
        let serving =
            http.serve_connection(TokioIo::new(connection), TowerToHyperService::new(service));
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut serving = std::pin::pin!(serving);
            tokio::select! {
                _ = serving.as_mut() => {}
                () = stopped(stop) => {
                    serving.as_mut().graceful_shutdown();
                    let _ = serving.await;
                }
            }
        });
    }
}
