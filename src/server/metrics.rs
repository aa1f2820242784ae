//! Prometheus metrics: what a platform team graphs and alerts on. Every metric is documented in the
//! README; the names are a contract with dashboards, so they change only with a note.

use std::sync::Arc;
use std::time::Instant;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tonic::Code;

use crate::engine::Ingested;

/// The service's RPCs, as metric labels.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum Method {
    /// `sla.v1.SlaEvaluator/ListPolicies`.
    ListPolicies,
    /// `sla.v1.SlaEvaluator/GetPolicy`.
    GetPolicy,
    /// `sla.v1.SlaEvaluator/Evaluate`.
    Evaluate,
    /// `sla.v1.SlaEvaluator/ClassifyOutages`.
    ClassifyOutages,
}

impl Method {
    /// The RPC a request path names, when it is one of the SLA service's.
    pub fn from_path(path: &str) -> Option<Method> {
        let name = path.strip_prefix("/sla.v1.SlaEvaluator/")?;
        Some(match name {
            "ListPolicies" => Method::ListPolicies,
            "GetPolicy" => Method::GetPolicy,
            "Evaluate" => Method::Evaluate,
            "ClassifyOutages" => Method::ClassifyOutages,
            _ => return None,
        })
    }

    /// Calls that do real work and are shed when the server is full; policy lookups never are,
    /// so a client can always learn what the server offers.
    pub fn is_work(self) -> bool {
        matches!(self, Method::Evaluate | Method::ClassifyOutages)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    method: Method,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: Method,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
enum Outcome {
    Accepted,
    Ignored,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BucketLabels {
    outcome: Outcome,
}

/// The server's metrics and the registry that exposes them.
pub struct Metrics {
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    latency: Family<MethodLabels, Histogram>,
    buckets: Family<BucketLabels, Counter>,
    open_streams: Gauge,
    shed: Family<MethodLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("sla");
        let calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "calls",
            "Finished calls of sla.v1.SlaEvaluator, by method and gRPC status code",
            calls.clone(),
        );
        // 1 ms to about 2 minutes: a ListPolicies call up to a long Evaluate stream.
        let latency = Family::<MethodLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 18))
        });
        registry.register(
            "call_duration_seconds",
            "Duration of sla.v1.SlaEvaluator calls, from the first byte to the answer",
            latency.clone(),
        );
        let buckets = Family::<BucketLabels, Counter>::default();
        registry.register(
            "buckets",
            "Buckets received by Evaluate streams: accepted into a month, or ignored outside the term",
            buckets.clone(),
        );
        let open_streams = Gauge::default();
        registry.register(
            "open_streams",
            "Evaluate streams in progress",
            open_streams.clone(),
        );
        let shed = Family::<MethodLabels, Counter>::default();
        registry.register(
            "shed_calls",
            "Calls refused with RESOURCE_EXHAUSTED because the server was at its concurrency limit",
            shed.clone(),
        );
        Metrics {
            registry,
            calls,
            latency,
            buckets,
            open_streams,
            shed,
        }
    }
}

impl Metrics {
    /// Starts timing a call; the returned guard records it when dropped. A call dropped without
    /// [`Call::finish`] (the client went away) is recorded as CANCELLED.
    pub fn start(self: &Arc<Self>, method: Method) -> Call {
        if method == Method::Evaluate {
            self.open_streams.inc();
        }
        Call {
            metrics: Arc::clone(self),
            method,
            started: Instant::now(),
            code: None,
        }
    }

    /// Counts a call shed at the concurrency limit.
    pub fn shed(&self, method: Method) {
        self.shed.get_or_create(&MethodLabels { method }).inc();
    }

    /// Counts an Evaluate stream's buckets.
    pub fn buckets(&self, ingested: Ingested) {
        self.buckets
            .get_or_create(&BucketLabels {
                outcome: Outcome::Accepted,
            })
            .inc_by(ingested.accepted);
        self.buckets
            .get_or_create(&BucketLabels {
                outcome: Outcome::Ignored,
            })
            .inc_by(ingested.ignored);
    }

    /// The metrics in the OpenMetrics text format Prometheus scrapes.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

/// One call being timed.
pub struct Call {
    metrics: Arc<Metrics>,
    method: Method,
    started: Instant,
    code: Option<Code>,
}

impl Call {
    /// Records how the call ended.
    pub fn finish(mut self, code: Code) {
        self.code = Some(code);
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        let code = self.code.unwrap_or(Code::Cancelled);
        let labels = CallLabels {
            method: self.method,
            code: format!("{code:?}"),
        };
        self.metrics.calls.get_or_create(&labels).inc();
        self.metrics
            .latency
            .get_or_create(&MethodLabels {
                method: self.method,
            })
            .observe(self.started.elapsed().as_secs_f64());
        if self.method == Method::Evaluate {
            self.metrics.open_streams.dec();
        }
    }
}
