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
use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};

const MANIFEST: &str = "manifest.json";
/// Largest manifest written, and read at start: a change that would make
/// it larger is refused, so a start never meets one it cannot read.
pub(crate) const MAX_MANIFEST: usize = 16 << 20;

/// The store's directory.
#[derive(Debug)]
pub(crate) struct Store {
    dir: PathBuf,
    modules: PathBuf,
}

/// A module's content hash, in lower-case hex.
pub(crate) fn sha256(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

impl Store {
    /// Opens (or creates) the store at `dir` and reads its manifest;
    /// leftovers of an interrupted deploy are deleted.
    pub(crate) fn open(dir: &Path) -> Result<(Self, Manifest), String> {
        let failed = |what: &str, error: std::io::Error| {
            format!("{}: cannot {what}: {error}", dir.display())
        };
        let modules = dir.join("modules");
        fs::create_dir_all(&modules).map_err(|e| failed("create the store", e))?;
        let store = Self {
            dir: dir.to_owned(),
            modules,
        };
        let path = dir.join(MANIFEST);
        let manifest = if path.exists() {
            let bytes =
                crate::files::read(&path, MAX_MANIFEST as u64, "the most a manifest may be")?;
            let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|error| {
                format!("{}: not a manifest fenn wrote: {error}", path.display())
            })?;
            if manifest.format != super::manifest::FORMAT {
                return Err(format!(
                    "{}: format {} is not one this fenn reads ({})",
                    path.display(),
                    manifest.format,
                    super::manifest::FORMAT
                ));
            }
            manifest
        } else {
            Manifest::new()
        };
        store
            .collect(&manifest)
            .map_err(|e| failed("clean the store", e))?;
        Ok((store, manifest))
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
            write_atomically(&self.modules, &name, wasm)?;
        }
        Ok(hash)
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
        write_atomically(&self.dir, MANIFEST, &bytes)?;
        if let Err(error) = self.collect(manifest) {
            tracing::warn!(%error, "cannot delete modules no version names");
        }
        Ok(())
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
                if stale && entry.file_type()?.is_file() {
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

/// Writes `bytes` as `dir/name` so that the file is either whole or as it
/// was: a temporary file, synced, renamed over it, the directory synced.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = dir.join(format!(".{name}.tmp"));
    let mut file = File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temporary, dir.join(name))?;
    // Renamed, the file is in place: a failure to sync the directory now
    // is logged, not reported as a change that did not happen.
    if let Err(error) = File::open(dir).and_then(|dir| dir.sync_all()) {
        tracing::warn!(dir = %dir.display(), %error, "cannot sync the store's directory");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::manifest::tests::version;
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fenn-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_committed_manifest_is_what_the_next_start_reads() {
        let dir = temp_dir("reopen");
        let (store, mut manifest) = Store::open(&dir).unwrap();
        let sha = store.put_module(b"\0asm one").unwrap();
        manifest.deploy("f", version(&sha), 5);
        store.commit(&manifest).unwrap();
        let (store, reread) = Store::open(&dir).unwrap();
        assert_eq!(reread, manifest);
        assert_eq!(store.read_module(&sha, 1 << 20).unwrap(), b"\0asm one");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn modules_no_version_names_and_leftovers_are_deleted() {
        let dir = temp_dir("collect");
        let (store, mut manifest) = Store::open(&dir).unwrap();
        for n in 0..4 {
            let sha = store.put_module(format!("module {n}").as_bytes()).unwrap();
            manifest.deploy("f", version(&sha), 2);
            store.commit(&manifest).unwrap();
        }
        assert_eq!(store.module_count(), 2);
        // An interrupted deploy: a module written, its manifest never was.
        store.put_module(b"orphan").unwrap();
        fs::write(dir.join(".manifest.json.tmp"), b"{half").unwrap();
        let (store, _) = Store::open(&dir).unwrap();
        assert_eq!(store.module_count(), 2);
        assert!(!dir.join(".manifest.json.tmp").exists());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_manifest_a_start_could_not_read_back_is_not_written() {
        let dir = temp_dir("large");
        let (store, mut manifest) = Store::open(&dir).unwrap();
        manifest.deploy("f", version("a"), 5);
        store.commit(&manifest).unwrap();
        let mut large = version("b");
        large.definition = serde_json::json!({"x": "x".repeat(MAX_MANIFEST)});
        let mut grown = manifest.clone();
        grown.deploy("f", large, 5);
        let refused = store.commit(&grown).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::FileTooLarge);
        assert_eq!(Store::open(&dir).unwrap().1, manifest);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_module_that_changed_on_disk_is_refused() {
        let dir = temp_dir("corrupt");
        let (store, _) = Store::open(&dir).unwrap();
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
}
