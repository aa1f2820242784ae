//! SLA policies: what one contract promises, held as data the engine evaluates.
//!
//! A policy is read from a TOML file ([`file`]); the built-in ones are embedded in the binary
//! and more can be loaded from a directory ([`PolicySet`]). Nothing here knows about gRPC.

mod clause;
mod file;
mod percent;
mod service_hours;
mod set;
mod store;
mod terms;

use chrono::NaiveDate;
use chrono_tz::Tz;

pub use clause::{
    Cause, CauseId, Clause, Comparison, Condition, NoticeRequirement, PolicyCause,
    ProviderNoticeRule, SurgeMetric, SurgeRule, SurgeThreshold,
};
pub use file::PolicyFileError;
pub use percent::{Fraction, Percent, PercentError};
pub use service_hours::{ServiceDays, ServiceHours};
pub use set::{LoadError, LoadedVersion, PolicySet, PolicyVersions};
pub use store::PolicyStore;
pub use terms::{ClaimCloses, ClaimOpens, ClaimWindowRule, Edge, MinAmount, TierBounds, UpperEdge};

/// One SLA, as the engine reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// Stable identifier clients pass (`tencent-im`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// This version's label (`version` in the file; defaults to `effective_from`, or "1").
    pub version: String,
    /// The first day this version is in force; `None`: from the beginning, until the next
    /// version's `effective_from`.
    pub effective_from: Option<NaiveDate>,
    /// The document the numbers come from.
    pub source: SourceDocument,
    /// How a term is cut into service months.
    pub service_month: ServiceMonthKind,
    /// Zone used when an evaluation does not name one.
    pub time_zone: Tz,
    /// The business calendar used when an evaluation names none, by name (a
    /// [`crate::calendar::CalendarSet`] entry); `None` counts Monday to Friday.
    pub calendar: Option<String>,
    /// How availability is measured.
    pub method: Method,
    /// The hours availability is promised in; `None`: every minute of every day.
    pub service_hours: Option<ServiceHours>,
    /// Availability at or above this meets the SLA; below it earns compensation.
    pub standard: Percent,
    /// Whether a month exactly at the standard meets it (`AtLeast`, the default) or misses it.
    pub standard_met_at: Edge,
    /// The compensation table, highest availability band first, as the document prints it.
    pub tiers: Vec<Tier>,
    /// How the table's bounds read: `[lower, upper)` or `(lower, upper]`.
    pub tier_bounds: TierBounds,
    /// What compensation is paid in.
    pub form: CompensationForm,
    /// A month's amount under this is not paid; `None`: every amount is.
    pub min_amount: Option<MinAmount>,
    /// A month's amount never exceeds this share of its eligible fee (100% by default).
    pub cap: Percent,
    /// When claims may be filed; `None` when the policy states no window (its document's could
    /// not be confirmed), and months then carry no claim dates.
    pub claim_window: Option<ClaimWindowRule>,
    /// Causes the policy declares beside the shared vocabulary, which its clauses and outages may
    /// name.
    pub causes: Vec<PolicyCause>,
    /// Exclusion clauses in the order the classifier tries them.
    pub clauses: Vec<Clause>,
    /// `sha256:` and the SHA-256 of the policy's file as loaded: which text a report was
    /// computed under, checkable with `sha256sum`.
    pub revision: String,
}

/// Where a policy's numbers come from, so a reviewer can check them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceDocument {
    /// The document's file name.
    pub file: String,
    /// The document's title.
    pub title: String,
    /// `None` when the document carries no date.
    pub last_updated: Option<NaiveDate>,
}

/// How a term is cut into service months.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceMonthKind {
    /// Each calendar month that overlaps the term, cut to the term.
    Calendar,
    /// Month *i* starts on the term's first day plus *i* months (IM).
    Anniversary,
}

/// How availability is measured; named after OpenSLO's budgeting methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Time is cut into slices; a bad slice costs all of its minutes.
    Timeslices {
        /// Slice length in minutes; divides an hour.
        slice_minutes: u32,
        /// What makes a slice bad.
        bad_slice: TimesliceRule,
        /// Fewest attempts a slice needs to be judged: one with fewer (in total) is available
        /// whatever failed in it (GCP-style). At least 1, which judges every slice with an attempt.
        min_attempts: u32,
        /// Fewest consecutive bad slices that count (Google's "Downtime Period"): a shorter run of
        /// bad slices is available. At least 1, which counts every bad slice.
        min_bad_run: u32,
    },
    /// Failed events over all events of the month.
    Occurrences {
        /// The share of a month's minutes that must have data for its events to decide it: the
        /// volume of missing minutes cannot be known, so no worst case can be computed.
        min_coverage: Percent,
    },
    /// 100% minus the mean of the error rates (`failed / total`) of every interval of the month,
    /// an interval without requests at 0% (Amazon S3's five-minute periods, Azure's hours).
    MeanErrorRate {
        /// Interval length in minutes; divides an hour.
        interval_minutes: u32,
    },
}

impl Method {
    /// The share of a month's minutes that must have data for the month to be decided, under a
    /// method that cannot bound what the minutes without data hide (occurrences); `None` under one
    /// that can, whose worst case decides instead (timeslices).
    pub fn min_coverage(&self) -> Option<Percent> {
        match *self {
            Method::Timeslices { .. } | Method::MeanErrorRate { .. } => None,
            Method::Occurrences { min_coverage } => Some(min_coverage),
        }
    }

    /// The stretch of time a bucket must divide and stay inside, in minutes: the timeslices
    /// slice, or the mean-error-rate interval; `None` under occurrences, whose buckets may be of
    /// any whole number of minutes.
    pub fn slice_minutes(&self) -> Option<u32> {
        match *self {
            Method::Timeslices { slice_minutes, .. } => Some(slice_minutes),
            Method::MeanErrorRate { interval_minutes } => Some(interval_minutes),
            Method::Occurrences { .. } => None,
        }
    }

    /// Fewest consecutive bad slices that count: 1 (every bad slice) except under a timeslices
    /// policy that sets `min_bad_run`.
    pub fn min_bad_run(&self) -> u32 {
        match *self {
            Method::Timeslices { min_bad_run, .. } => min_bad_run.max(1),
            Method::Occurrences { .. } | Method::MeanErrorRate { .. } => 1,
        }
    }
}

/// What makes a time slice bad, judged on the summed counts of every bucket inside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimesliceRule {
    /// At least one attempt and no success (IM's "Apparent Failure").
    AllFailed,
    /// At least one attempt and a success rate `(total − failed) / total` below the bound.
    SuccessRateBelow(Percent),
}

impl TimesliceRule {
    /// Judges one slice from its summed counts. A slice with no attempts is never bad: nothing
    /// failed in it.
    pub fn is_bad(self, total: u64, failed: u64) -> bool {
        if total == 0 {
            return false;
        }
        match self {
            TimesliceRule::AllFailed => failed == total,
            TimesliceRule::SuccessRateBelow(bound) => {
                Fraction::new(total - failed, total).below(bound)
            }
        }
    }

    /// [`TimesliceRule::is_bad`] for counts below 2^32 with `failed <= total`, with no branch and
    /// in 64-bit arithmetic (both products stay below 2^52), which the fast path's blocks of
    /// slices vectorise: the 128-bit products of the general case do not.
    #[inline(always)]
    pub fn is_bad_below_2_32(self, total: u32, failed: u32) -> bool {
        debug_assert!(failed <= total);
        let judged = total != 0;
        match self {
            TimesliceRule::AllFailed => judged & (failed == total),
            TimesliceRule::SuccessRateBelow(bound) => {
                let good = u64::from(total - failed) * 1_000_000;
                judged & (good < u64::from(bound.units()) * u64::from(total))
            }
        }
    }
}

/// One row of a compensation table: availability between `lower` and `upper` (`[lower, upper)`
/// or `(lower, upper]`, as the policy's [`TierBounds`] say) earns `fee_percent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tier {
    /// Lower bound: 0% on the bottom tier, which includes it.
    pub lower: Percent,
    /// Upper bound.
    pub upper: Percent,
    /// Percentage of the eligible fee paid.
    pub fee_percent: Percent,
}

/// What the compensation is paid in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompensationForm {
    /// Vouchers for the same service.
    Voucher,
    /// Cash returned to the account.
    Cash,
    /// Messages worth the amount at the list price (SMS).
    MessageCredits,
    /// A credit against future bills (AWS, Google, Azure, Atlassian).
    ServiceCredit,
}

impl CompensationForm {
    /// The form's name in policy files.
    pub fn name(self) -> &'static str {
        match self {
            CompensationForm::Voucher => "voucher",
            CompensationForm::Cash => "cash",
            CompensationForm::MessageCredits => "message_credits",
            CompensationForm::ServiceCredit => "service_credit",
        }
    }
}

impl Policy {
    /// The clauses that could exclude an outage of this cause, narrowest first: a clause with a
    /// condition of its own (5.18's blocked number) is tried before a broader one naming the same
    /// cause (5.17), so the verdict names the clause that fits best.
    pub fn clauses_for(&self, cause: &CauseId) -> Vec<&Clause> {
        let mut found: Vec<&Clause> = self
            .clauses
            .iter()
            .filter(|clause| clause.cause.as_ref() == Some(cause))
            .collect();
        found.sort_by_key(|clause| clause.condition == Condition::Always);
        found
    }

    /// The catch-all clause, if the policy has one.
    pub fn case_by_case_clause(&self) -> Option<&Clause> {
        self.clauses
            .iter()
            .find(|clause| clause.condition == Condition::CaseByCase)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slice_without_attempts_is_never_bad() {
        assert!(!TimesliceRule::AllFailed.is_bad(0, 0));
        assert!(!TimesliceRule::SuccessRateBelow(Percent::HUNDRED).is_bad(0, 0));
    }

    #[test]
    fn the_64_bit_judgement_agrees_with_the_general_one() {
        let counts = [
            0u32,
            1,
            2,
            3,
            99,
            100,
            101,
            999,
            1000,
            1001,
            1 << 20,
            u32::MAX - 1,
            u32::MAX,
        ];
        let rules = [
            TimesliceRule::AllFailed,
            TimesliceRule::SuccessRateBelow(Percent::HUNDRED),
            TimesliceRule::SuccessRateBelow("99".parse().unwrap()),
            TimesliceRule::SuccessRateBelow("99.9999".parse().unwrap()),
            TimesliceRule::SuccessRateBelow("0.0001".parse().unwrap()),
            TimesliceRule::SuccessRateBelow("0".parse().unwrap()),
        ];
        for rule in rules {
            for total in counts {
                for failed in counts
                    .into_iter()
                    .filter(|&f| f <= total)
                    .chain([total / 100])
                {
                    assert_eq!(
                        rule.is_bad_below_2_32(total, failed),
                        rule.is_bad(total.into(), failed.into()),
                        "{rule:?} {total} {failed}"
                    );
                }
            }
        }
    }

    #[test]
    fn all_failed_needs_every_attempt_to_fail() {
        assert!(TimesliceRule::AllFailed.is_bad(3, 3));
        assert!(!TimesliceRule::AllFailed.is_bad(3, 2));
    }

    #[test]
    fn success_rate_exactly_at_the_bound_is_not_bad() {
        let rule = TimesliceRule::SuccessRateBelow("99".parse().unwrap());
        assert!(!rule.is_bad(100, 1));
        assert!(rule.is_bad(100, 2));
        assert!(rule.is_bad(1000, 11));
        assert!(!rule.is_bad(1000, 10));
    }
}
