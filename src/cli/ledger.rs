//! The statement ledger on the command line: `statements list|show` (from a server, or a store
//! opened here) and `verify-store`, which walks the whole chain.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand};
use prost::Message;
use tonic::Request;

use super::fail;
use super::output::{self, Format, Table};
use super::target::connect;
use crate::api::pb::sla_evaluator_server::SlaEvaluator;
use crate::api::{SlaService, Statements, Uncounted, envelope, pb};
use crate::catalogue;
use crate::limits::{CallLimits, Limits};
use crate::memory::MemoryBudget;
use crate::policy::PolicyStore;
use crate::statement::{self, ChainCheck, PublicKey, SigningKeys};
use crate::store::{Open, Store};

/// `statements`' flags.
#[derive(Debug, Args)]
pub struct StatementsArgs {
    /// What to show.
    #[command(subcommand)]
    pub command: StatementsCommand,
    /// Ask the server at HOST:PORT (ListStatements, GetStatement).
    #[arg(
        long,
        value_name = "HOST:PORT",
        global = true,
        conflicts_with = "statement_store"
    )]
    pub target: Option<String>,
    /// Read this ledger directly: sqlite:PATH or a postgres:// URL.
    #[arg(long, env = "SLA_STATEMENT_STORE", value_name = "URL", global = true)]
    pub statement_store: Option<String>,
    /// Output format: table on a terminal, json otherwise.
    #[arg(long, value_enum, global = true)]
    pub format: Option<Format>,
}

/// `statements`' subcommands.
#[derive(Debug, Subcommand)]
pub enum StatementsCommand {
    /// A subscription's statements, newest first; with --month, that month's history: every
    /// statement that covered it, with what changed from the one before.
    List {
        /// The subscription.
        #[arg(long)]
        subscription: String,
        /// Only statements covering this month (YYYY-MM), shown as its history.
        #[arg(long, value_name = "YYYY-MM", conflicts_with_all = ["from", "to"])]
        month: Option<String>,
        /// Only statements covering a day on or after this one (YYYY-MM-DD).
        #[arg(long, value_name = "DAY")]
        from: Option<String>,
        /// Only statements covering a day on or before this one (YYYY-MM-DD).
        #[arg(long, value_name = "DAY")]
        to: Option<String>,
    },
    /// One statement, with the response as it was answered.
    Show {
        /// The statement's id.
        id: u64,
    },
}

/// Runs `statements`.
pub async fn run(args: StatementsArgs) -> ExitCode {
    let format = Format::chosen_for_messages(args.format);
    let mut source = match Source::new(&args).await {
        Ok(source) => source,
        Err(message) => return fail(&message),
    };
    match args.command {
        StatementsCommand::List {
            subscription,
            month,
            from,
            to,
        } => {
            let (from, to, month) = match &month {
                Some(month) => match month_range(month) {
                    Some((first, last)) => (Some(first), Some(last), Some(month.clone())),
                    None => return fail(&format!("--month '{month}' is not YYYY-MM")),
                },
                None => (from, to, None),
            };
            let mut statements = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = source
                    .list(pb::ListStatementsRequest {
                        subscription: subscription.clone(),
                        covering_from: from.clone().unwrap_or_default(),
                        covering_to: to.clone().unwrap_or_default(),
                        page_size: 1000,
                        page_token,
                    })
                    .await;
                let page = match page {
                    Ok(page) => page,
                    Err(message) => return fail(&message),
                };
                statements.extend(page.statements);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            let all = pb::ListStatementsResponse {
                statements,
                next_page_token: String::new(),
            };
            let day = to.unwrap_or_default();
            print!(
                "{}",
                output::message(format, &all, "ListStatementsResponse", || match &month {
                    Some(_) => history(&all.statements, &day),
                    None => listing(&all.statements),
                })
            );
            ExitCode::SUCCESS
        }
        StatementsCommand::Show { id } => match source.get(id).await {
            Ok(statement) => {
                print!(
                    "{}",
                    output::message(format, &statement, "Statement", || shown(&statement))
                );
                ExitCode::SUCCESS
            }
            Err(message) => fail(&message),
        },
    }
}

/// The first and last day of `YYYY-MM`.
fn month_range(month: &str) -> Option<(String, String)> {
    let first = chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?;
    let last = first
        .checked_add_months(chrono::Months::new(1))?
        .pred_opt()?;
    Some((first.to_string(), last.to_string()))
}

/// Where the statements come from: a server, or the service's handlers on a store opened here.
enum Source {
    Server(
        pb::sla_evaluator_client::SlaEvaluatorClient<tonic::transport::Channel>,
        String,
    ),
    Local(Box<SlaService>),
}

impl Source {
    async fn new(args: &StatementsArgs) -> Result<Source, String> {
        if let Some(target) = &args.target {
            return Ok(Source::Server(connect(target).await?, target.clone()));
        }
        let Some(url) = &args.statement_store else {
            return Err("statements needs --target HOST:PORT or --statement-store URL".into());
        };
        let store = Store::open(url, Open::Read)
            .await
            .map_err(|error| error.to_string())?;
        let policies = catalogue::policies(None).map_err(|error| error.to_string())?;
        let calendars = catalogue::calendars(None, &policies).map_err(|error| error.to_string())?;
        let service = SlaService::new(
            Arc::new(PolicyStore::new(Arc::new(policies))),
            Arc::new(calendars),
            Limits::default(),
            CallLimits::default(),
            MemoryBudget::unlimited(),
            Arc::new(Uncounted),
        )
        .with_statements(Statements::new(
            SigningKeys::default(),
            Some(Arc::new(store)),
        ));
        Ok(Source::Local(Box::new(service)))
    }

    fn refused(&self, status: tonic::Status) -> String {
        match self {
            Source::Local(_) => status.message().to_string(),
            Source::Server(_, target) => format!(
                "the server at {target} answered {:?}: {}",
                status.code(),
                status.message()
            ),
        }
    }

    async fn list(
        &mut self,
        request: pb::ListStatementsRequest,
    ) -> Result<pb::ListStatementsResponse, String> {
        let answer = match self {
            Source::Server(client, _) => client.list_statements(Request::new(request)).await,
            Source::Local(service) => service.list_statements(Request::new(request)).await,
        };
        answer
            .map(tonic::Response::into_inner)
            .map_err(|status| self.refused(status))
    }

    async fn get(&mut self, id: u64) -> Result<pb::Statement, String> {
        let request = Request::new(pb::GetStatementRequest { id });
        let answer = match self {
            Source::Server(client, _) => client.get_statement(request).await,
            Source::Local(service) => service.get_statement(request).await,
        };
        answer
            .map(tonic::Response::into_inner)
            .map_err(|status| self.refused(status))
    }
}

fn instant(at: Option<&prost_types::Timestamp>) -> String {
    at.map(ToString::to_string).unwrap_or_default()
}

fn restates(statement: &pb::Statement) -> String {
    match (statement.restates_statement_id, statement.restates.as_str()) {
        (_, "") => "-".into(),
        (0, text) => format!("{text}: {}", statement.restatement_reason),
        (id, _) => format!("statement {id}: {}", statement.restatement_reason),
    }
}

/// A subscription's statements, one a row.
fn listing(statements: &[pb::Statement]) -> Table {
    let mut table = Table::new(&[
        "statement",
        "recorded",
        "policy",
        "term",
        "as of",
        "input digest",
        "restates",
    ]);
    for statement in statements {
        table.push(vec![
            statement.id.to_string(),
            instant(statement.recorded_at.as_ref()),
            statement.policy_id.clone(),
            format!("{} … {}", statement.term_start, statement.term_end),
            instant(statement.as_of.as_ref()),
            statement.input_digest.clone(),
            restates(statement),
        ]);
    }
    table
}

/// A month's history: for each statement covering it, newest first, the figures of its service
/// month that starts last on or before `last_day`, and what changed from the statement before it (the next row down).
fn history(statements: &[pb::Statement], last_day: &str) -> Table {
    let mut table = Table::new(&[
        "statement",
        "recorded",
        "status",
        "availability",
        "tier",
        "amount",
        "changed",
        "restates",
    ]);
    let month_of = |statement: &pb::Statement| {
        statement
            .months
            .iter()
            .filter(|m| m.month_start.as_str() <= last_day)
            .max_by(|a, b| a.month_start.cmp(&b.month_start))
            .cloned()
    };
    let figures = |m: &pb::MonthFigures| statement::Figures {
        month_start: m.month_start.clone(),
        status: output::short(m.status().as_str_name(), "MONTH_STATUS_"),
        availability: m.availability_percent.clone(),
        tier: m.tier,
        amount: m.compensation_amount.clone(),
    };
    for (index, statement) in statements.iter().enumerate() {
        let Some(month) = month_of(statement) else {
            continue;
        };
        let now = figures(&month);
        let changed = match statements[index + 1..].iter().find_map(month_of) {
            Some(before) => statement::describe(&figures(&before), &now),
            None => "first statement".into(),
        };
        table.push(vec![
            statement.id.to_string(),
            instant(statement.recorded_at.as_ref()),
            now.status.clone(),
            format!("{}%", now.availability),
            if now.tier == 0 {
                "-".into()
            } else {
                now.tier.to_string()
            },
            if now.amount.is_empty() {
                "-".into()
            } else {
                now.amount.clone()
            },
            changed,
            restates(statement),
        ]);
    }
    table
}

/// One statement: its row, then its months.
fn shown(statement: &pb::Statement) -> Table {
    let mut table = Table::new(&["", ""]);
    let mut line = |name: &str, value: String| table.push(vec![name.to_string(), value]);
    line("statement", statement.id.to_string());
    line("recorded", instant(statement.recorded_at.as_ref()));
    line("subscription", statement.subscription.clone());
    line(
        "policy",
        format!(
            "{} ({})",
            statement.policy_id,
            statement.policy_versions.join(", ")
        ),
    );
    line(
        "term",
        format!("{} … {}", statement.term_start, statement.term_end),
    );
    line("as of", instant(statement.as_of.as_ref()));
    line("input digest", statement.input_digest.clone());
    line("restates", restates(statement));
    line(
        "signed by",
        if statement.keyids.is_empty() {
            "-".into()
        } else {
            statement.keyids.join(", ")
        },
    );
    line("previous hash", statement.previous_hash.clone());
    line("hash", statement.hash.clone());
    for month in &statement.months {
        line(
            &format!("month {}", month.month_start),
            format!(
                "{} {}% tier {} {}",
                output::short(month.status().as_str_name(), "MONTH_STATUS_"),
                month.availability_percent,
                month.tier,
                month.compensation_amount
            ),
        );
    }
    table
}

/// `verify-store`'s flags.
#[derive(Debug, Args)]
pub struct VerifyStoreArgs {
    /// The ledger: sqlite:PATH or a postgres:// URL.
    #[arg(value_name = "URL")]
    pub url: String,
    /// Also check every signed statement's signatures against this public key (PEM), and that each
    /// row's response is the one signed; repeatable.
    #[arg(long, value_name = "PEM")]
    pub key: Vec<PathBuf>,
}

/// Rows read at once while walking the chain.
const PAGE: u32 = 500;

/// Runs `verify-store`: walks the chain from its first row to its head.
pub async fn verify_store(args: VerifyStoreArgs) -> ExitCode {
    let mut keys = Vec::new();
    for path in &args.key {
        match PublicKey::from_file(path) {
            Ok(key) => keys.push(key),
            Err(error) => return fail(&format!("--key {error}")),
        }
    }
    let store = match Store::open(&args.url, Open::Read).await {
        Ok(store) => store,
        Err(error) => return fail(&error),
    };
    let name = store.name().to_string();
    let head = match store.head().await {
        Ok(head) => head,
        Err(error) => return fail(&error),
    };
    let mut check = ChainCheck::default();
    let (mut after, mut signed) = (0, 0u64);
    loop {
        let rows = match store.rows_after(after, PAGE).await {
            Ok(rows) => rows,
            Err(error) => return fail(&error),
        };
        let Some(last) = rows.last() else { break };
        after = last.id;
        for row in &rows {
            if let Err(broken) = check.push(row) {
                return fail(&format!("{name}: BROKEN: {broken}"));
            }
            if !keys.is_empty() {
                match signature(row, &keys) {
                    Ok(true) => signed += 1,
                    Ok(false) => {}
                    Err(message) => {
                        return fail(&format!("{name}: BROKEN: statement {}: {message}", row.id));
                    }
                }
            }
        }
    }
    match check.finish(&head) {
        Ok(head) => {
            let signatures = if keys.is_empty() {
                String::new()
            } else {
                format!("; {signed} signed statements verified")
            };
            println!(
                "{name}: {} statements, chain intact from statement 1 to its head {} \
                 ({}){signatures}",
                head.last_id, head.last_id, head.last_hash
            );
            ExitCode::SUCCESS
        }
        Err(broken) => fail(&format!("{name}: BROKEN: {broken}")),
    }
}

/// Whether the row's response is signed (and then that the signature and payload hold).
fn signature(row: &statement::Row, keys: &[PublicKey]) -> Result<bool, String> {
    let response = pb::EvaluateResponse::decode(row.entry.response.as_slice())
        .map_err(|error| format!("its response is not an EvaluateResponse: {error}"))?;
    let Some(message) = &response.statement else {
        return Ok(false);
    };
    statement::verify(&envelope(message), keys).map_err(|error| error.to_string())?;
    let mut outside = response.clone();
    outside.statement = None;
    if pb::EvaluateResponse::decode(message.payload.as_slice()).ok() != Some(outside) {
        return Err("its response is not the one its statement signed".into());
    }
    Ok(true)
}
