//! `POST /v1/check`: the online compile on its own. A module in; what it
//! exports and imports, whether it fits the ABI and how long the compile
//! took out, or the compiler's reason; nothing is saved.

use super::ApiError;
use fenn_runtime::{FunctionModule, Limits};
use serde_json::{Value, json};
use std::time::Instant;

/// Refuses bytes that are not a WebAssembly module with the reason a
/// person needs, before the compiler's own.
pub(crate) fn is_wasm(wasm: &[u8]) -> Result<(), ApiError> {
    if fenn_runtime::module::is_wasm(wasm) {
        Ok(())
    } else {
        Err(ApiError::refused(fenn_runtime::module::NOT_WASM))
    }
}

/// Compiles and checks `wasm` as a deploy would, with default limits and
/// every host call granted.
pub(crate) async fn check(max_module_bytes: usize, wasm: Vec<u8>) -> Result<Value, ApiError> {
    // Without a definition, every host call passes the check: the
    // deploy checks the imports against the definition's grants.
    let limits = Limits {
        module_bytes: max_module_bytes,
        grants: std::sync::Arc::new(fenn_runtime::Grants::any()),
        ..Limits::default()
    };
    is_wasm(&wasm)?;
    let size = wasm.len();
    let checked = tokio::task::spawn_blocking(move || {
        let info = fenn_runtime::module::inspect(&wasm)?;
        let started = Instant::now();
        let module = FunctionModule::compile("check", &wasm, limits)?;
        Ok::<_, fenn_runtime::Error>((info, started.elapsed(), module))
    })
    .await
    .map_err(|_| ApiError::Internal("the check failed (a bug: please report it)".into()))?;
    let (info, took, module) = checked.map_err(|error| ApiError::refused(error.to_string()))?;
    Ok(json!({
        "size": size,
        "exports": info.exports,
        "imports": info.imports,
        "abi": format!("fenn ABI v{}", fenn_abi::abi::ABI_VERSION),
        "compile_ms": super::millis(took),
        "instantiation": instantiation(&module),
    }))
}

/// What instantiating `module` costs every event, as the API shows it.
pub(crate) fn instantiation(module: &FunctionModule) -> Value {
    json!({
        "ms": super::millis(module.instantiation),
        "on_worker": module.heavy_start || module.blocking_calls,
    })
}
