//! The README must stay true: its policy table says what the loaded policies say, and its grpcurl
//! session runs against a real server with the results it describes.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use common::server::{Setup, TestServer};
use common::tools::{succeed, venv};
use sla_evaluator::policy::{
    ClaimCloses, ClaimOpens, Edge, Method, Policy, PolicySet, ServiceMonthKind, TimesliceRule,
};

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

/// What a policy's method measures, as the README's tables say it.
fn method_words(policy: &Policy) -> String {
    match policy.method {
        Method::Occurrences { .. } => "occurrences: failed / all".to_string(),
        Method::Timeslices {
            slice_minutes,
            bad_slice: TimesliceRule::AllFailed,
            ..
        } => {
            format!("timeslices: {slice_minutes} min, bad when every attempt failed")
        }
        Method::Timeslices {
            slice_minutes,
            bad_slice: TimesliceRule::SuccessRateBelow(p),
            ..
        } => {
            format!("timeslices: {slice_minutes} min, bad when success rate < {p}%")
        }
    }
}

fn month_words(policy: &Policy) -> &'static str {
    match policy.service_month {
        ServiceMonthKind::Calendar => "calendar",
        ServiceMonthKind::Anniversary => "anniversary",
    }
}

/// A row of the README's table of the Tencent policies.
fn row(policy: &Policy) -> String {
    let document = &policy.source.file[..3];
    let updated = policy
        .source
        .last_updated
        .map_or("undated".to_string(), |d| d.to_string());
    let tiers: Vec<String> = policy
        .tiers
        .iter()
        .map(|t| format!("[{}%, {}%) → {}%", t.lower, t.upper, t.fee_percent))
        .collect();
    format!(
        "| `{}` | {document}, {updated} | {} | {} | {}% | {} | {} |",
        policy.id,
        month_words(policy),
        method_words(policy),
        policy.standard,
        tiers.join("; "),
        policy.form.name()
    )
}

/// A row of the README's library of public SLAs: the document by title, URL and date, and the
/// terms these documents differ in.
fn public_row(policy: &Policy) -> String {
    let updated = policy
        .source
        .last_updated
        .map_or("undated".to_string(), |d| d.to_string());
    let mut method = method_words(policy);
    if let Method::Timeslices { min_attempts, .. } = policy.method
        && min_attempts > 1
    {
        method.push_str(&format!(", judged from {min_attempts} attempts"));
    }
    let standard = match policy.standard_met_at {
        Edge::AtLeast => format!("{}%", policy.standard),
        Edge::Above => format!("above {}%", policy.standard),
    };
    let tiers: Vec<String> = policy
        .tiers
        .iter()
        .map(|t| format!("{} → {}%", policy.tier_bounds.show(t), t.fee_percent))
        .collect();
    let claims = match &policy.claim_window {
        None => "not stated".to_string(),
        Some(rule) => {
            let opens = match rule.opens {
                ClaimOpens::AfterPeriod => "from the month's end".to_string(),
                ClaimOpens::AfterBusinessDay(n) => format!("after business day {n}"),
            };
            let closes = match rule.closes {
                ClaimCloses::AfterDays(n) => format!("{n} days"),
                ClaimCloses::AtEndOfMonth(n) => format!("to the end of month {n} after"),
            };
            format!("{opens}, {closes}")
        }
    };
    format!(
        "| `{}` | [{}]({}), {updated} | {}, {} | {method} | {standard} | {} | {} | {claims} |",
        policy.id,
        policy.source.title,
        policy.source.file,
        month_words(policy),
        policy.time_zone.name(),
        tiers.join("; "),
        policy.form.name()
    )
}

#[test]
fn the_readme_policy_table_matches_the_built_in_policies() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for policy in PolicySet::built_in().unwrap().iter() {
        let row = if policy.id.starts_with("tencent-") {
            row(policy)
        } else {
            public_row(policy)
        };
        assert!(readme.contains(&row), "README.md lacks the row\n{row}");
    }
}

/// The README's ```sh blocks that contain `command` (e.g. "grpcurl ").
fn sh_blocks(readme: &str, command: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match (&mut current, line) {
            (None, "```sh") => current = Some(String::new()),
            (Some(block), "```") => {
                if block.contains(command) {
                    blocks.push(block.clone());
                }
                current = None;
            }
            (Some(block), line) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn the_readme_grpcurl_session_runs_as_described() {
    let blocks = sh_blocks(&readme(), "grpcurl ");
    assert_eq!(blocks.len(), 5, "the README's grpcurl blocks: {blocks:#?}");
    let server = TestServer::build(Setup {
        health_listener: true,
        ..Setup::default()
    });
    let health = server.health_addr.unwrap().to_string();
    let path = format!(
        "{}:{}",
        venv().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let outputs: Vec<String> = blocks
        .iter()
        .map(|block| {
            let script = format!(
                "set -euo pipefail\n{}",
                block
                    .replace("localhost:50051", &server.addr.to_string())
                    .replace("localhost:8081", &health)
            );
            let mut bash = std::process::Command::new("bash");
            bash.arg("-c").arg(script).env("PATH", &path);
            succeed(bash, "")
        })
        .collect();
    assert!(
        outputs[0].contains("sla.v1.SlaEvaluator") && outputs[0].contains("SERVING"),
        "{}",
        outputs[0]
    );
    assert!(
        outputs[1].contains("\"id\": \"tencent-ccc-cn\""),
        "{}",
        outputs[1]
    );
    // What the prose after the Evaluate block says it returns.
    let evaluation: serde_json::Value = serde_json::from_str(&outputs[2]).unwrap();
    let march = &evaluation["months"][0];
    assert_eq!(march["availabilityPercent"], "99.9327");
    assert_eq!(march["badUnits"], "30");
    assert_eq!(march["excludedUnits"], "5");
    assert_eq!(march["standardMet"], true);
    assert_eq!(march["outageIndexes"], serde_json::json!([0]));
    assert_eq!(evaluation["outages"][0]["clauseId"], "4.10");
    assert_eq!(
        (
            march["claimOpensOn"].as_str(),
            march["claimClosesOn"].as_str()
        ),
        (Some("2019-04-09"), Some("2019-05-30"))
    );
    assert_eq!(march["status"], "MONTH_STATUS_INCOMPLETE_DATA");
    assert_eq!(march["coveredMinutes"], "31");
    assert_eq!(march["worstCase"]["availabilityPercent"], "0.0112");
    assert_eq!(march["worstCase"]["tier"], 3);
    assert_eq!(march["worstCase"]["compensationAmount"], "250.00");
    let interval = &march["evidence"]["unavailable"][0];
    assert_eq!(interval["minutes"], "30");
    assert_eq!(
        (interval["total"].as_str(), interval["failed"].as_str()),
        (Some("600"), Some("12"))
    );
    assert_eq!(interval["lowestSuccessRatePercent"], "98.0000");
    assert_eq!(interval["localStart"], "2019-03-12T10:00:00+08:00");
    assert_eq!(interval["localEnd"], "2019-03-12T10:30:00+08:00");
    assert_eq!(march["evidence"]["excluded"][0]["units"], "5");
    assert_eq!(march["evidence"]["excluded"][0]["clauseId"], "4.10");
    assert_eq!(march["evidence"]["gaps"][0]["minutes"], "16440");
    assert_eq!(march["evidence"]["gapsTotal"], "3");
    assert_eq!(march["budget"]["badUnitsAllowed"], "44");
    assert_eq!(march["budget"]["badUnitsRemaining"], "14");
    assert_eq!(evaluation["asOf"], "2019-04-01T00:00:00Z");
    let policy = PolicySet::built_in().unwrap();
    assert_eq!(
        evaluation["provenance"]["policyRevision"],
        policy.get("tencent-trtc").unwrap().revision.as_str()
    );
    assert!(
        evaluation["provenance"]["inputDigest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    // What the prose after the ClassifyOutages block says.
    let classified: serde_json::Value = serde_json::from_str(&outputs[3]).unwrap();
    assert_eq!(classified["verdicts"][0]["verdict"], "VERDICT_NEEDS_REVIEW");
    assert_eq!(
        classified["verdicts"][0]["missingFacts"],
        serde_json::json!(["facts.account_kind"])
    );
    assert_eq!(classified["verdicts"][1]["verdict"], "VERDICT_EXCLUDED");
    assert_eq!(classified["verdicts"][1]["clauseId"], "4.15");
    // The plaintext health port answers grpcurl without reflection, given the vendored proto.
    let health: serde_json::Value = serde_json::from_str(&outputs[4]).unwrap();
    assert_eq!(health["status"], "SERVING");
    // The status-code table names every error code the service returns.
    for code in [
        "INVALID_ARGUMENT",
        "NOT_FOUND",
        "FAILED_PRECONDITION",
        "RESOURCE_EXHAUSTED",
    ] {
        assert!(readme().contains(&format!("| `{code}` |")), "{code}");
    }
}

#[test]
fn the_readme_documents_every_flag_with_its_default() {
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_sla-evaluator"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let readme = readme();
    // Each flag's block: its `--name` line and the description lines that follow.
    let mut blocks: Vec<(String, String)> = Vec::new();
    for line in help.lines() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("--") {
            let name = rest.split([' ', '=']).next().unwrap().to_string();
            blocks.push((name, String::new()));
        } else if let Some((_, text)) = blocks.last_mut() {
            text.push_str(trimmed);
            text.push(' ');
        }
    }
    let flags: Vec<&(String, String)> = blocks
        .iter()
        .filter(|(n, _)| n != "help" && n != "version")
        .collect();
    assert!(flags.len() >= 20, "{flags:?}");
    for (name, text) in flags {
        let row = readme
            .lines()
            .find(|l| l.starts_with('|') && l.contains(&format!("`--{name}`")))
            .unwrap_or_else(|| panic!("README.md has no row for --{name}"));
        if let Some(default) = text
            .split("[default: ")
            .nth(1)
            .and_then(|d| d.split(']').next())
        {
            assert!(
                row.contains(&format!("`{default}`")),
                "README's row for --{name} should show its default {default}: {row}"
            );
        }
    }
}

#[test]
fn the_readme_file_example_runs_as_described() {
    let blocks = sh_blocks(&readme(), "sla-evaluator evaluate ");
    assert_eq!(blocks.len(), 1, "the README's evaluate blocks: {blocks:#?}");
    let dir = tempfile::tempdir().unwrap();
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_sla-evaluator"));
    let path = format!(
        "{}:{}",
        binary.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut bash = std::process::Command::new("bash");
    bash.arg("-c")
        .arg(format!("set -euo pipefail\n{}", blocks[0]))
        .env("PATH", &path)
        .current_dir(dir.path());
    let table = succeed(bash, "");
    // What the prose after the block says.
    let acme = table.split("subscription globex").next().unwrap();
    let globex = table.split("subscription globex").nth(1).unwrap();
    let month = |text: &str| -> Vec<String> {
        let line = text
            .lines()
            .find(|l| l.starts_with("2026-03-02 … 2026-03-08"))
            .unwrap();
        line.split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect()
    };
    let acme = month(acme);
    assert_eq!(
        acme[1..6],
        ["NOT_MET", "99.3968%", "15120 events", "0 events", "1"]
    );
    assert_eq!(acme[6], "850.00 CNY");
    let globex = month(globex);
    assert_eq!(globex[1..3], ["MET", "99.9934%"]);
    let readme = readme();
    for claim in [
        "acme's week is `NOT_MET` at `99.3968%` (15120 failed events), tier 1, `850.00 CNY`",
        "globex's is `MET` at `99.9934%`",
    ] {
        assert!(readme.contains(claim), "the README no longer says: {claim}");
    }
}

/// The text of the README's inline code spans, line by line, outside fenced code blocks.
fn code_spans(readme: &str) -> Vec<(String, Vec<String>)> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for line in readme.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            let spans = line.split('`').skip(1).step_by(2).map(str::to_string);
            lines.push((line.to_string(), spans.collect()));
        }
    }
    lines
}

/// A path of the repository, as the README writes one: under one of its folders.
fn is_path(span: &str) -> bool {
    const FOLDERS: [&str; 10] = [
        "src/",
        "tests/",
        "bench/",
        "docs/",
        "deploy/",
        "clients/",
        "proto/",
        "policies/",
        "calendars/",
        ".ci/",
    ];
    !span.contains([' ', '*']) && FOLDERS.iter().any(|folder| span.starts_with(folder))
}

/// A file or folder named by itself, as the Layout table names one under its row's folder.
fn is_name(span: &str) -> bool {
    const EXTENSIONS: [&str; 8] = [
        ".rs", ".md", ".json", ".toml", ".sh", ".yaml", ".proto", ".py",
    ];
    !span.contains([' ', '*', '-'])
        && (span.ends_with('/') || EXTENSIONS.iter().any(|extension| span.ends_with(extension)))
}

/// Whether `name` is in `dir`, or in a folder under it.
fn found_under(dir: &std::path::Path, name: &str) -> bool {
    if dir.join(name).exists() {
        return true;
    }
    std::fs::read_dir(dir).into_iter().flatten().any(|entry| {
        let path = entry.unwrap().path();
        path.is_dir() && found_under(&path, name)
    })
}

/// Every file and folder the README names exists: a path or a link wherever it is written, and
/// in the Layout table a file a row names by itself, under the row's folders (or the root). A
/// table that names a file that moved or never was (a `call_policy.rs`) fails here.
#[test]
fn every_file_the_readme_names_exists() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = readme();
    let layout = readme
        .split("## Layout")
        .nth(1)
        .and_then(|rest| rest.split("Where each rule lives").next())
        .unwrap()
        .to_string();
    let mut missing = Vec::new();
    let mut checked = 0;
    for (line, spans) in code_spans(&readme) {
        let links = line
            .split("](")
            .skip(1)
            .filter_map(|rest| rest.split(')').next())
            .filter(|target| !target.starts_with("http") && !target.starts_with('#'))
            .map(|target| target.split('#').next().unwrap_or_default());
        for target in links {
            checked += 1;
            if !root.join(target).exists() {
                missing.push(format!("link {target} in: {line}"));
            }
        }
        let in_layout = line.starts_with('|') && layout.contains(&line);
        // A Layout row's folders: those its first cell names (`src/calendar.rs` stands for
        // `src/calendar/` too), and the root.
        let folders: Vec<std::path::PathBuf> = line
            .split('|')
            .nth(1)
            .filter(|_| in_layout)
            .into_iter()
            .flat_map(|first| first.split('`').skip(1).step_by(2))
            .map(|path| root.join(path.trim_end_matches(".rs").trim_end_matches('/')))
            .filter(|path| path.is_dir())
            .chain([root.to_path_buf()])
            .collect();
        for span in spans {
            let exists = if is_path(&span) {
                root.join(span.trim_end_matches('/')).exists()
            } else if in_layout && is_name(&span) {
                folders
                    .iter()
                    .any(|folder| found_under(folder, span.trim_end_matches('/')))
            } else {
                continue;
            };
            checked += 1;
            if !exists {
                missing.push(format!("`{span}` in: {line}"));
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} file names found in the README"
    );
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
