//! Buckets from Prometheus: a query for the attempts and one for the failures of each step, read
//! with `query_range` over the term.
//!
//! A sample at evaluation time `t` of `increase(x[1m])` counts `(t - 1m, t]`, so the step ending at
//! `t` becomes the bucket `[t - step, t)`; steps are laid on the zone's local minutes from the
//! term's first local midnight, which is what the engine's months and slices are cut on.
//! Requests stay under Prometheus's limit of 11,000 points per series ([`STEPS_PER_REQUEST`])
//! and several run at once; each has a time limit.
//!
//! What Prometheus gives is reported, never smoothed over: a step without a value (or with NaN) is
//! a data gap, never a zero; a non-integer value, which `increase()` produces by extrapolating to
//! the window's edges, is rounded to the nearest whole count (halves away from zero) and counted
//! in the [`Report`] with the largest change; failures above attempts after rounding (both
//! extrapolated separately) are capped at the attempts and counted too.

use std::collections::HashMap;
use std::time::Duration;

use chrono::DateTime;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Deserialize;

use super::chunk::{Chunker, Row};
use super::ordered::{self, Flow};
use super::{Block, InputError, Origin, Place};

/// Steps per request: under the 11,000 points per series Prometheus answers at most.
pub const STEPS_PER_REQUEST: i64 = 10_000;

/// Requests in flight at once: enough to hide round trips, few enough not to load the server.
const CONCURRENT_REQUESTS: usize = 4;

/// What to ask which server.
#[derive(Clone, Debug)]
pub struct Source {
    /// The server's base URL, e.g. `http://localhost:9090`.
    pub url: String,
    /// PromQL giving each step's attempts as one series.
    pub total: String,
    /// PromQL giving each step's failures as one series.
    pub failed: String,
    /// Step length in seconds (a whole number of minutes).
    pub step_seconds: i64,
    /// Longest a request may take.
    pub timeout: Duration,
}

/// How Prometheus's values were made into counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Steps asked for.
    pub steps: u64,
    /// Steps that became buckets.
    pub buckets: u64,
    /// Values that were not whole numbers and were rounded.
    pub rounded: u64,
    /// The largest change rounding made.
    pub largest_change: Decimal,
    /// Steps whose failures exceeded their attempts after rounding, capped at the attempts.
    pub capped: u64,
    /// Steps with attempts but without a failures value: left as gaps.
    pub failed_missing: u64,
    /// Values that were NaN: left as gaps.
    pub not_a_number: u64,
    /// Warnings Prometheus sent.
    pub warnings: Vec<String>,
}

/// One request's answer, both queries.
struct Answer {
    /// Step end → value, per query.
    total: HashMap<i64, String>,
    failed: HashMap<i64, String>,
    warnings: Vec<String>,
}

impl Source {
    /// Reads the buckets whose starts lie in `[from, to)` (both on steps from `from`) and hands
    /// them to `apply` as blocks in time order.
    pub fn read(
        &self,
        from: i64,
        to: i64,
        mut apply: impl FnMut(Block) -> Flow + Send,
    ) -> Result<Report, InputError> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(self.timeout))
            .timeout_connect(Some(self.timeout.min(Duration::from_secs(10))))
            .http_status_as_error(false)
            .build()
            .into();
        let span = STEPS_PER_REQUEST * self.step_seconds;
        let ranges = (0..)
            .map(|i| from + i * span)
            .take_while(|&start| start < to)
            .map(|start| (start, (start + span).min(to)));
        let mut report = Report::default();
        let mut failure = None;
        // One chunker across requests: a request's steps end where Prometheus's limit says, not
        // where a message should, so chunks fill up as a file's would.
        let mut chunker = Chunker::default();
        let origin = Origin::Steps {
            first: from,
            step: self.step_seconds,
        };
        let work = |(start, end): (i64, i64)| (start, end, self.fetch(&agent, start, end));
        ordered::run(ranges, CONCURRENT_REQUESTS, work, |(start, end, answer)| {
            let rows = answer
                .and_then(|answer| self.rows(from, start, end, answer, &mut report, &mut chunker));
            match rows {
                Ok(steps) => apply(Block {
                    chunks: chunker.take_completed(),
                    origin,
                    error: None,
                    progress: steps,
                }),
                Err(error) => {
                    failure = Some(error);
                    Flow::Stop
                }
            }
        });
        if let Some(failure) = failure {
            return Err(failure);
        }
        apply(Block {
            chunks: chunker.finish(),
            origin,
            error: None,
            progress: 0,
        });
        Ok(report)
    }

    /// Both queries over the buckets starting in `[start, end)`.
    fn fetch(&self, agent: &ureq::Agent, start: i64, end: i64) -> Result<Answer, InputError> {
        let (total, mut warnings) = self.query(agent, "--total", &self.total, start, end)?;
        let (failed, more) = self.query(agent, "--failed", &self.failed, start, end)?;
        warnings.extend(more);
        Ok(Answer {
            total,
            failed,
            warnings,
        })
    }

    fn query(
        &self,
        agent: &ureq::Agent,
        flag: &str,
        query: &str,
        start: i64,
        end: i64,
    ) -> Result<(HashMap<i64, String>, Vec<String>), InputError> {
        let url = format!("{}/api/v1/query_range", self.url.trim_end_matches('/'));
        let refused = |message: String| InputError {
            source_name: self.url.clone(),
            place: Place::Whole,
            column: None,
            message: format!("the {flag} query: {message}"),
        };
        // The sample at the end of a step counts the step.
        let (first, last) = (start + self.step_seconds, end);
        let response = agent.post(&url).send_form([
            ("query", query),
            ("start", &first.to_string()),
            ("end", &last.to_string()),
            ("step", &self.step_seconds.to_string()),
        ]);
        let mut response = response.map_err(|error| refused(unreachable(&url, &error)))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|error| refused(format!("cannot read the answer of {url}: {error}")))?;
        let answer: ApiAnswer = serde_json::from_str(&body).map_err(|_| {
            let body: String = body.chars().take(200).collect();
            refused(format!(
                "{url} answered HTTP {status} with something other than Prometheus's JSON: {body}"
            ))
        })?;
        if answer.status != "success" {
            return Err(refused(format!(
                "Prometheus refused the query (HTTP {status}, {}): {}",
                answer.error_type.unwrap_or_default(),
                answer.error.unwrap_or_default()
            )));
        }
        let data = answer
            .data
            .ok_or_else(|| refused("Prometheus's answer has no data".into()))?;
        if data.result_type != "matrix" {
            return Err(refused(format!(
                "it gives a {}, not a series over time",
                data.result_type
            )));
        }
        if data.result.len() > 1 {
            let labels: Vec<String> = data
                .result
                .iter()
                .take(3)
                .map(|s| format!("{:?}", s.metric))
                .collect();
            return Err(refused(format!(
                "it gives {} series ({}...); it must give one: aggregate it, e.g. sum(...)",
                data.result.len(),
                labels.join(", ")
            )));
        }
        let mut values = HashMap::new();
        for series in data.result {
            for (time, value) in series.values {
                // Step ends are whole seconds: the query's start is, and so is its step.
                values.insert(time.round() as i64, value);
            }
        }
        Ok((values, answer.warnings.unwrap_or_default()))
    }

    /// Adds the buckets of one answer to `chunker`, in step order, placed by their step's index
    /// from `from`; returns the steps covered.
    fn rows(
        &self,
        from: i64,
        start: i64,
        end: i64,
        answer: Answer,
        report: &mut Report,
        chunker: &mut Chunker,
    ) -> Result<u64, InputError> {
        report.warnings.extend(answer.warnings);
        let mut bucket = start;
        let mut steps = 0;
        while bucket < end {
            steps += 1;
            let at = bucket + self.step_seconds;
            let total = answer
                .total
                .get(&at)
                .map(|v| self.count("--total", bucket, v, report))
                .transpose()?;
            let failed = answer
                .failed
                .get(&at)
                .map(|v| self.count("--failed", bucket, v, report))
                .transpose()?;
            match (total, failed) {
                (Some(Some(total)), Some(Some(failed))) => {
                    if failed > total {
                        report.capped += 1;
                    }
                    let row = Row {
                        subscription: None,
                        start: bucket,
                        duration_seconds: u32::try_from(self.step_seconds).unwrap_or(60),
                        total,
                        failed: failed.min(total),
                    };
                    let index =
                        u32::try_from((bucket - from) / self.step_seconds).unwrap_or(u32::MAX);
                    chunker.push(row, index);
                    report.buckets += 1;
                }
                (Some(Some(_)), None) => report.failed_missing += 1,
                _ => {}
            }
            bucket += self.step_seconds;
        }
        report.steps += steps;
        Ok(steps)
    }

    /// A value as a whole count; `None` for NaN (a gap).
    fn count(
        &self,
        flag: &str,
        bucket: i64,
        value: &str,
        report: &mut Report,
    ) -> Result<Option<u64>, InputError> {
        let refused = |message: String| InputError {
            source_name: self.url.clone(),
            place: DateTime::from_timestamp(bucket, 0).map_or(Place::Whole, Place::Step),
            column: None,
            message: format!("the {flag} query: {message}"),
        };
        if value == "NaN" {
            report.not_a_number += 1;
            return Ok(None);
        }
        let exact = value
            .parse::<Decimal>()
            .or_else(|_| Decimal::from_scientific(value))
            .map_err(|_| refused(format!("the value {value} is not a finite number")))?;
        if exact.is_sign_negative() && !exact.is_zero() {
            return Err(refused(format!(
                "the value {value} is negative; a count cannot be"
            )));
        }
        let whole = exact.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
        if whole != exact {
            report.rounded += 1;
            report.largest_change = report.largest_change.max((whole - exact).abs());
        }
        u64::try_from(whole)
            .map(Some)
            .map_err(|_| refused(format!("the value {value} is larger than 2^64 - 1")))
    }
}

/// Why a request got no HTTP answer, in words.
fn unreachable(url: &str, error: &ureq::Error) -> String {
    match error {
        ureq::Error::Timeout(_) => {
            format!("{url} did not answer in time (see --prometheus-timeout)")
        }
        ureq::Error::Io(io) => format!("cannot reach {url}: {io}"),
        ureq::Error::HostNotFound => format!("cannot reach {url}: the host is not found"),
        ureq::Error::ConnectionFailed => format!("cannot reach {url}: the connection failed"),
        other => format!("cannot query {url}: {other}"),
    }
}

/// Prometheus's answer envelope.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiAnswer {
    status: String,
    data: Option<Data>,
    error_type: Option<String>,
    error: Option<String>,
    warnings: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    result_type: String,
    result: Vec<Series>,
}

#[derive(Deserialize)]
struct Series {
    metric: HashMap<String, String>,
    values: Vec<(f64, String)>,
}
