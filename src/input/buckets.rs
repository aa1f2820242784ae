//! Bucket files: which reader a file gets, and reading it block by block on every core, the
//! results handed on in file order (see [`super::ordered`]).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::ordered::{self, Flow};
use super::{Block, Chunk, Chunker, InputError, Origin, Place, RowError, csv, jsonl, parquet};

/// Bytes per block of a text file: large enough that per-block costs vanish (about 100,000
/// rows), small enough that the blocks in flight (one per thread, one queued, one being read),
/// each with its parsed rows, stay a few tens of megabytes.
const BLOCK_BYTES: usize = 1 << 20;

/// The formats buckets may come in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// CSV with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    /// The format a file's extension names: `.csv`, `.jsonl` / `.ndjson` / `.json`, `.parquet` /
    /// `.pq`.
    pub fn of(path: &Path) -> Option<Format> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            "parquet" | "pq" => Some(Format::Parquet),
            _ => None,
        }
    }
}

/// A file of buckets, or standard input (`-`).
#[derive(Clone, Debug)]
pub struct BucketFile {
    /// Its path; `-` reads standard input.
    pub path: PathBuf,
    /// How to read it.
    pub format: Format,
}

impl BucketFile {
    /// How messages name it.
    pub fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn is_stdin(&self) -> bool {
        self.path.as_os_str() == "-"
    }

    /// The amount a progress bar counts to: bytes, or rows for Parquet; `None` when unknown.
    pub fn size(&self) -> Option<u64> {
        if self.is_stdin() {
            return None;
        }
        match self.format {
            Format::Parquet => parquet::rows(&self.path).ok(),
            Format::Csv | Format::Jsonl => std::fs::metadata(&self.path).ok().map(|m| m.len()),
        }
    }

    /// Reads the file on `threads` threads and hands its blocks to `apply` in file order, until
    /// the end or until `apply` stops. A file that cannot be opened or has no usable header is
    /// refused before any block.
    pub fn read(
        &self,
        threads: usize,
        apply: impl FnMut(Block) -> Flow + Send,
    ) -> Result<(), InputError> {
        let name = self.name();
        if self.format == Format::Parquet {
            if self.is_stdin() {
                return Err(InputError::whole(
                    &name,
                    "Parquet cannot be read from standard input; give its path",
                ));
            }
            return parquet::read(&self.path, &name, threads, apply);
        }
        if self.is_stdin() {
            return read_text(std::io::stdin().lock(), self.format, &name, threads, apply);
        }
        let file = File::open(&self.path)
            .map_err(|error| InputError::whole(&name, format!("cannot open it: {error}")))?;
        read_text(file, self.format, &name, threads, apply)
    }
}

/// How a text file's blocks are parsed, learnt from its first block.
enum Text {
    Csv(csv::Layout),
    Jsonl { with_subscriptions: bool },
}

/// One parsed block of a text file.
struct Parsed {
    chunks: Vec<Chunk>,
    lines: u64,
    bytes: u64,
    error: Option<Result<RowError, std::io::Error>>,
}

fn read_text(
    input: impl Read,
    format: Format,
    name: &str,
    threads: usize,
    mut apply: impl FnMut(Block) -> Flow + Send,
) -> Result<(), InputError> {
    let at = |error: RowError| InputError {
        source_name: name.to_string(),
        place: Place::Line(error.place),
        column: error.column,
        message: error.message,
    };
    let io = |error: std::io::Error| InputError::whole(name, format!("cannot read it: {error}"));
    let mut blocks = TextBlocks {
        input,
        carry: Vec::new(),
        done: false,
    };
    let first = blocks.next().transpose().map_err(io)?.unwrap_or_default();
    let text = match format {
        Format::Csv => Text::Csv(csv::header(&first).map_err(at)?),
        _ => Text::Jsonl {
            with_subscriptions: jsonl::names_subscriptions(&first).map_err(at)?,
        },
    };
    let items = std::iter::once(Ok(first)).chain(blocks).enumerate();
    let parse = |(index, block): (usize, std::io::Result<Vec<u8>>)| {
        let block = match block {
            Ok(block) => block,
            Err(error) => {
                return Parsed {
                    chunks: Vec::new(),
                    lines: 0,
                    bytes: 0,
                    error: Some(Err(error)),
                };
            }
        };
        let mut chunker = Chunker::default();
        let parsed = match &text {
            Text::Csv(layout) => csv::parse(layout, &block, index == 0, &mut chunker),
            Text::Jsonl { with_subscriptions } => {
                jsonl::parse(*with_subscriptions, &block, &mut chunker)
            }
        };
        Parsed {
            chunks: chunker.finish(),
            lines: memchr::memchr_iter(b'\n', &block).count() as u64,
            bytes: block.len() as u64,
            error: parsed.err().map(Ok),
        }
    };
    let mut before = 0;
    ordered::run(items, threads, parse, |parsed: Parsed| {
        let origin = Origin::Lines { before };
        let error = parsed.error.map(|error| match error {
            Ok(mut error) => {
                error.place += before;
                at(error)
            }
            Err(error) => io(error),
        });
        before += parsed.lines;
        apply(Block {
            chunks: parsed.chunks,
            origin,
            error,
            progress: parsed.bytes,
        })
    });
    Ok(())
}

/// A text input in blocks of whole lines. Each block is [`BLOCK_BYTES`] read (fewer at the end)
/// cut after its last newline, the rest carried into the next: blocks depend only on the bytes,
/// never on how the operating system split the reads.
struct TextBlocks<R> {
    input: R,
    carry: Vec<u8>,
    done: bool,
}

impl<R: Read> Iterator for TextBlocks<R> {
    type Item = std::io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut block = std::mem::take(&mut self.carry);
        let mut limit = BLOCK_BYTES.max(block.len());
        loop {
            let filled = block.len();
            block.resize(limit, 0);
            match read_full(&mut self.input, &mut block[filled..]) {
                Ok(read) => block.truncate(filled + read),
                Err(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
            }
            if block.len() < limit {
                self.done = true;
                return (!block.is_empty()).then_some(Ok(block));
            }
            match memchr::memrchr(b'\n', &block) {
                Some(end) => {
                    self.carry = block.split_off(end + 1);
                    return Some(Ok(block));
                }
                // A line longer than a block: read on until it ends.
                None => limit += BLOCK_BYTES,
            }
        }
    }
}

/// Reads until `buffer` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut read = 0;
    while read < buffer.len() {
        match input.read(&mut buffer[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_end_after_a_newline_whatever_the_reads() {
        let line = b"1772294400,10,1\n";
        let text: Vec<u8> = line
            .iter()
            .copied()
            .cycle()
            .take(line.len() * 1_000_000)
            .collect();
        let blocks: Vec<Vec<u8>> = TextBlocks {
            input: &text[..],
            carry: Vec::new(),
            done: false,
        }
        .map(Result::unwrap)
        .collect();
        assert!(blocks.len() > 1);
        assert!(
            blocks
                .iter()
                .all(|b| b.ends_with(b"\n") && b.len() <= BLOCK_BYTES)
        );
        assert_eq!(blocks.concat(), text);
    }

    #[test]
    fn formats_follow_the_extension() {
        assert_eq!(Format::of(Path::new("a/b.CSV")), Some(Format::Csv));
        assert_eq!(Format::of(Path::new("b.ndjson")), Some(Format::Jsonl));
        assert_eq!(Format::of(Path::new("b.pq")), Some(Format::Parquet));
        assert_eq!(Format::of(Path::new("b.txt")), None);
    }
}
