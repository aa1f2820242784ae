//! What signing and recording cost one Evaluate call, against the same call without them, in one
//! run: one month of TRTC 1-minute buckets for one subscription evaluated (the call's own work),
//! then the answer issued unsigned and unrecorded, signed with one Ed25519 key, recorded in SQLite
//! (a file on disk, WAL, fsync on commit), both, and both on PostgreSQL when
//! `SLA_BENCH_POSTGRES=postgres://...` names a database. Run with `cargo bench --bench statements`.
// A failed unwrap in a bench is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use sla_evaluator::api::pb::{self, evaluate_request::Item};
use sla_evaluator::api::{Statements, StreamEvaluation};
use sla_evaluator::calendar::CalendarSet;
use sla_evaluator::limits::Limits;
use sla_evaluator::memory::MemoryBudget;
use sla_evaluator::policy::PolicySet;
use sla_evaluator::statement::SigningKeys;
use sla_evaluator::store::{Open, Store};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// 2026-03-01T00:00+08:00.
const MARCH_2026: i64 = 1_772_294_400;
const KEY: &str = "-----BEGIN PRIVATE KEY-----\n\
    MC4CAQAwBQYDK2VwBCIEIHYBjP6zr676VkCjcYMQXrqUlfadDjWqx3h7WkXt3di0\n\
    -----END PRIVATE KEY-----\n";

/// A month of per-minute buckets, one minute in 500 with failures, as an Evaluate stream.
fn stream() -> Vec<pb::EvaluateRequest> {
    let minutes = 31 * 1440;
    let mut messages = vec![pb::EvaluateRequest {
        item: Some(Item::Spec(pb::EvaluationSpec {
            policy_id: "tencent-trtc".into(),
            term_start: "2026-03-01".into(),
            term_end: "2026-03-31".into(),
            currency: "CNY".into(),
            fees: vec![pb::MonthlyFee {
                month_start: "2026-03-01".into(),
                paid: "500.00".into(),
                deductions: String::new(),
            }],
            as_of: Some(prost_types::Timestamp {
                seconds: MARCH_2026 + 40 * 86_400,
                nanos: 0,
            }),
            subscription: "acme".into(),
            ..Default::default()
        })),
    }];
    for chunk in (0..minutes).collect::<Vec<i64>>().chunks(10_000) {
        messages.push(pb::EvaluateRequest {
            item: Some(Item::Columns(pb::BucketColumns {
                duration_seconds: 60,
                start_unix_seconds: chunk.iter().map(|m| MARCH_2026 + 60 * m).collect(),
                total: vec![100; chunk.len()],
                failed: chunk
                    .iter()
                    .map(|m| if m % 500 == 0 { 3 } else { 0 })
                    .collect(),
                ..Default::default()
            })),
        });
    }
    messages
}

fn evaluate(
    policies: &PolicySet,
    calendars: &CalendarSet,
    messages: &[pb::EvaluateRequest],
) -> pb::EvaluateResponse {
    let Some(Item::Spec(spec)) = messages[0].item.clone() else {
        unreachable!()
    };
    let mut evaluation = StreamEvaluation::start(
        policies,
        calendars,
        Limits::default(),
        u64::MAX,
        MemoryBudget::unlimited().reservation(),
        spec,
        chrono::Utc::now(),
    )
    .unwrap();
    for message in &messages[1..] {
        evaluation.take(message.clone()).result().unwrap();
    }
    evaluation.finish().unwrap()
}

fn statements(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let policies = PolicySet::built_in().unwrap();
    let calendars = CalendarSet::built_in().unwrap();
    let messages = stream();
    let response = evaluate(&policies, &calendars, &messages);
    let keys = || SigningKeys::from_pems([("bench key", KEY)]).unwrap();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let open = |url: String| Arc::new(runtime.block_on(Store::open(&url, Open::Migrate)).unwrap());
    let sqlite = |name: &str| open(format!("sqlite:{}", dir.path().join(name).display()));

    let mut group = c.benchmark_group("one Evaluate call, TRTC, a month of 1-minute buckets");
    group.sample_size(30);
    group.bench_function("evaluate (the call's own work)", |b| {
        b.iter(|| evaluate(&policies, &calendars, &messages))
    });
    let mut variants = vec![
        (
            "issue: neither (as without the flags)",
            Statements::default(),
        ),
        ("issue: signed", Statements::new(keys(), None)),
        (
            "issue: recorded in SQLite",
            Statements::new(SigningKeys::default(), Some(sqlite("recorded.db"))),
        ),
        (
            "issue: signed and recorded in SQLite",
            Statements::new(keys(), Some(sqlite("both.db"))),
        ),
    ];
    if let Ok(url) = std::env::var("SLA_BENCH_POSTGRES") {
        variants.push((
            "issue: signed and recorded in PostgreSQL",
            Statements::new(keys(), Some(open(url))),
        ));
    }
    for (name, statements) in &variants {
        group.bench_function(*name, |b| {
            b.iter(|| {
                runtime
                    .block_on(statements.issue_settled(response.clone()))
                    .unwrap()
            })
        });
    }
    group.finish();
    println!(
        "response: {} bytes; one month's evaluation as above",
        prost::Message::encoded_len(&response)
    );
}

criterion_group!(benches, statements);
criterion_main!(benches);
