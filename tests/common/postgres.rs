//! A real PostgreSQL (Debian's `postgresql` package) started for a test: a new cluster in a
//! temporary directory, on a free port of the loopback, stopped when dropped. PostgreSQL refuses
//! to run as root, so as root it runs as `nobody` (through `setpriv`), owning its directory.
#![allow(dead_code)]

use std::os::unix::fs::chown;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The uid and gid of `nobody` and `nogroup` on Debian.
const NOBODY: u32 = 65534;

/// A running PostgreSQL, killed (and its directory removed) when dropped.
pub(crate) struct Postgres {
    pub(crate) port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

/// The directory of the PostgreSQL programs, installing the Debian package when missing.
fn bin() -> PathBuf {
    let find = || {
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path().join("bin"))
            .filter(|bin| bin.join("initdb").is_file() && bin.join("postgres").is_file())
            .collect();
        found.sort();
        found.pop()
    };
    find().unwrap_or_else(|| {
        if let Err(refusal) = super::tools::install_debian_packages() {
            panic!("PostgreSQL is not installed (/usr/lib/postgresql/*/bin), and {refusal}");
        }
        find().expect("PostgreSQL is still missing after tests/tools/install-debian-packages")
    })
}

/// `program` of PostgreSQL, as `nobody` when this process is root.
fn command(program: &str) -> Command {
    let path = bin().join(program);
    let root =
        std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    if root {
        let mut command = Command::new("setpriv");
        command
            .args([
                &format!("--reuid={NOBODY}"),
                &format!("--regid={NOBODY}"),
                "--clear-groups",
            ])
            .arg(path);
        command
    } else {
        Command::new(path)
    }
}

impl Postgres {
    /// A new cluster, started and accepting connections, with user `sla` trusted on the loopback.
    pub(crate) fn start() -> Postgres {
        let dir = tempfile::tempdir().expect("a temporary directory");
        chown(dir.path(), Some(NOBODY), Some(NOBODY)).expect("give the directory to nobody");
        let data = dir.path().join("data");
        let initdb = command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "sla", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .output()
            .expect("run initdb");
        assert!(
            initdb.status.success(),
            "initdb failed:\n{}",
            String::from_utf8_lossy(&initdb.stderr)
        );
        for _ in 0..5 {
            let port = free_port();
            let log = std::fs::File::create(dir.path().join("postgres.log")).expect("a log file");
            chown(dir.path().join("postgres.log"), Some(NOBODY), Some(NOBODY)).ok();
            let mut child = command("postgres")
                .arg("-D")
                .arg(&data)
                .args([
                    "-p",
                    &port.to_string(),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-k",
                ])
                .arg(dir.path())
                .args(["-c", "fsync=off", "-c", "max_connections=50"])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start postgres");
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // the port was taken after all: try another
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() && ready(port) {
                    return Postgres { port, child, dir };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "PostgreSQL did not start:\n{}",
            std::fs::read_to_string(dir.path().join("postgres.log")).unwrap_or_default()
        );
    }

    /// A URL of database `name` (created by [`Postgres::create`]).
    pub(crate) fn url(&self, name: &str) -> String {
        format!("postgres://sla@127.0.0.1:{}/{name}", self.port)
    }

    /// Runs SQL in database `name` with psql and returns the first column of each row as text.
    pub(crate) fn sql(&self, name: &str, sql: &str) -> Vec<String> {
        self.try_sql(name, sql)
            .unwrap_or_else(|error| panic!("psql {sql:?} failed:\n{error}"))
    }

    /// [`Postgres::sql`], or what psql said when the database refused it.
    pub(crate) fn try_sql(&self, name: &str, sql: &str) -> Result<Vec<String>, String> {
        let output = command("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "sla",
                "-d",
                name,
            ])
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .expect("run psql");
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_string)
            .collect())
    }

    /// Creates database `name`.
    pub(crate) fn create(&self, name: &str) {
        self.sql("postgres", &format!("CREATE DATABASE {name}"));
    }

    /// Stops it at once (the fast shutdown): every connection breaks.
    pub(crate) fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Whether the server accepts a session yet (it listens before it has finished starting).
fn ready(port: u16) -> bool {
    command("pg_isready")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "sla",
            "-d",
            "postgres",
        ])
        .output()
        .is_ok_and(|output| output.status.success())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = &self.dir;
    }
}
