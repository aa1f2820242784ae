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

pub use chunk::{Chunk, Chunker, ROWS_PER_CHUNK};

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
