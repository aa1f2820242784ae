//! `[service_hours]`: the days and the local times availability is promised in.

use chrono::Weekday;
use toml::Spanned;

use super::format::{ServiceDaysFile, ServiceHoursFile};
use super::{At, PolicyFileError};
use crate::policy::service_hours::{MINUTES_PER_DAY, weekday_name};
use crate::policy::{Method, ServiceDays, ServiceHours};

const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// Reads the table: `days` is `"business"` or a list of weekday names, `from` and `to` are local
/// `HH:MM` times with `from` before `to` (`to` may be `24:00`). Under a method that cuts time into
/// slices or intervals, both must fall on their edges (08:00 with 5-minute slices, not 08:02),
/// so that no slice straddles the start or end of service hours on an ordinary day.
pub(super) fn service_hours(
    file: &Spanned<ServiceHoursFile>,
    method: &Method,
    at: &At,
) -> Result<ServiceHours, PolicyFileError> {
    let table = file.get_ref();
    let days = match table.days.get_ref() {
        ServiceDaysFile::Named(name) if name == "business" => ServiceDays::Business,
        ServiceDaysFile::Named(name) => {
            return Err(at(
                table.days.span(),
                format!(
                    "service_hours.days '{name}' must be \"business\" or a list of weekdays \
                     (\"mon\" to \"sun\")"
                ),
            ));
        }
        ServiceDaysFile::Weekdays(names) => {
            ServiceDays::Weekdays(weekdays(names, table.days.span(), at)?)
        }
    };
    let from_minute = clock(&table.from, "from", at)?;
    let to_minute = clock(&table.to, "to", at)?;
    if from_minute >= to_minute {
        return Err(at(
            table.to.span(),
            format!(
                "service_hours.to {} must be after from {} (hours that pass midnight are two \
                 ranges, which this table does not take)",
                table.to.get_ref(),
                table.from.get_ref()
            ),
        ));
    }
    if let Some(slice) = method.slice_minutes() {
        for (value, minute, key) in [
            (&table.from, from_minute, "from"),
            (&table.to, to_minute, "to"),
        ] {
            if !minute.is_multiple_of(slice) {
                return Err(at(
                    value.span(),
                    format!(
                        "service_hours.{key} {} is not on the edge of a {slice}-minute slice: \
                         a slice straddling it would never count",
                        value.get_ref()
                    ),
                ));
            }
        }
    }
    Ok(ServiceHours {
        days,
        from_minute,
        to_minute,
    })
}

/// The days named, each once, put in week order.
fn weekdays(
    names: &[String],
    span: std::ops::Range<usize>,
    at: &At,
) -> Result<Vec<Weekday>, PolicyFileError> {
    if names.is_empty() {
        return Err(at(
            span,
            "service_hours.days must name at least one day".into(),
        ));
    }
    let mut days = Vec::new();
    for name in names {
        let Some(&day) = WEEK.iter().find(|&&day| weekday_name(day) == name) else {
            return Err(at(
                span,
                format!(
                    "service_hours.days: unknown day '{name}' (the days are {})",
                    WEEK.map(weekday_name).join(", ")
                ),
            ));
        };
        if days.contains(&day) {
            return Err(at(span, format!("service_hours.days names '{name}' twice")));
        }
        days.push(day);
    }
    days.sort_by_key(|day| day.num_days_from_monday());
    Ok(days)
}

/// A local time `HH:MM`, 00:00 to 24:00, as minutes after midnight.
fn clock(value: &Spanned<String>, key: &str, at: &At) -> Result<u32, PolicyFileError> {
    let text = value.get_ref();
    let parsed = text.split_once(':').and_then(|(hours, minutes)| {
        let two_digits = |part: &str| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit());
        if !two_digits(hours) || !two_digits(minutes) {
            return None;
        }
        let (hours, minutes): (u32, u32) = (hours.parse().ok()?, minutes.parse().ok()?);
        (minutes < 60).then_some(hours * 60 + minutes)
    });
    match parsed {
        Some(minute) if minute <= MINUTES_PER_DAY => Ok(minute),
        _ => Err(at(
            value.span(),
            format!("service_hours.{key} '{text}' is not a local time HH:MM from 00:00 to 24:00"),
        )),
    }
}
