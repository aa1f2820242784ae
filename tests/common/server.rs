//! A real server on an ephemeral port, for tests that talk to it over gRPC.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sla_evaluator::api::pb::sla_evaluator_client::SlaEvaluatorClient;
use sla_evaluator::engine::Limits;
use sla_evaluator::policy::PolicySet;
use sla_evaluator::server::{ServerOptions, serve};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::transport::Channel;

/// A server running on its own thread and runtime, so that both async tests and blocking tests
/// (which run grpcurl or Python) can use it. Dropping it asks it to shut down without waiting:
/// waiting inside an async test would block the very client connection the drain waits for.
pub struct TestServer {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    pub fn start() -> Self {
        Self::start_with(
            PolicySet::built_in().expect("built-in policies"),
            Limits::default(),
        )
    }

    pub fn start_with(policies: PolicySet, limits: Limits) -> Self {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
                ready_tx.send(listener.local_addr().unwrap()).unwrap();
                let options = ServerOptions {
                    limits,
                    grace_period: Duration::from_secs(2),
                    ..ServerOptions::new(Arc::new(policies))
                };
                serve(listener, options, async {
                    let _ = shutdown_rx.await;
                })
                .await
                .expect("the server runs");
            });
        });
        let addr = ready_rx.recv().expect("the server reports its address");
        TestServer {
            addr,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn client(&self) -> SlaEvaluatorClient<Channel> {
        SlaEvaluatorClient::connect(self.endpoint())
            .await
            .expect("connect to the test server")
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.endpoint())
            .unwrap()
            .connect()
            .await
            .expect("connect")
    }

    /// Asks the server to shut down and waits until it has; only for blocking tests.
    pub fn stop(mut self) {
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
