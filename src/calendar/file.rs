//! The calendar file format (TOML), read into a [`BusinessCalendar`]; every refusal points at the
//! line of the offending value. `calendars/cn-mainland.toml` is the example:
//!
//! ```toml
//! name = "cn-mainland"            # what specs and policies select it by
//! title = "Mainland China official working calendar"
//! first_year = 2007               # the years whose holidays are listed
//! last_year = 2026
//!
//! [source]                        # where the days come from
//! title = "..."
//! provider = "..."
//! retrieved = "2026-11-23"
//! notices = ["https://..."]       # optional
//!
//! [days]
//! holidays = ["2019-04-05"]       # days off that would otherwise be worked
//! make_up_working_days = ["2019-04-28"]  # weekend days worked
//! ```

use std::ops::Range;

use chrono::NaiveDate;
use serde::Deserialize;
use toml::Spanned;

use super::BusinessCalendar;

/// A calendar file that cannot be used, with where and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}:{column}: {message}")]
pub struct CalendarFileError {
    /// The file, as named to the loader.
    pub path: String,
    /// 1-based line of the offending value.
    pub line: usize,
    /// 1-based column of the offending value.
    pub column: usize,
    /// What is wrong with the value there, for a person to fix it by.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    name: Spanned<String>,
    title: String,
    first_year: Spanned<i32>,
    last_year: Spanned<i32>,
    source: SourceFile,
    days: DaysFile,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "read to check the file's shape; provenance for people"
)]
struct SourceFile {
    title: String,
    provider: String,
    retrieved: Spanned<String>,
    #[serde(default)]
    notices: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DaysFile {
    holidays: Vec<Spanned<String>>,
    make_up_working_days: Vec<Spanned<String>>,
}

/// Years a calendar file may cover, as the service reads dates.
const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// Parses and validates one calendar file. `path` is only used in error messages.
pub(super) fn parse_calendar(
    path: &str,
    text: &str,
) -> Result<BusinessCalendar, CalendarFileError> {
    let at = |span: Range<usize>, message: String| {
        let (line, column) = crate::strict::line_column(text, span.start);
        CalendarFileError {
            path: path.to_string(),
            line,
            column,
            message,
        }
    };
    let file: CalendarFile =
        toml::from_str(text).map_err(|e| at(e.span().unwrap_or(0..0), e.message().to_string()))?;
    let name = file.name.get_ref();
    if !super::is_name(name) {
        return Err(at(
            file.name.span(),
            format!("calendar name '{name}' must be non-empty lowercase letters, digits and '-'"),
        ));
    }
    if file.title.trim().is_empty() {
        return Err(at(0..0, "title must not be empty".into()));
    }
    if crate::strict::date(file.source.retrieved.get_ref()).is_none() {
        return Err(at(
            file.source.retrieved.span(),
            format!(
                "retrieved '{}' is not a YYYY-MM-DD date",
                file.source.retrieved.get_ref()
            ),
        ));
    }
    let (first, last) = (*file.first_year.get_ref(), *file.last_year.get_ref());
    for year in [&file.first_year, &file.last_year] {
        if !YEARS.contains(year.get_ref()) {
            return Err(at(
                year.span(),
                format!("year {} is outside 1-9999", year.get_ref()),
            ));
        }
    }
    if last < first {
        return Err(at(
            file.last_year.span(),
            format!("last_year {last} is before first_year {first}"),
        ));
    }
    let dates = |list: &[Spanned<String>]| -> Result<Vec<NaiveDate>, CalendarFileError> {
        let mut seen = std::collections::BTreeSet::new();
        list.iter()
            .map(|text| {
                let day = crate::strict::date(text.get_ref()).ok_or_else(|| {
                    at(
                        text.span(),
                        format!("'{}' is not a YYYY-MM-DD date", text.get_ref()),
                    )
                })?;
                if !(first..=last).contains(&chrono::Datelike::year(&day)) {
                    return Err(at(
                        text.span(),
                        format!("{day} lies outside first_year {first} to last_year {last}"),
                    ));
                }
                if !seen.insert(day) {
                    return Err(at(text.span(), format!("{day} is listed twice")));
                }
                Ok(day)
            })
            .collect()
    };
    let holidays = dates(&file.days.holidays)?;
    let make_up_days = dates(&file.days.make_up_working_days)?;
    let calendar = BusinessCalendar::new(name, holidays, make_up_days)
        .and_then(|calendar| calendar.with_years(first, last))
        .map_err(|error| {
            let span = match error {
                super::CalendarError::HolidayAndMakeUpDay(day) => file
                    .days
                    .make_up_working_days
                    .iter()
                    .find(|text| crate::strict::date(text.get_ref()) == Some(day))
                    .map_or(0..0, Spanned::span),
                super::CalendarError::DayOutsideYears { .. } => 0..0,
            };
            at(span, error.to_string())
        })?;
    Ok(calendar)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"name = "test-cal"
title = "A test calendar"
first_year = 2024
last_year = 2024

[source]
title = "Made up"
provider = "The tests"
retrieved = "2026-01-01"

[days]
holidays = ["2024-10-01", "2024-10-02"]
make_up_working_days = ["2024-10-12"]
"#;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_good_file_reads_into_a_calendar() {
        let calendar = parse_calendar("good.toml", GOOD).unwrap();
        assert_eq!(calendar.name(), "test-cal");
        assert!(!calendar.is_business_day(day(2024, 10, 1)));
        assert!(calendar.is_business_day(day(2024, 10, 12)));
        assert_eq!(calendar.years(), Some(&(2024..=2024)));
    }

    #[test]
    fn bad_values_are_refused_with_file_and_line() {
        for (from, to, line, says) in [
            (
                "\"2024-10-02\"",
                "\"2024-10-32\"",
                12,
                "not a YYYY-MM-DD date",
            ),
            ("\"2024-10-02\"", "\"2025-10-02\"", 12, "outside first_year"),
            ("\"2024-10-02\"", "\"2024-10-01\"", 12, "listed twice"),
            ("\"2024-10-12\"", "\"2024-10-01\"", 13, "both as a holiday"),
            (
                "last_year = 2024",
                "last_year = 2023",
                4,
                "before first_year",
            ),
            ("\"test-cal\"", "\"Test Cal\"", 1, "lowercase"),
            (
                "retrieved = \"2026-01-01\"",
                "retrieved = \"soon\"",
                9,
                "retrieved",
            ),
            ("[days]", "colour = 1\n[days]", 11, "unknown field"),
        ] {
            let text = GOOD.replace(from, to);
            let error = parse_calendar("bad.toml", &text).unwrap_err();
            assert_eq!(
                (error.path.as_str(), error.line),
                ("bad.toml", line),
                "{error}"
            );
            assert!(error.message.contains(says), "{error}");
        }
    }
}
