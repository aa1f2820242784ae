//! A real server on ephemeral ports, for tests that talk to it over gRPC.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sla_evaluator::api::pb::sla_evaluator_client::SlaEvaluatorClient;
use sla_evaluator::limits::Limits;
use sla_evaluator::policy::PolicySet;
use sla_evaluator::server::{Listeners, ServerOptions, serve};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::transport::Channel;

/// What to start: options, and which side listeners to open.
pub(crate) struct Setup {
    pub(crate) options: ServerOptions,
    pub(crate) health_listener: bool,
    pub(crate) metrics_listener: bool,
}

impl Default for Setup {
    /// Built-in policies, default limits, a short grace period, no side listeners.
    fn default() -> Self {
        let mut options =
            ServerOptions::new(Arc::new(PolicySet::built_in().expect("built-in policies")));
        options.shutdown.grace_period = Duration::from_secs(2);
        Setup {
            options,
            health_listener: false,
            metrics_listener: false,
        }
    }
}

/// A server running on its own thread and runtime, so that both async tests and blocking tests
/// (which run grpcurl or Python) can use it. Dropping it asks it to shut down without waiting:
/// waiting inside an async test would block the very client connection the drain waits for.
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    pub(crate) health_addr: Option<SocketAddr>,
    pub(crate) metrics_addr: Option<SocketAddr>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    pub(crate) fn start() -> Self {
        Self::build(Setup::default())
    }

    pub(crate) fn start_with(policies: PolicySet, limits: Limits) -> Self {
        let mut setup = Setup::default();
        setup.options.policies = Arc::new(policies);
        setup.options.limits = limits;
        Self::build(setup)
    }

    pub(crate) fn build(setup: Setup) -> Self {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let bind =
                    || async { TcpListener::bind("127.0.0.1:0").await.expect("bind port 0") };
                let grpc = bind().await;
                let health = if setup.health_listener {
                    Some(bind().await)
                } else {
                    None
                };
                let metrics = if setup.metrics_listener {
                    Some(bind().await)
                } else {
                    None
                };
                let addr = |l: Option<&TcpListener>| l.map(|l| l.local_addr().unwrap());
                ready_tx
                    .send((
                        grpc.local_addr().unwrap(),
                        addr(health.as_ref()),
                        addr(metrics.as_ref()),
                    ))
                    .unwrap();
                serve(
                    Listeners {
                        grpc,
                        health,
                        metrics,
                    },
                    setup.options,
                    async {
                        let _ = shutdown_rx.await;
                    },
                )
                .await
                .expect("the server runs");
            });
        });
        let (addr, health_addr, metrics_addr) =
            ready_rx.recv().expect("the server reports its address");
        TestServer {
            addr,
            health_addr,
            metrics_addr,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        }
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) async fn client(&self) -> SlaEvaluatorClient<Channel> {
        SlaEvaluatorClient::connect(self.endpoint())
            .await
            .expect("connect to the test server")
    }

    pub(crate) async fn channel(&self) -> Channel {
        Channel::from_shared(self.endpoint())
            .unwrap()
            .connect()
            .await
            .expect("connect")
    }

    /// Asks the server to shut down and waits until it has; only for blocking tests.
    pub(crate) fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread
                .join()
                .expect("the test server's thread ends cleanly");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
