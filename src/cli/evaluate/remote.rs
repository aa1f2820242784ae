//! Evaluations on running servers (`--target`): one Evaluate stream per subscription, fed the
//! messages the in-process path takes, so that the output is the same.
//!
//! The target may be several replicas (a name with several addresses, or a list): each new
//! stream goes to the next replica, round robin. At most `--max-open` streams are in flight at
//! once, however many subscriptions the run has. Each stream keeps what it sent ([`Replay`]): if
//! its replica fails (the connection drops, or the replica is overloaded), the stream is sent
//! again, whole, to another replica. Evaluate is a pure function of its messages, so the answer is
//! the same; the run's summary counts the subscriptions resent. A refusal of the input itself is
//! never resent: it would be refused again.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use prost::Message;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;
use tonic_types::StatusExt;

use super::answers::temp_file;
use super::feed::{Answer, Evaluator, Key, Refusal};
use crate::api::pb::evaluate_request::Item;
use crate::api::{At, ERROR_DOMAIN, pb};
use crate::cli::target::{Replica, reachable, replicas};

/// Messages queued per stream: enough to keep a connection busy, few enough that a hundred
/// streams' queues stay some tens of megabytes (a message is at most 10,000 rows, 240 KB
/// decoded).
const QUEUED: usize = 2;

/// Bytes of a stream's sent messages kept in memory for a resend; beyond, in a temporary file.
const REPLAY_IN_MEMORY: usize = 1 << 20;

/// How long a replica that failed is passed over by new streams.
const DOWN_FOR: Duration = Duration::from_secs(5);

/// Servers evaluating for this process.
pub(super) struct Remote {
    runtime: Handle,
    replicas: Arc<Replicas>,
    max_streams: usize,
    /// Streams started whose call has not ended.
    in_flight: Arc<AtomicUsize>,
    /// Streams closed whose answer has not been handed back.
    pending: AtomicUsize,
    answers_in: Sender<Answer>,
    answers_out: Mutex<Receiver<Answer>>,
    /// The calls of closed streams, to abandon them.
    closing: Mutex<Vec<AbortHandle>>,
    retried: Arc<AtomicU64>,
    temp_dir: Option<PathBuf>,
}

/// One Evaluate stream in progress: its messages go to the task that calls.
pub(super) struct Call {
    sender: Option<mpsc::Sender<pb::EvaluateRequest>>,
    task: AbortHandle,
}

/// The replicas, and which is next.
struct Replicas {
    all: Vec<(Replica, Mutex<Option<Instant>>)>,
    next: AtomicUsize,
}

impl Replicas {
    /// The next replica round robin, passing over `avoid` and those that failed lately (unless
    /// every one has).
    fn pick(&self, avoid: Option<usize>) -> usize {
        let count = self.all.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let up = |index: usize| {
            let down = self.all[index]
                .1
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            down.is_none_or(|until| until <= now)
        };
        let candidates = (0..count).map(|i| (start + i) % count);
        let other = |index: &usize| Some(*index) != avoid || count == 1;
        candidates
            .clone()
            .find(|index| other(index) && up(*index))
            .or_else(|| candidates.clone().find(other))
            .unwrap_or(0)
    }

    fn mark_down(&self, index: usize) {
        *self.all[index]
            .1
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + DOWN_FOR);
    }
}

impl Remote {
    /// The replicas `target` names, with at least one answering; `max_streams` bounds the
    /// streams in flight over all of them.
    pub(super) async fn connect(
        target: &str,
        max_streams: usize,
        temp_dir: Option<&Path>,
    ) -> Result<Self, String> {
        let all = replicas(target).await?;
        let mut answering = 0;
        let mut first_error = None;
        let mut marked = Vec::new();
        for replica in all {
            let down = match reachable(&replica).await {
                Ok(()) => {
                    answering += 1;
                    None
                }
                Err(error) => {
                    eprintln!("sla-evaluator: {error}; evaluating on the other replicas");
                    first_error.get_or_insert(error);
                    Some(Instant::now() + DOWN_FOR)
                }
            };
            marked.push((replica, Mutex::new(down)));
        }
        if answering == 0 {
            return Err(first_error.unwrap_or_else(|| format!("cannot reach {target}")));
        }
        let (answers_in, answers_out) = std::sync::mpsc::channel();
        Ok(Remote {
            runtime: Handle::current(),
            replicas: Arc::new(Replicas {
                all: marked,
                next: AtomicUsize::new(0),
            }),
            max_streams: max_streams.max(1),
            in_flight: Arc::new(AtomicUsize::new(0)),
            pending: AtomicUsize::new(0),
            answers_in,
            answers_out: Mutex::new(answers_out),
            closing: Mutex::new(Vec::new()),
            retried: Arc::new(AtomicU64::new(0)),
            temp_dir: temp_dir.map(Path::to_path_buf),
        })
    }

    /// Subscriptions resent to another replica so far.
    pub(super) fn retried(&self) -> u64 {
        self.retried.load(Ordering::Relaxed)
    }
}

impl Evaluator for Remote {
    type Stream = Call;

    fn open(&self, key: &Key, spec: pb::EvaluationSpec) -> Result<Call, Refusal> {
        let (sender, input) = mpsc::channel(QUEUED);
        let attempt = Attempt {
            replicas: Arc::clone(&self.replicas),
            retried: Arc::clone(&self.retried),
            replay: Replay::new(self.temp_dir.clone()),
            input,
            input_done: false,
        };
        let in_flight = InFlight::new(&self.in_flight);
        let answers = self.answers_in.clone();
        let key = key.clone();
        let task = self.runtime.spawn(async move {
            let answer = attempt.run().await;
            drop(in_flight);
            let _ = answers.send((key, answer));
        });
        let mut call = Call {
            sender: Some(sender),
            task: task.abort_handle(),
        };
        self.take(
            &mut call,
            pb::EvaluateRequest {
                item: Some(Item::Spec(spec)),
            },
        )?;
        Ok(call)
    }

    fn take(&self, call: &mut Call, message: pb::EvaluateRequest) -> Result<(), Refusal> {
        match &call.sender {
            Some(sender) if sender.blocking_send(message).is_ok() => Ok(()),
            // The call ended before the upload did: its answer says why.
            _ => Err(Refusal::ended()),
        }
    }

    fn refuses_late(&self) -> bool {
        true
    }

    fn close(&self, _key: Key, mut call: Call) {
        call.sender = None; // closes the upload: the server answers
        self.pending.fetch_add(1, Ordering::Relaxed);
        let mut closing = self.closing.lock().unwrap_or_else(PoisonError::into_inner);
        closing.retain(|task| !task.is_finished());
        closing.push(call.task);
    }

    fn answers(&self, wait: bool) -> Vec<Answer> {
        let out = self
            .answers_out
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut answers: Vec<Answer> = out.try_iter().collect();
        if answers.is_empty() && wait && self.pending.load(Ordering::Relaxed) > 0 {
            answers.extend(out.recv().ok());
            answers.extend(out.try_iter());
        }
        // An answer can come from a stream not yet closed (its call ended early): only closed
        // ones were counted as pending.
        let _ = self
            .pending
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |pending| {
                Some(pending.saturating_sub(answers.len()))
            });
        answers
    }

    fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    fn has_room(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) < self.max_streams
    }

    fn over(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) > self.max_streams
    }

    fn abandon(&self, calls: Vec<Call>) {
        for call in calls {
            call.task.abort();
        }
        for task in self
            .closing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            task.abort();
        }
        // Aborted calls end at their next poll, and answer nothing.
        while self.in_flight.load(Ordering::Relaxed) > 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        let out = self
            .answers_out
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while out.try_recv().is_ok() {}
        self.pending.store(0, Ordering::Relaxed);
    }

    fn bound(&self) -> String {
        format!("--max-open ({} streams)", self.max_streams)
    }
}

/// Counts a call in flight until dropped, even when its task is aborted.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(count))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One subscription's call, over as many attempts as its replicas' failures take.
struct Attempt {
    replicas: Arc<Replicas>,
    retried: Arc<AtomicU64>,
    replay: Replay,
    input: mpsc::Receiver<pb::EvaluateRequest>,
    input_done: bool,
}

impl Attempt {
    /// Calls until a replica answers, or refuses the input, or the attempts run out.
    async fn run(mut self) -> Result<pb::EvaluateResponse, Refusal> {
        let count = self.replicas.all.len();
        let most = 3.max(1 + 2 * count as u64);
        let mut replica = self.replicas.pick(None);
        let mut resent = false;
        for attempt in 1u64.. {
            let (sender, upload) = mpsc::channel(QUEUED);
            let (url, mut client) = {
                let (replica, _) = &self.replicas.all[replica];
                (replica.url.clone(), replica.client.clone())
            };
            let outcome = {
                let call = client.evaluate(ReceiverStream::new(upload));
                let forward = self.forward(sender);
                tokio::pin!(call, forward);
                let mut forwarded = false;
                loop {
                    tokio::select! {
                        outcome = &mut call => break outcome,
                        sent = &mut forward, if !forwarded => {
                            if let Err(error) = sent {
                                return Err(Refusal::whole(format!(
                                    "cannot keep a stream's messages for a resend: {error}"
                                )));
                            }
                            forwarded = true;
                        }
                    }
                }
            };
            match outcome {
                Ok(response) if self.input_done => return Ok(response.into_inner()),
                Ok(_) => {
                    return Err(Refusal::whole(format!(
                        "the server at {url} answered before the upload ended"
                    )));
                }
                Err(status) if attempt < most && retryable(&status) => {
                    self.replicas.mark_down(replica);
                    if !resent {
                        resent = true;
                        self.retried.fetch_add(1, Ordering::Relaxed);
                    }
                    eprintln!(
                        "sla-evaluator: the server at {url} failed ({:?}: {}); sending the \
                         stream to another replica",
                        status.code(),
                        status.message()
                    );
                    tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                    replica = self.replicas.pick(Some(replica));
                }
                Err(status) => {
                    return Err(Refusal {
                        message: format!(
                            "the server at {url} answered {:?}: {}",
                            status.code(),
                            status.message()
                        ),
                        at: At::of_status(&status),
                        ended: false,
                    });
                }
            }
        }
        unreachable!("the attempts end in a return")
    }

    /// Sends what earlier attempts sent, then the rest of the input as it comes, keeping it;
    /// returns when the input ends (closing the upload) or the call stops taking messages.
    async fn forward(&mut self, sender: mpsc::Sender<pb::EvaluateRequest>) -> std::io::Result<()> {
        let mut sent = 0;
        while let Some(message) = self.replay.read(sent)? {
            sent += 1;
            if sender.send(message).await.is_err() {
                return Ok(());
            }
        }
        while !self.input_done {
            match self.input.recv().await {
                Some(message) => {
                    self.replay.push(&message)?;
                    if sender.send(message).await.is_err() {
                        return Ok(());
                    }
                }
                None => self.input_done = true,
            }
        }
        Ok(())
    }
}

/// Whether a failed call may be sent to another replica: the connection failed (no answer of
/// the service's own), or the replica was too loaded to take it.
fn retryable(status: &tonic::Status) -> bool {
    match status
        .get_details_error_info()
        .filter(|info| info.domain == ERROR_DOMAIN)
    {
        Some(info) => matches!(info.reason.as_str(), "OVERLOADED" | "MEMORY_BUDGET"),
        None => matches!(
            status.code(),
            Code::Unavailable | Code::Unknown | Code::Cancelled | Code::Internal
        ),
    }
}

/// The messages a stream sent, length-delimited, to send again: in memory, then in a temporary
/// file once they pass [`REPLAY_IN_MEMORY`].
struct Replay {
    memory: Vec<u8>,
    file: Option<File>,
    /// Bytes in the file, and the file's messages.
    in_file: (u64, usize),
    /// Messages in all.
    count: usize,
    /// Where the reading of the last `read` stopped: message number and byte.
    cursor: (usize, u64),
    temp_dir: Option<PathBuf>,
}

impl Replay {
    fn new(temp_dir: Option<PathBuf>) -> Self {
        Replay {
            memory: Vec::new(),
            file: None,
            in_file: (0, 0),
            count: 0,
            cursor: (0, 0),
            temp_dir,
        }
    }

    fn push(&mut self, message: &pb::EvaluateRequest) -> std::io::Result<()> {
        message
            .encode_length_delimited(&mut self.memory)
            .map_err(std::io::Error::other)?;
        self.count += 1;
        if self.memory.len() > REPLAY_IN_MEMORY {
            let file = match &mut self.file {
                Some(file) => file,
                None => self.file.insert(temp_file(self.temp_dir.as_deref())?),
            };
            file.seek(SeekFrom::End(0))?;
            file.write_all(&self.memory)?;
            self.in_file.0 += self.memory.len() as u64;
            self.in_file.1 = self.count;
            self.memory.clear();
        }
        Ok(())
    }

    /// Message `index` (messages are read in order, from 0), or `None` past the last.
    fn read(&mut self, index: usize) -> std::io::Result<Option<pb::EvaluateRequest>> {
        if index >= self.count {
            return Ok(None);
        }
        if index == 0 {
            self.cursor = (0, 0);
        }
        let (in_file_bytes, in_file_count) = self.in_file;
        let bytes = if index < in_file_count {
            let file = self
                .file
                .as_mut()
                .expect("messages before in_file are in the file");
            file.seek(SeekFrom::Start(self.cursor.1))?;
            let mut reader = BufReader::new(&*file);
            let length = read_varint(&mut reader)?;
            let mut bytes = vec![0; usize::try_from(length).map_err(std::io::Error::other)?];
            reader.read_exact(&mut bytes)?;
            self.cursor.1 += varint_len(length) + length;
            bytes
        } else {
            let start = usize::try_from(self.cursor.1 - in_file_bytes.min(self.cursor.1))
                .map_err(std::io::Error::other)?;
            let mut rest = &self.memory[start..];
            let length =
                prost::encoding::decode_varint(&mut rest).map_err(std::io::Error::other)?;
            let length = usize::try_from(length).map_err(std::io::Error::other)?;
            let bytes = rest[..length].to_vec();
            self.cursor.1 += varint_len(length as u64) + length as u64;
            bytes
        };
        self.cursor.0 = index + 1;
        pb::EvaluateRequest::decode(bytes.as_slice())
            .map(Some)
            .map_err(std::io::Error::other)
    }
}

fn read_varint(reader: &mut impl Read) -> std::io::Result<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let mut byte = [0];
        reader.read_exact(&mut byte)?;
        value |= u64::from(byte[0] & 0x7f) << shift;
        if byte[0] & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(std::io::Error::other("a varint runs past 64 bits"))
}

fn varint_len(value: u64) -> u64 {
    prost::encoding::encoded_len_varint(value) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(rows: usize) -> pb::EvaluateRequest {
        pb::EvaluateRequest {
            item: Some(Item::Columns(pb::BucketColumns {
                duration_seconds: 60,
                total: vec![7; rows],
                failed: vec![1; rows],
                start_base_unix_seconds: 1_772_294_400,
                start_delta_seconds: vec![60; rows],
                ..pb::BucketColumns::default()
            })),
        }
    }

    #[test]
    fn a_replay_gives_back_every_message_from_memory_and_file() {
        let mut replay = Replay::new(None);
        let sent: Vec<pb::EvaluateRequest> = (0..400).map(|i| columns(1 + i * 37)).collect();
        for message in &sent {
            replay.push(message).unwrap();
        }
        assert!(replay.file.is_some() && !replay.memory.is_empty());
        for _ in 0..2 {
            let mut read = Vec::new();
            while let Some(message) = replay.read(read.len()).unwrap() {
                read.push(message);
            }
            assert_eq!(read, sent);
        }
    }
}
