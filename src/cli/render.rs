//! `sla-evaluator render`: the claim report of a response saved as JSON, so a report can be
//! drawn again later, or from a response another client received, without evaluating anything.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::fail;
use crate::api::pb;
use crate::catalogue;
use crate::input::protojson;
use crate::policy::PolicySet;
use crate::render;

/// `render`'s flags.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// A saved response: an sla.v1.EvaluateResponse in protobuf's JSON mapping (what
    /// `evaluate --format json` and grpcurl print), or `-` for standard input. A multi-subscription
    /// document (an array of {"subscription", "evaluation"}) needs --subscription.
    #[arg(value_name = "RESPONSE")]
    pub response: PathBuf,
    /// The subscription to draw, from a multi-subscription document; also shown in the header.
    #[arg(long, value_name = "NAME")]
    pub subscription: Option<String>,
    /// Extra policy files (*.toml), to find the response's policy when it is not built in.
    #[arg(long, env = "SLA_POLICY_DIR", value_name = "DIR")]
    pub policy_dir: Option<PathBuf>,
}

/// Runs `render`.
pub async fn run(args: RenderArgs) -> ExitCode {
    let policies = match catalogue::policies(args.policy_dir.as_deref()) {
        Ok(policies) => policies,
        Err(error) => return fail(&error),
    };
    match read(&args.response, args.subscription.as_deref()) {
        Ok((response, subscription)) => {
            print!("{}", page(&response, &policies, subscription.as_deref()));
            ExitCode::SUCCESS
        }
        Err(message) => fail(&format!("{}: {message}", args.response.display())),
    }
}

/// The claim report of `response`. The header names the policy's source document only when the
/// policy at hand is a version the response was evaluated under (the same revision, that of its
/// first month): a policy edited since must not be shown as the one a claim was judged by.
pub(crate) fn page(
    response: &pb::EvaluateResponse,
    policies: &PolicySet,
    subscription: Option<&str>,
) -> String {
    let first_month = response
        .months
        .first()
        .map(|month| month.policy_revision.as_str())
        .filter(|revision| !revision.is_empty());
    let revision = first_month.or_else(|| {
        let provenance = response.provenance.as_ref()?;
        provenance.policy_revision.split(',').next()
    });
    let policy = policies.versions(&response.policy_id).and_then(|versions| {
        versions
            .iter()
            .find(|policy| Some(policy.revision.as_str()) == revision)
    });
    render::html(response, policy.map(AsRef::as_ref), subscription)
}

/// The response in `path` (and the subscription it is for).
fn read(
    path: &Path,
    wanted: Option<&str>,
) -> Result<(pb::EvaluateResponse, Option<String>), String> {
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    }
    .map_err(|error| error.to_string())?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|error| format!("not JSON: {error}"))?;
    let (value, subscription) = match value {
        serde_json::Value::Array(entries) => pick(entries, wanted)?,
        single => (single, wanted.map(str::to_string)),
    };
    let response = protojson::from_value(value, "EvaluateResponse")?;
    Ok((response, subscription))
}

/// One subscription's evaluation from a multi-subscription document.
fn pick(
    entries: Vec<serde_json::Value>,
    wanted: Option<&str>,
) -> Result<(serde_json::Value, Option<String>), String> {
    let count = entries.len();
    let mut names = Vec::with_capacity(count);
    for mut entry in entries {
        let name = entry
            .get("subscription")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
            .ok_or("an array entry has no \"subscription\" name")?;
        if wanted.is_none_or(|wanted| wanted == name) && (wanted.is_some() || count == 1) {
            let evaluation = entry
                .get_mut("evaluation")
                .map(serde_json::Value::take)
                .ok_or_else(|| format!("subscription {name:?} has no \"evaluation\""))?;
            return Ok((evaluation, Some(name)));
        }
        names.push(name);
    }
    Err(match wanted {
        Some(wanted) => format!(
            "no subscription {wanted:?} in it (it has {})",
            names.join(", ")
        ),
        None => format!(
            "it holds {count} subscriptions' evaluations; choose one with --subscription ({})",
            names.join(", ")
        ),
    })
}
