//! The files the store writes: whole or not at all, under temporary names
//! that are new and random (a name planted in the directory, a link
//! included, is never followed), and not left behind when a write fails.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `file`, a new file in the store at `root`.
pub(super) type Writer = fn(root: &Path, file: &mut File, bytes: &[u8]) -> std::io::Result<()>;

/// The real write.
pub(super) fn write_all(_root: &Path, file: &mut File, bytes: &[u8]) -> std::io::Result<()> {
    file.write_all(bytes)
}

/// Whether `error` says the disk (or the user's quota on it) is full.
pub(crate) fn is_full(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

/// Writes `bytes` as `dir/name` so that the file is either whole or as
/// it was: a temporary file, synced, renamed over it, the directory
/// synced. A failed write deletes its temporary file.
pub(super) fn write_atomically(
    write: Writer,
    root: &Path,
    dir: &Path,
    name: &str,
    bytes: &[u8],
) -> std::io::Result<()> {
    let (temporary, mut file) = create_temporary(dir, name)?;
    let written = write(root, &mut file, bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| {
            drop(file);
            fs::rename(&temporary, dir.join(name))
        });
    if let Err(error) = written {
        let _ = fs::remove_file(&temporary);
        return Err(error);
    }
    sync_dir(dir);
    Ok(())
}

/// Syncs directory `dir`, so that a rename in it survives a power cut; a
/// failure is logged, not reported as a change that did not happen (the
/// rename is done).
pub(super) fn sync_dir(dir: &Path) {
    if let Err(error) = File::open(dir).and_then(|dir| dir.sync_all()) {
        tracing::warn!(dir = %dir.display(), %error, "cannot sync the store's directory");
    }
}

/// Creates a temporary file in `dir` under a new random name, never
/// following a link planted there: (its path, the file).
fn create_temporary(dir: &Path, name: &str) -> std::io::Result<(PathBuf, File)> {
    use ring::rand::SecureRandom as _;
    let random = ring::rand::SystemRandom::new();
    loop {
        let mut salt = [0u8; 8];
        random
            .fill(&mut salt)
            .map_err(|_| std::io::Error::other("no random bytes for a temporary name"))?;
        let salt: String = salt.iter().map(|b| format!("{b:02x}")).collect();
        let path = dir.join(format!(".{name}.{salt}.tmp"));
        let mut options = fs::OpenOptions::new();
        // create_new: O_EXCL, which fails on any existing name, a link too.
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.custom_flags(libc::O_NOFOLLOW).mode(0o644);
        }
        match options.open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
}
