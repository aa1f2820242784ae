//! What a Parquet file claims about its own sizes, checked before the `parquet` crate allocates
//! by those claims. A file is a few bytes of data described by its footer and by a header before
//! each page; the reader sizes its buffers from them: a page's bytes, its decompressed size (zero
//! filled before Snappy writes into it), its dictionary's values. Left unchecked, a few hundred
//! bytes claiming 2 GB make the reader allocate 2 GB before it finds out they are not there.
//!
//! So every read is bounded by the file's size ([`Bounded`]) and made at its own offset (row
//! groups are read on several threads at once, and a file handle's shared position would mix
//! their reads), every column chunk must lie inside
//! the file, and every page header is read here first, by a small walker of Thrift's compact
//! encoding (the crate keeps its own private), and must claim no more bytes than its chunk holds
//! and no more decompressed bytes than its codec can make of them. Two encodings whose value
//! counts sit inside the (compressed) data, where no header bounds them, are refused for text
//! columns.

use std::fs::File;
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use parquet::basic::{Compression, Type as Physical};
use parquet::errors::ParquetError;
use parquet::file::metadata::{ColumnChunkMetaData, ParquetMetaData};
use parquet::file::reader::{ChunkReader, Length};

/// Snappy's largest expansion: a three-byte copy element yields at most 64 bytes.
const SNAPPY_RATIO: u64 = 22;

/// Page headers nest a few structs (a data page's statistics); deeper is not a page header.
const MAX_DEPTH: usize = 8;

/// A Parquet file whose reads never reach past its end (a range past it is refused before its
/// buffer is allocated), each at its own offset.
#[derive(Clone)]
pub(super) struct Bounded {
    file: Arc<File>,
    len: u64,
}

impl Bounded {
    /// The file, with its size taken now.
    pub(super) fn new(file: File) -> std::io::Result<Self> {
        let len = file.metadata()?.len();
        Ok(Bounded {
            file: Arc::new(file),
            len,
        })
    }
}

/// A reader of a file from an offset, by positioned reads.
pub(super) struct From {
    file: Arc<File>,
    at: u64,
}

impl Read for From {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.file.read_at(buffer, self.at)?;
        self.at += read as u64;
        Ok(read)
    }
}

impl Length for Bounded {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for Bounded {
    type T = BufReader<From>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(BufReader::new(From {
            file: Arc::clone(&self.file),
            at: start,
        }))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        let end = start.checked_add(length as u64);
        if end.is_none_or(|end| end > self.len) {
            return Err(ParquetError::EOF(format!(
                "{length} bytes claimed at offset {start}, past the end of the file ({} bytes)",
                self.len
            )));
        }
        let mut buffer = vec![0; length];
        self.file.read_exact_at(&mut buffer, start)?;
        Ok(buffer.into())
    }
}

/// Every column chunk the footer describes lies inside the file, before the footer.
pub(super) fn check_footer(metadata: &ParquetMetaData, file_len: u64) -> Result<(), String> {
    for (group, row_group) in metadata.row_groups().iter().enumerate() {
        if row_group.num_rows() < 0 {
            return Err(format!(
                "row group {group} claims {} rows",
                row_group.num_rows()
            ));
        }
        for column in row_group.columns() {
            let (start, len) = column.byte_range();
            if start.checked_add(len).is_none_or(|end| end > file_len) {
                return Err(format!(
                    "row group {group}'s column `{}` claims bytes {start}..{} of a file of {file_len} \
                     bytes",
                    column.column_path().string(),
                    start.saturating_add(len)
                ));
            }
        }
    }
    Ok(())
}

/// Reads every page header of `column` (a chunk of a row group of `rows` rows) and checks each
/// page's claims before the reader acts on them.
pub(super) fn check_pages(
    file: &Bounded,
    column: &ColumnChunkMetaData,
    rows: u64,
) -> Result<(), String> {
    let (start, len) = column.byte_range();
    let physical = column.column_type();
    let snappy = column.compression() == Compression::SNAPPY;
    let mut offset = start;
    let mut remaining = len;
    let io = |error: std::io::Error| format!("cannot be read: {error}");
    while remaining > 0 {
        let mut input = Counting {
            inner: file
                .get_read(offset)
                .map_err(|e| e.to_string())?
                .take(remaining),
            read: 0,
        };
        let header = Header::read(&mut input).map_err(|problem| match problem {
            Problem::Io(error) => io(error),
            Problem::Malformed(message) => format!("has a malformed page header: {message}"),
        })?;
        let after_header = remaining - input.read;
        let claim = |message: String| Err(format!("has a page header claiming {message}"));
        let (Ok(compressed), Ok(uncompressed)) = (
            u64::try_from(header.compressed),
            u64::try_from(header.uncompressed),
        ) else {
            return claim("a negative size".into());
        };
        if compressed > after_header {
            return claim(format!(
                "{compressed} bytes where its column chunk has {after_header} left"
            ));
        }
        let decompressed = snappy && header.is_compressed;
        if decompressed && uncompressed > compressed.saturating_mul(SNAPPY_RATIO) + 32 {
            return claim(format!(
                "{uncompressed} bytes once decompressed from {compressed}, more than Snappy can \
                 make of them"
            ));
        }
        let values = u64::try_from(header.values).unwrap_or(u64::MAX);
        match header.kind {
            Kind::Dictionary => {
                let smallest = match physical {
                    Physical::INT32 => 4,
                    Physical::INT64 => 8,
                    _ => 4, // a byte array's length prefix
                };
                if values.saturating_mul(smallest) > uncompressed {
                    return claim(format!(
                        "a dictionary of {values} values in {uncompressed} bytes"
                    ));
                }
            }
            Kind::Data => {
                if values > rows {
                    return claim(format!("{values} values in a row group of {rows} rows"));
                }
                if physical == Physical::BYTE_ARRAY && matches!(header.encoding, 6 | 7) {
                    return Err(
                        "holds text in a delta encoding, which this reader does not take: write \
                         text with dictionary or plain encoding (DuckDB's, pyarrow's and Spark's \
                         default)"
                            .into(),
                    );
                }
            }
            Kind::Other => {}
        }
        offset += input.read + compressed;
        remaining = after_header - compressed;
    }
    Ok(())
}

/// A reader that counts what it read.
struct Counting<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Counting<R> {
    fn byte(&mut self) -> Result<u8, Problem> {
        let mut byte = [0];
        self.inner.read_exact(&mut byte).map_err(Problem::Io)?;
        self.read += 1;
        Ok(byte[0])
    }

    fn skip(&mut self, bytes: u64) -> Result<(), Problem> {
        let skipped = std::io::copy(&mut (&mut self.inner).take(bytes), &mut std::io::sink())
            .map_err(Problem::Io)?;
        self.read += skipped;
        if skipped < bytes {
            return Err(Problem::Malformed("it runs past its column chunk".into()));
        }
        Ok(())
    }

    fn varint(&mut self) -> Result<u64, Problem> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Problem::Malformed("a varint runs past 64 bits".into()))
    }

    fn i32(&mut self) -> Result<i32, Problem> {
        let raw = self.varint()?;
        let value = (raw >> 1) as i64 ^ -((raw & 1) as i64);
        i32::try_from(value).map_err(|_| Problem::Malformed("an i32 out of range".into()))
    }
}

/// Why a header could not be read.
enum Problem {
    Io(std::io::Error),
    Malformed(String),
}

/// What kind of page a header heads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Data,
    Dictionary,
    Other,
}

/// The fields of a page header the checks read.
struct Header {
    kind: Kind,
    uncompressed: i32,
    compressed: i32,
    values: i32,
    encoding: i32,
    is_compressed: bool,
}

/// Thrift compact types.
const STRUCT: u8 = 12;
const I32: u8 = 5;

impl Header {
    /// Reads a `PageHeader` (parquet.thrift): type 1, sizes 2 and 3, and the nested page header
    /// (5: data, 7: dictionary, 8: data v2) for its value count and encoding.
    fn read<R: Read>(input: &mut Counting<R>) -> Result<Header, Problem> {
        let mut header = Header {
            kind: Kind::Other,
            uncompressed: -1,
            compressed: -1,
            values: 0,
            encoding: 0,
            is_compressed: true,
        };
        let mut page_type = -1;
        fields(input, |input, id, kind| {
            match (id, kind) {
                (1, I32) => page_type = input.i32()?,
                (2, I32) => header.uncompressed = input.i32()?,
                (3, I32) => header.compressed = input.i32()?,
                // DataPageHeader: 1 num_values, 2 encoding.
                (5, STRUCT) => fields(input, |input, id, kind| {
                    match (id, kind) {
                        (1, I32) => header.values = input.i32()?,
                        (2, I32) => header.encoding = input.i32()?,
                        _ => skip(input, kind, 1)?,
                    }
                    Ok(())
                })?,
                // DictionaryPageHeader: 1 num_values.
                (7, STRUCT) => fields(input, |input, id, kind| {
                    match (id, kind) {
                        (1, I32) => header.values = input.i32()?,
                        _ => skip(input, kind, 1)?,
                    }
                    Ok(())
                })?,
                // DataPageHeaderV2: 1 num_values, 4 encoding, 7 is_compressed (a boolean field's
                // value is its type: 1 true, 2 false).
                (8, STRUCT) => fields(input, |input, id, kind| {
                    match (id, kind) {
                        (1, I32) => header.values = input.i32()?,
                        (4, I32) => header.encoding = input.i32()?,
                        (7, 1 | 2) => header.is_compressed = kind == 1,
                        _ => skip(input, kind, 1)?,
                    }
                    Ok(())
                })?,
                _ => skip(input, kind, 0)?,
            }
            Ok(())
        })?;
        header.kind = match page_type {
            0 | 3 => Kind::Data,
            2 => Kind::Dictionary,
            _ => Kind::Other,
        };
        Ok(header)
    }
}

/// Reads a struct's fields up to its stop byte, handing each field's id and type to `field`,
/// which reads or skips its value.
fn fields<R: Read>(
    input: &mut Counting<R>,
    mut field: impl FnMut(&mut Counting<R>, i16, u8) -> Result<(), Problem>,
) -> Result<(), Problem> {
    let mut id: i16 = 0;
    loop {
        let byte = input.byte()?;
        if byte == 0 {
            return Ok(());
        }
        let kind = byte & 0x0f;
        id = match byte >> 4 {
            0 => i16::try_from(input.i32()?)
                .map_err(|_| Problem::Malformed("a field id out of range".into()))?,
            delta => id.saturating_add(i16::from(delta)),
        };
        field(input, id, kind)?;
    }
}

/// Skips a value of compact type `kind`, `depth` structs deep.
fn skip<R: Read>(input: &mut Counting<R>, kind: u8, depth: usize) -> Result<(), Problem> {
    if depth > MAX_DEPTH {
        return Err(Problem::Malformed("structs nested too deep".into()));
    }
    match kind {
        1 | 2 => Ok(()), // a boolean field's value is its type
        3 => input.skip(1),
        4..=6 => input.varint().map(drop),
        7 => input.skip(8),
        8 => {
            let len = input.varint()?;
            input.skip(len)
        }
        9 | 10 => {
            let head = input.byte()?;
            let count = match head >> 4 {
                15 => input.varint()?,
                count => u64::from(count),
            };
            let element = head & 0x0f;
            for _ in 0..count {
                skip_element(input, element, depth + 1)?;
            }
            Ok(())
        }
        11 => {
            let count = input.varint()?;
            if count == 0 {
                return Ok(());
            }
            let kinds = input.byte()?;
            for _ in 0..count {
                skip_element(input, kinds >> 4, depth + 1)?;
                skip_element(input, kinds & 0x0f, depth + 1)?;
            }
            Ok(())
        }
        STRUCT => fields(input, |input, _, kind| skip(input, kind, depth + 1)),
        other => Err(Problem::Malformed(format!(
            "an unknown Thrift type {other}"
        ))),
    }
}

/// Skips an element of a list, set or map: there a boolean takes a byte, so that every element
/// takes at least one and a count claiming more elements than bytes runs out of bytes.
fn skip_element<R: Read>(input: &mut Counting<R>, kind: u8, depth: usize) -> Result<(), Problem> {
    match kind {
        1 | 2 => input.skip(1),
        kind => skip(input, kind, depth),
    }
}
