//! Every way a call can fail: each domain error's conversion into an [`ApiError`] naming the request
//! field at fault, and the one exhaustive match that turns an `ApiError` into a gRPC status.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::columns::StartsError;
use super::quoted::{Quoted, shortened};
use crate::engine::{BucketField, FeeField, IngestError, OutageError, SpecError};
use crate::memory::Exhausted;

/// Why a call failed, as the API layer sees it. Domain errors arrive here already carrying the path
/// of the request field at fault.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A request field is missing or wrong; `message` names the field and the value.
    #[error("{message}")]
    InvalidField {
        /// The field's path in the request, e.g. `spec.fees[0].paid`.
        field: String,
        /// What is wrong, naming the field and the value.
        message: String,
        /// Where the value sat, when it is one bucket or fee of many.
        at: Option<At>,
    },
    /// No loaded policy has the id.
    #[error("no policy has the id {}; ListPolicies shows the loaded ones", Quoted(.0))]
    PolicyNotFound(String),
    /// An Evaluate stream whose first message is not its spec.
    #[error("an Evaluate stream must start with a `spec` message, but its first message {0}")]
    SpecNotFirst(&'static str),
    /// A request went beyond one of the server's limits.
    #[error("{message}")]
    LimitExceeded {
        /// The limit, as `google.rpc.QuotaFailure` names it.
        subject: String,
        /// What went beyond it.
        message: String,
    },
    /// The server is at its limit of concurrent calls; the call was shed before any work.
    #[error(
        "the server is at its limit of {max} concurrent calls; retry with backoff, or on another \
         replica"
    )]
    Overloaded {
        /// `--max-concurrent-calls`: the work calls the server takes at once.
        max: usize,
    },
    /// The call ran past the server's time limit (a stream that uploads too slowly, too).
    #[error(
        "the call took longer than the server's limit of {}; a stream must send everything and \
         close within it", humantime::format_duration(*limit)
    )]
    TimedOut {
        /// `--call-timeout`: the longest any call may take.
        limit: std::time::Duration,
    },
    /// The call ran past the deadline its client set (`grpc-timeout`), shorter than the server's.
    #[error(
        "the call ran past the deadline its client set (grpc-timeout {})",
        humantime::format_duration(*timeout)
    )]
    ClientDeadline {
        /// The client's timeout.
        timeout: std::time::Duration,
    },
    /// The call would have passed the server's memory budget.
    #[error("{0}")]
    MemoryExhausted(Exhausted),
    /// The stream carried another number of buckets than its spec announced.
    #[error(
        "the stream carried {received} buckets but spec.expected_buckets is {expected}: the upload \
         was cut short or padded, and nothing was evaluated"
    )]
    BucketCountMismatch {
        /// `spec.expected_buckets`.
        expected: u64,
        /// Buckets the stream carried, accepted and ignored.
        received: u64,
    },
    /// The client went away before closing its stream: what arrived is not the whole upload.
    #[error("the client cancelled the stream before closing it; nothing was evaluated")]
    ClientGone,
    /// The client's stream itself failed (cancelled, reset, undecodable message).
    #[error(transparent)]
    Stream(Status),
    /// The statement ledger could not be read or written: an answer it cannot record is not
    /// given.
    #[error("{0}; nothing was answered, retry with backoff")]
    StoreUnavailable(String),
    /// The call needs a statement ledger, and the server keeps none.
    #[error("this server keeps no statement ledger: start it with --statement-store")]
    NoStatementStore,
    /// The ledger holds no statement with the id.
    #[error("the statement ledger holds no statement {0}")]
    StatementNotFound(u64),
}

impl ApiError {
    /// A request field that is missing or wrong.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::InvalidField {
            field: field.into(),
            message: message.into(),
            at: None,
        }
    }

    /// The same refusal, placed at `at`; other refusals are not about one value.
    pub(super) fn at(mut self, place: At) -> Self {
        if let ApiError::InvalidField { at, .. } = &mut self {
            *at = Some(place);
        }
        self
    }
}

/// Where in a request a refused value sat, as typed values. A client that traces a refusal to its
/// own input (a file's line, as the command line does) reads these from the status's `ErrorInfo`
/// metadata ([`At::of_status`]) instead of parsing the message, which may be reworded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum At {
    /// A bucket of an Evaluate stream.
    Bucket {
        /// The bucket-carrying message (`buckets` or `columns`), counted from 0.
        batch: u64,
        /// The bucket's row in it, counted from 0, when one row is at fault.
        row: Option<usize>,
        /// The part of the bucket at fault, when one is.
        column: Option<BucketField>,
        /// What is wrong, without where: the message names the batch and row as the stream
        /// counts them, and a client that knows the bucket's own place names that instead.
        problem: String,
    },
    /// An entry of `spec.fees`.
    Fee {
        /// Its index, counted from 0.
        index: usize,
    },
}

impl At {
    /// The metadata that carries it: `batch`, `row` and `column` of a bucket, or `fee_index`.
    fn metadata(&self) -> Vec<(&'static str, String)> {
        match self {
            At::Bucket {
                batch, row, column, ..
            } => {
                let mut metadata = vec![("batch", batch.to_string())];
                metadata.extend(row.map(|row| ("row", row.to_string())));
                metadata.extend(column.map(|column| ("column", field_name(column).to_string())));
                metadata
            }
            At::Fee { index } => vec![("fee_index", index.to_string())],
        }
    }

    /// Where a refusal of this service says its value sat: read from its `ErrorInfo` metadata,
    /// and a bucket's problem from its `BadRequest` (whose description leaves the batch and row
    /// to the metadata).
    pub fn of_status(status: &Status) -> Option<At> {
        let info = status
            .get_details_error_info()
            .filter(|info| info.domain == ERROR_DOMAIN)?;
        let number = |key: &str| info.metadata.get(key).and_then(|value| value.parse().ok());
        if let Some(index) = number("fee_index") {
            return Some(At::Fee {
                index: usize::try_from(index).ok()?,
            });
        }
        let problem = status
            .get_details_bad_request()?
            .field_violations
            .into_iter()
            .next()?
            .description;
        Some(At::Bucket {
            batch: number("batch")?,
            row: number("row").and_then(|row| usize::try_from(row).ok()),
            column: info.metadata.get("column").and_then(|name| {
                BUCKET_FIELDS
                    .into_iter()
                    .find(|&field| field_name(field) == name)
            }),
            problem,
        })
    }
}

/// How a refused bucket was sent, which decides the name of its field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BucketForm {
    /// A `buckets` message: one `Bucket` per row.
    Rows,
    /// A `columns` message, whose starts came as deltas or not.
    Columns {
        /// The starts came as `start_delta_seconds`.
        deltas: bool,
    },
}

/// A bucket the engine refused, with where it sat in the stream.
#[derive(Clone, Debug)]
pub struct RefusedBucket {
    /// The bucket-carrying message, counted from 0.
    pub batch: u64,
    /// How that message carried its buckets.
    pub form: BucketForm,
    /// The row and the reason.
    pub error: IngestError,
}

impl From<RefusedBucket> for ApiError {
    fn from(refused: RefusedBucket) -> Self {
        let RefusedBucket {
            batch,
            form,
            error: IngestError { row, error, .. },
        } = refused;
        let column = error.field();
        let field = match (form, column) {
            (BucketForm::Rows, field) => format!("buckets.buckets[{row}].{}", field_name(field)),
            (BucketForm::Columns { .. }, BucketField::Duration) => {
                "columns.duration_seconds".to_string()
            }
            (BucketForm::Columns { deltas: true }, BucketField::Start) => {
                format!("columns.start_delta_seconds[{row}]")
            }
            (BucketForm::Columns { deltas: false }, BucketField::Start) => {
                format!("columns.start_unix_seconds[{row}]")
            }
            (BucketForm::Columns { .. }, BucketField::Total) => format!("columns.total[{row}]"),
            (BucketForm::Columns { .. }, BucketField::Failed) => format!("columns.failed[{row}]"),
        };
        let message = format!("batch {batch}, row {row} ({field}): {error}");
        ApiError::invalid(field, message).at(At::Bucket {
            batch,
            row: Some(row),
            column: Some(column),
            problem: error.to_string(),
        })
    }
}

/// Every part of a bucket.
const BUCKET_FIELDS: [BucketField; 4] = [
    BucketField::Start,
    BucketField::Duration,
    BucketField::Total,
    BucketField::Failed,
];

/// The name of a bucket's part, as `Bucket` names its field and the `column` metadata names it.
pub fn field_name(field: BucketField) -> &'static str {
    match field {
        BucketField::Start => "start",
        BucketField::Duration => "duration_seconds",
        BucketField::Total => "total",
        BucketField::Failed => "failed",
    }
}

/// The starts of `columns` message `batch` could not be read.
#[derive(Clone, Debug)]
pub struct UnreadableStarts {
    /// The message, counted from 0 among the bucket-carrying ones.
    pub batch: u64,
    /// Both forms of the starts were given, or a delta took a start past 64 bits.
    pub error: StartsError,
}

impl From<UnreadableStarts> for ApiError {
    fn from(UnreadableStarts { batch, error }: UnreadableStarts) -> Self {
        let row = match error {
            StartsError::Overflow { row } => Some(row),
            StartsError::BothForms => None,
        };
        ApiError::invalid(
            "columns.start_delta_seconds",
            format!("batch {batch}: {error}"),
        )
        .at(At::Bucket {
            batch,
            row,
            column: Some(BucketField::Start),
            problem: error.to_string(),
        })
    }
}

/// A spec the engine refused, naming the spec field at fault; a term longer than the server allows
/// is a limit, not a malformed request.
impl From<SpecError> for ApiError {
    fn from(error: SpecError) -> Self {
        let field = match &error {
            SpecError::TermTooLong { .. } => {
                return ApiError::LimitExceeded {
                    subject: "term length in days".into(),
                    message: format!("spec: {error}"),
                };
            }
            SpecError::TermEndsBeforeStart { .. } => "spec.term_end".to_string(),
            SpecError::NoVersionInForce { .. } => "spec.term_start".to_string(),
            SpecError::SliceMisfit { .. } => "spec.time_zone".to_string(),
            SpecError::CurrencyRequired
            | SpecError::CurrencyWithoutMinorUnit { .. }
            | SpecError::MinAmountCurrency { .. } => "spec.currency".to_string(),
            SpecError::FeeMonthUnknown { index, .. }
            | SpecError::FeeMonthRepeated { index, .. } => {
                format!("spec.fees[{index}].month_start")
            }
            SpecError::FeeInvalid { index, field, .. } => {
                format!("spec.fees[{index}].{}", field.name())
            }
            SpecError::DeductionsExceedPaid { index, .. } => {
                format!("spec.fees[{index}].{}", FeeField::Deductions.name())
            }
            SpecError::FeesTooLarge { .. } => "spec.fees".to_string(),
            SpecError::UnitPriceRequired { .. }
            | SpecError::UnitPriceInvalid { .. }
            | SpecError::UnitPriceTooSmall { .. } => "spec.message_unit_price".to_string(),
            SpecError::TooFewBusinessDays { .. } | SpecError::ClaimWindowEmpty { .. } => {
                "spec.calendar.holidays".to_string()
            }
            SpecError::TooManyIntervals { .. } => "spec.max_intervals".to_string(),
        };
        let fee = match &error {
            SpecError::FeeMonthUnknown { index, .. }
            | SpecError::FeeMonthRepeated { index, .. }
            | SpecError::FeeInvalid { index, .. }
            | SpecError::DeductionsExceedPaid { index, .. } => Some(*index),
            _ => None,
        };
        let refused = ApiError::invalid(field, format!("spec: {error}"));
        match fee {
            Some(index) => refused.at(At::Fee { index }),
            None => refused,
        }
    }
}

/// An outage of an Evaluate stream the engine refused.
impl From<OutageError> for ApiError {
    fn from(error: OutageError) -> Self {
        match error {
            OutageError::DuplicateId { .. } => ApiError::invalid("outage.id", error.to_string()),
            OutageError::UndeclaredCause(_) => {
                ApiError::invalid("outage.policy_cause", format!("outage: {error}"))
            }
            OutageError::TooMany { .. } => ApiError::LimitExceeded {
                subject: "outages per stream".into(),
                message: error.to_string(),
            },
        }
    }
}

impl From<Exhausted> for ApiError {
    fn from(exhausted: Exhausted) -> Self {
        ApiError::MemoryExhausted(exhausted)
    }
}

/// A failure of the client's stream; a message over the size limit becomes a limit like the others
/// (see [`is_message_too_large`]).
impl From<Status> for ApiError {
    fn from(status: Status) -> Self {
        if is_message_too_large(status.code(), status.message()) {
            return ApiError::LimitExceeded {
                subject: "message size in bytes".into(),
                message: status.message().to_string(),
            };
        }
        ApiError::Stream(status)
    }
}

/// tonic refuses a message over the size limit with OUT_OF_RANGE; the gRPC status-code guide asks
/// for RESOURCE_EXHAUSTED ("message larger than server's receive limit"), which is what clients
/// retry and alert on. This is the one place that recognises such a refusal, whether it reaches a
/// handler through its stream or is answered by tonic before any handler runs.
pub(crate) fn is_message_too_large(code: Code, message: &str) -> bool {
    code == Code::OutOfRange && message.contains("message length too large")
}

/// The `google.rpc.ErrorInfo` domain of every error the service raises.
pub const ERROR_DOMAIN: &str = "sla-evaluator";

impl ApiError {
    /// The error's `google.rpc.ErrorInfo` reason: a stable UPPER_SNAKE_CASE name a client can
    /// branch on without parsing the message, which may be reworded.
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::InvalidField { .. } => "INVALID_FIELD",
            ApiError::PolicyNotFound(_) => "POLICY_NOT_FOUND",
            ApiError::SpecNotFirst(_) => "SPEC_NOT_FIRST",
            ApiError::LimitExceeded { .. } => "LIMIT_EXCEEDED",
            ApiError::Overloaded { .. } => "OVERLOADED",
            ApiError::TimedOut { .. } => "CALL_TIMEOUT",
            ApiError::ClientDeadline { .. } => "CLIENT_DEADLINE",
            ApiError::MemoryExhausted(_) => "MEMORY_BUDGET",
            ApiError::BucketCountMismatch { .. } => "BUCKET_COUNT_MISMATCH",
            ApiError::ClientGone => "CLIENT_GONE",
            ApiError::Stream(_) => "REQUEST_STREAM",
            ApiError::StoreUnavailable(_) => "STATEMENT_STORE_UNAVAILABLE",
            ApiError::NoStatementStore => "NO_STATEMENT_STORE",
            ApiError::StatementNotFound(_) => "STATEMENT_NOT_FOUND",
        }
    }
}

/// The most characters of a status message: every value in it is cut already (see [`Quoted`]);
/// this bounds what a message made of many of them, or a future one, could grow to.
const MAX_MESSAGE_CHARS: usize = 4_096;

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Status {
        let mut message = error.to_string();
        if let Some((end, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
            message.truncate(end);
            message.push('…');
        }
        let reason = error.reason();
        let mut details = ErrorDetails::new();
        let mut metadata: Vec<(&str, String)> = Vec::new();
        let code = match error {
            ApiError::InvalidField { field, at, .. } => {
                metadata.push(("field", field.clone()));
                let description = match &at {
                    Some(At::Bucket { problem, .. }) => problem.clone(),
                    _ => message.clone(),
                };
                metadata.extend(at.iter().flat_map(At::metadata));
                details.add_bad_request_violation(field, description);
                Code::InvalidArgument
            }
            ApiError::PolicyNotFound(id) => {
                let id = shortened(&id);
                metadata.push(("policy_id", id.clone()));
                details.set_resource_info("sla.v1.Policy", id, "", message.clone());
                Code::NotFound
            }
            ApiError::SpecNotFirst(_) => {
                details.add_precondition_failure_violation(
                    "STREAM_ORDER",
                    "EvaluateRequest.spec",
                    message.clone(),
                );
                Code::FailedPrecondition
            }
            ApiError::LimitExceeded { subject, .. } => {
                metadata.push(("limit", subject.clone()));
                details.add_quota_failure_violation(subject, message.clone());
                Code::ResourceExhausted
            }
            ApiError::Overloaded { max } => {
                metadata.push(("max_concurrent_calls", max.to_string()));
                details.add_quota_failure_violation("concurrent calls", message.clone());
                Code::ResourceExhausted
            }
            ApiError::TimedOut { limit } => {
                metadata.push((
                    "call_timeout",
                    humantime::format_duration(limit).to_string(),
                ));
                Code::DeadlineExceeded
            }
            ApiError::ClientDeadline { timeout } => {
                metadata.push((
                    "grpc_timeout",
                    humantime::format_duration(timeout).to_string(),
                ));
                Code::DeadlineExceeded
            }
            ApiError::MemoryExhausted(exhausted) => {
                metadata.push(("asked_bytes", exhausted.asked.to_string()));
                metadata.push(("budget_bytes", exhausted.total.to_string()));
                metadata.push(("reserved_bytes", exhausted.reserved.to_string()));
                details.add_quota_failure_violation("memory budget", message.clone());
                // Calls in progress give their memory back as they end, usually within a
                // second or two.
                details.set_retry_info(Some(std::time::Duration::from_secs(1)));
                Code::ResourceExhausted
            }
            ApiError::BucketCountMismatch { expected, received } => {
                metadata.push(("expected_buckets", expected.to_string()));
                metadata.push(("received_buckets", received.to_string()));
                details.add_precondition_failure_violation(
                    "BUCKET_COUNT",
                    "EvaluateRequest.spec.expected_buckets",
                    message.clone(),
                );
                Code::FailedPrecondition
            }
            ApiError::ClientGone => Code::Cancelled,
            ApiError::StoreUnavailable(_) => {
                details.set_retry_info(Some(std::time::Duration::from_secs(1)));
                Code::Unavailable
            }
            ApiError::NoStatementStore => {
                details.add_precondition_failure_violation(
                    "STATEMENT_STORE",
                    "--statement-store",
                    message.clone(),
                );
                Code::FailedPrecondition
            }
            ApiError::StatementNotFound(id) => {
                metadata.push(("statement_id", id.to_string()));
                details.set_resource_info("sla.v1.Statement", id.to_string(), "", message.clone());
                Code::NotFound
            }
            // The transport's own refusal (an undecodable message): its code and words, with
            // the reason added when it carries no details of its own.
            ApiError::Stream(status) if !status.details().is_empty() => return status,
            ApiError::Stream(status) => {
                metadata.push(("grpc_code", format!("{:?}", status.code())));
                details.set_error_info(reason, ERROR_DOMAIN, owned(metadata));
                return Status::with_error_details(
                    status.code(),
                    status.message().to_string(),
                    details,
                );
            }
        };
        details.set_error_info(reason, ERROR_DOMAIN, owned(metadata));
        Status::with_error_details(code, message, details)
    }
}

fn owned(metadata: Vec<(&str, String)>) -> std::collections::HashMap<String, String> {
    metadata
        .into_iter()
        .map(|(key, value)| (key.to_string(), value))
        .collect()
}

/// Logs a refused call once, at the layer that refused it. The status's text goes in `detail`:
/// `message` is the event's own field, and a second one made JSON logs carry the key twice.
pub fn log_refusal(status: &Status) {
    let reason = status
        .get_details_error_info()
        .map(|info| info.reason)
        .unwrap_or_default();
    tracing::info!(
        code = ?status.code(),
        reason = %reason,
        detail = status.message(),
        "call refused"
    );
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::engine::{BucketError, Ingested};

    /// What a client reads back is what the refusal was made of: no message is parsed.
    #[test]
    fn a_refusal_s_place_survives_the_status() {
        let refused = RefusedBucket {
            batch: 3,
            form: BucketForm::Columns { deltas: true },
            error: IngestError {
                row: 17,
                error: BucketError::FailedExceedsTotal {
                    total: 5,
                    failed: 6,
                },
                before: Ingested::default(),
            },
        };
        let status = Status::from(ApiError::from(refused));
        assert_eq!(
            status.message(),
            "batch 3, row 17 (columns.failed[17]): failed 6 exceeds total 5"
        );
        assert_eq!(
            At::of_status(&status),
            Some(At::Bucket {
                batch: 3,
                row: Some(17),
                column: Some(BucketField::Failed),
                problem: "failed 6 exceeds total 5".into(),
            })
        );
        let info = status.get_details_error_info().unwrap();
        assert_eq!(info.metadata["column"], "failed");
        assert_eq!(info.metadata["field"], "columns.failed[17]");

        let unreadable = UnreadableStarts {
            batch: 0,
            error: StartsError::BothForms,
        };
        let status = Status::from(ApiError::from(unreadable));
        assert!(matches!(
            At::of_status(&status),
            Some(At::Bucket {
                batch: 0,
                row: None,
                column: Some(BucketField::Start),
                ..
            })
        ));

        let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let repeated = SpecError::FeeMonthRepeated {
            index: 2,
            month_start: day,
        };
        let status = Status::from(ApiError::from(repeated));
        assert_eq!(At::of_status(&status), Some(At::Fee { index: 2 }));

        let elsewhere = Status::from(ApiError::invalid("spec.currency", "spec: no"));
        assert_eq!(At::of_status(&elsewhere), None);
    }
}
