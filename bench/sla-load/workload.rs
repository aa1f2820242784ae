//! Synthetic per-minute measurements for the benchmarks, the `sla-load` tool and the DuckDB
//! comparison (`bench/compare.py` computes the very same numbers in Python).
//!
//! Each minute's counts are a pure function of (subscription, minute), so any tool can regenerate
//! any slice of the data without storing it, and an independent reference can say what the
//! service must answer.

/// The splitmix64 mixer: cheap, well distributed, and easy to reproduce in any language.
pub(crate) fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Attempts and failures of minute `minute` (counted from the term's first instant) of
/// subscription `subscription`: 50 to 149 attempts; 0.5% of minutes fail completely, 1.5% fail a
/// tenth of their attempts, the rest succeed.
pub(crate) fn minute_counts(subscription: u64, minute: u64) -> (u64, u64) {
    let x = splitmix64((subscription << 40) ^ minute);
    let total = 50 + x % 100;
    let roll = (x >> 32) % 1000;
    let failed = match roll {
        0..5 => total,
        5..20 => total / 10,
        _ => 0,
    };
    (total, failed)
}

/// Packed columns of consecutive one-minute buckets `[first, first + count)` of a subscription
/// whose term starts at `term_start_unix`.
pub(crate) fn minute_columns(
    subscription: u64,
    term_start_unix: i64,
    first: u64,
    count: u64,
) -> (Vec<i64>, Vec<u64>, Vec<u64>) {
    let mut starts = Vec::with_capacity(count as usize);
    let mut totals = Vec::with_capacity(count as usize);
    let mut failed = Vec::with_capacity(count as usize);
    for minute in first..first + count {
        let (t, f) = minute_counts(subscription, minute);
        starts.push(term_start_unix + 60 * minute as i64);
        totals.push(t);
        failed.push(f);
    }
    (starts, totals, failed)
}

/// The term every synthetic subscription has: `months` calendar months from 2023-01-01 in
/// Asia/Shanghai (UTC+8 all year, so every day has 1440 minutes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Term {
    pub(crate) first_day: chrono::NaiveDate,
    pub(crate) last_day: chrono::NaiveDate,
    /// The term's first instant, 2023-01-01T00:00+08:00.
    pub(crate) start_unix: i64,
    /// Minutes of each service month, in order.
    pub(crate) month_minutes: Vec<u64>,
}

impl Term {
    pub(crate) fn months(months: u32) -> Term {
        use chrono::{Datelike, Months, NaiveDate};
        let first_day = NaiveDate::from_ymd_opt(2023, 1, 1).expect("a date");
        let month_minutes = (0..months)
            .map(|i| {
                let first = first_day + Months::new(i);
                let next = first + Months::new(1);
                debug_assert_eq!(first.day(), 1);
                (next - first).num_days() as u64 * 1440
            })
            .collect();
        Term {
            first_day,
            last_day: first_day + chrono::Months::new(months) - chrono::Days::new(1),
            start_unix: 1_672_502_400,
            month_minutes,
        }
    }

    pub(crate) fn minutes(&self) -> u64 {
        self.month_minutes.iter().sum()
    }
}

/// What the service must answer for one month, computed independently of the engine: bad minutes
/// under a timeslices rule, or (failed, total) events under occurrences. `minutes` is the month's
/// range of minute indexes within the term.
pub(crate) mod reference {
    use super::minute_counts;

    /// Bad minutes of a timeslices month whose slices start at `first_minute`: slices of
    /// `slice_minutes`, bad when at least one attempt and `ok * 100 < bound_percent * total`
    /// (`bound_percent = None` for "every attempt failed").
    pub(crate) fn bad_minutes(
        subscription: u64,
        first_minute: u64,
        minutes: u64,
        slice_minutes: u64,
        bound_percent: Option<u64>,
    ) -> u64 {
        let mut bad = 0;
        let mut slice = first_minute;
        while slice < first_minute + minutes {
            let (mut total, mut failed) = (0u128, 0u128);
            for minute in slice..slice + slice_minutes {
                let (t, f) = minute_counts(subscription, minute);
                total += u128::from(t);
                failed += u128::from(f);
            }
            let is_bad = total > 0
                && match bound_percent {
                    None => failed == total,
                    Some(percent) => (total - failed) * 100 < u128::from(percent) * total,
                };
            if is_bad {
                bad += slice_minutes;
            }
            slice += slice_minutes;
        }
        bad
    }

    /// What each month of a subscription's term must report as (bad units, total units), under a
    /// timeslices rule (`slice_minutes > 0`) or occurrences (`slice_minutes == 0`).
    pub(crate) fn months(
        subscription: u64,
        term: &super::Term,
        slice_minutes: u64,
        bound_percent: Option<u64>,
    ) -> Vec<(u64, u64)> {
        let mut first = 0;
        term.month_minutes
            .iter()
            .map(|&minutes| {
                let expected = if slice_minutes == 0 {
                    events(subscription, first, minutes)
                } else {
                    let bad =
                        bad_minutes(subscription, first, minutes, slice_minutes, bound_percent);
                    (bad, minutes)
                };
                first += minutes;
                expected
            })
            .collect()
    }

    /// (failed, total) events of an occurrences month.
    pub(crate) fn events(subscription: u64, first_minute: u64, minutes: u64) -> (u64, u64) {
        (first_minute..first_minute + minutes).fold((0, 0), |(failed, total), minute| {
            let (t, f) = minute_counts(subscription, minute);
            (failed + f, total + t)
        })
    }
}
