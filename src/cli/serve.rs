//! `sla-evaluator serve`: sets up logging, loads the policies, binds the listeners and serves until
//! SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::config::Config;
use crate::server::{Listeners, PolicyReload, log_policies, serve};
use crate::telemetry::{self, TelemetryError};

/// Serves until a signal asks it to stop.
pub async fn run(config: Config) -> ExitCode {
    // Signals first: a SIGTERM that arrives while policies load must drain, not kill.
    let signals = match Signals::register() {
        Ok(signals) => signals,
        Err(error) => {
            eprintln!("sla-evaluator: cannot listen for signals: {error}");
            return ExitCode::FAILURE;
        }
    };
    let telemetry = match telemetry::init(&config.log, config.log_format) {
        Ok(telemetry) => telemetry,
        Err(error @ TelemetryError::Filter { .. }) => {
            eprintln!("sla-evaluator: {error}");
            return ExitCode::from(2);
        }
        Err(error) => {
            eprintln!("sla-evaluator: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = serve_with(config, signals).await;
    telemetry.shutdown().await;
    code
}

/// Loads, binds and serves, once logging is set up.
async fn serve_with(config: Config, mut signals: Signals) -> ExitCode {
    let policies = match config.policies() {
        Ok(policies) => Arc::new(policies),
        Err(error) => {
            tracing::error!(%error, "cannot load policies; not starting");
            return ExitCode::FAILURE;
        }
    };
    log_policies(&policies, config.policy_dir.as_deref(), "policies loaded");
    let mut options = match config.server_options(Arc::clone(&policies)) {
        Ok(options) => options,
        Err(error) => {
            tracing::error!(%error, "cannot configure the server; not starting");
            return ExitCode::FAILURE;
        }
    };
    options.statements = match config.statements().await {
        Ok(statements) => statements,
        Err(error) => {
            tracing::error!(%error, "cannot configure the server; not starting");
            return ExitCode::FAILURE;
        }
    };
    forward_hangups(signals.hangup.take(), options.policy_reload.as_ref());
    let listeners = match bind(&config).await {
        Ok(listeners) => listeners,
        Err((address, error)) => {
            tracing::error!(%error, %address, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    let address = |listener: Option<&TcpListener>| {
        listener
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.to_string())
    };
    if options.tls.is_some() && listeners.health.is_none() {
        tracing::warn!(
            "TLS is on and --health-listen is not set: plaintext probes cannot reach health"
        );
    }
    tracing::info!(
        listen = address(Some(&listeners.grpc)),
        health_listen = address(listeners.health.as_ref()),
        metrics_listen = address(listeners.metrics.as_ref()),
        tls = options.tls.is_some(),
        mutual_tls = options.tls.as_ref().is_some_and(|t| t.client_ca.is_some()),
        policies = policies.len(),
        signing_keys = ?options.statements.keyids(),
        statement_store = options.statements.store_name(),
        "serving sla.v1.SlaEvaluator"
    );
    match serve(listeners, options, signals.shutdown()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "server failed");
            ExitCode::FAILURE
        }
    }
}

/// Turns every SIGHUP into a request to reload the policy directory; without one, says so.
fn forward_hangups(hangup: Option<Signal>, reload: Option<&PolicyReload>) {
    let Some(mut hangup) = hangup else { return };
    let requests = reload.map(|r| Arc::clone(&r.requests));
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            match &requests {
                Some(requests) => {
                    tracing::info!("SIGHUP received: reloading the policy directory");
                    requests.notify_one();
                }
                None => tracing::info!("SIGHUP received: no --policy-dir, nothing to reload"),
            }
        }
    });
}

async fn bind(config: &Config) -> Result<Listeners, (SocketAddr, std::io::Error)> {
    let bind = |address: SocketAddr| async move {
        TcpListener::bind(address)
            .await
            .map_err(|error| (address, error))
    };
    let optional = |address: Option<SocketAddr>| async move {
        match address {
            Some(address) => bind(address).await.map(Some),
            None => Ok(None),
        }
    };
    Ok(Listeners {
        grpc: bind(config.listen).await?,
        health: optional(config.health_listen).await?,
        metrics: optional(config.metrics_listen).await?,
    })
}

/// SIGTERM (what Kubernetes sends) and SIGINT (Ctrl-C), registered before anything else happens.
/// SIGHUP is registered too, so that it never ends the process: it reloads the policy directory
/// (src/server/reload.rs), or does nothing without one.
struct Signals {
    terminate: Signal,
    interrupt: Signal,
    hangup: Option<Signal>,
}

impl Signals {
    fn register() -> std::io::Result<Self> {
        Ok(Signals {
            hangup: Some(signal(SignalKind::hangup())?),
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// Resolves on the first signal. A second one, while the server drains, ends the process at
    /// once: the person or system sending it has decided not to wait.
    async fn shutdown(mut self) {
        tokio::select! {
            _ = self.terminate.recv() => tracing::info!("SIGTERM received"),
            _ = self.interrupt.recv() => tracing::info!("Ctrl-C received"),
        }
        tokio::spawn(async move {
            tokio::select! {
                _ = self.terminate.recv() => {}
                _ = self.interrupt.recv() => {}
            }
            tracing::warn!("second signal: exiting without waiting for the drain");
            std::process::exit(130);
        });
    }
}
