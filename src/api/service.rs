//! The `sla.v1.SlaEvaluator` handlers: validate, convert, call the domain, convert back.

use std::sync::Arc;

use tonic::{Request, Response, Status, Streaming};
use tracing::{Span, field};

use super::error::ApiError;
use super::from_pb;
use super::ingest;
use super::pb;
use super::pb::evaluate_request::Item;
use super::to_pb;
use crate::classify::{self, Context};
use crate::engine::{Evaluation, Limits, OutageError};
use crate::policy::PolicySet;

/// The service: the loaded policies and the limits every evaluation runs under.
#[derive(Clone, Debug)]
pub struct SlaService {
    policies: Arc<PolicySet>,
    limits: Limits,
}

impl SlaService {
    pub fn new(policies: Arc<PolicySet>, limits: Limits) -> Self {
        SlaService { policies, limits }
    }

    /// Folds an Evaluate stream as it arrives; nothing is collected first.
    async fn evaluate_stream(
        &self,
        mut stream: Streaming<pb::EvaluateRequest>,
    ) -> Result<pb::EvaluateResponse, ApiError> {
        let first = stream.message().await?;
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
        while let Some(message) = stream.message().await? {
            match message.item {
                Some(Item::Buckets(pb::BucketBatch { buckets })) => {
                    ingest::rows(&mut evaluation, batches, buckets)?;
                    batches += 1;
                }
                Some(Item::Columns(columns)) => {
                    ingest::columns(&mut evaluation, batches, &columns)?;
                    batches += 1;
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
        let ingested = evaluation.ingested();
        let span = Span::current();
        span.record("buckets_accepted", ingested.accepted);
        span.record("buckets_ignored", ingested.ignored);
        let report = evaluation.finish();
        Ok(to_pb::report(&report, ingested, batches))
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
        Ok(Response::new(pb::ListPoliciesResponse {
            policies: self.policies.iter().map(|p| to_pb::policy(p)).collect(),
        }))
    }

    #[tracing::instrument(skip_all, name = "GetPolicy", fields(policy_id = field::Empty))]
    async fn get_policy(
        &self,
        request: Request<pb::GetPolicyRequest>,
    ) -> Result<Response<pb::Policy>, Status> {
        let pb::GetPolicyRequest { policy_id } = request.into_inner();
        Span::current().record("policy_id", policy_id.as_str());
        let policy = from_pb::policy(&self.policies, "policy_id", &policy_id).map_err(refuse)?;
        Ok(Response::new(to_pb::policy(&policy)))
    }

    #[tracing::instrument(
        skip_all,
        name = "Evaluate",
        fields(policy_id = field::Empty, buckets_accepted = field::Empty, buckets_ignored = field::Empty)
    )]
    async fn evaluate(
        &self,
        request: Request<Streaming<pb::EvaluateRequest>>,
    ) -> Result<Response<pb::EvaluateResponse>, Status> {
        let response = self
            .evaluate_stream(request.into_inner())
            .await
            .map_err(refuse)?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all, name = "ClassifyOutages", fields(policy_id = field::Empty))]
    async fn classify_outages(
        &self,
        request: Request<pb::ClassifyOutagesRequest>,
    ) -> Result<Response<pb::ClassifyOutagesResponse>, Status> {
        let response = self.classify(request.into_inner()).map_err(refuse)?;
        Ok(Response::new(response))
    }
}
