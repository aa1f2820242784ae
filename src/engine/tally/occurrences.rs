//! Occurrences: failed events over all events of the month. Availability is
//! `1 − failed / events`, 100% when nothing was counted (docs/contract-readings.md, "No data").
//!
//! - **Closing.** Every bucket's events count, unless an excluded outage touches the bucket: then
//!   all of its events leave the count, failed or not. Under service hours only the buckets
//!   wholly inside them count.
//! - **Evidence.** Each bucket that carried failures and counts.
//! - **Worst case.** None: the events of the minutes without data cannot be known. The month's
//!   coverage against the policy's `min_coverage_percent` decides instead whether its data can
//!   decide it (`status`).
//! - **Budget.** In failed events, at the month's event count so far.

use super::{
    BadUnit, Closed, Closing, Credits, Reading, Tally, budget_in_units, note_without_service_hours,
};
use crate::engine::ledger::{JudgedEvents, MonthLedger};
use crate::engine::report::{Note, NoteKind, Unit};
use crate::policy::Fraction;

/// Closes an occurrences month, noting a month without events.
pub(super) fn close(
    ledger: &MonthLedger,
    events: JudgedEvents,
    closing: &Closing<'_>,
    notes: &mut Vec<Note>,
) -> Closed {
    let tally = count(ledger, events, closing);
    note_without_service_hours(
        ledger,
        ledger.hours().is_some_and(|hours| hours.len() == 0),
        notes,
    );
    if tally.events == 0 {
        notes.push(Note {
            kind: NoteKind::NoEvents,
            text: "No events were counted this month; availability is 100% as nothing failed \
                   (docs/contract-readings.md, \"No data\")."
                .into(),
        });
    }
    Closed {
        unit: Unit::Events,
        total_units: tally.events,
        contract: Reading::exact(
            tally.bad,
            Fraction::new(tally.events - tally.bad, tally.events),
        ),
        worst_case: None,
        budget: budget_in_units(closing.policy, tally.events, tally.bad),
        tally,
    }
}

/// The month's events and failures, and what exclusions took out.
fn count(ledger: &MonthLedger, events: JudgedEvents, closing: &Closing<'_>) -> Tally {
    let mut tally = Tally::new(ledger, closing);
    if closing.exclusions.is_empty() && ledger.hours().is_none() {
        tally.events = events.sum.total;
        tally.bad = events.sum.failed;
        tally.unavailable = events
            .failing
            .into_iter()
            .map(|record| BadUnit {
                minutes: record.minute..record.minute + record.span,
                counts: record.counts,
            })
            .collect();
        return tally;
    }
    // Exclusions and service hours need every bucket: each one an excluded outage touches, or
    // that is not wholly inside service hours, leaves the count.
    let credits = Credits::new(closing.exclusions, ledger.covered().len());
    for record in ledger.log().in_order() {
        let range = record.minute as usize..(record.minute + record.span) as usize;
        if ledger
            .hours()
            .is_some_and(|hours| !hours.covers(range.clone()))
        {
            continue;
        }
        match credits.credited(range.clone()) {
            Some(outage) => {
                tally.excluded += record.counts.total;
                tally.taken[outage] += record.counts.total;
            }
            None => {
                tally.events += record.counts.total;
                tally.bad += record.counts.failed;
                if record.counts.failed > 0 {
                    tally.unavailable.push(BadUnit {
                        minutes: range.start as u32..range.end as u32,
                        counts: record.counts,
                    });
                }
            }
        }
    }
    tally
}
