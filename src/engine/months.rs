//! Cutting a term into service months, in the evaluation's time zone.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use crate::policy::ServiceMonthKind;

/// Minutes the contracts count per day, whatever the clock does (docs/contract-readings.md,
/// "Time").
pub const MINUTES_PER_DAY: u64 = 1440;

/// Seconds in a minute: buckets, slices and months are all counted in whole clock minutes.
pub const SECONDS_PER_MINUTE: i64 = 60;

/// One service month: local dates and the instants they span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceMonth {
    /// The first day, local to the zone.
    pub first_day: NaiveDate,
    /// The last day, local to the zone, inclusive.
    pub last_day: NaiveDate,
    /// Local midnight starting `first_day`.
    pub start: DateTime<Utc>,
    /// Local midnight after `last_day`; exclusive.
    pub end: DateTime<Utc>,
}

impl ServiceMonth {
    /// Days in the month.
    pub fn days(&self) -> u64 {
        // last_day >= first_day by construction.
        (self.last_day - self.first_day).num_days().unsigned_abs() + 1
    }

    /// The month's length as the contracts define it: days × 1440, also across clock changes.
    pub fn contract_minutes(&self) -> u64 {
        self.days() * MINUTES_PER_DAY
    }

    /// The month's length on the clock, which differs from the contract's on a clock change.
    pub fn elapsed_seconds(&self) -> i64 {
        (self.end - self.start).num_seconds()
    }

    /// The month's length on the clock in minutes: what its ledger has a bit for each of.
    pub fn clock_minutes(&self) -> u64 {
        self.elapsed_seconds().unsigned_abs() / SECONDS_PER_MINUTE.unsigned_abs()
    }
}

/// The service months of the term `[first_day, last_day]`.
///
/// Calendar kind: every calendar month that overlaps the term, cut to it. Anniversary kind: month
/// *i* starts on `first_day` plus *i* months, clamped to the end of a short month (a term from the
/// 31st starts its February month on the 28th or 29th), and ends the day before the next starts.
/// Callers guarantee `first_day <= last_day`.
pub fn service_months(
    kind: ServiceMonthKind,
    first_day: NaiveDate,
    last_day: NaiveDate,
    zone: Tz,
) -> Vec<ServiceMonth> {
    let mut firsts = Vec::new();
    match kind {
        ServiceMonthKind::Calendar => {
            let mut first = first_day;
            while first <= last_day {
                firsts.push(first);
                first = first_of_next_month(first);
            }
        }
        ServiceMonthKind::Anniversary => {
            // Always from first_day, never from the previous month's start: stepping month by
            // month would carry a clamped 28th forward into March.
            let mut offset = 0;
            while let Some(first) = first_day.checked_add_months(Months::new(offset)) {
                if first > last_day {
                    break;
                }
                firsts.push(first);
                offset += 1;
            }
        }
    }
    firsts
        .iter()
        .enumerate()
        .map(|(index, &first)| {
            let last = firsts.get(index + 1).map_or(last_day, |next| {
                next.pred_opt().expect("a later date has a predecessor")
            });
            ServiceMonth {
                first_day: first,
                last_day: last,
                start: local_midnight(zone, first),
                end: local_midnight(zone, day_after(last)),
            }
        })
        .collect()
}

/// The instant a local day begins. Where midnight falls into a clock change's gap, the day begins
/// when the clock resumes; where it is ambiguous, at the earlier of the two.
pub fn local_midnight(zone: Tz, day: NaiveDate) -> DateTime<Utc> {
    local_time(zone, day, 0)
}

/// The instant `minute` minutes after midnight on `day` in `zone` (1440: the next day's
/// midnight): its earliest occurrence when a clock change repeats it, the first minute after the
/// gap when one skips it.
pub fn local_time(zone: Tz, day: NaiveDate, minute: u32) -> DateTime<Utc> {
    let mut local = day.and_time(NaiveTime::MIN) + TimeDelta::minutes(i64::from(minute));
    // No zone has skipped more than a day (Samoa, 2011-12-30), so two days of minutes suffice.
    for _ in 0..=2 * MINUTES_PER_DAY {
        if let Some(instant) = zone.from_local_datetime(&local).earliest() {
            return instant.with_timezone(&Utc);
        }
        local += TimeDelta::minutes(1);
    }
    unreachable!("{zone} has no valid local time within two days after {day} + {minute} min")
}

/// The day after `day`, which lies well inside chrono's range.
pub fn day_after(day: NaiveDate) -> NaiveDate {
    day.checked_add_days(Days::new(1))
        .expect("term dates are validated well inside chrono's range")
}

fn first_of_next_month(day: NaiveDate) -> NaiveDate {
    let (year, month) = if day.month() == 12 {
        (day.year() + 1, 1)
    } else {
        (day.year(), day.month() + 1)
    };
    NaiveDate::from_ymd_opt(year, month, 1).expect("the first of a month exists")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn spans(months: &[ServiceMonth]) -> Vec<(NaiveDate, NaiveDate)> {
        months.iter().map(|m| (m.first_day, m.last_day)).collect()
    }

    #[test]
    fn calendar_months_follow_the_contract_example() {
        // "three months starting from March 17": last day June 16, four service months.
        let months = service_months(
            ServiceMonthKind::Calendar,
            day(2024, 3, 17),
            day(2024, 6, 16),
            Tz::Asia__Shanghai,
        );
        assert_eq!(
            spans(&months),
            [
                (day(2024, 3, 17), day(2024, 3, 31)),
                (day(2024, 4, 1), day(2024, 4, 30)),
                (day(2024, 5, 1), day(2024, 5, 31)),
                (day(2024, 6, 1), day(2024, 6, 16)),
            ]
        );
        assert_eq!(months[0].contract_minutes(), 15 * 1440);
    }

    #[test]
    fn anniversary_months_follow_the_contract_example() {
        let months = service_months(
            ServiceMonthKind::Anniversary,
            day(2024, 3, 17),
            day(2024, 6, 16),
            Tz::Asia__Shanghai,
        );
        assert_eq!(
            spans(&months),
            [
                (day(2024, 3, 17), day(2024, 4, 16)),
                (day(2024, 4, 17), day(2024, 5, 16)),
                (day(2024, 5, 17), day(2024, 6, 16)),
            ]
        );
    }

    #[test]
    fn anniversary_months_from_the_31st_clamp_without_drifting() {
        // 2024 is a leap year: Jan 31 + 1 month is Feb 29, + 2 months is Mar 31 again.
        let months = service_months(
            ServiceMonthKind::Anniversary,
            day(2024, 1, 31),
            day(2024, 5, 30),
            Tz::UTC,
        );
        assert_eq!(
            spans(&months),
            [
                (day(2024, 1, 31), day(2024, 2, 28)),
                (day(2024, 2, 29), day(2024, 3, 30)),
                (day(2024, 3, 31), day(2024, 4, 29)),
                (day(2024, 4, 30), day(2024, 5, 30)),
            ]
        );
        // 2023 is not: Jan 31 + 1 month is Feb 28.
        let months = service_months(
            ServiceMonthKind::Anniversary,
            day(2023, 1, 31),
            day(2023, 3, 30),
            Tz::UTC,
        );
        assert_eq!(
            spans(&months),
            [
                (day(2023, 1, 31), day(2023, 2, 27)),
                (day(2023, 2, 28), day(2023, 3, 30)),
            ]
        );
    }

    #[test]
    fn a_term_shorter_than_a_month_is_one_month() {
        let months = service_months(
            ServiceMonthKind::Anniversary,
            day(2024, 3, 5),
            day(2024, 3, 5),
            Tz::UTC,
        );
        assert_eq!(spans(&months), [(day(2024, 3, 5), day(2024, 3, 5))]);
        assert_eq!(months[0].elapsed_seconds(), 86_400);
    }

    #[test]
    fn months_start_at_local_midnight_and_clock_changes_change_their_length_only() {
        // New York, March 2024: clocks spring forward on the 10th.
        let months = service_months(
            ServiceMonthKind::Calendar,
            day(2024, 3, 1),
            day(2024, 4, 30),
            Tz::America__New_York,
        );
        assert_eq!(months[0].start.to_rfc3339(), "2024-03-01T05:00:00+00:00");
        assert_eq!(months[0].end.to_rfc3339(), "2024-04-01T04:00:00+00:00");
        assert_eq!(months[0].elapsed_seconds(), (31 * 1440 - 60) * 60);
        assert_eq!(months[0].contract_minutes(), 31 * 1440);
        assert_eq!(months[1].elapsed_seconds(), 30 * 1440 * 60);
    }

    #[test]
    fn a_midnight_inside_a_gap_starts_the_day_when_the_clock_resumes() {
        // Santiago, 2022-09-11: clocks jumped from 00:00 to 01:00.
        let start = local_midnight(Tz::America__Santiago, day(2022, 9, 11));
        assert_eq!(start.to_rfc3339(), "2022-09-11T04:00:00+00:00");
    }
}
