//! A real Prometheus server (Debian's `prometheus` package) on a loopback port, loaded with known
//! samples by `promtool tsdb create-blocks-from openmetrics`.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::tools::system_tool;

/// A running Prometheus, stopped when dropped.
pub(crate) struct Prometheus {
    pub(crate) url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

fn tool(name: &str) -> Command {
    Command::new(system_tool(name))
}

impl Prometheus {
    /// Starts a server holding the samples of `openmetrics` (text ending in `# EOF`).
    pub(crate) fn start(openmetrics: &str) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let input = dir.path().join("data.om");
        std::fs::write(&input, openmetrics).expect("write the OpenMetrics file");
        let tsdb = dir.path().join("tsdb");
        let output = tool("promtool")
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&input)
            .arg(&tsdb)
            .output()
            .expect("run promtool");
        assert!(
            output.status.success(),
            "promtool failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, "global: {}\n").expect("write the configuration");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = tool("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", tsdb.display()))
            // The samples are in the past: keep them.
            .arg("--storage.tsdb.retention.time=100y")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus");
        let server = Prometheus {
            url: format!("http://127.0.0.1:{port}"),
            child,
            _dir: dir,
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let ready = format!("{}/-/ready", self.url);
        while Instant::now() < deadline {
            if let Ok(response) = ureq::get(&ready).call()
                && response.status() == 200
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("Prometheus at {} was not ready within a minute", self.url);
    }

    pub(crate) fn data_dir(&self) -> &Path {
        self._dir.path()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
