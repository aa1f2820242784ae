//! Mean error rate: availability is 100% minus the mean of the error rates of every interval of the
//! month (Amazon S3: "subtracting from 100% the average of the Error Rates from each five minute
//! period in the monthly billing cycle"; Azure Storage does the same with hours). An interval's
//! error rate is `failed / total` of the buckets in it, 0% for an interval without requests; the
//! mean is over every interval of the month: its days × 1440 / the interval's minutes, or the
//! intervals wholly inside service hours when the policy has them.
//!
//! - **Units.** Millionths of an interval ([`Unit::IntervalPpm`]): a month of `N` intervals is
//!   `N × 10⁶` units, and its error `x = 10⁶ × Σ rates` of them. `x` is decided exactly
//!   (`error_sum`); `bad_units` is `x` rounded up when it is not whole, so the figure never shows
//!   less error than there was. When `x` is whole the availability `1 − x / (N × 10⁶)` is exact;
//!   otherwise its exact denominator can run to thousands of digits, and the reading carries a
//!   stand-in, `1 − (⌊x⌋ + ½) / (N × 10⁶)`: strictly between the two whole-unit values around the
//!   truth, so that it compares with every bound a policy can state (each a whole number of units)
//!   exactly as the truth does, and truncates to the same four places.
//! - **Closing.** One interval with one failed request of one weighs as much as a full interval at
//!   100%: rates are averaged, never requests. An excluded outage removes the requests of every
//!   bucket it touches from their interval, failed and total alike; the interval keeps its place in
//!   the mean at the rate of what is left, 0% when nothing is (docs/contract-readings.md,
//!   "Exclusions"). The units an exclusion takes are those requests.
//! - **Evidence.** Each interval that counts with an error rate above 0%, merged where one ends
//!   as the next begins, with its counts and lowest success rate (100% minus its highest error
//!   rate).
//! - **Worst case.** Every interval that counts with a minute before `as_of` that no bucket covered
//!   and no excluded outage took out is read at 100%.
//! - **Budget.** In millionths of an interval: how much more error the month can take; 10,000 are
//!   one interval at 1% ("interval-percent").

use fixedbitset::FixedBitSet;

use super::error_sum::{MILLIONTHS, ScaledSum, scaled_sum};
use super::{
    BadUnit, Closed, Closing, Credits, Reading, Tally, budget_in_units, note_without_service_hours,
    with_bad,
};
use crate::engine::ledger::{Counts, JudgedIntervals, MonthLedger};
use crate::engine::report::{Note, NoteKind, Unit};
use crate::policy::Fraction;

/// Closes a mean-error-rate month, noting a clock change, a month without service hours, and
/// availability floored at 0%.
pub(super) fn close(
    ledger: &MonthLedger,
    intervals: JudgedIntervals,
    closing: &Closing<'_>,
    notes: &mut Vec<Note>,
) -> Closed {
    let width = intervals.interval_minutes as usize;
    let covered = ledger.covered();
    let clock_intervals = covered.len() / width;
    // An interval counts when it lies wholly inside service hours (every interval, without them).
    let inside = |interval: usize| {
        ledger
            .hours()
            .is_none_or(|hours| hours.covers(interval * width..(interval + 1) * width))
    };
    let Closing { month, zone, .. } = *closing;
    let count = match ledger.hours() {
        None => month.contract_minutes() / width as u64,
        Some(_) => (0..clock_intervals).filter(|&i| inside(i)).count() as u64,
    };
    let total = count * MILLIONTHS;

    let mut tally = Tally::new(ledger, closing);
    let credits = Credits::new(closing.exclusions, covered.len());
    let failing = if closing.exclusions.is_empty() {
        intervals.failing
    } else {
        failing_without_exclusions(ledger, width, &credits, &mut tally)
    };
    let failing: Vec<(u32, Counts)> = failing
        .into_iter()
        .filter(|&(interval, _)| inside(interval as usize))
        .collect();
    tally.unavailable = failing
        .iter()
        .map(|&(interval, counts)| {
            let start = interval * width as u32;
            BadUnit {
                minutes: start..start + width as u32,
                counts,
            }
        })
        .collect();

    // The worst case's intervals: those that count with a silent minute before `as_of` that no
    // exclusion covers.
    let elapsed = closing.elapsed.min(covered.len());
    let mut known = covered.clone();
    known.union_with(&credits.minutes);
    let mut silent = FixedBitSet::with_capacity(clock_intervals);
    for minute in known.zeroes().take_while(|&minute| minute < elapsed) {
        let interval = minute / width;
        if interval < clock_intervals && inside(interval) {
            silent.insert(interval);
        }
    }
    let rate = |&(_, counts): &(u32, Counts)| (counts.failed, counts.total);
    let contract = scaled_sum(&failing.iter().map(rate).collect::<Vec<_>>(), 0);
    let worst = scaled_sum(
        &failing
            .iter()
            .filter(|(interval, _)| !silent.contains(*interval as usize))
            .map(rate)
            .collect::<Vec<_>>(),
        silent.count_ones(..) as u64,
    );
    tally.bad = contract.ceil();
    tally.worst_case_bad = Some(worst.ceil());

    let clock_minutes = month.clock_minutes();
    match ledger.hours() {
        None if clock_minutes != month.contract_minutes() => notes.push(Note {
            kind: NoteKind::ClockChange,
            text: format!(
                "A clock change in {zone} makes this month {clock_minutes} minutes long on the \
                 clock; the mean is taken over the contract's {} days × 1440 / {width} = {count} \
                 intervals.",
                month.days()
            ),
        }),
        Some(_) => note_without_service_hours(ledger, count == 0, notes),
        None => {}
    }
    if contract.floor >= total && !(contract.whole && contract.floor == total) {
        notes.push(Note {
            kind: NoteKind::AvailabilityFloored,
            text: format!(
                "The error rates of this month's intervals add up to more than its {count} \
                 intervals at 100%; availability is floored at 0%."
            ),
        });
    }
    Closed {
        unit: Unit::IntervalPpm,
        total_units: total,
        contract: reading(total, contract),
        worst_case: Some(reading(total, worst)),
        budget: budget_in_units(closing.policy, total, contract.ceil()),
        tally,
    }
}

/// A month of `total` units (its intervals × 10⁶) with an error of `x` units: exact when `x` is
/// whole, otherwise the stand-in `1 − (⌊x⌋ + ½) / total`, over `2 × total`.
fn reading(total: u64, x: ScaledSum) -> Reading {
    let bad_units = x.ceil();
    if x.whole || x.floor >= total {
        return Reading::exact(bad_units, with_bad(total, bad_units));
    }
    Reading {
        bad_units,
        availability: Fraction::new(2 * (total - x.floor) - 1, 2 * total),
        inexact: true,
    }
}

/// Each interval's counts once the buckets excluded outages touch have left it, for the intervals
/// some request still failed in, ascending; what each exclusion took is added to `tally`, in
/// requests.
fn failing_without_exclusions(
    ledger: &MonthLedger,
    width: usize,
    credits: &Credits<'_>,
    tally: &mut Tally,
) -> Vec<(u32, Counts)> {
    let mut failing = Vec::new();
    let mut open: Option<(u32, Counts)> = None;
    let mut flush = |open: Option<(u32, Counts)>| {
        if let Some((interval, counts)) = open
            && counts.failed > 0
        {
            failing.push((interval, counts));
        }
    };
    for record in ledger.log().in_order() {
        let range = record.minute as usize..(record.minute + record.span) as usize;
        if let Some(outage) = credits.credited(range) {
            tally.excluded += record.counts.total;
            tally.taken[outage] += record.counts.total;
            continue;
        }
        let interval = (record.minute as usize / width) as u32;
        open = match open {
            Some((current, counts)) if current == interval => Some((
                current,
                counts
                    .checked_add(record.counts)
                    .expect("part of an interval's sum, which the ledger checked fits"),
            )),
            previous => {
                flush(previous);
                Some((interval, record.counts))
            }
        };
    }
    flush(open);
    failing
}
