//! Evaluations in this process: each subscription's `api::StreamEvaluation`, fed the messages a
//! server would receive, so that the response is the server's, byte for byte.
//!
//! What the open evaluations hold is reserved in a memory budget, as a server reserves it
//! (`--memory-budget`): their ledgers when they start, what each batch may add before it is
//! taken. Past the budget the feed closes the least recently fed evaluation and waits for it to
//! finish, which gives its memory back. Finishing (tallying every month, listing evidence) does
//! not depend on the input's order, so closed evaluations finish on their own threads while the
//! input is read on.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use chrono::Utc;

use super::feed::{Answer, Evaluator, Key, Refusal};
use crate::api::{ApiError, StreamEvaluation, pb};
use crate::calendar::CalendarSet;
use crate::limits::Limits;
use crate::memory::{MemoryBudget, bytes};
use crate::policy::PolicySet;

/// Evaluates in process within a memory budget, finishing closed evaluations on `threads`
/// threads.
pub(super) struct Local {
    policies: Arc<PolicySet>,
    calendars: Arc<CalendarSet>,
    limits: Limits,
    /// What the open and finishing evaluations hold; never refuses, the feed keeps it under
    /// `budget` by closing evaluations.
    held: Arc<MemoryBudget>,
    budget: u64,
    to_finish: Option<SyncSender<(Key, StreamEvaluation)>>,
    finished: Mutex<Receiver<Answer>>,
    pending: AtomicUsize,
    workers: Vec<JoinHandle<()>>,
}

/// The service's refusal, with where its value sat.
fn refusal(error: ApiError) -> Refusal {
    let at = match &error {
        ApiError::InvalidField { at, .. } => at.clone(),
        _ => None,
    };
    Refusal {
        message: error.to_string(),
        at,
        ended: false,
    }
}

impl Local {
    /// Evaluations under `policies` and `calendars`, holding at most about `budget` bytes.
    pub(super) fn new(
        policies: Arc<PolicySet>,
        calendars: Arc<CalendarSet>,
        limits: Limits,
        budget: u64,
        threads: usize,
    ) -> Self {
        let threads = threads.max(1);
        let (to_finish, queue) = sync_channel::<(Key, StreamEvaluation)>(threads);
        let (done, finished) = std::sync::mpsc::channel();
        let queue = Arc::new(Mutex::new(queue));
        let workers = (0..threads)
            .map(|_| {
                let queue = Arc::clone(&queue);
                let done = done.clone();
                std::thread::spawn(move || {
                    loop {
                        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        let Ok((key, evaluation)) = next else { break };
                        let response = evaluation.finish().map_err(refusal);
                        if done.send((key, response)).is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        Local {
            policies,
            calendars,
            limits,
            held: MemoryBudget::unlimited(),
            budget,
            to_finish: Some(to_finish),
            finished: Mutex::new(finished),
            pending: AtomicUsize::new(0),
            workers,
        }
    }

    /// Bytes the open and finishing evaluations hold.
    pub(super) fn held(&self) -> u64 {
        self.held.reserved()
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        self.to_finish = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

impl Evaluator for Local {
    type Stream = StreamEvaluation;

    fn open(&self, _key: &Key, spec: pb::EvaluationSpec) -> Result<StreamEvaluation, Refusal> {
        // No server bounds the buckets one process evaluates; `as_of` is always set.
        StreamEvaluation::start(
            &self.policies,
            &self.calendars,
            self.limits,
            u64::MAX,
            self.held.reservation(),
            spec,
            Utc::now(),
        )
        .map_err(refusal)
    }

    fn take(
        &self,
        evaluation: &mut StreamEvaluation,
        message: pb::EvaluateRequest,
    ) -> Result<(), Refusal> {
        evaluation.take(message).result().map_err(refusal)
    }

    fn close(&self, key: Key, evaluation: StreamEvaluation) {
        let Some(to_finish) = &self.to_finish else {
            return;
        };
        self.pending.fetch_add(1, Ordering::Relaxed);
        // Waits while every finishing thread is busy: the input is read no faster than
        // evaluations finish.
        if to_finish.send((key, evaluation)).is_err() {
            self.pending.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn answers(&self, wait: bool) -> Vec<Answer> {
        let finished = self.finished.lock().unwrap_or_else(PoisonError::into_inner);
        let mut answers: Vec<Answer> = finished.try_iter().collect();
        if answers.is_empty() && wait && self.pending.load(Ordering::Relaxed) > 0 {
            answers.extend(finished.recv().ok());
            answers.extend(finished.try_iter());
        }
        self.pending.fetch_sub(answers.len(), Ordering::Relaxed);
        answers
    }

    fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    fn has_room(&self) -> bool {
        self.held() < self.budget
    }

    fn over(&self) -> bool {
        self.held() > self.budget
    }

    fn abandon(&self, streams: Vec<StreamEvaluation>) {
        drop(streams);
        while self.pending() > 0 {
            drop(self.answers(true));
        }
    }

    fn bound(&self) -> String {
        format!("--memory-budget ({})", bytes(self.budget))
    }
}
