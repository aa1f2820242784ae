//! The Python client package (`clients/python`) as its users get it: `pip install ./clients/python`
//! into the tests' venv, then its pytest suite against real servers, one of them shedding load so
//! that the shipped service config's retries are seen to work.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::server::{Setup, TestServer};
use common::tools::{succeed, tool, venv};
use sha2::{Digest, Sha256};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The files the package is built from: its own sources, the proto and the service config.
fn package_sources() -> Vec<PathBuf> {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !["build", "__pycache__"].contains(&name.as_str())
                    && !name.ends_with(".egg-info")
                {
                    walk(&path, files);
                }
            } else {
                files.push(path);
            }
        }
    }
    let root = Path::new(ROOT);
    let mut files = vec![
        root.join("proto/sla/v1/sla.proto"),
        root.join("clients/service-config.json"),
    ];
    walk(&root.join("clients/python"), &mut files);
    files.sort();
    files
}

/// Installs the package into the venv the way its README says, unless this very source is
/// installed already (the build, which generates the stubs, takes about 20 s).
fn install_package() {
    let mut digest = Sha256::new();
    for file in package_sources() {
        digest.update(file.to_string_lossy().as_bytes());
        digest.update(std::fs::read(&file).unwrap());
    }
    let fingerprint = format!("{:x}", digest.finalize());
    let marker = venv().join("sla-evaluator-client.installed");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(fingerprint.as_str()) {
        return;
    }
    let mut pip = tool("pip");
    pip.args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--force-reinstall",
        "--no-deps",
        "./clients/python",
    ]);
    succeed(pip, "");
    std::fs::write(&marker, fingerprint).unwrap();
}

#[test]
fn the_python_package_installs_and_passes_its_tests_against_a_real_server() {
    install_package();
    let server = TestServer::start();
    let mut setup = Setup::default();
    setup.options.calls.max_concurrent = 1;
    setup.metrics_listener = true;
    let shedding = TestServer::build(setup);

    let mut pytest = tool("python");
    pytest
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA"])
        .arg("clients/python/tests")
        .env("SLA_TARGET", server.addr.to_string())
        .env("SLA_SHEDDING_TARGET", shedding.addr.to_string())
        .env(
            "SLA_SHEDDING_METRICS",
            format!("http://{}/metrics", shedding.metrics_addr.unwrap()),
        )
        .env(
            "SLA_SERVICE_CONFIG",
            Path::new(ROOT).join("clients/service-config.json"),
        );
    let out = succeed(pytest, "");
    let summary = out.lines().last().unwrap_or_default();
    let passed: usize = summary
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no pytest summary in:\n{out}"));
    assert!(passed >= 21, "{out}");
    assert!(
        !summary.contains("skipped") && !summary.contains("xfail") && !summary.contains("error"),
        "every test runs: {summary}"
    );
    assert!(
        out.contains("PASSED clients/python/tests/test_client.py::test_with_the_service_config_a_shed_call_is_retried_and_succeeds"),
        "{out}"
    );
}
