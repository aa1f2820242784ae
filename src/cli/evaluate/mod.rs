//! `sla-evaluator evaluate`: the engine on files or Prometheus, without a server, or with one
//! (`--target`), giving the same output either way.
//!
//! Both ways build the same `sla.v1` messages from the inputs (the spec with `as_of` fixed once,
//! the outages, then the buckets as `BucketColumns` of up to 10,000 rows) and feed them to an
//! `api::StreamEvaluation` in process or to an Evaluate stream of a server: the responses are the
//! same messages, so their JSON is the same bytes.
//!
//! A run takes any number of subscriptions in bounded memory: at most `--max-open` evaluations
//! (streams, with `--target`) at once, closed as their subscription's rows end ([`feed`]); input
//! not grouped by subscription is split into temporary parts first ([`partition`]); the answers
//! wait in a temporary file until the run has succeeded ([`answers`]), and print in subscription
//! order with a summary.

mod answers;
mod feed;
mod local;
mod partition;
mod remote;
pub mod source;
pub mod spec;
mod trace_back;

use std::io::Write;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use clap::error::ErrorKind;
use indicatif::ProgressBar;

use self::answers::{Answers, Sorted};
use self::feed::{Evaluator, Feed, Key, Plan};
use self::local::Local;
use self::partition::{Part, Split, parts_for};
use self::remote::Remote;
use self::source::{PrometheusArgs, Sources};
use self::spec::SpecArgs;
use super::output::{self, Format, Summary};
use super::target::TargetArgs;
use super::{REFUSED, fail};
use crate::api::Statements;
use crate::catalogue::Catalogue;
use crate::input::buckets::StdinCopy;
use crate::input::{InputError, buckets, fees, outages};
use crate::limits::Limits;
use crate::statement::SigningKeys;
use crate::store::{Open, Store};

/// How many times a part may be split again before the run gives up: each split divides a
/// part's subscriptions by up to 256.
const MAX_SPLITS: u64 = 6;

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
    /// Subscriptions evaluated at once (with --target: streams in flight over all replicas);
    /// each is closed when its rows end, and input not grouped by subscription is split into
    /// temporary parts first.
    #[arg(long, value_name = "N", default_value = "128")]
    pub max_open: NonZeroUsize,
    /// Memory the evaluations in progress may hold at once (in process), as a server's
    /// --memory-budget: past it, the least recently fed is closed. `auto` is 60% of the
    /// container's memory limit, or half the machine's memory without one.
    #[arg(long, value_name = "SIZE", default_value = "auto", value_parser = memory_budget)]
    pub memory_budget: u64,
    /// Write the run's summary (per policy and service month) to FILE, as CSV (.csv) or JSON
    /// (.json); the table output shows it under the evaluations.
    #[arg(long, value_name = "FILE", value_parser = summary_file)]
    pub summary: Option<PathBuf>,
    /// Where temporary files go (answers waiting for the run to end, parts of ungrouped
    /// input); the system's temporary directory by default.
    #[arg(long, value_name = "DIR", env = "SLA_TEMP_DIR")]
    pub temp_dir: Option<PathBuf>,
}

/// `auto` or a size such as `512MiB`.
fn memory_budget(text: &str) -> Result<u64, String> {
    if text.eq_ignore_ascii_case("auto") {
        return Ok(crate::memory::default_budget());
    }
    match text.parse::<bytesize::ByteSize>() {
        Ok(size) if size.as_u64() > 0 => Ok(size.as_u64()),
        Ok(_) => Err("must be above zero".into()),
        Err(error) => Err(format!(
            "'{text}' is neither a size (e.g. 768MiB) nor \"auto\": {error}"
        )),
    }
}

/// A summary file's format, from its extension.
fn summary_file(text: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(text);
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
    {
        Some(extension) if extension == "csv" || extension == "json" => Ok(path),
        _ => Err(format!("'{text}' ends neither in .csv nor in .json")),
    }
}

/// How a run goes about its inputs.
struct Run<'a> {
    plan: &'a Plan,
    sources: &'a Sources,
    threads: usize,
    temp_dir: Option<&'a Path>,
    progress: ProgressBar,
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
    let max_open = args.max_open.get();
    let run = Run {
        plan: &plan,
        sources: &sources,
        threads,
        temp_dir: args.temp_dir.as_deref(),
        progress: source::progress_bar(&sources, args.quiet),
    };
    let outcome = match &args.target.server {
        None => {
            let local = Local::new(
                Arc::clone(&policies),
                calendars,
                Limits::default(),
                args.memory_budget,
                threads,
            );
            tokio::task::block_in_place(|| {
                std::thread::scope(|scope| {
                    scope
                        .spawn(|| evaluate(&local, &run, max_open).map(|answers| (answers, 0)))
                        .join()
                })
            })
        }
        Some(target) => {
            let remote = match Remote::connect(target, max_open, args.temp_dir.as_deref()).await {
                Ok(remote) => remote,
                Err(message) => return fail(&message),
            };
            // Half the streams take rows; the other half finish, so that the input is read on
            // while answers come back.
            let open = (max_open / 2).max(1);
            tokio::task::block_in_place(|| {
                std::thread::scope(|scope| {
                    scope
                        .spawn(|| evaluate(&remote, &run, open).map(|a| (a, remote.retried())))
                        .join()
                })
            })
        }
    };
    let outcome = match outcome {
        Ok(Ok((answers, retried))) => match issue(&args, answers).await {
            Ok(answers) => Ok(Ok((answers, retried))),
            Err(message) => return fail(&message),
        },
        other => other,
    };
    match outcome {
        Ok(Ok((answers, retried))) => {
            let written = write_out(format, answers, retried, &policies, args.summary.as_deref());
            match written {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => fail(&message),
            }
        }
        Ok(Err(error)) => fail(&error),
        Err(_) => {
            eprintln!("sla-evaluator: the evaluation stopped unexpectedly");
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
/// `--statement-store` asks for it, once the whole run has succeeded: a refused input records
/// nothing. The issued answers are kept as the run's were (in a temporary file past 32 MiB), so
/// that a ledger failing half way prints nothing either.
async fn issue(args: &EvaluateArgs, mut answers: Sorted) -> Result<Sorted, String> {
    if args.signing_key.is_empty() && args.statement_store.is_none() {
        return Ok(answers);
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
    let mut issued = Answers::new(args.temp_dir.as_deref());
    while let Some(answer) = answers.next_answer() {
        let (key, response) =
            answer.map_err(|error| format!("cannot read an answer back: {error}"))?;
        let response = statements
            .issue_settled(response)
            .await
            .map_err(|error| error.to_string())?;
        issued
            .push(key, &response)
            .map_err(|error| format!("cannot keep an answer: {error}"))?;
    }
    issued
        .into_sorted()
        .map_err(|error| format!("cannot keep an answer: {error}"))
}

/// Evaluates every subscription of the inputs: a pass over them as they are, then, when their
/// rows turn out not to be grouped by subscription, over their parts; then the subscriptions of
/// the fees file without rows.
fn evaluate<E: Evaluator>(
    evaluator: &E,
    run: &Run<'_>,
    max_open: usize,
) -> Result<Sorted, InputError> {
    let mut answers = Answers::new(run.temp_dir);
    let mut stdin = StdinCopy::default();
    let first = pass(evaluator, run, max_open, &mut answers, |feed| {
        run.sources.read(feed, run.threads, &mut stdin)
    })?;
    if let Pass::Regroup { seen, room } = first {
        let parts = parts_for(seen, room);
        eprintln!(
            "sla-evaluator: the input is not grouped by subscription, and its subscriptions (at \
             least {seen}) are more than can be evaluated at once ({room}): splitting it into \
             {parts} temporary parts first"
        );
        run.progress.reset();
        let mut split = Split::new(parts, 0, run.temp_dir).map_err(|e| temp_error(&e))?;
        run.sources.read(&mut split, run.threads, &mut stdin)?;
        if let Some(failure) = split.failure.take() {
            return Err(failure);
        }
        let names = split.names.clone();
        for part in split.finish()? {
            evaluate_part(evaluator, run, max_open, &mut answers, part, &names, 1)?;
        }
    }
    answers.sort();
    let missing: Vec<Key> = match &run.plan.fees {
        Some((_, fees)) if !fees.by_subscription.is_empty() => fees
            .by_subscription
            .keys()
            .filter(|key| !answers.contains(key))
            .cloned()
            .collect(),
        _ if answers.len() == 0 => vec![None],
        _ => Vec::new(),
    };
    if !missing.is_empty() {
        let mut feed = Feed::new(evaluator, run.plan, max_open, &mut answers);
        for key in &missing {
            if let Err(failure) = feed.open(key) {
                feed.abandon();
                return Err(failure);
            }
        }
        feed.finish()?;
    }
    run.progress.finish_and_clear();
    answers.into_sorted().map_err(|e| temp_error(&e))
}

/// Evaluates one part of ungrouped input; a part with more subscriptions than can be evaluated
/// at once is split again.
fn evaluate_part<E: Evaluator>(
    evaluator: &E,
    run: &Run<'_>,
    max_open: usize,
    answers: &mut Answers,
    mut part: Part,
    names: &[String],
    depth: u64,
) -> Result<(), InputError> {
    let outcome = pass(evaluator, run, max_open, answers, |feed| {
        part.read(names, |name, block| {
            name.clone_into(&mut feed.source);
            feed.apply(block)
        })
    })?;
    let Pass::Regroup { seen, room } = outcome else {
        return Ok(());
    };
    if depth > MAX_SPLITS {
        return Err(InputError::whole(
            "evaluate",
            format!(
                "the input's subscriptions could not be split into parts of at most {room} \
                 (the evaluations that fit at once): raise --max-open or --memory-budget"
            ),
        ));
    }
    let mut split =
        Split::new(parts_for(seen, room), depth, run.temp_dir).map_err(|e| temp_error(&e))?;
    split.names = names.to_vec();
    part.read(names, |name, block| {
        split.begin(name);
        split.apply(block)
    })?;
    if let Some(failure) = split.failure.take() {
        return Err(failure);
    }
    for part in split.finish()? {
        evaluate_part(evaluator, run, max_open, answers, part, names, depth + 1)?;
    }
    Ok(())
}

/// How a pass ended.
enum Pass {
    /// Every subscription was answered.
    Done,
    /// Rows of a closed subscription came again: nothing of the pass is kept. `seen`
    /// subscriptions had come by then, at most `room` evaluated at once.
    Regroup { seen: usize, room: usize },
}

/// One pass of evaluations over what `read` reads; its answers are kept, or, when it regroups,
/// forgotten.
fn pass<'a, E: Evaluator>(
    evaluator: &'a E,
    run: &'a Run<'_>,
    max_open: usize,
    answers: &'a mut Answers,
    read: impl FnOnce(&mut Feed<'_, E>) -> Result<(), InputError>,
) -> Result<Pass, InputError> {
    let mark = answers.mark();
    let mut feed = Feed::new(evaluator, run.plan, max_open, answers);
    let bar = run.progress.clone();
    feed.progress = Box::new(move |amount| bar.inc(amount));
    if let Err(error) = read(&mut feed) {
        feed.abandon();
        return Err(error);
    }
    if feed.regroup && feed.failure.is_none() {
        let outcome = Pass::Regroup {
            seen: feed.seen(),
            room: feed.most_open.max(1),
        };
        feed.abandon();
        drop(feed);
        answers.rewind(mark).map_err(|e| temp_error(&e))?;
        return Ok(outcome);
    }
    feed.finish()?;
    Ok(Pass::Done)
}

fn temp_error(error: &std::io::Error) -> InputError {
    InputError::whole("evaluate", format!("cannot use a temporary file: {error}"))
}

/// Prints the answers in `format`, then (for a table) the summary, and writes the summary file.
fn write_out(
    format: Format,
    mut answers: Sorted,
    retried: u64,
    policies: &crate::policy::PolicySet,
    summary_file: Option<&Path>,
) -> Result<(), String> {
    let mut summary = Summary::default();
    summary.retried = retried;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let count = answers.len();
    let mut next = || {
        answers.next_answer().map(|answer| {
            let answer = answer.map_err(|error| format!("cannot read an answer back: {error}"))?;
            summary.add(&answer.1);
            Ok(answer)
        })
    };
    output::write_evaluations(format, count, &mut next, policies, &mut out)?;
    if format == Format::Table && count > 1 {
        write!(out, "\n{}", summary.to_table()).map_err(|e| e.to_string())?;
    }
    out.flush()
        .map_err(|error| format!("cannot write the output: {error}"))?;
    if summary.retried > 0 {
        eprintln!(
            "sla-evaluator: {} of {} subscriptions were resent to another replica after theirs \
             failed",
            summary.retried,
            summary.subscriptions()
        );
    }
    if let Some(path) = summary_file {
        let text = match path.extension().and_then(|e| e.to_str()) {
            Some(extension) if extension.eq_ignore_ascii_case("json") => summary.to_json(),
            _ => summary.to_csv(),
        };
        std::fs::write(path, text)
            .map_err(|error| format!("{}: cannot write the summary: {error}", path.display()))?;
    }
    Ok(())
}
