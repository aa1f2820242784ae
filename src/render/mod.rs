//! Claim reports: one self-contained HTML page per evaluation, for the people weighing a claim
//! (support engineers) and reading one (customers), who would rather look than read JSON.
//!
//! [`html`] is a pure function of an [`EvaluateResponse`](pb::EvaluateResponse), so the same page
//! comes from a live evaluation or from a response saved as JSON, and the page says nothing the
//! response does not: amounts and percentages are its strings, and the heatmap is computed from its
//! evidence lists alone (the `cells` module says what a cell is and how shortened lists are shown).
//!
//! The page fetches nothing: the style sheet and the SVG are inline, no font or script is loaded,
//! and a Content-Security-Policy forbids any fetch, so it opens the same offline, attached to a
//! ticket, or printed to PDF (a print style sheet starts each month on a new page).

mod cells;
mod heatmap;
mod month;
mod text;

use std::fmt::Write;

use chrono_tz::Tz;

use crate::api::pb;
use crate::policy::Policy;
use text::{Esc, plural};

const STYLE: &str = include_str!("style.css");

/// The claim report of an evaluation, as one HTML document.
///
/// `policy` is the policy the response was evaluated under, when the caller has it: the header
/// then names its source document and the months show the standard and the tier bands. Without
/// it the page shows what the response alone says. `subscription` names the customer's
/// subscription or account, which the response does not carry.
pub fn html(
    response: &pb::EvaluateResponse,
    policy: Option<&Policy>,
    subscription: Option<&str>,
) -> String {
    let parsed_zone = response.time_zone.parse::<Tz>().ok();
    let zone = parsed_zone.unwrap_or(Tz::UTC);
    let as_of = text::instant(response.as_of.as_ref());
    let cx = month::Context {
        response,
        policy,
        zone,
        as_of: as_of.map(|at| at.with_timezone(&zone).date_naive()),
    };
    let name = policy.map_or(response.policy_id.as_str(), |p| p.name.as_str());
    let term = term(response);
    let mut out = String::with_capacity(16 * 1024 + 120 * 1024 * response.months.len());
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'\">\n<meta name=\"viewport\" content=\"width=device-width, \
         initial-scale=1\">\n<title>Claim report: {} — {}</title>\n<style>\n{STYLE}</style>\n\
         </head>\n<body>\n{}\n",
        Esc(name),
        Esc(&term),
        heatmap::PATTERNS,
    );
    header(&mut out, &cx, name, &term, subscription);
    if parsed_zone.is_none() {
        let _ = writeln!(
            out,
            "<p class=\"warning\">The time zone <code>{}</code> is not known to this renderer: \
             the heatmaps are drawn in UTC.</p>",
            Esc(&response.time_zone)
        );
    }
    out.push_str("<main>\n");
    for (index, report) in response.months.iter().enumerate() {
        month::write(&mut out, &cx, index, report);
    }
    if response.months.is_empty() {
        out.push_str("<p>The response has no service months.</p>\n");
    }
    let _ = write!(
        out,
        "</main>\n<footer>Rendered by sla-evaluator {} from the response alone: every amount and \
         percentage is the response's own text, and every time is local to {} unless marked \
         UTC.</footer>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
        Esc(zone.name()),
    );
    out
}

/// The term: the first month's first day to the last month's last day (months are cut to it).
fn term(response: &pb::EvaluateResponse) -> String {
    match (response.months.first(), response.months.last()) {
        (Some(first), Some(last)) => format!("{} to {}", first.month_start, last.month_end),
        _ => "no months".into(),
    }
}

fn header(
    out: &mut String,
    cx: &month::Context<'_>,
    name: &str,
    term: &str,
    subscription: Option<&str>,
) {
    let response = cx.response;
    let provenance = response.provenance.clone().unwrap_or_default();
    let _ = write!(
        out,
        "<header>\n<p class=\"kicker\">SLA claim report</p>\n<h1>{}</h1>\n<dl class=\"meta\">\n",
        Esc(name)
    );
    let mut row = |term: &str, class: &str, value: String| {
        let _ = writeln!(
            out,
            "<div><dt>{term}</dt><dd class=\"{class}\">{value}</dd></div>"
        );
    };
    row(
        "Policy",
        "policy",
        format!("<code>{}</code>", Esc(&response.policy_id)),
    );
    row(
        "Policy revision",
        "revision",
        format!("<code>{}</code>", Esc(&provenance.policy_revision)),
    );
    // The document by its title and date, as a reader finds it; the policy file's `document`
    // key is a name for the policy's authors, not for the customer.
    if let Some(policy) = cx.policy {
        let dated = policy.source.last_updated.map_or_else(
            || ", undated".to_string(),
            |day| format!(", last updated {day}"),
        );
        row(
            "Source document",
            "source",
            format!("{}{dated}", Esc(&policy.source.title)),
        );
    }
    row(
        "Subscription",
        "subscription",
        subscription.map_or("not given".into(), |s| Esc(s).to_string()),
    );
    row(
        "Term",
        "term",
        format!(
            "{} ({})",
            Esc(term),
            plural(
                response.months.len() as u64,
                "service month",
                "service months"
            )
        ),
    );
    row(
        "Time zone",
        "zone",
        format!(
            "{} (time-zone database {})",
            Esc(&response.time_zone),
            Esc(&provenance.tzdb_version)
        ),
    );
    row(
        "Business calendar",
        "calendar",
        Esc(&response.calendar).to_string(),
    );
    let as_of = match text::instant(response.as_of.as_ref()) {
        Some(at) => format!(
            "<time datetime=\"{}\">{}</time> ({} UTC)",
            at.to_rfc3339(),
            Esc(&text::readable(&at.with_timezone(&cx.zone).fixed_offset())),
            at.format("%Y-%m-%d %H:%M:%S")
        ),
        None => "not given".into(),
    };
    row("As of", "as-of", as_of);
    let total = if response.total_compensation.is_empty() {
        "no amount: no fee was given".into()
    } else {
        format!(
            "<span class=\"amount\">{} {}</span>",
            Esc(&response.total_compensation),
            Esc(&response.currency)
        )
    };
    row("Total compensation", "total", total);
    row(
        "Input digest",
        "digest",
        format!("<code>{}</code>", Esc(&provenance.input_digest)),
    );
    row(
        "Server version",
        "server-version",
        Esc(&provenance.server_version).to_string(),
    );
    if let Some(restatement) = &response.restatement {
        let earlier = match restatement.earlier_statement_id {
            0 => format!("<code>{}</code>", Esc(&restatement.restates)),
            id => format!("statement {id}"),
        };
        row(
            "Restates",
            "restates",
            format!(
                "{earlier}: {} (each month's notes say what changed)",
                Esc(&restatement.reason)
            ),
        );
    }
    if let Some(record) = &response.record {
        row(
            "Statement",
            "statement",
            format!(
                "{} in the ledger, recorded {}",
                record.id,
                text::instant(record.recorded_at.as_ref())
                    .map(|at| at.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                    .unwrap_or_default()
            ),
        );
    }
    if let Some(statement) = &response.statement {
        let keys: Vec<String> = statement
            .signatures
            .iter()
            .map(|s| format!("<code>{}</code>", Esc(&s.keyid)))
            .collect();
        row(
            "Signed by",
            "signed",
            format!(
                "{} (check with <code>sla-evaluator verify</code>)",
                keys.join(", ")
            ),
        );
    }
    if let Some(ingest) = &response.ingest {
        row(
            "Input",
            "ingest",
            format!(
                "{} accepted, {} outside the term, {}",
                plural(ingest.buckets_accepted, "bucket", "buckets"),
                text::count(ingest.buckets_ignored),
                plural(ingest.outages, "outage", "outages"),
            ),
        );
    }
    out.push_str("</dl>\n");
    if let Some(policy) = cx.policy
        && (policy.id != response.policy_id
            || !provenance
                .policy_revision
                .split(',')
                .any(|revision| revision == policy.revision))
    {
        let _ = writeln!(
            out,
            "<p class=\"warning\">The policy at hand (<code>{}</code>, revision <code>{}</code>) \
                 is not the one this response was evaluated under: the standard, the tier bands \
                 and the source document shown may not apply.</p>",
            Esc(&policy.id),
            Esc(&policy.revision)
        );
    }
    out.push_str("</header>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_response_still_makes_a_page() {
        let page = html(&pb::EvaluateResponse::default(), None, None);
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("The response has no service months."));
    }

    #[test]
    fn every_string_from_a_response_is_escaped() {
        let hostile = "<script>x</script>\"'&";
        let month = pb::MonthReport {
            month_start: hostile.into(),
            month_end: hostile.into(),
            availability_percent: hostile.into(),
            compensation_amount: hostile.into(),
            claim_opens_on: hostile.into(),
            coverage_percent: hostile.into(),
            outage_indexes: vec![0, 7],
            notes: vec![pb::Note {
                kind: 99,
                text: hostile.into(),
            }],
            evidence: Some(pb::Evidence {
                excluded: vec![pb::ExcludedInterval {
                    clause_id: hostile.into(),
                    local_start: hostile.into(),
                    ..Default::default()
                }],
                excluded_total: 3,
                ..Default::default()
            }),
            ..Default::default()
        };
        let response = pb::EvaluateResponse {
            policy_id: hostile.into(),
            time_zone: hostile.into(),
            currency: hostile.into(),
            calendar: hostile.into(),
            months: vec![month],
            outages: vec![pb::OutageVerdict {
                outage_id: hostile.into(),
                explanation: hostile.into(),
                missing_facts: vec![hostile.into()],
                ..Default::default()
            }],
            provenance: Some(pb::Provenance {
                input_digest: hostile.into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let page = html(&response, None, Some(hostile));
        assert!(!page.contains("<script"), "{page}");
        assert!(page.contains("&lt;script&gt;x&lt;/script&gt;&quot;&#39;&amp;"));
        // An unknown zone is said, and the map is drawn in UTC rather than not at all.
        assert!(page.contains("is not known to this renderer"));
        assert!(page.contains("No heatmap: the month&#39;s dates do not parse."));
        assert!(page.contains("Outage 7 is not in the response."));
    }
}
