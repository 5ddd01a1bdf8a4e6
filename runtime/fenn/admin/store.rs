//! Deployed functions on disk, under `<state_dir>/functions`:
//! `modules/<sha256>.wasm` by content hash, and `manifest.json`, which
//! names the versions kept and the one each function serves.
//!
//! A deploy writes its module first (to a temporary name, synced, renamed,
//! the directory synced), then the manifest the same way: the manifest's
//! rename is the one moment the deploy happens. A power cut or a kill at
//! any point leaves the old manifest or the new one, and every module
//! either names. Modules no manifest names are deleted after each commit
//! and at start.

use super::disk::{self, Writer};
use super::manifest::Manifest;
use std::fs;
use std::path::{Path, PathBuf};

const MANIFEST: &str = "manifest.json";
/// Largest manifest written, and read at start: a change that would make
/// it larger is refused, so a start never meets one it cannot read.
pub(crate) const MAX_MANIFEST: usize = 16 << 20;

/// The store's directory.
pub(crate) struct Store {
    dir: PathBuf,
    modules: PathBuf,
    /// Writes a file's bytes: [`disk::write_all`], or a test's small disk.
    write: Writer,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// A store opened: its manifest, and what was set aside when the manifest
/// could not be read.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) store: Store,
    pub(crate) manifest: Manifest,
    pub(crate) aside: Option<Aside>,
}

/// An unreadable manifest and the modules of its time, moved out of the
/// way so that fenn serves the rest; nothing in it is deleted.
#[derive(Debug)]
pub(crate) struct Aside {
    /// The directory they were moved to.
    pub(crate) path: PathBuf,
    /// Why the manifest could not be read.
    pub(crate) reason: String,
    /// The functions it names, as far as it can still be read.
    pub(crate) names: Vec<String>,
}

/// A module's content hash, in lower-case hex.
pub(crate) fn sha256(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a manifest is not read.
enum Unreadable {
    /// Not a manifest (cut short, overwritten, not JSON of its shape):
    /// set aside.
    Corrupt(String),
    /// Of a format this fenn does not know (a newer fenn's): fenn does not
    /// start, rather than set aside what the newer one would read.
    Newer(String),
}

/// Reads a manifest this fenn wrote, or says why it cannot.
fn read_manifest(path: &Path) -> Result<Manifest, Unreadable> {
    let bytes = crate::files::read(path, MAX_MANIFEST as u64, "the most a manifest may be")
        .map_err(Unreadable::Corrupt)?;
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|error| {
        Unreadable::Corrupt(format!(
            "{}: not a manifest fenn wrote: {error}",
            path.display()
        ))
    })?;
    if manifest.format != super::manifest::FORMAT {
        return Err(Unreadable::Newer(format!(
            "{}: format {} is not one this fenn reads ({})",
            path.display(),
            manifest.format,
            super::manifest::FORMAT
        )));
    }
    Ok(manifest)
}

impl Store {
    /// Opens (or creates) the store at `dir` and reads its manifest;
    /// leftovers of an interrupted deploy are deleted. A manifest that
    /// cannot be read is set aside with the modules (see [`Aside`]) and the
    /// store starts empty, so that the rest of fenn still serves.
    pub(crate) fn open(dir: &Path) -> Result<Opened, String> {
        Self::open_with(dir, disk::write_all)
    }

    /// [`Store::open`], every file's bytes written by `write`.
    fn open_with(dir: &Path, write: Writer) -> Result<Opened, String> {
        let failed = |what: &str, error: std::io::Error| {
            format!("{}: cannot {what}: {error}", dir.display())
        };
        let modules = dir.join("modules");
        crate::state_dir::create_dir(&modules).map_err(|e| failed("create the store", e))?;
        for dir in [dir, &modules] {
            crate::state_dir::owner_only(dir)?;
        }
        let store = Self {
            dir: dir.to_owned(),
            modules,
            write,
        };
        let path = dir.join(MANIFEST);
        let (manifest, aside) = match path.exists().then(|| read_manifest(&path)) {
            None => (Manifest::new(), None),
            Some(Ok(manifest)) => (manifest, None),
            Some(Err(Unreadable::Newer(reason))) => return Err(reason),
            Some(Err(Unreadable::Corrupt(reason))) => {
                let aside = store
                    .set_aside(&reason)
                    .map_err(|e| failed("set the unreadable manifest aside", e))?;
                (Manifest::new(), Some(aside))
            }
        };
        store
            .collect(&manifest)
            .map_err(|e| failed("clean the store", e))?;
        Ok(Opened {
            store,
            manifest,
            aside,
        })
    }

    /// Moves the manifest and the modules into a directory of their own
    /// (`aside-<seconds since 1970>`), for the operator to look into.
    fn set_aside(&self, reason: &str) -> std::io::Result<Aside> {
        let manifest = self.dir.join(MANIFEST);
        let names = fs::read(&manifest)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .and_then(|value| {
                let functions = value.get("functions")?.as_object()?;
                Some(functions.keys().cloned().collect())
            })
            .unwrap_or_default();
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let mut aside = self.dir.join(format!("aside-{seconds}"));
        for n in 1.. {
            if !aside.exists() {
                break;
            }
            aside = self.dir.join(format!("aside-{seconds}-{n}"));
        }
        crate::state_dir::create_dir(&aside)?;
        fs::rename(&manifest, aside.join(MANIFEST))?;
        fs::rename(&self.modules, aside.join("modules"))?;
        crate::state_dir::create_dir(&self.modules)?;
        disk::sync_dir(&self.dir);
        Ok(Aside {
            path: aside,
            reason: reason.to_owned(),
            names,
        })
    }

    /// Writes `wasm` under its hash (once: the same module deployed again
    /// is not written again); returns the hash.
    pub(crate) fn put_module(&self, wasm: &[u8]) -> std::io::Result<String> {
        let hash = sha256(wasm);
        let name = format!("{hash}.wasm");
        let kept = self.modules.join(&name);
        let intact = fs::metadata(&kept).is_ok_and(|m| m.len() == wasm.len() as u64)
            && fs::read(&kept).is_ok_and(|bytes| sha256(&bytes) == hash);
        if !intact {
            disk::write_atomically(self.write, &self.dir, &self.modules, &name, wasm)?;
        }
        Ok(hash)
    }

    /// The store's directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the module of hash `sha` is kept.
    pub(crate) fn module_path(&self, sha: &str) -> PathBuf {
        self.modules.join(format!("{sha}.wasm"))
    }

    /// The module of hash `sha`, checked against it.
    pub(crate) fn read_module(&self, sha: &str, limit: usize) -> Result<Vec<u8>, String> {
        let path = self.module_path(sha);
        let bytes = crate::files::read(&path, limit as u64, "admin.max_module_size")?;
        if sha256(&bytes) != sha {
            return Err(format!(
                "{}: its content does not match its hash",
                path.display()
            ));
        }
        Ok(bytes)
    }

    /// Makes `manifest` the store's: the commit point of a change. Then
    /// deletes the modules it no longer names.
    pub(crate) fn commit(&self, manifest: &Manifest) -> std::io::Result<()> {
        let bytes = encoded(manifest)?;
        disk::write_atomically(self.write, &self.dir, &self.dir, MANIFEST, &bytes)?;
        if let Err(error) = self.collect(manifest) {
            tracing::warn!(%error, "cannot delete modules no version names");
        }
        Ok(())
    }

    /// [`Store::commit`] of a change that only removes (a function
    /// deleted): on a full disk, the modules `manifest` no longer names are
    /// deleted first, to make room for it. A power cut in between leaves
    /// the old manifest naming modules that are gone: its function is then
    /// not served, and deleting it again completes the removal.
    pub(crate) fn commit_removal(&self, manifest: &Manifest) -> std::io::Result<()> {
        match self.commit(manifest) {
            Err(error) if disk::is_full(&error) => {
                self.collect(manifest)?;
                self.commit(manifest)
            }
            done => done,
        }
    }

    /// Deletes temporary files and the modules `manifest` does not name.
    fn collect(&self, manifest: &Manifest) -> std::io::Result<()> {
        let named = manifest.referenced();
        for dir in [&self.dir, &self.modules] {
            for entry in fs::read_dir(dir)? {
                let entry = entry?;
                let file = entry.file_name();
                let file = file.to_string_lossy();
                let stale = file.ends_with(".tmp")
                    || (dir == &self.modules
                        && !file
                            .strip_suffix(".wasm")
                            .is_some_and(|hash| named.contains(hash)));
                let kind = entry.file_type()?;
                if stale && (kind.is_file() || kind.is_symlink()) {
                    fs::remove_file(entry.path())?;
                }
            }
        }
        Ok(())
    }

    /// How many module files the store holds.
    #[cfg(test)]
    fn module_count(&self) -> usize {
        fs::read_dir(&self.modules).map_or(0, Iterator::count)
    }
}

/// The manifest as the store writes it (compact JSON), or a
/// [`FileTooLarge`](std::io::ErrorKind::FileTooLarge) error when it is
/// larger than a start reads.
pub(crate) fn encoded(manifest: &Manifest) -> std::io::Result<Vec<u8>> {
    let bytes = serde_json::to_vec(manifest).map_err(std::io::Error::other)?;
    if bytes.len() > MAX_MANIFEST {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!(
                "the store's manifest would be {} bytes, over the most fenn keeps ({MAX_MANIFEST}): delete functions, or keep fewer versions",
                bytes.len()
            ),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::super::manifest::tests::version;
    use super::*;
    use std::io::Write as _;

    fn open(dir: &Path) -> (Store, Manifest) {
        let opened = Store::open(dir).unwrap();
        assert!(opened.aside.is_none());
        (opened.store, opened.manifest)
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fenn-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_committed_manifest_is_what_the_next_start_reads() {
        let dir = temp_dir("reopen");
        let (store, mut manifest) = open(&dir);
        let sha = store.put_module(b"\0asm one").unwrap();
        manifest.deploy("f", version(&sha), 5);
        store.commit(&manifest).unwrap();
        let (store, reread) = open(&dir);
        assert_eq!(reread, manifest);
        assert_eq!(store.read_module(&sha, 1 << 20).unwrap(), b"\0asm one");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn modules_no_version_names_and_leftovers_are_deleted() {
        let dir = temp_dir("collect");
        let (store, mut manifest) = open(&dir);
        for n in 0..4 {
            let sha = store.put_module(format!("module {n}").as_bytes()).unwrap();
            manifest.deploy("f", version(&sha), 2);
            store.commit(&manifest).unwrap();
        }
        assert_eq!(store.module_count(), 2);
        // An interrupted deploy: a module written, its manifest never was.
        store.put_module(b"orphan").unwrap();
        fs::write(dir.join(".manifest.json.tmp"), b"{half").unwrap();
        let (store, _) = open(&dir);
        assert_eq!(store.module_count(), 2);
        assert!(!dir.join(".manifest.json.tmp").exists());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_manifest_a_start_could_not_read_back_is_not_written() {
        let dir = temp_dir("large");
        let (store, mut manifest) = open(&dir);
        manifest.deploy("f", version("a"), 5);
        store.commit(&manifest).unwrap();
        let mut large = version("b");
        large.definition = serde_json::json!({"x": "x".repeat(MAX_MANIFEST)});
        let mut grown = manifest.clone();
        grown.deploy("f", large, 5);
        let refused = store.commit(&grown).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::FileTooLarge);
        assert_eq!(open(&dir).1, manifest);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_module_that_changed_on_disk_is_refused() {
        let dir = temp_dir("corrupt");
        let (store, _) = open(&dir);
        let sha = store.put_module(b"\0asm good").unwrap();
        fs::write(
            dir.join("modules").join(format!("{sha}.wasm")),
            b"\0asm bad!",
        )
        .unwrap();
        let error = store.read_module(&sha, 1 << 20).unwrap_err();
        assert!(error.contains("does not match its hash"), "{error}");
        // Deploying it again repairs it.
        store.put_module(b"\0asm good").unwrap();
        assert_eq!(store.read_module(&sha, 1 << 20).unwrap(), b"\0asm good");
        let _ = fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn links_planted_at_temporary_names_are_not_followed() {
        let dir = temp_dir("planted");
        let outside = temp_dir("planted-outside");
        fs::create_dir_all(&outside).unwrap();
        let (store, mut manifest) = open(&dir);
        let sha = sha256(b"module");
        for (at, name) in [
            (dir.clone(), ".manifest.json.tmp".to_owned()),
            (dir.join("modules"), format!(".{sha}.wasm.tmp")),
        ] {
            std::os::unix::fs::symlink(outside.join(&name), at.join(&name)).unwrap();
        }
        store.put_module(b"module").unwrap();
        manifest.deploy("f", version(&sha), 2);
        store.commit(&manifest).unwrap();
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
        let written = fs::symlink_metadata(dir.join(MANIFEST)).unwrap();
        assert!(written.file_type().is_file());
        assert_eq!(open(&dir).1, manifest);
        // The planted links went with the other leftovers.
        assert!(fs::symlink_metadata(dir.join(".manifest.json.tmp")).is_err());
        let _ = fs::remove_dir_all(&dir);
        let _ = fs::remove_dir_all(&outside);
    }

    /// The most the small disk of [`small_disk`] holds.
    const CAPACITY: u64 = 3000;

    /// A disk of [`CAPACITY`] bytes: a write gets what room is left, then
    /// the error a full disk gives.
    fn small_disk(root: &Path, file: &mut std::fs::File, bytes: &[u8]) -> std::io::Result<()> {
        fn used(dir: &Path) -> u64 {
            let entries = fs::read_dir(dir).unwrap().map(Result::unwrap);
            entries
                .map(|entry| match entry.file_type().unwrap().is_dir() {
                    true => used(&entry.path()),
                    false => entry.metadata().unwrap().len(),
                })
                .sum()
        }
        let room = CAPACITY.saturating_sub(used(root)) as usize;
        file.write_all(&bytes[..room.min(bytes.len())])?;
        if room < bytes.len() {
            return Err(std::io::ErrorKind::StorageFull.into());
        }
        Ok(())
    }

    #[test]
    fn on_a_full_disk_a_failed_write_leaves_nothing_and_a_removal_makes_room() {
        let dir = temp_dir("full");
        let opened = Store::open_with(&dir, small_disk).unwrap();
        let (store, mut manifest) = (opened.store, opened.manifest);
        for (name, fill) in [("a", b'a'), ("b", b'b')] {
            let sha = store.put_module(&[fill; 1000]).unwrap();
            manifest.deploy(name, version(&sha), 2);
            store.commit(&manifest).unwrap();
        }
        let error = store.put_module(&[b'c'; 1000]).unwrap_err();
        assert!(disk::is_full(&error), "{error}");
        let leftovers = |dir: &Path| {
            let names = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name());
            names
                .filter(|n| n.to_string_lossy().ends_with(".tmp"))
                .count()
        };
        assert_eq!(leftovers(&dir) + leftovers(&dir.join("modules")), 0);
        // Filled to the last byte: even a smaller manifest has no room.
        let room = CAPACITY - 2000 - fs::metadata(dir.join(MANIFEST)).unwrap().len();
        store.put_module(&vec![b'd'; room as usize]).unwrap();
        let mut removed = manifest.clone();
        removed.functions.remove("a");
        assert!(disk::is_full(&store.commit(&removed).unwrap_err()));
        store.commit_removal(&removed).unwrap();
        assert_eq!(open(&dir).1, removed);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unreadable_manifest_is_set_aside_with_its_modules_and_the_store_starts_empty() {
        let dir = temp_dir("aside");
        let (store, mut manifest) = open(&dir);
        let sha = store.put_module(b"kept").unwrap();
        manifest.deploy("f", version(&sha), 2);
        store.commit(&manifest).unwrap();
        fs::write(
            dir.join(MANIFEST),
            br#"{"format": 1, "functions": {"f": {"current": "one"}}}"#,
        )
        .unwrap();
        let opened = Store::open(&dir).unwrap();
        assert_eq!(opened.manifest, Manifest::new());
        let aside = opened.aside.unwrap();
        assert_eq!(aside.names, ["f"]);
        assert!(
            aside.reason.contains("not a manifest fenn wrote"),
            "{}",
            aside.reason
        );
        assert!(aside.path.join(MANIFEST).is_file());
        assert!(
            aside
                .path
                .join("modules")
                .join(format!("{sha}.wasm"))
                .is_file()
        );
        // What was set aside stays there through the next start.
        let (_, reopened) = open(&dir);
        assert_eq!(reopened, Manifest::new());
        assert!(aside.path.join(MANIFEST).is_file());
        let _ = fs::remove_dir_all(&dir);
    }
}
