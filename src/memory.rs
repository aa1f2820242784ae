//! The memory budget: how much the calls in progress may hold, server-wide, and each call's share.
//!
//! Without it, one client sending legitimate-looking requests (forty ten-year terms of per-minute
//! buckets) could take a pod past its memory limit and get every other tenant's calls killed with
//! it. A call reserves what it will hold before it allocates it (its term's ledgers when its spec
//! arrives, each message's decoded size when the message's length is known, and what its buckets
//! may add to its ledgers), and gives it back when it ends; a reservation that would pass the
//! budget is refused, so the calls already under it are never disturbed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A server-wide budget of bytes.
#[derive(Debug)]
pub struct MemoryBudget {
    total: u64,
    reserved: AtomicU64,
    refusals: AtomicU64,
}

/// A reservation would pass the budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "this call needs {} more, but the server's memory budget of {} is {} reserved by calls in \
     progress; retry shortly, or on another replica",
    bytes(*asked), bytes(*total), bytes(*reserved)
)]
pub struct Exhausted {
    /// Bytes the call asked for.
    pub asked: u64,
    /// The budget.
    pub total: u64,
    /// Bytes reserved when it asked.
    pub reserved: u64,
}

/// Bytes in binary units, e.g. `1.5 GiB`.
pub fn bytes(value: u64) -> String {
    bytesize::ByteSize::b(value).to_string()
}

/// The memory limit of the container this process runs in (cgroup v2, then v1), if it has one.
pub fn container_limit() -> Option<u64> {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let v2 = read("/sys/fs/cgroup/memory.max").and_then(|text| text.trim().parse().ok());
    // cgroup v1 reports "no limit" as a number near 2^63.
    let v1 = read("/sys/fs/cgroup/memory/memory.limit_in_bytes")
        .and_then(|text| text.trim().parse::<u64>().ok())
        .filter(|&limit| limit < 1 << 60);
    v2.or(v1)
}

/// The machine's memory, from `/proc/meminfo`.
pub fn machine_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The budget a server takes when none is given: 60% of the container's memory limit, leaving the
/// rest to the binary, the runtime, connection buffers and the allocator's slack (measured in the
/// README's memory model); without a limit, half the machine's memory; without either, 1 GiB.
pub fn default_budget() -> u64 {
    match (container_limit(), machine_memory()) {
        (Some(limit), _) => limit / 10 * 6,
        (None, Some(memory)) => memory / 2,
        (None, None) => 1 << 30,
    }
}

impl MemoryBudget {
    /// A budget of `total` bytes.
    pub fn new(total: u64) -> Arc<Self> {
        Arc::new(MemoryBudget {
            total,
            reserved: AtomicU64::new(0),
            refusals: AtomicU64::new(0),
        })
    }

    /// A budget no call can pass (the command line's: it serves one caller).
    pub fn unlimited() -> Arc<Self> {
        MemoryBudget::new(u64::MAX)
    }

    /// The budget in bytes.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Bytes reserved by calls in progress.
    pub fn reserved(&self) -> u64 {
        self.reserved.load(Ordering::Relaxed)
    }

    /// Reservations refused since the server started.
    pub fn refusals(&self) -> u64 {
        self.refusals.load(Ordering::Relaxed)
    }

    /// An empty reservation, to grow as the call learns what it will hold.
    pub fn reservation(self: &Arc<Self>) -> Reservation {
        Reservation {
            budget: Arc::clone(self),
            bytes: 0,
        }
    }

    fn take(&self, asked: u64) -> Result<(), Exhausted> {
        let taken = self
            .reserved
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |reserved| {
                reserved
                    .checked_add(asked)
                    .filter(|&after| after <= self.total)
            });
        taken.map(|_| ()).map_err(|reserved| {
            self.refusals.fetch_add(1, Ordering::Relaxed);
            Exhausted {
                asked,
                total: self.total,
                reserved,
            }
        })
    }

    fn give_back(&self, bytes: u64) {
        self.reserved.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// One call's share of the budget, given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<MemoryBudget>,
    bytes: u64,
}

impl Reservation {
    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Holds `bytes` more, or refuses without holding any.
    pub fn grow(&mut self, bytes: u64) -> Result<(), Exhausted> {
        self.budget.take(bytes)?;
        self.bytes += bytes;
        Ok(())
    }

    /// Holds exactly `bytes`: grows (which may be refused) or gives back the difference.
    pub fn set(&mut self, bytes: u64) -> Result<(), Exhausted> {
        if bytes > self.bytes {
            return self.grow(bytes - self.bytes);
        }
        self.budget.give_back(self.bytes - bytes);
        self.bytes = bytes;
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_stop_at_the_budget_and_give_back_when_dropped() {
        let budget = MemoryBudget::new(100);
        let mut first = budget.reservation();
        first.grow(60).unwrap();
        let mut second = budget.reservation();
        let refused = second.grow(41).unwrap_err();
        assert_eq!(
            (refused.asked, refused.reserved, refused.total),
            (41, 60, 100)
        );
        assert_eq!(budget.refusals(), 1);
        second.grow(40).unwrap();
        assert_eq!(budget.reserved(), 100);
        first.set(10).unwrap();
        assert_eq!(budget.reserved(), 50);
        drop(second);
        assert_eq!(budget.reserved(), 10);
        drop(first);
        assert_eq!(budget.reserved(), 0);
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 << 29), "1.5 GiB");
    }
}
