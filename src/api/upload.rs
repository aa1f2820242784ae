//! An Evaluate stream as it arrives: the spec first, then each message as it is decoded. Nothing
//! is collected; a stream the client abandoned ends in an error, never as if complete.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tonic::Streaming;

use super::error::ApiError;
use super::pb;
use super::pb::evaluate_request::Item;

/// Set by the serving layer when a request's body ends in an error: the client reset the stream
/// or the connection broke, so the messages that arrived are not the whole upload.
#[derive(Clone, Debug, Default)]
pub struct ClientGone(Arc<AtomicBool>);

impl ClientGone {
    /// Records that the body ended in an error.
    pub fn mark(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// True once the body ended in an error.
    pub fn is_marked(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The messages of one Evaluate stream.
pub(super) struct Upload {
    stream: Streaming<pb::EvaluateRequest>,
    gone: Option<ClientGone>,
}

impl Upload {
    /// The stream; `gone` is the serving layer's mark of a body that ended in an error.
    pub(super) fn new(stream: Streaming<pb::EvaluateRequest>, gone: Option<ClientGone>) -> Self {
        Upload { stream, gone }
    }

    /// The stream's first message, which must carry the spec.
    pub(super) async fn spec(&mut self) -> Result<pb::EvaluationSpec, ApiError> {
        let first = self.stream.message().await?;
        match first.and_then(|message| message.item) {
            Some(Item::Spec(spec)) => Ok(spec),
            Some(Item::Buckets(_)) => Err(ApiError::SpecNotFirst("carried `buckets`")),
            Some(Item::Columns(_)) => Err(ApiError::SpecNotFirst("carried `columns`")),
            Some(Item::Outage(_)) => Err(ApiError::SpecNotFirst("carried `outage`")),
            None => Err(ApiError::SpecNotFirst("was empty or missing")),
        }
    }

    /// The next message after the spec, `None` once the client has closed the stream; an error
    /// when the client went away instead of closing it.
    pub(super) async fn next(&mut self) -> Result<Option<pb::EvaluateRequest>, ApiError> {
        match self.stream.message().await? {
            Some(message) => Ok(Some(message)),
            None if self.gone.as_ref().is_some_and(ClientGone::is_marked) => {
                Err(ApiError::ClientGone)
            }
            None => Ok(None),
        }
    }
}
