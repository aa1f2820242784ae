//! Logs and traces. Logs go to stdout, human or JSON. Traces go over OTLP (gRPC) when the standard
//! `OTEL_*` variables ask for them, and are off otherwise: a trace is only worth its cost where a
//! collector is waiting for it, and the platform that runs one also sets these variables.
//!
//! Either way a call's `traceparent` (W3C Trace Context) is honoured: the call's span joins the
//! caller's trace, so the evaluation shows up under the request that asked for it.

use std::io::IsTerminal;

use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tonic::codegen::http::HeaderMap;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How log lines are written (`--log-format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Readable lines, coloured on a terminal.
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// What was set up, to flush at exit.
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
}

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// `--log` is not an `EnvFilter` directive.
    #[error("--log '{filter}' is not a log filter: {error}")]
    Filter {
        /// The `--log` value as given.
        filter: String,
        /// Where `EnvFilter`'s syntax stopped reading it.
        error: tracing_subscriber::filter::ParseError,
    },
    /// The OTLP exporter could not be built from the `OTEL_*` variables.
    #[error("cannot export traces over OTLP: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    /// A protocol this build does not speak.
    #[error(
        "OTEL_EXPORTER_OTLP_PROTOCOL={0}: this build exports traces over OTLP/gRPC only \
         (set it to grpc, or unset it)"
    )]
    Protocol(String),
}

/// Installs logging (`filter` as an `EnvFilter` directive, in `format`) and, when configured,
/// the OTLP trace exporter.
pub fn init(filter: &str, format: LogFormat) -> Result<Telemetry, TelemetryError> {
    let filter = EnvFilter::try_new(filter).map_err(|error| TelemetryError::Filter {
        filter: filter.to_string(),
        error,
    })?;
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let traces = if traces_wanted(|name| std::env::var(name).ok()) {
        Some(tracer_provider()?)
    } else {
        None
    };
    let otel = traces.as_ref().map(|provider| {
        tracing_opentelemetry::layer().with_tracer(provider.tracer("sla-evaluator"))
    });
    // Colours only for a person at a terminal, never into files or log collectors.
    let logs = tracing_subscriber::fmt::layer().with_ansi(std::io::stdout().is_terminal());
    let logs = match format {
        LogFormat::Human => logs.boxed(),
        LogFormat::Json => logs.json().boxed(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(otel)
        .init();
    Ok(Telemetry { traces })
}

impl Telemetry {
    /// Exports the spans still queued. Blocking (the exporter's own thread does the work), so it
    /// runs off the async workers.
    pub async fn shutdown(self) {
        if let Some(provider) = self.traces {
            let flushed = tokio::task::spawn_blocking(move || provider.shutdown()).await;
            if let Ok(Err(error)) = flushed {
                eprintln!("sla-evaluator: exporting the last traces failed: {error}");
            }
        }
    }
}

/// Traces are exported when an OTLP endpoint is set or `OTEL_TRACES_EXPORTER=otlp` asks for them,
/// unless `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` (the specification's switches).
fn traces_wanted(var: impl Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| var(name).is_some_and(|value| !value.trim().is_empty());
    let disabled = var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let exporter = var("OTEL_TRACES_EXPORTER").map(|v| v.trim().to_ascii_lowercase());
    match exporter.as_deref() {
        _ if disabled => false,
        Some("none") => false,
        Some("otlp") => true,
        _ => set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
    }
}

/// A provider exporting in batches over OTLP/gRPC; endpoint, headers, timeout, batch sizes and
/// resource attributes all come from the standard variables, which the SDK reads itself.
fn tracer_provider() -> Result<SdkTracerProvider, TelemetryError> {
    for name in [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ] {
        if let Ok(protocol) = std::env::var(name) {
            if protocol.trim() != "grpc" {
                return Err(TelemetryError::Protocol(protocol));
            }
            break;
        }
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()?;
    let mut resource = opentelemetry_sdk::Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("sla-evaluator");
    }
    let resource = resource
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// Makes `span` a child of the caller's span when the request carries a W3C `traceparent`.
pub fn join_callers_trace(span: &tracing::Span, headers: &HeaderMap) {
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&Headers(headers))
    });
    // Only fails when no OpenTelemetry layer is installed, when there is no trace to join.
    let _ = span.set_parent(parent);
}

/// Request headers as the propagator reads them.
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_follow_the_standard_switches() {
        let wanted = |vars: &[(&str, &str)]| {
            traces_wanted(|name| {
                vars.iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| value.to_string())
            })
        };
        assert!(!wanted(&[]));
        assert!(wanted(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317")]));
        assert!(wanted(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://c:4317"
        )]));
        assert!(wanted(&[("OTEL_TRACES_EXPORTER", "otlp")]));
        assert!(!wanted(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
            ("OTEL_TRACES_EXPORTER", "none")
        ]));
        assert!(!wanted(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
            ("OTEL_SDK_DISABLED", "TRUE")
        ]));
        assert!(!wanted(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")]));
    }
}
