//! A function's key-value store through the management API: its keys by
//! prefix, one value, a deletion. The function's definition names its
//! namespace (its own, or a shared store's); values are shown as text when
//! they are UTF-8, else base64.

use crate::{ApiError, Platform};
use base64::Engine as _;
use fenn_runtime::services::KvStore;
use serde_json::{Value, json};
use std::sync::Arc;

/// The most keys one listing answers.
const MAX_LISTED: usize = 1_000;

/// The store and the namespace of a deployed function with one.
fn namespace(platform: &Platform, name: &str) -> Result<(Arc<dyn KvStore>, Arc<str>), ApiError> {
    let module = (platform.dispatcher.modules().into_iter())
        .find(|module| module.name() == name)
        .ok_or_else(|| ApiError::NotFound(format!("no function named '{name}'")))?;
    let grant = (module.limits().grants.kv.clone()).ok_or_else(|| {
        ApiError::NotFound(format!("'{name}' has no key-value store (kv = true)"))
    })?;
    let store = (platform.dispatcher.services().kv().cloned())
        .ok_or_else(|| ApiError::NotFound("fenn runs without a key-value store".into()))?;
    Ok((store, grant.store))
}

fn failed(error: &fenn_runtime::services::KvError) -> ApiError {
    ApiError::Internal(error.to_string())
}

/// `GET /v1/functions/{name}/kv?prefix=P&limit=N`.
pub(crate) async fn list(
    platform: &Platform,
    name: &str,
    query: Option<&str>,
) -> Result<Value, ApiError> {
    let (store, ns) = namespace(platform, name)?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|error| ApiError::BadRequest(error.to_string()))?;
    let prefix = pairs
        .iter()
        .find(|(k, _)| k == "prefix")
        .map_or("", |(_, v)| v.as_str())
        .to_owned();
    let limit = match pairs.iter().find(|(k, _)| k == "limit") {
        Some((_, text)) => text
            .parse()
            .map_err(|_| ApiError::BadRequest(format!("limit: '{text}' is not a number")))?,
        None => 100,
    };
    let limit = usize::min(limit, MAX_LISTED);
    let blocking_ns = ns.clone();
    let keys =
        tokio::task::spawn_blocking(move || store.list(&blocking_ns, prefix.as_bytes(), limit))
            .await
            .map_err(|_| ApiError::Internal("listing the store failed".into()))?
            .map_err(|error| failed(&error))?;
    let keys: Vec<String> = keys
        .iter()
        .map(|key| String::from_utf8_lossy(key).into_owned())
        .collect();
    Ok(json!({ "function": name, "store": &*ns, "keys": keys }))
}

/// `GET /v1/functions/{name}/kv/{key}`.
pub(crate) async fn get(platform: &Platform, name: &str, key: &str) -> Result<Value, ApiError> {
    let (store, ns) = namespace(platform, name)?;
    let key = key.to_owned();
    let wanted = key.clone();
    let value = tokio::task::spawn_blocking(move || store.get(&ns, wanted.as_bytes()))
        .await
        .map_err(|_| ApiError::Internal("reading the store failed".into()))?
        .map_err(|error| failed(&error))?
        .ok_or_else(|| ApiError::NotFound(format!("'{name}' has no key '{key}'")))?;
    Ok(match String::from_utf8(value) {
        Ok(text) => json!({ "key": key, "value": text }),
        Err(bytes) => json!({
            "key": key,
            "base64": base64::engine::general_purpose::STANDARD.encode(bytes.as_bytes()),
        }),
    })
}

/// `DELETE /v1/functions/{name}/kv/{key}`.
pub(crate) async fn delete(platform: &Platform, name: &str, key: &str) -> Result<Value, ApiError> {
    let (store, ns) = namespace(platform, name)?;
    let wanted = key.to_owned();
    let deleted = tokio::task::spawn_blocking(move || store.delete(&ns, wanted.as_bytes()))
        .await
        .map_err(|_| ApiError::Internal("writing the store failed".into()))?
        .map_err(|error| failed(&error))?;
    Ok(json!({ "key": key, "deleted": deleted }))
}
