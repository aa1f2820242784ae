//! What the subcommands print: canonical JSON (one schema with the server, whichever way it is
//! called), JSON Lines, CSV for spreadsheets and billing, or a table for a person at a terminal.

mod csv;
mod table;

use std::io::IsTerminal;

use clap::ValueEnum;
use serde::Serialize;

use crate::api::pb;
use crate::input::protojson::{self, Json};

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
    // An `html` report is to come (src/render); it will take its place here.
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
}

/// A subscription's evaluation in a multi-subscription document.
#[derive(Serialize)]
struct Keyed<'a> {
    subscription: &'a str,
    evaluation: Json,
}

/// Evaluations as `format`: `key` is `None` for a run without subscriptions (one evaluation).
pub fn evaluations(format: Format, results: &[(Option<String>, pb::EvaluateResponse)]) -> String {
    let single = matches!(results, [(None, _)]);
    fn keyed<'a>(key: &'a Option<String>, response: &pb::EvaluateResponse) -> Keyed<'a> {
        Keyed {
            subscription: key.as_deref().unwrap_or_default(),
            evaluation: Json(protojson::dynamic(response, "EvaluateResponse")),
        }
    }
    match format {
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
    }
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
        Format::Table => table().to_string(),
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
