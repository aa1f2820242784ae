//! Where the buckets come from: files, or a Prometheus server over the term.

use std::io::IsTerminal;
use std::time::Duration;

use chrono::NaiveDate;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::EvaluateArgs;
use super::feed::{Evaluator, Feed};
use super::partition::Split;
use crate::api::pb;
use crate::engine::months::{day_after, local_midnight};
use crate::input::buckets::{BucketFile, Format, StdinCopy};
use crate::input::ordered::Flow;
use crate::input::prometheus::{self, Report};
use crate::input::{Block, InputError};
use crate::policy::PolicySet;

/// `--prometheus` and its queries.
#[derive(Debug, Args)]
pub struct PrometheusArgs {
    /// Read the buckets from the Prometheus server at this URL (e.g. http://localhost:9090)
    /// with query_range over the term.
    #[arg(long, value_name = "URL", requires_all = ["total", "failed"], conflicts_with = "buckets")]
    pub prometheus: Option<String>,
    /// PromQL giving each step's attempts as one series, e.g. sum(increase(requests_total[1m])).
    #[arg(
        long,
        value_name = "PROMQL",
        requires = "prometheus",
        allow_hyphen_values = true
    )]
    pub total: Option<String>,
    /// PromQL giving each step's failures as one series.
    #[arg(
        long,
        value_name = "PROMQL",
        requires = "prometheus",
        allow_hyphen_values = true
    )]
    pub failed: Option<String>,
    /// The step: each sample counts the step that ends at it (whole minutes).
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = humantime::parse_duration)]
    pub step: Duration,
    /// Longest one query_range request may take.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub prometheus_timeout: Duration,
}

/// The inputs of a run.
pub(super) enum Sources {
    /// Bucket files, read in order.
    Files(Vec<BucketFile>),
    /// A Prometheus server, over `[from, to)`.
    Prometheus {
        /// What to ask.
        source: prometheus::Source,
        /// The first step's start.
        from: i64,
        /// The end of the last step.
        to: i64,
    },
}

impl Sources {
    /// The sources the flags name; for Prometheus, the steps the term and `as_of` cover.
    pub(super) fn new(
        args: &EvaluateArgs,
        spec: &pb::EvaluationSpec,
        policies: &PolicySet,
    ) -> Result<Self, InputError> {
        // Steps and days lie in the evaluation's zone; a spec the engine refuses is refused later,
        // with its reason, so here an unreadable one just yields UTC.
        let zone = match spec.time_zone.parse() {
            Ok(zone) => Some(zone),
            Err(_) => policies.get(&spec.policy_id).map(|policy| policy.time_zone),
        };
        let Some(url) = &args.prometheus.prometheus else {
            let zone = zone.unwrap_or(chrono_tz::UTC);
            let files = args.buckets.iter().map(|path| {
                let format = args.input_format.or_else(|| Format::of(path));
                match format {
                    Some(format) => Ok(BucketFile { path: path.clone(), format, zone }),
                    None if path.as_os_str() == "-" => Ok(BucketFile { path: path.clone(), format: Format::Csv, zone }),
                    None => Err(InputError::whole(
                        &path.display().to_string(),
                        "its extension names no format (.csv, .jsonl, .parquet); give --input-format",
                    )),
                }
            });
            return files.collect::<Result<_, _>>().map(Sources::Files);
        };
        let whole = |message: String| InputError::whole(url, message);
        let step = i64::try_from(args.prometheus.step.as_secs()).unwrap_or(0);
        if step < 60 || step % 60 != 0 || args.prometheus.step.subsec_nanos() != 0 {
            return Err(whole("--step must be a whole number of minutes".into()));
        }
        // The steps lie on the zone's local minutes from the term's first local midnight, as the
        // engine cuts months and slices; without a zone, no steps.
        let day = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
        let (from, to) = match (zone, day(&spec.term_start), day(&spec.term_end)) {
            (Some(zone), Some(first), Some(last)) if first <= last => {
                let from = local_midnight(zone, first).timestamp();
                let end = local_midnight(zone, day_after(last)).timestamp();
                let as_of = spec.as_of.map_or(end, |t| t.seconds);
                let to = end.min(as_of.max(from));
                (from, from + (to - from) / step * step)
            }
            _ => (0, 0),
        };
        Ok(Sources::Prometheus {
            source: prometheus::Source {
                url: url.clone(),
                total: args.prometheus.total.clone().unwrap_or_default(),
                failed: args.prometheus.failed.clone().unwrap_or_default(),
                step_seconds: step,
                timeout: args.prometheus.prometheus_timeout,
            },
            from,
            to,
        })
    }

    /// The amount a progress bar counts to, when known.
    fn size(&self) -> Option<u64> {
        match self {
            Sources::Files(files) => files.iter().map(BucketFile::size).sum(),
            Sources::Prometheus { source, from, to } => {
                u64::try_from((to - from) / source.step_seconds).ok()
            }
        }
    }

    /// Reads every source into `sink`, stopping when it stops. Standard input is read through
    /// `stdin`, so that a second read reads the same rows.
    pub(super) fn read(
        &self,
        sink: &mut impl Sink,
        threads: usize,
        stdin: &mut StdinCopy,
    ) -> Result<(), InputError> {
        match self {
            Sources::Files(files) => {
                for file in files {
                    sink.begin(&file.name());
                    file.read(threads, stdin, |block| sink.apply(block))?;
                    if sink.stopped() {
                        break;
                    }
                }
                Ok(())
            }
            Sources::Prometheus { source, from, to } => {
                sink.begin(&source.url);
                // The evaluation starts before the first query, so that a bad spec is refused
                // before the server is asked anything.
                sink.before_queries()?;
                let report = source.read(*from, *to, |block| sink.apply(block))?;
                explain(&report);
                Ok(())
            }
        }
    }
}

/// What reading hands blocks to: a pass of evaluations, or a split into parts.
pub(super) trait Sink: Send {
    /// The input whose blocks come next.
    fn begin(&mut self, name: &str);
    /// Takes a block.
    fn apply(&mut self, block: Block) -> Flow;
    /// Whether it stopped taking blocks.
    fn stopped(&self) -> bool;
    /// Before a Prometheus server is asked anything.
    fn before_queries(&mut self) -> Result<(), InputError> {
        Ok(())
    }
}

impl<E: Evaluator> Sink for Feed<'_, E> {
    fn begin(&mut self, name: &str) {
        name.clone_into(&mut self.source);
    }
    fn apply(&mut self, block: Block) -> Flow {
        Feed::apply(self, block)
    }
    fn stopped(&self) -> bool {
        self.failure.is_some() || self.regroup
    }
    fn before_queries(&mut self) -> Result<(), InputError> {
        self.open(&None)
    }
}

impl Sink for Split {
    fn begin(&mut self, name: &str) {
        Split::begin(self, name);
    }
    fn apply(&mut self, block: Block) -> Flow {
        Split::apply(self, block)
    }
    fn stopped(&self) -> bool {
        self.failure.is_some()
    }
}

/// Says on stderr what was made of Prometheus's values: nothing is changed silently.
fn explain(report: &Report) {
    for warning in &report.warnings {
        eprintln!("sla-evaluator: Prometheus warns: {warning}");
    }
    let gaps = report.steps - report.buckets;
    eprintln!(
        "sla-evaluator: Prometheus gave {} of {} steps; the other {gaps} are data gaps",
        report.buckets, report.steps
    );
    if report.rounded > 0 {
        eprintln!(
            "sla-evaluator: {} values were not whole numbers (increase() extrapolates) and were \
             rounded to the nearest whole count; the largest change was {}",
            report.rounded,
            report.largest_change.normalize()
        );
    }
    if report.capped > 0 {
        eprintln!(
            "sla-evaluator: {} steps had more failures than attempts after rounding; their \
             failures were capped at their attempts",
            report.capped
        );
    }
    if report.failed_missing > 0 {
        eprintln!(
            "sla-evaluator: {} steps had attempts but no --failed value and are data gaps; if \
             failures are just absent there, end the --failed query with `or vector(0)`",
            report.failed_missing
        );
    }
    if report.not_a_number > 0 {
        eprintln!(
            "sla-evaluator: {} values were NaN and are data gaps",
            report.not_a_number
        );
    }
}

/// A progress bar on stderr for a person at a terminal; hidden otherwise.
pub(super) fn progress_bar(sources: &Sources, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match sources.size() {
        Some(size) => ProgressBar::with_draw_target(Some(size), ProgressDrawTarget::stderr()),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    let template = match sources {
        Sources::Files(files) if files.iter().all(|f| f.format != Format::Parquet) => {
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
        }
        _ => "{bar:40} {pos}/{len} eta {eta}",
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}
