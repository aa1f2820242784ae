//! One evaluation driven by `sla.v1` messages: what an Evaluate stream does after its spec,
//! whatever carries the messages. The gRPC handler feeds it a stream; the command line feeds it
//! messages it builds from files, so both answer with the same response, byte for byte.

use chrono::{DateTime, Utc};

use super::error::ApiError;
use super::from_pb;
use super::ingest::{self, Taken};
use super::pb;
use super::pb::evaluate_request::Item;
use super::statements::{self, Ask};
use super::to_pb;
use crate::calendar::CalendarSet;
use crate::engine::{Evaluation, Ingested, Term};
use crate::limits::Limits;
use crate::memory::Reservation;
use crate::policy::PolicySet;

/// An evaluation in progress, fed message by message.
pub struct StreamEvaluation {
    evaluation: Evaluation,
    memory: Reservation,
    /// What the term's empty ledgers may take, kept reserved however little they hold yet.
    floor: u64,
    policy_id: String,
    expected_buckets: Option<u64>,
    max_buckets: u64,
    buckets: u64,
    batches: u64,
    ask: Ask,
}

impl StreamEvaluation {
    /// Starts an evaluation from a stream's spec. `received` is when the spec arrived: the
    /// evaluation's `as_of` unless the spec names one. A stream may carry at most `max_buckets`
    /// buckets.
    ///
    /// The evaluation's memory is reserved in `memory` before it is allocated: its term's ledgers
    /// here, what each batch may add before the batch is taken (then trued up to what it did
    /// add), so that a call that would pass the server's budget is refused instead of taking it.
    pub fn start(
        policies: &PolicySet,
        calendars: &CalendarSet,
        limits: Limits,
        max_buckets: u64,
        mut memory: Reservation,
        spec: pb::EvaluationSpec,
        received: DateTime<Utc>,
    ) -> Result<Self, ApiError> {
        let request = from_pb::evaluation_spec(policies, calendars, spec, received)?;
        let policy_id = request.policy.earliest().id.clone();
        let term = Term::new(request.policy, request.spec, limits)?;
        let floor = term.ledger_bytes();
        memory.grow(floor)?;
        Ok(StreamEvaluation {
            evaluation: Evaluation::with_term(term),
            memory,
            floor,
            policy_id,
            expected_buckets: request.expected_buckets,
            max_buckets,
            buckets: 0,
            batches: 0,
            ask: Ask {
                subscription: request.subscription,
                restatement: request.restatement,
            },
        })
    }

    /// The policy evaluated under.
    pub fn policy_id(&self) -> &str {
        &self.policy_id
    }

    /// Takes one message after the spec: buckets, columns or an outage. What it added is known
    /// even when it was refused part way.
    pub fn take(&mut self, message: pb::EvaluateRequest) -> Taken {
        match message.item {
            Some(Item::Buckets(pb::BucketBatch { buckets })) => self
                .take_batch(buckets.len(), |evaluation, batch| {
                    ingest::rows(evaluation, batch, buckets)
                }),
            Some(Item::Columns(columns)) => self.take_batch(columns.rows(), |evaluation, batch| {
                ingest::columns(evaluation, batch, columns)
            }),
            Some(Item::Outage(outage)) => {
                let added = from_pb::outage("outage", outage)
                    .and_then(|outage| Ok(self.evaluation.add_outage(outage).map(|_| ())?));
                Taken::from_result(added)
            }
            Some(Item::Spec(_)) => Taken::from_result(Err(ApiError::invalid(
                "spec",
                "spec may only be sent once, as the stream's first message",
            ))),
            None => Taken::from_result(Err(ApiError::invalid(
                "item",
                "an EvaluateRequest must carry spec, buckets, columns or outage",
            ))),
        }
    }

    /// Takes one bucket-carrying message of `rows` rows, which `ingest` adds as batch number
    /// `batch`: the buckets-per-stream limit first, then the memory the rows may add reserved
    /// before they add it, then trued up to what they did add.
    fn take_batch(
        &mut self,
        rows: usize,
        ingest: impl FnOnce(&mut Evaluation, u64) -> Taken,
    ) -> Taken {
        let rows = rows as u64;
        if self.buckets + rows > self.max_buckets {
            return Taken::from_result(Err(ApiError::LimitExceeded {
                subject: "buckets per stream".into(),
                message: format!(
                    "batch {} would take the stream past the server's limit of {} buckets per \
                     stream; split the term over several streams",
                    self.batches, self.max_buckets
                ),
            }));
        }
        if let Err(exhausted) = self.memory.grow(self.evaluation.growth_bound(rows)) {
            return Taken::from_result(Err(exhausted.into()));
        }
        let taken = ingest(&mut self.evaluation, self.batches);
        self.buckets += rows;
        self.batches += 1;
        // What the batch did add; giving back the rest of the bound never fails.
        let _ = self
            .memory
            .set(self.evaluation.ledger_bytes().max(self.floor));
        taken
    }

    /// Buckets accepted and ignored so far.
    pub fn ingested(&self) -> Ingested {
        self.evaluation.ingested()
    }

    /// Bucket-carrying messages taken so far.
    pub fn batches(&self) -> u64 {
        self.batches
    }

    /// Closes the evaluation: refused when the stream carried another number of buckets than its
    /// spec announced.
    pub fn finish(self) -> Result<pb::EvaluateResponse, ApiError> {
        self.finish_reserved().map(|(response, _)| response)
    }

    /// As [`StreamEvaluation::finish`], with the evaluation's reservation: it held the ledgers
    /// the report was built from and is held on, so that the response is never built outside
    /// the budget; the server sets it to the response's share before sending it.
    pub fn finish_reserved(self) -> Result<(pb::EvaluateResponse, Reservation), ApiError> {
        let ingested = self.evaluation.ingested();
        let received = ingested.accepted + ingested.ignored;
        if let Some(expected) = self.expected_buckets
            && expected != received
        {
            return Err(ApiError::BucketCountMismatch { expected, received });
        }
        let report = self.evaluation.finish();
        Ok((
            statements::settle(&self.ask, to_pb::report(&report, self.batches)),
            self.memory,
        ))
    }

    /// What the spec asked of the statement: the subscription, and what it restates.
    pub(super) fn ask(&self) -> Ask {
        self.ask.clone()
    }
}
