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

/// The service's refusal, with the field it names.
fn refusal(error: ApiError, row: Option<usize>) -> Refusal {
    let field = match &error {
        ApiError::InvalidField { field, .. } => Some(field.clone()),
        _ => None,
    };
    Refusal {
        message: error.to_string(),
        field,
        row,
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
        .map_err(|error| refusal(error, None))
    }

    fn take(
        &self,
        evaluation: &mut StreamEvaluation,
        message: pb::EvaluateRequest,
    ) -> Result<(), Refusal> {
        let taken = evaluation.take(message);
        match taken.refused {
            None => Ok(()),
            // Rows before a refused one are taken, so their count is the refused row's index.
            Some(error) => {
                let row = taken.ingested.accepted + taken.ingested.ignored;
                Err(refusal(error, usize::try_from(row).ok()))
            }
        }
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
                        let response = evaluation.finish().map_err(|error| refusal(error, None));
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
