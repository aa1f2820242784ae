//! The README's memory model, measured: what one month of each policy's ledger costs, empty (what
//! a server reserves when a spec arrives) and full (every minute measured).
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;
#[allow(dead_code)] // the model uses part of the workload
#[path = "../bench/sla-load/workload.rs"]
mod workload;

use common::engine::{policy, spec};
use sla_evaluator::engine::{Evaluation, Term};
use sla_evaluator::limits::Limits;
use workload::{Term as Synthetic, minute_columns};

/// (empty, full) bytes of one 31-day month of `policy_id` fed the synthetic per-minute workload.
fn month_bytes(policy_id: &str) -> (u64, u64) {
    let synthetic = Synthetic::months(1);
    let term = Term::new(
        policy(policy_id),
        spec(
            &synthetic.first_day.to_string(),
            &synthetic.last_day.to_string(),
        ),
        Limits::default(),
    )
    .unwrap();
    let empty = term.ledger_bytes();
    let mut evaluation = Evaluation::with_term(term);
    let (starts, totals, failed) = minute_columns(1, synthetic.start_unix, 0, synthetic.minutes());
    for ((s, t), f) in starts
        .chunks(10_000)
        .zip(totals.chunks(10_000))
        .zip(failed.chunks(10_000))
    {
        evaluation.add_columns(60, s, t, f).unwrap();
    }
    (empty, evaluation.ledger_bytes())
}

#[test]
fn the_readme_states_what_a_month_of_each_policy_costs() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for id in [
        "tencent-im",
        "tencent-sms",
        "tencent-ccc-intl",
        "tencent-trtc",
        "tencent-ccc-cn",
    ] {
        let (empty, full) = month_bytes(id);
        eprintln!("{id}: empty {empty} bytes, full {full} bytes");
        let row = readme
            .lines()
            .find(|line| line.starts_with(&format!("| `{id}` | ")) && line.contains("KiB"))
            .unwrap_or_else(|| panic!("README.md has no memory row for {id}"));
        let kib = |bytes: u64| format!("{} KiB", bytes.div_ceil(1024));
        assert!(
            row.contains(&kib(empty)),
            "{id}: README says {row}, measured empty {}",
            kib(empty)
        );
        assert!(
            row.contains(&kib(full)),
            "{id}: README says {row}, measured full {}",
            kib(full)
        );
    }
}
