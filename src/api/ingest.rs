//! Bucket messages into the engine: readable rows and packed columns take the same fast path, and
//! a refused bucket comes back naming its batch, row and field.

use chrono::{DateTime, Utc};

use super::error::ApiError;
use super::from_pb::{BucketAt, bucket_error, duration_seconds};
use super::pb;
use crate::engine::{BucketError, Evaluation};

/// Adds a `buckets` message. Rows are turned into columns first, so both forms run the engine's
/// fast path; the first problem in row order is the one reported, wherever it was found.
pub fn rows(
    evaluation: &mut Evaluation,
    batch: u64,
    buckets: Vec<pb::Bucket>,
) -> Result<(), ApiError> {
    let mut starts = Vec::with_capacity(buckets.len());
    let mut totals = Vec::with_capacity(buckets.len());
    let mut failed = Vec::with_capacity(buckets.len());
    let mut durations = Vec::with_capacity(buckets.len());
    let mut unreadable = None;
    for (row, bucket) in buckets.into_iter().enumerate() {
        let pb::Bucket {
            start,
            duration_seconds: duration,
            total,
            failed: failures,
        } = bucket;
        match start_seconds(batch, row, start) {
            Ok(seconds) => starts.push(seconds),
            Err(error) => {
                unreadable = Some(error);
                break;
            }
        }
        totals.push(total);
        failed.push(failures);
        durations.push(duration_seconds(duration));
    }
    // Runs of rows sharing a duration go in as columns.
    let mut first = 0;
    while first < starts.len() {
        let duration = durations[first];
        let end = first
            + durations[first..]
                .iter()
                .take_while(|&&d| d == duration)
                .count();
        evaluation
            .add_columns(
                duration,
                &starts[first..end],
                &totals[first..end],
                &failed[first..end],
            )
            .map_err(|(offset, error)| {
                bucket_error(
                    BucketAt::Rows {
                        batch,
                        row: first + offset,
                    },
                    error,
                )
            })?;
        first = end;
    }
    unreadable.map_or(Ok(()), Err)
}

/// A row's start as Unix seconds. The field path is only formatted when something is wrong.
fn start_seconds(
    batch: u64,
    row: usize,
    start: Option<prost_types::Timestamp>,
) -> Result<i64, ApiError> {
    let field = || format!("buckets.buckets[{row}].start");
    let Some(prost_types::Timestamp { seconds, nanos }) = start else {
        return Err(ApiError::invalid(
            field(),
            format!("batch {batch}, row {row}: {} is required", field()),
        ));
    };
    let valid_range = DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp();
    if !(0..1_000_000_000).contains(&nanos) || !valid_range.contains(&seconds) {
        return Err(ApiError::invalid(
            field(),
            format!(
                "batch {batch}, row {row}: {} {{seconds: {seconds}, nanos: {nanos}}} is not a valid \
                 instant",
                field()
            ),
        ));
    }
    if nanos != 0 {
        let start = DateTime::from_timestamp(seconds, nanos as u32).unwrap_or_default();
        return Err(bucket_error(
            BucketAt::Rows { batch, row },
            BucketError::FractionalSecond { start },
        ));
    }
    Ok(seconds)
}

/// Adds a `columns` message.
pub fn columns(
    evaluation: &mut Evaluation,
    batch: u64,
    columns: &pb::BucketColumns,
) -> Result<(), ApiError> {
    let starts = columns.starts().map_err(|error| {
        ApiError::invalid(
            "columns.start_delta_seconds",
            format!("batch {batch}: {error}"),
        )
    })?;
    let pb::BucketColumns {
        duration_seconds: duration,
        total,
        failed,
        start_unix_seconds: _,
        start_base_unix_seconds: _,
        start_delta_seconds: deltas,
    } = columns;
    let rows = starts.len();
    if total.len() != rows || failed.len() != rows {
        return Err(ApiError::invalid(
            "columns.total",
            format!(
                "batch {batch}: columns must have equal lengths, but the starts have {rows} rows, \
                 total {} and failed {}",
                total.len(),
                failed.len()
            ),
        ));
    }
    evaluation
        .add_columns(duration_seconds(*duration), &starts, total, failed)
        .map_err(|(row, error)| {
            let at = BucketAt::Columns {
                batch,
                row,
                deltas: !deltas.is_empty(),
            };
            bucket_error(at, error)
        })?;
    Ok(())
}
