//! Every way a call can fail, and the one exhaustive match that turns it into a gRPC status.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// Why a call failed, as the API layer sees it. Domain errors arrive here already carrying the path
/// of the request field at fault.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A request field is missing or wrong; `message` names the field and the value.
    #[error("{message}")]
    InvalidField { field: String, message: String },
    #[error("no policy has the id '{0}'; ListPolicies shows the loaded ones")]
    PolicyNotFound(String),
    #[error("an Evaluate stream must start with a `spec` message, but its first message {0}")]
    SpecNotFirst(&'static str),
    /// A request went beyond one of the server's limits.
    #[error("{message}")]
    LimitExceeded { subject: String, message: String },
    /// The server is at its limit of concurrent calls; the call was shed before any work.
    #[error(
        "the server is at its limit of {max} concurrent calls; retry with backoff, or on another \
         replica"
    )]
    Overloaded { max: usize },
    /// The call ran past the server's time limit (a stream that uploads too slowly, too).
    #[error(
        "the call took longer than the server's limit of {}; a stream must send everything and \
         close within it", humantime::format_duration(*limit)
    )]
    TimedOut { limit: std::time::Duration },
    /// The client's stream itself failed (cancelled, reset, undecodable message).
    #[error(transparent)]
    Stream(#[from] Status),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::InvalidField {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Status {
        let message = error.to_string();
        match error {
            ApiError::InvalidField { field, .. } => Status::with_error_details(
                Code::InvalidArgument,
                message.clone(),
                ErrorDetails::with_bad_request_violation(field, message),
            ),
            ApiError::PolicyNotFound(id) => Status::with_error_details(
                Code::NotFound,
                message.clone(),
                ErrorDetails::with_resource_info("sla.v1.Policy", id, "", message),
            ),
            ApiError::SpecNotFirst(_) => Status::with_error_details(
                Code::FailedPrecondition,
                message.clone(),
                ErrorDetails::with_precondition_failure_violation(
                    "STREAM_ORDER",
                    "EvaluateRequest.spec",
                    message,
                ),
            ),
            ApiError::LimitExceeded { subject, .. } => Status::with_error_details(
                Code::ResourceExhausted,
                message.clone(),
                ErrorDetails::with_quota_failure_violation(subject, message),
            ),
            ApiError::Overloaded { .. } => Status::with_error_details(
                Code::ResourceExhausted,
                message.clone(),
                ErrorDetails::with_quota_failure_violation("concurrent calls", message),
            ),
            ApiError::TimedOut { .. } => Status::deadline_exceeded(message),
            ApiError::Stream(status) => status,
        }
    }
}
