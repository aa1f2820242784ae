//! What one service month remembers of the buckets it was given.
//!
//! Memory is a function of the month's length only. Timeslices keep one bit per minute (which
//! minutes a bucket covered) and one bit per slice (bad or not), plus per-slice sums only when
//! buckets finer than a slice arrive (TRTC's 1-minute buckets in 5-minute units). Occurrences keep
//! a log of the month's buckets, so that an outage excluded at the end can still take out exactly
//! the buckets it overlaps; buckets never overlap, so the log never holds more records than the
//! month has minutes.

mod events;
mod fast;

use fixedbitset::FixedBitSet;

use crate::policy::{Method, TimesliceRule};
use events::EventLog;

/// Attempts and failures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) total: u64,
    pub(crate) failed: u64,
}

impl Counts {
    fn checked_add(self, other: Counts) -> Option<Counts> {
        Some(Counts {
            total: self.total.checked_add(other.total)?,
            failed: self.failed.checked_add(other.failed)?,
        })
    }
}

/// Why a bucket that lies inside the month does not fit it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Misfit {
    /// Its length does not divide the slice length.
    DoesNotDivideSlice,
    /// It starts in one slice and ends in the next; carries the slice's first minute.
    CrossesSlice { slice_start_minute: u32 },
    /// It covers a minute another bucket already covered.
    Overlaps,
    /// A sum left the 64-bit range.
    CountOverflow,
}

/// One month's record.
#[derive(Clone, Debug)]
pub(crate) struct MonthLedger {
    /// Minutes some bucket covered: overlap detection and coverage.
    covered: FixedBitSet,
    store: Store,
}

#[derive(Clone, Debug)]
enum Store {
    Slices {
        slice_minutes: u32,
        rule: TimesliceRule,
        /// Slices judged bad from one bucket that spanned the whole slice.
        bad: FixedBitSet,
        /// Sums of buckets shorter than a slice, judged at the end; empty until the first such
        /// bucket arrives.
        partial: Vec<Counts>,
    },
    Events {
        /// The month's buckets.
        log: EventLog,
        /// Running sums, so overflow is refused when the bucket arrives, not at the end.
        sum: Counts,
    },
}

/// A month's result before availability is computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Timeslices: minutes of bad slices not excluded. Occurrences: failed events not excluded.
    pub(crate) bad: u64,
    /// Timeslices: minutes of bad slices an excluded outage overlapped. Occurrences: events of
    /// buckets an excluded outage overlapped.
    pub(crate) excluded: u64,
    /// Occurrences only: events counted (excluded buckets left out).
    pub(crate) events: u64,
    /// Minutes some bucket covered.
    pub(crate) covered_minutes: u64,
}

impl MonthLedger {
    /// An empty ledger for a month of `minutes` clock minutes, shaped by the policy's method.
    pub(crate) fn for_method(method: Method, minutes: u32) -> Self {
        match method {
            Method::Timeslices {
                slice_minutes,
                bad_slice,
            } => MonthLedger::slices(minutes, slice_minutes, bad_slice),
            Method::Occurrences => MonthLedger::events(minutes),
        }
    }

    /// A ledger for a timeslice month of `minutes` clock minutes.
    pub(crate) fn slices(minutes: u32, slice_minutes: u32, rule: TimesliceRule) -> Self {
        MonthLedger {
            covered: FixedBitSet::with_capacity(minutes as usize),
            store: Store::Slices {
                slice_minutes,
                rule,
                bad: FixedBitSet::with_capacity((minutes / slice_minutes) as usize),
                partial: Vec::new(),
            },
        }
    }

    /// A ledger for an occurrences month of `minutes` clock minutes.
    pub(crate) fn events(minutes: u32) -> Self {
        MonthLedger {
            covered: FixedBitSet::with_capacity(minutes as usize),
            store: Store::Events {
                log: EventLog::default(),
                sum: Counts::default(),
            },
        }
    }

    fn minutes(&self) -> usize {
        self.covered.len()
    }

    /// Records a bucket covering minutes `[minute, minute + span)` of the month. The caller has
    /// checked that the range lies inside the month and that `failed <= total`.
    pub(crate) fn add(&mut self, minute: u32, span: u32, counts: Counts) -> Result<(), Misfit> {
        let range = minute as usize..(minute + span) as usize;
        if let Store::Slices { slice_minutes, .. } = self.store {
            if slice_minutes % span != 0 {
                return Err(Misfit::DoesNotDivideSlice);
            }
            if minute % slice_minutes + span > slice_minutes {
                return Err(Misfit::CrossesSlice {
                    slice_start_minute: minute - minute % slice_minutes,
                });
            }
        }
        if self.covered.contains_any_in_range(range.clone()) {
            return Err(Misfit::Overlaps);
        }
        match &mut self.store {
            Store::Slices {
                slice_minutes,
                rule,
                bad,
                partial,
            } => {
                let slice = (minute / *slice_minutes) as usize;
                if span == *slice_minutes {
                    if rule.is_bad(counts.total, counts.failed) {
                        bad.insert(slice);
                    }
                } else {
                    if partial.is_empty() {
                        partial.resize(bad.len(), Counts::default());
                    }
                    partial[slice] = partial[slice]
                        .checked_add(counts)
                        .ok_or(Misfit::CountOverflow)?;
                }
            }
            Store::Events { log, sum } => {
                *sum = sum.checked_add(counts).ok_or(Misfit::CountOverflow)?;
                log.reserve_month(self.covered.len());
                log.push(minute, span, counts);
            }
        }
        self.covered.insert_range(range);
        Ok(())
    }

    /// Closes the month. `excluded_minutes` marks the clock minutes an EXCLUDED outage overlapped.
    pub(crate) fn tally(&self, excluded_minutes: &FixedBitSet) -> Tally {
        let covered_minutes = self.covered.count_ones(..) as u64;
        match &self.store {
            Store::Slices {
                slice_minutes,
                rule,
                bad,
                partial,
            } => {
                let width = *slice_minutes as usize;
                let mut bad_slices = bad.clone();
                for (slice, counts) in partial.iter().enumerate() {
                    if rule.is_bad(counts.total, counts.failed) {
                        bad_slices.insert(slice);
                    }
                }
                let mut tally = Tally {
                    covered_minutes,
                    ..Tally::default()
                };
                for slice in bad_slices.ones() {
                    let minutes = slice * width..(slice + 1) * width;
                    if excluded_minutes.contains_any_in_range(minutes) {
                        tally.excluded += u64::from(*slice_minutes);
                    } else {
                        tally.bad += u64::from(*slice_minutes);
                    }
                }
                tally
            }
            Store::Events { log, sum } => {
                if excluded_minutes.is_clear() {
                    return Tally {
                        bad: sum.failed,
                        excluded: 0,
                        events: sum.total,
                        covered_minutes,
                    };
                }
                let mut tally = Tally {
                    covered_minutes,
                    ..Tally::default()
                };
                for (minute, span, counts) in log.iter() {
                    let minutes = minute as usize..(minute + span) as usize;
                    if excluded_minutes.contains_any_in_range(minutes) {
                        tally.excluded += counts.total;
                    } else {
                        tally.events += counts.total;
                        tally.bad += counts.failed;
                    }
                }
                tally
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate99() -> TimesliceRule {
        TimesliceRule::SuccessRateBelow("99".parse().unwrap())
    }

    fn counts(total: u64, failed: u64) -> Counts {
        Counts { total, failed }
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
        let tally = ledger.tally(&FixedBitSet::with_capacity(60));
        assert_eq!(tally.bad, 5);
        assert_eq!(tally.covered_minutes, 10);
    }

    #[test]
    fn misfits_are_refused() {
        let mut ledger = MonthLedger::slices(60, 5, rate99());
        assert_eq!(
            ledger.add(3, 5, counts(1, 0)),
            Err(Misfit::CrossesSlice {
                slice_start_minute: 0
            })
        );
        assert_eq!(
            ledger.add(0, 2, counts(1, 0)),
            Err(Misfit::DoesNotDivideSlice)
        );
        ledger.add(0, 5, counts(1, 0)).unwrap();
        assert_eq!(ledger.add(4, 1, counts(1, 0)), Err(Misfit::Overlaps));
        ledger.add(5, 1, counts(u64::MAX, 0)).unwrap();
        assert_eq!(ledger.add(6, 1, counts(1, 0)), Err(Misfit::CountOverflow));
    }

    #[test]
    fn counts_beyond_32_bits_are_kept_whole() {
        let mut ledger = MonthLedger::events(60);
        let big = u64::from(u32::MAX) + 10;
        ledger.add(0, 1, counts(big, big - 1)).unwrap();
        ledger.add(1, 1, counts(7, 1)).unwrap();
        let mut excluded = FixedBitSet::with_capacity(60);
        excluded.insert(1);
        let tally = ledger.tally(&excluded);
        assert_eq!((tally.events, tally.bad, tally.excluded), (big, big - 1, 7));
    }

    #[test]
    fn an_excluded_minute_takes_out_the_whole_bucket_it_touches() {
        let mut ledger = MonthLedger::events(180);
        ledger.add(0, 60, counts(1000, 10)).unwrap();
        ledger.add(60, 60, counts(500, 500)).unwrap();
        ledger.add(150, 1, counts(7, 1)).unwrap();
        let mut excluded = FixedBitSet::with_capacity(180);
        excluded.insert(119);
        let tally = ledger.tally(&excluded);
        assert_eq!((tally.events, tally.bad, tally.excluded), (1007, 11, 500));
        let plain = ledger.tally(&FixedBitSet::with_capacity(180));
        assert_eq!((plain.events, plain.bad, plain.excluded), (1507, 511, 0));
    }
}
