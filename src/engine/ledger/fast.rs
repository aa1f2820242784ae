//! The fast path: the leading rows of a batch that fall in one month (the month the careful path
//! placed a bucket in last: see `placement`), with no per-row branching beyond what the checks
//! need.

use fixedbitset::FixedBitSet;

use super::log::{BucketLog, Record};
use super::{Counts, MonthLedger, SliceRule, Store};
use crate::engine::months::SECONDS_PER_MINUTE;

impl MonthLedger {
    /// Adds the leading rows of a column batch that take the fast path, and returns how many it
    /// took. It stops at the first row that needs the careful path (outside this month, at or
    /// after minute `horizon` (the evaluation's `as_of`), off a minute, `failed > total`,
    /// overlapping, a misfit, an overflow, or a shape without a fast path); the caller sends that
    /// row through the careful path, which accepts it, ignores it or says exactly why not. Every
    /// check of a row happens before anything is written for it.
    ///
    /// This is the hot path of the service: per row an offset, a few comparisons, one or two bit
    /// operations, two additions and a few bytes of log, with the slice and bucket lengths as
    /// constants.
    pub(crate) fn add_leading_rows(
        &mut self,
        month_start: i64,
        horizon: usize,
        span: u32,
        rows: (&[i64], &[u64], &[u64]),
    ) -> usize {
        if !self.fast_path {
            return 0;
        }
        let minutes = self.minutes();
        let MonthLedger {
            covered,
            log,
            store,
            ..
        } = self;
        let (starts, totals, failed) = rows;
        let pass = Pass {
            covered: covered.as_mut_slice(),
            log,
            minutes,
            horizon: horizon.min(minutes),
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
                    bad_counts,
                    ..
                },
                1,
            ) => pass.whole_slices::<1>(*rule, bad, bad_counts),
            (
                Store::Slices {
                    slice_minutes: 5,
                    rule,
                    bad,
                    bad_counts,
                    ..
                },
                5,
            ) => pass.whole_slices::<5>(*rule, bad, bad_counts),
            (
                Store::Slices {
                    slice_minutes: slice_minutes @ (5 | 60),
                    bad,
                    partial,
                    ..
                },
                1,
            ) => {
                if partial.is_empty() {
                    partial.resize(bad.len(), Counts::default());
                }
                // Hourly: Azure Storage's mean of hourly error rates, one-minute buckets.
                if *slice_minutes == 5 {
                    pass.minutes_into_slices::<5>(partial)
                } else {
                    pass.minutes_into_slices::<60>(partial)
                }
            }
            (Store::Events { sum, failing }, 1) => pass.event_minutes(sum, failing),
            _ => 0,
        }
    }
}

/// One fast-path pass over a batch's rows within one month.
struct Pass<'a> {
    covered: &'a mut [usize],
    log: &'a mut BucketLog,
    minutes: usize,
    /// Rows starting at or after this minute are left to the careful path.
    horizon: usize,
    month_start: i64,
    starts: &'a [i64],
    totals: &'a [u64],
    failed: &'a [u64],
}

impl Pass<'_> {
    /// Offers each row, in order, to `accept` with its first minute and counts, as long as the row
    /// is a `SPAN`-minute bucket inside the month that starts before the horizon, on a whole
    /// minute, with `failed <= total`, and `accept` takes it. Each row taken is logged. Returns how
    /// many rows were taken.
    #[inline(always)]
    fn each<const SPAN: usize>(
        self,
        mut accept: impl FnMut(&mut [usize], usize, Counts) -> bool,
    ) -> usize {
        let Some(room) = self.minutes.checked_sub(SPAN) else {
            return 0;
        };
        let Some(before_horizon) = self.horizon.checked_sub(1) else {
            return 0;
        };
        let last_offset = room.min(before_horizon) as u64 * SECONDS_PER_MINUTE.unsigned_abs();
        let rows = self.starts.iter().zip(self.totals).zip(self.failed);
        let mut log = self.log.writer();
        let mut taken = 0;
        for ((&start, &total), &failed) in rows {
            let offset = start.wrapping_sub(self.month_start);
            // A negative offset wraps to a huge one, so one comparison bounds both ends.
            if offset as u64 > last_offset || offset % SECONDS_PER_MINUTE != 0 || failed > total {
                break;
            }
            let minute = (offset / SECONDS_PER_MINUTE) as usize;
            let counts = Counts { total, failed };
            if !accept(self.covered, minute, counts) {
                break;
            }
            log.push(minute as u32, SPAN as u32, counts);
            taken += 1;
        }
        taken
    }

    /// Buckets exactly one `SLICE` long: judged at once, one bit per slice, and the counts of a
    /// bad one kept as its evidence.
    fn whole_slices<const SLICE: usize>(
        self,
        rule: SliceRule,
        bad: &mut FixedBitSet,
        bad_counts: &mut Vec<(u32, Counts)>,
    ) -> usize {
        self.each::<SLICE>(|covered, minute, counts| {
            if minute % SLICE != 0 || !take::<SLICE>(covered, minute) {
                return false;
            }
            if rule.is_bad(counts.total, counts.failed) {
                bad.insert(minute / SLICE);
                bad_counts.push(((minute / SLICE) as u32, counts));
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
    fn event_minutes(self, sum: &mut Counts, failing: &mut Vec<Record>) -> usize {
        self.each::<1>(|covered, minute, counts| {
            let Some(new_sum) = sum.checked_add(counts) else {
                return false;
            };
            if !take::<1>(covered, minute) {
                return false;
            }
            *sum = new_sum;
            if counts.failed > 0 {
                failing.push(Record {
                    minute: minute as u32,
                    span: 1,
                    counts,
                });
            }
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
