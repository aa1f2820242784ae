//! Every RPC over real gRPC against a real server on an ephemeral port, with the generated client.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use common::requests::error_info;
use common::server::TestServer;
use prost_types::Timestamp;
use sla_evaluator::api::pb::{self, evaluate_request::Item};
use sla_evaluator::limits::Limits;
use sla_evaluator::policy::PolicySet;
use tonic::Code;
use tonic_types::StatusExt;

fn ts(rfc3339: &str) -> Timestamp {
    let instant = chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap();
    Timestamp {
        seconds: instant.timestamp(),
        nanos: 0,
    }
}

fn spec(policy_id: &str, start: &str, end: &str) -> pb::EvaluateRequest {
    pb::EvaluateRequest {
        item: Some(Item::Spec(pb::EvaluationSpec {
            policy_id: policy_id.into(),
            term_start: start.into(),
            term_end: end.into(),
            currency: "CNY".into(),
            fees: vec![pb::MonthlyFee {
                month_start: start.into(),
                paid: "1000.00".into(),
                deductions: "100.00".into(),
            }],
            ..Default::default()
        })),
    }
}

fn rows(buckets: Vec<pb::Bucket>) -> pb::EvaluateRequest {
    pb::EvaluateRequest {
        item: Some(Item::Buckets(pb::BucketBatch { buckets })),
    }
}

fn columns(
    duration_seconds: u32,
    starts: Vec<i64>,
    total: Vec<u64>,
    failed: Vec<u64>,
) -> pb::EvaluateRequest {
    pb::EvaluateRequest {
        item: Some(Item::Columns(pb::BucketColumns {
            duration_seconds,
            start_unix_seconds: starts,
            total,
            failed,
            ..Default::default()
        })),
    }
}

fn outage(
    id: &str,
    start: &str,
    end: &str,
    cause: pb::Cause,
    facts: pb::OutageFacts,
) -> pb::EvaluateRequest {
    pb::EvaluateRequest {
        item: Some(Item::Outage(outage_pb(id, start, end, cause, facts))),
    }
}

fn outage_pb(
    id: &str,
    start: &str,
    end: &str,
    cause: pb::Cause,
    facts: pb::OutageFacts,
) -> pb::Outage {
    pb::Outage {
        id: id.into(),
        start: Some(ts(start)),
        end: Some(ts(end)),
        cause: cause as i32,
        facts: Some(facts),
        policy_cause: String::new(),
    }
}

fn notice_given(at: &str) -> Option<pb::Notice> {
    Some(pb::Notice {
        status: pb::NoticeStatus::Given as i32,
        given_at: Some(ts(at)),
        written: Some(true),
    })
}

/// 10:00-10:30 Shanghai on 2019-03-12 (02:00-02:30 UTC), each minute at 98%.
fn thirty_bad_minutes() -> Vec<pb::Bucket> {
    let start = ts("2019-03-12T02:00:00Z").seconds;
    (0..30)
        .map(|i| pb::Bucket {
            start: Some(Timestamp {
                seconds: start + 60 * i,
                nanos: 0,
            }),
            duration_seconds: 0,
            total: 100,
            failed: 2,
        })
        .collect()
}

async fn evaluate(
    server: &TestServer,
    messages: Vec<pb::EvaluateRequest>,
) -> Result<pb::EvaluateResponse, tonic::Status> {
    let mut client = server.client().await;
    client
        .evaluate(tokio_stream::iter(messages))
        .await
        .map(|r| r.into_inner())
}

fn bad_request_field(status: &tonic::Status) -> String {
    let details = status.get_error_details();
    let violations = &details
        .bad_request()
        .expect("a BadRequest detail")
        .field_violations;
    assert_eq!(violations.len(), 1, "{violations:?}");
    violations[0].field.clone()
}

/// `status` is INVALID_ARGUMENT, names `field` in its BadRequest detail and says `words`.
fn assert_invalid_field(status: &tonic::Status, field: &str, words: &str) {
    assert_eq!(
        status.code(),
        Code::InvalidArgument,
        "{field}: {}",
        status.message()
    );
    assert_eq!(bad_request_field(status), field, "{}", status.message());
    let (reason, metadata) = error_info(status);
    assert_eq!(
        (reason.as_str(), &metadata["field"]),
        ("INVALID_FIELD", &field.to_string())
    );
    assert!(
        status.message().contains(words),
        "{field}: '{}' should contain '{words}'",
        status.message()
    );
}

#[tokio::test]
async fn list_and_get_policies() {
    let server = TestServer::start();
    let mut client = server.client().await;
    let list = client
        .list_policies(pb::ListPoliciesRequest {})
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = list.policies.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "tencent-im",
            "tencent-sms",
            "tencent-ccc-intl",
            "tencent-trtc",
            "tencent-ccc-cn",
            "digitalocean-droplet",
            "google-cloud-functions",
            "planetscale-dbaas",
            "supabase-enterprise-platform",
            "xata-pro"
        ]
    );

    let trtc = client
        .get_policy(pb::GetPolicyRequest {
            policy_id: "tencent-trtc".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(trtc.standard_percent, "99.9");
    assert_eq!(trtc.default_time_zone, "Asia/Shanghai");
    assert_eq!(trtc.service_month, pb::ServiceMonthKind::Calendar as i32);
    let Some(pb::method::Kind::Timeslices(slices)) = trtc.method.unwrap().kind else {
        panic!("timeslices")
    };
    assert_eq!(
        (
            slices.slice_minutes,
            slices.success_rate_below_percent.as_str()
        ),
        (5, "99")
    );
    let tiers: Vec<(String, String, String)> = trtc
        .tiers
        .iter()
        .map(|t| {
            (
                t.at_least_percent.clone(),
                t.below_percent.clone(),
                t.fee_percent.clone(),
            )
        })
        .collect();
    assert_eq!(tiers[0], ("99.5".into(), "99.9".into(), "10".into()));
    assert_eq!(tiers[2], ("0".into(), "99".into(), "50".into()));
    let surge = trtc.clauses.iter().find(|c| c.id == "4.6").unwrap();
    assert_eq!(surge.condition, pb::ConditionKind::TrafficSurge as i32);
    let rule = surge.surge.as_ref().unwrap();
    assert_eq!(
        (
            rule.threshold.as_str(),
            rule.notice_business_days,
            rule.notice_must_be_written
        ),
        ("3000", 5, true)
    );
    assert_eq!(trtc.source.unwrap().last_updated, "2019-08-19");

    let missing = client
        .get_policy(pb::GetPolicyRequest {
            policy_id: "tencent-nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert!(
        missing.message().contains("'tencent-nope'"),
        "{}",
        missing.message()
    );
    assert_eq!(
        missing
            .get_error_details()
            .resource_info()
            .unwrap()
            .resource_name,
        "tencent-nope"
    );
}

#[tokio::test]
async fn evaluate_with_readable_buckets_gives_the_worked_example() {
    let server = TestServer::start();
    let response = evaluate(
        &server,
        vec![
            spec("tencent-ccc-intl", "2019-03-01", "2019-03-31"),
            rows(thirty_bad_minutes()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        (response.policy_id.as_str(), response.time_zone.as_str()),
        ("tencent-ccc-intl", "Asia/Shanghai")
    );
    let march = &response.months[0];
    assert_eq!(
        (march.month_start.as_str(), march.month_end.as_str()),
        ("2019-03-01", "2019-03-31")
    );
    assert_eq!(march.availability_percent, "99.9327");
    assert_eq!(
        (march.availability_numerator, march.availability_denominator),
        (44_610, 44_640)
    );
    assert_eq!(
        (march.bad_units, march.total_units, march.unit),
        (30, 44_640, pb::Unit::Minutes as i32)
    );
    assert!(march.standard_met);
    // Thirty minutes of data cannot decide March: had the other 44,610 minutes been down, it would
    // have missed the standard.
    assert_eq!(march.status, pb::MonthStatus::IncompleteData as i32);
    let worst = march.worst_case.as_ref().unwrap();
    assert_eq!((worst.bad_units, worst.standard_met), (44_640, false));
    assert_eq!(
        (
            march.claim_opens_on.as_str(),
            march.claim_closes_on.as_str()
        ),
        ("2019-04-09", "2019-05-30")
    );
    assert_eq!(march.eligible_fee, "900.00");
    assert_eq!(march.compensation_amount, "0.00");
    assert!(
        march
            .notes
            .iter()
            .any(|n| n.kind == pb::NoteKind::TierAboveStandard as i32)
    );
    let ingest = response.ingest.unwrap();
    assert_eq!(
        (
            ingest.buckets_accepted,
            ingest.buckets_ignored,
            ingest.batches
        ),
        (30, 0, 1)
    );
}

#[tokio::test]
async fn both_bucket_forms_give_the_same_report() {
    let server = TestServer::start();
    // A bad month for the mainland call center: 1,000 calls in each of 3 hours, one mostly failing.
    let hour = |h: i64| ts("2024-04-02T01:00:00Z").seconds + 3600 * h;
    let as_rows = rows(
        [(0, 10), (1, 900), (2, 10)]
            .into_iter()
            .map(|(h, failed)| pb::Bucket {
                start: Some(Timestamp {
                    seconds: hour(h),
                    nanos: 0,
                }),
                duration_seconds: 3600,
                total: 1000,
                failed,
            })
            .collect(),
    );
    let as_columns = columns(
        3600,
        vec![hour(0), hour(1), hour(2)],
        vec![1000; 3],
        vec![10, 900, 10],
    );
    let by_rows = evaluate(
        &server,
        vec![spec("tencent-ccc-cn", "2024-04-01", "2024-04-30"), as_rows],
    )
    .await
    .unwrap();
    let by_columns = evaluate(
        &server,
        vec![
            spec("tencent-ccc-cn", "2024-04-01", "2024-04-30"),
            as_columns,
        ],
    )
    .await
    .unwrap();
    assert_eq!(by_rows.months, by_columns.months);
    let april = &by_rows.months[0];
    assert_eq!(april.availability_percent, "69.3333");
    assert_eq!((april.tier, april.compensation_percent.as_str()), (3, "50"));
    assert_eq!(
        (
            april.compensation_amount.as_str(),
            april.compensation_minor_units
        ),
        ("450.00", 45_000)
    );
    assert_eq!(april.compensation_form, pb::CompensationForm::Cash as i32);
    assert_eq!(by_rows.total_compensation, "450.00");
    assert_eq!(by_rows.total_compensation_minor_units, 45_000);
}

#[tokio::test]
async fn outages_change_the_result() {
    let server = TestServer::start();
    let messages = |facts: pb::OutageFacts| {
        vec![
            spec("tencent-trtc", "2019-03-01", "2019-03-31"),
            // 02:00-04:00 UTC at 50%: 120 bad minutes, below TRTC's 99.9%.
            columns(
                300,
                (0..24)
                    .map(|i| ts("2019-03-12T02:00:00Z").seconds + 300 * i)
                    .collect(),
                vec![10; 24],
                vec![5; 24],
            ),
            outage(
                "m-1",
                "2019-03-12T02:00:00Z",
                "2019-03-12T03:00:00Z",
                pb::Cause::ScheduledMaintenance,
                facts,
            ),
        ]
    };
    let unannounced = evaluate(
        &server,
        messages(pb::OutageFacts {
            provider_notice: Some(pb::Notice {
                status: pb::NoticeStatus::NotGiven as i32,
                ..Default::default()
            }),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    let month = &unannounced.months[0];
    assert_eq!(
        (month.bad_units, month.excluded_units, month.tier),
        (120, 0, 1)
    );
    assert_eq!(month.outage_indexes, [0]);
    assert_eq!(unannounced.outages[0].verdict, pb::Verdict::Counted as i32);

    let announced = evaluate(
        &server,
        messages(pb::OutageFacts {
            provider_notice: notice_given("2019-03-01T00:00:00Z"),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    let month = &announced.months[0];
    assert_eq!((month.bad_units, month.excluded_units), (60, 60));
    let verdict = &announced.outages[month.outage_indexes[0] as usize];
    assert_eq!(verdict.verdict, pb::Verdict::Excluded as i32);
    assert_eq!(verdict.clause_id, "4.10");
    assert_eq!(announced.outages.len(), 1);

    let unknown = evaluate(&server, messages(pb::OutageFacts::default()))
        .await
        .unwrap();
    let month = &unknown.months[0];
    assert_eq!(month.status, pb::MonthStatus::NeedsReview as i32);
    let verdict = &unknown.outages[month.outage_indexes[0] as usize];
    assert_eq!(verdict.missing_facts, ["facts.provider_notice"]);
}

#[tokio::test]
async fn classify_outages_answers_in_request_order() {
    let server = TestServer::start();
    let mut client = server.client().await;
    let request = pb::ClassifyOutagesRequest {
        policy_id: "tencent-trtc".into(),
        outages: vec![
            outage_pb(
                "surge",
                "2024-03-11T02:00:00Z",
                "2024-03-11T03:00:00Z",
                pb::Cause::TrafficSurge,
                pb::OutageFacts {
                    concurrency_surge: Some(5000),
                    customer_notice: notice_given("2024-03-04T01:00:00Z"),
                    ..Default::default()
                },
            ),
            outage_pb(
                "fault",
                "2024-03-11T02:00:00Z",
                "2024-03-11T03:00:00Z",
                pb::Cause::ProviderFault,
                Default::default(),
            ),
            outage_pb(
                "?",
                "2024-03-11T02:00:00Z",
                "2024-03-11T03:00:00Z",
                pb::Cause::Unspecified,
                Default::default(),
            ),
        ],
        // With a holiday on Friday March 8 the notice is only 4 business days ahead.
        calendar: Some(pb::BusinessCalendar {
            name: "cn-2024".into(),
            holidays: vec!["2024-03-08".into()],
            make_up_working_days: vec![],
        }),
        time_zone: String::new(),
        calendar_name: String::new(),
    };
    let response = client.classify_outages(request).await.unwrap().into_inner();
    assert_eq!(
        (response.time_zone.as_str(), response.calendar.as_str()),
        ("Asia/Shanghai", "cn-2024")
    );
    let verdicts: Vec<(&str, i32, &str)> = response
        .verdicts
        .iter()
        .map(|v| (v.outage_id.as_str(), v.verdict, v.clause_id.as_str()))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("surge", pb::Verdict::Excluded as i32, "4.6"),
            ("fault", pb::Verdict::Counted as i32, ""),
            ("?", pb::Verdict::NeedsReview as i32, ""),
        ]
    );
    assert!(
        response.verdicts[0]
            .explanation
            .contains("4 business day(s)"),
        "{}",
        response.verdicts[0].explanation
    );
    assert_eq!(response.verdicts[2].missing_facts, ["cause"]);
}

#[tokio::test]
async fn a_stream_must_start_with_spec() {
    let server = TestServer::start();
    let status = evaluate(&server, vec![rows(thirty_bad_minutes())])
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("first message carried `buckets`"),
        "{}",
        status.message()
    );
    assert!(status.get_error_details().precondition_failure().is_some());
    assert_eq!(error_info(&status).0, "SPEC_NOT_FIRST");
    let empty = evaluate(&server, vec![]).await.unwrap_err();
    assert_eq!(empty.code(), Code::FailedPrecondition);
    let again = evaluate(
        &server,
        vec![
            spec("tencent-im", "2024-01-01", "2024-01-31"),
            spec("tencent-im", "2024-01-01", "2024-01-31"),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(
        (again.code(), bad_request_field(&again).as_str()),
        (Code::InvalidArgument, "spec")
    );
}

#[tokio::test]
async fn an_unknown_policy_is_not_found() {
    let server = TestServer::start();
    let status = evaluate(
        &server,
        vec![spec("tencent-mail", "2024-01-01", "2024-01-31")],
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let (reason, metadata) = error_info(&status);
    assert_eq!(
        (reason.as_str(), metadata["policy_id"].as_str()),
        ("POLICY_NOT_FOUND", "tencent-mail")
    );
    let mut client = server.client().await;
    let status = client
        .classify_outages(pb::ClassifyOutagesRequest {
            policy_id: "tencent-mail".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test]
async fn bad_spec_fields_are_named_with_their_values() {
    let server = TestServer::start();
    let with = |edit: &dyn Fn(&mut pb::EvaluationSpec)| {
        let mut request = spec("tencent-im", "2024-01-01", "2024-01-31");
        let Some(Item::Spec(ref mut spec)) = request.item else {
            unreachable!()
        };
        edit(spec);
        request
    };
    let cases: Vec<(pb::EvaluateRequest, &str, &str)> = vec![
        (
            with(&|s| s.term_start = "2024-1-01".into()),
            "spec.term_start",
            "'2024-1-01' is not a date",
        ),
        (
            with(&|s| s.term_end = "2023-12-31".into()),
            "spec.term_end",
            "before term_start",
        ),
        (
            with(&|s| s.time_zone = "Mars/Base".into()),
            "spec.time_zone",
            "'Mars/Base' is not an IANA time zone",
        ),
        (
            with(&|s| s.currency = "XYZ".into()),
            "spec.currency",
            "'XYZ' is not an ISO 4217",
        ),
        (
            with(&|s| s.fees[0].month_start = "2024-01-02".into()),
            "spec.fees[0].month_start",
            "2024-01-02 is not the first day",
        ),
        (
            with(&|s| s.fees[0].paid = "1,000".into()),
            "spec.fees[0].paid",
            "'1,000' is not a decimal",
        ),
        (
            with(&|s| s.fees[0].deductions = "2000".into()),
            "spec.fees[0].deductions",
            "exceed paid",
        ),
        (
            with(&|s| {
                s.calendar = Some(pb::BusinessCalendar {
                    holidays: vec!["soon".into()],
                    ..Default::default()
                })
            }),
            "spec.calendar.holidays[0]",
            "'soon'",
        ),
        (
            with(&|s| s.policy_id.clear()),
            "spec.policy_id",
            "spec.policy_id is required",
        ),
    ];
    for (request, field, words) in cases {
        let status = evaluate(&server, vec![request]).await.unwrap_err();
        assert_invalid_field(&status, field, words);
    }
    // SMS needs a list price once fees are given.
    let status = evaluate(
        &server,
        vec![spec("tencent-sms", "2024-01-01", "2024-01-31")],
    )
    .await
    .unwrap_err();
    assert_eq!(bad_request_field(&status), "spec.message_unit_price");
}

#[tokio::test]
async fn bad_buckets_name_the_batch_the_row_and_the_field() {
    let server = TestServer::start();
    let start = ts("2024-01-10T00:00:00Z").seconds;
    let good = columns(60, vec![start, start + 60], vec![5, 5], vec![0, 1]);
    let cases: Vec<(pb::EvaluateRequest, &str, &str)> = vec![
        (
            columns(60, vec![start + 120, start + 180], vec![5, 5], vec![0, 6]),
            "columns.failed[1]",
            "batch 1, row 1 (columns.failed[1]): failed 6 exceeds total 5",
        ),
        (
            columns(60, vec![start + 120, start + 60], vec![5, 5], vec![0, 0]),
            "columns.start_unix_seconds[1]",
            "batch 1, row 1 (columns.start_unix_seconds[1]): the bucket from 2024-01-10 00:01:00 UTC to 2024-01-10 00:02:00 UTC overlaps",
        ),
        (
            columns(90, vec![start + 120], vec![5], vec![0]),
            "columns.duration_seconds",
            "duration_seconds 90 is not a whole number of minutes",
        ),
        (
            columns(60, vec![start + 120, start + 180], vec![5], vec![0]),
            "columns.total",
            "columns must have equal lengths",
        ),
        (
            rows(vec![
                pb::Bucket {
                    start: Some(Timestamp {
                        seconds: start + 120,
                        nanos: 0,
                    }),
                    duration_seconds: 60,
                    total: 1,
                    failed: 0,
                },
                pb::Bucket {
                    start: Some(Timestamp {
                        seconds: start + 180,
                        nanos: 0,
                    }),
                    duration_seconds: 300,
                    total: 1,
                    failed: 0,
                },
            ]),
            "buckets.buckets[1].duration_seconds",
            "batch 1, row 1 (buckets.buckets[1].duration_seconds): duration_seconds 300 does not divide the policy's 1-minute slice",
        ),
        (
            rows(vec![pb::Bucket {
                start: None,
                duration_seconds: 60,
                total: 1,
                failed: 0,
            }]),
            "buckets.buckets[0].start",
            "buckets.buckets[0].start is required",
        ),
        (
            rows(vec![pb::Bucket {
                start: Some(Timestamp {
                    seconds: start + 120,
                    nanos: 5,
                }),
                duration_seconds: 60,
                total: 1,
                failed: 0,
            }]),
            "buckets.buckets[0].start",
            "does not start on a whole second",
        ),
        (
            rows(vec![pb::Bucket {
                start: Some(Timestamp {
                    seconds: start + 120,
                    nanos: -1,
                }),
                duration_seconds: 60,
                total: 1,
                failed: 0,
            }]),
            "buckets.buckets[0].start",
            "nanos: -1} is not a valid instant",
        ),
    ];
    for (bad, field, words) in cases {
        let status = evaluate(
            &server,
            vec![
                spec("tencent-im", "2024-01-01", "2024-01-31"),
                good.clone(),
                bad,
            ],
        )
        .await
        .unwrap_err();
        assert_invalid_field(&status, field, words);
    }
}

#[tokio::test]
async fn bad_outages_are_refused() {
    let server = TestServer::start();
    let open = || spec("tencent-im", "2024-01-01", "2024-01-31");
    let backwards = outage(
        "b",
        "2024-01-10T02:00:00Z",
        "2024-01-10T01:00:00Z",
        pb::Cause::ProviderFault,
        Default::default(),
    );
    let status = evaluate(&server, vec![open(), backwards])
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), bad_request_field(&status).as_str()),
        (Code::InvalidArgument, "outage.end")
    );

    let mut unknown_cause = outage(
        "c",
        "2024-01-10T01:00:00Z",
        "2024-01-10T02:00:00Z",
        pb::Cause::ProviderFault,
        Default::default(),
    );
    let Some(Item::Outage(ref mut o)) = unknown_cause.item else {
        unreachable!()
    };
    o.cause = 99;
    let status = evaluate(&server, vec![open(), unknown_cause])
        .await
        .unwrap_err();
    assert_eq!(bad_request_field(&status), "outage.cause");
    assert!(
        status.message().contains("99 is not a known Cause"),
        "{}",
        status.message()
    );

    let given_without_time = outage(
        "d",
        "2024-01-10T01:00:00Z",
        "2024-01-10T02:00:00Z",
        pb::Cause::ScheduledMaintenance,
        pb::OutageFacts {
            provider_notice: Some(pb::Notice {
                status: pb::NoticeStatus::Given as i32,
                given_at: None,
                written: None,
            }),
            ..Default::default()
        },
    );
    let status = evaluate(&server, vec![open(), given_without_time])
        .await
        .unwrap_err();
    assert_eq!(
        bad_request_field(&status),
        "outage.facts.provider_notice.given_at"
    );

    let twice = || {
        outage(
            "same",
            "2024-01-10T01:00:00Z",
            "2024-01-10T02:00:00Z",
            pb::Cause::ProviderFault,
            Default::default(),
        )
    };
    let status = evaluate(&server, vec![open(), twice(), twice()])
        .await
        .unwrap_err();
    assert_eq!(bad_request_field(&status), "outage.id");
}

#[tokio::test]
async fn too_many_outages_exhaust_a_resource() {
    let limits = Limits {
        max_outages: 1,
        ..Limits::default()
    };
    let server = TestServer::start_with(PolicySet::built_in().unwrap(), limits);
    let one = |id: &str| {
        outage(
            id,
            "2024-01-10T01:00:00Z",
            "2024-01-10T02:00:00Z",
            pb::Cause::ProviderFault,
            Default::default(),
        )
    };
    let status = evaluate(
        &server,
        vec![
            spec("tencent-im", "2024-01-01", "2024-01-31"),
            one("a"),
            one("b"),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(status.get_error_details().quota_failure().is_some());
}

#[tokio::test]
async fn a_bad_stream_ends_only_itself() {
    use pb::sla_evaluator_client::SlaEvaluatorClient;
    let server = TestServer::start();
    // One connection carries both: a good stream held open while a bad one fails beside it.
    let channel = server.channel().await;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let mut good_client = SlaEvaluatorClient::new(channel.clone());
    let good = tokio::spawn(async move {
        good_client
            .evaluate(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
    });
    tx.send(spec("tencent-ccc-intl", "2019-03-01", "2019-03-31"))
        .await
        .unwrap();
    let bad = SlaEvaluatorClient::new(channel.clone())
        .evaluate(tokio_stream::iter([
            spec("tencent-ccc-intl", "2019-03-01", "2019-03-31"),
            rows(thirty_bad_minutes()),
            rows(thirty_bad_minutes()),
        ]))
        .await;
    assert_eq!(bad.unwrap_err().code(), Code::InvalidArgument);
    // The good stream goes on and is answered correctly.
    tx.send(rows(thirty_bad_minutes())).await.unwrap();
    drop(tx);
    let good = good.await.unwrap().unwrap().into_inner();
    assert_eq!(good.months[0].availability_percent, "99.9327");
    // The same connection and a new one both still serve.
    let mut same = SlaEvaluatorClient::new(channel);
    assert!(same.list_policies(pb::ListPoliciesRequest {}).await.is_ok());
    let again = evaluate(
        &server,
        vec![
            spec("tencent-ccc-intl", "2019-03-01", "2019-03-31"),
            rows(thirty_bad_minutes()),
        ],
    )
    .await;
    assert_eq!(again.unwrap().months[0].bad_units, 30);
}

#[tokio::test]
async fn health_reports_serving_for_the_server_and_the_service() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let server = TestServer::start();
    let mut health = HealthClient::new(server.channel().await);
    for service in ["", "sla.v1.SlaEvaluator"] {
        let response = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            response.status,
            ServingStatus::Serving as i32,
            "{service:?}"
        );
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "sla.v1.Nothing".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}

#[tokio::test]
async fn reflection_v1_lists_the_public_services() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let server = TestServer::start();
    let mut reflection = ServerReflectionClient::new(server.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("{response:?}")
    };
    let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    assert_eq!(names, ["grpc.health.v1.Health", "sla.v1.SlaEvaluator"]);
}

#[tokio::test]
async fn compressed_requests_are_taken_and_answers_compressed_when_asked() {
    use tonic::codec::CompressionEncoding;
    let server = TestServer::start();
    let plain = evaluate(
        &server,
        vec![
            spec("tencent-ccc-intl", "2019-03-01", "2019-03-31"),
            rows(thirty_bad_minutes()),
        ],
    )
    .await
    .unwrap();
    for encoding in [CompressionEncoding::Gzip, CompressionEncoding::Zstd] {
        let mut client = pb::sla_evaluator_client::SlaEvaluatorClient::new(server.channel().await)
            .send_compressed(encoding)
            .accept_compressed(encoding);
        let compressed = client
            .evaluate(tokio_stream::iter(vec![
                spec("tencent-ccc-intl", "2019-03-01", "2019-03-31"),
                rows(thirty_bad_minutes()),
            ]))
            .await
            .unwrap();
        assert_eq!(
            compressed.metadata().get("grpc-encoding").unwrap(),
            match encoding {
                CompressionEncoding::Gzip => "gzip",
                _ => "zstd",
            }
        );
        assert_eq!(compressed.into_inner().months, plain.months, "{encoding:?}");
    }
}

#[tokio::test]
async fn slices_under_min_attempts_are_available_and_counted() {
    let trtc = include_str!("../policies/tencent-trtc.toml")
        .replace("\"tencent-trtc\"", "\"trtc-min-10\"")
        .replace(
            "bad_slice = { success_rate_below = \"99\" }",
            "bad_slice = { success_rate_below = \"99\" }\nmin_attempts = 10",
        );
    let policies = PolicySet::built_in()
        .unwrap()
        .with_policy_text("trtc-min-10.toml", &trtc)
        .unwrap();
    let server = TestServer::start_with(policies, Limits::default());
    let mut client = server.client().await;
    let policy = client
        .get_policy(pb::GetPolicyRequest {
            policy_id: "trtc-min-10".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let Some(pb::method::Kind::Timeslices(slices)) = policy.method.unwrap().kind else {
        panic!("a timeslices policy")
    };
    assert_eq!(slices.min_attempts, 10);

    // 2019-03-12 10:00 Shanghai: a slice of 4 failed attempts (too few to judge), then one of
    // 100 attempts at 98% (bad). The built-in policy judges both.
    let start = 1_552_356_000;
    for (policy_id, under, bad) in [("trtc-min-10", 1, 5), ("tencent-trtc", 0, 10)] {
        let response = evaluate(
            &server,
            vec![
                spec(policy_id, "2019-03-01", "2019-03-31"),
                columns(300, vec![start, start + 300], vec![4, 100], vec![4, 2]),
            ],
        )
        .await
        .unwrap();
        let march = &response.months[0];
        assert_eq!(
            (march.slices_under_min_attempts, march.bad_units),
            (under, bad),
            "{policy_id}"
        );
    }
}
