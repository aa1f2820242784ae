//! The policy file format (TOML) and its validation into a [`Policy`].
//!
//! Every check that TOML's own types cannot express (tier tables that leave gaps, a percent with
//! too many places, a clause naming an unknown cause) is made here, and every refusal points at the
//! line of the offending value, because a policy author fixes files, not structs.

use std::collections::HashSet;
use std::ops::Range;
use std::str::FromStr;

use chrono::NaiveDate;
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::Deserialize;
use toml::Spanned;

use super::{
    Cause, ClaimWindowRule, Clause, Comparison, CompensationForm, Condition, Method,
    NoticeRequirement, Percent, Policy, ServiceMonthKind, SourceDocument, SurgeMetric, SurgeRule,
    SurgeThreshold, Tier, TimesliceRule,
};

/// A policy file that cannot be used, with where and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}:{column}: {message}")]
pub struct PolicyFileError {
    pub path: String,
    /// 1-based line of the offending value.
    pub line: usize,
    /// 1-based column of the offending value.
    pub column: usize,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    id: Spanned<String>,
    name: Spanned<String>,
    service_month: ServiceMonthFile,
    time_zone: Spanned<String>,
    standard_percent: Spanned<String>,
    source: SourceFile,
    method: Spanned<MethodFile>,
    compensation: CompensationFile,
    claim_window: Spanned<ClaimWindowFile>,
    #[serde(default)]
    clauses: Vec<Spanned<ClauseFile>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ServiceMonthFile {
    Calendar,
    Anniversary,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceFile {
    document: String,
    title: String,
    last_updated: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum MethodFile {
    Timeslices {
        slice_minutes: u32,
        bad_slice: BadSliceFile,
    },
    Occurrences,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum BadSliceFile {
    AllFailed,
    SuccessRateBelow(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompensationFile {
    form: FormFile,
    tiers: Spanned<Vec<Spanned<TierFile>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum FormFile {
    Voucher,
    Cash,
    MessageCredits,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TierFile {
    /// Absent on the bottom tier, which reaches down to 0%.
    at_least: Option<String>,
    below: String,
    fee_percent: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimWindowFile {
    opens_after_business_day: u32,
    closes_after_days: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClauseFile {
    id: String,
    cause: Option<String>,
    title: String,
    #[serde(default)]
    condition: ConditionFile,
}

#[derive(Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum ConditionFile {
    #[default]
    Always,
    ProviderNotice,
    TrafficSurge {
        metric: Option<MetricFile>,
        comparison: Option<ComparisonFile>,
        threshold: Option<String>,
        gateway_threshold: Option<String>,
        notice: NoticeFile,
        #[serde(default)]
        scope: ScopeFile,
    },
    NumberBlocked,
    CaseByCase,
}

/// What traffic a surge clause covers.
#[derive(Deserialize, Clone, Copy, Default)]
#[serde(rename_all = "snake_case")]
enum ScopeFile {
    #[default]
    AnyTraffic,
    AudioVideoChatroom,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum MetricFile {
    Concurrency,
    PeakQps,
    DailyMessages,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum ComparisonFile {
    Above,
    AtLeast,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct NoticeFile {
    written: bool,
    business_days: u32,
}

/// Slices must tile an hour so that clock changes of 30 or 60 minutes keep them aligned.
const MINUTES_PER_HOUR: u32 = 60;
/// A calendar month never has more business days than this (23 weekdays), before make-up days.
const MAX_OPENING_BUSINESS_DAY: u32 = 23;

/// Parses and validates one policy file. `path` is only used in error messages.
pub fn parse_policy(path: &str, text: &str) -> Result<Policy, PolicyFileError> {
    let at = |span: Range<usize>, message: String| locate(path, text, span, message);
    let file: PolicyFile =
        toml::from_str(text).map_err(|e| at(e.span().unwrap_or(0..0), e.message().to_string()))?;

    let id = file.id.get_ref();
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(at(
            file.id.span(),
            format!("policy id '{id}' must be non-empty lowercase letters, digits and '-'"),
        ));
    }
    if file.name.get_ref().trim().is_empty() {
        return Err(at(file.name.span(), "name must not be empty".into()));
    }
    let time_zone = Tz::from_str(file.time_zone.get_ref()).map_err(|_| {
        at(
            file.time_zone.span(),
            format!("'{}' is not an IANA time zone", file.time_zone.get_ref()),
        )
    })?;
    let standard = percent(&file.standard_percent, "standard_percent", &at)?;
    if standard == Percent::ZERO {
        return Err(at(
            file.standard_percent.span(),
            "standard_percent must be above 0".into(),
        ));
    }
    let last_updated = match &file.source.last_updated {
        None => None,
        Some(date) => Some(
            NaiveDate::parse_from_str(date.get_ref(), "%Y-%m-%d").map_err(|_| {
                at(
                    date.span(),
                    format!("last_updated '{}' is not a YYYY-MM-DD date", date.get_ref()),
                )
            })?,
        ),
    };
    let method = method(&file.method, &at)?;
    let tiers = tiers(&file.compensation.tiers, standard, &at)?;
    let claim_window = claim_window(&file.claim_window, &at)?;
    let clauses = clauses(&file.clauses, &at)?;

    Ok(Policy {
        id: file.id.into_inner(),
        name: file.name.into_inner(),
        source: SourceDocument {
            file: file.source.document,
            title: file.source.title,
            last_updated,
        },
        service_month: match file.service_month {
            ServiceMonthFile::Calendar => ServiceMonthKind::Calendar,
            ServiceMonthFile::Anniversary => ServiceMonthKind::Anniversary,
        },
        time_zone,
        method,
        standard,
        tiers,
        form: match file.compensation.form {
            FormFile::Voucher => CompensationForm::Voucher,
            FormFile::Cash => CompensationForm::Cash,
            FormFile::MessageCredits => CompensationForm::MessageCredits,
        },
        claim_window,
        clauses,
    })
}

type At<'a> = dyn Fn(Range<usize>, String) -> PolicyFileError + 'a;

fn percent(value: &Spanned<String>, field: &str, at: &At) -> Result<Percent, PolicyFileError> {
    value
        .get_ref()
        .parse()
        .map_err(|e| at(value.span(), format!("{field}: {e}")))
}

fn method(file: &Spanned<MethodFile>, at: &At) -> Result<Method, PolicyFileError> {
    match file.get_ref() {
        MethodFile::Occurrences => Ok(Method::Occurrences),
        MethodFile::Timeslices {
            slice_minutes,
            bad_slice,
        } => {
            let slice_minutes = *slice_minutes;
            if slice_minutes == 0 || !MINUTES_PER_HOUR.is_multiple_of(slice_minutes) {
                return Err(at(
                    file.span(),
                    format!(
                        "slice_minutes {slice_minutes} must divide an hour (1, 5, 10, 15, ...)"
                    ),
                ));
            }
            let bad_slice = match bad_slice {
                BadSliceFile::AllFailed => TimesliceRule::AllFailed,
                BadSliceFile::SuccessRateBelow(bound) => TimesliceRule::SuccessRateBelow(
                    bound
                        .parse()
                        .map_err(|e| at(file.span(), format!("success_rate_below: {e}")))?,
                ),
            };
            Ok(Method::Timeslices {
                slice_minutes,
                bad_slice,
            })
        }
    }
}

/// The table must tile `[0%, top)` without gaps or overlaps, reach at least the standard, and pay
/// no less as availability falls: that is what makes "compensation never falls when availability
/// falls" true for every policy, built-in or not.
fn tiers(
    file: &Spanned<Vec<Spanned<TierFile>>>,
    standard: Percent,
    at: &At,
) -> Result<Vec<Tier>, PolicyFileError> {
    if file.get_ref().is_empty() {
        return Err(at(
            file.span(),
            "compensation.tiers must not be empty".into(),
        ));
    }
    let mut tiers: Vec<Tier> = Vec::new();
    for (index, row) in file.get_ref().iter().enumerate() {
        let span = row.span();
        let parse = |text: &str, field: &str| {
            text.parse::<Percent>()
                .map_err(|e| at(span.clone(), format!("tier {}: {field}: {e}", index + 1)))
        };
        let tier = Tier {
            at_least: match &row.get_ref().at_least {
                Some(text) => parse(text, "at_least")?,
                None => Percent::ZERO,
            },
            below: parse(&row.get_ref().below, "below")?,
            fee_percent: parse(&row.get_ref().fee_percent, "fee_percent")?,
        };
        let problem = if tier.at_least >= tier.below {
            Some(format!(
                "at_least {}% must be below below {}%",
                tier.at_least, tier.below
            ))
        } else if tier.fee_percent == Percent::ZERO {
            Some("fee_percent must be above 0".to_string())
        } else if tier.at_least >= standard {
            Some(format!(
                "the tier starts at {}%, at or above the standard {standard}%, so it could never pay",
                tier.at_least
            ))
        } else {
            match tiers.last() {
                None if tier.below < standard => Some(format!(
                    "the top tier ends at {}% but the standard is {standard}%: availability in \
                     between would earn nothing",
                    tier.below
                )),
                Some(above) if above.at_least != tier.below => Some(format!(
                    "the tier above starts at {}% but this one ends at {}%: tiers must meet",
                    above.at_least, tier.below
                )),
                Some(above) if above.fee_percent > tier.fee_percent => Some(format!(
                    "fee_percent {}% is less than the {}% of the tier above: compensation must not \
                     fall as availability falls",
                    tier.fee_percent, above.fee_percent
                )),
                _ => None,
            }
        };
        if let Some(problem) = problem {
            return Err(at(span, format!("tier {}: {problem}", index + 1)));
        }
        tiers.push(tier);
    }
    let bottom = tiers.last().expect("checked non-empty");
    if bottom.at_least != Percent::ZERO {
        return Err(at(
            file.span(),
            format!(
                "the bottom tier starts at {}%: omit its at_least so it reaches 0%",
                bottom.at_least
            ),
        ));
    }
    Ok(tiers)
}

fn claim_window(
    file: &Spanned<ClaimWindowFile>,
    at: &At,
) -> Result<ClaimWindowRule, PolicyFileError> {
    let rule = ClaimWindowRule {
        opens_after_business_day: file.get_ref().opens_after_business_day,
        closes_after_days: file.get_ref().closes_after_days,
    };
    if !(1..=MAX_OPENING_BUSINESS_DAY).contains(&rule.opens_after_business_day) {
        return Err(at(
            file.span(),
            format!(
                "opens_after_business_day {} must be 1-{MAX_OPENING_BUSINESS_DAY}",
                rule.opens_after_business_day
            ),
        ));
    }
    if rule.closes_after_days == 0 {
        return Err(at(
            file.span(),
            "closes_after_days must be at least 1".into(),
        ));
    }
    Ok(rule)
}

fn clauses(files: &[Spanned<ClauseFile>], at: &At) -> Result<Vec<Clause>, PolicyFileError> {
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
            Some(name) => Some(
                Cause::from_name(name).ok_or_else(|| fail(format!("unknown cause '{name}'")))?,
            ),
        };
        let condition = condition(&file.condition).map_err(&fail)?;
        match (&condition, cause) {
            (Condition::CaseByCase, Some(cause)) => {
                return Err(fail(format!(
                    "a case_by_case clause names no cause, but this one names '{cause}'"
                )));
            }
            (Condition::CaseByCase, None) => {}
            (_, None) => return Err(fail("cause is required".into())),
            (_, Some(Cause::ProviderFault)) => {
                return Err(fail(
                    "provider_fault always counts; no clause may exclude it".into(),
                ));
            }
            (_, Some(_)) => {}
        }
        // Two clauses with the same cause and the same kind of condition: the second could never
        // be reached, so the file is ambiguous.
        let kind = std::mem::discriminant(&condition);
        if !seen_kinds.insert((cause, kind)) {
            return Err(fail(match cause {
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

fn condition(file: &ConditionFile) -> Result<Condition, String> {
    Ok(match file {
        ConditionFile::Always => Condition::Always,
        ConditionFile::ProviderNotice => Condition::ProviderNotice,
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
                match Decimal::from_str_exact(text) {
                    Ok(value) if !value.is_sign_negative() => Ok(value),
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

/// Turns a byte span into a 1-based line and column.
fn locate(path: &str, text: &str, span: Range<usize>, message: String) -> PolicyFileError {
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    PolicyFileError {
        path: path.to_string(),
        line,
        column,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
id = "custom"
name = "Custom"
service_month = "calendar"
time_zone = "America/New_York"
standard_percent = "99"

[source]
document = "custom.txt"
title = "Custom SLA"

[method]
kind = "timeslices"
slice_minutes = 1
bad_slice = "all_failed"

[compensation]
form = "cash"
tiers = [
  { at_least = "95", below = "99", fee_percent = "10" },
  { below = "95", fee_percent = "25" },
]

[claim_window]
opens_after_business_day = 5
closes_after_days = 60
"#;

    fn error_for(text: &str) -> PolicyFileError {
        parse_policy("p.toml", text).expect_err("the file should be refused")
    }

    #[test]
    fn a_minimal_policy_parses() {
        let policy = parse_policy("p.toml", MINIMAL).unwrap();
        assert_eq!(policy.id, "custom");
        assert_eq!(policy.tiers.len(), 2);
        assert_eq!(policy.tiers[1].at_least, Percent::ZERO);
        assert!(policy.clauses.is_empty());
    }

    #[test]
    fn a_gap_between_tiers_is_refused_at_its_line() {
        let text = MINIMAL.replace(r#"{ below = "95""#, r#"{ below = "94""#);
        let error = error_for(&text);
        assert_eq!(error.line, 21, "{error}");
        assert!(error.message.contains("tiers must meet"), "{error}");
        assert!(error.to_string().starts_with("p.toml:21:"), "{error}");
    }

    #[test]
    fn a_typo_in_a_key_is_refused_with_its_line() {
        let text = MINIMAL.replace("closes_after_days", "closes_after_dayz");
        let error = error_for(&text);
        assert!(error.message.contains("closes_after_dayz"), "{error}");
        assert!(error.line >= 25, "{error}");
    }

    #[test]
    fn an_unknown_zone_and_a_too_precise_standard_are_refused() {
        let error = error_for(&MINIMAL.replace("America/New_York", "Mars/Olympus"));
        assert_eq!(
            (error.line, error.message.contains("Mars/Olympus")),
            (5, true)
        );
        let error = error_for(&MINIMAL.replace(
            r#""99"
"#,
            r#""99.123456"
"#,
        ));
        assert!(
            error.message.contains("more than 4 decimal places"),
            "{error}"
        );
    }

    #[test]
    fn a_table_that_stops_short_of_the_standard_is_refused() {
        let text = MINIMAL.replace(r#"below = "99""#, r#"below = "98""#);
        assert!(error_for(&text).message.contains("would earn nothing"));
    }

    #[test]
    fn compensation_that_falls_with_availability_is_refused() {
        let text = MINIMAL.replace(r#"fee_percent = "25""#, r#"fee_percent = "5""#);
        assert!(error_for(&text).message.contains("must not fall"));
    }

    #[test]
    fn clause_mistakes_are_refused() {
        let unknown =
            format!("{MINIMAL}\n[[clauses]]\nid = \"9.1\"\ncause = \"gremlins\"\ntitle = \"x\"\n");
        let error = error_for(&unknown);
        assert!(
            error.message.contains("unknown cause 'gremlins'"),
            "{error}"
        );
        assert_eq!(error.line, 28, "{error}");

        let twice = format!(
            "{MINIMAL}\n[[clauses]]\nid = \"9.1\"\ncause = \"force_majeure\"\ntitle = \"x\"\n\
             [[clauses]]\nid = \"9.2\"\ncause = \"force_majeure\"\ntitle = \"y\"\n"
        );
        assert!(error_for(&twice).message.contains("already covers cause"));

        let provider = format!(
            "{MINIMAL}\n[[clauses]]\nid = \"9.1\"\ncause = \"provider_fault\"\ntitle = \"x\"\n"
        );
        assert!(error_for(&provider).message.contains("always counts"));
    }
}
