//! `sla-evaluator policies list | show ID`: the loaded policies, as ListPolicies and GetPolicy
//! answer them.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::fail;
use super::output::{self, Format, Table, short};
use super::target::{Target, TargetArgs};
use crate::api::pb;

/// `policies`' flags.
#[derive(Debug, Args)]
#[command(
    mut_arg("policy_dir", |arg| arg.conflicts_with("target")),
    mut_arg("calendar_dir", |arg| arg.conflicts_with("target"))
)]
pub struct PoliciesArgs {
    /// What to show.
    #[command(subcommand)]
    pub command: PoliciesCommand,
    /// Where to ask.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Output format: table on a terminal, json otherwise.
    #[arg(long, value_enum, global = true)]
    pub format: Option<Format>,
}

/// `policies`' subcommands.
#[derive(Debug, Subcommand)]
pub enum PoliciesCommand {
    /// Every loaded policy: built-in ones first, then the policy directory's.
    List,
    /// One policy with its tiers and clauses.
    Show {
        /// The policy's id, e.g. tencent-trtc.
        id: String,
    },
}

/// Runs `policies`.
pub async fn run(args: PoliciesArgs) -> ExitCode {
    let mut service = match Target::new(&args.target).await {
        Ok(service) => service,
        Err(message) => return fail(&message),
    };
    let format = Format::chosen_for_messages(args.format);
    let printed = match &args.command {
        PoliciesCommand::List => service.list_policies().await.map(|list| {
            output::message(format, &list, "ListPoliciesResponse", || {
                list_table(&list.policies)
            })
        }),
        PoliciesCommand::Show { id } => service
            .get_policy(id)
            .await
            .map(|policy| output::message(format, &policy, "Policy", || policy_table(&policy))),
    };
    match printed {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(message) => fail(&message),
    }
}

/// A policy's method in a few words.
pub(super) fn method(policy: &pb::Policy) -> String {
    match policy.method.as_ref().and_then(|m| m.kind.as_ref()) {
        Some(pb::method::Kind::Timeslices(t)) => {
            let rule = short(t.bad_slice().as_str_name(), "BAD_SLICE_RULE_").to_lowercase();
            let bound = if t.success_rate_below_percent.is_empty() {
                String::new()
            } else {
                format!(" {}%", t.success_rate_below_percent)
            };
            format!("timeslices {} min, bad: {rule}{bound}", t.slice_minutes)
        }
        Some(pb::method::Kind::Occurrences(o)) => {
            format!("occurrences, min coverage {}%", o.min_coverage_percent)
        }
        None => String::new(),
    }
}

fn list_table(policies: &[pb::Policy]) -> Table {
    let mut table = Table::new(&[
        "id", "version", "name", "month", "method", "standard", "zone",
    ]);
    for policy in policies {
        table.push(vec![
            policy.id.clone(),
            policy.version.clone(),
            policy.name.clone(),
            short(policy.service_month().as_str_name(), "SERVICE_MONTH_KIND_").to_lowercase(),
            method(policy),
            standard(policy),
            policy.default_time_zone.clone(),
        ]);
    }
    table
}

/// One policy: its fields, its tiers and its clauses, as rows of (what, value).
fn policy_table(policy: &pb::Policy) -> Table {
    let mut table = Table::new(&["field", "value"]);
    let mut row = |field: &str, value: String| table.push(vec![field.to_string(), value]);
    row("id", policy.id.clone());
    row("name", policy.name.clone());
    row("method", method(policy));
    row("standard", standard(policy));
    row("zone", policy.default_time_zone.clone());
    row(
        "form",
        short(
            policy.compensation_form().as_str_name(),
            "COMPENSATION_FORM_",
        )
        .to_lowercase(),
    );
    if let Some(limits) = &policy.credit_limits {
        if !limits.min_amount.is_empty() {
            row(
                "credit minimum",
                format!(
                    "{} {}{}: a smaller credit is not paid",
                    if limits.min_amount_only_above {
                        "above"
                    } else {
                        "at least"
                    },
                    limits.min_amount,
                    if limits.min_amount_currency.is_empty() {
                        " (the evaluation's currency)".to_string()
                    } else {
                        format!(" {}", limits.min_amount_currency)
                    }
                ),
            );
        }
        row(
            "credit cap",
            format!("{}% of the eligible fee", limits.cap_percent),
        );
    }
    row("claim window", claim_window(policy.claim_window.as_ref()));
    row("revision", policy.revision.clone());
    row("version", policy.version.clone());
    row("effective from", effective_from(policy));
    for version in &policy.versions {
        row(
            &format!("version {}", version.version),
            format!("from {}, {}", effective_from(version), version.revision),
        );
    }
    for (index, tier) in policy.tiers.iter().enumerate() {
        let band = if !tier.at_most_percent.is_empty() {
            let open = if tier.above_percent == "0" { "[" } else { "(" };
            format!(
                "{open}{}%, {}%] → {}%",
                tier.above_percent, tier.at_most_percent, tier.fee_percent
            )
        } else {
            format!(
                "[{}%, {}%) → {}%",
                tier.at_least_percent, tier.below_percent, tier.fee_percent
            )
        };
        row(&format!("tier {}", index + 1), band);
    }
    for cause in &policy.causes {
        row(&format!("cause {}", cause.id), cause.title.clone());
    }
    for clause in &policy.clauses {
        let title = if clause.policy_cause.is_empty() {
            clause.title.clone()
        } else {
            format!("{} (cause {})", clause.title, clause.policy_cause)
        };
        row(&format!("clause {}", clause.id), title);
    }
    table
}

/// "99.9%", or "above 99.9%" when a month exactly at it misses it.
fn standard(policy: &pb::Policy) -> String {
    if policy.standard_met_only_above {
        format!("above {}%", policy.standard_percent)
    } else {
        format!("{}%", policy.standard_percent)
    }
}

/// The claim window in words.
fn claim_window(window: Option<&pb::ClaimWindowRule>) -> String {
    let Some(window) = window else {
        return "not stated".to_string();
    };
    let opens = if window.opens_after_period {
        "opens the day after the service month".to_string()
    } else {
        format!(
            "opens after business day {} of the next month",
            window.opens_after_business_day
        )
    };
    let closes = if window.closes_at_end_of_month > 0 {
        format!(
            "closes at the end of calendar month {} after it",
            window.closes_at_end_of_month
        )
    } else {
        format!(
            "closes {} days after the month's last day",
            window.closes_after_days
        )
    };
    format!("{opens}, {closes}")
}

fn effective_from(policy: &pb::Policy) -> String {
    if policy.effective_from.is_empty() {
        "(beginning)".to_string()
    } else {
        policy.effective_from.clone()
    }
}
