//! Requests into domain values. Every string is parsed and every range checked here, so a handler
//! only ever holds valid values, and every refusal names the field path, the value and the rule.
//!
//! Proto messages are destructured exhaustively: a field added to the .proto breaks the build here
//! until it is handled, instead of being silently ignored.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use iso_currency::Currency;
use rust_decimal::Decimal;

use super::error::{ApiError, At};
use super::pb;
use super::quoted::Quoted;
use crate::calendar::{BusinessCalendar, CalendarSet};
use crate::classify::{AccountKind, Facts, Notice, Outage, OutageWindow};
use crate::engine::{EvaluationSpec, MonthlyFee};
use crate::limits::{MAX_ID_CHARS, MAX_TEXT_CHARS};
use crate::policy::{Cause, CauseId, Policy, PolicySet, PolicyVersions};
use crate::strict;

/// Every version of a policy, looked up by id.
pub(super) fn policy_versions(
    policies: &PolicySet,
    field: &str,
    id: &str,
) -> Result<PolicyVersions, ApiError> {
    if id.is_empty() {
        return Err(ApiError::invalid(field, format!("{field} is required")));
    }
    policies
        .versions(id)
        .cloned()
        .ok_or_else(|| ApiError::PolicyNotFound(id.to_string()))
}

/// An Evaluate stream's first message, read.
pub(super) struct Request {
    /// The policy evaluated under, every version: each month takes the one in force on its first
    /// day.
    pub(super) policy: PolicyVersions,
    /// The engine's spec.
    pub(super) spec: EvaluationSpec,
    /// How many buckets the client says the stream carries.
    pub(super) expected_buckets: Option<u64>,
    /// The subscription evaluated, when the spec names one.
    pub(super) subscription: Option<String>,
    /// What the evaluation restates, when it restates anything.
    pub(super) restatement: Option<Restatement>,
}

/// Intervals a month's evidence lists of each kind when the spec does not say.
const DEFAULT_MAX_INTERVALS: u32 = 100;

/// The policy and the engine's spec from an Evaluate stream's first message; `received` is when
/// the server received it, the evaluation's `as_of` unless the spec names one.
pub(super) fn evaluation_spec(
    policies: &PolicySet,
    calendars: &CalendarSet,
    spec: pb::EvaluationSpec,
    received: DateTime<Utc>,
) -> Result<Request, ApiError> {
    let pb::EvaluationSpec {
        policy_id,
        term_start,
        term_end,
        time_zone: zone,
        currency: currency_code,
        fees,
        message_unit_price,
        calendar: business_calendar,
        as_of,
        expected_buckets,
        max_intervals,
        calendar_name,
        subscription,
        restates,
        restatement_reason,
    } = spec;
    let policy = policy_versions(policies, "spec.policy_id", &policy_id)?;
    let subscription = opaque_text("spec.subscription", subscription, MAX_SUBSCRIPTION_BYTES)?;
    let restatement = restatement(restates, restatement_reason)?;
    let fees = fees
        .into_iter()
        .enumerate()
        .map(|(index, fee)| {
            monthly_fee(&format!("spec.fees[{index}]"), fee)
                .map_err(|error| error.at(At::Fee { index }))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let term_first_day = date("spec.term_start", &term_start)?;
    let spec = EvaluationSpec {
        term_first_day,
        term_last_day: date("spec.term_end", &term_end)?,
        time_zone: time_zone("spec.time_zone", &zone)?,
        currency: currency("spec.currency", &currency_code)?,
        fees,
        message_unit_price: optional_decimal("spec.message_unit_price", &message_unit_price)?,
        // One calendar counts the whole term: the default of the version in force when it
        // starts (docs/contract-readings.md, "Policy versions").
        calendar: chosen_calendar(
            calendars,
            policy.in_force_or_earliest(term_first_day),
            "spec.",
            business_calendar,
            &calendar_name,
        )?,
        as_of: match as_of {
            Some(timestamp) => instant("spec.as_of", Some(&timestamp))?,
            None => received,
        },
        max_intervals: max_intervals.unwrap_or(DEFAULT_MAX_INTERVALS),
        subscription: subscription.clone(),
    };
    Ok(Request {
        policy,
        spec,
        expected_buckets,
        subscription,
        restatement,
    })
}

/// The longest subscription id accepted.
const MAX_SUBSCRIPTION_BYTES: usize = 256;
/// The longest restatement reason accepted.
const MAX_REASON_BYTES: usize = 1000;

/// An opaque identifier or text: at most `max` bytes, no control characters (a line feed would
/// make the input digest's canonical form ambiguous). Empty means none.
pub(super) fn opaque_text(
    field: &str,
    text: String,
    max: usize,
) -> Result<Option<String>, ApiError> {
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() > max {
        return Err(ApiError::invalid(
            field,
            format!(
                "{field} is {} bytes long; at most {max} are accepted",
                text.len()
            ),
        ));
    }
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(ApiError::invalid(
            field,
            format!("{field} {text:?} contains the control character {c:?}"),
        ));
    }
    Ok(Some(text))
}

/// What an evaluation restates: an earlier statement, by its id in the ledger or its input
/// digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Restates {
    /// `Statement.id`.
    Statement(u64),
    /// `Provenance.input_digest`.
    Digest(String),
}

/// The restatement a spec asks for, with its reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Restatement {
    /// What it restates.
    pub(super) restates: Restates,
    /// `restates` as the spec wrote it.
    pub(super) text: String,
    /// Why.
    pub(super) reason: String,
}

pub(super) fn restatement(
    restates: String,
    reason: String,
) -> Result<Option<Restatement>, ApiError> {
    let reason = opaque_text("spec.restatement_reason", reason, MAX_REASON_BYTES)?;
    let field = "spec.restates";
    match (restates.is_empty(), reason) {
        (true, None) => Ok(None),
        (true, Some(_)) => Err(ApiError::invalid(
            "spec.restatement_reason",
            "spec.restatement_reason is set but spec.restates is not: name the statement (its id, \
             or its input digest) that this evaluation restates",
        )),
        (false, None) => Err(ApiError::invalid(
            "spec.restatement_reason",
            format!(
                "spec.restates is '{restates}' but spec.restatement_reason is empty: say why the \
                 earlier statement is replaced"
            ),
        )),
        (false, Some(reason)) => {
            let parsed = if let Some(hex) = restates.strip_prefix("sha256:") {
                (hex.len() == 64
                    && hex
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
                .then(|| Restates::Digest(restates.clone()))
            } else {
                restates
                    .parse::<u64>()
                    .ok()
                    .filter(|id| {
                        *id > 0 && !restates.starts_with('+') && !restates.starts_with('0')
                    })
                    .map(Restates::Statement)
            };
            let restates_parsed = parsed.ok_or_else(|| {
                ApiError::invalid(
                    field,
                    format!(
                        "{field} '{restates}' is neither a statement id (a decimal number from 1) \
                         nor an input digest (sha256: and 64 lowercase hex digits)"
                    ),
                )
            })?;
            Ok(Some(Restatement {
                restates: restates_parsed,
                text: restates,
                reason,
            }))
        }
    }
}

fn monthly_fee(field: &str, fee: pb::MonthlyFee) -> Result<MonthlyFee, ApiError> {
    let pb::MonthlyFee {
        month_start,
        paid,
        deductions,
    } = fee;
    Ok(MonthlyFee {
        month_start: date(&format!("{field}.month_start"), &month_start)?,
        paid: required_decimal(&format!("{field}.paid"), &paid)?,
        deductions: optional_decimal(&format!("{field}.deductions"), &deductions)?
            .unwrap_or(Decimal::ZERO),
    })
}

/// The calendar a call counts business days in: the one it sent whole, else the loaded one it
/// names in `{prefix}calendar_name`, else the policy version's default, else weekends only.
pub(super) fn chosen_calendar(
    calendars: &CalendarSet,
    policy: &Policy,
    prefix: &str,
    sent: Option<pb::BusinessCalendar>,
    name: &str,
) -> Result<BusinessCalendar, ApiError> {
    if sent.is_some() {
        return calendar(&format!("{prefix}calendar"), sent);
    }
    if !name.is_empty() {
        let field = format!("{prefix}calendar_name");
        return calendars.get(name).cloned().map_err(|unknown| {
            ApiError::invalid(
                &field,
                format!(
                    "{field} {} names no loaded calendar; known calendars: {}",
                    Quoted(name),
                    unknown.known.join(", ")
                ),
            )
        });
    }
    match &policy.calendar {
        None => Ok(BusinessCalendar::default()),
        // The server checks policies' calendars when it loads them; kept for a set built otherwise.
        Some(name) => calendars.get(name).cloned().map_err(|unknown| {
            let field = format!("{prefix}calendar_name");
            ApiError::invalid(
                &field,
                format!(
                    "policy '{}' counts business days in calendar '{name}', which is not loaded; \
                     name one in {field} (known calendars: {})",
                    policy.id,
                    unknown.known.join(", ")
                ),
            )
        }),
    }
}

/// A business calendar sent whole; absent means weekends only.
fn calendar(
    field: &str,
    calendar: Option<pb::BusinessCalendar>,
) -> Result<BusinessCalendar, ApiError> {
    let Some(pb::BusinessCalendar {
        name,
        holidays,
        make_up_working_days,
    }) = calendar
    else {
        return Ok(BusinessCalendar::default());
    };
    let dates = |list: &[String], what: &str| -> Result<Vec<NaiveDate>, ApiError> {
        list.iter()
            .enumerate()
            .map(|(index, text)| {
                // The field's path is only written for a refusal: a calendar may list centuries
                // of days.
                strict::date(text)
                    .map_or_else(|| date(&format!("{field}.{what}[{index}]"), text), Ok)
            })
            .collect()
    };
    at_most(&format!("{field}.name"), &name, MAX_ID_CHARS)?;
    let holidays = dates(&holidays, "holidays")?;
    let make_up_days = dates(&make_up_working_days, "make_up_working_days")?;
    BusinessCalendar::new(&name, holidays, make_up_days).map_err(|error| {
        ApiError::invalid(
            format!("{field}.make_up_working_days"),
            format!("{field}: {error}"),
        )
    })
}

/// Text a response repeats (an id, a name, a quoted basis) may have at most `max` characters, so
/// that what a response repeats is bounded (see `crate::limits`).
fn at_most(field: &str, text: &str, max: usize) -> Result<(), ApiError> {
    // Bytes bound characters from above: most texts are decided without counting.
    if text.len() <= max || text.chars().count() <= max {
        return Ok(());
    }
    Err(ApiError::invalid(
        field,
        format!(
            "{field} {} is longer than the {max} characters it may have",
            Quoted(text)
        ),
    ))
}

/// A date "YYYY-MM-DD" with a year from 0001 to 9999 (see [`strict::date`]).
pub(super) fn date(field: &str, text: &str) -> Result<NaiveDate, ApiError> {
    if text.is_empty() {
        return Err(ApiError::invalid(
            field,
            format!("{field} is required (YYYY-MM-DD)"),
        ));
    }
    strict::date(text).ok_or_else(|| {
        ApiError::invalid(
            field,
            format!(
                "{field} {} is not a date of the form YYYY-MM-DD with a year from 0001 to 9999",
                Quoted(text)
            ),
        )
    })
}

/// An IANA zone; empty means "the policy's default".
pub(super) fn time_zone(field: &str, text: &str) -> Result<Option<Tz>, ApiError> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<Tz>().map(Some).map_err(|_| {
        ApiError::invalid(
            field,
            format!(
                "{field} {} is not an IANA time zone (e.g. Asia/Shanghai)",
                Quoted(text)
            ),
        )
    })
}

fn currency(field: &str, code: &str) -> Result<Option<Currency>, ApiError> {
    if code.is_empty() {
        return Ok(None);
    }
    Currency::from_code(code).map(Some).ok_or_else(|| {
        ApiError::invalid(
            field,
            format!(
                "{field} {} is not an ISO 4217 currency code (e.g. CNY, USD)",
                Quoted(code)
            ),
        )
    })
}

fn required_decimal(field: &str, text: &str) -> Result<Decimal, ApiError> {
    optional_decimal(field, text)?
        .ok_or_else(|| ApiError::invalid(field, format!("{field} is required (a decimal string)")))
}

/// A decimal string; empty means absent. Only plain decimals are read (see [`strict::decimal`]):
/// exponents, separators, underscores and anything a `Decimal` could only approximate are refused.
fn optional_decimal(field: &str, text: &str) -> Result<Option<Decimal>, ApiError> {
    if text.is_empty() {
        return Ok(None);
    }
    strict::decimal(text).map(Some).ok_or_else(|| {
        ApiError::invalid(
            field,
            format!(
                "{field} {} is not a decimal number written plainly (digits and one point, e.g. \
                 1234.56)",
                Quoted(text)
            ),
        )
    })
}

/// The seconds a `google.protobuf.Timestamp` may hold: from 0001-01-01T00:00:00Z to
/// 9999-12-31T23:59:59Z, as it defines them.
pub(super) const TIMESTAMP_SECONDS: std::ops::RangeInclusive<i64> =
    -62_135_596_800..=253_402_300_799;

/// An instant; `None` is refused as missing. Nanos must lie in `0..1_000_000_000`, as
/// `google.protobuf.Timestamp` defines them (chrono would read up to two seconds of nanos as a
/// leap second).
pub(super) fn instant(
    field: &str,
    timestamp: Option<&prost_types::Timestamp>,
) -> Result<DateTime<Utc>, ApiError> {
    let Some(timestamp) = timestamp else {
        return Err(ApiError::invalid(field, format!("{field} is required")));
    };
    u32::try_from(timestamp.nanos)
        .ok()
        .filter(|&nanos| nanos < 1_000_000_000 && TIMESTAMP_SECONDS.contains(&timestamp.seconds))
        .and_then(|nanos| DateTime::from_timestamp(timestamp.seconds, nanos))
        .ok_or_else(|| {
            ApiError::invalid(
                field,
                format!(
                    "{field} {{seconds: {}, nanos: {}}} is not a valid instant",
                    timestamp.seconds, timestamp.nanos
                ),
            )
        })
}

/// An outage; `field` is its path in the request (`outages[2]`, `outage`).
pub(super) fn outage(field: &str, outage: pb::Outage) -> Result<Outage, ApiError> {
    let pb::Outage {
        id,
        start,
        end,
        cause: cause_value,
        facts: outage_facts,
        policy_cause,
    } = outage;
    at_most(&format!("{field}.id"), &id, MAX_ID_CHARS)?;
    at_most(
        &format!("{field}.policy_cause"),
        &policy_cause,
        MAX_ID_CHARS,
    )?;
    let start = instant(&format!("{field}.start"), start.as_ref())?;
    let end = instant(&format!("{field}.end"), end.as_ref())?;
    let window = OutageWindow::new(start, end)
        .map_err(|error| ApiError::invalid(format!("{field}.end"), format!("{field}: {error}")))?;
    let shared = cause(&format!("{field}.cause"), cause_value)?;
    let cause = match (shared, policy_cause.is_empty()) {
        (shared, true) => shared.map(CauseId::Shared),
        (None, false) => Some(CauseId::Declared(policy_cause)),
        (Some(shared), false) => {
            return Err(ApiError::invalid(
                format!("{field}.policy_cause"),
                format!(
                    "{field}: cause {shared} and policy_cause '{policy_cause}' are both set; an \
                     outage has one cause"
                ),
            ));
        }
    };
    Ok(Outage {
        id,
        window,
        cause,
        facts: facts(&format!("{field}.facts"), outage_facts.unwrap_or_default())?,
    })
}

fn cause(field: &str, value: i32) -> Result<Option<Cause>, ApiError> {
    use pb::Cause as P;
    let known = P::try_from(value)
        .map_err(|_| ApiError::invalid(field, format!("{field} {value} is not a known Cause")))?;
    Ok(Some(match known {
        P::Unspecified => return Ok(None),
        P::ProviderFault => Cause::ProviderFault,
        P::CustomerFault => Cause::CustomerFault,
        P::CredentialLeak => Cause::CredentialLeak,
        P::AttackOnCustomer => Cause::AttackOnCustomer,
        P::GuidelineViolation => Cause::GuidelineViolation,
        P::CustomerNegligence => Cause::CustomerNegligence,
        P::IllegalContent => Cause::IllegalContent,
        P::TrafficSurge => Cause::TrafficSurge,
        P::TrialFeature => Cause::TrialFeature,
        P::AnnouncedEvent => Cause::AnnouncedEvent,
        P::ScheduledMaintenance => Cause::ScheduledMaintenance,
        P::ThirdPartyNetwork => Cause::ThirdPartyNetwork,
        P::ForceMajeure => Cause::ForceMajeure,
        P::RegulatoryControl => Cause::RegulatoryControl,
        P::InvalidNumber => Cause::InvalidNumber,
        P::PlatformRuleViolation => Cause::PlatformRuleViolation,
        P::RecipientHarassmentReport => Cause::RecipientHarassmentReport,
        P::NotAttributableToProvider => Cause::NotAttributableToProvider,
    }))
}

fn facts(field: &str, facts: pb::OutageFacts) -> Result<Facts, ApiError> {
    let pb::OutageFacts {
        provider_notice,
        customer_notice,
        concurrency_surge,
        peak_qps,
        daily_messages,
        account_kind,
        number_blocked,
        exemption_basis,
        audio_video_chatroom,
    } = facts;
    at_most(
        &format!("{field}.exemption_basis"),
        &exemption_basis,
        MAX_TEXT_CHARS,
    )?;
    let peak_qps = optional_decimal(&format!("{field}.peak_qps"), &peak_qps)?;
    if let Some(qps) = peak_qps
        && qps.is_sign_negative()
        && !qps.is_zero()
    {
        return Err(ApiError::invalid(
            format!("{field}.peak_qps"),
            format!("{field}.peak_qps {qps} must not be negative"),
        ));
    }
    let account_kind = match pb::AccountKind::try_from(account_kind) {
        Ok(pb::AccountKind::Unspecified) => None,
        Ok(pb::AccountKind::Standard) => Some(AccountKind::Standard),
        Ok(pb::AccountKind::Gateway) => Some(AccountKind::Gateway),
        Err(_) => {
            return Err(ApiError::invalid(
                format!("{field}.account_kind"),
                format!("{field}.account_kind {account_kind} is not a known AccountKind"),
            ));
        }
    };
    Ok(Facts {
        provider_notice: notice(&format!("{field}.provider_notice"), provider_notice)?,
        customer_notice: notice(&format!("{field}.customer_notice"), customer_notice)?,
        concurrency_surge,
        peak_qps,
        daily_messages,
        account_kind,
        number_blocked,
        exemption_basis: (!exemption_basis.trim().is_empty()).then_some(exemption_basis),
        audio_video_chatroom,
    })
}

fn notice(field: &str, notice: Option<pb::Notice>) -> Result<Option<Notice>, ApiError> {
    let Some(pb::Notice {
        status,
        given_at,
        written,
    }) = notice
    else {
        return Ok(None);
    };
    match pb::NoticeStatus::try_from(status) {
        Ok(pb::NoticeStatus::Unspecified) => Ok(None),
        Ok(pb::NoticeStatus::NotGiven) => Ok(Some(Notice::NotGiven)),
        Ok(pb::NoticeStatus::Given) => Ok(Some(Notice::Given {
            at: instant(&format!("{field}.given_at"), given_at.as_ref())?,
            written,
        })),
        Err(_) => Err(ApiError::invalid(
            format!("{field}.status"),
            format!("{field}.status {status} is not a known NoticeStatus"),
        )),
    }
}

/// A bucket's duration; 0 means a minute.
pub(super) fn duration_seconds(value: u32) -> u32 {
    if value == 0 { 60 } else { value }
}
