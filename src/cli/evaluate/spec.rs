//! The evaluation's spec, an `sla.v1.EvaluationSpec`: from `--spec FILE` (JSON or TOML with the
//! proto's field names, the form grpcurl takes), then each flag given on top. Values are passed on
//! as text, to be checked where the server checks them, so the command line and the server refuse
//! the same specs with the same words.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use clap::Args;

use crate::api::pb;
use crate::input::protojson;

/// The flags that make up a spec.
#[derive(Debug, Clone, Default, Args)]
pub struct SpecArgs {
    /// The spec as a file: JSON or TOML (by extension) with `sla.v1.EvaluationSpec`'s field
    /// names, e.g. `policy_id = "tencent-trtc"`. The flags below override its fields.
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,
    /// The policy to evaluate under, e.g. tencent-trtc (`sla-evaluator policies list`).
    #[arg(long, value_name = "ID")]
    pub policy: Option<String>,
    /// The term: FIRST..LAST (dates, inclusive), or one month as YYYY-MM.
    #[arg(long, value_name = "FIRST..LAST", value_parser = term)]
    pub term: Option<(String, String)>,
    /// IANA time zone months and slices are cut in; the policy's by default.
    #[arg(long, value_name = "ZONE")]
    pub zone: Option<String>,
    /// A loaded business calendar by name (e.g. cn-mainland); the policy's by default.
    #[arg(long = "calendar", value_name = "NAME")]
    pub calendar_name: Option<String>,
    /// ISO 4217 currency of the fees, e.g. CNY.
    #[arg(long, value_name = "CODE")]
    pub currency: Option<String>,
    /// A month's fee: MONTH=PAID[:DEDUCTIONS], MONTH being the month's first day (or YYYY-MM for
    /// the 1st). Repeat for each month.
    #[arg(long = "fee", value_name = "MONTH=PAID[:DEDUCTIONS]", value_parser = fee)]
    pub fees: Vec<pb::MonthlyFee>,
    /// List price of one message (message-credit policies, with fees).
    #[arg(long, value_name = "DECIMAL")]
    pub message_unit_price: Option<String>,
    /// The instant to evaluate as of (RFC 3339); now by default, fixed once for the whole run.
    #[arg(long, value_name = "INSTANT", value_parser = instant)]
    pub as_of: Option<DateTime<Utc>>,
    /// Intervals of each kind a month's evidence lists (100 by default).
    #[arg(long, value_name = "N")]
    pub max_intervals: Option<u32>,
}

/// A spec that could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum SpecProblem {
    /// The spec file cannot be read or parsed.
    #[error("{path}: {message}")]
    File {
        /// The `--spec` file, as given.
        path: String,
        /// Why it cannot be read, or what in it is not an `EvaluationSpec`.
        message: String,
    },
    /// A required field was given neither in the file nor as a flag.
    #[error("no {what}: give {flag}, or {field} in --spec")]
    Missing {
        /// What is missing.
        what: &'static str,
        /// The flag that gives it.
        flag: &'static str,
        /// The spec field that gives it.
        field: &'static str,
    },
}

impl SpecArgs {
    /// The spec: the file's, with each flag given on top; `as_of` set (to `now` unless given)
    /// so that every path evaluates as of the same instant.
    pub fn build(&self, now: DateTime<Utc>) -> Result<pb::EvaluationSpec, SpecProblem> {
        let mut spec = match &self.spec {
            Some(path) => read(path)?,
            None => pb::EvaluationSpec::default(),
        };
        let set = |field: &mut String, flag: &Option<String>| {
            if let Some(value) = flag {
                field.clone_from(value);
            }
        };
        set(&mut spec.policy_id, &self.policy);
        set(&mut spec.time_zone, &self.zone);
        set(&mut spec.calendar_name, &self.calendar_name);
        set(&mut spec.currency, &self.currency);
        set(&mut spec.message_unit_price, &self.message_unit_price);
        if let Some((first, last)) = &self.term {
            spec.term_start.clone_from(first);
            spec.term_end.clone_from(last);
        }
        if !self.fees.is_empty() {
            spec.fees.clone_from(&self.fees);
        }
        if let Some(max) = self.max_intervals {
            spec.max_intervals = Some(max);
        }
        let as_of = self.as_of.unwrap_or(now);
        if self.as_of.is_some() || spec.as_of.is_none() {
            spec.as_of = Some(prost_types::Timestamp {
                seconds: as_of.timestamp(),
                nanos: 0,
            });
        }
        let missing = |what, flag, field| SpecProblem::Missing { what, flag, field };
        if spec.policy_id.is_empty() {
            return Err(missing("policy", "--policy", "policy_id"));
        }
        if spec.term_start.is_empty() || spec.term_end.is_empty() {
            return Err(missing("term", "--term", "term_start and term_end"));
        }
        Ok(spec)
    }
}

/// Reads a spec file; a grpcurl message `{"spec": {...}}` is taken too.
fn read(path: &Path) -> Result<pb::EvaluationSpec, SpecProblem> {
    read_message(path, "EvaluationSpec", Some("spec")).map_err(|message| SpecProblem::File {
        path: path.display().to_string(),
        message,
    })
}

/// Reads an `sla.v1` message from a file: TOML when its name ends in `.toml`, JSON otherwise,
/// with the proto's field names. A document whose one key is `wrapper` is read inside it.
pub(crate) fn read_message<M: prost::Message + Default>(
    path: &Path,
    name: &str,
    wrapper: Option<&str>,
) -> Result<M, String> {
    let text = std::fs::read_to_string(path).map_err(|error| format!("cannot read it: {error}"))?;
    let is_toml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    let mut value: serde_json::Value = if is_toml {
        let table: toml::Table = toml::from_str(&text).map_err(|error| error.to_string())?;
        serde_json::to_value(table).map_err(|error| error.to_string())?
    } else {
        serde_json::from_str::<protojson::Strict>(&text)
            .map_err(|error| error.to_string())?
            .0
    };
    if let Some(wrapper) = wrapper
        && let Some(object) = value.as_object_mut()
        && object.len() == 1
        && let Some(inner) = object.remove(wrapper)
    {
        value = inner;
    }
    protojson::from_value(value, name)
}

/// `FIRST..LAST`, or `YYYY-MM` for one calendar month.
fn term(text: &str) -> Result<(String, String), String> {
    if let Some((first, last)) = text.split_once("..") {
        return Ok((first.trim().to_string(), last.trim().to_string()));
    }
    let first = NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d")
        .map_err(|_| format!("'{text}' is neither FIRST..LAST nor a month YYYY-MM"))?;
    let last = first
        .checked_add_months(chrono::Months::new(1))
        .and_then(|next| next.pred_opt())
        .ok_or_else(|| format!("'{text}' is too far in the future"))?;
    Ok((first.to_string(), last.to_string()))
}

/// `MONTH=PAID[:DEDUCTIONS]`.
fn fee(text: &str) -> Result<pb::MonthlyFee, String> {
    let (month, amounts) = text
        .split_once('=')
        .ok_or_else(|| format!("'{text}' is not MONTH=PAID[:DEDUCTIONS]"))?;
    let (paid, deductions) = amounts.split_once(':').unwrap_or((amounts, ""));
    let month = month.trim();
    let month_start = if month.len() == 7 {
        format!("{month}-01")
    } else {
        month.to_string()
    };
    Ok(pb::MonthlyFee {
        month_start,
        paid: paid.trim().to_string(),
        deductions: deductions.trim().to_string(),
    })
}

/// An RFC 3339 instant, on a whole second (what a Timestamp in the response shows).
fn instant(text: &str) -> Result<DateTime<Utc>, String> {
    let instant = DateTime::parse_from_rfc3339(text)
        .map_err(|_| format!("'{text}' is not an RFC 3339 instant, e.g. 2026-04-01T00:00:00Z"))?;
    if instant.timestamp_subsec_nanos() != 0 {
        return Err(format!("'{text}' is not on a whole second"));
    }
    Ok(instant.with_timezone(&Utc))
}

/// `now` as the instant a run is evaluated as of: whole seconds, so that it reads back the same.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
}

/// An instant as the response shows it.
pub fn shown(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_and_as_of_is_fixed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spec.toml");
        std::fs::write(
            &path,
            "policy_id = \"tencent-im\"\nterm_start = \"2026-03-01\"\nterm_end = \"2026-03-31\"\n\
             currency = \"CNY\"\n[[fees]]\nmonth_start = \"2026-03-01\"\npaid = \"10\"\n",
        )
        .unwrap();
        let args = SpecArgs {
            spec: Some(path),
            policy: Some("tencent-trtc".into()),
            ..SpecArgs::default()
        };
        let now = DateTime::from_timestamp(1_775_000_000, 0).unwrap();
        let spec = args.build(now).unwrap();
        assert_eq!(spec.policy_id, "tencent-trtc");
        assert_eq!(spec.fees[0].paid, "10");
        assert_eq!(spec.as_of.unwrap().seconds, 1_775_000_000);
        assert_eq!(
            term("2026-02").unwrap(),
            ("2026-02-01".into(), "2026-02-28".into())
        );
        assert_eq!(fee("2026-03=500.00:20").unwrap().month_start, "2026-03-01");
        assert!(matches!(
            SpecArgs::default().build(now),
            Err(SpecProblem::Missing {
                flag: "--policy",
                ..
            })
        ));
    }
}
