//! The two textual forms every input shares, read strictly: plain decimals and calendar dates.
//!
//! `rust_decimal` and chrono each accept more than a person means by "a number" or "a date":
//! `1_000` and `1_0.0_5` are decimals to `Decimal::from_str_exact`, and `-999-01-01` is a date to
//! `%Y`. A billing service reads neither, so every decimal and date of a request, a policy file or
//! a command line goes through here.

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

/// A plain decimal: an optional leading minus, digits, and at most one point with digits on both
/// sides. No sign `+`, exponent, separator, underscore or space.
pub fn decimal(text: &str) -> Option<Decimal> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || fraction.is_some_and(|f| !digits(f)) {
        return None;
    }
    Decimal::from_str_exact(text).ok()
}

/// A date written `YYYY-MM-DD` with a four-digit year from 0001 to 9999, as RFC 3339 and
/// protobuf's timestamps bound them.
pub fn date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shaped {
        return None;
    }
    // Read by hand: the shape is checked, and a calendar sent whole may carry hundreds of
    // thousands of dates (chrono's format parser took 19 µs a date in a debug build).
    let number = |range: std::ops::Range<usize>| {
        bytes[range]
            .iter()
            .fold(0u32, |n, digit| n * 10 + u32::from(digit - b'0'))
    };
    let year = i32::try_from(number(0..4)).ok()?;
    NaiveDate::from_ymd_opt(year, number(5..7), number(8..10)).filter(|day| day.year() >= 1)
}

/// The 1-based line and column of the byte `offset` of `text`, for errors in data files that
/// point at the offending value.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_decimals_are_read() {
        for good in ["0", "10", "1234.56", "-3.2", "0.045", "007"] {
            assert!(decimal(good).is_some(), "{good}");
        }
        for bad in [
            "1_000", "1_0.0_5", "+1", "1e5", " 1", "1 ", ".5", "1.", "1,000", "-", "", "1.2.3",
            "--1", "0x10", "١٢",
        ] {
            assert!(decimal(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn only_four_digit_years_from_one_are_read() {
        assert!(date("2024-02-29").is_some());
        assert!(date("0001-01-01").is_some());
        assert!(date("9999-12-31").is_some());
        for bad in [
            "0000-01-01",
            "-999-01-01",
            "+2024-1-01",
            "2024-2-29",
            "2023-02-29",
            "24-02-29x",
        ] {
            assert!(date(bad).is_none(), "{bad}");
        }
    }
}
