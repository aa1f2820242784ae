//! `sla.v1.BucketColumns`, the hot message, with a hand-written protobuf codec.
//!
//! The wire format is exactly the one `proto/sla/v1/sla.proto` declares (packed varints); only the
//! code differs from what prost generates. prost decodes a packed field one element at a time
//! through its `Buf` abstraction, advancing the buffer after every varint: profiling `sla-load`
//! showed that loop taking over 60% of the server's time, five times what the engine itself needs.
//! Here prost takes each packed field out of the buffer at once (zero-copy from tonic's buffer) and
//! its varints are decoded from that slice; encoding computes each field's length once and writes
//! its varints in one pass. Framing errors are prost's own.
//!
//! Every other message stays generated; `build.rs` points prost at this type with `extern_path`.

use prost::bytes::{Buf, BufMut, Bytes};
use prost::encoding::{
    DecodeContext, WireType, check_wire_type, decode_varint, encode_varint, skip_field,
};
use prost::{DecodeError, Message};

use super::buffers::{self, Pool};

/// Buckets in the fast form: one duration and three packed columns of equal length, row i being
/// one bucket. See `proto/sla/v1/sla.proto` for the contract.
#[derive(Clone, PartialEq, Eq, Default, Debug)]
pub struct BucketColumns {
    /// Length of every bucket in seconds; 0 means 60.
    pub duration_seconds: u32,
    /// Start of each bucket, in seconds since the Unix epoch.
    pub start_unix_seconds: Vec<i64>,
    /// Attempts of each bucket.
    pub total: Vec<u64>,
    /// Failures of each bucket.
    pub failed: Vec<u64>,
    /// With `start_delta_seconds`: the instant the first delta counts from.
    pub start_base_unix_seconds: i64,
    /// The compact form of the starts: each row's start minus the previous row's.
    pub start_delta_seconds: Vec<i64>,
}

const DURATION: u32 = 1;
const STARTS: u32 = 2;
const TOTAL: u32 = 3;
const FAILED: u32 = 4;
const DELTA_BASE: u32 = 5;
const DELTAS: u32 = 6;

/// Why the starts of a columns message cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StartsError {
    #[error("start_unix_seconds and start_delta_seconds are both given; send one of them")]
    /// Both forms of the starts were given.
    BothForms,
    #[error("start_delta_seconds[{row}] takes the start beyond the 64-bit range")]
    /// A delta took a start past what 64 bits hold.
    Overflow {
        /// The row whose start overflowed.
        row: usize,
    },
}

impl BucketColumns {
    /// Each row's start in seconds since the Unix epoch, whichever form the message used.
    pub fn starts(&self) -> Result<std::borrow::Cow<'_, [i64]>, StartsError> {
        if self.start_delta_seconds.is_empty() {
            return Ok(std::borrow::Cow::Borrowed(&self.start_unix_seconds));
        }
        if !self.start_unix_seconds.is_empty() {
            return Err(StartsError::BothForms);
        }
        let deltas = &self.start_delta_seconds;
        let mut starts = buffers::STARTS.take(deltas.len());
        starts.resize(deltas.len(), 0);
        // Summed without a test a row, into room already there: whether any sum overflowed is
        // kept, and only then are the rows walked again to say which was the first.
        let (mut start, mut overflowed) = (self.start_base_unix_seconds, false);
        for (slot, &delta) in starts.iter_mut().zip(deltas) {
            let overflow;
            (start, overflow) = start.overflowing_add(delta);
            overflowed |= overflow;
            *slot = start;
        }
        if overflowed {
            let mut start = self.start_base_unix_seconds;
            for (row, &delta) in deltas.iter().enumerate() {
                start = start
                    .checked_add(delta)
                    .ok_or(StartsError::Overflow { row })?;
            }
        }
        Ok(std::borrow::Cow::Owned(starts))
    }

    /// Rows carried, as the length of the starts column in whichever form it came.
    pub fn rows(&self) -> usize {
        self.start_unix_seconds
            .len()
            .max(self.start_delta_seconds.len())
    }
}

/// sint64's zigzag encoding: small magnitudes, negative or not, take few bytes.
fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

impl Message for BucketColumns {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        if self.duration_seconds != 0 {
            encode_key(DURATION, WireType::Varint, buf);
            encode_varint(u64::from(self.duration_seconds), buf);
        }
        // int64 travels as the two's-complement u64, as protobuf defines it.
        encode_packed(STARTS, &self.start_unix_seconds, |v| v as u64, buf);
        encode_packed(TOTAL, &self.total, |v| v, buf);
        encode_packed(FAILED, &self.failed, |v| v, buf);
        if self.start_base_unix_seconds != 0 {
            encode_key(DELTA_BASE, WireType::Varint, buf);
            encode_varint(self.start_base_unix_seconds as u64, buf);
        }
        encode_packed(DELTAS, &self.start_delta_seconds, zigzag, buf);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        match tag {
            DURATION => {
                check_wire_type(WireType::Varint, wire_type)?;
                // A uint32 on the wire may carry a larger varint; protobuf truncates it.
                self.duration_seconds = decode_varint(buf)? as u32;
                Ok(())
            }
            STARTS => merge_repeated(
                wire_type,
                buf,
                ctx,
                (&mut self.start_unix_seconds, &buffers::STARTS),
                |v| v as i64,
            ),
            TOTAL => merge_repeated(
                wire_type,
                buf,
                ctx,
                (&mut self.total, &buffers::COUNTS),
                |v| v,
            ),
            FAILED => merge_repeated(
                wire_type,
                buf,
                ctx,
                (&mut self.failed, &buffers::COUNTS),
                |v| v,
            ),
            DELTA_BASE => {
                check_wire_type(WireType::Varint, wire_type)?;
                self.start_base_unix_seconds = decode_varint(buf)? as i64;
                Ok(())
            }
            DELTAS => merge_repeated(
                wire_type,
                buf,
                ctx,
                (&mut self.start_delta_seconds, &buffers::DELTAS),
                unzigzag,
            ),
            _ => skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        let duration = if self.duration_seconds == 0 {
            0
        } else {
            1 + varint_len(u64::from(self.duration_seconds))
        };
        let base = if self.start_base_unix_seconds == 0 {
            0
        } else {
            1 + varint_len(self.start_base_unix_seconds as u64)
        };
        duration
            + packed_len(&self.start_unix_seconds, |v| v as u64)
            + packed_len(&self.total, |v| v)
            + packed_len(&self.failed, |v| v)
            + base
            + packed_len(&self.start_delta_seconds, zigzag)
    }

    fn clear(&mut self) {
        *self = BucketColumns::default();
    }
}

fn encode_key(tag: u32, wire_type: WireType, buf: &mut impl BufMut) {
    encode_varint(u64::from(tag << 3 | wire_type as u32), buf);
}

/// Bytes a varint takes: one per started group of 7 bits.
fn varint_len(value: u64) -> usize {
    ((((value | 1).leading_zeros() ^ 63) * 9 + 73) / 64) as usize
}

fn packed_len<T: Copy>(values: &[T], convert: impl Fn(T) -> u64) -> usize {
    let body = packed_body_len(values, convert);
    if body == 0 {
        0
    } else {
        1 + varint_len(body as u64) + body
    }
}

/// The bytes of a packed field's varints. Eight values below 0x80 (a minute's delta, most
/// counts of failures) take eight bytes, which one vectorised OR tells; only the others are
/// measured one by one, each through a bit scan the compiler cannot vectorise.
fn packed_body_len<T: Copy>(values: &[T], convert: impl Fn(T) -> u64) -> usize {
    values
        .chunks(8)
        .map(|chunk| {
            if chunk.iter().fold(0, |all, &v| all | convert(v)) < 0x80 {
                chunk.len()
            } else {
                chunk.iter().map(|&v| varint_len(convert(v))).sum()
            }
        })
        .sum()
}

/// Writes a packed field: key, byte length, then the varints, built in one contiguous block and
/// handed to the buffer at once; eight values below 0x80 are written as one eight-byte word.
fn encode_packed<T: Copy>(
    tag: u32,
    values: &[T],
    convert: impl Fn(T) -> u64,
    buf: &mut impl BufMut,
) {
    let body = packed_body_len(values, &convert);
    if body == 0 {
        return;
    }
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(body as u64, buf);
    let mut bytes = Vec::with_capacity(body);
    for chunk in values.chunks(8) {
        if let Ok(&eight) = <&[T; 8]>::try_from(chunk)
            && eight.iter().fold(0, |all, &v| all | convert(v)) < 0x80
        {
            bytes.extend_from_slice(&eight.map(|v| convert(v) as u8));
            continue;
        }
        for &value in chunk {
            let mut value = convert(value);
            while value >= 0x80 {
                bytes.push(value as u8 | 0x80);
                value >>= 7;
            }
            bytes.push(value as u8);
        }
    }
    buf.put_slice(&bytes);
}

/// Merges a repeated varint field, packed (the normal form) or one element at a time (which
/// protobuf parsers must also accept). A column's first packed run goes into a vector from `pool`
/// (see `buffers`), which ingest gives back.
fn merge_repeated<T: Copy + Default>(
    wire_type: WireType,
    buf: &mut impl Buf,
    ctx: DecodeContext,
    (values, pool): (&mut Vec<T>, &Pool<T>),
    convert: impl Fn(u64) -> T,
) -> Result<(), DecodeError> {
    if wire_type == WireType::Varint {
        values.push(convert(decode_varint(buf)?));
        return Ok(());
    }
    let mut packed = Bytes::new();
    prost::encoding::bytes::merge(wire_type, &mut packed, buf, ctx)?;
    if values.capacity() == 0 {
        *values = pool.take(varint_count(&packed));
    }
    decode_varints(&packed, values, convert)
}

/// Varints in `bytes`: every varint ends in exactly one byte below 0x80.
///
/// Counted in blocks of 128 bytes into a byte-sized sum, which compiles to vector compares over
/// the whole block; counting into one `usize` per byte (what `filter().count()` gives) took four
/// bytes a step, and was a tenth of a server fed columns.
fn varint_count(bytes: &[u8]) -> usize {
    bytes
        .chunks(128)
        .map(|block| usize::from(block.iter().map(|&b| u8::from(b < 0x80)).sum::<u8>()))
        .sum()
}

/// Decodes a run of varints that must end exactly at the end of `bytes`, appending them to
/// `values`; the first error stops the decoding.
///
/// Counting the bytes below 0x80 sizes the column once. The varints are then taken eight bytes at
/// a time where they can be: eight bytes that all end a varint (a minute's delta, most failure
/// counts) are eight values; eight bytes of one- and two-byte varints that end with the word
/// (most counts of attempts) are put together without a branch, since whether a count takes one
/// byte or two is not predictable. Either way they are appended at once, with one length update.
/// Anything else is taken a varint at a time, one- and two-byte ones inline and longer ones
/// through prost. Against one value a step through `extend`, whose closure kept its cursor in
/// memory, this took decoding four different batches in turn and deriving their starts from 5.7
/// to 2.5 ns a bucket (`cargo bench --bench wire`); writing into zeroed room instead of appending
/// spent a tenth of that on `memset`.
fn decode_varints<T: Copy + Default>(
    bytes: &[u8],
    values: &mut Vec<T>,
    convert: impl Fn(u64) -> T,
) -> Result<(), DecodeError> {
    let count = varint_count(bytes);
    values.reserve(count);
    let end = values.len() + count;
    let mut at = 0;
    while values.len() < end {
        if let Some(word) = bytes[at..].first_chunk::<8>()
            && values.len() + 8 <= end
        {
            let word = u64::from_le_bytes(*word);
            let continues = word & 0x8080_8080_8080_8080;
            if continues == 0 {
                values.extend_from_slice(&word.to_le_bytes().map(|byte| convert(u64::from(byte))));
                at += 8;
                continue;
            }
            // One- and two-byte varints only (no two continuing bytes in a row), the last ending
            // with the word: each of its ends is a value, put together without a branch.
            if continues & (continues << 8) == 0 && word >> 63 == 0 {
                let mut out = [T::default(); 8];
                let (mut taken, mut pending, mut shift) = (0, 0, 0);
                for byte in word.to_le_bytes() {
                    pending |= u64::from(byte & 0x7F) << shift;
                    out[taken & 7] = convert(pending);
                    let ends = byte < 0x80;
                    taken += usize::from(ends);
                    (pending, shift) = if ends { (0, 0) } else { (pending, 7) };
                }
                values.extend_from_slice(&out[..taken]);
                at += 8;
                continue;
            }
        }
        let value = match bytes[at..] {
            [low, ..] if low < 0x80 => {
                at += 1;
                u64::from(low)
            }
            [low, high, ..] if high < 0x80 => {
                at += 2;
                u64::from(low & 0x7F) | u64::from(high) << 7
            }
            _ => {
                let mut rest = &bytes[at..];
                let value = decode_varint(&mut rest)?;
                at = bytes.len() - rest.len();
                value
            }
        };
        values.push(convert(value));
    }
    if at < bytes.len() {
        // Only an unterminated last varint is left: let prost say what is wrong with it.
        decode_varint(&mut &bytes[at..])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use prost::encoding::{int64, sint64, uint32, uint64};

    /// The bytes prost's own generated code would write for these columns.
    fn prost_bytes(columns: &BucketColumns) -> Vec<u8> {
        let mut buf = Vec::new();
        if columns.duration_seconds != 0 {
            uint32::encode(DURATION, &columns.duration_seconds, &mut buf);
        }
        int64::encode_packed(STARTS, &columns.start_unix_seconds, &mut buf);
        uint64::encode_packed(TOTAL, &columns.total, &mut buf);
        uint64::encode_packed(FAILED, &columns.failed, &mut buf);
        if columns.start_base_unix_seconds != 0 {
            int64::encode(DELTA_BASE, &columns.start_base_unix_seconds, &mut buf);
        }
        sint64::encode_packed(DELTAS, &columns.start_delta_seconds, &mut buf);
        buf
    }

    fn sample() -> BucketColumns {
        BucketColumns {
            duration_seconds: 300,
            start_unix_seconds: vec![1_552_356_000, -1, 0, i64::MAX, i64::MIN, 127, 128],
            total: vec![0, 1, 127, 128, 16_384, u64::MAX, 300],
            failed: vec![0, 0, 1, 128, 5, u64::MAX - 1, 3],
            ..BucketColumns::default()
        }
    }

    fn deltas() -> BucketColumns {
        BucketColumns {
            duration_seconds: 60,
            total: vec![5, 6, 7, 8],
            failed: vec![0, 1, 2, 3],
            start_base_unix_seconds: 1_552_356_000,
            start_delta_seconds: vec![0, 60, 60, -180],
            ..BucketColumns::default()
        }
    }

    #[test]
    fn the_delta_form_gives_the_same_starts() {
        let columns = deltas();
        assert_eq!(
            columns.starts().unwrap().as_ref(),
            [1_552_356_000, 1_552_356_060, 1_552_356_120, 1_552_355_940]
        );
        assert_eq!(columns.rows(), 4);
        // Consecutive minutes take one byte per start instead of five.
        let absolute = BucketColumns {
            start_unix_seconds: columns.starts().unwrap().into_owned(),
            start_base_unix_seconds: 0,
            start_delta_seconds: vec![],
            ..columns.clone()
        };
        assert!(columns.encoded_len() + 8 < absolute.encoded_len());
        let both = BucketColumns {
            start_unix_seconds: vec![1, 2, 3, 4],
            ..deltas()
        };
        assert_eq!(both.starts(), Err(StartsError::BothForms));
        let far = BucketColumns {
            start_base_unix_seconds: i64::MAX - 10,
            start_delta_seconds: vec![5, 6],
            ..deltas()
        };
        assert_eq!(far.starts(), Err(StartsError::Overflow { row: 1 }));
    }

    #[test]
    fn encodes_exactly_as_prost_does() {
        for columns in [sample(), deltas(), BucketColumns::default()] {
            let ours = columns.encode_to_vec();
            assert_eq!(ours, prost_bytes(&columns));
            assert_eq!(columns.encoded_len(), ours.len());
        }
    }

    #[test]
    fn decodes_what_prost_writes_packed_or_not() {
        let with_deltas = deltas();
        assert_eq!(
            BucketColumns::decode(&prost_bytes(&with_deltas)[..]).unwrap(),
            with_deltas
        );
        let columns = sample();
        assert_eq!(
            BucketColumns::decode(&prost_bytes(&columns)[..]).unwrap(),
            columns
        );
        // One element per key, which protobuf parsers must accept too.
        let mut unpacked = Vec::new();
        uint32::encode(DURATION, &columns.duration_seconds, &mut unpacked);
        int64::encode_repeated(STARTS, &columns.start_unix_seconds, &mut unpacked);
        uint64::encode_repeated(TOTAL, &columns.total, &mut unpacked);
        uint64::encode_repeated(FAILED, &columns.failed, &mut unpacked);
        assert_eq!(BucketColumns::decode(&unpacked[..]).unwrap(), columns);
    }

    #[test]
    fn decodes_a_field_split_across_chunks() {
        let bytes = prost_bytes(&sample());
        let (head, tail) = bytes.split_at(bytes.len() / 2);
        let chained = Buf::chain(head, tail);
        assert_eq!(BucketColumns::decode(chained).unwrap(), sample());
    }

    #[test]
    fn refuses_malformed_input_without_panicking() {
        // A packed field whose last varint is cut off.
        assert!(BucketColumns::decode(&[0x1A, 0x02, 0x01, 0x80][..]).is_err());
        // A packed field longer than the message.
        assert!(BucketColumns::decode(&[0x1A, 0x05, 0x01][..]).is_err());
        // An 11-byte varint.
        let mut overlong = vec![0x1A, 11];
        overlong.extend([0xFF; 10]);
        overlong.push(0x01);
        assert!(BucketColumns::decode(&overlong[..]).is_err());
        // The wrong wire type for a column.
        assert!(BucketColumns::decode(&[0x1D, 0, 0, 0, 0][..]).is_err());
    }

    /// What prost's generated code would decode from these bytes: its own merge functions, field
    /// by field.
    fn prost_decode(mut buf: &[u8]) -> Result<BucketColumns, DecodeError> {
        let mut columns = BucketColumns::default();
        let ctx = DecodeContext::default;
        while !buf.is_empty() {
            let (tag, wire_type) = prost::encoding::decode_key(&mut buf)?;
            let c = &mut columns;
            match tag {
                DURATION => uint32::merge(wire_type, &mut c.duration_seconds, &mut buf, ctx())?,
                STARTS => {
                    int64::merge_repeated(wire_type, &mut c.start_unix_seconds, &mut buf, ctx())?
                }
                TOTAL => uint64::merge_repeated(wire_type, &mut c.total, &mut buf, ctx())?,
                FAILED => uint64::merge_repeated(wire_type, &mut c.failed, &mut buf, ctx())?,
                DELTA_BASE => {
                    int64::merge(wire_type, &mut c.start_base_unix_seconds, &mut buf, ctx())?
                }
                DELTAS => {
                    sint64::merge_repeated(wire_type, &mut c.start_delta_seconds, &mut buf, ctx())?
                }
                _ => skip_field(wire_type, tag, &mut buf, ctx())?,
            }
        }
        Ok(columns)
    }

    fn counts() -> impl Strategy<Value = Vec<u64>> {
        // Mostly one-byte values, so that whole groups of eight are common.
        prop::collection::vec(
            prop_oneof![8 => 0u64..128, 1 => 0u64..16_384, 1 => any::<u64>()],
            0..200,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Columns prost writes are read back as they were, whatever the lengths of their
        /// varints and however they fall across eight-byte words.
        #[test]
        fn decodes_columns_as_prost_wrote_them(
            total in counts(),
            failed in counts(),
            deltas in prop::collection::vec(prop_oneof![Just(60i64), -100i64..100, any::<i64>()], 0..200),
            base in any::<i64>(),
        ) {
            let columns = BucketColumns {
                duration_seconds: 60,
                total,
                failed,
                start_base_unix_seconds: base,
                start_delta_seconds: deltas,
                ..BucketColumns::default()
            };
            prop_assert_eq!(BucketColumns::decode(&prost_bytes(&columns)[..]).unwrap(), columns);
        }

        /// Columns are written as prost writes them, with the length it gives, however their
        /// small and large values fall into groups of eight.
        #[test]
        fn encodes_columns_as_prost_does(
            starts in prop::collection::vec(prop_oneof![0i64..128, any::<i64>()], 0..40),
            total in counts(),
            failed in counts(),
            deltas in prop::collection::vec(prop_oneof![Just(60i64), -100i64..100, any::<i64>()], 0..200),
            base in any::<i64>(),
        ) {
            for columns in [
                BucketColumns { start_unix_seconds: starts.clone(), total: total.clone(), failed: failed.clone(), ..BucketColumns::default() },
                BucketColumns { duration_seconds: 60, total: total.clone(), failed: failed.clone(), start_base_unix_seconds: base, start_delta_seconds: deltas.clone(), ..BucketColumns::default() },
            ] {
                let ours = columns.encode_to_vec();
                prop_assert_eq!(&ours, &prost_bytes(&columns));
                prop_assert_eq!(columns.encoded_len(), ours.len());
            }
        }

        /// Cut, overwritten or lengthened bytes: refused where prost refuses them, and otherwise
        /// read as prost reads them.
        #[test]
        fn corrupted_columns_are_read_as_prost_reads_them(
            total in counts(),
            failed in counts(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..4),
        ) {
            let columns = BucketColumns { total, failed, ..deltas() };
            let mut bytes = prost_bytes(&columns);
            for (at, byte, how) in edits {
                if bytes.is_empty() {
                    break;
                }
                let at = at.index(bytes.len());
                match how {
                    0 => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ => bytes.truncate(at),
                }
            }
            prop_assert_eq!(
                BucketColumns::decode(&bytes[..]).ok(),
                prost_decode(&bytes).ok()
            );
        }

        /// Starts from deltas are the running sums, and a sum past 64 bits names its row.
        #[test]
        fn starts_are_the_running_sums_of_the_deltas(
            base in prop_oneof![Just(0i64), any::<i64>()],
            deltas in prop::collection::vec(prop_oneof![Just(60i64), any::<i64>()], 1..50),
        ) {
            let columns = BucketColumns {
                start_base_unix_seconds: base,
                start_delta_seconds: deltas.clone(),
                ..BucketColumns::default()
            };
            let mut expected = Vec::new();
            let mut start = Some(base);
            for (row, delta) in deltas.iter().enumerate() {
                start = start.and_then(|start| start.checked_add(*delta));
                match start {
                    Some(start) => expected.push(start),
                    None => {
                        prop_assert_eq!(columns.starts(), Err(StartsError::Overflow { row }));
                        return Ok(());
                    }
                }
            }
            let starts = columns.starts().unwrap();
            prop_assert_eq!(starts.as_ref(), &expected[..]);
        }
    }

    #[test]
    fn skips_fields_it_does_not_know() {
        let mut bytes = prost_bytes(&sample());
        prost::encoding::string::encode(9, &"future".to_string(), &mut bytes);
        assert_eq!(BucketColumns::decode(&bytes[..]).unwrap(), sample());
    }
}
