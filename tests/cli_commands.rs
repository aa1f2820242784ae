//! `sla-evaluator policies` and `classify` run as processes: the service's own answers, in
//! process or from a real server, printed the same way.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use common::cli::{Files, arg, refused, sla, stdout};
use common::server::TestServer;
use serde_json::Value;
use sla_evaluator::policy::PolicySet;

#[test]
fn policies_list_and_show_what_the_server_serves() {
    let server = TestServer::start();
    let target = server.addr.to_string();
    let list = stdout(sla(&["policies", "list", "--format", "json"]));
    let parsed: Value = serde_json::from_str(&list).unwrap();
    let ids: Vec<&str> = parsed["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    let built_in = PolicySet::built_in().unwrap();
    let expected: Vec<&str> = built_in.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, expected);
    assert_eq!(
        stdout(sla(&[
            "policies", "list", "--format", "json", "--target", &target
        ])),
        list
    );
    let show = stdout(sla(&[
        "policies",
        "show",
        "tencent-trtc",
        "--format",
        "json",
    ]));
    let policy: Value = serde_json::from_str(&show).unwrap();
    assert_eq!(policy["standardPercent"], "99.9");
    assert_eq!(
        stdout(sla(&[
            "policies",
            "show",
            "tencent-trtc",
            "--format",
            "json",
            "--target",
            &target
        ])),
        show
    );
    let table = stdout(sla(&["policies", "list", "--format", "table"]));
    assert!(table.lines().next().unwrap().starts_with("id "), "{table}");
    assert!(table.contains("tencent-sms"), "{table}");
    let csv = stdout(sla(&["policies", "show", "tencent-im", "--format", "csv"]));
    assert!(csv.contains("tier 1,\"[95%, 99%) → 10%\""), "{csv}");
    let stderr = refused(sla(&["policies", "show", "nope"]), 1);
    assert!(stderr.contains("no policy has the id 'nope'"), "{stderr}");
}

#[test]
fn a_policy_directory_adds_policies() {
    let files = Files::new();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/policies/tencent-im.toml"
    ))
    .unwrap()
    .replace("id = \"tencent-im\"", "id = \"acme-im\"");
    files.write("acme-im.toml", &text);
    let list = stdout(sla(&[
        "policies",
        "list",
        "--format",
        "json",
        "--policy-dir",
        arg(files.dir()),
    ]));
    assert!(list.contains("\"id\": \"acme-im\""), "{list}");
}

const OUTAGES: &str = r#"{"id": "surge-1", "start": "2024-05-01T02:00:00Z", "end": "2024-05-01T03:00:00Z", "cause": "CAUSE_TRAFFIC_SURGE", "facts": {"daily_messages": "50000000", "customer_notice": {"status": "NOTICE_STATUS_NOT_GIVEN"}}}
{"id": "maint-1", "start": "2024-05-02T02:00:00Z", "end": "2024-05-02T03:00:00Z", "cause": "CAUSE_SCHEDULED_MAINTENANCE", "facts": {"provider_notice": {"status": "NOTICE_STATUS_GIVEN", "given_at": "2024-04-20T00:00:00Z"}}}
"#;

#[test]
fn classify_gives_the_server_s_verdicts() {
    let server = TestServer::start();
    let files = Files::new();
    let outages = files.write("outages.jsonl", OUTAGES);
    let args = [
        "classify",
        "--policy",
        "tencent-sms",
        "--format",
        "json",
        arg(&outages),
    ];
    let local = stdout(sla(&args));
    let verdicts: Value = serde_json::from_str(&local).unwrap();
    assert_eq!(verdicts["verdicts"][0]["verdict"], "VERDICT_NEEDS_REVIEW");
    assert_eq!(
        verdicts["verdicts"][0]["missingFacts"],
        serde_json::json!(["facts.account_kind"])
    );
    assert_eq!(verdicts["verdicts"][1]["verdict"], "VERDICT_EXCLUDED");
    let mut remote = sla(&args);
    remote.args(["--target", &server.addr.to_string()]);
    assert_eq!(stdout(remote), local);
    let table = stdout(sla(&[
        "classify",
        "--policy",
        "tencent-sms",
        "--format",
        "table",
        arg(&outages),
    ]));
    assert!(
        table.contains("maint-1") && table.contains("EXCLUDED"),
        "{table}"
    );
    let stderr = refused(sla(&["classify", "--policy", "nope", arg(&outages)]), 1);
    assert!(stderr.contains("no policy has the id 'nope'"), "{stderr}");
    refused(sla(&["classify", arg(&outages)]), 2);
}

/// Without a subcommand the binary serves, as `cargo run --release` promises; `--help` lists the
/// subcommands.
#[test]
fn help_lists_the_subcommands() {
    let help = stdout(sla(&["--help"]));
    for command in ["serve", "evaluate", "classify", "policies"] {
        assert!(help.contains(&format!("  {command} ")), "{help}");
    }
    let help = stdout(sla(&["evaluate", "--help"]));
    for flag in [
        "--spec",
        "--term",
        "--fee",
        "--fees-file",
        "--outages",
        "--target",
        "--prometheus",
        "--format",
    ] {
        assert!(help.contains(flag), "{flag}: {help}");
    }
}
