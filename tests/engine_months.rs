//! Service months as evaluations see them: anniversary months, part months, and clock changes.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use chrono::TimeDelta;
use chrono_tz::Tz;
use common::engine::*;
use sla_evaluator::engine::{Bucket, Evaluation, EvaluationSpec, MonthStatus, NoteKind, Placement};
use sla_evaluator::limits::Limits;
use sla_evaluator::policy::PolicySet;

#[test]
fn im_anniversary_months_from_the_31st_across_a_leap_february() {
    let report = evaluate(
        "tencent-im",
        spec("2024-01-31", "2024-04-29"),
        [
            // The first minute of Feb 29 belongs to the second month, the last of Feb 28 to the first.
            minute(local(SHANGHAI, "2024-02-28 23:59"), 1, 1),
            minute(local(SHANGHAI, "2024-02-29 00:00"), 2, 2),
            minute(local(SHANGHAI, "2024-02-29 00:01"), 2, 2),
        ],
        [],
    );
    let spans: Vec<(String, String, u64, u64)> = report
        .months
        .iter()
        .map(|m| {
            (
                m.first_day.to_string(),
                m.last_day.to_string(),
                m.total_units,
                m.bad_units,
            )
        })
        .collect();
    assert_eq!(
        spans,
        [
            ("2024-01-31".into(), "2024-02-28".into(), 29 * 1440, 1),
            ("2024-02-29".into(), "2024-03-30".into(), 31 * 1440, 2),
            ("2024-03-31".into(), "2024-04-29".into(), 30 * 1440, 0),
        ]
    );
    // Each month's claim window follows its own last day.
    assert_eq!(
        report.months[0].claim_window.unwrap().closes_on,
        day("2024-04-28")
    );
}

#[test]
fn a_term_that_starts_and_ends_mid_month() {
    // TRTC, three months from March 17: Mar 17-31, April, May, Jun 1-16.
    let buckets = vec![
        // Before the term: ignored, not an error.
        minute(local(SHANGHAI, "2024-03-16 23:59"), 10, 10),
        // The first and last units of the term.
        Bucket {
            start: local(SHANGHAI, "2024-03-17 00:00"),
            duration_seconds: 300,
            total: 10,
            failed: 10,
        },
        Bucket {
            start: local(SHANGHAI, "2024-06-16 23:55"),
            duration_seconds: 300,
            total: 10,
            failed: 10,
        },
        // After the term: ignored.
        minute(local(SHANGHAI, "2024-06-17 00:00"), 10, 10),
    ];
    let fees = &[
        ("2024-03-17", "150", "0"),
        ("2024-06-01", "160.00", "10.00"),
    ];
    let report = evaluate(
        "tencent-trtc",
        with_fees(spec("2024-03-17", "2024-06-16"), fees),
        buckets,
        [],
    );
    assert_eq!(report.months.len(), 4);
    assert_eq!((report.buckets_accepted, report.buckets_ignored), (2, 2));
    let (march, june) = (&report.months[0], &report.months[3]);
    assert_eq!(
        (march.first_day, march.last_day),
        (day("2024-03-17"), day("2024-03-31"))
    );
    assert_eq!(
        (june.first_day, june.last_day),
        (day("2024-06-01"), day("2024-06-16"))
    );
    assert_eq!((march.total_units, march.bad_units), (15 * 1440, 5));
    assert_eq!((june.total_units, june.bad_units), (16 * 1440, 5));
    // 1 - 5/21600 = 99.9768%: meets 99.9%. June: 1 - 5/23040 = 99.9782%.
    assert_eq!(march.availability_percent, "99.9768");
    assert!(march.standard_met && june.standard_met);
    assert_eq!(june.payout.as_ref().unwrap().eligible_fee, dec("150.00"));
    assert!(report.months[1].payout.is_none(), "no fee given for April");
    assert!(
        report.months[1]
            .notes
            .iter()
            .any(|n| n.kind == NoteKind::FeeMissing)
    );
}

const NEW_YORK_POLICY: &str = r#"
id = "custom-ny"
name = "A custom policy evaluated in New York"
service_month = "calendar"
time_zone = "America/New_York"
standard_percent = "99.9"

[source]
document = "custom.txt"
title = "Custom SLA"

[method]
kind = "timeslices"
slice_minutes = 5
bad_slice = { success_rate_below = "99" }

[compensation]
form = "cash"
tiers = [
  { at_least = "99", below = "99.9", fee_percent = "10" },
  { below = "99", fee_percent = "25" },
]

[claim_window]
opens_after_business_day = 5
closes_after_days = 60
"#;

#[test]
fn only_a_month_with_data_is_in_progress_but_every_month_gets_the_notes_on_its_terms() {
    // IM, April to June 2024, as of May 10th: April is over, May has begun, June has not.
    let as_of = local(SHANGHAI, "2024-05-10 00:00");
    let report = evaluate(
        "tencent-im",
        EvaluationSpec {
            as_of,
            ..spec("2024-04-01", "2024-06-30")
        },
        [
            minute(local(SHANGHAI, "2024-04-02 00:00"), 10, 0),
            minute(local(SHANGHAI, "2024-05-02 00:00"), 10, 0),
            // At or after as_of: ignored, so June can have no data.
            minute(as_of, 10, 10),
            minute(local(SHANGHAI, "2024-06-02 00:00"), 10, 10),
        ],
        [],
    );
    assert_eq!(report.buckets_ignored, 2);
    let kinds = |index: usize| -> Vec<NoteKind> {
        report.months[index].notes.iter().map(|n| n.kind).collect()
    };
    // May ends after as_of and has data: its figures are those so far, and a note says so.
    assert!(kinds(1).contains(&NoteKind::InProgress));
    assert!(!kinds(0).contains(&NoteKind::InProgress));
    // June begins after as_of: no data, so no figures so far to qualify (docs/contract-readings.md,
    // "as_of"), but what its terms make of it is known already.
    assert_eq!(report.months[2].status, MonthStatus::NoData);
    assert!(!kinds(2).contains(&NoteKind::InProgress));
    assert!(kinds(2).contains(&NoteKind::FeeMissing));
}

#[test]
fn a_custom_policy_in_a_zone_with_daylight_saving_time() {
    let set = PolicySet::built_in()
        .unwrap()
        .with_policy_text("custom-ny.toml", NEW_YORK_POLICY)
        .unwrap();
    let policy = Arc::clone(set.get("custom-ny").unwrap());
    let mut evaluation =
        Evaluation::new(policy, spec("2024-03-01", "2024-03-31"), Limits::default()).unwrap();
    assert_eq!(evaluation.time_zone(), Tz::America__New_York);
    let ny = Tz::America__New_York;
    let utc = |text: &str| chrono::DateTime::parse_from_rfc3339(text).unwrap().to_utc();

    // Local midnight of March 1 is 05:00 UTC; the minute before belongs to February.
    assert_eq!(
        evaluation.add_bucket(minute(utc("2024-03-01T04:59:00Z"), 1, 1)),
        Ok(Placement::OutsideTerm)
    );
    assert_eq!(
        evaluation.add_bucket(minute(utc("2024-03-01T05:00:00Z"), 1, 1)),
        Ok(Placement::Accepted)
    );
    // Across the spring-forward gap (02:00 EST -> 03:00 EDT on March 10): 01:00 EST to 04:00 EDT is
    // two clock hours, 24 units, all of them bad.
    for unit in 0..24 {
        let start = local(ny, "2024-03-10 01:00") + TimeDelta::minutes(unit * 5);
        let bucket = Bucket {
            start,
            duration_seconds: 300,
            total: 100,
            failed: 5,
        };
        assert_eq!(evaluation.add_bucket(bucket), Ok(Placement::Accepted));
    }
    assert_eq!(
        local(ny, "2024-03-10 04:00") - local(ny, "2024-03-10 01:00"),
        TimeDelta::hours(2)
    );
    // The last minute of March local time is 03:59 UTC on April 1 (EDT); the next is April.
    assert_eq!(
        evaluation.add_bucket(minute(utc("2024-04-01T03:55:00Z"), 1, 0)),
        Ok(Placement::Accepted)
    );
    assert_eq!(
        evaluation.add_bucket(minute(utc("2024-04-01T04:00:00Z"), 1, 1)),
        Ok(Placement::OutsideTerm)
    );

    let report = evaluation.finish();
    let march = &report.months[0];
    // The first minute's unit (1 of 1 failed) plus 24 units: 125 minutes of the contract's 44,640.
    assert_eq!((march.bad_units, march.total_units), (125, 31 * 1440));
    assert_eq!(march.availability_percent, "99.7199");
    assert_eq!(march.tier.map(|t| t.0), Some(1));
    // The clock month is an hour short, and the report says so.
    assert_eq!(march.coverage.minutes, 31 * 1440 - 60);
    assert_eq!(march.coverage.covered_minutes, 1 + 120 + 1);
    assert!(
        march
            .notes
            .iter()
            .any(|n| n.kind == NoteKind::ClockChange && n.text.contains("44580"))
    );
}
