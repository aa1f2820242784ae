//! Serving: the SLA service next to health and reflection on the gRPC listener, optionally TLS;
//! plaintext health on a listener of its own (Kubernetes probes cannot speak TLS); Prometheus
//! metrics over HTTP; and a shutdown in steps.

mod connections;
mod edge;
mod metrics;
mod options;
mod reload;
mod rpc;

use std::future::Future;
use std::sync::Arc;

use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::sync::watch;
use tonic::codec::CompressionEncoding;
use tonic::server::NamedService;
use tonic::transport::Server;
use tonic_health::ServingStatus;
use tonic_health::pb::health_server::HealthServer;
use tonic_health::server::{HealthReporter, HealthService};

pub use connections::{ConnectionLimits, TlsError, TlsOptions};
pub use options::{Http2Options, ServerOptions, ShutdownOptions};
pub use reload::{PolicyReload, log_policies};

use crate::api::pb::sla_evaluator_server::SlaEvaluatorServer;
use crate::api::{BucketCounter, SlaService};
use crate::memory::MemoryBudget;
use crate::policy::PolicyStore;
use connections::{incoming, tls_acceptor};
use edge::EdgeLayer;
use metrics::Metrics;

/// The fully qualified name health reports the SLA service under.
pub const SERVICE_NAME: &str = <SlaEvaluatorServer<SlaService> as NamedService>::NAME;

/// The sockets a server listens on, already bound (so tests can bind port 0 and read the port).
#[derive(Debug)]
pub struct Listeners {
    /// gRPC: the SLA service, health and reflection; TLS when configured.
    pub grpc: TcpListener,
    /// Plaintext health only, for probes when the gRPC listener speaks TLS.
    pub health: Option<TcpListener>,
    /// Prometheus metrics over HTTP at `/metrics`.
    pub metrics: Option<TcpListener>,
}

impl From<TcpListener> for Listeners {
    fn from(grpc: TcpListener) -> Self {
        Listeners {
            grpc,
            health: None,
            metrics: None,
        }
    }
}

/// Why the server stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("building the reflection service: {0}")]
    /// Reflection's descriptors could not be read.
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("TLS: {0}")]
    /// The TLS material is unusable.
    Tls(#[from] TlsError),
    #[error(transparent)]
    /// The gRPC listener failed.
    Transport(#[from] tonic::transport::Error),
    #[error("metrics listener: {0}")]
    /// The metrics listener failed.
    Metrics(std::io::Error),
}

/// Serves until `shutdown` resolves; then reports NOT_SERVING at once, keeps serving for the drain
/// delay, stops accepting, lets in-flight calls finish within the grace period, and returns.
///
/// When the grace period runs out, `serve` returns without waiting for the calls still in flight:
/// their connections run as tasks of the runtime and end when it shuts down, as the binary's does
/// when `main` returns. A caller that keeps its runtime must shut it down to cancel them.
pub async fn serve(
    listeners: impl Into<Listeners>,
    options: ServerOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let Listeners {
        grpc,
        health: health_listener,
        metrics: metrics_listener,
    } = listeners.into();
    let ServerOptions {
        policies,
        policy_reload,
        calendars,
        limits,
        calls,
        max_message_bytes,
        memory_budget,
        connections,
        http2,
        shutdown: ShutdownOptions {
            drain_delay,
            grace_period,
        },
        tls,
    } = options;

    let metrics = Arc::new(Metrics::default());
    let budget = MemoryBudget::new(memory_budget);
    let tls = tls.as_ref().map(tls_acceptor).transpose()?;
    // Every listener's connections share one pool, so the process's descriptors are bounded.
    let slots = Arc::new(Semaphore::new(connections.max_connections));
    let edge = EdgeLayer::new(
        calls,
        max_message_bytes,
        Arc::clone(&budget),
        Arc::clone(&metrics),
    );
    let (health, health_service) = tonic_health::server::health_reporter();
    // Policies are loaded before `serve` is called, so the service is ready from the first call.
    health.set_serving::<SlaEvaluatorServer<SlaService>>().await;

    // The side servers (plaintext health, metrics) stop when the gRPC server has stopped, so that
    // probes keep seeing NOT_SERVING through the whole drain.
    let (stopped, stop_watch) = watch::channel(false);
    let mut side = Vec::new();
    if let Some(listener) = health_listener {
        let incoming = incoming(
            listener,
            None,
            connections,
            Arc::clone(&slots),
            Arc::clone(&metrics),
        );
        side.push(tokio::spawn(serve_health(
            incoming,
            edge.clone(),
            health.clone(),
            stop_watch.clone(),
        )));
    }
    if let Some(listener) = metrics_listener {
        side.push(tokio::spawn(serve_metrics(
            listener,
            Arc::clone(&metrics),
            Arc::clone(&budget),
            stop_watch.clone(),
        )));
    }

    let policies = Arc::new(PolicyStore::new(policies));
    if let Some(reload) = policy_reload {
        tokio::spawn(reload::watch_policies(
            Arc::clone(&policies),
            reload,
            Arc::clone(&calendars),
            Arc::clone(&metrics),
            stop_watch.clone(),
        ));
    }
    let service = SlaEvaluatorServer::new(SlaService::new(
        policies,
        calendars,
        limits,
        calls,
        Arc::clone(&budget),
        Arc::clone(&metrics) as Arc<dyn BucketCounter>,
    ))
    .max_decoding_message_size(max_message_bytes)
    // gzip and zstd requests are taken (grpcio's `compression=Gzip`, grpc-go's `UseCompressor`),
    // and answers are compressed the same way when the client asks.
    .accept_compressed(CompressionEncoding::Gzip)
    .accept_compressed(CompressionEncoding::Zstd)
    .send_compressed(CompressionEncoding::Gzip)
    .send_compressed(CompressionEncoding::Zstd);
    let (draining_tx, draining_rx) = tokio::sync::oneshot::channel::<()>();
    let stop_accepting = async move {
        shutdown.await;
        for name in ["", SERVICE_NAME] {
            health
                .set_service_status(name, ServingStatus::NotServing)
                .await;
        }
        tracing::info!(?drain_delay, "shutdown requested: reporting NOT_SERVING");
        tokio::time::sleep(drain_delay).await;
        tracing::info!(
            ?grace_period,
            "no longer accepting; draining in-flight calls"
        );
        let _ = draining_tx.send(());
    };
    let server = Server::builder()
        .initial_stream_window_size(http2.stream_window)
        .initial_connection_window_size(http2.connection_window)
        .max_concurrent_streams(http2.max_concurrent_streams)
        .http2_max_local_error_reset_streams(Some(http2.max_local_error_reset_streams))
        .http2_keepalive_interval(Some(http2.keepalive_interval))
        .http2_keepalive_timeout(Some(http2.keepalive_timeout))
        // No max_connection_age_grace: in tonic 0.14.9, setting it skips the GOAWAY and closes the
        // connection abruptly at age + grace, cutting the calls in flight. Without it, the
        // connection gets its GOAWAY at the age and its calls end within the call timeout.
        .max_connection_age(http2.max_connection_age)
        .layer(edge)
        .add_service(health_service)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?)
        .add_service(service)
        .serve_with_incoming_shutdown(
            incoming(grpc, tls, connections, slots, metrics),
            stop_accepting,
        );
    let grace_over = async move {
        if draining_rx.await.is_ok() {
            tokio::time::sleep(grace_period).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    let served = tokio::select! {
        served = server => served.map(|()| tracing::info!("drained; stopped")),
        () = grace_over => {
            tracing::warn!(?grace_period, "grace period over; cancelling the calls still in flight");
            Ok(())
        }
    };
    let _ = stopped.send(true);
    for task in side {
        match task.await {
            Ok(Err(error)) => tracing::error!(%error, "a side listener failed"),
            Err(error) => tracing::error!(%error, "a side listener panicked"),
            Ok(Ok(())) => {}
        }
    }
    Ok(served?)
}

/// Reflection lists the public services only (the SLA service and health), and also describes the
/// `google.rpc` error details, so grpcurl can show a `BadRequest` instead of raw bytes.
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::api::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .with_service_name(SERVICE_NAME)
        .with_service_name("grpc.health.v1.Health")
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|&stopped| stopped).await;
}

/// Health alone, in plaintext, sharing the reporter with the gRPC listener and bounded by the same
/// edge.
async fn serve_health(
    incoming: impl tokio_stream::Stream<
        Item = std::io::Result<connections::Guarded<connections::Stream>>,
    >,
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
