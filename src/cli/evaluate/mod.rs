//! `sla-evaluator evaluate`: the engine on files or Prometheus, without a server, or with one
//! (`--target`), giving the same output either way.
//!
//! Both ways build the same `sla.v1` messages from the inputs (the spec with `as_of` fixed once,
//! the outages, then the buckets as `BucketColumns` of up to 10,000 rows) and feed them to an
//! `api::StreamEvaluation` in process or to an Evaluate stream of the server: the responses are the same
//! messages, so their JSON is the same bytes.

mod feed;
mod local;
mod remote;
pub mod source;
pub mod spec;
mod trace_back;

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use clap::error::ErrorKind;

use self::feed::{Evaluator, Feed, Plan};
use self::local::Local;
use self::remote::Remote;
use self::source::{PrometheusArgs, Sources};
use self::spec::SpecArgs;
use super::output::{self, Format};
use super::target::TargetArgs;
use super::{REFUSED, fail};
use crate::api::Statements;
use crate::catalogue::Catalogue;
use crate::input::{InputError, buckets, fees, outages};
use crate::limits::Limits;
use crate::statement::SigningKeys;
use crate::store::{Open, Store};

/// `evaluate`'s flags.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Bucket files: CSV, JSON Lines or Parquet by extension (see --input-format), read in
    /// order; `-` is standard input. Columns: start, total, failed, and optionally
    /// duration_seconds and subscription.
    #[arg(value_name = "BUCKETS", required_unless_present = "prometheus")]
    pub buckets: Vec<PathBuf>,
    /// The bucket files' format, when their extension does not say (standard input: csv).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub input_format: Option<buckets::Format>,
    /// The spec.
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Buckets from Prometheus instead of files.
    #[command(flatten)]
    pub prometheus: PrometheusArgs,
    /// Fees from a CSV file with month_start, paid, and optionally deductions and subscription
    /// (one subscription's fees each); replaces the spec's fees.
    #[arg(long, value_name = "FILE", conflicts_with = "fees")]
    pub fees_file: Option<PathBuf>,
    /// Outages from a file of sla.v1.Outage objects in JSON (one per line, as grpcurl takes
    /// them); a "subscription" key gives one to a single subscription.
    #[arg(long, value_name = "FILE")]
    pub outages: Option<PathBuf>,
    /// Where to evaluate, and the policies and calendars to evaluate (and print) with.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Sign each answer with this Ed25519 key (PKCS#8 PEM), as a server with --signing-key does;
    /// repeatable. In process only: a server signs with its own.
    #[arg(long, value_name = "FILE", conflicts_with = "target")]
    pub signing_key: Vec<PathBuf>,
    /// Record each subscription's answer in this statement ledger (sqlite:PATH or a postgres://
    /// URL), as a server with --statement-store does; each subscription's name then enters its
    /// spec (and digest) as its subscription. In process only.
    #[arg(long, value_name = "URL", conflicts_with = "target")]
    pub statement_store: Option<String>,
    /// Output format: table on a terminal, json otherwise.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Threads reading and evaluating; every core by default.
    #[arg(long, value_name = "N")]
    pub threads: Option<NonZeroUsize>,
    /// No progress bar, even on a terminal.
    #[arg(long)]
    pub quiet: bool,
}

/// Runs `evaluate`.
pub async fn run(args: EvaluateArgs) -> ExitCode {
    let spec = match args.spec.build(spec::now()) {
        Ok(spec) => spec,
        // A missing required value is a usage error, said the way clap says its own.
        Err(problem @ spec::SpecProblem::Missing { .. }) => {
            clap::Error::raw(ErrorKind::MissingRequiredArgument, format!("{problem}\n")).exit()
        }
        Err(problem) => return fail(&problem),
    };
    let Catalogue {
        policies,
        calendars,
    } = match args.target.catalogue() {
        Ok(catalogue) => catalogue,
        Err(error) => return fail(&error),
    };
    let plan = match plan(&args, spec) {
        Ok(plan) => plan,
        Err(error) => return fail(&error),
    };
    let sources = match Sources::new(&args, &plan.spec, &policies) {
        Ok(sources) => sources,
        Err(error) => return fail(&error),
    };
    let threads = args.threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
        NonZeroUsize::get,
    );
    let format = Format::chosen(args.format);
    let quiet = args.quiet;
    let outcome = match &args.target.server {
        None => {
            let local = Local {
                policies: Arc::clone(&policies),
                calendars,
                limits: Limits::default(),
                threads,
            };
            tokio::task::spawn_blocking(move || evaluate(&local, &plan, &sources, threads, quiet))
                .await
        }
        Some(target) => {
            let remote = match Remote::connect(target).await {
                Ok(remote) => remote,
                Err(message) => return fail(&message),
            };
            tokio::task::spawn_blocking(move || evaluate(&remote, &plan, &sources, threads, quiet))
                .await
        }
    };
    let outcome = match outcome {
        Ok(Ok(results)) => match issue(&args, results).await {
            Ok(results) => Ok(Ok(results)),
            Err(message) => return fail(&message),
        },
        other => other,
    };
    match outcome {
        Ok(Ok(results)) => match output::evaluations(format, &results, &policies) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(message) => fail(&message),
        },
        Ok(Err(error)) => fail(&error),
        Err(panic) => {
            eprintln!("sla-evaluator: the evaluation stopped unexpectedly: {panic}");
            ExitCode::from(REFUSED)
        }
    }
}

/// The fees and outages every evaluation starts from.
fn plan(args: &EvaluateArgs, spec: crate::api::pb::EvaluationSpec) -> Result<Plan, InputError> {
    let fees = match &args.fees_file {
        Some(path) => Some((path.display().to_string(), fees::read(path)?)),
        None => None,
    };
    let (outages, outages_name) = match &args.outages {
        Some(path) => (outages::read(path)?, path.display().to_string()),
        None => (Vec::new(), String::new()),
    };
    Ok(Plan {
        spec,
        fees,
        outages,
        outages_name,
        subscriptions_in_spec: args.statement_store.is_some(),
    })
}

/// Each answer signed and recorded as a server would, when `--signing-key` or
/// `--statement-store` asks for it.
async fn issue(
    args: &EvaluateArgs,
    results: Vec<(feed::Key, crate::api::pb::EvaluateResponse)>,
) -> Result<Vec<(feed::Key, crate::api::pb::EvaluateResponse)>, String> {
    if args.signing_key.is_empty() && args.statement_store.is_none() {
        return Ok(results);
    }
    let keys = SigningKeys::from_files(&args.signing_key)
        .map_err(|error| format!("--signing-key {error}"))?;
    let store = match &args.statement_store {
        Some(url) => Some(Arc::new(
            Store::open(url, Open::Migrate)
                .await
                .map_err(|error| format!("--statement-store: {error}"))?,
        )),
        None => None,
    };
    let statements = Statements::new(keys, store);
    let mut issued = Vec::with_capacity(results.len());
    for (key, response) in results {
        let response = statements
            .issue_settled(response)
            .await
            .map_err(|error| error.to_string())?;
        issued.push((key, response));
    }
    Ok(issued)
}

/// Reads every source into one evaluation per subscription and finishes them.
fn evaluate<E: Evaluator>(
    evaluator: &E,
    plan: &Plan,
    sources: &Sources,
    threads: usize,
    quiet: bool,
) -> Result<Vec<(feed::Key, crate::api::pb::EvaluateResponse)>, InputError> {
    let progress = source::progress_bar(sources, quiet);
    let mut feed = Feed::new(evaluator, plan);
    let bar = progress.clone();
    feed.progress = Box::new(move |amount| bar.inc(amount));
    sources.read(&mut feed, threads)?;
    if let Some(failure) = feed.failure.take() {
        return Err(failure);
    }
    feed.open_the_rest()?;
    progress.finish_and_clear();
    feed.finish()
}
