//! Reading the server's Prometheus endpoint, for tests that need to know what the server is doing.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// `GET /metrics`, the way Prometheus asks, returning (status line, content type, body).
pub(crate) fn scrape(addr: SocketAddr) -> (String, String, String) {
    let mut socket = TcpStream::connect(addr).unwrap();
    socket
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: sla\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    socket.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let content_type = head
        .lines()
        .find_map(|l| l.strip_prefix("content-type: "))
        .unwrap_or("")
        .to_string();
    (
        head.lines().next().unwrap().to_string(),
        content_type,
        body.to_string(),
    )
}

/// The value of one sample line, e.g. `sla_open_streams 1`.
pub(crate) fn sample(body: &str, series: &str) -> f64 {
    body.lines()
        .find_map(|line| {
            line.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .unwrap_or_else(|| panic!("no {series} in\n{body}"))
        .parse()
        .unwrap()
}

/// Waits until the server reports `streams` Evaluate streams open, so a test can rely on them
/// being open on the server and not only on the client's side.
pub(crate) async fn wait_for_open_streams(metrics: SocketAddr, streams: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, _, body) = tokio::task::spawn_blocking(move || scrape(metrics))
            .await
            .unwrap();
        if sample(&body, "sla_open_streams") == f64::from(streams) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the server never had {streams} streams open:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The value of the sample of metric `name` whose labels include every pair of `labels`, whatever
/// their order in the line.
pub(crate) fn labelled(body: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    body.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
            let all = labels
                .iter()
                .all(|(key, value)| rest.contains(&format!("{key}=\"{value}\"")));
            (metric == name && all).then(|| value.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no {name} with {labels:?} in\n{body}"))
}

/// The labels of an RPC of the SLA service, as the grpc-ecosystem metrics name them.
pub(crate) fn sla_rpc<'a>(method: &'a str, kind: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grpc_service", "sla.v1.SlaEvaluator"),
        ("grpc_method", method),
        ("grpc_type", kind),
    ]
}
