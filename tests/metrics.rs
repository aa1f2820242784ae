//! The Prometheus endpoint, scraped over real HTTP while and after calls are made.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use common::requests::{april_minutes, im_spec};
use common::scrape::{sample, scrape, wait_for_open_streams};
use common::server::{Setup, TestServer};
use sla_evaluator::api::pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

#[tokio::test]
async fn calls_streams_buckets_and_shedding_are_counted() {
    let mut setup = Setup {
        metrics_listener: true,
        ..Setup::default()
    };
    setup.options.calls.max_concurrent = 1;
    let server = TestServer::build(setup);
    let metrics = server.metrics_addr.unwrap();

    // One stream open, holding the only call slot.
    let (tx, rx) = mpsc::channel(4);
    let mut client = server.client().await;
    let open = tokio::spawn(async move { client.evaluate(ReceiverStream::new(rx)).await });
    tx.send(im_spec("2024-04-01", "2024-04-30")).await.unwrap();
    tx.send(april_minutes(0, 100, 1, 0)).await.unwrap();
    wait_for_open_streams(metrics, 1).await;
    let (status, content_type, body) = tokio::task::spawn_blocking(move || scrape(metrics))
        .await
        .unwrap();
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert_eq!(sample(&body, "sla_open_streams"), 1.0);

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
    assert_eq!(
        sample(&body, r#"sla_calls_total{method="Evaluate",code="Ok"}"#),
        1.0
    );
    assert_eq!(
        sample(
            &body,
            r#"sla_calls_total{method="Evaluate",code="FailedPrecondition"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &body,
            r#"sla_calls_total{method="ClassifyOutages",code="ResourceExhausted"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(&body, r#"sla_calls_total{method="ListPolicies",code="Ok"}"#),
        1.0
    );
    assert_eq!(
        sample(&body, r#"sla_shed_calls_total{method="ClassifyOutages"}"#),
        1.0
    );
    assert_eq!(
        sample(&body, r#"sla_buckets_total{outcome="Accepted"}"#),
        100.0
    );
    assert_eq!(
        sample(&body, r#"sla_buckets_total{outcome="Ignored"}"#),
        1.0
    );
    assert_eq!(
        sample(
            &body,
            r#"sla_call_duration_seconds_count{method="Evaluate"}"#
        ),
        2.0
    );
    assert!(sample(&body, r#"sla_call_duration_seconds_sum{method="Evaluate"}"#) > 0.0);
    assert!(
        body.contains("# HELP sla_calls Finished calls of sla.v1.SlaEvaluator"),
        "{body}"
    );
    assert!(body.trim_end().ends_with("# EOF"));
    // Every metric family the server exports is documented in the README.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let families: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .collect();
    assert_eq!(families.len(), 5, "{families:?}");
    for family in families {
        let (name, kind) = family.split_once(' ').unwrap();
        let documented = if kind == "counter" {
            format!("`{name}_total`")
        } else {
            format!("`{name}`")
        };
        assert!(
            readme.contains(&documented),
            "README.md does not document {documented}"
        );
    }
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
    assert_eq!(
        sample(
            &body,
            r#"sla_calls_total{method="Evaluate",code="Cancelled"}"#
        ),
        1.0
    );
    assert!(
        !body.contains(r#"sla_calls_total{method="Evaluate",code="Ok"}"#),
        "{body}"
    );
}
