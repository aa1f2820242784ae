//! What the subcommands print: canonical JSON (one schema with the server, whichever way it is
//! called), JSON Lines, CSV for spreadsheets and billing, or a table for a person at a terminal.

mod csv;
mod table;

use std::io::IsTerminal;

use clap::ValueEnum;
use serde::Serialize;

use crate::api::pb;
use crate::input::protojson::{self, Json};
use crate::policy::PolicySet;

pub use table::Table;

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A readable table (the default on a terminal).
    Table,
    /// The gRPC response in protobuf's canonical JSON mapping, indented (the default otherwise);
    /// many subscriptions give an array of `{"subscription", "evaluation"}`.
    Json,
    /// One JSON document per line, unindented.
    Jsonl,
    /// CSV, one row per item (per service month for evaluations).
    Csv,
    /// The HTML claim report of one evaluation (`evaluate` only): one self-contained page.
    Html,
}

impl Format {
    /// The format asked for, or the default: a table for a terminal, JSON for a pipe or file.
    pub fn chosen(asked: Option<Format>) -> Format {
        asked.unwrap_or(if std::io::stdout().is_terminal() {
            Format::Table
        } else {
            Format::Json
        })
    }

    /// The format for a command that prints plain messages (policies, verdicts), which have no
    /// claim report: `html` is a usage error there, said the way clap says its own.
    pub fn chosen_for_messages(asked: Option<Format>) -> Format {
        if asked == Some(Format::Html) {
            clap::Error::raw(
                clap::error::ErrorKind::InvalidValue,
                "--format html draws claim reports: it is for `evaluate` and `render`\n",
            )
            .exit()
        }
        Format::chosen(asked)
    }
}

/// A subscription's evaluation in a multi-subscription document.
#[derive(Serialize)]
struct Keyed<'a> {
    subscription: &'a str,
    evaluation: Json,
}

/// Evaluations as `format`: `key` is `None` for a run without subscriptions (one evaluation).
/// Refused only for a claim report of several evaluations, which is one page each.
pub fn evaluations(
    format: Format,
    results: &[(Option<String>, pb::EvaluateResponse)],
    policies: &PolicySet,
) -> Result<String, String> {
    let single = matches!(results, [(None, _)]);
    fn keyed<'a>(key: &'a Option<String>, response: &pb::EvaluateResponse) -> Keyed<'a> {
        Keyed {
            subscription: key.as_deref().unwrap_or_default(),
            evaluation: Json(protojson::dynamic(response, "EvaluateResponse")),
        }
    }
    Ok(match format {
        Format::Html => match results {
            [(key, response)] => super::render::page(response, policies, key.as_deref()),
            _ => {
                return Err(format!(
                    "--format html draws one evaluation's claim report, and this run gave {} \
                     (one per subscription): save them with --format json and draw each with \
                     `sla-evaluator render --subscription NAME`",
                    results.len()
                ));
            }
        },
        Format::Json if single => format!(
            "{}\n",
            protojson::to_json(&results[0].1, "EvaluateResponse", true)
        ),
        Format::Jsonl if single => format!(
            "{}\n",
            protojson::to_json(&results[0].1, "EvaluateResponse", false)
        ),
        Format::Json => {
            let all: Vec<Keyed<'_>> = results
                .iter()
                .map(|(key, response)| keyed(key, response))
                .collect();
            format!("{}\n", to_string(&all, true))
        }
        Format::Jsonl => results
            .iter()
            .map(|(key, response)| format!("{}\n", to_string(&keyed(key, response), false)))
            .collect(),
        Format::Csv => csv::evaluations(results),
        Format::Table => results
            .iter()
            .map(|(key, response)| table::evaluation(key.as_deref(), response))
            .collect::<Vec<_>>()
            .join("\n"),
    })
}

/// A message of `sla.v1` in any format: JSON as grpcurl shows it; CSV and tables by `rows`.
pub fn message<M: prost::Message>(
    format: Format,
    message: &M,
    name: &str,
    table: impl FnOnce() -> Table,
) -> String {
    match format {
        Format::Json => format!("{}\n", protojson::to_json(message, name, true)),
        Format::Jsonl => format!("{}\n", protojson::to_json(message, name, false)),
        Format::Csv => table().to_csv(),
        // Refused before the command runs (`chosen_for_messages`).
        Format::Table | Format::Html => table().to_string(),
    }
}

fn to_string(value: &impl Serialize, pretty: bool) -> String {
    let written = if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    };
    written.expect("canonical JSON of a message serializes")
}

/// An enum value's name without its type's prefix: `MONTH_STATUS_MET` → `MET`.
pub(crate) fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_string()
}
