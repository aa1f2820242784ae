//! Buckets, the engine's one input shape for them, and why one can be refused.

use chrono::{DateTime, Utc};

/// Counts of requests, messages or calls measured over `[start, start + duration)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bucket {
    /// The first instant the counts cover.
    pub start: DateTime<Utc>,
    /// Length in seconds: a whole number of minutes.
    pub duration_seconds: u32,
    /// Requests, messages or calls attempted.
    pub total: u64,
    /// Of those, how many failed.
    pub failed: u64,
}

/// Buckets as columns: row `i` is one bucket starting `starts[i]` (Unix seconds). This is the only
/// shape the engine takes buckets in, whether they came as packed columns, readable rows or a
/// single [`Bucket`]: one path, one set of answers and errors.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    /// The buckets' lengths in seconds.
    pub durations: Durations<'a>,
    /// Each bucket's start, in seconds since the Unix epoch.
    pub starts: &'a [i64],
    /// Each bucket's attempts.
    pub totals: &'a [u64],
    /// Each bucket's failures.
    pub failed: &'a [u64],
}

/// The lengths of a batch's buckets.
#[derive(Clone, Copy, Debug)]
pub enum Durations<'a> {
    /// Every bucket has this length: the fast path's shape.
    Same(u32),
    /// Each row has its own length (readable rows may mix them).
    PerRow(&'a [u32]),
}

impl Batch<'_> {
    /// Rows in the batch: the shortest column, so a malformed batch can never index past one.
    pub fn rows(&self) -> usize {
        let rows = self
            .starts
            .len()
            .min(self.totals.len())
            .min(self.failed.len());
        match self.durations {
            Durations::Same(_) => rows,
            Durations::PerRow(durations) => rows.min(durations.len()),
        }
    }

    /// The length of row `row`'s bucket.
    pub(super) fn duration(&self, row: usize) -> u32 {
        match self.durations {
            Durations::Same(seconds) => seconds,
            Durations::PerRow(durations) => durations[row],
        }
    }
}

/// Where a bucket went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Folded into its service month.
    Accepted,
    /// Entirely outside the term: counted and reported, not an error.
    OutsideTerm,
}

/// Buckets taken from one batch, or from a whole evaluation so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ingested {
    /// Folded into a service month.
    pub accepted: u64,
    /// Entirely outside the term.
    pub ignored: u64,
}

/// Why a batch was not taken whole: the first refused row. The rows before it were added.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("row {row}: {error}")]
pub struct IngestError {
    /// The refused row, counted from 0 within the batch.
    pub row: usize,
    /// What is wrong with it.
    pub error: BucketError,
    /// What the rows before it did.
    pub before: Ingested,
}

/// The part of a bucket a refusal is about, so that an API can name the field at fault without
/// reading the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BucketField {
    /// Its start instant: not on a minute, outside its month, overlapping another.
    Start,
    /// Its length.
    Duration,
    /// Its attempts.
    Total,
    /// Its failures.
    Failed,
}

/// Why a bucket was refused. Each variant carries what a person needs to find the bucket and see
/// the problem; the gRPC layer adds the batch and index.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BucketError {
    /// A bucket must last.
    #[error("duration_seconds must not be 0")]
    ZeroDuration,
    /// Buckets are counted in whole minutes.
    #[error("duration_seconds {seconds} is not a whole number of minutes")]
    DurationNotWholeMinutes {
        /// The length given.
        seconds: u32,
    },
    /// Under timeslices a bucket must tile its slice.
    #[error(
        "duration_seconds {seconds} does not divide the policy's {slice_minutes}-minute slice \
         evenly"
    )]
    DurationDoesNotDivideSlice {
        /// The length given.
        seconds: u32,
        /// The policy's slice.
        slice_minutes: u32,
    },
    /// More failures than attempts.
    #[error("failed {failed} exceeds total {total}")]
    FailedExceedsTotal {
        /// Attempts given.
        total: u64,
        /// Failures given.
        failed: u64,
    },
    /// Starts are whole seconds.
    #[error("the bucket starting {start} does not start on a whole second")]
    FractionalSecond {
        /// The start given.
        start: DateTime<Utc>,
    },
    /// Starts are whole minutes from the month's start.
    #[error(
        "the bucket starting {start} is not on a whole minute of its service month (which starts \
         {month_start})"
    )]
    NotOnAMinute {
        /// The start given.
        start: DateTime<Utc>,
        /// Where minutes are counted from.
        month_start: DateTime<Utc>,
    },
    /// A bucket belongs to one month.
    #[error("the bucket from {start} to {end} crosses the service-month boundary at {boundary}")]
    CrossesServiceMonth {
        /// The bucket's start.
        start: DateTime<Utc>,
        /// The bucket's end.
        end: DateTime<Utc>,
        /// The boundary inside it.
        boundary: DateTime<Utc>,
    },
    /// Under timeslices a bucket belongs to one slice.
    #[error(
        "the bucket from {start} to {end} crosses the end of the {slice_minutes}-minute slice \
         that starts {slice_start}"
    )]
    CrossesSlice {
        /// The bucket's start.
        start: DateTime<Utc>,
        /// The bucket's end.
        end: DateTime<Utc>,
        /// The slice it starts in.
        slice_start: DateTime<Utc>,
        /// The policy's slice.
        slice_minutes: u32,
    },
    /// Under a method of slices (timeslices, mean error rate) with service hours, a bucket lies
    /// wholly inside them or wholly outside.
    #[error(
        "the bucket from {start} to {end} crosses the {edge} edge of the policy's service hours"
    )]
    CrossesServiceHours {
        /// The bucket's start.
        start: DateTime<Utc>,
        /// The bucket's end.
        end: DateTime<Utc>,
        /// The edge inside it: where service hours start or end.
        edge: DateTime<Utc>,
    },
    /// Each minute is measured once.
    #[error("the bucket from {start} to {end} overlaps a bucket already given")]
    Overlaps {
        /// The bucket's start.
        start: DateTime<Utc>,
        /// The bucket's end.
        end: DateTime<Utc>,
    },
    /// Sums stay exact or are refused.
    #[error("the bucket starting {start} makes a count exceed 2^64 - 1")]
    CountOverflow {
        /// The bucket's start.
        start: DateTime<Utc>,
    },
}

impl BucketError {
    /// The part of the bucket at fault.
    pub fn field(&self) -> BucketField {
        match self {
            BucketError::ZeroDuration
            | BucketError::DurationNotWholeMinutes { .. }
            | BucketError::DurationDoesNotDivideSlice { .. } => BucketField::Duration,
            BucketError::FailedExceedsTotal { .. } => BucketField::Failed,
            BucketError::CountOverflow { .. } => BucketField::Total,
            BucketError::FractionalSecond { .. }
            | BucketError::NotOnAMinute { .. }
            | BucketError::CrossesServiceMonth { .. }
            | BucketError::CrossesSlice { .. }
            | BucketError::CrossesServiceHours { .. }
            | BucketError::Overlaps { .. } => BucketField::Start,
        }
    }
}
