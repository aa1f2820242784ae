//! Timeslices: time is cut into slices, a slice is bad by the policy's rule on its summed counts,
//! and a bad slice costs all of its minutes. Availability is `1 − bad minutes / the contract's
//! minutes` (days × 1440, also across a clock change; the minutes of the slices wholly inside
//! service hours, when the policy has them).
//!
//! - **Closing.** Every bad slice counts its minutes, unless an excluded outage overlaps it; a
//!   slice with fewer attempts than the policy's `min_attempts` is available, and counted apart.
//!   With `min_bad_run`, a bad slice counts only in a run of at least that many (`runs`).
//! - **Evidence.** Each bad slice that counts, with its summed counts; and the runs too short to.
//! - **Worst case.** A slice with a minute of silence before `as_of` might have been bad, and a
//!   bad slice costs all of its minutes; excluded outages still take out what they overlap.
//! - **Budget.** In minutes of bad slices, against the contract's minutes.

use super::runs::{self, Split, States};
use super::{
    BadUnit, Closed, Closing, Credits, Reading, Tally, budget_in_units, note_without_service_hours,
    with_bad,
};
use crate::engine::ledger::{JudgedSlices, MonthLedger};
use crate::engine::report::{Note, NoteKind, Unit};

/// Closes a timeslices month, noting a clock change, availability floored at 0%, and the runs of
/// bad slices that were too short to count or crossed a month boundary.
pub(super) fn close(
    ledger: &MonthLedger,
    slices: JudgedSlices,
    closing: &Closing<'_>,
    notes: &mut Vec<Note>,
) -> Closed {
    let width = u64::from(slices.slice_minutes);
    let tally = count(ledger, slices, closing, notes);
    let Closing { month, zone, .. } = *closing;
    let total = match ledger.hours() {
        None => month.contract_minutes(),
        Some(hours) => {
            let slices = ledger.covered().len() / width as usize;
            let inside = (0..slices)
                .filter(|&s| hours.covers(s * width as usize..(s + 1) * width as usize))
                .count() as u64;
            inside * width
        }
    };
    note_without_service_hours(ledger, total == 0, notes);
    let clock_minutes = month.clock_minutes();
    if ledger.hours().is_none() && clock_minutes != total {
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
    let reading = |bad_units: u64| Reading::exact(bad_units, with_bad(total, bad_units));
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
fn count(
    ledger: &MonthLedger,
    slices: JudgedSlices,
    closing: &Closing<'_>,
    notes: &mut Vec<Note>,
) -> Tally {
    let covered = ledger.covered();
    let mut tally = Tally::new(ledger, closing);
    let credits = Credits::new(closing.exclusions, covered.len());
    tally.slices_under_min_attempts = slices.under_min_attempts;
    let slice_minutes = slices.slice_minutes;
    let width = slice_minutes as usize;
    let slice_count = covered.len() / width;
    let elapsed = closing.elapsed.min(covered.len());
    // A slice counts when it lies wholly inside service hours (every slice, without them), and
    // is credited to no exclusion.
    let inside = |slice: usize| {
        ledger
            .hours()
            .is_none_or(|hours| hours.covers(slice * width..(slice + 1) * width))
    };
    let min_run = u64::from(closing.policy.method.min_bad_run());
    let states = States::of(ledger, &slices, elapsed);
    let Split {
        long: counting,
        short,
    } = if min_run > 1 {
        let carry = closing.runs;
        let split = runs::split(
            slices.bad,
            slice_count as u32,
            min_run,
            carry.before.bad,
            carry.after.bad,
        );
        note_runs(&split, slice_count as u32, min_run, closing, notes);
        split
    } else {
        Split {
            long: slices.bad,
            short: Vec::new(),
        }
    };
    for (slice, counts) in short {
        if inside(slice as usize) {
            tally.short_run_slices += 1;
            let start = slice * slice_minutes;
            tally.short_runs.push(BadUnit {
                minutes: start..start + slice_minutes,
                counts,
            });
        }
    }
    for (slice, counts) in counting {
        if !inside(slice as usize) {
            continue;
        }
        let range = slice as usize * width..(slice as usize + 1) * width;
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
    let counts_in_worst = |slice: usize| {
        inside(slice)
            && credits
                .credited(slice * width..(slice + 1) * width)
                .is_none()
    };
    let worst = if min_run == 1 {
        tally.bad
            + states
                .maybe
                .ones()
                .filter(|&slice| counts_in_worst(slice))
                .count() as u64
                * u64::from(slice_minutes)
    } else {
        // With runs, silence may also complete a run: runs are judged again over the slices that
        // were bad or might have been, and each slice of a run long enough counts.
        let mut either = states.bad;
        either.union_with(&states.maybe);
        let items: Vec<(u32, ())> = either.ones().map(|slice| (slice as u32, ())).collect();
        let carry = closing.runs;
        let Split { long, .. } = runs::split(
            items,
            slice_count as u32,
            min_run,
            carry.before.worst,
            carry.after.worst,
        );
        long.iter()
            .filter(|&&(slice, _)| counts_in_worst(slice as usize))
            .count() as u64
            * u64::from(slice_minutes)
    };
    tally.worst_case_bad = Some(worst);
    tally
}

/// The notes `min_bad_run` needs: bad slices in runs too short to count, and a run judged whole
/// across a month boundary.
fn note_runs<T>(
    Split { long, short }: &Split<T>,
    slices: u32,
    min_run: u64,
    closing: &Closing<'_>,
    notes: &mut Vec<Note>,
) {
    if !short.is_empty() {
        let runs = 1 + short.windows(2).filter(|w| w[0].0 + 1 != w[1].0).count();
        notes.push(Note {
            kind: NoteKind::ShortBadRuns,
            text: format!(
                "{} bad slice(s) in {runs} run(s) shorter than the policy's min_bad_run of                  {min_run} did not count: only runs of at least {min_run} consecutive bad slices                  do (docs/contract-readings.md, \"Runs of bad slices\").",
                short.len()
            ),
        });
    }
    let carry = closing.runs;
    let starts_bad = long.first().is_some_and(|&(slice, _)| slice == 0);
    let ends_bad = long.last().is_some_and(|&(slice, _)| slice + 1 == slices);
    let mut across = Vec::new();
    if starts_bad && carry.before.bad > 0 {
        across.push(format!(
            "{} bad slice(s) just before it, in the month before",
            carry.before.bad
        ));
    }
    if ends_bad && carry.after.bad > 0 {
        across.push(format!(
            "{} just after it, in the month after",
            carry.after.bad
        ));
    }
    if !across.is_empty() {
        notes.push(Note {
            kind: NoteKind::RunAcrossMonths,
            text: format!(
                "A run of bad slices crosses this month's boundary ({}): it was judged as one                  run, and this month counts its own part (docs/contract-readings.md, \"Runs of \
                 bad slices\").",
                across.join("; ")
            ),
        });
    }
}
