//! Evaluations in this process: each subscription's `api::StreamEvaluation`, fed the messages a server
//! would receive, so that the response is the server's, byte for byte.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::Utc;

use super::feed::{Evaluator, Key, Refusal};
use crate::api::{ApiError, StreamEvaluation, pb};
use crate::calendar::CalendarSet;
use crate::limits::Limits;
use crate::memory::MemoryBudget;
use crate::policy::PolicySet;

/// Evaluates in process, finishing subscriptions on `threads` threads.
pub(super) struct Local {
    /// The policies to evaluate under.
    pub(super) policies: Arc<PolicySet>,
    /// The calendars business days are counted in.
    pub(super) calendars: Arc<CalendarSet>,
    /// The bounds of one evaluation (the server's defaults).
    pub(super) limits: Limits,
    /// Threads to finish evaluations on.
    pub(super) threads: usize,
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
    }
}

impl Evaluator for Local {
    type Stream = StreamEvaluation;

    fn open(&self, spec: pb::EvaluationSpec) -> Result<StreamEvaluation, Refusal> {
        // No server bounds the buckets one process evaluates; `as_of` is always set.
        StreamEvaluation::start(
            &self.policies,
            &self.calendars,
            self.limits,
            u64::MAX,
            MemoryBudget::unlimited().reservation(),
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

    /// Finishing (tallying every month, listing evidence) is the part of an evaluation that does
    /// not depend on the file's order, so subscriptions finish in parallel.
    fn finish(
        &self,
        evaluations: Vec<(Key, StreamEvaluation)>,
    ) -> Vec<(Key, Result<pb::EvaluateResponse, Refusal>)> {
        let count = evaluations.len();
        let queue = Mutex::new(evaluations.into_iter().enumerate());
        let done = Mutex::new(Vec::with_capacity(count));
        std::thread::scope(|scope| {
            for _ in 0..self.threads.clamp(1, count.max(1)) {
                scope.spawn(|| {
                    loop {
                        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
                        let Some((index, (key, evaluation))) = next else {
                            break;
                        };
                        let response = evaluation.finish().map_err(refusal);
                        done.lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push((index, key, response));
                    }
                });
            }
        });
        let mut done = done.into_inner().unwrap_or_else(PoisonError::into_inner);
        done.sort_by_key(|(index, _, _)| *index);
        done.into_iter()
            .map(|(_, key, response)| (key, response))
            .collect()
    }
}
