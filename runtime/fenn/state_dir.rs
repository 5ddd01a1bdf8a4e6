//! The state directory (`server.state_dir`): held by one fenn at a time,
//! writable by its owner only, and asked how much room is left on its disk.
//!
//! Two fenn processes on one directory would each overwrite the other's
//! manifest and delete the other's modules, so a start takes an exclusive
//! lock on `<state_dir>/fenn.lock` (`flock`, released by the kernel when the
//! process ends, however it ends) and writes its pid there; a second start
//! refuses, naming that pid. A directory others may write is refused: they
//! could plant the names fenn writes to.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::Path;

/// The lock file's name in the state directory.
pub(crate) const LOCK: &str = "fenn.lock";

/// The state directory, held for as long as this value lives.
#[derive(Debug)]
pub(crate) struct StateLock {
    _file: File,
}

/// Creates `dir` if need be, refuses it when others may write it, and
/// locks it for this process.
pub(crate) fn lock(dir: &Path) -> Result<StateLock, String> {
    let failed = |what: &str, error: std::io::Error| {
        format!(
            "server.state_dir: {}: cannot {what}: {error}",
            dir.display()
        )
    };
    create_dir(dir).map_err(|e| failed("create it", e))?;
    owner_only(dir)?;
    let mut file = open_nofollow(&dir.join(LOCK)).map_err(|e| failed("open its lock file", e))?;
    match try_lock(&file) {
        Ok(true) => {}
        Ok(false) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let holder = match holder.parse::<u32>() {
                Ok(pid) => format!("pid {pid}"),
                Err(_) => "a process that has not written its pid yet".to_owned(),
            };
            return Err(format!(
                "server.state_dir: {} is in use by another fenn ({holder}): stop it, or give this one another state_dir",
                dir.display()
            ));
        }
        Err(error) => return Err(failed("lock it", error)),
    }
    let pid = std::process::id();
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{pid}"))
        .map_err(|e| failed("write its lock file", e))?;
    Ok(StateLock { _file: file })
}

/// Creates `dir` and its parents as needed, writable by their owner only
/// whatever the umask (a umask of 002 would make them group-writable, and
/// refused at the next start).
pub(crate) fn create_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o755);
    builder.create(dir)
}

/// Refuses a directory that users other than its owner may write. A link
/// to the directory is followed (systemd's `DynamicUser` gives fenn
/// `/var/lib/fenn` as a link to `/var/lib/private/fenn`).
#[cfg(unix)]
pub(crate) fn owner_only(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt as _;
    let metadata = std::fs::metadata(dir)
        .map_err(|error| format!("cannot read {}: {error}", dir.display()))?;
    let mode = metadata.permissions().mode();
    if mode & 0o022 == 0 {
        Ok(())
    } else {
        Err(format!(
            "{} may be written by other users (mode {:o}): they could plant the files fenn writes there; chmod go-w it",
            dir.display(),
            mode & 0o777
        ))
    }
}

#[cfg(not(unix))]
pub(crate) fn owner_only(_dir: &Path) -> Result<(), String> {
    Ok(())
}

/// Opens (or creates) `path` for reading and writing, never through a
/// symbolic link.
fn open_nofollow(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NOFOLLOW).mode(0o644);
    }
    options.open(path)
}

/// Takes an exclusive lock on `file` without waiting: false when another
/// process holds it.
#[cfg(unix)]
#[allow(unsafe_code)]
fn try_lock(file: &File) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd as _;
    // SAFETY: flock only takes a descriptor, which `file` keeps open for
    // the call. (std's File::try_lock needs a newer Rust than fenn's
    // declared minimum.)
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if locked == 0 {
        return Ok(true);
    }
    let error = std::io::Error::last_os_error();
    if error.kind() == std::io::ErrorKind::WouldBlock {
        Ok(false)
    } else {
        Err(error)
    }
}

#[cfg(not(unix))]
fn try_lock(_file: &File) -> std::io::Result<bool> {
    Ok(true)
}

/// Bytes free for an unprivileged writer on the file system holding
/// `path`, when the system says.
#[cfg(unix)]
#[allow(unsafe_code)]
pub(crate) fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt as _;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a valid C string and `stats` a buffer of the type
    // statvfs fills; it is read only when the call succeeds.
    let stats = unsafe {
        if libc::statvfs(path.as_ptr(), stats.as_mut_ptr()) != 0 {
            return None;
        }
        stats.assume_init()
    };
    #[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
    Some(u64::from(stats.f_bavail).saturating_mul(stats.f_frsize as u64))
}

#[cfg(not(unix))]
pub(crate) fn free_bytes(_path: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("fenn-state-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_until_the_first_is_dropped() {
        let dir = temp_dir("lock");
        let held = lock(&dir).unwrap();
        let pid = std::process::id();
        assert_eq!(
            std::fs::read_to_string(dir.join(LOCK)).unwrap(),
            format!("{pid}\n")
        );
        let error = lock(&dir).unwrap_err();
        assert!(
            error.contains(&format!("in use by another fenn (pid {pid})")),
            "{error}"
        );
        drop(held);
        lock(&dir).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_others_may_write_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = temp_dir("mode");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let error = lock(&dir).unwrap_err();
        assert!(
            error.contains("may be written by other users (mode 777)"),
            "{error}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_free_bytes_of_a_directory_are_known() {
        assert!(free_bytes(&std::env::temp_dir()).is_some());
    }
}
