//! The policies a server evaluates against: the built-in ones (five Tencent contracts and a library
//! of public SLAs) plus any loaded from a directory.

use crate::data_dir::{Skipped, directory_entries};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use super::file::{Lines, Parsed, PolicyFileError, parse};
use super::{Method, Policy};

/// The built-in policies, embedded so the binary needs no files at run time: the Tencent ones in the
/// order of the seed documents 000 to 004, then the library of public SLAs by provider.
const BUILT_IN: [(&str, &str); 10] = [
    (
        "policies/tencent-im.toml",
        include_str!("../../policies/tencent-im.toml"),
    ),
    (
        "policies/tencent-sms.toml",
        include_str!("../../policies/tencent-sms.toml"),
    ),
    (
        "policies/tencent-ccc-intl.toml",
        include_str!("../../policies/tencent-ccc-intl.toml"),
    ),
    (
        "policies/tencent-trtc.toml",
        include_str!("../../policies/tencent-trtc.toml"),
    ),
    (
        "policies/tencent-ccc-cn.toml",
        include_str!("../../policies/tencent-ccc-cn.toml"),
    ),
    (
        "policies/digitalocean-droplet.toml",
        include_str!("../../policies/digitalocean-droplet.toml"),
    ),
    (
        "policies/google-cloud-functions.toml",
        include_str!("../../policies/google-cloud-functions.toml"),
    ),
    (
        "policies/planetscale-dbaas.toml",
        include_str!("../../policies/planetscale-dbaas.toml"),
    ),
    (
        "policies/supabase-enterprise-platform.toml",
        include_str!("../../policies/supabase-enterprise-platform.toml"),
    ),
    (
        "policies/xata-pro.toml",
        include_str!("../../policies/xata-pro.toml"),
    ),
];

/// Why a set of policies could not be loaded. Loading is all or nothing: a server never starts
/// (or reloads) with some of the files it was given.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    /// A policy file is bad.
    File(#[from] PolicyFileError),
    #[error("{path}: {source}")]
    /// A file or directory cannot be read.
    Io {
        /// What could not be read.
        path: PathBuf,
        #[source]
        /// The operating system's reason (not found, permission denied, ...).
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message} (the other version is {other})")]
    /// Two versions of one id conflict: they take effect on the same day, share a label, or
    /// disagree on a key every version must share.
    Versions {
        /// The file loaded second.
        path: String,
        /// Its line.
        line: usize,
        /// What conflicts.
        message: String,
        /// `file:line` of the version loaded first.
        other: String,
    },
}

impl LoadError {
    /// The file the problem is in, when it is in one.
    pub fn path(&self) -> String {
        match self {
            LoadError::File(error) => error.path.clone(),
            LoadError::Io { path, .. } => path.display().to_string(),
            LoadError::Versions { path, .. } => path.clone(),
        }
    }
}

/// Every version of one policy id, ordered by the day each takes effect; never empty.
#[derive(Clone, Debug)]
pub struct PolicyVersions {
    versions: Vec<Arc<Policy>>,
}

impl From<Arc<Policy>> for PolicyVersions {
    fn from(policy: Arc<Policy>) -> Self {
        PolicyVersions {
            versions: vec![policy],
        }
    }
}

impl PolicyVersions {
    /// The version in force on `day`: the last one taking effect on or before it (a version
    /// without `effective_from` is in force from the beginning). `None` when `day` is before
    /// every version.
    pub fn in_force_on(&self, day: NaiveDate) -> Option<&Arc<Policy>> {
        self.versions
            .iter()
            .rev()
            .find(|version| version.effective_from.is_none_or(|from| from <= day))
    }

    /// The version in force at `now` (the day in the policy's own zone), or the earliest when none
    /// is in force yet: what `ListPolicies` and `GetPolicy` show first.
    pub fn current(&self, now: DateTime<Utc>) -> &Arc<Policy> {
        let zone = self.earliest().time_zone;
        self.in_force_or_earliest(now.with_timezone(&zone).date_naive())
    }

    /// The version in force on `day`, or the earliest when `day` is before every version.
    pub fn in_force_or_earliest(&self, day: NaiveDate) -> &Arc<Policy> {
        self.in_force_on(day).unwrap_or_else(|| self.earliest())
    }

    /// The version that takes effect first.
    pub fn earliest(&self) -> &Arc<Policy> {
        self.versions
            .first()
            .expect("a policy has at least one version")
    }

    /// Every version, earliest first.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Policy>> {
        self.versions.iter()
    }

    /// How many versions there are (at least 1).
    pub fn len(&self) -> usize {
        self.versions.len()
    }

    /// Never true; for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }
}

/// One loaded version and the file it came from.
#[derive(Clone, Debug)]
pub struct LoadedVersion {
    /// The version.
    pub policy: Arc<Policy>,
    /// The file, as named to the loader (`policies/tencent-im.toml` for a built-in one).
    pub path: String,
    lines: Lines,
}

/// One id: its versions, and the files in the same order.
#[derive(Clone, Debug)]
struct Entry {
    versions: PolicyVersions,
    files: Vec<LoadedVersion>,
}

/// An immutable, ordered set of policies looked up by id, each with its versions.
#[derive(Clone, Debug, Default)]
pub struct PolicySet {
    entries: Vec<Entry>,
    by_id: HashMap<String, usize>,
    skipped: Vec<Skipped>,
    from_directory: usize,
}

impl PolicySet {
    /// The built-in policies.
    pub fn built_in() -> Result<Self, LoadError> {
        PolicySet::built_in_unless(|_| false)
    }

    /// The built-in policies but those whose file text `skip` picks: `check-policy` given a
    /// built-in file checks that file in the built-in one's place.
    pub fn built_in_unless(skip: impl Fn(&str) -> bool) -> Result<Self, LoadError> {
        let mut set = PolicySet::default();
        for (path, text) in BUILT_IN {
            if !skip(text) {
                set.add(path, parse(path, text)?)?;
            }
        }
        Ok(set)
    }

    /// Adds every `*.toml` file of `dir` (the extension in any case: `IM.TOML` is read), in
    /// file-name order. Hidden entries (a Kubernetes ConfigMap mount's `..data` links),
    /// subdirectories and other extensions are skipped and listed in [`PolicySet::skipped`]. Any
    /// bad file refuses the whole set.
    pub fn with_directory(mut self, dir: &Path) -> Result<Self, LoadError> {
        let (files, skipped) = directory_entries(dir).map_err(|source| LoadError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        self.skipped.extend(skipped);
        self.from_directory += files.len();
        self.with_files(&files)
    }

    /// The built-in policies and, when given, a directory's: what a server loads at start and on
    /// every reload.
    pub fn load(dir: Option<&Path>) -> Result<Self, LoadError> {
        let set = PolicySet::built_in()?;
        match dir {
            Some(dir) => set.with_directory(dir),
            None => Ok(set),
        }
    }

    /// How many files were read from a directory.
    pub fn directory_files(&self) -> usize {
        self.from_directory
    }

    /// Adds the given policy files, in the order given, exactly as a directory's are added.
    pub fn with_files(mut self, files: &[PathBuf]) -> Result<Self, LoadError> {
        for path in files {
            let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
                path: path.clone(),
                source,
            })?;
            let shown = path.display().to_string();
            let parsed = parse(&shown, &text)?;
            self.add(&shown, parsed)?;
        }
        Ok(self)
    }

    /// Adds one policy parsed from `text`; `origin` names it in error messages.
    pub fn with_policy_text(mut self, origin: &str, text: &str) -> Result<Self, LoadError> {
        let parsed = parse(origin, text)?;
        self.add(origin, parsed)?;
        Ok(self)
    }

    fn add(&mut self, origin: &str, parsed: Parsed) -> Result<(), LoadError> {
        let Parsed { policy, lines } = parsed;
        let loaded = LoadedVersion {
            policy: Arc::new(policy),
            path: origin.to_string(),
            lines,
        };
        let Some(&index) = self.by_id.get(&loaded.policy.id) else {
            self.by_id
                .insert(loaded.policy.id.clone(), self.entries.len());
            self.entries.push(Entry {
                versions: PolicyVersions::from(Arc::clone(&loaded.policy)),
                files: vec![loaded],
            });
            return Ok(());
        };
        let entry = &mut self.entries[index];
        for other in &entry.files {
            check_versions(other, &loaded)?;
        }
        let key = |v: &LoadedVersion| v.policy.effective_from;
        let at = entry.files.partition_point(|v| key(v) < key(&loaded));
        entry
            .versions
            .versions
            .insert(at, Arc::clone(&loaded.policy));
        entry.files.insert(at, loaded);
        Ok(())
    }

    /// The version of the policy with this id in force now (or its earliest, when none is yet).
    pub fn get(&self, id: &str) -> Option<&Arc<Policy>> {
        self.versions(id)
            .map(|versions| versions.current(Utc::now()))
    }

    /// Every version of the policy with this id.
    pub fn versions(&self, id: &str) -> Option<&PolicyVersions> {
        self.by_id
            .get(id)
            .map(|&index| &self.entries[index].versions)
    }

    /// The version of each policy in force now, in load order: built-in first, then directory
    /// files by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Policy>> {
        let now = Utc::now();
        self.entries.iter().map(move |e| e.versions.current(now))
    }

    /// Every version of every policy with its file: ids in load order, each id's versions earliest
    /// first.
    pub fn files(&self) -> impl Iterator<Item = &LoadedVersion> {
        self.entries.iter().flat_map(|e| e.files.iter())
    }

    /// What the directory held that was not read.
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// How many policy ids are loaded.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when none are.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Two versions of one id may not be in force on the same day, share a label, or disagree on
/// what decides how a term is cut and measured (months, zone, method, slice) or what is paid:
/// an evaluation cuts its months and folds its buckets once, before any month's version is known.
fn check_versions(first: &LoadedVersion, second: &LoadedVersion) -> Result<(), LoadError> {
    let (a, b) = (&first.policy, &second.policy);
    let conflict = |line: usize, other_line: usize, message: String| LoadError::Versions {
        path: second.path.clone(),
        line,
        message,
        other: format!("{}:{other_line}", first.path),
    };
    let (l1, l2) = (&first.lines, &second.lines);
    if a.effective_from == b.effective_from {
        let message = match b.effective_from {
            Some(day) => format!(
                "policy '{}' already has a version taking effect on {day}: versions may not overlap",
                b.id
            ),
            None => format!(
                "policy '{}' already has a version without effective_from (in force from the \
                 beginning); every later version needs an effective_from date",
                b.id
            ),
        };
        return Err(conflict(l2.effective_from, l1.effective_from, message));
    }
    if a.version == b.version {
        return Err(conflict(
            l2.version,
            l1.version,
            format!("policy '{}' already has a version '{}'", b.id, b.version),
        ));
    }
    let shared = [
        (
            "service_month",
            a.service_month != b.service_month,
            l1.service_month,
            l2.service_month,
        ),
        (
            "time_zone",
            a.time_zone != b.time_zone,
            l1.time_zone,
            l2.time_zone,
        ),
        (
            "method kind and slice_minutes",
            method_shape(a) != method_shape(b),
            l1.method,
            l2.method,
        ),
        ("compensation.form", a.form != b.form, l1.form, l2.form),
    ];
    if let Some((key, _, other_line, line)) = shared.into_iter().find(|s| s.1) {
        return Err(conflict(
            line,
            other_line,
            format!(
                "every version of policy '{}' must have the same {key}",
                b.id
            ),
        ));
    }
    Ok(())
}

/// What of a method decides how buckets are folded: its kind and slice length.
fn method_shape(policy: &Policy) -> Option<u32> {
    match policy.method {
        Method::Timeslices { slice_minutes, .. } => Some(slice_minutes),
        Method::Occurrences { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_policies_load_in_document_order() {
        let set = PolicySet::built_in().unwrap();
        let ids: Vec<&str> = set.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "tencent-im",
                "tencent-sms",
                "tencent-ccc-intl",
                "tencent-trtc",
                "tencent-ccc-cn",
                "digitalocean-droplet",
                "google-cloud-functions",
                "planetscale-dbaas",
                "supabase-enterprise-platform",
                "xata-pro"
            ]
        );
    }

    #[test]
    fn a_directory_with_one_bad_file_loads_nothing_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let good = BUILT_IN[0].1.replace("tencent-im", "custom-im");
        std::fs::write(dir.path().join("a-good.toml"), good).unwrap();
        std::fs::write(dir.path().join("b-bad.toml"), "id = \"x\"\nname = 3\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a policy").unwrap();
        let error = PolicySet::built_in()
            .unwrap()
            .with_directory(dir.path())
            .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("b-bad.toml:2:"), "{text}");
    }

    #[test]
    fn a_directory_file_repeating_a_built_in_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("im.toml"), BUILT_IN[0].1).unwrap();
        let error = PolicySet::built_in()
            .unwrap()
            .with_directory(dir.path())
            .unwrap_err();
        assert!(matches!(error, LoadError::Versions { .. }), "{error}");
        assert!(
            error.to_string().contains("policies/tencent-im.toml"),
            "{error}"
        );
    }

    #[test]
    fn directory_policies_follow_the_built_in_ones() {
        let dir = tempfile::tempdir().unwrap();
        let custom = BUILT_IN[3].1.replace("tencent-trtc", "custom-trtc");
        std::fs::write(dir.path().join("custom.toml"), custom).unwrap();
        std::fs::write(dir.path().join(".hidden.toml"), "garbage").unwrap();
        let set = PolicySet::built_in()
            .unwrap()
            .with_directory(dir.path())
            .unwrap();
        assert_eq!(set.len(), BUILT_IN.len() + 1);
        assert_eq!(set.iter().last().unwrap().id, "custom-trtc");
        assert!(set.get("custom-trtc").is_some());
    }

    fn version_of_im(label: &str, from: &str) -> String {
        BUILT_IN[0].1.replace(
            "version = \"2021-12-24\"",
            &format!("version = \"{label}\"\neffective_from = \"{from}\""),
        )
    }

    #[test]
    fn each_day_takes_the_last_version_in_force_whatever_the_file_order() {
        let dir = tempfile::tempdir().unwrap();
        // File names sort against effective dates: order comes from the dates.
        std::fs::write(dir.path().join("a.toml"), version_of_im("v3", "2024-07-01")).unwrap();
        std::fs::write(dir.path().join("b.toml"), version_of_im("v2", "2024-01-01")).unwrap();
        let set = PolicySet::load(Some(dir.path())).unwrap();
        let versions = set.versions("tencent-im").unwrap();
        let labels: Vec<&str> = versions.iter().map(|v| v.version.as_str()).collect();
        assert_eq!(labels, ["2021-12-24", "v2", "v3"]);
        let on = |day: &str| {
            versions
                .in_force_on(crate::strict::date(day).unwrap())
                .map(|v| v.version.clone())
        };
        assert_eq!(on("2019-01-01").as_deref(), Some("2021-12-24"));
        assert_eq!(on("2023-12-31").as_deref(), Some("2021-12-24"));
        assert_eq!(on("2024-01-01").as_deref(), Some("v2"));
        assert_eq!(on("2024-07-01").as_deref(), Some("v3"));
        assert_eq!(set.len(), BUILT_IN.len());
        assert_eq!(set.files().count(), BUILT_IN.len() + 2);
    }

    #[test]
    fn a_month_before_every_dated_version_has_none_in_force() {
        let set = PolicySet::default()
            .with_policy_text("v.toml", &version_of_im("v2", "2024-01-01"))
            .unwrap();
        let versions = set.versions("tencent-im").unwrap();
        assert!(
            versions
                .in_force_on(crate::strict::date("2023-12-31").unwrap())
                .is_none()
        );
    }

    #[test]
    fn two_versions_on_one_day_are_refused_with_both_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.toml"), version_of_im("v2", "2024-01-01")).unwrap();
        std::fs::write(dir.path().join("b.toml"), version_of_im("v3", "2024-01-01")).unwrap();
        let error = PolicySet::load(Some(dir.path())).unwrap_err().to_string();
        let line = 1 + version_of_im("v3", "2024-01-01")
            .lines()
            .position(|l| l.starts_with("effective_from"))
            .unwrap();
        assert!(error.contains(&format!("b.toml:{line}: ")), "{error}");
        assert!(error.contains(&format!("a.toml:{line})")), "{error}");
        assert!(error.contains("may not overlap"), "{error}");
    }

    #[test]
    fn a_repeated_label_or_a_changed_method_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.toml"), version_of_im("v2", "2024-01-01")).unwrap();
        std::fs::write(dir.path().join("b.toml"), version_of_im("v2", "2024-02-01")).unwrap();
        let error = PolicySet::load(Some(dir.path())).unwrap_err().to_string();
        assert!(error.contains("already has a version 'v2'"), "{error}");
        let occurrences = version_of_im("v3", "2024-03-01").replace(
            "kind = \"timeslices\"\nslice_minutes = 1\nbad_slice = \"all_failed\"",
            "kind = \"occurrences\"",
        );
        assert!(occurrences.contains("occurrences"));
        std::fs::write(dir.path().join("b.toml"), occurrences).unwrap();
        let error = PolicySet::load(Some(dir.path())).unwrap_err().to_string();
        assert!(error.contains("must have the same method"), "{error}");
    }

    #[test]
    fn skipped_entries_are_listed_and_upper_case_extensions_are_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("CUSTOM.TOML"),
            BUILT_IN[3].1.replace("tencent-trtc", "custom-trtc"),
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "").unwrap();
        std::fs::create_dir(dir.path().join("nested")).unwrap();
        std::fs::write(dir.path().join("nested/x.toml"), "garbage").unwrap();
        let set = PolicySet::load(Some(dir.path())).unwrap();
        assert!(set.get("custom-trtc").is_some());
        assert_eq!(set.directory_files(), 1);
        let skipped: Vec<_> = set
            .skipped()
            .iter()
            .map(|s| s.path.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        assert_eq!(skipped, ["nested", "notes.txt"]);
    }
}
