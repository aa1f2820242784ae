//! The engine alone, fed per-minute buckets for one subscription as columns in batches of 10,000:
//! one year per measurement method (the built-in policies', then the mean of five-minute and of
//! hourly error rates, runs of bad minutes and business hours), then TRTC over 1-, 12- and
//! 36-month terms to show that the cost grows linearly with the term (the throughput stays flat).
//! Run with `cargo bench --bench engine`.
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
use workload::{Term, minute_columns, minute_counts, reference};

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
        ("occurrences (CCC cn)", "tencent-ccc-cn", 0, None),
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

/// A policy of the methods of issue 24, in the workload's zone: a 99.9% standard, three tiers.
fn policy(id: &str, method: &str, extra: &str) -> Arc<Policy> {
    let text = format!(
        "id = \"{id}\"\nname = \"{id}\"\nservice_month = \"calendar\"\n\
         time_zone = \"Asia/Shanghai\"\nstandard_percent = \"99.9\"\n\
         [source]\ndocument = \"bench\"\ntitle = \"bench\"\n[method]\n{method}\n\
         [compensation]\nform = \"voucher\"\ntiers = [\n\
         {{ at_least = \"99\", below = \"99.9\", fee_percent = \"10\" }},\n\
         {{ below = \"99\", fee_percent = \"25\" }},\n]\n\
         [claim_window]\nopens_after_business_day = 5\ncloses_after_days = 60\n{extra}"
    );
    let set = PolicySet::built_in()
        .unwrap()
        .with_policy_text(&format!("{id}.toml"), &text)
        .unwrap();
    Arc::clone(set.get(id).unwrap())
}

/// January's error, in millionths of an interval: 10^6 × Σ failed / total over its intervals of
/// `width` minutes, rounded up, summed as one exact fraction (an independent reference).
fn mean_error_reference(width: u64) -> u64 {
    use num_bigint::BigUint;
    let mut numerator = BigUint::from(0u32);
    let mut denominator = BigUint::from(1u32);
    for interval in 0..31 * 1440 / width {
        let (mut total, mut failed) = (0u64, 0u64);
        for minute in interval * width..(interval + 1) * width {
            let (t, f) = minute_counts(1, minute);
            total += t;
            failed += f;
        }
        if failed > 0 {
            // a/b + f/t = (a t + f b) / (b t), reduced by the gcd of the denominators.
            numerator = numerator * total + BigUint::from(failed) * &denominator;
            denominator *= total;
            let divisor = gcd(&numerator, &denominator);
            numerator /= &divisor;
            denominator /= &divisor;
        }
    }
    let scaled = numerator * 1_000_000u32;
    let ceil = (&scaled + &denominator - 1u32) / &denominator;
    u64::try_from(ceil).unwrap()
}

fn gcd(a: &num_bigint::BigUint, b: &num_bigint::BigUint) -> num_bigint::BigUint {
    let (mut a, mut b) = (a.clone(), b.clone());
    while b != num_bigint::BigUint::from(0u32) {
        let r = &a % &b;
        a = b;
        b = r;
    }
    a
}

/// January's bad minutes under one-minute slices bad when every attempt failed, counting only
/// runs of at least `min_run` (runs that began in December cannot exist: the term starts in
/// January, and one that crosses into February counts whole).
fn runs_reference(min_run: u64) -> u64 {
    let minutes = 31 * 1440;
    let bad = |minute: u64| {
        let (t, f) = minute_counts(1, minute);
        t > 0 && f == t
    };
    let mut counted = 0;
    let mut minute = 0;
    while minute < minutes {
        if !bad(minute) {
            minute += 1;
            continue;
        }
        let mut end = minute;
        while bad(end) {
            end += 1;
        }
        if end - minute >= min_run {
            counted += end.min(minutes) - minute;
        }
        minute = end;
    }
    counted
}

/// January's (bad minutes, minutes) under one-minute slices bad when every attempt failed, only
/// on weekdays from 08:00 to 20:00 Shanghai time (2023-01-01 is a Sunday).
fn business_hours_reference() -> (u64, u64) {
    let mut bad = 0;
    let mut inside = 0;
    for minute in 0..31 * 1440u64 {
        let (day, of_day) = (minute / 1440, minute % 1440);
        let weekday = !matches!(day % 7, 0 | 6);
        if weekday && (480..1200).contains(&of_day) {
            inside += 1;
            let (t, f) = minute_counts(1, minute);
            bad += u64::from(t > 0 && f == t);
        }
    }
    (bad, inside)
}

/// The methods of issue 24 over the same year, each checked against its reference on January.
fn new_methods(c: &mut Criterion) {
    let year = Term::months(12);
    let (starts, totals, failed) = minute_columns(1, TERM_START_UNIX, 0, MINUTES);
    let mut group = c.benchmark_group("engine: one year of 1-minute buckets");
    group.throughput(Throughput::Elements(MINUTES));
    group.sample_size(20);
    let hours = "[service_hours]\ndays = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]\n\
                 from = \"08:00\"\nto = \"20:00\"\n";
    for (label, policy, expected) in [
        (
            "5-minute mean error rate",
            policy(
                "mean-5",
                "kind = \"mean_error_rate\"\ninterval_minutes = 5",
                "",
            ),
            (mean_error_reference(5), 8928 * 1_000_000),
        ),
        (
            "hourly mean error rate",
            policy(
                "mean-60",
                "kind = \"mean_error_rate\"\ninterval_minutes = 60",
                "",
            ),
            (mean_error_reference(60), 744 * 1_000_000),
        ),
        (
            "1-minute all-failed, runs of 3",
            policy(
                "runs-3",
                "kind = \"timeslices\"\nslice_minutes = 1\nbad_slice = \"all_failed\"\n\
                 min_bad_run = 3",
                "",
            ),
            (runs_reference(3), 31 * 1440),
        ),
        (
            "1-minute all-failed, business hours",
            policy(
                "hours",
                "kind = \"timeslices\"\nslice_minutes = 1\nbad_slice = \"all_failed\"",
                hours,
            ),
            business_hours_reference(),
        ),
    ] {
        let january = &evaluate(&policy, &year, &starts, &totals, &failed).months[0];
        assert_eq!(
            (january.bad_units, january.total_units),
            expected,
            "{label}"
        );
        group.bench_function(label, |b| {
            b.iter(|| black_box(evaluate(&policy, &year, &starts, &totals, &failed)))
        });
    }
    group.finish();
}

criterion_group!(benches, methods, new_methods, term_lengths);
criterion_main!(benches);
