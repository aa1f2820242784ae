//! Availability and status: what a closed month's tally means under the policy's method, how much
//! more the month can take, and the month at a glance.

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;

use super::months::ServiceMonth;
use super::report::{Bound, Budget, MonthStatus, Note, NoteKind, TierBudget, Unit};
use super::tally::Tally;
use crate::policy::{Fraction, Method, Percent, Policy};

/// A month's availability under the contract's reading of its data.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Availability {
    /// What the units count.
    pub(super) unit: Unit,
    /// Timeslices: the contract's minutes. Occurrences: events counted.
    pub(super) total_units: u64,
    /// Exact availability.
    pub(super) fraction: Fraction,
}

/// A month's availability: `1 − bad / total` over the contract's minutes (timeslices) or the
/// month's events (occurrences). Notes say where a reading of the contract decided the number.
pub(super) fn assess(
    method: Method,
    month: &ServiceMonth,
    tally: &Tally,
    zone: Tz,
    notes: &mut Vec<Note>,
) -> Availability {
    match method {
        Method::Timeslices { .. } => {
            let total = month.contract_minutes();
            let clock_minutes = month.clock_minutes();
            if clock_minutes != total {
                notes.push(Note {
                    kind: NoteKind::ClockChange,
                    text: format!(
                        "A clock change in {zone} makes this month {clock_minutes} minutes long on \
                         the clock; availability is computed over the contract's {} days × 1440 = \
                         {total} minutes.",
                        month.days()
                    ),
                });
            }
            if tally.bad > total {
                notes.push(Note {
                    kind: NoteKind::AvailabilityFloored,
                    text: format!(
                        "{} unavailable minutes exceed the contract's {total}; availability is \
                         floored at 0%.",
                        tally.bad
                    ),
                });
            }
            Availability {
                unit: Unit::Minutes,
                total_units: total,
                fraction: with_bad(total, tally.bad),
            }
        }
        Method::Occurrences { .. } => {
            if tally.events == 0 {
                notes.push(Note {
                    kind: NoteKind::NoEvents,
                    text: "No events were counted this month; availability is 100% as nothing \
                           failed (docs/contract-readings.md, \"No data\")."
                        .into(),
                });
            }
            Availability {
                unit: Unit::Events,
                total_units: tally.events,
                fraction: Fraction::new(tally.events - tally.bad, tally.events),
            }
        }
    }
}

/// Availability of `total` units of which `bad` were bad, floored at 0%.
pub(super) fn with_bad(total: u64, bad: u64) -> Fraction {
    Fraction::new(total - bad.min(total), total)
}

/// How many more bad units a month of `total` units with `bad` of them bad can take: before it
/// misses the standard, and before it falls into each tier. Every bound is met exactly, as the
/// comparisons of [`Fraction`] are: a month of 44,640 minutes at a 99.9% standard may lose 44.
pub(super) fn budget(policy: &Policy, total: u64, bad: u64) -> Budget {
    // The most bad units that keep availability at or above `bound`.
    let most_bad_at_least = |bound: Percent| {
        let needed_good = (u128::from(bound.units()) * u128::from(total)).div_ceil(1_000_000);
        // needed_good ≤ total, since bound ≤ 100%.
        total - needed_good as u64
    };
    let allowed = most_bad_at_least(policy.standard);
    let tiers = policy
        .tiers
        .iter()
        .enumerate()
        .map(|(index, tier)| {
            // A tier pays below the standard only (docs/contract-readings.md, "Compensation").
            let upper = tier.below.min(policy.standard);
            TierBudget {
                tier: index + 1,
                bad_units_until: (most_bad_at_least(upper) + 1).saturating_sub(bad),
            }
        })
        .collect();
    Budget {
        bad_units_allowed: allowed,
        bad_units_remaining: allowed.saturating_sub(bad),
        tiers,
    }
}

/// What decides a month's status.
pub(super) struct Standing<'a> {
    /// The closed month.
    pub(super) tally: &'a Tally,
    /// Outages needing a person's review that touched the month, by id.
    pub(super) review: &'a [&'a str],
    /// The contract's figures.
    pub(super) contract: &'a Bound,
    /// Timeslices: the figures if every silent slice had been bad.
    pub(super) worst_case: Option<&'a Bound>,
    /// Occurrences: the share of minutes that must have data.
    pub(super) min_coverage: Option<Percent>,
    /// The evaluation's `as_of`.
    pub(super) as_of: DateTime<Utc>,
    /// The month.
    pub(super) month: &'a ServiceMonth,
}

/// The month at a glance, first match wins (docs/contract-readings.md, "Status precedence"): no
/// data at all, an outage waiting for a person, data that cannot decide the month, a month still
/// in progress, then whether the standard was met. Notes say why.
pub(super) fn status(standing: &Standing<'_>, notes: &mut Vec<Note>) -> MonthStatus {
    let Standing {
        tally,
        review,
        contract,
        worst_case,
        min_coverage,
        as_of,
        month,
    } = standing;
    if !review.is_empty() {
        notes.push(Note {
            kind: NoteKind::OutagesNeedReview,
            text: format!(
                "{} outage(s) touching this month need a person's review ({}); they count until \
                 decided.",
                review.len(),
                review.join(", ")
            ),
        });
    }
    let silent = tally.elapsed_minutes - tally.covered_elapsed_minutes;
    let coverage = Fraction::new(tally.covered_elapsed_minutes, tally.elapsed_minutes);
    let undecided = match (worst_case, min_coverage) {
        (Some(worst), _) => {
            worst.standard_met != contract.standard_met || worst.tier != contract.tier
        }
        (None, Some(minimum)) => coverage.below(*minimum),
        (None, None) => false,
    };
    if tally.covered_minutes > 0 && silent > 0 {
        notes.push(silence_note(
            silent,
            coverage,
            contract,
            *worst_case,
            *min_coverage,
            undecided,
        ));
    }
    let in_progress = month.end > *as_of;
    if in_progress && tally.covered_minutes > 0 {
        notes.push(Note {
            kind: NoteKind::InProgress,
            text: format!(
                "The month ends after as_of ({}): its figures are those so far, and the budget \
                 says how much more it can take.",
                as_of.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
        });
    }
    if tally.covered_minutes == 0 {
        MonthStatus::NoData
    } else if !review.is_empty() {
        MonthStatus::NeedsReview
    } else if undecided {
        MonthStatus::IncompleteData
    } else if in_progress {
        MonthStatus::InProgress
    } else if contract.standard_met {
        MonthStatus::Met
    } else {
        MonthStatus::NotMet
    }
}

/// What the minutes without data mean for the month: the reading that counts them available, and
/// whether they could have changed the result.
fn silence_note(
    silent: u64,
    coverage: Fraction,
    contract: &Bound,
    worst_case: Option<&Bound>,
    min_coverage: Option<Percent>,
    undecided: bool,
) -> Note {
    let reading = "docs/contract-readings.md, \"Silence never passes unnoticed\"";
    let text = match (worst_case, min_coverage, undecided) {
        (Some(worst), _, true) => format!(
            "{silent} minute(s) before as_of had no data (coverage {}%). The contract counts them \
             available: {}%{}. Had they all been unavailable: {}%{}. The data cannot decide this \
             month ({reading}).",
            coverage.truncated_percent(),
            contract.availability.truncated_percent(),
            standing(contract),
            worst.availability.truncated_percent(),
            standing(worst)
        ),
        (Some(worst), _, false) => format!(
            "{silent} minute(s) before as_of had no data (coverage {}%). Even had they all been \
             unavailable ({}%) the month would read{}, so they cannot change its result \
             ({reading}).",
            coverage.truncated_percent(),
            worst.availability.truncated_percent(),
            standing(worst)
        ),
        (None, Some(minimum), true) => format!(
            "Only {}% of the month's minutes before as_of had data ({silent} without), below the \
             policy's minimum coverage of {minimum}%: the events of the missing minutes cannot be \
             known, so the data cannot decide this month ({reading}).",
            coverage.truncated_percent()
        ),
        (None, minimum, _) => format!(
            "{silent} minute(s) before as_of had no data (coverage {}%{}); only the events \
             measured are counted ({reading}).",
            coverage.truncated_percent(),
            minimum.map_or(String::new(), |m| format!(", at least the policy's {m}%"))
        ),
    };
    Note {
        kind: if undecided {
            NoteKind::IncompleteData
        } else {
            NoteKind::DataGaps
        },
        text,
    }
}

/// ", standard met" or ", standard missed, tier 2 (20% of the fee)".
fn standing(bound: &Bound) -> String {
    match bound.tier {
        None if bound.standard_met => ", standard met".into(),
        None => ", standard missed".into(),
        Some((index, tier)) => format!(
            ", standard missed, tier {index} ({}% of the fee{})",
            tier.fee_percent,
            bound
                .payout
                .as_ref()
                .map_or(String::new(), |p| format!(", {}", p.amount))
        ),
    }
}
