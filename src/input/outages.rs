//! Outages from a file: `sla.v1.Outage` objects in the proto's JSON mapping (what grpcurl takes),
//! one after another (JSON Lines, or pretty-printed) or in arrays. An optional `"subscription"`
//! key gives an outage to one subscription of a many-subscription file; without it an outage (a
//! provider incident, say) applies to every subscription.

use std::path::Path;

use serde_json::Value;

use super::{InputError, Place, protojson, shown_message};
use crate::api::pb;

/// One outage and where it was read.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The line its object starts on.
    pub place: Place,
    /// The subscription it belongs to; `None` for every subscription.
    pub subscription: Option<String>,
    /// The outage.
    pub outage: pb::Outage,
}

/// Reads an outages file (outages are few: read whole).
pub fn read(path: &Path) -> Result<Vec<Entry>, InputError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|error| InputError::whole(&name, format!("cannot read it: {error}")))?;
    parse(&name, &text)
}

/// Parses the text of an outages file named `name`.
pub fn parse(name: &str, text: &str) -> Result<Vec<Entry>, InputError> {
    let line_at = |offset: usize| {
        let before = text.get(..offset).unwrap_or(text);
        1 + before.bytes().filter(|&b| b == b'\n').count() as u64
    };
    let mut entries = Vec::new();
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<protojson::Strict>();
    loop {
        // Where the next value starts: after the previous one and any whitespace.
        let after = values.byte_offset();
        let start = after
            + text
                .get(after..)
                .map_or(0, |rest| rest.len() - rest.trim_start().len());
        let Some(value) = values.next() else { break };
        let line = line_at(start);
        let protojson::Strict(value) = value.map_err(|error| InputError {
            source_name: name.to_string(),
            place: Place::Line(error.line() as u64),
            column: None,
            message: json_message(&error),
        })?;
        let elements = match value {
            Value::Array(elements) => elements,
            value => vec![value],
        };
        for element in elements {
            entries.push(entry(name, line, element)?);
        }
    }
    Ok(entries)
}

fn entry(name: &str, line: u64, value: Value) -> Result<Entry, InputError> {
    let refused = |column: Option<&str>, message: String| InputError {
        source_name: name.to_string(),
        place: Place::Line(line),
        column: column.map(str::to_string),
        message,
    };
    let Value::Object(mut object) = value else {
        return Err(refused(None, "an outage is a JSON object".into()));
    };
    let subscription = match object.remove("subscription") {
        None => None,
        Some(Value::String(subscription)) if !subscription.is_empty() => Some(subscription),
        Some(_) => {
            let message = "must be a non-empty string".to_string();
            return Err(refused(Some("subscription"), message));
        }
    };
    let outage = protojson::from_value::<pb::Outage>(Value::Object(object), "Outage").map_err(
        |message| {
            let message = shown_message(&message);
            refused(None, format!("not an sla.v1.Outage: {message}"))
        },
    )?;
    Ok(Entry {
        place: Place::Line(line),
        subscription,
        outage,
    })
}

/// serde_json's message without its position, which the caller gives.
fn json_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let message = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(message, _)| message);
    shown_message(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lines_pretty_objects_and_arrays_with_their_lines() {
        let text = r#"{"id": "a", "start": "2026-03-02T00:00:00Z", "end": "2026-03-02T01:00:00Z",
  "cause": "CAUSE_SCHEDULED_MAINTENANCE", "subscription": "acme"}
[{"id": "b", "start": "2026-03-03T00:00:00Z", "end": "2026-03-03T01:00:00Z"},
 {"id": "c", "start": "2026-03-04T00:00:00Z", "end": "2026-03-04T01:00:00Z"}]
"#;
        let entries = parse("outages.jsonl", text).unwrap();
        let seen: Vec<(&str, u64, Option<&str>)> = entries
            .iter()
            .map(|e| {
                let Place::Line(line) = e.place else { panic!() };
                (e.outage.id.as_str(), line, e.subscription.as_deref())
            })
            .collect();
        assert_eq!(
            seen,
            [("a", 1, Some("acme")), ("b", 3, None), ("c", 3, None)]
        );
        assert_eq!(
            entries[0].outage.cause,
            pb::Cause::ScheduledMaintenance as i32
        );
    }

    #[test]
    fn names_the_line_of_a_bad_outage() {
        let text = "{\"id\": \"a\"}\n\n{\"id\": \"b\", \"cause\": \"CAUSE_NONE\"}\n";
        let error = parse("o.jsonl", text).unwrap_err();
        assert_eq!(error.place, Place::Line(3));
        assert!(error.message.contains("CAUSE_NONE"), "{}", error.message);
        let error = parse("o.jsonl", "{\"id\": \"a\"}\n{\"id\": \n").unwrap_err();
        assert_eq!(error.place, Place::Line(3));
    }
}
