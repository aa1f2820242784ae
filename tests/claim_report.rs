//! Claim reports as people see them: responses from a real server, rendered to HTML, opened in a
//! real headless browser (Debian's `chromium`), and checked on the DOM the browser built and on a
//! screenshot, not on the HTML text.
//!
//! Every month is TRTC's March 2019 (Asia/Shanghai, 5-minute slices, standard 99.9%, 500.00 CNY
//! paid), measured minute by minute with 100 attempts a minute, so each expected cell count
//! follows from the input by hand: March has 31 × 24 = 744 hours.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::browser;
use common::claim_page::{self, Page};
use common::requests::{bare_spec, buckets, evaluate, instant, spec_message};
use common::server::TestServer;
use sla_evaluator::api::pb::{self, evaluate_request::Item};
use sla_evaluator::policy::{Policy, PolicySet};
use sla_evaluator::render;

/// 2019-03-01T00:00:00+08:00.
const MARCH_2019: i64 = 1_551_369_600;
const MARCH_MINUTES: i64 = 31 * 1440;

/// The minute of March (local time) at `hour:minute` on day `day`.
const fn at(day: i64, hour: i64, minute: i64) -> i64 {
    (day - 1) * 1440 + hour * 60 + minute
}

/// Document 003's worked example: 10:00 to 10:30 on the 12th at 98%.
const WORKED_EXAMPLE: std::ops::Range<i64> = at(12, 10, 0)..at(12, 10, 30);

fn policy() -> Arc<Policy> {
    PolicySet::built_in()
        .unwrap()
        .get("tencent-trtc")
        .unwrap()
        .clone()
}

/// TRTC over March 2019 with a fee, as of `as_of`.
fn spec(as_of: &str, max_intervals: Option<u32>) -> pb::EvaluationSpec {
    pb::EvaluationSpec {
        currency: "CNY".into(),
        fees: vec![pb::MonthlyFee {
            month_start: "2019-03-01".into(),
            paid: "500.00".into(),
            deductions: String::new(),
        }],
        as_of: Some(instant(as_of)),
        max_intervals,
        ..bare_spec("tencent-trtc", "2019-03-01", "2019-03-31")
    }
}

/// The stream: the spec, March minute by minute (`counts` gives a minute's total and failed
/// attempts, `None` for no data), then the outages.
fn stream(
    spec: pb::EvaluationSpec,
    counts: impl Fn(i64) -> Option<(u64, u64)>,
    outages: Vec<pb::Outage>,
) -> Vec<pb::EvaluateRequest> {
    let mut messages = vec![spec_message(spec)];
    messages.extend(buckets(MARCH_2019, MARCH_MINUTES, 1, counts));
    messages.extend(outages.into_iter().map(|outage| pb::EvaluateRequest {
        item: Some(Item::Outage(outage)),
    }));
    messages
}

/// Renders `response` with TRTC's policy at hand and opens it in the browser.
fn open(name: &str, response: &pb::EvaluateResponse) -> Page {
    let trtc = policy();
    Page::open(
        name,
        &render::html(response, Some(&trtc), Some("acme-prod-01")),
    )
}

fn expected(counts: &[(&str, usize)]) -> BTreeMap<String, usize> {
    let map: BTreeMap<String, usize> = counts.iter().map(|&(k, v)| (k.into(), v)).collect();
    assert_eq!(map.values().sum::<usize>(), 744, "March has 744 hours");
    map
}

/// Announced maintenance from `start` to `end` (UTC).
fn maintenance(id: &str, start: &str, end: &str) -> pb::Outage {
    pb::Outage {
        id: id.into(),
        start: Some(instant(start)),
        end: Some(instant(end)),
        cause: pb::Cause::ScheduledMaintenance as i32,
        facts: Some(pb::OutageFacts {
            provider_notice: Some(pb::Notice {
                status: pb::NoticeStatus::Given as i32,
                given_at: Some(instant("2019-03-05T00:00:00Z")),
                written: Some(true),
            }),
            ..Default::default()
        }),
        policy_cause: String::new(),
    }
}

#[tokio::test]
async fn the_worked_example_of_document_003_is_one_unavailable_hour() {
    let server = TestServer::start();
    let counts = |minute| {
        Some((
            100,
            if WORKED_EXAMPLE.contains(&minute) {
                2
            } else {
                0
            },
        ))
    };
    let spec = spec("2019-04-10T00:00:00Z", None);
    let response = evaluate(&server, stream(spec, counts, vec![]))
        .await
        .unwrap();
    let page = open("worked-example", &response);

    assert_eq!(page.text("h1"), "Tencent Real-Time Communication (TRTC)");
    assert_eq!(page.text("dd.subscription"), "acme-prod-01");
    assert_eq!(
        page.text("dd.term"),
        "2019-03-01 to 2019-03-31 (1 service month)"
    );
    assert!(page.text("dd.source").contains("2019-08-19"));
    assert!(page.text("dd.digest").starts_with("sha256:"));
    assert_eq!(page.text("h2 .badge"), "Standard met");
    assert!(
        page.text("dd.availability")
            .starts_with("99.9327% (30 of 44,640 minutes")
    );
    assert_eq!(page.text("dd.standard"), "99.9%: met");
    // The 30 minutes are in the standard's budget: nothing is owed.
    assert_eq!(page.text("dd.compensation .amount"), "0.00 CNY");
    assert_eq!(page.text("dd.total .amount"), "0.00 CNY");
    // As of April 10 (Shanghai), the window from April 9 (Qingming, April 5, was a holiday) to
    // May 30 has 50 days left.
    assert!(
        page.text("dd.claim-window")
            .starts_with("2019-04-09 to 2019-05-30")
    );
    let days_left = page.all(".days-left");
    assert_eq!(days_left[0].value().attr("data-days-left"), Some("50"));
    assert!(page.text("dd.budget").starts_with("14 of 44 minutes left"));

    assert_eq!(
        page.intervals("unavailable"),
        [[
            "2019-03-12T10:00:00+08:00",
            "2019-03-12T10:30:00+08:00",
            "30",
            "3,000",
            "60",
            "98.0000%"
        ]]
    );
    assert!(
        page.all("table.intervals.excluded, table.intervals.gaps")
            .is_empty()
    );
    assert_eq!(
        page.text("h4.list-head[data-list=\"gaps\"]"),
        "Minutes without data: none"
    );
    // 30 minutes inside one hour: one unavailable cell.
    assert_eq!(page.cells(), expected(&[("bad", 1), ("good", 743)]));
    assert_eq!(
        (page.legend("bad"), page.legend("good")),
        ("1".into(), "743".into())
    );
    let days: Vec<Vec<String>> = page.rows("table.hours-by-day tbody tr");
    // Day, unavailable, excluded, no data, not listed.
    assert_eq!(days, [["Tue 2019-03-12", "10:00–11:00", "", "", ""]]);
    assert!(
        page.text("svg.heatmap desc")
            .starts_with("744 hours: 1 unavailable, 743 available")
    );

    // Printed, through the print style sheet.
    let pdf = claim_page::dir().join("worked-example.pdf");
    let _ = std::fs::remove_file(&pdf);
    let page_file = pdf.with_extension("html");
    browser::print_to_pdf(&page_file, &pdf);
    let pdf = std::fs::read(&pdf).unwrap();
    assert!(
        pdf.starts_with(b"%PDF-") && pdf.len() > 20_000,
        "{} bytes",
        pdf.len()
    );
}

#[tokio::test]
async fn an_excluded_maintenance_window_is_drawn_and_listed_apart() {
    let server = TestServer::start();
    // 10:00 to 11:30 on the 12th at 98% (90 minutes: the standard is missed), and every call
    // failing from 02:30 to 03:10 on the 20th, inside maintenance announced for 02:00 to 04:00.
    let bad = at(12, 10, 0)..at(12, 11, 30);
    let down = at(20, 2, 30)..at(20, 3, 10);
    let counts = move |minute| {
        Some(if down.contains(&minute) {
            (100, 100)
        } else if bad.contains(&minute) {
            (100, 2)
        } else {
            (100, 0)
        })
    };
    let id = "maint-1";
    let window = maintenance(id, "2019-03-19T18:00:00Z", "2019-03-19T20:00:00Z");
    let spec = spec("2019-04-10T00:00:00Z", None);
    let response = evaluate(&server, stream(spec, counts, vec![window]))
        .await
        .unwrap();
    let page = open("maintenance", &response);

    assert_eq!(page.text("h2 .badge"), "Standard missed");
    // 90 of 44,640 minutes: 99.7983%, tier 1 (99.5 to 99.9): 10% of 500.00.
    assert!(
        page.text("dd.availability")
            .starts_with("99.7983% (90 of 44,640 minutes")
    );
    assert!(page.text("dd.availability").ends_with("40 excluded)"));
    assert!(
        page.text("dd.tier")
            .starts_with("tier 1: 10% of the eligible fee")
    );
    assert_eq!(page.text("dd.compensation .amount"), "50.00 CNY");
    assert_eq!(page.text("dd.total .amount"), "50.00 CNY");

    assert_eq!(
        page.intervals("excluded"),
        [[
            "2019-03-20T02:00:00+08:00",
            "2019-03-20T04:00:00+08:00",
            "40",
            id,
            "4.10"
        ]]
    );
    assert_eq!(
        page.intervals("unavailable"),
        [[
            "2019-03-12T10:00:00+08:00",
            "2019-03-12T11:30:00+08:00",
            "90",
            "9,000",
            "180",
            "98.0000%"
        ]]
    );
    let verdict = &page.rows("table.verdicts tbody tr")[0];
    assert_eq!(verdict[..2], [id, "Excluded"]);
    assert!(
        verdict[2].starts_with("4.10 System maintenance"),
        "{verdict:?}"
    );
    // Two hours of maintenance, two unavailable hours (10:00 and 11:00).
    assert_eq!(
        page.cells(),
        expected(&[("bad", 2), ("excluded", 2), ("good", 740)])
    );
    assert_eq!(page.legend("excluded"), "2");
    assert_eq!(
        page.rows("table.hours-by-day tbody tr"),
        [
            ["Tue 2019-03-12", "10:00–12:00", "", "", ""],
            ["Wed 2019-03-20", "", "02:00–04:00", "", ""]
        ]
    );
}

#[tokio::test]
async fn a_month_with_gaps_shows_both_bounds_and_the_hours_without_data() {
    let server = TestServer::start();
    // The worked example, and no data from 00:00 to 03:00 on the 20th: had those 180 minutes
    // been down, 210 would be unavailable (99.5295%, tier 1), so the data cannot decide March.
    let silent = at(20, 0, 0)..at(20, 3, 0);
    let counts = move |minute| {
        (!silent.contains(&minute)).then_some((
            100,
            if WORKED_EXAMPLE.contains(&minute) {
                2
            } else {
                0
            },
        ))
    };
    let spec = spec("2019-04-10T00:00:00Z", None);
    let response = evaluate(&server, stream(spec, counts, vec![]))
        .await
        .unwrap();
    let page = open("gaps", &response);

    assert!(page.text("h2 .badge").starts_with("Incomplete data"));
    assert!(page.text("dd.availability").starts_with("99.9327%"));
    assert_eq!(page.text("dd.compensation .amount"), "0.00 CNY");
    let worst = page.text("dd.worst-case");
    assert!(
        worst.starts_with("99.5295% had the minutes without data"),
        "{worst}"
    );
    assert_eq!(page.text("dd.worst-case .amount"), "50.00 CNY");
    assert_eq!(
        page.intervals("gaps"),
        [[
            "2019-03-20T00:00:00+08:00",
            "2019-03-20T03:00:00+08:00",
            "180"
        ]]
    );
    assert_eq!(
        page.cells(),
        expected(&[("bad", 1), ("no-data", 3), ("good", 740)])
    );
    assert_eq!(page.legend("no-data"), "3");
    assert!(page.text("ul.notes").contains("Incomplete data"));
}

#[tokio::test]
async fn shortened_lists_and_hours_after_as_of_are_marked_not_guessed() {
    let server = TestServer::start();
    // Two gaps (00:00-03:00 on the 20th, 12:00-12:20 on the 25th) but room to list one, as of
    // 00:00 on the 28th (Shanghai); and an outage whose id a customer typed, which the page must
    // show and not run.
    let silent = [at(20, 0, 0)..at(20, 3, 0), at(25, 12, 0)..at(25, 12, 20)];
    let counts = move |minute| {
        (!silent.iter().any(|gap| gap.contains(&minute))).then_some((
            100,
            if WORKED_EXAMPLE.contains(&minute) {
                2
            } else {
                0
            },
        ))
    };
    let id = "<img src=x onerror=alert(1)><b>fault-7";
    let fault = pb::Outage {
        id: id.into(),
        start: Some(instant("2019-03-04T17:00:00Z")),
        end: Some(instant("2019-03-04T17:30:00Z")),
        cause: pb::Cause::ProviderFault as i32,
        facts: None,
        policy_cause: String::new(),
    };
    let spec = spec("2019-03-27T16:00:00Z", Some(1));
    let response = evaluate(&server, stream(spec, counts, vec![fault]))
        .await
        .unwrap();
    let page = open("shortened", &response);
    assert_eq!(
        page.rows("table.verdicts tbody tr")[0][..2],
        [id, "Counted"]
    );
    assert!(page.all("table.verdicts b").is_empty());

    let gaps = page.intervals("gaps");
    assert_eq!(gaps.len(), 1);
    assert_eq!(
        page.text("h4.list-head[data-list=\"gaps\"]"),
        "Minutes without data: 1 of 2"
    );
    assert!(
        page.text("p.truncated[data-list=\"gaps\"]")
            .contains("1 more, from 2019-03-20 03:00 (+08:00) on, is not in this response")
    );
    // Known up to the listed gap's end (03:00 on the 20th); past it, whether an hour had data is
    // not in the response: 21 hours of the 20th and the 21st to the 27th. The 28th to the 31st
    // are after as of.
    assert_eq!(
        page.cells(),
        expected(&[
            ("bad", 1),
            ("no-data", 3),
            ("not-listed", 21 + 7 * 24),
            ("good", 19 * 24 - 1),
            ("after-as-of", 4 * 24),
        ])
    );
    assert!(
        page.text("p.warning:not(.truncated)")
            .starts_with("Shortened evidence.")
    );
}
