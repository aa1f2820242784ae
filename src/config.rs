//! The server's command line: every setting is a flag with an `SLA_*` environment twin, so the same
//! binary is configured by hand, by a Kubernetes manifest or by a container's environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use crate::api::Statements;
use crate::catalogue::{self, CatalogueError};
use crate::limits::{CallLimits, Limits};
use crate::policy::PolicySet;
use crate::server::{
    ConnectionLimits, Http2Options, PolicyReload, ServerOptions, ShutdownOptions, TlsOptions,
    descriptors,
};
use crate::statement::SigningKeys;
use crate::store::{Open, Store};
use crate::telemetry::LogFormat;

/// Evaluates measured availability against SLA policies over gRPC.
#[derive(Debug, Parser)]
#[command(name = "sla-evaluator", version, about)]
pub struct Config {
    /// Address to serve gRPC on.
    #[arg(long, env = "SLA_LISTEN", default_value = "0.0.0.0:50051")]
    pub listen: SocketAddr,
    /// A directory of extra policy files (*.toml) loaded next to the built-in ones. Any bad file
    /// stops the server from starting; it is re-read on SIGHUP and when its files change, and a
    /// bad file then keeps the previous policies serving.
    #[arg(long, env = "SLA_POLICY_DIR")]
    pub policy_dir: Option<PathBuf>,
    /// How often the policy directory is checked for changes.
    #[arg(long, env = "SLA_POLICY_POLL_INTERVAL", default_value = "5s", value_parser = positive_duration)]
    pub policy_poll_interval: Duration,
    /// A directory of extra business calendars (*.toml, the format of the built-in
    /// calendars/cn-mainland.toml) that specs and policies can name. Any bad file, or a policy
    /// naming a calendar that is not loaded, stops the server from starting.
    #[arg(long, env = "SLA_CALENDAR_DIR")]
    pub calendar_dir: Option<PathBuf>,
    /// Address to serve Prometheus metrics on, at /metrics; "off" serves none.
    #[arg(long, env = "SLA_METRICS_LISTEN", default_value = "0.0.0.0:9090", value_parser = optional_address)]
    pub metrics_listen: OptionalAddress,
    /// Address to serve plaintext gRPC health on, besides the gRPC listener: what Kubernetes
    /// probes use when the gRPC listener speaks TLS.
    #[arg(long, env = "SLA_HEALTH_LISTEN")]
    pub health_listen: Option<SocketAddr>,

    /// PEM certificate chain: serve gRPC over TLS.
    #[arg(long, env = "SLA_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of the certificate.
    #[arg(long, env = "SLA_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA certificates of acceptable client certificates: require mutual TLS.
    #[arg(long, env = "SLA_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,

    /// Largest request message accepted, in bytes.
    #[arg(long, env = "SLA_MAX_MESSAGE_BYTES", default_value_t = 4 << 20, value_parser = at_least_one)]
    pub max_message_bytes: usize,
    /// Memory the calls in progress may hold at once (ledgers and messages being decoded), e.g.
    /// "768MiB"; a call that would pass it is refused with RESOURCE_EXHAUSTED. "auto": 60% of the
    /// container's memory limit, or half the machine's memory without one.
    #[arg(long, env = "SLA_MEMORY_BUDGET", default_value = "auto", value_parser = memory_budget)]
    pub memory_budget: MemorySetting,
    /// Evaluate and ClassifyOutages calls in progress at once; more are shed with
    /// RESOURCE_EXHAUSTED.
    #[arg(long, env = "SLA_MAX_CONCURRENT_CALLS", default_value_t = CallLimits::default().max_concurrent, value_parser = at_least_one)]
    pub max_concurrent_calls: usize,
    /// The longest a call may take, upload included.
    #[arg(long, env = "SLA_CALL_TIMEOUT", default_value = "5m", value_parser = positive_duration)]
    pub call_timeout: Duration,
    /// Buckets one Evaluate stream may send.
    #[arg(long, env = "SLA_MAX_BUCKETS_PER_STREAM", default_value_t = CallLimits::default().max_buckets_per_stream)]
    pub max_buckets_per_stream: u64,
    /// Largest response message, encoded, e.g. "16MiB"; a response over it is refused with
    /// RESOURCE_EXHAUSTED before it is sent.
    #[arg(long, env = "SLA_MAX_RESPONSE_BYTES", default_value = "16MiB", value_parser = size)]
    pub max_response_bytes: u64,
    /// Health Watch streams open at once; one more is refused with RESOURCE_EXHAUSTED.
    #[arg(long, env = "SLA_MAX_HEALTH_WATCHES", default_value_t = CallLimits::default().max_health_watches, value_parser = at_least_one)]
    pub max_health_watches: usize,
    /// Longest evaluation term, in days.
    #[arg(long, env = "SLA_MAX_TERM_DAYS", default_value_t = Limits::default().max_term_days)]
    pub max_term_days: u32,
    /// Outages one Evaluate stream or ClassifyOutages call may carry.
    #[arg(long, env = "SLA_MAX_OUTAGES", default_value_t = Limits::default().max_outages)]
    pub max_outages: usize,
    /// Most intervals of each kind a month's evidence may list (EvaluationSpec.max_intervals).
    #[arg(long, env = "SLA_MAX_INTERVALS", default_value_t = Limits::default().max_intervals)]
    pub max_intervals: u32,

    /// Connections open at once, over the gRPC and health listeners; one more is closed at once.
    /// It must fit in the process's limit of open files (raised to the hard limit at start) with
    /// the metrics port's connections and 64 more, or the server does not start; left unset, it
    /// is lowered to what the limit holds, with a warning [default: 4096].
    #[arg(long, env = "SLA_MAX_CONNECTIONS", value_parser = at_least_one)]
    pub max_connections: Option<usize>,
    /// Connections open at once on the metrics listener, a pool of its own; one more is closed
    /// at once.
    #[arg(long, env = "SLA_MAX_METRICS_CONNECTIONS", default_value_t = ConnectionLimits::default().max_metrics_connections, value_parser = at_least_one)]
    pub max_metrics_connections: usize,
    /// How long a new connection has to finish its handshakes (TLS, HTTP/2) and send its first
    /// request before it is closed.
    #[arg(long, env = "SLA_HANDSHAKE_TIMEOUT", default_value = "10s", value_parser = positive_duration)]
    pub handshake_timeout: Duration,
    /// How long a connection may go without a call in progress before it is closed.
    #[arg(long, env = "SLA_IDLE_TIMEOUT", default_value = "15m", value_parser = positive_duration)]
    pub idle_timeout: Duration,
    /// PING and SETTINGS frames a client may send at once; past it and the rate below, its
    /// connection is closed.
    #[arg(long, env = "SLA_CONTROL_FRAME_BURST", default_value_t = ConnectionLimits::default().control_frame_burst, value_parser = clap::value_parser!(u32).range(1..))]
    pub control_frame_burst: u32,
    /// PING and SETTINGS frames a client may send per second after the burst.
    #[arg(long, env = "SLA_CONTROL_FRAMES_PER_SECOND", default_value_t = ConnectionLimits::default().control_frames_per_second, value_parser = clap::value_parser!(u32).range(1..))]
    pub control_frames_per_second: u32,

    /// HTTP/2 streams one connection may have open at once.
    #[arg(long, env = "SLA_MAX_CONCURRENT_STREAMS", default_value_t = Http2Options::default().max_concurrent_streams, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent_streams: u32,
    /// HTTP/2 streams the server may reset for protocol errors before closing the connection.
    #[arg(long, env = "SLA_MAX_LOCAL_ERROR_RESETS", default_value_t = Http2Options::default().max_local_error_reset_streams)]
    pub max_local_error_resets: usize,
    /// HTTP/2 flow-control window per stream, in bytes (65535 to 2^31 - 1).
    #[arg(long, env = "SLA_STREAM_WINDOW", default_value_t = Http2Options::default().stream_window, value_parser = window)]
    pub stream_window: u32,
    /// HTTP/2 flow-control window per connection, in bytes (65535 to 2^31 - 1).
    #[arg(long, env = "SLA_CONNECTION_WINDOW", default_value_t = Http2Options::default().connection_window, value_parser = window)]
    pub connection_window: u32,
    /// The largest HTTP/2 DATA frame a client may send, in bytes (16384 to 16777215).
    #[arg(long, env = "SLA_MAX_FRAME_SIZE", default_value_t = Http2Options::default().max_frame_size, value_parser = frame_size)]
    pub max_frame_size: u32,
    /// How often to ping an idle HTTP/2 connection.
    #[arg(long, env = "SLA_KEEPALIVE_INTERVAL", default_value = "60s", value_parser = positive_duration)]
    pub keepalive_interval: Duration,
    /// How long to wait for a ping's answer before closing the connection.
    #[arg(long, env = "SLA_KEEPALIVE_TIMEOUT", default_value = "20s", value_parser = positive_duration)]
    pub keepalive_timeout: Duration,
    /// How long a connection may live before clients are asked to open a new one (its calls in
    /// flight finish), so that round-robin clients also reach pods added since.
    #[arg(long, env = "SLA_MAX_CONNECTION_AGE", default_value = "30m", value_parser = positive_duration)]
    pub max_connection_age: Duration,

    /// On SIGTERM or Ctrl-C, how long to keep serving while health reports NOT_SERVING, so load
    /// balancers stop sending work first (e.g. "5s").
    #[arg(long, env = "SLA_DRAIN_DELAY", default_value = "0s", value_parser = humantime::parse_duration)]
    pub drain_delay: Duration,
    /// After the drain delay, how long in-flight calls may take before they are cancelled.
    #[arg(long, env = "SLA_GRACE_PERIOD", default_value = "20s", value_parser = humantime::parse_duration)]
    pub grace_period: Duration,

    /// An Ed25519 private key (PKCS#8 PEM, e.g. from `openssl genpkey -algorithm ed25519`) to sign
    /// every Evaluate answer with, as a DSSE envelope; repeat it to sign with several (a rotation).
    /// Each key's id is derived from its public key (GetSigningKeys lists them).
    #[arg(
        long,
        env = "SLA_SIGNING_KEY",
        value_name = "FILE",
        value_delimiter = ','
    )]
    pub signing_key: Vec<PathBuf>,
    /// The statement ledger every Evaluate naming a subscription is recorded in, before it is
    /// answered: sqlite:PATH, or a postgres:// URL for a fleet of replicas sharing one chain.
    #[arg(long, env = "SLA_STATEMENT_STORE", value_name = "URL")]
    pub statement_store: Option<String>,

    /// Log format.
    #[arg(long, env = "SLA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    /// Log filter, in tracing's EnvFilter syntax.
    #[arg(long, env = "SLA_LOG", default_value = "info")]
    pub log: String,
}

/// An address, or none.
pub type OptionalAddress = Option<SocketAddr>;

/// A memory budget in bytes, or `auto` for the one derived from the container's limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemorySetting {
    /// Derived from the container's memory limit (see [`crate::memory::default_budget`]).
    Auto,
    /// This many bytes.
    Bytes(u64),
}

impl MemorySetting {
    /// The budget in bytes.
    pub fn bytes(self) -> u64 {
        match self {
            MemorySetting::Auto => crate::memory::default_budget(),
            MemorySetting::Bytes(bytes) => bytes,
        }
    }
}

fn memory_budget(text: &str) -> Result<MemorySetting, String> {
    if text.eq_ignore_ascii_case("auto") {
        return Ok(MemorySetting::Auto);
    }
    match text.parse::<bytesize::ByteSize>() {
        Ok(size) if size.as_u64() > 0 => Ok(MemorySetting::Bytes(size.as_u64())),
        Ok(_) => Err("must be above zero".into()),
        Err(error) => Err(format!(
            "'{text}' is neither a size (e.g. 768MiB) nor \"auto\": {error}"
        )),
    }
}

/// A size in bytes above zero: a number, or one with a unit (e.g. "16MiB").
fn size(text: &str) -> Result<u64, String> {
    match text.parse::<bytesize::ByteSize>() {
        Ok(size) if size.as_u64() > 0 => Ok(size.as_u64()),
        Ok(_) => Err("must be above zero".into()),
        Err(error) => Err(format!("'{text}' is not a size (e.g. 16MiB): {error}")),
    }
}

/// HTTP/2 windows range from the protocol's initial 65,535 bytes to its maximum of 2^31 - 1.
fn window(text: &str) -> Result<u32, String> {
    http2_setting(text, "window", 65_535..=0x7FFF_FFFF)
}

/// HTTP/2 frames carry 2^14 to 2^24 - 1 bytes.
fn frame_size(text: &str) -> Result<u32, String> {
    http2_setting(text, "frame size", 16_384..=16_777_215)
}

/// A number of bytes for an HTTP/2 setting, inside the range the protocol allows it.
fn http2_setting(
    text: &str,
    setting: &str,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, String> {
    let value: u32 = text.parse().map_err(|e| format!("'{text}': {e}"))?;
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "{value} is outside HTTP/2's {setting} range of {} to {} bytes",
            range.start(),
            range.end()
        ))
    }
}

fn positive_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(duration) if !duration.is_zero() => Ok(duration),
        Ok(_) => Err("must be longer than zero".into()),
        Err(error) => Err(format!("'{text}': {error}")),
    }
}

fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(value) => Ok(value),
        Err(error) => Err(format!("'{text}': {error}")),
    }
}

fn optional_address(text: &str) -> Result<OptionalAddress, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|e| format!("'{text}' is neither an address nor \"off\": {e}"))
}

/// Why the server cannot be configured.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    /// A policy or calendar file is bad, or a policy names a calendar that is not loaded.
    Catalogue(#[from] CatalogueError),
    #[error(
        "--max-connections {asked} needs {needed} open files with the metrics port's {metrics} \
         connections and the {reserved} the process keeps, but its limit of open files is \
         {limit} (ulimit -n): lower --max-connections to {room} or less, or raise the limit"
    )]
    /// The connections the server may hold do not fit in the process's limit of open files.
    Descriptors {
        /// `--max-connections`.
        asked: u64,
        /// The descriptors that takes with the others.
        needed: u64,
        /// `--max-metrics-connections`.
        metrics: usize,
        /// What the process keeps for itself.
        reserved: u64,
        /// The process's limit of open files, raised to the hard one.
        limit: u64,
        /// The most `--max-connections` that fits.
        room: u64,
    },
    #[error("--signing-key {0}")]
    /// A signing key cannot be read.
    SigningKey(#[from] crate::statement::KeyError),
    #[error("--statement-store: {0}")]
    /// The statement ledger cannot be opened.
    StatementStore(#[from] crate::store::StoreError),
    #[error("{path}: {source}")]
    /// A file a flag names cannot be read.
    Read {
        /// The path the flag gave.
        path: PathBuf,
        #[source]
        /// The error reading it (not found, permission denied, ...).
        source: std::io::Error,
    },
}

impl Config {
    /// `--max-connections`, checked against the process's limit of open files, which is raised to
    /// the hard limit first (see [`descriptors`]). Left at its default, it is lowered to what the
    /// limit holds, and a warning says so.
    fn max_connections(&self) -> Result<usize, ConfigError> {
        let default = ConnectionLimits::default().max_connections;
        let limit = match descriptors::raise_limit() {
            Ok(limit) => limit,
            Err(error) => {
                tracing::warn!(%error, "cannot read or raise the limit of open files");
                return Ok(self.max_connections.unwrap_or(default));
            }
        };
        let metrics = self.max_metrics_connections;
        let room = descriptors::connections_within(limit, metrics);
        let refused = |asked: u64| ConfigError::Descriptors {
            asked,
            needed: asked + metrics as u64 + descriptors::RESERVED_DESCRIPTORS,
            metrics,
            reserved: descriptors::RESERVED_DESCRIPTORS,
            limit,
            room,
        };
        match self.max_connections {
            Some(asked) if asked as u64 <= room => Ok(asked),
            Some(asked) => Err(refused(asked as u64)),
            None if default as u64 <= room => Ok(default),
            None if room == 0 => Err(refused(default as u64)),
            None => {
                tracing::warn!(
                    max_connections = room,
                    open_files_limit = limit,
                    "the limit of open files holds fewer connections than the default \
                     --max-connections {default}: the server takes {room} at once"
                );
                Ok(usize::try_from(room).unwrap_or(default))
            }
        }
    }

    /// The built-in policies plus the policy directory's: loaded first, so that the log says
    /// what will be served before anything else is set up.
    pub fn policies(&self) -> Result<PolicySet, ConfigError> {
        Ok(catalogue::policies(self.policy_dir.as_deref())?)
    }

    /// The signing keys read and the statement ledger opened (upgraded when older); neither when
    /// the flags name none.
    pub async fn statements(&self) -> Result<Statements, ConfigError> {
        let keys = SigningKeys::from_files(&self.signing_key)?;
        let store = match &self.statement_store {
            Some(url) => Some(Arc::new(Store::open(url, Open::Migrate).await?)),
            None => None,
        };
        Ok(Statements::new(keys, store))
    }

    /// Everything but the listeners, with TLS and calendar files read (the calendars checked
    /// against `policies`).
    pub fn server_options(&self, policies: Arc<PolicySet>) -> Result<ServerOptions, ConfigError> {
        let calendars = Arc::new(catalogue::calendars(
            self.calendar_dir.as_deref(),
            &policies,
        )?);
        let read = |path: &PathBuf| {
            std::fs::read(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })
        };
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsOptions {
                certificate: read(cert)?,
                key: read(key)?,
                client_ca: self.tls_client_ca.as_ref().map(read).transpose()?,
            }),
            _ => None,
        };
        Ok(ServerOptions {
            policies,
            policy_reload: self
                .policy_dir
                .as_ref()
                .map(|dir| PolicyReload::new(dir.clone(), self.policy_poll_interval)),
            calendars,
            limits: Limits {
                max_term_days: self.max_term_days,
                max_outages: self.max_outages,
                max_intervals: self.max_intervals,
            },
            calls: CallLimits {
                max_concurrent: self.max_concurrent_calls,
                timeout: self.call_timeout,
                max_buckets_per_stream: self.max_buckets_per_stream,
                max_response_bytes: self.max_response_bytes,
                max_health_watches: self.max_health_watches,
            },
            max_message_bytes: self.max_message_bytes,
            memory_budget: self.memory_budget.bytes(),
            connections: ConnectionLimits {
                max_connections: self.max_connections()?,
                max_metrics_connections: self.max_metrics_connections,
                handshake_timeout: self.handshake_timeout,
                idle_timeout: self.idle_timeout,
                control_frame_burst: self.control_frame_burst,
                control_frames_per_second: self.control_frames_per_second,
            },
            http2: Http2Options {
                stream_window: self.stream_window,
                connection_window: self.connection_window,
                max_frame_size: self.max_frame_size,
                max_concurrent_streams: self.max_concurrent_streams,
                max_local_error_reset_streams: self.max_local_error_resets,
                keepalive_interval: self.keepalive_interval,
                keepalive_timeout: self.keepalive_timeout,
                max_connection_age: self.max_connection_age,
            },
            shutdown: ShutdownOptions {
                drain_delay: self.drain_delay,
                grace_period: self.grace_period,
            },
            tls,
            statements: Statements::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_documented_ones() {
        let config = Config::parse_from(["sla-evaluator"]);
        let options = config
            .server_options(Arc::new(PolicySet::default()))
            .unwrap();
        assert_eq!(config.listen.to_string(), "0.0.0.0:50051");
        assert_eq!(config.metrics_listen.unwrap().to_string(), "0.0.0.0:9090");
        assert_eq!(config.health_listen, None);
        // The figures the README and the deployment are written against.
        let minutes = |m: u64| Duration::from_secs(60 * m);
        assert_eq!(
            options.calls,
            CallLimits {
                max_concurrent: 1024,
                timeout: minutes(5),
                max_buckets_per_stream: 10_000_000,
                max_response_bytes: 16 << 20,
                max_health_watches: 1024,
            }
        );
        assert_eq!(options.max_message_bytes, 4 * 1024 * 1024);
        assert_eq!(
            options.limits,
            Limits {
                max_term_days: 3660,
                max_outages: 1000,
                max_intervals: 1000,
            }
        );
        assert_eq!(
            (options.http2.stream_window, options.http2.connection_window),
            (1 << 20, 1 << 20)
        );
        assert_eq!(options.http2.max_frame_size, 256 << 10);
        assert_eq!(options.http2.max_concurrent_streams, 256);
        assert_eq!(options.http2.max_local_error_reset_streams, 1024);
        assert_eq!(
            (
                options.http2.keepalive_interval,
                options.http2.keepalive_timeout
            ),
            (minutes(1), Duration::from_secs(20))
        );
        assert_eq!(options.http2.max_connection_age, minutes(30));
        assert_eq!(
            (options.shutdown.drain_delay, options.shutdown.grace_period),
            (Duration::ZERO, Duration::from_secs(20))
        );
        assert!(options.tls.is_none());
    }

    #[test]
    fn flags_reach_the_options() {
        let config = Config::parse_from([
            "sla-evaluator",
            "--metrics-listen",
            "off",
            "--call-timeout",
            "90s",
            "--max-concurrent-streams",
            "8",
            "--drain-delay",
            "5s",
            "--max-term-days",
            "400",
            "--max-frame-size",
            "16384",
        ]);
        let options = config
            .server_options(Arc::new(PolicySet::default()))
            .unwrap();
        assert_eq!(config.metrics_listen, None);
        assert_eq!(options.calls.timeout, Duration::from_secs(90));
        assert_eq!(options.http2.max_concurrent_streams, 8);
        assert_eq!(options.shutdown.drain_delay, Duration::from_secs(5));
        assert_eq!(options.limits.max_term_days, 400);
        assert_eq!(options.http2.max_frame_size, 16_384);
        // HTTP/2 allows frames of 2^14 to 2^24 - 1 bytes; the flag says so.
        for outside in ["16383", "16777216"] {
            let error = Config::try_parse_from(["sla-evaluator", "--max-frame-size", outside])
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("frame size range of 16384 to 16777215"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_key_without_a_certificate_is_refused() {
        assert!(Config::try_parse_from(["sla-evaluator", "--tls-key", "k.pem"]).is_err());
    }

    #[test]
    fn values_the_server_cannot_run_with_are_refused() {
        for (flag, value) in [
            ("--connection-window", "2147483648"),
            ("--stream-window", "1024"),
            ("--call-timeout", "0s"),
            ("--max-concurrent-calls", "0"),
            ("--max-concurrent-streams", "0"),
            ("--max-message-bytes", "0"),
            ("--keepalive-interval", "0s"),
        ] {
            let parsed = Config::try_parse_from(["sla-evaluator", flag, value]);
            assert!(parsed.is_err(), "{flag} {value} was accepted");
        }
    }
}
