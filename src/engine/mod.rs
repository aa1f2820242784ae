//! The evaluation engine: buckets and outages in, one report per service month out.
//!
//! Pure domain code: plain Rust types in and out, no transport. [`Evaluation`] is the entry point
//! and only folds; each rule lives in one module:
//!
//! | rule | module |
//! |---|---|
//! | the term: months, fees, money, validation | [`term`], [`months`] |
//! | where a bucket goes, or why it fits nowhere | `placement` |
//! | what a month remembers of its buckets | `ledger` |
//! | which units count, which exclusions took out, the worst case | `tally` |
//! | availability, status and budget | `availability` |
//! | the intervals behind the figures | `evidence` |
//! | the input digest | `digest` |
//! | tiers and payout | [`compensation`] |
//! | claim windows | [`claim_window`] |

mod availability;
mod bucket;
pub mod claim_window;
pub mod compensation;
mod digest;
mod evaluation;
mod evidence;
mod ledger;
pub mod months;
mod placement;
mod report;
mod spec;
mod tally;
pub mod term;

pub use bucket::{
    Batch, Bucket, BucketError, BucketField, Durations, IngestError, Ingested, Placement,
};
pub use claim_window::ClaimWindow;
pub use compensation::Money;
pub use evaluation::{Evaluation, OutageError};
pub use months::ServiceMonth;
pub use report::{
    Bound, Budget, Coverage, Evidence, ExcludedInterval, Gap, Listed, MonthReport, MonthStatus,
    Note, NoteKind, Payout, Provenance, Report, TierBudget, UnavailableInterval, Unit,
};
pub use spec::{AmountProblem, EvaluationSpec, FeeField, MonthlyFee, SpecError, check_amount};
pub use term::Term;
