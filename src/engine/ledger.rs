//! What one service month remembers of the buckets it was given.
//!
//! Memory is a function of the month's length only. Timeslices keep one bit per minute (which
//! minutes a bucket covered) and one bit per slice (bad or not), plus per-slice sums only when
//! buckets finer than a slice arrive (TRTC's 1-minute buckets in 5-minute units). Occurrences keep
//! a log of the month's buckets, so that an outage excluded at the end can still take out exactly
//! the buckets it overlaps; buckets never overlap, so the log never holds more records than the
//! month has minutes.

use fixedbitset::FixedBitSet;

use crate::policy::TimesliceRule;

/// Attempts and failures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: u64,
    pub failed: u64,
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
pub enum Misfit {
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
pub struct MonthLedger {
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

/// The buckets of an occurrences month, 16 bytes each: counts that fit 32 bits (all real ones)
/// go in the compact list, the rare wider ones in a list of their own, so the record stays small
/// without ever truncating a count.
#[derive(Clone, Debug, Default)]
struct EventLog {
    compact: Vec<CompactBucket>,
    wide: Vec<(u32, u32, Counts)>,
}

#[derive(Clone, Copy, Debug)]
struct CompactBucket {
    minute: u32,
    span: u32,
    total: u32,
    failed: u32,
}

impl EventLog {
    /// Reserves, once, room for as many buckets as the month has minutes: the most it can ever
    /// hold, since buckets never overlap. The list then never moves, and pages it never touches
    /// cost nothing.
    fn reserve_month(&mut self, minutes: usize) {
        if self.compact.capacity() == 0 {
            self.compact.reserve_exact(minutes);
        }
    }

    #[inline(always)]
    fn push(&mut self, minute: u32, span: u32, counts: Counts) {
        match u32::try_from(counts.total) {
            // failed <= total, so it fits too.
            Ok(total) => self.compact.push(CompactBucket {
                minute,
                span,
                total,
                failed: counts.failed as u32,
            }),
            Err(_) => self.wide.push((minute, span, counts)),
        }
    }

    /// Every bucket as (first minute, minutes spanned, counts).
    fn iter(&self) -> impl Iterator<Item = (u32, u32, Counts)> + '_ {
        let compact = self.compact.iter().map(|b| {
            let counts = Counts {
                total: u64::from(b.total),
                failed: u64::from(b.failed),
            };
            (b.minute, b.span, counts)
        });
        compact.chain(self.wide.iter().copied())
    }
}

/// A month's result before availability is computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Timeslices: minutes of bad slices not excluded. Occurrences: failed events not excluded.
    pub bad: u64,
    /// Timeslices: minutes of bad slices an excluded outage overlapped. Occurrences: events of
    /// buckets an excluded outage overlapped.
    pub excluded: u64,
    /// Occurrences only: events counted (excluded buckets left out).
    pub events: u64,
    /// Minutes some bucket covered.
    pub covered_minutes: u64,
}

impl MonthLedger {
    /// A ledger for a timeslice month of `minutes` clock minutes.
    pub fn slices(minutes: u32, slice_minutes: u32, rule: TimesliceRule) -> Self {
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
    pub fn events(minutes: u32) -> Self {
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
    pub fn add(&mut self, minute: u32, span: u32, counts: Counts) -> Result<(), Misfit> {
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

    /// Adds the leading rows of a column batch that take the fast path, and returns how many it
    /// took. It stops at the first row that needs the careful path (outside this month, off a
    /// minute, `failed > total`, overlapping, a misfit, an overflow, or a shape without a fast
    /// path); the caller sends that row through [`MonthLedger::add`], which accepts it or says
    /// exactly why not. Every check of a row happens before anything is written for it.
    ///
    /// This is the hot path of the service: per row an offset, a few comparisons, one or two bit
    /// operations and two additions, with the slice and bucket lengths as constants.
    pub fn add_run(
        &mut self,
        month_start: i64,
        span: u32,
        starts: &[i64],
        totals: &[u64],
        failed: &[u64],
    ) -> usize {
        let minutes = self.minutes();
        let MonthLedger { covered, store } = self;
        let run = Run {
            covered: covered.as_mut_slice(),
            minutes,
            month_start,
            starts,
            totals,
            failed,
        };
        match (store, span) {
            (
                Store::Slices {
                    slice_minutes: 1,
                    rule,
                    bad,
                    ..
                },
                1,
            ) => run.whole_slices::<1>(*rule, bad),
            (
                Store::Slices {
                    slice_minutes: 5,
                    rule,
                    bad,
                    ..
                },
                5,
            ) => run.whole_slices::<5>(*rule, bad),
            (
                Store::Slices {
                    slice_minutes: 5,
                    bad,
                    partial,
                    ..
                },
                1,
            ) => {
                if partial.is_empty() {
                    partial.resize(bad.len(), Counts::default());
                }
                run.minutes_into_slices::<5>(partial)
            }
            (Store::Events { log, sum }, 1) => run.event_minutes(log, sum),
            _ => 0,
        }
    }

    /// Closes the month. `excluded_minutes` marks the clock minutes an EXCLUDED outage overlapped.
    pub fn tally(&self, excluded_minutes: &FixedBitSet) -> Tally {
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

/// One fast-path pass over a batch's rows within one month.
struct Run<'a> {
    covered: &'a mut [usize],
    minutes: usize,
    month_start: i64,
    starts: &'a [i64],
    totals: &'a [u64],
    failed: &'a [u64],
}

impl Run<'_> {
    /// Offers each row, in order, to `accept` with its first minute and counts, as long as the row
    /// is a `SPAN`-minute bucket inside the month, on a whole minute, with `failed <= total`, and
    /// `accept` takes it. Returns how many rows were taken.
    #[inline(always)]
    fn each<const SPAN: usize>(
        self,
        mut accept: impl FnMut(&mut [usize], usize, Counts) -> bool,
    ) -> usize {
        let Some(room) = self.minutes.checked_sub(SPAN) else {
            return 0;
        };
        let last_offset = (room * 60) as u64;
        let rows = self.starts.iter().zip(self.totals).zip(self.failed);
        let mut taken = 0;
        for ((&start, &total), &failed) in rows {
            let offset = start.wrapping_sub(self.month_start);
            // A negative offset wraps to a huge one, so one comparison bounds both ends.
            if offset as u64 > last_offset || offset % 60 != 0 || failed > total {
                break;
            }
            if !accept(
                self.covered,
                (offset / 60) as usize,
                Counts { total, failed },
            ) {
                break;
            }
            taken += 1;
        }
        taken
    }

    /// Buckets exactly one `SLICE` long: judged at once, one bit per slice.
    fn whole_slices<const SLICE: usize>(self, rule: TimesliceRule, bad: &mut FixedBitSet) -> usize {
        self.each::<SLICE>(|covered, minute, counts| {
            if minute % SLICE != 0 || !take::<SLICE>(covered, minute) {
                return false;
            }
            if rule.is_bad(counts.total, counts.failed) {
                bad.insert(minute / SLICE);
            }
            true
        })
    }

    /// One-minute buckets summed into `SLICE`-minute slices, judged when the month closes.
    fn minutes_into_slices<const SLICE: usize>(self, partial: &mut [Counts]) -> usize {
        self.each::<1>(|covered, minute, counts| {
            let slot = &mut partial[minute / SLICE];
            let Some(sum) = slot.checked_add(counts) else {
                return false;
            };
            if !take::<1>(covered, minute) {
                return false;
            }
            *slot = sum;
            true
        })
    }

    /// One-minute buckets of an occurrences month.
    fn event_minutes(self, log: &mut EventLog, sum: &mut Counts) -> usize {
        log.reserve_month(self.minutes);
        self.each::<1>(|covered, minute, counts| {
            let Some(new_sum) = sum.checked_add(counts) else {
                return false;
            };
            if !take::<1>(covered, minute) {
                return false;
            }
            *sum = new_sum;
            log.push(minute as u32, 1, counts);
            true
        })
    }
}

/// Marks minutes `[minute, minute + SPAN)` covered unless any of them already is; `SPAN` is at
/// most 64, so the range touches at most two words.
#[inline(always)]
fn take<const SPAN: usize>(covered: &mut [usize], minute: usize) -> bool {
    const BITS: usize = usize::BITS as usize;
    let mask = |len: usize| {
        if len >= BITS {
            usize::MAX
        } else {
            (1usize << len) - 1
        }
    };
    let (word, bit) = (minute / BITS, minute % BITS);
    let low = mask(SPAN.min(BITS - bit)) << bit;
    let rest = SPAN.saturating_sub(BITS - bit);
    let high = mask(rest);
    if covered[word] & low != 0 || (rest > 0 && covered[word + 1] & high != 0) {
        return false;
    }
    covered[word] |= low;
    if rest > 0 {
        covered[word + 1] |= high;
    }
    true
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
