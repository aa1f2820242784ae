//! Prometheus metrics: what a platform team graphs and alerts on.
//!
//! RPC metrics carry the grpc-ecosystem names and labels stock dashboards and alerts already know
//! (`grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}`, with grpc-go's code
//! names), recorded at the edge of the server for every service, so calls refused before a handler
//! runs are counted too. `sla_*` metrics are the service's own. Every series exists from the start,
//! at zero, so a dashboard never shows "no data" for a method that has not been called yet. The
//! names are a contract with dashboards (`deploy/`): they change only with a CHANGELOG note.

use std::time::Instant;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use tonic::Code;

use super::rpc::Rpc;
use crate::api::BucketCounter;
use crate::engine::Ingested;
use crate::memory::MemoryBudget;

/// An RPC's labels: `grpc_type`, `grpc_service`, `grpc_method`.
fn labels(rpc: Rpc) -> [&'static str; 3] {
    [rpc.kind(), rpc.service(), rpc.method()]
}

/// Every gRPC status code, named as grpc-go's `codes.Code.String()` names them.
const CODES: [Code; 17] = [
    Code::Ok,
    Code::Cancelled,
    Code::Unknown,
    Code::InvalidArgument,
    Code::DeadlineExceeded,
    Code::NotFound,
    Code::AlreadyExists,
    Code::PermissionDenied,
    Code::ResourceExhausted,
    Code::FailedPrecondition,
    Code::Aborted,
    Code::OutOfRange,
    Code::Unimplemented,
    Code::Internal,
    Code::Unavailable,
    Code::DataLoss,
    Code::Unauthenticated,
];

/// A code's label value, as dashboards built for grpc-go expect it.
pub(crate) fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

/// Why the server closed or refused a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnectionRefusal {
    /// The server was at `--max-connections`.
    MaxConnections,
    /// The connection did not finish its handshake and first request in time.
    HandshakeTimeout,
    /// The TLS handshake failed.
    Tls,
    /// The client sent PING or SETTINGS frames faster than the server answers them.
    FrameFlood,
}

impl ConnectionRefusal {
    const ALL: [ConnectionRefusal; 4] = [
        ConnectionRefusal::MaxConnections,
        ConnectionRefusal::HandshakeTimeout,
        ConnectionRefusal::Tls,
        ConnectionRefusal::FrameFlood,
    ];

    fn label(self) -> &'static str {
        match self {
            ConnectionRefusal::MaxConnections => "max_connections",
            ConnectionRefusal::HandshakeTimeout => "handshake_timeout",
            ConnectionRefusal::Tls => "tls",
            ConnectionRefusal::FrameFlood => "frame_flood",
        }
    }
}

/// The server's metrics and the registry that exposes them.
#[derive(Clone, Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    started: IntCounterVec,
    handled: IntCounterVec,
    handling: HistogramVec,
    received: IntCounterVec,
    sent: IntCounterVec,
    buckets: IntCounterVec,
    open_streams: IntGauge,
    shed: IntCounterVec,
    memory_budget: IntGauge,
    memory_reserved: IntGauge,
    memory_refusals: IntCounter,
    open_connections: IntGauge,
    refused_connections: IntCounterVec,
    policy_reloads: IntCounterVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// The metrics, every series registered at zero.
    pub(crate) fn new() -> Metrics {
        let registry = Registry::new();
        let rpc = ["grpc_type", "grpc_service", "grpc_method"];
        let counter = |name: &str, help: &str, label_names: &[&str]| {
            let family = IntCounterVec::new(Opts::new(name, help), label_names)
                .expect("a valid metric definition");
            registry
                .register(Box::new(family.clone()))
                .expect("each metric registered once");
            family
        };
        let gauge = |name: &str, help: &str| {
            let gauge = IntGauge::new(name, help).expect("a valid metric definition");
            registry
                .register(Box::new(gauge.clone()))
                .expect("each metric registered once");
            gauge
        };
        let started = counter(
            "grpc_server_started_total",
            "RPCs started on the server.",
            &rpc,
        );
        let handled = counter(
            "grpc_server_handled_total",
            "RPCs completed on the server, whatever their status.",
            &["grpc_type", "grpc_service", "grpc_method", "grpc_code"],
        );
        // From 5 ms (a policy lookup) to 5 minutes (the longest call the default timeout lets
        // an Evaluate stream take).
        let handling = HistogramVec::new(
            HistogramOpts::new(
                "grpc_server_handling_seconds",
                "Time from a call's arrival to its last byte, for every RPC.",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
                300.0,
            ]),
            &rpc,
        )
        .expect("a valid metric definition");
        registry
            .register(Box::new(handling.clone()))
            .expect("each metric registered once");
        let received = counter(
            "grpc_server_msg_received_total",
            "Messages received from clients.",
            &rpc,
        );
        let sent = counter(
            "grpc_server_msg_sent_total",
            "Messages sent to clients.",
            &rpc,
        );
        let buckets = counter(
            "sla_buckets_total",
            "Buckets received by Evaluate streams: accepted into a month, or ignored (outside the \
             term or at or after as_of).",
            &["outcome"],
        );
        let open_streams = gauge("sla_open_streams", "Evaluate streams in progress.");
        let shed = counter(
            "sla_shed_calls_total",
            "Calls refused with RESOURCE_EXHAUSTED because the server was at its concurrency \
             limit (work calls) or its limit of health watches.",
            &["method"],
        );
        let memory_budget = gauge(
            "sla_memory_budget_bytes",
            "The memory calls in progress may hold (--memory-budget).",
        );
        let memory_reserved = gauge(
            "sla_memory_reserved_bytes",
            "Memory held by calls in progress: their ledgers and the messages being decoded.",
        );
        let memory_refusals = IntCounter::new(
            "sla_memory_refusals_total",
            "Calls refused with RESOURCE_EXHAUSTED because they would have passed the memory \
             budget.",
        )
        .expect("a valid metric definition");
        registry
            .register(Box::new(memory_refusals.clone()))
            .expect("each metric registered once");
        let open_connections = gauge("sla_open_connections", "Connections open on the server.");
        let refused_connections = counter(
            "sla_connections_refused_total",
            "Connections the server refused or closed to protect itself, by reason.",
            &["reason"],
        );
        let policy_reloads = counter(
            "sla_policy_reloads_total",
            "Reloads of the policy directory, by result.",
            &["result"],
        );
        let build = IntGaugeVec::new(
            Opts::new("sla_build_info", "The running build: always 1."),
            &["version", "tzdb_version"],
        )
        .expect("a valid metric definition");
        registry
            .register(Box::new(build.clone()))
            .expect("each metric registered once");
        build
            .with_label_values(&[env!("CARGO_PKG_VERSION"), chrono_tz::IANA_TZDB_VERSION])
            .set(1);
        // Resident memory, CPU, descriptors and start time of this process (Linux).
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("each metric registered once");

        for rpc in Rpc::SERVED {
            started.with_label_values(&labels(rpc));
            received.with_label_values(&labels(rpc));
            sent.with_label_values(&labels(rpc));
            handling.with_label_values(&labels(rpc));
            for code in CODES {
                let [kind, service, method] = labels(rpc);
                handled.with_label_values(&[kind, service, method, code_name(code)]);
            }
            if rpc.is_work() || rpc == Rpc::HealthWatch {
                shed.with_label_values(&[rpc.method()]);
            }
        }
        for outcome in ["accepted", "ignored"] {
            buckets.with_label_values(&[outcome]);
        }
        for reason in ConnectionRefusal::ALL {
            refused_connections.with_label_values(&[reason.label()]);
        }
        for result in ["ok", "error"] {
            policy_reloads.with_label_values(&[result]);
        }
        Metrics {
            registry,
            started,
            handled,
            handling,
            received,
            sent,
            buckets,
            open_streams,
            shed,
            memory_budget,
            memory_reserved,
            memory_refusals,
            open_connections,
            refused_connections,
            policy_reloads,
        }
    }

    /// Counts a call's start; the returned record counts its end.
    pub(crate) fn start(&self, rpc: Rpc) -> CallRecord {
        self.started.with_label_values(&labels(rpc)).inc();
        let streams = (rpc == Rpc::Evaluate).then(|| self.open_streams.clone());
        if let Some(streams) = &streams {
            streams.inc();
        }
        CallRecord {
            handled: self.handled.clone(),
            handling: self.handling.with_label_values(&labels(rpc)),
            rpc,
            started: Instant::now(),
            code: None,
            streams,
        }
    }

    /// Counts a message received from a client.
    pub(crate) fn received(&self, rpc: Rpc) {
        self.received.with_label_values(&labels(rpc)).inc();
    }

    /// Counts a message sent to a client.
    pub(crate) fn sent(&self, rpc: Rpc) {
        self.sent.with_label_values(&labels(rpc)).inc();
    }

    /// Counts a call shed at the concurrency limit.
    pub(crate) fn shed(&self, rpc: Rpc) {
        self.shed.with_label_values(&[rpc.method()]).inc();
    }

    /// Reads the memory budget's state into the metrics, as a scrape is answered.
    pub(crate) fn observe_memory(&self, budget: &MemoryBudget) {
        let gauge = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        self.memory_budget.set(gauge(budget.total()));
        self.memory_reserved.set(gauge(budget.reserved()));
        let refusals = budget.refusals();
        self.memory_refusals
            .inc_by(refusals.saturating_sub(self.memory_refusals.get()));
    }

    /// Counts a connection opening (`+1`) or closing (`-1`).
    pub(crate) fn connections(&self, change: i64) {
        self.open_connections.add(change);
    }

    /// Counts a connection refused or closed to protect the server.
    pub(crate) fn refused_connection(&self, reason: ConnectionRefusal) {
        self.refused_connections
            .with_label_values(&[reason.label()])
            .inc();
    }

    /// Counts a reload of the policy directory.
    pub(crate) fn policy_reload(&self, ok: bool) {
        self.policy_reloads
            .with_label_values(&[if ok { "ok" } else { "error" }])
            .inc();
    }

    /// The metrics in the Prometheus text exposition format (version 0.0.4), and its content type.
    pub(crate) fn encode(&self) -> (String, String) {
        let encoder = TextEncoder::new();
        let mut text = Vec::new();
        encoder
            .encode(&self.registry.gather(), &mut text)
            .expect("writing to a vector cannot fail");
        (
            String::from_utf8_lossy(&text).into_owned(),
            encoder.format_type().to_string(),
        )
    }
}

/// `sla_buckets_total`, by outcome.
impl BucketCounter for Metrics {
    fn buckets(&self, ingested: Ingested) {
        self.buckets
            .with_label_values(&["accepted"])
            .inc_by(ingested.accepted);
        self.buckets
            .with_label_values(&["ignored"])
            .inc_by(ingested.ignored);
    }
}

/// One call being timed. Dropped without [`CallRecord::finish`] (the client went away first), the
/// call counts as CANCELLED.
#[derive(Debug)]
pub(crate) struct CallRecord {
    handled: IntCounterVec,
    handling: Histogram,
    rpc: Rpc,
    started: Instant,
    code: Option<Code>,
    streams: Option<IntGauge>,
}

impl CallRecord {
    /// Records how the call ended.
    pub(crate) fn finish(mut self, code: Code) {
        self.code = Some(code);
    }
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        let code = code_name(self.code.unwrap_or(Code::Cancelled));
        let [kind, service, method] = labels(self.rpc);
        self.handled
            .with_label_values(&[kind, service, method, code])
            .inc();
        self.handling.observe(self.started.elapsed().as_secs_f64());
        if let Some(streams) = &self.streams {
            streams.dec();
        }
    }
}
