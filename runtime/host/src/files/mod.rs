//! Files written whole or not at all (the deploy store, the cron state,
//! the MQTT outbox): under temporary names that are new and unguessed (a
//! name planted in the directory, a link included, is never followed),
//! synced, renamed over the old file, the directory synced; a failed
//! write deletes its temporary file. And files read within bounds
//! (`read`): regular files only, at most a limit.

mod read;

pub use read::{MAX_CONFIG, MAX_EVENT, MAX_PEM, private_to_owner, read, read_stdin};

use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `file`, a new file under `root` (a test's fake disk
/// counts what `root` holds).
pub type Writer = fn(root: &Path, file: &mut File, bytes: &[u8]) -> std::io::Result<()>;

/// The real write.
///
/// # Errors
///
/// The write's.
pub fn write_all(_root: &Path, file: &mut File, bytes: &[u8]) -> std::io::Result<()> {
    file.write_all(bytes)
}

/// Whether `error` says the disk (or the user's quota on it) is full.
pub fn is_full(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

/// Writes `bytes` as `dir/name` so that the file is either whole or as it
/// was ([`write_atomically_with`] the real write).
///
/// # Errors
///
/// Creating, writing, syncing or renaming the temporary file.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    write_atomically_with(write_all, dir, dir, name, bytes)
}

/// Writes `bytes` as `dir/name` with `write`: a temporary file, synced,
/// renamed over it, the directory synced. A failed write deletes its
/// temporary file.
///
/// # Errors
///
/// Creating, writing, syncing or renaming the temporary file.
pub fn write_atomically_with(
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
    if let Err(error) = sync_dir(dir) {
        // The rename is done: logged, not reported as a change that did
        // not happen.
        tracing::warn!(dir = %dir.display(), %error, "cannot sync a directory after a rename");
    }
    Ok(())
}

/// Syncs directory `dir`, so that a rename or a new file in it survives a
/// power cut.
///
/// # Errors
///
/// Opening or syncing it.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir).and_then(|dir| dir.sync_all())
}

/// Tries at new names before giving up.
const ATTEMPTS: usize = 64;

/// Creates a temporary file `.<name>.<random>.tmp` in `dir`, never
/// following a link planted there: (its path, the file). The caller
/// renames it into place or deletes it.
///
/// # Errors
///
/// Creating it, or every name tried already taken.
pub fn create_temporary(dir: &Path, name: &str) -> std::io::Result<(PathBuf, File)> {
    use std::hash::BuildHasher as _;
    for attempt in 0..ATTEMPTS {
        // A hasher std seeds from the system's randomness, per process
        // and per instance: a name no one can plant ahead.
        let salt = std::collections::hash_map::RandomState::new().hash_one(attempt);
        let path = dir.join(format!(".{name}.{salt:016x}.tmp"));
        let mut options = fs::OpenOptions::new();
        // create_new: O_EXCL, which fails on any existing name, a link too.
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o644);
        }
        match options.open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(error),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!("{}: no free temporary name for {name}", dir.display()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fenn-files-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn temporaries(dir: &Path) -> usize {
        let names = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name());
        names
            .filter(|n| n.to_string_lossy().ends_with(".tmp"))
            .count()
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file_and_the_old_one_whole() {
        let dir = temp_dir("failed");
        write_atomically(&dir, "state", b"old").unwrap();
        let full: Writer = |_, _, _| Err(std::io::ErrorKind::StorageFull.into());
        let error = write_atomically_with(full, &dir, &dir, "state", b"new").unwrap_err();
        assert!(is_full(&error), "{error}");
        assert_eq!(temporaries(&dir), 0);
        assert_eq!(fs::read(dir.join("state")).unwrap(), b"old");
        let _ = fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn temporary_names_are_new_each_time_and_never_follow_a_link() {
        let dir = temp_dir("names");
        let (first, _) = create_temporary(&dir, "state").unwrap();
        let (second, _) = create_temporary(&dir, "state").unwrap();
        assert_ne!(first, second);
        // A link planted at the name a write used: the next write neither
        // follows it nor fails.
        let outside = temp_dir("names-outside");
        fs::remove_file(&first).unwrap();
        std::os::unix::fs::symlink(outside.join("x"), &first).unwrap();
        write_atomically(&dir, "state", b"new").unwrap();
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
        assert_eq!(fs::read(dir.join("state")).unwrap(), b"new");
        let _ = fs::remove_dir_all(&dir);
        let _ = fs::remove_dir_all(&outside);
    }
}
