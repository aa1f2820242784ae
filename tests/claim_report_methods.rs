//! Claim reports of the measurement methods of issue 24, opened in headless Chromium as
//! tests/claim_report.rs opens the built-in policies': a mean of five-minute error rates in
//! business hours, whose hours outside service hours are drawn apart, and runs of bad minutes.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use common::claim_page::Page;
use common::methods::policies;
use common::requests::{bare_spec, buckets, evaluate, instant, spec_message};
use common::server::TestServer;
use sla_evaluator::api::pb;
use sla_evaluator::limits::Limits;
use sla_evaluator::render;

/// 2024-04-01T00:00:00Z, a Monday.
const APRIL: i64 = 1_711_929_600;
const APRIL_MINUTES: i64 = 30 * 1440;

fn spec(policy_id: &str) -> pb::EvaluationSpec {
    pb::EvaluationSpec {
        as_of: Some(instant("2024-05-02T00:00:00Z")),
        ..bare_spec(policy_id, "2024-04-01", "2024-04-30")
    }
}

#[tokio::test]
async fn hours_outside_service_hours_are_drawn_apart() {
    let server = TestServer::start_with(policies(), Limits::default());
    // Five-minute buckets; the interval at 09:00 on Monday the 1st fails whole, and Saturday the
    // 6th has no data, which is outside service hours and cannot matter.
    let data = buckets(APRIL, APRIL_MINUTES, 5, |minute| match minute {
        540 => Some((10, 10)),
        _ if minute / 1440 == 5 => None,
        _ => Some((10, 0)),
    });
    let mut messages = vec![spec_message(spec("hours-mean"))];
    messages.extend(data);
    let response = evaluate(&server, messages).await.unwrap();
    let set = policies();
    let policy = set.get("hours-mean").unwrap();
    let page = Page::open(
        "business-hours",
        &render::html(&response, Some(policy), Some("acme")),
    );
    // 1 − 1 / 3,168 intervals.
    assert_eq!(
        page.text("dd.availability"),
        "99.9684% (mean error rate over 3,168 intervals: 100 interval-percent of error, 0 requests \
         excluded)"
    );
    assert!(
        page.text("dd.budget")
            .starts_with("216.8 of 316.8 interval-percent left before the standard is missed"),
        "{}",
        page.text("dd.budget")
    );
    assert!(
        page.text("dd.service-hours")
            .starts_with("15,840 minutes in 22 periods; 15,840 of them had data"),
        "{}",
        page.text("dd.service-hours")
    );
    // 22 business days of 12 hours; the other 456 hours of April are outside service hours.
    let cells = page.cells();
    assert_eq!(cells.get("bad"), Some(&1));
    assert_eq!(cells.get("good"), Some(&(22 * 12 - 1)));
    assert_eq!(cells.get("outside-hours"), Some(&(720 - 22 * 12)));
    assert_eq!(cells.get("no-data"), None);
    assert_eq!(page.legend("outside-hours"), "456");
    assert_eq!(page.legend("bad"), "1");
    let unavailable = page.intervals("unavailable");
    assert_eq!(unavailable.len(), 1);
    assert_eq!(unavailable[0][0], "2024-04-01T09:00:00+00:00");
}

#[tokio::test]
async fn runs_too_short_to_count_are_listed_apart() {
    let server = TestServer::start_with(policies(), Limits::default());
    // Runs of 3 and of 6 bad minutes: only the second counts.
    let data = buckets(APRIL, APRIL_MINUTES, 1, |minute| {
        Some(match minute {
            600..603 | 700..706 => (100, 20),
            _ => (100, 0),
        })
    });
    let mut messages = vec![spec_message(spec("runs-5"))];
    messages.extend(data);
    let response = evaluate(&server, messages).await.unwrap();
    let page = Page::open("short-runs", &render::html(&response, None, None));
    assert!(
        page.text("dd.availability")
            .starts_with("99.9861% (6 of 43,200 minutes unavailable"),
        "{}",
        page.text("dd.availability")
    );
    assert_eq!(
        page.text("dd.short-runs"),
        "3 bad slices in runs too short to count, judged available"
    );
    assert_eq!(
        page.intervals("short-runs"),
        [[
            "2024-04-01T10:00:00+00:00",
            "2024-04-01T10:03:00+00:00",
            "3",
            "300",
            "60"
        ]]
    );
    assert!(page.text("ul.notes").contains("Short runs of bad slices"));
}
