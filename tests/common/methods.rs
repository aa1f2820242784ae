//! Example policies for the measurement methods of issue 24: a mean of five-minute error rates
//! (as Amazon S3 measures), runs of bad minutes (as Google Cloud's "Downtime Period"), and
//! service hours, each a TOML text loaded next to the built-in policies.
#![allow(dead_code)]

use sla_evaluator::api::pb;
use sla_evaluator::policy::PolicySet;

use super::requests::instant;

/// The parts every example shares: a UTC calendar month, a 99.9% standard and three tiers.
fn policy(id: &str, method: &str, extra: &str) -> String {
    format!(
        r#"id = "{id}"
name = "Example {id}"
service_month = "calendar"
time_zone = "UTC"
standard_percent = "99.9"

[source]
document = "{id}.txt"
title = "Example {id} SLA"

[method]
{method}

[compensation]
form = "voucher"
tiers = [
  {{ at_least = "99", below = "99.9", fee_percent = "10" }},
  {{ at_least = "95", below = "99", fee_percent = "25" }},
  {{ below = "95", fee_percent = "100" }},
]

[claim_window]
opens_after_business_day = 5
closes_after_days = 60

[[clauses]]
id = "1"
cause = "scheduled_maintenance"
title = "Announced maintenance"
condition = {{ kind = "provider_notice" }}
{extra}"#
    )
}

/// Availability is 100% minus the mean error rate of every five-minute interval.
pub(crate) fn mean_5() -> String {
    policy(
        "mean-5",
        "kind = \"mean_error_rate\"\ninterval_minutes = 5",
        "",
    )
}

/// A minute is bad when under 90% of at least 100 attempts succeed; only runs of 5 or more
/// consecutive bad minutes count.
pub(crate) fn runs_5() -> String {
    policy(
        "runs-5",
        "kind = \"timeslices\"\nslice_minutes = 1\nbad_slice = { success_rate_below = \"90\" }\n\
         min_attempts = 100\nmin_bad_run = 5",
        "",
    )
}

/// The same minutes as `runs_5`, every bad one counting: the default `min_bad_run`, written out.
pub(crate) fn runs_1() -> String {
    policy(
        "runs-1",
        "kind = \"timeslices\"\nslice_minutes = 1\nbad_slice = { success_rate_below = \"90\" }\n\
         min_attempts = 100\nmin_bad_run = 1",
        "",
    )
}

/// Service hours on business days of the evaluation's calendar, 08:00 to 20:00, under
/// `method` (a `[method]` table's keys).
pub(crate) fn business_hours(id: &str, method: &str) -> String {
    policy(
        id,
        method,
        "\n[service_hours]\ndays = \"business\"\nfrom = \"08:00\"\nto = \"20:00\"\n",
    )
}

/// One-minute slices, bad when every attempt failed.
pub(crate) const MINUTE_SLICES: &str =
    "kind = \"timeslices\"\nslice_minutes = 1\nbad_slice = \"all_failed\"";

/// Five-minute error-rate intervals.
pub(crate) const FIVE_MINUTE_INTERVALS: &str = "kind = \"mean_error_rate\"\ninterval_minutes = 5";

/// Occurrences.
pub(crate) const OCCURRENCES: &str = "kind = \"occurrences\"";

/// The built-in policies and every example: `mean-5`, `runs-5`, `runs-1`, and under business
/// hours `hours-slices`, `hours-mean` and `hours-events`.
pub(crate) fn policies() -> PolicySet {
    let mut set = PolicySet::built_in().expect("built-in policies");
    for (id, text) in [
        ("mean-5", mean_5()),
        ("runs-5", runs_5()),
        ("runs-1", runs_1()),
        (
            "hours-slices",
            business_hours("hours-slices", MINUTE_SLICES),
        ),
        (
            "hours-mean",
            business_hours("hours-mean", FIVE_MINUTE_INTERVALS),
        ),
        ("hours-events", business_hours("hours-events", OCCURRENCES)),
    ] {
        set = set
            .with_policy_text(&format!("{id}.toml"), &text)
            .unwrap_or_else(|e| panic!("{id}: {e}"));
    }
    set
}

/// Maintenance from `start` to `end`, announced in writing before it began: what the examples'
/// provider-notice clause excludes.
pub(crate) fn maintenance(id: &str, start: &str, end: &str) -> pb::Outage {
    pb::Outage {
        id: id.into(),
        start: Some(instant(start)),
        end: Some(instant(end)),
        cause: pb::Cause::ScheduledMaintenance as i32,
        policy_cause: String::new(),
        facts: Some(pb::OutageFacts {
            provider_notice: Some(pb::Notice {
                status: pb::NoticeStatus::Given as i32,
                given_at: Some(instant("2024-03-25T00:00:00Z")),
                written: Some(true),
            }),
            ..Default::default()
        }),
    }
}
