//! An Evaluate stream as it arrives: the spec first, then messages held to the server's per-stream
//! bucket limit. Nothing is collected; each message is handed on as it is decoded.

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
    max_buckets: u64,
    buckets: u64,
    batches: u64,
}

impl Upload {
    /// The stream, allowed at most `max_buckets` buckets in all.
    pub(super) fn new(
        stream: Streaming<pb::EvaluateRequest>,
        max_buckets: u64,
        gone: Option<ClientGone>,
    ) -> Self {
        Upload {
            stream,
            gone,
            max_buckets,
            buckets: 0,
            batches: 0,
        }
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

    /// The next message after the spec, `None` once the client has closed the stream. A message
    /// that would take the stream past its bucket limit is refused before any of it is used.
    pub(super) async fn next(&mut self) -> Result<Option<Message>, ApiError> {
        let Some(message) = self.stream.message().await? else {
            if self.gone.as_ref().is_some_and(ClientGone::is_marked) {
                return Err(ApiError::ClientGone);
            }
            return Ok(None);
        };
        let (rows, message) = match message.item {
            Some(Item::Buckets(pb::BucketBatch { buckets })) => (
                buckets.len() as u64,
                Message::Rows {
                    batch: self.batches,
                    buckets,
                },
            ),
            Some(Item::Columns(columns)) => (
                columns.rows() as u64,
                Message::Columns {
                    batch: self.batches,
                    columns,
                },
            ),
            Some(Item::Outage(outage)) => return Ok(Some(Message::Outage(outage))),
            Some(Item::Spec(_)) => {
                return Err(ApiError::invalid(
                    "spec",
                    "spec may only be sent once, as the stream's first message",
                ));
            }
            None => {
                return Err(ApiError::invalid(
                    "item",
                    "an EvaluateRequest must carry spec, buckets, columns or outage",
                ));
            }
        };
        if self.buckets + rows > self.max_buckets {
            return Err(ApiError::LimitExceeded {
                subject: "buckets per stream".into(),
                message: format!(
                    "batch {} would take the stream past the server's limit of {} buckets per \
                     stream; split the term over several streams",
                    self.batches, self.max_buckets
                ),
            });
        }
        self.buckets += rows;
        self.batches += 1;
        Ok(Some(message))
    }

    /// Bucket-carrying messages received so far.
    pub(super) fn batches(&self) -> u64 {
        self.batches
    }
}

/// A message after the spec.
pub(super) enum Message {
    /// Readable rows; `batch` counts the stream's bucket-carrying messages from 0.
    Rows {
        /// This message's number among the bucket-carrying ones.
        batch: u64,
        /// The rows.
        buckets: Vec<pb::Bucket>,
    },
    /// Packed columns.
    Columns {
        /// This message's number among the bucket-carrying ones.
        batch: u64,
        /// The columns.
        columns: pb::BucketColumns,
    },
    /// An outage.
    Outage(pb::Outage),
}
