//! Bucket files: which reader a file gets, and reading it block by block on every core, the
//! results handed on in file order (see [`super::ordered`]).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono_tz::Tz;

use super::ordered::{self, Flow};
use super::{Block, Chunk, Chunker, InputError, Origin, Place, RowError, csv, jsonl, parquet};

/// Bytes per block of a text file: large enough that per-block costs vanish (about 100,000
/// rows), small enough that the blocks in flight (one per thread, one queued, one being read),
/// each with its parsed rows, stay a few tens of megabytes.
const BLOCK_BYTES: usize = 1 << 20;

/// The longest line a bucket file may have, newline excluded: a bucket's line is some tens of
/// bytes, so a longer one is not a bucket file (or lacks its newlines), and is refused as soon as
/// it passes this length instead of being read whole into memory. A block then holds at most
/// this plus [`BLOCK_BYTES`].
pub const MAX_LINE_BYTES: usize = 1 << 20;

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
    /// The evaluation's zone: a Parquet `DATE` starts at local midnight in it.
    pub zone: Tz,
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
    /// refused before any block. Standard input is read through `stdin`, which keeps a copy of
    /// what was read so that it can be read again.
    pub fn read(
        &self,
        threads: usize,
        stdin: &mut StdinCopy,
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
            return parquet::read(&self.path, &name, threads, self.zone, apply);
        }
        if self.is_stdin() {
            let live = std::io::stdin().lock();
            let Some(mut copy) = stdin.copy.take() else {
                let copy = tempfile::tempfile().map_err(|error| {
                    InputError::whole(
                        &name,
                        format!("cannot copy it to a temporary file: {error}"),
                    )
                })?;
                let copying = Arc::new(AtomicBool::new(true));
                let mut tee = Tee {
                    input: live,
                    copy: Some(copy),
                    copying: Arc::clone(&copying),
                };
                // Input without subscriptions is never read again: it is not copied.
                let names = |subscriptions: bool| copying.store(subscriptions, Ordering::Relaxed);
                let read = read_text(&mut tee, self.format, &name, threads, names, apply);
                if copying.load(Ordering::Relaxed) {
                    stdin.copy = tee.copy.take();
                }
                return read;
            };
            // Read again: what was read before, then the rest.
            copy.seek(SeekFrom::Start(0)).map_err(|error| {
                InputError::whole(&name, format!("cannot read its copy: {error}"))
            })?;
            return read_text(copy.chain(live), self.format, &name, threads, |_| {}, apply);
        }
        let file = File::open(&self.path)
            .map_err(|error| InputError::whole(&name, format!("cannot open it: {error}")))?;
        read_text(file, self.format, &name, threads, |_| {}, apply)
    }
}

/// What was read of standard input, kept so that it can be read again (when its rows turn out not
/// to be grouped by subscription), in a temporary file.
#[derive(Debug, Default)]
pub struct StdinCopy {
    copy: Option<File>,
}

/// A reader that copies what it reads while `copying` holds; a copy that fails is dropped, so
/// the input cannot be read again (and a second read says so).
struct Tee<R> {
    input: R,
    copy: Option<File>,
    copying: Arc<AtomicBool>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.input.read(buffer)?;
        if !self.copying.load(Ordering::Relaxed) {
            self.copy = None;
        }
        if let Some(copy) = &mut self.copy
            && copy.write_all(&buffer[..read]).is_err()
        {
            self.copy = None;
            self.copying.store(false, Ordering::Relaxed);
        }
        Ok(read)
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

/// Why the next block of a text file could not be cut.
#[derive(Debug)]
enum Cut {
    /// Reading failed.
    Io(std::io::Error),
    /// The line that starts the block runs past [`MAX_LINE_BYTES`].
    LineTooLong,
}

impl Cut {
    /// The refusal of a line too long, at its line number counted from the block's start (1).
    fn too_long() -> RowError {
        RowError::row(
            1,
            format!(
                "the line runs past {} MiB, the longest a bucket file's line may be (a bucket takes \
                 some tens of bytes): the file lacks its newlines, or is not CSV or JSON Lines",
                MAX_LINE_BYTES >> 20
            ),
        )
    }
}

/// Reads a text input; `names_subscriptions` learns from its header whether rows name their
/// subscription.
fn read_text(
    input: impl Read,
    format: Format,
    name: &str,
    threads: usize,
    names_subscriptions: impl FnOnce(bool),
    mut apply: impl FnMut(Block) -> Flow + Send,
) -> Result<(), InputError> {
    let at = |error: RowError| InputError {
        source_name: name.to_string(),
        place: Place::Line(error.place),
        column: error.column,
        message: error.message,
    };
    let io = |error: std::io::Error| InputError::whole(name, format!("cannot read it: {error}"));
    let mut blocks = TextBlocks::new(input);
    let first = match blocks.next().transpose() {
        Ok(first) => first.unwrap_or_default(),
        Err(Cut::Io(error)) => return Err(io(error)),
        Err(Cut::LineTooLong) => return Err(at(Cut::too_long())),
    };
    let text = match format {
        Format::Csv => Text::Csv(csv::header(&first).map_err(at)?),
        _ => Text::Jsonl {
            with_subscriptions: jsonl::names_subscriptions(&first).map_err(at)?,
        },
    };
    names_subscriptions(match &text {
        Text::Csv(layout) => layout.has_subscriptions(),
        Text::Jsonl { with_subscriptions } => *with_subscriptions,
    });
    let items = std::iter::once(Ok(first)).chain(blocks).enumerate();
    let parse = |(index, block): (usize, Result<Vec<u8>, Cut>)| {
        let block = match block {
            Ok(block) => block,
            Err(cut) => {
                return Parsed {
                    chunks: Vec::new(),
                    lines: 0,
                    bytes: 0,
                    // Every earlier block has been handed on, so the line is the first after them.
                    error: Some(match cut {
                        Cut::Io(error) => Err(error),
                        Cut::LineTooLong => Ok(Cut::too_long()),
                    }),
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
/// never on how the operating system split the reads. A line longer than [`MAX_LINE_BYTES`] ends
/// the input with [`Cut::LineTooLong`] as soon as that much of it has been read.
struct TextBlocks<R> {
    input: R,
    carry: Vec<u8>,
    done: bool,
}

impl<R> TextBlocks<R> {
    fn new(input: R) -> Self {
        TextBlocks {
            input,
            carry: Vec::new(),
            done: false,
        }
    }

    /// Stops at a line too long.
    fn too_long(&mut self) -> Option<Result<Vec<u8>, Cut>> {
        self.done = true;
        Some(Err(Cut::LineTooLong))
    }

    /// Hands out a block, after checking its first line (the one carried in: every other line
    /// of a block is shorter than a block's read).
    fn hand_out(&mut self, block: Vec<u8>) -> Option<Result<Vec<u8>, Cut>> {
        let first = memchr::memchr(b'\n', &block).unwrap_or(block.len());
        if first > MAX_LINE_BYTES {
            return self.too_long();
        }
        Some(Ok(block))
    }
}

impl<R: Read> Iterator for TextBlocks<R> {
    type Item = Result<Vec<u8>, Cut>;

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
                    return Some(Err(Cut::Io(error)));
                }
            }
            if block.len() < limit {
                self.done = true;
                return if block.is_empty() {
                    None
                } else {
                    self.hand_out(block)
                };
            }
            match memchr::memrchr(b'\n', &block) {
                Some(end) => {
                    self.carry = block.split_off(end + 1);
                    return self.hand_out(block);
                }
                // Refused at once: read on no further than the longest line allowed.
                None if block.len() > MAX_LINE_BYTES => return self.too_long(),
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
        let blocks: Vec<Vec<u8>> = TextBlocks::new(&text[..]).map(Result::unwrap).collect();
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
