//! A month at a glance: its status, and the notes on what its data could not tell.

use chrono::{DateTime, SecondsFormat, Utc};

use super::months::ServiceMonth;
use super::report::{Bound, MonthStatus, Note, NoteKind};
use super::tally::Tally;
use crate::limits::MAX_NAMED;
use crate::policy::{Fraction, Percent};

/// What decides a month's status.
pub(super) struct Standing<'a> {
    /// The month's units: whether any minute had data, and how many before `as_of` did.
    pub(super) tally: &'a Tally,
    /// Outages needing a person's review that touched the month, by id.
    pub(super) review: &'a [&'a str],
    /// The contract's figures.
    pub(super) contract: &'a Bound,
    /// The figures had every unit silence could hide been bad, when the method can bound them
    /// (timeslices): the month is undecided when they differ from the contract's.
    pub(super) worst_case: Option<&'a Bound>,
    /// Without a worst case (occurrences): the share of minutes that must have data, below which
    /// the month is undecided.
    pub(super) min_coverage: Option<Percent>,
    /// The policy has service hours: the minutes without data counted are those inside them.
    pub(super) service_hours: bool,
    /// The evaluation's `as_of`: a month ending after it is in progress.
    pub(super) as_of: DateTime<Utc>,
    /// The month whose status this is.
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
        service_hours,
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
                named(review)
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
            if *service_hours {
                " of service hours"
            } else {
                ""
            },
        ));
    }
    let in_progress = month.end > *as_of;
    // Without data the month is NO_DATA and has no figures so far to qualify; a month that begins
    // after as_of never has any (docs/contract-readings.md, "as_of").
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
/// whether they could have changed the result. `scope` says which minutes were counted: all of
/// them (""), or those " of service hours".
fn silence_note(
    silent: u64,
    coverage: Fraction,
    contract: &Bound,
    worst_case: Option<&Bound>,
    min_coverage: Option<Percent>,
    undecided: bool,
    scope: &str,
) -> Note {
    let reading = "docs/contract-readings.md, \"Silence never passes unnoticed\"";
    let text = match (worst_case, min_coverage, undecided) {
        (Some(worst), _, true) => format!(
            "{silent} minute(s){scope} before as_of had no data (coverage {}%). The contract counts them \
             available: {}%{}. Had they all been unavailable: {}%{}. The data cannot decide this \
             month ({reading}).",
            coverage.truncated_percent(),
            contract.availability.truncated_percent(),
            standing(contract),
            worst.availability.truncated_percent(),
            standing(worst)
        ),
        (Some(worst), _, false) => format!(
            "{silent} minute(s){scope} before as_of had no data (coverage {}%). Even had they all been \
             unavailable ({}%) the month would read{}, so they cannot change its result \
             ({reading}).",
            coverage.truncated_percent(),
            worst.availability.truncated_percent(),
            standing(worst)
        ),
        (None, Some(minimum), true) => format!(
            "Only {}% of the month's minutes{scope} before as_of had data ({silent} without), below the \
             policy's minimum coverage of {minimum}%: the events of the missing minutes cannot be \
             known, so the data cannot decide this month ({reading}).",
            coverage.truncated_percent()
        ),
        (None, minimum, _) => format!(
            "{silent} minute(s){scope} before as_of had no data (coverage {}%{}); only the events \
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

/// The first [`MAX_NAMED`] of `ids` and how many more there are: a note names a bounded number
/// of outages, so that a thousand of them touching every month of a ten-year term do not repeat
/// every id in every month (the response's verdicts name each once).
fn named(ids: &[&str]) -> String {
    let shown = ids[..ids.len().min(MAX_NAMED)].join(", ");
    match ids.len().checked_sub(MAX_NAMED) {
        Some(more) if more > 0 => format!("{shown} and {more} more"),
        _ => shown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_names_ten_items_and_counts_the_rest() {
        let ids: Vec<String> = (0..1000).map(|i| format!("o-{i}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        assert_eq!(named(&ids[..2]), "o-0, o-1");
        assert_eq!(named(&ids[..10]).matches(", ").count(), 9);
        let many = named(&ids);
        assert!(many.starts_with("o-0, o-1, "), "{many}");
        assert!(many.ends_with("o-9 and 990 more"), "{many}");
    }
}
