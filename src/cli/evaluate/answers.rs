//! The answers of a run, kept until it ends: a refused input prints nothing (exit 1, the reason
//! on stderr), so no answer may be printed before the last row has been read. They are kept as
//! the bytes of their messages, in memory up to [`IN_MEMORY`] and in a temporary file beyond, so a
//! fleet's month-end holds an index entry per subscription (its name and where its answer is),
//! never its answers; they are printed in subscription order, whatever order they came in.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use prost::Message;

use crate::api::pb;

/// A subscription's name (`None` for an input without a `subscription` column), as the feed
/// names it.
type Key = Option<String>;

/// Bytes of answers kept in memory before they move to a temporary file: a few thousand
/// subscriptions' months.
const IN_MEMORY: usize = 32 << 20;

/// Where an answer's bytes are.
#[derive(Clone, Copy, Debug)]
struct Span {
    at: u64,
    len: usize,
}

/// Where the bytes are kept.
enum Store {
    Memory(Vec<u8>),
    File(BufWriter<File>),
}

/// The answers so far, by subscription.
pub(super) struct Answers {
    index: Vec<(Key, Span)>,
    store: Store,
    len: u64,
    temp_dir: Option<std::path::PathBuf>,
}

/// A point to go back to: the answers of a pass that is started again are forgotten.
#[derive(Clone, Copy, Debug)]
pub(super) struct Mark {
    entries: usize,
    len: u64,
}

impl Answers {
    /// No answers yet; a temporary file, when one is needed, goes in `temp_dir` (the system's
    /// by default).
    pub(super) fn new(temp_dir: Option<&Path>) -> Self {
        Answers {
            index: Vec::new(),
            store: Store::Memory(Vec::new()),
            len: 0,
            temp_dir: temp_dir.map(Path::to_path_buf),
        }
    }

    /// Keeps `key`'s answer.
    pub(super) fn push(
        &mut self,
        key: Key,
        response: &pb::EvaluateResponse,
    ) -> std::io::Result<()> {
        let bytes = response.encode_to_vec();
        if let Store::Memory(memory) = &self.store
            && memory.len() + bytes.len() > IN_MEMORY
        {
            let mut file = BufWriter::new(temp_file(self.temp_dir.as_deref())?);
            file.write_all(memory)?;
            self.store = Store::File(file);
        }
        match &mut self.store {
            Store::Memory(memory) => memory.extend_from_slice(&bytes),
            Store::File(file) => file.write_all(&bytes)?,
        }
        self.index.push((
            key,
            Span {
                at: self.len,
                len: bytes.len(),
            },
        ));
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// How many answers are kept.
    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    /// The point reached so far.
    pub(super) fn mark(&self) -> Mark {
        Mark {
            entries: self.index.len(),
            len: self.len,
        }
    }

    /// Forgets every answer kept after `mark`.
    pub(super) fn rewind(&mut self, mark: Mark) -> std::io::Result<()> {
        self.index.truncate(mark.entries);
        self.len = mark.len;
        match &mut self.store {
            Store::Memory(memory) => memory.truncate(mark.len as usize),
            Store::File(file) => {
                file.flush()?;
                file.get_ref().set_len(mark.len)?;
                file.seek(SeekFrom::Start(mark.len))?;
            }
        }
        Ok(())
    }

    /// Puts the index in subscription order, for [`Answers::contains`].
    pub(super) fn sort(&mut self) {
        self.index.sort_by(|a, b| a.0.cmp(&b.0));
    }

    /// Whether `key` has an answer; the index must be sorted since the last push.
    pub(super) fn contains(&self, key: &Key) -> bool {
        self.index
            .binary_search_by(|(other, _)| other.cmp(key))
            .is_ok()
    }

    /// The answers in subscription order, to be read one at a time.
    pub(super) fn into_sorted(mut self) -> std::io::Result<Sorted> {
        self.sort();
        let store = match self.store {
            Store::Memory(memory) => Stored::Memory(memory),
            Store::File(file) => {
                let mut file = file.into_inner().map_err(|error| error.into_error())?;
                file.seek(SeekFrom::Start(0))?;
                Stored::File(file)
            }
        };
        Ok(Sorted {
            index: self.index,
            store,
            next: 0,
        })
    }
}

/// A temporary file, removed when closed (or when the process ends).
pub(super) fn temp_file(dir: Option<&Path>) -> std::io::Result<File> {
    match dir {
        Some(dir) => tempfile::tempfile_in(dir),
        None => tempfile::tempfile(),
    }
}

enum Stored {
    Memory(Vec<u8>),
    File(File),
}

/// The answers in subscription order.
pub(super) struct Sorted {
    index: Vec<(Key, Span)>,
    store: Stored,
    next: usize,
}

impl Sorted {
    /// How many there are.
    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    /// The next answer, read back.
    pub(super) fn next_answer(&mut self) -> Option<std::io::Result<(Key, pb::EvaluateResponse)>> {
        let (key, span) = self.index.get(self.next)?.clone();
        self.next += 1;
        let bytes = match &mut self.store {
            Stored::Memory(memory) => {
                let start = span.at as usize;
                memory[start..start + span.len].to_vec()
            }
            Stored::File(file) => {
                let mut bytes = vec![0; span.len];
                let read = file
                    .seek(SeekFrom::Start(span.at))
                    .and_then(|_| file.read_exact(&mut bytes));
                if let Err(error) = read {
                    return Some(Err(error));
                }
                bytes
            }
        };
        Some(
            pb::EvaluateResponse::decode(bytes.as_slice())
                .map(|response| (key, response))
                .map_err(std::io::Error::other),
        )
    }
}
