//! Where a subcommand's answers come from: the service's own handlers in this process, or a
//! server (`--target`), one code path for the answer either way. The flags that choose it, the
//! one connection to a server, and the unary calls.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tonic::Request;
use tonic::transport::{Channel, Endpoint};

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
    /// Answer on the server at HOST:PORT instead of in this process: the same output. A name
    /// with several addresses (a headless Service), or a comma-separated list, is several
    /// replicas, used round robin.
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

/// One server `--target` names: an address its name resolved to.
#[derive(Clone, Debug)]
pub(crate) struct Replica {
    /// `http://` and the address, as messages name it.
    pub(crate) url: String,
    /// A client of it; connects on first use, and again after the connection fails.
    pub(crate) client: SlaEvaluatorClient<Channel>,
}

/// The replicas `target` names: each comma-separated item (`HOST:PORT`, an `http://` URL, or
/// gRPC's `dns:///HOST:PORT`) resolved by the system resolver, every address one replica, as a
/// headless Service's name resolves to each pod. Not connected yet.
pub(crate) async fn replicas(target: &str) -> Result<Vec<Replica>, String> {
    let mut replicas: Vec<Replica> = Vec::new();
    for item in target
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        let authority = item
            .strip_prefix("http://")
            .or_else(|| item.strip_prefix("dns:///"))
            .unwrap_or(item)
            .trim_end_matches('/');
        if authority.contains("://") {
            return Err(format!(
                "--target {item} is not an address: give HOST:PORT, http://HOST:PORT or \
                 dns:///HOST:PORT"
            ));
        }
        let addresses = tokio::net::lookup_host(authority)
            .await
            .map_err(|error| format!("--target {item} does not resolve: {error}"))?;
        for address in addresses {
            let url = format!("http://{address}");
            if replicas.iter().any(|replica| replica.url == url) {
                continue;
            }
            let endpoint = endpoint(&url)
                .map_err(|error| format!("--target {item} is not an address: {error}"))?;
            let client = SlaEvaluatorClient::new(endpoint.connect_lazy())
                .max_decoding_message_size(MAX_RESPONSE_BYTES);
            replicas.push(Replica { url, client });
        }
    }
    if replicas.is_empty() {
        return Err(format!("--target {target} names no address"));
    }
    Ok(replicas)
}

/// How long a connection may take to open, and how long a silent peer is waited for: a replica
/// that stops answering (a frozen node, a cut network) fails its streams, which are then resent,
/// instead of holding the run.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// The endpoint of one replica.
fn endpoint(url: &str) -> Result<Endpoint, tonic::transport::Error> {
    Ok(Endpoint::from_shared(url.to_string())?
        .connect_timeout(CONNECT_TIMEOUT)
        .http2_keep_alive_interval(KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(KEEP_ALIVE_TIMEOUT)
        .keep_alive_while_idle(false))
}

/// Whether a replica answers: a connection is made, or why not.
pub(crate) async fn reachable(replica: &Replica) -> Result<(), String> {
    endpoint(&replica.url)
        .map_err(|error| error.to_string())?
        .connect()
        .await
        .map(drop)
        .map_err(|error| format!("cannot reach the server at {}: {error}", replica.url))
}

/// A client of the servers `target` names, checked to answer: one replica's, or over several,
/// tonic's balancing across those that answer.
pub(crate) async fn connect(target: &str) -> Result<SlaEvaluatorClient<Channel>, String> {
    let mut answering = Vec::new();
    let mut first_error = None;
    for replica in replicas(target).await? {
        match reachable(&replica).await {
            Ok(()) => answering.push(replica),
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    let channel = match answering.as_slice() {
        [] => return Err(first_error.unwrap_or_else(|| format!("cannot reach {target}"))),
        [one] => return Ok(one.client.clone()),
        several => Channel::balance_list(
            several
                .iter()
                .filter_map(|replica| endpoint(&replica.url).ok()),
        ),
    };
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
