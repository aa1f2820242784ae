//! The fast path: the leading rows of a batch that fall in one month (the month the careful path
//! placed a bucket in last: see `placement`), with no per-row branching beyond what the checks
//! need.
//!
//! Rows that follow each other, as every client sends them, go 64 at a time: checked in one
//! branch-free pass, their minutes marked a word at a time, judged into a 64-bit mask and logged
//! as one extension of the month's run. Any block that fails a check goes row by row, which stops
//! at exactly the row the careful path must see, so both ways take the same rows; the property
//! tests compare them with the careful path on ascending and on shuffled input.

use fixedbitset::FixedBitSet;
use multiversion::multiversion;

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
    /// This is the hot path of the service, with the slice and bucket lengths as constants.
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

/// Rows the fast path takes at once when they follow each other: 64 one-minute buckets are one
/// word of the coverage bits.
const BLOCK: usize = 64;

/// What a month's shape does with the rows the fast path takes: one at a time, or a block of
/// [`BLOCK`] rows that follow each other. Either checks everything the shape needs (alignment,
/// sums that must not overflow) before it keeps anything, and says no having changed nothing.
trait Shape {
    /// Takes one row covering `SPAN` minutes from `minute`, marking its minutes covered unless
    /// another bucket covered one of them.
    fn row<const SPAN: usize>(
        &mut self,
        covered: &mut [usize],
        minute: usize,
        counts: Counts,
    ) -> bool;

    /// Takes `BLOCK` rows, each `SPAN` minutes long, the first from `minute` and each starting
    /// where the one before it ended, all inside the month with `failed <= total`; the caller has
    /// checked that no other bucket covered their minutes and marks them when this says yes.
    /// `high` is the or of every count of the block.
    fn block<const SPAN: usize>(
        &mut self,
        minute: usize,
        totals: &[u64; BLOCK],
        failed: &[u64; BLOCK],
        high: u64,
    ) -> bool;
}

impl Pass<'_> {
    /// Offers the rows, in order, to `shape` as long as each is a `SPAN`-minute bucket inside the
    /// month that starts before the horizon, on a whole minute, with `failed <= total`, and
    /// `shape` takes it. Each row taken is logged. Returns how many rows were taken.
    ///
    /// Rows that follow each other (what every client sends) go [`BLOCK`] at a time: one check of
    /// the first row's place and of the last's, one comparison per row that it starts where the
    /// one before it ended (which the compiler vectorises), one test of the coverage words, and
    /// the log's run extended once. A block that fails any check goes row by row, which stops at
    /// exactly the row the careful path must see, so both ways take the same rows.
    #[inline(always)]
    fn each<const SPAN: usize>(self, mut shape: impl Shape) -> usize {
        let Some(room) = self.minutes.checked_sub(SPAN) else {
            return 0;
        };
        let Some(before_horizon) = self.horizon.checked_sub(1) else {
            return 0;
        };
        let minute_seconds = SECONDS_PER_MINUTE.unsigned_abs();
        let last_offset = room.min(before_horizon) as u64 * minute_seconds;
        let step = SPAN as u64 * minute_seconds;
        let rows = self.starts.len();
        let mut log = self.log.writer();
        let mut taken = 0;
        loop {
            while let (Some(starts), Some(totals), Some(failed)) = (
                block(self.starts, taken),
                block(self.totals, taken),
                block(self.failed, taken),
            ) {
                let offset = starts[0].wrapping_sub(self.month_start) as u64;
                // A negative offset wraps to a huge one, so one comparison bounds both ends; the
                // last row's offset cannot wrap, as the first's is below a month's seconds.
                if offset > last_offset
                    || offset + step * (BLOCK as u64 - 1) > last_offset
                    || !offset.is_multiple_of(minute_seconds)
                {
                    break;
                }
                let Some(high) = follow_each_other(starts, totals, failed, step as i64) else {
                    break;
                };
                let minute = (offset / minute_seconds) as usize;
                let end = minute + BLOCK * SPAN;
                if !range_is_clear(self.covered, minute, end)
                    || !shape.block::<SPAN>(minute, totals, failed, high)
                {
                    break;
                }
                mark_range(self.covered, minute, end);
                log.push_block(minute as u32, SPAN as u32, totals, failed);
                taken += BLOCK;
            }
            // Row by row, up to where the next block would start.
            let stop = (taken + BLOCK).min(rows);
            while taken < stop {
                let (start, total, failed) =
                    (self.starts[taken], self.totals[taken], self.failed[taken]);
                let offset = start.wrapping_sub(self.month_start);
                if offset as u64 > last_offset || offset % SECONDS_PER_MINUTE != 0 || failed > total
                {
                    return taken;
                }
                let minute = (offset / SECONDS_PER_MINUTE) as usize;
                let counts = Counts { total, failed };
                if !shape.row::<SPAN>(self.covered, minute, counts) {
                    return taken;
                }
                log.push(minute as u32, SPAN as u32, counts);
                taken += 1;
            }
            if taken == rows {
                return taken;
            }
        }
    }

    /// Buckets exactly one `SLICE` long: judged at once, one bit per slice, and the counts of a
    /// bad one kept as its evidence.
    fn whole_slices<const SLICE: usize>(
        self,
        rule: SliceRule,
        bad: &mut FixedBitSet,
        bad_counts: &mut Vec<(u32, Counts)>,
    ) -> usize {
        self.each::<SLICE>(WholeSlices::<SLICE> {
            rule,
            bad,
            bad_counts,
        })
    }

    /// One-minute buckets summed into `SLICE`-minute slices, judged when the month closes.
    fn minutes_into_slices<const SLICE: usize>(self, partial: &mut [Counts]) -> usize {
        self.each::<1>(SliceSums::<SLICE> { partial })
    }

    /// One-minute buckets of an occurrences month.
    fn event_minutes(self, sum: &mut Counts, failing: &mut Vec<Record>) -> usize {
        self.each::<1>(Events { sum, failing })
    }
}

/// When each row starts `step` seconds after the one before it and has `failed <= total`, the
/// or of every count of the block, whose high bits tell the shapes which arithmetic is safe
/// without each folding the block again. It or-s, over the block, the bits where a start differs
/// from where it should be and the borrow of each `total - failed` (set when failed > total), so
/// that the loop has no branch and vectorises; compiled for AVX-512 and AVX2 too, the widest the
/// CPU has chosen when it runs.
#[multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx512dq", "x86_64+avx2"))]
fn follow_each_other(
    starts: &[i64; BLOCK],
    totals: &[u64; BLOCK],
    failed: &[u64; BLOCK],
    step: i64,
) -> Option<u64> {
    let (mut astray, mut borrow, mut high, mut expected) = (0u64, 0u64, 0u64, starts[0]);
    for j in 0..BLOCK {
        astray |= (starts[j] ^ expected) as u64;
        expected = expected.wrapping_add(step);
        let (total, failures) = (totals[j], failed[j]);
        borrow |= (!total & failures) | (!(total ^ failures) & total.wrapping_sub(failures));
        high |= total | failures;
    }
    (astray == 0 && borrow >> 63 == 0).then_some(high)
}

/// The `BLOCK` values of `column` from `at`, when it has that many.
#[inline(always)]
fn block<T>(column: &[T], at: usize) -> Option<&[T; BLOCK]> {
    column.get(at..at + BLOCK)?.try_into().ok()
}

/// Slices of `SLICE` minutes, each given by one bucket as long as itself.
struct WholeSlices<'a, const SLICE: usize> {
    rule: SliceRule,
    bad: &'a mut FixedBitSet,
    bad_counts: &'a mut Vec<(u32, Counts)>,
}

impl<const SLICE: usize> WholeSlices<'_, SLICE> {
    #[inline(always)]
    fn judge(&mut self, slice: usize, counts: Counts) {
        if self.rule.is_bad(counts.total, counts.failed) {
            self.bad.insert(slice);
            self.bad_counts.push((slice as u32, counts));
        }
    }
}

impl<const SLICE: usize> Shape for WholeSlices<'_, SLICE> {
    #[inline(always)]
    fn row<const SPAN: usize>(
        &mut self,
        covered: &mut [usize],
        minute: usize,
        counts: Counts,
    ) -> bool {
        if !minute.is_multiple_of(SLICE) || !take::<SPAN>(covered, minute) {
            return false;
        }
        self.judge(minute / SLICE, counts);
        true
    }

    #[inline(always)]
    fn block<const SPAN: usize>(
        &mut self,
        minute: usize,
        totals: &[u64; BLOCK],
        failed: &[u64; BLOCK],
        high: u64,
    ) -> bool {
        if !minute.is_multiple_of(SLICE) {
            return false;
        }
        let first = minute / SLICE;
        let mut bad = self.rule.bad_mask(totals, failed, high);
        if bad == 0 {
            return true;
        }
        // The block's bits in the bad set, in at most two words.
        let words = self.bad.as_mut_slice();
        let (word, bit) = (first / 64, first % 64);
        words[word] |= (bad << bit) as usize;
        if bit > 0 && bad >> (64 - bit) != 0 {
            words[word + 1] |= (bad >> (64 - bit)) as usize;
        }
        while bad != 0 {
            let j = bad.trailing_zeros() as usize;
            self.bad_counts.push((
                (first + j) as u32,
                Counts {
                    total: totals[j],
                    failed: failed[j],
                },
            ));
            bad &= bad - 1;
        }
        true
    }
}

/// One-minute buckets summed into slices of `SLICE` minutes.
struct SliceSums<'a, const SLICE: usize> {
    partial: &'a mut [Counts],
}

impl<const SLICE: usize> Shape for SliceSums<'_, SLICE> {
    #[inline(always)]
    fn row<const SPAN: usize>(
        &mut self,
        covered: &mut [usize],
        minute: usize,
        counts: Counts,
    ) -> bool {
        let slot = &mut self.partial[minute / SLICE];
        let Some(sum) = slot.checked_add(counts) else {
            return false;
        };
        if !take::<SPAN>(covered, minute) {
            return false;
        }
        *slot = sum;
        true
    }

    #[inline(always)]
    fn block<const SPAN: usize>(
        &mut self,
        minute: usize,
        totals: &[u64; BLOCK],
        failed: &[u64; BLOCK],
        high: u64,
    ) -> bool {
        let slots = &mut self.partial[minute / SLICE..=(minute + BLOCK - 1) / SLICE];
        let base = minute / SLICE * SLICE;
        if add_slice_sums::<SLICE>(slots, minute - base, totals, failed, high) {
            return true;
        }
        // Added wrapping, and taken back out the same way if any sum left 64 bits: wrapping
        // addition and subtraction undo each other exactly.
        let mut overflow = false;
        for j in 0..BLOCK {
            let slot = &mut slots[(minute + j - base) / SLICE];
            let (total, o1) = slot.total.overflowing_add(totals[j]);
            let (failures, o2) = slot.failed.overflowing_add(failed[j]);
            overflow |= o1 | o2;
            *slot = Counts {
                total,
                failed: failures,
            };
        }
        if overflow {
            for j in 0..BLOCK {
                let slot = &mut slots[(minute + j - base) / SLICE];
                slot.total = slot.total.wrapping_sub(totals[j]);
                slot.failed = slot.failed.wrapping_sub(failed[j]);
            }
        }
        !overflow
    }
}

/// One-minute buckets of an occurrences month: running sums, and the buckets that failed.
struct Events<'a> {
    sum: &'a mut Counts,
    failing: &'a mut Vec<Record>,
}

impl Shape for Events<'_> {
    #[inline(always)]
    fn row<const SPAN: usize>(
        &mut self,
        covered: &mut [usize],
        minute: usize,
        counts: Counts,
    ) -> bool {
        let Some(new_sum) = self.sum.checked_add(counts) else {
            return false;
        };
        if !take::<SPAN>(covered, minute) {
            return false;
        }
        *self.sum = new_sum;
        if counts.failed > 0 {
            self.failing.push(Record {
                minute: minute as u32,
                span: SPAN as u32,
                counts,
            });
        }
        true
    }

    #[inline(always)]
    fn block<const SPAN: usize>(
        &mut self,
        minute: usize,
        totals: &[u64; BLOCK],
        failed: &[u64; BLOCK],
        high: u64,
    ) -> bool {
        // The sums first, with a mask of the buckets that failed: no branch per bucket, and
        // nothing to take back when a sum overflows.
        let Some((sum, mut failing)) = sum_block(*self.sum, totals, failed, high) else {
            return false;
        };
        while failing != 0 {
            let j = failing.trailing_zeros() as usize;
            self.failing.push(Record {
                minute: (minute + j * SPAN) as u32,
                span: SPAN as u32,
                counts: Counts {
                    total: totals[j],
                    failed: failed[j],
                },
            });
            failing &= failing - 1;
        }
        *self.sum = sum;
        true
    }
}

/// Adds the block's one-minute counts to the sums of the slices of `SLICE` minutes they fall in,
/// `slots` from the block's first slice, which the block's first minute is `lead` minutes into:
/// each slice's counts summed in registers and added once. Says no, having changed nothing, unless
/// every count of the block is below 2^57 (`high`, the or of them all, says) and every sum it
/// touches below 2^63, which is what makes every addition safe from wrapping (a block's sums stay
/// below 2^63); the caller then adds row by row with checks. Compiled for AVX-512 and AVX2 too,
/// the widest the CPU has chosen when it runs.
#[multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx512dq", "x86_64+avx2"))]
fn add_slice_sums<const SLICE: usize>(
    slots: &mut [Counts],
    lead: usize,
    totals: &[u64; BLOCK],
    failed: &[u64; BLOCK],
    high: u64,
) -> bool {
    let sums_high = slots
        .iter()
        .fold(0, |high, sum| high | sum.total | sum.failed);
    if high >> 57 != 0 || sums_high >> 63 != 0 {
        return false;
    }
    let add = |slot: &mut Counts, totals: &[u64], failed: &[u64]| {
        slot.total += totals.iter().sum::<u64>();
        slot.failed += failed.iter().sum::<u64>();
    };
    // The first slice may start before the block and the last end after it; every other one is
    // `SLICE` rows, summed as an array of that length, which unrolls.
    let first = (SLICE - lead).min(BLOCK);
    add(&mut slots[0], &totals[..first], &failed[..first]);
    let (mut row, mut slot) = (first, 1);
    while let (Some(whole_totals), Some(whole_failed)) =
        (totals.get(row..row + SLICE), failed.get(row..row + SLICE))
    {
        let whole_totals: &[u64; SLICE] = whole_totals.try_into().expect("SLICE long");
        let whole_failed: &[u64; SLICE] = whole_failed.try_into().expect("SLICE long");
        add(&mut slots[slot], whole_totals, whole_failed);
        (row, slot) = (row + SLICE, slot + 1);
    }
    if row < BLOCK {
        add(&mut slots[slot], &totals[row..], &failed[row..]);
    }
    true
}

/// `sum` plus the block's counts, with a mask of the rows that failed (bit `j` for row `j`), or
/// `None` when a sum would leave 64 bits. When every count of the block is below 2^57 (`high`,
/// the or of them all, says) its sums cannot wrap, so they are taken as plain vectorised sums and
/// only their addition to `sum` is checked; otherwise row by row. Compiled for AVX-512 and AVX2
/// too, the widest the CPU has chosen when it runs.
#[multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx512dq", "x86_64+avx2"))]
fn sum_block(
    sum: Counts,
    totals: &[u64; BLOCK],
    failed: &[u64; BLOCK],
    high: u64,
) -> Option<(Counts, u64)> {
    let mut failing = 0u64;
    for (j, &failures) in failed.iter().enumerate() {
        failing |= u64::from(failures > 0) << j;
    }
    let block = if high < 1 << 57 {
        Counts {
            total: totals.iter().sum(),
            failed: failed.iter().sum(),
        }
    } else {
        let mut block = Counts::default();
        for j in 0..BLOCK {
            block = block.checked_add(Counts {
                total: totals[j],
                failed: failed[j],
            })?;
        }
        block
    };
    Some((sum.checked_add(block)?, failing))
}

/// Whether no minute in `[from, to)` is marked.
#[inline(always)]
fn range_is_clear(covered: &[usize], from: usize, to: usize) -> bool {
    let mut clear = true;
    each_word(from, to, |word, mask| clear &= covered[word] & mask == 0);
    clear
}

/// Marks every minute in `[from, to)`.
#[inline(always)]
fn mark_range(covered: &mut [usize], from: usize, to: usize) {
    each_word(from, to, |word, mask| covered[word] |= mask);
}

/// Calls `visit` with each word `[from, to)` touches and the mask of its bits in the range.
#[inline(always)]
fn each_word(from: usize, to: usize, mut visit: impl FnMut(usize, usize)) {
    const BITS: usize = usize::BITS as usize;
    let mut at = from;
    while at < to {
        let (word, bit) = (at / BITS, at % BITS);
        let len = (to - at).min(BITS - bit);
        let mask = if len == BITS {
            usize::MAX
        } else {
            ((1usize << len) - 1) << bit
        };
        visit(word, mask);
        at += len;
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
