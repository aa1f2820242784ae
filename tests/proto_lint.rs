//! The proto is an API contract: `buf lint` (STANDARD and COMMENTS rules, see buf.yaml) must pass.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use common::tools::{succeed, tool};

#[test]
fn buf_lint_passes() {
    let mut buf = tool("buf");
    buf.arg("lint");
    let out = succeed(buf, "");
    assert!(out.trim().is_empty(), "buf lint reported:\n{out}");
}
