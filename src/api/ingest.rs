//! Bucket messages into the engine's one input shape, [`Batch`]: packed columns are borrowed as
//! they are, readable rows become columns once. A refused bucket comes back naming its batch, row
//! and field.

use super::buffers::{COUNTS, DELTAS, DURATIONS, STARTS};
use super::error::{ApiError, At, BucketForm, RefusedBucket, UnreadableStarts};
use super::from_pb::{TIMESTAMP_SECONDS, duration_seconds, instant};
use super::pb;
use super::rows::ROWS;
use crate::engine::{
    Batch, BucketError, BucketField, Durations, Evaluation, IngestError, Ingested,
};

/// What a bucket message added, and the problem that stopped it: rows before a refused one stay
/// added, so both are known even when the message is refused.
#[derive(Debug)]
pub struct Taken {
    /// Buckets the message added before any problem.
    pub ingested: Ingested,
    /// The first problem, in row order.
    pub refused: Option<ApiError>,
}

impl Taken {
    /// What a message that adds no buckets did: nothing, or `result`'s refusal.
    pub(super) fn from_result(result: Result<(), ApiError>) -> Self {
        Taken {
            ingested: Ingested::default(),
            refused: result.err(),
        }
    }

    fn all(ingested: Ingested) -> Self {
        Taken {
            ingested,
            refused: None,
        }
    }

    fn refused(ingested: Ingested, error: impl Into<ApiError>) -> Self {
        Taken {
            ingested,
            refused: Some(error.into()),
        }
    }

    /// The problem, if there was one.
    pub fn result(self) -> Result<(), ApiError> {
        self.refused.map_or(Ok(()), Err)
    }
}

/// A refused batch: what its rows before the refusal added, and the refusal.
fn refusal(batch: u64, form: BucketForm, error: IngestError) -> Taken {
    Taken::refused(error.before, RefusedBucket { batch, form, error })
}

/// Adds a `buckets` message. The first problem in row order is the one reported: rows before an
/// unreadable one are added, and an earlier row the engine refuses is reported instead.
pub(super) fn rows(evaluation: &mut Evaluation, batch: u64, buckets: Vec<pb::Bucket>) -> Taken {
    let mut starts = STARTS.take(buckets.len());
    let mut totals = COUNTS.take(buckets.len());
    let mut failed = COUNTS.take(buckets.len());
    let mut durations = DURATIONS.take(buckets.len());
    let mut unreadable = None;
    for (row, bucket) in buckets.iter().enumerate() {
        match start_seconds(batch, row, bucket.start.as_ref()) {
            Ok(seconds) => starts.push(seconds),
            Err(error) => {
                unreadable = Some(error);
                break;
            }
        }
        totals.push(bucket.total);
        failed.push(bucket.failed);
        durations.push(duration_seconds(bucket.duration_seconds));
    }
    let added = evaluation.add_batch(Batch {
        durations: Durations::PerRow(&durations),
        starts: &starts,
        totals: &totals,
        failed: &failed,
    });
    ROWS.give(buckets);
    STARTS.give(starts);
    COUNTS.give(totals);
    COUNTS.give(failed);
    DURATIONS.give(durations);
    match (added, unreadable) {
        (Err(error), _) => refusal(batch, BucketForm::Rows, error),
        (Ok(ingested), Some(error)) => Taken::refused(ingested, error),
        (Ok(ingested), None) => Taken::all(ingested),
    }
}

/// A row's start as Unix seconds: a valid instant on a whole second.
fn start_seconds(
    batch: u64,
    row: usize,
    start: Option<&prost_types::Timestamp>,
) -> Result<i64, ApiError> {
    // Nearly every row: a whole second inside the Timestamp's range, which is its own answer.
    // Building the instant and the field's name for every row took a fifth of the server's time
    // on rows; anything else takes the full check below, which says what is wrong.
    if let Some(timestamp) = start
        && timestamp.nanos == 0
        && TIMESTAMP_SECONDS.contains(&timestamp.seconds)
    {
        return Ok(timestamp.seconds);
    }
    let field = format!("buckets.buckets[{row}].start");
    let start = instant(&field, start).map_err(|error| {
        ApiError::invalid(field.clone(), format!("batch {batch}, row {row}: {error}")).at(
            At::Bucket {
                batch,
                row: Some(row),
                column: Some(BucketField::Start),
                problem: error.to_string(),
            },
        )
    })?;
    if start.timestamp_subsec_nanos() != 0 {
        let error = IngestError {
            row,
            error: BucketError::FractionalSecond { start },
            before: Ingested::default(),
        };
        return Err(RefusedBucket {
            batch,
            form: BucketForm::Rows,
            error,
        }
        .into());
    }
    Ok(start.timestamp())
}

/// Adds a `columns` message, and gives its vectors back to `buffers`.
pub(super) fn columns(
    evaluation: &mut Evaluation,
    batch: u64,
    columns: pb::BucketColumns,
) -> Taken {
    let taken = add_columns(evaluation, batch, &columns);
    let pb::BucketColumns {
        start_unix_seconds,
        total,
        failed,
        start_delta_seconds,
        ..
    } = columns;
    STARTS.give(start_unix_seconds);
    DELTAS.give(start_delta_seconds);
    COUNTS.give(total);
    COUNTS.give(failed);
    taken
}

fn add_columns(evaluation: &mut Evaluation, batch: u64, columns: &pb::BucketColumns) -> Taken {
    let starts = match columns.starts() {
        Ok(starts) => starts,
        Err(error) => {
            return Taken::refused(Ingested::default(), UnreadableStarts { batch, error });
        }
    };
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
        let problem = format!(
            "columns must have equal lengths, but the starts have {rows} rows, total {} and \
             failed {}",
            total.len(),
            failed.len()
        );
        let unequal = ApiError::invalid("columns.total", format!("batch {batch}: {problem}")).at(
            At::Bucket {
                batch,
                row: None,
                column: None,
                problem,
            },
        );
        return Taken::refused(Ingested::default(), unequal);
    }
    let added = evaluation.add_batch(Batch {
        durations: Durations::Same(duration_seconds(*duration)),
        starts: &starts,
        totals: total,
        failed,
    });
    if let std::borrow::Cow::Owned(starts) = starts {
        STARTS.give(starts);
    }
    match added {
        Ok(ingested) => Taken::all(ingested),
        Err(error) => {
            let form = BucketForm::Columns {
                deltas: !deltas.is_empty(),
            };
            refusal(batch, form, error)
        }
    }
}
