//! One property per measurement method of issue 24, each against an independent reference written
//! here: the mean of interval error rates in reduced big rationals, runs of bad minutes found by
//! scanning the whole term, and service hours found minute by minute from each minute's local time.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use common::engine::AS_OF;
use num_bigint::BigInt;
use num_rational::BigRational;
use proptest::prelude::*;
use sla_evaluator::calendar::BusinessCalendar;
use sla_evaluator::classify::{Facts, Notice, Outage, OutageWindow};
use sla_evaluator::engine::{Bucket, Evaluation, EvaluationSpec, MonthStatus, Report};
use sla_evaluator::limits::Limits;
use sla_evaluator::policy::{Cause, CauseId, Fraction, Policy, PolicySet};

/// A policy of `common::methods` (or any text), loaded as a server would.
fn load(id: &str, text: &str) -> Arc<Policy> {
    PolicySet::built_in()
        .unwrap()
        .with_policy_text(&format!("{id}.toml"), text)
        .unwrap()
        .get(id)
        .unwrap()
        .clone()
}

fn spec(first: NaiveDate, last: NaiveDate) -> EvaluationSpec {
    EvaluationSpec {
        term_first_day: first,
        term_last_day: last,
        time_zone: None,
        currency: None,
        fees: vec![],
        message_unit_price: None,
        calendar: BusinessCalendar::default(),
        as_of: AS_OF,
        max_intervals: 1000,
        subscription: None,
    }
}

fn evaluate(
    policy: &Arc<Policy>,
    spec: EvaluationSpec,
    buckets: &[Bucket],
    outages: Vec<Outage>,
) -> Report {
    let mut evaluation = Evaluation::new(Arc::clone(policy), spec, Limits::default()).unwrap();
    for bucket in buckets {
        evaluation.add_bucket(*bucket).unwrap();
    }
    for outage in outages {
        evaluation.add_outage(outage).unwrap();
    }
    evaluation.finish()
}

fn bucket(start: i64, minutes: u32, total: u64, failed: u64) -> Bucket {
    Bucket {
        start: DateTime::from_timestamp(start, 0).unwrap(),
        duration_seconds: 60 * minutes,
        total,
        failed,
    }
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn ratio(numerator: u64, denominator: u64) -> BigRational {
    BigRational::new(BigInt::from(numerator), BigInt::from(denominator))
}

fn whole(value: u64) -> BigRational {
    BigRational::from_integer(BigInt::from(value))
}

/// ⌊value⌋ of a non-negative rational, as a u64.
fn floor(value: &BigRational) -> u64 {
    u64::try_from(value.floor().to_integer()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Mean error rate: April 2024 (UTC), five-minute intervals, 8,640 of them; standard 99.9%, tiers
// [99, 99.9) → 10%, [95, 99) → 25%, below 95 → 100%.

/// 2024-04-01T00:00:00Z.
const APRIL: i64 = 1_711_929_600;
const INTERVALS: u64 = 8640;
const MILLION: u64 = 1_000_000;

/// What is known of an interval: its requests and failures, and whether it came as five
/// one-minute buckets (`split`) instead of one five-minute bucket.
#[derive(Clone, Debug)]
struct Interval {
    total: u64,
    failed: u64,
    split: bool,
}

/// The intervals given, and whether every other interval has a bucket (of one request that
/// succeeded) or no data at all.
#[derive(Clone, Debug)]
struct MeanMonth {
    intervals: BTreeMap<u64, Interval>,
    filled: bool,
}

impl MeanMonth {
    fn buckets(&self) -> Vec<Bucket> {
        let mut buckets = Vec::new();
        for i in 0..INTERVALS {
            let start = APRIL + 300 * i as i64;
            match self.intervals.get(&i) {
                Some(Interval {
                    total,
                    failed,
                    split: true,
                }) => {
                    // Five minutes: the failures first, as far as each minute's share goes.
                    let share = total / 5;
                    let mut failed_left = *failed;
                    for minute in 0..5 {
                        let t = if minute == 4 {
                            total - 4 * share
                        } else {
                            share
                        };
                        let f = failed_left.min(t);
                        failed_left -= f;
                        buckets.push(bucket(start + 60 * minute, 1, t, f));
                    }
                }
                Some(interval) => {
                    buckets.push(bucket(start, 5, interval.total, interval.failed));
                }
                None if self.filled => buckets.push(bucket(start, 5, 1, 0)),
                None => {}
            }
        }
        buckets
    }

    /// The sum of the error rates (contract), and with every interval without data at 100%.
    fn sums(&self) -> (BigRational, BigRational) {
        let mut contract = whole(0);
        for interval in self.intervals.values() {
            if interval.total > 0 {
                contract += ratio(interval.failed, interval.total);
            }
        }
        let silent = if self.filled {
            0
        } else {
            INTERVALS - self.intervals.len() as u64
        };
        let worst = contract.clone() + whole(silent);
        (contract, worst)
    }
}

/// An interval's counts: small, middling or near the top of 64 bits, split only where five
/// minutes' worth still fit.
fn interval() -> impl Strategy<Value = Interval> {
    prop_oneof![1u64..20, 1u64..1_000_000, (u64::MAX / 8)..u64::MAX]
        .prop_flat_map(|total| (Just(total), 0..=total, any::<bool>()))
        .prop_map(|(total, failed, split)| Interval {
            total,
            failed,
            split: split && (5..u64::MAX / 8).contains(&total),
        })
}

fn random_month() -> impl Strategy<Value = MeanMonth> {
    (
        prop::collection::btree_map(0..INTERVALS, interval(), 0..60),
        any::<bool>(),
    )
        .prop_map(|(intervals, filled)| MeanMonth { intervals, filled })
}

/// A month whose mean error sits exactly on the standard or a tier's bound (`bound_units`, in
/// millionths): a few rates with small denominators, then intervals at 100% and one more interval
/// making up the exact remainder; `nudge` adds one failed request in 2^64 − 1 (just below it).
fn month_on_a_bound() -> impl Strategy<Value = (MeanMonth, u64)> {
    (
        prop::sample::select(vec![999_000u64, 990_000, 950_000]),
        prop::collection::vec((1u64..=12, 1u64..=12), 0..5),
        any::<bool>(),
    )
        .prop_map(|(bound, rates, nudge)| {
            let mut intervals = BTreeMap::new();
            let mut sum = whole(0);
            let mut next = 0;
            for (a, b) in rates {
                let (failed, total) = (a.min(b), a.max(b));
                sum += ratio(failed, total);
                intervals.insert(
                    next,
                    Interval {
                        total,
                        failed,
                        split: false,
                    },
                );
                next += 1;
            }
            // The target: 8,640 × (1 − bound) of error, as a rational.
            let target = ratio(INTERVALS * (MILLION - bound), MILLION);
            let mut left = target - sum;
            if left < whole(0) {
                // The rates overshoot: drop them and make the whole target of full intervals.
                intervals.clear();
                next = 0;
                left = ratio(INTERVALS * (MILLION - bound), MILLION);
            }
            let full = floor(&left);
            for _ in 0..full {
                intervals.insert(
                    next,
                    Interval {
                        total: 7,
                        failed: 7,
                        split: false,
                    },
                );
                next += 1;
            }
            let rest = left - whole(full);
            if rest > whole(0) {
                let total = u64::try_from(rest.denom().clone()).unwrap();
                let failed = u64::try_from(rest.numer().clone()).unwrap();
                intervals.insert(
                    next,
                    Interval {
                        total,
                        failed,
                        split: false,
                    },
                );
                next += 1;
            }
            if nudge {
                intervals.insert(
                    next,
                    Interval {
                        total: u64::MAX,
                        failed: 1,
                        split: false,
                    },
                );
            }
            (
                MeanMonth {
                    intervals,
                    filled: true,
                },
                bound,
            )
        })
}

/// The tier a month at `availability` earns: 1-based, or 0 at or above the standard.
fn tier_of(availability: &BigRational) -> usize {
    let at = |units: u64| *availability >= ratio(units, MILLION);
    if at(999_000) {
        0
    } else if at(990_000) {
        1
    } else if at(950_000) {
        2
    } else {
        3
    }
}

/// Checks a month's figures under one reading against the reference error sum `sum`.
fn check_reading(
    sum: &BigRational,
    bad_units: u64,
    availability: Fraction,
    inexact: bool,
    standard_met: bool,
    tier: usize,
) -> Result<(), TestCaseError> {
    let total = INTERVALS * MILLION;
    let truth = whole(1) - sum.clone() / whole(INTERVALS);
    let error = sum.clone() * whole(MILLION);
    prop_assert_eq!(bad_units, u64::try_from(error.ceil().to_integer()).unwrap());
    prop_assert_eq!(inexact, !error.is_integer());
    prop_assert_eq!(standard_met, truth >= ratio(999, 1000));
    prop_assert_eq!(tier, tier_of(&truth));
    let pair = ratio(availability.good, availability.total);
    if inexact {
        // Strictly between the whole-unit values around the truth, and on the same side of every
        // bound with four decimal places as the truth.
        prop_assert!(pair > whole(1) - whole(bad_units) / whole(total));
        prop_assert!(pair < whole(1) - whole(bad_units - 1) / whole(total));
        for units in [
            999_000,
            990_000,
            950_000,
            floor(&(truth.clone() * whole(MILLION))),
        ] {
            let bound = ratio(units, MILLION);
            prop_assert_eq!(pair >= bound, truth >= bound, "at least {}", units);
            prop_assert_eq!(pair > bound, truth > bound, "above {}", units);
        }
    } else {
        prop_assert_eq!(pair, truth.clone());
    }
    // Shown truncated to four places of percent.
    let shown = floor(&(truth * whole(MILLION)));
    prop_assert_eq!(
        Fraction::new(availability.good, availability.total).truncated_percent(),
        format!("{}.{:04}", shown / 10_000, shown % 10_000)
    );
    Ok(())
}

fn check_mean_month(policy: &Arc<Policy>, month: &MeanMonth) -> Result<(), TestCaseError> {
    let report = evaluate(
        policy,
        spec(day(2024, 4, 1), day(2024, 4, 30)),
        &month.buckets(),
        vec![],
    );
    let april = &report.months[0];
    let (contract, worst) = month.sums();
    prop_assert_eq!(april.total_units, INTERVALS * MILLION);
    check_reading(
        &contract,
        april.bad_units,
        april.availability,
        april.availability_inexact,
        april.standard_met,
        april.tier.map_or(0, |(index, _)| index),
    )?;
    let bound = april.worst_case.as_ref().unwrap();
    check_reading(
        &worst,
        bound.bad_units,
        bound.availability,
        bound.availability_inexact,
        bound.standard_met,
        bound.tier.map_or(0, |(index, _)| index),
    )?;
    let undecided = bound.standard_met != april.standard_met || bound.tier != april.tier;
    let status = if month.intervals.is_empty() && !month.filled {
        MonthStatus::NoData
    } else if undecided {
        MonthStatus::IncompleteData
    } else if april.standard_met {
        MonthStatus::Met
    } else {
        MonthStatus::NotMet
    };
    prop_assert_eq!(april.status, status);
    // Every interval with an error is in the evidence, once.
    let failing = month
        .intervals
        .values()
        .filter(|interval| interval.failed > 0)
        .map(|interval| u128::from(interval.failed))
        .sum::<u128>();
    let listed: u128 = april
        .evidence
        .unavailable
        .items
        .iter()
        .map(|i| u128::from(i.failed))
        .sum();
    if april.evidence.unavailable.items.len() as u64 == april.evidence.unavailable.total {
        prop_assert_eq!(listed, failing);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn mean_error_rate_agrees_with_big_rationals(month in random_month()) {
        let policy = load("mean-5", &common::methods::mean_5());
        check_mean_month(&policy, &month)?;
    }

    #[test]
    fn mean_error_rate_decides_months_built_on_a_bound((month, bound) in month_on_a_bound()) {
        let policy = load("mean-5", &common::methods::mean_5());
        check_mean_month(&policy, &month)?;
        let nudged = month.intervals.values().any(|i| i.total == u64::MAX && i.failed == 1);
        let (contract, _) = month.sums();
        let truth = whole(1) - contract / whole(INTERVALS);
        // On the bound exactly, or a hair below it.
        prop_assert_eq!(truth == ratio(bound, MILLION), !nudged);
    }
}

// ---------------------------------------------------------------------------------------------
// Runs of bad minutes: two one-day months, 2024-03-31 and 2024-04-01 (UTC); a minute is bad when
// under 90% of at least 100 attempts succeed.

/// 2024-03-31T00:00:00Z.
const MARCH_31: i64 = APRIL - 86_400;
const TERM_MINUTES: usize = 2 * 1440;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Minute {
    Bad,
    Good,
    TooFew,
    Silent,
}

impl Minute {
    fn counts(self) -> Option<(u64, u64)> {
        match self {
            Minute::Bad => Some((100, 11)),
            Minute::Good => Some((100, 10)),
            Minute::TooFew => Some((99, 99)),
            Minute::Silent => None,
        }
    }
}

/// The term as stretches of minutes of one kind, mostly bad or good, around the month boundary.
fn term_minutes() -> impl Strategy<Value = Vec<Minute>> {
    let kind = prop_oneof![
        4 => Just(Minute::Bad),
        4 => Just(Minute::Good),
        1 => Just(Minute::TooFew),
        1 => Just(Minute::Silent),
    ];
    prop::collection::vec((kind, 1usize..12), 1..120).prop_map(|stretches| {
        let mut minutes: Vec<Minute> = stretches
            .into_iter()
            .flat_map(|(kind, length)| std::iter::repeat_n(kind, length))
            .collect();
        // Centre the pattern on the boundary between the two months; good minutes elsewhere.
        let start = 1440usize.saturating_sub(minutes.len() / 2);
        let mut term = vec![Minute::Good; TERM_MINUTES];
        minutes.truncate(TERM_MINUTES - start);
        term[start..start + minutes.len()].copy_from_slice(&minutes);
        term
    })
}

/// What each month must count: (bad minutes, bad minutes in short runs, worst-case bad minutes),
/// found by scanning the term's runs, with the excluded minutes `[from, to)` taken out after.
fn runs_reference(
    minutes: &[Minute],
    min_run: usize,
    excluded: std::ops::Range<usize>,
) -> [(u64, u64, u64); 2] {
    let runs = |is_bad: &dyn Fn(Minute) -> bool| {
        let mut long = vec![false; minutes.len()];
        let mut short = vec![false; minutes.len()];
        let mut at = 0;
        while at < minutes.len() {
            if !is_bad(minutes[at]) {
                at += 1;
                continue;
            }
            let end = (at..minutes.len())
                .find(|&m| !is_bad(minutes[m]))
                .unwrap_or(minutes.len());
            let target = if end - at >= min_run {
                &mut long
            } else {
                &mut short
            };
            target[at..end].fill(true);
            at = end;
        }
        (long, short)
    };
    let (long, short) = runs(&|m| m == Minute::Bad);
    let (worst, _) = runs(&|m| m == Minute::Bad || m == Minute::Silent);
    let mut months = [(0, 0, 0); 2];
    for minute in 0..minutes.len() {
        let month = &mut months[minute / 1440];
        let counts = !excluded.contains(&minute);
        month.0 += u64::from(long[minute] && counts);
        month.1 += u64::from(short[minute]);
        month.2 += u64::from(worst[minute] && counts);
    }
    months
}

fn runs_policy(min_run: usize) -> Arc<Policy> {
    let text =
        common::methods::runs_5().replace("min_bad_run = 5", &format!("min_bad_run = {min_run}"));
    load("runs-5", &text)
}

fn maintenance(from: usize, to: usize) -> Outage {
    let at = |minute: usize| DateTime::from_timestamp(MARCH_31 + 60 * minute as i64, 0).unwrap();
    Outage {
        id: "m".into(),
        window: OutageWindow::new(at(from), at(to)).unwrap(),
        cause: Some(CauseId::Shared(Cause::ScheduledMaintenance)),
        facts: Facts {
            provider_notice: Some(Notice::Given {
                at: DateTime::from_timestamp(MARCH_31 - 86_400, 0).unwrap(),
                written: Some(true),
            }),
            ..Facts::default()
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn runs_of_bad_minutes_agree_with_a_scan_of_the_term(
        minutes in term_minutes(),
        min_run in 1usize..9,
        exclusion in prop::option::of((1380usize..1500, 1usize..30)),
    ) {
        let policy = runs_policy(min_run);
        let buckets: Vec<Bucket> = minutes
            .iter()
            .enumerate()
            .filter_map(|(minute, kind)| {
                kind.counts()
                    .map(|(t, f)| bucket(MARCH_31 + 60 * minute as i64, 1, t, f))
            })
            .collect();
        let (outages, excluded) = match exclusion {
            Some((from, length)) => (vec![maintenance(from, from + length)], from..from + length),
            None => (vec![], 0..0),
        };
        let report = evaluate(&policy, spec(day(2024, 3, 31), day(2024, 4, 1)), &buckets, outages);
        let expected = runs_reference(&minutes, min_run, excluded);
        for (month, (bad, short, worst)) in report.months.iter().zip(expected) {
            prop_assert_eq!(month.bad_units, bad, "{}", month.first_day);
            prop_assert_eq!(month.bad_slices_in_short_runs, short, "{}", month.first_day);
            prop_assert_eq!(month.worst_case.as_ref().unwrap().bad_units, worst, "{}", month.first_day);
            if min_run == 1 {
                prop_assert_eq!(short, 0);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Service hours: two weeks of New York around the spring clock change (2024-03-10), one-minute
// slices bad when every attempt failed, under random days and hours.

fn hours_policy(days: &[Weekday], from: u32, to: u32) -> Arc<Policy> {
    let names: Vec<String> = days
        .iter()
        .map(|d| format!("\"{}\"", d.to_string().to_lowercase()))
        .collect();
    let text = common::methods::business_hours("hours-random", common::methods::MINUTE_SLICES)
        .replace("time_zone = \"UTC\"", "time_zone = \"America/New_York\"")
        .replace(
            "days = \"business\"",
            &format!("days = [{}]", names.join(", ")),
        )
        .replace(
            "from = \"08:00\"",
            &format!("from = \"{:02}:{:02}\"", from / 60, from % 60),
        )
        .replace(
            "to = \"20:00\"",
            &format!("to = \"{:02}:{:02}\"", to / 60, to % 60),
        );
    load("hours-random", &text)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn service_hours_agree_with_each_minutes_local_time(
        days in prop::sample::subsequence(
            vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun],
            1..=7,
        ),
        (from, to) in (0u32..1440).prop_flat_map(|from| (Just(from), from + 1..=1440)),
        pattern in prop::collection::vec(0u8..10, 64),
    ) {
        let zone: Tz = "America/New_York".parse().unwrap();
        let policy = hours_policy(&days, from, to);
        let first = day(2024, 3, 4);
        let start = zone
            .with_ymd_and_hms(2024, 3, 4, 0, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
            .timestamp();
        let end = zone
            .with_ymd_and_hms(2024, 3, 18, 0, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
            .timestamp();
        let minutes = ((end - start) / 60) as usize;
        // Each minute: no data (0), bad (1) or good, by a pattern repeating every 64 minutes,
        // shifted each day so that days differ.
        let kind = |minute: usize| pattern[(minute + minute / 1440 * 7) % 64];
        let buckets: Vec<Bucket> = (0..minutes)
            .filter(|&m| kind(m) != 0)
            .map(|m| bucket(start + 60 * m as i64, 1, 3, if kind(m) == 1 { 3 } else { 0 }))
            .collect();
        let report = evaluate(&policy, spec(first, day(2024, 3, 17)), &buckets, vec![]);
        let month = &report.months[0];
        // The reference: a minute is inside service hours when its own local time is on one of
        // the days, at or after `from` and before `to`.
        let inside = |minute: usize| {
            let local = DateTime::from_timestamp(start + 60 * minute as i64, 0)
                .unwrap()
                .with_timezone(&zone);
            let of_day = local.hour() * 60 + local.minute();
            days.contains(&local.weekday()) && from <= of_day && of_day < to
        };
        let counted: Vec<usize> = (0..minutes).filter(|&m| inside(m)).collect();
        let bad = counted.iter().filter(|&&m| kind(m) == 1).count() as u64;
        let silent = counted.iter().filter(|&&m| kind(m) == 0).count() as u64;
        prop_assert_eq!(month.total_units, counted.len() as u64);
        prop_assert_eq!(month.bad_units, bad);
        prop_assert_eq!(month.worst_case.as_ref().unwrap().bad_units, bad + silent);
        let hours = month.service_hours.as_ref().unwrap();
        prop_assert_eq!(hours.minutes, counted.len() as u64);
        prop_assert_eq!(hours.covered_minutes, counted.len() as u64 - silent);
        let gaps = &month.evidence.gaps;
        if gaps.items.len() as u64 == gaps.total {
            prop_assert_eq!(gaps.items.iter().map(|g| g.minutes).sum::<u64>(), silent);
        }
    }
}
