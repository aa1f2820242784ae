//! Measurements from files and from Prometheus, turned into the `sla.v1` messages an Evaluate
//! stream carries, so that the command line and the server evaluate exactly the same input.
//!
//! Every reader produces [`Chunk`]s: one subscription's buckets as a `BucketColumns` message (at
//! most [`ROWS_PER_CHUNK`] rows, starts as deltas) with where each row came from. Files are cut
//! into blocks that are parsed on every core and handed on in file order ([`ordered`]), so the
//! messages, and therefore the response and the first error reported, do not depend on how many
//! cores read them. Memory stays bounded by the blocks in flight, whatever the file's size.
//!
//! A refused input is an [`InputError`] naming the file, the line (or row group and row, or
//! Prometheus step) and the column.
//!
//! What the readers share lives here, so that no reader imports another: the bucket columns
//! ([`COLUMNS`]), a parsed [`Block`] and where it sits ([`Origin`]), the errors, and the checks of
//! a subscription name and a row's place.

pub mod buckets;
pub mod chunk;
pub mod csv;
pub mod fees;
pub mod jsonl;
pub mod ordered;
pub mod outages;
pub mod parquet;
pub mod prometheus;
pub mod protojson;
mod values;

use std::fmt;

use chrono::DateTime;

pub use chunk::{Chunk, Chunker, ROWS_PER_CHUNK};

/// The columns a bucket file may have, in the order messages list them.
pub const COLUMNS: [&str; 5] = [
    "subscription",
    "start",
    "duration_seconds",
    "total",
    "failed",
];

/// Where in an input a problem sits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// The input as a whole.
    Whole,
    /// A line of a text file, counted from 1.
    Line(u64),
    /// A row of a Parquet file: the row group and the row within it, both from 0.
    Row {
        /// The row group.
        group: usize,
        /// The row within the group.
        row: u64,
    },
    /// A bucket from Prometheus: its start.
    Step(chrono::DateTime<chrono::Utc>),
}

/// An input the command refused: which one, where, which column, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct InputError {
    /// The file (or `-` for standard input, or the Prometheus URL).
    pub source_name: String,
    /// Where in it.
    pub place: Place,
    /// The column (or JSON key) at fault, when one is.
    pub column: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl InputError {
    /// A problem with the input as a whole.
    pub fn whole(source_name: &str, message: impl Into<String>) -> Self {
        InputError {
            source_name: source_name.to_string(),
            place: Place::Whole,
            column: None,
            message: message.into(),
        }
    }
}

/// `file:line: column `x`: message`, the form editors and terminals link to.
impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source_name)?;
        match &self.place {
            Place::Whole => {}
            Place::Line(line) => write!(f, ":{line}")?,
            Place::Row { group, row } => write!(f, ": row group {group}, row {row}")?,
            Place::Step(start) => write!(f, ": the step starting {}", start.to_rfc3339())?,
        }
        if let Some(column) = &self.column {
            write!(f, ": column `{column}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A problem found while parsing one block, placed relative to the block; the reader that knows
/// where the block sits in the file turns it into an [`InputError`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// The line within the block (from 1), or the row within the row group (from 0).
    pub place: u64,
    /// The column at fault, when one is.
    pub column: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl RowError {
    /// A problem with a value of `column`.
    pub fn new(place: u64, column: &str, message: impl Into<String>) -> Self {
        RowError {
            place,
            column: Some(column.to_string()),
            message: message.into(),
        }
    }

    /// A problem with the row as a whole.
    pub fn row(place: u64, message: impl Into<String>) -> Self {
        RowError {
            place,
            column: None,
            message: message.into(),
        }
    }
}

/// What reading handed on for one block of the input, in input order.
#[derive(Debug)]
pub struct Block {
    /// The block's chunks, in a fixed order.
    pub chunks: Vec<Chunk>,
    /// How the chunks' places become places in the input.
    pub origin: Origin,
    /// What stopped the block, after its chunks' rows.
    pub error: Option<InputError>,
    /// Bytes (text) or rows (Parquet) the block took up, for a progress bar.
    pub progress: u64,
}

/// Where a block sits in its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Lines of a text file, after `before` lines of earlier blocks.
    Lines {
        /// Lines before the block.
        before: u64,
    },
    /// A Parquet row group.
    RowGroup(usize),
    /// Steps of a Prometheus query: row places count steps from `first`.
    Steps {
        /// The first step's start, Unix seconds.
        first: i64,
        /// The step, seconds.
        step: i64,
    },
}

impl Origin {
    /// Where the row with relative place `places[row]` sits in the input.
    pub fn place(&self, places: &[u32], row: usize) -> Place {
        let relative = u64::from(places.get(row).copied().unwrap_or_default());
        match *self {
            Origin::Lines { before } => Place::Line(before + relative),
            Origin::RowGroup(group) => Place::Row {
                group,
                row: relative,
            },
            Origin::Steps { first, step } => {
                let start = first + step * i64::from(places.get(row).copied().unwrap_or_default());
                DateTime::from_timestamp(start, 0).map_or(Place::Whole, Place::Step)
            }
        }
    }
}

/// The most characters of an input's value a message repeats: enough to recognise it, never the
/// megabytes a broken file may hold in one field.
pub const SHOWN_CHARS: usize = 128;

/// The most characters of a library's message (serde_json's, the csv crate's) repeated, which
/// may quote a value in full.
const SHOWN_MESSAGE_CHARS: usize = 320;

/// A value from an input as a message shows it: at most [`SHOWN_CHARS`] characters, then `…` and
/// how long it was.
pub fn shown(bytes: &[u8]) -> String {
    cut(&String::from_utf8_lossy(bytes), SHOWN_CHARS)
}

/// A library's message about an input, cut as [`shown`] cuts a value.
pub(crate) fn shown_message(message: &str) -> String {
    cut(message, SHOWN_MESSAGE_CHARS)
}

fn cut(text: &str, most: usize) -> String {
    match text.char_indices().nth(most) {
        None => text.to_string(),
        Some((end, _)) => format!(
            "{}… ({} characters in all)",
            &text[..end],
            text.chars().count()
        ),
    }
}

/// A subscription's name: non-empty UTF-8.
pub(crate) fn subscription(name: &[u8], place: u64) -> Result<&[u8], RowError> {
    if name.is_empty() {
        return Err(RowError::new(place, "subscription", "is empty"));
    }
    if std::str::from_utf8(name).is_err() {
        return Err(RowError::new(place, "subscription", "is not UTF-8 text"));
    }
    Ok(name)
}

/// A subscription's name as a message shows it.
pub(crate) fn shown_name(name: &str) -> String {
    shown(name.as_bytes())
}

/// A line within a block as a chunk stores it.
pub(crate) fn place(line: u64) -> Result<u32, RowError> {
    u32::try_from(line).map_err(|_| RowError::row(line, "too many lines in one block"))
}
