//! What the statement tests share: signing keys made with openssl, the README's acme week as an
//! Evaluate stream, and calls to a server by address.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use sla_evaluator::api::pb::sla_evaluator_client::SlaEvaluatorClient;
use sla_evaluator::api::pb::{self, evaluate_request::Item};
use tonic::transport::Channel;

use super::requests::instant;
use super::tools::system_tool;

/// An Ed25519 key pair made as the README says: `openssl genpkey`, then `openssl pkey -pubout`.
/// Returns the private and the public key's paths.
pub(crate) fn key_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let private = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub"));
    let run = |args: &[&str]| {
        let output = Command::new(system_tool("openssl"))
            .args(args)
            .output()
            .expect("run openssl");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    };
    run(&[
        "genpkey",
        "-algorithm",
        "ed25519",
        "-out",
        private.to_str().unwrap(),
    ]);
    run(&[
        "pkey",
        "-in",
        private.to_str().unwrap(),
        "-pubout",
        "-out",
        public.to_str().unwrap(),
    ]);
    (private, public)
}

/// `sha256:` and the SHA-256 of a public key's DER, computed by openssl and sha256 of its output:
/// what the key's id must be.
pub(crate) fn keyid_by_openssl(public: &Path) -> String {
    use sha2::Digest;
    let output = Command::new(system_tool("openssl"))
        .args([
            "pkey",
            "-pubin",
            "-in",
            public.to_str().unwrap(),
            "-outform",
            "DER",
        ])
        .output()
        .expect("run openssl");
    assert!(output.status.success());
    let hex: String = sha2::Sha256::digest(&output.stdout)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// The mainland call center's week of 2026-03-02 for `subscription` (the README's acme), whose
/// Wednesday had `wednesday_failed` failures, restating `restates` for `reason` when given.
pub(crate) fn acme_week(
    subscription: &str,
    wednesday_failed: u64,
    restates: Option<(&str, &str)>,
) -> Vec<pb::EvaluateRequest> {
    let (restates, reason) = restates.unwrap_or_default();
    let spec = pb::EvaluationSpec {
        policy_id: "tencent-ccc-cn".into(),
        term_start: "2026-03-02".into(),
        term_end: "2026-03-08".into(),
        currency: "CNY".into(),
        fees: vec![pb::MonthlyFee {
            month_start: "2026-03-02".into(),
            paid: "9000.00".into(),
            deductions: "500.00".into(),
        }],
        as_of: Some(instant("2026-04-01T00:00:00Z")),
        subscription: subscription.into(),
        restates: restates.into(),
        restatement_reason: reason.into(),
        ..Default::default()
    };
    let days = [
        (412_000, 180),
        (398_500, 95),
        (455_200, wednesday_failed),
        (430_100, 260),
        (401_800, 120),
        (210_400, 35),
        (198_700, 20),
    ];
    // 2026-03-02T00:00:00+08:00.
    let first = 1_772_380_800;
    let buckets = days
        .iter()
        .enumerate()
        .map(|(day, &(total, failed))| pb::Bucket {
            start: Some(prost_types::Timestamp {
                seconds: first + 86_400 * day as i64,
                nanos: 0,
            }),
            duration_seconds: 86_400,
            total,
            failed,
        })
        .collect();
    vec![
        pb::EvaluateRequest {
            item: Some(Item::Spec(spec)),
        },
        pb::EvaluateRequest {
            item: Some(Item::Buckets(pb::BucketBatch { buckets })),
        },
    ]
}

/// A client of the server at `endpoint`.
pub(crate) async fn client(endpoint: String) -> SlaEvaluatorClient<Channel> {
    SlaEvaluatorClient::connect(endpoint)
        .await
        .expect("connect to the server")
}

/// One Evaluate call.
pub(crate) async fn evaluate(
    client: &mut SlaEvaluatorClient<Channel>,
    messages: Vec<pb::EvaluateRequest>,
) -> Result<pb::EvaluateResponse, tonic::Status> {
    client
        .evaluate(tokio_stream::iter(messages))
        .await
        .map(tonic::Response::into_inner)
}

/// A response as the JSON a client saves (protobuf's canonical mapping, as grpcurl prints it).
pub(crate) fn json(response: &pb::EvaluateResponse) -> String {
    sla_evaluator::input::protojson::to_json(response, "EvaluateResponse", true)
}
