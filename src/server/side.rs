//! The side listeners: plaintext health, for probes that cannot speak the gRPC listener's TLS,
//! and Prometheus metrics over HTTP. They keep serving until the gRPC server has stopped, so that
//! probes see NOT_SERVING through the whole drain, and stop with it.

use std::sync::Arc;

use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tonic::transport::Server;
use tonic_health::pb::health_server::HealthServer;
use tonic_health::server::{HealthReporter, HealthService};

use super::ServeError;
use super::connections::{ConnectionLimits, Guarded, Stream, incoming};
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
            tasks.push(tokio::spawn(serve_metrics(
                listener,
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

/// `GET /metrics` in the Prometheus text format.
async fn serve_metrics(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    budget: Arc<MemoryBudget>,
    stop: watch::Receiver<bool>,
) -> Result<(), ServeError> {
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
    axum::serve(listener, app)
        .with_graceful_shutdown(stopped(stop))
        .await
        .map_err(ServeError::Metrics)
}
