//! A bucket file larger than the memory `evaluate` takes streams through it: fed eight years of
//! per-minute buckets (about 110 MB) on standard input, the process's peak memory stays a
//! fraction of that, and no more than for a quarter of the input.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::process::Stdio;

use chrono::{DateTime, SecondsFormat};
use common::cli::sla;

/// 2016-01-01T00:00:00+08:00.
const START: i64 = 1_451_577_600;

/// Peak resident memory of a running process, in kB (Linux).
fn peak_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Feeds `minutes` per-minute buckets from 2016 on standard input to an evaluation of 2016 and
/// 2017 (later buckets are outside the term: read, counted and ignored); returns the bytes
/// written and the process's peak memory in bytes.
fn stream(minutes: i64) -> (usize, u64) {
    let mut child = sla(&[
        "evaluate",
        "--policy",
        "tencent-im",
        "--term",
        "2016-01-01..2017-12-31",
        "--as-of",
        "2026-01-01T00:00:00Z",
        "--threads",
        "2",
        "--format",
        "csv",
        "-",
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let mut written = 0usize;
        let mut peak = 0;
        let mut text = String::from("start,total,failed\n");
        for minute in 0..minutes {
            let start = DateTime::from_timestamp(START + 60 * minute, 0).unwrap();
            let failed = u64::from(minute % 1_000 == 0) * 7;
            text.push_str(&start.to_rfc3339_opts(SecondsFormat::Secs, true));
            text.push_str(&format!(",120,{failed}\n"));
            if text.len() > 1 << 20 {
                stdin.write_all(text.as_bytes()).unwrap();
                written += text.len();
                text.clear();
                peak = peak.max(peak_kb(pid).unwrap_or(0));
            }
        }
        stdin.write_all(text.as_bytes()).unwrap();
        written += text.len();
        peak = peak.max(peak_kb(pid).unwrap_or(0));
        (written, peak)
    });
    let (written, peak) = writer.join().unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let csv = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        csv.lines().count(),
        1 + 24,
        "two years of months and a header"
    );
    (written, peak * 1024)
}

/// Four times the input costs little more memory: what is held is the blocks in flight and the
/// term's ledger, never the file. Reading the file whole would grow the peak by at least the
/// added input; streaming may grow it by the ledger's fuller months and by how many blocks the
/// threads happen to hold at once (more on a loaded machine), so the bound is a quarter of it.
#[test]
fn a_file_larger_than_its_memory_streams_through() {
    let (quarter_bytes, quarter_peak) = stream(731 * 1_440);
    let (bytes, peak) = stream(4 * 731 * 1_440);
    assert!(bytes > 100 << 20, "{bytes} bytes written");
    let added = (bytes - quarter_bytes) as u64;
    let shown = |b: u64| b >> 20;
    assert!(
        peak < quarter_peak + added / 4,
        "peak memory {} MB for {} MB of input, {} MB for {} MB",
        shown(peak),
        shown(bytes as u64),
        shown(quarter_peak),
        shown(quarter_bytes as u64)
    );
}
