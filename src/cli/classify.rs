//! `sla-evaluator classify`: outages against a policy's exclusion clauses, without measurements.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::evaluate::spec::read_message;
use super::fail;
use super::output::{self, Format, Table, short};
use super::target::{Target, TargetArgs};
use crate::api::pb;
use crate::input::outages;

/// `classify`'s flags.
#[derive(Debug, Args)]
#[command(
    mut_arg("policy_dir", |arg| arg.conflicts_with("target")),
    mut_arg("calendar_dir", |arg| arg.conflicts_with("target"))
)]
pub struct ClassifyArgs {
    /// The outages: sla.v1.Outage objects in JSON, one per line (as `evaluate --outages` takes).
    #[arg(value_name = "OUTAGES")]
    pub outages: PathBuf,
    /// The policy whose clauses apply.
    #[arg(long, value_name = "ID")]
    pub policy: String,
    /// IANA zone business days are counted in; the policy's by default.
    #[arg(long, value_name = "ZONE")]
    pub zone: Option<String>,
    /// A business calendar sent whole (sla.v1.BusinessCalendar as JSON or TOML: name, holidays,
    /// make_up_working_days); it wins over --calendar-name.
    #[arg(long, value_name = "FILE")]
    pub calendar: Option<PathBuf>,
    /// A loaded business calendar by name (e.g. cn-mainland); the policy's by default.
    #[arg(long, value_name = "NAME")]
    pub calendar_name: Option<String>,
    /// Where to classify.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Output format: table on a terminal, json otherwise.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

/// Runs `classify`.
pub async fn run(args: ClassifyArgs) -> ExitCode {
    let entries = match outages::read(&args.outages) {
        Ok(entries) => entries,
        Err(error) => return fail(&error),
    };
    let calendar = match &args.calendar {
        Some(path) => match read_message::<pb::BusinessCalendar>(path, "BusinessCalendar", None) {
            Ok(calendar) => Some(calendar),
            Err(message) => return fail(&format!("{}: {message}", path.display())),
        },
        None => None,
    };
    let request = pb::ClassifyOutagesRequest {
        policy_id: args.policy.clone(),
        outages: entries.into_iter().map(|entry| entry.outage).collect(),
        calendar,
        time_zone: args.zone.clone().unwrap_or_default(),
        calendar_name: args.calendar_name.clone().unwrap_or_default(),
    };
    let mut service = match Target::new(&args.target).await {
        Ok(service) => service,
        Err(message) => return fail(&message),
    };
    match service.classify(request).await {
        Ok(response) => {
            let format = Format::chosen_for_messages(args.format);
            print!(
                "{}",
                output::message(format, &response, "ClassifyOutagesResponse", || table(
                    &response
                ))
            );
            ExitCode::SUCCESS
        }
        Err(message) => fail(&message),
    }
}

fn table(response: &pb::ClassifyOutagesResponse) -> Table {
    let mut table = Table::new(&[
        "outage",
        "verdict",
        "clause",
        "missing facts",
        "explanation",
    ]);
    for verdict in &response.verdicts {
        table.push(vec![
            verdict.outage_id.clone(),
            short(verdict.verdict().as_str_name(), "VERDICT_"),
            verdict.clause_id.clone(),
            verdict.missing_facts.join(" "),
            verdict.explanation.clone(),
        ]);
    }
    table
}
