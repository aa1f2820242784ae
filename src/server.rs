//! Serving: the SLA service next to health and reflection on one listener, with a graceful
//! shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::server::NamedService;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;

use crate::api::SlaService;
use crate::api::pb::sla_evaluator_server::SlaEvaluatorServer;
use crate::engine::Limits;
use crate::policy::PolicySet;

/// What a server needs besides its listener.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    pub policies: Arc<PolicySet>,
    pub limits: Limits,
    /// After the shutdown signal, how long to keep accepting calls while reporting NOT_SERVING, so
    /// that load balancers and Kubernetes endpoints stop sending new work before the port closes.
    pub drain_delay: Duration,
    /// After the drain delay, how long in-flight calls may take to finish before they are
    /// cancelled.
    pub grace_period: Duration,
    /// HTTP/2 flow-control window of each stream, in bytes: how much a client may send ahead of
    /// what the server has read.
    pub stream_window: u32,
    /// HTTP/2 flow-control window of each connection, in bytes, shared by its streams.
    pub connection_window: u32,
}

impl ServerOptions {
    /// The built-in policies, default limits, no drain delay, a 20 s grace period and 1 MiB
    /// windows (room for dozens of 10,000-bucket column messages in flight per stream).
    pub fn new(policies: Arc<PolicySet>) -> Self {
        ServerOptions {
            policies,
            limits: Limits::default(),
            drain_delay: Duration::ZERO,
            grace_period: Duration::from_secs(20),
            stream_window: 1 << 20,
            connection_window: 1 << 20,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("building the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error(transparent)]
    Transport(#[from] tonic::transport::Error),
}

/// The fully qualified name health reports the SLA service under.
pub const SERVICE_NAME: &str = <SlaEvaluatorServer<SlaService> as NamedService>::NAME;

/// Serves on an already bound listener until `shutdown` resolves; then reports NOT_SERVING at once,
/// keeps serving for the drain delay, stops accepting, lets in-flight calls finish within the grace
/// period, cancels whatever is left, and returns.
///
/// Taking a bound listener (rather than an address) lets tests bind port 0 and read the port back.
pub async fn serve(
    listener: TcpListener,
    options: ServerOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let ServerOptions {
        policies,
        limits,
        drain_delay,
        grace_period,
        stream_window,
        connection_window,
    } = options;
    let (health, health_service) = tonic_health::server::health_reporter();
    // Policies are loaded before `serve` is called, so the service is ready from the first call.
    health.set_serving::<SlaEvaluatorServer<SlaService>>().await;

    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;
    let service = SlaService::new(policies, limits);

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
        .initial_stream_window_size(stream_window)
        .initial_connection_window_size(connection_window)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(SlaEvaluatorServer::new(service))
        .serve_with_incoming_shutdown(incoming(listener), stop_accepting);
    let grace_over = async move {
        if draining_rx.await.is_ok() {
            tokio::time::sleep(grace_period).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        served = server => {
            served?;
            tracing::info!("drained; stopped");
        }
        () = grace_over => {
            tracing::warn!(?grace_period, "grace period over; cancelling the calls still in flight");
        }
    }
    Ok(())
}

/// Accepted connections with TCP_NODELAY: a stream's small writes (window updates, the response
/// and its trailers) must not wait for Nagle's algorithm to meet the peer's delayed ACK. Without
/// it, h2load measured every Evaluate call taking 40 ms longer and the server mostly idle.
fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
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
