//! Claim windows: from when until when a claim for a service month may be filed.
//!
//! Every built-in contract opens claims after the N-th business day of the following calendar month
//! and closes them N calendar days after the month's last day, so the answer depends on the
//! business calendar in use.

use chrono::{Datelike, Days, NaiveDate};

use super::report::{ClaimWindow, Note, NoteKind};
use super::spec::SpecError;
use crate::calendar::BusinessCalendar;
use crate::policy::ClaimWindowRule;

/// The claim window of a service month ending on `last_day`, or the calendar month that has too
/// few business days to open it.
pub fn claim_window(
    rule: &ClaimWindowRule,
    last_day: NaiveDate,
    calendar: &BusinessCalendar,
) -> Result<ClaimWindow, (i32, u32)> {
    let (year, month) = opening_month(last_day);
    let nth = calendar
        .nth_business_day(year, month, rule.opens_after_business_day)
        .ok_or((year, month))?;
    Ok(ClaimWindow {
        opens_on: nth + Days::new(1),
        closes_on: last_day + Days::new(u64::from(rule.closes_after_days)),
    })
}

/// The calendar month whose business days open the window of a service month ending on
/// `last_day`: the one after it.
fn opening_month(last_day: NaiveDate) -> (i32, u32) {
    if last_day.month() == 12 {
        (last_day.year() + 1, 1)
    } else {
        (last_day.year(), last_day.month() + 1)
    }
}

/// A note when the window of a service month ending on `last_day` opens in a year whose holidays
/// the calendar does not know, so that its business days were counted Monday to Friday
/// (docs/contract-readings.md, "Business days").
pub(super) fn out_of_range_note(last_day: NaiveDate, calendar: &BusinessCalendar) -> Option<Note> {
    let (year, month) = opening_month(last_day);
    let years = calendar.years().filter(|years| !years.contains(&year))?;
    Some(Note {
        kind: NoteKind::CalendarOutOfRange,
        text: format!(
            "Calendar '{}' knows holidays and make-up working days for {}-{} only, so the claim \
             window's business days in {year}-{month:02} were counted Monday to Friday \
             (docs/contract-readings.md, \"Business days\").",
            calendar.name(),
            years.start(),
            years.end()
        ),
    })
}

/// The claim window of a service month ending on `last_day`, refused when the calendar leaves too
/// few business days to open it or opens it only after it closes.
pub(super) fn for_month(
    rule: &ClaimWindowRule,
    last_day: NaiveDate,
    calendar: &BusinessCalendar,
) -> Result<ClaimWindow, SpecError> {
    let window = claim_window(rule, last_day, calendar).map_err(|(year, month)| {
        SpecError::TooFewBusinessDays {
            calendar: calendar.name().to_string(),
            year,
            month,
            needed: rule.opens_after_business_day,
        }
    })?;
    if window.opens_on > window.closes_on {
        return Err(SpecError::ClaimWindowEmpty {
            calendar: calendar.name().to_string(),
            last_day,
            opens_on: window.opens_on,
            closes_on: window.closes_on,
        });
    }
    Ok(window)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_claim_window_opens_after_the_fifth_business_day_of_the_next_month() {
        let rule = ClaimWindowRule {
            opens_after_business_day: 5,
            closes_after_days: 60,
        };
        let calendar = BusinessCalendar::default();
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        // March 2019 ends on a Sunday; April 1 2019 is a Monday, so the 5th business day is
        // Friday April 5 and claims open on Saturday April 6.
        let window = claim_window(&rule, day(2019, 3, 31), &calendar).unwrap();
        assert_eq!(window.opens_on, day(2019, 4, 6));
        assert_eq!(window.closes_on, day(2019, 5, 30));
        // A December month looks into January of the next year.
        let window = claim_window(&rule, day(2024, 12, 31), &calendar).unwrap();
        assert_eq!(window.opens_on, day(2025, 1, 8));
        // A calendar that leaves February almost without working days cannot open a window.
        let off = (1..=28).map(|d| day(2025, 2, d));
        let calendar = BusinessCalendar::new("strike", off, []).unwrap();
        assert_eq!(
            claim_window(&rule, day(2025, 1, 31), &calendar),
            Err((2025, 2))
        );
    }
}
