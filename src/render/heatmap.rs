//! The month's hours drawn: an inline SVG grid (a row per day, a column per hour), its legend
//! with counts, and a table of the hours that were not available, by day.
//!
//! Colour is never the only cue: every state but "available" has its own pattern (stripes, dots,
//! crosses, bars), the legend names each state next to its swatch with its count, and the SVG is
//! one image with a title and a description for screen readers, whose details are the table under
//! it and the interval lists after that.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::cells::{Cell, Day, Hours, State};
use super::text::{Esc, plural};

/// Cell size and pitch, and the margins for the day and hour labels, in SVG user units.
const CELL_W: usize = 22;
const CELL_H: usize = 14;
const PITCH_X: usize = 24;
const PITCH_Y: usize = 16;
const LEFT: usize = 58;
const TOP: usize = 18;

/// The patterns cells are filled with, once per page and referenced by CSS (`.cell.bad` ...).
/// Drawn in a zero-sized SVG rather than `display: none`, which would stop them rendering.
pub(super) const PATTERNS: &str = r##"<svg class="patterns" width="0" height="0" aria-hidden="true" focusable="false">
<defs>
<pattern id="pat-bad" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#b71c1c"/><rect width="2" height="6" fill="#ffffff"/></pattern>
<pattern id="pat-excluded" width="5" height="5" patternUnits="userSpaceOnUse"><rect width="5" height="5" fill="#3949ab"/><circle cx="2.5" cy="2.5" r="1.2" fill="#ffffff"/></pattern>
<pattern id="pat-no-data" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="#ffffff"/><path d="M0 0L6 6M6 0L0 6" stroke="#424242" stroke-width="1"/></pattern>
<pattern id="pat-not-listed" width="4" height="4" patternUnits="userSpaceOnUse"><rect width="4" height="4" fill="#ffd54f"/><rect y="2" width="4" height="1.2" fill="#4e342e"/></pattern>
<pattern id="pat-after-as-of" width="4" height="4" patternUnits="userSpaceOnUse"><rect width="4" height="4" fill="#eeeeee"/><rect x="1.5" width="1" height="4" fill="#757575"/></pattern>
<pattern id="pat-outside-hours" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="#cfd8dc"/><circle cx="3" cy="3" r="1" fill="#455a64"/></pattern>
</defs>
</svg>"##;

/// Writes the figure, its legend and the table for one month. `id` is unique on the page;
/// `events` says the month counts events, so that "unavailable" reads "had failures".
pub(super) fn write(out: &mut String, hours: &Hours, id: &str, events: bool) {
    let total: u64 = hours.counts.iter().sum();
    let summary = State::ALL
        .iter()
        .filter(|&&state| hours.count(state) > 0)
        .map(|&state| {
            format!(
                "{} {}",
                hours.count(state),
                state.label(events).to_lowercase()
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let columns = hours.columns();
    let width = LEFT + columns * PITCH_X;
    let height = TOP + hours.days.len() * PITCH_Y;
    let _ = write!(
        out,
        "<figure class=\"heatmap\">\n<svg class=\"heatmap\" role=\"img\" \
         aria-labelledby=\"{id}-title {id}-desc\" viewBox=\"0 0 {width} {height}\" \
         width=\"{width}\" height=\"{height}\">\n<title id=\"{id}-title\">The month hour by hour, \
         local time ({zone})</title>\n<desc id=\"{id}-desc\">{total} hours: {summary}. Each row is \
         a day, each column an hour from local midnight. The table after the legend lists the \
         hours that were not available, by day.</desc>\n",
        zone = Esc(hours.zone.name()),
    );
    for column in (0..columns).step_by(3) {
        let _ = writeln!(
            out,
            "<text class=\"axis\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{column:02}</text>",
            LEFT + column * PITCH_X + CELL_W / 2,
            TOP - 6
        );
    }
    for (row, day) in hours.days.iter().enumerate() {
        let y = TOP + row * PITCH_Y;
        let _ = writeln!(
            out,
            "<text class=\"axis\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            LEFT - 6,
            y + CELL_H - 2,
            day.date.format("%a %d")
        );
        for (column, cell) in day.cells.iter().enumerate() {
            let _ = writeln!(
                out,
                "<rect class=\"cell {}\" x=\"{}\" y=\"{y}\" width=\"{CELL_W}\" \
                 height=\"{CELL_H}\"><title>{}</title></rect>",
                cell.state.class(),
                LEFT + column * PITCH_X,
                Esc(&tooltip(hours, day, cell, events)),
            );
        }
    }
    out.push_str(
        "</svg>\n<figcaption>One cell per hour of local time; an hour shows the worst of its \
         minutes (unavailable, then not listed, excluded, no data). Hover a cell for its \
         minutes.</figcaption>\n</figure>\n",
    );
    legend(out, hours, events);
    if hours.count(State::NotListed) > 0 {
        out.push_str(
            "<p class=\"warning\"><strong>Shortened evidence.</strong> At least one interval list \
             below is shortened, so the hours after its last interval cannot be known from this \
             response: they are marked <em>not listed</em> instead of being guessed available. \
             Evaluate again with a larger <code>max_intervals</code> to see them.</p>\n",
        );
    }
    table(out, hours, events);
}

fn legend(out: &mut String, hours: &Hours, events: bool) {
    out.push_str("<ul class=\"legend\" aria-label=\"Legend, with the hours in each state\">\n");
    for state in State::ALL {
        let count = hours.count(state);
        let optional = matches!(
            state,
            State::NotListed | State::OutsideHours | State::AfterAsOf
        );
        if optional && count == 0 {
            continue;
        }
        let _ = writeln!(
            out,
            "<li data-state=\"{class}\"><svg class=\"swatch\" width=\"{CELL_W}\" \
             height=\"{CELL_H}\" aria-hidden=\"true\"><rect class=\"cell {class}\" \
             width=\"{CELL_W}\" height=\"{CELL_H}\"/></svg> <span class=\"label\">{label}</span>: \
             <span class=\"count\">{count}</span> {hours_word}</li>",
            class = state.class(),
            label = state.label(events),
            hours_word = if count == 1 { "hour" } else { "hours" },
        );
    }
    out.push_str("</ul>\n");
}

/// The text alternative: each day with an hour that was not available, and which hours.
fn table(out: &mut String, hours: &Hours, events: bool) {
    const SHOWN: [State; 4] = [State::Bad, State::Excluded, State::NoData, State::NotListed];
    let days: Vec<&Day> = hours
        .days
        .iter()
        .filter(|day| day.cells.iter().any(|c| SHOWN.contains(&c.state)))
        .collect();
    if days.is_empty() {
        out.push_str(
            "<p class=\"hours-by-day\">Every hour of the month up to as of was available.</p>\n",
        );
        return;
    }
    out.push_str(
        "<table class=\"hours-by-day\">\n<caption>Hours that were not available, by day (local \
         time)</caption>\n<thead><tr><th scope=\"col\">Day</th>",
    );
    for state in SHOWN {
        let _ = write!(out, "<th scope=\"col\">{}</th>", state.label(events));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for day in days {
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{}</th>",
            day.date.format("%a %Y-%m-%d")
        );
        for state in SHOWN {
            let _ = write!(
                out,
                "<td data-state=\"{}\">{}</td>",
                state.class(),
                Esc(&runs(hours, day, state))
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// The day's hours in `state` as local time ranges, consecutive hours merged: "10:00–12:00".
fn runs(hours: &Hours, day: &Day, state: State) -> String {
    let mut ranges: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for cell in day.cells.iter().filter(|c| c.state == state) {
        match ranges.last_mut() {
            Some(last) if last.1 == cell.start => last.1 = cell.end,
            _ => ranges.push((cell.start, cell.end)),
        }
    }
    ranges
        .iter()
        .map(|&(start, end)| format!("{}–{}", clock(hours, day, start), clock(hours, day, end)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A cell's tooltip: when it is and what its minutes were.
fn tooltip(hours: &Hours, day: &Day, cell: &Cell, events: bool) -> String {
    let minutes = State::ALL
        .iter()
        .zip(cell.minutes)
        .filter(|(_, minutes)| *minutes > 0)
        .map(|(state, minutes)| {
            format!(
                "{} {}",
                plural(u64::from(minutes), "minute", "minutes"),
                state.label(events).to_lowercase()
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{} {}–{}: {}",
        day.date.format("%Y-%m-%d"),
        clock(hours, day, cell.start),
        clock(hours, day, cell.end),
        minutes
    )
}

/// An instant of a day as its local clock time; the day's end reads "24:00", and on a day a
/// clock change makes longer or shorter the offset is added, since an hour may repeat.
fn clock(hours: &Hours, day: &Day, at: DateTime<Utc>) -> String {
    if day.cells.last().is_some_and(|c| c.end == at) && day.cells.len() == 24 {
        return "24:00".into();
    }
    let local = at.with_timezone(&hours.zone);
    if day.cells.len() == 24 {
        local.format("%H:%M").to_string()
    } else {
        local.format("%H:%M (%:z)").to_string()
    }
}
