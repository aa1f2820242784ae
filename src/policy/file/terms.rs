//! The terms around the numbers: the claim window, the credit's minimum and cap, the standard's
//! edge, and the causes a policy declares itself.

use std::collections::HashSet;

use iso_currency::Currency;
use toml::Spanned;

use super::format::{CauseFile, ClaimWindowFile, CompensationFile, EdgeFile, OpensFile};
use super::{At, PolicyFileError};
use crate::policy::{
    Cause, ClaimCloses, ClaimOpens, ClaimWindowRule, Edge, MinAmount, Percent, PolicyCause,
};

/// A calendar month never has more business days than this (23 weekdays), before make-up days.
const MAX_OPENING_BUSINESS_DAY: u32 = 23;
/// The furthest calendar month a window may close at the end of: a year after the service month.
const MAX_CLOSING_MONTHS: u32 = 12;

pub(super) fn edge(file: Option<EdgeFile>) -> Edge {
    match file {
        None | Some(EdgeFile::AtLeast) => Edge::AtLeast,
        Some(EdgeFile::Above) => Edge::Above,
    }
}

/// Exactly one opening and one closing rule; absent, the policy states no window.
pub(super) fn claim_window(
    file: Option<&Spanned<ClaimWindowFile>>,
    at: &At,
) -> Result<Option<ClaimWindowRule>, PolicyFileError> {
    let Some(file) = file else {
        return Ok(None);
    };
    let fail = |message: String| at(file.span(), format!("claim_window: {message}"));
    let window = file.get_ref();
    let opens = match (window.opens_after_business_day, window.opens) {
        (Some(day), None) if (1..=MAX_OPENING_BUSINESS_DAY).contains(&day) => {
            ClaimOpens::AfterBusinessDay(day)
        }
        (Some(day), None) => {
            return Err(at(
                file.span(),
                format!("opens_after_business_day {day} must be 1-{MAX_OPENING_BUSINESS_DAY}"),
            ));
        }
        (None, Some(OpensFile::AfterPeriod)) => ClaimOpens::AfterPeriod,
        (Some(_), Some(_)) => {
            return Err(fail(
                "give one of opens_after_business_day and opens, not both".into(),
            ));
        }
        (None, None) => {
            return Err(fail(
                "opens_after_business_day = N or opens = \"after_period\" is required".into(),
            ));
        }
    };
    let closes = match (window.closes_after_days, window.closes_at_end_of_month) {
        (Some(0), None) => {
            return Err(at(
                file.span(),
                "closes_after_days must be at least 1".into(),
            ));
        }
        (Some(days), None) => ClaimCloses::AfterDays(days),
        (None, Some(months)) if (1..=MAX_CLOSING_MONTHS).contains(&months) => {
            ClaimCloses::AtEndOfMonth(months)
        }
        (None, Some(months)) => {
            return Err(fail(format!(
                "closes_at_end_of_month {months} must be 1-{MAX_CLOSING_MONTHS}"
            )));
        }
        (Some(_), Some(_)) => {
            return Err(fail(
                "give one of closes_after_days and closes_at_end_of_month, not both".into(),
            ));
        }
        (None, None) => {
            return Err(fail(
                "closes_after_days = N or closes_at_end_of_month = N is required".into(),
            ));
        }
    };
    Ok(Some(ClaimWindowRule { opens, closes }))
}

/// The minimum amount a month's credit must reach, with its currency and edge.
pub(super) fn min_amount(
    file: &CompensationFile,
    at: &At,
) -> Result<Option<MinAmount>, PolicyFileError> {
    let Some(text) = &file.min_amount else {
        if let Some(currency) = &file.min_amount_currency {
            return Err(at(
                currency.span(),
                "min_amount_currency needs min_amount".into(),
            ));
        }
        if file.min_amount_met_at.is_some() {
            return Err(at(
                file.form.span(),
                "min_amount_met_at needs min_amount".into(),
            ));
        }
        return Ok(None);
    };
    let amount = match crate::strict::decimal(text.get_ref()) {
        Some(value) if value.is_sign_positive() && !value.is_zero() => value,
        _ => {
            return Err(at(
                text.span(),
                format!(
                    "min_amount '{}' must be a decimal above 0, e.g. \"1.00\"",
                    text.get_ref()
                ),
            ));
        }
    };
    let currency = match &file.min_amount_currency {
        None => None,
        Some(code) => Some(Currency::from_code(code.get_ref()).ok_or_else(|| {
            at(
                code.span(),
                format!(
                    "min_amount_currency '{}' is not an ISO 4217 code",
                    code.get_ref()
                ),
            )
        })?),
    };
    Ok(Some(MinAmount {
        amount,
        currency,
        met_at: edge(file.min_amount_met_at),
    }))
}

/// The cap on a month's amount, as a share of its eligible fee; 100% by default.
pub(super) fn cap(file: &CompensationFile, at: &At) -> Result<Percent, PolicyFileError> {
    let Some(text) = &file.cap_percent else {
        return Ok(Percent::HUNDRED);
    };
    let cap: Percent = text
        .get_ref()
        .parse()
        .map_err(|e| at(text.span(), format!("cap_percent: {e}")))?;
    if cap == Percent::ZERO {
        return Err(at(text.span(), "cap_percent must be above 0".into()));
    }
    Ok(cap)
}

/// The causes a policy declares: ids that no shared cause has, each once, each with a title.
pub(super) fn causes(
    files: &[Spanned<CauseFile>],
    at: &At,
) -> Result<Vec<PolicyCause>, PolicyFileError> {
    let mut seen = HashSet::new();
    let mut causes = Vec::new();
    for spanned in files {
        let file = spanned.get_ref();
        let fail = |message: String| at(spanned.span(), format!("cause '{}': {message}", file.id));
        if file.id.is_empty()
            || !file
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(fail(
                "a cause id must be non-empty lowercase letters, digits and '_'".into(),
            ));
        }
        if Cause::from_name(&file.id).is_some() {
            return Err(fail(
                "the shared vocabulary already has this cause: name it in clauses without \
                 declaring it"
                    .into(),
            ));
        }
        if !seen.insert(file.id.clone()) {
            return Err(fail("the cause is declared twice".into()));
        }
        if file.title.trim().is_empty() {
            return Err(fail("title must not be empty".into()));
        }
        causes.push(PolicyCause {
            id: file.id.clone(),
            title: file.title.clone(),
        });
    }
    Ok(causes)
}
