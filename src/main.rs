//! The `sla-evaluator` server binary: configuration, logging, policies, listener, signals.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use sla_evaluator::policy::PolicySet;
use sla_evaluator::server::{ServerOptions, serve};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// Evaluates measured availability against SLA policies over gRPC.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Config {
    /// Address to listen on.
    #[arg(long, env = "SLA_LISTEN", default_value = "0.0.0.0:50051")]
    listen: SocketAddr,
    /// A directory of extra policy files (*.toml) to load next to the built-in ones. Any bad file
    /// stops the server from starting.
    #[arg(long, env = "SLA_POLICY_DIR")]
    policy_dir: Option<PathBuf>,
    /// Log format.
    #[arg(long, env = "SLA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    /// Log filter, in tracing's EnvFilter syntax.
    #[arg(long, env = "SLA_LOG", default_value = "info")]
    log: String,
    /// On SIGTERM, how long to keep accepting calls while health reports NOT_SERVING, so load
    /// balancers stop sending work first (e.g. "5s").
    #[arg(long, env = "SLA_DRAIN_DELAY", default_value = "0s", value_parser = humantime::parse_duration)]
    drain_delay: Duration,
    /// After the drain delay, how long in-flight calls may take before they are cancelled.
    #[arg(long, env = "SLA_GRACE_PERIOD", default_value = "20s", value_parser = humantime::parse_duration)]
    grace_period: Duration,
    /// HTTP/2 flow-control window per stream, in bytes.
    #[arg(long, env = "SLA_STREAM_WINDOW", default_value_t = 1 << 20)]
    stream_window: u32,
    /// HTTP/2 flow-control window per connection, in bytes.
    #[arg(long, env = "SLA_CONNECTION_WINDOW", default_value_t = 1 << 20)]
    connection_window: u32,
}

/// mimalloc keeps freed memory for reuse, where glibc returns large blocks to the system and takes
/// page faults to get them back: measured on one year of occurrences (`cargo bench --bench
/// engine`), 214 M buckets/s against glibc's 57 M; no worse on the other methods.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal, never into files or log collectors.
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal());
    match config.log_format {
        LogFormat::Human => logs.init(),
        LogFormat::Json => logs.json().init(),
    }

    let policies = PolicySet::built_in().and_then(|set| match &config.policy_dir {
        Some(dir) => set.with_directory(dir),
        None => Ok(set),
    });
    let policies = match policies {
        Ok(policies) => Arc::new(policies),
        Err(error) => {
            tracing::error!(%error, "cannot load policies; not starting");
            return ExitCode::FAILURE;
        }
    };
    let listener = match TcpListener::bind(config.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, listen = %config.listen, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(
        listen = %listener.local_addr().map_or(config.listen, |a| a),
        policies = policies.len(),
        "serving sla.v1.SlaEvaluator"
    );
    let options = ServerOptions {
        drain_delay: config.drain_delay,
        grace_period: config.grace_period,
        stream_window: config.stream_window,
        connection_window: config.connection_window,
        ..ServerOptions::new(policies)
    };
    match serve(listener, options, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "server failed");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM (what Kubernetes sends).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received"),
        () = terminate => tracing::info!("SIGTERM received"),
    }
}
