//! The management API over HTTP: the token check, the paths under `/v1`,
//! and reading bodies within their limits.

mod bodies;
mod changes;
mod flows;

use super::ApiError;
use super::platform::Platform;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bodies::not_allowed;
use changes::{check, function, invoke, rollback};
use fenn_http::policy::failures::Listener;
use serde_json::Value;
use std::sync::Arc;

/// A JSON response.
pub(crate) fn json(status: StatusCode, body: &Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

/// The router: every request is checked for the token, then routed.
pub(crate) fn router(platform: Arc<Platform>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(platform)
}

async fn handle(State(platform): State<Arc<Platform>>, request: Request) -> Response {
    // For service managers and load balancers: no token, nothing secret.
    match request.uri().path() {
        "/healthz" => return json(StatusCode::OK, &serde_json::json!({"status": "ok"})),
        "/readyz" => return readiness(&platform),
        path if request.method() == Method::GET => {
            if let Some(asset) = super::console::asset(path) {
                return asset;
            }
        }
        _ => {}
    }
    if let Err(refused) = check_token(&platform, &request) {
        return refused.into_response();
    }
    let get = request.method() == Method::GET;
    match request.uri().path() {
        "/metrics" if get => return super::records::metrics(&platform),
        "/v1/invocations/stream" if get => {
            let streamed = super::records::stream(&platform, request.uri().query());
            return streamed.unwrap_or_else(IntoResponse::into_response);
        }
        _ => {}
    }
    match route(&platform, request).await {
        Ok((status, body)) => json(status, &body),
        Err(error) => error.into_response(),
    }
}

/// `GET /readyz`: 200 when fenn serves its functions and every trigger
/// that has a say is ready (with `[mqtt]`, connected to the broker); 503
/// naming what is not ready.
fn readiness(platform: &Platform) -> Response {
    let (ready, words) = platform.triggers.readiness();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = serde_json::Map::new();
    body.insert("ready".into(), ready.into());
    body.insert("functions".into(), "loaded".into());
    body.extend(words);
    json(status, &serde_json::Value::Object(body))
}

/// The token check, with failures counted by the peer's address: past
/// the limit, a 429 until the penalty has passed. Loopback peers are not
/// throttled ([`throttled`]).
fn check_token(platform: &Platform, request: &Request) -> Result<(), ApiError> {
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip().to_canonical());
    let failures = &platform.auth_failures;
    if let Some(peer) = throttled(peer) {
        failures
            .check(peer, std::time::Instant::now())
            .map_err(|wait| ApiError::Throttled(fenn_http::policy::seconds_up(wait)))?;
    }
    if authorized(&platform.settings.token, request) {
        return Ok(());
    }
    if let Some(peer) = peer {
        let throttled = throttled(Some(peer)).is_some();
        failures.counted(peer, throttled, "wrong or missing token", Listener::Admin);
    }
    Err(ApiError::Unauthorized)
}

/// The address whose wrong tokens are throttled: none for a loopback
/// peer. Every local process shares the device's loopback address, so a
/// penalty there would let any of them lock the operator out; and a token
/// of 16 or more random characters is not guessed at the rate a local
/// process can try.
fn throttled(peer: Option<std::net::IpAddr>) -> Option<std::net::IpAddr> {
    peer.map(|peer| peer.to_canonical())
        .filter(|peer| !peer.is_loopback())
}

/// Whether the request carries the token (`Authorization: Bearer …`),
/// compared in time that does not depend on where they differ.
fn authorized(token: &str, request: &Request) -> bool {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or("");
    // Equal-length digests: the comparison takes the same time whatever
    // the given token's length or content.
    let given = super::store::sha256(given.as_bytes());
    let expected = super::store::sha256(token.as_bytes());
    let differ = given
        .bytes()
        .zip(expected.bytes())
        .fold(0u8, |differ, (a, b)| differ | (a ^ b));
    differ == 0
}

async fn route(
    platform: &Arc<Platform>,
    request: Request,
) -> Result<(StatusCode, Value), ApiError> {
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let method = request.method().clone();
    #[allow(clippy::unnecessary_wraps)]
    fn ok(body: Value) -> Result<(StatusCode, Value), ApiError> {
        Ok((StatusCode::OK, body))
    }
    match (segments.as_slice(), &method) {
        (["v1", "check"], &Method::POST) => ok(check(platform, request).await?),
        (["v1", "functions"], &Method::GET) => ok(platform.list().await),
        (["v1", "status"], &Method::GET) => ok(super::records::status(platform)),
        (["v1", "invocations"], &Method::GET) => ok(super::records::invocations(
            platform,
            request.uri().query(),
        )?),
        (["v1", "invocations", id], &Method::GET) => ok(super::records::invocation(platform, id)?),
        (["v1", "runs"], &Method::GET) => {
            ok(super::records::runs(platform, request.uri().query())?)
        }
        (["v1", "runs", id], &Method::GET) => ok(super::records::run(platform, id)?),
        (["v1", "functions", name], _) => function(platform, name, request).await,
        (["v1", "flows"], &Method::GET) => ok(platform.list_flows().await),
        (["v1", "flows", name], _) => flows::flow(platform, name, request).await,
        (["v1", "flows", name, "rollback"], &Method::POST) => {
            ok(flows::rollback(platform, name, request).await?)
        }
        (["v1", "functions", name, "rollback"], &Method::POST) => {
            ok(rollback(platform, name, request).await?)
        }
        (["v1", "functions", name, "invoke"], &Method::POST) => {
            ok(invoke(platform, name, request).await?)
        }
        (["v1", "functions", name, "kv"], &Method::GET) => {
            let name = bodies::function_name(name)?;
            ok(crate::kv::list(platform, &name, request.uri().query()).await?)
        }
        (["v1", "functions", name, "kv", key], method @ (&Method::GET | &Method::DELETE)) => {
            let name = bodies::function_name(name)?;
            let key = percent_encoding::percent_decode_str(key).decode_utf8_lossy();
            if method == Method::GET {
                ok(crate::kv::get(platform, &name, &key).await?)
            } else {
                ok(crate::kv::delete(platform, &name, &key).await?)
            }
        }
        (
            ["v1", "check"]
            | ["v1", "functions" | "flows" | "invocations" | "runs"]
            | ["v1", "functions", _, "rollback" | "invoke" | "kv"]
            | ["v1", "flows", _, "rollback"]
            | ["v1", "functions", _, "kv", _]
            | ["v1", "invocations" | "runs", _],
            _,
        ) => Err(not_allowed("another method")),
        _ => Err(ApiError::NotFound(format!("no such path: {path}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::bodies::function_name;
    use super::*;

    #[test]
    fn loopback_peers_are_not_throttled_and_network_peers_are() {
        let ip = |text: &str| Some(text.parse::<std::net::IpAddr>().unwrap());
        for local in ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(throttled(ip(local)), None, "{local}");
        }
        assert_eq!(throttled(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(throttled(ip("2001:db8::1")), ip("2001:db8::1"));
        assert_eq!(throttled(None), None);
    }

    #[test]
    fn names_with_slashes_dots_or_controls_are_refused() {
        for bad in ["..", ".", "a%2Fb", "%2E%2E", "a%0Ab", "", "caf%C3%A9"] {
            assert!(function_name(bad).is_err(), "{bad}");
        }
        assert_eq!(function_name("hello-2.v1").unwrap(), "hello-2.v1");
    }

    #[test]
    fn only_the_token_is_authorized() {
        let request = |value: &str| {
            Request::builder()
                .header(header::AUTHORIZATION, value)
                .body(Body::empty())
                .unwrap()
        };
        let token = "0123456789abcdef";
        assert!(authorized(token, &request("Bearer 0123456789abcdef")));
        assert!(!authorized(token, &request("Bearer 0123456789abcdeF")));
        assert!(!authorized(token, &request("Bearer 0123456789abcdef ")));
        assert!(!authorized(token, &request("0123456789abcdef")));
        assert!(!authorized(token, &Request::new(Body::empty())));
    }
}
