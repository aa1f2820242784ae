//! Properties that must hold for every input, not just the examples.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use chrono::TimeDelta;
use common::engine::*;
use proptest::prelude::*;
use rust_decimal::Decimal;
use sla_evaluator::classify::Facts;
use sla_evaluator::engine::compensation::{compensation_amount, earned_tier};
use sla_evaluator::engine::{Bucket, MonthReport, Report};
use sla_evaluator::policy::{Cause, Fraction};

const POLICIES: [&str; 5] = [
    "tencent-im",
    "tencent-sms",
    "tencent-ccc-intl",
    "tencent-trtc",
    "tencent-ccc-cn",
];

/// Minutes of April 2024 (Shanghai) with counts, at most one bucket per minute.
fn minute_counts(max_minutes: usize) -> impl Strategy<Value = BTreeMap<i64, (u64, u64)>> {
    prop::collection::btree_map(
        0..3000i64,
        (0u64..40).prop_flat_map(|total| (Just(total), 0..=total)),
        0..max_minutes,
    )
}

fn april() -> chrono::DateTime<chrono::Utc> {
    local(SHANGHAI, "2024-04-01 00:00")
}

fn to_buckets(counts: &BTreeMap<i64, (u64, u64)>) -> Vec<Bucket> {
    counts
        .iter()
        .map(|(&m, &(total, failed))| minute(april() + TimeDelta::minutes(m), total, failed))
        .collect()
}

fn fraction_le(a: Fraction, b: Fraction) -> bool {
    // a ≤ b, with an empty fraction reading as 1.
    let (ag, at) = if a.total == 0 {
        (1, 1)
    } else {
        (a.good, a.total)
    };
    let (bg, bt) = if b.total == 0 {
        (1, 1)
    } else {
        (b.good, b.total)
    };
    ag * bt <= bg * at
}

/// The months' figures, without their evidence: how buckets were cut changes the intervals they
/// show, never the figures.
fn months_only(report: Report) -> Vec<MonthReport> {
    report
        .months
        .into_iter()
        .map(|month| MonthReport {
            evidence: Default::default(),
            ..month
        })
        .collect()
}

fn fee_spec() -> sla_evaluator::engine::EvaluationSpec {
    let mut spec = with_fees(
        spec("2024-04-01", "2024-04-30"),
        &[("2024-04-01", "1234.56", "34.56")],
    );
    spec.message_unit_price = Some(dec("0.045"));
    spec
}

proptest! {
    #[test]
    fn availability_never_rises_when_a_failure_is_added(
        policy_index in 0..5usize,
        counts in minute_counts(200),
        pick in any::<prop::sample::Index>(),
    ) {
        prop_assume!(!counts.is_empty());
        let policy_id = POLICIES[policy_index];
        let before = evaluate(policy_id, spec("2024-04-01", "2024-04-30"), to_buckets(&counts), []);
        let mut worse = counts.clone();
        let minute = *pick.get(&counts.keys().copied().collect::<Vec<_>>());
        let entry = worse.get_mut(&minute).unwrap();
        if entry.1 < entry.0 { entry.1 += 1 } else { entry.0 += 1; entry.1 += 1 }
        let after = evaluate(policy_id, spec("2024-04-01", "2024-04-30"), to_buckets(&worse), []);
        let (b, a) = (before.months[0].availability, after.months[0].availability);
        prop_assert!(fraction_le(a, b), "{policy_id}: {a:?} rose above {b:?}");
    }

    #[test]
    fn compensation_never_falls_when_availability_falls(
        policy_index in 0..5usize,
        total in 1u64..1_000_000,
        lower in 0u64..1_000_000,
        higher in 0u64..1_000_000,
        eligible_cents in 0i64..10_000_000,
    ) {
        let policy = policy(POLICIES[policy_index]);
        let (lower, higher) = (lower.min(higher).min(total), higher.max(lower).min(total));
        let (worse, better) = (Fraction::new(lower, total), Fraction::new(higher, total));
        let percent = |a: Fraction| earned_tier(&policy, a).map_or(0, |(_, tier)| tier.fee_percent.units());
        prop_assert!(percent(worse) >= percent(better));
        let eligible = Decimal::new(eligible_cents, 2);
        let amount = |a: Fraction| earned_tier(&policy, a).map_or(Decimal::ZERO, |(_, tier)| compensation_amount(eligible, &tier, 2));
        prop_assert!(amount(worse) >= amount(better));
    }

    #[test]
    fn compensation_never_falls_when_more_minutes_are_bad(
        policy_index in 0..5usize,
        fewer in 0i64..3000,
        more in 0i64..3000,
    ) {
        let policy_id = POLICIES[policy_index];
        let (fewer, more) = (fewer.min(more), fewer.max(more));
        let bad = |n: i64| minutes(april(), n, 5, 5);
        let payout = |n| evaluate(policy_id, fee_spec(), bad(n), []).months[0].payout.clone().unwrap();
        prop_assert!(payout(more).amount >= payout(fewer).amount);
    }

    #[test]
    fn the_amount_never_exceeds_the_eligible_fee(
        policy_index in 0..5usize,
        paid in 0i64..10_000_000_000,
        paid_places in 0u32..=6,
        deducted_share in 0u32..=100,
        bad in 0i64..3000,
    ) {
        let policy_id = POLICIES[policy_index];
        let paid = Decimal::new(paid, paid_places);
        let deductions = (paid * Decimal::from(deducted_share) / Decimal::from(100)).round_dp(4).min(paid);
        let mut spec = fee_spec();
        spec.fees[0].paid = paid;
        spec.fees[0].deductions = deductions;
        let report = evaluate(policy_id, spec, minutes(april(), bad, 5, 5), []);
        let payout = report.months[0].payout.clone().unwrap();
        prop_assert_eq!(payout.eligible_fee, paid - deductions);
        prop_assert!(payout.amount <= payout.eligible_fee, "{} > {}", payout.amount, payout.eligible_fee);
        prop_assert!(payout.amount >= Decimal::ZERO);
    }

    #[test]
    fn the_same_buckets_in_any_order_give_the_same_report(
        policy_index in 0..5usize,
        (buckets, shuffled) in minute_counts(300).prop_flat_map(|counts| {
            let buckets = to_buckets(&counts);
            (Just(buckets.clone()), Just(buckets).prop_shuffle())
        }),
        outage_start in 0i64..3000,
    ) {
        let policy_id = POLICIES[policy_index];
        let storm = || outage(
            "storm",
            april() + TimeDelta::minutes(outage_start),
            april() + TimeDelta::minutes(outage_start + 17),
            Cause::ForceMajeure,
            Facts::default(),
        );
        let sorted = evaluate(policy_id, fee_spec(), buckets, [storm()]);
        let any_order = evaluate(policy_id, fee_spec(), shuffled, [storm()]);
        prop_assert_eq!(sorted, any_order);
    }

    #[test]
    fn trtc_units_given_whole_or_split_into_shuffled_minutes_give_the_same_months(
        units in prop::collection::btree_map(0..2000i64, prop::collection::vec((0u64..60, 0u64..3), 5), 0..100),
        seed in any::<u64>(),
    ) {
        let whole: Vec<Bucket> = units.iter().map(|(&unit, minutes)| Bucket {
            start: april() + TimeDelta::minutes(unit * 5),
            duration_seconds: 300,
            total: minutes.iter().map(|m| m.0 + m.1).sum(),
            failed: minutes.iter().map(|m| m.1).sum(),
        }).collect();
        let mut split: Vec<Bucket> = units.iter().flat_map(|(&unit, minutes)| {
            minutes.iter().enumerate().map(move |(i, &(ok, failed))| {
                minute(april() + TimeDelta::minutes(unit * 5 + i as i64), ok + failed, failed)
            })
        }).collect();
        shuffle(&mut split, seed);
        let a = months_only(evaluate("tencent-trtc", fee_spec(), whole, []));
        let b = months_only(evaluate("tencent-trtc", fee_spec(), split, []));
        prop_assert_eq!(a, b);
    }

    #[test]
    fn event_hours_given_whole_or_split_into_minutes_give_the_same_months(
        policy_index in prop::sample::select(vec![1usize, 4]),
        hours in prop::collection::btree_map(0..700i64, (0u64..10_000).prop_flat_map(|t| (Just(t), 0..=t)), 0..50),
        seed in any::<u64>(),
    ) {
        let policy_id = POLICIES[policy_index];
        let whole: Vec<Bucket> = hours.iter().map(|(&hour, &(total, failed))| Bucket {
            start: april() + TimeDelta::hours(hour),
            duration_seconds: 3600,
            total,
            failed,
        }).collect();
        // Spread each hour's counts over its 60 minutes.
        let mut split: Vec<Bucket> = hours.iter().flat_map(|(&hour, &(total, failed))| {
            (0..60u64).map(move |m| {
                let share = |n: u64| n / 60 + u64::from(m < n % 60);
                minute(april() + TimeDelta::hours(hour) + TimeDelta::minutes(m as i64), share(total), share(failed))
            })
        }).collect();
        shuffle(&mut split, seed);
        let a = months_only(evaluate(policy_id, fee_spec(), whole, []));
        let b = months_only(evaluate(policy_id, fee_spec(), split, []));
        prop_assert_eq!(a, b);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The contract reads silence as available; the worst case as unavailable. So the contract's
    /// availability is never below the worst case's, and the two agree once every minute has data.
    #[test]
    fn the_contract_bound_is_never_below_the_worst_case_and_equal_at_full_coverage(
        policy_index in prop::sample::select(vec![0usize, 2, 3]),
        counts in minute_counts(300),
        as_of_minute in 0..30 * 1440i64,
        full in any::<bool>(),
    ) {
        let policy_id = POLICIES[policy_index];
        let mut buckets = to_buckets(&counts);
        if full {
            buckets = filled(buckets, "2024-04-01", "2024-04-30");
        }
        let mut spec = spec("2024-04-01", "2024-04-30");
        if !full {
            spec.as_of = april() + TimeDelta::minutes(as_of_minute);
        }
        let report = evaluate(policy_id, spec, buckets, []);
        let month = &report.months[0];
        let worst = month.worst_case.as_ref().unwrap();
        prop_assert!(
            fraction_le(worst.availability, month.availability),
            "{policy_id}: worst {:?} above contract {:?}", worst.availability, month.availability
        );
        if full {
            prop_assert_eq!(worst.availability, month.availability);
            prop_assert_eq!(worst.bad_units, month.bad_units);
        }
    }
}

/// A deterministic Fisher-Yates shuffle driven by a proptest-chosen seed.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let j = (seed >> 33) as usize % (i + 1);
        items.swap(i, j);
    }
}

/// A column batch of mostly distinct minutes, shuffled, with a few rows the fast path must
/// refuse: duplicates, minutes off the grid, failed > total, rows outside the term and rows that
/// cross into May (where a 5-minute bucket may also straddle slices).
fn messy_rows() -> impl Strategy<Value = Vec<(i64, u64, u64)>> {
    let start = april().timestamp();
    (
        prop::collection::btree_set(0i64..3000, 0..400),
        any::<u64>(),
        prop::collection::vec((0u16..600, 0u64..30, 0u64..30), 400),
    )
        .prop_map(move |(minutes, seed, noise)| {
            let mut rows: Vec<(i64, u64, u64)> = minutes
                .into_iter()
                .zip(noise)
                .map(|(minute, (defect, total, failed))| {
                    let failed = failed.min(total);
                    match defect {
                        0 => (start + 60 * minute + 30, total, failed),
                        1 => (start + 60 * minute, total, total + 1),
                        2 => (start - 60 * (minute % 90), total, failed),
                        3 => (start + 60 * (30 * 1440 - 3 + minute % 7), total, failed),
                        4 => (start + 60 * (minute / 2), total, failed),
                        _ => (start + 60 * minute, total, failed),
                    }
                })
                .collect();
            shuffle(&mut rows, seed);
            rows
        })
}

/// `rows` given one bucket at a time and as one batch of columns, each to a fresh evaluation
/// from `make`, stop at the same row with the same error, count the same and report the same.
fn single_buckets_and_columns_agree(
    make: impl Fn() -> sla_evaluator::engine::Evaluation,
    duration: u32,
    rows: &[(i64, u64, u64)],
) -> Result<(), TestCaseError> {
    let mut single = make();
    let mut single_error = None;
    for (row, &(start, total, failed)) in rows.iter().enumerate() {
        let bucket = Bucket {
            start: chrono::DateTime::from_timestamp(start, 0).unwrap(),
            duration_seconds: duration,
            total,
            failed,
        };
        if let Err(error) = single.add_bucket(bucket) {
            single_error = Some((row, error));
            break;
        }
    }

    let mut columns = make();
    let starts: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let totals: Vec<u64> = rows.iter().map(|r| r.1).collect();
    let failed: Vec<u64> = rows.iter().map(|r| r.2).collect();
    let column_error = columns
        .add_columns(duration, &starts, &totals, &failed)
        .err()
        .map(|refused| (refused.row, refused.error));

    prop_assert_eq!(&single_error, &column_error);
    prop_assert_eq!(single.ingested(), columns.ingested());
    prop_assert_eq!(single.finish(), columns.finish());
    Ok(())
}

proptest! {
    #[test]
    fn columns_and_single_buckets_agree_on_results_and_errors(
        policy_index in 0..5usize,
        rows in messy_rows(),
        duration_minutes in prop::sample::select(vec![1u32, 5]),
    ) {
        let policy_id = POLICIES[policy_index];
        let make = || sla_evaluator::engine::Evaluation::new(
            policy(policy_id),
            spec("2024-04-01", "2024-05-31"),
            sla_evaluator::limits::Limits::default(),
        ).unwrap();
        let duration = duration_minutes * 60;

        single_buckets_and_columns_agree(make, duration, &rows)?;
    }
}

/// Rows as clients send them, ascending and following each other, in runs long enough for the
/// fast path's blocks, broken now and then by what it must hand to the careful path: gaps,
/// repeats, minutes off the grid, failed > total, counts that overflow a sum, rows before the
/// term and rows that cross into May or past `as_of`.
fn ascending_rows() -> impl Strategy<Value = Vec<(i64, u64, u64)>> {
    let start = april().timestamp();
    // April holds 43,200 minutes: runs from the end of April cross into May.
    (
        prop::sample::select(vec![0i64, 3, 42_900, 43_150]),
        prop::collection::vec((0u16..60, 0u64..200, 0u64..200, 1usize..300), 1..12),
    )
        .prop_map(move |(first, runs)| {
            let mut rows = Vec::new();
            let mut minute = first;
            for (defect, total, failed, length) in runs {
                for i in 0..length as i64 {
                    let (total, failed) = (total + i as u64 % 7, (failed + i as u64) % (total + 1));
                    rows.push((start + 60 * (minute + i), total, failed.min(total)));
                }
                minute += length as i64;
                let last = rows.len() - 1;
                match defect {
                    0 => rows.push((rows[last].0 + 30, 1, 0)),
                    1 => rows.push((rows[last].0 + 60, 2, 3)),
                    2 => rows.push(rows[last]),
                    3 => rows.push((rows[last].0 + 60, u64::MAX - 5, 0)),
                    4 => rows.push((rows[last].0 + 60, u64::MAX, u64::MAX)),
                    5 => rows.push((start - 600, 4, 1)),
                    6..30 => minute += i64::from(defect),
                    _ => {}
                }
                if (1..5).contains(&defect) {
                    minute += 1;
                }
            }
            rows
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn ascending_columns_and_single_buckets_agree_on_results_and_errors(
        policy_index in 0..5usize,
        rows in ascending_rows(),
        duration_minutes in prop::sample::select(vec![1u32, 5]),
        as_of_minute in prop::sample::select(vec![None, Some(200i64), Some(43_300)]),
    ) {
        let policy_id = POLICIES[policy_index];
        let mut term = spec("2024-04-01", "2024-05-31");
        if let Some(minute) = as_of_minute {
            term.as_of = april() + TimeDelta::minutes(minute);
        }
        let make = || sla_evaluator::engine::Evaluation::new(
            policy(policy_id),
            term.clone(),
            sla_evaluator::limits::Limits::default(),
        ).unwrap();
        let duration = duration_minutes * 60;
        // Five-minute buckets on a five-minute grid, from the same rows.
        let rows: Vec<(i64, u64, u64)> = rows
            .iter()
            .map(|&(start, total, failed)| {
                let at = start - april().timestamp();
                (april().timestamp() + at * i64::from(duration_minutes), total, failed)
            })
            .collect();

        single_buckets_and_columns_agree(make, duration, &rows)?;
    }
}

/// Ascending one-minute rows in runs whose counts sit at one scale each, from a few to near 2^64:
/// either side of where the fast path's blocks change how they work (varints of two bytes and
/// more at 2^14, 64-bit judgements below 2^32, sums that cannot wrap below 2^57), and sums that
/// do leave 64 bits.
fn rows_at_every_scale() -> impl Strategy<Value = Vec<(i64, u64, u64)>> {
    let start = april().timestamp();
    prop::collection::vec(
        (
            prop::sample::select(vec![0u32, 7, 13, 14, 20, 31, 32, 40, 56, 57, 60, 62, 63]),
            1usize..200,
            0u8..4,
        ),
        1..8,
    )
    .prop_map(move |runs| {
        let mut rows = Vec::new();
        let mut minute = 0i64;
        for (scale, length, failing) in runs {
            for i in 0..length as u64 {
                let total = (1u64 << scale).saturating_add(i * 7919 % (1 + (1u64 << scale)));
                // None, some, most or all of the attempts fail, so every rule judges both ways.
                let failed = match failing {
                    0 => 0,
                    1 => total / 1000,
                    2 => total - total / 200,
                    _ => total,
                };
                rows.push((start + 60 * minute, total, failed));
                minute += 1;
            }
        }
        rows
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn columns_and_single_buckets_agree_at_every_scale_of_count(
        policy_index in 0..5usize,
        rows in rows_at_every_scale(),
    ) {
        let term = spec("2024-04-01", "2024-05-31");
        let make = || sla_evaluator::engine::Evaluation::new(
            policy(POLICIES[policy_index]),
            term.clone(),
            sla_evaluator::limits::Limits::default(),
        ).unwrap();
        single_buckets_and_columns_agree(make, 60, &rows)?;
    }
}
