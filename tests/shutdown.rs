//! The real `sla-evaluator` binary under SIGTERM and Ctrl-C: NOT_SERVING at once, serving through
//! the drain delay, in-flight streams finishing with correct results, a bounded grace period, and
//! exit status 0.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::process::Binary;
use common::requests::{april_minutes, im_spec};
use common::scrape::wait_for_open_streams;
use sla_evaluator::api::pb::{self, sla_evaluator_client::SlaEvaluatorClient};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

async fn health_of(addr: SocketAddr, service: &str) -> Option<i32> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}")).ok()?;
    let mut client = HealthClient::new(channel.connect().await.ok()?);
    let response = client
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .ok()?;
    Some(response.into_inner().status)
}

/// Opens an IM Evaluate stream for April 2024, sends the spec and `buckets`, and leaves it open
/// until the server's metrics show it; the caller ends it by dropping the sender.
async fn open_stream(
    addr: SocketAddr,
    metrics: SocketAddr,
    buckets: Option<pb::EvaluateRequest>,
) -> (
    mpsc::Sender<pb::EvaluateRequest>,
    tokio::task::JoinHandle<Result<tonic::Response<pb::EvaluateResponse>, tonic::Status>>,
) {
    let (tx, rx) = mpsc::channel(8);
    let mut client = SlaEvaluatorClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let call = tokio::spawn(async move { client.evaluate(ReceiverStream::new(rx)).await });
    tx.send(im_spec("2024-04-01", "2024-04-30")).await.unwrap();
    if let Some(buckets) = buckets {
        tx.send(buckets).await.unwrap();
    }
    wait_for_open_streams(metrics, 1).await;
    (tx, call)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_reports_not_serving_drains_open_streams_and_exits_zero() {
    let mut binary = Binary::start(&["--drain-delay", "5s", "--grace-period", "20s"]);
    let (addr, metrics) = (binary.addr, binary.metrics);
    assert_eq!(
        health_of(addr, "").await,
        Some(ServingStatus::Serving as i32)
    );

    // A stream is open, half sent.
    let (tx, call) = open_stream(addr, metrics, Some(april_minutes(0, 300, 2, 2))).await;

    binary.signal("TERM");
    let signalled = Instant::now();

    // Health turns NOT_SERVING at once, and new connections are still answered during the delay.
    let mut seen = false;
    while signalled.elapsed() < Duration::from_secs(4) {
        if health_of(addr, "").await == Some(ServingStatus::NotServing as i32) {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        seen,
        "health did not report NOT_SERVING for \"\" within 2 s of SIGTERM"
    );
    assert_eq!(
        health_of(addr, "sla.v1.SlaEvaluator").await,
        Some(ServingStatus::NotServing as i32)
    );
    // Work arriving during the drain delay, before load balancers have caught up, is still done.
    let mut late = SlaEvaluatorClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let answer = late
        .evaluate(tokio_stream::iter([
            im_spec("2024-04-01", "2024-04-30"),
            april_minutes(0, 7, 2, 2),
        ]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.months[0].bad_units, 7);

    // The open stream finishes after the drain delay has passed, and its result is right.
    tokio::time::sleep(Duration::from_secs(6).saturating_sub(signalled.elapsed())).await;
    // After the drain delay the port is closed to new connections, while the stream goes on.
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "new connections are refused after the drain delay"
    );
    tx.send(april_minutes(300, 133, 2, 2)).await.unwrap();
    drop(tx);
    let response = call
        .await
        .unwrap()
        .expect("the in-flight stream completes")
        .into_inner();
    let april = &response.months[0];
    // 433 all-failed minutes of 43,200: 98.9976%, just under IM's 99%.
    assert_eq!(
        (
            april.bad_units,
            april.availability_percent.as_str(),
            april.tier
        ),
        (433, "98.9976", 1)
    );

    let status = tokio::task::spawn_blocking(move || binary.wait_for_exit(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0), "{status}");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the port is closed after exit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_cancels_what_outlives_the_grace_period_and_still_exits_zero() {
    let mut binary = Binary::start(&["--grace-period", "1s"]);
    let (addr, metrics) = (binary.addr, binary.metrics);
    let (tx, call) = open_stream(addr, metrics, Some(april_minutes(0, 10, 2, 2))).await;

    binary.signal("INT");
    let signalled = Instant::now();
    let status = tokio::task::spawn_blocking(move || binary.wait_for_exit(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0), "{status}");
    assert!(
        signalled.elapsed() >= Duration::from_secs(1),
        "it waited the grace period"
    );
    // The stream that never closed was cut off, not answered.
    assert!(call.await.unwrap().is_err());
    drop(tx);
}

#[test]
fn a_bad_policy_directory_stops_the_server_from_starting() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.toml"),
        "id = \"broken\"\nstandard_percent = 99\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sla-evaluator"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "off",
            "--policy-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let logs = String::from_utf8_lossy(&output.stdout);
    assert!(logs.contains("broken.toml:2:"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_without_waiting_for_the_drain() {
    let mut binary = Binary::start(&["--grace-period", "60s"]);
    let (addr, metrics) = (binary.addr, binary.metrics);
    let (tx, call) = open_stream(addr, metrics, None).await;

    binary.signal("TERM");
    // The held stream would keep the drain waiting for a minute; a second signal ends it now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    binary.signal("INT");
    let status = tokio::task::spawn_blocking(move || binary.wait_for_exit(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(status.code(), Some(130), "{status}");
    assert!(call.await.unwrap().is_err());
    drop(tx);
}

#[test]
fn a_log_filter_that_does_not_parse_stops_the_start() {
    let output = Command::new(env!("CARGO_BIN_EXE_sla-evaluator"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "off",
            "--log",
            "sla_evaluator=loud",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not a log filter"));
}
