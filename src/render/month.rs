//! One service month's section: its figures, its hours, the intervals behind them, the verdicts
//! of the outages that touched it, and its notes.
//!
//! Amounts and percentages are the response's own strings, never recomputed: the page must say
//! exactly what the evaluation said. The only arithmetic is on whole days (how long the claim
//! window has left) and on counts.

use std::fmt::Write;

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::cells::hours;
use super::heatmap;
use super::text::{self, Esc, count, local_time, plural};
use crate::api::pb;
use crate::policy::Policy;

/// What every month of a page shares.
pub(super) struct Context<'a> {
    /// The whole response (verdicts are listed once there; months point at them).
    pub(super) response: &'a pb::EvaluateResponse,
    /// The policy, when the caller has it: its standard and tier bands.
    pub(super) policy: Option<&'a Policy>,
    /// The zone the months were cut in.
    pub(super) zone: Tz,
    /// `as_of` as a local date, for the claim window's days left.
    pub(super) as_of: Option<NaiveDate>,
}

/// Writes the section of the `index`th month.
pub(super) fn write(out: &mut String, cx: &Context<'_>, index: usize, month: &pb::MonthReport) {
    let id = format!("month-{index}");
    let (status_class, status_words) = text::status(month.status);
    let _ = write!(
        out,
        "<section class=\"month\" id=\"{id}\" aria-labelledby=\"{id}-h\">\n<h2 id=\"{id}-h\">\
         Service month {} to {} <span class=\"badge status-{status_class}\">{}</span></h2>\n",
        Esc(&month.month_start),
        Esc(&month.month_end),
        Esc(status_words),
    );
    figures(out, cx, month);
    let events = month.unit == pb::Unit::Events as i32;
    out.push_str("<h3>Hour by hour</h3>\n");
    match hours(month, cx.zone) {
        Ok(hours) => heatmap::write(out, &hours, &id, events),
        Err(why) => {
            let _ = writeln!(out, "<p class=\"warning\">No heatmap: {}.</p>", Esc(why));
        }
    }
    evidence(out, cx, month);
    verdicts(out, cx, month);
    notes(out, month);
    out.push_str("</section>\n");
}

fn row(out: &mut String, term: &str, class: &str, value: &str) {
    let _ = writeln!(
        out,
        "<div><dt>{term}</dt><dd class=\"{class}\">{value}</dd></div>"
    );
}

fn figures(out: &mut String, cx: &Context<'_>, month: &pb::MonthReport) {
    let (one, many) = text::unit(month.unit);
    let currency = Esc(&cx.response.currency).to_string();
    out.push_str("<dl class=\"figures\">\n");
    if !month.policy_version.is_empty() {
        row(
            out,
            "Policy version",
            "policy-version",
            &format!(
                "{} (revision <code>{}</code>)",
                Esc(&month.policy_version),
                Esc(&month.policy_revision)
            ),
        );
    }
    row(
        out,
        "Availability",
        "availability",
        &format!(
            "<strong>{}%</strong> ({} of {} unavailable, {} excluded)",
            Esc(&month.availability_percent),
            count(month.bad_units),
            plural(month.total_units, one, many),
            count(month.excluded_units),
        ),
    );
    if let Some(worst) = &month.worst_case {
        let value = if worst.bad_units == month.bad_units {
            "the same as the contract's reading: the data leaves nothing open".to_string()
        } else {
            format!(
                "<strong>{}%</strong> had the minutes without data been unavailable ({} \
                 unavailable): standard {}, {}, {}",
                Esc(&worst.availability_percent),
                count(worst.bad_units),
                if worst.standard_met { "met" } else { "missed" },
                tier_words(cx, worst.tier, &worst.compensation_percent),
                amount_words(&worst.compensation_amount, &currency),
            )
        };
        row(out, "Worst case", "worst-case", &value);
    }
    // The policy at hand speaks for this month only if the month was evaluated under it.
    let standard = match cx.policy {
        Some(policy)
            if month.policy_revision.is_empty() || month.policy_revision == policy.revision =>
        {
            match policy.standard_met_at {
                crate::policy::Edge::AtLeast => format!("{}%: ", policy.standard),
                crate::policy::Edge::Above => format!("above {}%: ", policy.standard),
            }
        }
        _ => String::new(),
    };
    row(
        out,
        "Standard",
        "standard",
        &format!(
            "{standard}{}",
            if month.standard_met { "met" } else { "missed" }
        ),
    );
    row(
        out,
        "Tier",
        "tier",
        &tier_words(cx, month.tier, &month.compensation_percent),
    );
    let mut amount = amount_words(&month.compensation_amount, &currency);
    let form = month.compensation_form == pb::CompensationForm::MessageCredits as i32;
    if form && !month.compensation_amount.is_empty() {
        let _ = write!(
            amount,
            " = {}",
            plural(month.message_credits, "message", "messages")
        );
    }
    let _ = write!(amount, ", in {}", text::form(month.compensation_form));
    if !month.eligible_fee.is_empty() {
        let _ = write!(
            amount,
            " (eligible fee {} {currency})",
            Esc(&month.eligible_fee)
        );
    }
    row(out, "Compensation", "compensation", &amount);
    row(
        out,
        "Claim window",
        "claim-window",
        &claim_window(cx, month),
    );
    if let Some(budget) = &month.budget {
        let mut value = format!(
            "{} of {} left before the standard is missed",
            count(budget.bad_units_remaining),
            plural(budget.bad_units_allowed, one, many),
        );
        for tier in &budget.tiers {
            let _ = write!(
                value,
                "; {} more to tier {}",
                count(tier.bad_units_until),
                tier.tier
            );
        }
        row(out, "Budget", "budget", &value);
    }
    row(
        out,
        "Data",
        "coverage",
        &format!(
            "{}% of the month's clock minutes had data ({} of {}); {} before as of",
            Esc(&month.coverage_percent),
            count(month.covered_minutes),
            count(month.clock_minutes),
            plural(month.elapsed_minutes, "minute", "minutes"),
        ),
    );
    out.push_str("</dl>\n");
}

/// "Tier 2: 20% of the eligible fee (availability from 99% below 99.5%)", the band only when the
/// policy is at hand.
fn tier_words(cx: &Context<'_>, tier: u32, percent: &str) -> String {
    if tier == 0 {
        return "none: the standard was met".into();
    }
    let band = cx
        .policy
        .and_then(|p| p.tiers.get(usize::try_from(tier).ok()?.checked_sub(1)?))
        .map(|t| match cx.policy.map(|p| p.tier_bounds) {
            Some(crate::policy::TierBounds::AboveAtMost) => {
                format!(" (availability above {}% up to {}%)", t.lower, t.upper)
            }
            _ => format!(" (availability from {}% below {}%)", t.lower, t.upper),
        })
        .unwrap_or_default();
    format!("tier {tier}: {}% of the eligible fee{band}", Esc(percent))
}

/// The amount with its currency in a span the tests read, or why there is none.
fn amount_words(amount: &str, currency: &str) -> String {
    if amount.is_empty() {
        "no amount: no fee was given for the month".into()
    } else {
        format!("<span class=\"amount\">{} {currency}</span>", Esc(amount))
    }
}

/// The window's dates and where `as_of` stands in it, in whole local days.
fn claim_window(cx: &Context<'_>, month: &pb::MonthReport) -> String {
    if month.claim_opens_on.is_empty() && month.claim_closes_on.is_empty() {
        return "not stated by the policy: check the provider's current terms".into();
    }
    let dates = format!(
        "{} to {}",
        Esc(&month.claim_opens_on),
        Esc(&month.claim_closes_on)
    );
    let (Some(as_of), Some(opens), Some(closes)) = (
        cx.as_of,
        text::date(&month.claim_opens_on),
        text::date(&month.claim_closes_on),
    ) else {
        return dates;
    };
    let left = (closes - as_of).num_days();
    let state = if as_of < opens {
        format!(
            "not open yet as of {as_of}: opens in {}, {} left to file",
            plural((opens - as_of).num_days().unsigned_abs(), "day", "days"),
            plural(left.unsigned_abs(), "day", "days"),
        )
    } else if left > 0 {
        format!(
            "open as of {as_of}: {} left to file",
            plural(left.unsigned_abs(), "day", "days")
        )
    } else if left == 0 {
        format!("open as of {as_of}: its last day")
    } else {
        format!(
            "closed as of {as_of}, {} earlier",
            plural(left.unsigned_abs(), "day", "days")
        )
    };
    format!("{dates}: <span class=\"days-left\" data-days-left=\"{left}\">{state}</span>")
}

/// A `<time>` cell for a local time from the response.
fn time_cell(rfc3339: &str) -> String {
    format!(
        "<td><time datetime=\"{}\">{}</time></td>",
        Esc(rfc3339),
        Esc(&local_time(rfc3339))
    )
}

/// The caption of a list, and a warning when the list is shortened.
fn list_head(out: &mut String, class: &str, title: &str, listed: usize, total: u64, last: &str) {
    let listing = if total == 0 {
        "none".to_string()
    } else {
        format!("{} of {}", count(listed as u64), count(total))
    };
    let _ = writeln!(
        out,
        "<h4 class=\"list-head\" data-list=\"{class}\">{title}: {listing}</h4>"
    );
    if (listed as u64) < total {
        let rest = total - listed as u64;
        let from = if last.is_empty() {
            String::new()
        } else {
            format!(", from {} on,", Esc(&local_time(last)))
        };
        let verb = if rest == 1 { "is" } else { "are" };
        let _ = writeln!(
            out,
            "<p class=\"warning truncated\" data-list=\"{class}\"><strong>List shortened.</strong> \
             {} more{from} {verb} not in this response.</p>",
            count(rest)
        );
    }
}

fn evidence(out: &mut String, cx: &Context<'_>, month: &pb::MonthReport) {
    out.push_str("<h3>Evidence, local time</h3>\n");
    let Some(ev) = &month.evidence else {
        out.push_str("<p class=\"warning\">The response carries no evidence for this month.</p>\n");
        return;
    };
    let last = ev.unavailable.last().map_or("", |i| i.local_end.as_str());
    let title = "Unavailable intervals";
    list_head(
        out,
        "unavailable",
        title,
        ev.unavailable.len(),
        ev.unavailable_total,
        last,
    );
    if !ev.unavailable.is_empty() {
        out.push_str(
            "<table class=\"intervals unavailable\"><thead><tr><th scope=\"col\">From</th>\
             <th scope=\"col\">To</th><th scope=\"col\">Minutes</th><th scope=\"col\">Attempts\
             </th><th scope=\"col\">Failed</th><th scope=\"col\">Lowest success rate</th></tr>\
             </thead><tbody>\n",
        );
        for i in &ev.unavailable {
            let _ = writeln!(
                out,
                "<tr>{}{}<td class=\"minutes\">{}</td><td>{}</td><td>{}</td><td>{}%</td></tr>",
                time_cell(&i.local_start),
                time_cell(&i.local_end),
                count(i.minutes),
                count(i.total),
                count(i.failed),
                Esc(&i.lowest_success_rate_percent)
            );
        }
        out.push_str("</tbody></table>\n");
    }
    let last = ev.excluded.last().map_or("", |i| i.local_start.as_str());
    list_head(
        out,
        "excluded",
        "Excluded outages",
        ev.excluded.len(),
        ev.excluded_total,
        last,
    );
    if !ev.excluded.is_empty() {
        let (_, many) = text::unit(month.unit);
        let _ = writeln!(
            out,
            "<table class=\"intervals excluded\"><thead><tr><th scope=\"col\">From</th>\
             <th scope=\"col\">To</th><th scope=\"col\">Unavailable {many} taken out</th>\
             <th scope=\"col\">Outage</th><th scope=\"col\">Clause</th></tr></thead><tbody>"
        );
        for i in &ev.excluded {
            let outage = usize::try_from(i.outage_index)
                .ok()
                .and_then(|at| cx.response.outages.get(at))
                .map_or("", |o| o.outage_id.as_str());
            let _ = writeln!(
                out,
                "<tr>{}{}<td class=\"units\">{}</td><td>{}</td><td>{}</td></tr>",
                time_cell(&i.local_start),
                time_cell(&i.local_end),
                count(i.units),
                Esc(outage),
                Esc(&i.clause_id)
            );
        }
        out.push_str("</tbody></table>\n");
    }
    let last = ev.gaps.last().map_or("", |i| i.local_end.as_str());
    list_head(
        out,
        "gaps",
        "Minutes without data",
        ev.gaps.len(),
        ev.gaps_total,
        last,
    );
    if !ev.gaps.is_empty() {
        out.push_str(
            "<table class=\"intervals gaps\"><thead><tr><th scope=\"col\">From</th>\
             <th scope=\"col\">To</th><th scope=\"col\">Minutes</th></tr></thead><tbody>\n",
        );
        for i in &ev.gaps {
            let _ = writeln!(
                out,
                "<tr>{}{}<td class=\"minutes\">{}</td></tr>",
                time_cell(&i.local_start),
                time_cell(&i.local_end),
                count(i.minutes)
            );
        }
        out.push_str("</tbody></table>\n");
    }
}

fn verdicts(out: &mut String, cx: &Context<'_>, month: &pb::MonthReport) {
    if month.outage_indexes.is_empty() {
        return;
    }
    out.push_str(
        "<h3>Outages touching the month</h3>\n<table class=\"verdicts\"><thead><tr>\
         <th scope=\"col\">Outage</th><th scope=\"col\">Verdict</th><th scope=\"col\">Clause</th>\
         <th scope=\"col\">Explanation</th></tr></thead><tbody>\n",
    );
    for &index in &month.outage_indexes {
        let Some(verdict) = usize::try_from(index)
            .ok()
            .and_then(|at| cx.response.outages.get(at))
        else {
            let _ = writeln!(
                out,
                "<tr><td colspan=\"4\">Outage {index} is not in the response.</td></tr>"
            );
            continue;
        };
        let (class, words) = text::verdict(verdict.verdict);
        let mut explanation = Esc(&verdict.explanation).to_string();
        if !verdict.missing_facts.is_empty() {
            let facts: Vec<String> = verdict
                .missing_facts
                .iter()
                .map(|fact| format!("<code>{}</code>", Esc(fact)))
                .collect();
            let _ = write!(explanation, " Would decide it: {}.", facts.join(", "));
        }
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><span class=\"badge verdict-{class}\">{words}</span></td>\
             <td>{} {}</td><td>{explanation}</td></tr>",
            Esc(&verdict.outage_id),
            Esc(&verdict.clause_id),
            Esc(&verdict.clause_title),
        );
    }
    out.push_str("</tbody></table>\n");
}

fn notes(out: &mut String, month: &pb::MonthReport) {
    if month.notes.is_empty() {
        return;
    }
    out.push_str("<h3>Notes</h3>\n<ul class=\"notes\">\n");
    for note in &month.notes {
        let _ = writeln!(
            out,
            "<li><strong>{}</strong>: {}</li>",
            text::note(note.kind),
            Esc(&note.text)
        );
    }
    out.push_str("</ul>\n");
}
