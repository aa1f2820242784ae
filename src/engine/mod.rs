//! The evaluation engine: buckets and outages in, one report per service month out.
//!
//! Pure domain code: plain Rust types in and out, no transport. [`Evaluation`] is the entry point;
//! each rule lives in one module: service months in [`months`], what a month remembers in
//! `ledger`, tiers, amounts and claim windows in [`compensation`].

mod bucket;
pub mod compensation;
mod evaluation;
mod ledger;
pub mod months;
mod report;
mod spec;

pub use bucket::{Bucket, BucketError, Placement};
pub use compensation::ClaimWindow;
pub use evaluation::{Evaluation, Ingested, OutageError};
pub use months::ServiceMonth;
pub use report::{Coverage, MonthReport, MonthStatus, Note, NoteKind, Payout, Report, Unit};
pub use spec::{AmountProblem, EvaluationSpec, FeeField, Limits, MonthlyFee, SpecError};
