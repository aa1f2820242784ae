//! Evaluations and verdicts into responses.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;

use super::super::pb;
use super::form_of;
use crate::classify::{OutageVerdict, Verdict};
use crate::engine::{
    Bound, Budget, Evidence, ExcludedInterval, Gap, MonthReport, MonthStatus, Note, NoteKind,
    Provenance, Report, TierBudget, UnavailableInterval, Unit,
};

pub(in crate::api) fn verdict(verdict: &OutageVerdict) -> pb::OutageVerdict {
    let OutageVerdict {
        outage_id,
        verdict,
        clause,
        explanation,
        missing_facts,
    } = verdict;
    pb::OutageVerdict {
        outage_id: outage_id.clone(),
        verdict: match verdict {
            Verdict::Excluded => pb::Verdict::Excluded,
            Verdict::Counted => pb::Verdict::Counted,
            Verdict::NeedsReview => pb::Verdict::NeedsReview,
        } as i32,
        clause_id: clause.as_ref().map(|c| c.id.clone()).unwrap_or_default(),
        clause_title: clause.as_ref().map(|c| c.title.clone()).unwrap_or_default(),
        explanation: explanation.clone(),
        missing_facts: missing_facts
            .iter()
            .map(|fact| fact.name().to_string())
            .collect(),
    }
}

/// The whole evaluation. `batches` counts the stream's bucket-carrying messages.
pub(in crate::api) fn report(report: &Report, batches: u64) -> pb::EvaluateResponse {
    let Report {
        policy_id,
        time_zone,
        currency,
        calendar,
        months,
        buckets_accepted,
        buckets_ignored,
        outages,
        total_compensation,
        total_compensation_minor_units,
        total_message_credits,
        as_of,
        provenance,
    } = report;
    let Provenance {
        engine_version,
        policy_revision,
        tzdb_version,
        input_digest,
    } = provenance;
    pb::EvaluateResponse {
        policy_id: policy_id.clone(),
        time_zone: time_zone.name().to_string(),
        currency: currency.map(|c| c.code().to_string()).unwrap_or_default(),
        calendar: calendar.clone(),
        months: months.iter().map(|m| month(m, *time_zone)).collect(),
        ingest: Some(pb::IngestStats {
            buckets_accepted: *buckets_accepted,
            buckets_ignored: *buckets_ignored,
            batches,
            outages: outages.len() as u64,
        }),
        total_compensation: total_compensation
            .map(|total: Decimal| total.to_string())
            .unwrap_or_default(),
        total_compensation_minor_units: *total_compensation_minor_units,
        total_message_credits: total_message_credits.unwrap_or(0),
        outages: outages.iter().map(verdict).collect(),
        as_of: Some(timestamp(*as_of)),
        provenance: Some(pb::Provenance {
            server_version: engine_version.clone(),
            policy_revision: policy_revision.clone(),
            tzdb_version: tzdb_version.clone(),
            input_digest: input_digest.clone(),
        }),
        // Set by the statement layer (`api::statements`), which knows the request.
        subscription: String::new(),
        restatement: None,
        record: None,
        statement: None,
    }
}

fn month(month: &MonthReport, zone: Tz) -> pb::MonthReport {
    let MonthReport {
        policy_version,
        policy_revision,
        first_day,
        last_day,
        status,
        unit,
        total_units,
        bad_units,
        excluded_units,
        availability,
        availability_percent,
        standard_met,
        tier,
        compensation_percent,
        form,
        payout,
        claim_window,
        coverage,
        outages,
        notes,
        elapsed_minutes,
        worst_case,
        budget,
        evidence,
        slices_under_min_attempts,
    } = month;
    let payout = payout.as_ref();
    pb::MonthReport {
        policy_version: policy_version.clone(),
        policy_revision: policy_revision.clone(),
        month_start: first_day.to_string(),
        month_end: last_day.to_string(),
        status: match status {
            MonthStatus::Met => pb::MonthStatus::Met,
            MonthStatus::NotMet => pb::MonthStatus::NotMet,
            MonthStatus::NeedsReview => pb::MonthStatus::NeedsReview,
            MonthStatus::NoData => pb::MonthStatus::NoData,
            MonthStatus::IncompleteData => pb::MonthStatus::IncompleteData,
            MonthStatus::InProgress => pb::MonthStatus::InProgress,
        } as i32,
        unit: match unit {
            Unit::Minutes => pb::Unit::Minutes,
            Unit::Events => pb::Unit::Events,
        } as i32,
        total_units: *total_units,
        bad_units: *bad_units,
        excluded_units: *excluded_units,
        availability_percent: availability_percent.clone(),
        availability_numerator: availability.good,
        availability_denominator: availability.total,
        standard_met: *standard_met,
        tier: tier.map_or(0, |(index, _)| index as u32),
        compensation_percent: compensation_percent.to_string(),
        compensation_amount: payout.map(|p| p.amount.to_string()).unwrap_or_default(),
        compensation_minor_units: payout.map_or(0, |p| p.amount_minor_units),
        compensation_form: form_of(*form) as i32,
        message_credits: payout.and_then(|p| p.message_credits).unwrap_or(0),
        eligible_fee: payout
            .map(|p| p.eligible_fee.to_string())
            .unwrap_or_default(),
        claim_opens_on: claim_window
            .map(|w| w.opens_on.to_string())
            .unwrap_or_default(),
        claim_closes_on: claim_window
            .map(|w| w.closes_on.to_string())
            .unwrap_or_default(),
        coverage_percent: coverage.fraction().truncated_percent(),
        covered_minutes: coverage.covered_minutes,
        clock_minutes: coverage.minutes,
        outage_indexes: outages.iter().map(|&i| i as u32).collect(),
        notes: notes.iter().map(note).collect(),
        elapsed_minutes: *elapsed_minutes,
        worst_case: worst_case.as_ref().map(bound),
        budget: Some(budget_of(budget)),
        evidence: Some(evidence_of(evidence, zone)),
        slices_under_min_attempts: *slices_under_min_attempts,
        // Set by the statement layer when the evaluation restates an earlier one.
        restatement: None,
    }
}

fn bound(bound: &Bound) -> pb::Bound {
    let Bound {
        bad_units,
        availability,
        standard_met,
        tier,
        compensation_percent,
        payout,
    } = bound;
    let payout = payout.as_ref();
    pb::Bound {
        bad_units: *bad_units,
        availability_percent: availability.truncated_percent(),
        availability_numerator: availability.good,
        availability_denominator: availability.total,
        standard_met: *standard_met,
        tier: tier.map_or(0, |(index, _)| index as u32),
        compensation_percent: compensation_percent.to_string(),
        compensation_amount: payout.map(|p| p.amount.to_string()).unwrap_or_default(),
        compensation_minor_units: payout.map_or(0, |p| p.amount_minor_units),
        message_credits: payout.and_then(|p| p.message_credits).unwrap_or(0),
    }
}

fn budget_of(budget: &Budget) -> pb::Budget {
    let Budget {
        bad_units_allowed,
        bad_units_remaining,
        tiers,
    } = budget;
    pb::Budget {
        bad_units_allowed: *bad_units_allowed,
        bad_units_remaining: *bad_units_remaining,
        tiers: tiers
            .iter()
            .map(
                |&TierBudget {
                     tier,
                     bad_units_until,
                 }| pb::TierBudget {
                    tier: tier as u32,
                    bad_units_until,
                },
            )
            .collect(),
    }
}

fn evidence_of(evidence: &Evidence, zone: Tz) -> pb::Evidence {
    let Evidence {
        unavailable,
        excluded,
        gaps,
    } = evidence;
    let local = |at: DateTime<Utc>| at.with_timezone(&zone).to_rfc3339();
    pb::Evidence {
        unavailable: unavailable
            .items
            .iter()
            .map(|interval| {
                let UnavailableInterval {
                    start,
                    end,
                    minutes,
                    total,
                    failed,
                    lowest_success_rate,
                } = interval;
                pb::UnavailableInterval {
                    start: Some(timestamp(*start)),
                    end: Some(timestamp(*end)),
                    minutes: *minutes,
                    total: *total,
                    failed: *failed,
                    lowest_success_rate_percent: lowest_success_rate.truncated_percent(),
                    local_start: local(*start),
                    local_end: local(*end),
                }
            })
            .collect(),
        unavailable_total: unavailable.total,
        excluded: excluded
            .items
            .iter()
            .map(|interval| {
                let ExcludedInterval {
                    start,
                    end,
                    units,
                    outage,
                    clause_id,
                } = interval;
                pb::ExcludedInterval {
                    start: Some(timestamp(*start)),
                    end: Some(timestamp(*end)),
                    units: *units,
                    outage_index: *outage as u32,
                    clause_id: clause_id.clone(),
                    local_start: local(*start),
                    local_end: local(*end),
                }
            })
            .collect(),
        excluded_total: excluded.total,
        gaps: gaps
            .items
            .iter()
            .map(|gap| {
                let Gap {
                    start,
                    end,
                    minutes,
                } = gap;
                pb::DataGap {
                    start: Some(timestamp(*start)),
                    end: Some(timestamp(*end)),
                    minutes: *minutes,
                    local_start: local(*start),
                    local_end: local(*end),
                }
            })
            .collect(),
        gaps_total: gaps.total,
    }
}

/// An instant as a protobuf timestamp.
fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

fn note(note: &Note) -> pb::Note {
    let Note { kind, text } = note;
    pb::Note {
        kind: match kind {
            NoteKind::NoEvents => pb::NoteKind::NoEvents,
            NoteKind::TierAboveStandard => pb::NoteKind::TierAboveStandard,
            NoteKind::ClockChange => pb::NoteKind::ClockChange,
            NoteKind::AvailabilityFloored => pb::NoteKind::AvailabilityFloored,
            NoteKind::FeeMissing => pb::NoteKind::FeeMissing,
            NoteKind::OutagesNeedReview => pb::NoteKind::OutagesNeedReview,
            NoteKind::IncompleteData => pb::NoteKind::IncompleteData,
            NoteKind::InProgress => pb::NoteKind::InProgress,
            NoteKind::CalendarOutOfRange => pb::NoteKind::CalendarOutOfRange,
            NoteKind::DataGaps => pb::NoteKind::DataGaps,
            NoteKind::BelowMinAmount => pb::NoteKind::BelowMinAmount,
            NoteKind::Capped => pb::NoteKind::Capped,
            NoteKind::ClaimWindowNotStated => pb::NoteKind::ClaimWindowNotStated,
        } as i32,
        text: text.clone(),
    }
}
