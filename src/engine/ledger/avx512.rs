//! The log's varint encoder in AVX-512, for the CPUs that have it (checked at run time).
//!
//! Sixteen buckets' counts become one vector of four bytes a bucket (each count's low byte with
//! its continuation bit, then its high byte), and one compress instruction keeps the bytes LEB128
//! needs, in order: the same bytes as the scalar encoder, about a fifth of its instructions. The
//! scalar encoder writes buckets one after the other, each store waiting for the one before it to
//! say where it ends; this one writes sixteen at once. Counts of 2^14 or more (never seen in a
//! minute of real traffic) make it decline, and the caller encodes those sixteen one by one.
//!
//! This is the engine's only `unsafe` (the library's other is src/allocator.rs, which sets the
//! allocator's options): a function compiled for instructions the baseline x86-64 target does
//! not promise may only be called once the CPU is known to have them, and the vector loads and
//! stores take raw pointers.

use std::arch::x86_64::{
    __m512i, _mm512_add_epi32, _mm512_and_si512, _mm512_castsi256_si512, _mm512_cmpge_epu32_mask,
    _mm512_cmpge_epu64_mask, _mm512_cvtepi64_epi32, _mm512_inserti64x4, _mm512_loadu_si512,
    _mm512_mask_add_epi32, _mm512_maskz_compress_epi8, _mm512_or_si512, _mm512_set1_epi32,
    _mm512_set1_epi64, _mm512_slli_epi32, _mm512_storeu_si512, _mm512_test_epi8_mask,
};

/// Buckets one call encodes.
pub(super) const GROUP: usize = 16;

/// Bytes one call may write: four a bucket, of which it keeps two to four.
pub(super) const GROUP_BYTES: usize = 4 * GROUP;

/// Whether this CPU can run [`encode`]. `is_x86_feature_detected!` keeps its answer after the
/// first call, so asking costs a load and a test.
#[inline(always)]
pub(super) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vbmi2")
}

/// Writes sixteen buckets' counts as LEB128 varints (each bucket its total, then its failures)
/// at the start of `out` and returns how many bytes they took, or `None`, having written
/// nothing, when a count is 2^14 or more. The bytes of `out` past the returned length are
/// scratch.
///
/// # Safety
/// The CPU must have AVX-512 F, BW and VBMI2: [`available`] said so.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi2")]
pub(super) unsafe fn encode(
    totals: &[u64; GROUP],
    failed: &[u64; GROUP],
    out: &mut [u8; GROUP_BYTES],
) -> Option<usize> {
    // SAFETY: each array holds sixteen u64, 128 bytes, read as two unaligned 64-byte loads.
    let load = |values: &[u64; GROUP], half: usize| unsafe {
        _mm512_loadu_si512(values.as_ptr().add(8 * half).cast::<__m512i>())
    };
    let (t0, t1, f0, f1) = (
        load(totals, 0),
        load(totals, 1),
        load(failed, 0),
        load(failed, 1),
    );
    let limit = _mm512_set1_epi64(1 << 14);
    let large = _mm512_cmpge_epu64_mask(t0, limit)
        | _mm512_cmpge_epu64_mask(t1, limit)
        | _mm512_cmpge_epu64_mask(f0, limit)
        | _mm512_cmpge_epu64_mask(f1, limit);
    if large != 0 {
        return None;
    }
    // Sixteen 32-bit lanes of each count: every one is below 2^14, so nothing is lost.
    let narrow = |low: __m512i, high: __m512i| {
        _mm512_inserti64x4::<1>(
            _mm512_castsi256_si512(_mm512_cvtepi64_epi32(low)),
            _mm512_cvtepi64_epi32(high),
        )
    };
    let (totals, failed) = (narrow(t0, t1), narrow(f0, f1));
    // A count below 2^14 as a varint in the low two bytes of its lane, as the scalar encoder
    // builds it: its low seven bits stay, the next seven move up a byte, and the continuation bit
    // is set when it needs the second byte.
    let varint = |value: __m512i| {
        let spread = _mm512_add_epi32(value, _mm512_and_si512(value, _mm512_set1_epi32(0x3F80)));
        let more = _mm512_cmpge_epu32_mask(value, _mm512_set1_epi32(0x80));
        _mm512_mask_add_epi32(spread, more, spread, _mm512_set1_epi32(0x80))
    };
    let words = _mm512_or_si512(varint(totals), _mm512_slli_epi32::<16>(varint(failed)));
    // Each count's first byte is always kept; its second only when it is not zero, which is
    // exactly when the first carries the continuation bit.
    let keep = _mm512_test_epi8_mask(words, words) | 0x5555_5555_5555_5555;
    let packed = _mm512_maskz_compress_epi8(keep, words);
    // SAFETY: `out` is 64 bytes, one unaligned 64-byte store.
    unsafe { _mm512_storeu_si512(out.as_mut_ptr().cast::<__m512i>(), packed) };
    Some(keep.count_ones() as usize)
}
