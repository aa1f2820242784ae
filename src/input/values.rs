//! Values from the bytes of a file, without allocating: these run once per row of inputs with
//! millions of rows, so the common shapes take a fast path and anything else gets chrono's full
//! parser or a precise refusal.

use chrono::{DateTime, NaiveDate, Utc};

use super::shown;

/// The earliest and latest starts accepted: what chrono's `DateTime<Utc>` holds, so that every
/// start can be shown as an instant and differences of starts never overflow.
const EARLIEST: i64 = -8_210_266_876_800; // -260000-01-01 (inside chrono's range)
const LATEST: i64 = 8_210_266_876_799;

/// A count: a whole number from 0 to 2^64 - 1, digits only.
pub(crate) fn count(bytes: &[u8]) -> Result<u64, String> {
    let mut value: u64 = 0;
    if bytes.is_empty() {
        return Err("is empty; a count is a whole number from 0".into());
    }
    for &byte in bytes {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return Err(format!(
                "{:?} is not a count: a whole number from 0, digits only",
                shown(bytes)
            ));
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(digit)))
            .ok_or_else(|| format!("{} is larger than 2^64 - 1", shown(bytes)))?;
    }
    Ok(value)
}

/// A bucket length in seconds: a count that fits 32 bits.
pub(crate) fn duration(bytes: &[u8]) -> Result<u32, String> {
    let value = count(bytes)?;
    u32::try_from(value).map_err(|_| format!("{value} seconds is longer than any bucket can be"))
}

/// A start: Unix seconds (an optionally signed integer) or an RFC 3339 instant with its offset,
/// `2026-03-01T00:00:00Z` or `2026-03-01 08:00:00+08:00` (a space for the `T` and an offset of
/// hours alone, `+08`, as PostgreSQL and DuckDB write them, are accepted too). Fractions of a
/// second must be zero; an instant without an offset is refused, since it names no instant.
pub(crate) fn start(bytes: &[u8]) -> Result<i64, String> {
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', digits)) => (true, digits),
        _ => (false, bytes),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return rfc3339(bytes);
    }
    match count(digits) {
        Ok(value) if negative => seconds(-i128::from(value)),
        Ok(value) => seconds(i128::from(value)),
        Err(_) => Err(format!(
            "{} Unix seconds is outside the instants this tool handles",
            shown(bytes)
        )),
    }
}

/// Unix seconds, checked to be an instant this tool handles.
pub(crate) fn seconds(value: i128) -> Result<i64, String> {
    i64::try_from(value)
        .ok()
        .filter(|seconds| (EARLIEST..=LATEST).contains(seconds))
        .ok_or_else(|| format!("{value} Unix seconds is outside the instants this tool handles"))
}

fn rfc3339(bytes: &[u8]) -> Result<i64, String> {
    if let Some(seconds) = fixed_width(bytes) {
        return Ok(seconds);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "is not UTF-8 text".to_string())?;
    let refused = || {
        format!(
            "{:?} is not a start: give Unix seconds or an RFC 3339 instant with its offset, \
             such as 2026-03-01T00:00:00Z or 2026-03-01T08:00:00+08:00",
            shown(bytes)
        )
    };
    // chrono takes what the fast path does not: other offsets' forms, lower-case letters.
    let mut normal = text.to_string();
    if let Some(at) = offset_of_hours_alone(text) {
        normal.insert_str(at, ":00");
    }
    let instant = DateTime::parse_from_rfc3339(&normal).map_err(|_| refused())?;
    if instant.timestamp_subsec_nanos() != 0 {
        return Err(format!(
            "{:?} is not on a whole second; buckets start on whole minutes",
            shown(bytes)
        ));
    }
    Ok(instant.with_timezone(&Utc).timestamp())
}

/// `YYYY-MM-DDTHH:MM:SS` then `Z`, `±HH:MM` or `±HH`, optionally with a zero fraction: what
/// nearly every exporter writes, parsed by position.
fn fixed_width(b: &[u8]) -> Option<i64> {
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |value, &byte| {
            byte.is_ascii_digit()
                .then(|| value * 10 + u32::from(byte - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(number(0..4)?).ok()?,
        number(5..7)?,
        number(8..10)?,
    )?;
    let local = date
        .and_hms_opt(number(11..13)?, number(14..16)?, number(17..19)?)?
        .and_utc()
        .timestamp();
    let mut rest = &b[19..];
    if let Some((b'.', fraction)) = rest.split_first() {
        let zeros = fraction.iter().take_while(|&&c| c == b'0').count();
        if zeros == 0 {
            return None;
        }
        rest = &fraction[zeros..];
    }
    let offset = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, rest @ ..] => {
            let hours = number_of(&[*h1, *h2])?;
            let minutes = match rest {
                [] => 0,
                [b':', m1, m2] => number_of(&[*m1, *m2])?,
                _ => return None,
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = i64::from(hours * 3600 + minutes * 60);
            if *sign == b'+' { seconds } else { -seconds }
        }
        _ => return None,
    };
    Some(local - offset)
}

fn number_of(digits: &[u8; 2]) -> Option<u32> {
    digits.iter().try_fold(0u32, |v, &c| {
        c.is_ascii_digit().then(|| v * 10 + u32::from(c - b'0'))
    })
}

/// Where to insert `:00` when the text ends in an offset of hours alone (`+08`).
fn offset_of_hours_alone(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let n = b.len();
    (n > 3
        && matches!(b[n - 3], b'+' | b'-')
        && b[n - 2].is_ascii_digit()
        && b[n - 1].is_ascii_digit()
        && b[..n - 3].contains(&b':'))
    .then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(count(b"0"), Ok(0));
        assert_eq!(count(b"18446744073709551615"), Ok(u64::MAX));
        assert!(count(b"18446744073709551616").unwrap_err().contains("2^64"));
        assert!(count(b"99.7").unwrap_err().contains("whole number"));
        assert!(count(b"-1").is_err());
        assert!(count(b"").is_err());
        assert!(count(b" 1").is_err());
        assert_eq!(duration(b"300"), Ok(300));
        assert!(duration(b"4294967296").is_err());
    }

    #[test]
    fn starts_in_every_accepted_form_agree() {
        let march = 1_772_294_400; // 2026-03-01T00:00:00+08:00
        for text in [
            "1772294400",
            "2026-02-28T16:00:00Z",
            "2026-02-28t16:00:00z",
            "2026-03-01T00:00:00+08:00",
            "2026-03-01 00:00:00+08",
            "2026-03-01T00:00:00.000+08:00",
            "2026-02-28T11:00:00-05:00",
        ] {
            assert_eq!(start(text.as_bytes()), Ok(march), "{text}");
        }
        assert_eq!(start(b"-60"), Ok(-60));
    }

    #[test]
    fn refuses_starts_that_name_no_whole_second() {
        for (text, expected) in [
            ("2026-03-01T00:00:00", "offset"),
            ("2026-03-01", "offset"),
            ("2026-02-30T00:00:00Z", "offset"),
            ("2026-03-01T00:00:00.5Z", "whole second"),
            ("yesterday", "Unix seconds"),
            ("99999999999999999999", "outside"),
        ] {
            let error = start(text.as_bytes()).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
