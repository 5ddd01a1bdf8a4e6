//! `/v1/flows`: a flow's deploy (its definition in the body), its view,
//! its rollback and its delete, each change run to its end.

use super::bodies::{MAX_DEFINITION, flow_name, not_allowed, parse_flow_deployment, read};
use super::changes::{completed, rollback_version};
use crate::ApiError;
use crate::platform::Platform;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use serde_json::Value;
use std::sync::Arc;

/// Largest body of a flow's deploy: its definition and the JSON around it.
const MAX_FLOW_BODY: usize = MAX_DEFINITION + 64;

/// `GET`, `PUT` (deploy) and `DELETE` of `/v1/flows/{name}`.
pub(super) async fn flow(
    platform: &Arc<Platform>,
    name: &str,
    request: Request,
) -> Result<(StatusCode, Value), ApiError> {
    let name = flow_name(name)?;
    match request.method().clone() {
        Method::GET => Ok((StatusCode::OK, platform.get_flow(&name).await?)),
        Method::PUT => {
            let what = "a flow's definition, 64 KiB";
            let body = read(platform, request, MAX_FLOW_BODY, what).await?;
            let definition = parse_flow_deployment(&body)?;
            let deploy =
                move |p: Arc<Platform>| async move { p.deploy_flow(&name, definition).await };
            Ok((StatusCode::CREATED, completed(platform, deploy).await?))
        }
        Method::DELETE => {
            let delete = move |p: Arc<Platform>| async move { p.delete_flow(&name).await };
            Ok((StatusCode::OK, completed(platform, delete).await?))
        }
        _ => Err(not_allowed("GET, PUT or DELETE")),
    }
}

/// `POST /v1/flows/{name}/rollback`, to the version the body names
/// (`{"version": 3}`) or the one before the current.
pub(super) async fn rollback(
    platform: &Arc<Platform>,
    name: &str,
    request: Request,
) -> Result<Value, ApiError> {
    let name = flow_name(name)?;
    let to = rollback_version(platform, request).await?;
    let rollback = move |p: Arc<Platform>| async move { p.rollback_flow(&name, to).await };
    completed(platform, rollback).await
}
