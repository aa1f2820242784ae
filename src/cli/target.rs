//! Where a subcommand's answers come from: the service's own handlers in this process, or a
//! server (`--target`), one code path for the answer either way. The flags that choose it, the
//! one connection to a server, and the unary calls.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use tonic::Request;
use tonic::transport::Channel;

use crate::api::pb;
use crate::api::pb::sla_evaluator_client::SlaEvaluatorClient;
use crate::api::pb::sla_evaluator_server::SlaEvaluator;
use crate::api::{SlaService, Uncounted};
use crate::catalogue::{Catalogue, CatalogueError};
use crate::limits::{CallLimits, Limits};
use crate::memory::MemoryBudget;
use crate::policy::PolicyStore;

/// Where a subcommand's answers come from: a server (`--target`), or this process with the
/// built-in policies and calendars plus the directories'. `evaluate`, `classify` and `policies`
/// share these flags. `classify` and `policies` take every answer from where they ask, so they
/// refuse a directory beside `--target` (the server reads its own); `evaluate` takes both, since
/// it also reads the policies itself (a Prometheus query's zone, a claim report's header).
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// Answer on the server at HOST:PORT instead of in this process: the same output.
    #[arg(
        long = "target",
        id = "target",
        value_name = "HOST:PORT",
        global = true
    )]
    pub server: Option<String>,
    /// Extra policy files (*.toml) next to the built-in ones, as the server's --policy-dir.
    #[arg(long, env = "SLA_POLICY_DIR", value_name = "DIR", global = true)]
    pub policy_dir: Option<PathBuf>,
    /// Extra business calendars (*.toml) next to the built-in ones, as the server's
    /// --calendar-dir.
    #[arg(long, env = "SLA_CALENDAR_DIR", value_name = "DIR", global = true)]
    pub calendar_dir: Option<PathBuf>,
}

impl TargetArgs {
    /// The policies and calendars of this process.
    pub(crate) fn catalogue(&self) -> Result<Catalogue, CatalogueError> {
        Catalogue::load(self.policy_dir.as_deref(), self.calendar_dir.as_deref())
    }
}

/// The largest response accepted: a long term's evidence can pass gRPC's default of 4 MiB.
const MAX_RESPONSE_BYTES: usize = 256 << 20;

/// A client of the server at `target` (`HOST:PORT` or an `http://` URL), connected.
pub(crate) async fn connect(target: &str) -> Result<SlaEvaluatorClient<Channel>, String> {
    let url = if target.contains("://") {
        target.to_string()
    } else {
        format!("http://{target}")
    };
    let channel = Channel::from_shared(url.clone())
        .map_err(|error| format!("--target {target} is not an address: {error}"))?
        .connect()
        .await
        .map_err(|error| format!("cannot reach the server at {url}: {error}"))?;
    Ok(SlaEvaluatorClient::new(channel).max_decoding_message_size(MAX_RESPONSE_BYTES))
}

/// The service a subcommand calls.
pub(crate) enum Target {
    /// The handlers, in process.
    InProcess(SlaService),
    /// A server, and its address for messages.
    Server(SlaEvaluatorClient<Channel>, String),
}

impl Target {
    /// The service `args` name; why not, on failure.
    pub(crate) async fn new(args: &TargetArgs) -> Result<Target, String> {
        match &args.server {
            None => {
                let Catalogue {
                    policies,
                    calendars,
                } = args.catalogue().map_err(|error| error.to_string())?;
                Ok(Target::InProcess(SlaService::new(
                    Arc::new(PolicyStore::new(policies)),
                    calendars,
                    Limits::default(),
                    CallLimits::default(),
                    MemoryBudget::unlimited(),
                    Arc::new(Uncounted),
                )))
            }
            Some(target) => Ok(Target::Server(connect(target).await?, target.clone())),
        }
    }

    fn refused(&self, status: tonic::Status) -> String {
        match self {
            Target::InProcess(_) => status.message().to_string(),
            Target::Server(_, target) => {
                format!(
                    "the server at {target} answered {:?}: {}",
                    status.code(),
                    status.message()
                )
            }
        }
    }

    /// ListPolicies.
    pub(crate) async fn list_policies(&mut self) -> Result<pb::ListPoliciesResponse, String> {
        let request = Request::new(pb::ListPoliciesRequest {});
        let answer = match self {
            Target::InProcess(service) => service.list_policies(request).await,
            Target::Server(client, _) => client.list_policies(request).await,
        };
        answer
            .map(tonic::Response::into_inner)
            .map_err(|status| self.refused(status))
    }

    /// GetPolicy.
    pub(crate) async fn get_policy(&mut self, id: &str) -> Result<pb::Policy, String> {
        let request = Request::new(pb::GetPolicyRequest {
            policy_id: id.to_string(),
        });
        let answer = match self {
            Target::InProcess(service) => service.get_policy(request).await,
            Target::Server(client, _) => client.get_policy(request).await,
        };
        answer
            .map(tonic::Response::into_inner)
            .map_err(|status| self.refused(status))
    }

    /// ClassifyOutages.
    pub(crate) async fn classify(
        &mut self,
        request: pb::ClassifyOutagesRequest,
    ) -> Result<pb::ClassifyOutagesResponse, String> {
        let request = Request::new(request);
        let answer = match self {
            Target::InProcess(service) => service.classify_outages(request).await,
            Target::Server(client, _) => client.classify_outages(request).await,
        };
        answer
            .map(tonic::Response::into_inner)
            .map_err(|status| self.refused(status))
    }
}
