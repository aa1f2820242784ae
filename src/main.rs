//! The `sla-evaluator` binary: parses the command line and runs it (see [`sla_evaluator::cli`]).

use std::process::ExitCode;

use clap::Parser;
use sla_evaluator::cli::Cli;

/// mimalloc keeps freed memory for reuse, where glibc returns large blocks to the system and takes
/// page faults to get them back: measured on one year of occurrences (`cargo bench --bench
/// engine`), 214 M buckets/s against glibc's 57 M; no worse on the other methods.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    Cli::parse().run().await
}
