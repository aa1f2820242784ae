//! Buckets: counts measured over a span of time, and why one can be refused.

use chrono::{DateTime, Utc};

/// Counts of requests, messages or calls measured over `[start, start + duration)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bucket {
    pub start: DateTime<Utc>,
    pub duration_seconds: u32,
    pub total: u64,
    pub failed: u64,
}

/// Where a bucket went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    Accepted,
    /// Entirely outside the term: counted and reported, not an error.
    OutsideTerm,
}

/// Why a bucket was refused. Each variant carries what a person needs to find the bucket and see
/// the problem; the gRPC layer adds the batch and index.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BucketError {
    #[error("duration_seconds must not be 0")]
    ZeroDuration,
    #[error("duration_seconds {seconds} is not a whole number of minutes")]
    DurationNotWholeMinutes { seconds: u32 },
    #[error(
        "duration_seconds {seconds} does not divide the policy's {slice_minutes}-minute slice \
         evenly"
    )]
    DurationDoesNotDivideSlice { seconds: u32, slice_minutes: u32 },
    #[error("failed {failed} exceeds total {total}")]
    FailedExceedsTotal { total: u64, failed: u64 },
    #[error("the bucket starting {start} does not start on a whole second")]
    FractionalSecond { start: DateTime<Utc> },
    #[error(
        "the bucket starting {start} is not on a whole minute of its service month (which starts \
         {month_start})"
    )]
    NotOnAMinute {
        start: DateTime<Utc>,
        month_start: DateTime<Utc>,
    },
    #[error("the bucket from {start} to {end} crosses the service-month boundary at {boundary}")]
    CrossesServiceMonth {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        boundary: DateTime<Utc>,
    },
    #[error(
        "the bucket from {start} to {end} crosses the end of the {slice_minutes}-minute slice \
         that starts {slice_start}"
    )]
    CrossesSlice {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        slice_start: DateTime<Utc>,
        slice_minutes: u32,
    },
    #[error("the bucket from {start} to {end} overlaps a bucket already given")]
    Overlaps {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
    #[error("the bucket starting {start} makes a count exceed 2^64 - 1")]
    CountOverflow { start: DateTime<Utc> },
}
