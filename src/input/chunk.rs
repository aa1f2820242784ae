//! Rows into `BucketColumns` messages, one subscription at a time.

use std::collections::HashMap;

use crate::api::pb;

/// Rows per message: about 40 KB on the wire for per-minute buckets, far under any server's
/// message limit, and large enough that per-message costs vanish.
pub const ROWS_PER_CHUNK: usize = 10_000;

/// One subscription's buckets as the message that carries them, with where each row came from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Chunk {
    /// The subscription, or `None` for an input without a `subscription` column.
    pub subscription: Option<String>,
    /// The buckets, starts as deltas (one byte per start for consecutive minutes).
    pub columns: pb::BucketColumns,
    /// Where row i came from, relative to its block: a line from 1, or a row from 0.
    pub places: Vec<u32>,
}

/// One row as a reader parsed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row<'a> {
    /// The subscription's name as it appears in the input.
    pub subscription: Option<&'a [u8]>,
    /// Start, seconds since the Unix epoch.
    pub start: i64,
    /// Length in seconds.
    pub duration_seconds: u32,
    /// Attempts.
    pub total: u64,
    /// Failures.
    pub failed: u64,
}

/// A subscription's rows not yet sent.
#[derive(Debug, Default)]
struct Open {
    subscription: Option<String>,
    duration_seconds: u32,
    starts: Vec<i64>,
    total: Vec<u64>,
    failed: Vec<u64>,
    places: Vec<u32>,
}

impl Open {
    fn take(&mut self) -> Chunk {
        let starts = std::mem::take(&mut self.starts);
        let base = starts.first().copied().unwrap_or(0);
        // Starts were checked to be instants chrono can hold (±2^43 s), so no difference overflows.
        let deltas = std::iter::once(0)
            .chain(starts.windows(2).map(|pair| pair[1] - pair[0]))
            .take(starts.len())
            .collect();
        Chunk {
            subscription: self.subscription.clone(),
            columns: pb::BucketColumns {
                duration_seconds: self.duration_seconds,
                total: std::mem::take(&mut self.total),
                failed: std::mem::take(&mut self.failed),
                start_base_unix_seconds: base,
                start_delta_seconds: deltas,
                ..pb::BucketColumns::default()
            },
            places: std::mem::take(&mut self.places),
        }
    }
}

/// Gathers a block's rows per subscription into chunks. A chunk is complete at
/// [`ROWS_PER_CHUNK`] rows, when a row of another duration arrives, or at the end of the block, so
/// the chunks depend only on the input, never on which thread read which block.
#[derive(Debug, Default)]
pub struct Chunker {
    open: Vec<Open>,
    by_name: HashMap<Vec<u8>, usize>,
    /// The previous row's subscription: files are usually grouped by subscription, and then the
    /// map is consulted once per run instead of once per row.
    last: Option<usize>,
    done: Vec<Chunk>,
}

impl Chunker {
    /// Adds a row read at `place`. A subscription's name must be UTF-8 (checked by the caller).
    pub fn push(&mut self, row: Row<'_>, place: u32) {
        let slot = self.slot(row.subscription);
        let open = &mut self.open[slot];
        if open.duration_seconds != row.duration_seconds && !open.starts.is_empty() {
            self.done.push(open.take());
        }
        open.duration_seconds = row.duration_seconds;
        open.starts.push(row.start);
        open.total.push(row.total);
        open.failed.push(row.failed);
        open.places.push(place);
        if open.starts.len() == ROWS_PER_CHUNK {
            self.done.push(open.take());
        }
    }

    fn slot(&mut self, subscription: Option<&[u8]>) -> usize {
        let name = subscription.unwrap_or_default();
        if let Some(last) = self.last
            && self.open[last]
                .subscription
                .as_deref()
                .unwrap_or_default()
                .as_bytes()
                == name
        {
            return last;
        }
        let slot = match self.by_name.get(name) {
            Some(&slot) => slot,
            None => {
                let slot = self.open.len();
                self.open.push(Open {
                    subscription: subscription
                        .map(|name| String::from_utf8_lossy(name).into_owned()),
                    ..Open::default()
                });
                self.by_name.insert(name.to_vec(), slot);
                slot
            }
        };
        self.last = Some(slot);
        slot
    }

    /// The chunks completed so far; the rows of chunks still open stay.
    pub fn take_completed(&mut self) -> Vec<Chunk> {
        std::mem::take(&mut self.done)
    }

    /// The block's chunks: those completed as rows arrived, then the rest in order of each
    /// subscription's first row.
    pub fn finish(mut self) -> Vec<Chunk> {
        for open in &mut self.open {
            if !open.starts.is_empty() {
                self.done.push(open.take());
            }
        }
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(subscription: &str, start: i64, duration_seconds: u32) -> Row<'_> {
        Row {
            subscription: Some(subscription.as_bytes()),
            start,
            duration_seconds,
            total: 10,
            failed: 1,
        }
    }

    #[test]
    fn splits_by_subscription_duration_and_size_in_a_fixed_order() {
        let mut chunker = Chunker::default();
        chunker.push(row("b", 600, 60), 2);
        chunker.push(row("a", 60, 60), 3);
        chunker.push(row("b", 660, 60), 4);
        chunker.push(row("b", 300, 300), 5);
        for i in 0..ROWS_PER_CHUNK as i64 {
            chunker.push(row("c", i * 60, 60), 6);
        }
        let chunks = chunker.finish();
        let shape: Vec<(&str, usize, u32)> = chunks
            .iter()
            .map(|c| {
                (
                    c.subscription.as_deref().unwrap(),
                    c.columns.rows(),
                    c.columns.duration_seconds,
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                ("b", 2, 60),
                ("c", ROWS_PER_CHUNK, 60),
                ("b", 1, 300),
                ("a", 1, 60)
            ]
        );
        assert_eq!(chunks[0].columns.starts().unwrap().as_ref(), [600, 660]);
        assert_eq!(chunks[0].columns.start_delta_seconds, [0, 60]);
        assert_eq!(chunks[0].places, [2, 4]);
    }
}
