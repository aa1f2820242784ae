//! Helpers for driving the engine directly in tests.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use sla_evaluator::calendar::BusinessCalendar;
use sla_evaluator::classify::{Facts, Outage, OutageWindow};
use sla_evaluator::engine::{Bucket, Evaluation, EvaluationSpec, MonthlyFee, Report};
use sla_evaluator::limits::Limits;
use sla_evaluator::policy::{Cause, Policy, PolicySet};

pub(crate) const SHANGHAI: Tz = Tz::Asia__Shanghai;

pub(crate) fn policy(id: &str) -> Arc<Policy> {
    PolicySet::built_in()
        .expect("built-in policies load")
        .get(id)
        .unwrap_or_else(|| panic!("no built-in policy {id}"))
        .clone()
}

pub(crate) fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("YYYY-MM-DD")
}

/// A local wall-clock time ("2019-03-05 10:00") in `zone`, as an instant.
pub(crate) fn local(zone: Tz, text: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("YYYY-MM-DD HH:MM");
    zone.from_local_datetime(&naive)
        .single()
        .expect("an unambiguous local time")
        .with_timezone(&Utc)
}

pub(crate) fn dec(text: &str) -> Decimal {
    Decimal::from_str_exact(text).expect("a decimal")
}

pub(crate) fn spec(first: &str, last: &str) -> EvaluationSpec {
    EvaluationSpec {
        term_first_day: day(first),
        term_last_day: day(last),
        time_zone: None,
        currency: None,
        fees: vec![],
        message_unit_price: None,
        calendar: BusinessCalendar::default(),
        as_of: AS_OF,
        max_intervals: 100,
        subscription: None,
    }
}

/// The instant the engine tests evaluate as of: after every term they use, so every month is over.
pub(crate) const AS_OF: DateTime<Utc> = match DateTime::from_timestamp(1_893_456_000, 0) {
    Some(at) => at,
    None => panic!("2030-01-01T00:00:00Z is a valid instant"),
};

/// The spec with a fee for every listed month start, in CNY.
pub(crate) fn with_fees(mut spec: EvaluationSpec, fees: &[(&str, &str, &str)]) -> EvaluationSpec {
    spec.currency = Some(iso_currency::Currency::CNY);
    spec.fees = fees
        .iter()
        .map(|(month, paid, deductions)| MonthlyFee {
            month_start: day(month),
            paid: dec(paid),
            deductions: dec(deductions),
        })
        .collect();
    spec
}

/// A one-minute bucket.
pub(crate) fn minute(start: DateTime<Utc>, total: u64, failed: u64) -> Bucket {
    Bucket {
        start,
        duration_seconds: 60,
        total,
        failed,
    }
}

/// `buckets` with every other minute of the local days `first..=last` (Shanghai) filled by a
/// one-minute bucket of 100 attempts that all succeeded: a month whose data is complete, so that
/// the month is decided by what the test puts in it.
pub(crate) fn filled(mut buckets: Vec<Bucket>, first: &str, last: &str) -> Vec<Bucket> {
    let covered: std::collections::HashSet<i64> = buckets
        .iter()
        .flat_map(|b| {
            let start = b.start.timestamp();
            (0..i64::from(b.duration_seconds) / 60).map(move |m| start + 60 * m)
        })
        .collect();
    let from = local(SHANGHAI, &format!("{first} 00:00")).timestamp();
    let to = local(SHANGHAI, &format!("{last} 00:00")).timestamp() + 86_400;
    for minute in (from..to).step_by(60) {
        if !covered.contains(&minute) {
            buckets.push(self::minute(
                DateTime::from_timestamp(minute, 0).unwrap(),
                100,
                0,
            ));
        }
    }
    buckets
}

/// Consecutive one-minute buckets from `start`.
pub(crate) fn minutes(start: DateTime<Utc>, count: i64, total: u64, failed: u64) -> Vec<Bucket> {
    (0..count)
        .map(|i| minute(start + chrono::TimeDelta::minutes(i), total, failed))
        .collect()
}

pub(crate) fn outage(
    id: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    cause: Cause,
    facts: Facts,
) -> Outage {
    Outage {
        id: id.to_string(),
        window: OutageWindow::new(start, end).expect("a non-empty window"),
        cause: Some(cause.into()),
        facts,
    }
}

pub(crate) fn evaluate(
    policy_id: &str,
    spec: EvaluationSpec,
    buckets: impl IntoIterator<Item = Bucket>,
    outages: impl IntoIterator<Item = Outage>,
) -> Report {
    let mut evaluation =
        Evaluation::new(policy(policy_id), spec, Limits::default()).expect("a valid spec");
    for bucket in buckets {
        evaluation.add_bucket(bucket).expect("a valid bucket");
    }
    for outage in outages {
        evaluation.add_outage(outage).expect("a valid outage");
    }
    evaluation.finish()
}
