//! The exclusion clauses: each names a cause, from the shared vocabulary or the policy's own
//! `[[causes]]`, and a condition.

use std::collections::HashSet;

use rust_decimal::Decimal;
use toml::Spanned;

use super::format::{ClauseFile, ComparisonFile, ConditionFile, MetricFile, ScopeFile};
use super::{At, PolicyFileError};
use crate::policy::{
    Cause, CauseId, Clause, Comparison, Condition, NoticeRequirement, PolicyCause,
    ProviderNoticeRule, SurgeMetric, SurgeRule, SurgeThreshold,
};

/// A clause's cause: the shared vocabulary's, or one the policy declares.
fn cause_named(name: &str, declared: &[PolicyCause]) -> Option<CauseId> {
    if let Some(cause) = Cause::from_name(name) {
        return Some(CauseId::Shared(cause));
    }
    declared
        .iter()
        .any(|cause| cause.id == name)
        .then(|| CauseId::Declared(name.to_string()))
}

pub(super) fn clauses(
    files: &[Spanned<ClauseFile>],
    declared: &[PolicyCause],
    at: &At,
) -> Result<Vec<Clause>, PolicyFileError> {
    let mut ids = HashSet::new();
    let mut seen_kinds = HashSet::new();
    let mut clauses = Vec::new();
    for spanned in files {
        let span = spanned.span();
        let file = spanned.get_ref();
        let fail = |message: String| at(span.clone(), format!("clause '{}': {message}", file.id));
        if file.id.trim().is_empty() {
            return Err(at(span.clone(), "clause id must not be empty".into()));
        }
        if !ids.insert(file.id.clone()) {
            return Err(fail("the clause id appears twice".into()));
        }
        if file.title.trim().is_empty() {
            return Err(fail("title must not be empty".into()));
        }
        let cause = match &file.cause {
            None => None,
            Some(name) => Some(cause_named(name.get_ref(), declared).ok_or_else(|| {
                let valid: Vec<&str> = Cause::ALL.iter().map(|c| c.name()).collect();
                let own: Vec<&str> = declared.iter().map(|c| c.id.as_str()).collect();
                // At the cause's own line, not the clause's first.
                at(
                    name.span(),
                    format!(
                        "clause '{}': unknown cause '{}'; the causes are: {}{}",
                        file.id,
                        name.get_ref(),
                        valid.join(", "),
                        if own.is_empty() {
                            String::new()
                        } else {
                            format!("; the policy's own [[causes]]: {}", own.join(", "))
                        }
                    ),
                )
            })?),
        };
        let condition = condition(&file.condition).map_err(&fail)?;
        match (&condition, &cause) {
            (Condition::CaseByCase, Some(cause)) => {
                return Err(fail(format!(
                    "a case_by_case clause names no cause, but this one names '{cause}'"
                )));
            }
            (Condition::CaseByCase, None) => {}
            (_, None) => return Err(fail("cause is required".into())),
            (_, Some(CauseId::Shared(Cause::ProviderFault))) => {
                return Err(fail(
                    "provider_fault always counts; no clause may exclude it".into(),
                ));
            }
            (_, Some(_)) => {}
        }
        // Two clauses with the same cause and the same kind of condition: the second could never
        // be reached, so the file is ambiguous.
        let kind = std::mem::discriminant(&condition);
        if !seen_kinds.insert((cause.clone(), kind)) {
            return Err(fail(match &cause {
                Some(cause) => format!("another clause already covers cause '{cause}' this way"),
                None => "only one case_by_case clause is allowed".into(),
            }));
        }
        clauses.push(Clause {
            id: file.id.clone(),
            title: file.title.clone(),
            cause,
            condition,
        });
    }
    Ok(clauses)
}

/// The longest notice a clause may ask of a provider: a year. Longer is a typo, not a contract.
const MAX_NOTICE_HOURS: u32 = 8_760;

fn condition(file: &ConditionFile) -> Result<Condition, String> {
    Ok(match file {
        ConditionFile::Always => Condition::Always,
        ConditionFile::ProviderNotice { notice } => {
            let rule =
                notice.map_or_else(ProviderNoticeRule::default, |notice| ProviderNoticeRule {
                    written: notice.written,
                    hours: notice.hours,
                });
            if rule.hours > MAX_NOTICE_HOURS {
                return Err(format!(
                    "condition.notice.hours {} is more than {MAX_NOTICE_HOURS} (a year)",
                    rule.hours
                ));
            }
            Condition::ProviderNotice(rule)
        }
        ConditionFile::NumberBlocked => Condition::NumberBlocked,
        ConditionFile::CaseByCase => Condition::CaseByCase,
        ConditionFile::TrafficSurge {
            metric,
            comparison,
            threshold,
            gateway_threshold,
            notice,
            scope,
        } => {
            let amount = |text: &str, field: &str| -> Result<Decimal, String> {
                match crate::strict::decimal(text) {
                    Some(value) if !value.is_sign_negative() => Ok(value),
                    _ => Err(format!("{field} '{text}' must be a non-negative decimal")),
                }
            };
            let threshold = match (metric, comparison, threshold) {
                (None, None, None) if gateway_threshold.is_none() => None,
                (Some(metric), Some(comparison), Some(value)) => Some(SurgeThreshold {
                    metric: match metric {
                        MetricFile::Concurrency => SurgeMetric::Concurrency,
                        MetricFile::PeakQps => SurgeMetric::PeakQps,
                        MetricFile::DailyMessages => SurgeMetric::DailyMessages,
                    },
                    comparison: match comparison {
                        ComparisonFile::Above => Comparison::Above,
                        ComparisonFile::AtLeast => Comparison::AtLeast,
                    },
                    value: amount(value, "threshold")?,
                    gateway_value: match gateway_threshold {
                        Some(text) => Some(amount(text, "gateway_threshold")?),
                        None => None,
                    },
                }),
                _ => {
                    return Err(
                        "a traffic_surge threshold needs metric, comparison and threshold together"
                            .into(),
                    );
                }
            };
            Condition::TrafficSurge(SurgeRule {
                threshold,
                notice: NoticeRequirement {
                    written: notice.written,
                    business_days: notice.business_days,
                },
                audio_video_chatroom_only: matches!(scope, ScopeFile::AudioVideoChatroom),
            })
        }
    })
}
