//! The state directory (`server.state_dir`): held by one fenn at a time,
//! writable by its owner only, and asked how much room is left on its disk.
//!
//! Two fenn processes on one directory would each overwrite the other's
//! manifest and delete the other's modules, so a start takes an exclusive
//! lock on `<state_dir>/fenn.lock` (`flock`, released by the kernel when the
//! process ends, however it ends) and writes its pid there; a second start
//! refuses, naming that pid. Others may not write it (they could plant
//! the names fenn writes to): fenn's own directory is made owner-only,
//! another user's is refused.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::Path;

/// The lock file's name in the state directory.
pub const LOCK: &str = "fenn.lock";

/// The state directory, held for as long as this value lives.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

/// Creates `dir` if need be, refuses it when others may write it, and
/// locks it for this process.
pub fn lock(dir: &Path) -> Result<StateLock, String> {
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
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o755);
    builder.create(dir)
}

/// Makes sure only fenn's user may write `dir`: a directory of fenn's own
/// that others may write (an earlier fenn's under a umask of 002) is
/// made owner-only, with a warning; one another user owns is refused,
/// since that user could plant the files fenn writes there. A link to the
/// directory is followed (systemd's `DynamicUser` gives fenn
/// `/var/lib/fenn` as a link to `/var/lib/private/fenn`).
#[cfg(unix)]
pub fn owner_only(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let metadata = std::fs::metadata(dir)
        .map_err(|error| format!("cannot read {}: {error}", dir.display()))?;
    let mode = metadata.permissions().mode() & 0o7777;
    // SAFETY: geteuid only returns this process's effective user id.
    #[allow(unsafe_code)]
    let fenn = unsafe { libc::geteuid() };
    match Ownership::of(metadata.uid(), mode, fenn) {
        Ownership::Fine => Ok(()),
        Ownership::Tighten(tightened) => {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(tightened))
                .map_err(|error| format!("{}: cannot chmod go-w it: {error}", dir.display()))?;
            tracing::warn!(
                dir = %dir.display(),
                "other users could write fenn's directory (mode {:o}): made it {:o} (chmod go-w)",
                mode & 0o777,
                tightened & 0o777
            );
            Ok(())
        }
        Ownership::Refused(why) => Err(format!("{}: {why}", dir.display())),
    }
}

#[cfg(not(unix))]
pub fn owner_only(_dir: &Path) -> Result<(), String> {
    Ok(())
}

/// What a directory's owner and mode call for.
#[derive(Debug, PartialEq, Eq)]
enum Ownership {
    Fine,
    /// Fenn's own, writable by others: to be given this mode.
    Tighten(u32),
    /// Why fenn does not use it.
    Refused(String),
}

impl Ownership {
    /// For a directory of owner `owner` and mode `mode`, used by the
    /// process of effective user `fenn`.
    fn of(owner: u32, mode: u32, fenn: u32) -> Self {
        let writable_by_others = mode & 0o022 != 0;
        if owner == fenn {
            return match writable_by_others {
                true => Self::Tighten(mode & !0o022),
                false => Self::Fine,
            };
        }
        if owner != 0 {
            return Self::Refused(format!(
                "owned by uid {owner}, not by fenn's user (uid {fenn}): that user could plant the files fenn writes there; chown it to fenn's user"
            ));
        }
        match writable_by_others {
            true => Self::Refused(format!(
                "owned by root and writable by other users (mode {:o}): they could plant the files fenn writes there; chmod go-w it, or chown it to fenn's user (uid {fenn})",
                mode & 0o777
            )),
            false => Self::Fine,
        }
    }
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
pub fn free_bytes(path: &Path) -> Option<u64> {
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
pub fn free_bytes(_path: &Path) -> Option<u64> {
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
    fn a_directory_of_fenns_own_others_may_write_is_made_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = temp_dir("mode");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        lock(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_directory_another_user_owns_is_refused_naming_the_owner() {
        for mode in [0o755, 0o775] {
            let Ownership::Refused(why) = Ownership::of(1001, mode, 1000) else {
                panic!("another user's directory is used");
            };
            assert!(
                why.contains("owned by uid 1001, not by fenn's user (uid 1000)"),
                "{why}"
            );
            assert!(why.contains("chown it"), "{why}");
        }
    }

    #[test]
    fn a_root_directory_is_used_unless_others_may_write_it() {
        assert_eq!(Ownership::of(0, 0o755, 1000), Ownership::Fine);
        let Ownership::Refused(why) = Ownership::of(0, 0o777, 1000) else {
            panic!("a root directory others may write is used");
        };
        assert!(why.contains("writable by other users (mode 777)"), "{why}");
        assert_eq!(Ownership::of(1000, 0o775, 1000), Ownership::Tighten(0o755));
        assert_eq!(
            Ownership::of(1000, 0o1777, 1000),
            Ownership::Tighten(0o1755)
        );
        assert_eq!(Ownership::of(0, 0o700, 0), Ownership::Fine);
    }

    #[test]
    fn the_free_bytes_of_a_directory_are_known() {
        assert!(free_bytes(&std::env::temp_dir()).is_some());
    }
}
