//! Runs of consecutive bad slices, for a timeslices policy with `min_bad_run` (Google's "Downtime
//! Period": a number of consecutive minutes of Downtime; shorter runs do not count).
//!
//! A run is judged on the measurements alone (docs/contract-readings.md, "Runs of bad slices"):
//! it is a maximal stretch of consecutive bad slices, ended by any slice that is not bad (one
//! without data, one with fewer attempts than `min_attempts`, one whose counts pass the rule). A
//! run that crosses a service-month boundary is one run, and each month counts its own part of
//! it. Excluded outages and service hours do not break a run either: once the run is judged, they
//! only decide which of its slices count, as they do for any bad slice.
//!
//! The worst case reads every slice with a silent minute before `as_of` as bad, so it judges runs
//! over the slices that were bad or might have been: silence next to a short run may complete it.

use fixedbitset::FixedBitSet;

use crate::engine::ledger::{Judged, JudgedSlices, MonthLedger};

/// The runs of bad slices that reach into a month from its neighbours.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RunCarry {
    /// The slices of the run that ends where the month begins, in the months before it.
    pub(crate) before: Edge,
    /// The slices of the run that begins where the month ends, in the months after it.
    pub(crate) after: Edge,
}

/// A run's length beyond a month's edge, under both readings of its data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Edge {
    /// Consecutive bad slices: the contract's reading.
    pub(crate) bad: u64,
    /// Consecutive slices that were bad or had a silent minute before `as_of`: the worst case.
    pub(crate) worst: u64,
}

/// What a month shows its neighbours at its two ends.
#[derive(Clone, Copy, Debug, Default)]
struct Ends {
    slices: u64,
    /// The run starting at its first slice.
    lead: Edge,
    /// The run ending at its last slice.
    trail: Edge,
}

/// Each month's carry, for months whose ledgers are slice-shaped; all zero when no month's
/// policy sets a `min_bad_run` above 1 (`needed` false), since nothing then reads them.
/// `elapsed(i)` is month `i`'s clock minutes before `as_of`.
pub(crate) fn carries(
    ledgers: &[MonthLedger],
    elapsed: impl Fn(usize) -> usize,
    needed: bool,
) -> Vec<RunCarry> {
    let mut carries = vec![RunCarry::default(); ledgers.len()];
    if !needed {
        return carries;
    }
    let ends: Vec<Ends> = ledgers
        .iter()
        .enumerate()
        .map(|(index, ledger)| ends(ledger, elapsed(index)))
        .collect();
    // A month that is one run from end to end passes on what reached it.
    let through = |edge: Edge, carried: Edge, slices: u64| Edge {
        bad: if edge.bad == slices {
            slices + carried.bad
        } else {
            edge.bad
        },
        worst: if edge.worst == slices {
            slices + carried.worst
        } else {
            edge.worst
        },
    };
    for index in 1..ledgers.len() {
        let previous = ends[index - 1];
        carries[index].before = through(previous.trail, carries[index - 1].before, previous.slices);
    }
    for index in (0..ledgers.len().saturating_sub(1)).rev() {
        let next = ends[index + 1];
        carries[index].after = through(next.lead, carries[index + 1].after, next.slices);
    }
    carries
}

/// A month's runs at its two ends; nothing for a ledger that is not of timeslices.
fn ends(ledger: &MonthLedger, elapsed: usize) -> Ends {
    let Judged::Slices(slices) = ledger.judged() else {
        return Ends::default();
    };
    let states = States::of(ledger, &slices, elapsed);
    let count = states.bad.len();
    let run = |order: &mut dyn Iterator<Item = usize>| {
        let mut bad = 0;
        let mut worst = 0;
        let mut still_bad = true;
        for slice in order {
            let is_bad = states.bad.contains(slice);
            if !is_bad && !states.maybe.contains(slice) {
                break;
            }
            still_bad &= is_bad;
            bad += u64::from(still_bad);
            worst += 1;
        }
        Edge { bad, worst }
    };
    Ends {
        slices: count as u64,
        lead: run(&mut (0..count)),
        trail: run(&mut (0..count).rev()),
    }
}

/// Which slices of a month were bad, and which might have been.
pub(super) struct States {
    /// Judged bad.
    pub(super) bad: FixedBitSet,
    /// Not bad, with a minute no bucket covered before `as_of`.
    pub(super) maybe: FixedBitSet,
}

impl States {
    pub(super) fn of(ledger: &MonthLedger, slices: &JudgedSlices, elapsed: usize) -> Self {
        let width = slices.slice_minutes as usize;
        let covered = ledger.covered();
        let count = covered.len() / width;
        let mut bad = FixedBitSet::with_capacity(count);
        for &(slice, _) in &slices.bad {
            bad.insert(slice as usize);
        }
        let mut maybe = FixedBitSet::with_capacity(count);
        for minute in covered.zeroes().take_while(|&minute| minute < elapsed) {
            let slice = minute / width;
            if slice < count && !bad.contains(slice) {
                maybe.insert(slice);
            }
        }
        States { bad, maybe }
    }
}

/// Slices, each with what is known of it, split by the length of their runs.
pub(super) struct Split<T> {
    /// The slices in runs of at least the minimum, ascending.
    pub(super) long: Vec<(u32, T)>,
    /// The slices in shorter runs, ascending.
    pub(super) short: Vec<(u32, T)>,
}

/// Splits slices given in ascending order into those in runs of at least `min` and those in
/// shorter runs. A run is consecutive indexes; one that starts at slice 0 is longer by `before`,
/// one that ends at the last slice (`slices − 1`) by `after`.
pub(super) fn split<T>(
    items: Vec<(u32, T)>,
    slices: u32,
    min: u64,
    before: u64,
    after: u64,
) -> Split<T> {
    let mut long = Vec::new();
    let mut short = Vec::new();
    let mut run: Vec<(u32, T)> = Vec::new();
    let mut close = |run: &mut Vec<(u32, T)>| {
        let (Some(&(first, _)), Some(&(last, _))) = (run.first(), run.last()) else {
            return;
        };
        let length = u64::from(last - first + 1)
            + if first == 0 { before } else { 0 }
            + if last + 1 == slices { after } else { 0 };
        if length >= min {
            long.append(run);
        } else {
            short.append(run);
        }
    };
    for item in items {
        if run.last().is_some_and(|&(last, _)| last + 1 != item.0) {
            close(&mut run);
        }
        run.push(item);
    }
    close(&mut run);
    Split { long, short }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indexes(items: &[(u32, ())]) -> Vec<u32> {
        items.iter().map(|&(i, _)| i).collect()
    }

    #[test]
    fn runs_shorter_than_the_minimum_do_not_count() {
        let items: Vec<(u32, ())> = [0, 1, 2, 5, 6, 7, 8, 9, 12].map(|i| (i, ())).to_vec();
        let Split { long, short } = split(items.clone(), 20, 5, 0, 0);
        assert_eq!(indexes(&long), [5, 6, 7, 8, 9]);
        assert_eq!(indexes(&short), [0, 1, 2, 12]);
        // Two bad slices before the month complete the run at its start, four after it the run
        // at its last slice.
        let Split { long, short } = split(items, 13, 5, 2, 4);
        assert_eq!(indexes(&long), [0, 1, 2, 5, 6, 7, 8, 9, 12]);
        assert!(short.is_empty());
        // Slice 12 of 20 is not the last: four after the month do not reach it.
        let items: Vec<(u32, ())> = [12].map(|i| (i, ())).to_vec();
        assert_eq!(indexes(&split(items, 20, 2, 0, 4).short), [12]);
    }

    #[test]
    fn carries_pass_through_months_that_are_one_run() {
        use crate::engine::ledger::Counts;
        use crate::policy::TimesliceRule;
        // Three months of ten one-minute slices: bad at 7-9 of the first, in all of the second,
        // at 0-1 of the third; the first's minute 6 is silent, the rest measured and good.
        let month = |bad: &[u32], silent: &[u32]| {
            let mut ledger = MonthLedger::slices(10, 1, TimesliceRule::AllFailed);
            for minute in (0..10).filter(|m| !silent.contains(m)) {
                let failed = u64::from(bad.contains(&minute));
                ledger.add(minute, 1, Counts { total: 1, failed }).unwrap();
            }
            ledger
        };
        let ledgers = [
            month(&[7, 8, 9], &[6]),
            month(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], &[]),
            month(&[0, 1], &[]),
        ];
        let found = carries(&ledgers, |_| 10, true);
        let edge = |bad, worst| Edge { bad, worst };
        assert_eq!(found[0].before, edge(0, 0));
        assert_eq!(found[0].after, edge(12, 12));
        assert_eq!(found[1].before, edge(3, 4));
        assert_eq!(found[1].after, edge(2, 2));
        assert_eq!(found[2].before, edge(13, 14));
        // Nothing is read when no policy needs it.
        assert_eq!(carries(&ledgers, |_| 10, false)[2], RunCarry::default());
    }
}
