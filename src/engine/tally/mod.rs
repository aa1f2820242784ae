//! Closing a month under its policy's method: which units count as unavailable, which an excluded
//! outage took out, what the worst case would be had every minute without data been down, and what
//! the units come to (availability and the budget left).
//!
//! Each measurement method is one module, and [`close`] is the one place that picks it, by the
//! shape the month's ledger was built in:
//!
//! | method | module | units | worst case |
//! |---|---|---|---|
//! | timeslices | `timeslices` | minutes of bad slices | every slice with a silent minute bad |
//! | occurrences | `occurrences` | events | none: the policy's minimum coverage decides |
//!
//! A method module takes its ledger's [`Judged`] data and the [`Closing`] every method gets, pushes
//! the notes its reading of the contract needs, and answers with a [`Closed`] month: the report's
//! bounds, status and evidence read nothing else. A new method is a ledger shape, a module here
//! and one arm in [`close`].
//!
//! Every method credits exclusions the same way ([`Credits`]): an excluded outage takes out every
//! unit it overlaps, and when several excluded outages overlap one, the first given is credited
//! with it, so the units each outage took add up to the month's excluded units.

mod occurrences;
mod timeslices;

use std::ops::Range;

use chrono_tz::Tz;
use fixedbitset::FixedBitSet;

use super::ledger::{Counts, Judged, MonthLedger};
use super::months::ServiceMonth;
use super::report::{Budget, Note, TierBudget, Unit};
use crate::policy::{Fraction, Policy, UpperEdge};

/// An EXCLUDED outage's reach into a month.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Exclusion {
    /// The clock minutes of the month it touches, down to a fraction of a minute at either end.
    pub(crate) minutes: Range<usize>,
}

/// A stretch of units that counts against availability: one bad slice, or one bucket that
/// carried failures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BadUnit {
    /// The clock minutes it covers.
    pub(crate) minutes: Range<u32>,
    /// Its summed attempts and failures.
    pub(crate) counts: Counts,
}

/// What every method closes a month with, besides its ledger.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Closing<'a> {
    /// The month's policy version: its standard and tiers set the budget.
    pub(crate) policy: &'a Policy,
    /// The month, whose contract and clock lengths the units are measured against.
    pub(crate) month: &'a ServiceMonth,
    /// The zone the month was cut in, which notes name.
    pub(crate) zone: Tz,
    /// The excluded outages touching the month, in the order given.
    pub(crate) exclusions: &'a [Exclusion],
    /// The month's clock minutes before `as_of` (all of them once it is over).
    pub(crate) elapsed: usize,
}

/// A closed month's units.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Units that count as unavailable: minutes of bad slices, or failed events.
    pub(crate) bad: u64,
    /// Units excluded outages took out.
    pub(crate) excluded: u64,
    /// Occurrences: events counted (excluded buckets left out). Timeslices: 0.
    pub(crate) events: u64,
    /// Clock minutes some bucket covered.
    pub(crate) covered_minutes: u64,
    /// Clock minutes before the evaluation's `as_of` (all of them once the month is over).
    pub(crate) elapsed_minutes: u64,
    /// Of those, the ones some bucket covered.
    pub(crate) covered_elapsed_minutes: u64,
    /// Timeslices: the bad minutes if every slice with an uncovered minute before `as_of` had
    /// been bad (excluded outages still taking out what they overlap). Occurrences: `None`, as
    /// the volume of the missing minutes cannot be known.
    pub(crate) worst_case_bad: Option<u64>,
    /// Timeslices: slices with some attempts but fewer than the policy's `min_attempts`, judged
    /// available. They are covered, so the worst case does not count them either.
    pub(crate) slices_under_min_attempts: u64,
    /// The bad units, ascending: the evidence of what was unavailable.
    pub(crate) unavailable: Vec<BadUnit>,
    /// The units each exclusion took out, in the order of the exclusions given.
    pub(crate) taken: Vec<u64>,
}

impl Tally {
    /// A tally of a month's coverage, with no unit counted yet.
    fn new(covered: &FixedBitSet, closing: &Closing<'_>) -> Self {
        let elapsed = closing.elapsed.min(covered.len());
        Tally {
            covered_minutes: covered.count_ones(..) as u64,
            elapsed_minutes: elapsed as u64,
            covered_elapsed_minutes: covered.count_ones(..elapsed) as u64,
            taken: vec![0; closing.exclusions.len()],
            ..Tally::default()
        }
    }
}

/// A month's figures under one reading of its data, as its method counts them (compensation
/// makes them a [`super::report::Bound`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reading {
    /// Units that count as unavailable.
    pub(crate) bad_units: u64,
    /// Exact availability.
    pub(crate) availability: Fraction,
}

/// A month closed under its method: what the rest of its report is made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Closed {
    /// The units counted.
    pub(crate) tally: Tally,
    /// What the units count.
    pub(crate) unit: Unit,
    /// The units availability is computed over.
    pub(crate) total_units: u64,
    /// The contract's reading: minutes without data count as available.
    pub(crate) contract: Reading,
    /// The reading had every unit silence could hide been bad; `None` when the method cannot
    /// bound what silence hides.
    pub(crate) worst_case: Option<Reading>,
    /// How many more bad units the month can take.
    pub(crate) budget: Budget,
}

/// Closes a month under the method its ledger was built for.
pub(crate) fn close(ledger: &MonthLedger, closing: &Closing<'_>, notes: &mut Vec<Note>) -> Closed {
    match ledger.judged() {
        Judged::Slices(slices) => timeslices::close(ledger, slices, closing, notes),
        Judged::Events(events) => occurrences::close(ledger, events, closing, notes),
    }
}

/// A month's excluded minutes, and which exclusion each unit they touch is credited to.
struct Credits<'a> {
    /// Minutes some exclusion touches.
    minutes: FixedBitSet,
    exclusions: &'a [Exclusion],
}

impl<'a> Credits<'a> {
    /// The exclusions' minutes, cut to a month of `minutes` clock minutes.
    fn new(exclusions: &'a [Exclusion], minutes: usize) -> Self {
        let mut excluded = FixedBitSet::with_capacity(minutes);
        for exclusion in exclusions {
            excluded.insert_range(exclusion.minutes.start..exclusion.minutes.end.min(minutes));
        }
        Credits {
            minutes: excluded,
            exclusions,
        }
    }

    /// The exclusion a unit covering minutes `range` is credited to (the first given that
    /// overlaps it), or `None` when none touches it.
    fn credited(&self, range: Range<usize>) -> Option<usize> {
        if !self.minutes.contains_any_in_range(range.clone()) {
            return None;
        }
        self.exclusions.iter().position(|exclusion| {
            exclusion.minutes.start < range.end && range.start < exclusion.minutes.end
        })
    }
}

/// Availability of `total` units of which `bad` were bad, floored at 0%.
fn with_bad(total: u64, bad: u64) -> Fraction {
    Fraction::new(total - bad.min(total), total)
}

/// How many more bad units a month of `total` units with `bad` of them bad can take: before it
/// misses the standard, and before it falls into each tier. Every bound is met exactly, as the
/// comparisons of [`Fraction`] are, on whichever side of it the policy puts a month exactly on it:
/// a month of 44,640 minutes at a 99.9% standard met at it may lose 44.
fn budget_in_units(policy: &Policy, total: u64, bad: u64) -> Budget {
    // The most bad units that keep availability out of a band ending at `edge`: at or above its
    // bound, or strictly above it when the band holds the bound.
    let most_bad_outside = |edge: UpperEdge| {
        let scaled = u128::from(edge.bound.units()) * u128::from(total);
        let needed_good = if edge.included {
            scaled / 1_000_000 + 1
        } else {
            scaled.div_ceil(1_000_000)
        };
        // needed_good ≤ total + 1, since the bound is at most 100%.
        total.saturating_sub(needed_good as u64)
    };
    let missed = policy.missed_edge();
    let allowed = most_bad_outside(missed);
    let tiers = policy
        .tiers
        .iter()
        .enumerate()
        .map(|(index, tier)| {
            // A tier pays below the standard only (docs/contract-readings.md, "Compensation").
            let upper = policy.tier_edge(tier).min(missed);
            TierBudget {
                tier: index + 1,
                bad_units_until: (most_bad_outside(upper) + 1).saturating_sub(bad),
            }
        })
        .collect();
    Budget {
        bad_units_allowed: allowed,
        bad_units_remaining: allowed.saturating_sub(bad),
        tiers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ledger::SliceRule;
    use crate::policy::TimesliceRule;

    /// Closes a month the length of `ledger` under IM's standard and tiers: the units and what
    /// exclusions took out do not depend on them.
    fn close(ledger: &MonthLedger, exclusions: &[Exclusion], elapsed: usize) -> Tally {
        let policies = crate::policy::PolicySet::built_in().unwrap();
        let start = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let day = start.date_naive();
        let month = ServiceMonth {
            first_day: day,
            last_day: day,
            start,
            end: start + chrono::TimeDelta::minutes(ledger.covered().len() as i64),
        };
        let closing = Closing {
            policy: policies.get("tencent-im").unwrap(),
            month: &month,
            zone: Tz::UTC,
            exclusions,
            elapsed,
        };
        super::close(ledger, &closing, &mut Vec::new()).tally
    }

    fn rate99() -> TimesliceRule {
        TimesliceRule::SuccessRateBelow("99".parse().unwrap())
    }

    fn counts(total: u64, failed: u64) -> Counts {
        Counts { total, failed }
    }

    fn excluding(minutes: Range<usize>) -> Vec<Exclusion> {
        vec![Exclusion { minutes }]
    }

    #[test]
    fn minute_buckets_are_summed_into_their_unit_before_it_is_judged() {
        let mut ledger = MonthLedger::slices(60, 5, rate99());
        // Minute 0 alone is 50% successful, but the unit sums to 396/400 = 99%: available.
        ledger.add(0, 1, counts(2, 1)).unwrap();
        for minute in 1..5 {
            ledger.add(minute, 1, counts(99, 0)).unwrap();
        }
        // The next unit sums to 98%: all 5 of its minutes count.
        ledger.add(5, 5, counts(100, 2)).unwrap();
        let tally = close(&ledger, &[], 60);
        assert_eq!(tally.bad, 5);
        assert_eq!(tally.covered_minutes, 10);
        assert_eq!(
            tally.unavailable,
            [BadUnit {
                minutes: 5..10,
                counts: counts(100, 2)
            }]
        );
        // Every one of the ten silent units might have been bad.
        assert_eq!(tally.worst_case_bad, Some(5 + 50));
        // Before `as_of` at minute 12, only the unit 10-14 was silent.
        assert_eq!(close(&ledger, &[], 12).worst_case_bad, Some(10));
    }

    #[test]
    fn counts_beyond_32_bits_are_kept_whole() {
        let mut ledger = MonthLedger::events(60);
        let big = u64::from(u32::MAX) + 10;
        ledger.add(0, 1, counts(big, big - 1)).unwrap();
        ledger.add(1, 1, counts(7, 1)).unwrap();
        let tally = close(&ledger, &excluding(1..2), 60);
        assert_eq!((tally.events, tally.bad, tally.excluded), (big, big - 1, 7));
        assert_eq!(tally.taken, [7]);
        assert_eq!(tally.worst_case_bad, None);
    }

    #[test]
    fn an_excluded_minute_takes_out_the_whole_bucket_it_touches() {
        let mut ledger = MonthLedger::events(180);
        ledger.add(0, 60, counts(1000, 10)).unwrap();
        ledger.add(60, 60, counts(500, 500)).unwrap();
        ledger.add(150, 1, counts(7, 1)).unwrap();
        let tally = close(&ledger, &excluding(119..120), 180);
        assert_eq!((tally.events, tally.bad, tally.excluded), (1007, 11, 500));
        let plain = close(&ledger, &[], 180);
        assert_eq!((plain.events, plain.bad, plain.excluded), (1507, 511, 0));
        assert_eq!(plain.unavailable.len(), 3);
        assert_eq!(plain.covered_elapsed_minutes, 121);
    }

    #[test]
    fn the_first_of_two_overlapping_exclusions_is_credited() {
        let mut ledger = MonthLedger::slices(60, 1, TimesliceRule::AllFailed);
        for minute in 0..10 {
            ledger.add(minute, 1, counts(1, 1)).unwrap();
        }
        let exclusions = [Exclusion { minutes: 5..20 }, Exclusion { minutes: 0..8 }];
        let tally = close(&ledger, &exclusions, 60);
        assert_eq!((tally.bad, tally.excluded), (0, 10));
        assert_eq!(tally.taken, [5, 5]);
        // Silent minutes inside an exclusion are taken out in the worst case too.
        assert_eq!(tally.worst_case_bad, Some(60 - 20));
    }

    #[test]
    fn slices_under_min_attempts_are_available_counted_and_covered() {
        let rule = SliceRule {
            bad: rate99(),
            min_attempts: 10,
        };
        let mut ledger = MonthLedger::slices(60, 5, rule);
        // Slice 0: 3 attempts, all failed, in one bucket: too few to judge.
        ledger.add(0, 5, counts(3, 3)).unwrap();
        // Slice 1: 100 attempts at 98%: bad.
        ledger.add(5, 5, counts(100, 2)).unwrap();
        // Slice 2: five one-minute buckets summing to 5 failed attempts: too few.
        for minute in 10..15 {
            ledger.add(minute, 1, counts(1, 1)).unwrap();
        }
        // Slice 3: one minute of 2 failed attempts, then silence: too few so far.
        ledger.add(15, 1, counts(2, 2)).unwrap();
        let tally = close(&ledger, &[], 20);
        assert_eq!(tally.bad, 5);
        assert_eq!(tally.slices_under_min_attempts, 3);
        // Slices 0 and 2 are covered, so even the worst case reads them as available; slice 3's
        // silent minutes might have carried enough failed attempts.
        assert_eq!(tally.worst_case_bad, Some(5 + 5));

        // With the default minimum the same data has four bad slices and none under it.
        let mut ledger = MonthLedger::slices(60, 5, rate99());
        ledger.add(0, 5, counts(3, 3)).unwrap();
        ledger.add(15, 1, counts(2, 2)).unwrap();
        let tally = close(&ledger, &[], 20);
        assert_eq!((tally.bad, tally.slices_under_min_attempts), (10, 0));
    }
}
