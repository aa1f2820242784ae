//! What the engine refuses, what it ignores, and how outages change a month.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::TimeDelta;
use common::engine::*;
use sla_evaluator::classify::{Facts, Notice, Verdict};
use sla_evaluator::engine::{
    Bucket, BucketError, Evaluation, IngestError, MonthStatus, NoteKind, OutageError, Placement,
    SpecError,
};
use sla_evaluator::limits::Limits;
use sla_evaluator::policy::Cause;

fn trtc_march() -> Evaluation {
    Evaluation::new(
        policy("tencent-trtc"),
        spec("2019-03-01", "2019-03-31"),
        Limits::default(),
    )
    .unwrap()
}

fn bucket(start: &str, duration_seconds: u32, total: u64, failed: u64) -> Bucket {
    Bucket {
        start: local(SHANGHAI, start),
        duration_seconds,
        total,
        failed,
    }
}

#[test]
fn malformed_buckets_are_refused_with_what_is_wrong() {
    let mut evaluation = trtc_march();
    let cases = [
        (
            bucket("2019-03-05 10:00", 60, 5, 6),
            "failed 6 exceeds total 5",
        ),
        (
            bucket("2019-03-05 10:00", 0, 5, 0),
            "duration_seconds must not be 0",
        ),
        (
            bucket("2019-03-05 10:00", 90, 5, 0),
            "duration_seconds 90 is not a whole number of minutes",
        ),
        (
            bucket("2019-03-05 10:00", 120, 5, 0),
            "does not divide the policy's 5-minute slice",
        ),
        (
            bucket("2019-03-05 10:00", 600, 5, 0),
            "does not divide the policy's 5-minute slice",
        ),
        (
            bucket("2019-03-05 10:04", 300, 5, 0),
            "crosses the end of the 5-minute slice that starts 2019-03-05 02:00:00 UTC",
        ),
        (
            bucket("2019-03-15 10:00", 60, 5, 0).shifted(30),
            "is not on a whole minute of its service month",
        ),
        (
            bucket("2019-03-31 23:59", 60, 5, 0).shifted(30),
            "crosses the service-month boundary at 2019-03-31 16:00:00 UTC",
        ),
    ];
    for (bucket, expected) in cases {
        let error = evaluation.add_bucket(bucket).unwrap_err();
        assert!(
            error.to_string().contains(expected),
            "{error} should say {expected}"
        );
    }
}

trait Shift {
    fn shifted(self, seconds: i64) -> Self;
}

impl Shift for Bucket {
    fn shifted(mut self, seconds: i64) -> Self {
        self.start += TimeDelta::seconds(seconds);
        self
    }
}

#[test]
fn buckets_that_cross_a_service_month_boundary_are_refused() {
    let mut sms = Evaluation::new(
        policy("tencent-sms"),
        spec("2024-03-17", "2024-04-30"),
        Limits::default(),
    )
    .unwrap();
    // An hour from 23:30 on March 31 runs into April.
    let error = sms
        .add_bucket(bucket("2024-03-31 23:30", 3600, 10, 0))
        .unwrap_err();
    assert!(
        matches!(error, BucketError::CrossesServiceMonth { .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("boundary at 2024-03-31 16:00:00 UTC"),
        "{error}"
    );
    // An hour from 23:30 on March 16 runs into the term's first day.
    let error = sms
        .add_bucket(bucket("2024-03-16 23:30", 3600, 10, 0))
        .unwrap_err();
    assert!(
        matches!(error, BucketError::CrossesServiceMonth { .. }),
        "{error}"
    );
    // Entirely before or after: ignored and counted.
    assert_eq!(
        sms.add_bucket(bucket("2024-03-16 22:00", 3600, 10, 0)),
        Ok(Placement::OutsideTerm)
    );
    assert_eq!(
        sms.add_bucket(bucket("2024-05-01 00:00", 3600, 10, 0)),
        Ok(Placement::OutsideTerm)
    );
    assert_eq!(sms.ingested().ignored, 2);
}

#[test]
fn a_bucket_overlapping_one_already_given_is_refused() {
    let mut evaluation = trtc_march();
    evaluation
        .add_bucket(bucket("2019-03-05 10:00", 300, 5, 0))
        .unwrap();
    let error = evaluation
        .add_bucket(bucket("2019-03-05 10:03", 60, 5, 0))
        .unwrap_err();
    assert!(matches!(error, BucketError::Overlaps { .. }), "{error}");
    let error = evaluation
        .add_bucket(bucket("2019-03-05 10:00", 300, 5, 0))
        .unwrap_err();
    assert!(matches!(error, BucketError::Overlaps { .. }), "{error}");
    // Minute buckets next to each other are fine, in any order.
    evaluation
        .add_bucket(bucket("2019-03-05 10:06", 60, 5, 0))
        .unwrap();
    evaluation
        .add_bucket(bucket("2019-03-05 10:05", 60, 5, 0))
        .unwrap();
    assert_eq!(evaluation.ingested().accepted, 3);
}

#[test]
fn columns_report_the_failing_row() {
    let mut evaluation = trtc_march();
    let start = local(SHANGHAI, "2019-03-05 10:00").timestamp();
    let starts = [start, start + 60, start + 120, start + 60];
    let outcome = evaluation
        .add_columns(60, &starts[..3], &[5, 5, 5], &[0, 1, 0])
        .unwrap();
    assert_eq!((outcome.accepted, outcome.ignored), (3, 0));
    let IngestError { row, error, .. } = evaluation
        .add_columns(60, &starts[3..], &[5], &[0])
        .unwrap_err();
    assert_eq!(row, 0);
    assert!(matches!(error, BucketError::Overlaps { .. }));
    let IngestError { row, error, .. } = evaluation
        .add_columns(60, &[start + 600, start + 660], &[5, 5], &[1, 9])
        .unwrap_err();
    assert_eq!(row, 1);
    assert_eq!(
        error,
        BucketError::FailedExceedsTotal {
            total: 5,
            failed: 9
        }
    );
}

#[test]
fn spec_problems_are_refused_with_the_field() {
    let make = |id: &str, spec| Evaluation::new(policy(id), spec, Limits::default()).err();
    assert!(matches!(
        make("tencent-im", spec("2024-03-02", "2024-03-01")),
        Some(SpecError::TermEndsBeforeStart { .. })
    ));
    assert!(matches!(
        make("tencent-im", spec("2000-01-01", "2024-03-01")),
        Some(SpecError::TermTooLong { .. })
    ));

    let mut no_currency = spec("2024-03-01", "2024-03-31");
    no_currency.fees = with_fees(
        spec("2024-03-01", "2024-03-31"),
        &[("2024-03-01", "1", "0")],
    )
    .fees;
    assert_eq!(
        make("tencent-im", no_currency),
        Some(SpecError::CurrencyRequired)
    );

    let wrong_month = with_fees(
        spec("2024-03-17", "2024-05-16"),
        &[("2024-04-01", "1", "0")],
    );
    let error = make("tencent-im", wrong_month).unwrap();
    assert_eq!(
        error.to_string(),
        "fees[0].month_start 2024-04-01 is not the first day of a service month; the term's \
         service months start on 2024-03-17, 2024-04-17"
    );
    let twice = with_fees(
        spec("2024-03-01", "2024-03-31"),
        &[("2024-03-01", "1", "0"), ("2024-03-01", "2", "0")],
    );
    assert!(matches!(
        make("tencent-trtc", twice),
        Some(SpecError::FeeMonthRepeated { index: 1, .. })
    ));
    let negative = with_fees(
        spec("2024-03-01", "2024-03-31"),
        &[("2024-03-01", "-1", "0")],
    );
    assert_eq!(
        make("tencent-trtc", negative).unwrap().to_string(),
        "fees[0].paid -1 must not be negative"
    );
    let too_many_places = with_fees(
        spec("2024-03-01", "2024-03-31"),
        &[("2024-03-01", "1", "0.00000000001")],
    );
    assert!(
        make("tencent-trtc", too_many_places)
            .unwrap()
            .to_string()
            .contains("at most 10 decimal places")
    );
    let over = with_fees(
        spec("2024-03-01", "2024-03-31"),
        &[("2024-03-01", "10", "10.01")],
    );
    assert!(matches!(
        make("tencent-trtc", over),
        Some(SpecError::DeductionsExceedPaid { .. })
    ));

    let sms_without_price = with_fees(
        spec("2024-03-01", "2024-03-31"),
        &[("2024-03-01", "10", "0")],
    );
    assert!(matches!(
        make("tencent-sms", sms_without_price),
        Some(SpecError::UnitPriceRequired { .. })
    ));
    let mut free_messages = with_fees(
        spec("2024-03-01", "2024-03-31"),
        &[("2024-03-01", "10", "0")],
    );
    free_messages.message_unit_price = Some(dec("0"));
    assert_eq!(
        make("tencent-sms", free_messages).unwrap().to_string(),
        "message_unit_price 0 must be above zero"
    );
}

#[test]
fn an_excluded_outage_turns_bad_minutes_into_excluded_minutes() {
    let bad = minutes(local(SHANGHAI, "2019-03-12 10:00"), 30, 100, 2);
    let notice = local(SHANGHAI, "2019-03-08 09:00");
    let maintenance = outage(
        "maint-1",
        local(SHANGHAI, "2019-03-12 10:10"),
        local(SHANGHAI, "2019-03-12 10:20"),
        Cause::ScheduledMaintenance,
        Facts {
            provider_notice: Some(Notice::Given {
                at: notice,
                written: None,
            }),
            ..Facts::default()
        },
    );
    let fault = outage(
        "fault-1",
        local(SHANGHAI, "2019-03-12 10:00"),
        local(SHANGHAI, "2019-03-12 10:10"),
        Cause::ProviderFault,
        Facts::default(),
    );
    let report = evaluate(
        "tencent-ccc-intl",
        spec("2019-03-01", "2019-03-31"),
        filled(bad, "2019-03-01", "2019-03-31"),
        [maintenance, fault],
    );
    let march = &report.months[0];
    assert_eq!((march.bad_units, march.excluded_units), (20, 10));
    assert_eq!(march.availability_percent, "99.9551");
    let verdicts: Vec<(&str, Verdict)> = march
        .outages
        .iter()
        .map(|&i| {
            (
                report.outages[i].outage_id.as_str(),
                report.outages[i].verdict,
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            ("maint-1", Verdict::Excluded),
            ("fault-1", Verdict::Counted)
        ]
    );
    assert_eq!(march.status, MonthStatus::Met);
}

#[test]
fn a_window_that_clips_a_slice_excludes_the_whole_bad_slice() {
    // A TRTC unit 10:00-10:05 is bad; maintenance from 10:04:30 to 10:05:30 overlaps it by 30 s.
    let bad = vec![
        bucket("2019-03-12 10:00", 300, 100, 50),
        bucket("2019-03-12 10:05", 300, 100, 50),
    ];
    let notice = Facts {
        provider_notice: Some(Notice::Given {
            at: local(SHANGHAI, "2019-03-01 09:00"),
            written: Some(true),
        }),
        ..Facts::default()
    };
    let window = outage(
        "m",
        local(SHANGHAI, "2019-03-12 10:04") + TimeDelta::seconds(30),
        local(SHANGHAI, "2019-03-12 10:05") + TimeDelta::seconds(30),
        Cause::ScheduledMaintenance,
        notice,
    );
    let report = evaluate(
        "tencent-trtc",
        spec("2019-03-01", "2019-03-31"),
        bad,
        [window],
    );
    assert_eq!(
        (report.months[0].bad_units, report.months[0].excluded_units),
        (0, 10)
    );
}

#[test]
fn an_excluded_outage_takes_whole_buckets_out_of_an_occurrences_month() {
    let hours = vec![
        bucket("2024-04-02 09:00", 3600, 1000, 10),
        bucket("2024-04-02 10:00", 3600, 1000, 900),
        bucket("2024-04-02 11:00", 3600, 1000, 10),
    ];
    // Force majeure from 10:59 to 11:00 touches only the 10:00 bucket.
    let storm = outage(
        "storm",
        local(SHANGHAI, "2024-04-02 10:59"),
        local(SHANGHAI, "2024-04-02 11:00"),
        Cause::ForceMajeure,
        Facts::default(),
    );
    let report = evaluate(
        "tencent-ccc-cn",
        spec("2024-04-01", "2024-04-30"),
        hours.clone(),
        [storm],
    );
    let april = &report.months[0];
    assert_eq!(
        (april.total_units, april.bad_units, april.excluded_units),
        (2000, 20, 1000)
    );
    assert_eq!(april.availability_percent, "99.0000");
    // Without it, 920 of 3000 failed.
    let report = evaluate(
        "tencent-ccc-cn",
        spec("2024-04-01", "2024-04-30"),
        hours,
        [],
    );
    assert_eq!(report.months[0].availability_percent, "69.3333");
}

#[test]
fn outages_needing_review_are_listed_and_change_nothing() {
    let bad = minutes(local(SHANGHAI, "2019-03-12 10:00"), 30, 100, 2);
    let unsure = outage(
        "m?",
        local(SHANGHAI, "2019-03-12 10:00"),
        local(SHANGHAI, "2019-03-12 10:30"),
        Cause::ScheduledMaintenance,
        Facts::default(),
    );
    let report = evaluate(
        "tencent-ccc-intl",
        spec("2019-03-01", "2019-04-30"),
        bad,
        [unsure],
    );
    let march = &report.months[0];
    assert_eq!((march.bad_units, march.excluded_units), (30, 0));
    assert_eq!(march.status, MonthStatus::NeedsReview);
    assert!(
        march
            .notes
            .iter()
            .any(|n| n.kind == NoteKind::OutagesNeedReview && n.text.contains("m?"))
    );
    assert_eq!(
        report.outages[march.outages[0]].verdict,
        Verdict::NeedsReview
    );
    // April was not touched, and had no data at all.
    assert!(report.months[1].outages.is_empty());
    assert_eq!(report.months[1].status, MonthStatus::NoData);
    assert_eq!(report.outages.len(), 1);
}

#[test]
fn outage_ids_must_be_unique_and_outages_are_bounded() {
    let limits = Limits {
        max_outages: 2,
        ..Limits::default()
    };
    let mut evaluation = Evaluation::new(
        policy("tencent-im"),
        spec("2024-03-01", "2024-03-31"),
        limits,
    )
    .unwrap();
    let one = || {
        outage(
            "a",
            local(SHANGHAI, "2024-03-02 00:00"),
            local(SHANGHAI, "2024-03-02 01:00"),
            Cause::ProviderFault,
            Facts::default(),
        )
    };
    evaluation.add_outage(one()).unwrap();
    assert_eq!(
        evaluation.add_outage(one()).unwrap_err(),
        OutageError::DuplicateId { id: "a".into() }
    );
    let mut unnamed = one();
    unnamed.id.clear();
    evaluation.add_outage(unnamed.clone()).unwrap();
    assert_eq!(
        evaluation.add_outage(unnamed).unwrap_err(),
        OutageError::TooMany { max: 2 }
    );
}

#[test]
fn an_outage_ending_inside_a_second_still_excludes_the_slice_it_touches() {
    // A TRTC unit 10:05-10:10 is bad; force majeure ends half a second into it.
    let bad: Vec<Bucket> = (5..10)
        .map(|m| bucket(&format!("2024-03-12 10:{m:02}"), 60, 100, 50))
        .collect();
    let storm = outage(
        "storm",
        local(SHANGHAI, "2024-03-12 10:00"),
        local(SHANGHAI, "2024-03-12 10:05") + TimeDelta::milliseconds(500),
        Cause::ForceMajeure,
        Facts::default(),
    );
    let report = evaluate(
        "tencent-trtc",
        spec("2024-03-01", "2024-03-31"),
        bad,
        [storm],
    );
    assert_eq!(
        (report.months[0].bad_units, report.months[0].excluded_units),
        (0, 5)
    );
}

#[test]
fn message_credits_are_exact_for_any_valid_price_and_refused_when_uncountable() {
    let sms = |price: &str, paid: &str| {
        let mut spec = with_fees(
            spec("2024-04-01", "2024-04-30"),
            &[("2024-04-01", paid, "0")],
        );
        spec.message_unit_price = Some(dec(price));
        Evaluation::new(policy("tencent-sms"), spec, Limits::default())
    };
    // Trailing zeros in the price once overflowed the exact division.
    let mut evaluation = sms("0.0450000000000000000000000000", "100000000000000").unwrap();
    evaluation
        .add_bucket(bucket("2024-04-02 10:00", 60, 100, 50))
        .unwrap();
    let payout = evaluation.finish().months[0].payout.clone().unwrap();
    // 30% of 10^14 buys 3 * 10^13 / 0.045 messages, rounded down.
    assert_eq!(payout.amount, dec("30000000000000.00"));
    assert_eq!(payout.message_credits, Some(666_666_666_666_666));
    // A price so small the fee would buy more than 2^64 - 1 messages is refused, not saturated.
    let error = sms("0.0000000001", "999999999999999").err().unwrap();
    assert!(
        matches!(error, SpecError::UnitPriceTooSmall { .. }),
        "{error}"
    );
}

#[test]
fn a_calendar_that_opens_the_claim_window_after_it_closes_is_refused() {
    // The month ends on 2025-07-01, so claims close on 2025-08-30. With August 1-25 off and
    // Saturday the 30th worked, its 5th business day is the 30th and claims would open on the 31st.
    let mut term = spec("2025-07-01", "2025-07-01");
    let holidays = (1..=25).map(|d| day(&format!("2025-08-{d:02}")));
    term.calendar =
        sla_evaluator::calendar::BusinessCalendar::new("strike", holidays, [day("2025-08-30")])
            .unwrap();
    let error = Evaluation::new(policy("tencent-trtc"), term, Limits::default())
        .err()
        .unwrap();
    assert!(
        matches!(error, SpecError::ClaimWindowEmpty { .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("on 2025-08-31, after it closes on 2025-08-30"),
        "{error}"
    );
}

#[test]
fn fees_too_large_for_minor_units_are_refused() {
    // Unidad de Fomento has 4 decimals: two months just under 10^15 exceed 2^63 ten-thousandths.
    let mut big = spec("2024-03-01", "2024-04-30");
    big.currency = Some(iso_currency::Currency::CLF);
    big.fees = with_fees(
        spec("2024-03-01", "2024-04-30"),
        &[
            ("2024-03-01", "999999999999999", "0"),
            ("2024-04-01", "999999999999999", "0"),
        ],
    )
    .fees;
    let error = Evaluation::new(policy("tencent-ccc-cn"), big, Limits::default())
        .err()
        .unwrap();
    assert!(matches!(error, SpecError::FeesTooLarge { .. }), "{error}");
    // The same fees in yuan (2 decimals) fit.
    let yuan = with_fees(
        spec("2024-03-01", "2024-04-30"),
        &[
            ("2024-03-01", "999999999999999", "0"),
            ("2024-04-01", "999999999999999", "0"),
        ],
    );
    assert!(Evaluation::new(policy("tencent-ccc-cn"), yuan, Limits::default()).is_ok());
}
