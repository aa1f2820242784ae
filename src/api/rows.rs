//! The rows form (`EvaluateRequest.buckets`, one `Bucket` message a row) decoded by hand, for the
//! messages clients actually send; prost decodes everything else.
//!
//! prost decodes a `BucketBatch` through its generic merge loop: for every row it reads the key
//! and length of the `Bucket`, then of its `Timestamp`, each through the `Buf` abstraction and a
//! call per field. Profiling a warm server fed rows put that at 45% of its time, against 20% for
//! the engine. A request that holds only a batch of buckets, every field in its usual wire form,
//! is decoded here from one slice in a tight loop instead.
//!
//! This is a shortcut, never a second reading of the format: [`request`] answers only when the
//! message is one it recognises completely (the `buckets` field alone, each bucket holding only
//! its four known fields with their declared wire types), and then
//! its answer is the one prost gives, merge rules included (a repeated scalar keeps its last value,
//! a repeated `start` is merged field by field). Anything else (an unknown or repeated top-level
//! field, an unknown field in a row, a malformed byte) returns `None`, and
//! prost decodes the whole message, with its own errors. A property test holds the two decoders
//! to the same answers on random and on corrupted bytes.

use super::buffers::Pool;
use super::pb;

/// The vectors decoded rows go into, given back once the rows are taken (see `buffers`).
pub(super) static ROWS: Pool<pb::Bucket> = Pool::new();

/// Keys (field number << 3 | wire type) as single bytes: every field here numbers below 16.
const KEY_BUCKETS: u8 = 2 << 3 | 2;
const KEY_ROW: u8 = 1 << 3 | 2;
const KEY_START: u8 = 1 << 3 | 2;
const KEY_DURATION: u8 = 2 << 3;
const KEY_TOTAL: u8 = 3 << 3;
const KEY_FAILED: u8 = 4 << 3;
const KEY_SECONDS: u8 = 1 << 3;
const KEY_NANOS: u8 = 2 << 3;

/// The request these bytes encode, when it is a batch of buckets in the usual form; `None` hands
/// the message to prost.
pub(super) fn request(bytes: &[u8]) -> Option<pb::EvaluateRequest> {
    let (&KEY_BUCKETS, rest) = bytes.split_first()? else {
        return None;
    };
    let mut at = 0;
    let length = varint(rest, &mut at, rest.len())?;
    // The batch must be the message's only field: prost merges repeats and skips unknown fields.
    if length != (rest.len() - at) as u64 {
        return None;
    }
    Some(pb::EvaluateRequest {
        item: Some(pb::evaluate_request::Item::Buckets(pb::BucketBatch {
            buckets: buckets(&rest[at..])?,
        })),
    })
}

/// Every row of a `BucketBatch`'s bytes.
///
/// The rows are read with one cursor over the batch, each field within its end: a varint near the
/// end of its field can then still be read eight bytes at a time from the batch around it.
fn buckets(bytes: &[u8]) -> Option<Vec<pb::Bucket>> {
    // A row in the usual form takes 12 to 20 bytes (a count of 0 is not sent: 14 or 15 for a
    // minute of traffic), so this is room for all of them at once. Growing the vector instead
    // copied it and doubled its room, past what `buffers` keeps.
    let mut rows = ROWS.take(bytes.len() / 12);
    let mut at = 0;
    while let Some(&key) = bytes.get(at) {
        if key != KEY_ROW {
            return None;
        }
        at += 1;
        let end = field_end(bytes, &mut at, bytes.len())?;
        rows.push(bucket(bytes, &mut at, end)?);
    }
    Some(rows)
}

/// One `Bucket`: the bytes from `at` to `end`.
///
/// The fields are first read in the order prost writes them, each taken if its key comes next;
/// whatever remains (another order, a repeat) then goes through the loop, which reads any order.
/// Both read a field the same way, so this only moves the usual case from the loop's jump on
/// every key to a test that is predicted right: the same answer, a little sooner.
#[inline(always)]
fn bucket(bytes: &[u8], at: &mut usize, end: usize) -> Option<pb::Bucket> {
    let mut row = pb::Bucket::default();
    let next = |at: usize, key: u8| at < end && bytes[at] == key;
    if next(*at, KEY_START) {
        *at += 1;
        let start_end = field_end(bytes, at, end)?;
        timestamp(row.start.insert(Default::default()), bytes, at, start_end)?;
    }
    if next(*at, KEY_DURATION) {
        *at += 1;
        row.duration_seconds = varint(bytes, at, end)? as u32;
    }
    if next(*at, KEY_TOTAL) {
        *at += 1;
        row.total = varint(bytes, at, end)?;
    }
    if next(*at, KEY_FAILED) {
        *at += 1;
        row.failed = varint(bytes, at, end)?;
    }
    while *at < end {
        let key = bytes[*at];
        *at += 1;
        match key {
            KEY_START => {
                let start_end = field_end(bytes, at, end)?;
                // A repeated message field merges into what came before, as prost does.
                let start = row.start.get_or_insert_with(Default::default);
                timestamp(start, bytes, at, start_end)?;
            }
            // uint32 keeps the low 32 bits of a wider varint, as protobuf defines.
            KEY_DURATION => row.duration_seconds = varint(bytes, at, end)? as u32,
            KEY_TOTAL => row.total = varint(bytes, at, end)?,
            KEY_FAILED => row.failed = varint(bytes, at, end)?,
            _ => return None,
        }
    }
    Some(row)
}

/// Merges the fields of the `Timestamp` from `at` to `end` into `into`.
#[inline(always)]
fn timestamp(
    into: &mut prost_types::Timestamp,
    bytes: &[u8],
    at: &mut usize,
    end: usize,
) -> Option<()> {
    // As in `bucket`: prost's order first, then anything else.
    if *at < end && bytes[*at] == KEY_SECONDS {
        *at += 1;
        into.seconds = varint(bytes, at, end)? as i64;
    }
    if *at < end && bytes[*at] == KEY_NANOS {
        *at += 1;
        into.nanos = varint(bytes, at, end)? as i32;
    }
    while *at < end {
        let key = bytes[*at];
        *at += 1;
        match key {
            // int64 and int32 are the varint's two's complement, cut to their width.
            KEY_SECONDS => into.seconds = varint(bytes, at, end)? as i64,
            KEY_NANOS => into.nanos = varint(bytes, at, end)? as i32,
            _ => return None,
        }
    }
    Some(())
}

/// Where the length-delimited field at `at` ends; `at` moves past its length. `None` when it
/// would end past `end`, the end of the field around it.
#[inline(always)]
fn field_end(bytes: &[u8], at: &mut usize, end: usize) -> Option<usize> {
    let length = usize::try_from(varint(bytes, at, end)?).ok()?;
    (length <= end - *at).then_some(*at + length)
}

/// The varint at `at`, which must end by `end`; `at` moves past it. `None` when it is malformed
/// (cut short by `end`, or a tenth byte past 64 bits), and prost gives its error.
///
/// Decoded here, inline, and eight bytes at a time when the batch has eight from `at` (they may
/// reach past `end`; the varint itself may not): a start's five-byte seconds in every row went
/// through a call to prost's decoder, 7% of a server fed rows, and a byte-at-a-time loop kept its
/// value on the stack.
#[inline(always)]
fn varint(bytes: &[u8], at: &mut usize, end: usize) -> Option<u64> {
    let start = *at;
    let field = bytes.get(start..end)?;
    let &first = field.first()?;
    if first < 0x80 {
        *at = start + 1;
        return Some(u64::from(first));
    }
    if let Some(word) = bytes[start..].first_chunk::<8>() {
        let word = u64::from_le_bytes(*word);
        // A byte below 0x80 ends the varint: the first such of these eight, when there is one.
        let ends = !word & 0x8080_8080_8080_8080;
        if ends != 0 {
            let length = ends.trailing_zeros() as usize / 8 + 1;
            if length > field.len() {
                return None;
            }
            let kept = word & (u64::MAX >> (64 - 8 * length)) & 0x7F7F_7F7F_7F7F_7F7F;
            // The seven-bit groups packed together: in pairs, in fours, then all eight.
            let pairs = (kept & 0x007F_007F_007F_007F) | ((kept & 0x7F00_7F00_7F00_7F00) >> 1);
            let fours = (pairs & 0x0000_3FFF_0000_3FFF) | ((pairs & 0x3FFF_0000_3FFF_0000) >> 2);
            *at = start + length;
            return Some((fours & 0x0FFF_FFFF) | ((fours & 0x0FFF_FFFF_0000_0000) >> 4));
        }
    }
    let mut value = 0u64;
    for (index, &byte) in field.iter().take(10).enumerate() {
        value |= u64::from(byte & 0x7F) << (7 * index);
        if byte < 0x80 {
            if index == 9 && byte > 1 {
                return None;
            }
            *at = start + index + 1;
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use prost::Message;

    fn row() -> impl Strategy<Value = pb::Bucket> {
        (
            prop::option::of((
                prop_oneof![0i64..4_000_000_000, any::<i64>()],
                prop_oneof![Just(0i32), any::<i32>()],
            )),
            prop_oneof![Just(60u32), any::<u32>()],
            prop_oneof![0u64..100_000, any::<u64>()],
            prop_oneof![0u64..100, any::<u64>()],
        )
            .prop_map(|(start, duration_seconds, total, failed)| pb::Bucket {
                start: start.map(|(seconds, nanos)| prost_types::Timestamp { seconds, nanos }),
                duration_seconds,
                total,
                failed,
            })
    }

    fn rows_request(buckets: Vec<pb::Bucket>) -> pb::EvaluateRequest {
        pb::EvaluateRequest {
            item: Some(pb::evaluate_request::Item::Buckets(pb::BucketBatch {
                buckets,
            })),
        }
    }

    /// What the shortcut says about these bytes is what prost says, whenever it says anything.
    fn agrees_with_prost(bytes: &[u8]) -> Result<bool, TestCaseError> {
        let Some(ours) = request(bytes) else {
            return Ok(false);
        };
        prop_assert_eq!(
            Ok(ours),
            pb::EvaluateRequest::decode(bytes).map_err(|e| e.to_string())
        );
        Ok(true)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Every varint prost reads is read the same, and its length taken; what prost refuses
        /// is declined. Values of every length, followed by bytes or cut short, and with bytes
        /// past the end of their field that must not be read.
        #[test]
        fn varints_are_read_as_prost_reads_them(
            value in prop_oneof![0u64..128, 0u64..1 << 35, any::<u64>()],
            tail in prop::collection::vec(any::<u8>(), 0..10),
            cut in any::<prop::sample::Index>(),
            noise in prop::collection::vec(any::<u8>(), 0..12),
            past in prop::collection::vec(any::<u8>(), 0..10),
        ) {
            let mut bytes = Vec::new();
            prost::encoding::encode_varint(value, &mut bytes);
            let length = bytes.len();
            bytes.extend(&tail);
            for case in [bytes.clone(), bytes[..cut.index(length)].to_vec(), noise.clone()] {
                let mut theirs = &case[..];
                let expected = prost::encoding::decode_varint(&mut theirs).ok();
                let read = case.len() - theirs.len();
                let mut batch = case.clone();
                batch.extend(&past);
                let mut at = 0;
                prop_assert_eq!(varint(&batch, &mut at, case.len()), expected);
                if expected.is_some() {
                    prop_assert_eq!(at, read);
                }
            }
        }

        /// Rows as prost writes them are always taken, and read as prost reads them.
        #[test]
        fn decodes_rows_as_prost_does(rows in prop::collection::vec(row(), 0..40)) {
            let bytes = rows_request(rows).encode_to_vec();
            prop_assert!(agrees_with_prost(&bytes)?, "a batch prost wrote went to prost");
        }

        /// Cut, overwritten or lengthened bytes: the shortcut declines, or answers as prost does.
        #[test]
        fn corrupted_bytes_are_declined_or_read_as_prost_reads_them(
            rows in prop::collection::vec(row(), 1..8),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..4),
        ) {
            let mut bytes = rows_request(rows).encode_to_vec();
            for (at, byte, how) in edits {
                let at = at.index(bytes.len());
                match how {
                    0 => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ => bytes.truncate(at),
                }
                if bytes.is_empty() {
                    break;
                }
            }
            agrees_with_prost(&bytes)?;
        }
    }

    /// The merge rules prost follows, which the shortcut must follow too: the last scalar wins and
    /// a second `start` merges into the first.
    #[test]
    fn repeated_fields_merge_as_prost_merges_them() {
        let row = [
            KEY_START,
            2,
            KEY_SECONDS,
            5, // start.seconds = 5
            KEY_TOTAL,
            9,
            KEY_TOTAL,
            7, // total = 9, then 7
            KEY_START,
            2,
            KEY_NANOS,
            3, // start.nanos = 3, seconds kept
        ];
        let mut bytes = vec![KEY_BUCKETS, row.len() as u8 + 2, KEY_ROW, row.len() as u8];
        bytes.extend(row);
        let ours = request(&bytes).expect("taken");
        assert_eq!(Ok(ours.clone()), pb::EvaluateRequest::decode(&bytes[..]));
        let pb::evaluate_request::Item::Buckets(batch) = ours.item.unwrap() else {
            panic!("not buckets");
        };
        assert_eq!(batch.buckets[0].total, 7);
        assert_eq!(
            batch.buckets[0].start,
            Some(prost_types::Timestamp {
                seconds: 5,
                nanos: 3
            })
        );
    }

    /// Everything outside the usual form goes to prost.
    #[test]
    fn declines_what_it_does_not_recognise() {
        let usual = rows_request(vec![pb::Bucket {
            start: Some(prost_types::Timestamp {
                seconds: 1_700_000_040,
                nanos: 0,
            }),
            duration_seconds: 60,
            total: 10,
            failed: 1,
        }])
        .encode_to_vec();
        assert!(request(&usual).is_some());
        // Another field after the batch; the batch twice; an unknown field in a row.
        let mut trailing = usual.clone();
        trailing.extend([4 << 3 | 2, 0]);
        let mut twice = usual.clone();
        twice.extend(&usual);
        let mut unknown = usual.clone();
        unknown[1] += 2;
        unknown[3] += 2;
        unknown.extend([5 << 3, 1]);
        for bytes in [&trailing, &twice, &unknown] {
            assert_eq!(request(bytes), None);
            assert!(pb::EvaluateRequest::decode(&bytes[..]).is_ok());
        }
        // A ten-byte varint: a start before 1970 is read as prost reads it, and one whose last
        // byte overflows 64 bits is left to prost, which refuses it.
        let mut before_1970 = vec![KEY_BUCKETS, 15, KEY_ROW, 13, KEY_START, 11, KEY_SECONDS];
        before_1970.extend([0xFF; 9]);
        before_1970.push(0x01);
        assert_eq!(
            request(&before_1970),
            Some(pb::EvaluateRequest::decode(&before_1970[..]).unwrap())
        );
        let mut overflowing = before_1970.clone();
        *overflowing.last_mut().unwrap() = 0x7F;
        assert_eq!(request(&overflowing), None);
        assert!(pb::EvaluateRequest::decode(&overflowing[..]).is_err());
        // Other items, and the empty message.
        let spec = pb::EvaluateRequest {
            item: Some(pb::evaluate_request::Item::Spec(Default::default())),
        };
        assert_eq!(request(&spec.encode_to_vec()), None);
        assert_eq!(request(&[]), None);
    }
}
