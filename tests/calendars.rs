//! Business calendars through a real server: the built-in mainland China calendar the five
//! policies default to, calendars loaded with --calendar-dir and selected by name, and what
//! happens past the years a calendar knows.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use clap::Parser;
use common::requests::{bare_spec, evaluate, instant, spec_message};
use common::server::{Setup, TestServer};
use sla_evaluator::api::pb;
use sla_evaluator::config::Config;
use sla_evaluator::policy::PolicySet;
use tonic::Code;
use tonic_types::StatusExt;

/// A TRTC evaluation of `[start, end]` with `calendar_name`, as of mid-2027, without buckets.
async fn trtc(
    server: &TestServer,
    start: &str,
    end: &str,
    calendar_name: &str,
) -> Result<pb::EvaluateResponse, tonic::Status> {
    let spec = pb::EvaluationSpec {
        calendar_name: calendar_name.into(),
        as_of: Some(instant("2027-06-01T00:00:00Z")),
        ..bare_spec("tencent-trtc", start, end)
    };
    evaluate(server, vec![spec_message(spec)]).await
}

fn window(month: &pb::MonthReport) -> (&str, &str) {
    (
        month.claim_opens_on.as_str(),
        month.claim_closes_on.as_str(),
    )
}

fn out_of_range(month: &pb::MonthReport) -> Vec<&str> {
    month
        .notes
        .iter()
        .filter(|n| n.kind == pb::NoteKind::CalendarOutOfRange as i32)
        .map(|n| n.text.as_str())
        .collect()
}

/// A TRTC ClassifyOutages call without outages, naming `calendar_name`.
fn classify(calendar_name: &str) -> pb::ClassifyOutagesRequest {
    classify_outages(calendar_name, vec![])
}

/// A TRTC ClassifyOutages call, naming `calendar_name`.
fn classify_outages(calendar_name: &str, outages: Vec<pb::Outage>) -> pb::ClassifyOutagesRequest {
    pb::ClassifyOutagesRequest {
        policy_id: "tencent-trtc".into(),
        outages,
        calendar: None,
        time_zone: String::new(),
        calendar_name: calendar_name.into(),
    }
}

/// A calendar file in the built-in format.
fn calendar_file(name: &str, holidays: &[&str], make_up: &[&str]) -> String {
    let list = |days: &[&str]| {
        days.iter()
            .map(|d| format!("\"{d}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "name = \"{name}\"\ntitle = \"A test calendar\"\nfirst_year = 2019\nlast_year = 2019\n\n\
         [source]\ntitle = \"Made up\"\nprovider = \"The tests\"\nretrieved = \"2026-11-23\"\n\n\
         [days]\nholidays = [{}]\nmake_up_working_days = [{}]\n",
        list(holidays),
        list(make_up)
    )
}

/// A server started from the command line's flags, as `serve` starts one.
fn server_with_flags(flags: &[&str]) -> TestServer {
    let config = Config::parse_from(std::iter::once("sla-evaluator").chain(flags.iter().copied()));
    let policies = Arc::new(config.policies().unwrap());
    let mut setup = Setup {
        options: config.server_options(policies).unwrap(),
        ..Setup::default()
    };
    setup.options.shutdown.grace_period = std::time::Duration::from_secs(2);
    TestServer::build(setup)
}

#[tokio::test]
async fn the_built_in_policies_count_business_days_on_the_mainland_calendar() {
    let server = TestServer::start();
    // March 2019: claims open after April's 5th business day. Friday April 5 was Qingming, so the
    // 5th business day was Monday April 8 (on weekdays alone it would have been the 5th).
    let response = trtc(&server, "2019-03-01", "2019-03-31", "").await.unwrap();
    assert_eq!(response.calendar, "cn-mainland");
    assert_eq!(window(&response.months[0]), ("2019-04-09", "2019-05-30"));
    assert!(out_of_range(&response.months[0]).is_empty());

    let mut client = server.client().await;
    let policy = client
        .get_policy(pb::GetPolicyRequest {
            policy_id: "tencent-im".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(policy.default_calendar, "cn-mainland");
}

#[tokio::test]
async fn a_make_up_saturday_counts_as_a_business_day() {
    let server = TestServer::start();
    // October 2024: the 1st to the 7th off, Saturday the 12th worked. The 5th business day is
    // that Saturday (8, 9, 10, 11, 12), so September's claims open on Sunday the 13th.
    let response = trtc(&server, "2024-09-01", "2024-09-30", "").await.unwrap();
    assert_eq!(window(&response.months[0]), ("2024-10-13", "2024-11-29"));
}

#[tokio::test]
async fn past_the_last_known_year_business_days_are_monday_to_friday_with_a_note() {
    let server = TestServer::start();
    let response = trtc(&server, "2026-11-01", "2026-12-31", "").await.unwrap();
    let [november, december] = &response.months[..] else {
        panic!("two months: {:?}", response.months)
    };
    // November's window opens in December 2026, a year the calendar knows.
    assert!(out_of_range(november).is_empty());
    // December's opens in January 2027, which it does not: Friday the 1st, then 4 to 7.
    assert_eq!(window(december), ("2027-01-08", "2027-03-01"));
    let notes = out_of_range(december);
    assert_eq!(notes.len(), 1, "{:?}", december.notes);
    assert!(notes[0].contains("2007-2026"), "{}", notes[0]);
    assert!(notes[0].contains("Monday to Friday"), "{}", notes[0]);
    assert!(
        notes[0].contains("docs/contract-readings.md"),
        "{}",
        notes[0]
    );
}

#[tokio::test]
async fn a_calendar_from_the_calendar_dir_is_selected_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let strike = ["2019-04-01", "2019-04-02", "2019-04-03"];
    std::fs::write(
        dir.path().join("strike.toml"),
        calendar_file("strike-week", &strike, &["2019-04-06"]),
    )
    .unwrap();
    let server = server_with_flags(&["--calendar-dir", dir.path().to_str().unwrap()]);
    // April 2019 on it: 4, 5, Saturday 6 (worked), 8, 9.
    let response = trtc(&server, "2019-03-01", "2019-03-31", "strike-week")
        .await
        .unwrap();
    assert_eq!(response.calendar, "strike-week");
    assert_eq!(window(&response.months[0]), ("2019-04-10", "2019-05-30"));

    // A calendar sent whole wins over the name.
    let spec = pb::EvaluationSpec {
        calendar_name: "strike-week".into(),
        calendar: Some(pb::BusinessCalendar {
            name: "sent".into(),
            ..Default::default()
        }),
        as_of: Some(instant("2027-06-01T00:00:00Z")),
        ..bare_spec("tencent-trtc", "2019-03-01", "2019-03-31")
    };
    let response = evaluate(&server, vec![spec_message(spec)]).await.unwrap();
    assert_eq!(response.calendar, "sent");
    assert_eq!(window(&response.months[0]), ("2019-04-06", "2019-05-30"));

    // ClassifyOutages selects by name too, and falls back to the policy's default.
    let mut client = server.client().await;
    let named = client
        .classify_outages(classify("strike-week"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(named.calendar, "strike-week");
    let default = client
        .classify_outages(classify(""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(default.calendar, "cn-mainland");
}

#[tokio::test]
async fn an_unknown_calendar_name_is_refused_with_the_known_ones() {
    let server = TestServer::start();
    let status = trtc(&server, "2019-03-01", "2019-03-31", "cn")
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let message = status.message();
    assert!(message.contains("spec.calendar_name 'cn'"), "{message}");
    assert!(message.contains("cn-mainland"), "{message}");
    let details = status.get_error_details();
    let violations = &details.bad_request().unwrap().field_violations;
    assert_eq!(violations[0].field, "spec.calendar_name");

    let mut client = server.client().await;
    let status = client
        .classify_outages(classify("nowhere"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("calendar_name 'nowhere'"));
}

#[test]
fn a_bad_calendar_file_or_a_policy_naming_an_unknown_calendar_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let bad = calendar_file("bad", &["2019-02-30"], &[]);
    std::fs::write(dir.path().join("bad.toml"), bad).unwrap();
    let config = Config::parse_from([
        "sla-evaluator",
        "--calendar-dir",
        dir.path().to_str().unwrap(),
    ]);
    let error = config
        .server_options(Arc::new(PolicySet::built_in().unwrap()))
        .unwrap_err()
        .to_string();
    assert!(error.contains("bad.toml:12:"), "{error}");
    assert!(error.contains("2019-02-30"), "{error}");

    let policies = tempfile::tempdir().unwrap();
    let im = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/policies/tencent-im.toml"
    ))
    .unwrap()
    .replace("\"tencent-im\"", "\"custom-im\"")
    .replace("\"cn-mainland\"", "\"cn-hk\"");
    std::fs::write(policies.path().join("im.toml"), im).unwrap();
    let config = Config::parse_from([
        "sla-evaluator",
        "--policy-dir",
        policies.path().to_str().unwrap(),
    ]);
    let error = config
        .server_options(Arc::new(config.policies().unwrap()))
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "policy 'custom-im' counts business days in calendar 'cn-hk', which is not loaded; known \
         calendars: cn-mainland"
    );
}

/// A TRTC surge of 5000 on Tuesday 2019-04-09 (Shanghai), after written notice on Tuesday
/// 2019-04-02: five weekdays ahead (2, 3, 4, 5, 8), but only four business days on the mainland
/// calendar, where Friday the 5th was Qingming.
fn surge_after_qingming() -> pb::Outage {
    pb::Outage {
        id: "surge".into(),
        start: Some(instant("2019-04-09T02:00:00Z")),
        end: Some(instant("2019-04-09T03:00:00Z")),
        cause: pb::Cause::TrafficSurge as i32,
        facts: Some(pb::OutageFacts {
            concurrency_surge: Some(5000),
            customer_notice: Some(pb::Notice {
                status: pb::NoticeStatus::Given as i32,
                given_at: Some(instant("2019-04-02T01:00:00Z")),
                written: Some(true),
            }),
            ..Default::default()
        }),
        policy_cause: String::new(),
    }
}

#[tokio::test]
async fn the_surge_notice_counts_business_days_on_the_chosen_calendar() {
    let server = TestServer::start();
    let mut client = server.client().await;
    let verdict = |response: pb::ClassifyOutagesResponse| response.verdicts[0].verdict;
    // The policy's mainland calendar: too little notice, so the surge is excluded.
    let mainland = client
        .classify_outages(classify_outages("", vec![surge_after_qingming()]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(verdict(mainland), pb::Verdict::Excluded as i32);
    // Weekdays alone: notice enough, so the surge counts.
    let mut weekdays = classify_outages("", vec![surge_after_qingming()]);
    weekdays.calendar = Some(pb::BusinessCalendar::default());
    let weekdays = client
        .classify_outages(weekdays)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(verdict(weekdays), pb::Verdict::Counted as i32);

    // Evaluate classifies the outages it carries on the calendar its claim windows use.
    let spec = pb::EvaluationSpec {
        as_of: Some(instant("2027-06-01T00:00:00Z")),
        ..bare_spec("tencent-trtc", "2019-04-01", "2019-04-30")
    };
    let outage = pb::EvaluateRequest {
        item: Some(pb::evaluate_request::Item::Outage(surge_after_qingming())),
    };
    let response = evaluate(&server, vec![spec_message(spec), outage])
        .await
        .unwrap();
    assert_eq!(response.calendar, "cn-mainland");
    assert_eq!(response.outages[0].verdict, pb::Verdict::Excluded as i32);
}
