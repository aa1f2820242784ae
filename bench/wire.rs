//! The columns message on its own: one batch of 10,000 per-minute buckets as `sla-load` and the
//! command line send it (starts as one-minute deltas, the synthetic counts of
//! `bench/sla-load/workload.rs`), encoded as a client does and decoded, starts derived, as the
//! server does before the engine sees it. Run with `cargo bench --bench wire`.
// A failed unwrap in a benchmark is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

#[path = "sla-load/workload.rs"]
#[allow(dead_code)]
mod workload;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prost::Message;
use prost::bytes::Bytes;
use sla_evaluator::api::pb::BucketColumns;
use workload::minute_columns;

/// The allocator the server and the client use, so the vectors cost what they cost there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TERM_START_UNIX: i64 = 1_672_502_400;
const BATCH: u64 = 10_000;

/// Batch `index` of subscription 3's first month.
fn columns(index: u64) -> BucketColumns {
    let (starts, total, failed) = minute_columns(3, TERM_START_UNIX, index * BATCH, BATCH);
    BucketColumns {
        duration_seconds: 60,
        total,
        failed,
        start_base_unix_seconds: starts[0] - 60,
        start_delta_seconds: vec![60; starts.len()],
        ..BucketColumns::default()
    }
}

/// Each measurement takes the next of four different batches, as a server takes different
/// subscriptions' data: one batch again and again lets the branch predictor learn where its
/// two-byte counts fall, which made decoding look twice as fast as perf of a server found it.
fn wire(c: &mut Criterion) {
    let messages: Vec<BucketColumns> = (0..4).map(columns).collect();
    let encoded: Vec<Bytes> = messages
        .iter()
        .map(|message| Bytes::from(message.encode_to_vec()))
        .collect();
    let mut group = c.benchmark_group("wire: a batch of 10,000 buckets as columns");
    group.throughput(Throughput::Elements(BATCH));
    let mut next = (0..messages.len()).cycle();
    group.bench_function("encode", |b| {
        b.iter(|| black_box(&messages[next.next().unwrap()]).encode_to_vec())
    });
    group.bench_function("decode and derive the starts", |b| {
        b.iter(|| {
            let bytes = encoded[next.next().unwrap()].clone();
            let decoded = BucketColumns::decode(black_box(bytes)).unwrap();
            let starts = decoded.starts().unwrap().len();
            black_box((decoded, starts))
        })
    });
    group.finish();
}

criterion_group!(benches, wire);
criterion_main!(benches);
