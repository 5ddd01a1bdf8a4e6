//! Reading the PEM files `[mqtt]` names, within bounds: only regular
//! files (not `/dev/zero`, a FIFO or a directory), and at most
//! [`MAX_PEM`] bytes, checked before reading and enforced while reading.

use std::io::Read as _;
use std::path::Path;

/// Largest certificate or key file.
const MAX_PEM: u64 = 1 << 20;

/// Reads `path` whole if it is a regular file of at most [`MAX_PEM`]
/// bytes; the error says what is wrong, naming the file.
pub(super) fn read(path: &Path) -> Result<Vec<u8>, String> {
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
    if metadata.len() > MAX_PEM {
        return Err(too_large(path, &metadata.len().to_string()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_PEM.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_PEM {
        return Err(too_large(path, &format!("more than {MAX_PEM}")));
    }
    Ok(bytes)
}

fn too_large(path: &Path, size: &str) -> String {
    format!(
        "{} is {size} bytes, over the most a PEM file may be ({MAX_PEM} bytes)",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_or_a_missing_file_is_refused_naming_it() {
        let dir = std::env::temp_dir();
        let error = read(&dir).unwrap_err();
        assert_eq!(error, format!("{} is not a regular file", dir.display()));
        let missing = dir.join("fenn-no-such-ca.pem");
        let error = read(&missing).unwrap_err();
        assert!(
            error.starts_with(&format!("cannot read {}: ", missing.display())),
            "{error}"
        );
    }
}
