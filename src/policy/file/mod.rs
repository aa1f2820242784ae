//! The policy file format (TOML) and its validation into a [`Policy`].
//!
//! Every check that TOML's own types cannot express (tier tables that leave gaps, a percent with
//! too many places, a clause naming an unknown cause) is made here, and every refusal points at the
//! line of the offending value, because a policy author fixes files, not structs.

mod clauses;
mod format;
mod tables;
mod terms;

use std::ops::Range;
use std::str::FromStr;

use chrono_tz::Tz;
use sha2::{Digest, Sha256};
use toml::Spanned;

use super::{CompensationForm, Percent, Policy, ServiceMonthKind, SourceDocument};
use clauses::clauses;
use format::{FormFile, PolicyFile, ServiceMonthFile};
use tables::{method, tiers};

/// A policy file that cannot be used, with where and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}:{column}: {message}")]
pub struct PolicyFileError {
    /// The file, as named to the loader.
    pub path: String,
    /// 1-based line of the offending value.
    pub line: usize,
    /// 1-based column of the offending value.
    pub column: usize,
    /// What is wrong with the value there, for a person to fix it by.
    pub message: String,
}

/// A parsed policy and the lines of the keys a set of versions is checked on, so that a conflict
/// between two files points into each.
pub(super) struct Parsed {
    pub(super) policy: Policy,
    pub(super) lines: Lines,
}

/// 1-based lines of the keys the versions of one id are compared on.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Lines {
    pub(super) version: usize,
    pub(super) effective_from: usize,
    pub(super) service_month: usize,
    pub(super) time_zone: usize,
    pub(super) method: usize,
    pub(super) form: usize,
}

/// Parses and validates one policy file. `path` is only used in error messages.
#[cfg(test)]
pub(super) fn parse_policy(path: &str, text: &str) -> Result<Policy, PolicyFileError> {
    parse(path, text).map(|parsed| parsed.policy)
}

/// Parses and validates one policy file, keeping the lines of the keys versions are compared on.
pub(super) fn parse(path: &str, text: &str) -> Result<Parsed, PolicyFileError> {
    let line = |span: Range<usize>| locate(path, text, span, String::new()).line;
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
    if let Some(name) = &file.calendar
        && !crate::calendar::is_name(name.get_ref())
    {
        return Err(at(
            name.span(),
            format!(
                "calendar '{}' must be non-empty lowercase letters, digits and '-'",
                name.get_ref()
            ),
        ));
    }
    let standard = percent(&file.standard_percent, "standard_percent", &at)?;
    if standard == Percent::ZERO {
        return Err(at(
            file.standard_percent.span(),
            "standard_percent must be above 0".into(),
        ));
    }
    let last_updated = match &file.source.last_updated {
        None => None,
        Some(date) => Some(crate::strict::date(date.get_ref()).ok_or_else(|| {
            at(
                date.span(),
                format!("last_updated '{}' is not a YYYY-MM-DD date", date.get_ref()),
            )
        })?),
    };
    let effective_from = match &file.effective_from {
        None => None,
        Some(date) => Some(crate::strict::date(date.get_ref()).ok_or_else(|| {
            at(
                date.span(),
                format!(
                    "effective_from '{}' is not a YYYY-MM-DD date",
                    date.get_ref()
                ),
            )
        })?),
    };
    let version = match &file.version {
        Some(label)
            if label.get_ref().trim().is_empty() || label.get_ref().trim() != label.get_ref() =>
        {
            return Err(at(
                label.span(),
                "version must be non-empty, without leading or trailing spaces".into(),
            ));
        }
        Some(label) => label.get_ref().clone(),
        None => effective_from.map_or_else(|| DEFAULT_VERSION.to_string(), |d| d.to_string()),
    };
    let lines = Lines {
        version: file
            .version
            .as_ref()
            .map_or(line(file.id.span()), |v| line(v.span())),
        effective_from: file
            .effective_from
            .as_ref()
            .map_or(line(file.id.span()), |v| line(v.span())),
        service_month: line(file.service_month.span()),
        time_zone: line(file.time_zone.span()),
        method: line(file.method.span()),
        form: line(file.compensation.form.span()),
    };
    let method = method(&file.method, &at)?;
    let standard_met_at = terms::edge(file.standard_met_at);
    if standard_met_at == crate::policy::Edge::Above && standard == Percent::HUNDRED {
        return Err(at(
            file.standard_percent.span(),
            "standard_percent 100 met only above it could never be met".into(),
        ));
    }
    let (tiers, tier_bounds) = tiers(&file.compensation.tiers, standard, standard_met_at, &at)?;
    let min_amount = terms::min_amount(&file.compensation, &at)?;
    let cap = terms::cap(&file.compensation, &at)?;
    let claim_window = terms::claim_window(file.claim_window.as_ref(), &at)?;
    let causes = terms::causes(&file.causes, &at)?;
    let clauses = clauses(&file.clauses, &causes, &at)?;

    let policy = Policy {
        id: file.id.into_inner(),
        name: file.name.into_inner(),
        version,
        effective_from,
        source: SourceDocument {
            file: file.source.document,
            title: file.source.title,
            last_updated,
        },
        service_month: match file.service_month.into_inner() {
            ServiceMonthFile::Calendar => ServiceMonthKind::Calendar,
            ServiceMonthFile::Anniversary => ServiceMonthKind::Anniversary,
        },
        time_zone,
        calendar: file.calendar.map(Spanned::into_inner),
        method,
        standard,
        standard_met_at,
        tiers,
        tier_bounds,
        form: match file.compensation.form.into_inner() {
            FormFile::Voucher => CompensationForm::Voucher,
            FormFile::Cash => CompensationForm::Cash,
            FormFile::MessageCredits => CompensationForm::MessageCredits,
            FormFile::ServiceCredit => CompensationForm::ServiceCredit,
        },
        min_amount,
        cap,
        claim_window,
        causes,
        clauses,
        revision: revision(text),
    };
    Ok(Parsed { policy, lines })
}

/// The version label of a file that names neither `version` nor `effective_from`.
const DEFAULT_VERSION: &str = "1";

type At<'a> = dyn Fn(Range<usize>, String) -> PolicyFileError + 'a;

fn percent(value: &Spanned<String>, field: &str, at: &At) -> Result<Percent, PolicyFileError> {
    value
        .get_ref()
        .parse()
        .map_err(|e| at(value.span(), format!("{field}: {e}")))
}

/// The file's revision: `sha256:` and the hex SHA-256 of its bytes.
fn revision(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256:{hex}")
}

/// Turns a byte span into a 1-based line and column.
fn locate(path: &str, text: &str, span: Range<usize>, message: String) -> PolicyFileError {
    let (line, column) = crate::strict::line_column(text, span.start);
    PolicyFileError {
        path: path.to_string(),
        line,
        column,
        message,
    }
}

#[cfg(test)]
mod tests;
