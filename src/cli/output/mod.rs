//! What the subcommands print: canonical JSON (one schema with the server, whichever way it is
//! called), JSON Lines, CSV for spreadsheets and billing, or a table for a person at a terminal.

mod csv;
mod summary;
mod table;

use std::io::IsTerminal;

use clap::ValueEnum;
use serde::Serialize;

use crate::api::pb;
use crate::input::protojson::{self, Json};
use crate::policy::PolicySet;

pub use summary::Summary;
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

/// One subscription's evaluation (`None` for a run without subscriptions), or why it could not be
/// read back.
pub type Evaluated = Result<(Option<String>, pb::EvaluateResponse), String>;

/// Writes `count` evaluations, drawn one at a time from `next` in the order printed, as
/// `format` to `out`: the bytes [`evaluations`] gives for them all, without holding them all.
pub fn write_evaluations(
    format: Format,
    count: usize,
    next: &mut dyn FnMut() -> Option<Evaluated>,
    policies: &PolicySet,
    out: &mut dyn std::io::Write,
) -> Result<(), String> {
    let io = |error: std::io::Error| format!("cannot write the output: {error}");
    if format == Format::Html && count != 1 {
        return Err(claim_reports(count));
    }
    let mut next = || next().transpose();
    let first = next()?;
    let single = count == 1 && matches!(first, Some((None, _)));
    if single || format == Format::Html {
        let all: Vec<_> = first.into_iter().collect();
        return out
            .write_all(evaluations(format, &all, policies)?.as_bytes())
            .map_err(io);
    }
    let mut answer = first;
    let mut index = 0;
    if format == Format::Json {
        out.write_all(if count == 0 { b"[]" } else { b"[\n" })
            .map_err(io)?;
    }
    while let Some((key, response)) = answer {
        let text = match format {
            Format::Json => {
                // An element of the pretty array: its own pretty form, indented one level.
                let element = to_string(&keyed(&key, &response), true);
                let mut indented = String::with_capacity(element.len() + 64);
                for (i, line) in element.lines().enumerate() {
                    if i > 0 {
                        indented.push('\n');
                    }
                    indented.push_str("  ");
                    indented.push_str(line);
                }
                if index + 1 < count {
                    indented.push(',');
                }
                indented.push('\n');
                indented
            }
            Format::Jsonl => format!("{}\n", to_string(&keyed(&key, &response), false)),
            Format::Csv => {
                let text = csv::evaluations(&[(key, response)]);
                if index == 0 {
                    text
                } else {
                    // The header once.
                    text.split_once('\n')
                        .map_or(String::new(), |(_, rows)| rows.to_string())
                }
            }
            Format::Table => {
                let text = table::evaluation(key.as_deref(), &response);
                if index == 0 {
                    text
                } else {
                    format!("\n{text}")
                }
            }
            Format::Html => unreachable!("drawn above"),
        };
        out.write_all(text.as_bytes()).map_err(io)?;
        index += 1;
        answer = next()?;
    }
    if format == Format::Json && count > 0 {
        out.write_all(b"]\n").map_err(io)?;
    } else if format == Format::Json {
        out.write_all(b"\n").map_err(io)?;
    }
    Ok(())
}

/// The refusal of a claim report of `count` evaluations.
fn claim_reports(count: usize) -> String {
    format!(
        "--format html draws one evaluation's claim report, and this run gave {count} (one per \
         subscription): save them with --format json and draw each with `sla-evaluator render \
         --subscription NAME`"
    )
}

fn keyed<'a>(key: &'a Option<String>, response: &pb::EvaluateResponse) -> Keyed<'a> {
    Keyed {
        subscription: key.as_deref().unwrap_or_default(),
        evaluation: Json(protojson::dynamic(response, "EvaluateResponse")),
    }
}

/// Evaluations as `format`: `key` is `None` for a run without subscriptions (one evaluation).
/// Refused only for a claim report of several evaluations, which is one page each.
pub fn evaluations(
    format: Format,
    results: &[(Option<String>, pb::EvaluateResponse)],
    policies: &PolicySet,
) -> Result<String, String> {
    let single = matches!(results, [(None, _)]);
    Ok(match format {
        Format::Html => match results {
            [(key, response)] => super::render::page(response, policies, key.as_deref()),
            _ => return Err(claim_reports(results.len())),
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
