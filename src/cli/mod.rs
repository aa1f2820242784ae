//! The `sla-evaluator` command line: one binary, subcommands. Without one it serves, so
//! `cargo run --release` starts the server; `serve` is the same. The other subcommands use the same
//! engine without a server.
//!
//! Exit status: 0 when the command did its work, 1 when an input was refused (the reason on
//! stderr), 2 for a usage error (clap's own).

pub mod serve;

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
    Serve(Config),
}

impl Cli {
    /// Runs the command line's command and returns the process's exit status.
    pub async fn run(self) -> ExitCode {
        match self.command {
            None => serve::run(self.serve).await,
            Some(Command::Serve(config)) => serve::run(config).await,
        }
    }
}

/// Exit status for an input the command refused.
pub const REFUSED: u8 = 1;
