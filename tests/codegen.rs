//! Clients in other languages can be generated from the proto as shipped: `buf generate` runs
//! `buf.gen.yaml` with local plugins only (Debian's protoc, protoc-gen-go, protoc-gen-go-grpc and
//! the gRPC Python and Java plugins; protoc-gen-es from npm), then the Go output is compiled with
//! Debian's Go and gRPC packages and called against a real server, the Python output is imported
//! and the TypeScript output type-checked and run.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::server::TestServer;
use common::tools::{node_modules, node_tool, succeed, system_tool, tool, tools_path};
use prost::Message;
use serde_json::Value;
use sla_evaluator::api::pb;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Runs `buf generate` into `out` (buf.gen.yaml writes under `out/gen`).
fn generate(out: &Path) {
    for program in [
        "protoc",
        "protoc-gen-go",
        "protoc-gen-go-grpc",
        "grpc_python_plugin",
        "grpc_java_plugin",
    ] {
        system_tool(program);
    }
    let mut buf = tool("buf");
    buf.env("PATH", tools_path())
        .arg("generate")
        .arg("--output")
        .arg(out);
    succeed(buf, "");
}

#[test]
fn buf_generates_go_java_python_and_typescript_that_work() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let generated = dir.path().join("gen");
    for file in [
        "go/sla/v1/sla.pb.go",
        "go/sla/v1/sla_grpc.pb.go",
        // java_multiple_files: one class per message, not one outer class holding them all.
        "java/com/sla/v1/EvaluateRequest.java",
        "java/com/sla/v1/SlaProto.java",
        "java/com/sla/v1/SlaEvaluatorGrpc.java",
        "python/sla/v1/sla_pb2.py",
        "python/sla/v1/sla_pb2.pyi",
        "python/sla/v1/sla_pb2_grpc.py",
        "ts/sla/v1/sla_pb.ts",
    ] {
        assert!(
            generated.join(file).is_file(),
            "buf generate wrote no {file}"
        );
    }
    let go = std::fs::read_to_string(generated.join("go/sla/v1/sla.pb.go")).unwrap();
    assert!(
        go.contains("package slav1"),
        "go_package names the Go package"
    );

    let server = TestServer::start();
    go_client_evaluates(&generated, &server);
    python_stubs_import(&generated);
    typescript_checks_and_encodes(&generated);
}

/// Builds tests/go/client.go against the generated package in GOPATH mode, with the Go gRPC and
/// protobuf libraries Debian installs under /usr/share/gocode (no module download), and runs it.
fn go_client_evaluates(generated: &Path, server: &TestServer) {
    // Installs Go with its libraries (tests/tools/debian-packages) when it is missing.
    let go = system_tool("go");
    let gocode = Path::new("/usr/share/gocode/src/google.golang.org/grpc");
    assert!(
        gocode.is_dir(),
        "{} is missing; tests/tools/install-debian-packages installs it (golang-google-grpc-dev)",
        gocode.display()
    );
    let gopath = generated.join("gopath");
    let package = gopath.join("src/sla-evaluator/gen/go/sla");
    std::fs::create_dir_all(&package).unwrap();
    std::fs::rename(generated.join("go/sla/v1"), package.join("v1")).unwrap();
    let main = gopath.join("src/slaclient");
    std::fs::create_dir_all(&main).unwrap();
    std::fs::copy(
        Path::new(ROOT).join("tests/go/client.go"),
        main.join("main.go"),
    )
    .unwrap();
    let binary = generated.join("slaclient");
    let mut build = Command::new(&go);
    build
        .current_dir(&gopath)
        .env("GO111MODULE", "off")
        .env("GOPATH", format!("{}:/usr/share/gocode", gopath.display()))
        // Kept between runs: the gRPC library compiles once.
        .env(
            "GOCACHE",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-build-cache"),
        )
        .env("GOFLAGS", "")
        .args(["build", "-o"])
        .arg(&binary)
        .arg("slaclient");
    succeed(build, "");

    let mut client = Command::new(&binary);
    client.arg(server.addr.to_string());
    let out = succeed(client, "");
    let result: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert!(result["policies"].as_u64().unwrap() >= 5, "{result}");
    // TRTC's worked example: 30 bad minutes, 99.9327%.
    assert_eq!(result["availability_percent"], "99.9327", "{result}");
    assert_eq!(result["bad_units"], 30, "{result}");
    assert_eq!(result["buckets_accepted"], 6, "{result}");
}

/// The Python output of Debian's protoc imports under the venv's protobuf and grpcio, and builds
/// the request the server expects.
fn python_stubs_import(generated: &Path) {
    let script = r#"
import sys
sys.path.insert(0, sys.argv[1])
from sla.v1 import sla_pb2, sla_pb2_grpc
assert hasattr(sla_pb2_grpc, "SlaEvaluatorStub")
request = sla_pb2.EvaluateRequest(columns=sla_pb2.BucketColumns(
    duration_seconds=60, start_base_unix_seconds=1552356000, start_delta_seconds=[0, 60],
    total=[10, 10], failed=[0, 10]))
print(request.SerializeToString().hex())
"#;
    let mut python = tool("python");
    python.arg("-c").arg(script).arg(generated.join("python"));
    let hex = succeed(python, "");
    let request = pb::EvaluateRequest::decode(decode_hex(hex.trim()).as_slice()).unwrap();
    let Some(pb::evaluate_request::Item::Columns(columns)) = request.item else {
        panic!("not columns: {request:?}");
    };
    assert_eq!(columns.start_delta_seconds, [0, 60]);
    assert_eq!(columns.failed, [0, 10]);
}

/// The TypeScript output type-checks under `strict` with tsc, and tests/ts/check.ts, compiled and
/// run with node, encodes a request the server decodes as sent.
fn typescript_checks_and_encodes(generated: &Path) {
    let ts = generated.join("ts");
    std::fs::copy(
        Path::new(ROOT).join("tests/ts/check.ts"),
        ts.join("check.ts"),
    )
    .unwrap();
    std::os::unix::fs::symlink(node_modules(), ts.join("node_modules")).unwrap();
    std::fs::write(
        ts.join("tsconfig.json"),
        r#"{"compilerOptions": {"strict": true, "target": "ES2022", "lib": ["ES2022", "DOM"],
            "module": "nodenext", "moduleResolution": "nodenext", "types": [], "outDir": "out"},
            "include": ["sla/**/*.ts", "check.ts"]}"#,
    )
    .unwrap();
    let mut tsc = node_tool("tsc");
    tsc.current_dir(&ts).args(["-p", "."]);
    succeed(tsc, "");
    let mut node = Command::new("node");
    node.current_dir(&ts).arg("out/check.js");
    let out = succeed(node, "");
    let result: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(result["service"], "sla.v1.SlaEvaluator");
    assert_eq!(
        result["methods"],
        serde_json::json!([
            "ListPolicies:unary",
            "GetPolicy:unary",
            "Evaluate:client_streaming",
            "ClassifyOutages:unary",
            "GetSigningKeys:unary",
            "ListStatements:unary",
            "GetStatement:unary"
        ])
    );
    let bytes = decode_hex(result["request_hex"].as_str().unwrap());
    let request = pb::EvaluateRequest::decode(bytes.as_slice()).unwrap();
    let Some(pb::evaluate_request::Item::Columns(columns)) = request.item else {
        panic!("not columns: {request:?}");
    };
    assert_eq!(columns.duration_seconds, 300);
    assert_eq!(columns.start_base_unix_seconds, 1_552_356_000);
    assert_eq!(columns.start_delta_seconds, [0, 300, -600]);
    assert_eq!(columns.total, [100, 100, 7]);
    assert_eq!(columns.failed, [2, 0, 7]);
}

fn decode_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}
