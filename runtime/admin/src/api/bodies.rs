//! Request bodies within bounds: the uploads held at once, a body's
//! size, a deploy's definition and module, a function's name from the path.

use crate::ApiError;
use crate::platform::Platform;
use axum::extract::Request;
use axum::http::header;
use base64::Engine as _;
use http_body_util::BodyExt as _;
use serde_json::Value;

/// Largest definition, as JSON.
pub(super) const MAX_DEFINITION: usize = 64 << 10;

/// A place among the uploads held at once.
pub(super) async fn upload(
    platform: &Platform,
) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
    let wait = platform.body_timeout;
    match tokio::time::timeout(wait, platform.uploads.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(_)) => Err(ApiError::Internal("fenn is stopping".into())),
        Err(_) => Err(ApiError::Busy(format!(
            "{} other uploads or test events held their places for {wait:?}: try again",
            crate::UPLOADS
        ))),
    }
}

pub(super) fn not_allowed(allowed: &str) -> ApiError {
    ApiError::MethodNotAllowed(format!("this path takes {allowed}"))
}

/// A function name from the path: decoded, then held to the rule config
/// names follow (letters, digits, `-`, `_`, `.`; not `.` or `..`).
pub(super) fn function_name(segment: &str) -> Result<String, ApiError> {
    name_of(segment, "function")
}

/// A flow name from the path, as [`function_name`].
pub(super) fn flow_name(segment: &str) -> Result<String, ApiError> {
    name_of(segment, "flow")
}

fn name_of(segment: &str, what: &str) -> Result<String, ApiError> {
    let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
    if fenn_runtime::trigger::is_name(&decoded) {
        Ok(decoded.into_owned())
    } else {
        Err(ApiError::BadRequest(format!(
            "'{}' is not a {what} name: letters, digits, '-', '_' or '.', at most 128",
            decoded.escape_debug()
        )))
    }
}

/// A flow deploy's body, `{"definition": {…}}`: its definition.
pub(super) fn parse_flow_deployment(body: &[u8]) -> Result<Value, ApiError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct FlowDeployment {
        definition: Value,
    }
    let deployment: FlowDeployment = parse_json(body)?;
    Ok(deployment.definition)
}

/// A deploy's body: `{"definition": {…}, "module": "<base64>"}`, and
/// the memory its decode and compile take, held until the deploy ends.
pub(super) async fn deployment(
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
pub(super) fn parse_deployment(body: &[u8], most: usize) -> Result<(Value, Vec<u8>), ApiError> {
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

pub(super) fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

pub(super) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|error| {
        ApiError::BadRequest(format!("the body is not the JSON expected: {error}"))
    })
}

/// The request's body, refused past `limit` bytes without reading on.
pub(super) async fn read(
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
