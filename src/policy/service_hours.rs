//! Service hours: the part of the week a contract promises availability in ("8×5", "07:00–20:00
//! on business days"). Outside them nothing counts, in the numerator or the denominator; the
//! engine (`engine::service_hours`) lays them on each service month.

use chrono::{Datelike, NaiveDate, Weekday};

use crate::calendar::BusinessCalendar;

/// Minutes in a day of the clock as the policy reads it: service hours are local times, 00:00
/// to 24:00.
pub(crate) const MINUTES_PER_DAY: u32 = 1440;

/// The hours availability is promised in, as local times in the evaluation's zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceHours {
    /// The days that have service hours.
    pub days: ServiceDays,
    /// Minutes after local midnight the hours start, inclusive: 08:00 is 480.
    pub from_minute: u32,
    /// Minutes after local midnight they end, exclusive, after `from_minute`: 20:00 is 1200, and
    /// 24:00 (1440) the end of the day.
    pub to_minute: u32,
}

/// The days service hours apply on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceDays {
    /// The business days of the evaluation's calendar (its holidays off, its make-up working days
    /// on).
    Business,
    /// These days of the week, Monday first, each once.
    Weekdays(Vec<Weekday>),
}

impl ServiceHours {
    /// Whether `day` (a local date) has service hours, under the evaluation's calendar.
    pub fn applies_on(&self, day: NaiveDate, calendar: &BusinessCalendar) -> bool {
        match &self.days {
            ServiceDays::Business => calendar.is_business_day(day),
            ServiceDays::Weekdays(days) => days.contains(&day.weekday()),
        }
    }

    /// The local start time, "08:00".
    pub fn from_text(&self) -> String {
        clock(self.from_minute)
    }

    /// The local end time, "20:00"; "24:00" for the end of the day.
    pub fn to_text(&self) -> String {
        clock(self.to_minute)
    }

    /// In a few words: "business days 08:00-20:00", "mon, tue, wed 07:00-19:00".
    pub fn describe(&self) -> String {
        let days = match &self.days {
            ServiceDays::Business => "business days".to_string(),
            ServiceDays::Weekdays(days) => days
                .iter()
                .map(|&day| weekday_name(day))
                .collect::<Vec<_>>()
                .join(", "),
        };
        format!("{days} {}-{}", self.from_text(), self.to_text())
    }
}

/// A weekday's name in policy files: "mon" to "sun".
pub(crate) fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

/// `minute` minutes after midnight as "HH:MM".
fn clock(minute: u32) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekdays_and_business_days_pick_their_days() {
        let hours = ServiceHours {
            days: ServiceDays::Weekdays(vec![Weekday::Sat, Weekday::Sun]),
            from_minute: 7 * 60,
            to_minute: MINUTES_PER_DAY,
        };
        let calendar = BusinessCalendar::default();
        let saturday = NaiveDate::from_ymd_opt(2024, 4, 6).unwrap();
        assert!(hours.applies_on(saturday, &calendar));
        assert!(!hours.applies_on(saturday.succ_opt().unwrap().succ_opt().unwrap(), &calendar));
        assert_eq!(hours.describe(), "sat, sun 07:00-24:00");
        let business = ServiceHours {
            days: ServiceDays::Business,
            ..hours
        };
        assert!(!business.applies_on(saturday, &calendar));
        assert_eq!(business.describe(), "business days 07:00-24:00");
    }
}
