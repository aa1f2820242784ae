//! `sla-evaluator check-policy FILE...`: validates policy files exactly as a server would load
//! them from its `--policy-dir`, together with the built-in policies so that conflicting versions
//! show, and prints what it read. For a ConfigMap's CI: exit 0 when every file is good, 1 when any
//! is refused (`file:line:column: problem` on stderr), 2 for a usage error.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::output::Table;
use super::policies::method;
use super::{REFUSED, fail};
use crate::api::policy_message;
use crate::catalogue;
use crate::data_dir::{directory_entries, skip_reason};
use crate::policy::{LoadError, PolicySet};

/// `check-policy`'s arguments.
#[derive(Debug, Args)]
pub struct CheckPolicyArgs {
    /// The policy files (*.toml) to check, or directories: a directory's files are taken as a
    /// server takes its --policy-dir's.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Extra business calendars, as the server's --calendar-dir: a policy naming a calendar that
    /// is neither built in nor there is refused, as the server would refuse it.
    #[arg(long, env = "SLA_CALENDAR_DIR", value_name = "DIR")]
    pub calendar_dir: Option<PathBuf>,
}

/// Runs `check-policy`.
pub fn run(args: &CheckPolicyArgs) -> ExitCode {
    let files = match expand(&args.files) {
        Ok(files) => files,
        Err(()) => return ExitCode::from(REFUSED),
    };
    check(&files, args.calendar_dir.as_deref())
}

/// The files to check: each file named, and each directory's files as a server reads them. A
/// named file a server would skip is refused (it would never be loaded); a directory's skipped
/// entries are noted on stderr.
fn expand(args: &[PathBuf]) -> Result<Vec<PathBuf>, ()> {
    let mut files = Vec::new();
    let mut refused = false;
    for arg in args {
        if arg.is_dir() {
            match directory_entries(arg) {
                Ok((found, skipped)) => {
                    for entry in skipped {
                        eprintln!(
                            "sla-evaluator: note: {}: skipped, as a server skips it: {}",
                            entry.path.display(),
                            entry.reason
                        );
                    }
                    files.extend(found);
                }
                Err(error) => {
                    let _ = fail(&format!("{}: {error}", arg.display()));
                    refused = true;
                }
            }
        } else if let Some(reason) = skip_reason(arg).filter(|_| arg.exists()) {
            let _ = fail(&format!(
                "{}: a server would not load this file from its --policy-dir: {reason}",
                arg.display()
            ));
            refused = true;
        } else {
            files.push(arg.clone());
        }
    }
    if refused { Err(()) } else { Ok(files) }
}

fn check(files: &[PathBuf], calendar_dir: Option<&std::path::Path>) -> ExitCode {
    // A file with the text of a built-in policy stands for it (`check-policy policies/*.toml`
    // checks the built-in files themselves); any other file is added to the built-in ones.
    let texts: Vec<String> = files
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .collect();
    let base = || PolicySet::built_in_unless(|text| texts.iter().any(|t| t == text));
    // Each file alone first, so that every bad file is reported, not only the first.
    let mut refused = false;
    for file in files {
        if let Err(error) = base().and_then(|set| set.with_files(std::slice::from_ref(file))) {
            report(&error);
            refused = true;
        }
    }
    if refused {
        return ExitCode::from(REFUSED);
    }
    let set = match base().and_then(|set| set.with_files(files)) {
        Ok(set) => set,
        Err(error) => {
            report(&error);
            return ExitCode::from(REFUSED);
        }
    };
    if let Err(error) = catalogue::calendars(calendar_dir, &set) {
        return fail(&error);
    }
    print!("{}", summary(&set, files));
    ExitCode::SUCCESS
}

fn report(error: &LoadError) {
    let _ = fail(error);
}

/// One row per version read from the files.
fn summary(set: &PolicySet, files: &[PathBuf]) -> Table {
    let mut table = Table::new(&[
        "file",
        "id",
        "version",
        "effective from",
        "method",
        "standard",
        "tiers",
        "clauses",
        "revision",
    ]);
    let given: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    for loaded in set.files().filter(|l| given.contains(&l.path)) {
        let policy = &loaded.policy;
        table.push(vec![
            loaded.path.clone(),
            policy.id.clone(),
            policy.version.clone(),
            policy
                .effective_from
                .map_or_else(|| "(beginning)".to_string(), |d| d.to_string()),
            method(&policy_message(policy)),
            match policy.standard_met_at {
                crate::policy::Edge::AtLeast => format!("{}%", policy.standard),
                crate::policy::Edge::Above => format!("above {}%", policy.standard),
            },
            policy.tiers.len().to_string(),
            policy.clauses.len().to_string(),
            policy.revision.clone(),
        ]);
    }
    table
}
