//! The container and Kubernetes files: linted and validated offline, and kept consistent with the
//! binary they run.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::tools::{succeed, tool};
use sla_evaluator::policy::PolicySet;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn manifests() -> Vec<String> {
    let mut paths: Vec<String> = std::fs::read_dir(Path::new(ROOT).join("deploy/kubernetes"))
        .unwrap()
        .map(|entry| entry.unwrap().path().display().to_string())
        .filter(|path| path.ends_with(".yaml"))
        .collect();
    paths.sort();
    paths
}

#[test]
fn hadolint_passes_the_dockerfile() {
    let mut hadolint = tool("hadolint");
    hadolint.arg("Dockerfile");
    let out = succeed(hadolint, "");
    assert!(out.trim().is_empty(), "hadolint reported:\n{out}");
}

#[test]
fn every_manifest_validates_strictly_offline() {
    let paths = manifests();
    assert_eq!(paths.len(), 5, "{paths:?}");
    // The oldest Kubernetes with GA gRPC probes we promise, and the newest the validator knows.
    for version in ["1.30.0", "1.37.0"] {
        let mut validate = tool("kubernetes-validate");
        validate
            .args(["--strict", "--quiet", "-k", version])
            .args(&paths);
        succeed(validate, "");
    }
}

#[test]
fn the_configmap_policy_loads() {
    let configmap = read("deploy/kubernetes/configmap.yaml");
    let mut lines = configmap
        .lines()
        .skip_while(|l| !l.trim_end().ends_with(".toml: |"));
    let name = lines
        .next()
        .expect("a policy file in the ConfigMap")
        .trim()
        .trim_end_matches(": |")
        .to_string();
    let toml: String = lines
        .take_while(|l| l.is_empty() || l.starts_with("    "))
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    let set = PolicySet::built_in()
        .unwrap()
        .with_policy_text(&name, &toml)
        .unwrap();
    assert!(set.get("example-internal-api").is_some());
}

#[test]
fn manifests_only_set_variables_the_binary_reads() {
    let help = Command::new(env!("CARGO_BIN_EXE_sla-evaluator"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let deployment = read("deploy/kubernetes/deployment.yaml");
    let variables: Vec<&str> = deployment
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- name: "))
        .filter(|name| name.starts_with("SLA_"))
        .collect();
    assert!(variables.len() >= 5, "{variables:?}");
    for variable in variables {
        assert!(
            help.contains(&format!("[env: {variable}=")),
            "{variable} is not a flag of sla-evaluator"
        );
    }
    // The mounted policies and the policy directory agree.
    assert!(deployment.contains("value: /etc/sla-evaluator/policies"));
    assert!(deployment.contains("mountPath: /etc/sla-evaluator/policies"));
}

#[test]
fn ci_builds_what_the_dockerfile_builds() {
    let dockerfile = read("Dockerfile");
    let ci = read(".ci/run");
    let command = "cargo build --release --locked";
    assert!(
        dockerfile.contains(&format!("&& {command}\n")),
        "the Dockerfile builds with {command}"
    );
    assert!(
        ci.lines().any(|l| l.trim() == command),
        ".ci/run runs {command}"
    );
}
