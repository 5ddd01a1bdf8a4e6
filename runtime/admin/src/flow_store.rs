//! Deployed flows on disk: `<state_dir>/flows/manifest.json` names every
//! deployed flow's kept versions (each its definition: a flow has no
//! module) and the one each serves. Written as the functions' manifest is
//! (a temporary file, synced, renamed, the directory synced), so that a
//! power cut leaves the old manifest or the new one. A file of its own
//! beside the functions' store: a fenn that knows no flows reads its
//! functions as before.

use super::manifest::{Numbered, Record};
use super::store::{Aside, Unreadable, encoded, names_in, read_versions};
use fenn_runtime::files as disk;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

const MANIFEST: &str = "manifest.json";
/// The flows' manifest's format, written into it.
const FORMAT: u32 = 1;

/// Every deployed flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowManifest {
    pub format: u32,
    pub flows: BTreeMap<String, Record<FlowVersion>>,
}

/// One deployed version of a flow: its definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowVersion {
    pub version: u64,
    /// RFC 3339, UTC.
    pub deployed_at: String,
    pub definition: serde_json::Value,
}

impl Numbered for FlowVersion {
    fn number(&self) -> u64 {
        self.version
    }

    fn renumber(&mut self, number: u64) {
        self.version = number;
    }
}

impl FlowManifest {
    /// An empty manifest of this format.
    pub fn new() -> Self {
        Self {
            format: FORMAT,
            flows: BTreeMap::new(),
        }
    }

    /// Adds `version` as `name`'s new current version, keeping at most
    /// `keep`; returns its number.
    pub fn deploy(&mut self, name: &str, version: FlowVersion, keep: usize) -> u64 {
        let record = self
            .flows
            .entry(name.to_owned())
            .or_insert_with(Record::new);
        record.add(version, keep)
    }

    /// The version `name` serves.
    pub fn current(&self, name: &str) -> Option<&FlowVersion> {
        self.flows.get(name)?.serving()
    }
}

/// The flows' directory.
#[derive(Debug)]
pub struct FlowStore {
    dir: PathBuf,
}

/// The flows' store opened: its manifest, and what was set aside when the
/// manifest could not be read.
#[derive(Debug)]
pub struct OpenedFlows {
    pub store: FlowStore,
    pub manifest: FlowManifest,
    pub aside: Option<Aside>,
}

impl FlowStore {
    /// Opens (or creates) the flows' store at `dir` and reads its
    /// manifest; leftovers of an interrupted deploy are deleted. A manifest
    /// that is not one is set aside (renamed `manifest.json.aside-<seconds>`)
    /// and no deployed flow is served; at most `most` of its names are
    /// kept. A manifest that cannot be read at all, or of a newer format,
    /// stops the start instead.
    pub fn open(dir: &Path, most: usize) -> Result<OpenedFlows, String> {
        let failed = |what: &str, error: std::io::Error| {
            format!("{}: cannot {what}: {error}", dir.display())
        };
        crate::state_dir::create_dir(dir).map_err(|e| failed("create the flows' store", e))?;
        crate::state_dir::owner_only(dir)?;
        let store = Self {
            dir: dir.to_owned(),
        };
        store
            .clean()
            .map_err(|e| failed("clean the flows' store", e))?;
        let path = dir.join(MANIFEST);
        let absent = fs::metadata(&path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound);
        let read = (!absent).then(|| read_versions(&path, |m: &FlowManifest| m.format, FORMAT));
        let (manifest, aside) = match read {
            None => (FlowManifest::new(), None),
            Some(Ok(manifest)) => (manifest, None),
            Some(Err(Unreadable::Newer(reason) | Unreadable::Unread(reason))) => {
                return Err(reason);
            }
            Some(Err(Unreadable::Corrupt(reason, bytes))) => {
                let aside = store
                    .set_aside(&reason, names_in(&bytes, "flows", most))
                    .map_err(|e| failed("set the unreadable manifest aside", e))?;
                (FlowManifest::new(), Some(aside))
            }
        };
        Ok(OpenedFlows {
            store,
            manifest,
            aside,
        })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Makes `manifest` the store's: the commit point of a change.
    pub fn commit(&self, manifest: &FlowManifest) -> std::io::Result<()> {
        let bytes = encoded(manifest)?;
        disk::write_atomically(&self.dir, MANIFEST, &bytes)
    }

    /// Deletes the temporary files of an interrupted write.
    fn clean(&self) -> std::io::Result<()> {
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let stale = entry.file_name().to_string_lossy().ends_with(".tmp");
            if stale && entry.file_type()?.is_file() {
                fs::remove_file(entry.path())?;
            }
        }
        Ok(())
    }

    /// Renames the manifest out of the way, for the operator to look into.
    fn set_aside(&self, reason: &str, names: Vec<String>) -> std::io::Result<Aside> {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let aside = self.dir.join(format!("{MANIFEST}.aside-{seconds}"));
        fs::rename(self.dir.join(MANIFEST), &aside)?;
        if let Err(error) = disk::sync_dir(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), %error, "cannot sync the flows' directory");
        }
        Ok(Aside {
            path: aside,
            reason: reason.to_owned(),
            names,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fenn-flows-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn version(step: &str) -> FlowVersion {
        FlowVersion {
            version: 0,
            deployed_at: "2026-11-29T00:00:00Z".into(),
            definition: serde_json::json!({"step": [{"name": step, "function": "f"}]}),
        }
    }

    #[test]
    fn a_committed_manifest_is_what_the_next_start_reads_and_keeps_the_newest_versions() {
        let dir = temp_dir("reopen");
        let opened = FlowStore::open(&dir, 100).unwrap();
        let mut manifest = opened.manifest;
        for step in ["a", "b", "c"] {
            manifest.deploy("f", version(step), 2);
        }
        opened.store.commit(&manifest).unwrap();
        fs::write(dir.join(".manifest.json.x.tmp"), b"{half").unwrap();
        let reopened = FlowStore::open(&dir, 100).unwrap();
        assert_eq!(reopened.manifest, manifest);
        assert!(reopened.aside.is_none());
        assert!(!dir.join(".manifest.json.x.tmp").exists());
        let kept: Vec<u64> = manifest.flows["f"]
            .versions
            .iter()
            .map(|v| v.version)
            .collect();
        assert_eq!(kept, [2, 3]);
        assert_eq!(
            manifest.current("f").unwrap().definition,
            version("c").definition
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_manifest_that_is_not_one_is_set_aside_with_its_names_and_a_newer_one_stops_the_start() {
        let dir = temp_dir("aside");
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join(MANIFEST),
            br#"{"format": 1, "flows": {"f": 3, "../x": 1}}"#,
        )
        .unwrap();
        let opened = FlowStore::open(&dir, 100).unwrap();
        assert_eq!(opened.manifest, FlowManifest::new());
        let aside = opened.aside.unwrap();
        assert!(aside.path.exists() && !dir.join(MANIFEST).exists());
        assert_eq!(aside.names, ["f"]);
        assert!(
            aside.reason.contains("not a manifest fenn wrote"),
            "{}",
            aside.reason
        );
        fs::write(dir.join(MANIFEST), br#"{"format": 9, "flows": {}}"#).unwrap();
        let newer = FlowStore::open(&dir, 100).unwrap_err();
        assert!(
            newer.contains("format 9 is not one this fenn reads (1)"),
            "{newer}"
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
