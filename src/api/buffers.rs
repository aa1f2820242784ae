//! Vectors the bucket messages reuse from one message to the next.
//!
//! A message of 10,000 rows is decoded into 10,000 `Bucket`s (480 KB) and then turned into columns
//! (280 KB) for the engine; a columns message is decoded into three or four columns of 80 KB.
//! Allocated afresh for every message, each of those is a large block the allocator hands back to
//! the system when it is freed (the server returns freed memory at once: see `main.rs`) and
//! faults in again, zeroed, for the next message: measured on a server fed rows, that doubled its
//! CPU per bucket (112-155 ns against 59-83). Kept here instead, a few of each are reused,
//! whichever thread decodes or ingests the next message.
//!
//! What is kept is bounded and small beside the memory budget: at most [`KEPT`] vectors of each
//! kind, each of at most [`MAX_KEPT_ROWS`] rows (about 12 MiB in all); a larger vector is freed as
//! before.

use std::sync::Mutex;

/// Starts in Unix seconds: the rows' as columns, a columns message's `start_unix_seconds`, and
/// the starts its deltas add up to.
pub(super) static STARTS: Pool<i64> = Pool::new();
/// A columns message's `start_delta_seconds`.
pub(super) static DELTAS: Pool<i64> = Pool::new();
/// Totals and failures, of either form.
pub(super) static COUNTS: Pool<u64> = Pool::new();
/// The rows' durations.
pub(super) static DURATIONS: Pool<u32> = Pool::new();

/// Vectors of one kind kept at once: enough for the calls that take rows at the same time (one a
/// core, see `Work`) and the messages decoded meanwhile, waiting for their turn.
const KEPT: usize = 8;

/// The most rows a kept vector may have room for: clients send 10,000 a message by default.
const MAX_KEPT_ROWS: usize = 16_384;

/// Empty vectors of `T`, each with room from an earlier message.
pub(super) struct Pool<T> {
    kept: Mutex<Vec<Vec<T>>>,
}

impl<T> Pool<T> {
    pub(super) const fn new() -> Self {
        Pool {
            kept: Mutex::new(Vec::new()),
        }
    }

    /// An empty vector with room for at least `rows`: a kept one when one has the room, a new one
    /// otherwise (growing a kept one would copy it and fault in its new room all the same).
    pub(super) fn take(&self, rows: usize) -> Vec<T> {
        let mut kept = self.lock();
        match kept.iter().position(|vector| vector.capacity() >= rows) {
            Some(at) => kept.swap_remove(at),
            None => Vec::with_capacity(rows),
        }
    }

    /// Keeps `vector`, emptied, for a later [`Pool::take`], unless it is large, or [`KEPT`] are
    /// kept already and none has less room.
    pub(super) fn give(&self, mut vector: Vec<T>) {
        if vector.capacity() == 0 || vector.capacity() > MAX_KEPT_ROWS {
            return;
        }
        vector.clear();
        let mut kept = self.lock();
        if kept.len() < KEPT {
            kept.push(vector);
        } else if let Some(smallest) = kept.iter_mut().min_by_key(|kept| kept.capacity())
            && smallest.capacity() < vector.capacity()
        {
            *smallest = vector;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vec<T>>> {
        // What is kept is only ever empty vectors: one a panicking thread left is as good as any.
        self.kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vector_given_back_is_taken_again_empty_and_a_large_one_is_not_kept() {
        let pool = Pool::<u64>::new();
        let mut vector = pool.take(100);
        vector.extend(0..100);
        let room = vector.capacity();
        pool.give(vector);
        let again = pool.take(10);
        assert!(again.is_empty());
        assert_eq!(again.capacity(), room);
        pool.give(Vec::with_capacity(MAX_KEPT_ROWS + 1));
        assert_eq!(pool.take(0).capacity(), 0);
        // A kept vector too small for the rows stays kept, and a new one is made.
        pool.give(Vec::with_capacity(10));
        assert!(pool.take(1_000).capacity() >= 1_000);
        assert_eq!(pool.take(10).capacity(), 10);
    }

    #[test]
    fn at_most_kept_vectors_are_kept() {
        let pool = Pool::<u32>::new();
        for _ in 0..KEPT + 3 {
            pool.give(Vec::with_capacity(8));
        }
        assert_eq!(pool.lock().len(), KEPT);
        // When full, a larger one takes the place of the smallest.
        pool.give(Vec::with_capacity(64));
        assert_eq!(pool.take(64).capacity(), 64);
    }
}
