//! Logs and traces of the real binary: a request id on every log line of a call, one `message`
//! key per JSON line, and spans exported over OTLP/gRPC to a real receiver when the standard
//! `OTEL_*` variables ask for it, joined to the caller's trace by its W3C `traceparent`.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::process::Binary;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use sla_evaluator::api::pb;
use sla_evaluator::api::pb::sla_evaluator_client::SlaEvaluatorClient;
use tonic::metadata::MetadataValue;
use tonic::{Code, Request, Response, Status};

/// An OTLP trace receiver: keeps every span it is sent.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(|value| match value {
            Value::StringValue(text) => text.clone(),
            Value::IntValue(number) => number.to_string(),
            other => format!("{other:?}"),
        })
}

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

/// Asks for an unknown policy with a trace parent and a request id: a refused call.
async fn refused_call(binary: &Binary, request_id: &str) {
    let mut client = SlaEvaluatorClient::connect(binary.endpoint())
        .await
        .unwrap();
    let mut request = Request::new(pb::ClassifyOutagesRequest {
        policy_id: "tencent-mail".into(),
        ..Default::default()
    });
    let traceparent = format!("00-{TRACE_ID}-{PARENT_ID}-01");
    let headers = request.metadata_mut();
    headers.insert("traceparent", MetadataValue::try_from(traceparent).unwrap());
    headers.insert("x-request-id", MetadataValue::try_from(request_id).unwrap());
    let status = client.classify_outages(request).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_join_the_callers_trace_and_are_exported_over_otlp() {
    let receiver = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = listener.local_addr().unwrap();
    let service = TraceServiceServer::new(receiver.clone());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let endpoint = format!("http://{collector}");
    let binary = Binary::start_with_env(
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_SERVICE_NAME", "sla-evaluator-under-test"),
        ],
    );
    refused_call(&binary, "trace-test-1").await;

    let deadline = Instant::now() + Duration::from_secs(20);
    let call = loop {
        let found = receiver
            .spans
            .lock()
            .unwrap()
            .iter()
            .find(|span| span.name == "call")
            .cloned();
        if let Some(span) = found {
            break span;
        }
        assert!(Instant::now() < deadline, "no call span was exported");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(hex(&call.trace_id), TRACE_ID, "the caller's trace");
    assert_eq!(
        hex(&call.parent_span_id),
        PARENT_ID,
        "the caller's span is the parent"
    );
    assert_eq!(
        attribute(&call, "request_id").as_deref(),
        Some("trace-test-1")
    );
    assert_eq!(
        attribute(&call, "rpc.method").as_deref(),
        Some("ClassifyOutages")
    );
    assert_eq!(
        attribute(&call, "rpc.grpc.status_code").as_deref(),
        Some((Code::NotFound as i32).to_string().as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_calls_log_line_has_one_message_and_the_request_id() {
    // No OTEL_* variables: nothing is exported, and calls are served the same.
    let binary = Binary::start(&[]);
    refused_call(&binary, "log-test-7").await;
    let line = binary.log_line(|line| line.contains("call refused"));
    assert_eq!(line.matches("\"message\"").count(), 1, "{line}");
    let log: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(log["fields"]["message"], "call refused");
    assert_eq!(log["fields"]["reason"], "POLICY_NOT_FOUND");
    assert!(
        log["fields"]["detail"]
            .as_str()
            .unwrap()
            .contains("tencent-mail"),
        "{line}"
    );
    // The call's span, outermost, carries the request id and the peer into every line.
    let call = &log["spans"][0];
    assert_eq!(call["name"], "call", "{line}");
    assert_eq!(call["request_id"], "log-test-7", "{line}");
    assert!(
        call["peer"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{line}"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
