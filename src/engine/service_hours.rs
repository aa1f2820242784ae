//! Service hours laid on one service month: which of its clock minutes they cover.
//!
//! A policy's service hours are local times on some days ([`ServiceHours`]); a month's are the
//! instants those local times fall on, in the evaluation's zone, on the month's days that have
//! them (business days are the evaluation's calendar's). A local time a clock change skips is
//! read as the first minute after the gap, and one it repeats as its first occurrence, as the
//! month's own local midnight is. Every method then counts only what lies wholly inside them.

use std::ops::Range;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use fixedbitset::FixedBitSet;

use super::months::{SECONDS_PER_MINUTE, ServiceMonth, local_time};
use crate::calendar::BusinessCalendar;
use crate::policy::ServiceHours;

/// The minutes of one month inside its policy's service hours.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MonthHours {
    /// One bit per clock minute of the month, set inside service hours.
    minutes: FixedBitSet,
    /// The same minutes as ranges, merged where one ends as the next begins.
    periods: Vec<Range<u32>>,
}

impl MonthHours {
    /// The service hours of `month` (cut in `zone`), under `calendar` for business days.
    pub(crate) fn of(
        rule: &ServiceHours,
        month: &ServiceMonth,
        zone: Tz,
        calendar: &BusinessCalendar,
    ) -> Self {
        let clock_minutes = month.clock_minutes() as u32;
        let minute_of = |at: DateTime<Utc>| -> u32 {
            let seconds = (at - month.start).num_seconds().max(0);
            ((seconds / SECONDS_PER_MINUTE) as u32).min(clock_minutes)
        };
        let mut periods: Vec<Range<u32>> = Vec::new();
        for day in month
            .first_day
            .iter_days()
            .take_while(|d| *d <= month.last_day)
        {
            if !rule.applies_on(day, calendar) {
                continue;
            }
            let start = minute_of(local_time(zone, day, rule.from_minute));
            let end = minute_of(local_time(zone, day, rule.to_minute));
            if start >= end {
                continue;
            }
            match periods.last_mut() {
                Some(last) if last.end == start => last.end = end,
                _ => periods.push(start..end),
            }
        }
        MonthHours::from_periods(clock_minutes, periods)
    }

    /// The hours of a month of `clock_minutes` minutes made of these ascending, disjoint periods.
    pub(crate) fn from_periods(clock_minutes: u32, periods: Vec<Range<u32>>) -> Self {
        let mut minutes = FixedBitSet::with_capacity(clock_minutes as usize);
        for period in &periods {
            minutes.insert_range(period.start as usize..period.end as usize);
        }
        MonthHours { minutes, periods }
    }

    /// One bit per clock minute of the month, set inside service hours.
    pub(crate) fn minutes(&self) -> &FixedBitSet {
        &self.minutes
    }

    /// The month's service hours as clock-minute ranges, in order.
    pub(crate) fn periods(&self) -> &[Range<u32>] {
        &self.periods
    }

    /// Minutes inside service hours.
    pub(crate) fn len(&self) -> u64 {
        self.minutes.count_ones(..) as u64
    }

    /// Whether the clock minutes `range` lie wholly inside service hours.
    pub(crate) fn covers(&self, range: Range<usize>) -> bool {
        self.minutes.contains_all_in_range(range)
    }

    /// The first edge of service hours strictly inside `range` (clock minutes), if it has one: a
    /// stretch that is partly inside and partly outside.
    pub(crate) fn edge_inside(&self, range: Range<u32>) -> Option<u32> {
        self.periods
            .iter()
            .flat_map(|period| [period.start, period.end])
            .find(|&edge| range.start < edge && edge < range.end)
    }

    /// Whether every edge falls on a multiple of `width` minutes, so that no slice or interval of
    /// that width straddles one.
    pub(crate) fn aligned_to(&self, width: u32) -> bool {
        self.periods
            .iter()
            .all(|period| period.start % width == 0 && period.end % width == 0)
    }

    /// Heap bytes it holds.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.minutes.len().div_ceil(8) + self.periods.capacity() * std::mem::size_of::<Range<u32>>()
    }

    /// The most bytes a month of `minutes` clock minutes' service hours take: a bit a minute and
    /// a period a day (31 at most, merged or not).
    pub(crate) fn bytes_bound(minutes: u32) -> u64 {
        u64::from(minutes.div_ceil(8)) + 32 * std::mem::size_of::<Range<u32>>() as u64
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::engine::months::service_months;
    use crate::policy::{ServiceDays, ServiceMonthKind};

    fn month(zone: Tz, first: (i32, u32, u32), last: (i32, u32, u32)) -> ServiceMonth {
        let day = |(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        service_months(ServiceMonthKind::Calendar, day(first), day(last), zone)[0]
    }

    fn business(from: u32, to: u32) -> ServiceHours {
        ServiceHours {
            days: ServiceDays::Business,
            from_minute: from,
            to_minute: to,
        }
    }

    #[test]
    fn business_days_from_eight_to_eight() {
        // April 2024 in UTC: 22 weekdays, the first Monday the 1st.
        let april = month(Tz::UTC, (2024, 4, 1), (2024, 4, 30));
        let hours = MonthHours::of(
            &business(480, 1200),
            &april,
            Tz::UTC,
            &BusinessCalendar::default(),
        );
        assert_eq!(hours.periods().len(), 22);
        assert_eq!(hours.periods()[0], 480..1200);
        assert_eq!(hours.len(), 22 * 720);
        assert!(hours.covers(480..485) && !hours.covers(475..485));
        assert_eq!(hours.edge_inside(475..485), Some(480));
        assert!(hours.aligned_to(5) && !hours.aligned_to(7));
    }

    #[test]
    fn whole_days_merge_and_clock_changes_move_the_local_times() {
        // New York, March 2024: clocks go forward at 02:00 on Sunday the 10th.
        let zone: Tz = "America/New_York".parse().unwrap();
        let march = month(zone, (2024, 3, 1), (2024, 3, 31));
        let weekend = ServiceHours {
            days: ServiceDays::Weekdays(vec![chrono::Weekday::Sat, chrono::Weekday::Sun]),
            from_minute: 0,
            to_minute: 1440,
        };
        let hours = MonthHours::of(&weekend, &march, zone, &BusinessCalendar::default());
        // Sat 2 + Sun 3 merged, ... : five weekends, the 9th-10th one hour short.
        assert_eq!(hours.periods().len(), 5);
        assert_eq!(hours.len(), 10 * 1440 - 60);
        // 08:00 local on Monday the 11th is 08:00 EDT: clock minute 10 × 1440 + 480 − 60.
        let mornings = MonthHours::of(
            &business(480, 540),
            &march,
            zone,
            &BusinessCalendar::default(),
        );
        assert!(
            mornings
                .periods()
                .contains(&(10 * 1440 + 420..10 * 1440 + 480))
        );
    }
}
