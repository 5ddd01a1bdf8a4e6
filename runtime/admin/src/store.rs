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

use super::manifest::Manifest;
use fenn_runtime::files::{self as disk, Writer};
use std::fs;
use std::path::{Path, PathBuf};

const MANIFEST: &str = "manifest.json";
/// Largest manifest written, and read at start: a change that would make
/// it larger is refused, so a start never meets one it cannot read.
pub(crate) const MAX_MANIFEST: usize = 16 << 20;

/// The store's directory.
pub struct Store {
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
pub struct Opened {
    pub store: Store,
    pub manifest: Manifest,
    pub aside: Option<Aside>,
}

/// An unreadable manifest and the modules of its time, moved out of the
/// way so that fenn serves the rest; nothing in it is deleted.
#[derive(Debug)]
pub struct Aside {
    /// The directory they were moved to.
    pub path: PathBuf,
    /// Why the manifest could not be read.
    pub reason: String,
    /// The functions it names, as far as it can still be read.
    pub names: Vec<String>,
}

/// Why a removal ([`Store::commit_removal`]) failed.
#[derive(Debug)]
pub enum Removal {
    /// Nothing changed.
    Unchanged(std::io::Error),
    /// The modules it removes were deleted to make room, but the manifest
    /// that no longer names them could not be written.
    ModulesGone(std::io::Error),
}

/// A module's content hash, in lower-case hex.
pub(crate) fn sha256(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Characters of the parser's reason kept when a manifest is set aside.
const REASON: usize = 300;

/// Why a manifest is not read.
pub(crate) enum Unreadable {
    /// Read whole, but not a manifest (cut short, overwritten, not JSON
    /// of its shape): set aside, with the bytes read.
    Corrupt(String, Vec<u8>),
    /// Of a format this fenn does not know (a newer fenn's): fenn does not
    /// start, rather than set aside what the newer one would read.
    Newer(String),
    /// Not read (no permission, an I/O error, not a regular file, over
    /// [`MAX_MANIFEST`]): fenn does not start, rather than set aside a
    /// history that may well be whole.
    Unread(String),
}

/// Reads a manifest this fenn wrote, or says why it cannot.
fn read_manifest(path: &Path) -> Result<Manifest, Unreadable> {
    read_versions(
        path,
        |manifest: &Manifest| manifest.format,
        super::manifest::FORMAT,
    )
}

/// Reads a manifest of versions (the functions' or the flows') this fenn
/// wrote, of format `format` (as `format_of` reads it), or says why it
/// cannot.
pub(crate) fn read_versions<T: serde::de::DeserializeOwned>(
    path: &Path,
    format_of: fn(&T) -> u32,
    format: u32,
) -> Result<T, Unreadable> {
    let bytes = fenn_runtime::files::read(path, MAX_MANIFEST as u64, "the most a manifest may be")
        .map_err(|error| {
            Unreadable::Unread(format!(
                "the store's manifest: {error}: make it a file fenn's user can read, then start fenn again"
            ))
        })?;
    let manifest: T = match serde_json::from_slice(&bytes) {
        Ok(manifest) => manifest,
        Err(error) => {
            // The parser quotes what it met (a key, a value): escaped and
            // cut short, since the reason is logged and listed for each
            // function named.
            let error: String = error.to_string().escape_debug().take(REASON).collect();
            let reason = format!("{}: not a manifest fenn wrote: {error}", path.display());
            return Err(Unreadable::Corrupt(reason, bytes));
        }
    };
    if format_of(&manifest) != format {
        return Err(Unreadable::Newer(format!(
            "{}: format {} is not one this fenn reads ({format})",
            path.display(),
            format_of(&manifest),
        )));
    }
    Ok(manifest)
}

/// The names under `section` (`functions`, `flows`) a manifest that is
/// not one still shows: only valid names, at most `most`.
pub(crate) fn names_in(bytes: &[u8], section: &str, most: usize) -> Vec<String> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Vec::new();
    };
    let Some(functions) = value.get(section).and_then(|f| f.as_object()) else {
        return Vec::new();
    };
    let names = functions
        .keys()
        .filter(|name| fenn_runtime::trigger::is_name(name));
    names.take(most).cloned().collect()
}

impl Store {
    /// Opens (or creates) the store at `dir` and reads its manifest;
    /// leftovers of an interrupted deploy are deleted. A manifest that
    /// cannot be read is set aside with the modules (see [`Aside`]) and the
    /// store starts empty, so that the rest of fenn still serves; at most
    /// `max_functions` of its names are kept. A manifest that cannot be
    /// read at all (permissions, an I/O error) stops the start instead.
    pub fn open(dir: &Path, max_functions: usize) -> Result<Opened, String> {
        Self::open_with(dir, max_functions, disk::write_all)
    }

    /// [`Store::open`], every file's bytes written by `write`.
    fn open_with(dir: &Path, max_functions: usize, write: Writer) -> Result<Opened, String> {
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
        // Only a manifest that is not there is no manifest: one that
        // cannot even be looked at is read, and refused, below.
        let absent = fs::metadata(&path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound);
        let (manifest, aside) = match (!absent).then(|| read_manifest(&path)) {
            None => (Manifest::new(), None),
            Some(Ok(manifest)) => (manifest, None),
            Some(Err(Unreadable::Newer(reason) | Unreadable::Unread(reason))) => {
                return Err(reason);
            }
            Some(Err(Unreadable::Corrupt(reason, bytes))) => {
                let names = names_in(&bytes, "functions", max_functions);
                let aside = store
                    .set_aside(&reason, names)
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
    /// (`aside-<seconds since 1970>`), for the operator to look into;
    /// `names` are the functions it still shows.
    fn set_aside(&self, reason: &str, names: Vec<String>) -> std::io::Result<Aside> {
        let manifest = self.dir.join(MANIFEST);
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
        if let Err(error) = disk::sync_dir(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), %error, "cannot sync the store's directory");
        }
        Ok(Aside {
            path: aside,
            reason: reason.to_owned(),
            names,
        })
    }

    /// Writes `wasm` under its hash (once: the same module deployed again
    /// is not written again); returns the hash.
    pub fn put_module(&self, wasm: &[u8]) -> std::io::Result<String> {
        let hash = sha256(wasm);
        let name = format!("{hash}.wasm");
        let kept = self.modules.join(&name);
        let intact = fs::metadata(&kept).is_ok_and(|m| m.len() == wasm.len() as u64)
            && fs::read(&kept).is_ok_and(|bytes| sha256(&bytes) == hash);
        if !intact {
            disk::write_atomically_with(self.write, &self.dir, &self.modules, &name, wasm)?;
        }
        Ok(hash)
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the module of hash `sha` is kept.
    pub fn module_path(&self, sha: &str) -> PathBuf {
        self.modules.join(format!("{sha}.wasm"))
    }

    /// The module of hash `sha`, checked against it.
    pub fn read_module(&self, sha: &str, limit: usize) -> Result<Vec<u8>, String> {
        let path = self.module_path(sha);
        let bytes = fenn_runtime::files::read(&path, limit as u64, "admin.max_module_size")?;
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
    pub fn commit(&self, manifest: &Manifest) -> std::io::Result<()> {
        let bytes = encoded(manifest)?;
        disk::write_atomically_with(self.write, &self.dir, &self.dir, MANIFEST, &bytes)?;
        if let Err(error) = self.collect(manifest) {
            tracing::warn!(%error, "cannot delete modules no version names");
        }
        Ok(())
    }

    /// [`Store::commit`] of a change that only removes (a function
    /// deleted): on a full disk, the modules `manifest` no longer names are
    /// deleted first, to make room for it. When the manifest still cannot
    /// be written after that, or a power cut comes in between, the old
    /// manifest names modules that are gone: its function is then not
    /// served, and deleting it again completes the removal.
    pub fn commit_removal(&self, manifest: &Manifest) -> Result<(), Removal> {
        match self.commit(manifest) {
            Err(error) if disk::is_full(&error) => {}
            done => return done.map_err(Removal::Unchanged),
        }
        match self.collect(manifest) {
            Ok(0) => self.commit(manifest).map_err(Removal::Unchanged),
            Ok(_) => self.commit(manifest).map_err(Removal::ModulesGone),
            Err(error) => Err(Removal::ModulesGone(error)),
        }
    }

    /// Deletes temporary files and the modules `manifest` does not name;
    /// returns how many modules it deleted.
    fn collect(&self, manifest: &Manifest) -> std::io::Result<usize> {
        let named = manifest.referenced();
        let mut modules = 0;
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
                    modules += usize::from(dir == &self.modules);
                }
            }
        }
        Ok(modules)
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
pub(crate) fn encoded<T: serde::Serialize>(manifest: &T) -> std::io::Result<Vec<u8>> {
    let bytes = serde_json::to_vec(manifest).map_err(std::io::Error::other)?;
    if bytes.len() > MAX_MANIFEST {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!(
                "the store's manifest would be {} bytes, over the most fenn keeps ({MAX_MANIFEST}): delete functions or flows, or keep fewer versions",
                bytes.len()
            ),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests;
