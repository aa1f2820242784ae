//! The TOML shape of a policy file, exactly as serde reads it. Validation is elsewhere: these types
//! only say which keys exist and what TOML type each has.

use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PolicyFile {
    pub(super) id: Spanned<String>,
    pub(super) name: Spanned<String>,
    /// A label for this version of the policy; defaults to `effective_from`, or "1".
    pub(super) version: Option<Spanned<String>>,
    /// The first day this version is in force; absent: from the beginning.
    pub(super) effective_from: Option<Spanned<String>>,
    pub(super) service_month: Spanned<ServiceMonthFile>,
    pub(super) time_zone: Spanned<String>,
    /// The name of the business calendar used when an evaluation names none.
    pub(super) calendar: Option<Spanned<String>>,
    pub(super) standard_percent: Spanned<String>,
    /// Whether a month exactly at the standard meets it; default `at_least`.
    pub(super) standard_met_at: Option<EdgeFile>,
    pub(super) source: SourceFile,
    pub(super) method: Spanned<MethodFile>,
    pub(super) compensation: CompensationFile,
    /// Absent: the policy states no claim window.
    pub(super) claim_window: Option<Spanned<ClaimWindowFile>>,
    /// Causes of the policy's own, beside the shared vocabulary.
    #[serde(default)]
    pub(super) causes: Vec<Spanned<CauseFile>>,
    #[serde(default)]
    pub(super) clauses: Vec<Spanned<ClauseFile>>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub(super) enum ServiceMonthFile {
    Calendar,
    Anniversary,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SourceFile {
    pub(super) document: String,
    pub(super) title: String,
    pub(super) last_updated: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum MethodFile {
    Timeslices {
        slice_minutes: u32,
        bad_slice: BadSliceFile,
        /// Fewest attempts a slice needs to be judged. Default 1.
        min_attempts: Option<u32>,
    },
    Occurrences {
        /// Percent; below it a month's data cannot decide it. Default 99.
        min_coverage_percent: Option<String>,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum BadSliceFile {
    AllFailed,
    SuccessRateBelow(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CompensationFile {
    pub(super) form: Spanned<FormFile>,
    pub(super) tiers: Spanned<Vec<Spanned<TierFile>>>,
    /// A month's amount under it is not paid (decimal string, in the evaluation's currency).
    pub(super) min_amount: Option<Spanned<String>>,
    /// The ISO 4217 currency the document fixes `min_amount` in.
    pub(super) min_amount_currency: Option<Spanned<String>>,
    /// Whether an amount exactly at `min_amount` is paid; default `at_least`.
    pub(super) min_amount_met_at: Option<EdgeFile>,
    /// Percent of the eligible fee a month's amount never exceeds; default 100.
    pub(super) cap_percent: Option<Spanned<String>>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub(super) enum FormFile {
    Voucher,
    Cash,
    MessageCredits,
    ServiceCredit,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TierFile {
    /// `[at_least, below)`; `at_least` is absent on the bottom tier, which reaches down to 0%.
    pub(super) at_least: Option<String>,
    pub(super) below: Option<String>,
    /// `(above, at_most]`; `above` is absent on the bottom tier, which reaches down to 0%.
    pub(super) above: Option<String>,
    pub(super) at_most: Option<String>,
    pub(super) fee_percent: String,
}

/// Which side of a bound a value exactly on it belongs to.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub(super) enum EdgeFile {
    AtLeast,
    Above,
}

/// Exactly one of each pair: `opens_after_business_day` or `opens`, and `closes_after_days` or
/// `closes_at_end_of_month`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ClaimWindowFile {
    pub(super) opens_after_business_day: Option<u32>,
    pub(super) opens: Option<OpensFile>,
    pub(super) closes_after_days: Option<u32>,
    pub(super) closes_at_end_of_month: Option<u32>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub(super) enum OpensFile {
    AfterPeriod,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CauseFile {
    pub(super) id: String,
    pub(super) title: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ClauseFile {
    pub(super) id: String,
    pub(super) cause: Option<Spanned<String>>,
    pub(super) title: String,
    #[serde(default)]
    pub(super) condition: ConditionFile,
}

#[derive(Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum ConditionFile {
    #[default]
    Always,
    ProviderNotice {
        notice: Option<ProviderNoticeFile>,
    },
    TrafficSurge {
        metric: Option<MetricFile>,
        comparison: Option<ComparisonFile>,
        threshold: Option<String>,
        gateway_threshold: Option<String>,
        notice: NoticeFile,
        #[serde(default)]
        scope: ScopeFile,
    },
    NumberBlocked,
    CaseByCase,
}

/// The notice a provider-notice clause asks for: `notice = { written = true, hours = 24 }`.
#[derive(Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub(super) struct ProviderNoticeFile {
    #[serde(default)]
    pub(super) written: bool,
    #[serde(default)]
    pub(super) hours: u32,
}

/// What traffic a surge clause covers.
#[derive(Deserialize, Clone, Copy, Default)]
#[serde(rename_all = "snake_case")]
pub(super) enum ScopeFile {
    #[default]
    AnyTraffic,
    AudioVideoChatroom,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub(super) enum MetricFile {
    Concurrency,
    PeakQps,
    DailyMessages,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub(super) enum ComparisonFile {
    Above,
    AtLeast,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub(super) struct NoticeFile {
    pub(super) written: bool,
    pub(super) business_days: u32,
}
