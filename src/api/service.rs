//! The `sla.v1.SlaEvaluator` handlers: validate, convert, call the domain, convert back. Every call
//! also passes the server's call limits (concurrency, time) and is counted in the metrics.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tonic::{Code, Request, Response, Status, Streaming};
use tracing::{Span, field};

use super::error::ApiError;
use super::from_pb;
use super::ingest;
use super::pb;
use super::pb::evaluate_request::Item;
use super::to_pb;
use crate::classify::{self, Context};
use crate::engine::{Evaluation, Ingested, Limits, OutageError};
use crate::metrics::{Method, Metrics};
use crate::policy::PolicySet;

/// Limits every call runs under, besides the engine's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallLimits {
    /// Evaluate and ClassifyOutages calls in progress at once, over all connections; one more is
    /// shed with RESOURCE_EXHAUSTED.
    pub max_concurrent: usize,
    /// The longest a call may take, upload included.
    pub timeout: Duration,
    /// Buckets one Evaluate stream may send, accepted or ignored.
    pub max_buckets_per_stream: u64,
}

impl Default for CallLimits {
    /// 1,024 concurrent calls, 5 minutes each, 10 million buckets a stream (a five-year term of
    /// one-minute buckets is 2.6 million).
    fn default() -> Self {
        CallLimits {
            max_concurrent: 1024,
            timeout: Duration::from_secs(300),
            max_buckets_per_stream: 10_000_000,
        }
    }
}

/// The service: the loaded policies, the limits, and the metrics calls are counted in.
#[derive(Clone, Debug)]
pub struct SlaService {
    policies: Arc<PolicySet>,
    limits: Limits,
    calls: CallLimits,
    slots: Arc<Semaphore>,
    metrics: Arc<Metrics>,
}

impl SlaService {
    pub fn new(
        policies: Arc<PolicySet>,
        limits: Limits,
        calls: CallLimits,
        metrics: Arc<Metrics>,
    ) -> Self {
        SlaService {
            policies,
            limits,
            slots: Arc::new(Semaphore::new(calls.max_concurrent)),
            calls,
            metrics,
        }
    }

    /// Runs one call under the limits: shed at once when the server is full (work calls only),
    /// cut off at the time limit, counted either way, and logged once if refused.
    async fn call<T>(
        &self,
        method: Method,
        work: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<Response<T>, Status> {
        let call = self.metrics.start(method);
        let sheddable = matches!(method, Method::Evaluate | Method::ClassifyOutages);
        let _slot = match sheddable.then(|| Arc::clone(&self.slots).try_acquire_owned()) {
            Some(Err(_)) => {
                self.metrics.shed(method);
                let status = refuse(ApiError::Overloaded {
                    max: self.calls.max_concurrent,
                });
                call.finish(status.code());
                return Err(status);
            }
            Some(Ok(slot)) => Some(slot),
            None => None,
        };
        let result = match tokio::time::timeout(self.calls.timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(ApiError::TimedOut {
                limit: self.calls.timeout,
            }),
        };
        match result {
            Ok(response) => {
                call.finish(Code::Ok);
                Ok(Response::new(response))
            }
            Err(error) => {
                let status = refuse(error);
                call.finish(status.code());
                Err(status)
            }
        }
    }

    /// Folds an Evaluate stream as it arrives; nothing is collected first.
    async fn evaluate_stream(
        &self,
        mut stream: Streaming<pb::EvaluateRequest>,
    ) -> Result<pb::EvaluateResponse, ApiError> {
        let first = stream.message().await.map_err(stream_error)?;
        let spec = match first.and_then(|message| message.item) {
            Some(Item::Spec(spec)) => spec,
            Some(Item::Buckets(_)) => return Err(ApiError::SpecNotFirst("carried `buckets`")),
            Some(Item::Columns(_)) => return Err(ApiError::SpecNotFirst("carried `columns`")),
            Some(Item::Outage(_)) => return Err(ApiError::SpecNotFirst("carried `outage`")),
            None => return Err(ApiError::SpecNotFirst("was empty or missing")),
        };
        let (policy, spec) = from_pb::evaluation_spec(&self.policies, spec)?;
        Span::current().record("policy_id", policy.id.as_str());
        let mut evaluation =
            Evaluation::new(policy, spec, self.limits).map_err(from_pb::spec_error)?;

        let mut batches: u64 = 0;
        let outcome = self.fold(&mut stream, &mut evaluation, &mut batches).await;
        let ingested = evaluation.ingested();
        let span = Span::current();
        span.record("buckets_accepted", ingested.accepted);
        span.record("buckets_ignored", ingested.ignored);
        span.record("batches", batches);
        outcome?;
        let report = evaluation.finish();
        Ok(to_pb::report(&report, ingested, batches))
    }

    /// Takes every message after the spec.
    async fn fold(
        &self,
        stream: &mut Streaming<pb::EvaluateRequest>,
        evaluation: &mut Evaluation,
        batches: &mut u64,
    ) -> Result<(), ApiError> {
        while let Some(message) = stream.message().await.map_err(stream_error)? {
            let rows = match &message.item {
                Some(Item::Buckets(batch)) => batch.buckets.len() as u64,
                Some(Item::Columns(columns)) => columns.rows() as u64,
                _ => 0,
            };
            let ingested = evaluation.ingested();
            if ingested.accepted + ingested.ignored + rows > self.calls.max_buckets_per_stream {
                return Err(ApiError::LimitExceeded {
                    subject: "buckets per stream".into(),
                    message: format!(
                        "batch {batches} would take the stream past the server's limit of {} \
                         buckets per stream; split the term over several streams",
                        self.calls.max_buckets_per_stream
                    ),
                });
            }
            match message.item {
                Some(Item::Buckets(pb::BucketBatch { buckets })) => {
                    let taken = ingest::rows(evaluation, *batches, buckets);
                    self.count_buckets(evaluation, ingested);
                    taken?;
                    *batches += 1;
                }
                Some(Item::Columns(columns)) => {
                    let taken = ingest::columns(evaluation, *batches, &columns);
                    self.count_buckets(evaluation, ingested);
                    taken?;
                    *batches += 1;
                }
                Some(Item::Outage(outage)) => {
                    let outage = from_pb::outage("outage", outage)?;
                    evaluation.add_outage(outage).map_err(|error| match error {
                        OutageError::DuplicateId { .. } => {
                            ApiError::invalid("outage.id", error.to_string())
                        }
                        OutageError::TooMany { .. } => ApiError::LimitExceeded {
                            subject: "outages per stream".into(),
                            message: error.to_string(),
                        },
                    })?;
                }
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
            }
        }
        Ok(())
    }

    /// Counts the buckets a batch added (rows before a refused one included), as they arrive.
    fn count_buckets(&self, evaluation: &Evaluation, before: Ingested) {
        let after = evaluation.ingested();
        self.metrics.buckets(
            after.accepted - before.accepted,
            after.ignored - before.ignored,
        );
    }

    fn classify(
        &self,
        request: pb::ClassifyOutagesRequest,
    ) -> Result<pb::ClassifyOutagesResponse, ApiError> {
        let pb::ClassifyOutagesRequest {
            policy_id,
            outages,
            calendar,
            time_zone,
        } = request;
        let policy = from_pb::policy(&self.policies, "policy_id", &policy_id)?;
        Span::current().record("policy_id", policy.id.as_str());
        let context = Context {
            time_zone: from_pb::time_zone("time_zone", &time_zone)?.unwrap_or(policy.time_zone),
            calendar: from_pb::calendar("calendar", calendar)?,
        };
        if outages.len() > self.limits.max_outages {
            return Err(ApiError::LimitExceeded {
                subject: "outages per request".into(),
                message: format!(
                    "{} outages in one request; at most {} are accepted",
                    outages.len(),
                    self.limits.max_outages
                ),
            });
        }
        let verdicts = outages
            .into_iter()
            .enumerate()
            .map(|(index, outage)| {
                let outage = from_pb::outage(&format!("outages[{index}]"), outage)?;
                Ok(to_pb::verdict(&classify::classify(
                    &policy, &outage, &context,
                )))
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        Ok(pb::ClassifyOutagesResponse {
            verdicts,
            time_zone: context.time_zone.name().to_string(),
            calendar: context.calendar.name().to_string(),
        })
    }
}

/// A failure of the client's stream. tonic reports a message over the size limit as OUT_OF_RANGE;
/// the gRPC status-code guide asks for RESOURCE_EXHAUSTED, so it becomes a limit like the others
/// (metrics and logs then see the code the client gets).
fn stream_error(status: Status) -> ApiError {
    if status.code() == Code::OutOfRange && status.message().contains("message length too large") {
        return ApiError::LimitExceeded {
            subject: "message size in bytes".into(),
            message: status.message().to_string(),
        };
    }
    ApiError::Stream(status)
}

/// Turns an API error into a status, logging it once, here, at the boundary.
fn refuse(error: ApiError) -> Status {
    let status = Status::from(error);
    tracing::info!(code = ?status.code(), message = status.message(), "call refused");
    status
}

#[tonic::async_trait]
impl pb::sla_evaluator_server::SlaEvaluator for SlaService {
    #[tracing::instrument(skip_all, name = "ListPolicies")]
    async fn list_policies(
        &self,
        _request: Request<pb::ListPoliciesRequest>,
    ) -> Result<Response<pb::ListPoliciesResponse>, Status> {
        self.call(Method::ListPolicies, async {
            Ok(pb::ListPoliciesResponse {
                policies: self.policies.iter().map(|p| to_pb::policy(p)).collect(),
            })
        })
        .await
    }

    #[tracing::instrument(skip_all, name = "GetPolicy", fields(policy_id = field::Empty))]
    async fn get_policy(
        &self,
        request: Request<pb::GetPolicyRequest>,
    ) -> Result<Response<pb::Policy>, Status> {
        let pb::GetPolicyRequest { policy_id } = request.into_inner();
        Span::current().record("policy_id", policy_id.as_str());
        self.call(Method::GetPolicy, async {
            let policy = from_pb::policy(&self.policies, "policy_id", &policy_id)?;
            Ok(to_pb::policy(&policy))
        })
        .await
    }

    #[tracing::instrument(
        skip_all,
        name = "Evaluate",
        fields(
            policy_id = field::Empty,
            buckets_accepted = field::Empty,
            buckets_ignored = field::Empty,
            batches = field::Empty
        )
    )]
    async fn evaluate(
        &self,
        request: Request<Streaming<pb::EvaluateRequest>>,
    ) -> Result<Response<pb::EvaluateResponse>, Status> {
        self.call(Method::Evaluate, self.evaluate_stream(request.into_inner()))
            .await
    }

    #[tracing::instrument(skip_all, name = "ClassifyOutages", fields(policy_id = field::Empty))]
    async fn classify_outages(
        &self,
        request: Request<pb::ClassifyOutagesRequest>,
    ) -> Result<Response<pb::ClassifyOutagesResponse>, Status> {
        let request = request.into_inner();
        self.call(Method::ClassifyOutages, async { self.classify(request) })
            .await
    }
}
