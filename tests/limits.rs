//! Every server limit: a client that breaks it gets a clear status (or, for HTTP/2 protocol
//! abuse, loses its connection), and a well-behaved client alongside is not disturbed.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::h2raw::{self, RawH2};
use common::requests::{april_minutes, april_outage, error_info, im_spec};
use common::scrape::wait_for_open_streams;
use common::server::{Setup, TestServer};
use sla_evaluator::api::pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;
use tonic_types::StatusExt;

fn start(setup: impl FnOnce(&mut Setup)) -> TestServer {
    let mut config = Setup::default();
    setup(&mut config);
    TestServer::build(config)
}

/// A full, correct evaluation on a connection of its own: what an undisturbed client sees.
async fn well_behaved_client_is_served(server: &TestServer) {
    let mut client = server.client().await;
    let response = client
        .evaluate(tokio_stream::iter([
            im_spec("2024-04-01", "2024-04-30"),
            april_minutes(0, 433, 10, 10),
        ]))
        .await
        .expect("a well-behaved client is served")
        .into_inner();
    assert_eq!(response.months[0].bad_units, 433);
}

/// An Evaluate stream held open by the test: send through `tx`, drop it to finish.
async fn open_stream(
    server: &TestServer,
) -> (
    mpsc::Sender<pb::EvaluateRequest>,
    tokio::task::JoinHandle<Result<tonic::Response<pb::EvaluateResponse>, tonic::Status>>,
) {
    let (tx, rx) = mpsc::channel(4);
    let mut client = server.client().await;
    let call = tokio::spawn(async move { client.evaluate(ReceiverStream::new(rx)).await });
    tx.send(im_spec("2024-04-01", "2024-04-30")).await.unwrap();
    (tx, call)
}

#[tokio::test]
async fn a_message_over_the_size_limit_is_resource_exhausted() {
    let server = start(|s| s.options.max_message_bytes = 64 << 10);
    // 20,000 rows with absolute starts: about 160 KB.
    let mut client = server.client().await;
    let status = client
        .evaluate(tokio_stream::iter([
            im_spec("2024-04-01", "2024-04-30"),
            april_minutes(0, 20_000, 10, 10),
        ]))
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        Code::ResourceExhausted,
        "{}",
        status.message()
    );
    assert!(
        status.message().contains("message length too large"),
        "{}",
        status.message()
    );
    assert!(status.message().contains("65536"), "{}", status.message());
    // The stream's handler names the limit, so metrics and logs see the same code.
    assert_eq!(
        status
            .get_error_details()
            .quota_failure()
            .unwrap()
            .violations[0]
            .subject,
        "message size in bytes"
    );
    let (reason, metadata) = error_info(&status);
    assert_eq!(
        (reason.as_str(), metadata["limit"].as_str()),
        ("LIMIT_EXCEEDED", "message size in bytes")
    );
    // A unary call over the limit too.
    let outage = april_outage(&"x".repeat(100));
    let request = pb::ClassifyOutagesRequest {
        policy_id: "tencent-im".into(),
        outages: vec![outage; 1000],
        ..Default::default()
    };
    let status = client.classify_outages(request).await.unwrap_err();
    assert_eq!(
        status.code(),
        Code::ResourceExhausted,
        "{}",
        status.message()
    );
    well_behaved_client_is_served(&server).await;
}

#[tokio::test]
async fn streams_past_the_per_connection_limit_wait_for_a_free_one() {
    let server = start(|s| {
        s.options.http2.max_concurrent_streams = 2;
        s.metrics_listener = true;
    });
    let channel = server.channel().await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let (tx, rx) = mpsc::channel(4);
        let mut client = pb::sla_evaluator_client::SlaEvaluatorClient::new(channel.clone());
        held.push((
            tx.clone(),
            tokio::spawn(async move { client.evaluate(ReceiverStream::new(rx)).await }),
        ));
        tx.send(im_spec("2024-04-01", "2024-04-30")).await.unwrap();
    }
    // Both streams are open on the server before the third asks.
    wait_for_open_streams(server.metrics_addr.unwrap(), 2).await;
    // A third stream on the same connection: complete on the client's side, but the server does
    // not let it start while two are open.
    let mut client = pb::sla_evaluator_client::SlaEvaluatorClient::new(channel.clone());
    let third = tokio::spawn(async move {
        client
            .evaluate(tokio_stream::iter([
                im_spec("2024-04-01", "2024-04-30"),
                april_minutes(0, 10, 10, 10),
            ]))
            .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !third.is_finished(),
        "the third stream ran beside two open ones"
    );
    // And the server itself holds two streams, not three.
    let metrics = server.metrics_addr.unwrap();
    let (_, _, body) = tokio::task::spawn_blocking(move || common::scrape::scrape(metrics))
        .await
        .unwrap();
    assert_eq!(common::scrape::sample(&body, "sla_open_streams"), 2.0);
    // Ending one lets the third through.
    let (tx, call) = held.remove(0);
    drop(tx);
    assert!(call.await.unwrap().is_ok());
    let answer = tokio::time::timeout(Duration::from_secs(5), third)
        .await
        .expect("it ran once a stream was free");
    assert_eq!(
        answer.unwrap().unwrap().into_inner().months[0].bad_units,
        10
    );
    well_behaved_client_is_served(&server).await;
}

#[tokio::test]
async fn a_flood_of_malformed_requests_loses_its_connection_only() {
    for limit in [3u32, 5] {
        let server = start(|s| s.options.http2.max_local_error_reset_streams = limit as usize);
        let addr = server.addr;
        let goaway = tokio::task::spawn_blocking(move || {
            let mut peer = RawH2::connect(addr);
            // Requests without :method are malformed: h2 resets each one itself.
            for stream in (1..=15).step_by(2) {
                let path = [(":path", "/sla.v1.SlaEvaluator/ListPolicies")];
                peer.headers(stream, &path, h2raw::END_HEADERS | h2raw::END_STREAM);
            }
            let mut goaway = None;
            while let Some(frame) = peer.read() {
                match frame.kind {
                    h2raw::SETTINGS if frame.flags & h2raw::ACK == 0 => {
                        peer.send(h2raw::SETTINGS, h2raw::ACK, 0, &[])
                    }
                    h2raw::GOAWAY => goaway = Some((frame.last_stream(), frame.error_code())),
                    _ => {}
                }
            }
            goaway
        })
        .await
        .unwrap();
        // Streams 1, 3, 5, ... are reset one by one until the limit; the next one closes the
        // connection, naming it as the last stream taken.
        assert_eq!(
            goaway,
            Some((2 * limit + 1, h2raw::ENHANCE_YOUR_CALM)),
            "limit {limit}"
        );
        well_behaved_client_is_served(&server).await;
    }
}

#[tokio::test]
async fn calls_past_the_concurrency_limit_are_shed_at_once() {
    let server = start(|s| {
        s.options.calls.max_concurrent = 2;
        s.metrics_listener = true;
    });
    let first = open_stream(&server).await;
    let second = open_stream(&server).await;
    wait_for_open_streams(server.metrics_addr.unwrap(), 2).await;

    let mut client = server.client().await;
    // Shed, not queued: waiting for a slot would wait for the held streams, which never end here.
    let status = tokio::time::timeout(
        Duration::from_secs(10),
        client.evaluate(tokio_stream::iter([im_spec("2024-04-01", "2024-04-30")])),
    )
    .await
    .expect("answered without waiting for a slot")
    .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(
        status.message().contains("limit of 2 concurrent calls"),
        "{}",
        status.message()
    );
    assert!(status.get_error_details().quota_failure().is_some());
    let (reason, metadata) = error_info(&status);
    assert_eq!(
        (reason.as_str(), metadata["max_concurrent_calls"].as_str()),
        ("OVERLOADED", "2")
    );
    let status = client
        .classify_outages(pb::ClassifyOutagesRequest {
            policy_id: "tencent-im".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    // Looking at policies is never shed.
    assert!(
        client
            .list_policies(pb::ListPoliciesRequest {})
            .await
            .is_ok()
    );

    // The open streams are not disturbed, and once one ends there is room again.
    for (tx, call) in [first, second] {
        tx.send(april_minutes(0, 5, 10, 10)).await.unwrap();
        drop(tx);
        assert_eq!(
            call.await.unwrap().unwrap().into_inner().months[0].bad_units,
            5
        );
    }
    well_behaved_client_is_served(&server).await;
}

#[tokio::test]
async fn a_term_past_the_limit_is_resource_exhausted() {
    let server = start(|s| s.options.limits.max_term_days = 31);
    let mut client = server.client().await;
    let status = client
        .evaluate(tokio_stream::iter([im_spec("2024-04-01", "2024-05-31")]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(
        status
            .message()
            .contains("61 days long; at most 31 are accepted"),
        "{}",
        status.message()
    );
    assert_eq!(
        status
            .get_error_details()
            .quota_failure()
            .unwrap()
            .violations[0]
            .subject,
        "term length in days"
    );
    well_behaved_client_is_served(&server).await;
}

#[tokio::test]
async fn buckets_past_the_per_stream_limit_are_resource_exhausted() {
    let server = start(|s| s.options.calls.max_buckets_per_stream = 500);
    let mut client = server.client().await;
    let status = client
        .evaluate(tokio_stream::iter([
            im_spec("2024-04-01", "2024-04-30"),
            april_minutes(0, 300, 10, 10),
            april_minutes(300, 300, 10, 10),
        ]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(
        status
            .message()
            .contains("batch 1 would take the stream past the server's limit of 500"),
        "{}",
        status.message()
    );
    well_behaved_client_is_served(&server).await;
}

#[tokio::test]
async fn a_slow_drip_upload_runs_into_the_call_timeout() {
    let server = start(|s| s.options.calls.timeout = Duration::from_millis(800));
    let (tx, call) = open_stream(&server).await;
    // One message, then nothing: the stream never closes.
    tx.send(april_minutes(0, 5, 10, 10)).await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("the call timeout ended the stream")
        .unwrap()
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded);
    assert!(
        status.message().contains("limit of 800ms"),
        "{}",
        status.message()
    );
    let (reason, metadata) = error_info(&status);
    assert_eq!(
        (reason.as_str(), metadata["call_timeout"].as_str()),
        ("CALL_TIMEOUT", "800ms")
    );
    drop(tx);
    well_behaved_client_is_served(&server).await;
}

#[tokio::test]
async fn a_peer_that_ignores_keepalive_pings_is_disconnected() {
    let server = start(|s| {
        s.options.http2.keepalive_interval = Duration::from_millis(200);
        s.options.http2.keepalive_timeout = Duration::from_millis(300);
    });
    let addr = server.addr;
    // The peer's read fails the test if the server merely goes quiet: it must hang up.
    let pinged = tokio::task::spawn_blocking(move || {
        let mut peer = RawH2::connect(addr);
        let mut pinged = false;
        // Answer SETTINGS, never PINGs, until the server hangs up.
        while let Some(frame) = peer.read() {
            match frame.kind {
                h2raw::SETTINGS if frame.flags & h2raw::ACK == 0 => {
                    peer.send(h2raw::SETTINGS, h2raw::ACK, 0, &[])
                }
                h2raw::PING if frame.flags & h2raw::ACK == 0 => pinged = true,
                _ => {}
            }
        }
        pinged
    })
    .await
    .unwrap();
    assert!(pinged, "the server pinged the idle connection");
    // A real client answers the pings and keeps its connection through several intervals.
    let channel = server.channel().await;
    let mut client = pb::sla_evaluator_client::SlaEvaluatorClient::new(channel);
    assert!(
        client
            .list_policies(pb::ListPoliciesRequest {})
            .await
            .is_ok()
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        client
            .list_policies(pb::ListPoliciesRequest {})
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn too_many_outages_in_one_request_are_resource_exhausted() {
    let server = start(|s| s.options.limits.max_outages = 2);
    let outage = april_outage("");
    let request = pb::ClassifyOutagesRequest {
        policy_id: "tencent-im".into(),
        outages: vec![outage; 3],
        ..Default::default()
    };
    let status = server
        .client()
        .await
        .classify_outages(request)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    well_behaved_client_is_served(&server).await;
}

#[tokio::test]
async fn connections_past_their_age_are_asked_to_go_away() {
    let server = start(|s| s.options.http2.max_connection_age = Duration::from_millis(300));
    let addr = server.addr;
    let goaway = tokio::task::spawn_blocking(move || {
        let mut peer = RawH2::connect(addr);
        while let Some(frame) = peer.read() {
            match frame.kind {
                h2raw::SETTINGS if frame.flags & h2raw::ACK == 0 => {
                    peer.send(h2raw::SETTINGS, h2raw::ACK, 0, &[])
                }
                // Answer pings, so that only the age can end the connection.
                h2raw::PING if frame.flags & h2raw::ACK == 0 => {
                    let payload = frame.payload.clone();
                    peer.send(h2raw::PING, h2raw::ACK, 0, &payload)
                }
                h2raw::GOAWAY => return Some(frame.error_code()),
                _ => {}
            }
        }
        None
    })
    .await
    .unwrap();
    assert_eq!(
        goaway,
        Some(h2raw::NO_ERROR),
        "a graceful GOAWAY, not an error"
    );
    // A call in flight when its connection reaches its age finishes normally.
    let (tx, call) = open_stream(&server).await;
    tokio::time::sleep(Duration::from_millis(900)).await;
    tx.send(april_minutes(0, 5, 10, 10)).await.unwrap();
    drop(tx);
    let answer = call
        .await
        .unwrap()
        .expect("the call outlives its connection's age");
    assert_eq!(answer.into_inner().months[0].bad_units, 5);
    // A real client reconnects by itself and is served.
    well_behaved_client_is_served(&server).await;
}
