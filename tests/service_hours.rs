//! Service hours through a real server: policies promising availability on business days from
//! 08:00 to 20:00 only, under each method. April 2024 (UTC) has 22 weekdays, so 15,840 minutes of
//! service hours.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use common::methods::{MINUTE_SLICES, business_hours, maintenance, policies};
use common::requests::{bare_spec, buckets, evaluate, spec_message};
use common::server::TestServer;
use sla_evaluator::api::pb::{self, evaluate_request::Item};
use sla_evaluator::limits::Limits;
use sla_evaluator::policy::PolicySet;

/// 2024-04-01T00:00:00Z, a Monday.
const APRIL: i64 = 1_711_929_600;
const APRIL_MINUTES: i64 = 30 * 1440;
const SERVICE_MINUTES: u64 = 22 * 720;

fn server() -> TestServer {
    TestServer::start_with(policies(), Limits::default())
}

fn stream(
    spec: pb::EvaluationSpec,
    buckets: Vec<pb::EvaluateRequest>,
    outages: Vec<pb::Outage>,
) -> Vec<pb::EvaluateRequest> {
    let mut messages = vec![spec_message(spec)];
    messages.extend(buckets);
    messages.extend(outages.into_iter().map(|outage| pb::EvaluateRequest {
        item: Some(Item::Outage(outage)),
    }));
    messages
}

fn status(month: &pb::MonthReport) -> pb::MonthStatus {
    pb::MonthStatus::try_from(month.status).unwrap()
}

/// Minute `minute` of April: day (from 0) and minute of the day.
fn at(day: i64, hour: i64, minute: i64) -> i64 {
    day * 1440 + hour * 60 + minute
}

#[tokio::test]
async fn the_policy_shows_its_service_hours() {
    let weekend = business_hours("weekend", MINUTE_SLICES)
        .replace("days = \"business\"", "days = [\"sun\", \"sat\"]")
        .replace("from = \"08:00\"", "from = \"00:00\"")
        .replace("to = \"20:00\"", "to = \"24:00\"");
    let set = policies()
        .with_policy_text("weekend.toml", &weekend)
        .unwrap();
    let server = TestServer::start_with(set, Limits::default());
    let mut client = server.client().await;
    let get = |id: &str| pb::GetPolicyRequest {
        policy_id: id.into(),
    };
    let hours = client
        .get_policy(get("hours-slices"))
        .await
        .unwrap()
        .into_inner()
        .service_hours
        .unwrap();
    assert!(hours.business_days && hours.weekdays.is_empty());
    assert_eq!(
        (hours.start_time.as_str(), hours.end_time.as_str()),
        ("08:00", "20:00")
    );
    let hours = client
        .get_policy(get("weekend"))
        .await
        .unwrap()
        .into_inner()
        .service_hours
        .unwrap();
    assert!(!hours.business_days);
    assert_eq!(
        hours.weekdays,
        [pb::Weekday::Saturday as i32, pb::Weekday::Sunday as i32]
    );
    assert_eq!(hours.end_time, "24:00");
    // The built-in policies have none.
    let im = client
        .get_policy(get("tencent-im"))
        .await
        .unwrap()
        .into_inner();
    assert!(im.service_hours.is_none());
}

#[tokio::test]
async fn only_slices_inside_service_hours_count() {
    let server = server();
    // Bad minutes: 10 inside service hours (Monday 09:00-09:10), 5 more at their start (07:55 to
    // 08:05, half outside), 60 in the evening and 60 on Saturday, which do not count. The
    // weekend of the 13th and Tuesday night 22:00-23:00 have no data, which cannot matter.
    let bad = |minute: i64| {
        (at(0, 9, 0)..at(0, 9, 10)).contains(&minute)
            || (at(0, 7, 55)..at(0, 8, 5)).contains(&minute)
            || (at(0, 21, 0)..at(0, 22, 0)).contains(&minute)
            || (at(5, 10, 0)..at(5, 11, 0)).contains(&minute)
    };
    let silent = |minute: i64| {
        (at(12, 0, 0)..at(14, 0, 0)).contains(&minute)
            || (at(1, 22, 0)..at(1, 23, 0)).contains(&minute)
    };
    let data = |extra_gap: bool| {
        buckets(APRIL, APRIL_MINUTES, 1, move |minute| {
            let in_extra_gap = extra_gap && (at(2, 10, 0)..at(2, 10, 30)).contains(&minute);
            (!silent(minute) && !in_extra_gap).then_some((1, u64::from(bad(minute))))
        })
    };
    let spec = || bare_spec("hours-slices", "2024-04-01", "2024-04-30");
    let response = evaluate(&server, stream(spec(), data(false), vec![]))
        .await
        .unwrap();
    let month = &response.months[0];
    assert_eq!((month.total_units, month.bad_units), (SERVICE_MINUTES, 15));
    // 15 of 15,840 is exactly the most April's service hours can lose at 99.9%.
    assert_eq!(status(month), pb::MonthStatus::Met);
    assert_eq!(month.budget.as_ref().unwrap().bad_units_remaining, 0);
    let hours = month.service_hours.as_ref().unwrap();
    assert_eq!(hours.periods.len(), 22);
    assert_eq!(
        (
            hours.periods[0].local_start.as_str(),
            hours.periods[0].local_end.as_str()
        ),
        ("2024-04-01T08:00:00+00:00", "2024-04-01T20:00:00+00:00")
    );
    assert_eq!(
        (hours.minutes, hours.covered_minutes),
        (SERVICE_MINUTES, SERVICE_MINUTES)
    );
    let evidence = month.evidence.as_ref().unwrap();
    let unavailable: Vec<(&str, u64)> = evidence
        .unavailable
        .iter()
        .map(|i| (i.local_start.as_str(), i.minutes))
        .collect();
    assert_eq!(
        unavailable,
        [
            ("2024-04-01T08:00:00+00:00", 5),
            ("2024-04-01T09:00:00+00:00", 10)
        ]
    );
    // The gaps outside service hours are no gaps: nothing was missing that could count, while
    // the month's own coverage still shows them.
    assert_eq!(evidence.gaps_total, 0);
    assert_eq!(
        month.covered_minutes,
        (APRIL_MINUTES - 2 * 1440 - 60) as u64
    );
    assert_eq!(month.worst_case.as_ref().unwrap().bad_units, 15);

    // Half an hour without data on Wednesday morning could have cost 30 more minutes.
    let response = evaluate(&server, stream(spec(), data(true), vec![]))
        .await
        .unwrap();
    let month = &response.months[0];
    let evidence = month.evidence.as_ref().unwrap();
    assert_eq!(evidence.gaps_total, 1);
    assert_eq!(evidence.gaps[0].local_start, "2024-04-03T10:00:00+00:00");
    assert_eq!(month.worst_case.as_ref().unwrap().bad_units, 45);
    assert_eq!(status(month), pb::MonthStatus::IncompleteData);
    let note = month
        .notes
        .iter()
        .find(|n| n.kind == pb::NoteKind::IncompleteData as i32)
        .unwrap();
    assert!(
        note.text
            .starts_with("30 minute(s) of service hours before as_of"),
        "{}",
        note.text
    );

    // Maintenance over Monday 09:00-09:05 takes five of the bad minutes out.
    let response = evaluate(
        &server,
        stream(
            spec(),
            data(false),
            vec![maintenance(
                "m-1",
                "2024-04-01T09:00:00Z",
                "2024-04-01T09:05:00Z",
            )],
        ),
    )
    .await
    .unwrap();
    let month = &response.months[0];
    assert_eq!((month.bad_units, month.excluded_units), (10, 5));
}

#[tokio::test]
async fn business_days_are_the_evaluations_calendars() {
    let server = server();
    // On the mainland calendar, April 2024 loses Thursday 4 and Friday 5 (Qingming) and works
    // Sunday 7 and Sunday 28: 22 business days still, but other ones.
    let spec = pb::EvaluationSpec {
        calendar_name: "cn-mainland".into(),
        time_zone: "Asia/Shanghai".into(),
        ..bare_spec("hours-slices", "2024-04-01", "2024-04-30")
    };
    let shanghai_april = APRIL - 8 * 3600;
    let data = buckets(shanghai_april, APRIL_MINUTES, 1, |_| Some((1, 0)));
    let response = evaluate(&server, stream(spec, data, vec![])).await.unwrap();
    assert_eq!(response.calendar, "cn-mainland");
    let hours = response.months[0].service_hours.clone().unwrap();
    let days: Vec<&str> = hours.periods.iter().map(|p| &p.local_start[..10]).collect();
    assert_eq!(days.len(), 22);
    assert!(days.contains(&"2024-04-07") && days.contains(&"2024-04-28"));
    assert!(!days.contains(&"2024-04-04") && !days.contains(&"2024-04-05"));
    assert_eq!(hours.periods[0].local_start, "2024-04-01T08:00:00+08:00");
}

#[tokio::test]
async fn mean_error_rate_averages_the_intervals_inside_service_hours() {
    let server = server();
    // 22 × 144 = 3,168 intervals inside service hours. A full error in one of them counts; one
    // at 03:00 and one on Saturday do not.
    let data = buckets(APRIL, APRIL_MINUTES, 5, |minute| {
        let interval = minute / 5;
        Some(match minute {
            _ if minute == at(0, 12, 0) || minute == at(0, 3, 0) || minute == at(5, 12, 0) => {
                (10, 10)
            }
            _ => (10, u64::from(interval % 1000 == 999)),
        })
    });
    let response = evaluate(
        &server,
        stream(
            bare_spec("hours-mean", "2024-04-01", "2024-04-30"),
            data,
            vec![],
        ),
    )
    .await
    .unwrap();
    let month = &response.months[0];
    assert_eq!(month.total_units, 3168 * 1_000_000);
    // The full error, and the 10% of every thousandth interval that is inside service hours.
    let thousandths = (0..8640i64)
        .filter(|i| i % 1000 == 999)
        .filter(|i| {
            let (day, minute) = (i * 5 / 1440, i * 5 % 1440);
            let weekday = (day % 7) < 5;
            weekday && (480..1200).contains(&minute)
        })
        .count() as u64;
    assert_eq!(month.bad_units, 1_000_000 + thousandths * 100_000);
}

#[tokio::test]
async fn occurrences_count_the_buckets_wholly_inside_service_hours() {
    let server = server();
    // Hourly buckets of 1,000 events, 10 failed, on the hour, and one of 100 events all failed
    // from 07:30 to 08:30 on Monday, which straddles the start of service hours: it is taken,
    // and does not count.
    let mut data = buckets(APRIL, APRIL_MINUTES, 60, |minute| {
        (minute != at(0, 7, 0) && minute != at(0, 8, 0)).then_some((1000, 10))
    });
    data.push(pb::EvaluateRequest {
        item: Some(Item::Buckets(pb::BucketBatch {
            buckets: vec![pb::Bucket {
                start: Some(prost_types::Timestamp {
                    seconds: APRIL + 60 * at(0, 7, 30),
                    nanos: 0,
                }),
                duration_seconds: 3600,
                total: 100,
                failed: 100,
            }],
        })),
    });
    let response = evaluate(
        &server,
        stream(
            bare_spec("hours-events", "2024-04-01", "2024-04-30"),
            data,
            vec![],
        ),
    )
    .await
    .unwrap();
    let month = &response.months[0];
    // 22 days × 12 hours, less Monday's 08:00 hour, which the straddling bucket covered instead.
    let hours = 22 * 12 - 1;
    assert_eq!(
        (month.total_units, month.bad_units),
        (hours * 1000, hours * 10)
    );
    assert_eq!(response.ingest.unwrap().buckets_accepted, 30 * 24 - 2 + 1);
}

#[tokio::test]
async fn a_month_without_service_hours_counts_nothing() {
    let server = server();
    // Saturday and Sunday only: a business-hours policy has nothing to count.
    let data = buckets(APRIL + 5 * 86_400, 2 * 1440, 1, |_| Some((1, 1)));
    let response = evaluate(
        &server,
        stream(
            bare_spec("hours-slices", "2024-04-06", "2024-04-07"),
            data,
            vec![],
        ),
    )
    .await
    .unwrap();
    let month = &response.months[0];
    assert_eq!((month.total_units, month.bad_units), (0, 0));
    assert_eq!(month.availability_percent, "100.0000");
    assert!(
        month
            .notes
            .iter()
            .any(|n| n.kind == pb::NoteKind::NoServiceHours as i32)
    );
    // No data that counts: the figures are those of silence.
    assert_eq!(status(month), pb::MonthStatus::NoData);
    assert!(month.service_hours.as_ref().unwrap().periods.is_empty());
}

#[test]
fn service_hours_off_the_slices_are_refused_at_load() {
    let text = business_hours(
        "off-slices",
        "kind = \"timeslices\"\nslice_minutes = 15\nbad_slice = \"all_failed\"",
    )
    .replace("from = \"08:00\"", "from = \"08:10\"");
    let error = PolicySet::built_in()
        .unwrap()
        .with_policy_text("off-slices.toml", &text)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("off-slices.toml:")
            && error.contains("service_hours.from 08:10 is not on the edge of a 15-minute slice"),
        "{error}"
    );
}
