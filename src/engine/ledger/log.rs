//! The month's record of every bucket it accepted, in a compact form that is also the canonical
//! form the input digest hashes.
//!
//! Buckets are kept as runs: a run is buckets of one span, each starting where the one before it
//! ended. A run is stored once (its first minute, span and length) and each of its buckets as two
//! LEB128 varints, its total and its failures: a month of one-minute buckets costs about 2.5 bytes
//! a bucket. In the canonical form the runs are maximal and ascending; a log whose buckets arrived
//! in order (as clients almost always send them) already is, and the digest hashes its bytes as
//! they are.
//!
//! The counts live in fixed-size chunks allocated zeroed as they are needed, written through a
//! writer that keeps its position in locals: a growing vector copied everything it held at each
//! doubling, which measured as more than half of the cost of keeping the log.

use std::borrow::Cow;

use super::Counts;

/// One accepted bucket: minutes `[minute, minute + span)` of its month.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) minute: u32,
    pub(crate) span: u32,
    pub(crate) counts: Counts,
}

/// Buckets of one span, each starting where the one before it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    minute: u32,
    span: u32,
    buckets: u32,
    /// Bytes its buckets' counts take.
    bytes: u32,
}

impl Run {
    fn end(&self) -> u32 {
        self.minute + self.span * self.buckets
    }
}

/// The most bytes one bucket's counts take: two varints of at most ten bytes.
const MAX_COUNTS_BYTES: usize = 20;

/// Bytes per chunk: small enough that a month's first chunk, reserved with its term, costs little
/// (120 months of a ten-year term take 480 KiB), large enough that allocations stay rare (one per
/// about 1,600 buckets).
pub(super) const CHUNK_BYTES: usize = 4 * 1024;

/// The buckets of one month.
#[derive(Clone, Debug)]
pub(crate) struct BucketLog {
    /// The runs, in arrival order.
    runs: Vec<Run>,
    /// Each chunk with the bytes of it in use; one bucket's counts never straddle two chunks.
    chunks: Vec<(Box<[u8]>, usize)>,
    records: u64,
    /// True while every bucket came after the one before it.
    ascending: bool,
}

impl BucketLog {
    /// An empty log; it allocates nothing until the first bucket.
    pub(crate) fn new() -> Self {
        BucketLog {
            runs: Vec::new(),
            chunks: Vec::new(),
            records: 0,
            ascending: true,
        }
    }

    /// Appends a bucket (the careful path's one at a time; runs use [`BucketLog::writer`]).
    pub(crate) fn push(&mut self, minute: u32, span: u32, counts: Counts) {
        self.writer().push(minute, span, counts);
    }

    /// A writer for a run of buckets, which keeps the chunk it writes into and the current run in
    /// locals: the hot path writes a bucket with no load or store of the log's own fields.
    /// Allocates nothing until it writes.
    #[inline(always)]
    pub(crate) fn writer(&mut self) -> LogWriter<'_> {
        let (chunk, used) = match self.chunks.last() {
            Some((_, used)) if used + MAX_COUNTS_BYTES <= CHUNK_BYTES => self
                .chunks
                .pop()
                .map_or((Box::default(), CHUNK_BYTES), |(chunk, used)| (chunk, used)),
            _ => (Box::default(), CHUNK_BYTES),
        };
        let run = self.runs.pop();
        LogWriter {
            run,
            records: self.records,
            ascending: self.ascending,
            log: self,
            chunk,
            used,
        }
    }

    /// Buckets kept.
    pub(crate) fn len(&self) -> u64 {
        self.records
    }

    /// Heap bytes the log holds.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.chunks.len() * CHUNK_BYTES
            + self.chunks.capacity() * std::mem::size_of::<(Box<[u8]>, usize)>()
            + self.runs.capacity() * std::mem::size_of::<Run>()
    }

    /// Every bucket, in arrival order.
    pub(crate) fn iter(&self) -> Records<'_> {
        Records {
            runs: self.runs.iter(),
            run: None,
            left: 0,
            pieces: self.chunks.iter(),
            bytes: &[],
            at: 0,
        }
    }

    /// Every bucket in ascending minutes: decoded as they come when they arrived in order, sorted
    /// first otherwise.
    pub(crate) fn in_order(&self) -> Box<dyn Iterator<Item = Record> + '_> {
        if self.ascending {
            return Box::new(self.iter());
        }
        let mut records: Vec<Record> = self.iter().collect();
        records.sort_unstable_by_key(|record| record.minute);
        Box::new(records.into_iter())
    }

    /// The log in canonical form, maximal runs in ascending minutes: itself when the buckets
    /// arrived in order, rebuilt once otherwise.
    pub(crate) fn canonical(&self) -> Cow<'_, BucketLog> {
        if self.ascending {
            return Cow::Borrowed(self);
        }
        let mut sorted = BucketLog::new();
        {
            let mut writer = sorted.writer();
            for record in self.in_order() {
                writer.push(record.minute, record.span, record.counts);
            }
        }
        Cow::Owned(sorted)
    }

    /// The encoded log, in pieces: for each run, its header (the gap in minutes since the end of
    /// the run before it, its span and its number of buckets, as varints) and then its buckets'
    /// counts. Canonical when the log is.
    pub(crate) fn pieces(&self) -> impl Iterator<Item = Cow<'_, [u8]>> {
        let mut data = self.chunks.iter().map(|(chunk, used)| &chunk[..*used]);
        let mut current: &[u8] = &[];
        let mut previous_end = 0;
        self.runs.iter().flat_map(move |run| {
            let mut header = Vec::with_capacity(30);
            put(
                &mut header,
                u64::from(run.minute.saturating_sub(previous_end)),
            );
            put(&mut header, u64::from(run.span));
            put(&mut header, u64::from(run.buckets));
            previous_end = run.end();
            let mut pieces = vec![Cow::Owned(header)];
            // The run's counts: its next `bytes` bytes, across chunks (one bucket's counts never
            // straddle two).
            let mut left = run.bytes as usize;
            while left > 0 {
                if current.is_empty() {
                    current = data.next().unwrap_or(&[]);
                    if current.is_empty() {
                        break;
                    }
                }
                let length = left.min(current.len());
                pieces.push(Cow::Borrowed(&current[..length]));
                current = &current[length..];
                left -= length;
            }
            pieces
        })
    }

    /// Bytes the encoded log takes.
    pub(crate) fn encoded_len(&self) -> usize {
        let data: usize = self.chunks.iter().map(|(_, used)| used).sum();
        let mut previous_end = 0;
        let headers: usize = self
            .runs
            .iter()
            .map(|run| {
                let length = varint_len(u64::from(run.minute.saturating_sub(previous_end)))
                    + varint_len(u64::from(run.span))
                    + varint_len(u64::from(run.buckets));
                previous_end = run.end();
                length
            })
            .sum();
        data + headers
    }
}

/// Appends buckets to a [`BucketLog`]; the log is complete again when the writer is dropped.
pub(crate) struct LogWriter<'a> {
    log: &'a mut BucketLog,
    /// The run being extended, taken out of the log.
    run: Option<Run>,
    chunk: Box<[u8]>,
    used: usize,
    records: u64,
    ascending: bool,
}

impl LogWriter<'_> {
    /// Appends a bucket.
    #[inline(always)]
    pub(crate) fn push(&mut self, minute: u32, span: u32, counts: Counts) {
        self.extend_run(minute, span, 1);
        self.push_counts(counts);
    }

    /// Appends `N` buckets of `span` minutes, the first at `minute` and each starting where the
    /// one before it ended, with these counts: the same bytes as `N` calls of
    /// [`LogWriter::push`], with the run kept once. Not inlined: on its own the loop keeps its
    /// state in registers, where inside the fast path's pass it spilled to the stack.
    ///
    /// Sixteen rows at a time in AVX-512 where the CPU has it, each group asking only for the 64
    /// bytes its one store writes: asking for the worst case of every row (20 bytes) sent the
    /// rows of the last 1.3 KiB of each 4 KiB chunk, about a third of them, one by one.
    #[inline(never)]
    pub(crate) fn push_block<const N: usize>(
        &mut self,
        minute: u32,
        span: u32,
        totals: &[u64; N],
        failed: &[u64; N],
    ) {
        self.extend_run(minute, span, N as u32);
        let mut written = 0;
        let mut row = 0;
        #[cfg(target_arch = "x86_64")]
        if super::avx512::available() {
            use super::avx512::{GROUP, GROUP_BYTES, encode as encode_group};
            while let (Some(group_totals), Some(group_failed)) =
                (totals.get(row..row + GROUP), failed.get(row..row + GROUP))
            {
                if self.used + GROUP_BYTES > CHUNK_BYTES {
                    self.next_chunk();
                }
                let window = (&mut self.chunk[self.used..self.used + GROUP_BYTES])
                    .try_into()
                    .expect("the window is GROUP_BYTES long");
                let (group_totals, group_failed) = (
                    group_totals.try_into().expect("the group is GROUP long"),
                    group_failed.try_into().expect("the group is GROUP long"),
                );
                // SAFETY: `available` said this CPU has the instructions `encode` is compiled for.
                match unsafe { encode_group(group_totals, group_failed, window) } {
                    Some(length) => {
                        self.used += length;
                        written += length;
                    }
                    None => written += self.push_rows(group_totals, group_failed),
                }
                row += GROUP;
            }
        }
        written += self.push_rows(&totals[row..], &failed[row..]);
        if let Some(run) = &mut self.run {
            run.bytes += written as u32;
        }
        self.records += N as u64;
    }

    /// Writes rows' counts one bucket at a time, in new chunks as they need them, and returns the
    /// bytes they took. The rows that fit in what is left of the chunk whatever their counts are
    /// written with no check of the room and the chunk held in a local.
    #[inline(always)]
    fn push_rows(&mut self, totals: &[u64], failed: &[u64]) -> usize {
        let mut written = 0;
        let mut row = 0;
        while row < totals.len() {
            if self.used + MAX_COUNTS_BYTES > CHUNK_BYTES {
                self.next_chunk();
            }
            let fit = (CHUNK_BYTES - self.used) / MAX_COUNTS_BYTES;
            let end = (row + fit).min(totals.len());
            let at = encode_rows(
                &totals[row..end],
                &failed[row..end],
                &mut self.chunk,
                self.used,
            );
            written += at - self.used;
            self.used = at;
            row = end;
        }
        written
    }

    /// Keeps the chunk being written, when there is one, and starts an empty one.
    #[cold]
    fn next_chunk(&mut self) {
        // An empty box stands for "no chunk yet" and is not kept.
        let full = std::mem::replace(&mut self.chunk, vec![0u8; CHUNK_BYTES].into_boxed_slice());
        if !full.is_empty() {
            self.log.chunks.push((full, self.used));
        }
        self.used = 0;
    }

    /// Counts `buckets` more buckets of `span` minutes from `minute` in the current run, or
    /// starts a run with them when they do not continue it.
    #[inline(always)]
    fn extend_run(&mut self, minute: u32, span: u32, buckets: u32) {
        match &mut self.run {
            Some(run) if run.span == span && run.end() == minute => run.buckets += buckets,
            current => {
                if let Some(run) = current.take() {
                    self.ascending &= minute >= run.end();
                    self.log.runs.push(run);
                }
                *current = Some(Run {
                    minute,
                    span,
                    buckets,
                    bytes: 0,
                });
            }
        }
    }

    /// Writes one bucket's counts, in a new chunk when this one has no room for them.
    #[inline(always)]
    fn push_counts(&mut self, counts: Counts) {
        if self.used + MAX_COUNTS_BYTES > CHUNK_BYTES {
            self.next_chunk();
        }
        let window: &mut [u8; MAX_COUNTS_BYTES] = (&mut self.chunk
            [self.used..self.used + MAX_COUNTS_BYTES])
            .try_into()
            .expect("the window is MAX_COUNTS_BYTES long");
        let at = encode(counts, window);
        self.used += at;
        if let Some(run) = &mut self.run {
            run.bytes += at as u32;
        }
        self.records += 1;
    }
}

impl Drop for LogWriter<'_> {
    fn drop(&mut self) {
        if !self.chunk.is_empty() {
            let chunk = std::mem::take(&mut self.chunk);
            self.log.chunks.push((chunk, self.used));
        }
        if let Some(run) = self.run.take() {
            self.log.runs.push(run);
        }
        self.log.records = self.records;
        self.log.ascending = self.ascending;
    }
}

/// Decodes a log's buckets, run after run, chunk after chunk.
pub(crate) struct Records<'a> {
    runs: std::slice::Iter<'a, Run>,
    run: Option<Run>,
    left: u32,
    pieces: std::slice::Iter<'a, (Box<[u8]>, usize)>,
    bytes: &'a [u8],
    at: usize,
}

impl Iterator for Records<'_> {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        while self.left == 0 {
            let run = *self.runs.next()?;
            self.run = Some(run);
            self.left = run.buckets;
        }
        let run = self.run?;
        let minute = run.minute + run.span * (run.buckets - self.left);
        self.left -= 1;
        while self.at >= self.bytes.len() {
            let (chunk, used) = self.pieces.next()?;
            self.bytes = &chunk[..*used];
            self.at = 0;
        }
        let total = self.read();
        let failed = self.read();
        Some(Record {
            minute,
            span: run.span,
            counts: Counts { total, failed },
        })
    }
}

impl Records<'_> {
    fn read(&mut self) -> u64 {
        let mut value = 0u64;
        let mut shift = 0;
        loop {
            let byte = self.bytes[self.at];
            self.at += 1;
            value |= u64::from(byte & 0x7F) << shift;
            if byte < 0x80 {
                return value;
            }
            shift += 7;
        }
    }
}

/// Writes the buckets' counts into `chunk` from `at`, which has room for [`MAX_COUNTS_BYTES`] a
/// bucket, one bucket at a time, and returns the position after them.
#[inline(always)]
fn encode_rows(totals: &[u64], failed: &[u64], chunk: &mut [u8], mut at: usize) -> usize {
    for (&total, &failed) in totals.iter().zip(failed) {
        let window: &mut [u8; MAX_COUNTS_BYTES] = (&mut chunk[at..at + MAX_COUNTS_BYTES])
            .try_into()
            .expect("the window is MAX_COUNTS_BYTES long");
        at += encode(Counts { total, failed }, window);
    }
    at
}

/// Writes a bucket's counts, its total and then its failures as LEB128 varints, and returns the
/// bytes they took. When both are below 2^14 (nearly every bucket) both go out in one four-byte
/// store with no branch on their lengths: the bytes past the two varints are scratch, which the
/// next bucket overwrites.
#[inline(always)]
fn encode(counts: Counts, out: &mut [u8; MAX_COUNTS_BYTES]) -> usize {
    if (counts.total | counts.failed) < 1 << 14 {
        let (total, total_len) = small_varint(counts.total);
        let (failed, failed_len) = small_varint(counts.failed);
        let both = total | failed << (8 * total_len);
        out[..4].copy_from_slice(&both.to_le_bytes());
        return total_len + failed_len;
    }
    let at = varint(counts.total, out, 0);
    varint(counts.failed, out, at)
}

/// A value below 2^14 as a LEB128 varint in the low bytes of a word, and its length. Its low
/// seven bits stay where they are, the next seven move up a byte, and the continuation bit is
/// set when the value needs the second byte: `value + (value & 0x3F80) + (more << 7)`.
#[inline(always)]
fn small_varint(value: u64) -> (u32, usize) {
    debug_assert!(value < 1 << 14);
    let more = (value + 0x3F80) >> 14;
    (
        (value + (value & 0x3F80) + (more << 7)) as u32,
        1 + more as usize,
    )
}

/// Writes `value` as a LEB128 varint at `at`, returning the position after it. Values below 2^14
/// (most counts) take a branch-free path: both bytes are written and the position moves by one or
/// two, so unpredictable counts cost no mispredicted branch.
#[inline(always)]
fn varint(mut value: u64, out: &mut [u8; MAX_COUNTS_BYTES], mut at: usize) -> usize {
    if value < 1 << 14 {
        let more = u8::from(value >= 0x80);
        out[at] = (value as u8 & 0x7F) | (more << 7);
        out[at + 1] = (value >> 7) as u8;
        return at + 1 + usize::from(more);
    }
    while value >= 0x80 {
        out[at] = (value as u8) | 0x80;
        value >>= 7;
        at += 1;
    }
    out[at] = value as u8;
    at + 1
}

/// Appends `value` as a LEB128 varint.
fn put(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// How many bytes `value` takes as a LEB128 varint.
fn varint_len(value: u64) -> usize {
    (64 - value.leading_zeros() as usize).max(1).div_ceil(7)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn counts(total: u64, failed: u64) -> Counts {
        Counts { total, failed }
    }

    fn canonical(log: &BucketLog) -> Vec<u8> {
        let canonical = log.canonical();
        let bytes: Vec<u8> = canonical
            .pieces()
            .flat_map(|piece| piece.into_owned())
            .collect();
        assert_eq!(canonical.encoded_len(), bytes.len());
        bytes
    }

    #[test]
    fn records_come_back_as_written_and_sorted() {
        let mut log = BucketLog::new();
        log.push(5, 1, counts(100, 0));
        log.push(6, 1, counts(u64::MAX, u64::MAX - 1));
        log.push(0, 5, counts(0, 0));
        let minutes: Vec<u32> = log.iter().map(|r| r.minute).collect();
        assert_eq!(minutes, [5, 6, 0]);
        let sorted: Vec<Record> = log.in_order().collect();
        assert_eq!(sorted[0].minute, 0);
        assert_eq!(sorted[2].counts, counts(u64::MAX, u64::MAX - 1));
    }

    #[test]
    fn the_canonical_bytes_do_not_depend_on_the_order_of_arrival() {
        let mut ascending = BucketLog::new();
        let mut shuffled = BucketLog::new();
        for minute in [0, 1, 2, 10] {
            ascending.push(minute, 1, counts(u64::from(minute) * 7, 1));
        }
        for minute in [10, 1, 0, 2] {
            shuffled.push(minute, 1, counts(u64::from(minute) * 7, 1));
        }
        assert_eq!(canonical(&ascending), canonical(&shuffled));
        // Two runs (0-2 and 10): 3 bytes of header each, 2 bytes of counts a bucket.
        assert_eq!(
            canonical(&ascending),
            [0, 1, 3, 0, 1, 7, 1, 14, 1, 7, 1, 1, 70, 1]
        );
    }

    #[test]
    fn records_span_many_chunks_and_decode_across_them() {
        let mut log = BucketLog::new();
        {
            let mut writer = log.writer();
            for minute in 0..44_640 {
                writer.push(minute, 1, counts(u64::from(minute) * 1_000_003, 1));
            }
        }
        assert!(log.heap_bytes() > CHUNK_BYTES * 20);
        let decoded: Vec<Record> = log.iter().collect();
        assert_eq!(decoded.len(), 44_640);
        assert!(
            decoded
                .iter()
                .enumerate()
                .all(|(i, r)| r.minute == i as u32 && r.counts.total == i as u64 * 1_000_003)
        );
        assert_eq!(canonical(&log).len(), log.encoded_len());
    }

    #[test]
    fn counts_encode_as_two_varints_whatever_their_size() {
        let values = [0, 1, 127, 128, 200, 16_383, 16_384, 1 << 40, u64::MAX];
        for total in values {
            for failed in values {
                let mut expected = Vec::new();
                put(&mut expected, total);
                put(&mut expected, failed);
                let mut out = [0xAA; MAX_COUNTS_BYTES];
                let len = encode(Counts { total, failed }, &mut out);
                assert_eq!(&out[..len], &expected[..], "{total} {failed}");
            }
        }
    }

    /// A count either side of each varint length (2^14 and more make the vector encoder decline
    /// its group of sixteen), or a small one as real minutes have.
    fn count() -> impl Strategy<Value = u64> {
        prop_oneof![
            prop::sample::select(vec![0, 1, 127, 128, 129, 16_383, 16_384, 1 << 40, u64::MAX]),
            0u64..300,
            0u64..300,
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Blocks of 64 (sixteen at a time where the CPU has AVX-512, one by one when a count
        /// makes it decline) and single buckets write LEB128's bytes, across as many chunks as
        /// they take, and decode to what was written.
        #[test]
        fn blocks_and_single_buckets_encode_as_leb128_across_chunks(
            counts in prop::collection::vec((count(), count()), 0..3_000),
        ) {
            let (totals, failed): (Vec<u64>, Vec<u64>) = counts.iter().copied().unzip();
            let mut log = BucketLog::new();
            {
                let mut writer = log.writer();
                let mut minute = 0;
                for (t, f) in totals.chunks_exact(64).zip(failed.chunks_exact(64)) {
                    writer.push_block::<64>(minute, 1, t.try_into().unwrap(), f.try_into().unwrap());
                    minute += 64;
                }
                for &(total, failures) in &counts[counts.len() / 64 * 64..] {
                    writer.push(minute, 1, Counts { total, failed: failures });
                    minute += 1;
                }
            }
            let bytes: Vec<u8> = log.chunks.iter().flat_map(|(chunk, used)| chunk[..*used].to_vec()).collect();
            let mut expected = Vec::new();
            for &(total, failures) in &counts {
                put(&mut expected, total);
                put(&mut expected, failures);
            }
            prop_assert_eq!(bytes, expected);
            let decoded: Vec<(u64, u64)> = log.iter().map(|r| (r.counts.total, r.counts.failed)).collect();
            prop_assert_eq!(decoded, counts);
        }
    }

    #[test]
    fn varint_lengths_match_the_encoding() {
        for value in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut bytes = Vec::new();
            put(&mut bytes, value);
            assert_eq!(varint_len(value), bytes.len(), "{value}");
        }
    }
}
