//! Domain values into responses: policies (`policy.rs`) and evaluations (`report.rs`), each
//! destructured field by field so that a field added to the domain breaks the build here until it is
//! sent.

mod policy;
mod report;

pub(super) use policy::{form_of, policy, policy_with_versions};
pub(super) use report::{report, verdict};
