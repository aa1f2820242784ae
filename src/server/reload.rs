//! Reloading the policy directory without a restart: on request (the binary turns SIGHUP into
//! one), and when the directory's files change (polled, which also sees a Kubernetes ConfigMap update swap its `..data` symlink).
//!
//! A reload is all or nothing: a bad file keeps the set in service, and is logged (file, line,
//! problem) and counted in `sla_policy_reloads_total{result="error"}`; so does a directory that
//! held policy files and holds none now. A reload that drops policies logs their ids.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{Notify, watch};

use super::metrics::Metrics;
use crate::calendar::CalendarSet;
use crate::catalogue;
use crate::policy::{PolicySet, PolicyStore};

/// Where policies are reloaded from, how often the directory is looked at, and how to ask for a
/// reload at once.
#[derive(Clone, Debug)]
pub struct PolicyReload {
    /// The `--policy-dir`.
    pub dir: PathBuf,
    /// How often the directory's entries are compared with the last ones read.
    pub poll_interval: Duration,
    /// `notify_one` asks for a reload (`sla-evaluator serve` does on SIGHUP). A request made
    /// before the server watches is kept, not lost.
    pub requests: Arc<Notify>,
}

impl PolicyReload {
    /// Reloads from `dir`, looking at it every `poll_interval`.
    pub fn new(dir: PathBuf, poll_interval: Duration) -> Self {
        PolicyReload {
            dir,
            poll_interval,
            requests: Arc::new(Notify::new()),
        }
    }
}

/// Logs every loaded version with its file, and every entry of the directory that was not read:
/// at start and after every reload, so the log says what is being served.
pub fn log_policies(set: &PolicySet, dir: Option<&Path>, event: &str) {
    for loaded in set.files() {
        let policy = &loaded.policy;
        tracing::info!(
            policy_id = policy.id,
            version = policy.version,
            effective_from = policy
                .effective_from
                .map(|d| d.to_string())
                .unwrap_or_default(),
            revision = policy.revision,
            file = loaded.path,
            "{event}: policy version"
        );
    }
    for skipped in set.skipped() {
        tracing::warn!(
            path = %skipped.path.display(),
            reason = skipped.reason,
            "policy directory entry skipped"
        );
    }
    if let Some(dir) = dir
        && set.directory_files() == 0
    {
        tracing::warn!(
            dir = %dir.display(),
            "--policy-dir holds no policy files (*.toml): serving the built-in policies only"
        );
    }
    let ids: Vec<&str> = set.iter().map(|p| p.id.as_str()).collect();
    tracing::info!(
        policies = set.len(),
        versions = set.files().count(),
        ids = ids.join(","),
        "{event}"
    );
}

/// Reloads on request and on a change of the directory until `stop` turns true.
pub(super) async fn watch_policies(
    store: Arc<PolicyStore>,
    reload: PolicyReload,
    calendars: Arc<CalendarSet>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let mut seen = fingerprint(&reload.dir);
    let mut poll = tokio::time::interval(reload.poll_interval);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let why = tokio::select! {
            _ = stop.wait_for(|&stopped| stopped) => return,
            () = reload.requests.notified() => "requested (SIGHUP)",
            _ = poll.tick() => {
                if fingerprint(&reload.dir) == seen {
                    continue;
                }
                "the policy directory changed"
            }
        };
        // A requested reload also takes the directory as it is now, so a poll does not reload it
        // again.
        seen = fingerprint(&reload.dir);
        reload_now(&store, &reload.dir, &calendars, &metrics, why);
    }
}

/// One reload: the whole directory again, or nothing. Calendars are read once at start: a
/// reloaded policy naming one that is not loaded is refused like any other bad file.
///
/// A directory that held policy files and now holds none is refused too: that is a copy in
/// progress (`rm` then `cp`) or a volume gone, far more often than an operator retiring every
/// policy at once, and serving the built-in ones only would answer every call of the others
/// NOT_FOUND until the copy lands. A reload that drops some ids logs them.
fn reload_now(
    store: &PolicyStore,
    dir: &Path,
    calendars: &CalendarSet,
    metrics: &Metrics,
    why: &str,
) {
    let serving = store.snapshot();
    match catalogue::reload_policies(dir, calendars) {
        Ok(set) if set.directory_files() == 0 && serving.directory_files() > 0 => {
            metrics.policy_reload(false);
            tracing::error!(
                reason = why,
                dir = %dir.display(),
                serving_files = serving.directory_files(),
                "policy reload refused: --policy-dir holds no policy files now (a copy in \
                 progress, or the volume gone?); the previous policies keep serving"
            );
        }
        Ok(set) => {
            let dropped: Vec<&str> = serving
                .iter()
                .map(|policy| policy.id.as_str())
                .filter(|id| set.versions(id).is_none())
                .collect();
            if !dropped.is_empty() {
                tracing::warn!(
                    reason = why,
                    dropped = dropped.join(","),
                    count = dropped.len(),
                    "policy reload dropped policies: calls naming them are now NOT_FOUND"
                );
            }
            log_policies(&set, Some(dir), "policies reloaded");
            store.replace(Arc::new(set));
            metrics.policy_reload(true);
            tracing::info!(reason = why, "policy reload: ok");
        }
        Err(error) => {
            metrics.policy_reload(false);
            tracing::error!(
                reason = why,
                path = error.path(),
                %error,
                "policy reload refused; the previous policies keep serving"
            );
        }
    }
}

/// One entry as seen: name, device, inode, length, modification time.
type Seen = (String, u64, u64, u64, Option<SystemTime>);

/// What the directory's entries are now, through symlinks: name, device, inode, length and
/// modification time of each. A ConfigMap update swaps `..data` to a new directory, so every
/// file it links to changes inode even when its time and length do not.
fn fingerprint(dir: &Path) -> Result<Vec<Seen>, String> {
    use std::os::unix::fs::MetadataExt;
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name().to_string_lossy().into_owned();
        match std::fs::metadata(entry.path()) {
            Ok(meta) => entries.push((
                name,
                meta.dev(),
                meta.ino(),
                meta.len(),
                meta.modified().ok(),
            )),
            // A dangling link (mid-swap): seen as such, and looked at again next time.
            Err(_) => entries.push((name, 0, 0, 0, None)),
        }
    }
    entries.sort();
    Ok(entries)
}
