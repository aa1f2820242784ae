//! The policy file format (TOML) and its validation into a [`Policy`].
//!
//! Every check that TOML's own types cannot express (tier tables that leave gaps, a percent with
//! too many places, a clause naming an unknown cause) is made here, and every refusal points at the
//! line of the offending value, because a policy author fixes files, not structs.

mod clauses;
mod format;
mod tables;

use std::ops::Range;
use std::str::FromStr;

use chrono_tz::Tz;
use sha2::{Digest, Sha256};
use toml::Spanned;

use super::{CompensationForm, Percent, Policy, ServiceMonthKind, SourceDocument};
use clauses::clauses;
use format::{FormFile, PolicyFile, ServiceMonthFile};
use tables::{claim_window, method, tiers};

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
    /// What is wrong.
    pub message: String,
}

/// Parses and validates one policy file. `path` is only used in error messages.
pub(super) fn parse_policy(path: &str, text: &str) -> Result<Policy, PolicyFileError> {
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
        Some(date) => Some(crate::text::date(date.get_ref()).ok_or_else(|| {
            at(
                date.span(),
                format!("last_updated '{}' is not a YYYY-MM-DD date", date.get_ref()),
            )
        })?),
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
        calendar: file.calendar.map(Spanned::into_inner),
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
        revision: revision(text),
    })
}

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
    let (line, column) = crate::text::line_column(text, span.start);
    PolicyFileError {
        path: path.to_string(),
        line,
        column,
        message,
    }
}

#[cfg(test)]
mod tests;
