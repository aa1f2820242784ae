//! The exact sum of a month's interval error rates, for the mean-error-rate method.
//!
//! A month's availability is `1 − S / N`, where `S = Σ failedᵢ / totalᵢ` over its intervals and
//! `N` is how many intervals it has. `S` is a fraction whose exact denominator is the least common
//! multiple of up to 44,640 request counts: thousands of digits. Yet every question the engine
//! asks of it has a whole-number answer on one scale. Every bound a policy can state (standard,
//! tier edges) has at most four decimal places in percent, a whole number `p` of millionths; so
//! `x = S × 10⁶` decides them all:
//!
//! - availability ≥ p / 10⁶ exactly when `x ≤ N × (10⁶ − p)`, and > p / 10⁶ exactly when
//!   `x < N × (10⁶ − p)`: both sides of a bound are decided by `⌊x⌋` and whether `x` is whole;
//! - the shown availability, truncated to four places of percent, is `10⁶ − ⌈x / N⌉` millionths,
//!   and `⌈x / N⌉ = ⌈⌈x⌉ / N⌉`;
//! - the budget, in millionths of an interval, is whole numbers of `x`'s unit.
//!
//! So [`scaled_sum`] answers `⌊x⌋` and whether `x` is whole, exactly, and cheaply:
//!
//! 1. **Fixed point.** Each rate is taken as `⌊failed × 2⁶⁴ / total⌋` (128-bit integers), which
//!    is its value to within one unit of `2⁻⁶⁴`, below it unless the division was exact. Summing
//!    gives `L` with `L ≤ S × 2⁶⁴ < L + k`, `k` the number of inexact terms (equality only when
//!    `k = 0`).
//! 2. **Bounds.** Scaled by 10⁶, `x × 2⁶⁴` lies in `(L × 10⁶, (L + k) × 10⁶)`, a window of width
//!    `k × 10⁶ < 2³⁸` while whole values of `x` are `2⁶⁴` apart. When no multiple of `2⁶⁴` lies
//!    inside the window, `⌊x⌋` is read off its lower end and `x` is not whole.
//! 3. **Exact tie-break.** Otherwise `x` lies within `2⁻²⁶` of exactly one whole number `m`, and
//!    only exact arithmetic can say on which side, or whether `x = m` (a month built to sit
//!    exactly on a bound lands here, as does any month whose rates are decimal fractions such as
//!    1/100). Then `S` is summed as one unreduced big fraction `P / Q` (terms with the same total
//!    first merged, the rest added pairwise as a balanced tree, so the work is a few big
//!    multiplications of the size of the result) and `10⁶ × P` is compared with `m × Q`.
//!
//! No float is involved, and every answer is exact; the big numbers are only built for the rare
//! month that sits within `2⁻²⁶` of a whole millionth.

use std::cmp::Ordering;

use num_bigint::BigUint;

/// Millionths in a whole: the resolution of every bound ([`crate::policy::Percent`]'s units).
pub(super) const MILLIONTHS: u64 = 1_000_000;

/// Fractional bits of the fixed-point rates.
const FRACTION_BITS: u32 = 64;

/// `x = 10⁶ × S`, as its floor and whether it is whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ScaledSum {
    /// `⌊x⌋`.
    pub(super) floor: u64,
    /// `x` is a whole number (then `x = floor`).
    pub(super) whole: bool,
}

impl ScaledSum {
    /// `⌈x⌉`.
    pub(super) fn ceil(self) -> u64 {
        self.floor + u64::from(!self.whole)
    }
}

/// `10⁶ × (Σ failed / total + full)`: the rates of `rates`, each `(failed, total)` with
/// `0 < failed ≤ total`, plus `full` intervals at 100%. A month has far fewer than 2³⁰ intervals,
/// which keeps every intermediate below 2¹²⁸.
pub(super) fn scaled_sum(rates: &[(u64, u64)], full: u64) -> ScaledSum {
    debug_assert!(
        rates
            .iter()
            .all(|&(failed, total)| failed <= total && total > 0)
    );
    let mut low = u128::from(full) << FRACTION_BITS;
    let mut inexact: u128 = 0;
    for &(failed, total) in rates {
        let scaled = u128::from(failed) << FRACTION_BITS;
        let quotient = scaled / u128::from(total);
        low += quotient;
        inexact += u128::from(quotient * u128::from(total) != scaled);
    }
    let million = u128::from(MILLIONTHS);
    let lo = low * million;
    let one = 1u128 << FRACTION_BITS;
    if inexact == 0 {
        return ScaledSum {
            floor: (lo >> FRACTION_BITS) as u64,
            whole: lo.is_multiple_of(one),
        };
    }
    // x × 2⁶⁴ lies strictly inside (lo, hi).
    let hi = (low + inexact) * million;
    let m = (lo >> FRACTION_BITS) + 1;
    if hi <= m << FRACTION_BITS {
        return ScaledSum {
            floor: (m - 1) as u64,
            whole: false,
        };
    }
    let m = m as u64;
    match exact_order(rates, full, m) {
        Ordering::Less => ScaledSum {
            floor: m - 1,
            whole: false,
        },
        Ordering::Equal => ScaledSum {
            floor: m,
            whole: true,
        },
        Ordering::Greater => ScaledSum {
            floor: m,
            whole: false,
        },
    }
}

/// How `10⁶ × (Σ failed / total + full)` compares with `m`, in exact arithmetic. The caller has
/// `m > 10⁶ × full`, since the sum's fixed-point floor is at least `full`.
fn exact_order(rates: &[(u64, u64)], full: u64, m: u64) -> Ordering {
    let target = m - MILLIONTHS * full;
    // Same totals first: (f₁ + f₂) / t costs one term instead of two.
    let mut by_total: Vec<(u64, u128)> = rates
        .iter()
        .map(|&(failed, total)| (total, u128::from(failed)))
        .collect();
    by_total.sort_unstable_by_key(|&(total, _)| total);
    by_total.dedup_by(|later, kept| {
        if later.0 == kept.0 {
            kept.1 += later.1;
            true
        } else {
            false
        }
    });
    let (numerator, denominator) = tree_sum(&by_total);
    (numerator * MILLIONTHS).cmp(&(denominator * target))
}

/// `Σ failed / total` as one unreduced fraction, adding halves pairwise so that the operands of
/// each multiplication are of about the same size.
fn tree_sum(terms: &[(u64, u128)]) -> (BigUint, BigUint) {
    match terms {
        [] => (BigUint::from(0u32), BigUint::from(1u32)),
        [(total, failed)] => (BigUint::from(*failed), BigUint::from(*total)),
        _ => {
            let (left, right) = terms.split_at(terms.len() / 2);
            let (a, b) = tree_sum(left);
            let (c, d) = tree_sum(right);
            (a * &d + c * &b, b * d)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same answer with big integers from the start: `⌊10⁶ × Σ⌋` and whether it is whole.
    fn slow(rates: &[(u64, u64)], full: u64) -> ScaledSum {
        let terms: Vec<(u64, u128)> = rates.iter().map(|&(f, t)| (t, u128::from(f))).collect();
        let (p, q) = tree_sum(&terms);
        let scaled = (p + &q * full) * MILLIONTHS;
        let floor = &scaled / &q;
        let whole = &floor * &q == scaled;
        ScaledSum {
            floor: u64::try_from(floor).unwrap(),
            whole,
        }
    }

    #[test]
    fn decimal_rates_sum_to_whole_millionths_exactly() {
        // 1/100 and 3/1000 are not binary fractions: the fixed point alone cannot tell that
        // 10⁶ × (1/100 + 3/1000) is exactly 13,000.
        let sum = scaled_sum(&[(1, 100), (3, 1000)], 0);
        assert_eq!(
            sum,
            ScaledSum {
                floor: 13_000,
                whole: true
            }
        );
        assert_eq!(sum.ceil(), 13_000);
        // One request more in the second interval: 10⁶ × (1/100 + 3/1001) = 12,997.002...
        assert_eq!(
            scaled_sum(&[(1, 100), (3, 1001)], 0),
            ScaledSum {
                floor: 12_997,
                whole: false
            }
        );
    }

    #[test]
    fn thirds_that_make_a_whole_are_found_whole() {
        // 1/3 + 2/3 + 1 (full) = 2: 2,000,000 millionths exactly.
        let sum = scaled_sum(&[(1, 3), (2, 3)], 1);
        assert_eq!(
            sum,
            ScaledSum {
                floor: 2_000_000,
                whole: true
            }
        );
    }

    #[test]
    fn a_hair_either_side_of_a_whole_millionth_is_not_whole() {
        // 1/10⁶ exactly, then with a term of 1/(2⁶⁴ − 1) added or a request added.
        let big = u64::MAX;
        assert_eq!(
            scaled_sum(&[(1, 1_000_000)], 0),
            ScaledSum {
                floor: 1,
                whole: true
            }
        );
        assert_eq!(
            scaled_sum(&[(1, 1_000_000), (1, big)], 0),
            ScaledSum {
                floor: 1,
                whole: false
            }
        );
        assert_eq!(
            scaled_sum(&[(1, 1_000_001)], 0),
            ScaledSum {
                floor: 0,
                whole: false
            }
        );
        // Just under 1/10⁶ by less than 2⁻⁶⁴ × 10⁶: (2⁶⁴ − 1) / ((2⁶⁴ − 1) × 10⁶ + 1).
        let just_under = scaled_sum(&[(big / 1_000_000, big - big % 1_000_000 + 1)], 0);
        assert_eq!(
            just_under,
            slow(&[(big / 1_000_000, big - big % 1_000_000 + 1)], 0)
        );
        assert!(!just_under.whole);
    }

    #[test]
    fn binary_fractions_are_exact_without_the_tie_break() {
        assert_eq!(
            scaled_sum(&[(1, 2), (1, 4), (3, 3)], 2),
            ScaledSum {
                floor: 3_750_000,
                whole: true
            }
        );
        assert_eq!(
            scaled_sum(&[], 0),
            ScaledSum {
                floor: 0,
                whole: true
            }
        );
    }

    #[test]
    fn random_months_agree_with_big_integer_arithmetic() {
        // A small deterministic generator: no float, no external state.
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..300 {
            let n = (next() % 40) as usize;
            let limit = [10, 1000, u64::MAX][round % 3];
            let rates: Vec<(u64, u64)> = (0..n)
                .map(|_| {
                    let total = 1 + next() % limit;
                    (1 + next() % total, total)
                })
                .collect();
            let full = next() % 3;
            assert_eq!(
                scaled_sum(&rates, full),
                slow(&rates, full),
                "{rates:?} + {full}"
            );
        }
    }
}
