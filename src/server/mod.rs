//! Serving: the SLA service next to health and reflection on the gRPC listener, optionally TLS;
//! plaintext health on a listener of its own (Kubernetes probes cannot speak TLS); Prometheus
//! metrics over HTTP; and a shutdown in steps.

mod connections;
pub mod descriptors;
mod edge;
mod metrics;
mod options;
mod reload;
mod rpc;
mod side;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tonic::codec::CompressionEncoding;
use tonic::server::NamedService;
use tonic::transport::Server;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

pub use connections::{ConnectionLimits, TlsError, TlsOptions};
pub use options::{Http2Options, ServerOptions, ShutdownOptions};
pub use reload::{PolicyReload, log_policies};

use crate::api::pb::sla_evaluator_server::SlaEvaluatorServer;
use crate::api::{BucketCounter, SlaService};
use crate::memory::MemoryBudget;
use crate::policy::PolicyStore;
use connections::{Protocol, incoming, tls_acceptor};
use edge::EdgeLayer;
use metrics::Metrics;
use side::SideListeners;

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
        shutdown: steps,
        tls,
        statements,
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
    let side = SideListeners::start(
        health_listener,
        metrics_listener,
        side::Shared {
            edge: edge.clone(),
            health: health.clone(),
            metrics: Arc::clone(&metrics),
            budget: Arc::clone(&budget),
            connections,
            slots: Arc::clone(&slots),
        },
    );

    let policies = Arc::new(PolicyStore::new(policies));
    if let Some(reload) = policy_reload {
        tokio::spawn(reload::watch_policies(
            Arc::clone(&policies),
            reload,
            Arc::clone(&calendars),
            Arc::clone(&metrics),
            side.stopping(),
        ));
    }
    let service = SlaService::new(
        policies,
        calendars,
        limits,
        calls,
        Arc::clone(&budget),
        Arc::clone(&metrics) as Arc<dyn BucketCounter>,
    )
    .with_statements(statements);
    let (stop_accepting, grace_over) = shutdown_steps(shutdown, health, steps);
    let server = grpc_server(http2)
        .layer(edge)
        .add_service(health_service)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?)
        .add_service(sla_server(service, max_message_bytes))
        .serve_with_incoming_shutdown(
            incoming(grpc, tls, Protocol::Http2, connections, slots, metrics),
            stop_accepting,
        );
    let served = tokio::select! {
        served = server => served.map(|()| tracing::info!("drained; stopped")),
        () = grace_over => {
            tracing::warn!(
                grace_period = ?steps.grace_period,
                "grace period over; cancelling the calls still in flight"
            );
            Ok(())
        }
    };
    side.stop().await;
    Ok(served?)
}

/// The gRPC server, with the HTTP/2 settings.
fn grpc_server(http2: Http2Options) -> Server {
    Server::builder()
        .initial_stream_window_size(http2.stream_window)
        .initial_connection_window_size(http2.connection_window)
        .max_concurrent_streams(http2.max_concurrent_streams)
        .max_frame_size(http2.max_frame_size)
        .http2_max_local_error_reset_streams(Some(http2.max_local_error_reset_streams))
        .http2_keepalive_interval(Some(http2.keepalive_interval))
        .http2_keepalive_timeout(Some(http2.keepalive_timeout))
        // No max_connection_age_grace: in tonic 0.14.9, setting it skips the GOAWAY and closes the
        // connection abruptly at age + grace, cutting the calls in flight. Without it, the
        // connection gets its GOAWAY at the age and its calls end within the call timeout.
        .max_connection_age(http2.max_connection_age)
}

/// The SLA service as gRPC serves it: requests up to `max_message_bytes`, gzip and zstd taken
/// (grpcio's `compression=Gzip`, grpc-go's `UseCompressor`), and answers compressed the same way
/// when the client asks.
fn sla_server(service: SlaService, max_message_bytes: usize) -> SlaEvaluatorServer<SlaService> {
    SlaEvaluatorServer::new(service)
        .max_decoding_message_size(max_message_bytes)
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .send_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Zstd)
}

/// The shutdown in steps, as two futures: the first resolves when the server must stop accepting
/// (after `shutdown`, health reporting NOT_SERVING for the drain delay); the second when the
/// grace period for the calls in flight is over (never, before the first).
fn shutdown_steps(
    shutdown: impl Future<Output = ()>,
    health: HealthReporter,
    steps: ShutdownOptions,
) -> (impl Future<Output = ()>, impl Future<Output = ()>) {
    let ShutdownOptions {
        drain_delay,
        grace_period,
    } = steps;
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
    let grace_over = async move {
        if draining_rx.await.is_ok() {
            tokio::time::sleep(grace_period).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    (stop_accepting, grace_over)
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
