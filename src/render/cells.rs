//! The heatmap's model: what each local hour of a month was, computed from the response alone.
//!
//! A cell is one hour of local time, not one slice: slices are 1 or 5 minutes, so a month would
//! take 8,928 to 44,640 cells, too small to see or print, and the response does not carry the
//! slice length anyway (the policy does, and the page must not need it). An hour is what a person
//! scans a month by, a day is a row of 24 (23 or 25 across a clock change), and the exact minutes
//! are in the interval lists under the map and in each cell's tooltip.
//!
//! Each minute of the month gets one [`State`], from the evidence lists; an hour shows the worst
//! state among its minutes, so one unavailable minute makes its hour unavailable. The lists hold
//! the earliest intervals first and say how many there were in all: past the end of a shortened
//! list nothing is known about that kind, and those minutes are [`State::NotListed`] rather than
//! guessed good.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;

use super::text::instant;
use crate::api::pb;
use crate::engine::months::local_midnight;

/// The longest month the map draws: service months have at most 31 days, and a response read
/// from a file that claims more is not allowed to make the page arbitrarily large.
const MAX_DAYS: usize = 31;

/// What a minute, and an hour, was. The order is the precedence: an hour takes the first state
/// any of its minutes has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum State {
    /// Counted as unavailable: a listed unavailable interval covers it.
    Bad,
    /// A shortened evidence list leaves it unknown.
    NotListed,
    /// An excluded outage's window covers it.
    Excluded,
    /// No bucket covered it.
    NoData,
    /// Measured and not unavailable.
    Good,
    /// Outside the policy's service hours: nothing there counts.
    OutsideHours,
    /// At or after `as_of`: not evaluated yet.
    AfterAsOf,
}

/// How many states there are.
const STATES: usize = 7;

impl State {
    /// Every state, in precedence order.
    pub(super) const ALL: [State; STATES] = [
        State::Bad,
        State::NotListed,
        State::Excluded,
        State::NoData,
        State::Good,
        State::OutsideHours,
        State::AfterAsOf,
    ];

    /// The CSS class of its cells (also what the browser tests count).
    pub(super) fn class(self) -> &'static str {
        match self {
            State::Bad => "bad",
            State::NotListed => "not-listed",
            State::Excluded => "excluded",
            State::NoData => "no-data",
            State::Good => "good",
            State::OutsideHours => "outside-hours",
            State::AfterAsOf => "after-as-of",
        }
    }

    /// Its words, for the legend and the tooltips. Under occurrences an "unavailable" interval is
    /// a run of buckets that carried failures, under mean error rate of intervals that had some,
    /// and it is named so.
    pub(super) fn label(self, events: bool) -> &'static str {
        match self {
            State::Bad if events => "Had failures",
            State::Bad => "Unavailable",
            State::NotListed => "Not listed",
            State::Excluded => "Excluded",
            State::NoData => "No data",
            State::Good => "Available",
            State::OutsideHours => "Outside service hours",
            State::AfterAsOf => "After as of",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One hour of local time (shorter where a day begins or ends off the hour).
pub(super) struct Cell {
    /// Its first instant.
    pub(super) start: DateTime<Utc>,
    /// The instant after it.
    pub(super) end: DateTime<Utc>,
    /// The worst state of its minutes.
    pub(super) state: State,
    /// Its minutes in each state, indexed like [`State::ALL`].
    pub(super) minutes: [u32; STATES],
}

/// One local day: a row of cells.
pub(super) struct Day {
    /// The local date.
    pub(super) date: NaiveDate,
    /// Its hours, from local midnight.
    pub(super) cells: Vec<Cell>,
}

/// A month, hour by hour.
pub(super) struct Hours {
    /// The zone the hours are local to.
    pub(super) zone: Tz,
    /// The days, in order.
    pub(super) days: Vec<Day>,
    /// Cells in each state, indexed like [`State::ALL`].
    pub(super) counts: [u64; STATES],
}

impl Hours {
    /// The widest row (25 on the day clocks go back).
    pub(super) fn columns(&self) -> usize {
        self.days.iter().map(|d| d.cells.len()).max().unwrap_or(0)
    }

    /// How many cells are in `state`.
    pub(super) fn count(&self, state: State) -> u64 {
        self.counts[state.index()]
    }
}

/// A month's hours, or why they cannot be drawn.
pub(super) fn hours(month: &pb::MonthReport, zone: Tz) -> Result<Hours, &'static str> {
    let (Some(first), Some(last)) = (
        super::text::date(&month.month_start),
        super::text::date(&month.month_end),
    ) else {
        return Err("the month's dates do not parse");
    };
    let dates: Vec<NaiveDate> = first
        .iter_days()
        .take_while(|day| *day <= last)
        .take(MAX_DAYS + 1)
        .collect();
    if dates.is_empty() || dates.len() > MAX_DAYS {
        return Err("the month is not between 1 and 31 days long");
    }
    let after = last
        .succ_opt()
        .ok_or("the month's last day has no successor")?;
    let bounds: Vec<DateTime<Utc>> = dates
        .iter()
        .copied()
        .chain([after])
        .map(|day| local_midnight(zone, day))
        .collect();
    let (begin, end) = (bounds[0], bounds[dates.len()]);
    let states = minute_states(month, begin, minutes_between(begin, end));
    let mut counts = [0; STATES];
    let days = dates
        .iter()
        .zip(bounds.windows(2))
        .map(|(&date, window)| {
            let cells = day_cells(&states, begin, window[0], window[1]);
            for cell in &cells {
                counts[cell.state.index()] += 1;
            }
            Day { date, cells }
        })
        .collect();
    Ok(Hours { zone, days, counts })
}

/// The cells of the day `[start, end)`, one per hour from its start.
fn day_cells(
    states: &[State],
    begin: DateTime<Utc>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<Cell> {
    let mut cells = Vec::with_capacity(25);
    let mut at = start;
    while at < end {
        let next = (at + TimeDelta::hours(1)).min(end);
        let from = minute_floor(begin, at).min(states.len());
        let to = minute_ceil(begin, next).min(states.len());
        let mut minutes = [0; STATES];
        for state in &states[from..to] {
            minutes[state.index()] += 1;
        }
        let state = states[from..to]
            .iter()
            .copied()
            .min()
            .unwrap_or(State::AfterAsOf);
        cells.push(Cell {
            start: at,
            end: next,
            state,
            minutes,
        });
        at = next;
    }
    cells
}

/// What each of the month's `total` minutes was, from the evidence lists, `elapsed_minutes` and
/// the month's service hours (a month without them has no minute outside).
fn minute_states(month: &pb::MonthReport, begin: DateTime<Utc>, total: usize) -> Vec<State> {
    let missing = pb::Evidence::default();
    let evidence = month.evidence.as_ref().unwrap_or(&missing);
    let span = |start: Option<&prost_types::Timestamp>, end: Option<&prost_types::Timestamp>| {
        let start = instant(start).map_or(total, |at| minute_floor(begin, at).min(total));
        let end = instant(end).map_or(start, |at| minute_ceil(begin, at).min(total));
        start..end.max(start)
    };
    let mut bad = vec![false; total];
    let mut excluded = vec![false; total];
    let mut gap = vec![false; total];
    for i in &evidence.unavailable {
        bad[span(i.start.as_ref(), i.end.as_ref())].fill(true);
    }
    for i in &evidence.excluded {
        excluded[span(i.start.as_ref(), i.end.as_ref())].fill(true);
    }
    for i in &evidence.gaps {
        gap[span(i.start.as_ref(), i.end.as_ref())].fill(true);
    }
    // Where knowledge of each kind ends: a complete list covers the month; a shortened one only
    // up to its last interval, since every interval it left out comes later (after the last one's
    // end for merged runs; after its start for excluded windows, which may overlap).
    // A response without evidence (written by hand, or by an older server) says nothing at all.
    let horizon = |listed: usize, all: u64, last: Option<usize>| {
        if month.evidence.is_some() && listed as u64 >= all {
            total
        } else {
            last.unwrap_or(0)
        }
    };
    let unavailable_known = horizon(
        evidence.unavailable.len(),
        evidence.unavailable_total,
        evidence
            .unavailable
            .last()
            .map(|i| span(i.start.as_ref(), i.end.as_ref()).end),
    );
    let excluded_known = horizon(
        evidence.excluded.len(),
        evidence.excluded_total,
        evidence
            .excluded
            .last()
            .map(|i| span(i.start.as_ref(), i.end.as_ref()).start),
    );
    let gaps_known = horizon(
        evidence.gaps.len(),
        evidence.gaps_total,
        evidence
            .gaps
            .last()
            .map(|i| span(i.start.as_ref(), i.end.as_ref()).end),
    );
    let mut outside = vec![month.service_hours.is_some(); total];
    for period in month.service_hours.iter().flat_map(|hours| &hours.periods) {
        outside[span(period.start.as_ref(), period.end.as_ref())].fill(false);
    }
    let elapsed = usize::try_from(month.elapsed_minutes).unwrap_or(usize::MAX);
    (0..total)
        .map(|m| {
            if m >= elapsed {
                State::AfterAsOf
            } else if outside[m] {
                State::OutsideHours
            } else if bad[m] {
                State::Bad
            } else if m >= unavailable_known {
                State::NotListed
            } else if excluded[m] {
                State::Excluded
            } else if m >= excluded_known {
                State::NotListed
            } else if gap[m] {
                State::NoData
            } else if m >= gaps_known {
                State::NotListed
            } else {
                State::Good
            }
        })
        .collect()
}

fn minutes_between(begin: DateTime<Utc>, end: DateTime<Utc>) -> usize {
    minute_ceil(begin, end)
}

/// The minute of the month an instant falls in (0 before the month).
fn minute_floor(begin: DateTime<Utc>, at: DateTime<Utc>) -> usize {
    usize::try_from((at - begin).num_seconds().div_euclid(60)).unwrap_or(0)
}

/// The first minute of the month starting at or after an instant.
fn minute_ceil(begin: DateTime<Utc>, at: DateTime<Utc>) -> usize {
    let seconds = (at - begin).num_seconds();
    usize::try_from(seconds.div_euclid(60) + i64::from(seconds.rem_euclid(60) > 0)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> Option<prost_types::Timestamp> {
        let at = DateTime::parse_from_rfc3339(rfc3339).unwrap();
        Some(prost_types::Timestamp {
            seconds: at.timestamp(),
            nanos: 0,
        })
    }

    /// A month of `days` days from `first`, fully elapsed, with the evidence given.
    fn month(first: &str, last: &str, evidence: Option<pb::Evidence>) -> pb::MonthReport {
        pb::MonthReport {
            month_start: first.into(),
            month_end: last.into(),
            elapsed_minutes: 31 * 1440,
            evidence,
            ..Default::default()
        }
    }

    fn count(hours: &Hours) -> Vec<(State, u64)> {
        State::ALL
            .iter()
            .map(|&state| (state, hours.count(state)))
            .filter(|&(_, n)| n > 0)
            .collect()
    }

    #[test]
    fn a_day_the_clocks_change_has_23_or_25_hours() {
        let zone: Tz = "America/New_York".parse().unwrap();
        let empty = Some(pb::Evidence::default());
        let march = hours(&month("2024-03-01", "2024-03-31", empty.clone()), zone).unwrap();
        assert_eq!(march.days[9].cells.len(), 23);
        assert_eq!(count(&march), [(State::Good, 31 * 24 - 1)]);
        let november = hours(&month("2024-11-01", "2024-11-30", empty), zone).unwrap();
        assert_eq!(november.days[2].cells.len(), 25);
        assert_eq!(november.columns(), 25);
        assert_eq!(count(&november), [(State::Good, 30 * 24 + 1)]);
    }

    #[test]
    fn an_hour_shows_its_worst_minute() {
        let zone = Tz::UTC;
        let evidence = pb::Evidence {
            unavailable: vec![pb::UnavailableInterval {
                start: at("2024-04-02T10:59:00Z"),
                end: at("2024-04-02T11:00:00Z"),
                ..Default::default()
            }],
            unavailable_total: 1,
            gaps: vec![pb::DataGap {
                start: at("2024-04-02T10:00:00Z"),
                end: at("2024-04-02T10:30:00Z"),
                ..Default::default()
            }],
            gaps_total: 1,
            ..Default::default()
        };
        let april = hours(&month("2024-04-01", "2024-04-30", Some(evidence)), zone).unwrap();
        let cell = &april.days[1].cells[10];
        assert_eq!(cell.state, State::Bad);
        assert_eq!(cell.minutes, [1, 0, 0, 30, 29, 0, 0]);
        assert_eq!(count(&april), [(State::Bad, 1), (State::Good, 719)]);
    }

    #[test]
    fn past_a_shortened_list_nothing_is_guessed() {
        let zone = Tz::UTC;
        // Two excluded outages, the first listed (20:00 to 22:00 on the last day): the second
        // starts at or after 20:00, so whether 22:00 to 24:00 was excluded is unknown.
        let evidence = pb::Evidence {
            excluded: vec![pb::ExcludedInterval {
                start: at("2024-04-30T20:00:00Z"),
                end: at("2024-04-30T22:00:00Z"),
                ..Default::default()
            }],
            excluded_total: 2,
            ..Default::default()
        };
        let april = hours(&month("2024-04-01", "2024-04-30", Some(evidence)), zone).unwrap();
        assert_eq!(
            count(&april),
            [
                (State::NotListed, 2),
                (State::Excluded, 2),
                (State::Good, 716)
            ]
        );
        // No evidence at all: nothing is known.
        let bare = hours(&month("2024-04-01", "2024-04-30", None), zone).unwrap();
        assert_eq!(count(&bare), [(State::NotListed, 720)]);
    }

    #[test]
    fn hours_after_as_of_are_not_evaluated() {
        let mut april = month("2024-04-01", "2024-04-30", Some(pb::Evidence::default()));
        april.elapsed_minutes = 90;
        let hours = hours(&april, Tz::UTC).unwrap();
        // 00:00-01:00 and 01:00-02:00 (half elapsed) are good; the rest is after as of.
        assert_eq!(count(&hours), [(State::Good, 2), (State::AfterAsOf, 718)]);
    }

    #[test]
    fn hours_outside_service_hours_are_drawn_apart() {
        let mut april = month("2024-04-01", "2024-04-30", Some(pb::Evidence::default()));
        // Monday the 1st from 08:00 to 20:00, and nothing else.
        april.service_hours = Some(pb::MonthServiceHours {
            periods: vec![pb::ServicePeriod {
                start: at("2024-04-01T08:00:00Z"),
                end: at("2024-04-01T20:00:00Z"),
                ..Default::default()
            }],
            ..Default::default()
        });
        let hours = hours(&april, Tz::UTC).unwrap();
        assert_eq!(
            count(&hours),
            [(State::Good, 12), (State::OutsideHours, 708)]
        );
        assert_eq!(hours.days[0].cells[8].state, State::Good);
        assert_eq!(hours.days[0].cells[7].state, State::OutsideHours);
    }

    #[test]
    fn months_that_cannot_be_drawn_say_why() {
        let zone = Tz::UTC;
        assert!(hours(&month("2024-04", "2024-04-30", None), zone).is_err());
        assert!(hours(&month("2024-04-30", "2024-04-01", None), zone).is_err());
        assert!(hours(&month("2024-01-01", "2024-12-31", None), zone).is_err());
    }
}
