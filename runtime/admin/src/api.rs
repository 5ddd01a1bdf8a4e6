//! The management API over HTTP: the token check, the paths under `/v1`,
//! and reading bodies within their limits.

use super::ApiError;
use super::platform::Platform;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use fenn_http::policy::failures::Listener;
use http_body_util::BodyExt as _;
use serde_json::Value;
use std::sync::Arc;

/// Largest definition, as JSON.
const MAX_DEFINITION: usize = 64 << 10;

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
        (["v1", "functions", name], _) => function(platform, name, request).await,
        (["v1", "functions", name, "rollback"], &Method::POST) => {
            ok(rollback(platform, name, request).await?)
        }
        (["v1", "functions", name, "invoke"], &Method::POST) => {
            ok(invoke(platform, name, request).await?)
        }
        (
            ["v1", "check"]
            | ["v1", "functions" | "invocations"]
            | ["v1", "functions", _, "rollback" | "invoke"]
            | ["v1", "invocations", _],
            _,
        ) => Err(not_allowed("another method")),
        _ => Err(ApiError::NotFound(format!("no such path: {path}"))),
    }
}

/// `POST /v1/check`: the online compile of an uploaded module.
async fn check(platform: &Arc<Platform>, request: Request) -> Result<Value, ApiError> {
    let _upload = upload(platform).await?;
    let most = platform.settings.max_module_bytes;
    let wasm = read(platform, request, most, "admin.max_module_size").await?;
    let _memory = (platform.deploy_memory)
        .reserve(wasm.len(), platform.body_timeout)
        .await?;
    super::check::check(most, wasm).await
}

/// `GET`, `PUT` (deploy) and `DELETE` of `/v1/functions/{name}`.
async fn function(
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
async fn rollback(
    platform: &Arc<Platform>,
    name: &str,
    request: Request,
) -> Result<Value, ApiError> {
    let name = function_name(name)?;
    let body = read(platform, request, 4 << 10, "4 KiB").await?;
    let to = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Rollback {
            version: Option<u64>,
        }
        let asked: Rollback = parse_json(&body)?;
        asked.version
    };
    let rollback = move |p: Arc<Platform>| async move { p.rollback(&name, to).await };
    completed(platform, rollback).await
}

/// `POST /v1/functions/{name}/invoke`: the test event in the body.
async fn invoke(platform: &Arc<Platform>, name: &str, request: Request) -> Result<Value, ApiError> {
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
async fn completed<F, Fut>(platform: &Arc<Platform>, change: F) -> Result<Value, ApiError>
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

/// A place among the uploads held at once.
async fn upload(platform: &Platform) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
    let wait = platform.body_timeout;
    match tokio::time::timeout(wait, platform.uploads.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(_)) => Err(ApiError::Internal("fenn is stopping".into())),
        Err(_) => Err(ApiError::Busy(format!(
            "{} other uploads or test events held their places for {wait:?}: try again",
            super::UPLOADS
        ))),
    }
}

fn not_allowed(allowed: &str) -> ApiError {
    ApiError::MethodNotAllowed(format!("this path takes {allowed}"))
}

/// A function name from the path: decoded, then held to the rule config
/// names follow (letters, digits, `-`, `_`, `.`; not `.` or `..`).
fn function_name(segment: &str) -> Result<String, ApiError> {
    let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
    if fenn_runtime::trigger::is_name(&decoded) {
        Ok(decoded.into_owned())
    } else {
        Err(ApiError::BadRequest(format!(
            "'{}' is not a function name: letters, digits, '-', '_' or '.', at most 128",
            decoded.escape_debug()
        )))
    }
}

/// A deploy's body: `{"definition": {…}, "module": "<base64>"}`, and
/// the memory its decode and compile take, held until the deploy ends.
async fn deployment(
    platform: &Platform,
    request: Request,
) -> Result<(Value, Vec<u8>, tokio::sync::OwnedSemaphorePermit), ApiError> {
    let most = platform.settings.max_module_bytes;
    // Base64 is 4/3 of the module, and the definition has room besides.
    let limit = most / 3 * 4 + 8 + (256 << 10);
    let body = read(platform, request, limit, "admin.max_module_size").await?;
    let memory = (platform.deploy_memory)
        .reserve(body.len() / 4 * 3, platform.body_timeout)
        .await?;
    // Megabytes of JSON and base64: off the threads that serve events.
    let (definition, wasm) = tokio::task::spawn_blocking(move || parse_deployment(&body, most))
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::Internal(
                "reading the deploy failed (a bug: please report it)".into(),
            ))
        })?;
    Ok((definition, wasm, memory))
}

/// The definition and the module of a deploy's body.
fn parse_deployment(body: &[u8], most: usize) -> Result<(Value, Vec<u8>), ApiError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Deployment<'a> {
        /// Kept raw until its size is known: every version's definition
        /// is kept in the manifest, and a huge one costs memory to parse.
        #[serde(borrow)]
        definition: Option<&'a serde_json::value::RawValue>,
        /// Borrowed from the body (base64 has nothing to unescape): a
        /// copy would be a third of the deploy's memory.
        #[serde(borrow)]
        module: std::borrow::Cow<'a, str>,
    }
    let deployment: Deployment<'_> = serde_json::from_slice(body).map_err(|error| {
        ApiError::BadRequest(format!("the body is not the JSON expected: {error}"))
    })?;
    let written = deployment.definition.map_or(0, |raw| raw.get().len());
    if written > MAX_DEFINITION {
        return Err(ApiError::TooLarge(format!(
            "the definition is {written} bytes of JSON, over the most fenn keeps ({MAX_DEFINITION})"
        )));
    }
    let definition = match deployment.definition {
        Some(raw) => parse_json(raw.get().as_bytes())?,
        None => empty_object(),
    };
    let wasm = base64::engine::general_purpose::STANDARD
        .decode(deployment.module.as_bytes())
        .map_err(|error| ApiError::BadRequest(format!("module: not base64: {error}")))?;
    if wasm.len() > most {
        return Err(ApiError::TooLarge(format!(
            "the module is {} bytes, over admin.max_module_size ({most} bytes)",
            wasm.len()
        )));
    }
    Ok((definition, wasm))
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|error| {
        ApiError::BadRequest(format!("the body is not the JSON expected: {error}"))
    })
}

/// The request's body, refused past `limit` bytes without reading on.
async fn read(
    platform: &Platform,
    request: Request,
    limit: usize,
    key: &str,
) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::TooLarge(format!(
            "the body is over the limit of {limit} bytes ({key})"
        ))
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    let limited = http_body_util::Limited::new(request.into_body(), limit);
    // A client that sends its body slowly holds an upload's place: it has
    // the gateway's body read timeout, no more.
    let Ok(collected) = tokio::time::timeout(platform.body_timeout, limited.collect()).await else {
        return Err(ApiError::Timeout(format!(
            "the body did not arrive within {:?} (server.body_read_timeout)",
            platform.body_timeout
        )));
    };
    match collected {
        // Without a copy when the body came in one piece.
        Ok(collected) => Ok(Vec::from(collected.to_bytes())),
        Err(error)
            if error
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_large())
        }
        Err(error) => Err(ApiError::BadRequest(format!(
            "cannot read the body: {error}"
        ))),
    }
}

#[cfg(test)]
mod tests {
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
