//! What one service month remembers of the buckets it was given.
//!
//! Every month keeps one bit per minute (which minutes a bucket covered: overlaps, coverage and
//! gaps) and a compact log of its buckets (`log`), which is the input digest's canonical form and
//! lets an outage excluded at the end take out exactly the buckets it overlaps. Timeslices also
//! keep one bit per slice (bad or not) with the counts of the bad ones, for the evidence, plus
//! per-slice sums only when buckets finer than a slice arrive (TRTC's 1-minute buckets in 5-minute
//! units). Buckets never overlap, so a month never holds more records than it has minutes.
//!
//! A mean-error-rate month is kept in the same shape, its intervals as slices and an interval
//! "bad" when any of its requests failed: the bad ones are exactly the intervals whose error rate
//! is above 0%, with their summed counts, and the fast path serves them unchanged.
//!
//! Buckets come in through the careful path one at a time (`MonthLedger::add`) and through the
//! fast path (`fast`) as many leading rows of a batch as it can take. A *run* means one thing
//! here: buckets of one span, each starting where the one before it ended, as the log keeps them.
//!
//! The fast path's inner loops over a block of 64 rows (the checks, the judging of slices, the
//! sums) are compiled three times by `multiversion`, for AVX-512, for AVX2 and for the baseline,
//! and the widest the CPU has runs; the log's varints have a hand-written AVX-512 encoder
//! (`avx512`). Every version gives the same bytes and the same answers: the property tests compare
//! the fast path with the careful one at every scale of count, on whatever CPU runs them.

#[cfg(target_arch = "x86_64")]
mod avx512;
mod fast;
mod log;

pub(crate) use log::{BucketLog, Record};

use fixedbitset::FixedBitSet;
use multiversion::multiversion;

use super::service_hours::MonthHours;
use crate::policy::{Method, Percent, TimesliceRule};

/// How a timeslice ledger judges a slice: the policy's rule, applied to slices with at least
/// `min_attempts` attempts; a slice with fewer is available whatever failed in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SliceRule {
    /// What makes a judged slice bad.
    pub(crate) bad: TimesliceRule,
    /// Fewest attempts a slice needs to be judged; at least 1.
    pub(crate) min_attempts: u64,
}

impl SliceRule {
    /// Whether a slice with these summed counts is bad.
    pub(crate) fn is_bad(self, total: u64, failed: u64) -> bool {
        total >= self.min_attempts
            && match (u32::try_from(total), u32::try_from(failed)) {
                (Ok(total), Ok(failed)) => self.bad.is_bad_below_2_32(total, failed),
                _ => self.bad.is_bad(total, failed),
            }
    }

    /// Which of 64 slices, given by their counts (`failed <= total`, as every accepted bucket and
    /// sum of them has), are bad: bit `j` for slice `j`. The rule is matched once, and each slice
    /// judged with no branch, so the fast path's blocks pay a few operations a slice.
    /// `high` is the or of every total (or of every count, the same bits' worth when
    /// `failed <= total`): it chooses the arithmetic, and the fast path has it from its checks.
    #[inline(always)]
    pub(crate) fn bad_mask(self, totals: &[u64; 64], failed: &[u64; 64], high: u64) -> u64 {
        bad_mask(self.bad, self.min_attempts, totals, failed, high)
    }

    /// Whether a slice with `total` attempts has some, but too few to be judged.
    fn under_min_attempts(self, total: u64) -> bool {
        (1..self.min_attempts).contains(&total)
    }
}

/// [`SliceRule::bad_mask`], compiled for AVX-512 and AVX2 too, the widest the CPU has chosen
/// when it runs.
#[multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx512dq", "x86_64+avx2"))]
fn bad_mask(
    rule: TimesliceRule,
    min_attempts: u64,
    totals: &[u64; 64],
    failed: &[u64; 64],
    high: u64,
) -> u64 {
    // Counts below 2^32 (every real minute's) are judged in 64-bit arithmetic. The caller has
    // checked `failed <= total`, so the totals bound both.
    let small = high >> 32 == 0;
    // Each arm names its rule as a constant, so the rule's own `match` folds away.
    let mask = |rule: TimesliceRule| {
        let mut mask = 0u64;
        if small {
            for j in 0..64 {
                let bad = (totals[j] >= min_attempts)
                    & rule.is_bad_below_2_32(totals[j] as u32, failed[j] as u32);
                mask |= u64::from(bad) << j;
            }
        } else {
            for j in 0..64 {
                let bad = (totals[j] >= min_attempts) & rule.is_bad(totals[j], failed[j]);
                mask |= u64::from(bad) << j;
            }
        }
        mask
    };
    match rule {
        TimesliceRule::AllFailed => mask(TimesliceRule::AllFailed),
        TimesliceRule::SuccessRateBelow(bound) => mask(TimesliceRule::SuccessRateBelow(bound)),
    }
}

impl From<TimesliceRule> for SliceRule {
    /// The rule judging every slice with an attempt.
    fn from(bad: TimesliceRule) -> Self {
        SliceRule {
            bad,
            min_attempts: 1,
        }
    }
}

/// Attempts and failures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) total: u64,
    pub(crate) failed: u64,
}

impl Counts {
    /// The sum of both, `None` when a count would leave 64 bits.
    pub(crate) fn checked_add(self, other: Counts) -> Option<Counts> {
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
    /// It starts on one side of an edge of service hours and ends on the other; carries the
    /// edge's minute.
    CrossesServiceHours { edge_minute: u32 },
    /// It covers a minute another bucket already covered.
    Overlaps,
    /// A sum left the 64-bit range.
    CountOverflow,
}

/// One month's record.
#[derive(Clone, Debug)]
pub(crate) struct MonthLedger {
    /// Minutes some bucket covered: overlap detection, coverage and gaps.
    covered: FixedBitSet,
    /// Every bucket accepted, in arrival order.
    log: BucketLog,
    store: Store,
    /// The month's service hours, when its policy has them: what counts, and (under a method of
    /// slices) the edges no bucket may straddle.
    hours: Option<MonthHours>,
    /// False when a slice-shaped month's service hours have an edge inside a slice (a clock
    /// change can move one there), so that every bucket takes the careful path, which refuses
    /// one straddling it.
    fast_path: bool,
}

/// What a slice-shaped ledger measures, which decides the shape [`MonthLedger::judged`] hands
/// over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SliceKind {
    /// Timeslices: the bad slices cost their minutes.
    Timeslices,
    /// Mean error rate: the slices are intervals, and those with a failure carry an error rate.
    ErrorRates,
}

#[derive(Clone, Debug)]
enum Store {
    Slices {
        kind: SliceKind,
        slice_minutes: u32,
        rule: SliceRule,
        /// Slices judged bad from one bucket that spanned the whole slice.
        bad: FixedBitSet,
        /// The counts of those bad slices, in arrival order: the evidence behind them.
        bad_counts: Vec<(u32, Counts)>,
        /// Sums of buckets shorter than a slice, judged at the end; empty until the first such
        /// bucket arrives.
        partial: Vec<Counts>,
    },
    Events {
        /// Running sums, so overflow is refused when the bucket arrives, not at the end.
        sum: Counts,
        /// The buckets that carried failures, in arrival order: the evidence, kept as they arrive
        /// so that closing a month without exclusions never decodes its log.
        failing: Vec<Record>,
    },
}

impl MonthLedger {
    /// The most one bucket adds to a ledger: its counts in the log (two varints of at most ten
    /// bytes), a new run in the log when it does not continue the one before, and its evidence
    /// record when it is bad.
    pub(crate) const MAX_BYTES_PER_BUCKET: u64 = 20 + 16 + 24;

    /// The log's unit of allocation.
    pub(crate) const CHUNK_BYTES: u64 = log::CHUNK_BYTES as u64;

    /// The bytes an empty ledger for a month of `minutes` clock minutes takes under `method`,
    /// counting its log's first chunk and the per-slice sums a policy with slices longer than a
    /// minute may need: known before it is allocated, so that a server can reserve it first. Later
    /// chunks are paid for by [`MonthLedger::MAX_BYTES_PER_BUCKET`] as buckets fill them.
    pub(crate) fn empty_bytes(method: Method, minutes: u32, service_hours: bool) -> u64 {
        let bits = |count: u32| u64::from(count.div_ceil(8));
        let hours = if service_hours {
            MonthHours::bytes_bound(minutes)
        } else {
            0
        };
        Self::CHUNK_BYTES
            + hours
            + match method {
                Method::Timeslices { slice_minutes, .. }
                | Method::MeanErrorRate {
                    interval_minutes: slice_minutes,
                } => {
                    let slices = minutes / slice_minutes;
                    let partial = if slice_minutes > 1 {
                        u64::from(slices) * std::mem::size_of::<Counts>() as u64
                    } else {
                        0
                    };
                    bits(minutes) + bits(slices) + partial
                }
                Method::Occurrences { .. } => bits(minutes),
            }
    }

    /// An empty ledger for a month of `minutes` clock minutes, shaped by the policy's method.
    pub(crate) fn for_method(method: Method, minutes: u32) -> Self {
        match method {
            Method::Timeslices {
                slice_minutes,
                bad_slice,
                min_attempts,
                ..
            } => MonthLedger::slices(
                minutes,
                slice_minutes,
                SliceRule {
                    bad: bad_slice,
                    min_attempts: u64::from(min_attempts.max(1)),
                },
            ),
            Method::Occurrences { .. } => MonthLedger::events(minutes),
            Method::MeanErrorRate { interval_minutes } => {
                MonthLedger::intervals(minutes, interval_minutes)
            }
        }
    }

    /// The same ledger, counting only what lies inside the month's service hours: under a method
    /// of slices, a bucket straddling one of their edges is refused.
    pub(crate) fn with_hours(mut self, hours: MonthHours) -> Self {
        if let Store::Slices { slice_minutes, .. } = self.store {
            self.fast_path = hours.aligned_to(slice_minutes);
        }
        self.hours = Some(hours);
        self
    }

    /// A ledger for a mean-error-rate month of `minutes` clock minutes: a slice ledger whose
    /// slices are the intervals, an interval judged "bad" when its success rate is below 100%,
    /// that is when any of its requests failed.
    pub(crate) fn intervals(minutes: u32, interval_minutes: u32) -> Self {
        let mut ledger = MonthLedger::slices(
            minutes,
            interval_minutes,
            TimesliceRule::SuccessRateBelow(Percent::HUNDRED),
        );
        if let Store::Slices { kind, .. } = &mut ledger.store {
            *kind = SliceKind::ErrorRates;
        }
        ledger
    }

    /// A ledger for a timeslice month of `minutes` clock minutes.
    pub(crate) fn slices(minutes: u32, slice_minutes: u32, rule: impl Into<SliceRule>) -> Self {
        let rule = rule.into();
        MonthLedger {
            covered: FixedBitSet::with_capacity(minutes as usize),
            log: BucketLog::new(),
            store: Store::Slices {
                kind: SliceKind::Timeslices,
                slice_minutes,
                rule,
                bad: FixedBitSet::with_capacity((minutes / slice_minutes) as usize),
                bad_counts: Vec::new(),
                partial: Vec::new(),
            },
            hours: None,
            fast_path: true,
        }
    }

    /// A ledger for an occurrences month of `minutes` clock minutes.
    pub(crate) fn events(minutes: u32) -> Self {
        MonthLedger {
            covered: FixedBitSet::with_capacity(minutes as usize),
            log: BucketLog::new(),
            store: Store::Events {
                sum: Counts::default(),
                failing: Vec::new(),
            },
            hours: None,
            fast_path: true,
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
            if let Some(edge_minute) = self
                .hours
                .as_ref()
                .and_then(|hours| hours.edge_inside(minute..minute + span))
            {
                return Err(Misfit::CrossesServiceHours { edge_minute });
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
                bad_counts,
                partial,
                ..
            } => {
                let slice = (minute / *slice_minutes) as usize;
                if span == *slice_minutes {
                    if rule.is_bad(counts.total, counts.failed) {
                        bad.insert(slice);
                        bad_counts.push((slice as u32, counts));
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
            Store::Events { sum, failing } => {
                *sum = sum.checked_add(counts).ok_or(Misfit::CountOverflow)?;
                if counts.failed > 0 {
                    failing.push(Record {
                        minute,
                        span,
                        counts,
                    });
                }
            }
        }
        self.log.push(minute, span, counts);
        self.covered.insert_range(range);
        Ok(())
    }

    /// Minutes some bucket covered.
    pub(crate) fn covered(&self) -> &FixedBitSet {
        &self.covered
    }

    /// Every bucket the month accepted.
    pub(crate) fn log(&self) -> &BucketLog {
        &self.log
    }

    /// The month's service hours, when its policy has them.
    pub(crate) fn hours(&self) -> Option<&MonthHours> {
        self.hours.as_ref()
    }

    /// Heap bytes the ledger holds.
    pub(crate) fn heap_bytes(&self) -> usize {
        let bits = |set: &FixedBitSet| set.len().div_ceil(8);
        let store = match &self.store {
            Store::Slices {
                bad,
                bad_counts,
                partial,
                ..
            } => {
                bits(bad)
                    + bad_counts.capacity() * std::mem::size_of::<(u32, Counts)>()
                    + partial.capacity() * std::mem::size_of::<Counts>()
            }
            Store::Events { failing, .. } => failing.capacity() * std::mem::size_of::<Record>(),
        };
        bits(&self.covered)
            + self.log.heap_bytes()
            + store
            + self.hours.as_ref().map_or(0, MonthHours::heap_bytes)
    }

    /// Slices with some attempts but fewer than the rule's minimum (inside service hours, when the
    /// month has them). Only a rule with a minimum above 1 pays for summing every slice from the
    /// log.
    fn slices_under_min_attempts(&self, slice_minutes: u32, rule: SliceRule) -> u64 {
        if rule.min_attempts <= 1 {
            return 0;
        }
        let mut totals = vec![0u64; self.minutes() / slice_minutes as usize];
        for record in self.log.iter() {
            let slot = &mut totals[(record.minute / slice_minutes) as usize];
            *slot = slot.saturating_add(record.counts.total);
        }
        let width = slice_minutes as usize;
        totals
            .into_iter()
            .enumerate()
            .filter(|&(slice, total)| {
                rule.under_min_attempts(total)
                    && self
                        .hours
                        .as_ref()
                        .is_none_or(|hours| hours.covers(slice * width..(slice + 1) * width))
            })
            .count() as u64
    }

    /// How the month is judged, in the shape its method reads: the bad slices with their summed
    /// counts, ascending, or the sum of its events.
    pub(crate) fn judged(&self) -> Judged {
        match &self.store {
            Store::Slices {
                kind,
                slice_minutes,
                rule,
                bad_counts,
                partial,
                ..
            } => {
                let mut slices = bad_counts.clone();
                push_bad_sums(*rule, partial, &mut slices);
                slices.sort_unstable_by_key(|&(slice, _)| slice);
                match kind {
                    SliceKind::Timeslices => Judged::Slices(JudgedSlices {
                        slice_minutes: *slice_minutes,
                        bad: slices,
                        under_min_attempts: self.slices_under_min_attempts(*slice_minutes, *rule),
                    }),
                    SliceKind::ErrorRates => Judged::ErrorRates(JudgedIntervals {
                        interval_minutes: *slice_minutes,
                        failing: slices,
                    }),
                }
            }
            Store::Events { sum, failing } => {
                let mut failing = failing.clone();
                failing.sort_unstable_by_key(|record| record.minute);
                Judged::Events(JudgedEvents { sum: *sum, failing })
            }
        }
    }
}

/// Appends every bad slice of `sums` (one entry a slice, from slice 0) with its counts: 64 slices
/// at a time judged into a mask, as the fast path judges whole-slice buckets, the rest one by one.
fn push_bad_sums(rule: SliceRule, sums: &[Counts], bad: &mut Vec<(u32, Counts)>) {
    let mut blocks = sums.chunks_exact(64);
    for (block, sums) in blocks.by_ref().enumerate() {
        let (mut totals, mut failed, mut high) = ([0u64; 64], [0u64; 64], 0);
        for (j, counts) in sums.iter().enumerate() {
            (totals[j], failed[j]) = (counts.total, counts.failed);
            high |= counts.total;
        }
        let mut mask = rule.bad_mask(&totals, &failed, high);
        while mask != 0 {
            let j = mask.trailing_zeros() as usize;
            bad.push(((block * 64 + j) as u32, sums[j]));
            mask &= mask - 1;
        }
    }
    let first = sums.len() - blocks.remainder().len();
    bad.extend(
        (first..)
            .zip(blocks.remainder())
            .filter(|(_, counts)| rule.is_bad(counts.total, counts.failed))
            .map(|(slice, counts)| (slice as u32, *counts)),
    );
}

/// A closed month's data, in the shape of the method its ledger was built for: one variant per
/// method, which `tally::close` hands to that method's module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Judged {
    /// Timeslices: which slices are bad.
    Slices(JudgedSlices),
    /// Occurrences: the events counted and the buckets that failed.
    Events(JudgedEvents),
    /// Mean error rate: the intervals some request failed in.
    ErrorRates(JudgedIntervals),
}

/// A mean-error-rate month's intervals, judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct JudgedIntervals {
    /// The interval's length.
    pub(crate) interval_minutes: u32,
    /// Every interval with at least one failed request (index, summed counts), ascending; every
    /// other interval's error rate is 0%.
    pub(crate) failing: Vec<(u32, Counts)>,
}

/// A timeslices month's slices, judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct JudgedSlices {
    /// The slice's length.
    pub(crate) slice_minutes: u32,
    /// Every bad slice (index, summed counts), ascending.
    pub(crate) bad: Vec<(u32, Counts)>,
    /// Slices with some attempts but fewer than the policy's `min_attempts`: available.
    pub(crate) under_min_attempts: u64,
}

/// An occurrences month's events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct JudgedEvents {
    /// Attempts and failures of every bucket.
    pub(crate) sum: Counts,
    /// The buckets that carried failures, ascending.
    pub(crate) failing: Vec<Record>,
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
    fn a_bucket_straddling_an_edge_of_service_hours_is_refused() {
        // Service hours from minute 12: inside a 5-minute slice, where only a clock change can
        // put an edge (a policy's own edges fall on its slices').
        let hours = MonthHours::from_periods(60, std::iter::once(12..40).collect());
        let mut ledger = MonthLedger::slices(60, 5, rate99()).with_hours(hours.clone());
        assert_eq!(
            ledger.add(10, 5, counts(1, 0)),
            Err(Misfit::CrossesServiceHours { edge_minute: 12 })
        );
        // Minute buckets either side of it are taken, and every row takes the careful path.
        ledger.add(11, 1, counts(1, 0)).unwrap();
        ledger.add(12, 1, counts(1, 0)).unwrap();
        assert_eq!(ledger.add_leading_rows(0, 60, 5, (&[900], &[1], &[0])), 0);
        // Occurrences refuse nothing for service hours: what straddles them just does not count.
        let mut events = MonthLedger::events(60).with_hours(hours);
        events.add(10, 5, counts(1, 0)).unwrap();
    }

    #[test]
    fn hourly_intervals_take_the_fast_path_and_judge_as_the_careful_one() {
        // Two days of one-minute buckets in hourly intervals, some failing.
        let minutes = 2 * 1440;
        let starts: Vec<i64> = (0..minutes).map(|m| 60 * m).collect();
        let totals: Vec<u64> = (0..minutes).map(|m| 50 + (m as u64 * 7) % 100).collect();
        let failed: Vec<u64> = (0..minutes)
            .map(|m| if m % 97 == 0 { 3 } else { 0 })
            .collect();
        let mut fast = MonthLedger::intervals(minutes as u32, 60);
        let taken = fast.add_leading_rows(0, minutes as usize, 1, (&starts, &totals, &failed));
        assert_eq!(taken, minutes as usize, "every row on the fast path");
        let mut careful = MonthLedger::intervals(minutes as u32, 60);
        for minute in 0..minutes as usize {
            careful
                .add(minute as u32, 1, counts(totals[minute], failed[minute]))
                .unwrap();
        }
        assert_eq!(fast.judged(), careful.judged());
        let Judged::ErrorRates(intervals) = fast.judged() else {
            panic!("an interval ledger judges error rates");
        };
        // Minute 0, 97, 194, ...: one failing minute in most hours, three failed requests each.
        let expected = (0..minutes)
            .filter(|m| m % 97 == 0)
            .map(|m| m / 60)
            .collect::<std::collections::BTreeSet<_>>();
        assert_eq!(intervals.failing.len(), expected.len());
    }

    #[test]
    fn a_sum_that_would_overflow_stops_the_fast_path_at_its_row_with_nothing_else_changed() {
        // 200 one-minute buckets following each other, the 100th too large for its slice's sum:
        // inside the fast path's second block, which must leave the sums as they were and let the
        // rows before it through one by one.
        let minutes = 1440u32;
        let starts: Vec<i64> = (0..200).map(|m| 60 * m).collect();
        let mut totals: Vec<u64> = (0..200).map(|m| 50 + (m * 7) % 100).collect();
        let failed: Vec<u64> = (0..200).map(|m| m % 3).collect();
        totals[99] = u64::MAX - 1;
        for (mut fast, mut careful) in [
            (
                MonthLedger::intervals(minutes, 5),
                MonthLedger::intervals(minutes, 5),
            ),
            (MonthLedger::events(minutes), MonthLedger::events(minutes)),
        ] {
            let taken = fast.add_leading_rows(0, minutes as usize, 1, (&starts, &totals, &failed));
            assert_eq!(taken, 99, "the fast path stops at the row that overflows");
            for minute in 0..99 {
                careful
                    .add(
                        minute,
                        1,
                        counts(totals[minute as usize], failed[minute as usize]),
                    )
                    .unwrap();
            }
            assert_eq!(fast.judged(), careful.judged());
            assert_eq!(
                fast.add(99, 1, counts(totals[99], 0)),
                Err(Misfit::CountOverflow)
            );
        }
    }
}
