//! A bounded soak of the real binary: good streams checked against an independent reference,
//! refused calls, cancelled uploads, stalled connections and a memory-budget attack, all at once
//! for a minute, with every attack of issue 20 ("No call can hurt another") beside them: refusals
//! whose requests end after their answers on one long connection, heavy ClassifyOutages, responses
//! that would amplify, megabyte values to echo, stalled metrics connections, health watches past
//! their cap, idle connections, and a policy directory emptied and refilled. Every good answer
//! must be exact, health must answer every probe within a second, the server's memory must stay
//! under its budget plus a stated overhead, and every descriptor must come back.
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

use common::cli::Files;
use common::h2raw::{self, RawH2, call, grpc_message, next_frame};
use common::process::Binary;
use common::requests::{bare_spec, heavy_classify, reviewed_term, spec_message};
use prost::Message;
use sla_evaluator::api::pb::{
    self, evaluate_request::Item, sla_evaluator_client::SlaEvaluatorClient,
};
use tonic::Code;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
use workload::{Term, minute_columns, reference};

/// How long the mixed load runs.
const SOAK: Duration = Duration::from_secs(60);
/// The server's memory budget.
const BUDGET: u64 = 48 << 20;
/// What the process may hold beyond the budget: the binary and its runtime (about 20 MB at rest),
/// HTTP/2 windows and buffers of the open connections (a hundred at once here, each with a 1 MiB
/// window), and the allocator's slack (mimalloc keeps freed memory for reuse). Measured: a peak
/// of 120 to 124 MiB with the first soak's attacks alone, 133 to 167 MiB with issue 20's beside
/// them, on a two-core machine at a load of 8; later 157 to 208 MiB (mimalloc 3 keeps freed pages
/// a second), 121 to 147 MiB once the binary returns them at once, and 75 to 77 MiB once it also
/// stops mimalloc's arenas from being backed by 2 MiB huge pages (src/main.rs).
const OVERHEAD: u64 = 160 << 20;

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

const IM: &str = include_str!("../policies/tencent-im.toml");

/// A channel to the server, connected.
async fn channel(endpoint: &str) -> tonic::transport::Channel {
    tonic::transport::Channel::from_shared(endpoint.to_string())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// Issue 20's attacks, each in a loop until `until`, beside the good traffic: they must be
/// answered as the issue says, and never disturb it.
fn issue_20_attacks(
    binary: &Binary,
    files: &Files,
    until: Instant,
) -> Vec<tokio::task::JoinHandle<()>> {
    let endpoint = binary.endpoint();
    let (addr, metrics) = (binary.addr, binary.metrics);
    let mut tasks = Vec::new();
    // Item 1: refused calls whose requests end after their answers, on one connection that lives
    // through all of them (h2 used to count each as a local error and close it past 1,024).
    tasks.push(tokio::task::spawn_blocking(move || {
        let mut peer = RawH2::connect(addr);
        let unknown = grpc_message(&spec_message(bare_spec(
            "no-such-policy",
            "2024-04-01",
            "2024-04-30",
        )));
        let (mut next, mut refused) = (1, 0);
        while Instant::now() < until {
            let streams: Vec<u32> = (0..100).map(|i| next + 2 * i).collect();
            next += 200;
            for &stream in &streams {
                call(&mut peer, stream, "/sla.v1.SlaEvaluator/Evaluate");
                peer.send(h2raw::DATA, 0, stream, &unknown);
            }
            let mut unanswered = streams.len();
            while unanswered > 0 {
                let frame = next_frame(&mut peer);
                if frame.kind == h2raw::HEADERS && frame.flags & h2raw::END_STREAM != 0 {
                    unanswered -= 1;
                }
            }
            std::thread::sleep(Duration::from_millis(1_100));
            for &stream in &streams {
                peer.send(h2raw::DATA, h2raw::END_STREAM, stream, &[]);
            }
            refused += streams.len();
        }
        // The connection still answers.
        peer.send(h2raw::PING, 0, 0, &[7; 8]);
        while next_frame(&mut peer).kind != h2raw::PING {}
        assert!(refused > 1_024, "only {refused} refusals on one connection");
    }));
    // Item 2: heavy ClassifyOutages, one after another, within the memory budget: each ends
    // at the call timeout, is refused for memory, or is answered whole.
    {
        let endpoint = endpoint.clone();
        tasks.push(tokio::spawn(async move {
            let heavy = heavy_classify(1980, 1_000);
            while Instant::now() < until {
                let mut client = SlaEvaluatorClient::new(channel(&endpoint).await);
                match client.classify_outages(heavy.clone()).await {
                    Ok(answer) => assert_eq!(answer.into_inner().verdicts.len(), 1_000),
                    Err(status) => assert!(
                        matches!(
                            status.code(),
                            Code::DeadlineExceeded | Code::ResourceExhausted
                        ),
                        "{status}"
                    ),
                }
            }
        }));
    }
    // Item 3: responses that would amplify: bounded, or refused for memory.
    {
        let endpoint = endpoint.clone();
        tasks.push(tokio::spawn(async move {
            let messages = reviewed_term(200, 128);
            let request_bytes: usize = messages.iter().map(Message::encoded_len).sum();
            while Instant::now() < until {
                let answer = SlaEvaluatorClient::new(channel(&endpoint).await)
                    .max_decoding_message_size(1 << 30)
                    .evaluate(tokio_stream::iter(messages.clone()))
                    .await;
                match answer {
                    Ok(response) => {
                        let response = response.into_inner();
                        assert_eq!(response.outages.len(), 200);
                        assert!(response.encoded_len() < 2 * request_bytes + (1 << 20));
                    }
                    // Refused for memory, or past the call timeout on a loaded machine.
                    Err(status) => assert!(
                        matches!(
                            status.code(),
                            Code::ResourceExhausted | Code::DeadlineExceeded
                        ),
                        "{status}"
                    ),
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }));
    }
    // Item 4: a value of 256 KiB, echoed cut (or refused for memory: its decoding's share of the
    // budget is a hundred times its size).
    {
        let endpoint = endpoint.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = SlaEvaluatorClient::new(channel(&endpoint).await);
            let huge = "x".repeat(256 << 10);
            while Instant::now() < until {
                let status = client
                    .get_policy(pb::GetPolicyRequest {
                        policy_id: huge.clone(),
                    })
                    .await
                    .unwrap_err();
                assert!(
                    matches!(status.code(), Code::NotFound | Code::ResourceExhausted),
                    "{status}"
                );
                assert!(status.message().len() < 400, "{}", status.message().len());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }));
    }
    // Item 5: stalled connections on the metrics port, twenty at a time.
    tasks.push(tokio::spawn(async move {
        while Instant::now() < until {
            let sockets: Vec<TcpStream> = (0..20)
                .filter_map(|_| TcpStream::connect(metrics).ok())
                .collect();
            tokio::time::sleep(Duration::from_secs(3)).await;
            drop(sockets);
        }
    }));
    // Item 5: health watches, two past their cap of four: refused at once.
    {
        let endpoint = endpoint.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < until {
                let channel = channel(&endpoint).await;
                let (mut held, mut refused) = (Vec::new(), 0);
                for _ in 0..6 {
                    let mut client = HealthClient::new(channel.clone());
                    match client.watch(HealthCheckRequest::default()).await {
                        Ok(stream) => {
                            let mut stream = stream.into_inner();
                            match stream.message().await {
                                Ok(Some(_)) => held.push(stream),
                                Ok(None) => panic!("a watch ended at once"),
                                Err(status) => {
                                    assert_eq!(status.code(), Code::ResourceExhausted);
                                    refused += 1;
                                }
                            }
                        }
                        Err(status) => {
                            assert_eq!(status.code(), Code::ResourceExhausted);
                            refused += 1;
                        }
                    }
                }
                assert!(refused >= 2, "{refused} watches refused past the cap");
                tokio::time::sleep(Duration::from_secs(2)).await;
                drop(held);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }));
    }
    // Item 5: a connection left idle past the idle timeout is told (GOAWAY): its client's next
    // call goes to a new connection and is answered.
    {
        let endpoint = endpoint.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = SlaEvaluatorClient::new(channel(&endpoint).await);
            while Instant::now() < until {
                let listed = client.list_policies(pb::ListPoliciesRequest {}).await;
                assert!(listed.is_ok(), "after an idle spell: {listed:?}");
                tokio::time::sleep(Duration::from_millis(3_500)).await;
            }
        }));
    }
    // Item 1, the careless operator: the policy directory emptied and refilled, again and again,
    // while its policy is asked for: never NOT_FOUND.
    {
        let (endpoint, dir) = (endpoint.clone(), files.dir().to_path_buf());
        tasks.push(tokio::spawn(async move {
            let custom = IM.replace("id = \"tencent-im\"", "id = \"custom-im\"");
            let mut client = SlaEvaluatorClient::new(channel(&endpoint).await);
            while Instant::now() < until {
                std::fs::remove_file(dir.join("custom.toml")).unwrap();
                tokio::time::sleep(Duration::from_millis(300)).await;
                // The budget attack may hold every byte of the budget for a moment; the call is
                // then refused with RESOURCE_EXHAUSTED and a retry delay, which a client honours
                // (as the good streams do). What must never come is NOT_FOUND.
                let served = loop {
                    let served = client
                        .get_policy(pb::GetPolicyRequest {
                            policy_id: "custom-im".into(),
                        })
                        .await;
                    match &served {
                        Err(status) if status.code() == Code::ResourceExhausted => {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        _ => break served,
                    }
                };
                assert!(served.is_ok(), "with the directory empty: {served:?}");
                std::fs::write(dir.join("custom.toml"), &custom).unwrap();
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }));
    }
    tasks
}

/// Health probes every 250 ms, each allowed a second as a Kubernetes probe is: the probes
/// answered, or the first miss.
async fn probe_health(endpoint: String, until: Instant) -> Result<u64, tonic::Status> {
    let mut health = HealthClient::new(channel(&endpoint).await);
    let mut answered = 0;
    while Instant::now() < until {
        let mut request = tonic::Request::new(HealthCheckRequest::default());
        request.set_timeout(Duration::from_secs(1));
        let status = health.check(request).await?;
        assert_eq!(status.into_inner().status, ServingStatus::Serving as i32);
        answered += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(answered)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_server_holds_under_mixed_hostile_load() {
    let files = Files::new();
    files.write(
        "custom.toml",
        &IM.replace("id = \"tencent-im\"", "id = \"custom-im\""),
    );
    let binary = Binary::start(&[
        "--memory-budget",
        &BUDGET.to_string(),
        "--handshake-timeout",
        "2s",
        "--idle-timeout",
        "3s",
        "--max-concurrent-calls",
        "64",
        "--call-timeout",
        "10s",
        "--max-health-watches",
        "4",
        "--policy-dir",
        files.dir().to_str().unwrap(),
        "--policy-poll-interval",
        "100ms",
    ]);
    let baseline_descriptors = binary.descriptors();
    let endpoint = binary.endpoint();
    let addr = binary.addr;
    let until = Instant::now() + SOAK;
    let good = Arc::new(AtomicU64::new(0));
    let refused_by_budget = Arc::new(AtomicU64::new(0));
    let probes = tokio::spawn(probe_health(endpoint.clone(), until));
    let mut tasks = issue_20_attacks(&binary, &files, until);

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
    let probes = probes.await.unwrap().expect("a health probe missed");

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
    assert!(probes >= 100, "only {probes} health probes");
    eprintln!(
        "soak: {} good streams ({} refused by the budget and retried), {} attack streams refused, \
         {probes} health probes all answered, peak RSS {} MiB (budget {} MiB), {} descriptors \
         at the start and the end",
        good.load(Ordering::Relaxed),
        refused_by_budget.load(Ordering::Relaxed),
        attack_refused.load(Ordering::Relaxed),
        peak >> 20,
        BUDGET >> 20,
        baseline_descriptors
    );
}
