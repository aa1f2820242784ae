//! The real binary as a separate process, for tests that measure what the operating system sees
//! (resident memory, open descriptors) or attack it over raw sockets.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many of its latest log lines a [`Binary`] keeps.
const MAX_KEPT_LOG_LINES: usize = 10_000;

/// A running `sla-evaluator`, killed when dropped.
pub(crate) struct Binary {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
    pub(crate) metrics: SocketAddr,
    /// Every line it has logged so far (JSON).
    logs: Arc<Mutex<Vec<String>>>,
}

impl Binary {
    /// Starts the binary on ephemeral ports with `extra` flags, and reads the addresses it logged.
    pub(crate) fn start(extra: &[&str]) -> Binary {
        Binary::start_with_env(extra, &[])
    }

    /// As [`Binary::start`], with environment variables set.
    pub(crate) fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Binary {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sla-evaluator"));
        command.envs(env.iter().copied());
        Binary::launch(command, extra)
    }

    /// As [`Binary::start`], under the descriptor limits a shell's `ulimit` sets first
    /// (`ulimit_args`, e.g. `-S -n 256`, or `-n 256` for both the soft and the hard limit).
    pub(crate) fn start_with_ulimit(ulimit_args: &str, extra: &[&str]) -> Binary {
        let mut command = Command::new("sh");
        command.args([
            "-c",
            &format!("ulimit {ulimit_args} && exec \"$0\" \"$@\""),
            env!("CARGO_BIN_EXE_sla-evaluator"),
        ]);
        Binary::launch(command, extra)
    }

    fn launch(mut command: Command, extra: &[&str]) -> Binary {
        let mut child = command
            .args([
                "--listen",
                "127.0.0.1:0",
                "--log-format",
                "json",
                "--metrics-listen",
                "127.0.0.1:0",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sla-evaluator");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (addr, metrics) = loop {
            let line = lines
                .next()
                .expect("the server logs before exiting")
                .unwrap();
            logs.lock().unwrap().push(line.clone());
            let log: serde_json::Value = serde_json::from_str(&line).unwrap();
            if let Some(listen) = log["fields"]["listen"].as_str() {
                let metrics = log["fields"]["metrics_listen"].as_str().unwrap();
                break (listen.parse().unwrap(), metrics.parse().unwrap());
            }
        };
        // Keep draining the logs so the server never blocks on a full pipe.
        let kept = Arc::clone(&logs);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let mut kept = kept.lock().unwrap();
                // A long run (tests/soak.rs) keeps its latest lines only.
                if kept.len() >= MAX_KEPT_LOG_LINES {
                    kept.drain(..MAX_KEPT_LOG_LINES / 2);
                }
                kept.push(line);
            }
        });
        Binary {
            child,
            addr,
            metrics,
            logs,
        }
    }

    /// What it has logged so far, one JSON object a line.
    pub(crate) fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// The first kept line that `wanted` accepts, waiting up to ten seconds for it.
    pub(crate) fn log_line(&self, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(line) = self.logs.lock().unwrap().iter().find(|l| wanted(l)) {
                return line.clone();
            }
            assert!(Instant::now() < deadline, "no such line was logged");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends it a signal by name (`HUP`, `TERM`).
    pub(crate) fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for it to exit by itself (after a signal), up to `within`.
    pub(crate) fn wait_for_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The `http://` endpoint of its gRPC listener.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its resident memory, in bytes (from /proc).
    pub(crate) fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        kib * 1024
    }

    /// Its peak resident memory, in bytes.
    pub(crate) fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        kib * 1024
    }

    /// The CPU time it has used so far, user and system (from /proc, in clock ticks of 10 ms).
    pub(crate) fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // The fields after the command name (which may hold spaces) in parentheses.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        Duration::from_millis(ticks * 10)
    }

    /// Its soft and hard limits of open descriptors (from /proc).
    pub(crate) fn descriptor_limits(&self) -> (u64, u64) {
        let limits = std::fs::read_to_string(format!("/proc/{}/limits", self.child.id())).unwrap();
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap();
        let numbers: Vec<u64> = line
            .split_whitespace()
            .filter_map(|word| word.parse().ok())
            .collect();
        (numbers[0], numbers[1])
    }

    /// How many file descriptors it holds, leaving out its own reads of `/proc`: the metrics'
    /// process collector opens `/proc/<pid>` and its `stat` for the moment of a scrape, and a
    /// count taken in that moment is two higher than what the process holds.
    pub(crate) fn descriptors(&self) -> usize {
        self.descriptor_targets().len()
    }

    /// Each descriptor it holds (its own reads of `/proc` left out) and what it points at: what
    /// a failed count prints.
    pub(crate) fn descriptor_targets(&self) -> Vec<String> {
        let mut targets: Vec<String> = std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .unwrap()
            .filter_map(Result::ok)
            .filter_map(|entry| {
                // A descriptor closed between the listing and the read is not held.
                let target = std::fs::read_link(entry.path()).ok()?;
                (!target.starts_with("/proc/")).then(|| {
                    format!(
                        "{} -> {}",
                        entry.file_name().to_string_lossy(),
                        target.display()
                    )
                })
            })
            .collect();
        targets.sort();
        targets
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
