//! Blocks of buckets into one evaluation per subscription, in input order; the evaluations run in
//! this process ([`super::local`]) or on servers ([`super::remote`]), fed the same messages.
//!
//! A fleet's month-end has more subscriptions than can be evaluated at once, so at most
//! `max_open` evaluations take rows at the same time, within the evaluator's own bound (memory in
//! process, streams on servers). When one more is needed, the one fed least recently is closed and
//! its answer kept: in input grouped by subscription (sorted files, a file per subscription,
//! Parquet row groups by subscription) that is one whose rows have ended, so every stream closes
//! when its subscription ends. If rows of a closed subscription come again, the input is not
//! grouped: the pass stops ([`Feed::regroup`]) and the run partitions the input into temporary
//! files first (see [`super::partition`]), never answering from part of a subscription's rows.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::answers::Answers;
use super::trace_back::TraceBack;
use crate::api::pb::evaluate_request::Item;
use crate::api::{At, field_name, pb};
use crate::input::fees::Fees;
use crate::input::ordered::Flow;
use crate::input::outages::Entry;
use crate::input::{Block, InputError, Origin, Place, shown_name};

/// A subscription's name; `None` for an input without a `subscription` column.
pub(super) type Key = Option<String>;

/// Why an evaluation was refused, as the service said it.
#[derive(Clone, Debug)]
pub(super) struct Refusal {
    /// The service's message.
    pub(super) message: String,
    /// Where the refused value sat in the messages sent, as the service counts them.
    pub(super) at: Option<At>,
    /// The stream ended before the message was sent: its answer says why.
    pub(super) ended: bool,
}

impl Refusal {
    /// A refusal of the run itself, about no value sent.
    pub(super) fn whole(message: impl Into<String>) -> Self {
        Refusal {
            message: message.into(),
            at: None,
            ended: false,
        }
    }

    /// The stream ended early; its answer comes with the others.
    pub(super) fn ended() -> Self {
        Refusal {
            ended: true,
            ..Refusal::whole("the call ended before its upload did")
        }
    }
}

/// An answer, as an evaluator hands it back.
pub(super) type Answer = (Key, Result<pb::EvaluateResponse, Refusal>);

/// Where evaluations run.
pub(super) trait Evaluator: Sync {
    /// One subscription's evaluation in progress.
    type Stream: Send;
    /// Starts `key`'s evaluation with its spec.
    fn open(&self, key: &Key, spec: pb::EvaluationSpec) -> Result<Self::Stream, Refusal>;
    /// Sends one message.
    fn take(&self, stream: &mut Self::Stream, message: pb::EvaluateRequest) -> Result<(), Refusal>;
    /// Whether a refusal can come back after later messages were sent (a server's can), so that
    /// every batch's rows must be remembered to trace it back.
    fn refuses_late(&self) -> bool {
        false
    }
    /// Ends `key`'s input: its answer comes back from [`Evaluator::answers`].
    fn close(&self, key: Key, stream: Self::Stream);
    /// The answers ready; with `wait`, at least one when any is pending.
    fn answers(&self, wait: bool) -> Vec<Answer>;
    /// Evaluations closed whose answer has not been handed back.
    fn pending(&self) -> usize;
    /// Whether one more evaluation may start now.
    fn has_room(&self) -> bool;
    /// Whether the evaluations hold more than the evaluator's bound, so that one must end.
    fn over(&self) -> bool;
    /// Drops `streams` and every pending answer: the pass is started again another way.
    fn abandon(&self, streams: Vec<Self::Stream>);
    /// What the bound is, for a refusal when one evaluation alone passes it.
    fn bound(&self) -> String;
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

/// One evaluation taking rows.
struct Open<S> {
    stream: S,
    trace_back: TraceBack,
    /// When it was last fed, for closing the least recently fed first.
    tick: u64,
}

/// The evaluations of one pass over an input, fed block by block.
pub(super) struct Feed<'a, E: Evaluator> {
    evaluator: &'a E,
    plan: &'a Plan,
    max_open: usize,
    open: HashMap<Key, Open<E::Stream>>,
    recency: BTreeMap<u64, Key>,
    tick: u64,
    /// Subscriptions closed in this pass: their rows must not come again.
    closed: HashSet<Key>,
    /// Those whose answer has not come back, with what traces a late refusal.
    closing: HashMap<Key, TraceBack>,
    answers: &'a mut Answers,
    /// The input being read, for messages.
    pub(super) source: String,
    /// The first failure; once set, nothing more is fed.
    pub(super) failure: Option<Failure>,
    /// Rows of a closed subscription came again: the input is not grouped by subscription.
    pub(super) regroup: bool,
    /// The most evaluations taking rows at once: what a partitioning sizes its parts by.
    pub(super) most_open: usize,
    /// Called with each block's progress.
    pub(super) progress: Box<dyn Fn(u64) + Send + Sync + 'a>,
}

impl<'a, E: Evaluator> Feed<'a, E> {
    /// A pass with no evaluation started yet, keeping at most `max_open` open.
    pub(super) fn new(
        evaluator: &'a E,
        plan: &'a Plan,
        max_open: usize,
        answers: &'a mut Answers,
    ) -> Self {
        Feed {
            evaluator,
            plan,
            max_open: max_open.max(1),
            open: HashMap::new(),
            recency: BTreeMap::new(),
            tick: 0,
            closed: HashSet::new(),
            closing: HashMap::new(),
            answers,
            source: String::new(),
            failure: None,
            regroup: false,
            most_open: 0,
            progress: Box::new(|_| {}),
        }
    }

    /// Subscriptions seen in this pass.
    pub(super) fn seen(&self) -> usize {
        self.closed.len() + self.open.len()
    }

    /// Takes one block: its chunks in order, then its error if it has one.
    pub(super) fn apply(&mut self, block: Block) -> Flow {
        for chunk in block.chunks {
            let key = &chunk.subscription;
            if let Err(failure) = self.open(key) {
                return self.fail(failure);
            }
            if self.regroup {
                return Flow::Stop;
            }
            self.tick += 1;
            let refuses_late = self.evaluator.refuses_late();
            let open = self.open.get_mut(key).expect("opened above");
            self.recency.remove(&open.tick);
            open.tick = self.tick;
            self.recency.insert(self.tick, key.clone());
            let batch = if refuses_late {
                open.trace_back
                    .note(&self.source, block.origin, &chunk.places)
            } else {
                open.trace_back.count()
            };
            let message = pb::EvaluateRequest {
                item: Some(Item::Columns(chunk.columns)),
            };
            if let Err(refusal) = self.evaluator.take(&mut open.stream, message) {
                let sent = Sent {
                    batch,
                    origin: block.origin,
                    places: &chunk.places,
                };
                let failure = self.taken_refusal(key, refusal, sent);
                return self.fail(failure);
            }
            if let Err(failure) = self.relieve(Some(key)) {
                return self.fail(failure);
            }
        }
        if let Some(error) = block.error {
            return self.fail(error);
        }
        self.collect(false);
        if self.failure.is_some() {
            return Flow::Stop;
        }
        (self.progress)(block.progress);
        Flow::Continue
    }

    fn fail(&mut self, failure: Failure) -> Flow {
        self.failure.get_or_insert(failure);
        Flow::Stop
    }

    /// Starts `key`'s evaluation unless it runs: its spec with its fees, then its outages. A
    /// subscription closed earlier in the pass is not started again: [`Feed::regroup`] is set.
    pub(super) fn open(&mut self, key: &Key) -> Result<(), Failure> {
        if self.open.contains_key(key) {
            return Ok(());
        }
        if self.closed.contains(key) {
            self.regroup = true;
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
        // Room first: close others (their input has likely ended) until one more may start.
        while self.open.len() >= self.max_open {
            self.close_least_recent(None);
        }
        while !self.evaluator.has_room() {
            self.relieve_one(None)?;
        }
        let mut stream = self
            .evaluator
            .open(key, spec)
            .map_err(|refusal| spec_failure(key, refusal, &fee_places))?;
        for entry in &plan.outages {
            if entry.subscription.is_some() && entry.subscription != *key {
                continue;
            }
            let message = pb::EvaluateRequest {
                item: Some(Item::Outage(entry.outage.clone())),
            };
            if let Err(refusal) = self.evaluator.take(&mut stream, message) {
                let refusal = if refusal.ended {
                    self.evaluator.close(key.clone(), stream);
                    self.answer_of(key)
                } else {
                    refusal
                };
                return Err(InputError {
                    source_name: plan.outages_name.clone(),
                    place: entry.place.clone(),
                    column: None,
                    message: with_subscription(key, refusal.message),
                });
            }
        }
        self.tick += 1;
        self.recency.insert(self.tick, key.clone());
        self.open.insert(
            key.clone(),
            Open {
                stream,
                trace_back: TraceBack::default(),
                tick: self.tick,
            },
        );
        self.most_open = self.most_open.max(self.open.len());
        self.relieve(Some(key))
    }

    /// Closes evaluations until the evaluator is within its bound, never `current`'s.
    fn relieve(&mut self, current: Option<&Key>) -> Result<(), Failure> {
        while self.evaluator.over() {
            self.relieve_one(current)?;
        }
        Ok(())
    }

    /// Makes some room: closes the least recently fed evaluation but `current`, and waits for an
    /// answer; refused when `current` alone is over the bound.
    fn relieve_one(&mut self, current: Option<&Key>) -> Result<(), Failure> {
        if !self.close_least_recent(current) && self.evaluator.pending() == 0 {
            let name = current.and_then(Option::as_deref).map(shown_name);
            let message = format!(
                "{} alone needs more than {}: raise it, or split its term",
                name.map_or_else(
                    || "the evaluation".to_string(),
                    |name| format!("subscription {name}")
                ),
                self.evaluator.bound()
            );
            return Err(InputError::whole(&self.source, message));
        }
        self.collect(true);
        match self.failure.take() {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }

    /// Closes the evaluation fed least recently but `except`'s; false when there is none.
    fn close_least_recent(&mut self, except: Option<&Key>) -> bool {
        let Some(key) = self
            .recency
            .values()
            .find(|key| Some(*key) != except)
            .cloned()
        else {
            return false;
        };
        self.close(&key);
        true
    }

    fn close(&mut self, key: &Key) {
        if let Some(open) = self.open.remove(key) {
            self.recency.remove(&open.tick);
            self.closed.insert(key.clone());
            self.closing.insert(key.clone(), open.trace_back);
            self.evaluator.close(key.clone(), open.stream);
        }
    }

    /// Keeps the answers ready (waiting for one with `wait`); a refusal becomes the failure.
    fn collect(&mut self, wait: bool) {
        for (key, answer) in self.evaluator.answers(wait) {
            self.keep(key, answer);
        }
    }

    /// Keeps one answer; a refusal becomes the failure, traced to its file and line.
    fn keep(&mut self, key: Key, answer: Result<pb::EvaluateResponse, Refusal>) {
        let trace_back = self.closing.remove(&key).unwrap_or_default();
        match answer {
            Ok(response) => {
                if let Err(error) = self.answers.push(key, &response) {
                    let message = format!("cannot keep an answer in a temporary file: {error}");
                    self.failure
                        .get_or_insert_with(|| InputError::whole("evaluate", message));
                }
            }
            Err(refusal) => {
                let failure = self.refused(&key, refusal, None, Some(&trace_back));
                self.failure.get_or_insert(failure);
            }
        }
    }

    /// The answer of `key`, closed just now, which must be a refusal; the others' answers that
    /// come first are kept.
    fn answer_of(&mut self, key: &Key) -> Refusal {
        loop {
            for (other, answer) in self.evaluator.answers(true) {
                if other == *key {
                    return match answer {
                        Err(refusal) => refusal,
                        Ok(_) => Refusal::whole("the server answered before the upload ended"),
                    };
                }
                self.keep(other, answer);
            }
            if self.evaluator.pending() == 0 {
                return Refusal::whole("the call ended without an answer");
            }
        }
    }

    /// A refusal of a message just sent: one the service sends late (its stream ended first)
    /// comes with the stream's answer.
    fn taken_refusal(&mut self, key: &Key, refusal: Refusal, sent: Sent<'_>) -> Failure {
        if !refusal.ended {
            let open = self.open.get(key);
            return self.refused(key, refusal, Some(sent), open.map(|o| &o.trace_back));
        }
        let Some(open) = self.open.remove(key) else {
            return self.refused(key, refusal, Some(sent), None);
        };
        self.recency.remove(&open.tick);
        self.evaluator.close(key.clone(), open.stream);
        let refusal = self.answer_of(key);
        self.refused(key, refusal, Some(sent), Some(&open.trace_back))
    }

    /// Closes every evaluation and keeps the answers, or returns the first refusal.
    pub(super) fn finish(mut self) -> Result<(), Failure> {
        if let Some(failure) = self.failure.take() {
            self.abandon();
            return Err(failure);
        }
        let keys: Vec<Key> = self.recency.values().cloned().collect();
        for key in &keys {
            self.close(key);
        }
        while self.evaluator.pending() > 0 {
            self.collect(true);
        }
        match self.failure.take() {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }

    /// Drops every evaluation of the pass without an answer.
    pub(super) fn abandon(&mut self) {
        let streams = self.open.drain().map(|(_, open)| open.stream).collect();
        self.recency.clear();
        self.closing.clear();
        self.evaluator.abandon(streams);
    }

    /// A refusal as a failure of the input: a refused bucket at its file and line, found in the
    /// batch just sent or among those remembered; anything else as the service said it.
    fn refused(
        &self,
        key: &Key,
        refusal: Refusal,
        sent: Option<Sent<'_>>,
        trace_back: Option<&TraceBack>,
    ) -> Failure {
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
                _ => trace_back.and_then(|trace_back| trace_back.find(*batch, *row)),
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
        Some(name) => format!("{message} (subscription {})", shown_name(name)),
        None => message,
    }
}
