//! Closing a month: which units count as unavailable, which an excluded outage took out, and what
//! the worst case would be if every minute without data had been down.
//!
//! Units are the policy's: minutes of bad slices under timeslices, events under occurrences. An
//! excluded outage takes out every bad slice (timeslices) or bucket (occurrences) it overlaps;
//! when several excluded outages overlap one, the first given is credited with it, so the units
//! each outage took add up to the month's excluded units.

use std::ops::Range;

use fixedbitset::FixedBitSet;

use super::ledger::{Counts, Judged, MonthLedger};

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
    /// The bad units, ascending.
    pub(crate) unavailable: Vec<BadUnit>,
    /// The units each exclusion took out, in the order of the exclusions given.
    pub(crate) taken: Vec<u64>,
}

/// Closes a month whose first `elapsed` clock minutes lie before `as_of`.
pub(crate) fn close(ledger: &MonthLedger, exclusions: &[Exclusion], elapsed: usize) -> Tally {
    let covered = ledger.covered();
    let minutes = covered.len();
    let elapsed = elapsed.min(minutes);
    let mut excluded_minutes = FixedBitSet::with_capacity(minutes);
    for exclusion in exclusions {
        excluded_minutes.insert_range(exclusion.minutes.start..exclusion.minutes.end.min(minutes));
    }
    let credited = |range: Range<usize>| {
        if !excluded_minutes.contains_any_in_range(range.clone()) {
            return None;
        }
        exclusions.iter().position(|exclusion| {
            exclusion.minutes.start < range.end && range.start < exclusion.minutes.end
        })
    };
    let mut tally = Tally {
        covered_minutes: covered.count_ones(..) as u64,
        elapsed_minutes: elapsed as u64,
        covered_elapsed_minutes: covered.count_ones(..elapsed) as u64,
        taken: vec![0; exclusions.len()],
        ..Tally::default()
    };
    match ledger.judged() {
        Judged::Slices {
            slice_minutes,
            bad,
            under_min_attempts,
        } => {
            tally.slices_under_min_attempts = under_min_attempts;
            let width = slice_minutes as usize;
            let mut bad_slices = FixedBitSet::with_capacity(minutes / width);
            for (slice, counts) in bad {
                let range = slice as usize * width..(slice as usize + 1) * width;
                bad_slices.insert(slice as usize);
                match credited(range.clone()) {
                    Some(outage) => {
                        tally.excluded += u64::from(slice_minutes);
                        tally.taken[outage] += u64::from(slice_minutes);
                    }
                    None => {
                        tally.bad += u64::from(slice_minutes);
                        tally.unavailable.push(BadUnit {
                            minutes: range.start as u32..range.end as u32,
                            counts,
                        });
                    }
                }
            }
            // The worst case: a slice with a minute of silence before `as_of` might have been
            // bad, and a bad slice costs all of its minutes.
            let mut worst = tally.bad;
            let mut last_slice = None;
            for minute in covered.zeroes().take_while(|&minute| minute < elapsed) {
                let slice = minute / width;
                if last_slice == Some(slice) || bad_slices.contains(slice) {
                    continue;
                }
                last_slice = Some(slice);
                if credited(slice * width..(slice + 1) * width).is_none() {
                    worst += u64::from(slice_minutes);
                }
            }
            tally.worst_case_bad = Some(worst);
        }
        Judged::Events { sum, failing } => {
            if exclusions.is_empty() {
                tally.events = sum.total;
                tally.bad = sum.failed;
                tally.unavailable = failing
                    .into_iter()
                    .map(|record| BadUnit {
                        minutes: record.minute..record.minute + record.span,
                        counts: record.counts,
                    })
                    .collect();
                return tally;
            }
            // Exclusions need every bucket: each one an excluded outage touches leaves the count.
            for record in ledger.log().in_order() {
                let range = record.minute as usize..(record.minute + record.span) as usize;
                match credited(range.clone()) {
                    Some(outage) => {
                        tally.excluded += record.counts.total;
                        tally.taken[outage] += record.counts.total;
                    }
                    None => {
                        tally.events += record.counts.total;
                        tally.bad += record.counts.failed;
                        if record.counts.failed > 0 {
                            tally.unavailable.push(BadUnit {
                                minutes: range.start as u32..range.end as u32,
                                counts: record.counts,
                            });
                        }
                    }
                }
            }
        }
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ledger::SliceRule;
    use crate::policy::TimesliceRule;

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
