//! Reading the secret, key and JWKS files `[gateway]` and `[[app]]` name,
//! within bounds: only regular files (not `/dev/zero`, a FIFO or a
//! directory), and at most a limit, checked before reading and enforced
//! while reading (a file that grows in between is cut off).

use std::io::Read as _;
use std::path::Path;

/// Largest secret, code or JWKS file.
pub(super) const MAX_SECRET_FILE: u64 = 64 << 10;
/// Largest PEM key file.
pub(super) const MAX_PEM: u64 = 1 << 20;

/// Reads `path` whole if it is a regular file of at most `limit` bytes;
/// the error says what is wrong, naming the file and, for size, `what`
/// bounds it.
pub(super) fn read(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, String> {
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
    let too_large = |size: String| {
        format!(
            "{} is {size} bytes, over {what} ({limit} bytes)",
            path.display()
        )
    };
    if metadata.len() > limit {
        return Err(too_large(metadata.len().to_string()));
    }
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(format!("more than {limit}")));
    }
    Ok(bytes)
}

/// Refuses a key file that users other than its owner may read, as ssh
/// refuses such a private key.
#[cfg(unix)]
pub(super) fn private_to_owner(path: &Path) -> Result<(), String> {
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

/// Refuses a key file that users other than its owner may read (on unix).
#[cfg(not(unix))]
pub(super) fn private_to_owner(_path: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_a_directory_and_a_file_over_the_limit_are_refused() {
        for path in ["/dev/zero", "/"] {
            let error = read(Path::new(path), 10, "the limit").unwrap_err();
            assert!(error.contains("is not a regular file"), "{error}");
        }
        let file = std::env::temp_dir().join(format!("fenn-http-files-{}", std::process::id()));
        std::fs::write(&file, b"12345").unwrap();
        let error = read(&file, 4, "the most a secret file may be").unwrap_err();
        assert!(
            error.ends_with("is 5 bytes, over the most a secret file may be (4 bytes)"),
            "{error}"
        );
        assert_eq!(read(&file, 5, "x").unwrap(), b"12345");
        std::fs::remove_file(file).unwrap();
    }
}
