//! The evidence behind a month's figures, as intervals a claimant can quote: "the date, time,
//! duration and other related details of the Service Unavailability" (document 002, 3.3).
//!
//! Each list keeps at most `max` intervals, the earliest first, and counts them all, so a
//! response's size never grows with the number of buckets and a truncated list is never mistaken
//! for a complete one.

use chrono::{DateTime, TimeDelta, Utc};
use fixedbitset::FixedBitSet;

use super::ledger::{Counts, MonthLedger};
use super::months::ServiceMonth;
use super::report::{Evidence, ExcludedInterval, Gap, Listed, UnavailableInterval};
use super::tally::BadUnit;
use crate::policy::Fraction;

/// A month's evidence: its unavailable units merged into intervals, what each excluded outage took
/// out (see [`excluded`]), the gaps in its data before minute `elapsed` (inside the ledger's
/// service hours, when it has them), and the runs of bad slices too short to count; at most
/// `max` of each.
pub(super) fn of_month(
    month: &ServiceMonth,
    unavailable_units: &[BadUnit],
    short_runs: &[BadUnit],
    exclusions: impl IntoIterator<Item = (usize, String, DateTime<Utc>, DateTime<Utc>, u64)>,
    ledger: &MonthLedger,
    elapsed: usize,
    max: usize,
) -> Evidence {
    let gaps = match ledger.hours() {
        None => gaps(month, ledger.covered(), elapsed, max),
        Some(hours) => {
            // A minute outside service hours is never missing: it would count for nothing.
            let mut known = hours.minutes().clone();
            known.toggle_range(..);
            known.union_with(ledger.covered());
            gaps(month, &known, elapsed, max)
        }
    };
    Evidence {
        unavailable: unavailable(month, unavailable_units, max),
        excluded: excluded(month, exclusions, max),
        gaps,
        short_runs: unavailable(month, short_runs, max),
    }
}

/// Collects at most `max` items and counts them all.
struct Collector<T> {
    listed: Listed<T>,
    max: usize,
}

impl<T> Collector<T> {
    fn new(max: usize) -> Self {
        Collector {
            listed: Listed::default(),
            max,
        }
    }

    /// Counts one more item, and builds it only when it is among the first `max`: past them an
    /// item is only counted, so a month of ten thousand bad minutes does not turn each into
    /// instants (chrono's date arithmetic was 5% of a year's evaluation) to keep a hundred.
    fn add(&mut self, item: impl FnOnce() -> T) {
        if self.listed.items.len() < self.max {
            self.listed.items.push(item());
        }
        self.listed.total += 1;
    }
}

/// The instant `minute` clock minutes into the month.
fn at(month: &ServiceMonth, minute: u32) -> DateTime<Utc> {
    month.start + TimeDelta::minutes(i64::from(minute))
}

/// Bad units merged into intervals where one ends as the next begins, with their counts summed
/// and their lowest success rate. An interval whose sums would leave 64 bits is closed and the
/// next one begins, so every figure stays exact.
fn unavailable(month: &ServiceMonth, units: &[BadUnit], max: usize) -> Listed<UnavailableInterval> {
    let mut collector = Collector::new(max);
    let mut open: Option<Open> = None;
    for unit in units {
        let rate = Fraction::new(unit.counts.total - unit.counts.failed, unit.counts.total);
        let merged = open
            .as_mut()
            .is_some_and(|interval| interval.extend(unit, rate));
        if !merged {
            if let Some(interval) = open.take() {
                collector.add(|| interval.close(month));
            }
            open = Some(Open {
                start: unit.minutes.start,
                end: unit.minutes.end,
                counts: unit.counts,
                lowest: rate,
            });
        }
    }
    if let Some(interval) = open {
        collector.add(|| interval.close(month));
    }
    collector.listed
}

/// An unavailable interval being merged.
struct Open {
    start: u32,
    end: u32,
    counts: Counts,
    lowest: Fraction,
}

impl Open {
    /// Takes in the unit if it begins where the interval ends and the sums still fit.
    fn extend(&mut self, unit: &BadUnit, rate: Fraction) -> bool {
        if unit.minutes.start != self.end {
            return false;
        }
        let Some(counts) = self.counts.checked_add(unit.counts) else {
            return false;
        };
        self.end = unit.minutes.end;
        self.counts = counts;
        if rate.is_below(self.lowest) {
            self.lowest = rate;
        }
        true
    }

    fn close(self, month: &ServiceMonth) -> UnavailableInterval {
        UnavailableInterval {
            start: at(month, self.start),
            end: at(month, self.end),
            minutes: u64::from(self.end - self.start),
            total: self.counts.total,
            failed: self.counts.failed,
            lowest_success_rate: self.lowest,
        }
    }
}

/// What each excluded outage took out, the earliest first: `exclusions` gives each outage's
/// index, its clause, its window and the units it was credited with.
fn excluded(
    month: &ServiceMonth,
    exclusions: impl IntoIterator<Item = (usize, String, DateTime<Utc>, DateTime<Utc>, u64)>,
    max: usize,
) -> Listed<ExcludedInterval> {
    let mut intervals: Vec<ExcludedInterval> = exclusions
        .into_iter()
        .map(|(outage, clause_id, start, end, units)| ExcludedInterval {
            start: start.max(month.start),
            end: end.min(month.end),
            units,
            outage,
            clause_id,
        })
        .collect();
    intervals.sort_by_key(|interval| (interval.start, interval.end, interval.outage));
    let mut collector = Collector::new(max);
    for interval in intervals {
        collector.add(|| interval);
    }
    collector.listed
}

/// The runs of minutes before minute `elapsed` that no bucket covered.
fn gaps(month: &ServiceMonth, covered: &FixedBitSet, elapsed: usize, max: usize) -> Listed<Gap> {
    let mut collector = Collector::new(max);
    let mut run: Option<(usize, usize)> = None;
    let add = |collector: &mut Collector<Gap>, (start, end): (usize, usize)| {
        collector.add(|| Gap {
            start: at(month, start as u32),
            end: at(month, end as u32),
            minutes: (end - start) as u64,
        });
    };
    for minute in covered.zeroes().take_while(|&minute| minute < elapsed) {
        run = match run {
            Some((start, end)) if end == minute => Some((start, minute + 1)),
            previous => {
                if let Some(gap) = previous {
                    add(&mut collector, gap);
                }
                Some((minute, minute + 1))
            }
        };
    }
    if let Some(gap) = run {
        add(&mut collector, gap);
    }
    collector.listed
}
