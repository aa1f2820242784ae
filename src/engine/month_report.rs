//! One month's report, from what the evaluation folded: the outages that touch the month, its
//! units closed under the policy's method (`tally`), the bounds compensation puts on its figures,
//! its status and the evidence behind it. Each step is a module's; this one only puts them in
//! order, and the order is that of the notes.

use super::claim_window;
use super::compensation;
use super::evidence;
use super::ledger::MonthLedger;
use super::months::{SECONDS_PER_MINUTE, ServiceMonth};
use super::report::{Bound, Coverage, MonthReport};
use super::status::{self, Standing};
use super::tally::{self, Closed, Closing, Exclusion};
use super::term::Term;
use crate::classify::{OutageVerdict, OutageWindow, Verdict};

/// An outage as the evaluation keeps it: its window and how it was classified.
pub(super) type KeptOutage = (OutageWindow, OutageVerdict);

/// Month `index` of the term: `ledger` is what it remembers of its buckets, `outages` every outage
/// of the evaluation, and `elapsed` its clock minutes before `as_of`.
pub(super) fn build(
    term: &Term,
    index: usize,
    ledger: &MonthLedger,
    outages: &[KeptOutage],
    elapsed: usize,
) -> MonthReport {
    let month = &term.months[index];
    let policy = &term.month_policies[index];
    let touching = Touching::of(month, outages);
    let mut notes = Vec::new();
    let closing = Closing {
        policy,
        month,
        zone: term.time_zone(),
        exclusions: &touching.exclusions,
        elapsed,
    };
    let closed = tally::close(ledger, &closing, &mut notes);
    let Bounds {
        contract,
        worst_case,
    } = Bounds::of(term, index, &closed);
    compensation::notes(policy, &contract, &mut notes);
    match &policy.claim_window {
        Some(rule) => notes.extend(claim_window::out_of_range_note(
            rule,
            month.last_day,
            &term.context.calendar,
        )),
        None => notes.push(claim_window::not_stated_note()),
    }
    let status = status::status(
        &Standing {
            tally: &closed.tally,
            review: &touching.review,
            contract: &contract,
            worst_case: worst_case.as_ref(),
            min_coverage: policy.method.min_coverage(),
            as_of: term.as_of,
            month,
        },
        &mut notes,
    );
    let excluded = touching
        .excluded
        .iter()
        .zip(&closed.tally.taken)
        .map(|(&i, &units)| {
            let (window, verdict) = &outages[i];
            let clause = verdict.clause.as_ref().map_or("", |c| c.id.as_str());
            (i, clause.to_string(), window.start(), window.end(), units)
        });
    let evidence = evidence::of_month(
        month,
        &closed.tally.unavailable,
        excluded,
        ledger.covered(),
        elapsed,
        term.max_intervals as usize,
    );

    let Closed {
        tally,
        unit,
        total_units,
        budget,
        ..
    } = closed;
    let Bound {
        bad_units,
        availability,
        standard_met,
        tier,
        compensation_percent,
        payout,
    } = contract;
    MonthReport {
        policy_version: policy.version.clone(),
        policy_revision: policy.revision.clone(),
        first_day: month.first_day,
        last_day: month.last_day,
        status,
        unit,
        total_units,
        bad_units,
        excluded_units: tally.excluded,
        availability_percent: availability.truncated_percent(),
        availability,
        standard_met,
        tier,
        compensation_percent,
        form: policy.form,
        payout,
        claim_window: term.claim_windows[index],
        coverage: Coverage {
            covered_minutes: tally.covered_minutes,
            minutes: month.clock_minutes(),
        },
        outages: touching.all,
        notes,
        elapsed_minutes: tally.elapsed_minutes,
        worst_case,
        budget,
        evidence,
        slices_under_min_attempts: tally.slices_under_min_attempts,
    }
}

/// The outages whose window touches a month.
struct Touching<'a> {
    /// All of them, as indexes into the evaluation's outages, in the order given.
    all: Vec<usize>,
    /// The EXCLUDED ones, likewise.
    excluded: Vec<usize>,
    /// Their reach into the month, in the same order.
    exclusions: Vec<Exclusion>,
    /// The ids of those that need a person's review.
    review: Vec<&'a str>,
}

impl<'a> Touching<'a> {
    fn of(month: &ServiceMonth, outages: &'a [KeptOutage]) -> Self {
        let all: Vec<usize> = (0..outages.len())
            .filter(|&i| outages[i].0.overlaps(month.start, month.end))
            .collect();
        let excluded: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&i| outages[i].1.verdict == Verdict::Excluded)
            .collect();
        let exclusions = excluded
            .iter()
            .map(|&i| Exclusion {
                minutes: minutes_touched(month, &outages[i].0),
            })
            .collect();
        let review = all
            .iter()
            .map(|&i| &outages[i].1)
            .filter(|v| v.verdict == Verdict::NeedsReview)
            .map(|v| v.outage_id.as_str())
            .collect();
        Touching {
            all,
            excluded,
            exclusions,
            review,
        }
    }
}

/// The clock minutes of `month` an outage window touches, down to a fraction of a second at
/// either end: the start rounds down to its minute, the end up.
fn minutes_touched(month: &ServiceMonth, window: &OutageWindow) -> std::ops::Range<usize> {
    let month_start = month.start.timestamp();
    let end = window.end().timestamp() + i64::from(window.end().timestamp_subsec_nanos() > 0);
    let from = window.start().timestamp().max(month_start) - month_start;
    let to = end.min(month.end.timestamp()) - month_start;
    let first = (from / SECONDS_PER_MINUTE) as usize;
    let last = ((to + SECONDS_PER_MINUTE - 1) / SECONDS_PER_MINUTE) as usize;
    first..last
}

/// A month's figures under the contract's reading of its data and under the worst case, each with
/// what it earns.
struct Bounds {
    contract: Bound,
    worst_case: Option<Bound>,
}

impl Bounds {
    fn of(term: &Term, index: usize, closed: &Closed) -> Self {
        let bound = |reading: tally::Reading| {
            compensation::bound(
                &term.month_policies[index],
                reading.bad_units,
                reading.availability,
                term.fees[index].as_ref(),
                &term.money,
            )
        };
        Bounds {
            contract: bound(closed.contract),
            worst_case: closed.worst_case.map(bound),
        }
    }
}
