//! Buckets from Apache Parquet: a flat file with the CSV's column names, one row per bucket.
//!
//! Read with the `parquet` crate's column readers, without Arrow (which would more than double the
//! build for nothing this needs). Row groups are the blocks: each is read on its own thread in
//! batches of [`BATCH`] rows, so memory stays bounded whatever the file's size. `start` may be a
//! UTC timestamp (any unit, whole seconds), Unix seconds as an integer, text as in a CSV, or a
//! `DATE`, which names a local day rather than an instant: it starts at local midnight in the
//! evaluation's zone, where the engine cuts months and days (a daily export's buckets are days).
//! Codecs: uncompressed and Snappy, what DuckDB, pyarrow and Spark write by default. Zstandard
//! (Polars' default) is left out: its C library alone nearly doubled the crate's build time.

mod bounds;

use std::fs::File;
use std::path::Path;

use chrono::{Datelike, Days, NaiveDate};
use chrono_tz::Tz;

use parquet::basic::{ConvertedType, LogicalType, Repetition, TimeUnit, Type as Physical};
use parquet::column::reader::ColumnReader;
use parquet::data_type::ByteArray;
use parquet::file::reader::{FileReader, Length, RowGroupReader, SerializedFileReader};
use parquet::schema::types::ColumnDescriptor;

use self::bounds::Bounded;
use super::chunk::{Chunker, Row};
use super::ordered::{self, Flow};
use super::{Block, COLUMNS, InputError, Origin, Place, RowError, shown, subscription, values};
use crate::engine::months::local_midnight;

/// Rows read from each column at a time.
const BATCH: usize = 8192;

/// Rows in the file, for a progress bar.
pub(crate) fn rows(path: &Path) -> Result<u64, parquet::errors::ParquetError> {
    let reader = SerializedFileReader::new(Bounded::new(File::open(path)?)?)?;
    Ok(u64::try_from(reader.metadata().file_metadata().num_rows()).unwrap_or(0))
}

/// How a column's values become a bucket's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Integers, 32 bits.
    Int32,
    /// Integers, 64 bits; `unsigned` when annotated as such (the bits are a u64's).
    Int64 { unsigned: bool },
    /// A UTC timestamp in units per second.
    Timestamp { per_second: i64 },
    /// A day (days since 1970-01-01), which starts at local midnight in `zone`.
    Date { zone: Tz },
    /// UTF-8 text.
    Text,
}

#[derive(Clone, Copy, Debug)]
struct Column {
    index: usize,
    kind: Kind,
    nullable: bool,
    /// The definition level of a present value; below it, the value is null.
    max_level: i16,
}

/// Where each bucket column is.
#[derive(Debug)]
struct Layout {
    columns: [Option<Column>; 5],
}

/// Reads the file at `path` (named `name` in messages) on `threads` threads; `zone` is the
/// evaluation's, in which a `DATE` start is a local midnight.
pub(crate) fn read(
    path: &Path,
    name: &str,
    threads: usize,
    zone: Tz,
    mut apply: impl FnMut(Block) -> Flow + Send,
) -> Result<(), InputError> {
    let whole = |message: String| InputError::whole(name, message);
    let file = File::open(path)
        .and_then(Bounded::new)
        .map_err(|error| whole(format!("cannot open it: {error}")))?;
    // The pages' headers are read, and checked, before the reader reads the pages.
    let pages = file.clone();
    let file_len = file.len();
    let reader = SerializedFileReader::new(file)
        .map_err(|error| whole(format!("is not a readable Parquet file: {error}")))?;
    bounds::check_footer(reader.metadata(), file_len).map_err(whole)?;
    let layout = layout(&reader, zone).map_err(whole)?;
    let groups = reader.metadata().num_row_groups();
    let work = |group: usize| {
        let mut chunker = Chunker::default();
        let read = read_group(&reader, &pages, &layout, group, &mut chunker);
        let rows = reader.metadata().row_group(group).num_rows();
        (
            group,
            chunker.finish(),
            read.err(),
            u64::try_from(rows).unwrap_or(0),
        )
    };
    ordered::run(0..groups, threads, work, |(group, chunks, error, rows)| {
        let error = error.map(|error: RowError| InputError {
            source_name: name.to_string(),
            place: Place::Row {
                group,
                row: error.place,
            },
            column: error.column,
            message: error.message,
        });
        apply(Block {
            chunks,
            origin: Origin::RowGroup(group),
            error,
            progress: rows,
        })
    });
    Ok(())
}

fn layout(reader: &SerializedFileReader<Bounded>, zone: Tz) -> Result<Layout, String> {
    let schema = reader.metadata().file_metadata().schema_descr();
    let mut columns: [Option<Column>; 5] = [None; 5];
    for (index, descriptor) in schema.columns().iter().enumerate() {
        let path = descriptor.path().string();
        let Some(known) = COLUMNS.iter().position(|&c| c == path) else {
            return Err(format!(
                "has a column `{}`; the columns are {}",
                shown(path.as_bytes()),
                COLUMNS.join(", ")
            ));
        };
        if descriptor.max_rep_level() > 0 {
            return Err(format!(
                "column `{path}` is a list; it must hold one value per row"
            ));
        }
        let kind = kind(descriptor, COLUMNS[known] == "start", zone)
            .map_err(|problem| format!("column `{path}` {problem}"))?;
        let nullable = descriptor.self_type().get_basic_info().repetition() != Repetition::REQUIRED;
        columns[known] = Some(Column {
            index,
            kind,
            nullable,
            max_level: descriptor.max_def_level(),
        });
    }
    for required in ["start", "total", "failed"] {
        let index = COLUMNS
            .iter()
            .position(|&c| c == required)
            .unwrap_or_default();
        if columns[index].is_none() {
            return Err(format!(
                "has no `{required}` column; required are start, total and failed"
            ));
        }
    }
    for group in reader.metadata().row_groups() {
        for column in group.columns() {
            let codec = column.compression();
            if !matches!(
                codec,
                parquet::basic::Compression::UNCOMPRESSED | parquet::basic::Compression::SNAPPY
            ) {
                return Err(format!(
                    "column `{}` is compressed with {codec}, which this build does not read; \
                     write it with Snappy (DuckDB's, pyarrow's and Spark's default) or \
                     uncompressed",
                    column.column_path().string()
                ));
            }
        }
    }
    Ok(Layout { columns })
}

/// What a column's physical and logical types make of its values. An annotation this does not
/// read (a time of day, a decimal, a date outside `start`) is refused rather than read as the
/// integer it is stored as: a date read as seconds would put its bucket in 1970.
fn kind(descriptor: &ColumnDescriptor, is_start: bool, zone: Tz) -> Result<Kind, String> {
    let logical = descriptor.logical_type_ref();
    let unsigned = matches!(
        logical,
        Some(LogicalType::Integer(parquet::basic::IntType {
            is_signed: false,
            ..
        }))
    ) || matches!(
        descriptor.converted_type(),
        ConvertedType::UINT_8
            | ConvertedType::UINT_16
            | ConvertedType::UINT_32
            | ConvertedType::UINT_64
    );
    let integer = matches!(
        descriptor.converted_type(),
        ConvertedType::NONE
            | ConvertedType::INT_8
            | ConvertedType::INT_16
            | ConvertedType::INT_32
            | ConvertedType::INT_64
            | ConvertedType::UINT_8
            | ConvertedType::UINT_16
            | ConvertedType::UINT_32
            | ConvertedType::UINT_64
    );
    match (
        descriptor.physical_type(),
        logical,
        descriptor.converted_type(),
    ) {
        (Physical::INT32, Some(LogicalType::Date), _)
        | (Physical::INT32, None, ConvertedType::DATE)
            if is_start =>
        {
            Ok(Kind::Date { zone })
        }
        (Physical::INT64, Some(LogicalType::Timestamp(timestamp)), _) if is_start => {
            if !timestamp.is_adjusted_to_u_t_c {
                return Err(
                    "holds local timestamps without a zone, which name no instant; \
                            store them as UTC timestamps"
                        .into(),
                );
            }
            let per_second = match timestamp.unit {
                TimeUnit::MILLIS => 1_000,
                TimeUnit::MICROS => 1_000_000,
                TimeUnit::NANOS => 1_000_000_000,
            };
            Ok(Kind::Timestamp { per_second })
        }
        (Physical::INT64, None, ConvertedType::TIMESTAMP_MILLIS) if is_start => {
            Ok(Kind::Timestamp { per_second: 1_000 })
        }
        (Physical::INT64, None, ConvertedType::TIMESTAMP_MICROS) if is_start => {
            Ok(Kind::Timestamp {
                per_second: 1_000_000,
            })
        }
        (Physical::INT64, None, _) if integer => Ok(Kind::Int64 { unsigned }),
        (Physical::INT64, Some(LogicalType::Integer(_)), _) => Ok(Kind::Int64 { unsigned }),
        (Physical::INT32, None, _) if integer => Ok(Kind::Int32),
        (Physical::INT32, Some(LogicalType::Integer(_)), _) => Ok(Kind::Int32),
        (Physical::BYTE_ARRAY, Some(LogicalType::String), _)
        | (Physical::BYTE_ARRAY, None, ConvertedType::UTF8 | ConvertedType::NONE) => Ok(Kind::Text),
        (physical, logical, converted) => Err(format!(
            "has the type {physical}{}, which is not read here: use integers, UTF-8 text, or (for \
             start) a UTC timestamp or a DATE",
            match (logical, converted) {
                (Some(logical), _) => format!(" ({logical:?})"),
                (None, ConvertedType::NONE) => String::new(),
                (None, converted) => format!(" ({converted})"),
            }
        )),
    }
}

/// One column's values of the batch being read.
enum Values {
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Text(Vec<ByteArray>),
}

/// A column being read, batch by batch.
struct Reading {
    column: Column,
    name: &'static str,
    reader: ColumnReader,
    values: Values,
    levels: Vec<i16>,
}

impl Reading {
    fn new(
        group: &dyn RowGroupReader,
        column: Column,
        name: &'static str,
    ) -> Result<Reading, RowError> {
        let reader = group
            .get_column_reader(column.index)
            .map_err(|error| RowError::new(0, name, format!("cannot be read: {error}")))?;
        let values = match &reader {
            ColumnReader::Int32ColumnReader(_) => Values::Int32(Vec::with_capacity(BATCH)),
            ColumnReader::Int64ColumnReader(_) => Values::Int64(Vec::with_capacity(BATCH)),
            ColumnReader::ByteArrayColumnReader(_) => Values::Text(Vec::with_capacity(BATCH)),
            _ => {
                return Err(RowError::new(
                    0,
                    name,
                    "has a type this reader does not take",
                ));
            }
        };
        Ok(Reading {
            column,
            name,
            reader,
            values,
            levels: Vec::with_capacity(BATCH),
        })
    }

    /// Reads the next `rows` rows; `first` is the group's row number of the first.
    fn next(&mut self, rows: usize, first: u64) -> Result<(), RowError> {
        self.levels.clear();
        let levels = self.column.nullable.then_some(&mut self.levels);
        let read = match (&mut self.reader, &mut self.values) {
            (ColumnReader::Int32ColumnReader(reader), Values::Int32(values)) => {
                values.clear();
                reader.read_records(rows, levels, None, values)
            }
            (ColumnReader::Int64ColumnReader(reader), Values::Int64(values)) => {
                values.clear();
                reader.read_records(rows, levels, None, values)
            }
            (ColumnReader::ByteArrayColumnReader(reader), Values::Text(values)) => {
                values.clear();
                reader.read_records(rows, levels, None, values)
            }
            _ => unreachable!("`Reading::new` chose the values to match the reader"),
        };
        let (records, values, _) = read
            .map_err(|error| RowError::new(first, self.name, format!("cannot be read: {error}")))?;
        if records != rows {
            let at = first + records as u64;
            return Err(RowError::new(at, self.name, "the column ends early"));
        }
        if values != rows {
            let null = self
                .levels
                .iter()
                .position(|&level| level < self.column.max_level)
                .unwrap_or(values);
            return Err(RowError::new(first + null as u64, self.name, "is null"));
        }
        Ok(())
    }

    /// Row `i` of the batch as a number: a count, or for `start` Unix seconds.
    fn number(&self, i: usize, first: u64) -> Result<i128, RowError> {
        let at = first + i as u64;
        match (&self.values, self.column.kind) {
            (Values::Int32(values), Kind::Date { zone }) => {
                let days = Days::new(u64::from(values[i].unsigned_abs()));
                let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("1970-01-01 is a date");
                let day = if values[i] < 0 {
                    epoch.checked_sub_days(days)
                } else {
                    epoch.checked_add_days(days)
                };
                let day = day.filter(|day| day.year().abs() <= 200_000);
                let day = day.ok_or_else(|| {
                    let message = format!("{} days from 1970-01-01 is no date", values[i]);
                    RowError::new(at, self.name, message)
                })?;
                Ok(i128::from(local_midnight(zone, day).timestamp()))
            }
            (Values::Int32(values), _) => Ok(i128::from(values[i])),
            // The bits of an unsigned 64-bit integer, as Parquet stores one.
            (Values::Int64(values), Kind::Int64 { unsigned: true }) => {
                Ok(i128::from(values[i] as u64))
            }
            (Values::Int64(values), Kind::Timestamp { per_second }) => {
                let value = values[i];
                if value % per_second != 0 {
                    return Err(RowError::new(at, self.name, "is not on a whole second"));
                }
                Ok(i128::from(value / per_second))
            }
            (Values::Int64(values), _) => Ok(i128::from(values[i])),
            (Values::Text(values), _) => {
                let text = values[i].data();
                let parsed = if self.name == "start" {
                    values::start(text).map(i128::from)
                } else {
                    values::count(text).map(i128::from)
                };
                parsed.map_err(|message| RowError::new(at, self.name, message))
            }
        }
    }

    /// Row `i` as a count.
    fn count(&self, i: usize, first: u64) -> Result<u64, RowError> {
        let value = self.number(i, first)?;
        u64::try_from(value).map_err(|_| {
            let message = format!("{value} is not a count: a whole number from 0");
            RowError::new(first + i as u64, self.name, message)
        })
    }

    /// Row `i` as a subscription's name: its text, or its number written out in `buffer`.
    fn subscription<'a>(
        &'a self,
        i: usize,
        first: u64,
        buffer: &'a mut String,
    ) -> Result<&'a [u8], RowError> {
        let at = first + i as u64;
        let name = match &self.values {
            Values::Text(values) => values[i].data(),
            _ => {
                *buffer = self.number(i, first)?.to_string();
                let buffer: &'a String = buffer;
                buffer.as_bytes()
            }
        };
        subscription(name, at)
    }
}

fn read_group(
    reader: &SerializedFileReader<Bounded>,
    pages: &Bounded,
    layout: &Layout,
    group: usize,
    chunker: &mut Chunker,
) -> Result<(), RowError> {
    // Each page's claims are checked before the reader sizes a buffer by them.
    let meta = reader.metadata().row_group(group);
    let rows_in_group = u64::try_from(meta.num_rows()).unwrap_or(0);
    for (slot, column) in layout.columns.iter().enumerate() {
        if let Some(column) = column {
            bounds::check_pages(pages, meta.column(column.index), rows_in_group)
                .map_err(|problem| RowError::new(0, COLUMNS[slot], problem))?;
        }
    }
    let row_group = reader
        .get_row_group(group)
        .map_err(|error| RowError::row(0, format!("cannot be read: {error}")))?;
    let open = |slot: usize| {
        layout.columns[slot]
            .map(|column| Reading::new(row_group.as_ref(), column, COLUMNS[slot]))
            .transpose()
    };
    let (mut subscription, mut duration) = (open(0)?, open(2)?);
    let required = |slot: usize| {
        open(slot)?.ok_or_else(|| RowError::row(0, format!("has no `{}`", COLUMNS[slot])))
    };
    let (mut start, mut total, mut failed) = (required(1)?, required(3)?, required(4)?);
    let mut buffer = String::new();
    let mut first = 0u64;
    while first < rows_in_group {
        let rows = (rows_in_group - first).min(BATCH as u64) as usize;
        for reading in [&mut start, &mut total, &mut failed]
            .into_iter()
            .chain(subscription.as_mut())
            .chain(duration.as_mut())
        {
            reading.next(rows, first)?;
        }
        for i in 0..rows {
            let at = first + i as u64;
            let seconds = start.number(i, first)?;
            let duration_seconds = match &duration {
                Some(reading) => u32::try_from(reading.count(i, first)?).map_err(|_| {
                    RowError::new(at, "duration_seconds", "is longer than any bucket can be")
                })?,
                None => 60,
            };
            let row = Row {
                subscription: match &subscription {
                    Some(reading) => Some(reading.subscription(i, first, &mut buffer)?),
                    None => None,
                },
                start: values::seconds(seconds).map_err(|m| RowError::new(at, "start", m))?,
                duration_seconds,
                total: total.count(i, first)?,
                failed: failed.count(i, first)?,
            };
            let place = u32::try_from(at)
                .map_err(|_| RowError::row(at, "more rows in one row group than this reads"))?;
            chunker.push(row, place);
        }
        first += rows as u64;
    }
    Ok(())
}
