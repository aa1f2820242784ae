//! The methods of issue 24 on the command line: `check-policy` and `policies show` say what a
//! policy measures, and `evaluate --format table` shows a mean error rate in interval-percent.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use common::cli::{Files, arg, sla, stdout};
use common::methods::{FIVE_MINUTE_INTERVALS, business_hours, mean_5, runs_5};

#[test]
fn check_policy_and_policies_show_name_the_new_keys() {
    let files = Files::new();
    let mean = files.write("mean-5.toml", &mean_5());
    let runs = files.write("runs-5.toml", &runs_5());
    let hours = files.write(
        "hours-mean.toml",
        &business_hours("hours-mean", FIVE_MINUTE_INTERVALS),
    );
    let table = stdout(sla(&["check-policy", arg(&mean), arg(&runs), arg(&hours)]));
    assert!(
        table.contains("mean error rate of 5-min intervals"),
        "{table}"
    );
    assert!(
        table.contains("timeslices 1 min, bad: success_rate_below 90%, runs of 5+"),
        "{table}"
    );
    assert!(
        table.contains(
            "mean error rate of 5-min intervals; service hours business days 08:00-20:00"
        ),
        "{table}"
    );
    let show = stdout(sla(&[
        "policies",
        "show",
        "hours-mean",
        "--policy-dir",
        arg(files.dir()),
        "--format",
        "table",
    ]));
    assert!(
        show.lines()
            .any(|l| l.starts_with("service hours") && l.ends_with("business days 08:00-20:00")),
        "{show}"
    );
}

#[test]
fn a_mean_error_rate_month_reads_in_interval_percent() {
    let files = Files::new();
    files.write("mean-5.toml", &mean_5());
    // April 2024 (UTC) in five-minute buckets of 100 requests, one interval at 100% and one at
    // 10%: 110 interval-percent of error over 8,640 intervals.
    let mut csv = String::from("start,duration_seconds,total,failed\n");
    let april = 1_711_929_600i64;
    for interval in 0..8640i64 {
        let failed = match interval {
            0 => 100,
            1 => 10,
            _ => 0,
        };
        csv.push_str(&format!("{},300,100,{failed}\n", april + 300 * interval));
    }
    let buckets = files.write("buckets.csv", &csv);
    let table = stdout(sla(&[
        "evaluate",
        "--policy",
        "mean-5",
        "--policy-dir",
        arg(files.dir()),
        "--term",
        "2024-04",
        "--as-of",
        "2024-05-01T00:00:00Z",
        "--format",
        "table",
        arg(&buckets),
    ]));
    // 1 − 1.1 / 8640 = 99.98726...%.
    let row = table
        .lines()
        .find(|l| l.starts_with("2024-04-01"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        row.contains("99.9872%") && row.contains("110 int-%") && row.contains("0 req"),
        "{row}"
    );
}
