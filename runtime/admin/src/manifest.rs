//! The store's manifest: every deployed function's kept versions and which
//! one serves. Pure logic; [`super::store`] writes it to disk.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The manifest's format, written into it.
pub(crate) const FORMAT: u32 = 1;

/// Every deployed function.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    pub functions: BTreeMap<String, Record>,
}

/// One function's or flow's kept versions, oldest first, and the one
/// that serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record<V = Version> {
    pub current: u64,
    /// Oldest first.
    pub versions: Vec<V>,
}

/// A kept version, numbered by its record.
pub trait Numbered {
    /// Its number.
    fn number(&self) -> u64;
    /// Gives it its number.
    fn renumber(&mut self, number: u64);
}

/// One deployed version: its module by content hash and its definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Version {
    pub version: u64,
    pub sha256: String,
    pub size: u64,
    /// RFC 3339, UTC.
    pub deployed_at: String,
    pub definition: serde_json::Value,
}

impl Numbered for Version {
    fn number(&self) -> u64 {
        self.version
    }

    fn renumber(&mut self, number: u64) {
        self.version = number;
    }
}

/// Why a rollback cannot be made.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("no deployed function '{0}'")]
    Unknown(String),
    #[error("function '{name}' keeps no version {version} (it keeps {kept})")]
    NoSuchVersion {
        name: String,
        version: u64,
        kept: String,
    },
    #[error("function '{0}' keeps no version before the one it serves")]
    NothingEarlier(String),
}

/// Why a record has no version to roll back to.
#[derive(Debug, PartialEq, Eq)]
pub enum Missing {
    /// The version asked for is not kept; the ones kept, listed.
    NoSuchVersion { version: u64, kept: String },
    /// The version served is the oldest kept.
    NothingEarlier,
}

impl<V: Numbered> Record<V> {
    /// A record without versions.
    pub fn new() -> Self {
        Self {
            current: 0,
            versions: Vec::new(),
        }
    }

    /// Adds `version` (its number is given here) as the current one,
    /// keeping at most `keep` versions; returns its number.
    pub fn add(&mut self, mut version: V, keep: usize) -> u64 {
        let number = self.versions.iter().map(V::number).max().unwrap_or(0) + 1;
        version.renumber(number);
        self.versions.push(version);
        self.current = number;
        let excess = self.versions.len().saturating_sub(keep.max(1));
        self.versions.drain(..excess);
        number
    }

    /// The version a rollback goes to: `to`, or the newest one older than
    /// the current.
    pub fn target(&self, to: Option<u64>) -> Result<&V, Missing> {
        match to {
            Some(number) => {
                (self.versions.iter().find(|v| v.number() == number)).ok_or_else(|| {
                    Missing::NoSuchVersion {
                        version: number,
                        kept: (self.versions.iter())
                            .map(|v| v.number().to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                    }
                })
            }
            None => (self.versions.iter())
                .filter(|v| v.number() < self.current)
                .max_by_key(|v| v.number())
                .ok_or(Missing::NothingEarlier),
        }
    }

    /// The version that serves.
    pub fn serving(&self) -> Option<&V> {
        self.versions.iter().find(|v| v.number() == self.current)
    }
}

impl Manifest {
    /// An empty manifest of this format.
    pub fn new() -> Self {
        Self {
            format: FORMAT,
            functions: BTreeMap::new(),
        }
    }

    /// Adds `version` (its number is filled in) as `name`'s new current
    /// version, keeping at most `keep` versions; returns its number.
    pub fn deploy(&mut self, name: &str, version: Version, keep: usize) -> u64 {
        let record = self
            .functions
            .entry(name.to_owned())
            .or_insert_with(Record::new);
        record.add(version, keep)
    }

    /// The version a rollback of `name` goes to: `to`, or the newest one
    /// older than the current.
    pub fn rollback_target(&self, name: &str, to: Option<u64>) -> Result<&Version, Refused> {
        let record = self
            .functions
            .get(name)
            .ok_or_else(|| Refused::Unknown(name.to_owned()))?;
        record.target(to).map_err(|missing| match missing {
            Missing::NoSuchVersion { version, kept } => Refused::NoSuchVersion {
                name: name.to_owned(),
                version,
                kept,
            },
            Missing::NothingEarlier => Refused::NothingEarlier(name.to_owned()),
        })
    }

    /// Makes `number` (a kept version) `name`'s current one.
    pub fn select(&mut self, name: &str, number: u64) {
        if let Some(record) = self.functions.get_mut(name) {
            record.current = number;
        }
    }

    /// The version `name` serves.
    pub fn current(&self, name: &str) -> Option<&Version> {
        self.functions.get(name)?.serving()
    }

    /// Every module hash a kept version names.
    pub fn referenced(&self) -> BTreeSet<&str> {
        self.functions
            .values()
            .flat_map(|record| record.versions.iter().map(|v| v.sha256.as_str()))
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A version of module `sha`, its number yet to be given.
    pub(crate) fn version(sha: &str) -> Version {
        Version {
            version: 0,
            sha256: sha.into(),
            size: 1,
            deployed_at: "2026-11-29T00:00:00Z".into(),
            definition: serde_json::json!({}),
        }
    }

    #[test]
    fn deploys_number_versions_and_keep_the_newest_n() {
        let mut manifest = Manifest::new();
        for sha in ["a", "b", "c", "d"] {
            manifest.deploy("f", version(sha), 3);
        }
        let record = &manifest.functions["f"];
        assert_eq!(record.current, 4);
        let kept: Vec<u64> = record.versions.iter().map(|v| v.version).collect();
        assert_eq!(kept, [2, 3, 4]);
        assert_eq!(
            manifest.referenced().into_iter().collect::<Vec<_>>(),
            ["b", "c", "d"]
        );
    }

    #[test]
    fn a_rollback_goes_to_the_previous_or_a_named_version() {
        let mut manifest = Manifest::new();
        for sha in ["a", "b", "c"] {
            manifest.deploy("f", version(sha), 5);
        }
        assert_eq!(manifest.rollback_target("f", None).unwrap().version, 2);
        manifest.select("f", 2);
        assert_eq!(manifest.current("f").unwrap().sha256, "b");
        assert_eq!(manifest.rollback_target("f", None).unwrap().version, 1);
        manifest.select("f", 1);
        assert_eq!(
            manifest.rollback_target("f", None),
            Err(Refused::NothingEarlier("f".into()))
        );
        assert_eq!(manifest.rollback_target("f", Some(3)).unwrap().sha256, "c");
        assert!(matches!(
            manifest.rollback_target("f", Some(9)),
            Err(Refused::NoSuchVersion { .. })
        ));
        assert_eq!(
            manifest.rollback_target("g", None),
            Err(Refused::Unknown("g".into()))
        );
        // A deploy after a rollback takes a new number.
        assert_eq!(manifest.deploy("f", version("d"), 5), 4);
    }

    #[test]
    fn a_deploy_after_a_rollback_keeps_the_newest_versions() {
        let mut manifest = Manifest::new();
        manifest.deploy("f", version("a"), 2);
        manifest.deploy("f", version("b"), 2);
        manifest.select("f", 1);
        manifest.deploy("f", version("c"), 2);
        let kept: Vec<u64> = manifest.functions["f"]
            .versions
            .iter()
            .map(|v| v.version)
            .collect();
        assert_eq!(kept, [2, 3]);
    }
}
