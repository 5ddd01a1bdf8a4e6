//! Saving a change to the store off the async threads, and the answer
//! when it fails: whether anything changed, and a full disk named.

use super::ApiError;
use super::flow_store::FlowManifest;
use super::manifest::Manifest;
use super::state::State;
use std::path::Path;
use std::sync::Arc;

/// Writes `wasm` (when new) and makes `manifest` the store's.
pub(crate) async fn save(
    state: &State,
    manifest: &Manifest,
    wasm: Option<Arc<Vec<u8>>>,
) -> Result<(), ApiError> {
    let store = state.store.clone();
    let saved = manifest.clone();
    blocking(state.store.dir(), move || {
        // Refused before the module is written when it would not fit.
        super::store::encoded(&saved)?;
        if let Some(wasm) = wasm {
            store.put_module(&wasm)?;
        }
        store.commit(&saved)
    })
    .await
}

/// Makes `manifest` the flows' store's: a deploy, a rollback or a delete
/// of a flow.
pub(crate) async fn save_flows(state: &State, manifest: &FlowManifest) -> Result<(), ApiError> {
    let store = state.flow_store.clone();
    let saved = manifest.clone();
    blocking(state.flow_store.dir(), move || store.commit(&saved)).await
}

/// Why [`remove`] failed, as the API answers it.
pub(crate) enum Removal {
    /// Nothing changed.
    Unchanged(ApiError),
    /// The function's modules are deleted, its manifest entry is not.
    ModulesGone(ApiError),
}

/// Makes `manifest`, which only removes, the store's: on a full disk too.
pub(crate) async fn remove(state: &State, manifest: &Manifest) -> Result<(), Removal> {
    let store = state.store.clone();
    let saved = manifest.clone();
    let removed = tokio::task::spawn_blocking(move || store.commit_removal(&saved))
        .await
        .map_err(|_| Removal::Unchanged(bug()))?;
    let error = match removed {
        Ok(()) => return Ok(()),
        Err(super::store::Removal::Unchanged(error)) => {
            return Err(Removal::Unchanged(failed(state.store.dir(), &error)));
        }
        Err(super::store::Removal::ModulesGone(error)) => error,
    };
    let free = crate::state_dir::free_bytes(state.store.dir())
        .map_or_else(String::new, |free| format!(", {free} bytes free"));
    let reason = format!(
        "its modules were deleted to make room, but the store's manifest in {} could not be written ({error}{free}): it is no longer served; free space, then delete it again",
        state.store.dir().display()
    );
    Err(Removal::ModulesGone(
        match fenn_runtime::files::is_full(&error) {
            true => ApiError::DiskFull(reason),
            false => ApiError::Internal(reason),
        },
    ))
}

/// The error of a failure that cannot happen.
pub(crate) fn bug() -> ApiError {
    ApiError::Internal("the store failed (a bug: please report it)".into())
}

/// Runs disk work on the store in `dir` off the async threads; its
/// failure changes nothing.
async fn blocking<T: Send + 'static>(
    dir: &Path,
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(failed(dir, &error)),
        Err(_) => Err(bug()),
    }
}

/// The answer to a failed change of the store in `dir` that changed
/// nothing.
fn failed(dir: &Path, error: &std::io::Error) -> ApiError {
    if error.kind() == std::io::ErrorKind::FileTooLarge {
        return ApiError::Conflict(error.to_string());
    }
    if !fenn_runtime::files::is_full(error) {
        return ApiError::Internal(format!("the store failed, nothing changed: {error}"));
    }
    let free = crate::state_dir::free_bytes(dir)
        .map_or_else(String::new, |free| format!(" ({free} bytes free)"));
    ApiError::DiskFull(format!(
        "the disk holding {} is full{free}, nothing changed: delete functions or free space on it ({error})",
        dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse as _;

    #[tokio::test]
    async fn a_full_disk_is_a_507_naming_the_directory_and_its_free_bytes() {
        let dir = std::env::temp_dir().join(format!("fenn-platform-full-{}", std::process::id()));
        let store = super::super::store::Store::open(&dir, 100).unwrap().store;
        let full = || Err::<(), _>(std::io::Error::from(std::io::ErrorKind::StorageFull));
        let error = blocking(store.dir(), full).await.unwrap_err();
        let text = error.to_string();
        let holding = format!("the disk holding {} is full (", dir.display());
        assert!(
            text.contains(&holding) && text.contains(" bytes free), nothing changed"),
            "{text}"
        );
        assert_eq!(error.into_response().status().as_u16(), 507);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
