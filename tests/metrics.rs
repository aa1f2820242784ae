//! The Prometheus endpoint, scraped over real HTTP while and after calls are made.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use common::requests::{april_minutes, im_spec};
use common::scrape::{labelled, sample, scrape, sla_rpc, wait_for_open_streams};
use common::server::{Setup, TestServer};
use sla_evaluator::api::pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// `labels` plus a status code.
fn with_code<'a>(labels: &[(&'a str, &'a str)], code: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut labels = labels.to_vec();
    labels.push(("grpc_code", code));
    labels
}

#[tokio::test]
async fn calls_streams_buckets_and_shedding_are_counted() {
    let mut setup = Setup {
        metrics_listener: true,
        ..Setup::default()
    };
    setup.options.calls.max_concurrent = 1;
    let server = TestServer::build(setup);
    let metrics = server.metrics_addr.unwrap();
    let evaluate = sla_rpc("Evaluate", "client_stream");
    let classify = sla_rpc("ClassifyOutages", "unary");
    let list = sla_rpc("ListPolicies", "unary");

    // Every series exists before its first call, at zero.
    let (status, content_type, body) = tokio::task::spawn_blocking(move || scrape(metrics))
        .await
        .unwrap();
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    assert_eq!(
        labelled(
            &body,
            "grpc_server_handled_total",
            &with_code(&evaluate, "OK")
        ),
        0.0
    );
    assert_eq!(
        labelled(
            &body,
            "sla_shed_calls_total",
            &[("method", "ClassifyOutages")]
        ),
        0.0
    );

    // One stream open, holding the only call slot.
    let (tx, rx) = mpsc::channel(4);
    let mut client = server.client().await;
    let open = tokio::spawn(async move { client.evaluate(ReceiverStream::new(rx)).await });
    tx.send(im_spec("2024-04-01", "2024-04-30")).await.unwrap();
    tx.send(april_minutes(0, 100, 1, 0)).await.unwrap();
    wait_for_open_streams(metrics, 1).await;
    let (_, _, body) = tokio::task::spawn_blocking(move || scrape(metrics))
        .await
        .unwrap();
    assert_eq!(sample(&body, "sla_open_streams"), 1.0);
    assert_eq!(labelled(&body, "grpc_server_started_total", &evaluate), 1.0);
    assert_eq!(
        labelled(&body, "grpc_server_msg_received_total", &evaluate),
        2.0
    );

    // A second work call is shed; a policy lookup is not.
    let mut client = server.client().await;
    assert!(
        client
            .classify_outages(pb::ClassifyOutagesRequest::default())
            .await
            .is_err()
    );
    assert!(
        client
            .list_policies(pb::ListPoliciesRequest {})
            .await
            .is_ok()
    );
    // The open stream finishes well: 100 accepted, 1 ignored (before the term).
    tx.send(april_minutes(-100, 1, 1, 0)).await.unwrap();
    drop(tx);
    assert!(open.await.unwrap().is_ok());
    // A refused stream.
    assert!(
        client
            .evaluate(tokio_stream::iter([april_minutes(0, 1, 1, 0)]))
            .await
            .is_err()
    );

    let (_, _, body) = tokio::task::spawn_blocking(move || scrape(metrics))
        .await
        .unwrap();
    assert_eq!(sample(&body, "sla_open_streams"), 0.0);
    let handled = |labels: &[(&str, &str)], code| {
        labelled(&body, "grpc_server_handled_total", &with_code(labels, code))
    };
    assert_eq!(handled(&evaluate, "OK"), 1.0);
    assert_eq!(handled(&evaluate, "FailedPrecondition"), 1.0);
    assert_eq!(handled(&classify, "ResourceExhausted"), 1.0);
    assert_eq!(handled(&list, "OK"), 1.0);
    assert_eq!(
        labelled(&body, "grpc_server_msg_sent_total", &evaluate),
        1.0
    );
    assert_eq!(
        labelled(
            &body,
            "sla_shed_calls_total",
            &[("method", "ClassifyOutages")]
        ),
        1.0
    );
    assert_eq!(
        labelled(&body, "sla_buckets_total", &[("outcome", "accepted")]),
        100.0
    );
    assert_eq!(
        labelled(&body, "sla_buckets_total", &[("outcome", "ignored")]),
        1.0
    );
    assert_eq!(
        labelled(&body, "grpc_server_handling_seconds_count", &evaluate),
        2.0
    );
    assert!(labelled(&body, "grpc_server_handling_seconds_sum", &evaluate) > 0.0);
    assert_eq!(
        labelled(
            &body,
            "sla_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    assert!(sample(&body, "process_resident_memory_bytes") > 0.0);
    // Every metric family the server exports is documented in the README.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let families: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|family| family.split_once(' ').unwrap().0)
        .filter(|name| !name.starts_with("process_"))
        .collect();
    assert!(families.len() >= 15, "{families:?}");
    for family in families {
        assert!(
            readme.contains(&format!("`{family}`")),
            "README.md does not document {family}"
        );
    }
    // And the exposition is clean by Prometheus's own linter.
    let mut promtool = std::process::Command::new(common::tools::system_tool("promtool"));
    promtool.args(["check", "metrics"]);
    let output = common::tools::run(promtool, &body);
    assert!(
        output.status.success(),
        "promtool check metrics (Debian package prometheus):\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn a_stream_the_client_abandons_is_cancelled_never_ok() {
    let server = TestServer::build(Setup {
        metrics_listener: true,
        ..Setup::default()
    });
    let metrics = server.metrics_addr.unwrap();
    let (tx, rx) = mpsc::channel(4);
    let mut client = server.client().await;
    let call = tokio::spawn(async move { client.evaluate(ReceiverStream::new(rx)).await });
    tx.send(im_spec("2024-04-01", "2024-04-30")).await.unwrap();
    tx.send(april_minutes(0, 100, 1, 0)).await.unwrap();
    wait_for_open_streams(metrics, 1).await;
    // The client goes away mid-upload: its stream is reset, not closed.
    call.abort();
    drop(tx);
    wait_for_open_streams(metrics, 0).await;
    let (_, _, body) = tokio::task::spawn_blocking(move || scrape(metrics))
        .await
        .unwrap();
    let evaluate = sla_rpc("Evaluate", "client_stream");
    let code = |code| {
        let mut labels = evaluate.clone();
        labels.push(("grpc_code", code));
        labelled(&body, "grpc_server_handled_total", &labels)
    };
    assert_eq!(code("Canceled"), 1.0);
    assert_eq!(code("OK"), 0.0);
}
