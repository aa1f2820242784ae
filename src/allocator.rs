//! How the binaries tune the allocator they share (mimalloc, declared in each binary): memory
//! freed goes back to the system at once (the server), and never as transparent huge pages (the
//! server and `sla-load`, whose client side measured the same cost as the server's had).

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
pub fn return_freed_memory_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: `mi_option_set` only stores a value mimalloc reads at each purge; it is not
        // thread safe, so it runs here, before the runtime starts any thread.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
    }
}

/// No transparent huge pages for this process. mimalloc advises the kernel to back its arenas with
/// 2 MiB pages, and with freed memory returned at once (above) every vector a message is decoded
/// into came back as a fresh huge page, zeroed in full and often compacted for first: perf of a
/// server fed one `bench/compare.sh` run put 60% of its CPU in `clear_page_erms` under
/// `do_huge_pmd_anonymous_page`. Measured on that run (TRTC, columns, a fresh server each time,
/// three rounds in one session), 67-100 ns of server CPU a bucket with huge pages and 31-36
/// without. The flag is checked at each fault, so setting it here covers the arenas mimalloc
/// reserved before `main`. An operator's `MIMALLOC_ALLOW_THP` wins.
pub fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // SAFETY: PR_SET_THP_DISABLE takes plain integers and sets one flag of this process's
        // memory map; it fails harmlessly (EINVAL) on kernels without it.
        unsafe {
            libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        }
    }
}
