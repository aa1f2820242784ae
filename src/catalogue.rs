//! The policies and business calendars a process serves, loaded in one place: the built-in ones
//! plus a directory's each, and checked against each other. The server loads through here at
//! start and on every policy reload, and every subcommand that answers in process does too, so
//! that each refuses exactly what the others refuse.
//!
//! Policies and calendars are read by their own modules ([`PolicySet`], [`CalendarSet`]), which
//! know nothing of each other; the one rule that needs both, that a policy's default calendar is
//! loaded, lives here.

use std::path::Path;
use std::sync::Arc;

use crate::calendar::{CalendarLoadError, CalendarSet, UnknownCalendar};
use crate::policy::{LoadError, PolicySet};

/// Why the policies and calendars could not be loaded. Loading is all or nothing.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// A policy file is bad, or two versions conflict.
    #[error(transparent)]
    Policies(#[from] LoadError),
    /// A calendar file is bad.
    #[error(transparent)]
    Calendars(#[from] CalendarLoadError),
    /// A policy counts business days in a calendar that is not loaded: refused at load, so that
    /// no call finds out later.
    #[error(
        "policy '{policy_id}' counts business days in calendar '{}', which is not loaded; known \
         calendars: {}",
        unknown.name,
        unknown.known.join(", ")
    )]
    UnknownCalendar {
        /// The id of the policy whose version names the calendar.
        policy_id: String,
        /// The file of the version naming the calendar.
        path: String,
        /// The calendar, and the known ones.
        unknown: UnknownCalendar,
    },
}

impl CatalogueError {
    /// The file the problem is in, when it is in one.
    pub fn path(&self) -> Option<String> {
        match self {
            CatalogueError::Policies(error) => Some(error.path()),
            CatalogueError::Calendars(_) => None,
            CatalogueError::UnknownCalendar { path, .. } => Some(path.clone()),
        }
    }
}

/// The policies and calendars a process serves.
#[derive(Clone, Debug)]
pub struct Catalogue {
    /// The built-in policies and the policy directory's.
    pub policies: Arc<PolicySet>,
    /// The built-in calendars and the calendar directory's.
    pub calendars: Arc<CalendarSet>,
}

impl Catalogue {
    /// The built-in policies and calendars, each with its directory's when one is given.
    pub fn load(
        policy_dir: Option<&Path>,
        calendar_dir: Option<&Path>,
    ) -> Result<Catalogue, CatalogueError> {
        let policies = Arc::new(policies(policy_dir)?);
        let calendars = Arc::new(calendars(calendar_dir, &policies)?);
        Ok(Catalogue {
            policies,
            calendars,
        })
    }
}

/// The built-in policies and, when given, a directory's.
pub fn policies(dir: Option<&Path>) -> Result<PolicySet, CatalogueError> {
    Ok(PolicySet::load(dir)?)
}

/// The built-in calendars and, when given, a directory's, checked against `policies`.
pub fn calendars(dir: Option<&Path>, policies: &PolicySet) -> Result<CalendarSet, CatalogueError> {
    let set = CalendarSet::built_in()?;
    let set = match dir {
        Some(dir) => set.with_directory(dir)?,
        None => set,
    };
    check(policies, &set)?;
    Ok(set)
}

/// A reload: the policy directory read again, checked against the calendars loaded at start
/// (calendars are not reloaded).
pub fn reload_policies(dir: &Path, calendars: &CalendarSet) -> Result<PolicySet, CatalogueError> {
    let set = policies(Some(dir))?;
    check(&set, calendars)?;
    Ok(set)
}

/// Every version's default calendar is loaded.
pub fn check(policies: &PolicySet, calendars: &CalendarSet) -> Result<(), CatalogueError> {
    for loaded in policies.files() {
        if let Some(name) = &loaded.policy.calendar {
            calendars
                .get(name)
                .map_err(|unknown| CatalogueError::UnknownCalendar {
                    policy_id: loaded.policy.id.clone(),
                    path: loaded.path.clone(),
                    unknown,
                })?;
        }
    }
    Ok(())
}
