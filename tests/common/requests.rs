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
    pb::Outage {
        id: id.into(),
        start: Some(prost_types::Timestamp {
            seconds: APRIL_2024,
            nanos: 0,
        }),
        end: Some(prost_types::Timestamp {
            seconds: APRIL_2024 + 3600,
            nanos: 0,
        }),
        cause: pb::Cause::ProviderFault as i32,
        facts: None,
    }
}
