//! Reading the files a config or a command names, within bounds: only
//! regular files (not `/dev/zero`, a FIFO or a directory), and at most a
//! limit, checked before reading and enforced while reading (a file that
//! grows in between is cut off, not read on and on).

use std::io::Read as _;
use std::path::Path;

/// Largest config file.
pub const MAX_CONFIG: u64 = 1 << 20;
/// Largest event file for `fenn invoke`.
pub const MAX_EVENT: u64 = 16 << 20;
/// Largest certificate or key file.
pub const MAX_PEM: u64 = 1 << 20;

/// Reads `path` whole if it is a regular file of at most `limit` bytes;
/// the error says what is wrong, naming the file and, for size, `what`
/// bounds it.
pub fn read(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, String> {
    let cannot = |error: std::io::Error| format!("cannot read {}: {error}", path.display());
    // Looked at before it is opened: opening a FIFO waits for a writer.
    if !std::fs::metadata(path).map_err(cannot)?.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    let file = std::fs::File::open(path).map_err(cannot)?;
    let metadata = file.metadata().map_err(cannot)?;
    if !metadata.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    if metadata.len() > limit {
        return Err(too_large(path, Some(metadata.len()), limit, what));
    }
    read_at_most(file, limit)
        .map_err(cannot)?
        .ok_or_else(|| too_large(path, None, limit, what))
}

/// Reads standard input, at most `limit` bytes.
pub fn read_stdin(limit: u64, what: &str) -> Result<Vec<u8>, String> {
    read_at_most(std::io::stdin().lock(), limit)
        .map_err(|error| format!("cannot read standard input: {error}"))?
        .ok_or_else(|| format!("standard input is over {what} ({limit} bytes)"))
}

/// What `reader` holds, or `None` when it holds more than `limit` bytes.
fn read_at_most(reader: impl std::io::Read, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

fn too_large(path: &Path, size: Option<u64>, limit: u64, what: &str) -> String {
    let size = size.map_or_else(|| format!("more than {limit}"), |size| size.to_string());
    format!(
        "{} is {size} bytes, over {what} ({limit} bytes)",
        path.display()
    )
}

/// Refuses a key file that users other than its owner may read, as ssh
/// refuses such a private key.
#[cfg(unix)]
pub fn private_to_owner(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt as _;
    let metadata = std::fs::metadata(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let mode = metadata.permissions().mode();
    if mode & 0o077 == 0 {
        Ok(())
    } else {
        Err(format!(
            "{} may be read by other users (mode {:o}): chmod 600 it",
            path.display(),
            mode & 0o777
        ))
    }
}

#[cfg(not(unix))]
pub fn private_to_owner(_path: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_a_directory_and_a_fifo_are_refused_unread() {
        for path in ["/dev/zero", "/"] {
            let error = read(Path::new(path), 10, "the limit").unwrap_err();
            assert!(error.contains("is not a regular file"), "{error}");
        }
    }

    #[test]
    fn a_file_over_the_limit_is_refused_and_one_within_is_read() {
        let file = std::env::temp_dir().join(format!("fenn-files-{}", std::process::id()));
        std::fs::write(&file, b"12345").unwrap();
        let error = read(&file, 4, "max_module_size").unwrap_err();
        assert!(
            error.ends_with("is 5 bytes, over max_module_size (4 bytes)"),
            "{error}"
        );
        assert_eq!(read(&file, 5, "x").unwrap(), b"12345");
        std::fs::remove_file(file).unwrap();
    }
}
