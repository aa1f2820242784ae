//! A bounded soak of the real binary: good streams checked against an independent reference,
//! refused calls, cancelled uploads, stalled connections and a memory-budget attack, all at once
//! for about forty seconds. Every good answer must be exact, the server's memory must stay under
//! its budget plus a stated overhead, and every descriptor must come back.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;
#[allow(dead_code)] // the soak uses part of the workload
#[path = "../bench/sla-load/workload.rs"]
mod workload;

use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::process::Binary;
use common::requests::{bare_spec, spec_message};
use sla_evaluator::api::pb::{
    self, evaluate_request::Item, sla_evaluator_client::SlaEvaluatorClient,
};
use tonic::Code;
use workload::{Term, minute_columns, reference};

/// How long the mixed load runs.
const SOAK: Duration = Duration::from_secs(40);
/// The server's memory budget.
const BUDGET: u64 = 48 << 20;
/// What the process may hold beyond the budget: the binary and its runtime (about 20 MB at rest),
/// HTTP/2 windows and buffers of the open connections, and the allocator's slack.
const OVERHEAD: u64 = 96 << 20;

/// One good stream: subscription `subscription` over `months` months of `policy`, checked.
async fn good_stream(endpoint: String, policy: &str, subscription: u64, months: u32) -> bool {
    let term = Term::months(months);
    let mut messages = vec![spec_message(bare_spec(
        policy,
        &term.first_day.to_string(),
        &term.last_day.to_string(),
    ))];
    let mut first = 0;
    while first < term.minutes() {
        let count = 10_000.min(term.minutes() - first);
        let (starts, total, failed) = minute_columns(subscription, term.start_unix, first, count);
        messages.push(pb::EvaluateRequest {
            item: Some(Item::Columns(pb::BucketColumns {
                duration_seconds: 60,
                start_unix_seconds: starts,
                total,
                failed,
                ..Default::default()
            })),
        });
        first += count;
    }
    let mut client = SlaEvaluatorClient::connect(endpoint).await.unwrap();
    match client.evaluate(tokio_stream::iter(messages)).await {
        Ok(response) => {
            let (slice, bound) = match policy {
                "tencent-im" => (1, None),
                "tencent-trtc" => (5, Some(99)),
                _ => (0, None),
            };
            let expected = reference::months(subscription, &term, slice, bound);
            let got: Vec<(u64, u64)> = response
                .into_inner()
                .months
                .iter()
                .map(|m| (m.bad_units, m.total_units))
                .collect();
            assert_eq!(
                got, expected,
                "{policy} subscription {subscription}: a wrong answer"
            );
            true
        }
        // The budget attack may hold the memory for a moment: refused, never wrong.
        Err(status) if status.code() == Code::ResourceExhausted => false,
        Err(status) => panic!("a good stream failed: {status}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_server_holds_under_mixed_hostile_load() {
    let binary = Binary::start(&[
        "--memory-budget",
        &BUDGET.to_string(),
        "--handshake-timeout",
        "2s",
        "--max-concurrent-calls",
        "64",
    ]);
    let baseline_descriptors = binary.descriptors();
    let endpoint = binary.endpoint();
    let addr = binary.addr;
    let until = Instant::now() + SOAK;
    let good = Arc::new(AtomicU64::new(0));
    let refused_by_budget = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();

    // Good streams: IM, TRTC and SMS over 1 to 3 months, checked against the reference.
    for worker in 0..4u64 {
        let (endpoint, good, refused) = (
            endpoint.clone(),
            Arc::clone(&good),
            Arc::clone(&refused_by_budget),
        );
        tasks.push(tokio::spawn(async move {
            let mut subscription = worker * 1_000;
            while Instant::now() < until {
                subscription += 1;
                let policy =
                    ["tencent-im", "tencent-trtc", "tencent-sms"][(subscription % 3) as usize];
                let months = 1 + (subscription % 3) as u32;
                if good_stream(endpoint.clone(), policy, subscription, months).await {
                    good.fetch_add(1, Ordering::Relaxed);
                } else {
                    refused.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }));
    }
    // Refused calls: unknown policies and bad fees.
    for _ in 0..2 {
        let endpoint = endpoint.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = SlaEvaluatorClient::connect(endpoint).await.unwrap();
            while Instant::now() < until {
                let unknown = bare_spec("no-such-policy", "2024-04-01", "2024-04-30");
                let status = client
                    .evaluate(tokio_stream::iter([spec_message(unknown)]))
                    .await
                    .unwrap_err();
                assert!(matches!(
                    status.code(),
                    Code::NotFound | Code::ResourceExhausted
                ));
                let status = client
                    .classify_outages(pb::ClassifyOutagesRequest {
                        policy_id: String::new(),
                        ..Default::default()
                    })
                    .await
                    .unwrap_err();
                assert!(matches!(
                    status.code(),
                    Code::InvalidArgument | Code::ResourceExhausted
                ));
            }
        }));
    }
    // Cancelled uploads: a stream opened, fed, and abandoned.
    for _ in 0..2 {
        let endpoint = endpoint.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < until {
                let (tx, rx) = tokio::sync::mpsc::channel(4);
                let mut client = SlaEvaluatorClient::connect(endpoint.clone()).await.unwrap();
                let call = tokio::spawn(async move {
                    client
                        .evaluate(tokio_stream::wrappers::ReceiverStream::new(rx))
                        .await
                });
                let _ = tx
                    .send(spec_message(bare_spec(
                        "tencent-im",
                        "2024-04-01",
                        "2024-04-30",
                    )))
                    .await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                call.abort();
            }
        }));
    }
    // Stalled connections: sockets that never speak, twenty at a time.
    tasks.push(tokio::spawn(async move {
        while Instant::now() < until {
            let sockets: Vec<TcpStream> = (0..20)
                .filter_map(|_| TcpStream::connect(addr).ok())
                .collect();
            tokio::time::sleep(Duration::from_secs(3)).await;
            drop(sockets);
        }
    }));
    // The memory-budget attack: ten-year TRTC terms (about 18 MiB of ledgers each) opened twenty
    // at a time and held.
    let attack_refused = Arc::new(AtomicU64::new(0));
    {
        let endpoint = endpoint.clone();
        let attack_refused = Arc::clone(&attack_refused);
        tasks.push(tokio::spawn(async move {
            while Instant::now() < until {
                let mut held = Vec::new();
                for _ in 0..20 {
                    let (tx, rx) = tokio::sync::mpsc::channel(4);
                    let mut client = SlaEvaluatorClient::connect(endpoint.clone()).await.unwrap();
                    held.push((
                        tokio::spawn(async move {
                            client
                                .evaluate(tokio_stream::wrappers::ReceiverStream::new(rx))
                                .await
                        }),
                        tx.clone(),
                    ));
                    let _ = tx
                        .send(spec_message(bare_spec(
                            "tencent-trtc",
                            "2016-01-01",
                            "2025-12-31",
                        )))
                        .await;
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
                for (call, tx) in held {
                    drop(tx);
                    if let Err(status) = call.await.unwrap() {
                        assert_eq!(status.code(), Code::ResourceExhausted, "{status}");
                        attack_refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }

    let peak = binary.peak_rss();
    assert!(
        attack_refused.load(Ordering::Relaxed) > 0,
        "the attack never reached the budget"
    );
    assert!(
        good.load(Ordering::Relaxed) >= 20,
        "only {} good streams were answered",
        good.load(Ordering::Relaxed)
    );
    assert!(
        peak < BUDGET + OVERHEAD,
        "peak resident memory {} MiB passed the budget of {} MiB and the stated overhead of {} MiB",
        peak >> 20,
        BUDGET >> 20,
        OVERHEAD >> 20
    );
    // Every descriptor comes back once the stalled connections have timed out.
    let deadline = Instant::now() + Duration::from_secs(10);
    while binary.descriptors() > baseline_descriptors && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        binary.descriptors(),
        baseline_descriptors,
        "descriptors leaked"
    );
    let metrics = binary.metrics;
    let (_, _, body) = tokio::task::spawn_blocking(move || common::scrape::scrape(metrics))
        .await
        .unwrap();
    assert_eq!(
        common::scrape::sample(&body, "sla_memory_reserved_bytes"),
        0.0
    );
    assert_eq!(common::scrape::sample(&body, "sla_open_streams"), 0.0);
    eprintln!(
        "soak: {} good streams ({} refused by the budget and retried), {} attack streams refused, \
         peak RSS {} MiB (budget {} MiB)",
        good.load(Ordering::Relaxed),
        refused_by_budget.load(Ordering::Relaxed),
        attack_refused.load(Ordering::Relaxed),
        peak >> 20,
        BUDGET >> 20
    );
}
