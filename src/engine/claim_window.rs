//! Claim windows: from when until when a claim for a service month may be filed.
//!
//! The built-in Tencent contracts open claims after the N-th business day of the following
//! calendar month, so their answer depends on the business calendar in use; public SLAs open them
//! when the period ends. A window closes N calendar days after the month's last day, or at the end
//! of the N-th calendar month after it ("by the end of the second billing cycle after").

use chrono::{Datelike, Days, Months, NaiveDate};

use super::report::{ClaimWindow, Note, NoteKind};
use super::spec::SpecError;
use crate::calendar::BusinessCalendar;
use crate::policy::{ClaimCloses, ClaimOpens, ClaimWindowRule};

/// The claim window of a service month ending on `last_day`, or the calendar month that has too
/// few business days to open it (only a window that opens after a business day can fail).
pub fn claim_window(
    rule: &ClaimWindowRule,
    last_day: NaiveDate,
    calendar: &BusinessCalendar,
) -> Result<ClaimWindow, (i32, u32)> {
    let opens_on = match rule.opens {
        ClaimOpens::AfterBusinessDay(day) => {
            let (year, month) = opening_month(last_day);
            calendar
                .nth_business_day(year, month, day)
                .ok_or((year, month))?
                + Days::new(1)
        }
        ClaimOpens::AfterPeriod => last_day + Days::new(1),
    };
    let closes_on = match rule.closes {
        ClaimCloses::AfterDays(days) => last_day + Days::new(u64::from(days)),
        ClaimCloses::AtEndOfMonth(months) => end_of_month_after(last_day, months),
    };
    Ok(ClaimWindow {
        opens_on,
        closes_on,
    })
}

/// The last day of the `months`-th calendar month after the one `day` falls in: March 31 and 2
/// give May 31, January 15 and 1 give February 28 (or 29).
fn end_of_month_after(day: NaiveDate, months: u32) -> NaiveDate {
    let first = day.with_day(1).expect("every month has a first day");
    first + Months::new(months + 1) - Days::new(1)
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

/// A note when the window of a service month ending on `last_day` opens after a business day of a
/// year whose holidays the calendar does not know, so that its business days were counted Monday
/// to Friday (docs/contract-readings.md, "Business days").
pub(super) fn out_of_range_note(
    rule: &ClaimWindowRule,
    last_day: NaiveDate,
    calendar: &BusinessCalendar,
) -> Option<Note> {
    if rule.opens == ClaimOpens::AfterPeriod {
        return None;
    }
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

/// A note on every month of a policy that states no claim window: the report gives no claim dates
/// (docs/contract-readings.md, "Claim windows a document leaves unstated").
pub(super) fn not_stated_note() -> Note {
    Note {
        kind: NoteKind::ClaimWindowNotStated,
        text: "The policy states no claim window (its document's claim deadline could not be \
               confirmed), so no claim dates are given: check the provider's current terms before \
               filing (docs/contract-readings.md, \"Claim windows a document leaves unstated\")."
            .into(),
    }
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
            // Only a business-day opening can find too few of them.
            needed: match rule.opens {
                ClaimOpens::AfterBusinessDay(day) => day,
                ClaimOpens::AfterPeriod => unreachable!("opening after the period never fails"),
            },
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
            opens: ClaimOpens::AfterBusinessDay(5),
            closes: ClaimCloses::AfterDays(60),
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

    #[test]
    fn public_sla_windows_open_when_the_period_ends_and_close_at_a_month_end() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let calendar = BusinessCalendar::default();
        // "By the end of the second billing cycle after": March → May 31.
        let aws = ClaimWindowRule {
            opens: ClaimOpens::AfterPeriod,
            closes: ClaimCloses::AtEndOfMonth(2),
        };
        let window = claim_window(&aws, day(2024, 3, 31), &calendar).unwrap();
        assert_eq!(window.opens_on, day(2024, 4, 1));
        assert_eq!(window.closes_on, day(2024, 5, 31));
        // December looks into the next year; a month ending mid-month (a term's last part month)
        // closes at the end of its calendar month's second successor.
        let window = claim_window(&aws, day(2024, 12, 31), &calendar).unwrap();
        assert_eq!(window.closes_on, day(2025, 2, 28));
        let window = claim_window(&aws, day(2024, 11, 15), &calendar).unwrap();
        assert_eq!(window.opens_on, day(2024, 11, 16));
        assert_eq!(window.closes_on, day(2025, 1, 31));
        // One month after January: the end of February, in a leap year the 29th.
        assert_eq!(end_of_month_after(day(2024, 1, 31), 1), day(2024, 2, 29));
        // Google: 30 days from the close of the month.
        let google = ClaimWindowRule {
            opens: ClaimOpens::AfterPeriod,
            closes: ClaimCloses::AfterDays(30),
        };
        let window = claim_window(&google, day(2024, 4, 30), &calendar).unwrap();
        assert_eq!(window.opens_on, day(2024, 5, 1));
        assert_eq!(window.closes_on, day(2024, 5, 30));
    }
}
