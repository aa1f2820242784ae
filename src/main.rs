//! The `sla-evaluator` binary: parses the command line and runs it (see [`sla_evaluator::cli`]).

use std::process::ExitCode;

use clap::Parser;
use sla_evaluator::allocator;
use sla_evaluator::cli::Cli;

/// mimalloc keeps freed memory for reuse, where glibc returns large blocks to the system and takes
/// page faults to get them back: measured on one year of occurrences (`cargo bench --bench
/// engine`), 214 M buckets/s against glibc's 57 M; no worse on the other methods.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    allocator::return_freed_memory_at_once();
    allocator::no_huge_pages();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("sla-evaluator: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(Cli::parse().run())
}
