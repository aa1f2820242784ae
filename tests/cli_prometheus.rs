//! `evaluate --prometheus` against a real Prometheus: a month of known per-minute counts, stored
//! as a recording rule would store them, gives the same evaluation, byte for byte, as the same
//! counts from a CSV file; gaps stay gaps, non-integer values are rounded and reported, and a
//! server that cannot answer is named.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use common::cli::{Files, arg, output, refused, sla, stdout};
use common::prometheus::Prometheus;

/// 2026-03-01T00:00:00+08:00.
const MARCH: i64 = 1_772_294_400;
const MINUTES: i64 = 31 * 1_440;

/// The counts of minute `m` of March (Shanghai), or `None` for a minute without data: a
/// half-hour gap on the 2nd, an outage of five all-failed minutes on the 3rd.
fn minute(m: i64) -> Option<(u64, u64)> {
    if (1_440 + 600..1_440 + 630).contains(&m) {
        return None;
    }
    let total = 100 + (m * 7919 % 53) as u64;
    let failed = if (2 * 1_440 + 300..2 * 1_440 + 305).contains(&m) {
        total
    } else {
        (m % 5) as u64
    };
    Some((total, failed))
}

/// The month as OpenMetrics gauges, one sample a minute at the minute's last second, as a
/// recording rule evaluated each minute leaves them; and as CSV.
fn data() -> (String, String) {
    let mut total = String::from("# TYPE sla_total gauge\n");
    let mut failed = String::from("# TYPE sla_failed gauge\n");
    let mut csv = String::from("start,total,failed\n");
    for m in 0..MINUTES {
        if let Some((t, f)) = minute(m) {
            let start = MARCH + 60 * m;
            total.push_str(&format!("sla_total {t} {}\n", start + 59));
            failed.push_str(&format!("sla_failed {f} {}\n", start + 59));
            csv.push_str(&format!("{start},{t},{f}\n"));
        }
    }
    (format!("{total}{failed}# EOF\n"), csv)
}

const SPEC: [&str; 8] = [
    "--policy",
    "tencent-im",
    "--term",
    "2026-03",
    "--as-of",
    "2026-04-10T00:00:00Z",
    "--format",
    "json",
];

fn from_prometheus(url: &str, total: &str, failed: &str) -> Vec<String> {
    let mut args: Vec<String> = [
        "evaluate",
        "--prometheus",
        url,
        "--total",
        total,
        "--failed",
        failed,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(SPEC.iter().map(|s| s.to_string()));
    args
}

#[test]
fn prometheus_gives_the_evaluation_of_the_same_counts_from_csv() {
    let (openmetrics, csv) = data();
    let prometheus = Prometheus::start(&openmetrics);
    let files = Files::new();
    let csv = files.write("march.csv", &csv);
    let mut args: Vec<&str> = vec!["evaluate"];
    args.extend(SPEC);
    args.push(arg(&csv));
    let expected = stdout(sla(&args));
    let json: serde_json::Value = serde_json::from_str(&expected).unwrap();
    assert_eq!(json["months"][0]["badUnits"], "5");
    assert_eq!(json["months"][0]["evidence"]["gaps"][0]["minutes"], "30");

    // A month is 44,640 steps: five requests under Prometheus's 11,000 points.
    let args = from_prometheus(
        &prometheus.url,
        "last_over_time(sla_total[1m])",
        "last_over_time(sla_failed[1m])",
    );
    let mut command = sla(&[]);
    command.args(&args);
    let run = output(command);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert_eq!(String::from_utf8(run.stdout).unwrap(), expected);
    assert!(
        stderr.contains("Prometheus gave 44610 of 44640 steps; the other 30 are data gaps"),
        "{stderr}"
    );

    // increase()-like extrapolation leaves fractions: rounded to the same counts, and said so.
    let args = from_prometheus(
        &prometheus.url,
        "last_over_time(sla_total[1m]) * 1.001",
        "last_over_time(sla_failed[1m]) * 1.001",
    );
    let mut command = sla(&[]);
    command.args(&args);
    let run = output(command);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert_eq!(String::from_utf8(run.stdout).unwrap(), expected);
    assert!(
        stderr.contains("values were not whole numbers")
            && stderr.contains("the largest change was 0.15"),
        "{stderr}"
    );
}

#[test]
fn prometheus_problems_are_named() {
    let (openmetrics, _) = data();
    let prometheus = Prometheus::start(&openmetrics);
    let refuse = |url: &str, total: &str, expected: &str| {
        let mut command = sla(&[]);
        command.args(from_prometheus(
            url,
            total,
            "last_over_time(sla_failed[1m])",
        ));
        let stderr = refused(command, 1);
        assert!(stderr.contains(expected), "{total}: {stderr}");
    };
    refuse(
        &prometheus.url,
        "sla_total{",
        "Prometheus refused the query (HTTP 400, bad_data)",
    );
    refuse(
        &prometheus.url,
        "{__name__=~\"sla_.*\"}",
        "the --total query: it gives 2 series",
    );
    refuse(&prometheus.url, "-1 * sla_total", "is negative");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    refuse(
        &format!("http://127.0.0.1:{port}"),
        "sla_total",
        "cannot reach",
    );
}
