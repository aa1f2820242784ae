//! `sla-load` works and its answer check has teeth. Timing is for benchmarks, not tests: only the
//! shape of its report and its verdicts are checked here.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;
#[allow(dead_code)] // the tests use part of the workload
#[path = "../bench/sla-load/workload.rs"]
mod workload;

use std::process::Command;

use common::server::TestServer;
use prost::Message;
use serde_json::Value;
use sla_evaluator::api::pb::{self, evaluate_request::Item};
use workload::{Term, minute_columns};

fn sla_load(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sla-load"))
        .args(args)
        .output()
        .expect("run sla-load")
}

fn report(args: &[&str]) -> Value {
    let output = sla_load(args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn it_loads_its_own_server_and_reports_one_json_line() {
    for (form, policy) in [
        ("columns", "tencent-trtc"),
        ("rows", "tencent-sms"),
        ("columns", "tencent-im"),
    ] {
        let json = report(&[
            "--form",
            form,
            "--policy",
            policy,
            "--subscriptions",
            "3",
            "--months",
            "2",
            "--streams",
            "2",
            "--connections",
            "2",
        ]);
        assert_eq!(json["form"], form);
        assert_eq!(json["streams"], 2);
        assert_eq!(json["buckets"], 3 * (31 + 28) * 1440);
        for field in [
            "seconds",
            "buckets_per_second",
            "p50_stream_ms",
            "p99_stream_ms",
            "server_peak_rss_bytes",
            "server_cpu_seconds",
            "server_cpu_seconds_per_million_buckets",
            "client_cpu_seconds",
            "client_cpu_seconds_per_million_buckets",
        ] {
            assert!(json[field].as_f64().unwrap() > 0.0, "{field}: {json}");
        }
    }
}

#[test]
fn it_loads_a_given_target() {
    let server = TestServer::start();
    let target = server.addr.to_string();
    let json = report(&[
        "--target",
        &target,
        "--subscriptions",
        "2",
        "--months",
        "1",
        "--streams",
        "2",
        "--connections",
        "1",
        "--hold",
    ]);
    assert_eq!(json["buckets"], 2 * 31 * 1440);
    assert!(json["server_peak_rss_bytes"].is_null(), "no pid was given");
    assert!(json["server_cpu_seconds"].is_null(), "no pid was given");
    assert!(json["client_cpu_seconds"].as_f64().unwrap() > 0.0, "{json}");
}

#[tokio::test]
async fn its_check_fails_a_wrong_answer() {
    // A real response for subscription 0's first month, taken from a real server.
    let server = TestServer::start();
    let term = Term::months(1);
    let (starts, total, failed) = minute_columns(0, term.start_unix, 0, term.minutes());
    let requests = vec![
        pb::EvaluateRequest {
            item: Some(Item::Spec(pb::EvaluationSpec {
                policy_id: "tencent-trtc".into(),
                term_start: term.first_day.to_string(),
                term_end: term.last_day.to_string(),
                ..Default::default()
            })),
        },
        pb::EvaluateRequest {
            item: Some(Item::Columns(pb::BucketColumns {
                duration_seconds: 60,
                start_unix_seconds: starts,
                total,
                failed,
                ..Default::default()
            })),
        },
    ];
    let response = server
        .client()
        .await
        .evaluate(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    let dir = tempfile::tempdir().unwrap();
    let check = |response: &pb::EvaluateResponse| {
        let path = dir.path().join("response.bin");
        let bytes = response.encode_to_vec();
        let mut framed = vec![0];
        framed.extend((bytes.len() as u32).to_be_bytes());
        framed.extend(bytes);
        std::fs::write(&path, framed).unwrap();
        sla_load(&[
            "--check-response",
            path.to_str().unwrap(),
            "--months",
            "1",
            "--policy",
            "tencent-trtc",
        ])
    };
    assert!(check(&response).status.success());
    let tamperings: [fn(&mut pb::EvaluateResponse); 4] = [
        |r| r.months[0].bad_units += 5,
        |r| r.months[0].availability_percent = "99.9999".into(),
        |r| r.months[0].standard_met = !r.months[0].standard_met,
        |r| r.ingest.as_mut().unwrap().buckets_ignored += 1,
    ];
    for tamper in tamperings {
        let mut wrong = response.clone();
        tamper(&mut wrong);
        let output = check(&wrong);
        assert!(!output.status.success());
        assert!(String::from_utf8_lossy(&output.stderr).contains("wrong answer"));
    }
}

#[test]
fn it_writes_a_grpc_framed_body_for_h2load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("body.bin");
    let json = report(&[
        "--write-body",
        path.to_str().unwrap(),
        "--months",
        "1",
        "--batch",
        "20000",
    ]);
    assert_eq!(json["buckets"], 31 * 1440);
    let body = std::fs::read(&path).unwrap();
    assert_eq!(json["body_bytes"], body.len());
    // spec + 3 batches of at most 20,000 rows, each frame: flag 0, length, message.
    let mut rest = &body[..];
    let mut messages = Vec::new();
    while !rest.is_empty() {
        assert_eq!(rest[0], 0, "uncompressed");
        let len = u32::from_be_bytes(rest[1..5].try_into().unwrap()) as usize;
        messages.push(pb::EvaluateRequest::decode(&rest[5..5 + len]).unwrap());
        rest = &rest[5 + len..];
    }
    assert_eq!(messages.len(), 4);
    assert!(matches!(messages[0].item, Some(Item::Spec(_))));
    let Some(Item::Columns(ref last)) = messages[3].item else {
        panic!("columns")
    };
    assert_eq!(last.rows(), 31 * 1440 - 40_000);
}

#[test]
fn hold_needs_a_stream_per_subscription() {
    let output = sla_load(&["--subscriptions", "3", "--streams", "2", "--hold"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--hold"));
}

#[test]
fn splitmix64_matches_the_published_sequence() {
    // The first outputs of splitmix64 seeded with 0, as in the reference implementation.
    assert_eq!(workload::splitmix64(0), 0xE220_A839_7B1D_CDAF);
    assert_eq!(
        workload::splitmix64(0x9E37_79B9_7F4A_7C15),
        0x6E78_9E6A_A1B9_65F4
    );
}

#[test]
fn about_two_percent_of_minutes_fail() {
    let failing = (0..100_000)
        .filter(|&m| workload::minute_counts(7, m).1 > 0)
        .count();
    assert!((1_700..2_300).contains(&failing), "{failing}");
}
