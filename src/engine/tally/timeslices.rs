//! Timeslices: time is cut into slices, a slice is bad by the policy's rule on its summed counts,
//! and a bad slice costs all of its minutes. Availability is `1 − bad minutes / the contract's
//! minutes` (days × 1440, also across a clock change).
//!
//! - **Closing.** Every bad slice counts its minutes, unless an excluded outage overlaps it; a
//!   slice with fewer attempts than the policy's `min_attempts` is available, and counted apart.
//! - **Evidence.** Each bad slice that counts, with its summed counts.
//! - **Worst case.** A slice with a minute of silence before `as_of` might have been bad, and a
//!   bad slice costs all of its minutes; excluded outages still take out what they overlap.
//! - **Budget.** In minutes of bad slices, against the contract's minutes.

use fixedbitset::FixedBitSet;

use super::{BadUnit, Closed, Closing, Credits, Reading, Tally, budget_in_units, with_bad};
use crate::engine::ledger::{JudgedSlices, MonthLedger};
use crate::engine::report::{Note, NoteKind, Unit};

/// Closes a timeslices month, noting a clock change and availability floored at 0%.
pub(super) fn close(
    ledger: &MonthLedger,
    slices: JudgedSlices,
    closing: &Closing<'_>,
    notes: &mut Vec<Note>,
) -> Closed {
    let tally = count(ledger.covered(), slices, closing);
    let Closing { month, zone, .. } = *closing;
    let total = month.contract_minutes();
    let clock_minutes = month.clock_minutes();
    if clock_minutes != total {
        notes.push(Note {
            kind: NoteKind::ClockChange,
            text: format!(
                "A clock change in {zone} makes this month {clock_minutes} minutes long on the \
                 clock; availability is computed over the contract's {} days × 1440 = {total} \
                 minutes.",
                month.days()
            ),
        });
    }
    if tally.bad > total {
        notes.push(Note {
            kind: NoteKind::AvailabilityFloored,
            text: format!(
                "{} unavailable minutes exceed the contract's {total}; availability is floored \
                 at 0%.",
                tally.bad
            ),
        });
    }
    let reading = |bad_units: u64| Reading {
        bad_units,
        availability: with_bad(total, bad_units),
    };
    Closed {
        unit: Unit::Minutes,
        total_units: total,
        contract: reading(tally.bad),
        worst_case: tally.worst_case_bad.map(reading),
        budget: budget_in_units(closing.policy, total, tally.bad),
        tally,
    }
}

/// The month's bad minutes, what exclusions took out, and the worst case.
fn count(covered: &FixedBitSet, slices: JudgedSlices, closing: &Closing<'_>) -> Tally {
    let JudgedSlices {
        slice_minutes,
        bad,
        under_min_attempts,
    } = slices;
    let mut tally = Tally::new(covered, closing);
    let credits = Credits::new(closing.exclusions, covered.len());
    tally.slices_under_min_attempts = under_min_attempts;
    let width = slice_minutes as usize;
    let mut bad_slices = FixedBitSet::with_capacity(covered.len() / width);
    for (slice, counts) in bad {
        let range = slice as usize * width..(slice as usize + 1) * width;
        bad_slices.insert(slice as usize);
        match credits.credited(range.clone()) {
            Some(outage) => {
                tally.excluded += u64::from(slice_minutes);
                tally.taken[outage] += u64::from(slice_minutes);
            }
            None => {
                tally.bad += u64::from(slice_minutes);
                tally.unavailable.push(BadUnit {
                    minutes: range.start as u32..range.end as u32,
                    counts,
                });
            }
        }
    }
    // The worst case: a slice with a minute of silence before `as_of` might have been bad, and a
    // bad slice costs all of its minutes.
    let elapsed = tally.elapsed_minutes as usize;
    let mut worst = tally.bad;
    let mut last_slice = None;
    for minute in covered.zeroes().take_while(|&minute| minute < elapsed) {
        let slice = minute / width;
        if last_slice == Some(slice) || bad_slices.contains(slice) {
            continue;
        }
        last_slice = Some(slice);
        if credits
            .credited(slice * width..(slice + 1) * width)
            .is_none()
        {
            worst += u64::from(slice_minutes);
        }
    }
    tally.worst_case_bad = Some(worst);
    tally
}
