//! The `sla-evaluator` command line: one binary, subcommands. Without one it serves, so
//! `cargo run --release` starts the server; `serve` is the same. The other subcommands use the same
//! engine without a server, or ask one (`--target`) and print the same thing.
//!
//! Exit status: 0 when the command did its work, 1 when an input was refused (the reason on
//! stderr), 2 for a usage error (clap's own).

pub mod check;
pub mod classify;
pub mod evaluate;
pub mod ledger;
pub mod output;
pub mod policies;
pub mod render;
pub mod serve;
mod target;
pub mod verify;

use std::fmt::Display;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;

/// Evaluates measured availability against SLA policies: a gRPC service, and the same engine on
/// the command line.
#[derive(Debug, Parser)]
#[command(
    name = "sla-evaluator",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to do; without a subcommand, serve.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The server's settings, when no subcommand is given.
    #[command(flatten)]
    pub serve: Config,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve sla.v1.SlaEvaluator over gRPC, with health, reflection and metrics (the default).
    Serve(Box<Config>),
    /// Evaluate buckets from files or Prometheus against a policy, without a server (or on one,
    /// with --target).
    Evaluate(Box<evaluate::EvaluateArgs>),
    /// Classify outages against a policy's exclusion clauses.
    Classify(classify::ClassifyArgs),
    /// List the policies, or show one.
    Policies(policies::PoliciesArgs),
    /// Draw the HTML claim report of a response saved as JSON.
    Render(render::RenderArgs),
    /// Check policy files as the server would load them (with the built-in ones) and summarise
    /// them: exit 0 when all are good, 1 when any is refused.
    CheckPolicy(check::CheckPolicyArgs),
    /// Check a saved response's signed statement against a key: which key signed it, and that no
    /// byte changed.
    Verify(verify::VerifyArgs),
    /// A subscription's recorded statements, or one of them, from a server or a ledger.
    Statements(ledger::StatementsArgs),
    /// Check a statement ledger's hash chain: finds any row changed, removed or reordered.
    VerifyStore(ledger::VerifyStoreArgs),
}

impl Cli {
    /// Runs the command line's command and returns the process's exit status.
    pub async fn run(self) -> ExitCode {
        match self.command {
            None => serve::run(self.serve).await,
            Some(Command::Serve(config)) => serve::run(*config).await,
            Some(Command::Evaluate(args)) => evaluate::run(*args).await,
            Some(Command::Classify(args)) => classify::run(args).await,
            Some(Command::Policies(args)) => policies::run(args).await,
            Some(Command::Render(args)) => render::run(args).await,
            Some(Command::CheckPolicy(args)) => check::run(&args),
            Some(Command::Verify(args)) => verify::run(args).await,
            Some(Command::Statements(args)) => ledger::run(args).await,
            Some(Command::VerifyStore(args)) => ledger::verify_store(args).await,
        }
    }
}

/// Exit status for an input the command refused.
pub const REFUSED: u8 = 1;

/// Says why on stderr and returns the status of a refused input.
pub(crate) fn fail(error: &dyn Display) -> ExitCode {
    eprintln!("sla-evaluator: {error}");
    ExitCode::from(REFUSED)
}
