//! Directories of data files (policies, calendars), read the same way: every `*.toml` file (in
//! any case) in file-name order, and every other entry reported with the reason it was skipped.

use std::path::{Path, PathBuf};

/// What a loader did not read from a directory, and why: logged, never silently passed over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The entry's path, as the directory listing gave it.
    pub path: PathBuf,
    /// Why it was not read.
    pub reason: &'static str,
}

/// The files of `dir` a loader reads, sorted by name, and the entries it skips.
pub fn directory_entries(dir: &Path) -> std::io::Result<(Vec<PathBuf>, Vec<Skipped>)> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        match skip_reason(&path) {
            Some(reason) => skipped.push(Skipped { path, reason }),
            None => files.push(path),
        }
    }
    files.sort();
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((files, skipped))
}

/// Why a loader does not read this entry of its directory: hidden (a Kubernetes ConfigMap's
/// `..data` links), a directory, or not `*.toml` (in any case: `IM.TOML` is read).
pub fn skip_reason(path: &Path) -> Option<&'static str> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.starts_with('.') {
        Some("hidden")
    } else if path.is_dir() {
        Some("a directory: data directories are not searched recursively")
    } else if !name.to_ascii_lowercase().ends_with(".toml") {
        Some("not a .toml file")
    } else {
        None
    }
}
