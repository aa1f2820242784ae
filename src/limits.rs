//! Every bound the service enforces, with its default and the reason for it, in one place.
//!
//! [`Limits`] bound what one evaluation may hold; the engine enforces them, so the command line
//! and the server refuse the same things. [`CallLimits`] bound what one call may take from a
//! server shared by many clients; the serving layer enforces them. Both are plain data: each is a
//! flag of the binary (`src/config.rs`).

use std::time::Duration;

/// Bounds that keep one evaluation's memory and work predictable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest term accepted, in days.
    pub max_term_days: u32,
    /// Most outages one evaluation may carry.
    pub max_outages: usize,
    /// Most intervals of each kind a month's evidence may list.
    pub max_intervals: u32,
}

impl Default for Limits {
    /// Ten years of term and a thousand outages: beyond any contract, and small enough that every
    /// verdict fits a response (a ten-year term of 1-minute slices keeps about 1.3 MB of bits).
    /// A thousand intervals of each kind keep a month's evidence under about 300 KB.
    fn default() -> Self {
        Limits {
            max_term_days: 3660,
            max_outages: 1_000,
            max_intervals: 1_000,
        }
    }
}

/// Bounds every call to a server runs under, besides the evaluation's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallLimits {
    /// Evaluate and ClassifyOutages calls in progress at once, over all connections; one more is
    /// shed with RESOURCE_EXHAUSTED.
    pub max_concurrent: usize,
    /// The longest a call may take, upload included.
    pub timeout: Duration,
    /// Buckets one Evaluate stream may send, accepted or ignored.
    pub max_buckets_per_stream: u64,
    /// The largest response message, encoded: one over it is refused with RESOURCE_EXHAUSTED
    /// before it is sent.
    pub max_response_bytes: u64,
    /// Health `Watch` streams open at once, over all connections; one more is refused with
    /// RESOURCE_EXHAUSTED. They are not work calls (`max_concurrent` does not count them), and
    /// each holds about 16 KiB while it lasts.
    pub max_health_watches: usize,
}

impl Default for CallLimits {
    /// 1,024 concurrent calls, 5 minutes each, 10 million buckets a stream (a five-year term of
    /// one-minute buckets is 2.6 million), responses of up to 16 MiB (ten years of months, each
    /// listing the default 100 intervals of each kind, take about 4 MiB) and 1,024 health watches
    /// (one per client connection balancing with gRPC's client-side health checks; 16 MiB).
    fn default() -> Self {
        CallLimits {
            max_concurrent: 1024,
            timeout: Duration::from_secs(300),
            max_buckets_per_stream: 10_000_000,
            max_response_bytes: 16 << 20,
            max_health_watches: 1024,
        }
    }
}

/// Characters of a request's value a refusal repeats: its status message, its details and the log
/// line of the refusal show at most this many, and the value's length (see `api::Quoted`). A
/// client that sent a megabyte of bad value gets a short status that still says what it sent,
/// instead of a megabyte per refusal in its status (more than most clients' header limits take)
/// and in the server's logs.
pub const ECHOED_CHARS: usize = 128;

/// Characters an id or a name in a request may have: an outage's `id`, a calendar sent whole's
/// `name`. Responses repeat them (a verdict names its outage, notes name the calendar and the
/// outages needing review), so their length bounds what a response can repeat; 128 holds any
/// incident or ticket id (a UUID is 36), and within it every refusal echoes an id whole.
pub const MAX_ID_CHARS: usize = 128;

/// Characters of free text in a request that a response repeats: an outage's
/// `facts.exemption_basis` (the law or rule an exemption is claimed under), which its verdict's
/// explanation quotes.
pub const MAX_TEXT_CHARS: usize = 1_024;

/// Items a note names at most, with the total count: "1000 outage(s) ... need a person's review
/// (a, b, ... and 990 more)".
pub const MAX_NAMED: usize = 10;
