//! Buckets from CSV: a header row naming the columns, then one bucket per row.
//!
//! | column | required | value |
//! |---|---|---|
//! | `start` | yes | Unix seconds, or RFC 3339 with an offset (`2026-03-01T00:00:00+08:00`) |
//! | `duration_seconds` | no (60) | whole minutes in seconds |
//! | `total`, `failed` | yes | whole numbers, `failed` at most `total` |
//! | `subscription` | no | one report per subscription |
//!
//! Rows are parsed with the `csv` crate's `ByteRecord` (no UTF-8 check or allocation per field)
//! and numbers straight from their bytes.

use csv::{ByteRecord, ReaderBuilder};

use super::chunk::{Chunker, Row};
use super::{COLUMNS, RowError, place, shown, subscription, values};

/// Where each column sits in a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    subscription: Option<usize>,
    start: usize,
    duration: Option<usize>,
    total: usize,
    failed: usize,
    width: usize,
}

impl Layout {
    /// Whether rows name their subscription.
    pub fn has_subscriptions(&self) -> bool {
        self.subscription.is_some()
    }
}

/// Reads the header row at the start of `block`.
pub fn header(block: &[u8]) -> Result<Layout, RowError> {
    let mut reader = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(block);
    let mut record = ByteRecord::new();
    match reader.read_byte_record(&mut record) {
        Ok(true) => {}
        Ok(false) => return Err(RowError::row(1, "the file is empty; it needs a header row")),
        Err(error) => return Err(RowError::row(1, error.to_string())),
    }
    let mut found: [Option<usize>; 5] = [None; 5];
    for (index, name) in record.iter().enumerate() {
        let name = String::from_utf8_lossy(name);
        let name = name.trim().trim_start_matches('\u{feff}');
        let Some(known) = COLUMNS.iter().position(|&c| c == name) else {
            return Err(RowError::row(
                1,
                format!(
                    "the header names a column `{}`; the columns are {}",
                    shown(name.as_bytes()),
                    COLUMNS.join(", ")
                ),
            ));
        };
        if found[known].replace(index).is_some() {
            return Err(RowError::row(
                1,
                format!("the header names `{}` twice", shown(name.as_bytes())),
            ));
        }
    }
    let required = |index: usize| {
        found[index].ok_or_else(|| {
            RowError::row(
                1,
                format!(
                    "the header has no `{}` column; required are start, total and failed",
                    COLUMNS[index]
                ),
            )
        })
    };
    Ok(Layout {
        subscription: found[0],
        start: required(1)?,
        duration: found[2],
        total: required(3)?,
        failed: required(4)?,
        width: record.len(),
    })
}

/// Parses one block of rows (the first block starts with the header, which is skipped) into the
/// chunker. Lines are counted from 1 at the block's start.
pub fn parse(
    layout: &Layout,
    block: &[u8],
    first: bool,
    chunker: &mut Chunker,
) -> Result<(), RowError> {
    let mut reader = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(block);
    let mut record = ByteRecord::new();
    let mut skip_header = first;
    loop {
        let end_of_previous = reader.position().clone();
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(error) => return Err(RowError::row(end_of_previous.line(), error.to_string())),
        }
        // A record's position is where the csv crate began looking for it, before any blank
        // lines it skipped: those are counted on to the record's own line.
        let position = record.position().unwrap_or(&end_of_previous);
        let blank = usize::try_from(position.byte())
            .ok()
            .and_then(|start| block.get(start..))
            .unwrap_or_default()
            .iter()
            .take_while(|&&byte| byte == b'\n' || byte == b'\r')
            .filter(|&&byte| byte == b'\n')
            .count();
        let line = position.line() + blank as u64;
        if std::mem::take(&mut skip_header) {
            continue;
        }
        if record.len() != layout.width {
            if record.len() == 1 && record[0].is_empty() {
                continue; // a blank line
            }
            return Err(RowError::row(
                line,
                format!(
                    "{} fields, but the header has {}",
                    record.len(),
                    layout.width
                ),
            ));
        }
        let row = read_row(layout, &record, line)?;
        chunker.push(row, place(line)?);
    }
}

fn read_row<'r>(layout: &Layout, record: &'r ByteRecord, line: u64) -> Result<Row<'r>, RowError> {
    let field = |index: usize, name: &str| -> Result<&'r [u8], RowError> {
        let value = &record[index];
        if value.contains(&b'\n') || value.contains(&b'\r') {
            return Err(RowError::new(
                line,
                name,
                "a quoted value spans lines, which bucket files may not do",
            ));
        }
        Ok(value)
    };
    let with = |name: &'static str| move |message: String| RowError::new(line, name, message);
    let subscription = match layout.subscription {
        Some(index) => Some(subscription(field(index, "subscription")?, line)?),
        None => None,
    };
    Ok(Row {
        subscription,
        start: values::start(field(layout.start, "start")?).map_err(with("start"))?,
        duration_seconds: match layout.duration {
            Some(index) => values::duration(field(index, "duration_seconds")?)
                .map_err(with("duration_seconds"))?,
            None => 60,
        },
        total: values::count(field(layout.total, "total")?).map_err(with("total"))?,
        failed: values::count(field(layout.failed, "failed")?).map_err(with("failed"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_header_in_any_order() {
        let layout = header(b"failed,total,start,subscription\n").unwrap();
        assert_eq!(
            layout,
            Layout {
                subscription: Some(3),
                start: 2,
                duration: None,
                total: 1,
                failed: 0,
                width: 4
            }
        );
        assert!(
            header(b"start,total,failed,region\n")
                .unwrap_err()
                .message
                .contains("`region`")
        );
        assert!(
            header(b"start,total\n")
                .unwrap_err()
                .message
                .contains("no `failed`")
        );
        assert!(header(b"").unwrap_err().message.contains("empty"));
    }

    #[test]
    fn names_the_line_and_column_of_a_bad_value() {
        let block = b"start,total,failed\n1772294400,10,1\n\n1772294460,ten,1\n";
        let layout = header(block).unwrap();
        let mut chunker = Chunker::default();
        let error = parse(&layout, block, true, &mut chunker).unwrap_err();
        assert_eq!(error.place, 4);
        assert_eq!(error.column.as_deref(), Some("total"));
        assert!(error.message.contains("\"ten\""), "{}", error.message);
        let chunks = chunker.finish();
        assert_eq!(chunks[0].places, [2]);
    }

    #[test]
    fn refuses_rows_of_another_width_and_values_across_lines() {
        let layout = header(b"start,total,failed\n").unwrap();
        let mut chunker = Chunker::default();
        let error = parse(&layout, b"1772294400,10\n", false, &mut chunker).unwrap_err();
        assert!(error.message.contains("2 fields, but the header has 3"));
        let layout = header(b"subscription,start,total,failed\n").unwrap();
        let error = parse(&layout, b"\"a\nb\",1772294400,10,1\n", false, &mut chunker).unwrap_err();
        assert_eq!(error.column.as_deref(), Some("subscription"));
    }
}
