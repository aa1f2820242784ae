//! The mean-error-rate method through a real server: availability is 100% minus the mean of the
//! error rates of every five-minute interval of April 2024 (UTC): 30 × 288 = 8,640 intervals,
//! reported in millionths of an interval (8,640,000,000 units).
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use common::methods::{maintenance, policies};
use common::requests::{bare_spec, buckets, error_info, evaluate, instant, spec_message};
use common::server::TestServer;
use sla_evaluator::api::pb::{self, evaluate_request::Item};
use sla_evaluator::limits::Limits;
use tonic::Code;

/// 2024-04-01T00:00:00Z.
const APRIL: i64 = 1_711_929_600;
const APRIL_MINUTES: i64 = 30 * 1440;
/// April's intervals, and its units.
const INTERVALS: u64 = 8640;
const TOTAL_UNITS: u64 = INTERVALS * 1_000_000;

fn server() -> TestServer {
    TestServer::start_with(policies(), Limits::default())
}

fn spec() -> pb::EvaluationSpec {
    pb::EvaluationSpec {
        currency: "EUR".into(),
        fees: vec![pb::MonthlyFee {
            month_start: "2024-04-01".into(),
            paid: "1000.00".into(),
            deductions: String::new(),
        }],
        ..bare_spec("mean-5", "2024-04-01", "2024-04-30")
    }
}

/// April in five-minute buckets, interval by interval: `rate(i)` gives interval i's counts.
fn april(rate: impl Fn(i64) -> Option<(u64, u64)>) -> Vec<pb::EvaluateRequest> {
    buckets(APRIL, APRIL_MINUTES, 5, move |minute| rate(minute / 5))
}

fn stream(buckets: Vec<pb::EvaluateRequest>, outages: Vec<pb::Outage>) -> Vec<pb::EvaluateRequest> {
    let mut messages = vec![spec_message(spec())];
    messages.extend(buckets);
    messages.extend(outages.into_iter().map(|outage| pb::EvaluateRequest {
        item: Some(Item::Outage(outage)),
    }));
    messages
}

fn status(month: &pb::MonthReport) -> pb::MonthStatus {
    pb::MonthStatus::try_from(month.status).unwrap()
}

fn pair(month: &pb::MonthReport) -> (u64, u64) {
    (month.availability_numerator, month.availability_denominator)
}

#[tokio::test]
async fn the_policy_shows_its_method() {
    let server = server();
    let policy = server
        .client()
        .await
        .get_policy(pb::GetPolicyRequest {
            policy_id: "mean-5".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let Some(pb::method::Kind::MeanErrorRate(method)) = policy.method.unwrap().kind else {
        panic!("a mean-error-rate policy")
    };
    assert_eq!(method.interval_minutes, 5);
}

#[tokio::test]
async fn one_failed_request_of_one_weighs_as_much_as_a_full_interval() {
    let server = server();
    // Every interval 1,000 requests, none failed, but for three: interval 0 has one request and
    // it failed (100%), interval 100 has all 1,000 failed (100%), interval 200 has 1 failed of
    // 1,000 (0.1%). Rates, not requests, are averaged: (1 + 1 + 0.001) / 8,640.
    let response = evaluate(
        &server,
        stream(
            april(|i| match i {
                0 => Some((1, 1)),
                100 => Some((1000, 1000)),
                200 => Some((1000, 1)),
                _ => Some((1000, 0)),
            }),
            vec![],
        ),
    )
    .await
    .unwrap();
    let month = &response.months[0];
    assert_eq!(month.unit, pb::Unit::IntervalPpm as i32);
    assert_eq!(month.total_units, TOTAL_UNITS);
    assert_eq!(month.bad_units, 2_001_000);
    assert!(!month.availability_inexact);
    assert_eq!(pair(month), (TOTAL_UNITS - 2_001_000, TOTAL_UNITS));
    // 1 − 2.001 / 8640 = 99.976840...%; counted as requests it would be 99.99998%.
    assert_eq!(month.availability_percent, "99.9768");
    assert_eq!(status(month), pb::MonthStatus::Met);
    // The evidence: the three intervals with errors, with their counts and highest error rate.
    let evidence = month.evidence.as_ref().unwrap();
    let listed: Vec<(&str, u64, u64, u64, &str)> = evidence
        .unavailable
        .iter()
        .map(|i| {
            (
                i.local_start.as_str(),
                i.minutes,
                i.total,
                i.failed,
                i.lowest_success_rate_percent.as_str(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("2024-04-01T00:00:00+00:00", 5, 1, 1, "0.0000"),
            ("2024-04-01T08:20:00+00:00", 5, 1000, 1000, "0.0000"),
            ("2024-04-01T16:40:00+00:00", 5, 1000, 1, "99.9000"),
        ]
    );
    // The budget, in millionths of an interval: 8,640 × 0.1% = 8,640,000 (864 interval-percent)
    // allowed at the 99.9% standard, 2,001,000 used.
    let budget = month.budget.as_ref().unwrap();
    assert_eq!(
        (budget.bad_units_allowed, budget.bad_units_remaining),
        (8_640_000, 6_639_000)
    );
    let until: Vec<u64> = budget.tiers.iter().map(|t| t.bad_units_until).collect();
    assert_eq!(
        until,
        [6_639_001, 86_400_001 - 2_001_000, 432_000_001 - 2_001_000]
    );
    // Complete data: the worst case is the contract's.
    let worst = month.worst_case.as_ref().unwrap();
    assert_eq!((worst.bad_units, worst.standard_met), (2_001_000, true));
}

#[tokio::test]
async fn a_month_exactly_on_the_standard_meets_it_and_one_failure_in_two_to_the_64_misses_it() {
    let server = server();
    // 8 intervals at 100% and one at 64/100: the rates add up to exactly 8.64, a mean error of
    // exactly 0.1%, availability exactly 99.9%. 64/100 is no binary fraction, so only exact
    // arithmetic can tell that the month sits on the standard and not a hair either side.
    let on_the_standard = |extra: Option<(i64, (u64, u64))>| {
        april(move |i| match i {
            0..8 => Some((100, 100)),
            8 => Some((100, 64)),
            _ if extra.is_some_and(|(at, _)| at == i) => extra.map(|(_, counts)| counts),
            _ => Some((100, 0)),
        })
    };
    let response = evaluate(&server, stream(on_the_standard(None), vec![]))
        .await
        .unwrap();
    let month = &response.months[0];
    assert_eq!(month.availability_percent, "99.9000");
    assert_eq!((month.standard_met, month.tier), (true, 0));
    assert_eq!(month.bad_units, 8_640_000);
    assert!(!month.availability_inexact);
    assert_eq!(pair(month), (TOTAL_UNITS - 8_640_000, TOTAL_UNITS));
    assert_eq!(month.budget.as_ref().unwrap().bad_units_remaining, 0);
    assert_eq!(month.compensation_amount, "0.00");

    // One more failed request, in an interval of 2^64 − 1 requests: the mean rises by about
    // 6 × 10^-24 and the month misses the standard. Its error is no whole number of units, so
    // the pair is the stand-in at 8,640,000.5 units, strictly between the two around the truth.
    let response = evaluate(
        &server,
        stream(on_the_standard(Some((5000, (u64::MAX, 1)))), vec![]),
    )
    .await
    .unwrap();
    let month = &response.months[0];
    assert_eq!(month.availability_percent, "99.8999");
    assert_eq!((month.standard_met, month.tier), (false, 1));
    assert_eq!(month.bad_units, 8_640_001);
    assert!(month.availability_inexact);
    assert_eq!(
        pair(month),
        (2 * TOTAL_UNITS - 2 * 8_640_000 - 1, 2 * TOTAL_UNITS)
    );
    assert_eq!(month.compensation_amount, "100.00");
    let worst = month.worst_case.as_ref().unwrap();
    assert!(worst.availability_inexact && !worst.standard_met);

    // Exactly on the first tier's lower bound, 99%: 86 intervals at 100% and one at 40/100.
    let on_the_tier = april(|i| match i {
        0..86 => Some((100, 100)),
        86 => Some((100, 40)),
        _ => Some((100, 0)),
    });
    let response = evaluate(&server, stream(on_the_tier, vec![]))
        .await
        .unwrap();
    let month = &response.months[0];
    assert_eq!(
        (month.availability_percent.as_str(), month.tier),
        ("99.0000", 1)
    );
    assert_eq!(month.compensation_amount, "100.00");
    // One failed request of 1,000 more falls into the second tier (25%).
    let below_the_tier = april(|i| match i {
        0..86 => Some((100, 100)),
        86 => Some((100, 40)),
        87 => Some((1000, 1)),
        _ => Some((100, 0)),
    });
    let response = evaluate(&server, stream(below_the_tier, vec![]))
        .await
        .unwrap();
    let month = &response.months[0];
    assert_eq!(
        (month.availability_percent.as_str(), month.tier),
        ("98.9999", 2)
    );
    assert_eq!(month.compensation_amount, "250.00");
}

#[tokio::test]
async fn silent_intervals_are_a_full_error_in_the_worst_case() {
    let server = server();
    // The 30th is silent: the contract reads its 288 intervals at 0%, the worst case at 100%.
    let last_day = 29 * 288;
    let response = evaluate(
        &server,
        stream(
            april(|i| (i < last_day).then_some((1000, if i == 7 { 10 } else { 0 }))),
            vec![],
        ),
    )
    .await
    .unwrap();
    let month = &response.months[0];
    assert_eq!(month.bad_units, 10_000);
    assert!(month.standard_met);
    let worst = month.worst_case.as_ref().unwrap();
    assert_eq!(worst.bad_units, 288_000_000 + 10_000);
    assert_eq!(
        (worst.availability_percent.as_str(), worst.tier),
        ("96.6665", 2)
    );
    assert_eq!(status(month), pb::MonthStatus::IncompleteData);
    assert!(
        month
            .notes
            .iter()
            .any(|n| n.kind == pb::NoteKind::IncompleteData as i32)
    );
    let evidence = month.evidence.as_ref().unwrap();
    assert_eq!(evidence.gaps_total, 1);
    assert_eq!(evidence.gaps[0].minutes, 1440);

    // One silent minute in interval 3 of one-minute buckets makes that interval a full error in
    // the worst case, whatever its other minutes did; with as_of after it the month is only in
    // progress.
    let minutes = buckets(APRIL, APRIL_MINUTES, 1, |minute| {
        (minute != 17).then_some((10, 0))
    });
    let mut early = stream(minutes, vec![]);
    if let Some(Item::Spec(spec)) = &mut early[0].item {
        spec.as_of = Some(instant("2024-04-02T00:00:00Z"));
    }
    let response = evaluate(&server, early).await.unwrap();
    let month = &response.months[0];
    assert_eq!(month.bad_units, 0);
    assert_eq!(month.worst_case.as_ref().unwrap().bad_units, 1_000_000);
    assert_eq!(month.elapsed_minutes, 1440);
    // 1 − 1 / 8640 is still above 99.9%: the silence cannot change the month.
    assert_eq!(status(month), pb::MonthStatus::InProgress);
}

#[tokio::test]
async fn an_excluded_outage_takes_the_requests_it_touches_out_of_their_interval() {
    let server = server();
    // One-minute buckets. Interval 0 (00:00-00:05): 10 of 10 failed at 00:00, then 4 × 10
    // requests that succeeded: 20%. Interval 1 (00:05-00:10): 90 requests that succeeded at
    // 00:05, then all 10 of 10 failed at 00:06, nothing after: 10%.
    let minutes = buckets(APRIL, APRIL_MINUTES, 1, |minute| {
        Some(match minute {
            0 => (10, 10),
            5 => (90, 0),
            6 => (10, 10),
            7..10 => (0, 0),
            _ => (10, 0),
        })
    });
    let plain = evaluate(&server, stream(minutes.clone(), vec![]))
        .await
        .unwrap();
    assert_eq!(plain.months[0].bad_units, 300_000);

    // Maintenance over 00:00-00:01 takes interval 0's failed minute out: 0 of 40 is 0%. Over
    // 00:05-00:06 it takes the 90 good requests out, and what is left of interval 1 is 10 of 10
    // failed: 100% (docs/contract-readings.md, "Exclusions").
    let response = evaluate(
        &server,
        stream(
            minutes,
            vec![
                maintenance("m-1", "2024-04-01T00:00:00Z", "2024-04-01T00:01:00Z"),
                maintenance("m-2", "2024-04-01T00:05:00Z", "2024-04-01T00:06:00Z"),
            ],
        ),
    )
    .await
    .unwrap();
    let month = &response.months[0];
    assert_eq!(month.bad_units, 1_000_000);
    // Excluded units are requests under this method.
    assert_eq!(month.excluded_units, 10 + 90);
    let evidence = month.evidence.as_ref().unwrap();
    let taken: Vec<(u32, u64, &str)> = evidence
        .excluded
        .iter()
        .map(|e| (e.outage_index, e.units, e.clause_id.as_str()))
        .collect();
    assert_eq!(taken, [(0, 10, "1"), (1, 90, "1")]);
    let unavailable: Vec<(&str, u64, u64)> = evidence
        .unavailable
        .iter()
        .map(|i| (i.local_start.as_str(), i.total, i.failed))
        .collect();
    assert_eq!(unavailable, [("2024-04-01T00:05:00+00:00", 10, 10)]);
    assert!(
        response
            .outages
            .iter()
            .all(|v| v.verdict == pb::Verdict::Excluded as i32)
    );

    // A silent minute inside an excluded outage is no worst case: whatever it hid was excluded.
    let holed = buckets(APRIL, APRIL_MINUTES, 1, |minute| {
        (minute != 12).then_some((10, 0))
    });
    let response = evaluate(
        &server,
        stream(
            holed.clone(),
            vec![maintenance(
                "m-1",
                "2024-04-01T00:12:00Z",
                "2024-04-01T00:13:00Z",
            )],
        ),
    )
    .await
    .unwrap();
    assert_eq!(response.months[0].worst_case.as_ref().unwrap().bad_units, 0);
    let response = evaluate(&server, stream(holed, vec![])).await.unwrap();
    assert_eq!(
        response.months[0].worst_case.as_ref().unwrap().bad_units,
        1_000_000
    );
}

#[tokio::test]
async fn buckets_must_divide_the_interval_and_stay_inside_it() {
    let server = server();
    let ten_minutes = buckets(APRIL, 10, 10, |_| Some((1, 0)));
    let refused = evaluate(&server, stream(ten_minutes, vec![]))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("5-minute slice"),
        "{}",
        refused.message()
    );
    let (reason, _) = error_info(&refused);
    assert_eq!(reason, "INVALID_FIELD");
}
