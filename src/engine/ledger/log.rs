//! The month's record of every bucket it accepted, in a compact form that is also the canonical
//! form the input digest hashes.
//!
//! Each record is four LEB128 varints: the zigzag-encoded difference between its first minute and
//! the previous record's (0 before the first), its span in minutes, its total and its failures. A
//! run of consecutive one-minute buckets costs about four bytes a bucket, a quarter of a fixed
//! 16-byte record. Records are kept in arrival order; when that order is already the canonical one
//! (ascending minutes, as clients almost always send), the digest hashes the bytes as they are.
//!
//! The bytes live in fixed-size chunks allocated zeroed as they are needed: a growing vector would
//! copy everything it holds at each doubling, which measured as more than half of the cost of
//! keeping the log.

use super::Counts;

/// One accepted bucket: minutes `[minute, minute + span)` of its month.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) minute: u32,
    pub(crate) span: u32,
    pub(crate) counts: Counts,
}

/// The most bytes one record takes: four varints of at most ten bytes.
const MAX_RECORD_BYTES: usize = 40;

/// Bytes per chunk: small enough that a month's unused tail costs little, large enough that
/// allocations are rare (one per about 4,000 records).
const CHUNK_BYTES: usize = 16 * 1024;

/// The records of one month.
#[derive(Clone, Debug)]
pub(crate) struct BucketLog {
    /// Each chunk with the bytes of it in use; a record never straddles two chunks.
    chunks: Vec<(Box<[u8]>, usize)>,
    last_minute: u32,
    records: u64,
    /// True while every record came after the one before it.
    ascending: bool,
}

impl BucketLog {
    /// An empty log; it allocates nothing until the first record.
    pub(crate) fn new() -> Self {
        BucketLog {
            chunks: Vec::new(),
            last_minute: 0,
            records: 0,
            ascending: true,
        }
    }

    /// Appends a record (the careful path's one at a time; runs use [`BucketLog::writer`]).
    pub(crate) fn push(&mut self, minute: u32, span: u32, counts: Counts) {
        self.writer().push(minute, span, counts);
    }

    /// A writer for a run of records, which keeps the chunk it writes into in locals: the hot
    /// path writes a record with no load or store of the log's own fields.
    /// Allocates nothing until it writes.
    #[inline(always)]
    pub(crate) fn writer(&mut self) -> LogWriter<'_> {
        // The last chunk is taken out to be written into, or left as it is when it is full.
        let (chunk, used) = match self.chunks.last() {
            Some((_, used)) if used + MAX_RECORD_BYTES <= CHUNK_BYTES => self
                .chunks
                .pop()
                .map_or((Box::default(), CHUNK_BYTES), |(chunk, used)| (chunk, used)),
            _ => (Box::default(), CHUNK_BYTES),
        };
        LogWriter {
            last_minute: self.last_minute,
            records: self.records,
            ascending: self.ascending,
            log: self,
            chunk,
            used,
        }
    }

    /// Records kept.
    pub(crate) fn len(&self) -> u64 {
        self.records
    }

    /// Heap bytes the log holds.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.chunks.len() * CHUNK_BYTES
            + self.chunks.capacity() * std::mem::size_of::<(Box<[u8]>, usize)>()
    }

    /// Every record, in arrival order.
    pub(crate) fn iter(&self) -> Records<'_> {
        Records {
            pieces: self.chunks.iter(),
            bytes: &[],
            at: 0,
            minute: 0,
        }
    }

    /// Every record in ascending minutes: decoded as they come when they arrived in order, sorted
    /// first otherwise.
    pub(crate) fn in_order(&self) -> Box<dyn Iterator<Item = Record> + '_> {
        if self.ascending {
            return Box::new(self.iter());
        }
        let mut records: Vec<Record> = self.iter().collect();
        records.sort_unstable_by_key(|record| record.minute);
        Box::new(records.into_iter())
    }

    /// The log in canonical order, ascending minutes: itself when the records arrived in order,
    /// re-encoded once otherwise.
    pub(crate) fn canonical(&self) -> std::borrow::Cow<'_, BucketLog> {
        if self.ascending {
            return std::borrow::Cow::Borrowed(self);
        }
        let mut sorted = BucketLog::new();
        {
            let mut writer = sorted.writer();
            for record in self.in_order() {
                writer.push(record.minute, record.span, record.counts);
            }
        }
        std::borrow::Cow::Owned(sorted)
    }

    /// The encoded records, in pieces, in the order they were written.
    pub(crate) fn pieces(&self) -> impl Iterator<Item = &[u8]> {
        self.chunks.iter().map(|(chunk, used)| &chunk[..*used])
    }

    /// Bytes the encoded records take.
    pub(crate) fn encoded_len(&self) -> usize {
        self.chunks.iter().map(|(_, used)| used).sum()
    }
}

/// Appends records to a [`BucketLog`]; the log is complete again when the writer is dropped.
pub(crate) struct LogWriter<'a> {
    log: &'a mut BucketLog,
    chunk: Box<[u8]>,
    used: usize,
    last_minute: u32,
    records: u64,
    ascending: bool,
}

impl LogWriter<'_> {
    /// Appends a record.
    #[inline(always)]
    pub(crate) fn push(&mut self, minute: u32, span: u32, counts: Counts) {
        let delta = i64::from(minute) - i64::from(self.last_minute);
        self.ascending &= self.records == 0 || delta > 0;
        if self.used + MAX_RECORD_BYTES > CHUNK_BYTES {
            // An empty box stands for "no chunk yet" and is not kept.
            let full =
                std::mem::replace(&mut self.chunk, vec![0u8; CHUNK_BYTES].into_boxed_slice());
            if !full.is_empty() {
                self.log.chunks.push((full, self.used));
            }
            self.used = 0;
        }
        let window: &mut [u8; MAX_RECORD_BYTES] = (&mut self.chunk
            [self.used..self.used + MAX_RECORD_BYTES])
            .try_into()
            .expect("the window is MAX_RECORD_BYTES long");
        let mut at = varint(zigzag(delta), window, 0);
        at = varint(u64::from(span), window, at);
        at = varint(counts.total, window, at);
        at = varint(counts.failed, window, at);
        self.used += at;
        self.last_minute = minute;
        self.records += 1;
    }
}

impl Drop for LogWriter<'_> {
    fn drop(&mut self) {
        if !self.chunk.is_empty() {
            let chunk = std::mem::take(&mut self.chunk);
            self.log.chunks.push((chunk, self.used));
        }
        self.log.last_minute = self.last_minute;
        self.log.records = self.records;
        self.log.ascending = self.ascending;
    }
}

/// Decodes a log's records, chunk after chunk.
pub(crate) struct Records<'a> {
    pieces: std::slice::Iter<'a, (Box<[u8]>, usize)>,
    bytes: &'a [u8],
    at: usize,
    minute: u32,
}

impl Iterator for Records<'_> {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        while self.at >= self.bytes.len() {
            let (chunk, used) = self.pieces.next()?;
            self.bytes = &chunk[..*used];
            self.at = 0;
        }
        let delta = unzigzag(self.read());
        // The log only ever holds minutes of one month, written by `push`.
        self.minute = (i64::from(self.minute) + delta) as u32;
        let span = self.read() as u32;
        let total = self.read();
        let failed = self.read();
        Some(Record {
            minute: self.minute,
            span,
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

/// Writes `value` as a LEB128 varint at `at`, returning the position after it. Values below 2^14
/// (every span and delta, and most counts) take a branch-free path: both bytes are written and
/// the position moves by one or two, so unpredictable counts cost no mispredicted branch.
#[inline(always)]
fn varint(mut value: u64, out: &mut [u8; MAX_RECORD_BYTES], mut at: usize) -> usize {
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

/// Small magnitudes, negative or not, in few bytes (protobuf's sint64 encoding).
fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(total: u64, failed: u64) -> Counts {
        Counts { total, failed }
    }

    fn canonical(log: &BucketLog) -> Vec<u8> {
        let canonical = log.canonical();
        let bytes: Vec<u8> = canonical.pieces().flatten().copied().collect();
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
        // Consecutive minutes with small counts take four bytes each.
        assert_eq!(canonical(&ascending).len(), 16);
    }

    #[test]
    fn records_span_many_chunks_and_decode_across_them() {
        let mut log = BucketLog::new();
        for minute in 0..44_640 {
            log.push(minute, 1, counts(u64::from(minute) * 1_000_003, 1));
        }
        assert!(log.heap_bytes() > CHUNK_BYTES * 10);
        let decoded: Vec<Record> = log.iter().collect();
        assert_eq!(decoded.len(), 44_640);
        assert!(
            decoded
                .iter()
                .enumerate()
                .all(|(i, r)| r.minute == i as u32 && r.counts.total == i as u64 * 1_000_003)
        );
    }
}
