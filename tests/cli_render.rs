//! Claim reports from the command line: `evaluate --format html` and `render` of a saved
//! response draw the same page, which a real headless browser opens.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use std::fmt::Write;

use common::claim_page::Page;
use common::cli::{Files, arg, refused, sla, stdout};
use serde_json::Value;

/// TRTC's March 2019, minute by minute on the 12th from 10:00 to 12:00 Shanghai time: 100 calls
/// a minute, 2 failed from 10:00 to 10:30 (document 003's worked example), for two subscriptions.
fn buckets(files: &Files) -> std::path::PathBuf {
    let mut csv = String::from("subscription,start,total,failed\n");
    for subscription in ["acme", "globex"] {
        // 2019-03-12T10:00:00+08:00.
        let ten = 1_552_356_000_i64;
        for minute in 0..120 {
            let failed = if subscription == "acme" && minute < 30 {
                2
            } else {
                0
            };
            writeln!(csv, "{subscription},{},100,{failed}", ten + minute * 60).unwrap();
        }
    }
    files.write("buckets.csv", &csv)
}

fn evaluate(buckets: &std::path::Path, format: &str) -> std::process::Command {
    let mut command = sla(&[
        "evaluate",
        "--policy",
        "tencent-trtc",
        "--term",
        "2019-03",
        "--currency",
        "CNY",
        "--fee",
        "2019-03=500.00",
        "--as-of",
        "2019-04-01T00:00:00Z",
        "--format",
        format,
        "--quiet",
    ]);
    command.arg(arg(buckets));
    command
}

#[test]
fn evaluate_draws_the_claim_report_render_draws_it_again_from_json() {
    let files = Files::new();
    let all = buckets(&files);
    // One subscription's rows: a single evaluation, which is one page.
    let acme: String = std::fs::read_to_string(&all)
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with("globex"))
        .map(|line| format!("{line}\n"))
        .collect();
    let acme = files.write(
        "acme.csv",
        &acme.replace("acme,", "").replacen("subscription,", "", 1),
    );

    let json = stdout(evaluate(&acme, "json"));
    let response: Value = serde_json::from_str(&json).unwrap();
    let html = stdout(evaluate(&acme, "html"));
    let saved = files.write("response.json", &json);
    assert_eq!(
        stdout(sla(&["render", arg(&saved)])),
        html,
        "render of the saved JSON"
    );

    let page = Page::open("cli-evaluate", &html);
    assert_eq!(page.text("h1"), "Tencent Real-Time Communication (TRTC)");
    let month = &response["months"][0];
    let amount = format!("{} CNY", month["compensationAmount"].as_str().unwrap());
    assert_eq!(page.text("dd.compensation .amount"), amount);
    let cells: usize = page.cells().values().sum();
    assert_eq!(cells, 31 * 24, "one cell per local hour of March");
    assert!(
        page.text("dd.source").contains("2019-08-19"),
        "the policy's source is named"
    );

    // A multi-subscription run is one page per subscription: refused as html, drawn by name
    // from its JSON.
    let stderr = refused(evaluate(&all, "html"), 1);
    assert!(
        stderr.contains("gave 2") && stderr.contains("render --subscription"),
        "{stderr}"
    );
    let both = files.write("both.json", &stdout(evaluate(&all, "json")));
    let stderr = refused(sla(&["render", arg(&both)]), 1);
    assert!(stderr.contains("acme, globex"), "{stderr}");
    let acme_page = stdout(sla(&["render", arg(&both), "--subscription", "acme"]));
    assert!(acme_page.contains("acme"));
    let page = Page::open("cli-render-acme", &acme_page);
    assert_eq!(page.text("dd.subscription"), "acme");
    assert_eq!(page.text("dd.compensation .amount"), amount);
    let stderr = refused(sla(&["render", arg(&both), "--subscription", "initech"]), 1);
    assert!(stderr.contains("no subscription \"initech\""), "{stderr}");

    // Verdicts and policies have no claim report.
    refused(sla(&["policies", "list", "--format", "html"]), 2);
}
