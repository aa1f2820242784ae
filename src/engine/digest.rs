//! The input digest: SHA-256 over a canonical form of an evaluation's spec, buckets and outages.
//!
//! The canonical form is independent of the order buckets and outages arrived in and of the form
//! buckets came in (rows, columns, files), so one set of inputs has one digest, which an auditor
//! can recompute from the inputs alone. `docs/provenance.md` specifies it byte by byte.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::ledger::MonthLedger;
use super::term::Term;
use crate::classify::{AccountKind, Notice, Outage};

/// The first line of the canonical form; a new version of the form changes it.
const VERSION: &str = "sla-evaluator input v1";

/// `sha256:` and the hex digest of the canonical form.
pub(super) fn input_digest(
    term: &Term,
    ledgers: &[MonthLedger],
    buckets_ignored: u64,
    outages: &[String],
) -> String {
    let mut header = format!("{VERSION}\n");
    for line in spec_lines(term) {
        header.push_str(&line);
        header.push('\n');
    }
    header.push_str(&format!("buckets_ignored {buckets_ignored}\n"));
    let mut hash = Sha256::new();
    hash.update(header.as_bytes());
    for (month, ledger) in term.months.iter().zip(ledgers) {
        let records = ledger.log().canonical();
        hash.update(
            format!(
                "month {} {} {} {}\n",
                month.first_day,
                month.start.timestamp(),
                records.len(),
                records.encoded_len()
            )
            .as_bytes(),
        );
        for piece in records.pieces() {
            hash.update(&piece);
        }
    }
    let mut sorted: Vec<&String> = outages.iter().collect();
    sorted.sort();
    hash.update(format!("outages {}\n", sorted.len()).as_bytes());
    for outage in sorted {
        hash.update(outage.as_bytes());
        hash.update(b"\n");
    }
    let digest = hash.finalize();
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256:{hex}")
}

/// The spec, one normalised value per line, in a fixed order.
fn spec_lines(term: &Term) -> Vec<String> {
    let mut lines = vec![format!("policy_id {}", term.policy.id)];
    // Only a spec that names a subscription has the line, so that every other spec keeps the
    // digest it always had.
    lines.extend(
        term.subscription
            .iter()
            .map(|subscription| format!("subscription {subscription}")),
    );
    lines.extend([
        format!(
            "term {} {}",
            term.months[0].first_day,
            term.months[term.months.len() - 1].last_day
        ),
        format!("time_zone {}", term.context.time_zone.name()),
        format!("currency {}", term.money.currency.map_or("-", |c| c.code())),
        format!(
            "message_unit_price {}",
            term.money
                .unit_price
                .map_or("-".to_string(), |p| p.normalize().to_string())
        ),
        format!("calendar {}", term.context.calendar.name()),
    ]);
    // Only a calendar read from a file knows a range of years; outside it, months carry a note.
    lines.extend(
        term.context
            .calendar
            .years()
            .map(|years| format!("calendar_years {} {}", years.start(), years.end())),
    );
    lines.extend(
        term.context
            .calendar
            .holidays()
            .map(|day| format!("holiday {day}")),
    );
    lines.extend(
        term.context
            .calendar
            .make_up_days()
            .map(|day| format!("make_up_day {day}")),
    );
    lines.extend(term.fees.iter().flatten().map(|fee| {
        format!(
            "fee {} {} {}",
            fee.month_start,
            fee.paid.normalize(),
            fee.deductions.normalize()
        )
    }));
    lines.push(format!("as_of {}", instant(term.as_of)));
    lines.push(format!("max_intervals {}", term.max_intervals));
    lines
}

fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// An outage as one line of JSON with sorted keys: every field, unknown facts as `null`.
pub(super) fn outage_line(outage: &Outage) -> String {
    let facts = &outage.facts;
    let notice = |notice: Option<Notice>| match notice {
        None => Value::Null,
        Some(Notice::NotGiven) => json!({ "status": "not_given" }),
        Some(Notice::Given { at, written }) => {
            json!({ "status": "given", "at": instant(at), "written": written })
        }
    };
    let value = json!({
        "id": outage.id,
        "start": instant(outage.window.start()),
        "end": instant(outage.window.end()),
        // A policy's own cause by its id, which no shared cause's name can equal.
        "cause": outage.cause.as_ref().map(|cause| cause.name()),
        "facts": {
            "provider_notice": notice(facts.provider_notice),
            "customer_notice": notice(facts.customer_notice),
            "concurrency_surge": facts.concurrency_surge,
            "peak_qps": facts.peak_qps.map(|qps| qps.normalize().to_string()),
            "daily_messages": facts.daily_messages,
            "account_kind": facts.account_kind.map(|kind| match kind {
                AccountKind::Standard => "standard",
                AccountKind::Gateway => "gateway",
            }),
            "number_blocked": facts.number_blocked,
            "audio_video_chatroom": facts.audio_video_chatroom,
            "exemption_basis": facts.exemption_basis,
        },
    });
    value.to_string()
}
