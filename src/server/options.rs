//! Everything a server is configured with besides its listeners, with the defaults a production
//! deployment starts from. Each is a flag of the binary (see `src/config.rs` and the README).

use std::sync::Arc;
use std::time::Duration;

use super::reload::PolicyReload;
use super::{ConnectionLimits, TlsOptions};
use crate::api::Statements;
use crate::calendar::CalendarSet;
use crate::limits::{CallLimits, Limits};
use crate::policy::PolicySet;

/// A server's configuration.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// The policies served at start.
    pub policies: Arc<PolicySet>,
    /// Where to reload them from on SIGHUP and on file changes; `None` never reloads.
    pub policy_reload: Option<PolicyReload>,
    /// The calendars business days are counted in.
    pub calendars: Arc<CalendarSet>,
    /// What one evaluation may hold: term length, outages.
    pub limits: Limits,
    /// What every call runs under: concurrency, time, buckets per stream.
    pub calls: CallLimits,
    /// Largest request message accepted, in bytes.
    pub max_message_bytes: usize,
    /// Bytes the calls in progress may hold at once, server-wide.
    pub memory_budget: u64,
    /// How connections are bounded.
    pub connections: ConnectionLimits,
    /// HTTP/2 settings.
    pub http2: Http2Options,
    /// How the server stops.
    pub shutdown: ShutdownOptions,
    /// TLS for the gRPC listener; `None` serves plaintext.
    pub tls: Option<TlsOptions>,
    /// The keys answers are signed with and the ledger they are recorded in; none by default.
    pub statements: Statements,
}

impl ServerOptions {
    /// The defaults, serving `policies` with the built-in calendars.
    pub fn new(policies: Arc<PolicySet>) -> Self {
        ServerOptions {
            policies,
            policy_reload: None,
            calendars: Arc::new(
                CalendarSet::built_in().expect("the built-in calendars are checked by tests"),
            ),
            limits: Limits::default(),
            calls: CallLimits::default(),
            max_message_bytes: 4 << 20,
            memory_budget: 1 << 30,
            connections: ConnectionLimits::default(),
            http2: Http2Options::default(),
            shutdown: ShutdownOptions::default(),
            tls: None,
            statements: Statements::default(),
        }
    }
}

/// HTTP/2 settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Http2Options {
    /// Flow-control window of each stream, in bytes: how much a client may send ahead of what the
    /// server has read.
    pub stream_window: u32,
    /// Flow-control window of each connection, in bytes, shared by its streams.
    pub connection_window: u32,
    /// The largest DATA frame a client may send, in bytes: a message larger than it arrives in
    /// pieces, each read, accounted and handed to the call apart.
    pub max_frame_size: u32,
    /// Streams one connection may have open at once; a client opens more only as others end.
    /// (tonic leaves it unlimited.)
    pub max_concurrent_streams: u32,
    /// Streams the server may reset because the client broke the protocol before it closes the
    /// connection with ENHANCE_YOUR_CALM. (tonic's default turns h2's guard off.)
    pub max_local_error_reset_streams: usize,
    /// How often the server pings an idle connection.
    pub keepalive_interval: Duration,
    /// How long it waits for the ping's answer before closing the connection.
    pub keepalive_timeout: Duration,
    /// How long a connection may live before the server asks the client to open a new one
    /// (GOAWAY): clients balancing round-robin over the pods then also reach pods added since.
    /// Calls in flight on it finish normally; the call timeout bounds how long that takes.
    pub max_connection_age: Duration,
}

impl Default for Http2Options {
    /// 1 MiB windows (measured: 64 KiB starves 10,000-bucket batches, larger buys nothing), frames
    /// of up to 256 KiB (measured on a warm server fed rows, `sla-load` TRTC: 33-34 ns of CPU a
    /// bucket against 35-36 with HTTP/2's default of 16 KiB, which cut a 160 KiB batch of rows
    /// into ten frames; columns the same either way; 1 MiB no better), 256 streams a connection, h2's own 1,024 reset guard, a ping every minute answered within 20 s,
    /// and connections renewed every 30 minutes.
    fn default() -> Self {
        Http2Options {
            stream_window: 1 << 20,
            connection_window: 1 << 20,
            max_frame_size: 256 << 10,
            max_concurrent_streams: 256,
            max_local_error_reset_streams: 1024,
            keepalive_interval: Duration::from_secs(60),
            keepalive_timeout: Duration::from_secs(20),
            max_connection_age: Duration::from_secs(30 * 60),
        }
    }
}

/// How the server stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShutdownOptions {
    /// After the shutdown signal, how long to keep accepting calls while reporting NOT_SERVING, so
    /// that load balancers and Kubernetes endpoints stop sending new work before the port closes.
    pub drain_delay: Duration,
    /// After the drain delay, how long in-flight calls may take to finish before they are
    /// cancelled.
    pub grace_period: Duration,
}

impl Default for ShutdownOptions {
    /// No drain delay (a person pressing Ctrl-C wants it gone; Kubernetes deployments set one)
    /// and a 20 s grace period, inside Kubernetes' default 30 s termination grace.
    fn default() -> Self {
        ShutdownOptions {
            drain_delay: Duration::ZERO,
            grace_period: Duration::from_secs(20),
        }
    }
}
