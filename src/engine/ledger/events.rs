//! The record of an occurrences month: every bucket, kept small.

use super::Counts;

/// The buckets of an occurrences month, 16 bytes each: counts that fit 32 bits (all real ones)
/// go in the compact list, the rare wider ones in a list of their own, so the record stays small
/// without ever truncating a count.
#[derive(Clone, Debug, Default)]
pub(super) struct EventLog {
    compact: Vec<CompactBucket>,
    wide: Vec<(u32, u32, Counts)>,
}

#[derive(Clone, Copy, Debug)]
struct CompactBucket {
    minute: u32,
    span: u32,
    total: u32,
    failed: u32,
}

impl EventLog {
    /// Reserves, once, room for as many buckets as the month has minutes: the most it can ever
    /// hold, since buckets never overlap. The list then never moves, and pages it never touches
    /// cost nothing.
    pub(super) fn reserve_month(&mut self, minutes: usize) {
        if self.compact.capacity() == 0 {
            self.compact.reserve_exact(minutes);
        }
    }

    #[inline(always)]
    pub(super) fn push(&mut self, minute: u32, span: u32, counts: Counts) {
        match u32::try_from(counts.total) {
            // failed <= total, so it fits too.
            Ok(total) => self.compact.push(CompactBucket {
                minute,
                span,
                total,
                failed: counts.failed as u32,
            }),
            Err(_) => self.wide.push((minute, span, counts)),
        }
    }

    /// Every bucket as (first minute, minutes spanned, counts).
    pub(super) fn iter(&self) -> impl Iterator<Item = (u32, u32, Counts)> + '_ {
        let compact = self.compact.iter().map(|b| {
            let counts = Counts {
                total: u64::from(b.total),
                failed: u64::from(b.failed),
            };
            (b.minute, b.span, counts)
        });
        compact.chain(self.wide.iter().copied())
    }
}
