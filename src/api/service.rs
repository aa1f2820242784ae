//! The `sla.v1.SlaEvaluator` handlers: validate, convert, call the domain, convert back. Serving
//! policy (shedding, time limits, call metrics) wraps them at the server's edge
//! (`server/edge/`).

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::Utc;

use tonic::{Request, Response, Status, Streaming};
use tracing::{Span, field};

use super::error::{ApiError, log_refusal};
use super::from_pb;
use super::pb;
use super::response;
use super::statements::Statements;
use super::stream_evaluation::StreamEvaluation;
use super::to_pb;
use super::upload::{ClientGone, Upload};
use super::work::{Cancel, Work};
use crate::calendar::CalendarSet;
use crate::classify::{self, Context, Outage};
use crate::engine::Ingested;
use crate::limits::{CallLimits, Limits};
use crate::memory::{MemoryBudget, Reservation};
use crate::policy::{Policy, PolicySet, PolicyStore, PolicyVersions};

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

/// The service: the loaded policies and calendars, the limits, where buckets are counted, and
/// the threads its CPU work runs on, and what answers are signed with and recorded in
/// ([`Statements`]; nothing by default).
#[derive(Clone, Debug)]
pub struct SlaService {
    policies: Arc<PolicyStore>,
    calendars: Arc<CalendarSet>,
    limits: Limits,
    calls: CallLimits,
    budget: Arc<MemoryBudget>,
    counter: Arc<dyn BucketCounter>,
    work: Work,
    statements: Statements,
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
            work: Work::per_core(),
            statements: Statements::default(),
        }
    }

    /// The same service, signing and recording its answers with `statements`.
    pub fn with_statements(mut self, statements: Statements) -> Self {
        self.statements = statements;
        self
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
        let (calendars, limits, calls) = (Arc::clone(&self.calendars), self.limits, self.calls);
        let memory = self.budget.reservation();
        let received = Utc::now();
        // Reading the spec builds its calendar and the term's ledgers: work, off the I/O threads.
        let evaluation = self
            .work
            .run(move |_| {
                StreamEvaluation::start(
                    &policies,
                    &calendars,
                    limits,
                    calls.max_buckets_per_stream,
                    memory,
                    spec,
                    received,
                )
            })
            .await?;
        Span::current().record("policy_id", evaluation.policy_id());
        let (evaluation, outcome) = self.fold(&mut upload, evaluation).await;
        let ingested = evaluation.ingested();
        let span = Span::current();
        span.record("buckets_accepted", ingested.accepted);
        span.record("buckets_ignored", ingested.ignored);
        span.record("batches", evaluation.batches());
        outcome?;
        let ask = evaluation.ask();
        let (response, memory) = self.work.run(move |_| evaluation.finish_reserved()).await?;
        let response = self.statements.issue(&ask, response).await?;
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

    /// Takes every message after the spec, each folded in off the I/O threads; gives the
    /// evaluation back with the outcome. (Moved to the work's thread and back with each message:
    /// a call that ends while a message is being folded drops its evaluation there.)
    async fn fold(
        &self,
        upload: &mut Upload,
        mut evaluation: StreamEvaluation,
    ) -> (StreamEvaluation, Result<(), ApiError>) {
        loop {
            let message = match upload.next().await {
                Ok(Some(message)) => message,
                Ok(None) => return (evaluation, Ok(())),
                Err(error) => return (evaluation, Err(error)),
            };
            let (back, taken) = self
                .work
                .run(move |_| {
                    let taken = evaluation.take(message);
                    (evaluation, taken)
                })
                .await;
            evaluation = back;
            // Counted as they arrive, rows before a refused one included.
            self.counter.buckets(taken.ingested);
            if let Err(error) = taken.result() {
                return (evaluation, Err(error));
            }
        }
    }

    /// ClassifyOutages: the request read, then its outages classified a slice of time at a
    /// time, each slice off the I/O threads and taking turns with other calls' work, until done
    /// or the call is over.
    async fn classify(
        &self,
        request: pb::ClassifyOutagesRequest,
    ) -> Result<Response<pb::ClassifyOutagesResponse>, ApiError> {
        let (policies, calendars, limits) =
            (self.policies(), Arc::clone(&self.calendars), self.limits);
        let (classification, mut pending) = self
            .work
            .run(move |_| Classification::read(&policies, &calendars, limits, request))
            .await?;
        Span::current().record("policy_id", classification.versions.earliest().id.as_str());
        let classification = Arc::new(classification);
        let mut verdicts = Vec::with_capacity(pending.len());
        while !pending.is_empty() {
            let shared = Arc::clone(&classification);
            let (done, rest) = self
                .work
                .run(move |cancel| shared.classify_some(pending, cancel))
                .await;
            verdicts.extend(done);
            pending = rest;
        }
        let response = pb::ClassifyOutagesResponse {
            verdicts,
            time_zone: classification.context.time_zone.name().to_string(),
            calendar: classification.context.calendar.name().to_string(),
        };
        self.bounded(response, self.budget.reservation())
    }
}

/// How long one piece of ClassifyOutages work runs before it gives its thread to the next call's
/// work in line: outages of a few microseconds each are classified by the thousand at once, and
/// one call's outages of tens of milliseconds (a calendar of centuries) take turns with others.
const CLASSIFY_SLICE: std::time::Duration = std::time::Duration::from_millis(10);

/// A ClassifyOutages request, read: what every verdict is decided against.
struct Classification {
    versions: PolicyVersions,
    context: Context,
}

impl Classification {
    /// The request's policy, zone and calendar, and its outages, each checked.
    fn read(
        policies: &PolicySet,
        calendars: &CalendarSet,
        limits: Limits,
        request: pb::ClassifyOutagesRequest,
    ) -> Result<(Classification, VecDeque<Outage>), ApiError> {
        let pb::ClassifyOutagesRequest {
            policy_id,
            outages,
            calendar,
            time_zone,
            calendar_name,
        } = request;
        let versions = from_pb::policy_versions(policies, "policy_id", &policy_id)?;
        let policy = versions.earliest();
        let context = Context {
            time_zone: from_pb::time_zone("time_zone", &time_zone)?.unwrap_or(policy.time_zone),
            // The earliest version's default: verdicts are not tied to one month's version.
            calendar: from_pb::chosen_calendar(calendars, policy, "", calendar, &calendar_name)?,
        };
        if outages.len() > limits.max_outages {
            return Err(ApiError::LimitExceeded {
                subject: "outages per request".into(),
                message: format!(
                    "{} outages in one request; at most {} are accepted",
                    outages.len(),
                    limits.max_outages
                ),
            });
        }
        let outages = outages
            .into_iter()
            .enumerate()
            .map(|(index, outage)| {
                let outage = from_pb::outage(&format!("outages[{index}]"), outage)?;
                classify::check_cause(in_force(&versions, &context, &outage), &outage).map_err(
                    |error| {
                        ApiError::invalid(
                            format!("outages[{index}].policy_cause"),
                            format!("outages[{index}]: {error}"),
                        )
                    },
                )?;
                Ok(outage)
            })
            .collect::<Result<VecDeque<_>, ApiError>>()?;
        Ok((Classification { versions, context }, outages))
    }

    /// Classifies outages from the front of `pending` for [`CLASSIFY_SLICE`] (one at least), or
    /// until the call is over; returns their verdicts and the outages left.
    fn classify_some(
        &self,
        mut pending: VecDeque<Outage>,
        cancel: &Cancel,
    ) -> (Vec<pb::OutageVerdict>, VecDeque<Outage>) {
        let started = std::time::Instant::now();
        let mut verdicts = Vec::new();
        while let Some(outage) = pending.pop_front() {
            let policy = in_force(&self.versions, &self.context, &outage);
            verdicts.push(to_pb::verdict(&classify::classify(
                policy,
                &outage,
                &self.context,
            )));
            if cancel.is_set() || started.elapsed() >= CLASSIFY_SLICE {
                break;
            }
        }
        (verdicts, pending)
    }
}

/// The version an outage is judged by: without service months, the version in force on the day
/// it starts.
fn in_force<'a>(versions: &'a PolicyVersions, context: &Context, outage: &Outage) -> &'a Policy {
    let day = outage
        .window
        .start()
        .with_timezone(&context.time_zone)
        .date_naive();
    versions.in_force_or_earliest(day)
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

    #[tracing::instrument(skip_all, name = "GetSigningKeys")]
    async fn get_signing_keys(
        &self,
        _request: Request<pb::GetSigningKeysRequest>,
    ) -> Result<Response<pb::GetSigningKeysResponse>, Status> {
        respond(self.bounded(self.statements.signing_keys(), self.budget.reservation()))
    }

    #[tracing::instrument(skip_all, name = "ListStatements")]
    async fn list_statements(
        &self,
        request: Request<pb::ListStatementsRequest>,
    ) -> Result<Response<pb::ListStatementsResponse>, Status> {
        respond(
            self.statements
                .list(request.into_inner())
                .await
                .and_then(|listed| self.bounded(listed, self.budget.reservation())),
        )
    }

    #[tracing::instrument(skip_all, name = "GetStatement")]
    async fn get_statement(
        &self,
        request: Request<pb::GetStatementRequest>,
    ) -> Result<Response<pb::Statement>, Status> {
        respond(
            self.statements
                .get(request.into_inner())
                .await
                .and_then(|statement| self.bounded(statement, self.budget.reservation())),
        )
    }

    #[tracing::instrument(skip_all, name = "ClassifyOutages", fields(policy_id = field::Empty))]
    async fn classify_outages(
        &self,
        request: Request<pb::ClassifyOutagesRequest>,
    ) -> Result<Response<pb::ClassifyOutagesResponse>, Status> {
        respond(self.classify(request.into_inner()).await)
    }
}
