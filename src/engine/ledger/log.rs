//! The month's record of every bucket it accepted, in a compact form that is also the canonical
//! form the input digest hashes.
//!
//! Each record is four LEB128 varints: the zigzag-encoded difference between its first minute and
//! the previous record's (0 before the first), its span in minutes, its total and its failures. A
//! run of consecutive one-minute buckets costs about four bytes a bucket, a quarter of a fixed
//! 16-byte record. Records are kept in arrival order; when that order is already the canonical one
//! (ascending minutes, as clients almost always send), the digest hashes the bytes as they are.

use super::Counts;

/// One accepted bucket: minutes `[minute, minute + span)` of its month.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) minute: u32,
    pub(crate) span: u32,
    pub(crate) counts: Counts,
}

/// The records of one month.
#[derive(Clone, Debug, Default)]
pub(crate) struct BucketLog {
    bytes: Vec<u8>,
    last_minute: u32,
    records: u64,
    /// True while every record came after the one before it.
    ascending: bool,
}

/// The most bytes one record takes: four varints of at most ten bytes.
const MAX_RECORD_BYTES: usize = 40;

impl BucketLog {
    /// An empty log.
    pub(crate) fn new() -> Self {
        BucketLog {
            ascending: true,
            ..BucketLog::default()
        }
    }

    /// Appends a record.
    #[inline(always)]
    pub(crate) fn push(&mut self, minute: u32, span: u32, counts: Counts) {
        let delta = i64::from(minute) - i64::from(self.last_minute);
        self.ascending &= self.records == 0 || delta > 0;
        let mut record = [0u8; MAX_RECORD_BYTES];
        let mut at = varint(zigzag(delta), &mut record, 0);
        at = varint(u64::from(span), &mut record, at);
        at = varint(counts.total, &mut record, at);
        at = varint(counts.failed, &mut record, at);
        self.bytes.extend_from_slice(&record[..at]);
        self.last_minute = minute;
        self.records += 1;
    }

    /// Records kept.
    pub(crate) fn len(&self) -> u64 {
        self.records
    }

    /// Bytes the log holds (its capacity, which is what it costs).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
    }

    /// Every record, in arrival order.
    pub(crate) fn iter(&self) -> Records<'_> {
        Records {
            bytes: &self.bytes,
            at: 0,
            minute: 0,
        }
    }

    /// Every record in ascending minutes: as they are when they arrived in order, sorted otherwise.
    pub(crate) fn sorted(&self) -> Vec<Record> {
        let mut records: Vec<Record> = self.iter().collect();
        if !self.ascending {
            records.sort_unstable_by_key(|record| record.minute);
        }
        records
    }

    /// The canonical encoding of the month's records, in ascending minutes: the log's own bytes
    /// when they arrived in order, re-encoded once otherwise.
    pub(crate) fn canonical(&self) -> std::borrow::Cow<'_, [u8]> {
        if self.ascending {
            return std::borrow::Cow::Borrowed(&self.bytes);
        }
        let mut sorted = BucketLog::new();
        for record in self.sorted() {
            sorted.push(record.minute, record.span, record.counts);
        }
        std::borrow::Cow::Owned(sorted.bytes)
    }
}

/// Decodes a log's records in order.
pub(crate) struct Records<'a> {
    bytes: &'a [u8],
    at: usize,
    minute: u32,
}

impl Iterator for Records<'_> {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        if self.at >= self.bytes.len() {
            return None;
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

/// Writes `value` as a LEB128 varint at `at`, returning the position after it.
#[inline(always)]
fn varint(mut value: u64, out: &mut [u8; MAX_RECORD_BYTES], mut at: usize) -> usize {
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

    #[test]
    fn records_come_back_as_written_and_sorted() {
        let mut log = BucketLog::new();
        log.push(5, 1, counts(100, 0));
        log.push(6, 1, counts(u64::MAX, u64::MAX - 1));
        log.push(0, 5, counts(0, 0));
        let minutes: Vec<u32> = log.iter().map(|r| r.minute).collect();
        assert_eq!(minutes, [5, 6, 0]);
        let sorted = log.sorted();
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
        assert_eq!(ascending.canonical(), shuffled.canonical());
        // Consecutive minutes with small counts take four bytes each.
        assert_eq!(ascending.canonical().len(), 16);
    }
}
