//! A real headless browser, Debian's `chromium`, for the tests that look at a rendered page.
//!
//! A missing browser is installed on first use, or fails the test with what to install
//! (`system_tool`); nothing is skipped. `CHROMIUM` may name another binary. Each run gets a fresh profile and
//! every background service turned off: the machines these tests run on have no network, and a
//! browser that tries to reach one stalls.
#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::tools::system_tool;

/// The longest one browser run may take.
const TIMEOUT: Duration = Duration::from_secs(120);

/// One browser at a time: each starts several processes, and the test machines have two cores.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn binary() -> PathBuf {
    match std::env::var_os("CHROMIUM") {
        Some(named) => named.into(),
        None => system_tool("chromium"),
    }
}

/// Runs the browser headless on `page` with `action` (e.g. `--dump-dom`) and returns its standard
/// output.
fn run(page: &Path, action: &[String]) -> String {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let scratch = tempfile::tempdir().unwrap();
    let profile = scratch.path().join("profile");
    let stdout_path = scratch.path().join("stdout");
    let stderr_path = scratch.path().join("stderr");
    let binary = binary();
    let mut command = Command::new(&binary);
    command
        .args([
            "--headless",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()));
    // As root (CI's containers) Chromium refuses to start without this.
    if is_root() {
        command.arg("--no-sandbox");
    }
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let mut child = command
        .args(action)
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).unwrap())
        .stderr(File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {}: {error}", binary.display()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} did not finish {action:?} within {TIMEOUT:?}; its stderr:\n{}",
                binary.display(),
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "{} {action:?} failed ({status}); its stderr:\n{}",
        binary.display(),
        std::fs::read_to_string(&stderr_path).unwrap_or_default()
    );
    std::fs::read_to_string(&stdout_path).unwrap()
}

/// Whether the tests run as root: Chromium's sandbox cannot run as root.
fn is_root() -> bool {
    // Reading the effective uid from /proc avoids a libc dependency for one number.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("Uid:"))
                .and_then(|line| line.split_whitespace().nth(2).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

/// The page's DOM after the browser loaded it, serialised.
pub(crate) fn dump_dom(page: &Path) -> String {
    run(page, &["--dump-dom".into()])
}

/// A screenshot of the page's first `width` × `height` pixels, as PNG at `png`.
pub(crate) fn screenshot(page: &Path, png: &Path, width: u32, height: u32) {
    run(
        page,
        &[
            format!("--screenshot={}", png.display()),
            format!("--window-size={width},{height}"),
        ],
    );
}

/// The page printed to PDF at `pdf`, through its print style sheet.
pub(crate) fn print_to_pdf(page: &Path, pdf: &Path) {
    run(
        page,
        &[
            format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer".into(),
        ],
    );
}

/// A PNG's width and height, from its IHDR chunk; panics when the file is not a PNG.
pub(crate) fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(
        png.len() > 24 && png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR",
        "not a PNG"
    );
    let number = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (number(16), number(20))
}
