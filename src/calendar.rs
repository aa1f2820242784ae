//! Business days: Monday to Friday, minus holidays, plus make-up working days.
//!
//! Both claim windows ("after the 5th business day") and TRTC's surge notice ("5 business days
//! ahead") count business days, and in China the answer depends on the holiday calendar of the
//! year. Calendars are data: the mainland China official calendar is built in
//! (`calendars/cn-mainland.toml`), more can be loaded from a directory ([`CalendarSet`]), and a
//! caller may still send one whole. Without any, only weekends are off.
//!
//! A calendar read from a file knows its holidays for a range of years only; outside it, days
//! count Monday to Friday and reports say so ([`BusinessCalendar::knows`]).

mod file;
mod set;

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use chrono::{Datelike, NaiveDate, Weekday};

/// A named set of days off and make-up working days.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusinessCalendar {
    name: String,
    holidays: BTreeSet<NaiveDate>,
    make_up_days: BTreeSet<NaiveDate>,
    /// The years whose holidays are known; `None` when the calendar claims every year.
    years: Option<RangeInclusive<i32>>,
}

pub use file::CalendarFileError;
pub use set::{CN_MAINLAND, CalendarLoadError, CalendarSet, UnknownCalendar};

/// Whether `name` can name a calendar: non-empty lowercase letters, digits and '-'.
pub fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The name the default calendar is reported under.
pub const WEEKENDS_ONLY: &str = "weekends-only";

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
/// Why a calendar cannot be built.
pub enum CalendarError {
    #[error("{0} is listed both as a holiday and as a make-up working day")]
    /// A day cannot be both off and worked.
    HolidayAndMakeUpDay(NaiveDate),
    #[error("{day} lies outside the calendar's years {first}-{last}")]
    /// A listed day outside the years the calendar says it knows.
    DayOutsideYears {
        /// The listed day.
        day: NaiveDate,
        /// The first year known.
        first: i32,
        /// The last year known.
        last: i32,
    },
}

impl Default for BusinessCalendar {
    fn default() -> Self {
        BusinessCalendar {
            name: WEEKENDS_ONLY.to_string(),
            holidays: BTreeSet::new(),
            make_up_days: BTreeSet::new(),
            years: None,
        }
    }
}

impl BusinessCalendar {
    /// A calendar; an empty `name` is reported as "custom".
    pub fn new(
        name: &str,
        holidays: impl IntoIterator<Item = NaiveDate>,
        make_up_days: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<Self, CalendarError> {
        let holidays: BTreeSet<NaiveDate> = holidays.into_iter().collect();
        let make_up_days: BTreeSet<NaiveDate> = make_up_days.into_iter().collect();
        if let Some(day) = holidays.intersection(&make_up_days).next() {
            return Err(CalendarError::HolidayAndMakeUpDay(*day));
        }
        let name = if name.trim().is_empty() {
            "custom"
        } else {
            name
        };
        Ok(BusinessCalendar {
            name: name.to_string(),
            holidays,
            make_up_days,
            years: None,
        })
    }

    /// The same calendar, knowing holidays for the years `first..=last` only: every listed day
    /// must lie in them.
    pub fn with_years(mut self, first: i32, last: i32) -> Result<Self, CalendarError> {
        let outside = self
            .holidays
            .iter()
            .chain(&self.make_up_days)
            .find(|day| !(first..=last).contains(&day.year()));
        if let Some(&day) = outside {
            return Err(CalendarError::DayOutsideYears { day, first, last });
        }
        self.years = Some(first..=last);
        Ok(self)
    }

    /// The years whose holidays the calendar knows; `None` when it claims every year.
    pub fn years(&self) -> Option<&RangeInclusive<i32>> {
        self.years.as_ref()
    }

    /// Whether the calendar knows the holidays of `year`. Outside its years a calendar counts
    /// Monday to Friday (it lists no day there), and reports say so.
    pub fn knows(&self, year: i32) -> bool {
        self.years
            .as_ref()
            .is_none_or(|years| years.contains(&year))
    }

    /// The name responses report the calendar under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The days off, ascending.
    pub fn holidays(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.holidays.iter().copied()
    }

    /// The weekend days worked, ascending.
    pub fn make_up_days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.make_up_days.iter().copied()
    }

    /// Monday to Friday unless a holiday, and any make-up working day.
    pub fn is_business_day(&self, day: NaiveDate) -> bool {
        if self.make_up_days.contains(&day) {
            return true;
        }
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        !weekend && !self.holidays.contains(&day)
    }

    /// The `n`-th business day (1-based) of the given calendar month, or `None` if the month has
    /// fewer than `n`.
    pub fn nth_business_day(&self, year: i32, month: u32, n: u32) -> Option<NaiveDate> {
        let first = NaiveDate::from_ymd_opt(year, month, 1)?;
        first
            .iter_days()
            .take_while(|day| day.month() == month)
            .filter(|&day| self.is_business_day(day))
            .nth(usize::try_from(n).ok()?.checked_sub(1)?)
    }

    /// Counts the business days in `[from, until)`, up to `enough`.
    ///
    /// Counted, not walked: the weekdays of the span by arithmetic, less the listed holidays on
    /// weekdays, plus the listed make-up days on weekends. Walking the span day by day cost two
    /// set lookups a day, and a calendar sent whole listing every day of centuries off made one
    /// surge outage's notice a walk of hundreds of thousands of days; counted, it costs a step per
    /// listed day in the span, and a notice given years ahead under the built-in calendar a few
    /// hundred.
    pub fn business_days_between(&self, from: NaiveDate, until: NaiveDate, enough: u32) -> u32 {
        if from >= until || enough == 0 {
            return 0;
        }
        let weekend = |day: &NaiveDate| matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        // No day is both (`new` refuses it), so each listed day moves the count at most once.
        let off = self
            .holidays
            .range(from..until)
            .filter(|day| !weekend(day))
            .count() as u64;
        let worked = self
            .make_up_days
            .range(from..until)
            .filter(|day| weekend(day))
            .count() as u64;
        let count = weekdays_between(from, until) - off + worked;
        u32::try_from(count.min(u64::from(enough))).expect("at most `enough`, a u32")
    }
}

/// The Mondays to Fridays in `[from, until)`, `from` before `until`.
fn weekdays_between(from: NaiveDate, until: NaiveDate) -> u64 {
    let days = (until - from).num_days().unsigned_abs();
    let first = u64::from(from.weekday().num_days_from_monday());
    // Whole weeks hold five each; the days left over start on `from`'s weekday.
    let left = (0..days % 7).filter(|i| (first + i) % 7 < 5).count() as u64;
    days / 7 * 5 + left
}

#[cfg(test)]
mod tests {
    use chrono::Days;

    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn weekends_only_counts_weekdays() {
        let calendar = BusinessCalendar::default();
        // April 2019 starts on a Monday.
        assert_eq!(calendar.nth_business_day(2019, 4, 5), Some(day(2019, 4, 5)));
        // June 2024 starts on a Saturday.
        assert_eq!(calendar.nth_business_day(2024, 6, 1), Some(day(2024, 6, 3)));
        assert_eq!(calendar.nth_business_day(2024, 6, 30), None);
        assert_eq!(calendar.name(), WEEKENDS_ONLY);
    }

    #[test]
    fn holidays_are_skipped_and_make_up_days_count() {
        // China, October 2024: 1-7 off, Saturday 12 worked.
        let holidays = (1..=7).map(|d| day(2024, 10, d));
        let calendar = BusinessCalendar::new("cn-2024", holidays, [day(2024, 10, 12)]).unwrap();
        assert_eq!(
            calendar.nth_business_day(2024, 10, 1),
            Some(day(2024, 10, 8))
        );
        assert_eq!(
            calendar.nth_business_day(2024, 10, 5),
            Some(day(2024, 10, 12))
        );
        assert!(!calendar.is_business_day(day(2024, 10, 13)));
    }

    #[test]
    fn a_calendar_knows_its_years_only() {
        let calendar = BusinessCalendar::new("cn", [day(2024, 10, 1)], [])
            .unwrap()
            .with_years(2024, 2024)
            .unwrap();
        assert!(calendar.knows(2024));
        assert!(!calendar.knows(2025));
        assert!(BusinessCalendar::default().knows(1));
        assert_eq!(
            calendar.clone().with_years(2025, 2026),
            Err(CalendarError::DayOutsideYears {
                day: day(2024, 10, 1),
                first: 2025,
                last: 2026
            })
        );
    }

    #[test]
    fn a_day_cannot_be_both_off_and_worked() {
        let both = day(2024, 10, 12);
        assert_eq!(
            BusinessCalendar::new("x", [both], [both]),
            Err(CalendarError::HolidayAndMakeUpDay(both))
        );
    }

    #[test]
    fn business_days_between_counts_the_start_day_not_the_end_day() {
        let calendar = BusinessCalendar::default();
        // Monday 2024-03-04 to Monday 2024-03-11: Mon..Fri.
        assert_eq!(
            calendar.business_days_between(day(2024, 3, 4), day(2024, 3, 11), 10),
            5
        );
        assert_eq!(
            calendar.business_days_between(day(2024, 3, 4), day(2024, 3, 8), 10),
            4
        );
        assert_eq!(
            calendar.business_days_between(day(2000, 1, 1), day(2024, 3, 8), 5),
            5
        );
    }

    #[test]
    fn counting_business_days_agrees_with_walking_them() {
        let walked = |calendar: &BusinessCalendar, from: NaiveDate, until: NaiveDate, enough| {
            let mut count = 0;
            let mut day = from;
            while day < until && count < enough {
                count += u32::from(calendar.is_business_day(day));
                day = day.succ_opt().unwrap();
            }
            count
        };
        // Holidays on every third day and make-up days on every fifth weekend day, over 2024.
        let year: Vec<NaiveDate> = day(2024, 1, 1)
            .iter_days()
            .take_while(|d| d.year() == 2024)
            .collect();
        let holidays = year.iter().copied().filter(|d| d.ordinal() % 3 == 0);
        let make_up = year.iter().copied().filter(|d| {
            d.ordinal() % 3 != 0
                && matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
                && d.ordinal() % 5 == 0
        });
        let calendar = BusinessCalendar::new("mixed", holidays, make_up).unwrap();
        for (from, until) in [
            (day(2024, 1, 1), day(2024, 1, 1)),
            (day(2024, 3, 1), day(2024, 2, 1)),
            (day(2023, 12, 25), day(2024, 1, 9)),
            (day(2024, 2, 3), day(2024, 11, 30)),
            (day(2000, 1, 1), day(2030, 1, 1)),
        ] {
            for enough in [0, 1, 5, 40, 10_000] {
                for shift in 0..7 {
                    let from = from + Days::new(shift);
                    assert_eq!(
                        calendar.business_days_between(from, until, enough),
                        walked(&calendar, from, until, enough),
                        "{from} to {until}, {enough} enough"
                    );
                }
            }
        }
    }
}
