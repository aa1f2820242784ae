//! Every policy's tier boundaries, hit exactly and one minute, unit or event either side.
//!
//! "99% > Av ≥ 95%" is the half-open range [95%, 99%): an availability exactly on a bound belongs
//! to the better tier, and exactly on the standard meets it.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use common::engine::*;
use sla_evaluator::engine::{Bucket, EvaluationSpec};

/// (bad units, standard met, tier earned 1-based, fee percent).
type Case = (u64, bool, Option<usize>, u32);

/// Bad one-minute (or `slice`-minute) buckets, one per slice, from the start of `first_day`.
fn bad_slices(
    first_day: &str,
    count: u64,
    slice_minutes: i64,
    total: u64,
    failed: u64,
) -> Vec<Bucket> {
    let start = local(SHANGHAI, &format!("{first_day} 00:00"));
    (0..count as i64)
        .map(|i| Bucket {
            start: start + chrono::TimeDelta::minutes(i * slice_minutes),
            duration_seconds: (slice_minutes * 60) as u32,
            total,
            failed,
        })
        .collect()
}

fn check(
    policy_id: &str,
    spec: EvaluationSpec,
    cases: &[Case],
    buckets: impl Fn(u64) -> Vec<Bucket>,
) {
    for &(bad, met, tier, fee_percent) in cases {
        let report = evaluate(policy_id, spec.clone(), buckets(bad), []);
        let month = &report.months[0];
        let context = format!(
            "{policy_id} with {bad} bad: {}%",
            month.availability_percent
        );
        assert_eq!(month.standard_met, met, "{context}");
        assert_eq!(month.tier.map(|(index, _)| index), tier, "{context}");
        assert_eq!(
            month.compensation_percent.to_string(),
            fee_percent.to_string(),
            "{context}"
        );
        let payout = month.payout.as_ref().expect("a fee was given");
        // The fee is 1000.00 with 200.00 paid in vouchers: 800.00 eligible.
        assert_eq!(payout.eligible_fee, dec("800.00"), "{context}");
        assert_eq!(
            payout.amount,
            dec("8") * rust_decimal::Decimal::from(fee_percent),
            "{context}"
        );
    }
}

fn fee(first: &str, last: &str) -> EvaluationSpec {
    let mut spec = with_fees(spec(first, last), &[(first, "1000.00", "200.00")]);
    spec.message_unit_price = Some(dec("0.045"));
    spec
}

#[test]
fn im_tiers_over_a_30_day_month() {
    // 43,200 minutes: 99% is 432 bad minutes, 95% is 2,160, 90% is 4,320.
    let report = evaluate(
        "tencent-im",
        fee("2024-04-01", "2024-04-30"),
        bad_slices("2024-04-01", 432, 1, 3, 3),
        [],
    );
    assert_eq!(report.months[0].availability_percent, "99.0000");
    assert_eq!(report.months[0].total_units, 43_200);
    check(
        "tencent-im",
        fee("2024-04-01", "2024-04-30"),
        &[
            (431, true, None, 0),
            (432, true, None, 0),
            (433, false, Some(1), 10),
            (2159, false, Some(1), 10),
            (2160, false, Some(1), 10),
            (2161, false, Some(2), 20),
            (4319, false, Some(2), 20),
            (4320, false, Some(2), 20),
            (4321, false, Some(3), 30),
        ],
        |bad| bad_slices("2024-04-01", bad, 1, 3, 3),
    );
}

#[test]
fn contact_center_international_tiers_over_a_30_day_month() {
    // 99.5% is 216 bad minutes (the standard), 99% is 432, 95% is 2,160.
    check(
        "tencent-ccc-intl",
        fee("2024-04-01", "2024-04-30"),
        &[
            (215, true, None, 0),
            (216, true, None, 0),
            (217, false, Some(1), 10),
            (431, false, Some(1), 10),
            (432, false, Some(1), 10),
            (433, false, Some(2), 25),
            (2159, false, Some(2), 25),
            (2160, false, Some(2), 25),
            (2161, false, Some(3), 50),
        ],
        |bad| bad_slices("2024-04-01", bad, 1, 100, 2),
    );
}

#[test]
fn contact_center_international_notes_only_inside_the_contradicting_range() {
    // 25 days = 36,000 minutes: 99.95% is exactly 18 bad minutes.
    for (bad, noted) in [
        (17, false),
        (18, false),
        (19, true),
        (180, true),
        (181, false),
    ] {
        let report = evaluate(
            "tencent-ccc-intl",
            spec("2024-04-06", "2024-04-30"),
            bad_slices("2024-04-06", bad, 1, 100, 2),
            [],
        );
        let month = &report.months[0];
        let has_note = month
            .notes
            .iter()
            .any(|n| n.kind == sla_evaluator::engine::NoteKind::TierAboveStandard);
        assert_eq!(
            has_note, noted,
            "{bad} bad minutes: {}%",
            month.availability_percent
        );
    }
}

#[test]
fn trtc_tiers_over_a_25_day_term_in_whole_units() {
    // 36,000 minutes: 99.5% is 180 minutes = 36 units, 99% is 360 = 72 units. 99.9% would be 36
    // minutes, which no whole number of 5-minute units reaches in any month (days × 1.44 is never
    // a multiple of 5): the units either side of it are checked, and the exact comparison on the
    // fraction itself in `trtc_standard_compares_exactly`.
    let report = evaluate(
        "tencent-trtc",
        fee("2024-04-06", "2024-04-30"),
        bad_slices("2024-04-06", 36, 5, 100, 2),
        [],
    );
    assert_eq!(report.months[0].availability_percent, "99.5000");
    assert_eq!(report.months[0].bad_units, 180);
    check(
        "tencent-trtc",
        fee("2024-04-06", "2024-04-30"),
        &[
            (7, true, None, 0),
            (8, false, Some(1), 10),
            (35, false, Some(1), 10),
            (36, false, Some(1), 10),
            (37, false, Some(2), 20),
            (71, false, Some(2), 20),
            (72, false, Some(2), 20),
            (73, false, Some(3), 50),
        ],
        |units| bad_slices("2024-04-06", units, 5, 100, 2),
    );
}

#[test]
fn trtc_standard_compares_exactly() {
    use sla_evaluator::engine::compensation::earned_tier;
    use sla_evaluator::policy::Fraction;
    let trtc = policy("tencent-trtc");
    assert_eq!(earned_tier(&trtc, Fraction::new(999, 1000)), None);
    assert_eq!(
        earned_tier(&trtc, Fraction::new(998_999_999, 1_000_000_000)).map(|t| t.0),
        Some(1)
    );
    assert_eq!(
        earned_tier(&trtc, Fraction::new(995, 1000)).map(|t| t.0),
        Some(1)
    );
    assert_eq!(
        earned_tier(&trtc, Fraction::new(994_999, 1_000_000)).map(|t| t.0),
        Some(2)
    );
}

/// One bucket holding all of the month's events.
fn events(first_day: &str, failed: u64) -> Vec<Bucket> {
    vec![Bucket {
        start: local(SHANGHAI, &format!("{first_day} 12:00")),
        duration_seconds: 3600,
        total: 100_000,
        failed,
    }]
}

#[test]
fn sms_tiers_over_100_000_messages() {
    check(
        "tencent-sms",
        fee("2024-04-01", "2024-04-30"),
        &[
            (4999, true, None, 0),
            (5000, true, None, 0),
            (5001, false, Some(1), 10),
            (9999, false, Some(1), 10),
            (10_000, false, Some(1), 10),
            (10_001, false, Some(2), 30),
        ],
        |failed| events("2024-04-01", failed),
    );
    // 10% of 800.00 is 80.00, which buys 1,777 messages at 0.045.
    let report = evaluate(
        "tencent-sms",
        fee("2024-04-01", "2024-04-30"),
        events("2024-04-01", 5001),
        [],
    );
    let payout = report.months[0].payout.clone().unwrap();
    assert_eq!(payout.message_credits, Some(1777));
    assert_eq!(report.total_message_credits, Some(1777));
}

#[test]
fn mainland_call_center_tiers_over_100_000_calls() {
    check(
        "tencent-ccc-cn",
        fee("2024-04-01", "2024-04-30"),
        &[
            (499, true, None, 0),
            (500, true, None, 0),
            (501, false, Some(1), 10),
            (999, false, Some(1), 10),
            (1000, false, Some(1), 10),
            (1001, false, Some(2), 30),
            (4999, false, Some(2), 30),
            (5000, false, Some(2), 30),
            (5001, false, Some(3), 50),
        ],
        |failed| events("2024-04-01", failed),
    );
}
