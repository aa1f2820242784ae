//! Availability and status: what a closed month's tally means under the policy's method, and the
//! month at a glance.

use chrono_tz::Tz;

use super::ledger::Tally;
use super::months::ServiceMonth;
use super::report::{MonthStatus, Note, NoteKind, Unit};
use super::term::SECONDS_PER_MINUTE;
use crate::policy::{Fraction, Method};

/// A month's availability and the notes that explain how it was reached.
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
            let clock_minutes = clock_minutes(month);
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
                fraction: Fraction::new(total - tally.bad.min(total), total),
            }
        }
        Method::Occurrences => {
            if tally.events == 0 {
                notes.push(Note {
                    kind: NoteKind::NoEvents,
                    text: "No events were counted this month; availability is 100% as nothing \
                           failed (contract-readings.md, \"No data\")."
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

/// The month's length on the clock, in minutes.
pub(super) fn clock_minutes(month: &ServiceMonth) -> u64 {
    month.elapsed_seconds().unsigned_abs() / SECONDS_PER_MINUTE.unsigned_abs()
}

/// The month at a glance, first match wins: no data at all, an outage waiting for a person, then
/// whether the standard was met. `review` names the outages that need review.
pub(super) fn status(
    tally: &Tally,
    review: &[&str],
    standard_met: bool,
    notes: &mut Vec<Note>,
) -> MonthStatus {
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
    if tally.covered_minutes == 0 {
        MonthStatus::NoData
    } else if !review.is_empty() {
        MonthStatus::NeedsReview
    } else if standard_met {
        MonthStatus::Met
    } else {
        MonthStatus::NotMet
    }
}
