//! Policies as a maintained catalogue, through the real binary: versions by effective date,
//! reloads on SIGHUP and on file changes (a ConfigMap's symlink swap included), `check-policy`,
//! and the format's documentation and JSON Schema kept in step with the parser.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::cli::{Files, refused, sla, stdout};
use common::process::Binary;
use common::requests::{APRIL_2024, bare_spec, buckets, hour_outage, spec_message};
use common::scrape::{labelled, scrape, wait_for_open_streams};
use common::tools::{succeed, tool};
use sla_evaluator::api::pb::{self, sla_evaluator_client::SlaEvaluatorClient};
use sla_evaluator::policy::Cause;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const IM: &str = include_str!("../policies/tencent-im.toml");
/// 2024-05-01T00:00:00+08:00.
const MAY_2024: i64 = APRIL_2024 + 30 * 86_400;

/// The IM policy as another version: `label`, taking effect on `from` (none: from the
/// beginning), paying `fee` in its first tier instead of 10%.
fn im_version(id: &str, label: &str, from: Option<&str>, fee: &str) -> String {
    let dated = match from {
        Some(day) => format!("version = \"{label}\"\neffective_from = \"{day}\""),
        None => format!("version = \"{label}\""),
    };
    IM.replace("id = \"tencent-im\"", &format!("id = \"{id}\""))
        .replace("version = \"2021-12-24\"", &dated)
        .replace(
            "{ at_least = \"95\", below = \"99\", fee_percent = \"10\" }",
            &format!("{{ at_least = \"95\", below = \"99\", fee_percent = \"{fee}\" }}"),
        )
}

/// The real binary, with what a test of policies asks of it.
struct Server(Binary);

impl std::ops::Deref for Server {
    type Target = Binary;

    fn deref(&self) -> &Binary {
        &self.0
    }
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        Server(Binary::start(extra))
    }

    async fn client(&self) -> SlaEvaluatorClient<tonic::transport::Channel> {
        SlaEvaluatorClient::connect(format!("http://{}", self.addr))
            .await
            .unwrap()
    }

    fn hangup(&self) {
        self.signal("HUP");
    }

    fn reloads(&self, result: &str) -> f64 {
        let (_, _, body) = scrape(self.metrics);
        labelled(&body, "sla_policy_reloads_total", &[("result", result)])
    }

    async fn revision(&self, id: &str) -> String {
        let request = pb::GetPolicyRequest {
            policy_id: id.into(),
        };
        let policy = self.client().await.get_policy(request).await.unwrap();
        policy.into_inner().revision
    }

    /// Waits (up to 10 s) until `check` holds.
    async fn wait_until(&self, what: &str, check: impl AsyncFn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !check().await {
            assert!(
                Instant::now() < deadline,
                "{what} never happened; logs:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The first 600 minutes of the month starting at `first_unix` fully failed, nothing else sent:
/// about 98.6% available under IM, in its first tier.
fn failing_morning(first_unix: i64) -> Vec<pb::EvaluateRequest> {
    buckets(first_unix, 600, 1, |_| Some((1, 1)))
}

/// The first 600 minutes with half of 100 attempts failed each: bad slices under a success-rate
/// rule, good ones under IM's all-failed rule.
fn half_failing_morning(first_unix: i64) -> Vec<pb::EvaluateRequest> {
    buckets(first_unix, 600, 1, |_| Some((100, 50)))
}

async fn evaluate(
    server: &Server,
    policy_id: &str,
    first: &str,
    last: &str,
    months: &[i64],
) -> pb::EvaluateResponse {
    let mut messages = vec![spec_message(bare_spec(policy_id, first, last))];
    for &month in months {
        messages.extend(failing_morning(month));
    }
    server
        .client()
        .await
        .evaluate(tokio_stream::iter(messages))
        .await
        .unwrap()
        .into_inner()
}

fn sha256(text: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_term_straddling_a_version_change_uses_each_months_version() {
    let files = Files::new();
    let may = im_version("tencent-im", "2024-05", Some("2024-05-01"), "15");
    files.write("im-2024-05.toml", &may);
    let server = Server::start(&["--policy-dir", files.dir().to_str().unwrap()]);

    let response = evaluate(
        &server,
        "tencent-im",
        "2024-04-01",
        "2024-05-31",
        &[APRIL_2024, MAY_2024],
    )
    .await;
    let [april, may_month] = &response.months[..] else {
        panic!("two months: {response:?}");
    };
    assert_eq!(april.policy_version, "2021-12-24");
    assert_eq!(april.policy_revision, sha256(IM));
    assert_eq!(april.compensation_percent, "10");
    assert_eq!(may_month.policy_version, "2024-05");
    assert_eq!(may_month.policy_revision, sha256(&may));
    assert_eq!(may_month.compensation_percent, "15");
    assert_eq!(
        response.provenance.unwrap().policy_revision,
        format!("{},{}", sha256(IM), sha256(&may))
    );

    // A term inside one version keeps a single revision.
    let response = evaluate(&server, "tencent-im", "2024-04-01", "2024-04-30", &[]).await;
    assert_eq!(response.provenance.unwrap().policy_revision, sha256(IM));

    // GetPolicy: today's version, and every version; ListPolicies: today's.
    let mut client = server.client().await;
    let policy = client
        .get_policy(pb::GetPolicyRequest {
            policy_id: "tencent-im".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(policy.version, "2024-05");
    assert_eq!(policy.effective_from, "2024-05-01");
    let versions: Vec<(&str, &str)> = policy
        .versions
        .iter()
        .map(|v| (v.version.as_str(), v.effective_from.as_str()))
        .collect();
    assert_eq!(versions, [("2021-12-24", ""), ("2024-05", "2024-05-01")]);
    let list = client
        .list_policies(pb::ListPoliciesRequest {})
        .await
        .unwrap()
        .into_inner();
    let im = list.policies.iter().find(|p| p.id == "tencent-im").unwrap();
    assert_eq!(im.revision, sha256(&may));
    assert!(im.versions.is_empty());
    assert_eq!(
        list.policies.len(),
        sla_evaluator::policy::PolicySet::built_in().unwrap().len()
    );

    // The start log names every version and its file.
    let logs = server.logs();
    assert!(logs.contains("im-2024-05.toml"), "{logs}");
    assert!(logs.contains(&sha256(&may)), "{logs}");
    assert!(logs.contains("policies/tencent-im.toml"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_bad_slice_rule_applies_from_its_month() {
    let files = Files::new();
    let may = im_version("tencent-im", "2024-05", Some("2024-05-01"), "10").replace(
        "bad_slice = \"all_failed\"",
        "bad_slice = { success_rate_below = \"99\" }",
    );
    files.write("im-2024-05.toml", &may);
    let server = Server::start(&["--policy-dir", files.dir().to_str().unwrap()]);
    let mut messages = vec![spec_message(bare_spec(
        "tencent-im",
        "2024-04-01",
        "2024-05-31",
    ))];
    messages.extend(half_failing_morning(APRIL_2024));
    messages.extend(half_failing_morning(MAY_2024));
    let response = server
        .client()
        .await
        .evaluate(tokio_stream::iter(messages))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.months[0].bad_units, 0, "{response:?}");
    assert_eq!(response.months[1].bad_units, 600, "{response:?}");
    assert_eq!(response.months[1].compensation_percent, "10");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classify_outages_uses_the_version_in_force_when_each_outage_starts() {
    let files = Files::new();
    let may = im_version("tencent-im", "2024-05", Some("2024-05-01"), "10").replace(
        "title = \"Malfunction on the customer's side\"",
        "title = \"Customer-side malfunction (2024 wording)\"",
    );
    files.write("im-2024-05.toml", &may);
    let server = Server::start(&["--policy-dir", files.dir().to_str().unwrap()]);
    let outage = |id: &str, start: i64| hour_outage(id, start, pb::Cause::CustomerFault);
    let verdicts = server
        .client()
        .await
        .classify_outages(pb::ClassifyOutagesRequest {
            policy_id: "tencent-im".into(),
            outages: vec![outage("april", APRIL_2024), outage("may", MAY_2024)],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .verdicts;
    assert_eq!(
        verdicts[0].clause_title,
        "Malfunction on the customer's side"
    );
    assert_eq!(
        verdicts[1].clause_title,
        "Customer-side malfunction (2024 wording)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_before_every_version_is_refused() {
    let files = Files::new();
    let only = im_version("dated-im", "2024-05", Some("2024-05-01"), "15");
    files.write("dated.toml", &only);
    let server = Server::start(&["--policy-dir", files.dir().to_str().unwrap()]);
    let spec = spec_message(bare_spec("dated-im", "2024-04-01", "2024-05-31"));
    let status = server
        .client()
        .await
        .evaluate(tokio_stream::iter(vec![spec]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status
            .message()
            .contains("no version in force on 2024-04-01"),
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sighup_reload_while_a_stream_is_open_changes_later_calls_only() {
    let files = Files::new();
    let first = im_version("custom-im", "1", None, "10");
    let second = im_version("custom-im", "2", None, "15");
    let path = files.write("custom.toml", &first);
    let server = Server::start(&[
        "--policy-dir",
        files.dir().to_str().unwrap(),
        "--policy-poll-interval",
        "1h",
    ]);
    assert_eq!(server.revision("custom-im").await, sha256(&first));

    // A stream opens under the first version and stays open across the reload.
    let (tx, rx) = mpsc::channel(8);
    let mut client = server.client().await;
    let call = tokio::spawn(async move { client.evaluate(ReceiverStream::new(rx)).await });
    tx.send(spec_message(bare_spec(
        "custom-im",
        "2024-04-01",
        "2024-04-30",
    )))
    .await
    .unwrap();
    wait_for_open_streams(server.metrics, 1).await;

    std::fs::write(&path, &second).unwrap();
    server.hangup();
    server
        .wait_until("the reload", async || {
            server.revision("custom-im").await == sha256(&second)
        })
        .await;
    assert_eq!(server.reloads("ok"), 1.0);
    assert_eq!(server.reloads("error"), 0.0);

    for message in failing_morning(APRIL_2024) {
        tx.send(message).await.unwrap();
    }
    drop(tx);
    let open = call.await.unwrap().unwrap().into_inner();
    assert_eq!(open.months[0].policy_revision, sha256(&first));
    assert_eq!(open.months[0].compensation_percent, "10");

    let later = evaluate(
        &server,
        "custom-im",
        "2024-04-01",
        "2024-04-30",
        &[APRIL_2024],
    )
    .await;
    assert_eq!(later.months[0].policy_revision, sha256(&second));
    assert_eq!(later.months[0].compensation_percent, "15");
    let logs = server.logs();
    assert!(logs.contains("policies reloaded"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_reload_keeps_the_old_policies_serving_and_is_counted() {
    let files = Files::new();
    let good = im_version("custom-im", "1", None, "10");
    files.write("custom.toml", &good);
    let server = Server::start(&[
        "--policy-dir",
        files.dir().to_str().unwrap(),
        "--policy-poll-interval",
        "1h",
    ]);

    let bad = im_version("other-im", "1", None, "10")
        .replace("cause = \"customer_fault\"", "cause = \"customer_falt\"");
    let bad_path = files.write("zz-bad.toml", &bad);
    server.hangup();
    server
        .wait_until("the refused reload", async || {
            server.reloads("error") == 1.0
        })
        .await;
    assert_eq!(server.reloads("ok"), 0.0);
    let logs = server.logs();
    assert!(logs.contains("zz-bad.toml:"), "{logs}");
    assert!(logs.contains("unknown cause 'customer_falt'"), "{logs}");

    // The previous set serves: the good policy evaluates, the bad file's id does not exist.
    let response = evaluate(&server, "custom-im", "2024-04-01", "2024-04-30", &[]).await;
    assert_eq!(response.months[0].policy_revision, sha256(&good));
    let missing = server
        .client()
        .await
        .get_policy(pb::GetPolicyRequest {
            policy_id: "other-im".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);

    // Fixed, the next reload takes both.
    std::fs::remove_file(bad_path).unwrap();
    files.write("zz-good.toml", &im_version("other-im", "1", None, "10"));
    server.hangup();
    server
        .wait_until("the good reload", async || server.reloads("ok") == 1.0)
        .await;
    assert_eq!(server.revision("other-im").await.len(), 71);
}

/// Builds a ConfigMap volume's layout: `..<stamp>/` holds the files, `..data` links to it, and
/// each file name links to `..data/<name>`.
fn configmap(dir: &Path, stamp: &str, files: &[(&str, &str)]) {
    let data = dir.join(stamp);
    std::fs::create_dir(&data).unwrap();
    for (name, text) in files {
        std::fs::write(data.join(name), text).unwrap();
    }
    // The swap, as the kubelet makes it: a new link renamed over `..data` in one step.
    let tmp = dir.join("..data_tmp");
    std::os::unix::fs::symlink(stamp, &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
    for (name, _) in files {
        let link = dir.join(name);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(PathBuf::from("..data").join(name), link).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configmap_symlink_swap_is_picked_up() {
    let files = Files::new();
    let first = im_version("custom-im", "1", None, "10");
    let second = im_version("custom-im", "2", None, "15");
    configmap(
        files.dir(),
        "..2024_01_01_00_00_00.1",
        &[("custom.toml", &first)],
    );
    let server = Server::start(&[
        "--policy-dir",
        files.dir().to_str().unwrap(),
        "--policy-poll-interval",
        "100ms",
    ]);
    assert_eq!(server.revision("custom-im").await, sha256(&first));
    // The ConfigMap's own entries are hidden: skipped, and said so.
    let logs = server.logs();
    assert!(logs.contains("policy directory entry skipped"), "{logs}");
    assert!(logs.contains("..data"), "{logs}");

    configmap(
        files.dir(),
        "..2024_01_02_00_00_00.2",
        &[("custom.toml", &second)],
    );
    server
        .wait_until("the swap to be seen", async || {
            server.revision("custom-im").await == sha256(&second)
        })
        .await;
    assert_eq!(server.reloads("ok"), 1.0);
}

#[test]
fn an_empty_policy_dir_and_skipped_files_are_logged() {
    let files = Files::new();
    files.write("notes.txt", "not a policy");
    std::fs::create_dir(files.path("nested")).unwrap();
    let server = Server::start(&["--policy-dir", files.dir().to_str().unwrap()]);
    let logs = server.logs();
    assert!(logs.contains("holds no policy files"), "{logs}");
    assert!(logs.contains("notes.txt"), "{logs}");
    assert!(logs.contains("not searched recursively"), "{logs}");
}

// check-policy

fn built_in_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(Path::new(ROOT).join("policies"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        sla_evaluator::policy::PolicySet::built_in().unwrap().len()
    );
    files
}

#[test]
fn check_policy_accepts_every_built_in_policy_and_summarises_it() {
    let files = built_in_files();
    let args: Vec<&str> = std::iter::once("check-policy")
        .chain(files.iter().map(String::as_str))
        .collect();
    let table = stdout(sla(&args));
    for (file, id) in files.iter().zip([
        "digitalocean-droplet",
        "google-cloud-functions",
        "planetscale-dbaas",
        "supabase-enterprise-platform",
        "tencent-ccc-cn",
        "tencent-ccc-intl",
        "tencent-im",
        "tencent-sms",
        "tencent-trtc",
        "xata-pro",
    ]) {
        let text = std::fs::read_to_string(file).unwrap();
        let row = table
            .lines()
            .find(|l| l.contains(&format!(" {id} ")))
            .unwrap_or_else(|| panic!("no {id} in\n{table}"));
        assert!(row.contains(&sha256(&text)), "{row}");
    }
    assert!(table.lines().next().unwrap().contains("effective from"));
}

#[test]
fn check_policy_refuses_broken_files_with_file_and_line() {
    let files = Files::new();
    let cause = files.write(
        "cause.toml",
        &im_version("a-im", "1", None, "10").replace("\"customer_fault\"", "\"customer_falt\""),
    );
    let gap = files.write(
        "gap.toml",
        &im_version("b-im", "1", None, "10").replace(
            "below = \"95\", fee_percent = \"20\"",
            "below = \"94\", fee_percent = \"20\"",
        ),
    );
    let stderr = refused(
        sla(&[
            "check-policy",
            cause.to_str().unwrap(),
            gap.to_str().unwrap(),
        ]),
        1,
    );
    // Every bad file is reported, each at its line.
    let cause_line = 1 + IM
        .lines()
        .position(|l| l.contains("\"customer_fault\""))
        .unwrap();
    assert!(
        stderr.contains(&format!("cause.toml:{}:", cause_line)),
        "{stderr}"
    );
    assert!(
        stderr.contains("the causes are: provider_fault, customer_fault"),
        "{stderr}"
    );
    assert!(stderr.contains("gap.toml:"), "{stderr}");
    assert!(stderr.contains("tiers must meet"), "{stderr}");

    // A calendar neither built in nor in --calendar-dir, as a server would refuse it.
    let atlantis = files.write(
        "atlantis.toml",
        &im_version("c-im", "1", None, "10").replace("\"cn-mainland\"", "\"atlantis\""),
    );
    assert!(
        std::fs::read_to_string(&atlantis)
            .unwrap()
            .contains("\"atlantis\"")
    );
    let stderr = refused(sla(&["check-policy", atlantis.to_str().unwrap()]), 1);
    assert!(
        stderr.contains("calendar 'atlantis', which is not loaded"),
        "{stderr}"
    );

    // Two versions on one day, across files and with a built-in one.
    let one = files.write(
        "one.toml",
        &im_version("tencent-im", "x", Some("2025-01-01"), "15"),
    );
    let two = files.write(
        "two.toml",
        &im_version("tencent-im", "y", Some("2025-01-01"), "20"),
    );
    let stderr = refused(
        sla(&["check-policy", one.to_str().unwrap(), two.to_str().unwrap()]),
        1,
    );
    let dated = 1 + std::fs::read_to_string(&two)
        .unwrap()
        .lines()
        .position(|l| l.starts_with("effective_from"))
        .unwrap();
    assert!(stderr.contains(&format!("two.toml:{dated}: ")), "{stderr}");
    assert!(stderr.contains(&format!("one.toml:{dated}")), "{stderr}");
    let copy = files.write(
        "copy.toml",
        &IM.replace("version = \"2021-12-24\"", "version = \"copy\""),
    );
    let stderr = refused(sla(&["check-policy", copy.to_str().unwrap()]), 1);
    assert!(stderr.contains("policies/tencent-im.toml"), "{stderr}");

    // A new dated version of a built-in policy is fine.
    let table = stdout(sla(&["check-policy", one.to_str().unwrap()]));
    assert!(table.contains("2025-01-01"), "{table}");

    // Usage errors.
    let _ = refused(sla(&["check-policy"]), 2);
    let stderr = refused(
        sla(&["check-policy", files.path("missing.toml").to_str().unwrap()]),
        1,
    );
    assert!(stderr.contains("missing.toml"), "{stderr}");
}

#[test]
fn check_policy_takes_a_directory_as_a_server_does() {
    let files = Files::new();
    files.write("A.TOML", &im_version("upper-im", "1", None, "10"));
    files.write("notes.txt", "not a policy");
    std::fs::create_dir(files.path("nested")).unwrap();
    let output = common::cli::output(sla(&["check-policy", files.dir().to_str().unwrap()]));
    assert!(output.status.success(), "{output:?}");
    let table = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(table.contains("upper-im"), "{table}");
    assert!(stderr.contains("notes.txt: skipped"), "{stderr}");
    assert!(stderr.contains("not searched recursively"), "{stderr}");

    // Named, a file a server would skip is refused: it would never be loaded.
    let yaml = files.write("policy.yaml", &im_version("yaml-im", "1", None, "10"));
    let stderr = refused(sla(&["check-policy", yaml.to_str().unwrap()]), 1);
    assert!(stderr.contains("not a .toml file"), "{stderr}");
}

// The documentation and the schema

fn format_doc() -> String {
    std::fs::read_to_string(Path::new(ROOT).join("docs/policy-format.md")).unwrap()
}

/// The doc's complete example files: its TOML blocks that start with `id =`.
fn doc_examples(into: &Files) -> Vec<PathBuf> {
    let doc = format_doc();
    doc.split("```toml\n")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .filter(|block| block.starts_with("id = "))
        .enumerate()
        .map(|(index, block)| into.write(&format!("example-{index}.toml"), block))
        .collect()
}

#[test]
fn the_docs_cause_list_is_the_parsers() {
    let doc = format_doc();
    let section = doc.split("## Causes").nth(1).unwrap();
    let section = section.split("\n## ").next().unwrap();
    let listed: Vec<&str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    let parser: Vec<&str> = Cause::ALL.iter().map(|c| c.name()).collect();
    assert_eq!(listed, parser);

    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(ROOT).join("docs/policy.schema.json")).unwrap(),
    )
    .unwrap();
    let in_schema: Vec<&str> = schema["$defs"]["cause"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(in_schema, parser);
}

#[test]
fn the_docs_examples_pass_check_policy() {
    let files = Files::new();
    let examples = doc_examples(&files);
    assert_eq!(examples.len(), 3);
    let mut args = vec!["check-policy".to_string()];
    args.extend(examples.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let table = stdout(sla(&args));
    assert!(
        table.contains("example-rtc") && table.contains("example-sms"),
        "{table}"
    );
    assert!(table.contains("example-public"), "{table}");
}

/// Validates TOML files against docs/policy.schema.json with Python's jsonschema, returning each
/// file's errors.
fn schema_errors(files: &[PathBuf]) -> Vec<Vec<String>> {
    const CHECK: &str = r#"
import json, sys, tomllib, jsonschema
schema = json.load(open("docs/policy.schema.json"))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
out = []
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        out.append([e.message for e in validator.iter_errors(tomllib.load(f))])
print(json.dumps(out))
"#;
    let mut command = tool("python");
    command.arg("-c").arg(CHECK).args(files);
    serde_json::from_str(&succeed(command, "")).unwrap()
}

#[test]
fn the_json_schema_accepts_every_built_in_policy_and_the_examples() {
    let files = Files::new();
    let mut paths: Vec<PathBuf> = built_in_files().into_iter().map(PathBuf::from).collect();
    paths.extend(doc_examples(&files));
    for (path, errors) in paths.iter().zip(schema_errors(&paths)) {
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
}

#[test]
fn the_json_schema_rejects_broken_files() {
    let files = Files::new();
    let broken = [
        IM.replace("\"customer_fault\"", "\"customer_falt\""),
        IM.replace("standard_percent = \"99\"", "standard_percent = 99"),
        IM.replace("closes_after_days", "closes_after_dayz"),
        IM.replace("kind = \"timeslices\"", "kind = \"slices\""),
        IM.replace("version = \"2021-12-24\"", "effective_from = \"next week\""),
    ];
    let paths: Vec<PathBuf> = broken
        .iter()
        .enumerate()
        .map(|(i, text)| files.write(&format!("broken-{i}.toml"), text))
        .collect();
    for (path, errors) in paths.iter().zip(schema_errors(&paths)) {
        assert!(!errors.is_empty(), "{} passed the schema", path.display());
    }
}
