//! Bucket placement: which month and minute a bucket belongs to, or exactly why it fits nowhere.
//!
//! This is the careful path every bucket the ledger's fast path does not take goes through, so
//! both paths give the same answers and the same errors; the fast path only ever takes buckets
//! this module would have placed the same way. The fast path also reads this path's cursor
//! ([`Placer::cursor`]): it tries each batch's next rows in the month the careful path placed a
//! bucket in last, and hands back the first row that lies elsewhere, which moves the cursor.

use chrono::{DateTime, Utc};

use super::bucket::BucketError;
use super::ledger::Misfit;
use super::months::{SECONDS_PER_MINUTE, ServiceMonth};
use crate::policy::Method;

/// The term's months as Unix-second boundaries, for the hot path's lookups.
#[derive(Clone, Debug)]
pub(super) struct Placer {
    /// Each month's first instant.
    month_starts: Vec<i64>,
    /// The instant after the term's last month.
    term_end: i64,
    /// The policy's slice under timeslices, its interval under mean error rate; `None` under
    /// occurrences.
    slice_minutes: Option<u32>,
    /// Buckets starting at or after this instant (the evaluation's `as_of`, rounded up to its
    /// second) are ignored.
    horizon: i64,
    /// The month the careful path placed its last bucket in (buckets mostly arrive in time order):
    /// where [`Placer::month_of`] looks first, and the month the fast path tries.
    cursor: usize,
}

/// Where a bucket goes: minutes `[minute, minute + span)` of month `month`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Slot {
    pub(super) month: usize,
    pub(super) minute: u32,
    pub(super) span: u32,
}

impl Placer {
    /// A placer for the term's months (never empty), ignoring buckets from `as_of` on.
    pub(super) fn new(months: &[ServiceMonth], method: Method, as_of: DateTime<Utc>) -> Self {
        let horizon = as_of.timestamp() + i64::from(as_of.timestamp_subsec_nanos() > 0);
        Placer {
            horizon,
            month_starts: months.iter().map(|m| m.start.timestamp()).collect(),
            term_end: months.last().map_or(0, |m| m.end.timestamp()),
            slice_minutes: method.slice_minutes(),
            cursor: 0,
        }
    }

    /// The month the careful path placed its last bucket in, where the fast path tries the next
    /// rows; only [`Placer::place`] moves it.
    pub(super) fn cursor(&self) -> usize {
        self.cursor
    }

    /// The first instant of month `month`.
    pub(super) fn month_start(&self, month: usize) -> i64 {
        self.month_starts[month]
    }

    /// How many of month `month`'s clock minutes start before the horizon.
    pub(super) fn minutes_before_horizon(&self, month: usize) -> usize {
        let seconds = self.horizon - self.month_starts[month];
        let minutes = (seconds.max(0) + SECONDS_PER_MINUTE - 1) / SECONDS_PER_MINUTE;
        usize::try_from(minutes).unwrap_or(usize::MAX)
    }

    /// A duration must be a positive whole number of minutes and, under timeslices, divide the
    /// slice.
    pub(super) fn check_duration(&self, duration_seconds: u32) -> Result<(), BucketError> {
        if duration_seconds == 0 {
            return Err(BucketError::ZeroDuration);
        }
        if i64::from(duration_seconds) % SECONDS_PER_MINUTE != 0 {
            return Err(BucketError::DurationNotWholeMinutes {
                seconds: duration_seconds,
            });
        }
        if let Some(slice_minutes) = self.slice_minutes
            && !(slice_minutes * SECONDS_PER_MINUTE as u32).is_multiple_of(duration_seconds)
        {
            return Err(BucketError::DurationDoesNotDivideSlice {
                seconds: duration_seconds,
                slice_minutes,
            });
        }
        Ok(())
    }

    /// Where a bucket goes, `None` when it lies entirely outside the term, or why it cannot go
    /// anywhere.
    pub(super) fn place(
        &mut self,
        start: i64,
        duration_seconds: u32,
        total: u64,
        failed: u64,
    ) -> Result<Option<Slot>, BucketError> {
        self.check_duration(duration_seconds)?;
        if failed > total {
            return Err(BucketError::FailedExceedsTotal { total, failed });
        }
        let end = start.saturating_add(i64::from(duration_seconds));
        let term_start = self.month_starts[0];
        if end <= term_start || start >= self.term_end || start >= self.horizon {
            return Ok(None);
        }
        if start < term_start {
            return Err(BucketError::CrossesServiceMonth {
                start: instant(start),
                end: instant(end),
                boundary: instant(term_start),
            });
        }
        let month = self.month_of(start);
        let month_start = self.month_starts[month];
        let month_end = self
            .month_starts
            .get(month + 1)
            .copied()
            .unwrap_or(self.term_end);
        if end > month_end {
            return Err(BucketError::CrossesServiceMonth {
                start: instant(start),
                end: instant(end),
                boundary: instant(month_end),
            });
        }
        let offset = start - month_start;
        if offset % SECONDS_PER_MINUTE != 0 {
            return Err(BucketError::NotOnAMinute {
                start: instant(start),
                month_start: instant(month_start),
            });
        }
        Ok(Some(Slot {
            month,
            // A month has far fewer than 2^32 minutes.
            minute: (offset / SECONDS_PER_MINUTE) as u32,
            span: duration_seconds / SECONDS_PER_MINUTE as u32,
        }))
    }

    /// Why the ledger refused a bucket placed at `slot`, in terms a person can find it by.
    pub(super) fn misfit(&self, misfit: Misfit, slot: Slot, start: i64) -> BucketError {
        let end = start + i64::from(slot.span) * SECONDS_PER_MINUTE;
        let slice_minutes = self.slice_minutes.unwrap_or(1);
        match misfit {
            Misfit::DoesNotDivideSlice => BucketError::DurationDoesNotDivideSlice {
                seconds: slot.span * SECONDS_PER_MINUTE as u32,
                slice_minutes,
            },
            Misfit::CrossesSlice { slice_start_minute } => BucketError::CrossesSlice {
                start: instant(start),
                end: instant(end),
                slice_start: instant(
                    self.month_starts[slot.month]
                        + i64::from(slice_start_minute) * SECONDS_PER_MINUTE,
                ),
                slice_minutes,
            },
            Misfit::CrossesServiceHours { edge_minute } => BucketError::CrossesServiceHours {
                start: instant(start),
                end: instant(end),
                edge: instant(
                    self.month_starts[slot.month] + i64::from(edge_minute) * SECONDS_PER_MINUTE,
                ),
            },
            Misfit::Overlaps => BucketError::Overlaps {
                start: instant(start),
                end: instant(end),
            },
            Misfit::CountOverflow => BucketError::CountOverflow {
                start: instant(start),
            },
        }
    }

    /// The month containing `start`, which lies inside the term.
    fn month_of(&mut self, start: i64) -> usize {
        let cursor = self.cursor;
        let inside = |index: usize| {
            self.month_starts[index] <= start
                && self
                    .month_starts
                    .get(index + 1)
                    .is_none_or(|&next| start < next)
        };
        if !inside(cursor) {
            self.cursor = self.month_starts.partition_point(|&s| s <= start) - 1;
        }
        self.cursor
    }
}

/// A Unix time as an instant; the callers only pass times near a validated term.
fn instant(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}
