//! `sla-evaluator evaluate` run as a process: the same evaluation from CSV, JSON Lines, Parquet,
//! a spec file or flags, in process or on a real server (`--target`), byte for byte; many
//! subscriptions with their own fees; and refused inputs named by file, line and column.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use common::cli::{Files, arg, refused, sla, stdout};
use common::server::TestServer;
use common::tools::{succeed, venv};
use serde_json::Value;

/// TRTC's worked example (README): 30 minutes at 98% from 10:00 Shanghai time as six 5-minute
/// buckets, one bad minute at 12:00.
const WORKED_EXAMPLE: &str = "start,duration_seconds,total,failed
2019-03-12T10:00:00+08:00,300,100,2
2019-03-12T10:05:00+08:00,300,100,2
2019-03-12T10:10:00+08:00,300,100,2
2019-03-12T02:15:00Z,300,100,2
1552357200,300,100,2
1552357500,300,100,2
2019-03-12T12:00:00+08:00,60,10,10
";

/// The announced maintenance that excludes the bad minute at 12:00.
const MAINTENANCE: &str = r#"{"id": "maint-1", "start": "2019-03-12T04:00:00Z", "end": "2019-03-12T04:05:00Z", "cause": "CAUSE_SCHEDULED_MAINTENANCE", "facts": {"provider_notice": {"status": "NOTICE_STATUS_GIVEN", "given_at": "2019-03-05T00:00:00Z"}}}
"#;

const SPEC_FLAGS: [&str; 12] = [
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
    "--max-intervals",
    "3",
];

fn evaluate(extra: &[&str]) -> String {
    let mut args = vec!["evaluate", "--format", "json"];
    args.extend(SPEC_FLAGS);
    args.extend(extra);
    stdout(sla(&args))
}

#[test]
fn a_csv_gives_the_worked_example() {
    let files = Files::new();
    let csv = files.write("buckets.csv", WORKED_EXAMPLE);
    let outages = files.write("outages.jsonl", MAINTENANCE);
    let json: Value =
        serde_json::from_str(&evaluate(&["--outages", arg(&outages), arg(&csv)])).unwrap();
    let march = &json["months"][0];
    assert_eq!(march["availabilityPercent"], "99.9327");
    assert_eq!(march["badUnits"], "30");
    assert_eq!(march["excludedUnits"], "5");
    assert_eq!(march["status"], "MONTH_STATUS_INCOMPLETE_DATA");
    assert_eq!(march["worstCase"]["compensationAmount"], "250.00");
    assert_eq!(json["outages"][0]["verdict"], "VERDICT_EXCLUDED");
    assert_eq!(json["asOf"], "2019-04-01T00:00:00Z");
    assert_eq!(json["ingest"]["bucketsAccepted"], "7");
    assert_eq!(json["ingest"]["batches"], "2", "one message per duration");
}

/// The same buckets as JSON Lines (numbers and strings) and as Parquet written by DuckDB.
#[test]
fn csv_json_lines_and_parquet_give_the_same_bytes() {
    let files = Files::new();
    let csv = files.write("buckets.csv", WORKED_EXAMPLE);
    let mut jsonl = String::new();
    for line in WORKED_EXAMPLE.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let start = match fields[0].parse::<i64>() {
            Ok(seconds) => seconds.to_string(),
            Err(_) => format!("\"{}\"", fields[0]),
        };
        jsonl.push_str(&format!(
            "{{\"start\": {start}, \"duration_seconds\": {}, \"total\": \"{}\", \"failed\": {}}}\n",
            fields[1], fields[2], fields[3]
        ));
    }
    let jsonl = files.write("buckets.jsonl", &jsonl);
    let parquet = files.path("buckets.parquet");
    write_parquet(&csv, &parquet);
    let from_csv = evaluate(&[arg(&csv)]);
    assert_eq!(evaluate(&[arg(&jsonl)]), from_csv);
    assert_eq!(evaluate(&[arg(&parquet)]), from_csv);
}

/// Writes `csv` (whose starts DuckDB reads as instants) to `parquet` with DuckDB: `start` becomes
/// a UTC timestamp in microseconds, as DuckDB, Spark and pyarrow write instants.
fn write_parquet(csv: &std::path::Path, parquet: &std::path::Path) {
    let mut python = std::process::Command::new(venv().join("bin/python"));
    python.arg("-c").arg(format!(
        "import duckdb\n\
         con = duckdb.connect()\n\
         con.execute(\"SET TimeZone = 'UTC'\")\n\
         con.execute(\"\"\"COPY (\n\
           SELECT CASE WHEN regexp_matches(start, '^[0-9]+$') THEN to_timestamp(start::BIGINT)\n\
                       ELSE start::TIMESTAMPTZ END AS start,\n\
                  duration_seconds::INTEGER AS duration_seconds, total::BIGINT AS total,\n\
                  failed::BIGINT AS failed\n\
           FROM read_csv('{}', header=true, all_varchar=true)) TO '{}' (FORMAT parquet)\"\"\")\n",
        arg(csv),
        arg(parquet)
    ));
    succeed(python, "");
}

/// Two subscriptions' rows interleaved, as a month-end export sorted by time would have them.
const TWO_SUBSCRIPTIONS: &str = "subscription,start,total,failed
acme,2026-03-02T10:00:00+08:00,100,0
globex,2026-03-02T10:00:00+08:00,50,50
acme,2026-03-02T10:01:00+08:00,100,100
globex,2026-03-02T10:01:00+08:00,50,50
acme,2026-03-02T10:02:00+08:00,100,100
globex,2026-03-02T10:02:00+08:00,50,0
";

const TWO_FEES: &str = "subscription,month_start,paid,deductions
acme,2026-03-02,1000.00,100.00
globex,2026-03-02,20.00,
initech,2026-03-02,5.00,
";

/// Outages: one for globex alone, one (a provider incident) for everyone.
const TWO_OUTAGES: &str = r#"{"id": "g-1", "subscription": "globex", "start": "2026-03-02T02:00:00Z", "end": "2026-03-02T02:02:00Z", "cause": "CAUSE_CUSTOMER_FAULT"}
{"id": "all-1", "start": "2026-03-05T00:00:00Z", "end": "2026-03-05T01:00:00Z", "cause": "CAUSE_PROVIDER_FAULT"}
"#;

const IM_MARCH: [&str; 8] = [
    "--policy",
    "tencent-im",
    "--term",
    "2026-03-02..2026-04-01",
    "--currency",
    "CNY",
    "--as-of",
    "2026-04-10T00:00:00Z",
];

/// Each subscription of a many-subscription file gets its own fees and outages, and the same
/// evaluation as a run over its rows alone; a subscription with fees and no rows is reported too.
#[test]
fn many_subscriptions_each_get_their_own_evaluation() {
    let files = Files::new();
    let buckets = files.write("buckets.csv", TWO_SUBSCRIPTIONS);
    let fees = files.write("fees.csv", TWO_FEES);
    let outages = files.write("outages.jsonl", TWO_OUTAGES);
    let mut args = vec!["evaluate", "--format", "json"];
    args.extend(IM_MARCH);
    args.extend(["--fees-file", arg(&fees), "--outages", arg(&outages)]);
    args.extend(["--threads", "3", arg(&buckets)]);
    let all: Value = serde_json::from_str(&stdout(sla(&args))).unwrap();
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["subscription"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acme", "globex", "initech"]);
    assert_eq!(
        all[2]["evaluation"]["months"][0]["status"],
        "MONTH_STATUS_NO_DATA"
    );

    for (index, (name, fee)) in [
        ("acme", "2026-03-02=1000.00:100.00"),
        ("globex", "2026-03-02=20.00"),
    ]
    .into_iter()
    .enumerate()
    {
        let rows: String = TWO_SUBSCRIPTIONS
            .lines()
            .filter(|line| line.starts_with(&format!("{name},")))
            .map(|line| format!("{}\n", line.split_once(',').unwrap().1))
            .collect();
        let own = files.write(
            &format!("{name}.csv"),
            &format!("start,total,failed\n{rows}"),
        );
        let own_outages: String = TWO_OUTAGES
            .lines()
            .filter(|l| !l.contains("\"subscription\"") || l.contains(&format!("\"{name}\"")))
            .map(|l| {
                format!(
                    "{}\n",
                    l.replace(&format!(", \"subscription\": \"{name}\""), "")
                )
            })
            .collect();
        let own_outages = files.write(&format!("{name}-outages.jsonl"), &own_outages);
        let mut args = vec!["evaluate", "--format", "json"];
        args.extend(IM_MARCH);
        args.extend(["--fee", fee, "--outages", arg(&own_outages), arg(&own)]);
        let alone: Value = serde_json::from_str(&stdout(sla(&args))).unwrap();
        assert_eq!(all[index]["evaluation"], alone, "{name}");
    }
    // acme: two bad minutes; globex: its customer-fault outage excludes its two bad minutes.
    assert_eq!(all[0]["evaluation"]["months"][0]["badUnits"], "2");
    // Zero, which canonical JSON omits as a default.
    assert_eq!(all[1]["evaluation"]["months"][0]["badUnits"], Value::Null);
    assert_eq!(all[1]["evaluation"]["months"][0]["excludedUnits"], "2");
    assert_eq!(all[0]["evaluation"]["outages"].as_array().unwrap().len(), 1);
    assert_eq!(all[1]["evaluation"]["outages"].as_array().unwrap().len(), 2);
}

/// The command line doubles as a client: the server's answer prints as the same bytes.
#[test]
fn target_prints_the_same_bytes_as_in_process() {
    let server = TestServer::start();
    let target = server.addr.to_string();
    let files = Files::new();
    let csv = files.write("buckets.csv", WORKED_EXAMPLE);
    let outages = files.write("outages.jsonl", MAINTENANCE);
    let local = evaluate(&["--outages", arg(&outages), arg(&csv)]);
    let remote = evaluate(&["--outages", arg(&outages), arg(&csv), "--target", &target]);
    assert_eq!(remote, local);

    let buckets = files.write("many.csv", TWO_SUBSCRIPTIONS);
    let fees = files.write("fees.csv", TWO_FEES);
    for format in ["json", "jsonl", "csv"] {
        let mut args = vec!["evaluate", "--format", format];
        args.extend(IM_MARCH);
        args.extend(["--fees-file", arg(&fees), arg(&buckets)]);
        let local = stdout(sla(&args));
        args.extend(["--target", &target]);
        assert_eq!(stdout(sla(&args)), local, "{format}");
    }
}

/// `--spec` takes the proto's field names in JSON or TOML (or a grpcurl `{"spec": ...}`
/// message); flags override it.
#[test]
fn a_spec_file_gives_the_same_evaluation_as_flags() {
    let files = Files::new();
    let csv = files.write("buckets.csv", WORKED_EXAMPLE);
    let json = files.write(
        "spec.json",
        r#"{"spec": {"policy_id": "tencent-trtc", "termStart": "2019-03-01", "term_end": "2019-03-31",
           "currency": "CNY", "fees": [{"month_start": "2019-03-01", "paid": "500.00"}],
           "as_of": "2019-04-01T00:00:00Z", "max_intervals": 3}}"#,
    );
    let toml = files.write(
        "spec.toml",
        "policy_id = \"tencent-im\"\nterm_start = \"2019-03-01\"\nterm_end = \"2019-03-31\"\n\
         currency = \"CNY\"\nmax_intervals = 3\nas_of = \"2019-04-01T00:00:00Z\"\n\
         [[fees]]\nmonth_start = \"2019-03-01\"\npaid = \"500.00\"\n",
    );
    let flags = evaluate(&[arg(&csv)]);
    let args = |spec: &std::path::Path| -> Vec<String> {
        ["evaluate", "--format", "json", "--spec", arg(spec)]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let mut from_json = sla(&[]);
    from_json.args(args(&json)).arg(arg(&csv));
    assert_eq!(stdout(from_json), flags);
    let mut from_toml = sla(&[]);
    from_toml
        .args(args(&toml))
        .args(["--policy", "tencent-trtc", arg(&csv)]);
    assert_eq!(stdout(from_toml), flags);
}

#[test]
fn every_format_prints_the_evaluation() {
    let files = Files::new();
    let buckets = files.write("many.csv", TWO_SUBSCRIPTIONS);
    let run = |format: &str| {
        let mut args = vec!["evaluate", "--format", format];
        args.extend(IM_MARCH);
        args.push(arg(&buckets));
        stdout(sla(&args))
    };
    let csv = run("csv");
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("subscription,policy_id,month_start,")
    );
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("acme,tencent-im,2026-03-02,2026-04-01,")
    );
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("globex,tencent-im,2026-03-02,")
    );
    let jsonl = run("jsonl");
    assert_eq!(jsonl.lines().count(), 2);
    for line in jsonl.lines() {
        let entry: Value = serde_json::from_str(line).unwrap();
        assert_eq!(entry["evaluation"]["policyId"], "tencent-im");
    }
    let table = run("table");
    assert!(table.contains("subscription acme"), "{table}");
    assert!(
        table.contains("month") && table.contains("availability"),
        "{table}"
    );
    // Without --format and not on a terminal: JSON.
    let mut args = vec!["evaluate"];
    args.extend(IM_MARCH);
    args.push(arg(&buckets));
    assert!(stdout(sla(&args)).starts_with("[\n  {\n    \"subscription\": \"acme\""));
}

/// Every refused input names the file, where in it, and why; exit 1, or 2 for usage.
#[test]
fn refused_inputs_name_the_file_line_and_column() {
    let files = Files::new();
    let im = |extra: &[&str]| {
        let mut args = vec!["evaluate"];
        args.extend(IM_MARCH);
        args.extend(extra);
        sla(&args)
    };
    let cases: [(&str, &str, &str); 7] = [
        (
            "count.csv",
            "start,total,failed\n2026-03-02T10:00:00+08:00,100,0\n\n2026-03-02T10:01:00+08:00,99.7,0\n",
            "count.csv:4: column `total`: \"99.7\" is not a count",
        ),
        (
            "exceeds.csv",
            "start,total,failed\n2026-03-02T10:00:00+08:00,5,0\n2026-03-02T10:01:00+08:00,5,6\n",
            "exceeds.csv:3: column `failed`: failed 6 exceeds total 5",
        ),
        (
            "overlap.csv",
            "start,total,failed\n2026-03-02T10:00:00+08:00,5,0\n2026-03-02T02:00:00Z,5,0\n",
            "overlap.csv:3: column `start`: the bucket from 2026-03-02 02:00:00 UTC",
        ),
        (
            "zone.csv",
            "start,total,failed\n2026-03-02T10:00:00,5,0\n",
            "zone.csv:2: column `start`: \"2026-03-02T10:00:00\" is not a start",
        ),
        (
            "header.csv",
            "start,total,failures\n",
            "header.csv:1: the header names a column `failures`; the columns are",
        ),
        (
            "bad.jsonl",
            "{\"start\": 1772416800, \"total\": 5, \"failed\": 0}\n{\"start\": 1772416860, \"total\": -5, \"failed\": 0}\n",
            "bad.jsonl:2: column `total`: -5 is not a count",
        ),
        (
            "subs.csv",
            "subscription,start,total,failed\nacme,2026-03-02T10:00:00+08:00,5,0\n,2026-03-02T10:00:00+08:00,5,0\n",
            "subs.csv:3: column `subscription`: is empty",
        ),
    ];
    for (name, text, expected) in cases {
        let path = files.write(name, text);
        let stderr = refused(im(&[arg(&path)]), 1);
        assert!(stderr.contains(expected), "{name}: {stderr}");
    }

    let good = files.write(
        "good.csv",
        "start,total,failed\n2026-03-02T10:00:00+08:00,5,0\n",
    );
    let fees = files.write(
        "fees.csv",
        "month_start,paid\n2026-03-02,12.00\n2026-04-02,ten\n",
    );
    let stderr = refused(im(&["--fees-file", arg(&fees), arg(&good)]), 1);
    assert!(
        stderr.contains("fees.csv:3: spec.fees[1].paid 'ten' is not a decimal"),
        "{stderr}"
    );
    let outages = files.write(
        "outages.jsonl",
        "\n{\"id\": \"x\", \"cause\": \"CAUSE_FLOOD\"}\n",
    );
    let stderr = refused(im(&["--outages", arg(&outages), arg(&good)]), 1);
    assert!(
        stderr.contains("outages.jsonl:2: not an sla.v1.Outage"),
        "{stderr}"
    );
    let stderr = refused(im(&[arg(&files.path("missing.csv"))]), 1);
    assert!(stderr.contains("missing.csv: cannot open it"), "{stderr}");
    let stderr = refused(im(&["--zone", "Mars/Olympus", arg(&good)]), 1);
    assert!(
        stderr.contains("spec.time_zone 'Mars/Olympus' is not an IANA time zone"),
        "{stderr}"
    );

    // Usage: exit 2.
    let stderr = refused(sla(&["evaluate", "--policy", "tencent-im", arg(&good)]), 2);
    assert!(stderr.contains("no term: give --term"), "{stderr}");
    refused(
        sla(&["evaluate", "--policy", "tencent-im", "--term", "2026-03"]),
        2,
    );
    refused(im(&["--no-such-flag", arg(&good)]), 2);
}

/// A server's refusal is traced to the file too: the response names the batch and row it
/// counted, and the command line remembers where they came from.
#[test]
fn target_refusals_name_the_file_line() {
    let server = TestServer::start();
    let files = Files::new();
    let mut text = String::from("start,total,failed\n");
    for minute in 0..25_000 {
        let failed = if minute == 23_456 { 9 } else { 0 };
        text.push_str(&format!("{},5,{failed}\n", 1_772_416_800 + 60 * minute));
    }
    let path = files.write("long.csv", &text);
    let target = server.addr.to_string();
    let mut args = vec!["evaluate"];
    args.extend(IM_MARCH);
    args.extend(["--target", &target, arg(&path)]);
    let stderr = refused(sla(&args), 1);
    assert!(
        stderr.contains("long.csv:23458: column `failed`: failed 9 exceeds total 5"),
        "{stderr}"
    );
}
