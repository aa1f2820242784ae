//! The engine alone, fed per-minute buckets for one subscription as columns in batches of 10,000:
//! one year per measurement method, then TRTC over 1-, 12- and 36-month terms to show that the cost
//! grows linearly with the term (the throughput stays flat). Run with `cargo bench --bench engine`.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;

#[path = "sla-load/workload.rs"]
mod workload;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sla_evaluator::calendar::BusinessCalendar;
use sla_evaluator::engine::{Evaluation, EvaluationSpec};
use sla_evaluator::limits::Limits;
use sla_evaluator::policy::{Policy, PolicySet};
use workload::{Term, minute_columns, reference};

/// The allocator the server binary uses, so the engine is measured as it runs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// 2023 in Asia/Shanghai: 2023-01-01T00:00+08:00.
const TERM_START_UNIX: i64 = 1_672_502_400;
const MINUTES: u64 = 365 * 1440;
const BATCH: usize = 10_000;

fn spec(term: &Term) -> EvaluationSpec {
    EvaluationSpec {
        term_first_day: term.first_day,
        term_last_day: term.last_day,
        time_zone: None,
        currency: None,
        fees: vec![],
        message_unit_price: None,
        calendar: BusinessCalendar::default(),
        // After the term: every month is over, as in a month-end run.
        as_of: chrono::DateTime::from_timestamp(2_000_000_000, 0).unwrap(),
        max_intervals: 100,
        subscription: None,
    }
}

fn evaluate(
    policy: &Arc<Policy>,
    term: &Term,
    starts: &[i64],
    totals: &[u64],
    failed: &[u64],
) -> sla_evaluator::engine::Report {
    let mut evaluation =
        Evaluation::new(Arc::clone(policy), spec(term), Limits::default()).unwrap();
    for ((s, t), f) in starts
        .chunks(BATCH)
        .zip(totals.chunks(BATCH))
        .zip(failed.chunks(BATCH))
    {
        evaluation.add_columns(60, s, t, f).unwrap();
    }
    evaluation.finish()
}

fn methods(c: &mut Criterion) {
    let policies = PolicySet::built_in().unwrap();
    let year = Term::months(12);
    let (starts, totals, failed) = minute_columns(1, TERM_START_UNIX, 0, MINUTES);
    let mut group = c.benchmark_group("engine: one year of 1-minute buckets");
    group.throughput(Throughput::Elements(MINUTES));
    group.sample_size(20);
    for (label, id, slice, bound) in [
        ("1-minute all-failed (IM)", "tencent-im", 1, None),
        ("1-minute rate (CCC intl)", "tencent-ccc-intl", 1, Some(99)),
        ("5-minute rate (TRTC)", "tencent-trtc", 5, Some(99)),
        ("occurrences (SMS)", "tencent-sms", 0, None),
    ] {
        let policy = Arc::clone(policies.get(id).unwrap());
        // A fast wrong answer is no answer: check January against the independent reference.
        let january = &evaluate(&policy, &year, &starts, &totals, &failed).months[0];
        let minutes = 31 * 1440;
        if slice == 0 {
            let (bad, total) = reference::events(1, 0, minutes);
            assert_eq!(
                (january.bad_units, january.total_units),
                (bad, total),
                "{label}"
            );
        } else {
            assert_eq!(
                january.bad_units,
                reference::bad_minutes(1, 0, minutes, slice, bound),
                "{label}"
            );
        }
        group.bench_function(label, |b| {
            b.iter(|| black_box(evaluate(&policy, &year, &starts, &totals, &failed)))
        });
    }
    group.finish();
}

fn term_lengths(c: &mut Criterion) {
    let policies = PolicySet::built_in().unwrap();
    let trtc = Arc::clone(policies.get("tencent-trtc").unwrap());
    let mut group = c.benchmark_group("engine: TRTC by term length");
    group.sample_size(10);
    for months in [1, 12, 36] {
        let term = Term::months(months);
        let (starts, totals, failed) = minute_columns(1, TERM_START_UNIX, 0, term.minutes());
        let report = evaluate(&trtc, &term, &starts, &totals, &failed);
        let expected = reference::months(1, &term, 5, Some(99));
        let got: Vec<(u64, u64)> = report
            .months
            .iter()
            .map(|m| (m.bad_units, m.total_units))
            .collect();
        assert_eq!(got, expected, "{months} months");
        group.throughput(Throughput::Elements(term.minutes()));
        group.bench_function(format!("{months} months"), |b| {
            b.iter(|| black_box(evaluate(&trtc, &term, &starts, &totals, &failed)))
        });
    }
    group.finish();
}

criterion_group!(benches, methods, term_lengths);
criterion_main!(benches);
