//! Open-file descriptors: the process's limit raised as far as it may go at start, and the
//! connection caps checked against it.
//!
//! Every connection holds a descriptor. A process started under a low soft limit (1,024 is a
//! common default, while the hard limit is often far higher) runs out of them long before
//! `--max-connections`: `accept` then fails for every listener, and a reload cannot open the
//! policy files. So the soft limit is raised to the hard one, and the connections the server may
//! hold (`--max-connections` and the metrics port's `--max-metrics-connections`, with what the
//! process keeps for itself) must fit in it.

use std::io;

/// Descriptors the process keeps besides its connections: its listeners, the runtime's event
/// queue, standard streams, the trace exporter's connection, the files a policy reload reads, and
/// room to spare.
pub const RESERVED_DESCRIPTORS: u64 = 64;

/// The process's limit of open descriptors, the soft one raised to the hard one when it was
/// lower: what the process may open from now on.
pub fn raise_limit() -> io::Result<u64> {
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
    if soft >= hard {
        return Ok(soft);
    }
    rlimit::setrlimit(rlimit::Resource::NOFILE, hard, hard)?;
    let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
    Ok(soft)
}

/// The connections `--max-connections` may be set to under `limit` descriptors, beside the
/// metrics port's `metrics` connections and the [`RESERVED_DESCRIPTORS`].
pub fn connections_within(limit: u64, metrics: usize) -> u64 {
    limit.saturating_sub(metrics as u64 + RESERVED_DESCRIPTORS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_ends_at_the_hard_one() {
        let limit = raise_limit().unwrap();
        assert_eq!(
            rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap(),
            (limit, limit)
        );
        assert_eq!(connections_within(512, 64), 384);
        assert_eq!(connections_within(100, 64), 0);
    }
}
