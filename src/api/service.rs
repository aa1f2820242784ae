//! The `sla.v1.SlaEvaluator` handlers: validate, convert, call the domain, convert back. Serving
//! policy (shedding, time limits, call metrics) wraps them at the server's edge
//! (`server/edge/`).

use std::sync::Arc;

use chrono::Utc;

use tonic::{Request, Response, Status, Streaming};
use tracing::{Span, field};

use super::error::{ApiError, log_refusal};
use super::from_pb;
use super::pb;
use super::response;
use super::stream_evaluation::StreamEvaluation;
use super::to_pb;
use super::upload::{ClientGone, Upload};
use crate::calendar::CalendarSet;
use crate::classify::{self, Context};
use crate::engine::Ingested;
use crate::limits::{CallLimits, Limits};
use crate::memory::{MemoryBudget, Reservation};
use crate::policy::{PolicySet, PolicyStore};

/// Where the service counts the buckets Evaluate streams bring, as they arrive. The server counts
/// them in its metrics; the command line, answering one person's call in process, counts nothing
/// ([`Uncounted`]). A trait, so that the API layer needs nothing of the server's.
pub trait BucketCounter: Send + Sync + std::fmt::Debug {
    /// Counts what one message added: buckets accepted, and ignored.
    fn buckets(&self, ingested: Ingested);
}

/// Counts nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Uncounted;

impl BucketCounter for Uncounted {
    fn buckets(&self, _: Ingested) {}
}

/// The service: the loaded policies and calendars, the limits, and where buckets are counted.
#[derive(Clone, Debug)]
pub struct SlaService {
    policies: Arc<PolicyStore>,
    calendars: Arc<CalendarSet>,
    limits: Limits,
    calls: CallLimits,
    budget: Arc<MemoryBudget>,
    counter: Arc<dyn BucketCounter>,
}

impl SlaService {
    /// A service evaluating against the policies in `policies`, counting business days in
    /// `calendars`, within `limits`, and buckets in `counter`.
    pub fn new(
        policies: Arc<PolicyStore>,
        calendars: Arc<CalendarSet>,
        limits: Limits,
        calls: CallLimits,
        budget: Arc<MemoryBudget>,
        counter: Arc<dyn BucketCounter>,
    ) -> Self {
        SlaService {
            policies,
            calendars,
            limits,
            calls,
            budget,
            counter,
        }
    }

    /// The policy set a call starting now uses to its end, whatever reloads meanwhile.
    fn policies(&self) -> Arc<PolicySet> {
        self.policies.snapshot()
    }

    /// Folds an Evaluate stream as it arrives; nothing is collected first.
    async fn evaluate_stream(
        &self,
        request: Request<Streaming<pb::EvaluateRequest>>,
    ) -> Result<Response<pb::EvaluateResponse>, ApiError> {
        let policies = self.policies();
        let gone = request.extensions().get::<ClientGone>().cloned();
        let mut upload = Upload::new(request.into_inner(), gone);
        let spec = upload.spec().await?;
        let mut evaluation = StreamEvaluation::start(
            &policies,
            &self.calendars,
            self.limits,
            self.calls.max_buckets_per_stream,
            self.budget.reservation(),
            spec,
            Utc::now(),
        )?;
        Span::current().record("policy_id", evaluation.policy_id());
        let outcome = self.fold(&mut upload, &mut evaluation).await;
        let ingested = evaluation.ingested();
        let span = Span::current();
        span.record("buckets_accepted", ingested.accepted);
        span.record("buckets_ignored", ingested.ignored);
        span.record("batches", evaluation.batches());
        outcome?;
        let (response, memory) = evaluation.finish_reserved()?;
        self.bounded(response, memory)
    }

    /// The response, within the server's response limit and its memory reserved
    /// ([`response::bounded`]).
    fn bounded<T: prost::Message>(
        &self,
        message: T,
        memory: Reservation,
    ) -> Result<Response<T>, ApiError> {
        response::bounded(message, memory, self.calls.max_response_bytes)
    }

    /// Takes every message after the spec.
    async fn fold(
        &self,
        upload: &mut Upload,
        evaluation: &mut StreamEvaluation,
    ) -> Result<(), ApiError> {
        while let Some(message) = upload.next().await? {
            let taken = evaluation.take(message);
            // Counted as they arrive, rows before a refused one included.
            self.counter.buckets(taken.ingested);
            taken.result()?;
        }
        Ok(())
    }

    fn classify(
        &self,
        request: pb::ClassifyOutagesRequest,
    ) -> Result<Response<pb::ClassifyOutagesResponse>, ApiError> {
        let pb::ClassifyOutagesRequest {
            policy_id,
            outages,
            calendar,
            time_zone,
            calendar_name,
        } = request;
        let versions = from_pb::policy_versions(&self.policies(), "policy_id", &policy_id)?;
        let policy = versions.earliest();
        Span::current().record("policy_id", policy.id.as_str());
        let context = Context {
            time_zone: from_pb::time_zone("time_zone", &time_zone)?.unwrap_or(policy.time_zone),
            // The earliest version's default: verdicts are not tied to one month's version.
            calendar: from_pb::chosen_calendar(
                &self.calendars,
                policy,
                "",
                calendar,
                &calendar_name,
            )?,
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
                // Without service months, the version in force on the day the outage starts.
                let day = outage
                    .window
                    .start()
                    .with_timezone(&context.time_zone)
                    .date_naive();
                let policy = versions.in_force_or_earliest(day);
                Ok(to_pb::verdict(&classify::classify(
                    policy, &outage, &context,
                )))
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let response = pb::ClassifyOutagesResponse {
            verdicts,
            time_zone: context.time_zone.name().to_string(),
            calendar: context.calendar.name().to_string(),
        };
        self.bounded(response, self.budget.reservation())
    }
}

/// The handler's answer, or its refusal as a status, logged once, here, at the boundary where it
/// becomes a status.
fn respond<T>(result: Result<Response<T>, ApiError>) -> Result<Response<T>, Status> {
    result.map_err(|error| {
        let status = Status::from(error);
        log_refusal(&status);
        status
    })
}

#[tonic::async_trait]
impl pb::sla_evaluator_server::SlaEvaluator for SlaService {
    #[tracing::instrument(skip_all, name = "ListPolicies")]
    async fn list_policies(
        &self,
        _request: Request<pb::ListPoliciesRequest>,
    ) -> Result<Response<pb::ListPoliciesResponse>, Status> {
        let response = pb::ListPoliciesResponse {
            policies: self.policies().iter().map(|p| to_pb::policy(p)).collect(),
        };
        respond(self.bounded(response, self.budget.reservation()))
    }

    #[tracing::instrument(skip_all, name = "GetPolicy", fields(policy_id = field::Empty))]
    async fn get_policy(
        &self,
        request: Request<pb::GetPolicyRequest>,
    ) -> Result<Response<pb::Policy>, Status> {
        let pb::GetPolicyRequest { policy_id } = request.into_inner();
        // Every log line of the call carries it: cut, as refusals cut it.
        Span::current().record("policy_id", super::quoted::shortened(&policy_id));
        respond(
            from_pb::policy_versions(&self.policies(), "policy_id", &policy_id).and_then(
                |versions| {
                    let policy = to_pb::policy_with_versions(&versions);
                    self.bounded(policy, self.budget.reservation())
                },
            ),
        )
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
        respond(self.evaluate_stream(request).await)
    }

    #[tracing::instrument(skip_all, name = "ClassifyOutages", fields(policy_id = field::Empty))]
    async fn classify_outages(
        &self,
        request: Request<pb::ClassifyOutagesRequest>,
    ) -> Result<Response<pb::ClassifyOutagesResponse>, Status> {
        respond(self.classify(request.into_inner()))
    }
}
