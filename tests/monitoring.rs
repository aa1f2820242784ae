//! What an SRE installs to watch the service: the Prometheus alert rules (checked and unit-tested
//! with promtool) and the Grafana dashboard (every query parsed by promtool), both written against
//! the metric names the server exports.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::scrape::scrape;
use common::server::{Setup, TestServer};
use common::tools::{succeed, system_tool};
use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The metric families the server exports (grpc-ecosystem's RPC metrics, the `sla_*` domain
/// metrics and the standard process metrics), and Prometheus' own `up`; the last test checks them
/// against a real server's /metrics.
const METRICS: [&str; 22] = [
    "grpc_server_started_total",
    "grpc_server_handled_total",
    "grpc_server_handling_seconds",
    "grpc_server_msg_received_total",
    "grpc_server_msg_sent_total",
    "sla_buckets_total",
    "sla_open_streams",
    "sla_shed_calls_total",
    "sla_memory_budget_bytes",
    "sla_memory_reserved_bytes",
    "sla_memory_refusals_total",
    "sla_open_connections",
    "sla_connections_refused_total",
    "sla_policy_reloads_total",
    "sla_build_info",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
    "up",
    // Histogram series.
    "grpc_server_handling_seconds_bucket",
];

fn promtool() -> Command {
    let mut promtool = Command::new(system_tool("promtool"));
    promtool.current_dir(Path::new(ROOT).join("deploy/prometheus"));
    promtool
}

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The metric names a PromQL expression uses.
fn metric_names(expr: &str) -> BTreeSet<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|token| {
            ["grpc_server_", "sla_", "process_"]
                .iter()
                .any(|prefix| token.starts_with(prefix))
                || *token == "up"
        })
        .map(str::to_string)
        .collect()
}

/// Each alert's name and expression, from the rule file (one `- alert:` then its `expr:`).
fn alerts() -> Vec<(String, String)> {
    let rules = read("deploy/prometheus/alerts.yaml");
    let mut alerts: Vec<(String, String)> = Vec::new();
    let mut in_expr = false;
    for line in rules.lines() {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix("- alert: ") {
            alerts.push((name.to_string(), String::new()));
            in_expr = false;
        } else if let Some(expr) = trimmed.strip_prefix("expr:") {
            alerts
                .last_mut()
                .unwrap()
                .1
                .push_str(expr.trim_start_matches([' ', '|']));
            in_expr = true;
        } else if in_expr && line.starts_with("          ") {
            alerts.last_mut().unwrap().1.push_str(trimmed);
            alerts.last_mut().unwrap().1.push(' ');
        } else {
            in_expr = false;
        }
    }
    alerts
}

/// The dashboard's queries: every panel target, and the selectors of its variables.
fn dashboard_queries() -> Vec<String> {
    let dashboard: Value =
        serde_json::from_str(&read("deploy/grafana/sla-evaluator.json")).unwrap();
    let mut queries: Vec<String> = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            queries.push(target["expr"].as_str().unwrap().to_string());
        }
    }
    for variable in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(query) = variable["query"]["query"].as_str() {
            let selector = query
                .strip_prefix("label_values(")
                .and_then(|q| q.rsplit_once(','))
                .unwrap()
                .0;
            queries.push(selector.to_string());
        }
    }
    queries
}

/// The `label="value"` matchers of an expression, but for the target labels Prometheus adds.
fn matchers(expr: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = expr;
    while let Some(at) = rest.find("=\"") {
        let label_start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let label = &rest[label_start..at];
        let value_end = rest[at + 2..].find('"').unwrap() + at + 2;
        let value = &rest[at + 2..value_end];
        if !["job", "namespace", "instance"].contains(&label) && !rest[..at].ends_with(['!', '~']) {
            found.insert(format!("{label}=\"{value}\""));
        }
        rest = &rest[value_end..];
    }
    found
}

#[test]
fn promtool_checks_the_alert_rules() {
    let mut check = promtool();
    check.args(["check", "rules", "alerts.yaml"]);
    let out = succeed(check, "");
    assert!(out.contains("SUCCESS: 13 rules found"), "{out}");
}

#[test]
fn every_alert_fires_in_promtools_unit_tests() {
    let mut test = promtool();
    test.args(["test", "rules", "alerts_test.yaml"]);
    let out = succeed(test, "");
    assert!(out.contains("SUCCESS"), "{out}");
    let tests = read("deploy/prometheus/alerts_test.yaml");
    let alerts = alerts();
    assert_eq!(alerts.len(), 13);
    for (alert, _) in &alerts {
        // Each alert has a case where it fires (exp_alerts not empty).
        let fires = tests.split("- eval_time:").any(|case| {
            case.contains(&format!("alertname: {alert}\n")) && !case.contains("exp_alerts: []")
        });
        assert!(fires, "alerts_test.yaml never sees {alert} fire");
    }
}

#[test]
fn the_alerts_use_only_exported_metrics_of_the_scrape_job() {
    for (alert, expr) in alerts() {
        assert!(expr.contains(r#"job="sla-evaluator""#), "{alert}: {expr}");
        let names = metric_names(&expr);
        assert!(!names.is_empty(), "{alert}: {expr}");
        for name in names {
            assert!(METRICS.contains(&name.as_str()), "{alert} uses {name}");
        }
    }
}

/// Every query of the dashboard parses as PromQL (promtool checks them as recording rules, with
/// Grafana's variables filled in), selects the scrape job, and uses only exported metrics; and
/// the dashboard shows every metric the server exports.
#[test]
fn the_dashboard_queries_parse_and_cover_every_metric() {
    let dashboard: Value =
        serde_json::from_str(&read("deploy/grafana/sla-evaluator.json")).unwrap();
    assert_eq!(dashboard["uid"], "sla-evaluator");
    let mut ids = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        assert!(
            ids.insert(panel["id"].as_u64().unwrap()),
            "duplicate id: {panel}"
        );
        let grid = &panel["gridPos"];
        assert!(
            grid["x"].as_u64().unwrap() + grid["w"].as_u64().unwrap() <= 24,
            "{panel}"
        );
        if panel["type"] != "row" {
            assert_eq!(panel["datasource"]["uid"], "${datasource}", "{panel}");
            assert!(!panel["targets"].as_array().unwrap().is_empty(), "{panel}");
        }
    }
    let queries = dashboard_queries();
    let mut used = BTreeSet::new();
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (index, query) in queries.iter().enumerate() {
        assert!(query.contains(r#"job="sla-evaluator""#), "{query}");
        used.extend(metric_names(query));
        let filled = query
            .replace("$__rate_interval", "1m")
            .replace("$__range", "6h")
            .replace("$namespace", ".*")
            .replace("$instance", ".*");
        assert!(!filled.contains('$'), "an unknown variable in {query}");
        rules.push_str(&format!(
            "      - record: dashboard:query_{index}\n        expr: {}\n",
            serde_json::to_string(&filled).unwrap()
        ));
    }
    for name in &used {
        assert!(
            METRICS.contains(&name.as_str()),
            "the dashboard uses {name}"
        );
    }
    for name in METRICS {
        if name != "up" && name != "grpc_server_handling_seconds" {
            assert!(used.contains(name), "the dashboard never shows {name}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboard-queries.yaml");
    std::fs::write(&file, rules).unwrap();
    let mut check = promtool();
    check.args(["check", "rules"]).arg(&file);
    let out = succeed(check, "");
    assert!(
        out.contains(&format!("SUCCESS: {} rules found", queries.len())),
        "{out}"
    );
}

/// The alerts and the dashboard read what a real server exports: every metric they name is on its
/// /metrics (every series exists from the start), with every label value they select on.
#[test]
fn the_metrics_they_read_are_the_ones_the_server_exports() {
    let server = TestServer::build(Setup {
        metrics_listener: true,
        ..Setup::default()
    });
    let (_, _, body) = scrape(server.metrics_addr.unwrap());
    let exported: BTreeSet<&str> = body
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| line.split(['{', ' ']).next().unwrap())
        .collect();
    for name in METRICS {
        if name != "up" && name != "grpc_server_handling_seconds" {
            assert!(exported.contains(name), "the server exports no {name}");
        }
    }
    let mut exprs: Vec<String> = alerts().into_iter().map(|(_, expr)| expr).collect();
    exprs.extend(dashboard_queries());
    for expr in exprs {
        for matcher in matchers(&expr) {
            assert!(
                body.contains(&matcher),
                "no exported series has {matcher} (from {expr})"
            );
        }
    }
}
