//! The policy set a server serves now, replaceable while it serves.

use std::sync::{Arc, PoisonError, RwLock};

use super::PolicySet;

/// The policy set in service. A call takes a [`PolicyStore::snapshot`] when it starts and keeps
/// it to the end, so a reload changes later calls only.
#[derive(Debug)]
pub struct PolicyStore {
    current: RwLock<Arc<PolicySet>>,
}

impl PolicyStore {
    /// A store serving `policies`.
    pub fn new(policies: Arc<PolicySet>) -> Self {
        PolicyStore {
            current: RwLock::new(policies),
        }
    }

    /// The set in service now. The lock is held only to clone an `Arc`.
    pub fn snapshot(&self) -> Arc<PolicySet> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts `policies` in service for every call that starts from now on.
    pub fn replace(&self, policies: Arc<PolicySet>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = policies;
    }
}
