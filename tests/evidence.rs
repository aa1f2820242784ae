//! A month report that proves itself, through a real server: the intervals behind the figures,
//! whether the data can decide the month, the budget left, and the provenance to replay it.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use common::requests::{
    APRIL_2024, bare_spec, buckets, error_info, evaluate, instant, spec_message,
};
use common::server::TestServer;
use prost::Message;
use sla_evaluator::api::pb::{self, evaluate_request::Item};
use tonic::Code;

/// 2019-03-01T00:00:00+08:00.
const MARCH_2019: i64 = 1_551_369_600;
/// Minutes in April and in March.
const APRIL_MINUTES: i64 = 30 * 1440;
const MARCH_MINUTES: i64 = 31 * 1440;

fn outage_message(outage: pb::Outage) -> pb::EvaluateRequest {
    pb::EvaluateRequest {
        item: Some(Item::Outage(outage)),
    }
}

/// Scheduled maintenance announced a week ahead.
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

/// A stream: the spec, then the buckets, then the outages.
fn stream(
    spec: pb::EvaluationSpec,
    buckets: Vec<pb::EvaluateRequest>,
    outages: Vec<pb::Outage>,
) -> Vec<pb::EvaluateRequest> {
    let mut messages = vec![spec_message(spec)];
    messages.extend(buckets);
    messages.extend(outages.into_iter().map(outage_message));
    messages
}

/// March 2019 fully measured, with the documents' worked example: every minute from 10:00 to
/// 10:30 local on the 12th at 98%.
fn worked_example_march() -> Vec<pb::EvaluateRequest> {
    // 10:00 local on the 12th is minute 11 × 1440 + 600 of March.
    let bad = 11 * 1440 + 600..11 * 1440 + 630;
    buckets(MARCH_2019, MARCH_MINUTES, 1, move |minute| {
        Some((100, if bad.contains(&minute) { 2 } else { 0 }))
    })
}

fn status(month: &pb::MonthReport) -> pb::MonthStatus {
    pb::MonthStatus::try_from(month.status).unwrap()
}

fn has_note(month: &pb::MonthReport, kind: pb::NoteKind) -> bool {
    month.notes.iter().any(|n| n.kind == kind as i32)
}

#[tokio::test]
async fn the_worked_example_is_one_thirty_minute_interval() {
    let server = TestServer::start();
    let spec = bare_spec("tencent-ccc-intl", "2019-03-01", "2019-03-31");
    let response = evaluate(&server, stream(spec, worked_example_march(), vec![]))
        .await
        .unwrap();
    let march = &response.months[0];
    assert_eq!(status(march), pb::MonthStatus::Met);
    assert_eq!(march.availability_percent, "99.9327");
    let evidence = march.evidence.as_ref().unwrap();
    assert_eq!(evidence.unavailable_total, 1);
    let interval = &evidence.unavailable[0];
    // What a claim under document 002, 3.3 quotes: date, time, duration and details.
    assert_eq!(
        (interval.local_start.as_str(), interval.local_end.as_str()),
        ("2019-03-12T10:00:00+08:00", "2019-03-12T10:30:00+08:00")
    );
    assert_eq!(interval.start, Some(instant("2019-03-12T02:00:00Z")));
    assert_eq!(
        (interval.minutes, interval.total, interval.failed),
        (30, 3000, 60)
    );
    assert_eq!(interval.lowest_success_rate_percent, "98.0000");
    assert_eq!((evidence.gaps_total, evidence.excluded_total), (0, 0));
    // Complete data: both bounds agree.
    let worst = march.worst_case.as_ref().unwrap();
    assert_eq!(
        (worst.availability_numerator, worst.availability_denominator),
        (march.availability_numerator, march.availability_denominator)
    );
}

#[tokio::test]
async fn an_excluded_maintenance_window_is_listed_with_what_it_took() {
    let server = TestServer::start();
    // TRTC, March fully measured in 5-minute units; 10:00-10:30 local on the 12th at 98%, and
    // announced maintenance from 10:10 to 10:20.
    let bad = 11 * 1440 + 600..11 * 1440 + 630;
    let units = buckets(MARCH_2019, MARCH_MINUTES, 5, move |minute| {
        Some((500, if bad.contains(&minute) { 10 } else { 0 }))
    });
    let window = maintenance("maint-1", "2019-03-12T02:10:00Z", "2019-03-12T02:20:00Z");
    let spec = bare_spec("tencent-trtc", "2019-03-01", "2019-03-31");
    let response = evaluate(&server, stream(spec, units, vec![window]))
        .await
        .unwrap();
    let march = &response.months[0];
    assert_eq!((march.bad_units, march.excluded_units), (20, 10));
    let evidence = march.evidence.as_ref().unwrap();
    let excluded = &evidence.excluded[0];
    assert_eq!(evidence.excluded_total, 1);
    assert_eq!(
        (
            excluded.local_start.as_str(),
            excluded.local_end.as_str(),
            excluded.units,
            excluded.outage_index,
            excluded.clause_id.as_str()
        ),
        (
            "2019-03-12T10:10:00+08:00",
            "2019-03-12T10:20:00+08:00",
            10,
            0,
            "4.10"
        )
    );
    // What is left unavailable: two stretches either side of the maintenance.
    let stretches: Vec<(&str, u64)> = evidence
        .unavailable
        .iter()
        .map(|i| (i.local_start.as_str(), i.minutes))
        .collect();
    assert_eq!(
        stretches,
        [
            ("2019-03-12T10:00:00+08:00", 10),
            ("2019-03-12T10:20:00+08:00", 10)
        ]
    );
}

#[tokio::test]
async fn gaps_are_merged_counted_and_listed_up_to_the_limit() {
    let server = TestServer::start();
    // IM, April: three gaps, of 1, 60 and 3 minutes.
    let gaps = [(100..101), (2000..2060), (40_000..40_003)];
    let april = || {
        let gaps = gaps.clone();
        buckets(APRIL_2024, APRIL_MINUTES, 1, move |minute| {
            (!gaps.iter().any(|gap| gap.contains(&minute))).then_some((10, 0))
        })
    };
    let spec = |max: Option<u32>| pb::EvaluationSpec {
        max_intervals: max,
        ..bare_spec("tencent-im", "2024-04-01", "2024-04-30")
    };
    let all = evaluate(&server, stream(spec(None), april(), vec![]))
        .await
        .unwrap();
    let evidence = all.months[0].evidence.clone().unwrap();
    let listed: Vec<(i64, u64)> = evidence
        .gaps
        .iter()
        .map(|g| ((g.start.unwrap().seconds - APRIL_2024) / 60, g.minutes))
        .collect();
    assert_eq!(listed, [(100, 1), (2000, 60), (40_000, 3)]);
    assert_eq!(evidence.gaps_total, 3);
    // 64 silent minutes could not take April below 99%: the month is decided, with a note.
    assert_eq!(status(&all.months[0]), pb::MonthStatus::Met);
    assert!(has_note(&all.months[0], pb::NoteKind::DataGaps));

    let two = evaluate(&server, stream(spec(Some(2)), april(), vec![]))
        .await
        .unwrap();
    let evidence = two.months[0].evidence.clone().unwrap();
    assert_eq!((evidence.gaps.len(), evidence.gaps_total), (2, 3));
    let none = evaluate(&server, stream(spec(Some(0)), april(), vec![]))
        .await
        .unwrap();
    let evidence = none.months[0].evidence.clone().unwrap();
    assert_eq!((evidence.gaps.len(), evidence.gaps_total), (0, 3));
    // The server's maximum (1,000 by default) bounds what a spec may ask.
    let refused = evaluate(&server, stream(spec(Some(1_001)), vec![], vec![]))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("max_intervals 1001"),
        "{}",
        refused.message()
    );
}

/// IM's April: 43,200 minutes at a 99% standard, so at most 432 may be unavailable. `gap` minutes
/// from minute 10,000 have no data and `bad` minutes from minute 20,000 all failed.
async fn im_april(server: &TestServer, gap: i64, bad: i64) -> pb::MonthReport {
    let messages = buckets(APRIL_2024, APRIL_MINUTES, 1, move |minute| {
        if (10_000..10_000 + gap).contains(&minute) {
            None
        } else if (20_000..20_000 + bad).contains(&minute) {
            Some((10, 10))
        } else {
            Some((10, 0))
        }
    });
    let spec = bare_spec("tencent-im", "2024-04-01", "2024-04-30");
    let response = evaluate(server, stream(spec, messages, vec![]))
        .await
        .unwrap();
    response.months[0].clone()
}

#[tokio::test]
async fn timeslice_bounds_decide_a_month_exactly_at_the_boundary() {
    let server = TestServer::start();
    // Full coverage: decided.
    let full = im_april(&server, 0, 0).await;
    assert_eq!(status(&full), pb::MonthStatus::Met);
    assert!(!has_note(&full, pb::NoteKind::DataGaps));
    // A 4-minute gap far from any bound: decided.
    assert_eq!(status(&im_april(&server, 4, 0).await), pb::MonthStatus::Met);
    // 432 silent minutes would still meet 99% exactly: decided.
    let at_bound = im_april(&server, 432, 0).await;
    assert_eq!(status(&at_bound), pb::MonthStatus::Met);
    assert_eq!(
        at_bound.worst_case.as_ref().unwrap().availability_percent,
        "99.0000"
    );
    // 433 would not: the data cannot decide the month.
    let past = im_april(&server, 433, 0).await;
    assert_eq!(status(&past), pb::MonthStatus::IncompleteData);
    assert!(
        past.standard_met,
        "the contract's reading still meets the standard"
    );
    let worst = past.worst_case.as_ref().unwrap();
    assert_eq!(
        (worst.bad_units, worst.standard_met, worst.tier),
        (433, false, 1)
    );
    assert!(has_note(&past, pb::NoteKind::IncompleteData));
    // Below the standard, the tier decides: 2,160 bad minutes are tier 1 ([95%, 99%)), 2,161
    // tier 2.
    let same_tier = im_april(&server, 60, 2100).await;
    assert_eq!(status(&same_tier), pb::MonthStatus::NotMet);
    let other_tier = im_april(&server, 61, 2100).await;
    assert_eq!(status(&other_tier), pb::MonthStatus::IncompleteData);
    assert_eq!(
        (other_tier.tier, other_tier.worst_case.unwrap().tier),
        (1, 2)
    );
}

#[tokio::test]
async fn one_bucket_does_not_decide_a_month() {
    let server = TestServer::start();
    // The issue's own case: TRTC with ONE 5-minute bucket, 100 of 100 calls failed.
    let one = buckets(MARCH_2019, 5, 5, |_| Some((100, 100)));
    let spec = bare_spec("tencent-trtc", "2019-03-01", "2019-03-31");
    let response = evaluate(&server, stream(spec, one, vec![])).await.unwrap();
    let march = &response.months[0];
    assert_eq!(march.availability_percent, "99.9887");
    assert_eq!(status(march), pb::MonthStatus::IncompleteData);
    assert_eq!(
        march.worst_case.as_ref().unwrap().availability_percent,
        "0.0000"
    );
}

#[tokio::test]
async fn occurrences_need_the_policy_minimum_coverage() {
    let server = TestServer::start();
    // SMS's minimum coverage is 99%: 42,768 of April's 43,200 minutes.
    let covering = |covered: i64| {
        let messages = buckets(APRIL_2024, APRIL_MINUTES, 1, move |minute| {
            (minute < covered).then_some((100, 1))
        });
        let spec = pb::EvaluationSpec {
            message_unit_price: "0.045".into(),
            ..bare_spec("tencent-sms", "2024-04-01", "2024-04-30")
        };
        stream(spec, messages, vec![])
    };
    let at_minimum = evaluate(&server, covering(42_768)).await.unwrap();
    assert_eq!(status(&at_minimum.months[0]), pb::MonthStatus::Met);
    assert!(at_minimum.months[0].worst_case.is_none());
    let below = evaluate(&server, covering(42_767)).await.unwrap();
    assert_eq!(status(&below.months[0]), pb::MonthStatus::IncompleteData);
    assert!(has_note(&below.months[0], pb::NoteKind::IncompleteData));
    let sms = server
        .client()
        .await
        .get_policy(pb::GetPolicyRequest {
            policy_id: "tencent-sms".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let Some(pb::method::Kind::Occurrences(occurrences)) = sms.method.unwrap().kind else {
        panic!("SMS counts occurrences");
    };
    assert_eq!(occurrences.min_coverage_percent, "99");
}

#[tokio::test]
async fn the_budget_is_the_arithmetic_of_the_standard() {
    let server = TestServer::start();
    // IM, April, 100 bad minutes: 99% of 43,200 allows 432; tier 1 starts at 433 (below 99%),
    // tier 2 at 2,161 (below 95%), tier 3 at 4,321 (below 90%).
    let month = im_april(&server, 0, 100).await;
    let budget = month.budget.unwrap();
    assert_eq!(
        (budget.bad_units_allowed, budget.bad_units_remaining),
        (432, 332)
    );
    let until: Vec<(u32, u64)> = budget
        .tiers
        .iter()
        .map(|t| (t.tier, t.bad_units_until))
        .collect();
    assert_eq!(until, [(1, 333), (2, 2061), (3, 4221)]);
    // Occurrences count events so far: SMS at 95% with 1,000 events, 10 failed, allows 50.
    let one_hour = buckets(APRIL_2024, 60, 60, |_| Some((1000, 10)));
    let spec = pb::EvaluationSpec {
        message_unit_price: "0.045".into(),
        ..bare_spec("tencent-sms", "2024-04-01", "2024-04-30")
    };
    let response = evaluate(&server, stream(spec, one_hour, vec![]))
        .await
        .unwrap();
    let budget = response.months[0].budget.clone().unwrap();
    assert_eq!(
        (budget.bad_units_allowed, budget.bad_units_remaining),
        (50, 40)
    );
    assert_eq!(budget.tiers[0].bad_units_until, 41);
}

#[tokio::test]
async fn a_month_ending_after_as_of_is_in_progress() {
    let server = TestServer::start();
    // IM, April, as of the 15th at 00:00 local; minutes after it are sent too, all failed.
    let as_of = APRIL_2024 + 14 * 86_400;
    let messages = buckets(APRIL_2024, APRIL_MINUTES, 1, move |minute| {
        Some(if APRIL_2024 + 60 * minute < as_of {
            (10, 0)
        } else {
            (10, 10)
        })
    });
    let spec = pb::EvaluationSpec {
        as_of: Some(prost_types::Timestamp {
            seconds: as_of,
            nanos: 0,
        }),
        ..bare_spec("tencent-im", "2024-04-01", "2024-04-30")
    };
    let response = evaluate(&server, stream(spec, messages, vec![]))
        .await
        .unwrap();
    let april = &response.months[0];
    assert_eq!(status(april), pb::MonthStatus::InProgress);
    assert!(has_note(april, pb::NoteKind::InProgress));
    // Minutes after as_of are neither gaps nor unavailable; buckets there are ignored.
    assert_eq!(april.elapsed_minutes, 14 * 1440);
    assert_eq!(april.bad_units, 0);
    assert_eq!(april.evidence.as_ref().unwrap().gaps_total, 0);
    let ingest = response.ingest.unwrap();
    assert_eq!(
        (ingest.buckets_accepted, ingest.buckets_ignored),
        (14 * 1440, 16 * 1440)
    );
    assert_eq!(response.as_of.unwrap().seconds, as_of);
    assert_eq!(april.budget.as_ref().unwrap().bad_units_remaining, 432);
}

#[tokio::test]
async fn without_as_of_the_evaluation_is_as_of_when_the_spec_arrived() {
    let server = TestServer::start();
    let before = chrono::Utc::now().timestamp();
    let spec = bare_spec("tencent-im", "2024-04-01", "2024-04-30");
    let response = evaluate(&server, stream(spec, vec![], vec![]))
        .await
        .unwrap();
    let as_of = response.as_of.unwrap().seconds;
    assert!((before..=chrono::Utc::now().timestamp()).contains(&as_of));
}

#[tokio::test]
async fn the_digest_ignores_order_and_form_and_a_replay_is_byte_identical() {
    let server = TestServer::start();
    let spec = pb::EvaluationSpec {
        as_of: Some(instant("2025-01-01T00:00:00Z")),
        ..bare_spec("tencent-ccc-intl", "2019-03-01", "2019-03-31")
    };
    let window = || maintenance("maint", "2019-03-12T02:10:00Z", "2019-03-12T02:20:00Z");
    let storm = || pb::Outage {
        id: "storm".into(),
        start: Some(instant("2019-03-20T00:00:00Z")),
        end: Some(instant("2019-03-20T01:00:00Z")),
        cause: pb::Cause::ForceMajeure as i32,
        facts: None,
        policy_cause: String::new(),
    };
    let in_order = stream(
        spec.clone(),
        worked_example_march(),
        vec![window(), storm()],
    );
    let first = evaluate(&server, in_order.clone()).await.unwrap();
    let digest = |r: &pb::EvaluateResponse| r.provenance.clone().unwrap().input_digest;
    assert!(digest(&first).starts_with("sha256:"), "{}", digest(&first));

    // The same buckets as readable rows, in reverse order and other batches, with the outages
    // first and swapped.
    let mut rows: Vec<pb::Bucket> = worked_example_march()
        .into_iter()
        .flat_map(|message| {
            let Some(Item::Columns(columns)) = message.item else {
                unreachable!()
            };
            let starts = columns.starts().unwrap().into_owned();
            starts
                .into_iter()
                .zip(columns.total.clone())
                .zip(columns.failed.clone())
                .map(|((start, total), failed)| pb::Bucket {
                    start: Some(prost_types::Timestamp {
                        seconds: start,
                        nanos: 0,
                    }),
                    duration_seconds: 60,
                    total,
                    failed,
                })
                .collect::<Vec<_>>()
        })
        .collect();
    rows.reverse();
    let mut shuffled = vec![spec_message(spec.clone())];
    shuffled.push(outage_message(storm()));
    shuffled.push(outage_message(window()));
    shuffled.extend(rows.chunks(7_000).map(|chunk| pb::EvaluateRequest {
        item: Some(Item::Buckets(pb::BucketBatch {
            buckets: chunk.to_vec(),
        })),
    }));
    let second = evaluate(&server, shuffled).await.unwrap();
    assert_eq!(digest(&first), digest(&second));
    // Outage indexes follow the order given; everything else is the same.
    let without_indexes = |response: &pb::EvaluateResponse| {
        let mut months = response.months.clone();
        for month in &mut months {
            month.outage_indexes.clear();
            for excluded in &mut month.evidence.as_mut().unwrap().excluded {
                excluded.outage_index = 0;
            }
        }
        months
    };
    assert_eq!(without_indexes(&first), without_indexes(&second));

    // The same call again: byte for byte the same answer.
    let replay = evaluate(&server, in_order).await.unwrap();
    assert_eq!(first.encode_to_vec(), replay.encode_to_vec());

    // One count more is another input.
    let mut changed = worked_example_march();
    if let Some(Item::Columns(columns)) = &mut changed[0].item {
        columns.total[0] += 1;
    }
    let third = evaluate(&server, stream(spec, changed, vec![window(), storm()]))
        .await
        .unwrap();
    assert_ne!(digest(&first), digest(&third));
}

#[tokio::test]
async fn a_truncated_upload_is_refused() {
    let server = TestServer::start();
    let spec = |expected: u64| pb::EvaluationSpec {
        expected_buckets: Some(expected),
        ..bare_spec("tencent-im", "2024-04-01", "2024-04-30")
    };
    let sixty = || buckets(APRIL_2024, 60, 1, |_| Some((1, 0)));
    let refused = evaluate(&server, stream(spec(100), sixty(), vec![]))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    let (reason, metadata) = error_info(&refused);
    assert_eq!(
        (reason.as_str(), metadata["expected_buckets"].as_str()),
        ("BUCKET_COUNT_MISMATCH", "100")
    );
    assert!(
        refused
            .message()
            .contains("carried 60 buckets but spec.expected_buckets is 100"),
        "{}",
        refused.message()
    );
    assert!(
        evaluate(&server, stream(spec(60), sixty(), vec![]))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn the_provenance_names_every_version() {
    let server = TestServer::start();
    let file = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/policies/tencent-trtc.toml"
    ))
    .unwrap();
    let sha256 = {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(&file);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    };
    let policy = server
        .client()
        .await
        .get_policy(pb::GetPolicyRequest {
            policy_id: "tencent-trtc".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(policy.revision, sha256);
    let spec = bare_spec("tencent-trtc", "2019-03-01", "2019-03-31");
    let response = evaluate(&server, stream(spec, vec![], vec![]))
        .await
        .unwrap();
    let provenance = response.provenance.unwrap();
    assert_eq!(provenance.policy_revision, sha256);
    assert_eq!(provenance.server_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(provenance.tzdb_version, chrono_tz::IANA_TZDB_VERSION);
}

#[tokio::test]
async fn the_currency_is_empty_without_a_fee() {
    let server = TestServer::start();
    let spec = pb::EvaluationSpec {
        currency: "CNY".into(),
        ..bare_spec("tencent-im", "2024-04-01", "2024-04-30")
    };
    let response = evaluate(&server, stream(spec, vec![], vec![]))
        .await
        .unwrap();
    assert_eq!(response.currency, "");
}

#[tokio::test]
async fn review_verdicts_name_the_catch_all_and_every_missing_fact() {
    let server = TestServer::start();
    let outage = |cause: pb::Cause, facts: pb::OutageFacts| pb::Outage {
        id: "o".into(),
        start: Some(instant("2024-05-01T02:00:00Z")),
        end: Some(instant("2024-05-01T03:00:00Z")),
        cause: cause as i32,
        facts: Some(facts),
        policy_cause: String::new(),
    };
    let classify = |policy_id: &str, outage: pb::Outage| {
        let server = &server;
        let policy_id = policy_id.to_string();
        async move {
            server
                .client()
                .await
                .classify_outages(pb::ClassifyOutagesRequest {
                    policy_id,
                    outages: vec![outage],
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .verdicts
                .remove(0)
        }
    };
    // An exemption claimed for an outage of unknown cause goes to the catch-all clause.
    let claimed = classify(
        "tencent-trtc",
        outage(
            pb::Cause::Unspecified,
            pb::OutageFacts {
                exemption_basis: "a published rule".into(),
                ..Default::default()
            },
        ),
    )
    .await;
    assert_eq!(claimed.verdict, pb::Verdict::NeedsReview as i32);
    assert_eq!(claimed.clause_id, "4.14");
    // An SMS surge of unknown volume and account kind: both facts could decide it.
    let surge = classify(
        "tencent-sms",
        outage(
            pb::Cause::TrafficSurge,
            pb::OutageFacts {
                customer_notice: Some(pb::Notice {
                    status: pb::NoticeStatus::NotGiven as i32,
                    ..Default::default()
                }),
                ..Default::default()
            },
        ),
    )
    .await;
    assert_eq!(
        surge.missing_facts,
        ["facts.daily_messages", "facts.account_kind"]
    );
}

/// The digest of the inputs, computed by `tests/python/digest.py` from docs/provenance.md alone.
fn python_digest(inputs: &serde_json::Value) -> String {
    let mut python = common::tools::tool("python");
    python.arg("tests/python/digest.py");
    common::tools::succeed(python, &inputs.to_string())
        .trim()
        .to_string()
}

#[tokio::test]
async fn the_digest_is_the_documented_canonical_form() {
    let server = TestServer::start();
    // TRTC over March and April 2019 with a fee, a calendar, an as_of inside April, buckets in no
    // particular order (some before the term, some after as_of) and two outages.
    let mut rows: Vec<(i64, u32, u64, u64)> = Vec::new();
    for unit in (0..61 * 288).step_by(7) {
        let start = MARCH_2019 + 300 * unit;
        rows.push((start, 300, 50 + (unit as u64 % 97), unit as u64 % 3));
    }
    rows.push((MARCH_2019 - 3600, 60, 5, 1));
    rows.push((MARCH_2019 + 600, 60, 7, 0));
    rows.reverse();
    rows.swap(3, 900);
    let as_of = "2019-04-20T03:04:05.000000006Z";
    let mut spec = pb::EvaluationSpec {
        currency: "CNY".into(),
        fees: vec![pb::MonthlyFee {
            month_start: "2019-03-01".into(),
            paid: "1000.50".into(),
            deductions: "0.50".into(),
        }],
        calendar: Some(pb::BusinessCalendar {
            name: "cn-2019".into(),
            holidays: vec!["2019-04-05".into(), "2019-04-04".into()],
            make_up_working_days: vec!["2019-04-28".into()],
        }),
        as_of: Some(instant(as_of)),
        max_intervals: Some(7),
        ..bare_spec("tencent-trtc", "2019-03-01", "2019-04-30")
    };
    spec.time_zone = "Asia/Shanghai".into();
    let to_pb = |&(start, duration, total, failed): &(i64, u32, u64, u64)| pb::Bucket {
        start: Some(prost_types::Timestamp {
            seconds: start,
            nanos: 0,
        }),
        duration_seconds: duration,
        total,
        failed,
    };
    let mut messages = vec![spec_message(spec)];
    messages.extend(rows.chunks(1000).map(|chunk| pb::EvaluateRequest {
        item: Some(Item::Buckets(pb::BucketBatch {
            buckets: chunk.iter().map(to_pb).collect(),
        })),
    }));
    messages.push(outage_message(maintenance(
        "maint \"1\"",
        "2019-03-12T02:10:00Z",
        "2019-03-12T02:20:00Z",
    )));
    messages.push(outage_message(pb::Outage {
        id: "surge".into(),
        start: Some(instant("2019-04-02T01:00:00Z")),
        end: Some(instant("2019-04-02T01:30:00.5Z")),
        cause: pb::Cause::TrafficSurge as i32,
        facts: Some(pb::OutageFacts {
            concurrency_surge: Some(4200),
            peak_qps: "5.50".into(),
            customer_notice: Some(pb::Notice {
                status: pb::NoticeStatus::NotGiven as i32,
                ..Default::default()
            }),
            ..Default::default()
        }),
        policy_cause: String::new(),
    }));
    // The same inputs for a subscription: its line enters the digest, and only then.
    let mut for_subscription = messages.clone();
    if let Some(Item::Spec(spec)) = &mut for_subscription[0].item {
        spec.subscription = "acme-prod/Zürich \"east\"".into();
    }
    let response = evaluate(&server, messages).await.unwrap();
    let subscribed = evaluate(&server, for_subscription).await.unwrap();

    let null = serde_json::Value::Null;
    let facts = |provider: serde_json::Value,
                 customer: serde_json::Value,
                 surge: serde_json::Value,
                 qps: serde_json::Value| {
        serde_json::json!({
            "account_kind": null, "audio_video_chatroom": null, "concurrency_surge": surge,
            "customer_notice": customer, "daily_messages": null, "exemption_basis": null,
            "number_blocked": null, "peak_qps": qps, "provider_notice": provider,
        })
    };
    let inputs = serde_json::json!({
        "policy_id": "tencent-trtc",
        "term": ["2019-03-01", "2019-04-30"],
        "time_zone": "Asia/Shanghai",
        "currency": "CNY",
        "message_unit_price": null,
        "calendar": {
            "name": "cn-2019",
            "holidays": ["2019-04-05", "2019-04-04"],
            "make_up_days": ["2019-04-28"],
        },
        "fees": [["2019-03-01", "1000.50", "0.50"]],
        "as_of": as_of,
        "max_intervals": 7,
        "buckets": rows,
        "outages": [
            {
                "id": "maint \"1\"",
                "start": "2019-03-12T02:10:00.000000000Z",
                "end": "2019-03-12T02:20:00.000000000Z",
                "cause": "scheduled_maintenance",
                "facts": facts(
                    serde_json::json!({
                        "status": "given", "at": "2019-03-05T00:00:00.000000000Z", "written": true
                    }),
                    null.clone(),
                    null.clone(),
                    null.clone(),
                ),
            },
            {
                "id": "surge",
                "start": "2019-04-02T01:00:00.000000000Z",
                "end": "2019-04-02T01:30:00.500000000Z",
                "cause": "traffic_surge",
                "facts": facts(
                    null.clone(),
                    serde_json::json!({ "status": "not_given" }),
                    serde_json::json!(4200),
                    serde_json::json!("5.5"),
                ),
            },
        ],
    });
    assert_eq!(
        response.provenance.unwrap().input_digest,
        python_digest(&inputs)
    );
    let mut inputs = inputs;
    inputs["subscription"] = "acme-prod/Zürich \"east\"".into();
    assert_eq!(
        subscribed.provenance.unwrap().input_digest,
        python_digest(&inputs)
    );
    // Two rows were ignored (one before the term), and more after as_of.
    assert!(response.ingest.unwrap().buckets_ignored > 2);
}
