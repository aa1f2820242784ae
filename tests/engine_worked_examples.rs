//! The documents' own examples, and the readings contract-readings.md fixes around them.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use common::engine::*;
use sla_evaluator::engine::{MonthStatus, NoteKind, Unit};

/// Documents 002 (2.1) and 003 (2.1): "if the Call Success Rate of each minute is 98% in 30
/// minutes between 10:00 a.m. and 10:30 a.m. on a day in March 2019, the unavailability time is 30
/// minutes, and the Service Availability in March 2019 = 1 - (30 / (31 × 24 × 60)) = 99.93%". The
/// rest of March was measured and fine.
fn thirty_minutes_at_98_percent() -> Vec<sla_evaluator::engine::Bucket> {
    let bad = minutes(local(SHANGHAI, "2019-03-12 10:00"), 30, 100, 2);
    filled(bad, "2019-03-01", "2019-03-31")
}

#[test]
fn contact_center_worked_example_gives_99_93() {
    let report = evaluate(
        "tencent-ccc-intl",
        spec("2019-03-01", "2019-03-31"),
        thirty_minutes_at_98_percent(),
        [],
    );
    let march = &report.months[0];
    assert_eq!(march.unit, Unit::Minutes);
    assert_eq!((march.bad_units, march.total_units), (30, 31 * 24 * 60));
    assert_eq!(march.availability_percent, "99.9327");
    assert!(march.availability_percent.starts_with("99.93"));
    assert_eq!(
        (march.availability.good, march.availability.total),
        (44_610, 44_640)
    );
    assert!(march.standard_met);
    assert_eq!(march.status, MonthStatus::Met);
}

#[test]
fn trtc_worked_example_gives_99_93_from_minute_buckets_summed_into_units() {
    let report = evaluate(
        "tencent-trtc",
        spec("2019-03-01", "2019-03-31"),
        thirty_minutes_at_98_percent(),
        [],
    );
    let march = &report.months[0];
    assert_eq!(march.bad_units, 30, "six 5-minute units");
    assert_eq!(march.availability_percent, "99.9327");
    assert!(march.standard_met, "99.93% is above TRTC's 99.9%");
    assert_eq!(report.buckets_accepted, 31 * 1440);
}

#[test]
fn trtc_units_fall_on_local_midnight_boundaries() {
    // 10:04 and 10:05 local each fail 3 of 100 calls. Units aligned to local midnight put them in
    // different units, each at 497/500 = 99.4%: available. A unit straddling them would hold both
    // (494/500 = 98.8%) and be unavailable.
    let mut buckets = minutes(local(SHANGHAI, "2019-03-12 10:00"), 10, 100, 0);
    buckets[4].failed = 3;
    buckets[5].failed = 3;
    let report = evaluate(
        "tencent-trtc",
        spec("2019-03-01", "2019-03-31"),
        buckets,
        [],
    );
    assert_eq!(report.months[0].bad_units, 0);

    // The same six failures in one unit (10:05 and 10:06) make all 5 minutes of it unavailable.
    let mut buckets = minutes(local(SHANGHAI, "2019-03-12 10:00"), 10, 100, 0);
    buckets[5].failed = 3;
    buckets[6].failed = 3;
    let report = evaluate(
        "tencent-trtc",
        spec("2019-03-01", "2019-03-31"),
        buckets,
        [],
    );
    assert_eq!(report.months[0].bad_units, 5);

    // The month's first unit starts at local midnight (16:00 UTC the day before).
    let first = local(SHANGHAI, "2019-03-01 00:00");
    assert_eq!(first.to_rfc3339(), "2019-02-28T16:00:00+00:00");
    let mut buckets = minutes(first, 5, 10, 1);
    buckets[0].failed = 10;
    let report = evaluate(
        "tencent-trtc",
        spec("2019-03-01", "2019-03-31"),
        buckets,
        [],
    );
    // 14 failures of 50: one bad unit, not two.
    assert_eq!(report.months[0].bad_units, 5);
}

#[test]
fn a_short_burst_costs_a_whole_trtc_unit_and_nothing_shorter_counts_alone() {
    // A 2-minute burst pulls its unit under 99%.
    let mut buckets = minutes(local(SHANGHAI, "2019-03-12 10:00"), 5, 100, 0);
    buckets[1].failed = 40;
    buckets[2].failed = 40;
    let report = evaluate(
        "tencent-trtc",
        spec("2019-03-01", "2019-03-31"),
        buckets,
        [],
    );
    assert_eq!(report.months[0].bad_units, 5);
}

#[test]
fn contact_center_contradiction_is_noted_between_the_standard_and_the_table() {
    // 36 bad minutes of 44,640 is 99.919%: above the 99.5% standard, inside the table's
    // "less than 99.95% but at least 99%" row. Nothing is paid; the note names the contradiction.
    let buckets = minutes(local(SHANGHAI, "2019-03-12 10:00"), 36, 100, 2);
    let with_fee = with_fees(
        spec("2019-03-01", "2019-03-31"),
        &[("2019-03-01", "1000", "0")],
    );
    let report = evaluate("tencent-ccc-intl", with_fee, buckets, []);
    let march = &report.months[0];
    assert!(march.standard_met);
    assert_eq!(march.compensation_percent.units(), 0);
    assert_eq!(march.payout.as_ref().unwrap().amount, dec("0.00"));
    let note = march
        .notes
        .iter()
        .find(|n| n.kind == NoteKind::TierAboveStandard)
        .expect("a contradiction note");
    assert!(note.text.contains("[99%, 99.95%)"), "{}", note.text);
    assert!(note.text.contains("99.5%"), "{}", note.text);

    // No such note for TRTC at the same availability: its table starts at its standard.
    let buckets = minutes(local(SHANGHAI, "2019-03-12 10:00"), 35, 100, 2);
    let report = evaluate(
        "tencent-trtc",
        spec("2019-03-01", "2019-03-31"),
        buckets,
        [],
    );
    assert!(
        report.months[0]
            .notes
            .iter()
            .all(|n| n.kind != NoteKind::TierAboveStandard)
    );
}

#[test]
fn an_occurrences_month_without_events_is_100_percent_with_a_note() {
    let report = evaluate(
        "tencent-sms",
        spec("2024-03-01", "2024-04-30"),
        [sla_evaluator::engine::Bucket {
            start: local(SHANGHAI, "2024-04-02 00:00"),
            duration_seconds: 3600,
            total: 1000,
            failed: 100,
        }],
        [],
    );
    let march = &report.months[0];
    assert_eq!(march.status, MonthStatus::NoData);
    assert_eq!(march.availability_percent, "100.0000");
    assert!(march.standard_met);
    assert!(march.notes.iter().any(|n| n.kind == NoteKind::NoEvents));
    let april = &report.months[1];
    assert_eq!(april.unit, Unit::Events);
    assert_eq!((april.total_units, april.bad_units), (1000, 100));
    assert_eq!(april.availability_percent, "90.0000");
    // One hour of April cannot decide an occurrences month: the rest's volume is unknown.
    assert_eq!(april.status, MonthStatus::IncompleteData);
    assert!(
        april
            .notes
            .iter()
            .any(|n| n.kind == NoteKind::IncompleteData)
    );
    assert_eq!(april.coverage.covered_minutes, 60);
}
