//! The requests that change or try the served functions: the online
//! check, deploy, delete, rollback and the test event, each run to its end.

use super::bodies::{deployment, function_name, not_allowed, parse_json, read, upload};
use crate::ApiError;
use crate::platform::Platform;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use serde_json::Value;
use std::sync::Arc;

/// `POST /v1/check`: the online compile of an uploaded module.
pub(super) async fn check(platform: &Arc<Platform>, request: Request) -> Result<Value, ApiError> {
    let _upload = upload(platform).await?;
    let most = platform.settings.max_module_bytes;
    let wasm = read(platform, request, most, "admin.max_module_size").await?;
    let _memory = (platform.deploy_memory)
        .reserve(wasm.len(), platform.body_timeout)
        .await?;
    crate::check::check(most, wasm).await
}

/// `GET`, `PUT` (deploy) and `DELETE` of `/v1/functions/{name}`.
pub(super) async fn function(
    platform: &Arc<Platform>,
    name: &str,
    request: Request,
) -> Result<(StatusCode, Value), ApiError> {
    let name = function_name(name)?;
    match request.method().clone() {
        Method::GET => Ok((StatusCode::OK, platform.get(&name).await?)),
        Method::PUT => {
            let _upload = upload(platform).await?;
            let (definition, wasm, memory) = deployment(platform, request).await?;
            let deploy = move |p: Arc<Platform>| async move {
                let deployed = p.deploy(&name, definition, wasm).await;
                drop(memory);
                deployed
            };
            Ok((StatusCode::CREATED, completed(platform, deploy).await?))
        }
        Method::DELETE => {
            let delete = move |p: Arc<Platform>| async move { p.delete(&name).await };
            Ok((StatusCode::OK, completed(platform, delete).await?))
        }
        _ => Err(not_allowed("GET, PUT or DELETE")),
    }
}

/// `POST /v1/functions/{name}/rollback`, to the version the body names
/// (`{"version": 3}`) or the one before the current.
pub(super) async fn rollback(
    platform: &Arc<Platform>,
    name: &str,
    request: Request,
) -> Result<Value, ApiError> {
    let name = function_name(name)?;
    let to = rollback_version(platform, request).await?;
    let rollback = move |p: Arc<Platform>| async move { p.rollback(&name, to).await };
    completed(platform, rollback).await
}

/// The version a rollback's body names (`{"version": 3}`), if any.
pub(super) async fn rollback_version(
    platform: &Platform,
    request: Request,
) -> Result<Option<u64>, ApiError> {
    let body = read(platform, request, 4 << 10, "4 KiB").await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Rollback {
        version: Option<u64>,
    }
    let asked: Rollback = parse_json(&body)?;
    Ok(asked.version)
}

/// `POST /v1/functions/{name}/invoke`: the test event in the body.
pub(super) async fn invoke(
    platform: &Arc<Platform>,
    name: &str,
    request: Request,
) -> Result<Value, ApiError> {
    let name = function_name(name)?;
    let _upload = upload(platform).await?;
    let limit = platform.max_event_bytes;
    let body = read(platform, request, limit, "server.max_body").await?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::BadRequest("the event is not UTF-8 JSON".into()))?;
    let event = crate::event::parse_event("event", text)
        .map_err(|error| ApiError::BadRequest(format!("{error:#}")))?;
    platform.invoke(&name, event).await
}

/// Runs a change to its end on a task of its own, even when the client
/// goes away mid-change: what is saved and what is served never part.
pub(super) async fn completed<F, Fut>(
    platform: &Arc<Platform>,
    change: F,
) -> Result<Value, ApiError>
where
    F: FnOnce(Arc<Platform>) -> Fut,
    Fut: std::future::Future<Output = Result<Value, ApiError>> + Send + 'static,
{
    tokio::spawn(change(platform.clone()))
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::Internal(
                "the change failed (a bug: please report it)".into(),
            ))
        })
}
