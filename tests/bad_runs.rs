//! Runs of consecutive bad slices (`min_bad_run`) through a real server: a minute is bad when
//! under 90% of at least 100 attempts succeed, and only runs of five or more bad minutes count, in
//! full (Google Cloud's "Downtime Period").
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use common::methods::{maintenance, policies};
use common::requests::{bare_spec, buckets, evaluate, instant, spec_message};
use common::server::TestServer;
use prost::Message;
use sla_evaluator::api::pb::{self, evaluate_request::Item};
use sla_evaluator::limits::Limits;
use sla_evaluator::policy::PolicySet;

/// 2024-04-01T00:00:00Z.
const APRIL: i64 = 1_711_929_600;
const APRIL_MINUTES: i64 = 30 * 1440;

/// A bad minute (80% of 100), a good one, and one with too few attempts to be judged.
const BAD: (u64, u64) = (100, 20);
const GOOD: (u64, u64) = (100, 0);
const FEW: (u64, u64) = (50, 50);

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

fn has_note(month: &pb::MonthReport, kind: pb::NoteKind) -> bool {
    month.notes.iter().any(|n| n.kind == kind as i32)
}

/// April minute by minute: a run of 4 bad minutes from 100, of 5 from 200 and of 7 from 300;
/// two runs of 3 at 400 split by a minute with too few attempts; at 500 a run of 3, a minute
/// without data and a run of 6.
fn april() -> Vec<pb::EvaluateRequest> {
    buckets(APRIL, APRIL_MINUTES, 1, |minute| match minute {
        100..104 | 200..205 | 300..307 | 400..403 | 404..407 | 500..503 | 504..510 => Some(BAD),
        403 => Some(FEW),
        503 => None,
        _ => Some(GOOD),
    })
}

fn starts(intervals: &[pb::UnavailableInterval]) -> Vec<(i64, u64)> {
    intervals
        .iter()
        .map(|i| ((i.start.unwrap().seconds - APRIL) / 60, i.minutes))
        .collect()
}

#[tokio::test]
async fn runs_shorter_than_the_minimum_do_not_count() {
    let server = server();
    let policy = server
        .client()
        .await
        .get_policy(pb::GetPolicyRequest {
            policy_id: "runs-5".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let Some(pb::method::Kind::Timeslices(slices)) = policy.method.unwrap().kind else {
        panic!("a timeslices policy")
    };
    assert_eq!((slices.min_bad_run, slices.min_attempts), (5, 100));

    let spec = bare_spec("runs-5", "2024-04-01", "2024-04-30");
    let response = evaluate(&server, stream(spec, april(), vec![]))
        .await
        .unwrap();
    let month = &response.months[0];
    // The runs of 5, 7 and 6 count in full; the 4, the two 3s split by the minute with too few
    // attempts and the 3 ended by the minute without data do not.
    assert_eq!(month.bad_units, 5 + 7 + 6);
    assert_eq!(month.bad_slices_in_short_runs, 4 + 3 + 3 + 3);
    let evidence = month.evidence.as_ref().unwrap();
    assert_eq!(
        starts(&evidence.unavailable),
        [(200, 5), (300, 7), (504, 6)]
    );
    assert_eq!(
        starts(&evidence.short_runs),
        [(100, 4), (400, 3), (404, 3), (500, 3)]
    );
    assert_eq!(evidence.short_runs_total, 4);
    assert_eq!(evidence.short_runs[0].total, 400);
    assert_eq!(evidence.short_runs[0].failed, 80);
    assert!(has_note(month, pb::NoteKind::ShortBadRuns));
    // Had the silent minute 503 been bad, 500-510 would have been one run of 10.
    let worst = month.worst_case.as_ref().unwrap();
    assert_eq!(worst.bad_units, 5 + 7 + 10);
    // The budget: 43 bad minutes keep April at 99.9%; 18 are used.
    assert_eq!(month.budget.as_ref().unwrap().bad_units_remaining, 43 - 18);

    // Counting every bad minute, the same data has 31 bad minutes and no short run.
    let spec = bare_spec("runs-1", "2024-04-01", "2024-04-30");
    let response = evaluate(&server, stream(spec, april(), vec![]))
        .await
        .unwrap();
    let month = &response.months[0];
    assert_eq!(month.bad_units, 4 + 5 + 7 + 6 + 9);
    assert_eq!(month.bad_slices_in_short_runs, 0);
    assert_eq!(month.evidence.as_ref().unwrap().short_runs_total, 0);
    assert!(!has_note(month, pb::NoteKind::ShortBadRuns));
    assert_eq!(month.worst_case.as_ref().unwrap().bad_units, 31 + 1);
}

#[tokio::test]
async fn a_run_across_a_month_boundary_is_judged_whole() {
    let server = server();
    // Two one-day service months, March 31 and April 1: the last `before` minutes of March and
    // the first `after` of April are bad.
    let march_31 = APRIL - 86_400;
    let term = |before: i64, after: i64| {
        buckets(march_31, 2 * 1440, 1, move |minute| {
            Some(if (1440 - before..1440 + after).contains(&minute) {
                BAD
            } else {
                GOOD
            })
        })
    };
    let spec = || bare_spec("runs-5", "2024-03-31", "2024-04-01");
    for (before, after, counted) in [(3, 3, (3, 3)), (3, 2, (3, 2)), (2, 2, (0, 0))] {
        let response = evaluate(&server, stream(spec(), term(before, after), vec![]))
            .await
            .unwrap();
        let (march, april) = (&response.months[0], &response.months[1]);
        assert_eq!(
            (march.bad_units, april.bad_units),
            counted,
            "{before} + {after}"
        );
        let whole = counted != (0, 0);
        assert_eq!(has_note(march, pb::NoteKind::RunAcrossMonths), whole);
        assert_eq!(has_note(april, pb::NoteKind::RunAcrossMonths), whole);
        assert_eq!(
            (
                march.bad_slices_in_short_runs,
                april.bad_slices_in_short_runs
            ),
            if whole { (0, 0) } else { (2, 2) }
        );
    }
    // A run through a whole month: the last minute of March 31, every minute of April and the
    // first of May 1: each month's part counts, March's and May's through April.
    let through = buckets(march_31, APRIL_MINUTES + 2 * 1440, 1, |minute| {
        Some(if (1439..1441 + APRIL_MINUTES).contains(&minute) {
            BAD
        } else {
            GOOD
        })
    });
    let spec = bare_spec("runs-5", "2024-03-31", "2024-05-01");
    let response = evaluate(&server, stream(spec, through, vec![]))
        .await
        .unwrap();
    let bad: Vec<u64> = response.months.iter().map(|m| m.bad_units).collect();
    assert_eq!(bad, [1, APRIL_MINUTES as u64, 1]);
}

#[tokio::test]
async fn an_excluded_outage_inside_a_run_takes_out_only_its_own_minutes() {
    let server = server();
    // A run of 6 bad minutes from 16:40; maintenance over its middle two. The run is judged whole
    // before the exclusion takes its minutes out: the four left count, although no four of them
    // make a run of 5 on their own.
    let data = buckets(APRIL, APRIL_MINUTES, 1, |minute| {
        Some(if (1000..1006).contains(&minute) {
            BAD
        } else {
            GOOD
        })
    });
    let spec = bare_spec("runs-5", "2024-04-01", "2024-04-30");
    let response = evaluate(
        &server,
        stream(
            spec,
            data,
            vec![maintenance(
                "m-1",
                "2024-04-01T16:42:00Z",
                "2024-04-01T16:44:00Z",
            )],
        ),
    )
    .await
    .unwrap();
    let month = &response.months[0];
    assert_eq!((month.bad_units, month.excluded_units), (4, 2));
    let evidence = month.evidence.as_ref().unwrap();
    assert_eq!(starts(&evidence.unavailable), [(1000, 2), (1004, 2)]);
    assert_eq!(evidence.excluded[0].units, 2);
    assert_eq!(month.bad_slices_in_short_runs, 0);
}

#[tokio::test]
async fn min_bad_run_of_one_answers_as_today_byte_for_byte() {
    // The international contact center's policy, with `min_bad_run = 1` written out.
    let written = include_str!("../policies/tencent-ccc-intl.toml")
        .replace("\"tencent-ccc-intl\"", "\"ccc-intl-runs-1\"")
        .replace(
            "bad_slice = { success_rate_below = \"99\" }",
            "bad_slice = { success_rate_below = \"99\" }\nmin_bad_run = 1",
        );
    let policies = PolicySet::built_in()
        .unwrap()
        .with_policy_text("ccc-intl-runs-1.toml", &written)
        .unwrap();
    let server = TestServer::start_with(policies, Limits::default());
    // March 2019 in Singapore's UTC+8 with runs of bad minutes of every length up to 9, a gap and
    // an excluded maintenance window.
    let march = 1_551_369_600;
    let data = buckets(march, 31 * 1440, 1, |minute| match minute % 1000 {
        0..9 if minute / 1000 % 10 < (minute % 1000) + 1 => Some((100, 5)),
        500..520 if minute < 20_000 => None,
        _ => Some((100, 0)),
    });
    let answer = |policy_id: &str| {
        let spec = pb::EvaluationSpec {
            as_of: Some(instant("2019-05-01T00:00:00Z")),
            ..bare_spec(policy_id, "2019-03-01", "2019-03-31")
        };
        let messages = stream(
            spec,
            data.clone(),
            vec![maintenance(
                "m-1",
                "2019-03-03T00:00:00Z",
                "2019-03-03T01:00:00Z",
            )],
        );
        let server = &server;
        async move { evaluate(server, messages).await.unwrap() }
    };
    let today = answer("tencent-ccc-intl").await;
    let written = answer("ccc-intl-runs-1").await;
    let month = |response: &pb::EvaluateResponse| {
        let mut month = response.months[0].clone();
        month.policy_revision.clear();
        month.encode_to_vec()
    };
    assert!(today.months[0].bad_units > 0);
    assert_eq!(month(&today), month(&written));
}
