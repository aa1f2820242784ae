//! Evaluations on a running server (`--target`): one Evaluate stream per subscription, fed the
//! messages the in-process path takes, so that the output is the same.

use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use super::feed::{Evaluator, Key, Refusal};
use crate::api::pb::evaluate_request::Item;
use crate::api::pb::sla_evaluator_client::SlaEvaluatorClient;
use crate::api::{At, pb};
use crate::cli::target::connect;

/// Messages queued per stream: enough to keep the connection busy, few enough to bound memory.
const QUEUED: usize = 8;

/// Streams one run opens at most: each subscription's stays open until the input ends, and a
/// server takes a bounded number per connection (256 by default) before new ones wait, which
/// would stall the upload of those already open.
const MAX_STREAMS: usize = 200;

/// A server evaluating for this process.
pub(super) struct Remote {
    /// The runtime the calls run on.
    pub(super) runtime: Handle,
    /// The connection.
    pub(super) client: SlaEvaluatorClient<Channel>,
    /// The server's address, for messages.
    pub(super) target: String,
    /// Streams opened so far.
    pub(super) opened: std::sync::atomic::AtomicUsize,
}

/// One Evaluate call in progress.
pub(super) struct Call {
    sender: Option<mpsc::Sender<pb::EvaluateRequest>>,
    call: Option<JoinHandle<Result<pb::EvaluateResponse, tonic::Status>>>,
}

impl Remote {
    /// Connects to `target` (`HOST:PORT` or an `http://` URL).
    pub(super) async fn connect(target: &str) -> Result<Self, String> {
        Ok(Remote {
            runtime: Handle::current(),
            client: connect(target).await?,
            target: target.to_string(),
            opened: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    fn refusal(&self, status: &tonic::Status) -> Refusal {
        Refusal {
            message: format!(
                "the server at {} answered {:?}: {}",
                self.target,
                status.code(),
                status.message()
            ),
            at: At::of_status(status),
        }
    }

    /// The call's outcome, once it has ended.
    fn outcome(&self, call: &mut Call) -> Result<pb::EvaluateResponse, Refusal> {
        call.sender = None;
        let Some(handle) = call.call.take() else {
            return Err(Refusal::whole("the call already ended"));
        };
        match self.runtime.block_on(handle) {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(status)) => Err(self.refusal(&status)),
            Err(error) => Err(Refusal::whole(format!("the call failed: {error}"))),
        }
    }
}

impl Evaluator for Remote {
    type Stream = Call;

    fn open(&self, spec: pb::EvaluationSpec) -> Result<Call, Refusal> {
        let opened = self
            .opened
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if opened >= MAX_STREAMS {
            return Err(Refusal::whole(format!(
                "--target evaluates at most {MAX_STREAMS} subscriptions in one run (one stream \
                 each, open until the input ends); split the input, or evaluate in process \
                 without --target"
            )));
        }
        let (sender, receiver) = mpsc::channel(QUEUED);
        let mut client = self.client.clone();
        let call = self.runtime.spawn(async move {
            client
                .evaluate(ReceiverStream::new(receiver))
                .await
                .map(tonic::Response::into_inner)
        });
        let mut call = Call {
            sender: Some(sender),
            call: Some(call),
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
        let sent = match &call.sender {
            Some(sender) => sender.blocking_send(message).is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        // The server ended the call before the upload did: its status says why.
        Err(match self.outcome(call) {
            Err(refusal) => refusal,
            Ok(_) => Refusal::whole("the server answered before the upload ended"),
        })
    }

    fn refuses_late(&self) -> bool {
        true
    }

    fn finish(&self, calls: Vec<(Key, Call)>) -> Vec<(Key, Result<pb::EvaluateResponse, Refusal>)> {
        let mut calls = calls;
        for (_, call) in &mut calls {
            call.sender = None; // closes the stream: the server answers
        }
        calls
            .into_iter()
            .map(|(key, mut call)| (key, self.outcome(&mut call)))
            .collect()
    }
}
