//! `sla-load`: streams synthetic per-minute buckets to an `sla-evaluator` server and reports the
//! throughput as one JSON line. Every response is checked against an independent reference: a wrong
//! availability fails the run, however fast it was.
//!
//! Without `--target` it starts its own server (the `sla-evaluator` binary next to it) and reports
//! that server's peak memory.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use prost::Message;
use sla_evaluator::api::pb::{self, evaluate_request::Item};
use sla_evaluator::policy::{Method, PolicySet, TimesliceRule};
use tokio::sync::{Barrier, Semaphore, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};
use wire::Outgoing;
use workload::{Term, minute_columns, reference};

mod wire;
mod workload;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Streams S subscriptions × M months of per-minute buckets over C concurrent streams and N
/// connections, checks every answer, and prints one JSON line of figures.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The server to load, HOST:PORT. Without it, sla-load starts its own server.
    #[arg(long)]
    target: Option<String>,
    /// How buckets travel: packed `columns` or readable `rows`.
    #[arg(long, value_enum, default_value_t = Form::Columns)]
    form: Form,
    /// Subscriptions to evaluate; one Evaluate stream each.
    #[arg(long, default_value_t = 8)]
    subscriptions: u64,
    /// Length of each subscription's term, in calendar months from 2023-01.
    #[arg(long, default_value_t = 12)]
    months: u32,
    /// Streams open at once.
    #[arg(long, default_value_t = 4)]
    streams: usize,
    /// HTTP/2 connections the streams are spread over.
    #[arg(long, default_value_t = 2)]
    connections: usize,
    /// Buckets per message.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// With columns: how the starts travel, as deltas (one byte per consecutive minute) or as
    /// absolute Unix seconds.
    #[arg(long, value_enum, default_value_t = Starts::Deltas)]
    starts: Starts,
    /// The policy evaluated under.
    #[arg(long, default_value = "tencent-trtc")]
    policy: String,
    /// Keep every stream open until all streams have sent all their buckets, so that the server
    /// holds all of them at once (for memory figures).
    #[arg(long)]
    hold: bool,
    /// The target server's process id, to report its peak memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Write subscription 0's whole Evaluate request body (gRPC-framed messages) to this file and
    /// exit, for replaying with h2load.
    #[arg(long)]
    write_body: Option<PathBuf>,
    /// Check a captured Evaluate response body (gRPC-framed) for subscription 0 and exit.
    #[arg(long)]
    check_response: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Starts {
    Deltas,
    Absolute,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Form {
    Columns,
    Rows,
}

impl Form {
    fn name(self) -> &'static str {
        match self {
            Form::Columns => "columns",
            Form::Rows => "rows",
        }
    }
}

/// What every stream needs to know.
struct Plan {
    policy: String,
    term: Term,
    form: Form,
    starts: Starts,
    batch: usize,
    /// Expected (bad units, total units) per month, per subscription.
    expected: Vec<Vec<(u64, u64)>>,
    /// The policy's standard, in ten-thousandths of a percentage point.
    standard_units: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    // The client's messages are as large as the server's: without this, perf of a rows run put a
    // third of the machine's CPU in the client zeroing fresh huge pages.
    sla_evaluator::allocator::no_huge_pages();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sla-load: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let policies = PolicySet::built_in().map_err(|e| e.to_string())?;
    let policy = policies
        .get(&args.policy)
        .ok_or_else(|| format!("no built-in policy {}", args.policy))?;
    let (slice, bound) = match policy.method {
        Method::Occurrences { .. } => (0, None),
        Method::MeanErrorRate { .. } => {
            return Err("the reference handles timeslices and occurrences only".into());
        }
        Method::Timeslices {
            slice_minutes,
            bad_slice,
            ..
        } => (
            u64::from(slice_minutes),
            match bad_slice {
                TimesliceRule::AllFailed => None,
                TimesliceRule::SuccessRateBelow(bound) => {
                    let units = u64::from(bound.units());
                    if units % 10_000 != 0 {
                        return Err("the reference handles whole-percent bounds only".into());
                    }
                    Some(units / 10_000)
                }
            },
        ),
    };
    let term = Term::months(args.months);
    if args.batch == 0 || args.streams == 0 || args.connections == 0 {
        return Err("--batch, --streams and --connections must be at least 1".into());
    }
    if args.hold && (args.streams as u64) < args.subscriptions {
        return Err(format!(
            "--hold keeps every stream open until all have sent everything, so it needs \
             --streams {} (one per subscription), not {}",
            args.subscriptions, args.streams
        ));
    }
    let standard_units = u64::from(policy.standard.units());

    if let Some(path) = &args.write_body {
        let plan = plan(&args, term, vec![], standard_units);
        let body: Vec<u8> = requests(&plan, 0).iter().flat_map(grpc_frame).collect();
        std::fs::write(path, &body).map_err(|e| format!("{}: {e}", path.display()))?;
        println!(
            "{{\"body_bytes\":{},\"buckets\":{}}}",
            body.len(),
            plan.term.minutes()
        );
        return Ok(());
    }
    // Computed before the clock starts, and without the engine.
    let expected: Vec<Vec<(u64, u64)>> = (0..args.subscriptions.max(1))
        .map(|s| reference::months(s, &term, slice, bound))
        .collect();
    if let Some(path) = &args.check_response {
        let body = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let response = pb::EvaluateResponse::decode(body.get(5..).unwrap_or_default())
            .map_err(|e| format!("{}: not an EvaluateResponse: {e}", path.display()))?;
        let plan = plan(&args, term, expected, standard_units);
        check(&response, &plan, 0)?;
        println!("{{\"checked\":true,\"months\":{}}}", response.months.len());
        return Ok(());
    }
    let plan = Arc::new(plan(&args, term, expected, standard_units));

    let mut own_server = None;
    let (target, server_pid) = match &args.target {
        Some(target) => (target.clone(), args.server_pid),
        None => {
            let (child, addr) = start_server(args.streams)?;
            let pid = child.id();
            own_server = Some(OwnServer(child));
            (addr.to_string(), Some(pid))
        }
    };
    let baseline_rss = server_pid.and_then(|pid| memory(pid, "VmRSS"));

    let mut channels = Vec::new();
    for _ in 0..args.connections {
        let channel = Endpoint::from_shared(format!("http://{target}"))
            .map_err(|e| e.to_string())?
            .initial_stream_window_size(1 << 20)
            .initial_connection_window_size(8 << 20)
            .tcp_nodelay(true)
            .connect()
            .await
            .map_err(|e| format!("cannot connect to {target}: {e}"))?;
        channels.push(channel);
    }

    let started = Instant::now();
    let server_cpu_before = server_pid.and_then(cpu_seconds);
    let client_cpu_before = cpu_seconds(std::process::id());
    let slots = Arc::new(Semaphore::new(args.streams));
    let hold = args
        .hold
        .then(|| Arc::new(Barrier::new(args.subscriptions as usize)));
    let mut tasks = Vec::new();
    for subscription in 0..args.subscriptions {
        let channel = channels[subscription as usize % channels.len()].clone();
        let (plan, slots, hold) = (Arc::clone(&plan), Arc::clone(&slots), hold.clone());
        tasks.push(tokio::spawn(async move {
            let _slot = slots
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            stream(channel, &plan, subscription, hold).await
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    for task in tasks {
        latencies.push(task.await.map_err(|e| e.to_string())??);
    }
    let seconds = started.elapsed().as_secs_f64();
    let peak_rss = server_pid.and_then(|pid| memory(pid, "VmHWM"));
    // CPU seconds each side spent during the run: on a shared machine the wall clock mixes the
    // client's cost with the server's, these do not.
    let spent = |pid: u32, before: Option<f64>| Some(cpu_seconds(pid)? - before?);
    let server_cpu = server_pid.and_then(|pid| spent(pid, server_cpu_before));
    let client_cpu = spent(std::process::id(), client_cpu_before);
    drop(own_server);

    latencies.sort();
    let percentile = |p: usize| {
        let index = (latencies.len() * p).div_ceil(100).saturating_sub(1);
        latencies
            .get(index)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let buckets = args.subscriptions * plan.term.minutes();
    let json = |v: Option<u64>| v.map_or("null".to_string(), |v| v.to_string());
    let seconds_json = |v: Option<f64>| v.map_or("null".to_string(), |v| format!("{v:.6}"));
    let per_million = |v: Option<f64>| v.map(|v| v * 1e6 / buckets as f64);
    println!(
        "{{\"form\":\"{}\",\"streams\":{},\"buckets\":{buckets},\"seconds\":{seconds:.3},\
         \"buckets_per_second\":{:.0},\"p50_stream_ms\":{:.1},\"p99_stream_ms\":{:.1},\
         \"server_peak_rss_bytes\":{},\"server_baseline_rss_bytes\":{},\"subscriptions\":{},\
         \"months\":{},\"connections\":{},\"batch\":{},\"policy\":\"{}\",\"starts\":\"{}\",\
         \"server_cpu_seconds\":{},\"server_cpu_seconds_per_million_buckets\":{},\
         \"client_cpu_seconds\":{},\"client_cpu_seconds_per_million_buckets\":{}}}",
        args.form.name(),
        args.streams,
        buckets as f64 / seconds,
        percentile(50),
        percentile(99),
        json(peak_rss),
        json(baseline_rss),
        args.subscriptions,
        args.months,
        args.connections,
        args.batch,
        args.policy,
        match (args.form, args.starts) {
            (Form::Rows, _) => "timestamps",
            (Form::Columns, Starts::Deltas) => "deltas",
            (Form::Columns, Starts::Absolute) => "absolute",
        },
        seconds_json(server_cpu),
        seconds_json(per_million(server_cpu)),
        seconds_json(client_cpu),
        seconds_json(per_million(client_cpu)),
    );
    std::io::stdout().flush().ok();
    Ok(())
}

fn plan(args: &Args, term: Term, expected: Vec<Vec<(u64, u64)>>, standard_units: u64) -> Plan {
    Plan {
        standard_units,
        policy: args.policy.clone(),
        term,
        form: args.form,
        starts: args.starts,
        batch: args.batch,
        expected,
    }
}

/// The first message of a subscription's stream.
fn spec(plan: &Plan) -> pb::EvaluateRequest {
    pb::EvaluateRequest {
        item: Some(Item::Spec(pb::EvaluationSpec {
            policy_id: plan.policy.clone(),
            term_start: plan.term.first_day.to_string(),
            term_end: plan.term.last_day.to_string(),
            ..Default::default()
        })),
    }
}

/// Bucket message number `index` of a subscription's stream.
fn batch(plan: &Plan, subscription: u64, index: u64) -> Outgoing {
    let first = index * plan.batch as u64;
    let count = (plan.term.minutes() - first).min(plan.batch as u64);
    let (starts, totals, failed) = minute_columns(subscription, plan.term.start_unix, first, count);
    let item = match plan.form {
        Form::Rows => return Outgoing::Encoded(wire::rows(&starts, 60, &totals, &failed)),
        Form::Columns => Item::Columns(match plan.starts {
            Starts::Absolute => pb::BucketColumns {
                duration_seconds: 60,
                start_unix_seconds: starts,
                total: totals,
                failed,
                ..Default::default()
            },
            Starts::Deltas => pb::BucketColumns {
                duration_seconds: 60,
                start_base_unix_seconds: starts[0] - 60,
                start_delta_seconds: vec![60; starts.len()],
                total: totals,
                failed,
                ..Default::default()
            },
        }),
    };
    Outgoing::Message(Box::new(pb::EvaluateRequest { item: Some(item) }))
}

fn batches(plan: &Plan) -> u64 {
    plan.term.minutes().div_ceil(plan.batch as u64)
}

fn requests(plan: &Plan, subscription: u64) -> Vec<Outgoing> {
    std::iter::once(Outgoing::Message(Box::new(spec(plan))))
        .chain((0..batches(plan)).map(|i| batch(plan, subscription, i)))
        .collect()
}

/// A message as it travels in a gRPC body: uncompressed flag, big-endian length, bytes.
fn grpc_frame(message: &Outgoing) -> Vec<u8> {
    let bytes = message.to_bytes();
    let mut frame = Vec::with_capacity(5 + bytes.len());
    frame.push(0);
    frame.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    frame.extend_from_slice(&bytes);
    frame
}

/// One subscription's stream: sends everything, waits for the answer, checks it.
async fn stream(
    channel: Channel,
    plan: &Plan,
    subscription: u64,
    hold: Option<Arc<Barrier>>,
) -> Result<Duration, String> {
    let started = Instant::now();
    let (tx, rx) = mpsc::channel(2);
    let call = tokio::spawn(wire::evaluate(channel, ReceiverStream::new(rx)));
    // A send fails only when the call has ended early; its status then says why.
    if tx
        .send(Outgoing::Message(Box::new(spec(plan))))
        .await
        .is_ok()
    {
        for index in 0..batches(plan) {
            if tx.send(batch(plan, subscription, index)).await.is_err() {
                break;
            }
        }
    }
    // Even a failed stream arrives at the barrier, or every other stream would wait forever.
    if let Some(hold) = hold {
        hold.wait().await;
    }
    drop(tx);
    let response = call
        .await
        .map_err(|e| e.to_string())?
        .map_err(|status| format!("subscription {subscription}: {status}"))?;
    check(&response, plan, subscription)?;
    Ok(started.elapsed())
}

/// Checks an answer against the independent reference: every month's units, its availability as
/// shown, whether it met the standard, and that every bucket was taken.
fn check(response: &pb::EvaluateResponse, plan: &Plan, subscription: u64) -> Result<(), String> {
    let expected = &plan.expected[subscription as usize];
    let wrong = |what: String| Err(format!("subscription {subscription}: wrong answer: {what}"));
    if response.months.len() != expected.len() {
        return wrong(format!(
            "{} months, expected {}",
            response.months.len(),
            expected.len()
        ));
    }
    for (month, &(bad, total)) in response.months.iter().zip(expected) {
        let good = u128::from(total - bad);
        let (percent, met) = if total == 0 {
            ("100.0000".to_string(), true)
        } else {
            let units = good * 1_000_000 / u128::from(total);
            let met = good * 1_000_000 >= u128::from(plan.standard_units) * u128::from(total);
            (format!("{}.{:04}", units / 10_000, units % 10_000), met)
        };
        let got = (
            month.bad_units,
            month.total_units,
            month.availability_percent.as_str(),
            month.standard_met,
        );
        if got != (bad, total, percent.as_str(), met) {
            return wrong(format!(
                "{}: (bad, total, availability, met) = {got:?}, expected {:?}",
                month.month_start,
                (bad, total, percent, met)
            ));
        }
    }
    let ingest = response.ingest.unwrap_or_default();
    if (ingest.buckets_accepted, ingest.buckets_ignored) != (plan.term.minutes(), 0) {
        return wrong(format!(
            "{} buckets accepted and {} ignored, expected {} and 0",
            ingest.buckets_accepted,
            ingest.buckets_ignored,
            plan.term.minutes()
        ));
    }
    Ok(())
}

/// The server this tool started; stopped however the run ends, so a failed run leaves no server
/// behind.
struct OwnServer(Child);

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// Starts `sla-evaluator` from next to this binary on an ephemeral port.
fn start_server(streams: usize) -> Result<(Child, SocketAddr), String> {
    let binary = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .with_file_name("sla-evaluator");
    // Room for every stream asked for, whatever the production defaults.
    let streams = streams.max(1024).to_string();
    let mut child = Command::new(&binary)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "off",
            "--max-concurrent-calls",
            &streams,
            "--max-concurrent-streams",
            &streams,
            "--log-format",
            "json",
            "--log",
            "warn,sla_evaluator=info",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    loop {
        let line = lines
            .next()
            .ok_or("the server exited before listening")?
            .map_err(|e| e.to_string())?;
        if let Some(addr) = line
            .split("\"listen\":\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
        {
            let addr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
            std::thread::spawn(move || lines.for_each(drop));
            return Ok((child, addr));
        }
    }
}

/// The CPU seconds (user and system, of every thread, ended ones included) a process has used:
/// its CPU-time clock, the count `/proc/<pid>/stat` reports rounded to clock ticks, read to the
/// nanosecond. In ticks (10 ms) a run of a few milliseconds read as none, and a 0.2 s run was
/// known to 5%.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let pid = libc::pid_t::try_from(pid).ok()?;
    let mut clock: libc::clockid_t = 0;
    // SAFETY: both calls only write the value their pointer names, which lives through the call.
    let time = unsafe {
        if libc::clock_getcpuclockid(pid, &mut clock) != 0 {
            return None;
        }
        let mut time = std::mem::zeroed::<libc::timespec>();
        if libc::clock_gettime(clock, &mut time) != 0 {
            return None;
        }
        time
    };
    Some(time.tv_sec as f64 + time.tv_nsec as f64 * 1e-9)
}

/// A memory figure of a process from /proc, in bytes (VmRSS now, VmHWM the peak).
fn memory(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
