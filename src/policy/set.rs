//! The policies a server evaluates against: the five built-in ones plus any loaded from a directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Policy;
use super::file::{PolicyFileError, parse_policy};

/// The built-in policies, embedded so the binary needs no files at run time; in the order of the
/// seed documents 000 to 004.
const BUILT_IN: [(&str, &str); 5] = [
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
];

/// Why a set of policies could not be loaded. Loading is all or nothing: a server never starts
/// with some of the files it was given.
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
        /// Why.
        source: std::io::Error,
    },
    #[error("{path}: policy id '{id}' is already defined by {first}")]
    /// Two files define one id.
    DuplicateId {
        /// The id.
        id: String,
        /// The file defining it again.
        path: String,
        /// The file that defined it first.
        first: String,
    },
}

/// An immutable, ordered set of policies looked up by id.
#[derive(Clone, Debug, Default)]
pub struct PolicySet {
    policies: Vec<Arc<Policy>>,
    origins: Vec<String>,
    by_id: HashMap<String, usize>,
}

impl PolicySet {
    /// The five built-in policies.
    pub fn built_in() -> Result<Self, LoadError> {
        let mut set = PolicySet::default();
        for (path, text) in BUILT_IN {
            set.add(path, parse_policy(path, text)?)?;
        }
        Ok(set)
    }

    /// Adds every `*.toml` file of `dir`, in file-name order. Hidden entries are skipped so that a
    /// Kubernetes ConfigMap mount (with its `..data` links) loads cleanly. Any bad file refuses
    /// the whole set.
    pub fn with_directory(mut self, dir: &Path) -> Result<Self, LoadError> {
        let files = crate::files::toml_files(dir)
            .map_err(|(path, source)| LoadError::Io { path, source })?;
        for (shown, text) in files {
            let policy = parse_policy(&shown, &text)?;
            self.add(&shown, policy)?;
        }
        Ok(self)
    }

    /// Adds one policy parsed from `text`; `origin` names it in error messages.
    pub fn with_policy_text(mut self, origin: &str, text: &str) -> Result<Self, LoadError> {
        let policy = parse_policy(origin, text)?;
        self.add(origin, policy)?;
        Ok(self)
    }

    fn add(&mut self, origin: &str, policy: Policy) -> Result<(), LoadError> {
        if let Some(&index) = self.by_id.get(&policy.id) {
            return Err(LoadError::DuplicateId {
                id: policy.id,
                path: origin.to_string(),
                first: self.origins[index].clone(),
            });
        }
        self.by_id.insert(policy.id.clone(), self.policies.len());
        self.policies.push(Arc::new(policy));
        self.origins.push(origin.to_string());
        Ok(())
    }

    /// The policy with this id.
    pub fn get(&self, id: &str) -> Option<&Arc<Policy>> {
        self.by_id.get(id).map(|&index| &self.policies[index])
    }

    /// Policies in load order: built-in first, then directory files by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Policy>> {
        self.policies.iter()
    }

    /// How many policies are loaded.
    pub fn len(&self) -> usize {
        self.policies.len()
    }

    /// True when none are.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_five_built_in_policies_load_in_document_order() {
        let set = PolicySet::built_in().unwrap();
        let ids: Vec<&str> = set.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "tencent-im",
                "tencent-sms",
                "tencent-ccc-intl",
                "tencent-trtc",
                "tencent-ccc-cn"
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
    fn a_directory_policy_may_not_reuse_a_built_in_id() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("im.toml"), BUILT_IN[0].1).unwrap();
        let error = PolicySet::built_in()
            .unwrap()
            .with_directory(dir.path())
            .unwrap_err();
        assert!(matches!(error, LoadError::DuplicateId { ref id, .. } if id == "tencent-im"));
        assert!(error.to_string().contains("policies/tencent-im.toml"));
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
        assert_eq!(set.len(), 6);
        assert_eq!(set.iter().last().unwrap().id, "custom-trtc");
        assert!(set.get("custom-trtc").is_some());
    }
}
