//! Input not grouped by subscription, split into temporary files so that each can be evaluated
//! in bounded memory: the bounded strategy for a fleet whose rows are interleaved (an export
//! sorted by time) and too many to evaluate at once.
//!
//! Each chunk of rows goes, as read, to the part its subscription's hash picks, with where its
//! rows came from (file, line or row group), so a refusal still names the input's line. A part
//! holds every row of its subscriptions in input order, and about `parts` times fewer
//! subscriptions than the input; a part still too large to evaluate at once is split again, with
//! another hash.

use std::collections::hash_map::DefaultHasher;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use prost::Message;

use super::answers::temp_file;
use super::feed::Key;
use crate::api::pb;
use crate::input::ordered::Flow;
use crate::input::{Block, Chunk, InputError, Origin};

/// The most parts one split makes: each is an open file and a write buffer.
pub(super) const MAX_PARTS: usize = 256;

/// Bytes of write buffer per part.
const BUFFER: usize = 64 << 10;

/// One chunk as a part stores it.
#[derive(Clone, PartialEq, prost::Message)]
struct Record {
    #[prost(string, optional, tag = "1")]
    subscription: Option<String>,
    /// Index of the input's name in the split's list.
    #[prost(uint32, tag = "2")]
    source: u32,
    /// 0 lines, 1 a row group, 2 Prometheus steps.
    #[prost(uint32, tag = "3")]
    origin: u32,
    #[prost(int64, tag = "4")]
    origin_a: i64,
    #[prost(int64, tag = "5")]
    origin_b: i64,
    /// The rows' places, or only the first when they are consecutive.
    #[prost(uint32, repeated, tag = "6")]
    places: Vec<u32>,
    #[prost(bool, tag = "7")]
    consecutive: bool,
    #[prost(message, optional, tag = "8")]
    columns: Option<pb::BucketColumns>,
}

/// The inputs' chunks being split into parts.
pub(super) struct Split {
    parts: Vec<BufWriter<File>>,
    /// The inputs' names, in the order first seen.
    pub(super) names: Vec<String>,
    source: u32,
    seed: u64,
    /// The first failure.
    pub(super) failure: Option<InputError>,
}

/// One part, written and ready to be read.
pub(super) struct Part {
    file: File,
}

impl Split {
    /// A split into `parts` temporary files in `temp_dir`; `depth` picks the hash, so that a
    /// part split again spreads over its own parts.
    pub(super) fn new(parts: usize, depth: u64, temp_dir: Option<&Path>) -> std::io::Result<Self> {
        let parts = (0..parts.clamp(2, MAX_PARTS))
            .map(|_| temp_file(temp_dir).map(|file| BufWriter::with_capacity(BUFFER, file)))
            .collect::<std::io::Result<_>>()?;
        Ok(Split {
            parts,
            names: Vec::new(),
            source: 0,
            seed: depth,
            failure: None,
        })
    }

    /// The input whose blocks come next.
    pub(super) fn begin(&mut self, name: &str) {
        self.source = match self.names.iter().position(|known| known == name) {
            Some(index) => index as u32,
            None => {
                self.names.push(name.to_string());
                (self.names.len() - 1) as u32
            }
        };
    }

    /// Writes a block's chunks to their parts; its error stops the split.
    pub(super) fn apply(&mut self, block: Block) -> Flow {
        for chunk in block.chunks {
            if let Err(error) = self.write(chunk, block.origin, self.source) {
                self.failure.get_or_insert(error);
                return Flow::Stop;
            }
        }
        if let Some(error) = block.error {
            self.failure.get_or_insert(error);
            return Flow::Stop;
        }
        Flow::Continue
    }

    /// Writes one chunk read from input number `source` at `origin`.
    pub(super) fn write(
        &mut self,
        chunk: Chunk,
        origin: Origin,
        source: u32,
    ) -> Result<(), InputError> {
        let part = self.part_of(&chunk.subscription);
        let (kind, a, b) = match origin {
            Origin::Lines { before } => (0, i64::try_from(before).unwrap_or(i64::MAX), 0),
            Origin::RowGroup(group) => (1, i64::try_from(group).unwrap_or(i64::MAX), 0),
            Origin::Steps { first, step } => (2, first, step),
        };
        let first = chunk.places.first().copied().unwrap_or_default();
        let consecutive = chunk.places.iter().enumerate().all(|(i, &place)| {
            u32::try_from(i).ok().and_then(|i| first.checked_add(i)) == Some(place)
        });
        let record = Record {
            subscription: chunk.subscription,
            source,
            origin: kind,
            origin_a: a,
            origin_b: b,
            places: if consecutive {
                vec![first]
            } else {
                chunk.places
            },
            consecutive,
            columns: Some(chunk.columns),
        };
        let mut bytes = Vec::with_capacity(record.encoded_len() + 10);
        record
            .encode_length_delimited(&mut bytes)
            .expect("a Vec takes any length");
        self.parts[part]
            .write_all(&bytes)
            .map_err(|error| temp_error(&error))
    }

    fn part_of(&self, key: &Key) -> usize {
        let mut hasher = DefaultHasher::new();
        self.seed.hash(&mut hasher);
        key.hash(&mut hasher);
        (hasher.finish() % self.parts.len() as u64) as usize
    }

    /// The parts, written out and ready to read.
    pub(super) fn finish(self) -> Result<Vec<Part>, InputError> {
        self.parts
            .into_iter()
            .map(|writer| {
                let mut file = writer.into_inner().map_err(|e| temp_error(e.error()))?;
                file.seek(SeekFrom::Start(0))
                    .map_err(|error| temp_error(&error))?;
                Ok(Part { file })
            })
            .collect()
    }
}

fn temp_error(error: &std::io::Error) -> InputError {
    InputError::whole(
        "evaluate",
        format!("cannot write the input's parts to a temporary file: {error}"),
    )
}

impl Part {
    /// Reads the part back, handing each chunk to `apply` as a block of its own, with the name
    /// of the input it came from, until the end or until `apply` stops.
    pub(super) fn read(
        &mut self,
        names: &[String],
        mut apply: impl FnMut(&str, Block) -> Flow,
    ) -> Result<(), InputError> {
        self.file
            .seek(SeekFrom::Start(0))
            .map_err(|error| temp_error(&error))?;
        let mut reader = BufReader::with_capacity(BUFFER, &self.file);
        let mut bytes = Vec::new();
        loop {
            let Some(length) = read_length(&mut reader).map_err(|error| temp_error(&error))? else {
                return Ok(());
            };
            bytes.resize(length, 0);
            reader
                .read_exact(&mut bytes)
                .map_err(|error| temp_error(&error))?;
            let record = Record::decode(bytes.as_slice())
                .map_err(|error| temp_error(&std::io::Error::other(error)))?;
            let origin = match record.origin {
                0 => Origin::Lines {
                    before: u64::try_from(record.origin_a).unwrap_or(0),
                },
                1 => Origin::RowGroup(usize::try_from(record.origin_a).unwrap_or(0)),
                _ => Origin::Steps {
                    first: record.origin_a,
                    step: record.origin_b,
                },
            };
            let columns = record.columns.unwrap_or_default();
            let places = if record.consecutive {
                let first = record.places.first().copied().unwrap_or_default();
                (0..columns.rows() as u32).map(|i| first + i).collect()
            } else {
                record.places
            };
            let block = Block {
                chunks: vec![Chunk {
                    subscription: record.subscription,
                    columns,
                    places,
                }],
                origin,
                error: None,
                progress: 0,
            };
            let name = names.get(record.source as usize).map_or("", String::as_str);
            if apply(name, block) == Flow::Stop {
                return Ok(());
            }
        }
    }
}

/// A record's length prefix; `None` at the end of the part.
fn read_length(reader: &mut impl Read) -> std::io::Result<Option<usize>> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let mut byte = [0];
        if reader.read(&mut byte)? == 0 {
            return if shift == 0 {
                Ok(None)
            } else {
                Err(std::io::ErrorKind::UnexpectedEof.into())
            };
        }
        value |= u64::from(byte[0] & 0x7f) << shift;
        if byte[0] & 0x80 == 0 {
            return usize::try_from(value)
                .map(Some)
                .map_err(std::io::Error::other);
        }
    }
    Err(std::io::Error::other("a record's length runs past 64 bits"))
}

/// How many parts to split `seen` subscriptions into so that each part's fit in `room` at once,
/// with a margin for the hash's unevenness.
pub(super) fn parts_for(seen: usize, room: usize) -> usize {
    (seen.saturating_mul(2) / room.max(1) + 1).clamp(2, MAX_PARTS)
}
