//! Exact percentages and the one place that compares a measured fraction against them.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

/// A percentage held as an integer number of ten-thousandths of a percentage point.
///
/// Every bound in the five contracts has at most two decimals (99.95%), so four leave room for
/// custom policies while every comparison stays an integer one: a fraction `good / total` is at
/// least `p` exactly when `good × 1_000_000 ≥ p.units() × total`. No float ever decides a tier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percent(u32);

/// Units in one whole (100%).
const UNITS_PER_WHOLE: u32 = 1_000_000;
/// Units in one percentage point.
const UNITS_PER_POINT: u32 = 10_000;
/// Decimal places a percentage may carry.
const PLACES: u32 = 4;

impl Percent {
    /// 0%.
    pub const ZERO: Percent = Percent(0);
    /// 100%.
    pub const HUNDRED: Percent = Percent(UNITS_PER_WHOLE);

    /// The percentage of `units` ten-thousandths of a point, for constants; at most 100%.
    pub const fn from_units(units: u32) -> Percent {
        assert!(units <= UNITS_PER_WHOLE, "a percentage is at most 100%");
        Percent(units)
    }

    /// The percentage as ten-thousandths of a point (99.95% is 999_500).
    pub fn units(self) -> u32 {
        self.0
    }

    /// The fraction this percentage stands for (10% is 0.1), exact, for money arithmetic.
    pub fn as_fraction(self) -> Decimal {
        Decimal::new(i64::from(self.0), 6)
    }

    /// Parses a percentage from a decimal, refusing values outside 0–100% or with more than four
    /// decimal places rather than rounding them (a rounded bound would move a tier boundary).
    pub fn from_decimal(value: Decimal) -> Result<Self, PercentError> {
        if value.is_sign_negative() && !value.is_zero() || value > Decimal::ONE_HUNDRED {
            return Err(PercentError::OutOfRange(value));
        }
        let scaled = value * Decimal::from(UNITS_PER_POINT);
        if !scaled.fract().is_zero() {
            return Err(PercentError::TooPrecise(value));
        }
        let units = u32::try_from(scaled.mantissa() / 10i128.pow(scaled.scale()))
            .map_err(|_| PercentError::OutOfRange(value))?;
        Ok(Percent(units))
    }
}

impl FromStr for Percent {
    type Err = PercentError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let value = crate::strict::decimal(text)
            .ok_or_else(|| PercentError::NotANumber(text.to_string()))?;
        Percent::from_decimal(value)
    }
}

/// Shortest exact form: `99.95`, `99.5`, `99`.
impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / UNITS_PER_POINT;
        let frac = self.0 % UNITS_PER_POINT;
        if frac == 0 {
            return write!(f, "{whole}");
        }
        let digits = format!("{frac:04}");
        write!(f, "{whole}.{}", digits.trim_end_matches('0'))
    }
}

/// Why a percentage cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PercentError {
    #[error("'{0}' is not a decimal number")]
    /// Not a decimal.
    NotANumber(String),
    #[error("{0}% is outside 0-100%")]
    /// Below 0% or above 100%.
    OutOfRange(Decimal),
    #[error("{0}% has more than {PLACES} decimal places")]
    /// More places than a bound may carry.
    TooPrecise(Decimal),
}

/// A fraction `good / total` of two counts, such as available minutes over contract minutes.
///
/// Held as two integers so that "99% > Av ≥ 95%" is decided on the exact value; an empty fraction
/// (`total == 0`, a month with no events) reads as 100%, as docs/contract-readings.md fixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fraction {
    /// The available part: minutes or events.
    pub good: u64,
    /// All of them.
    pub total: u64,
}

impl Fraction {
    /// `good / total`; `good` never exceeds `total`.
    pub fn new(good: u64, total: u64) -> Self {
        debug_assert!(good <= total, "good {good} exceeds total {total}");
        Fraction { good, total }
    }

    /// True when the fraction is at least `bound` (a fraction equal to the bound meets it).
    pub fn at_least(self, bound: Percent) -> bool {
        if self.total == 0 {
            return true;
        }
        // Both sides are below 2^64 × 2^20, far inside u128.
        u128::from(self.good) * u128::from(UNITS_PER_WHOLE)
            >= u128::from(bound.0) * u128::from(self.total)
    }

    /// True when this fraction is strictly less than `other`, compared exactly.
    pub fn is_below(self, other: Fraction) -> bool {
        // An empty fraction reads as 1.
        let (a, b) = if self.total == 0 {
            (1, 1)
        } else {
            (self.good, self.total)
        };
        let (c, d) = if other.total == 0 {
            (1, 1)
        } else {
            (other.good, other.total)
        };
        u128::from(a) * u128::from(d) < u128::from(c) * u128::from(b)
    }

    /// True when the fraction is strictly below `bound`.
    pub fn below(self, bound: Percent) -> bool {
        !self.at_least(bound)
    }

    /// True when the fraction is at most `bound` (a fraction equal to the bound is at most it).
    pub fn at_most(self, bound: Percent) -> bool {
        if self.total == 0 {
            return bound == Percent::HUNDRED;
        }
        u128::from(self.good) * u128::from(UNITS_PER_WHOLE)
            <= u128::from(bound.0) * u128::from(self.total)
    }

    /// True when the fraction is strictly above `bound`.
    pub fn above(self, bound: Percent) -> bool {
        !self.at_most(bound)
    }

    /// The percentage truncated (never rounded up) to four places, e.g. `99.9327`, so a shown
    /// value never looks better than the truth.
    pub fn truncated_percent(self) -> String {
        let units = (u128::from(self.good) * u128::from(UNITS_PER_WHOLE))
            .checked_div(u128::from(self.total))
            .unwrap_or(u128::from(UNITS_PER_WHOLE));
        let point = u128::from(UNITS_PER_POINT);
        format!("{}.{:04}", units / point, units % point)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_contract_bounds() {
        for text in ["99.95", "99.5", "99", "0", "100", "12.3456"] {
            assert_eq!(text.parse::<Percent>().unwrap().to_string(), text);
        }
        assert_eq!("99.95".parse::<Percent>().unwrap().units(), 999_500);
        assert_eq!("5.0".parse::<Percent>().unwrap().to_string(), "5");
    }

    #[test]
    fn refuses_what_would_have_to_be_rounded_or_is_out_of_range() {
        assert!(matches!(
            "99.99999".parse::<Percent>(),
            Err(PercentError::TooPrecise(_))
        ));
        assert!(matches!(
            "100.01".parse::<Percent>(),
            Err(PercentError::OutOfRange(_))
        ));
        assert!(matches!(
            "-1".parse::<Percent>(),
            Err(PercentError::OutOfRange(_))
        ));
        assert!(matches!(
            "ninety".parse::<Percent>(),
            Err(PercentError::NotANumber(_))
        ));
    }

    #[test]
    fn a_fraction_equal_to_the_bound_meets_it() {
        let bound: Percent = "99".parse().unwrap();
        assert!(Fraction::new(99, 100).at_least(bound));
        assert!(Fraction::new(98_999_999, 100_000_000).below(bound));
        assert!(Fraction::new(0, 0).at_least(Percent::HUNDRED));
        assert!(Fraction::new(99, 100).at_most(bound));
        assert!(!Fraction::new(99, 100).above(bound));
        assert!(Fraction::new(99_000_001, 100_000_000).above(bound));
        assert!(Fraction::new(0, 0).at_most(Percent::HUNDRED));
        assert!(Fraction::new(0, 0).above(bound));
    }

    #[test]
    fn shown_percent_is_truncated_not_rounded() {
        // 1 - 30/44640 = 99.932795...%
        assert_eq!(Fraction::new(44_610, 44_640).truncated_percent(), "99.9327");
        // 2/3 = 66.6666...% must not show 66.6667
        assert_eq!(Fraction::new(2, 3).truncated_percent(), "66.6666");
        assert_eq!(Fraction::new(0, 0).truncated_percent(), "100.0000");
        assert_eq!(Fraction::new(0, 7).truncated_percent(), "0.0000");
    }
}
