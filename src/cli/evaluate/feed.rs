//! Blocks of buckets into one evaluation per subscription, in file order; the evaluations run in
//! this process ([`super::local`]) or on a server ([`super::remote`]), fed the same messages.

use std::collections::BTreeMap;

use super::trace_back::TraceBack;
use crate::api::pb::evaluate_request::Item;
use crate::api::{At, field_name, pb};
use crate::input::fees::Fees;
use crate::input::ordered::Flow;
use crate::input::outages::Entry;
use crate::input::{Block, InputError, Origin, Place};

/// A subscription's name; `None` for an input without a `subscription` column.
pub(super) type Key = Option<String>;

/// Why an evaluation was refused, as the service said it.
#[derive(Clone, Debug)]
pub(super) struct Refusal {
    /// The service's message.
    pub(super) message: String,
    /// Where the refused value sat in the messages sent, as the service counts them.
    pub(super) at: Option<At>,
}

impl Refusal {
    /// A refusal of the run itself, about no value sent.
    pub(super) fn whole(message: impl Into<String>) -> Self {
        Refusal {
            message: message.into(),
            at: None,
        }
    }
}

/// Where evaluations run.
pub(super) trait Evaluator: Sync {
    /// One subscription's evaluation in progress.
    type Stream: Send;
    /// Starts an evaluation with its spec.
    fn open(&self, spec: pb::EvaluationSpec) -> Result<Self::Stream, Refusal>;
    /// Sends one message.
    fn take(&self, stream: &mut Self::Stream, message: pb::EvaluateRequest) -> Result<(), Refusal>;
    /// Whether a refusal can come back after later messages were sent (a server's can), so that
    /// every batch's rows must be remembered to trace it back.
    fn refuses_late(&self) -> bool {
        false
    }
    /// Closes every evaluation and returns the responses.
    fn finish(
        &self,
        streams: Vec<(Key, Self::Stream)>,
    ) -> Vec<(Key, Result<pb::EvaluateResponse, Refusal>)>;
}

/// What every subscription's evaluation starts from.
pub(super) struct Plan {
    /// The spec; a subscription's fees replace its fees when a fees file is given.
    pub(super) spec: pb::EvaluationSpec,
    /// The fees file, if one was given.
    pub(super) fees: Option<(String, Fees)>,
    /// The outages, each for one subscription or for all.
    pub(super) outages: Vec<Entry>,
    /// The outages file's name.
    pub(super) outages_name: String,
    /// Each subscription's name goes into its spec's `subscription` (when the spec names none):
    /// what a statement ledger records it under, and so part of its input digest.
    pub(super) subscriptions_in_spec: bool,
}

/// A run's failure: an input refused, located where possible.
pub(super) type Failure = InputError;

/// The evaluations of a run, fed block by block.
pub(super) struct Feed<'a, E: Evaluator> {
    evaluator: &'a E,
    plan: &'a Plan,
    streams: BTreeMap<Key, E::Stream>,
    trace_backs: BTreeMap<Key, TraceBack>,
    /// The input being read, for messages.
    pub(super) source: String,
    /// The first failure; once set, nothing more is fed.
    pub(super) failure: Option<Failure>,
    /// Called with each block's progress.
    pub(super) progress: Box<dyn Fn(u64) + Send + Sync + 'a>,
}

impl<'a, E: Evaluator> Feed<'a, E> {
    /// A feed with no evaluation started yet.
    pub(super) fn new(evaluator: &'a E, plan: &'a Plan) -> Self {
        Feed {
            evaluator,
            plan,
            streams: BTreeMap::new(),
            trace_backs: BTreeMap::new(),
            source: String::new(),
            failure: None,
            progress: Box::new(|_| {}),
        }
    }

    /// Takes one block: its chunks in order, then its error if it has one.
    pub(super) fn apply(&mut self, block: Block) -> Flow {
        for chunk in block.chunks {
            if let Err(failure) = self.open(&chunk.subscription) {
                return self.fail(failure);
            }
            let trace_back = self
                .trace_backs
                .get_mut(&chunk.subscription)
                .expect("opened above");
            let batch = if self.evaluator.refuses_late() {
                trace_back.note(&self.source, block.origin, &chunk.places)
            } else {
                trace_back.count()
            };
            let message = pb::EvaluateRequest {
                item: Some(Item::Columns(chunk.columns)),
            };
            let stream = self
                .streams
                .get_mut(&chunk.subscription)
                .expect("opened above");
            if let Err(refusal) = self.evaluator.take(stream, message) {
                let sent = Sent {
                    batch,
                    origin: block.origin,
                    places: &chunk.places,
                };
                let failure = self.refused(&chunk.subscription, refusal, Some(sent));
                return self.fail(failure);
            }
        }
        if let Some(error) = block.error {
            return self.fail(error);
        }
        (self.progress)(block.progress);
        Flow::Continue
    }

    fn fail(&mut self, failure: Failure) -> Flow {
        self.failure.get_or_insert(failure);
        Flow::Stop
    }

    /// Starts `key`'s evaluation unless it runs: its spec with its fees, then its outages.
    pub(super) fn open(&mut self, key: &Key) -> Result<(), Failure> {
        if self.streams.contains_key(key) {
            return Ok(());
        }
        let plan = self.plan;
        let mut spec = plan.spec.clone();
        if let Some(name) = key
            && plan.subscriptions_in_spec
            && spec.subscription.is_empty()
        {
            spec.subscription = name.clone();
        }
        let mut fee_places = Vec::new();
        if let Some((name, fees)) = &plan.fees {
            let keyed = fees.by_subscription.keys().any(Option::is_some);
            if keyed != key.is_some() && !fees.by_subscription.is_empty() {
                let message = if keyed {
                    "the fees file names subscriptions, but the buckets do not: give the buckets a \
                     subscription column, or the fees file none"
                } else {
                    "the buckets name subscriptions, so the fees file needs a subscription column"
                };
                return Err(InputError::whole(name, message));
            }
            let fees = fees
                .by_subscription
                .get(key)
                .map(Vec::as_slice)
                .unwrap_or_default();
            spec.fees = fees.iter().map(|fee| fee.fee.clone()).collect();
            fee_places = fees
                .iter()
                .map(|fee| (name.clone(), fee.place.clone()))
                .collect();
        }
        let mut stream = self
            .evaluator
            .open(spec)
            .map_err(|refusal| spec_failure(key, refusal, &fee_places))?;
        for entry in &plan.outages {
            if entry.subscription.is_some() && entry.subscription != *key {
                continue;
            }
            let message = pb::EvaluateRequest {
                item: Some(Item::Outage(entry.outage.clone())),
            };
            self.evaluator
                .take(&mut stream, message)
                .map_err(|refusal| InputError {
                    source_name: plan.outages_name.clone(),
                    place: entry.place.clone(),
                    column: None,
                    message: with_subscription(key, refusal.message),
                })?;
        }
        self.streams.insert(key.clone(), stream);
        self.trace_backs.insert(key.clone(), TraceBack::default());
        Ok(())
    }

    /// Starts the evaluations no bucket started: each subscription of the fees file, or the one
    /// evaluation of a run without subscriptions, so that each is reported (as without data).
    pub(super) fn open_the_rest(&mut self) -> Result<(), Failure> {
        let keys: Vec<Key> = match &self.plan.fees {
            Some((_, fees)) if !fees.by_subscription.is_empty() => {
                fees.by_subscription.keys().cloned().collect()
            }
            _ if self.streams.is_empty() => vec![None],
            _ => Vec::new(),
        };
        keys.iter().try_for_each(|key| self.open(key))
    }

    /// A refusal as a failure of the input: a refused bucket at its file and line, found in the
    /// batch just sent or among those remembered; anything else as the service said it.
    fn refused(&self, key: &Key, refusal: Refusal, sent: Option<Sent>) -> Failure {
        if let Some(At::Bucket {
            batch,
            row: Some(row),
            column,
            problem,
        }) = &refusal.at
        {
            let found = match sent {
                Some(sent) if sent.batch == *batch => {
                    Some((self.source.clone(), sent.origin.place(sent.places, *row)))
                }
                _ => self
                    .trace_backs
                    .get(key)
                    .and_then(|trace_back| trace_back.find(*batch, *row)),
            };
            if let Some((source_name, place)) = found {
                // The place replaces the batch and row the service counts in.
                return InputError {
                    source_name,
                    place,
                    column: column.map(|column| field_name(column).to_string()),
                    message: with_subscription(key, problem.clone()),
                };
            }
        }
        InputError::whole(&self.source, with_subscription(key, refusal.message))
    }

    /// Closes every evaluation: the responses in subscription order, or the first refusal.
    pub(super) fn finish(mut self) -> Result<Vec<(Key, pb::EvaluateResponse)>, Failure> {
        let streams = std::mem::take(&mut self.streams).into_iter().collect();
        let mut responses = Vec::new();
        for (key, response) in self.evaluator.finish(streams) {
            match response {
                Ok(response) => responses.push((key, response)),
                Err(refusal) => return Err(self.refused(&key, refusal, None)),
            }
        }
        Ok(responses)
    }
}

/// The batch just sent, and where its rows came from.
#[derive(Clone, Copy)]
struct Sent<'a> {
    batch: u64,
    origin: Origin,
    places: &'a [u32],
}

/// A refused spec: a fee traced to its line in the fees file, anything else as the service said.
fn spec_failure(key: &Key, refusal: Refusal, fee_places: &[(String, Place)]) -> Failure {
    let fee = match refusal.at {
        Some(At::Fee { index }) => fee_places.get(index),
        _ => None,
    };
    match fee {
        Some((name, place)) => InputError {
            source_name: name.clone(),
            place: place.clone(),
            column: None,
            message: with_subscription(key, refusal.message),
        },
        None => InputError::whole("the spec", with_subscription(key, refusal.message)),
    }
}

fn with_subscription(key: &Key, message: String) -> String {
    match key {
        Some(name) => format!("{message} (subscription {name})"),
        None => message,
    }
}
