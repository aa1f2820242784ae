//! A Python grpcio client, with stubs generated at test time from `proto/` as shipped, proves a
//! second language can use the API.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use common::server::TestServer;
use common::tools::{succeed, tool};
use serde_json::Value;

#[test]
fn python_evaluates_and_classifies() {
    let server = TestServer::start();
    let mut python = tool("python");
    python
        .arg("tests/python/client.py")
        .arg(server.addr.to_string())
        .arg("proto");
    let out = succeed(python, "");
    let result: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(result["availability_percent"], "99.9327");
    assert_eq!(result["bad_units"], 30);
    assert_eq!(result["standard_met"], true);
    // 50 million messages passes the standard account's threshold, not the gateway's.
    assert_eq!(result["verdict"], "VERDICT_NEEDS_REVIEW");
    assert_eq!(result["clause_id"], "4.10");
    assert_eq!(
        result["missing_facts"],
        serde_json::json!(["facts.account_kind"])
    );
    assert_eq!(result["get_unknown_policy"], "NOT_FOUND");
}
