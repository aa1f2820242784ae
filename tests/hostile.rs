//! The attacks a hostile or careless client can make, against the real binary: connections that
//! never finish their handshake, too many connections, control-frame floods, calls whose bodies
//! stall on every service, deadlines, and a memory-budget attack. After each, a well-behaved client
//! is still served.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::h2raw::{self, RawH2, closed_within};
use common::process::Binary;
use common::requests::{APRIL_2024, bare_spec, buckets, spec_message};
use common::scrape::{labelled, scrape};
use prost::Message;
use sla_evaluator::api::pb::{self, sla_evaluator_client::SlaEvaluatorClient};
use tonic::Code;
use tonic_types::StatusExt;

/// A client that behaves: one policy lookup must work.
async fn served(binary: &Binary) {
    let mut client = SlaEvaluatorClient::connect(binary.endpoint())
        .await
        .unwrap();
    let policies = client
        .list_policies(pb::ListPoliciesRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        policies.policies.len(),
        sla_evaluator::policy::PolicySet::built_in().unwrap().len()
    );
}

#[tokio::test]
async fn connections_that_never_finish_their_handshake_are_closed() {
    let binary = Binary::start(&["--handshake-timeout", "1s"]);
    let baseline = binary.descriptors();
    let started = Instant::now();
    // Slowloris: connections that never send the HTTP/2 preface, and one that sends only half.
    let mut stalled: Vec<TcpStream> = (0..50)
        .map(|_| TcpStream::connect(binary.addr).unwrap())
        .collect();
    stalled[0].write_all(b"PRI * HTTP/2.0\r\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while binary.descriptors() < baseline + 50 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        binary.descriptors() >= baseline + 50,
        "the server took the connections"
    );
    for socket in &mut stalled {
        assert!(
            closed_within(socket, Duration::from_secs(5)),
            "a stalled connection stayed open"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    // A connection that finished its handshake but sends no request is closed too.
    let mut quiet = RawH2::connect(binary.addr);
    let mut saw_close = false;
    while let Some(frame) = quiet.read() {
        if frame.kind == h2raw::SETTINGS && frame.flags & h2raw::ACK == 0 {
            quiet.send(h2raw::SETTINGS, h2raw::ACK, 0, &[]);
        }
        saw_close = frame.kind == h2raw::GOAWAY || saw_close;
    }
    // Every descriptor came back.
    drop(stalled);
    let deadline = Instant::now() + Duration::from_secs(5);
    while binary.descriptors() > baseline && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(binary.descriptors(), baseline);
    let metrics = binary.metrics;
    let (_, _, body) = tokio::task::spawn_blocking(move || scrape(metrics))
        .await
        .unwrap();
    assert!(
        labelled(
            &body,
            "sla_connections_refused_total",
            &[("reason", "handshake_timeout")]
        ) >= 51.0
    );
    served(&binary).await;
    let _ = saw_close;
}

#[tokio::test]
async fn connections_past_the_maximum_are_closed_at_once() {
    let binary = Binary::start(&["--max-connections", "8", "--handshake-timeout", "3s"]);
    let _held: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(binary.addr).unwrap())
        .collect();
    // Let the server take them all.
    std::thread::sleep(Duration::from_millis(200));
    let mut extra = TcpStream::connect(binary.addr).unwrap();
    assert!(
        closed_within(&mut extra, Duration::from_secs(1)),
        "the ninth connection was kept"
    );
    let metrics = binary.metrics;
    let (_, _, body) = tokio::task::spawn_blocking(move || scrape(metrics))
        .await
        .unwrap();
    assert!(
        labelled(
            &body,
            "sla_connections_refused_total",
            &[("reason", "max_connections")]
        ) >= 1.0
    );
    assert_eq!(labelled(&body, "sla_open_connections", &[]), 8.0);
    // Once the held ones time out, clients are served again.
    drop(_held);
    tokio::time::sleep(Duration::from_millis(300)).await;
    served(&binary).await;
}

#[tokio::test]
async fn an_idle_connection_is_closed() {
    let binary = Binary::start(&["--idle-timeout", "1s"]);
    let addr = binary.addr;
    let closed = tokio::task::spawn_blocking(move || {
        let mut peer = RawH2::connect(addr);
        // One call, so the handshake deadline is met: a health check.
        let path = [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", "/grpc.health.v1.Health/Check"),
            (":authority", "sla"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
        ];
        peer.headers(1, &path, h2raw::END_HEADERS);
        peer.send(0x0, h2raw::END_STREAM, 1, &[0, 0, 0, 0, 0]);
        let started = Instant::now();
        while let Some(frame) = peer.read() {
            if frame.kind == h2raw::SETTINGS && frame.flags & h2raw::ACK == 0 {
                peer.send(h2raw::SETTINGS, h2raw::ACK, 0, &[]);
            }
        }
        started.elapsed()
    })
    .await
    .unwrap();
    assert!(closed < Duration::from_secs(5), "closed after {closed:?}");
    served(&binary).await;
}

/// Sends `count` frames of `kind` on a fresh connection and says how many acknowledgements came
/// back before the server closed it.
fn flood(addr: SocketAddr, kind: u8, count: usize) -> usize {
    let mut peer = RawH2::connect(addr);
    for i in 0..count {
        let payload = if kind == h2raw::PING {
            (i as u64).to_be_bytes().to_vec()
        } else {
            vec![]
        };
        peer.send(kind, 0, 0, &payload);
    }
    let mut acks = 0;
    while let Some(frame) = peer.read() {
        if frame.kind == kind && frame.flags & h2raw::ACK != 0 {
            acks += 1;
        }
    }
    acks
}

#[tokio::test]
async fn ping_and_settings_floods_lose_their_connection() {
    let binary = Binary::start(&[]);
    let addr = binary.addr;
    let (pings, settings) = tokio::task::spawn_blocking(move || {
        (
            flood(addr, h2raw::PING, 100_000),
            flood(addr, h2raw::SETTINGS, 100_000),
        )
    })
    .await
    .unwrap();
    // The default allows 256 at once: far fewer than 100,000 are answered.
    assert!(pings < 1_000, "{pings} pings answered");
    assert!(settings < 1_000, "{settings} settings answered");
    let metrics = binary.metrics;
    let (_, _, body) = tokio::task::spawn_blocking(move || scrape(metrics))
        .await
        .unwrap();
    assert_eq!(
        labelled(
            &body,
            "sla_connections_refused_total",
            &[("reason", "frame_flood")]
        ),
        2.0
    );
    served(&binary).await;
}

/// Opens a call of `path` over HTTP/2, sends its headers (and `grpc-timeout` when given) but no
/// message, and returns the status the server ends it with and how long that took.
async fn stalled_call(
    addr: SocketAddr,
    path: &str,
    timeout: Option<&str>,
) -> (Code, String, Duration) {
    let socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut client, connection) = h2::client::handshake(socket).await.unwrap();
    tokio::spawn(connection);
    let mut request = http::Request::post(format!("http://sla{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if let Some(timeout) = timeout {
        request = request.header("grpc-timeout", timeout);
    }
    let started = Instant::now();
    let (response, _body) = client
        .send_request(request.body(()).unwrap(), false)
        .unwrap();
    let response = response.await.unwrap();
    let status = match tonic::Status::from_header_map(response.headers()) {
        Some(status) => status,
        None => {
            let mut body = response.into_body();
            while body.data().await.is_some() {}
            let trailers = body.trailers().await.unwrap().unwrap();
            tonic::Status::from_header_map(&trailers).unwrap()
        }
    };
    (
        status.code(),
        status.message().to_string(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn every_call_on_every_service_is_bounded() {
    let binary = Binary::start(&["--call-timeout", "1s"]);
    for path in [
        "/sla.v1.SlaEvaluator/ClassifyOutages",
        "/sla.v1.SlaEvaluator/Evaluate",
        "/grpc.health.v1.Health/Check",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ] {
        let (code, message, took) = stalled_call(binary.addr, path, None).await;
        assert_eq!(code, Code::DeadlineExceeded, "{path}: {message}");
        assert!(message.contains("limit of 1s"), "{path}: {message}");
        assert!(took < Duration::from_secs(3), "{path} took {took:?}");
    }
    // A client's shorter deadline is the one kept.
    let (code, message, took) =
        stalled_call(binary.addr, "/sla.v1.SlaEvaluator/Evaluate", Some("200m")).await;
    assert_eq!(code, Code::DeadlineExceeded);
    assert!(message.contains("grpc-timeout 200ms"), "{message}");
    assert!(took < Duration::from_millis(900), "{took:?}");
    let metrics = binary.metrics;
    let (_, _, body) = tokio::task::spawn_blocking(move || scrape(metrics))
        .await
        .unwrap();
    let handled = |service: &str, method: &str| {
        labelled(
            &body,
            "grpc_server_handled_total",
            &[
                ("grpc_service", service),
                ("grpc_method", method),
                ("grpc_code", "DeadlineExceeded"),
            ],
        )
    };
    assert_eq!(handled("sla.v1.SlaEvaluator", "Evaluate"), 2.0);
    assert_eq!(handled("grpc.health.v1.Health", "Check"), 1.0);
    assert_eq!(
        handled(
            "grpc.reflection.v1.ServerReflection",
            "ServerReflectionInfo"
        ),
        1.0
    );
    served(&binary).await;
}

#[tokio::test]
async fn calls_refused_before_a_handler_are_counted() {
    let binary = Binary::start(&["--max-message-bytes", "1024"]);
    let mut client = SlaEvaluatorClient::connect(binary.endpoint())
        .await
        .unwrap();
    // Over the size limit, and not protobuf at all: both answered without a handler.
    let big = pb::ClassifyOutagesRequest {
        policy_id: "x".repeat(2_000),
        ..Default::default()
    };
    let status = client.classify_outages(big).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    let channel = tonic::transport::Channel::from_shared(binary.endpoint())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut raw = tonic::client::Grpc::new(channel);
    raw.ready().await.unwrap();
    let garbage: Result<tonic::Response<Vec<u8>>, tonic::Status> = raw
        .unary(
            tonic::Request::new(vec![0xff, 0xff, 0xff]),
            "/sla.v1.SlaEvaluator/ClassifyOutages".parse().unwrap(),
            BytesCodec,
        )
        .await;
    assert_eq!(garbage.unwrap_err().code(), Code::Internal);
    let metrics = binary.metrics;
    let (_, _, body) = tokio::task::spawn_blocking(move || scrape(metrics))
        .await
        .unwrap();
    let handled = |code: &str| {
        labelled(
            &body,
            "grpc_server_handled_total",
            &[("grpc_method", "ClassifyOutages"), ("grpc_code", code)],
        )
    };
    assert_eq!(handled("ResourceExhausted"), 1.0);
    assert_eq!(handled("Internal"), 1.0);
}

/// Raw bytes in and out, for sending what no generated client would.
#[derive(Clone, Copy, Debug, Default)]
struct BytesCodec;

impl tonic::codec::Codec for BytesCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = BytesCodec;
    type Decoder = BytesCodec;

    fn encoder(&mut self) -> Self::Encoder {
        BytesCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        BytesCodec
    }
}

impl tonic::codec::Encoder for BytesCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use prost::bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for BytesCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use prost::bytes::Buf;
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

/// An Evaluate stream of IM over ten years: its ledgers take about 1.8 MiB (two bits a minute and a
/// 4 KiB chunk of log a month).
fn ten_years() -> pb::EvaluateRequest {
    spec_message(bare_spec("tencent-im", "2020-01-01", "2029-12-31"))
}

#[tokio::test]
async fn calls_that_would_pass_the_memory_budget_are_refused_and_the_others_served() {
    let binary = Binary::start(&["--memory-budget", "6MiB"]);
    let (senders, mut calls): (Vec<_>, Vec<_>) = (0..3)
        .map(|_| {
            let (tx, rx) = tokio::sync::mpsc::channel(4);
            let endpoint = binary.endpoint();
            let call = tokio::spawn(async move {
                let mut client = SlaEvaluatorClient::connect(endpoint).await.unwrap();
                client
                    .evaluate(tokio_stream::wrappers::ReceiverStream::new(rx))
                    .await
            });
            (tx, call)
        })
        .unzip();
    for tx in &senders {
        tx.send(ten_years()).await.unwrap();
    }
    // Three ten-year streams hold their ledgers; a fourth would pass 6 MiB.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut client = SlaEvaluatorClient::connect(binary.endpoint())
        .await
        .unwrap();
    let status = client
        .evaluate(tokio_stream::iter([ten_years()]))
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        Code::ResourceExhausted,
        "{}",
        status.message()
    );
    assert!(
        status.message().contains("memory budget of 6.0 MiB"),
        "{}",
        status.message()
    );
    let details = status.get_error_details();
    assert!(details.retry_info().is_some());
    assert_eq!(
        details.quota_failure().unwrap().violations[0].subject,
        "memory budget"
    );
    // The streams under the budget are not disturbed: each gets its answer.
    for tx in &senders {
        for message in buckets(APRIL_2024, 60, 1, |_| Some((10, 0))) {
            tx.send(message).await.unwrap();
        }
    }
    drop(senders);
    for call in calls.drain(..) {
        let response = call.await.unwrap().unwrap().into_inner();
        assert_eq!(response.ingest.unwrap().buckets_accepted, 60);
    }
    // With the memory given back, the same call is served.
    assert!(
        client
            .evaluate(tokio_stream::iter([ten_years()]))
            .await
            .is_ok()
    );
    // A message whose decoded size alone would pass the budget is refused before it is decoded.
    let rows = 30 * 1440;
    let huge = pb::EvaluateRequest {
        item: Some(pb::evaluate_request::Item::Columns(pb::BucketColumns {
            duration_seconds: 60,
            start_unix_seconds: (0..rows).map(|m| APRIL_2024 + 60 * m).collect(),
            total: vec![1000; rows as usize],
            failed: vec![0; rows as usize],
            ..Default::default()
        })),
    };
    assert!(huge.encoded_len() * 40 > 6 << 20);
    let status = client
        .evaluate(tokio_stream::iter([
            spec_message(bare_spec("tencent-im", "2024-04-01", "2024-04-30")),
            huge,
        ]))
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        Code::ResourceExhausted,
        "{}",
        status.message()
    );
    let metrics = binary.metrics;
    let (_, _, body) = tokio::task::spawn_blocking(move || scrape(metrics))
        .await
        .unwrap();
    assert!(labelled(&body, "sla_memory_refusals_total", &[]) >= 2.0);
    assert_eq!(labelled(&body, "sla_memory_reserved_bytes", &[]), 0.0);
    assert_eq!(labelled(&body, "sla_memory_budget_bytes", &[]), 6_291_456.0);
}

#[tokio::test]
async fn numbers_and_dates_are_read_strictly() {
    let server = common::server::TestServer::start();
    let mut client = server.client().await;
    let refused = |spec: pb::EvaluationSpec| {
        let mut client = client.clone();
        async move {
            client
                .evaluate(tokio_stream::iter([spec_message(spec)]))
                .await
                .unwrap_err()
        }
    };
    let fee = |paid: &str| pb::EvaluationSpec {
        currency: "CNY".into(),
        fees: vec![pb::MonthlyFee {
            month_start: "2024-04-01".into(),
            paid: paid.into(),
            deductions: String::new(),
        }],
        ..bare_spec("tencent-im", "2024-04-01", "2024-04-30")
    };
    for paid in ["1_000", "1_0.0_5", "+5", "1e3", " 5", "5."] {
        let status = refused(fee(paid)).await;
        assert_eq!(status.code(), Code::InvalidArgument, "{paid}");
        assert!(
            status.message().contains("written plainly"),
            "{paid}: {}",
            status.message()
        );
    }
    for (start, end) in [("-999-01-01", "-999-01-31"), ("0000-01-01", "0000-01-31")] {
        let status = refused(bare_spec("tencent-im", start, end)).await;
        assert_eq!(status.code(), Code::InvalidArgument, "{start}");
        assert!(
            status.message().contains("year from 0001 to 9999"),
            "{}",
            status.message()
        );
    }
    let status = refused(pb::EvaluationSpec {
        as_of: Some(prost_types::Timestamp {
            seconds: 253_402_300_800,
            nanos: 0,
        }),
        ..bare_spec("tencent-im", "2024-04-01", "2024-04-30")
    })
    .await;
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("spec.as_of"),
        "{}",
        status.message()
    );
    // The same rules hold a step away from the limit.
    assert!(
        client
            .evaluate(tokio_stream::iter([spec_message(fee("1000.5"))]))
            .await
            .is_ok()
    );
}
