//! Directories of data files (policies, calendars), read the same way.

use std::path::{Path, PathBuf};

/// Every `*.toml` file of `dir`, in file-name order, as (path shown in messages, text). Hidden
/// entries are skipped, so that a Kubernetes ConfigMap mount (with its `..data` links) reads
/// cleanly. Fails with the path that could not be read.
pub(crate) fn toml_files(dir: &Path) -> Result<Vec<(String, String)>, (PathBuf, std::io::Error)> {
    let at = |path: &Path| {
        let path = path.to_path_buf();
        move |error| (path, error)
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(at(dir))? {
        let path = entry.map_err(at(dir))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name.starts_with('.') && name.ends_with(".toml") {
            paths.push(path);
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(at(&path))?;
            Ok((path.display().to_string(), text))
        })
        .collect()
}
