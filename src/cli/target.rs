//! The unary calls of `sla.v1.SlaEvaluator`, answered by the service's own handlers in this
//! process or by a server (`--target`): one code path for the answer either way.

use std::sync::Arc;

use clap::Args;
use tonic::Request;
use tonic::transport::Channel;

use crate::api::{SlaService, Uncounted};
use crate::api::pb;
use crate::api::pb::sla_evaluator_client::SlaEvaluatorClient;
use crate::api::pb::sla_evaluator_server::SlaEvaluator;
use crate::limits::{CallLimits, Limits};
use crate::memory::MemoryBudget;
use crate::policy::PolicyStore;

/// Where a unary call is answered: `--target`, or this process with its policy and calendar
/// directories.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// Ask the server at HOST:PORT instead of answering in this process: the same output.
    #[arg(long, value_name = "HOST:PORT", global = true)]
    pub target: Option<String>,
    /// Extra policy files (*.toml) next to the built-in ones, as the server's --policy-dir.
    #[arg(
        long,
        env = "SLA_POLICY_DIR",
        value_name = "DIR",
        conflicts_with = "target",
        global = true
    )]
    pub policy_dir: Option<std::path::PathBuf>,
    /// Extra business calendars (*.toml) next to the built-in ones, as the server's
    /// --calendar-dir.
    #[arg(
        long,
        env = "SLA_CALENDAR_DIR",
        value_name = "DIR",
        conflicts_with = "target",
        global = true
    )]
    pub calendar_dir: Option<std::path::PathBuf>,
}

/// The service a subcommand calls.
pub(crate) enum Target {
    /// The handlers, in process.
    InProcess(SlaService),
    /// A server, and its address for messages.
    Server(SlaEvaluatorClient<Channel>, String),
}

impl Target {
    /// The service `place` names; a message on failure.
    pub(crate) async fn new(place: &TargetArgs) -> Result<Target, String> {
        match &place.target {
            None => {
                let policies = super::load_policies(place.policy_dir.as_deref())
                    .map_err(|_| "cannot load the policies".to_string())?;
                let calendars = super::load_calendars(place.calendar_dir.as_deref(), &policies)
                    .map_err(|_| "cannot load the calendars".to_string())?;
                Ok(Target::InProcess(SlaService::new(
                    Arc::new(PolicyStore::new(Arc::new(policies))),
                    Arc::new(calendars),
                    Limits::default(),
                    CallLimits::default(),
                    MemoryBudget::unlimited(),
                    Arc::new(Uncounted),
                )))
            }
            Some(target) => {
                let url = if target.contains("://") {
                    target.clone()
                } else {
                    format!("http://{target}")
                };
                let channel = Channel::from_shared(url.clone())
                    .map_err(|error| format!("--target {target} is not an address: {error}"))?
                    .connect()
                    .await
                    .map_err(|error| format!("cannot reach the server at {url}: {error}"))?;
                Ok(Target::Server(
                    SlaEvaluatorClient::new(channel),
                    target.clone(),
                ))
            }
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
