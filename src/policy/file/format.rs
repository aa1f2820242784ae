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
    pub(super) source: SourceFile,
    pub(super) method: Spanned<MethodFile>,
    /// The hours availability is promised in; absent: every minute of every day.
    pub(super) service_hours: Option<Spanned<ServiceHoursFile>>,
    pub(super) compensation: CompensationFile,
    pub(super) claim_window: Spanned<ClaimWindowFile>,
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
        /// Fewest consecutive bad slices that count. Default 1.
        min_bad_run: Option<u32>,
    },
    Occurrences {
        /// Percent; below it a month's data cannot decide it. Default 99.
        min_coverage_percent: Option<String>,
    },
    MeanErrorRate {
        /// Minutes per interval; divides an hour.
        interval_minutes: u32,
    },
}

/// `[service_hours]`: which days, from when to when, local time.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ServiceHoursFile {
    pub(super) days: Spanned<ServiceDaysFile>,
    pub(super) from: Spanned<String>,
    pub(super) to: Spanned<String>,
}

/// `"business"`, or a list of weekday names.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum ServiceDaysFile {
    Named(String),
    Weekdays(Vec<String>),
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
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub(super) enum FormFile {
    Voucher,
    Cash,
    MessageCredits,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TierFile {
    /// Absent on the bottom tier, which reaches down to 0%.
    pub(super) at_least: Option<String>,
    pub(super) below: String,
    pub(super) fee_percent: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ClaimWindowFile {
    pub(super) opens_after_business_day: u32,
    pub(super) closes_after_days: u32,
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
    ProviderNotice,
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
