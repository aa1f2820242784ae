//! The `sla-evaluator` binary: parses the command line and runs it (see [`sla_evaluator::cli`]).

use std::process::ExitCode;

use clap::Parser;
use sla_evaluator::cli::Cli;

/// mimalloc keeps freed memory for reuse, where glibc returns large blocks to the system and takes
/// page faults to get them back: measured on one year of occurrences (`cargo bench --bench
/// engine`), 214 M buckets/s against glibc's 57 M; no worse on the other methods.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`: its place in mimalloc 3's `mi_option_e`, which
/// libmimalloc-sys 0.1.49 builds by default (it names only the stable options). Check it against
/// `c_src/mimalloc/v3/include/mimalloc.h` when that crate moves.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed memory goes back to the system at once rather than a second later (mimalloc 3's default):
/// the memory budget counts what calls hold, and a server under churn kept up to 100 MiB of freed
/// pages resident on top of it (tests/soak.rs: peaks of 157 to 208 MiB, 121 to 147 with this).
/// Measured on `bench/compare.sh` (SMS, three runs each way in one session), the server's CPU a
/// bucket was the same within the noise (median 31 ns both ways). An operator's
/// `MIMALLOC_PURGE_DELAY` wins.
fn return_freed_memory_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: `mi_option_set` only stores a value mimalloc reads at each purge; it is not
        // thread safe, so it runs here, before the runtime starts any thread.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
    }
}

fn main() -> ExitCode {
    return_freed_memory_at_once();
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
