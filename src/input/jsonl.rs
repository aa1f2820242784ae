//! Buckets from JSON Lines: one object per line with the CSV's column names as keys,
//! `{"start": "2026-03-01T00:00:00+08:00", "total": 120, "failed": 0}`. Counts may also be
//! strings of digits, as protobuf's JSON mapping writes 64-bit integers.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use super::chunk::{Chunker, Row};
use super::{RowError, place, shown_message, subscription, values};

/// The keys of a row.
#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Key {
    Subscription,
    Start,
    DurationSeconds,
    Total,
    Failed,
}

impl Key {
    fn name(self) -> &'static str {
        match self {
            Key::Subscription => "subscription",
            Key::Start => "start",
            Key::DurationSeconds => "duration_seconds",
            Key::Total => "total",
            Key::Failed => "failed",
        }
    }
}

/// A row as read, before its values are checked.
#[derive(Default)]
struct Parsed<'a> {
    subscription: Option<Cow<'a, str>>,
    start: Option<i64>,
    duration_seconds: Option<u32>,
    total: Option<u64>,
    failed: Option<u64>,
}

/// Reads one row, noting which key it was reading so that an error can name it.
struct RowSeed<'k>(&'k Cell<Option<Key>>);

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = Parsed<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = Parsed<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with start, total and failed")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut row = Parsed::default();
        // A key named twice is refused, as a CSV header naming a column twice is: JSON parsers
        // disagree on which value wins, so either reading would be a guess.
        let mut seen = 0u8;
        while let Some(key) = map.next_key::<Key>()? {
            self.0.set(Some(key));
            let bit = 1 << key as u8;
            if seen & bit != 0 {
                return Err(de::Error::custom(format!(
                    "the object names `{}` twice",
                    key.name()
                )));
            }
            seen |= bit;
            match key {
                Key::Subscription => row.subscription = Some(map.next_value::<Cow<'de, str>>()?),
                Key::Start => row.start = Some(map.next_value::<Start>()?.0),
                Key::DurationSeconds => {
                    let seconds = map.next_value::<Count>()?.0;
                    row.duration_seconds = Some(u32::try_from(seconds).map_err(|_| {
                        de::Error::custom(format!(
                            "{seconds} seconds is longer than any bucket can be"
                        ))
                    })?);
                }
                Key::Total => row.total = Some(map.next_value::<Count>()?.0),
                Key::Failed => row.failed = Some(map.next_value::<Count>()?.0),
            }
            self.0.set(None);
        }
        Ok(row)
    }
}

/// A count: a JSON number, or a string of digits.
struct Count(u64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CountVisitor;
        impl Visitor<'_> for CountVisitor {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a count")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Count, E> {
                Ok(Count(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Count, E> {
                u64::try_from(v)
                    .map(Count)
                    .map_err(|_| E::custom(format!("{v} is not a count: a whole number from 0")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Count, E> {
                Err(E::custom(format!(
                    "{v} is not a count: a whole number, without a fraction or exponent"
                )))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Count, E> {
                values::count(v.as_bytes()).map(Count).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(CountVisitor)
    }
}

/// A start: Unix seconds as a number, or a string as the CSV takes it.
struct Start(i64);

impl<'de> Deserialize<'de> for Start {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StartVisitor;
        impl Visitor<'_> for StartVisitor {
            type Value = Start;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("Unix seconds or an RFC 3339 instant")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Start, E> {
                values::seconds(i128::from(v)).map(Start).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Start, E> {
                values::seconds(i128::from(v)).map(Start).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Start, E> {
                Err(E::custom(format!(
                    "{v} is not a start: Unix seconds are a whole number"
                )))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Start, E> {
                values::start(v.as_bytes()).map(Start).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(StartVisitor)
    }
}

/// Reads one line's object.
fn read(line: &[u8], number: u64) -> Result<Parsed<'_>, RowError> {
    let key = Cell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(line);
    RowSeed(&key)
        .deserialize(&mut deserializer)
        .and_then(|row| deserializer.end().map(|()| row))
        .map_err(|error| json_error(number, key.get(), &error))
}

/// Whether the first row of `block` names a subscription: every row of the file must then.
pub fn names_subscriptions(block: &[u8]) -> Result<bool, RowError> {
    for (index, line) in block.split(|&b| b == b'\n').enumerate() {
        if line.trim_ascii().is_empty() {
            continue;
        }
        let row = read(line, index as u64 + 1)?;
        return Ok(row.subscription.is_some());
    }
    Ok(false)
}

/// Parses one block of lines into the chunker; lines are counted from 1 at the block's start.
pub fn parse(
    with_subscriptions: bool,
    block: &[u8],
    chunker: &mut Chunker,
) -> Result<(), RowError> {
    for (index, line) in block.split(|&b| b == b'\n').enumerate() {
        let number = index as u64 + 1;
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let row = read(line, number)?;
        let missing = |name: &str| RowError::row(number, format!("the object has no `{name}`"));
        let name = match (&row.subscription, with_subscriptions) {
            (Some(name), true) => Some(subscription(name.as_bytes(), number)?),
            (None, false) => None,
            (None, true) => return Err(missing("subscription")),
            (Some(_), false) => {
                return Err(RowError::new(
                    number,
                    "subscription",
                    "the file's first row names no subscription, so no row may",
                ));
            }
        };
        chunker.push(
            Row {
                subscription: name,
                start: row.start.ok_or_else(|| missing("start"))?,
                duration_seconds: row.duration_seconds.unwrap_or(60),
                total: row.total.ok_or_else(|| missing("total"))?,
                failed: row.failed.ok_or_else(|| missing("failed"))?,
            },
            place(number)?,
        );
    }
    Ok(())
}

/// serde_json's message without its position (the caller gives the line), with the key named
/// where the message starts with one.
fn json_error(line: u64, key: Option<Key>, error: &serde_json::Error) -> RowError {
    let text = error.to_string();
    let text = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(message, _)| message);
    RowError {
        place: line,
        column: key.map(|key| key.name().to_string()),
        message: format!("{} (at character {})", shown_message(text), error.column()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_numbers_strings_and_instants() {
        let block = br#"{"start": 1772294400, "total": 120, "failed": 0}
{"start": "2026-03-01T00:01:00+08:00", "total": "18446744073709551615", "failed": "3", "duration_seconds": 60}

"#;
        assert!(!names_subscriptions(block).unwrap());
        let mut chunker = Chunker::default();
        parse(false, block, &mut chunker).unwrap();
        let chunks = chunker.finish();
        assert_eq!(chunks[0].columns.total, [120, u64::MAX]);
        assert_eq!(
            chunks[0].columns.starts().unwrap().as_ref(),
            [1772294400, 1772294460]
        );
        assert_eq!(chunks[0].places, [1, 2]);
    }

    #[test]
    fn refuses_with_the_line_and_key() {
        for (line, expected) in [
            (
                r#"{"start": 1772294400, "total": 99.7, "failed": 0}"#,
                "99.7 is not a count",
            ),
            (
                r#"{"start": 1772294400, "total": 1, "failed": 0} {}"#,
                "trailing",
            ),
            (r#"{"start": 1772294400, "total": -1, "failed": 0}"#, "-1"),
            (r#"{"start": 1772294400, "total": 1}"#, "no `failed`"),
            (
                r#"{"start": 1772294400, "total": 1, "failed": 0, "x": 1}"#,
                "unknown variant `x`",
            ),
            (
                r#"{"start": "2026-03-01T00:00:00", "total": 1, "failed": 0}"#,
                "offset",
            ),
            (r#"{"start": 1772294400, "total": 1"#, "EOF"),
            (
                r#"{"start": 1772294400, "total": 5, "failed": 0, "total": 7}"#,
                "names `total` twice",
            ),
        ] {
            let block = format!("{{\"start\": 0, \"total\": 1, \"failed\": 0}}\n{line}\n");
            let error = parse(false, block.as_bytes(), &mut Chunker::default()).unwrap_err();
            assert_eq!(error.place, 2, "{line}");
            assert!(
                error.message.contains(expected),
                "{line}: {}",
                error.message
            );
        }
    }
}
