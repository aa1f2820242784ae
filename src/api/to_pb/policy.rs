//! Policies into responses.

use chrono::Utc;

use super::super::pb;
use crate::policy::{
    Cause, CauseId, ClaimCloses, ClaimOpens, ClaimWindowRule, Clause, Comparison, CompensationForm,
    Condition, Edge, Method, Percent, Policy, PolicyVersions, ServiceMonthKind, SurgeMetric, Tier,
    TierBounds, TimesliceRule,
};

pub(in crate::api) fn policy(policy: &Policy) -> pb::Policy {
    let Policy {
        id,
        name,
        version,
        effective_from,
        source,
        service_month,
        time_zone,
        calendar,
        method,
        standard,
        standard_met_at,
        tiers,
        tier_bounds,
        form,
        min_amount,
        cap,
        claim_window,
        causes,
        clauses,
        revision,
    } = policy;
    pb::Policy {
        id: id.clone(),
        name: name.clone(),
        source: Some(pb::SourceDocument {
            file: source.file.clone(),
            title: source.title.clone(),
            last_updated: source
                .last_updated
                .map(|d| d.to_string())
                .unwrap_or_default(),
        }),
        service_month: match service_month {
            ServiceMonthKind::Calendar => pb::ServiceMonthKind::Calendar,
            ServiceMonthKind::Anniversary => pb::ServiceMonthKind::Anniversary,
        } as i32,
        default_time_zone: time_zone.name().to_string(),
        default_calendar: calendar.clone().unwrap_or_default(),
        method: Some(pb::Method {
            kind: Some(match method {
                Method::Occurrences { min_coverage } => {
                    pb::method::Kind::Occurrences(pb::Occurrences {
                        min_coverage_percent: min_coverage.to_string(),
                    })
                }
                Method::Timeslices {
                    slice_minutes,
                    bad_slice,
                    min_attempts,
                } => pb::method::Kind::Timeslices(pb::Timeslices {
                    min_attempts: *min_attempts,
                    slice_minutes: *slice_minutes,
                    bad_slice: match bad_slice {
                        TimesliceRule::AllFailed => pb::BadSliceRule::AllFailed,
                        TimesliceRule::SuccessRateBelow(_) => pb::BadSliceRule::SuccessRateBelow,
                    } as i32,
                    success_rate_below_percent: match bad_slice {
                        TimesliceRule::AllFailed => String::new(),
                        TimesliceRule::SuccessRateBelow(bound) => bound.to_string(),
                    },
                }),
            }),
        }),
        standard_percent: standard.to_string(),
        tiers: tiers.iter().map(|t| tier(t, *tier_bounds)).collect(),
        compensation_form: form_of(*form) as i32,
        claim_window: claim_window.as_ref().map(claim_window_rule),
        clauses: clauses.iter().map(clause).collect(),
        standard_met_only_above: *standard_met_at == Edge::Above,
        // Unset for a policy whose terms add nothing to the tier's share of the fee.
        credit_limits: (min_amount.is_some() || *cap != Percent::HUNDRED).then(|| {
            pb::CreditLimits {
                min_amount: min_amount.map(|m| m.amount.to_string()).unwrap_or_default(),
                min_amount_currency: min_amount
                    .and_then(|m| m.currency)
                    .map(|c| c.code().to_string())
                    .unwrap_or_default(),
                min_amount_only_above: min_amount.is_some_and(|m| m.met_at == Edge::Above),
                cap_percent: cap.to_string(),
            }
        }),
        causes: causes
            .iter()
            .map(|c| pb::PolicyCause {
                id: c.id.clone(),
                title: c.title.clone(),
            })
            .collect(),
        revision: revision.clone(),
        version: version.clone(),
        effective_from: effective_from.map(|d| d.to_string()).unwrap_or_default(),
        versions: Vec::new(),
    }
}

/// A tier in the pair of fields its table's convention uses.
fn tier(tier: &Tier, bounds: TierBounds) -> pb::Tier {
    let (lower, upper) = (tier.lower.to_string(), tier.upper.to_string());
    let fee_percent = tier.fee_percent.to_string();
    match bounds {
        TierBounds::AtLeastBelow => pb::Tier {
            at_least_percent: lower,
            below_percent: upper,
            fee_percent,
            ..pb::Tier::default()
        },
        TierBounds::AboveAtMost => pb::Tier {
            above_percent: lower,
            at_most_percent: upper,
            fee_percent,
            ..pb::Tier::default()
        },
    }
}

fn claim_window_rule(rule: &ClaimWindowRule) -> pb::ClaimWindowRule {
    let mut window = pb::ClaimWindowRule::default();
    match rule.opens {
        ClaimOpens::AfterBusinessDay(day) => window.opens_after_business_day = day,
        ClaimOpens::AfterPeriod => window.opens_after_period = true,
    }
    match rule.closes {
        ClaimCloses::AfterDays(days) => window.closes_after_days = days,
        ClaimCloses::AtEndOfMonth(months) => window.closes_at_end_of_month = months,
    }
    window
}

/// GetPolicy's answer: the version in force today, listing every version.
pub(in crate::api) fn policy_with_versions(versions: &PolicyVersions) -> pb::Policy {
    pb::Policy {
        versions: versions.iter().map(|v| policy(v)).collect(),
        ..policy(versions.current(Utc::now()))
    }
}

fn clause(clause: &Clause) -> pb::Clause {
    let provider_notice = match &clause.condition {
        Condition::ProviderNotice(rule) => Some(pb::ProviderNoticeRule {
            must_be_written: rule.written,
            hours_ahead: rule.hours,
        }),
        _ => None,
    };
    let (condition, surge) = match &clause.condition {
        Condition::Always => (pb::ConditionKind::Always, None),
        Condition::ProviderNotice(_) => (pb::ConditionKind::ProviderNotice, None),
        Condition::NumberBlocked => (pb::ConditionKind::NumberBlocked, None),
        Condition::CaseByCase => (pb::ConditionKind::CaseByCase, None),
        Condition::TrafficSurge(rule) => {
            let threshold = rule.threshold.as_ref();
            let surge = pb::SurgeRule {
                metric: threshold.map_or(pb::SurgeMetric::Unspecified, |t| match t.metric {
                    SurgeMetric::Concurrency => pb::SurgeMetric::Concurrency,
                    SurgeMetric::PeakQps => pb::SurgeMetric::PeakQps,
                    SurgeMetric::DailyMessages => pb::SurgeMetric::DailyMessages,
                }) as i32,
                comparison: threshold.map_or(pb::Comparison::Unspecified, |t| match t.comparison {
                    Comparison::Above => pb::Comparison::Above,
                    Comparison::AtLeast => pb::Comparison::AtLeast,
                }) as i32,
                threshold: threshold.map(|t| t.value.to_string()).unwrap_or_default(),
                gateway_threshold: threshold
                    .and_then(|t| t.gateway_value)
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
                notice_must_be_written: rule.notice.written,
                notice_business_days: rule.notice.business_days,
                audio_video_chatroom_only: rule.audio_video_chatroom_only,
            };
            (pb::ConditionKind::TrafficSurge, Some(surge))
        }
    };
    pb::Clause {
        id: clause.id.clone(),
        title: clause.title.clone(),
        cause: match &clause.cause {
            Some(CauseId::Shared(shared)) => cause(*shared),
            Some(CauseId::Declared(_)) | None => pb::Cause::Unspecified,
        } as i32,
        condition: condition as i32,
        surge,
        provider_notice,
        policy_cause: match &clause.cause {
            Some(CauseId::Declared(id)) => id.clone(),
            _ => String::new(),
        },
    }
}

fn cause(cause: Cause) -> pb::Cause {
    match cause {
        Cause::ProviderFault => pb::Cause::ProviderFault,
        Cause::CustomerFault => pb::Cause::CustomerFault,
        Cause::CredentialLeak => pb::Cause::CredentialLeak,
        Cause::AttackOnCustomer => pb::Cause::AttackOnCustomer,
        Cause::GuidelineViolation => pb::Cause::GuidelineViolation,
        Cause::CustomerNegligence => pb::Cause::CustomerNegligence,
        Cause::IllegalContent => pb::Cause::IllegalContent,
        Cause::TrafficSurge => pb::Cause::TrafficSurge,
        Cause::TrialFeature => pb::Cause::TrialFeature,
        Cause::AnnouncedEvent => pb::Cause::AnnouncedEvent,
        Cause::ScheduledMaintenance => pb::Cause::ScheduledMaintenance,
        Cause::ThirdPartyNetwork => pb::Cause::ThirdPartyNetwork,
        Cause::ForceMajeure => pb::Cause::ForceMajeure,
        Cause::RegulatoryControl => pb::Cause::RegulatoryControl,
        Cause::InvalidNumber => pb::Cause::InvalidNumber,
        Cause::PlatformRuleViolation => pb::Cause::PlatformRuleViolation,
        Cause::RecipientHarassmentReport => pb::Cause::RecipientHarassmentReport,
        Cause::NotAttributableToProvider => pb::Cause::NotAttributableToProvider,
    }
}

pub(in crate::api) fn form_of(form: CompensationForm) -> pb::CompensationForm {
    match form {
        CompensationForm::Voucher => pb::CompensationForm::Voucher,
        CompensationForm::Cash => pb::CompensationForm::Cash,
        CompensationForm::MessageCredits => pb::CompensationForm::MessageCredits,
        CompensationForm::ServiceCredit => pb::CompensationForm::ServiceCredit,
    }
}
