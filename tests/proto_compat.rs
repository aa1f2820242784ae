//! `sla.v1` only grows: `buf breaking` (FILE rules, see buf.yaml) passes against the image of every
//! release in `proto/baseline/`, and fails when the proto breaks one.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::tools::{run, succeed, tool};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The released images, e.g. `proto/baseline/sla-v0.1.0.binpb`.
fn baselines() -> Vec<PathBuf> {
    let mut images: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("proto/baseline"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "binpb"))
        .collect();
    images.sort();
    assert!(
        images.iter().any(|p| p.ends_with("sla-v0.1.0.binpb")),
        "{images:?}"
    );
    images
}

#[test]
fn the_proto_breaks_no_released_version() {
    for image in baselines() {
        let mut buf = tool("buf");
        buf.arg("breaking").arg("--against").arg(&image);
        let out = succeed(buf, "");
        assert!(
            out.trim().is_empty(),
            "buf breaking against {}:\n{out}",
            image.display()
        );
    }
}

/// The check is not vacuous: a copy of the workspace with a renamed enum value (JSON clients send
/// the name) and a removed field fails it, naming both.
#[test]
fn buf_breaking_catches_a_removed_field_and_a_renamed_enum_value() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(ROOT).join("buf.yaml"),
        dir.path().join("buf.yaml"),
    )
    .unwrap();
    copy_dir(&Path::new(ROOT).join("proto"), &dir.path().join("proto"));
    let proto = dir.path().join("proto/sla/v1/sla.proto");
    let text = std::fs::read_to_string(&proto).unwrap();
    assert!(text.contains("  VERDICT_EXCLUDED = 1;\n"));
    assert!(text.contains("  uint64 buckets_ignored = 2;\n"));
    let broken = text
        .replace("  VERDICT_EXCLUDED = 1;\n", "  VERDICT_OMITTED = 1;\n")
        .replace("  uint64 buckets_ignored = 2;\n", "");
    std::fs::write(&proto, broken).unwrap();

    let mut buf = tool("buf");
    buf.current_dir(dir.path())
        .arg("breaking")
        .arg("--against")
        .arg(Path::new(ROOT).join("proto/baseline/sla-v0.1.0.binpb"));
    let output = run(buf, "");
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "buf breaking passed:\n{out}");
    assert!(out.contains("VERDICT_EXCLUDED"), "{out}");
    assert!(out.contains("buckets_ignored"), "{out}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
