//! Domain values into responses: policies (`policy.rs`) and evaluations (`report.rs`), each
//! destructured field by field so that a field added to the domain breaks the build here until it is
//! sent.
//!
//! A folder of two files rather than one: the two share no conversion (a policy's tiers and
//! clauses on one side; months, evidence, notes and verdicts on the other), and together they
//! would make one file of 500 lines that a change to either has to be found in.

mod policy;
mod report;

pub(super) use policy::{form_of, policy, policy_with_versions};
pub(super) use report::{report, verdict};
