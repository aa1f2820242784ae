//! Evaluate stream messages that many gRPC tests send.
#![allow(dead_code)]

use sla_evaluator::api::pb::{self, evaluate_request::Item};

/// 2024-04-01T00:00:00+08:00, the start of April 2024 in Shanghai.
pub(crate) const APRIL_2024: i64 = 1_711_900_800;

/// The first message of an IM stream over the term `[start, end]`.
pub(crate) fn im_spec(start: &str, end: &str) -> pb::EvaluateRequest {
    pb::EvaluateRequest {
        item: Some(Item::Spec(pb::EvaluationSpec {
            policy_id: "tencent-im".into(),
            term_start: start.into(),
            term_end: end.into(),
            ..Default::default()
        })),
    }
}

/// `rows` one-minute buckets from minute `first` of April 2024 (Shanghai), each with `total`
/// attempts of which `failed` failed, starts as absolute Unix seconds.
pub(crate) fn april_minutes(first: i64, rows: i64, total: u64, failed: u64) -> pb::EvaluateRequest {
    pb::EvaluateRequest {
        item: Some(Item::Columns(pb::BucketColumns {
            duration_seconds: 60,
            start_unix_seconds: (first..first + rows).map(|m| APRIL_2024 + 60 * m).collect(),
            total: vec![total; rows as usize],
            failed: vec![failed; rows as usize],
            ..Default::default()
        })),
    }
}

/// A provider-fault outage over the first hour of April 2024 (Shanghai), facts left out.
pub(crate) fn april_outage(id: &str) -> pb::Outage {
    hour_outage(id, APRIL_2024, pb::Cause::ProviderFault)
}

/// An outage of `cause` over the hour from `start` (Unix seconds), facts left out.
pub(crate) fn hour_outage(id: &str, start: i64, cause: pb::Cause) -> pb::Outage {
    pb::Outage {
        id: id.into(),
        start: Some(prost_types::Timestamp {
            seconds: start,
            nanos: 0,
        }),
        end: Some(prost_types::Timestamp {
            seconds: start + 3600,
            nanos: 0,
        }),
        cause: cause as i32,
        facts: None,
        policy_cause: String::new(),
    }
}

/// A stream's first message.
pub(crate) fn spec_message(spec: pb::EvaluationSpec) -> pb::EvaluateRequest {
    pb::EvaluateRequest {
        item: Some(Item::Spec(spec)),
    }
}

/// A spec over `[start, end]` under `policy_id`, every other field unset.
pub(crate) fn bare_spec(policy_id: &str, start: &str, end: &str) -> pb::EvaluationSpec {
    pb::EvaluationSpec {
        policy_id: policy_id.into(),
        term_start: start.into(),
        term_end: end.into(),
        ..Default::default()
    }
}

/// An instant from RFC 3339 text.
pub(crate) fn instant(rfc3339: &str) -> prost_types::Timestamp {
    let at = chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap();
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

/// Buckets of `minutes_per_bucket` minutes for every bucket slot from `first_unix` over
/// `minutes` minutes that `counts` gives counts for (`None` leaves a gap), as columns messages
/// of at most 10,000 rows with delta-encoded starts.
pub(crate) fn buckets(
    first_unix: i64,
    minutes: i64,
    minutes_per_bucket: i64,
    counts: impl Fn(i64) -> Option<(u64, u64)>,
) -> Vec<pb::EvaluateRequest> {
    let rows: Vec<(i64, u64, u64)> = (0..minutes / minutes_per_bucket)
        .filter_map(|slot| {
            let minute = slot * minutes_per_bucket;
            counts(minute).map(|(total, failed)| (first_unix + 60 * minute, total, failed))
        })
        .collect();
    rows.chunks(10_000)
        .map(|chunk| {
            let mut previous = 0;
            let deltas = chunk
                .iter()
                .map(|&(start, _, _)| {
                    let delta = start - previous;
                    previous = start;
                    delta
                })
                .collect();
            pb::EvaluateRequest {
                item: Some(Item::Columns(pb::BucketColumns {
                    duration_seconds: (60 * minutes_per_bucket) as u32,
                    start_delta_seconds: deltas,
                    total: chunk.iter().map(|r| r.1).collect(),
                    failed: chunk.iter().map(|r| r.2).collect(),
                    ..Default::default()
                })),
            }
        })
        .collect()
}

/// Sends a whole stream and waits for the answer.
pub(crate) async fn evaluate(
    server: &super::server::TestServer,
    messages: Vec<pb::EvaluateRequest>,
) -> Result<pb::EvaluateResponse, tonic::Status> {
    let mut client = server.client().await;
    client
        .evaluate(tokio_stream::iter(messages))
        .await
        .map(|r| r.into_inner())
}

/// The `google.rpc.ErrorInfo` of a refusal: its reason and metadata, after checking that it is
/// the service's own (domain `sla-evaluator`).
pub(crate) fn error_info(
    status: &tonic::Status,
) -> (String, std::collections::HashMap<String, String>) {
    use tonic_types::StatusExt;
    let info = status
        .get_details_error_info()
        .unwrap_or_else(|| panic!("no ErrorInfo on {:?}: {}", status.code(), status.message()));
    assert_eq!(info.domain, "sla-evaluator");
    (info.reason, info.metadata)
}

/// A ClassifyOutages request: a calendar of every day from `first_year` to 2024 off (about 3.3
/// MB from 1300, 1.1 MB from 1800), and `outages` TRTC surge outages whose customer's notice came
/// in `first_year`. Counting the business days between the notice and each surge takes a step for
/// every listed day between them: 1,000 outages from 1300 took 0.55 s on a 2-vCPU Xeon, 40,000
/// from 1800 (past the default `--max-outages` of 1,000) 8.9 s.
pub(crate) fn heavy_classify(first_year: i32, outages: i64) -> pb::ClassifyOutagesRequest {
    let first = chrono::NaiveDate::from_ymd_opt(first_year, 1, 1).unwrap();
    let last = chrono::NaiveDate::from_ymd_opt(2024, 12, 31).unwrap();
    let holidays = first
        .iter_days()
        .take_while(|day| *day <= last)
        .map(|day| day.to_string())
        .collect();
    let surge = |i: i64| pb::Outage {
        id: format!("surge-{i}"),
        start: Some(prost_types::Timestamp {
            seconds: 1_717_380_000 + 3600 * i,
            nanos: 0,
        }),
        end: Some(prost_types::Timestamp {
            seconds: 1_717_380_000 + 3600 * i + 600,
            nanos: 0,
        }),
        cause: pb::Cause::TrafficSurge as i32,
        facts: Some(pb::OutageFacts {
            concurrency_surge: Some(5_000),
            customer_notice: Some(pb::Notice {
                status: pb::NoticeStatus::Given as i32,
                given_at: Some(instant(&format!("{first_year}-01-02T09:00:00Z"))),
                written: Some(true),
            }),
            ..Default::default()
        }),
        policy_cause: String::new(),
    };
    pb::ClassifyOutagesRequest {
        policy_id: "tencent-trtc".into(),
        outages: (0..outages).map(surge).collect(),
        calendar: Some(pb::BusinessCalendar {
            name: "every-day-off".into(),
            holidays,
            make_up_working_days: vec![],
        }),
        ..Default::default()
    }
}

/// An Evaluate stream of ten years of IM with `outages` outages of unknown cause over the whole
/// term, each with an id of `id_chars` characters: every one needs review in every month.
pub(crate) fn reviewed_term(outages: usize, id_chars: usize) -> Vec<pb::EvaluateRequest> {
    let mut messages = vec![spec_message(bare_spec(
        "tencent-im",
        "2015-01-01",
        "2024-12-31",
    ))];
    for i in 0..outages {
        let index = format!("-{i}");
        messages.push(pb::EvaluateRequest {
            item: Some(Item::Outage(pb::Outage {
                id: format!("{}{index}", "o".repeat(id_chars - index.len())),
                start: Some(instant("2015-01-01T00:00:00+08:00")),
                end: Some(instant("2024-12-31T00:00:00+08:00")),
                cause: pb::Cause::Unspecified as i32,
                facts: None,
                policy_cause: String::new(),
            })),
        });
    }
    messages
}
