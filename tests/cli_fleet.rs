//! Month-end for a fleet with `sla-evaluator evaluate` as a process: any number of subscriptions
//! in bounded memory, grouped or not, in process or through several replicas one of which dies
//! mid-run, every answer the same as the in-process run's, and the run's summary.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::cli::{Files, arg, sla, stdout};
use common::process::Binary;
use serde_json::Value;

/// 2026-03-01T00:00:00+08:00, where TRTC's month begins.
const MARCH: i64 = 1_772_294_400;

const TRTC_MARCH: [&str; 8] = [
    "--policy",
    "tencent-trtc",
    "--term",
    "2026-03-01..2026-03-31",
    "--currency",
    "CNY",
    "--as-of",
    "2026-04-10T00:00:00Z",
];

/// `subscriptions` subscriptions' per-minute buckets over `minutes`, grouped by subscription, the
/// odd ones with their own bad minutes (so some months miss the standard and some do not), and
/// a fees file with two more subscriptions that have no rows.
fn fleet(subscriptions: usize, minutes: i64) -> (String, String) {
    let mut buckets = String::from("subscription,start,total,failed\n");
    let mut fees = String::from("subscription,month_start,paid\n");
    for s in 0..subscriptions + 2 {
        fees.push_str(&format!("customer-{s:05},2026-03-01,{}.00\n", 100 + s));
    }
    for s in 0..subscriptions {
        let name = format!("customer-{s:05}");
        for m in 0..minutes {
            let bad = s % 2 == 1 && (m * 7 + s as i64 * 13) % (200 + s as i64 % 300) == 0;
            let failed = if bad { 20 } else { 0 };
            buckets.push_str(&format!("{name},{},20,{failed}\n", MARCH + 60 * m));
        }
    }
    (buckets, fees)
}

/// The same rows interleaved: every subscription's first minute, then every second minute, as an
/// export sorted by time has them.
fn interleaved(grouped: &str, subscriptions: usize) -> String {
    let mut lines = grouped.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let minutes = rows.len() / subscriptions;
    let mut text = format!("{header}\n");
    for m in 0..minutes {
        for s in 0..subscriptions {
            text.push_str(rows[s * minutes + m]);
            text.push('\n');
        }
    }
    text
}

/// TRTC over one day of March, which a day of buckets measures whole.
const TRTC_DAY: [&str; 8] = [
    "--policy",
    "tencent-trtc",
    "--term",
    "2026-03-01..2026-03-01",
    "--currency",
    "CNY",
    "--as-of",
    "2026-04-10T00:00:00Z",
];

fn evaluate(extra: &[&str]) -> Command {
    evaluate_under(&TRTC_MARCH, extra)
}

fn evaluate_under(spec: &[&str], extra: &[&str]) -> Command {
    let mut args = vec!["evaluate", "--format", "json", "--quiet"];
    args.extend(spec);
    args.extend(extra);
    sla(&args)
}

/// Runs a command to its end and returns its stdout and stderr; it must succeed.
fn run(command: Command) -> (String, String) {
    let output = common::cli::output(command);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    (String::from_utf8(output.stdout).unwrap(), stderr)
}

/// Peak resident memory of a running process, in bytes (Linux).
fn peak(child: &Child) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// One-row subscriptions are held a bounded number at a time: the run's peak memory stays a
/// fraction of what holding every evaluation to the end took (TRTC's month of ledger is 151 KiB:
/// 710 MB for these 4,000, 3.4 GB for 20,000, which the README's figures measure in a release
/// build; a debug build takes minutes over 20,000), and every subscription is answered.
#[test]
fn thousands_of_subscriptions_are_evaluated_in_bounded_memory() {
    let mut text = String::from("subscription,start,total,failed\n");
    for s in 0..4_000 {
        text.push_str(&format!(
            "s{s:05},{},100,{}\n",
            MARCH + 60 * (s % 1_000),
            s % 3
        ));
    }
    let mut args = vec!["evaluate", "--format", "csv", "--quiet"];
    args.extend(TRTC_MARCH);
    args.push("-");
    let mut child = sla(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(text.as_bytes()).unwrap();
    drop(stdin);
    let mut highest = 0;
    let reader = {
        let mut out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut out, &mut text).unwrap();
            text
        })
    };
    while child.try_wait().unwrap().is_none() {
        highest = highest.max(peak(&child).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(20));
    }
    let csv = reader.join().unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(csv.lines().count(), 1 + 4_000);
    assert!(
        highest < 250 << 20,
        "peak memory {} MiB for 4,000 subscriptions",
        highest >> 20
    );
}

/// Input not grouped by subscription, with more subscriptions than `--max-open`, is split into
/// temporary parts first: the answers are those of a run holding every subscription at once, from
/// a file or from standard input (read again from its copy), in process or on a server named by
/// DNS; a small `--memory-budget` does the same.
#[test]
fn ungrouped_input_is_split_into_parts_with_the_same_answers() {
    let files = Files::new();
    let (grouped, fees) = fleet(150, 600);
    let mixed = files.write("mixed.csv", &interleaved(&grouped, 150));
    let fees = files.write("fees.csv", &fees);
    let (all_at_once, _) = run(evaluate(&[
        "--max-open",
        "1000",
        "--fees-file",
        arg(&fees),
        arg(&mixed),
    ]));
    let all: Value = serde_json::from_str(&all_at_once).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 152);

    let (split, stderr) = run(evaluate(&[
        "--max-open",
        "16",
        "--fees-file",
        arg(&fees),
        arg(&mixed),
    ]));
    assert!(stderr.contains("not grouped by subscription"), "{stderr}");
    assert!(stderr.contains("temporary parts"), "{stderr}");
    assert_eq!(split, all_at_once);

    let (by_memory, stderr) = run(evaluate(&[
        "--memory-budget",
        "3MiB",
        "--fees-file",
        arg(&fees),
        arg(&mixed),
    ]));
    assert!(stderr.contains("temporary parts"), "{stderr}");
    assert_eq!(by_memory, all_at_once);

    let mut from_stdin = evaluate(&["--max-open", "16", "--fees-file", arg(&fees), "-"]);
    from_stdin.stdin(std::fs::File::open(&mixed).unwrap());
    let output = from_stdin.output().unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8(output.stdout).unwrap(), all_at_once);

    // By name, as gRPC names a headless Service (localhost may also resolve to ::1, where
    // nothing listens: that replica is passed over).
    let server = Binary::start(&[]);
    let target = format!("dns:///localhost:{}", server.addr.port());
    let (remote, _) = run(evaluate(&[
        "--max-open",
        "16",
        "--target",
        &target,
        "--fees-file",
        arg(&fees),
        arg(&mixed),
    ]));
    assert_eq!(remote, all_at_once);
}

/// 500 subscriptions through three replicas, one killed mid-run: its streams are resent to the
/// others, every answer is the in-process run's byte for byte, and the summary counts the resent
/// subscriptions and adds up the answers' months and compensation. The term is one day, every
/// minute of it measured, so that months are decided.
#[test]
fn a_fleet_through_three_replicas_survives_one_dying() {
    let files = Files::new();
    let (buckets, fees) = fleet(500, 1_440);
    let fees = files.write("fees.csv", &fees);
    let path = files.write("fleet.csv", &buckets);
    let local_summary = files.path("local-summary.json");
    let (local, _) = run(evaluate_under(
        &TRTC_DAY,
        &[
            "--fees-file",
            arg(&fees),
            "--summary",
            arg(&local_summary),
            arg(&path),
        ],
    ));

    let servers: Vec<Binary> = (0..3).map(|_| Binary::start(&[])).collect();
    let target = servers
        .iter()
        .map(|server| server.addr.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let summary = files.path("summary.json");
    let mut args = vec!["evaluate", "--format", "json", "--quiet"];
    args.extend(TRTC_DAY);
    args.extend([
        "--target",
        &target,
        "--fees-file",
        arg(&fees),
        "--summary",
        arg(&summary),
        "-",
    ]);
    let mut child = sla(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (first, second) = buckets.split_at(buckets.len() / 2);
    let second = second.to_string();
    stdin.write_all(first.as_bytes()).unwrap();
    stdin.flush().unwrap();
    // Half the fleet has been read (a pipe holds 64 KiB): streams are open on every replica,
    // round robin, the last 64 subscriptions' among them. One replica dies, abruptly (SIGKILL).
    std::thread::sleep(Duration::from_millis(300));
    let mut servers = servers;
    let killed = servers.remove(1);
    drop(killed);
    let writer = std::thread::spawn(move || {
        stdin.write_all(second.as_bytes()).unwrap();
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(String::from_utf8(output.stdout).unwrap(), local);
    assert!(stderr.contains("resent to another replica"), "{stderr}");

    let summary: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let local_summary: Value =
        serde_json::from_str(&std::fs::read_to_string(&local_summary).unwrap()).unwrap();
    assert_eq!(summary["subscriptions"], 502);
    assert!(summary["retried"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(local_summary["retried"], 0);
    assert_eq!(summary["months"], local_summary["months"]);

    // The summary is the answers', added up.
    let answers: Value = serde_json::from_str(&local).unwrap();
    let months: Vec<&Value> = answers
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| &entry["evaluation"]["months"][0])
        .collect();
    let count = |status: &str| {
        months
            .iter()
            .filter(|m| m["status"] == format!("MONTH_STATUS_{status}"))
            .count() as u64
    };
    let group = &summary["months"][0];
    assert_eq!(summary["months"].as_array().unwrap().len(), 1);
    assert_eq!(group["policyId"], "tencent-trtc");
    assert_eq!(group["monthStart"], "2026-03-01");
    assert_eq!(group["subscriptions"], 502);
    for (key, status) in [
        ("met", "MET"),
        ("notMet", "NOT_MET"),
        ("incompleteData", "INCOMPLETE_DATA"),
        ("noData", "NO_DATA"),
    ] {
        assert_eq!(group[key].as_u64().unwrap(), count(status), "{key}");
    }
    assert_eq!(count("MET") + count("NOT_MET"), 500);
    assert!(
        count("MET") >= 250 && count("NOT_MET") > 100,
        "{}",
        count("MET")
    );
    assert_eq!(count("NO_DATA"), 2);
    let cents: i64 = months
        .iter()
        .map(|m| {
            m["compensationMinorUnits"]
                .as_str()
                .map_or(0, |c| c.parse::<i64>().unwrap())
        })
        .sum();
    let total = group["compensation"].as_str().unwrap();
    assert_eq!(
        total.replace('.', "").parse::<i64>().unwrap(),
        cents,
        "{total}"
    );
    assert!(cents > 0);
}

/// The table shows the summary under the evaluations, and `--summary FILE.csv` writes it as CSV.
#[test]
fn the_table_ends_with_the_summary_and_csv_summaries_are_written() {
    let files = Files::new();
    let (buckets, fees) = fleet(3, 120);
    let path = files.write("fleet.csv", &buckets);
    let fees = files.write("fees.csv", &fees);
    let summary = files.path("summary.csv");
    let mut args = vec!["evaluate", "--format", "table"];
    args.extend(TRTC_MARCH);
    args.extend([
        "--fees-file",
        arg(&fees),
        "--summary",
        arg(&summary),
        arg(&path),
    ]);
    let table = stdout(sla(&args));
    let tail = table.rsplit("summary of 5 subscriptions").next().unwrap();
    assert!(table.contains("summary of 5 subscriptions"), "{table}");
    assert!(
        tail.contains("tencent-trtc") && tail.contains("2026-03-01 … 2026-03-31"),
        "{tail}"
    );
    let csv = std::fs::read_to_string(&summary).unwrap();
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("policy_id,month_start,month_end,currency,form,subscriptions,met,not_met")
    );
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("tencent-trtc,2026-03-01,2026-03-31,CNY,VOUCHER,5,"),
        "{csv}"
    );
    // A summary file of another kind is a usage error, before anything is read.
    let mut args = vec!["evaluate"];
    args.extend(TRTC_MARCH);
    args.extend(["--summary", "summary.txt", arg(&path)]);
    common::cli::refused(sla(&args), 2);
}
