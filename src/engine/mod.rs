//! The evaluation engine: buckets and outages in, one report per service month out.
//!
//! Pure domain code: plain Rust types in and out, no transport. [`Evaluation`] is the entry point
//! and only folds; at the end `month_report` asks each rule's module, in order, for its part of a
//! month's report. Each rule lives in one module:
//!
//! | rule | module |
//! |---|---|
//! | the term: months, fees, currency, validation | [`term`], [`months`] |
//! | where a bucket goes, or why it fits nowhere | `placement` |
//! | what a month remembers of its buckets | `ledger` |
//! | a method's units, exclusions, worst case, availability, budget | `tally`, one per method |
//! | tiers, payout and the money they are paid in | [`compensation`] |
//! | the month's status, and what its missing data could change | `status` |
//! | the intervals behind the figures | `evidence` |
//! | which minutes of a month lie inside its policy's service hours | `service_hours` |
//! | the input digest | `digest` |
//! | claim windows | [`claim_window`] |

mod bucket;
pub mod claim_window;
pub mod compensation;
mod digest;
mod evaluation;
mod evidence;
mod ledger;
mod month_report;
pub mod months;
mod placement;
mod report;
mod service_hours;
mod spec;
mod status;
mod tally;
pub mod term;

pub use bucket::{
    Batch, Bucket, BucketError, BucketField, Durations, IngestError, Ingested, Placement,
};
pub use compensation::Money;
pub use evaluation::{Evaluation, OutageError};
pub use months::ServiceMonth;
pub use report::{
    Bound, Budget, ClaimWindow, Coverage, Evidence, ExcludedInterval, Gap, Listed, MonthReport,
    MonthServiceHours, MonthStatus, Note, NoteKind, Payout, Provenance, Report, TierBudget,
    UnavailableInterval, Unit,
};
pub use spec::{AmountProblem, EvaluationSpec, FeeField, MonthlyFee, SpecError, check_amount};
pub use term::Term;
